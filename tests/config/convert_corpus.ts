// v1 files and what the reference's `sshproxyctl convert` writes for them:
// go-yaml v2's marshalling as the byte-exact tests of the earlier
// converter asserted it (configv1_test.go for configV1a.yaml), except the
// cases marked "written from §4.2", whose text follows the spec's rules.
// The meaning tests resolve both texts alike. Left out: inputs whose
// reference output the reference itself cannot use (a users/groups value of
// the wrong type crashes it at login; convert_errors_test.ts says what we
// answer instead).
import { fixture } from "./fixture_helpers.ts";

/** One v1 input and the reference's v2 output for it. */
export interface ConvertCase {
  name: string;
  v1: string;
  reference: string;
}

const CONFIG_V1A_REFERENCE = `---
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

const HOSTS = Array.from(
  { length: 12 },
  (_, i) => `node-${String(i + 1).padStart(4, "0")}`,
);

/** The corpus. */
export function convertCases(): ConvertCase[] {
  return [
    {
      name: "the spec's §4.2 example",
      v1: `check_interval: 1m
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
`,
      reference: `---
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
    },
    {
      name: "configV1a.yaml (the reference's own fixture and expectation)",
      v1: fixture("configV1a.yaml"),
      reference: CONFIG_V1A_REFERENCE,
    },
    {
      name: "configV1b.yaml: a default route alone",
      v1: fixture("configV1b.yaml"),
      reference: `---
route_select: connections
mode: sticky
force_command: /bin/false
command_must_match: true
etcd_keyttl: 1800
`,
    },
    { name: "an empty file", v1: "", reference: "---\n{}\n" },
    {
      name: "configEmpty.yaml",
      v1: fixture("configEmpty.yaml"),
      reference: "---\n{}\n",
    },
    {
      name: "YAML 1.1 scalars at top level",
      v1:
        "debug: yes\nlog: 123\nmax_connections_per_user: 010\ndump_limit_size: 0x10\n",
      reference:
        '---\ndebug: true\nlog: "123"\ndump_limit_size: 16\nmax_connections_per_user: 8\n',
    },
    {
      name: "a false top-level boolean",
      v1: "debug: off\n",
      reference: "---\n{}\n",
    },
    // Written from §4.2 (the recorded case also had a bare integer, 90 ns).
    {
      name: "durations",
      v1:
        "check_interval: 1m\ndump_limit_window: 1.5h\nlog_stats_interval: 500ms\n",
      reference:
        "---\ncheck_interval: 1m0s\ndump_limit_window: 1h30m0s\nlog_stats_interval: 500ms\n",
    },
    // Written from §4.2 (the recorded case also had `log: 123` and
    // `dump_limit_size: 1.5`, which crash the reference at login).
    {
      name: "users/groups values as written, an explicit empty string kept",
      v1:
        "users:\n- alice: {dump_limit_window: 1m, debug: yes, bg_command: '', max_connections_per_user: 0x10, error_banner: ~}\n",
      reference: `---
overrides:
- match:
  - users:
    - alice
  debug: true
  dump_limit_window: 1m
  bg_command: ""
  max_connections_per_user: 16
`,
    },
    {
      name: "a scalar given twice",
      v1: "log: a\nlog: b\n",
      reference: "---\nlog: b\n",
    },
    {
      name: "environment and etcd given twice merge",
      v1:
        "environment: {A: a}\nenvironment: {B: b}\netcd: {username: u}\netcd: {password: p}\n",
      reference:
        "---\netcd:\n  endpoints: []\n  username: u\n  password: p\nenvironment:\n  A: a\n  B: b\n",
    },
    {
      name: "a route given again replaces the whole route",
      v1:
        "routes: {default: {dest: [a], mode: balanced}}\nroutes: {default: {dest: [b]}}\n",
      reference: "---\ndest: [b]\n",
    },
    {
      name: "a list given twice is replaced",
      v1: "routes:\n  default:\n    dest: [a]\n    dest: [b, c]\n",
      reference: "---\ndest: [b, c]\n",
    },
    {
      name: "keys after a << merge override it",
      v1:
        "base: &b {dest: [x], mode: balanced}\nroutes: {default: {<<: *b, mode: sticky}}\n",
      reference: "---\ndest: [x]\nmode: sticky\n",
    },
    {
      name: "a << merge after a key overrides it",
      v1:
        "base: &b {dest: [x], mode: balanced}\nroutes: {default: {mode: sticky, <<: *b}}\n",
      reference: "---\ndest: [x]\nmode: balanced\n",
    },
    {
      name: "a list of merges: earlier maps win",
      v1:
        "a: &a {mode: balanced}\nb: &b {mode: sticky, dest: [h2]}\nroutes: {default: {<<: [*a, *b]}}\n",
      reference: "---\ndest: [h2]\nmode: balanced\n",
    },
    {
      name: "an alias reuses a whole value",
      v1:
        "environment: &e {A: a}\nroutes: {default: {dest: [n1]}, s: {source: [h], environment: *e}}\n",
      reference:
        "---\nenvironment:\n  A: a\ndest: [n1]\noverrides:\n- match:\n  - sources:\n    - h\n  environment:\n    A: a\n  service: s\n",
    },
    {
      name: "unknown keys are ignored at every level",
      v1:
        "stats_interval: 1s\nroutes: {default: {dest: [a], user: bob}}\nusers:\n- bob: {check_interval: 1s, etcd: {}, nonsense: 1}\n",
      reference:
        "---\ndest: [a]\noverrides:\n- match:\n  - users:\n    - bob\n",
    },
    {
      name: "ssh of a users/groups entry only when exe or args is set",
      v1:
        "groups:\n- g1: {ssh: {args: []}}\n- g2: {ssh: {exe: /usr/bin/ssh}}\n",
      reference: `---
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
    },
    {
      name: "several names in one users element",
      v1: "groups:\n- b: {debug: true}\n  a: {log: x}\n",
      reference: `---
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
    },
    {
      name: "names split on commas only",
      v1: "users:\n- 'alice, bob': {debug: true}\n",
      reference:
        "---\noverrides:\n- match:\n  - users:\n    - alice\n    - ' bob'\n  debug: true\n",
    },
    {
      name: "strings that need quotes",
      v1: `routes:
  default:
    dest: ['host:22', 'yes', '123', '', 'a b', '-x', '#x', 'x #y', '1:20', "a\\tb", "\\U0001F600", 'é', "it's"]
  s:
    source: ['10.0.0.1:22', 'yes', '', '#x']
`,
      reference: `---
dest: ['host:22', "yes", "123", "", a b, -x, '#x', 'x #y', "1:20", "a\\tb", "\\U0001F600",
  é, it's]
overrides:
- match:
  - sources:
    - 10.0.0.1:22
    - "yes"
    - ""
    - '#x'
  service: s
`,
    },
    {
      name: "multi-line strings",
      v1:
        'error_banner: "Service unavailable\\nretry later"\nbg_command: "a\\nb\\n"\n',
      reference: `---
error_banner: |-
  Service unavailable
  retry later
bg_command: |
  a
  b
`,
    },
    {
      name: "a long list and a long line",
      v1: `routes: {default: {dest: [${
        HOSTS.join(", ")
      }]}}\nerror_banner: The service is currently unavailable because of a scheduled maintenance, please come back later\n`,
      reference: `---
error_banner: The service is currently unavailable because of a scheduled maintenance,
  please come back later
dest: [node-0001, node-0002, node-0003, node-0004, node-0005, node-0006, node-0007,
  node-0008, node-0009, node-0010, node-0011, node-0012]
`,
    },
    {
      name: "etcd with mandatory false",
      v1: "etcd: {mandatory: false}\n",
      reference: "---\netcd:\n  endpoints: []\n  mandatory: false\n",
    },
    {
      name: "etcd with a lone cafile",
      v1: "etcd: {tls: {cafile: ca.pem}, keyttl: 0}\n",
      reference: `---
etcd:
  endpoints: []
  tls:
    cafile: ca.pem
    keyfile: ""
    certfile: ""
`,
    },
    {
      name: "etcd endpoints, username, keyttl",
      v1:
        "etcd:\n  endpoints: ['https://etcd1:2379', etcd2:2379]\n  username: u\n  keyttl: 10\n",
      reference: `---
etcd:
  endpoints: ['https://etcd1:2379', 'etcd2:2379']
  username: u
  keyttl: 10
`,
    },
    {
      name: "etcd with nothing set",
      v1: "etcd: {keyttl: 0, endpoints: []}\n",
      reference: "---\n{}\n",
    },
    // The recorded case less an entry with no value (`'y': ~`), which the
    // reference writes as null and then crashes on.
    {
      name: "translate_commands",
      v1:
        "translate_commands:\n  /usr/bin/foo: {command: bar}\n  x: {ssh_args: [-a], disable_dump: true}\n",
      reference: `---
translate_commands:
  /usr/bin/foo:
    ssh_args: []
    command: bar
  x:
    ssh_args:
    - -a
    command: ""
    disable_dump: true
`,
    },
    {
      name: "top-level ssh",
      v1: "ssh: {exe: /usr/bin/ssh, args: ['-q', '-o SendEnv=X']}\n",
      reference: "---\nssh:\n  exe: /usr/bin/ssh\n  args: [-q, -o SendEnv=X]\n",
    },
    {
      name: "top-level ssh with empty args",
      v1: "ssh: {args: []}\n",
      reference: "---\n{}\n",
    },
    // Written from §4.2 and go-yaml's key sorter (the recorded case had a
    // variable named "1").
    {
      name: "environment names in any order",
      v1: "environment: {ENV10: a, ENV2: b, env1: c, A: d, _1: f}\n",
      reference:
        "---\nenvironment:\n  _1: f\n  A: d\n  ENV2: b\n  ENV10: a\n  env1: c\n",
    },
    {
      name: "a command longer than 128 bytes",
      v1: `translate_commands: {${"x".repeat(129)}: {command: y2}}\n`,
      reference: `---\ntranslate_commands:\n  ? ${
        "x".repeat(129)
      }\n  : ssh_args: []\n    command: y2\n`,
    },
    // Written from §4.2.
    {
      name: "users and groups with routes of every kind",
      v1: `routes:
  default: {dest: [d1, d2], route_select: random}
  web: {source: ['192.168.1.[1-2]:22'], dest: [w1], mode: balanced}
users:
  - alice,bob:
      debug: true
      environment: {U: u}
      routes:
        default: {dest: [ua], environment: {R: r}, command_must_match: true}
        web: {source: ['192.168.1.1'], dest: [uw], etcd_keyttl: 60}
  - carol:
      dump: /tmp/{user}.dump
groups:
  - staff:
      max_connections_per_user: 2
      ssh: {exe: /opt/ssh}
      routes:
        web: {source: ['192.168.1.2:22'], force_command: /bin/true}
`,
      reference: `---
dest: [d1, d2]
route_select: random
overrides:
- match:
  - sources:
    - 192.168.1.[1-2]:22
  service: web
  dest: [w1]
  mode: balanced
- match:
  - groups:
    - staff
  ssh:
    exe: /opt/ssh
  max_connections_per_user: 2
- match:
  - groups:
    - staff
    sources:
    - 192.168.1.2:22
  service: web
  force_command: /bin/true
- match:
  - users:
    - alice
    - bob
  debug: true
  environment:
    R: r
    U: u
  dest: [ua]
  command_must_match: true
- match:
  - sources:
    - 192.168.1.1
    users:
    - alice
    - bob
  service: web
  dest: [uw]
  etcd_keyttl: 60
- match:
  - users:
    - carol
  dump: /tmp/{user}.dump
`,
    },
  ];
}
