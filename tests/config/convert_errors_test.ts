// `sshproxyctl convert` failures: syntax errors, go-yaml's collected type
// errors, fatal decoding errors, and the nil route the reference crashes on.
import assert from "node:assert/strict";
import { convertV1ToV2 } from "../../src/config/convert.ts";

const FIXTURES = new URL(
  "../../../shared/fixtures/reference-config/",
  import.meta.url,
);

function errorOf(v1: string): string {
  const result = convertV1ToV2(v1);
  if (result.ok) throw new Error(`expected an error, got:\n${result.value}`);
  return result.error;
}

Deno.test("a TAB at the start of a line", async (t) => {
  await t.step("first line: libyaml's message without a line number", () => {
    const text = Deno.readTextFileSync(
      new URL("configInvalid.yaml", FIXTURES),
    );
    assert.equal(
      errorOf(text),
      "yaml: found character that cannot start any token",
    );
  });

  await t.step("later line: with go-yaml's `line N: ` prefix", () => {
    assert.equal(
      errorOf("debug: true\nroutes:\n\tdefault: {dest: [a]}\n"),
      "yaml: line 3: found character that cannot start any token",
    );
  });
});

Deno.test("other syntax errors keep go-yaml's framing, not libyaml's words", () => {
  // Decided: the `yaml` package's message after "yaml: line N: ".
  const error = errorOf("routes: {default: {dest: [a, b}\n");
  assert.match(error, /^yaml: line \d+: \S/);
  assert.match(errorOf("log: 'unterminated\n"), /^yaml: line \d+: /);
});

Deno.test("type errors are collected into one message", () => {
  assert.equal(
    errorOf("debug: foo\nroutes:\n  default:\n    dest: host1\n"),
    "yaml: unmarshal errors:\n" +
      "  line 1: cannot unmarshal !!str `foo` into bool\n" +
      "  line 4: cannot unmarshal !!str `host1` into []string",
  );
});

Deno.test("long values are shortened to 7 bytes in type errors", () => {
  assert.equal(
    errorOf("check_interval: notaduration\n"),
    "yaml: unmarshal errors:\n" +
      "  line 1: cannot unmarshal !!str `notadur...` into time.Duration",
  );
});

Deno.test("type errors name Go's types", async (t) => {
  const cases: [string, string][] = [
    ["log: [a]\n", "line 1: cannot unmarshal !!seq into string"],
    [
      "dump_limit_size: -1\n",
      "line 1: cannot unmarshal !!int `-1` into uint64",
    ],
    [
      "max_connections_per_user: lots\n",
      "line 1: cannot unmarshal !!str `lots` into int",
    ],
    [
      "users: {alice: {debug: true}}\n",
      "line 1: cannot unmarshal !!map into []map[string]utils.subConfigV1",
    ],
    [
      "routes: {default: [a]}\n",
      "line 1: cannot unmarshal !!seq into utils.routeConfigV1",
    ],
    [
      "etcd: localhost:2379\n",
      "line 1: cannot unmarshal !!str `localho...` into utils.EtcdConfig",
    ],
    [
      "etcd:\n  keyttl: 1h\n",
      "line 2: cannot unmarshal !!str `1h` into int64",
    ],
    [
      "translate_commands: {sftp: [a]}\n",
      "line 1: cannot unmarshal !!seq into utils.TranslateCommandConfig",
    ],
    ["- a\n", "line 1: cannot unmarshal !!seq into utils.configV1"],
    [
      "check_interval: true\n",
      "line 1: cannot unmarshal !!bool `true` into time.Duration",
    ],
    // A quoted "null" is not nil: go-yaml tries the pointer itself.
    [
      "routes: {x: 'null'}\n",
      "line 1: cannot unmarshal !!str `null` into *utils.routeConfigV1",
    ],
  ];
  for (const [v1, message] of cases) {
    await t.step(v1.trim(), () => {
      assert.equal(errorOf(v1), `yaml: unmarshal errors:\n  ${message}`);
    });
  }
});

Deno.test("fatal decoding errors", async (t) => {
  await t.step("unknown anchor", () => {
    assert.equal(
      errorOf("routes: *nope\n"),
      "yaml: unknown anchor 'nope' referenced",
    );
  });
  await t.step("merge of a scalar", () => {
    assert.equal(
      errorOf("routes: {<<: 1}\n"),
      "yaml: map merge requires map or sequence of maps as the value",
    );
  });
  await t.step("an alias inside its own anchor", () => {
    assert.equal(
      errorOf("users:\n- alice: {debug: &d [*d]}\n"),
      "yaml: anchor 'd' value contains itself",
    );
  });
  await t.step("explicit tag that does not fit", () => {
    assert.equal(
      errorOf("max_connections_per_user: !!int many\n"),
      "yaml: cannot decode !!str `many` as a !!int",
    );
  });
});

Deno.test("a route without value is reported (the reference crashes)", () => {
  assert.equal(
    errorOf("routes: {default: {dest: [a]}, other: ~}\n"),
    "route 'other' has no value",
  );
  assert.equal(
    errorOf("users:\n- alice:\n    routes:\n      default:\n"),
    "route 'default' has no value",
  );
});
