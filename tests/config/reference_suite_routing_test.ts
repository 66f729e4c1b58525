// The reference end-to-end suite's gateway configuration (spec §10.1,
// overrides O1-O7) resolved for every (user, groups, sshd address) the
// suite uses: TestSimpleConnect and TestEnvironment (§10.2) must land on
// the same service, destinations and XMODIFIERS value. gateway1 is
// 127.0.0.1 and gateway2 127.0.0.2 in the fake resolver, so a session on
// gateway1 port 2023 has the sshd address 127.0.0.1:2023.
import assert from "node:assert/strict";
import { configListing } from "../../src/config/listing.ts";
import { effective, parse } from "./fixture_helpers.ts";

const GATEWAY_CONFIG = `---
debug: true
log: /tmp/sshproxy-{user}.log
max_connections_per_user: 0

environment:
  XMODIFIERS: globalEnv_{user}

ssh:
  args: ["-q", "-Y", "-o SendEnv=XMODIFIERS"]

translate_commands:
  "/usr/libexec/openssh/sftp-server":
    ssh_args:
      - "-oForwardX11=no"
      - "-oForwardAgent=no"
      - "-oPermitLocalCommand=no"
      - "-oClearAllForwardings=yes"
      - "-oProtocol=2"
      - "-s"
    command: "sftp"
    disable_dump: true

etcd:
  endpoints: ["https://etcd:2379"]
  tls:
    cafile: "/etc/sshproxy/ca.pem"
    keyfile: "/etc/sshproxy/sshproxy.key"
    certfile: "/etc/sshproxy/sshproxy.pem"
  username: "sshproxy"
  password: "sshproxy"
  keyttl: 1
  mandatory: false

service: default
dest: ["server3"]

overrides:
  - match:                                   # O1
      - sources: ["gateway1:2022", "gateway2:2022"]
    service: service1
    dest: ["server[1-2]"]
    route_select: ordered
    mode: sticky
    etcd_keyttl: 0
  - match:                                   # O2
      - sources: ["gateway1:2023"]
    service: service2
    dest: ["server1"]
  - match:                                   # O3
      - sources: ["gateway1:2024"]
    service: service3
    dest: ["server2"]
    environment:
      XMODIFIERS: serviceEnv_{user}
  - match:                                   # O4
      - sources: ["gateway2:2023"]
    service: sftp
    dest: ["server1"]
    force_command: "/usr/libexec/openssh/sftp-server"
    command_must_match: true
  - match:                                   # O5
      - sources: ["gateway1:2023"]
        groups: ["user1", "unknowngroup"]
      - sources: ["gateway1:2023"]
        users: ["unknownuser"]
    service: service2
    dest: ["server2"]
  - match:                                   # O6
      - groups: ["unknowngroup"]
      - users: ["unknownuser", "user2"]
    environment:
      XMODIFIERS: globalUserEnv_{user}
  - match:                                   # O7
      - sources: ["gateway1:2024"]
        groups: ["unknowngroup"]
      - sources: ["gateway1:2024"]
        users: ["unknownuser", "user2"]
    service: service3
    dest: ["server1"]
    environment:
      XMODIFIERS: serviceUserEnv_{user}
`;

// The accounts of §10.1: user2 and tmpuser have user1 as primary group.
const GROUPS: Record<string, string[]> = {
  fedora: ["fedora"],
  user1: ["user1"],
  user2: ["user1"],
  tmpuser: ["user1"],
};

interface Expected {
  service: string;
  dest: string[];
  xmodifiers: string;
  mode?: string;
  routeSelect?: string;
  forceCommand?: string;
  commandMustMatch?: boolean;
  etcdKeyttl?: number;
}

const SERVERS_1_2 = ["server1:22", "server2:22"];

// [user, sshd address, expected, why]
const routes: [string, string, Expected, string][] = [
  // TestSimpleConnect
  ["fedora", "127.0.0.1:2023", {
    service: "service2",
    dest: ["server1:22"],
    xmodifiers: "globalEnv_fedora",
  }, "O2"],
  ["fedora", "127.0.0.1:2024", {
    service: "service3",
    dest: ["server2:22"],
    xmodifiers: "serviceEnv_fedora",
  }, "O3"],
  ["fedora", "127.0.0.1:2025", {
    service: "default",
    dest: ["server3:22"],
    xmodifiers: "globalEnv_fedora",
  }, "no override: top level"],
  ["user1", "127.0.0.1:2023", {
    service: "service2",
    dest: ["server2:22"],
    xmodifiers: "globalEnv_user1",
  }, "O5 via group user1 wins over the earlier O2"],
  ["user1", "127.0.0.1:2024", {
    service: "service3",
    dest: ["server2:22"],
    xmodifiers: "serviceEnv_user1",
  }, "O3 only"],
  ["user2", "127.0.0.1:2023", {
    service: "service2",
    dest: ["server2:22"],
    xmodifiers: "globalUserEnv_user2",
  }, "O5 via the primary group user1, O6 via users"],
  ["user2", "127.0.0.1:2024", {
    service: "service3",
    dest: ["server1:22"],
    xmodifiers: "serviceUserEnv_user2",
  }, "O3, O6, then O7 via users wins"],
  ["user2", "127.0.0.1:2025", {
    service: "default",
    dest: ["server3:22"],
    xmodifiers: "globalUserEnv_user2",
  }, "O6 only"],
  ["tmpuser", "127.0.0.1:2023", {
    service: "service2",
    dest: ["server2:22"],
    xmodifiers: "globalEnv_tmpuser",
  }, "O5 via the primary group user1"],
  // Port 2022 on both gateways (sticky/balanced tests): O1
  ["fedora", "127.0.0.1:2022", {
    service: "service1",
    dest: SERVERS_1_2,
    xmodifiers: "globalEnv_fedora",
    mode: "sticky",
    routeSelect: "ordered",
    etcdKeyttl: 0,
  }, "O1 via gateway1:2022"],
  ["fedora", "127.0.0.2:2022", {
    service: "service1",
    dest: SERVERS_1_2,
    xmodifiers: "globalEnv_fedora",
    mode: "sticky",
    routeSelect: "ordered",
    etcdKeyttl: 0,
  }, "O1 via gateway2:2022"],
  ["user2", "127.0.0.2:2022", {
    service: "service1",
    dest: SERVERS_1_2,
    xmodifiers: "globalUserEnv_user2",
  }, "O1 and O6"],
  // gateway2 (TestOnlySFTP): O4; O2, O3, O5 and O7 are gateway1 only
  ["fedora", "127.0.0.2:2023", {
    service: "sftp",
    dest: ["server1:22"],
    xmodifiers: "globalEnv_fedora",
    forceCommand: "/usr/libexec/openssh/sftp-server",
    commandMustMatch: true,
  }, "O4"],
  ["user1", "127.0.0.2:2023", {
    service: "sftp",
    dest: ["server1:22"],
    xmodifiers: "globalEnv_user1",
    forceCommand: "/usr/libexec/openssh/sftp-server",
    commandMustMatch: true,
  }, "O4; O5 is for gateway1 only"],
  ["user2", "127.0.0.2:2024", {
    service: "default",
    dest: ["server3:22"],
    xmodifiers: "globalUserEnv_user2",
  }, "O6 only; O3 and O7 are for gateway1 only"],
  ["fedora", "127.0.0.2:2025", {
    service: "default",
    dest: ["server3:22"],
    xmodifiers: "globalEnv_fedora",
    commandMustMatch: false,
    forceCommand: "",
  }, "no override"],
  // Port 22 of a gateway has no ForceCommand, but the engine must still
  // not confuse it with the proxied ports.
  ["fedora", "127.0.0.1:22", {
    service: "default",
    dest: ["server3:22"],
    xmodifiers: "globalEnv_fedora",
  }, "no override on port 22"],
];

for (const [user, sshd, expected, why] of routes) {
  Deno.test(`reference suite: ${user} on ${sshd} gets ${expected.service} ${expected.dest} (${why})`, async () => {
    const { config, warnings } = await effective(
      GATEWAY_CONFIG,
      user,
      GROUPS[user],
      sshd,
    );
    assert.equal(config.service, expected.service);
    assert.deepEqual(config.dest, expected.dest);
    assert.equal(config.environment.get("XMODIFIERS"), expected.xmodifiers);
    assert.deepEqual([...config.environment.keys()], ["XMODIFIERS"]);
    assert.equal(config.mode, expected.mode ?? "sticky");
    assert.equal(config.routeSelect, expected.routeSelect ?? "ordered");
    if (expected.forceCommand !== undefined) {
      assert.equal(config.forceCommand, expected.forceCommand);
    }
    if (expected.commandMustMatch !== undefined) {
      assert.equal(config.commandMustMatch, expected.commandMustMatch);
    }
    if (expected.etcdKeyttl !== undefined) {
      assert.equal(config.etcdKeyttl, expected.etcdKeyttl);
    }
    // Settings no override touches are the top level's for everyone.
    assert.equal(config.log, `/tmp/sshproxy-${user}.log`);
    assert.deepEqual(config.ssh.args, ["-q", "-Y", "-o SendEnv=XMODIFIERS"]);
    assert.equal(config.etcd.keyttl, 1);
    assert.equal(config.debug, true);
    assert.deepEqual(warnings, []);
  });
}

Deno.test("reference suite: the gateway file has no unknown keys and no ignored override", () => {
  const parsed = parse(GATEWAY_CONFIG);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(parsed.value.unknownKeys, []);
  assert.equal(parsed.value.overrides.length, 7);
});

Deno.test("reference suite: sftp-server translation and the unsplit SendEnv argument reach the config", async () => {
  const { config } = await effective(
    GATEWAY_CONFIG,
    "fedora",
    ["fedora"],
    "127.0.0.1:2023",
  );
  assert.deepEqual(
    config.translateCommands.get("/usr/libexec/openssh/sftp-server"),
    {
      sshArgs: [
        "-oForwardX11=no",
        "-oForwardAgent=no",
        "-oPermitLocalCommand=no",
        "-oClearAllForwardings=yes",
        "-oProtocol=2",
        "-s",
      ],
      command: "sftp",
      disableDump: true,
    },
  );
  assert.ok(
    configListing(config).includes(
      "config.ssh = {Exe:ssh Args:[-q -Y -o SendEnv=XMODIFIERS]}",
    ),
  );
});

// The suite edits the file between tests by replacing the value of every
// line that contains a key (so `route_select` and `mode` change O1) or by
// appending a top-level line after `overrides`.
function replaceValue(text: string, key: string, value: string): string {
  return text.split("\n").map((line) =>
    line.includes(`${key}:`) ? line.replace(/:.*$/, `: ${value}`) : line
  ).join("\n");
}

Deno.test("reference suite edits: route_select/mode/etcd_keyttl rewritten in O1 (TestBalancedConnections, TestLongStickyConnections)", async () => {
  let text = replaceValue(GATEWAY_CONFIG, "route_select", "connections");
  text = replaceValue(text, "mode", "balanced");
  text = replaceValue(text, "etcd_keyttl", "10");
  const o1 = await effective(text, "fedora", ["fedora"], "127.0.0.2:2022");
  assert.equal(o1.config.routeSelect, "connections");
  assert.equal(o1.config.mode, "balanced");
  assert.equal(o1.config.etcdKeyttl, 10);
  const o2 = await effective(text, "fedora", ["fedora"], "127.0.0.1:2023");
  assert.equal(o2.config.routeSelect, "ordered");
  assert.equal(o2.config.mode, "sticky");
  assert.equal(o2.config.etcdKeyttl, 0);
});

Deno.test("reference suite edits: top-level lines appended after overrides apply to every session", async () => {
  const text = GATEWAY_CONFIG +
    "blocking_command: /bin/true\ncheck_interval: 5s\nerror_banner: a default error\n" +
    "dump: etcd\netcd_stats_interval: 5s\n";
  for (const sshd of ["127.0.0.1:2022", "127.0.0.1:2023", "127.0.0.2:2023"]) {
    const { config } = await effective(text, "fedora", ["fedora"], sshd);
    assert.equal(config.blockingCommand, "/bin/true");
    assert.equal(config.checkInterval, 5_000_000_000n);
    assert.equal(config.errorBanner, "a default error");
    assert.equal(config.dump, "etcd");
    assert.equal(config.etcdStatsInterval, 5_000_000_000n);
  }
});

Deno.test("reference suite edits: max_connections_per_user, endpoints and mandatory rewritten in place (TestWithoutEtcd)", async () => {
  let text = replaceValue(GATEWAY_CONFIG, "max_connections_per_user", "1");
  text = replaceValue(text, "endpoints", '["https://void:2379"]');
  text = replaceValue(text, "mandatory", "true");
  const { config } = await effective(
    text,
    "fedora",
    ["fedora"],
    "127.0.0.1:2023",
  );
  assert.equal(config.maxConnectionsPerUser, 1);
  assert.deepEqual(config.etcd.endpoints, ["https://void:2379"]);
  assert.equal(config.etcd.mandatory, true);
  assert.deepEqual(config.dest, ["server1:22"]);
});

Deno.test("reference suite: sshproxyctl without -source sees only the top level and source-free overrides", async () => {
  const fedora = await effective(GATEWAY_CONFIG, "fedora", ["fedora"]);
  assert.equal(fedora.config.service, "default");
  assert.deepEqual(fedora.config.dest, ["server3:22"]);
  const user2 = await effective(GATEWAY_CONFIG, "user2", ["user1"]);
  assert.equal(user2.config.service, "default");
  assert.equal(
    user2.config.environment.get("XMODIFIERS"),
    "globalUserEnv_user2",
  );
});
