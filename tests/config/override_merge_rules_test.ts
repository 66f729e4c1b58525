// How a matching override changes the running configuration (spec §3.5),
// row by row, and which overrides apply (§3.3, §3.4): file order, later
// wins, no `match` or `match: []` never applies, the first matching item
// applies the override once.
import assert from "node:assert/strict";
import { resolveConfig } from "../../src/config/resolve.ts";
import type { Config } from "../../src/config/types.ts";
import { effective, fakeResolver, parse } from "./fixture_helpers.ts";

const TOP = `
debug: true
log: /top/{user}.log
check_interval: 1m
error_banner: top banner
dump: /top/{user}.dump
dump_limit_size: 100
dump_limit_window: 2m
etcd_stats_interval: 3m
log_stats_interval: 4m
blocking_command: /top/blocking
bg_command: /top/bg
service: topservice
route_select: random
mode: balanced
force_command: /top/force
command_must_match: true
etcd_keyttl: 3600
max_connections_per_user: 5
dest: [top1, top2]
ssh:
  exe: /top/ssh
  args: [-top]
environment:
  KEEP: kept_{user}
  CHANGE: top
translate_commands:
  keep: {command: kept}
  change: {ssh_args: [-a], command: top, disable_dump: true}
etcd:
  endpoints: [top:2379]
  tls: {cafile: top-ca, keyfile: top-key, certfile: top-cert}
  username: topuser
  password: toppass
  keyttl: 7
  mandatory: true
`;

/** The TOP file plus one override for alice with the given settings lines. */
function withOverride(settings: string): string {
  const indented = settings.trim().split("\n").map((line) => `    ${line}`)
    .join("\n");
  return `${TOP}overrides:\n  - match:\n      - users: [alice]\n${indented}\n`;
}

async function forAlice(settings: string): Promise<Config> {
  return (await effective(withOverride(settings), "alice", [])).config;
}

async function forBob(settings: string): Promise<Config> {
  return (await effective(withOverride(settings), "bob", [])).config;
}

// [override settings, config field, value for alice, why]
const rows: [string, keyof Config, unknown, string][] = [
  ["debug: false", "debug", false, "an explicit false replaces"],
  ["log: /o/{user}.log", "log", "/o/alice.log", "replace"],
  ['log: ""', "log", "", "an explicit empty string replaces"],
  ["error_banner: ''", "errorBanner", "", "empty string replaces"],
  ['dump: ""', "dump", "", "empty string replaces (no recorder)"],
  ["dump: etcd", "dump", "etcd", "replace"],
  ['blocking_command: ""', "blockingCommand", "", "empty replaces"],
  ["bg_command: ''", "bgCommand", "", "empty replaces"],
  ["service: s2", "service", "s2", "replace"],
  ["route_select: bandwidth", "routeSelect", "bandwidth", "replace"],
  ["mode: sticky", "mode", "sticky", "replace"],
  ["force_command: ''", "forceCommand", "", "empty replaces"],
  ["command_must_match: false", "commandMustMatch", false, "false replaces"],
  ["dump_limit_size: 0", "dumpLimitSize", 0n, "0 replaces"],
  ["etcd_keyttl: 0", "etcdKeyttl", 0, "0 replaces"],
  ["max_connections_per_user: 0", "maxConnectionsPerUser", 0, "0 replaces"],
  ["check_interval: 0s", "checkInterval", 0n, "0s replaces"],
  ["check_interval: 0", "checkInterval", 0n, "integer 0 is 0s"],
  ['dump_limit_window: "90s"', "dumpLimitWindow", 90_000_000_000n, "replace"],
  ["etcd_stats_interval: 1s", "etcdStatsInterval", 1_000_000_000n, "1s ok"],
  ["log_stats_interval: 1h", "logStatsInterval", 3_600_000_000_000n, "replace"],
  ["dest: [o1]", "dest", ["o1:22"], "a non-empty list replaces"],
  ["dest: []", "dest", ["top1:22", "top2:22"], "dest: [] does not clear"],
  // A non-empty list that expands to nothing: the reference applies it, and
  // every login of the match is refused (no destination).
  ['dest: [""]', "dest", [], 'dest: [""] clears'],
  ["dest: ['']", "dest", [], "dest: [''] clears"],
  ['dest: [o1]\ndest: [""]', "dest", [], 'a later [""] replaces'],
  ["dest: [o1]\ndest: []", "dest", ["top1:22", "top2:22"], "a later [] unsets"],
  // Empty means "unset" for keys with a default: the reference fills the
  // default in after the overrides.
  ['service: ""', "service", "default", "empty service is the default"],
  ['route_select: ""', "routeSelect", "ordered", "empty is the default"],
  ["mode: ''", "mode", "sticky", "empty mode is the default"],
  // A null value is "not present": nothing changes.
  ["service: ~", "service", "topservice", "null is absent"],
  ["debug:", "debug", true, "empty value is absent"],
  ["dest: null", "dest", ["top1:22", "top2:22"], "null is absent"],
];

for (const [settings, field, value, why] of rows) {
  Deno.test(`override "${settings}" gives ${field} = ${JSON.stringify(value, (_k, v) => typeof v === "bigint" ? `${v}n` : v)} (${why})`, async () => {
    assert.deepEqual((await forAlice(settings))[field], value);
  });
}

Deno.test("a non-matching override changes nothing", async () => {
  const config = await forBob("debug: false\nservice: s2\ndest: [o1]");
  assert.equal(config.debug, true);
  assert.equal(config.service, "topservice");
  assert.deepEqual(config.dest, ["top1:22", "top2:22"]);
});

Deno.test("ssh.exe: replaced when non-empty, an empty one cannot reset it", async () => {
  assert.equal((await forAlice("ssh: {exe: /o/ssh}")).ssh.exe, "/o/ssh");
  assert.equal((await forAlice('ssh: {exe: ""}')).ssh.exe, "/top/ssh");
  // args are left alone when only exe is given
  assert.deepEqual((await forAlice("ssh: {exe: /o/ssh}")).ssh.args, ["-top"]);
});

Deno.test("ssh.args: replaced when present, an explicit empty list means no arguments", async () => {
  assert.deepEqual((await forAlice("ssh: {args: [-v, -A]}")).ssh.args, [
    "-v",
    "-A",
  ]);
  assert.deepEqual((await forAlice("ssh: {args: []}")).ssh.args, []);
  assert.deepEqual((await forAlice("ssh: {args: ~}")).ssh.args, ["-top"]);
  assert.equal((await forAlice("ssh: {args: []}")).ssh.exe, "/top/ssh");
});

Deno.test("ssh defaults: exe ssh and args [-q, -Y] only when absent", async () => {
  const none = (await effective("debug: false", "alice", [])).config;
  assert.deepEqual(none.ssh, { exe: "ssh", args: ["-q", "-Y"] });
  const empty = (await effective('ssh: {exe: "", args: []}', "alice", []))
    .config;
  assert.deepEqual(empty.ssh, { exe: "ssh", args: [] });
});

Deno.test("environment merges per variable, {user} substituted in every value", async () => {
  const config = await forAlice(
    "environment:\n  CHANGE: over_{user}\n  NEW: new\n  EMPTY: ''",
  );
  assert.deepEqual(Object.fromEntries(config.environment), {
    KEEP: "kept_alice",
    CHANGE: "over_alice",
    NEW: "new",
    EMPTY: "",
  });
});

Deno.test("translate_commands merge per command; an entry replaces the whole entry", async () => {
  const config = await forAlice(
    "translate_commands:\n  change: {command: over}\n  new: {ssh_args: [-s], command: sftp}",
  );
  assert.deepEqual(Object.fromEntries(config.translateCommands), {
    keep: { sshArgs: [], command: "kept", disableDump: false },
    change: { sshArgs: [], command: "over", disableDump: false },
    new: { sshArgs: ["-s"], command: "sftp", disableDump: false },
  });
});

Deno.test("translate_commands in an override works without a top-level one", async () => {
  const text =
    "overrides:\n  - match:\n      - users: [alice]\n    translate_commands:\n      cmd: {command: other, disable_dump: true}\n";
  const { config } = await effective(text, "alice", []);
  assert.deepEqual(Object.fromEntries(config.translateCommands), {
    cmd: { sshArgs: [], command: "other", disableDump: true },
  });
});

Deno.test("etcd.endpoints: replaced when present, even by an empty list", async () => {
  assert.deepEqual(
    (await forAlice("etcd: {endpoints: [a:1, b:2]}")).etcd.endpoints,
    ["a:1", "b:2"],
  );
  assert.deepEqual(
    (await forAlice("etcd: {endpoints: []}")).etcd.endpoints,
    [],
  );
  assert.deepEqual((await forAlice("etcd: {keyttl: 3}")).etcd.endpoints, [
    "top:2379",
  ]);
});

Deno.test("etcd tls files, username and password: replaced only when non-empty", async () => {
  const replaced = await forAlice(
    "etcd:\n  tls: {cafile: ca2, keyfile: key2, certfile: cert2}\n  username: u2\n  password: p2",
  );
  assert.deepEqual(replaced.etcd.tls, {
    cafile: "ca2",
    keyfile: "key2",
    certfile: "cert2",
  });
  assert.equal(replaced.etcd.username, "u2");
  assert.equal(replaced.etcd.password, "p2");
  const kept = await forAlice(
    "etcd:\n  tls: {cafile: '', keyfile: '', certfile: ''}\n  username: ''\n  password: ''",
  );
  assert.deepEqual(kept.etcd.tls, {
    cafile: "top-ca",
    keyfile: "top-key",
    certfile: "top-cert",
  });
  assert.equal(kept.etcd.username, "topuser");
  assert.equal(kept.etcd.password, "toppass");
  const partial = await forAlice("etcd:\n  tls: {keyfile: key3}");
  assert.deepEqual(partial.etcd.tls, {
    cafile: "top-ca",
    keyfile: "key3",
    certfile: "top-cert",
  });
});

Deno.test("etcd.keyttl: replaced only when non-zero; etcd.mandatory: replaced when present", async () => {
  assert.equal((await forAlice("etcd: {keyttl: 2}")).etcd.keyttl, 2);
  assert.equal((await forAlice("etcd: {keyttl: 0}")).etcd.keyttl, 7);
  assert.equal(
    (await forAlice("etcd: {mandatory: false}")).etcd.mandatory,
    false,
  );
  assert.equal((await forAlice("etcd: {keyttl: 2}")).etcd.mandatory, true);
});

Deno.test("overrides apply in file order: a later matching override wins, an earlier one still contributes", async () => {
  const text = `${TOP}overrides:
  - match:
      - users: [alice]
    service: first
    debug: false
    environment: {FIRST: "1", CHANGE: first}
  - match:
      - groups: [admins]
    service: second
    environment: {CHANGE: second}
  - match:
      - users: [nobody]
    service: third
`;
  const { config } = await effective(text, "alice", ["admins"]);
  assert.equal(config.service, "second");
  assert.equal(config.debug, false);
  assert.deepEqual(Object.fromEntries(config.environment), {
    KEEP: "kept_alice",
    CHANGE: "second",
    FIRST: "1",
  });
  const notAdmin = await effective(text, "alice", ["users"]);
  assert.equal(notAdmin.config.service, "first");
  assert.equal(notAdmin.config.environment.get("CHANGE"), "first");
});

Deno.test("an override without match never applies, and is reported", async () => {
  const text = `${TOP}overrides:\n  - service: never\n    debug: false\n`;
  const parsed = parse(text);
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.value.unknownKeys.map((key) => key.note),
    ["override without `match` never applies"],
  );
  for (const user of ["alice", "bob", ""]) {
    const { config } = await effective(text, user, ["g"], "127.0.0.1:22");
    assert.equal(config.service, "topservice");
    assert.equal(config.debug, true);
  }
});

Deno.test("match: [] and an empty match never apply, and are reported", async () => {
  for (const match of ["match: []", "match:", "match: ~"]) {
    const text = `${TOP}overrides:\n  - ${match}\n    service: never\n`;
    const parsed = parse(text);
    assert.ok(parsed.ok, match);
    assert.deepEqual(
      parsed.value.unknownKeys.map((key) => key.note),
      ["override with an empty `match` never applies"],
    );
    const { config } = await effective(text, "alice", [], "127.0.0.1:22");
    assert.equal(config.service, "topservice", match);
  }
});

Deno.test("empty condition lists never match", async () => {
  for (const item of ["users: []", "groups: []", "sources: []"]) {
    const text =
      `overrides:\n  - match:\n      - ${item}\n    service: never\n`;
    const { config } = await effective(text, "alice", ["g"], "127.0.0.1:22");
    assert.equal(config.service, "default", item);
  }
});

Deno.test("the first matching item applies the override once; later items are not evaluated", async () => {
  const text = `overrides:
  - match:
      - users: [alice]
      - sources: [nosuchhost]
      - users: [alice]
    environment: {A: "1"}
    dest: [d1]
`;
  const { config, warnings } = await effective(
    text,
    "alice",
    [],
    "127.0.0.1:22",
  );
  assert.equal(config.environment.get("A"), "1");
  assert.deepEqual(config.dest, ["d1:22"]);
  assert.deepEqual(warnings, [], "the sources item was never evaluated");
  const bob = await effective(text, "bob", [], "127.0.0.1:22");
  assert.equal(bob.config.environment.size, 0);
  assert.equal(bob.warnings.length, 1, "bob falls through to the sources item");
});

Deno.test("items are OR, keys of an item are AND, list elements are OR", async () => {
  const text = `overrides:
  - match:
      - users: [alice, bob]
        groups: [admins, ops]
      - users: [carol]
    service: hit
`;
  const cases: [string, string[], boolean][] = [
    ["alice", ["admins"], true],
    ["bob", ["ops", "x"], true],
    ["alice", ["users"], false],
    ["dave", ["admins"], false],
    ["carol", [], true],
  ];
  for (const [user, groups, hit] of cases) {
    const { config } = await effective(text, user, groups);
    assert.equal(config.service, hit ? "hit" : "default", `${user} ${groups}`);
  }
});

Deno.test("a key repeated in one item is an AND (groups bar AND baz), whatever the reference does", async () => {
  const text = `overrides:
  - match:
      - groups: [bar]
        groups: [baz]
        users: [alice, bob]
        users: [bob, carol]
    service: both
`;
  const cases: [string, string[], boolean][] = [
    ["bob", ["bar", "baz"], true],
    ["bob", ["baz"], false],
    ["bob", ["bar"], false],
    ["alice", ["bar", "baz"], false],
    ["carol", ["bar", "baz"], false],
  ];
  for (const [user, groups, hit] of cases) {
    const { config } = await effective(text, user, groups);
    assert.equal(config.service, hit ? "both" : "default", `${user} ${groups}`);
  }
});

Deno.test("the parsed file is not changed by resolving it for a session", async () => {
  const parsed = parse(withOverride("environment:\n  CHANGE: over_{user}"));
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  const snapshot = () =>
    JSON.stringify(
      parsed.value,
      (_k, v) =>
        typeof v === "bigint"
          ? `${v}n`
          : v instanceof Map
          ? Object.fromEntries(v)
          : v,
    );
  const before = snapshot();
  const session = (user: string) =>
    resolveConfig(parsed.value, {
      user,
      groups: new Set(),
      sessionId: "s",
      startTime: "t",
    }, fakeResolver);
  const first = await session("alice");
  assert.ok(first.ok);
  assert.equal(first.value.config.environment.get("CHANGE"), "over_alice");
  first.value.config.environment.set("CHANGE", "mutated");
  first.value.config.dest.push("mutated:22");
  first.value.config.ssh.args.push("mutated");
  first.value.config.etcd.endpoints.push("mutated");
  first.value.config.translateCommands.get("change")!.sshArgs.push("x");
  const second = await session("bob");
  assert.ok(second.ok);
  assert.equal(second.value.config.environment.get("CHANGE"), "top");
  assert.deepEqual(second.value.config.dest, ["top1:22", "top2:22"]);
  assert.deepEqual(second.value.config.ssh.args, ["-top"]);
  assert.deepEqual(second.value.config.etcd.endpoints, ["top:2379"]);
  assert.deepEqual(
    second.value.config.translateCommands.get("change")!.sshArgs,
    ["-a"],
  );
  assert.equal(snapshot(), before);
});
