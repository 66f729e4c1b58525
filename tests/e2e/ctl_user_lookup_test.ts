// sshproxyctl looks users up by NAME, as the reference (Go's user.Lookup):
// `show config -user 123456` is the user named "123456", never the account
// whose uid is 123456; with no such name it is "(unknown on this system)".
// `show users|groups` give a user unknown here (deleted since it connected)
// no groups and print the reference's one line `user: unknown user NAME`
// on stderr, once per user, and the listing still prints. Real accounts
// (harness scratch accounts, removed at the end), a real etcd, the
// installed command run as an ordinary user.
import assert from "node:assert/strict";
import { GROUPS, USERS } from "../harness/mod.ts";
import { createScratchAccount, uidInUse } from "../harness/scratch_accounts.ts";
import { e2e, lines, startCtlEnv } from "./ctl_env.ts";

const C = "/sshproxy/connections/";

async function freeNumber(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 200_000 + Math.floor(Math.random() * 700_000);
    if (!(await uidInUse(candidate))) return candidate;
  }
  throw new Error("no free uid found in 50 attempts");
}

/** The cells of each row of a box table. */
function cells(table: string): string[][] {
  return lines(table)
    .filter((line) => line.startsWith("│"))
    .map((line) => line.split("│").slice(1, -1).map((cell) => cell.trim()));
}

Deno.test({
  name:
    "show config -user DIGITS means the user named DIGITS, not uid DIGITS; no such name is unknown",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv({
      extra: `dest: [default1]
overrides:
  - match:
      - groups: [${GROUPS.user1}]
    dest: [user1-host]
  - match:
      - groups: [${GROUPS.fedora}]
    dest: [fedora-host]
`,
    });
    const number = await freeNumber();
    const name = String(number);
    // uid NUMBER belongs to an account named otherwise, in user1's group.
    await using _owner = await createScratchAccount(
      `sshproxy-scratch-u${name}`,
      { group: GROUPS.user1, uid: number },
    );

    const unknown = await env.ctl(["show", "config", "-user", name]);
    assert.equal(unknown.code, 0, unknown.stderr);
    const unknownLines = lines(unknown.stdout);
    assert.equal(unknownLines[0], `user = ${name} (unknown on this system)`);
    assert.equal(unknownLines[2], "groups = map[]");
    assert.ok(
      unknownLines.includes("config.dest = [default1:22]"),
      unknown.stdout,
    );
    assert.equal(unknown.stderr, "");
    const unknownJson = await env.ctl([
      "show",
      "config",
      "-user",
      name,
      "-json",
    ]);
    const parsed = JSON.parse(unknownJson.stdout);
    assert.equal(parsed.user_known, false);
    assert.deepEqual(parsed.groups, []);

    // Now a user literally named NUMBER, with its own uid and group.
    await using digits = await createScratchAccount(name, {
      group: GROUPS.fedora,
    });
    assert.notEqual(digits.uid, number);
    const known = await env.ctl(["show", "config", "-user", name]);
    assert.equal(known.code, 0, known.stderr);
    const knownLines = lines(known.stdout);
    assert.equal(knownLines[0], `user = ${name}`);
    assert.equal(knownLines[2], `groups = map[${GROUPS.fedora}:true]`);
    assert.ok(knownLines.includes("config.dest = [fedora-host:22]"));
  },
});

Deno.test({
  name:
    "show users and groups: a user unknown here is one `user: unknown user NAME` line per user, the listing still prints",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    const number = await freeNumber();
    const digitsName = String(number);
    // uid NUMBER exists (named otherwise): the digits still name no user.
    await using _owner = await createScratchAccount(
      `sshproxy-scratch-u${digitsName}`,
      { group: GROUPS.user1, uid: number },
    );
    // An account that connected, then was deleted.
    const deleted = `sshproxy-scratch-d${digitsName}`;
    {
      await using account = await createScratchAccount(deleted, {
        group: GROUPS.user1,
      });
      await env.put(
        `${C}${account.name}@default/server1:22/127.0.0.1:22/2024-05-02T07:00:00Z`,
        '{"In":0,"Out":0}',
      );
    }
    await env.put(
      `${C}${deleted}@other/server2:22/127.0.0.1:22/2024-05-02T07:01:00Z`,
      '{"In":0,"Out":0}',
    );
    await env.put(
      `${C}${digitsName}@default/server1:22/127.0.0.1:22/2024-05-02T07:02:00Z`,
      '{"In":2,"Out":3}',
    );
    await env.put(
      `${C}${USERS.fedora}@default/server1:22/127.0.0.1:22/2024-05-02T07:03:00Z`,
      '{"In":0,"Out":0}',
    );
    const lease = await env.grant(3600);
    await env.put(
      `/sshproxy/history/${deleted}@third/${lease}`,
      "server3:22",
      lease,
    );
    const expected = [digitsName, deleted].sort().map((user) =>
      `user: unknown user ${user}`
    );

    for (
      const args of [
        ["show", "users"],
        ["show", "-all", "users"],
        ["show", "users", "-json"],
        ["show", "-all", "users", "-csv"],
        ["show", "groups"],
        ["show", "-all", "groups"],
      ]
    ) {
      const result = await env.ctl(args);
      assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
      assert.deepEqual(lines(result.stderr), expected, args.join(" "));
      assert.notEqual(result.stdout, "", args.join(" "));
    }

    const users = await env.ctl(["show", "users", "-json"]);
    assert.deepEqual(JSON.parse(users.stdout), [
      { User: digitsName, Groups: "", N: 1, BwIn: 2, BwOut: 3 },
      { User: USERS.fedora, Groups: GROUPS.fedora, N: 1, BwIn: 0, BwOut: 0 },
      { User: deleted, Groups: "", N: 2, BwIn: 0, BwOut: 0 },
    ]);
    const table = await env.ctl(["show", "users"]);
    assert.deepEqual(cells(table.stdout).slice(1, 4).map((row) => row[1]), [
      "\u274C",
      GROUPS.fedora,
      "\u274C",
    ]);

    // The row of users without a group comes last, as in the reference.
    const groups = await env.ctl(["show", "groups"]);
    assert.deepEqual(cells(groups.stdout), [
      ["GROUP", "USERS", "#  OF CONNS", "BW IN", "BW OUT"],
      [GROUPS.fedora, USERS.fedora, "1", "0 kB/s", "0 kB/s"],
      ["\u274C", `${digitsName} ${deleted}`, "3", "2 kB/s", "3 kB/s"],
    ]);
    const groupsAll = await env.ctl(["show", "-all", "groups"]);
    assert.deepEqual(cells(groupsAll.stdout).map((row) => row.slice(0, 3)), [
      ["GROUP", "SERVICE", "USERS"],
      [GROUPS.fedora, "default", USERS.fedora],
      ["\u274C", "default", `${digitsName} ${deleted}`],
      ["\u274C", "other", deleted],
      ["\u274C", "third", deleted],
    ]);
    const groupsJson = await env.ctl(["show", "groups", "-json"]);
    assert.deepEqual(
      JSON.parse(groupsJson.stdout).map((g: { Group: string }) => g.Group),
      [GROUPS.fedora, ""],
    );
    // CSV keeps the raw (empty) name and, as the reference, sorts on it.
    const groupsCsv = await env.ctl(["show", "groups", "-csv"]);
    assert.deepEqual(lines(groupsCsv.stdout), [
      `,${digitsName} ${deleted},3,2,3`,
      `${GROUPS.fedora},${USERS.fedora},1,0,0`,
    ]);
  },
});
