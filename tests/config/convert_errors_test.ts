// `sshproxyctl convert` failures: one line, `line N: ...`, the same words as
// the v2 engine's (the v1 file goes through the same reader and settings
// parser). The reference prints go-yaml's collected type errors over
// several lines, and converts without a word values it then crashes on
// (a users/groups value of the wrong type, a route with no value).
import assert from "node:assert/strict";
import { convertV1ToV2 } from "../../src/config/convert.ts";
import { fixture } from "./fixture_helpers.ts";
import { HOSTILE_CONFIGS } from "./hostile_configs.ts";

function errorOf(v1: string): string {
  const result = convertV1ToV2(v1);
  if (result.ok) throw new Error(`expected an error, got:\n${result.value}`);
  return result.error;
}

// [v1 text, error]
const cases: [string, string][] = [
  [
    fixture("configInvalid.yaml"),
    "line 1: yaml: found character that cannot start any token (expected spaces for indentation, not a TAB)",
  ],
  [
    "debug: true\nroutes:\n\tdefault: {dest: [a]}\n",
    "line 3: yaml: found character that cannot start any token",
  ],
  ["routes: {default: {dest: [a, b}\n", "line 1: yaml: "],
  ["log: 'unterminated\n", "line 1: yaml: "],
  // Type errors: the first one, with its line (go-yaml lists them all
  // over several lines).
  [
    "debug: foo\nroutes:\n  default:\n    dest: host1\n",
    'line 1: debug: the string "foo" is not a boolean (expected true or false)',
  ],
  [
    "routes:\n  default:\n    dest: host1\n",
    'line 3: dest: the string "host1" is not a list',
  ],
  ["log: [a]\n", "line 1: log: a list is not a string"],
  ["dump_limit_size: -1\n", "line 1: dump_limit_size: -1 is out of range"],
  [
    "max_connections_per_user: lots\n",
    'line 1: max_connections_per_user: the string "lots" is not an integer',
  ],
  [
    "users: {alice: {debug: true}}\n",
    "line 1: users: a mapping is not a list",
  ],
  [
    "routes: {default: [a]}\n",
    "line 1: routes.default: a list is not a mapping",
  ],
  [
    "etcd: localhost:2379\n",
    'line 1: etcd: the string "localhost:2379" is not a mapping',
  ],
  [
    "etcd:\n  keyttl: 1h\n",
    'line 2: etcd.keyttl: the string "1h" is not an integer',
  ],
  [
    "translate_commands: {sftp: [a]}\n",
    "line 1: translate_commands.sftp: a list is not a mapping",
  ],
  ["- a\n", "line 1: (top level): a list is not a mapping"],
  ["check_interval: true\n", "line 1: check_interval: true is not a string"],
  // A bare integer is nanoseconds to the reference, never what is meant.
  [
    "etcd_stats_interval: 90\n",
    "line 1: etcd_stats_interval: 90 is not a string",
  ],
  [
    "routes: {x: 'null'}\n",
    'line 1: routes.x: the string "null" is not a mapping',
  ],
  [
    "routes: {default: {source: x}}\n",
    'line 1: routes.default.source: the string "x" is not a list',
  ],
  // Values the reference converts, then crashes on at login.
  [
    "users:\n- alice: {dump_limit_size: 1.5}\n",
    "line 2: dump_limit_size: 1.5 is not an integer",
  ],
  [
    "users:\n- alice: {debug: {a: [1]}}\n",
    "line 2: debug: a mapping is not a boolean",
  ],
  [
    "routes: {default: {dest: [a]}, other: ~}\n",
    "line 1: routes.other: the route has no value (expected a mapping with source: and dest: lists)",
  ],
  [
    "routes: {x: Null}\n",
    "line 1: routes.x: the route has no value",
  ],
  [
    "users:\n- alice:\n    routes:\n      default:\n",
    "line 4: users.alice.routes.default: the route has no value",
  ],
  // A route's name becomes a service, which names etcd keys.
  [
    "routes: {'a:b': {source: [x]}}\n",
    `line 1: routes: route name "a:b" contains '/', '@' or ':'`,
  ],
  // Fatal YAML errors, in go-yaml's words.
  [
    "routes: *nope\n",
    "line 1: yaml: unknown anchor 'nope' referenced (expected an anchor &nope defined earlier)",
  ],
  [
    "routes: {<<: 1}\n",
    "line 1: yaml: map merge requires map or sequence of maps as the value",
  ],
  [
    "users:\n- alice: {debug: &d [*d]}\n",
    "line 2: yaml: anchor 'd' value contains itself",
  ],
];

for (const [v1, error] of cases) {
  Deno.test(`convert ${JSON.stringify(v1.slice(0, 60))} fails: ${error}`, () => {
    const message = errorOf(v1);
    assert.ok(message.startsWith(error), message);
    assert.ok(!message.includes("\n"), "one line");
    assert.match(message, /\(expected .*\)$/);
  });
}

Deno.test("hostile files get the same bounded one-line answers as show config", () => {
  for (const shape of HOSTILE_CONFIGS) {
    // The nodeset budget is the v2 engine's: convert copies nodesets as
    // written, it never expands them.
    if (/nodesets/.test(shape.error.source)) continue;
    const message = errorOf(shape.text());
    const prefix = `line ${shape.line}: `;
    assert.ok(message.startsWith(prefix), `${shape.name}: ${message}`);
    assert.match(message.slice(prefix.length), shape.error, shape.name);
  }
});
