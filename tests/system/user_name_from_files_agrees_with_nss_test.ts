// A login learns its user's name from /etc/passwd, without running `id`,
// only when that is exactly what NSS answers: nsswitch.conf consults
// `files` first for passwd and the uid is there. Anything else (LDAP or
// SSSD first, NIS compat, no passwd line, an unknown uid, unreadable
// files) leaves the answer to `id`.
import assert from "node:assert/strict";
import {
  currentUserFromFiles,
  lookupIdentity,
  nssSources,
  passwdName,
  passwdNameInFile,
} from "../../src/system/identity.ts";

Deno.test("nsswitch.conf sources are read in order, without comments or actions", () => {
  const text = [
    "# passwd: sss files",
    "passwd:   files [NOTFOUND=return] systemd # local first",
    "group:sss files",
    "hosts: files dns",
  ].join("\n");
  assert.deepEqual(nssSources(text, "passwd"), ["files", "systemd"]);
  assert.deepEqual(nssSources(text, "group"), ["sss", "files"]);
  assert.equal(nssSources(text, "shadow"), undefined);
  assert.deepEqual(nssSources("passwd: compat", "passwd"), ["compat"]);
  assert.deepEqual(nssSources("passwd:", "passwd"), []);
});

Deno.test("the files source answers the first entry with the uid, never a NIS compat line", () => {
  const passwd = [
    "+alice:x:1000:1000::/home/alice:/bin/sh",
    "-bob:x:1001:1001::/home/bob:/bin/sh",
    "carol:x:1000:1000::/home/carol:/bin/bash",
    "dave:x:1000:1000::/home/dave:/bin/bash",
    "broken:x:1002",
    ":x:1003:1003::/:/bin/sh",
    "",
  ].join("\n");
  assert.equal(passwdName(passwd, 1000), "carol");
  assert.equal(passwdName(passwd, 1001), undefined);
  assert.equal(passwdName(passwd, 1002), undefined);
  assert.equal(passwdName(passwd, 1003), undefined);
  assert.equal(passwdName(passwd, 10), undefined);
});

Deno.test("the name comes from /etc/passwd only when files come first and the uid is there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const uid = Deno.uid() ?? 0;
    const paths = { nsswitch: `${dir}/nsswitch.conf`, passwd: `${dir}/passwd` };
    await Deno.writeTextFile(
      paths.passwd,
      `someone:x:${uid}:${uid}::/nonexistent:/bin/sh\n`,
    );
    const cases: [string | undefined, string | undefined][] = [
      ["passwd: files sss\n", "someone"],
      ["passwd: files\n", "someone"],
      ["passwd: sss files\n", undefined],
      ["passwd: ldap\n", undefined],
      ["passwd: compat\n", undefined],
      ["group: files\n", undefined],
      [undefined, undefined],
    ];
    for (const [nsswitch, expected] of cases) {
      await Deno.remove(paths.nsswitch).catch(() => {});
      if (nsswitch !== undefined) {
        await Deno.writeTextFile(paths.nsswitch, nsswitch);
      }
      assert.equal(currentUserFromFiles(paths), expected, String(nsswitch));
    }
    await Deno.writeTextFile(paths.nsswitch, "passwd: files\n");
    await Deno.writeTextFile(
      paths.passwd,
      `other:x:${uid + 1}:${uid + 1}::/nonexistent:/bin/sh\n`,
    );
    assert.equal(currentUserFromFiles(paths), undefined, "uid not in the file");
    await Deno.remove(paths.passwd);
    assert.equal(currentUserFromFiles(paths), undefined, "no passwd file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("on this machine, the name from files is the one `id` gets through NSS", async () => {
  const fromFiles = currentUserFromFiles();
  const fromNss = await lookupIdentity();
  assert.ok(fromNss.ok, fromNss.ok ? "" : fromNss.error);
  // Undefined only where NSS consults another source first.
  if (fromFiles !== undefined) assert.equal(fromFiles, fromNss.value.user);
  const nsswitch = await Deno.readTextFile("/etc/nsswitch.conf").catch(() =>
    ""
  );
  if (nssSources(nsswitch, "passwd")?.[0] === "files") {
    assert.equal(fromFiles, fromNss.value.user);
  }
});

// A small deterministic generator (xorshift), so that a failure replays.
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

// passwd text as sites write it and as they break it: compat entries,
// short lines, empty names, shared uids, non-ASCII names, CRLF, lines
// longer than the reader's 64 KiB piece, and no final newline.
function passwdText(random: () => number, lines: number): string {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const uid = String(1000 + Math.floor(random() * 40));
    const name = pick(["alice", "bob", "zoë", "user" + i, "", "+nis", "-gone"]);
    const gecos = random() < 0.02 ? "x".repeat(70_000) : "Some One,,,";
    const shape = random();
    if (shape < 0.05) out.push(`${name}:x:${uid}`);
    else if (shape < 0.08) out.push("");
    else if (shape < 0.1) {
      out.push(`${name}:x:${uid}:${uid}:${gecos}:/h:/bin/sh\r`);
    } else out.push(`${name}:x:${uid}:${uid}:${gecos}:/home/${name}:/bin/sh`);
  }
  return out.join("\n") + (random() < 0.5 ? "\n" : "");
}

Deno.test("a passwd file read a piece at a time names each uid as its whole text does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const random = generator(20261207);
    for (let round = 0; round < 12; round++) {
      const text = passwdText(random, 50 + Math.floor(random() * 400));
      const path = `${dir}/passwd${round}`;
      await Deno.writeTextFile(path, text);
      for (let uid = 995; uid < 1045; uid++) {
        assert.equal(
          passwdNameInFile(path, uid),
          passwdName(text, uid),
          `round ${round}, uid ${uid}`,
        );
      }
    }
    await Deno.writeTextFile(`${dir}/empty`, "");
    assert.equal(passwdNameInFile(`${dir}/empty`, 0), undefined);
    assert.throws(() => passwdNameInFile(`${dir}/missing`, 0));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
