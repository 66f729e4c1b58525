// `sshproxyctl convert` on the spec's §4.2 examples and on the reference's
// two v1 fixtures: exact text, plus a structural check of what the output
// means when read back as YAML.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { convertV1ToV2 } from "../../src/config/convert.ts";

const FIXTURES = new URL(
  "../../../shared/fixtures/reference-config/",
  import.meta.url,
);

function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIXTURES));
}

function converted(v1: string): string {
  const result = convertV1ToV2(v1);
  if (!result.ok) throw new Error(`unexpected error: ${result.error}`);
  return result.value;
}

Deno.test("spec §4.2 example converts to the documented text", () => {
  const v1 = `check_interval: 1m
environment: {A: a}
routes:
  default:
    dest: [n1, n2]
    environment: {B: b}
  interactive:
    source: [10.0.0.5]
    dest: [n3]
    mode: balanced
groups:
  - ops,admins:
      debug: true
      routes:
        default: {dest: [n9]}
        interactive: {source: [10.0.0.6], dest: [n8]}
users:
  - carol:
      log: /var/log/sshproxy/{user}.log
`;
  assert.equal(
    converted(v1),
    `---
check_interval: 1m0s
environment:
  A: a
  B: b
dest: [n1, n2]
overrides:
- match:
  - sources:
    - 10.0.0.5
  service: interactive
  dest: [n3]
  mode: balanced
- match:
  - groups:
    - ops
    - admins
  debug: true
  dest: [n9]
- match:
  - groups:
    - ops
    - admins
    sources:
    - 10.0.0.6
  service: interactive
  dest: [n8]
- match:
  - users:
    - carol
  log: /var/log/sshproxy/{user}.log
`,
  );
});

Deno.test("a default route alone gives its five keys, in order", () => {
  const v1 =
    "routes: {default: {route_select: connections, mode: sticky, force_command: /bin/false, command_must_match: true, etcd_keyttl: 1800}}\n";
  assert.equal(
    converted(v1),
    `---
route_select: connections
mode: sticky
force_command: /bin/false
command_must_match: true
etcd_keyttl: 1800
`,
  );
});

// The reference's own expectation for this fixture (configv1_test.go) is
// exactly this text after the `---` line.
const CONFIG_V1A_TEXT = `---
check_interval: 2m30s
environment:
  TEST: test
  XAUTHORITY: /tmp/.Xauthority_{user}
dest: ['host5:4222']
overrides:
- match:
  - sources:
    - 192.168.0.2
  environment:
    XAUTHORITY: /dev/shm/.Xauthority_{user}
  service: service1
  dest: [host3, host4]
  route_select: bandwidth
  mode: balanced
  force_command: internal-sftp
  command_must_match: true
  etcd_keyttl: 3600
- match:
  - groups:
    - foo
    - bar
  debug: true
  log: /tmp/sshproxy-foo/{user}.log
  ssh:
    args: [-vvv, -Y]
  environment:
    ENV1: /tmp/env
    ENV2: /tmp/foo
  dest: [hostx]
- match:
  - groups:
    - foo
    - bar
    sources:
    - 127.0.0.1
  service: service1
  dest: [hosty]
- match:
  - users:
    - alice
    - bob
  debug: true
  log: /tmp/sshproxy-{user}.log
  dump: /tmp/sshproxy-{user}-{time}.dump
  environment:
    ENV3: /tmp/foo
  dest: [hostz]
- match:
  - sources:
    - 127.0.0.2
    users:
    - alice
    - bob
  environment:
    ENV4: /tmp/foo
  service: service1
  dest: ['hostz:4222']
`;

Deno.test("configV1a.yaml", async (t) => {
  const text = converted(fixture("configV1a.yaml"));

  await t.step("means what the v1 file meant", () => {
    const v2 = parse(text);
    assert.deepEqual(v2, {
      check_interval: "2m30s",
      // Top-level environment plus the default route's.
      environment: { TEST: "test", XAUTHORITY: "/tmp/.Xauthority_{user}" },
      dest: ["host5:4222"],
      overrides: [
        {
          match: [{ sources: ["192.168.0.2"] }],
          environment: { XAUTHORITY: "/dev/shm/.Xauthority_{user}" },
          service: "service1",
          dest: ["host3", "host4"],
          route_select: "bandwidth",
          mode: "balanced",
          force_command: "internal-sftp",
          command_must_match: true,
          etcd_keyttl: 3600,
        },
        {
          match: [{ groups: ["foo", "bar"] }],
          debug: true,
          log: "/tmp/sshproxy-foo/{user}.log",
          ssh: { args: ["-vvv", "-Y"] },
          environment: { ENV1: "/tmp/env", ENV2: "/tmp/foo" },
          dest: ["hostx"],
        },
        {
          match: [{ groups: ["foo", "bar"], sources: ["127.0.0.1"] }],
          service: "service1",
          dest: ["hosty"],
        },
        {
          match: [{ users: ["alice", "bob"] }],
          debug: true,
          log: "/tmp/sshproxy-{user}.log",
          dump: "/tmp/sshproxy-{user}-{time}.dump",
          environment: { ENV3: "/tmp/foo" },
          dest: ["hostz"],
        },
        {
          match: [{ sources: ["127.0.0.2"], users: ["alice", "bob"] }],
          environment: { ENV4: "/tmp/foo" },
          service: "service1",
          dest: ["hostz:4222"],
        },
      ],
    });
  });

  await t.step("keys come in the v2 struct order", () => {
    const v2 = parse(text);
    assert.deepEqual(Object.keys(v2), [
      "check_interval",
      "environment",
      "dest",
      "overrides",
    ]);
    assert.deepEqual(Object.keys(v2.overrides[0]), [
      "match",
      "environment",
      "service",
      "dest",
      "route_select",
      "mode",
      "force_command",
      "command_must_match",
      "etcd_keyttl",
    ]);
    assert.deepEqual(Object.keys(v2.overrides[1]), [
      "match",
      "debug",
      "log",
      "ssh",
      "environment",
      "dest",
    ]);
  });

  await t.step("is the reference's text", () => {
    assert.equal(text, CONFIG_V1A_TEXT);
  });
});

Deno.test("configV1b.yaml", async (t) => {
  const text = converted(fixture("configV1b.yaml"));

  await t.step("means what the v1 file meant", () => {
    assert.deepEqual(parse(text), {
      route_select: "connections",
      mode: "sticky",
      force_command: "/bin/false",
      command_must_match: true,
      etcd_keyttl: 1800,
    });
  });

  await t.step("is the reference's text", () => {
    assert.equal(
      text,
      `---
route_select: connections
mode: sticky
force_command: /bin/false
command_must_match: true
etcd_keyttl: 1800
`,
    );
  });
});

Deno.test("an empty v1 file converts to an empty mapping", () => {
  assert.equal(converted(""), "---\n{}\n");
  assert.equal(converted("---\n"), "---\n{}\n");
  assert.equal(converted("# only a comment\n"), "---\n{}\n");
  assert.equal(converted(fixture("configEmpty.yaml")), "---\n{}\n");
});

Deno.test("non-default routes are ordered by name (reference: random)", () => {
  const v1 = `routes:
  zeta: {source: [10.0.0.3], dest: [z]}
  alpha: {source: [10.0.0.1], dest: [a]}
  default: {dest: [d]}
  mid: {source: [10.0.0.2], dest: [m]}
`;
  const v2 = parse(converted(v1));
  assert.deepEqual(
    v2.overrides.map((o: { service: string }) => o.service),
    ["alpha", "mid", "zeta"],
  );
});
