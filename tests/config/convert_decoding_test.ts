// How `convert` reads a v1 file: go-yaml v2 semantics (YAML 1.1 scalars,
// duplicate keys, merge keys, durations, values copied verbatim from
// users/groups sections).
import assert from "node:assert/strict";
import { convertV1ToV2 } from "../../src/config/convert.ts";

function converted(v1: string): string {
  const result = convertV1ToV2(v1);
  if (!result.ok) throw new Error(`unexpected error: ${result.error}`);
  return result.value;
}

Deno.test("YAML 1.1 scalars at top level", () => {
  assert.equal(
    converted(
      "debug: yes\nlog: 123\nmax_connections_per_user: 010\ndump_limit_size: 0x10\n",
    ),
    // `log` is a string: the integer's source text, quoted on the way out.
    '---\ndebug: true\nlog: "123"\ndump_limit_size: 16\nmax_connections_per_user: 8\n',
  );
  assert.equal(converted("debug: off\n"), "---\n{}\n");
  assert.equal(
    converted("max_connections_per_user: 1_000\n"),
    "---\nmax_connections_per_user: 1000\n",
  );
});

Deno.test("durations are rewritten as Go duration strings", () => {
  assert.equal(
    converted(
      "check_interval: 1m\ndump_limit_window: 1.5h\netcd_stats_interval: 90\nlog_stats_interval: 500ms\n",
    ),
    // A bare integer is a number of nanoseconds.
    "---\ncheck_interval: 1m0s\ndump_limit_window: 1h30m0s\netcd_stats_interval: 90ns\nlog_stats_interval: 500ms\n",
  );
  assert.equal(converted("check_interval: 0s\n"), "---\n{}\n");
});

Deno.test("users/groups values are copied with their YAML type", () => {
  // subConfigV1 holds interface{} values: no duration normalisation, an
  // integer `log` stays an integer, an explicit empty string is kept.
  assert.equal(
    converted(
      "users:\n- alice: {dump_limit_window: 1m, debug: yes, log: 123, dump_limit_size: 1.5, bg_command: '', max_connections_per_user: 0x10, error_banner: ~}\n",
    ),
    `---
overrides:
- match:
  - users:
    - alice
  debug: true
  log: 123
  dump_limit_size: 1.5
  dump_limit_window: 1m
  bg_command: ""
  max_connections_per_user: 16
`,
  );
});

Deno.test("duplicate keys: last scalar wins, mappings merge", async (t) => {
  await t.step("scalar", () => {
    assert.equal(converted("log: a\nlog: b\n"), "---\nlog: b\n");
  });
  await t.step("string map and struct merge like go-yaml v2", () => {
    assert.equal(
      converted(
        "environment: {A: a}\nenvironment: {B: b}\netcd: {username: u}\netcd: {password: p}\n",
      ),
      "---\netcd:\n  endpoints: []\n  username: u\n  password: p\nenvironment:\n  A: a\n  B: b\n",
    );
  });
  await t.step("a repeated route replaces the whole route", () => {
    assert.equal(
      converted(
        "routes: {default: {dest: [a], mode: balanced}}\nroutes: {default: {dest: [b]}}\n",
      ),
      "---\ndest: [b]\n",
    );
  });
  await t.step("a repeated list replaces the list", () => {
    assert.equal(
      converted("routes:\n  default:\n    dest: [a]\n    dest: [b, c]\n"),
      "---\ndest: [b, c]\n",
    );
  });
});

Deno.test("anchors, aliases and << merges", async (t) => {
  await t.step("keys after the merge override it", () => {
    assert.equal(
      converted(
        "base: &b {dest: [x], mode: balanced}\nroutes: {default: {<<: *b, mode: sticky}}\n",
      ),
      "---\ndest: [x]\nmode: sticky\n",
    );
  });
  await t.step("a merge after a key overrides it (applied in place)", () => {
    assert.equal(
      converted(
        "base: &b {dest: [x], mode: balanced}\nroutes: {default: {mode: sticky, <<: *b}}\n",
      ),
      "---\ndest: [x]\nmode: balanced\n",
    );
  });
  await t.step("a list of merges: earlier maps win", () => {
    assert.equal(
      converted(
        "a: &a {mode: balanced}\nb: &b {mode: sticky, dest: [h2]}\nroutes: {default: {<<: [*a, *b]}}\n",
      ),
      "---\ndest: [h2]\nmode: balanced\n",
    );
  });
  await t.step("an alias reuses a whole value", () => {
    assert.equal(
      converted(
        "environment: &e {A: a}\nroutes: {default: {dest: [n1]}, s: {source: [h], environment: *e}}\n",
      ),
      "---\nenvironment:\n  A: a\ndest: [n1]\noverrides:\n- match:\n  - sources:\n    - h\n  environment:\n    A: a\n  service: s\n",
    );
  });
});

Deno.test("unknown keys are ignored at every level", () => {
  assert.equal(
    converted(
      "stats_interval: 1s\nroutes: {default: {dest: [a], user: bob}}\nusers:\n- bob: {check_interval: 1s, etcd: {}, nonsense: 1}\n",
    ),
    "---\ndest: [a]\noverrides:\n- match:\n  - users:\n    - bob\n",
  );
});

Deno.test("routes given as Null (not ~) are empty, not nil", () => {
  // go-yaml allocates the route before seeing that `Null` is null.
  assert.equal(
    converted("routes: {x: Null}\n"),
    "---\noverrides:\n- match:\n  - sources: []\n  service: x\n",
  );
});

Deno.test("ssh of a users/groups entry is kept only if exe or args is set", () => {
  assert.equal(
    converted(
      "groups:\n- g1: {ssh: {args: []}}\n- g2: {ssh: {exe: /usr/bin/ssh}}\n",
    ),
    `---
overrides:
- match:
  - groups:
    - g1
- match:
  - groups:
    - g2
  ssh:
    exe: /usr/bin/ssh
`,
  );
});

Deno.test("several keys in one users element: sorted (reference: random)", () => {
  assert.equal(
    converted("groups:\n- b: {debug: true}\n  a: {log: x}\n"),
    `---
overrides:
- match:
  - groups:
    - a
  log: x
- match:
  - groups:
    - b
  debug: true
`,
  );
});

Deno.test("names are split on commas only", () => {
  assert.equal(
    converted("users:\n- 'alice, bob': {debug: true}\n"),
    "---\noverrides:\n- match:\n  - users:\n    - alice\n    - ' bob'\n  debug: true\n",
  );
});
