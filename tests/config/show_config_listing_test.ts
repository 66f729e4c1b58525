// The `config.*` lines of `sshproxyctl show config` and of every
// session's DEBUG log (spec §7.7, §3.10, A.4), line by line, with the
// etcd password masked and our own keys' lines last (`health_check`,
// `ssh.config`, `clustershell_dir`).
import assert from "node:assert/strict";
import {
  configAsJson,
  configListing,
  groupsListing,
} from "../../src/config/listing.ts";
import { effective, fixture } from "./fixture_helpers.ts";

const TIME = "2024-05-02T09:15:03.041527381+02:00";

Deno.test("config.yaml for alice (groups foo, bar; sshd 127.0.0.1:22) lists as the reference does", async () => {
  const { config } = await effective(
    fixture("config.yaml"),
    "alice",
    ["foo", "bar"],
    "127.0.0.1:22",
  );
  assert.deepEqual(configListing(config), [
    "config.debug = true",
    "config.log = /tmp/sshproxy-foo/alice.log",
    "config.check_interval = 2m0s",
    "config.error_banner = an other error banner",
    `config.dump = /tmp/sshproxy-alice-${TIME}.dump`,
    "config.dump_limit_size = 20",
    "config.dump_limit_window = 3m0s",
    "config.etcd = {Endpoints:[host2] TLS:{CAFile:ca2.pem KeyFile:cert2.key CertFile:cert2.pem} Username:test2 Password:******** KeyTTL:2 Mandatory:false}",
    "config.etcd_stats_interval = 4m0s",
    "config.log_stats_interval = 5m0s",
    "config.blocking_command = /a/blocking/command",
    "config.bg_command = /a/background/command",
    "config.ssh = {Exe:sshhhhh Args:[-vvv -Y]}",
    "config.TranslateCommands.acommand = &{SSHArgs:[] Command:something DisableDump:true}",
    "config.TranslateCommands.internal-sftp = &{SSHArgs:[-s] Command:anothercommand DisableDump:false}",
    "config.environment = map[ENV1:/tmp/env XAUTHORITY:/dev/shm/.Xauthority_alice]",
    "config.service = service5",
    "config.dest = [server1:12345]",
    "config.route_select = bandwidth",
    "config.mode = balanced",
    "config.force_command = acommand",
    "config.command_must_match = false",
    "config.etcd_keyttl = 0",
    "config.max_connections_per_user = 0",
    "config.health_check = tcp",
    "config.ssh.config = ",
    "config.clustershell_dir = /etc/clustershell",
    "config.agent = {Socket: Metrics:127.0.0.1:9649 Timeout:200ms DecisionTimeout:2s}",
    "config.handoff = false",
  ]);
  assert.equal(
    groupsListing(["foo", "bar"]),
    "groups = map[bar:true foo:true]",
  );
});

Deno.test("config.yaml for notalice: only override 1, top-level values elsewhere", async () => {
  const { config } = await effective(
    fixture("config.yaml"),
    "notalice",
    ["foo", "bar"],
    "127.0.0.1:22",
  );
  assert.deepEqual(configListing(config), [
    "config.debug = true",
    "config.log = /var/log/sshproxy/notalice.log",
    "config.check_interval = 2m30s",
    "config.error_banner = an error banner",
    `config.dump = /var/lib/sshproxy/dumps/notalice/${TIME}-abcd.dump`,
    "config.dump_limit_size = 10",
    "config.dump_limit_window = 2m31s",
    "config.etcd = {Endpoints:[host1:port1 host2:port2] TLS:{CAFile:ca.pem KeyFile:cert.key CertFile:cert.pem} Username:test Password:******** KeyTTL:5 Mandatory:true}",
    "config.etcd_stats_interval = 2m33s",
    "config.log_stats_interval = 2m32s",
    "config.blocking_command = ",
    "config.bg_command = ",
    "config.ssh = {Exe:ssh Args:[-q -Y]}",
    "config.TranslateCommands.internal-sftp = &{SSHArgs:[-oForwardX11=no -oForwardAgent=no -oPermitLocalCommand=no -oClearAllForwardings=yes -oProtocol=2 -s] Command:sftp DisableDump:true}",
    "config.environment = map[XAUTHORITY:/dev/shm/.Xauthority_notalice]",
    "config.service = default",
    "config.dest = [host5:4222]",
    "config.route_select = ordered",
    "config.mode = sticky",
    "config.force_command = ",
    "config.command_must_match = true",
    "config.etcd_keyttl = 3600",
    "config.max_connections_per_user = 50",
    "config.health_check = tcp",
    "config.ssh.config = ",
    "config.clustershell_dir = /etc/clustershell",
    "config.agent = {Socket: Metrics:127.0.0.1:9649 Timeout:200ms DecisionTimeout:2s}",
    "config.handoff = false",
  ]);
});

Deno.test("the empty file lists every default (spec §3.10, §7.7 example)", async () => {
  const { config } = await effective(
    fixture("configEmpty.yaml"),
    "alice",
    ["bar", "foo"],
    "127.0.0.1:22",
  );
  assert.deepEqual(configListing(config), [
    "config.debug = false",
    "config.log = ",
    "config.check_interval = 0s",
    "config.error_banner = ",
    "config.dump = ",
    "config.dump_limit_size = 0",
    "config.dump_limit_window = 0s",
    "config.etcd = {Endpoints:[] TLS:{CAFile: KeyFile: CertFile:} Username: Password: KeyTTL:0 Mandatory:false}",
    "config.etcd_stats_interval = 0s",
    "config.log_stats_interval = 0s",
    "config.blocking_command = ",
    "config.bg_command = ",
    "config.ssh = {Exe:ssh Args:[-q -Y]}",
    "config.environment = map[]",
    "config.service = default",
    "config.dest = []",
    "config.route_select = ordered",
    "config.mode = sticky",
    "config.force_command = ",
    "config.command_must_match = false",
    "config.etcd_keyttl = 0",
    "config.max_connections_per_user = 0",
    "config.health_check = tcp",
    "config.ssh.config = ",
    "config.clustershell_dir = /etc/clustershell",
    "config.agent = {Socket: Metrics:127.0.0.1:9649 Timeout:200ms DecisionTimeout:2s}",
    "config.handoff = false",
  ]);
});

Deno.test("configDefault.yaml lists its one normalised destination", async () => {
  const { config } = await effective(
    fixture("configDefault.yaml"),
    "alice",
    [],
  );
  assert.ok(configListing(config).includes("config.dest = [127.0.0.1:22]"));
});

Deno.test("groups line: sorted names, no repeats, map[] when empty", () => {
  assert.equal(groupsListing([]), "groups = map[]");
  assert.equal(
    groupsListing(["wheel", "adm", "wheel", "Users"]),
    "groups = map[Users:true adm:true wheel:true]",
  );
});

Deno.test("lists and maps print Go-style: space-separated, sorted keys, empty strings as nothing", async () => {
  const text = `environment:
  Z: last
  A: ""
  M: "a b"
ssh:
  args: []
translate_commands:
  z: {command: z}
  "a b": {}
dest: [b, a]
`;
  const { config } = await effective(text, "u", []);
  const listing = configListing(config);
  assert.ok(listing.includes("config.environment = map[A: M:a b Z:last]"));
  assert.ok(listing.includes("config.ssh = {Exe:ssh Args:[]}"));
  assert.ok(
    listing.includes("config.dest = [b:22 a:22]"),
    "dest keeps its order",
  );
  const translate = listing.filter((line) =>
    line.startsWith("config.TranslateCommands.")
  );
  assert.deepEqual(translate, [
    "config.TranslateCommands.a b = &{SSHArgs:[] Command: DisableDump:false}",
    "config.TranslateCommands.z = &{SSHArgs:[] Command:z DisableDump:false}",
  ]);
});

Deno.test("durations print as Go durations", async () => {
  const { config } = await effective(
    "check_interval: 90s\ndump_limit_window: 1h0m0.5s\nlog_stats_interval: 1500ms\netcd_stats_interval: 1m\n",
    "u",
    [],
  );
  const listing = configListing(config);
  assert.ok(listing.includes("config.check_interval = 1m30s"));
  assert.ok(listing.includes("config.dump_limit_window = 1h0m0.5s"));
  assert.ok(listing.includes("config.log_stats_interval = 1.5s"));
  assert.ok(listing.includes("config.etcd_stats_interval = 1m0s"));
});

Deno.test("the etcd password never appears in the listing or the JSON form", async () => {
  const { config } = await effective(
    "etcd: {username: u, password: 's3cr3t pass'}\n",
    "u",
    [],
  );
  const listing = configListing(config).join("\n");
  assert.ok(!listing.includes("s3cr3t"));
  assert.ok(listing.includes("Username:u Password:******** KeyTTL:0"));
  const json = JSON.stringify(configAsJson(config));
  assert.ok(!json.includes("s3cr3t"));
  assert.equal(
    (configAsJson(config).etcd as { password: string }).password,
    "********",
  );
  const empty = await effective("debug: false\n", "u", []);
  assert.equal(
    (configAsJson(empty.config).etcd as { password: string }).password,
    "",
  );
});

Deno.test("the JSON form uses the file's key names and plain values", async () => {
  const { config } = await effective(
    fixture("config.yaml"),
    "alice",
    ["foo", "bar"],
    "127.0.0.1:22",
  );
  const json = configAsJson(config);
  assert.deepEqual(Object.keys(json), [
    "debug",
    "log",
    "check_interval",
    "error_banner",
    "dump",
    "dump_limit_size",
    "dump_limit_window",
    "etcd",
    "etcd_stats_interval",
    "log_stats_interval",
    "blocking_command",
    "bg_command",
    "ssh",
    "translate_commands",
    "environment",
    "service",
    "dest",
    "route_select",
    "mode",
    "force_command",
    "command_must_match",
    "etcd_keyttl",
    "max_connections_per_user",
    "health_check",
    "clustershell_dir",
    "agent",
    "handoff",
  ]);
  assert.deepEqual(json.ssh, {
    exe: "sshhhhh",
    args: ["-vvv", "-Y"],
    config: "",
  });
  assert.equal(json.clustershell_dir, "/etc/clustershell");
  assert.equal(json.check_interval, "2m0s");
  assert.deepEqual(json.agent, {
    socket: "",
    metrics: "127.0.0.1:9649",
    timeout: "200ms",
    decision_timeout: "2s",
  });
  assert.equal(json.dump_limit_size, 20);
  assert.deepEqual(json.translate_commands, {
    acommand: { ssh_args: [], command: "something", disable_dump: true },
    "internal-sftp": {
      ssh_args: ["-s"],
      command: "anothercommand",
      disable_dump: false,
    },
  });
  assert.deepEqual(json.environment, {
    ENV1: "/tmp/env",
    XAUTHORITY: "/dev/shm/.Xauthority_alice",
  });
  // a plain JSON value: no BigInt, no Map
  assert.doesNotThrow(() => JSON.stringify(json));
});

Deno.test("ssh.config, clustershell_dir and handoff are listed as set", async () => {
  const { config } = await effective(
    "ssh: {config: /etc/sshproxy/ssh_config}\nclustershell_dir: /srv/cs\nhandoff: true\n",
    "u",
    [],
  );
  const listing = configListing(config);
  assert.deepEqual(listing.slice(-4, -2), [
    "config.ssh.config = /etc/sshproxy/ssh_config",
    "config.clustershell_dir = /srv/cs",
  ]);
  assert.equal(listing.at(-1), "config.handoff = true");
  assert.ok(listing.includes("config.ssh = {Exe:ssh Args:[-q -Y]}"));
  const json = configAsJson(config);
  assert.equal(
    (json.ssh as { config: string }).config,
    "/etc/sshproxy/ssh_config",
  );
  assert.equal(json.clustershell_dir, "/srv/cs");
  assert.equal(json.handoff, true);
});

Deno.test("handoff is a boolean, top level or in an override", async () => {
  const { config } = await effective(
    "handoff: true\noverrides:\n  - match: [{users: [v]}]\n    handoff: false\n",
    "v",
    [],
  );
  assert.equal(config.handoff, false);
  const other = await effective(
    "handoff: true\noverrides:\n  - match: [{users: [v]}]\n    handoff: false\n",
    "u",
    [],
  );
  assert.equal(other.config.handoff, true);
});
