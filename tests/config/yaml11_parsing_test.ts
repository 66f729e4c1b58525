// The file is YAML 1.1 as go-yaml v2 reads it (spec §3.1): its booleans,
// integers and nulls, duplicate keys outside match items (scalars and lists
// replaced, sections merged), anchors, aliases and merge keys, the TAB
// error, empty documents, only the first document. Syntax errors are one
// line with the line they are on.
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
  assert.ok(tree.ok && tree.value.root.kind === "mapping");
  for (const entry of tree.value.root.entries) {
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

Deno.test("duplicate scalar and list keys outside match items: the last one wins, with a warning", async () => {
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

// go-yaml v2 decodes every occurrence of a key into the same struct field
// or map (decode.go `mappingStruct`, `mapping`): a section given twice
// merges, its later keys winning; a null occurrence resets it.
Deno.test("a section given twice merges as go-yaml v2 decodes it, with a warning", async () => {
  const text = `etcd:
  endpoints: [http://e1:2379]
  tls: {cafile: /ca.pem}
dest: [d]
etcd:
  keyttl: 7
  tls: {certfile: /cert.pem, keyfile: /key.pem}
environment: {A: a, B: b}
ssh: {exe: /usr/bin/ssh}
translate_commands:
  one: {command: first, disable_dump: true}
environment: {B: bee, C: c}
ssh: {args: [-x]}
translate_commands:
  two: {command: second}
  one: {command: replaced}
overrides:
  - match: [{users: [alice]}]
    etcd: {username: u}
    environment: {D: d}
    etcd: {password: p}
    environment: {A: override}
`;
  const parsed = parse(text);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  const { config } = await effective(text, "alice", []);
  assert.deepEqual(config.etcd, {
    endpoints: ["http://e1:2379"],
    tls: { cafile: "/ca.pem", keyfile: "/key.pem", certfile: "/cert.pem" },
    username: "u",
    password: "p",
    keyttl: 7,
    mandatory: false,
  });
  assert.deepEqual(Object.fromEntries(config.environment), {
    A: "override",
    B: "bee",
    C: "c",
    D: "d",
  });
  assert.deepEqual(config.ssh, { exe: "/usr/bin/ssh", args: ["-x"] });
  // A command's entry is replaced whole (a map of pointers to structs).
  assert.deepEqual(Object.fromEntries(config.translateCommands), {
    one: { sshArgs: [], command: "replaced", disableDump: false },
    two: { sshArgs: [], command: "second", disableDump: false },
  });
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: duplicate key "etcd" merged with the one on line 5 (keys given again there win)',
    'line 8: duplicate key "environment" merged with the one on line 12 (keys given again there win)',
    'line 9: duplicate key "ssh" merged with the one on line 13 (keys given again there win)',
    'line 10: duplicate key "translate_commands" merged with the one on line 14 (keys given again there win)',
    'line 19: duplicate key "overrides.etcd" merged with the one on line 21 (keys given again there win)',
    'line 20: duplicate key "overrides.environment" merged with the one on line 22 (keys given again there win)',
  ]);
});

Deno.test("an etcd section split in two keeps etcd on (issue 11)", async () => {
  const text = `etcd:
  endpoints: [http://127.0.0.1:2379]
  mandatory: true
log: /var/log/sshproxy.log
etcd:
  keyttl: 10
`;
  const { config } = await effective(text, "alice", []);
  assert.deepEqual(config.etcd.endpoints, ["http://127.0.0.1:2379"]);
  assert.equal(config.etcd.mandatory, true);
  assert.equal(config.etcd.keyttl, 10);
});

Deno.test("a null occurrence resets a section, as go-yaml sets the zero value", async () => {
  const text = `environment: {A: a}
etcd: {endpoints: [http://e:2379]}
environment:
etcd: ~
ssh: {exe: /bin/ssh, args: [-a]}
ssh: {args: ~}
etcd: {tls: {cafile: /ca}}
etcd: {tls: ~, username: u}
`;
  const parsed = parse(text);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  const { config } = await effective(text, "alice", []);
  assert.equal(config.environment.size, 0);
  assert.deepEqual(config.etcd.endpoints, []);
  assert.deepEqual(config.etcd.tls, { cafile: "", keyfile: "", certfile: "" });
  assert.equal(config.etcd.username, "u");
  assert.deepEqual(config.ssh, { exe: "/bin/ssh", args: ["-q", "-Y"] });
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: duplicate key "environment" ignored (the one on line 3 wins)',
    'line 2: duplicate key "etcd" ignored (the one on line 8 wins)',
    'line 4: duplicate key "etcd" ignored (the one on line 8 wins)',
    'line 5: duplicate key "ssh" merged with the one on line 6 (keys given again there win)',
    'line 7: duplicate key "etcd" merged with the one on line 8 (keys given again there win)',
  ]);
});

Deno.test("a bad value in an earlier duplicate is an error (go-yaml decodes it too)", () => {
  const parsed = parse("debug: notabool\ndebug: true\n");
  assert.equal(parsed.ok, false);
  if (parsed.ok) return;
  assert.match(parsed.error, /^line 1: debug: .* is not a boolean/);
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

// go-yaml v2 decodes a merged mapping in place (decode.go `merge`): keys
// written after `<<` win over it, keys written before it lose to it, and of
// a list of mappings the earlier ones win.
Deno.test("<< merge keys apply where they are written, earlier merged mappings win", async () => {
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
  assert.deepEqual(alice.dest, ["own:22"], "a key after << wins");
  const bob = (await effective(text, "bob", [])).config;
  assert.equal(bob.service, "base", "<< after a key wins over it");
  assert.equal(bob.mode, "balanced");
  const parsed = parse(text);
  assert.ok(parsed.ok);
  // `base` and `extra` are unknown top-level keys (anchors' holders); a
  // merged key is not a duplicate.
  assert.deepEqual(parsed.value.unknownKeys.map((key) => key.key), [
    "base",
    "extra",
  ]);
});

Deno.test("<< merges a section into the one written before it", async () => {
  const text = `tls: &tls {cafile: /ca, certfile: /cert, keyfile: /key}
etcd:
  endpoints: [http://e:2379]
  tls: {cafile: /own-ca}
  <<: {tls: *tls}
`;
  const { config } = await effective(text, "a", []);
  assert.deepEqual(config.etcd.tls, {
    cafile: "/ca",
    certfile: "/cert",
    keyfile: "/key",
  });
  assert.deepEqual(config.etcd.endpoints, ["http://e:2379"]);
});

Deno.test("<< of something other than mappings is refused with go-yaml's words", () => {
  const parsed = parse("a: &a [x]\nservice: s\n<<: *a\n");
  assert.equal(parsed.ok, false);
  if (parsed.ok) return;
  assert.equal(
    parsed.error,
    "line 3: yaml: map merge requires map or sequence of maps as the value (expected <<: *anchor or <<: [*a, *b])",
  );
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
  assert.match(
    parsed.error,
    // l4's aliases are where the expansion passes the limit.
    /^line 5: yaml: aliases expand to more than 100000 nodes \(the limit; /,
  );
});

// go-yaml v2's Unmarshal decodes the first document and reads no further.
for (
  const [text, what] of [
    ["dest: [d]\n---\n", "a file ending with a --- line"],
    ["dest: [d]\n---\n...\n---\n# end\n", "empty documents after the first"],
    ["dest: [d]\n...\n", "a file ending with ..."],
  ]
) {
  Deno.test(`${what} is read as its first document, silently`, async () => {
    const parsed = parse(text);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.deepEqual(parsed.value.unknownKeys, []);
    const { config } = await effective(text, "alice", []);
    assert.deepEqual(config.dest, ["d:22"]);
  });
}

Deno.test("a second document with content is ignored, with a warning", async () => {
  const text =
    "dest: [d]\n---\n# the old file\nservice: x\n\t: not even valid\n";
  const parsed = parse(text);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    "line 4: a second YAML document starts here and is ignored (only the first document is read, as the reference does; remove the `---` line above to keep it)",
  ]);
  const { config } = await effective(text, "alice", []);
  assert.equal(config.service, "default");
  assert.deepEqual(config.dest, ["d:22"]);
});

Deno.test("an empty first document is the whole configuration", async () => {
  const parsed = parse("---\n---\ndest: [d]\n");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(parsed.value.top, {});
  assert.equal(parsed.value.unknownKeys.length, 1);
  const { config } = await effective("---\n---\ndest: [d]\n", "alice", []);
  assert.deepEqual(config.dest, []);
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

Deno.test("100 levels of lists and mappings are read, 101 are refused", () => {
  const flow = (levels: number) =>
    "x: " + "[".repeat(levels - 1) + "]".repeat(levels - 1) + "\n";
  const block = (levels: number) =>
    Array.from({ length: levels }, (_, i) => " ".repeat(i) + "k:").join("\n") +
    " v\n";
  for (const shape of [flow, block]) {
    assert.ok(parseYamlTree(shape(100)).ok);
    const refused = parseYamlTree(shape(101));
    assert.equal(refused.ok, false);
    if (refused.ok) continue;
    assert.match(refused.error, /^line \d+: yaml: exceeded max depth of 100 /);
  }
});

Deno.test("at most 100 warnings are listed, then how many were left out", () => {
  const text = Array.from({ length: 150 }, (_, i) => `unknown${i}: x`).join(
    "\n",
  );
  const parsed = parse(text + "\n");
  assert.ok(parsed.ok);
  const lines = describeUnknownKeys(parsed.value.unknownKeys);
  assert.equal(lines.length, 101);
  assert.equal(lines[0], 'line 1: unknown key "unknown0" ignored');
  assert.equal(lines[100], "50 more warnings about the file left out");
});

Deno.test("an unknown key merged into several places is warned about once", () => {
  const text = `defaults: &d {debug: true, colour: blue}
overrides:
  - match: [{users: [a]}]
    <<: *d
  - match: [{users: [b]}]
    <<: *d
`;
  const parsed = parse(text);
  assert.ok(parsed.ok);
  assert.deepEqual(describeUnknownKeys(parsed.value.unknownKeys), [
    'line 1: unknown key "defaults" ignored',
    'line 1: unknown key "overrides.colour" ignored',
  ]);
});

Deno.test("keys named like JavaScript object properties are unknown keys", async () => {
  const text =
    "constructor: x\ntoString: y\n__proto__: z\nhasOwnProperty: 1\ndest: [a]\n";
  const parsed = parse(text);
  assert.ok(parsed.ok, parsed.ok ? "" : String(parsed.error));
  assert.deepEqual(parsed.value.unknownKeys.map((key) => key.key), [
    "constructor",
    "toString",
    "__proto__",
    "hasOwnProperty",
  ]);
  assert.deepEqual((await effective(text, "a", [])).config.dest, ["a:22"]);
});
