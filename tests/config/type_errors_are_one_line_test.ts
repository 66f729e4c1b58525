// A value of the wrong type is a one-line load error with its line number
// (`line N: key: problem (expected ...)`), at top level and in every
// override whether it matches or not; the reference crashes on most of
// these in overrides (spec §3.9) and only when they apply. String keys take
// any scalar as its source text. Unknown keys in a match item, or an empty
// item, are errors; unknown keys elsewhere are warnings with a suggestion.
import assert from "node:assert/strict";
import { describeUnknownKeys } from "../../src/config/unknown_keys.ts";
import { effective, parse } from "./fixture_helpers.ts";

// [setting (one line), error after `line N: `]
const refused: [string, string][] = [
  [
    'debug: "true"',
    'debug: the string "true" is not a boolean (expected true or false)',
  ],
  ["debug: 1", "debug: 1 is not a boolean (expected true or false)"],
  ["debug: [true]", "debug: a list is not a boolean (expected true or false)"],
  [
    'handoff: "true"',
    'handoff: the string "true" is not a boolean (expected true or false)',
  ],
  [
    "command_must_match: 'no'",
    'command_must_match: the string "no" is not a boolean (expected true or false)',
  ],
  [
    "dump_limit_size: 1.5",
    "dump_limit_size: 1.5 is not an integer (expected an integer >= 0)",
  ],
  [
    'dump_limit_size: "10"',
    'dump_limit_size: the string "10" is not an integer (expected an integer >= 0)',
  ],
  [
    "dump_limit_size: -1",
    "dump_limit_size: -1 is out of range (expected an integer >= 0)",
  ],
  [
    "dump_limit_size: 1:20",
    'dump_limit_size: the string "1:20" is not an integer (expected an integer >= 0)',
  ],
  [
    "dump_limit_size: 9223372036854775808",
    "dump_limit_size: 9223372036854775808 is out of range (expected an integer >= 0)",
  ],
  ["etcd_keyttl: 1.5", "etcd_keyttl: 1.5 is not an integer"],
  [
    "max_connections_per_user: many",
    'max_connections_per_user: the string "many" is not an integer',
  ],
  ["service: [a]", "service: a list is not a string (expected a string)"],
  ["log: {a: b}", "log: a mapping is not a string (expected a string)"],
  [
    "service: a/b",
    `service: "a/b" contains '/', '@' or ':' (expected a name without '/', '@' or ':')`,
  ],
  ["service: a@b", `service: "a@b" contains '/', '@' or ':'`],
  [
    "etcd: []",
    "etcd: a list is not a mapping (expected a mapping of keys to values)",
  ],
  ["etcd: x", 'etcd: the string "x" is not a mapping'],
  [
    "environment: [a]",
    "environment: a list is not a mapping (expected a mapping of keys to values)",
  ],
  ["environment: {A: [x]}", "environment.A: a list is not a string"],
  [
    'environment: {"A-B": x}',
    'environment.A-B: "A-B" is not a valid variable name (expected letters, digits and _)',
  ],
  ["ssh: [ssh]", "ssh: a list is not a mapping"],
  ["ssh: {args: -q}", 'ssh.args: the string "-q" is not a list'],
  ["ssh: {exe: [a]}", "ssh.exe: a list is not a string"],
  [
    "dest: server1",
    'dest: the string "server1" is not a list (expected a list of strings, e.g. [a, b])',
  ],
  [
    "dest: [[server1]]",
    "dest: list element a list is not a string (expected a list of strings)",
  ],
  ["dest: [a, ~]", "dest: list element ~ is not a string"],
  ["etcd: {keyttl: '5'}", 'etcd.keyttl: the string "5" is not an integer'],
  ["etcd: {keyttl: -1}", "etcd.keyttl: -1 is out of range"],
  [
    "etcd: {mandatory: 'yes'}",
    'etcd.mandatory: the string "yes" is not a boolean',
  ],
  [
    "etcd: {endpoints: host:2379}",
    'etcd.endpoints: the string "host:2379" is not a list',
  ],
  ["etcd: {tls: [a]}", "etcd.tls: a list is not a mapping"],
  ["etcd: {tls: {cafile: [a]}}", "etcd.tls.cafile: a list is not a string"],
  ["etcd: {username: [a]}", "etcd.username: a list is not a string"],
  ["translate_commands: [a]", "translate_commands: a list is not a mapping"],
  [
    "translate_commands: {sftp: [x]}",
    "translate_commands.sftp: a list is not a mapping",
  ],
  [
    "translate_commands: {sftp: {ssh_args: -s}}",
    'translate_commands.sftp.ssh_args: the string "-s" is not a list',
  ],
  [
    "translate_commands: {sftp: {disable_dump: 'true'}}",
    'translate_commands.sftp.disable_dump: the string "true" is not a boolean',
  ],
  [
    "translate_commands: {sftp: {command: [a]}}",
    "translate_commands.sftp.command: a list is not a string",
  ],
  [
    "route_select: 3",
    'route_select: invalid value "3" (expected one of ordered, random, connections, bandwidth)',
  ],
  ["route_select: Ordered", 'route_select: invalid value "Ordered"'],
  [
    "mode: notamode",
    'mode: invalid value "notamode" (expected one of sticky, balanced)',
  ],
  ["health_check: udp", 'health_check: invalid value "udp"'],
  // Durations: a Go duration string, or 0; never a bare integer.
  [
    "check_interval: 10",
    'check_interval: 10 is not a string (expected a Go duration string such as "30s" or "2m30s")',
  ],
  ["check_interval: 1.5", "check_interval: 1.5 is not a string"],
  ["check_interval: true", "check_interval: true is not a string"],
  ["check_interval: [1s]", "check_interval: a list is not a string"],
  ["dump_limit_window: 0x10", "dump_limit_window: 0x10 is not a string"],
  [
    'log_stats_interval: "10"',
    'log_stats_interval: time: missing unit in duration "10"',
  ],
  [
    "etcd_stats_interval: not a duration",
    'etcd_stats_interval: time: invalid duration "not a duration"',
  ],
  // Negative recorder timers fire at once, for ever, in the reference.
  [
    "log_stats_interval: -1s",
    'log_stats_interval: -1s is negative (expected 0 (off) or a positive duration such as "30s")',
  ],
  ["dump_limit_window: -1m", "dump_limit_window: -1m is negative"],
  ["etcd_stats_interval: -5s", "etcd_stats_interval: -5s is negative"],
  [
    "etcd_stats_interval: 500ms",
    'etcd_stats_interval: 500ms is shorter than one second (expected 0 (off) or at least "1s")',
  ],
  [
    "etcd_stats_interval: 999ms",
    "etcd_stats_interval: 999ms is shorter than one second",
  ],
];

function topLevel(setting: string): string {
  return `${setting}\n`;
}

// The override's user never logs in: it is checked all the same.
function inOverride(setting: string): string {
  return `dest: [d]\noverrides:\n  - match:\n      - users: [nobody]\n    ${setting}\n`;
}

for (const [setting, message] of refused) {
  Deno.test(`"${setting}" is refused at top level and in a non-matching override`, () => {
    for (
      const [text, line] of [[topLevel(setting), 1], [
        inOverride(setting),
        5,
      ]] as const
    ) {
      const parsed = parse(text);
      assert.equal(parsed.ok, false, text);
      if (parsed.ok) continue;
      assert.ok(
        parsed.error.startsWith(`line ${line}: ${message}`),
        `${parsed.error}\nshould start with\nline ${line}: ${message}`,
      );
      assert.ok(!parsed.error.includes("\n"), "one line");
      assert.match(parsed.error, /\(expected [^()]*(\([^()]*\)[^()]*)*\)$/);
    }
  });
}

// [setting, field, value] — any scalar is a string key's source text
const accepted: [string, string, unknown][] = [
  ["dump: on", "dump", "on"],
  ["dump: off", "dump", "off"],
  ["log: 12", "log", "12"],
  ["log: 010", "log", "010"],
  ["service: 3", "service", "3"],
  ["error_banner: yes", "errorBanner", "yes"],
  ["force_command: 1.5", "forceCommand", "1.5"],
  ["blocking_command: 0x10", "blockingCommand", "0x10"],
  ["bg_command: 2024-01-01", "bgCommand", "2024-01-01"],
  ["dest: [10, 1.5, true]", "dest", ["10:22", "1.5:22", "true:22"]],
  ["environment: {N: 10, B: no}", "environment", { N: "10", B: "no" }],
  ["ssh: {exe: 1, args: [on, 2]}", "ssh", { exe: "1", args: ["on", "2"] }],
  ["etcd_keyttl: -5", "etcdKeyttl", -5],
  ["etcd_stats_interval: 1s", "etcdStatsInterval", 1_000_000_000n],
  ["etcd_stats_interval: 0", "etcdStatsInterval", 0n],
  ["check_interval: 0", "checkInterval", 0n],
  ["check_interval: 1h2m3.5s", "checkInterval", 3_723_500_000_000n],
  // As in the reference: every host state is old enough, always re-check.
  ["check_interval: -1m", "checkInterval", -60_000_000_000n],
];

for (const [setting, field, value] of accepted) {
  Deno.test(`"${setting}" is accepted at both levels`, async () => {
    const show = (v: unknown) => v instanceof Map ? Object.fromEntries(v) : v;
    const top = await effective(topLevel(setting), "alice", []);
    assert.deepEqual(
      show((top.config as unknown as Record<string, unknown>)[field]),
      value,
    );
    const over = await effective(
      inOverride(setting).replace("nobody", "alice"),
      "alice",
      [],
    );
    assert.deepEqual(
      show((over.config as unknown as Record<string, unknown>)[field]),
      value,
    );
  });
}

// [match list (YAML lines under `- match:`), error]
const badMatches: [string, string][] = [
  [
    "      - user: [alice]",
    'line 4: match.user: unknown match condition "user" (expected users, groups or sources)',
  ],
  [
    "      - users: [alice]\n        source: [10.0.0.1]",
    'line 5: match.source: unknown match condition "source"',
  ],
  [
    "      - {}",
    "line 4: match: empty match item would match everyone (expected `users:`, `groups:` or `sources:`)",
  ],
  [
    "      - alice",
    'line 4: match: item the string "alice" is not a mapping',
  ],
  ["      - [alice]", "line 4: match: item a list is not a mapping"],
  [
    "      - users: alice",
    'line 4: match.users: the string "alice" is not a list',
  ],
  [
    "      - groups: [[a]]",
    "line 4: match.groups: list element a list is not a string",
  ],
  ["      - users: ~", "line 4: match.users: ~ is not a list"],
  ["      users: [alice]", "line 4: match: a mapping is not a list"],
];

for (const [match, error] of badMatches) {
  Deno.test(`match item ${JSON.stringify(match.trim())} is a load error`, () => {
    const text =
      `dest: [d]\noverrides:\n  - match:\n${match}\n    service: x\n`;
    const parsed = parse(text);
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.ok(parsed.error.startsWith(error), `${parsed.error}\n!= ${error}`);
    assert.ok(!parsed.error.includes("\n"));
  });
}

const badShapes: [string, string][] = [
  ["overrides: {a: 1}", "line 1: overrides: a mapping is not a list"],
  ["overrides: [1]", "line 1: overrides: element 1 is not a mapping"],
  [
    "overrides:\n  - match:\n      - users: [a]\n    overrides: []",
    "line 4: overrides: overrides cannot be nested",
  ],
  ["- a\n- b", "line 1: (top level): the document is not a mapping"],
  ["just text", "line 1: (top level): the document is not a mapping"],
];

for (const [text, error] of badShapes) {
  Deno.test(`${JSON.stringify(text)} is refused: ${error}`, () => {
    const parsed = parse(text);
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.ok(parsed.error.startsWith(error), parsed.error);
  });
}

Deno.test("unknown keys outside match items are accepted and reported with a suggestion", () => {
  const text = `route_selct: random
stats_interval: 3s
foo: 1
ssh:
  exe: ssh
  argz: [-q]
etcd:
  passwd: x
  tls:
    cafle: ca.pem
overrides:
  - match:
      - users: [alice]
    dbug: true
    translate_commands:
      internal-sftp:
        comand: sftp
`;
  const parsed = parse(text);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: unknown key "route_selct" ignored (did you mean "route_select"?)',
    'line 2: unknown key "stats_interval" ignored (did you mean "log_stats_interval"?)',
    'line 3: unknown key "foo" ignored',
    'line 6: unknown key "ssh.argz" ignored (did you mean "args"?)',
    'line 8: unknown key "etcd.passwd" ignored (did you mean "password"?)',
    'line 10: unknown key "etcd.tls.cafle" ignored (did you mean "cafile"?)',
    'line 14: unknown key "overrides.dbug" ignored (did you mean "debug"?)',
    'line 17: unknown key "overrides.translate_commands.internal-sftp.comand" ignored (did you mean "command"?)',
  ]);
});

Deno.test("suggestions only name keys valid where the typo is", () => {
  const parsed = parse(
    "user: alice\nmatch: []\noverrides:\n  - match: [{users: [a]}]\n    overide: 1\n    mach: 2\n",
  );
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: unknown key "user" ignored',
    'line 2: unknown key "match" ignored',
    'line 5: unknown key "overrides.overide" ignored',
    'line 6: unknown key "overrides.mach" ignored (did you mean "match"?)',
  ]);
});

Deno.test("the reference's internal key nodeset is ignored silently", () => {
  const parsed = parse("nodeset: whatever\n");
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.unknownKeys, []);
});

Deno.test("an unknown key is only a warning: the rest of the file applies", async () => {
  const { config } = await effective(
    "route_selct: random\nservice: s\n",
    "alice",
    [],
  );
  assert.equal(config.service, "s");
  assert.equal(config.routeSelect, "ordered");
});
