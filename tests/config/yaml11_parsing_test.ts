// The file is YAML 1.1 as go-yaml v2 reads it (spec §3.1): its booleans,
// integers and nulls, last-wins duplicate keys outside match items,
// anchors, aliases and merge keys, the TAB error, empty documents. Syntax
// errors are one line with the line they are on.
import assert from "node:assert/strict";
import { parseYamlTree } from "../../src/config/yaml_tree.ts";
import { describeUnknownKeys } from "../../src/config/unknown_keys.ts";
import { effective, parse } from "./fixture_helpers.ts";

const TRUE = [
  "y",
  "Y",
  "yes",
  "Yes",
  "YES",
  "true",
  "True",
  "TRUE",
  "on",
  "On",
  "ON",
];
const FALSE = [
  "n",
  "N",
  "no",
  "No",
  "NO",
  "false",
  "False",
  "FALSE",
  "off",
  "Off",
  "OFF",
];

for (const word of TRUE) {
  Deno.test(`debug: ${word} is true`, async () => {
    const { config } = await effective(`debug: ${word}\n`, "alice", []);
    assert.equal(config.debug, true);
  });
}

for (const word of FALSE) {
  Deno.test(`debug: ${word} is false (over a true top level)`, async () => {
    const text =
      `debug: true\noverrides:\n  - match: [{users: [alice]}]\n    debug: ${word}\n`;
    const { config } = await effective(text, "alice", []);
    assert.equal(config.debug, false);
  });
}

for (const word of ["yES", "tRUE", "oN", "enabled", "1", '"yes"', "'true'"]) {
  Deno.test(`debug: ${word} is not a boolean`, () => {
    const parsed = parse(`debug: ${word}\n`);
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.match(parsed.error, /^line 1: debug: .* is not a boolean/);
  });
}

// [YAML integer, value] — go-yaml: `_` separators, Go base prefixes
const integers: [string, bigint][] = [
  ["010", 8n],
  ["0755", 493n],
  ["1_000", 1000n],
  ["0x10", 16n],
  ["0xFF", 255n],
  ["0b101", 5n],
  ["0o17", 15n],
  ["+12", 12n],
  ["0", 0n],
  ["9223372036854775807", 9223372036854775807n],
];

for (const [text, value] of integers) {
  Deno.test(`dump_limit_size: ${text} is ${value}`, async () => {
    const { config } = await effective(`dump_limit_size: ${text}\n`, "a", []);
    assert.equal(config.dumpLimitSize, value);
  });
}

Deno.test("integers keep working in etcd_keyttl and etcd.keyttl (octal and hex)", async () => {
  const { config } = await effective(
    "etcd_keyttl: 0x10\netcd: {keyttl: 010}\nmax_connections_per_user: 1_0\n",
    "a",
    [],
  );
  assert.equal(config.etcdKeyttl, 16);
  assert.equal(config.etcd.keyttl, 8);
  assert.equal(config.maxConnectionsPerUser, 10);
});

Deno.test("sexagesimal numbers do not exist (go-yaml): 1:20 stays a string", () => {
  const tree = parseYamlTree("a: 1:20\nb: 190:20:30\n");
  assert.ok(tree.ok && tree.value.kind === "mapping");
  for (const entry of tree.value.entries) {
    assert.equal(entry.value.kind === "scalar" && entry.value.tag, "str");
  }
});

for (const empty of ["~", "null", "Null", "NULL", "", "''"]) {
  Deno.test(`service: ${empty || "(nothing)"} ${empty === "''" ? "is empty, which means the default" : "is unset"}`, async () => {
    const { config } = await effective(`service: ${empty}\n`, "a", []);
    assert.equal(config.service, "default");
  });
}

Deno.test("null values leave defaults and lower levels alone", async () => {
  const text = `ssh:
  exe:
  args: ~
etcd:
  keyttl: null
environment:
dest:
overrides:
  - match: [{users: [a]}]
    dest: ~
    service: ~
    debug:
`;
  const { config } = await effective(text, "a", []);
  assert.deepEqual(config.ssh, { exe: "ssh", args: ["-q", "-Y"] });
  assert.equal(config.etcd.keyttl, 0);
  assert.equal(config.environment.size, 0);
  assert.deepEqual(config.dest, []);
  assert.equal(config.service, "default");
  assert.equal(config.debug, false);
});

Deno.test("duplicate keys outside match items: the last one wins, with a warning", async () => {
  const text = `service: first
service: second
debug: true
debug: ~
etcd:
  username: u1
  username: u2
  password: p1
  password:
ssh:
  args: [-a]
  args: [-b]
environment:
  A: one
  A: two
translate_commands:
  cmd: {command: one}
  cmd: {command: two, disable_dump: true}
overrides:
  - match: [{users: [alice]}]
    dest: [d1]
    dest: [d2]
`;
  const parsed = parse(text);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  const { config } = await effective(text, "alice", []);
  assert.equal(config.service, "second");
  assert.equal(config.debug, false, "a null last value unsets the key");
  assert.equal(config.etcd.username, "u2");
  assert.equal(config.etcd.password, "", "a null last value unsets the key");
  assert.deepEqual(config.ssh.args, ["-b"]);
  assert.equal(config.environment.get("A"), "two");
  assert.deepEqual(config.translateCommands.get("cmd"), {
    sshArgs: [],
    command: "two",
    disableDump: true,
  });
  assert.deepEqual(config.dest, ["d2:22"]);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: duplicate key "service" ignored (the one on line 2 wins)',
    'line 3: duplicate key "debug" ignored (the one on line 4 wins)',
    'line 6: duplicate key "etcd.username" ignored (the one on line 7 wins)',
    'line 8: duplicate key "etcd.password" ignored (the one on line 9 wins)',
    'line 11: duplicate key "ssh.args" ignored (the one on line 12 wins)',
    'line 14: duplicate key "environment.A" ignored (the one on line 15 wins)',
    'line 17: duplicate key "translate_commands.cmd" ignored (the one on line 18 wins)',
    'line 21: duplicate key "overrides.dest" ignored (the one on line 22 wins)',
  ]);
});

Deno.test("two overrides: blocks keep only the second, with a warning", async () => {
  const text = `overrides:
  - match: [{users: [alice]}]
    service: lost
dest: [d]
overrides:
  - match: [{users: [bob]}]
    service: kept
`;
  const parsed = parse(text);
  assert.ok(parsed.ok);
  assert.equal(parsed.value.overrides.length, 1);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: duplicate key "overrides" ignored (the one on line 5 wins)',
  ]);
  assert.equal((await effective(text, "alice", [])).config.service, "default");
  assert.equal((await effective(text, "bob", [])).config.service, "kept");
});

Deno.test("a bad value in a shadowed duplicate is not an error (it is never read)", async () => {
  const { config } = await effective(
    "debug: notabool\ndebug: true\n",
    "a",
    [],
  );
  assert.equal(config.debug, true);
});

Deno.test("anchors and aliases: values and lists are shared", async () => {
  const text = `dest: &servers [server1, server2]
environment: &env
  LANG: C
  HOME_DIR: /home/{user}
overrides:
  - match: [{users: [alice]}]
    service: &svc special
    dest: *servers
    environment: *env
  - match: [{groups: [staff]}]
    log: *svc
`;
  const { config } = await effective(text, "alice", ["staff"]);
  assert.deepEqual(config.dest, ["server1:22", "server2:22"]);
  assert.equal(config.service, "special");
  assert.equal(config.log, "special");
  assert.deepEqual(Object.fromEntries(config.environment), {
    LANG: "C",
    HOME_DIR: "/home/alice",
  });
});

Deno.test("<< merge keys: own keys win wherever << is written, earlier merged mappings win", async () => {
  const text = `base: &base
  service: base
  mode: balanced
  dest: [b1]
extra: &extra
  service: extra
  route_select: random
  log: extra.log
overrides:
  - match: [{users: [alice]}]
    <<: [*base, *extra]
    dest: [own]
  - match: [{users: [bob]}]
    service: own
    <<: *base
`;
  const alice = (await effective(text, "alice", [])).config;
  assert.equal(alice.service, "base", "earlier merged mapping wins");
  assert.equal(alice.mode, "balanced");
  assert.equal(alice.routeSelect, "random");
  assert.equal(alice.log, "extra.log");
  assert.deepEqual(alice.dest, ["own:22"], "own key wins");
  const bob = (await effective(text, "bob", [])).config;
  assert.equal(bob.service, "own", "own key wins even before <<");
  assert.equal(bob.mode, "balanced");
  const parsed = parse(text);
  assert.ok(parsed.ok);
  // `base` and `extra` are unknown top-level keys (anchors' holders)
  assert.deepEqual(parsed.value.unknownKeys.map((key) => key.key), [
    "base",
    "extra",
  ]);
});

Deno.test("<< in a match item: the item's own key replaces the merged one (no AND)", async () => {
  const text = `admins: &admins {users: [root], groups: [wheel]}
overrides:
  - match:
      - <<: *admins
        users: [alice]
    service: merged
`;
  const hit = await effective(text, "alice", ["wheel"]);
  assert.equal(hit.config.service, "merged");
  const root = await effective(text, "root", ["wheel"]);
  assert.equal(root.config.service, "default");
  const noGroup = await effective(text, "alice", []);
  assert.equal(noGroup.config.service, "default");
});

Deno.test('a quoted "<<" is an ordinary (unknown) key, not a merge', () => {
  const parsed = parse('base: &b {service: x}\n"<<": *b\n');
  assert.ok(parsed.ok);
  assert.equal(parsed.value.top.service, undefined);
  assert.deepEqual(parsed.value.unknownKeys.map((key) => key.key), [
    "base",
    "<<",
  ]);
});

// [text, error]
const syntaxErrors: [string, string][] = [
  [
    "\tdebug: true\n",
    "line 1: yaml: found character that cannot start any token (expected spaces for indentation, not a TAB)",
  ],
  [
    "debug: true\nservice: x\n\tmode: sticky\n",
    "line 3: yaml: found character that cannot start any token",
  ],
  [
    "overrides:\n  - match:\n\t- users: [a]\n",
    "line 3: yaml: found character that cannot start any token",
  ],
  ["debug: true\nservice: [a\n", "line 2: yaml: "],
  ["service: [a,\n  b\n\n\n", "line 2: yaml: "],
  ["service: 'a\n", "line 1: yaml: "],
  [
    "dest: [d]\n---\nservice: x\n",
    "line 2: yaml: more than one document in the file (expected a single document; remove the extra `---` line)",
  ],
  [
    "a: 1\nservice: *nothing\n",
    "line 2: yaml: unknown anchor 'nothing' referenced (expected an anchor &nothing defined earlier)",
  ],
  [
    "service: *later\nlog: &later x\n",
    "line 1: yaml: unknown anchor 'later' referenced",
  ],
  [
    "dest: &d [a, *d]\n",
    "line 1: yaml: anchor 'd' value contains itself",
  ],
];

for (const [text, error] of syntaxErrors) {
  Deno.test(`${JSON.stringify(text)} is refused: ${error}`, () => {
    const parsed = parse(text);
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.ok(parsed.error.startsWith(error), parsed.error);
    assert.ok(!parsed.error.includes("\n"), "one line");
    assert.match(parsed.error, /\(expected .*\)$/);
  });
}

Deno.test("a TAB after the key (not indentation) is allowed", async () => {
  const { config } = await effective("service:\tx\n", "a", []);
  assert.equal(config.service, "x");
});

Deno.test("an alias bomb is refused instead of exhausting memory", () => {
  const lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let level = 1; level <= 7; level++) {
    const refs = Array(10).fill(`*l${level - 1}`).join(", ");
    lines.push(`l${level}: &l${level} [${refs}]`);
  }
  const parsed = parse(lines.join("\n") + "\n");
  assert.equal(parsed.ok, false);
  if (parsed.ok) return;
  assert.match(parsed.error, /^line \d+: yaml: document too large/);
});

// [file text, what it is]
const emptyFiles: [string, string][] = [
  ["", "an empty file"],
  ["---\n", "a file with only ---"],
  ["---", "--- without a newline"],
  ["---\n...\n", "--- and ..."],
  ["# only a comment\n\n", "only comments"],
  ["\n\n   \n", "only blank lines"],
  ["~\n", "a null document"],
];

for (const [text, what] of emptyFiles) {
  Deno.test(`${what} gives every default`, async () => {
    const parsed = parse(text);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.deepEqual(parsed.value.top, {});
    assert.deepEqual(parsed.value.overrides, []);
    const { config } = await effective(text, "alice", ["foo"], "127.0.0.1:22");
    assert.equal(config.service, "default");
    assert.deepEqual(config.dest, []);
    assert.deepEqual(config.ssh, { exe: "ssh", args: ["-q", "-Y"] });
    assert.equal(config.routeSelect, "ordered");
    assert.equal(config.mode, "sticky");
  });
}

Deno.test("a document starting with --- and a comment parses normally", async () => {
  const { config } = await effective(
    "---\n# sshproxy\ndebug: on\n",
    "alice",
    [],
  );
  assert.equal(config.debug, true);
});

Deno.test("keys are case sensitive: Service is an unknown key", async () => {
  const parsed = parse("Service: x\n");
  assert.ok(parsed.ok);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: unknown key "Service" ignored (did you mean "service"?)',
  ]);
  assert.equal(
    (await effective("Service: x\n", "a", [])).config.service,
    "default",
  );
});

Deno.test("block scalars keep their newlines (multi-line error_banner)", async () => {
  const literal = await effective(
    "error_banner: |\n  Maintenance.\n  Back at 14:00.\n",
    "a",
    [],
  );
  assert.equal(literal.config.errorBanner, "Maintenance.\nBack at 14:00.\n");
  const folded = await effective(
    "error_banner: >-\n  one\n  two\n",
    "a",
    [],
  );
  assert.equal(folded.config.errorBanner, "one two");
});

Deno.test("quoted scalars keep their text; escapes are decoded", async () => {
  const { config } = await effective(
    "log: \"/tmp/a b.log\"\nerror_banner: \"tab\\there\"\nforce_command: 'it''s'\n",
    "a",
    [],
  );
  assert.equal(config.log, "/tmp/a b.log");
  assert.equal(config.errorBanner, "tab\there");
  assert.equal(config.forceCommand, "it's");
});

Deno.test("error lines count from the start of the file, comments and --- included", () => {
  const parsed = parse("---\n# comment\n\ndebug: maybe\n");
  assert.equal(parsed.ok, false);
  if (parsed.ok) return;
  assert.match(parsed.error, /^line 4: debug: /);
});
