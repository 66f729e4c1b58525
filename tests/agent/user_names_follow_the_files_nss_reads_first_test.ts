// The agent names a proven uid from /etc/passwd only when NSS consults it
// first, as a session names itself, and reads the files again only when
// one of them changed. Pure: the file system is the test's.
import assert from "node:assert/strict";
import {
  filesUserNames,
  type NameFileSystem,
} from "../../src/agent/user_names.ts";
import { passwdName, passwdNames } from "../../src/system/identity.ts";

const PATHS = { nsswitch: "/nsswitch.conf", passwd: "/passwd" };

function fakeFiles(contents: Record<string, string>) {
  const versions: Record<string, number> = {};
  let reads = 0;
  const files: NameFileSystem = {
    signature(path) {
      if (!(path in contents)) throw new Error(`${path}: not found`);
      return String(versions[path] ?? 0);
    },
    read(path) {
      reads++;
      if (!(path in contents)) throw new Error(`${path}: not found`);
      return contents[path];
    },
  };
  return {
    files,
    get reads() {
      return reads;
    },
    write(path: string, text: string) {
      contents[path] = text;
      versions[path] = (versions[path] ?? 0) + 1;
    },
    remove(path: string) {
      delete contents[path];
    },
  };
}

const PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "+nis:x:1000:1000::/:/bin/sh",
  "alice:x:1000:1000::/home/alice:/bin/sh",
  "alias:x:1000:1000::/home/alice:/bin/sh",
  "",
].join("\n");

/** The two files, with `sources` as nsswitch.conf's passwd line. */
function withSources(sources: string) {
  return fakeFiles({
    [PATHS.nsswitch]: `passwd: ${sources}\n`,
    [PATHS.passwd]: PASSWD,
  });
}

Deno.test("a uid is named by its first passwd entry when files come first", () => {
  const fs = withSources("files systemd");
  const nameOf = filesUserNames(PATHS, fs.files);
  assert.equal(nameOf(1000), "alice");
  assert.equal(nameOf(0), "root");
  // Not in the file: another NSS source may know it, so `id` is asked.
  assert.equal(nameOf(2000), undefined);
});

Deno.test("no name from the files when NSS asks another source first", () => {
  const fs = withSources("sss files");
  assert.equal(filesUserNames(PATHS, fs.files)(1000), undefined);
});

Deno.test("the files are read again only when one of them changes", () => {
  const fs = withSources("files");
  const nameOf = filesUserNames(PATHS, fs.files);
  assert.equal(nameOf(1000), "alice");
  const reads = fs.reads;
  for (let i = 0; i < 10; i++) assert.equal(nameOf(1000), "alice");
  assert.equal(fs.reads, reads);

  fs.write(PATHS.passwd, PASSWD.replace("alice:", "alicia:"));
  assert.equal(nameOf(1000), "alicia");
  fs.write(PATHS.nsswitch, "passwd: ldap files\n");
  assert.equal(nameOf(1000), undefined);
});

Deno.test("an unreadable file names nobody, and is read again once it is back", () => {
  const fs = withSources("files");
  const nameOf = filesUserNames(PATHS, fs.files);
  fs.remove(PATHS.passwd);
  assert.equal(nameOf(1000), undefined);
  fs.write(PATHS.passwd, PASSWD);
  assert.equal(nameOf(1000), "alice");
});

Deno.test("the table of every uid's name agrees with the name of each uid", () => {
  const table = passwdNames(PASSWD);
  for (const uid of [0, 1000, 2000]) {
    assert.equal(table.get(String(uid)), passwdName(PASSWD, uid));
  }
});

Deno.test("the real files name the agent's own uid as a session names itself", () => {
  const uid = Deno.uid() ?? 0;
  const fromFiles = filesUserNames()(uid);
  const text = Deno.readTextFileSync("/etc/passwd");
  const nsswitch = Deno.readTextFileSync("/etc/nsswitch.conf");
  if (/^passwd:\s*files/m.test(nsswitch)) {
    assert.equal(fromFiles, passwdName(text, uid));
  } else {
    assert.equal(fromFiles, undefined);
  }
});
