// Every reference fixture: good files give the spec's values (§3.10),
// bad ones the reference's error text plus our line number.
import assert from "node:assert/strict";
import { configListing } from "../../src/config/listing.ts";
import { effective, fixture, parse } from "./fixture_helpers.ts";

const rejected: [string, number, string][] = [
  [
    "configInvalid.yaml",
    1,
    "yaml: found character that cannot start any token",
  ],
  [
    "configCheckIntervalError.yaml",
    5,
    'check_interval: time: invalid duration "not a duration"',
  ],
  [
    "configCheckIntervalNotString.yaml",
    5,
    "check_interval: 10 is not a string",
  ],
  [
    "configDumpLimitWindowError.yaml",
    5,
    'dump_limit_window: time: invalid duration "not a duration"',
  ],
  [
    "configDumpLimitWindowNotString.yaml",
    5,
    "dump_limit_window: 10 is not a string",
  ],
  [
    "configEtcdStatsIntervalError.yaml",
    5,
    'etcd_stats_interval: time: invalid duration "not a duration"',
  ],
  [
    "configEtcdStatsIntervalNotString.yaml",
    5,
    "etcd_stats_interval: 10 is not a string",
  ],
  [
    "configLogStatsIntervalError.yaml",
    5,
    'log_stats_interval: time: invalid duration "not a duration"',
  ],
  [
    "configLogStatsIntervalNotString.yaml",
    5,
    "log_stats_interval: 10 is not a string",
  ],
  [
    "configMatchSourceError.yaml",
    4,
    "source: invalid address: address 127.0.0.1:abcd: invalid port",
  ],
  [
    "configMatchSourceNodesetError.yaml",
    4,
    "invalid nodeset for sources match: unbalanced '[' found while parsing 127.0.0.[1- - nodeset parse error",
  ],
  [
    "configRouteSelectError.yaml",
    2,
    'route_select: invalid value "notarouteselect"',
  ],
  ["configModeError.yaml", 2, 'mode: invalid value "notamode"'],
  [
    "configDestNodesetError.yaml",
    1,
    "cannont convert ending range to integer a - rangeset parse error",
  ],
  [
    "configDestError.yaml",
    1,
    "invalid destination '127.0.0.1:abcd': address 127.0.0.1:abcd: invalid port",
  ],
];

for (const [name, line, message] of rejected) {
  Deno.test(`fixture ${name} is refused at line ${line} with the reference's reason`, () => {
    const parsed = parse(fixture(name));
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.match(parsed.error, new RegExp(`^line ${line}: `));
    assert.ok(
      parsed.error.includes(message),
      `${parsed.error} should contain ${message}`,
    );
    assert.ok(!parsed.error.includes("\n"), "one line");
    assert.match(parsed.error, /\(expected .+\)$/);
  });
}

Deno.test("an empty file gives every default (spec §3.10)", async () => {
  const { config } = await effective(fixture("configEmpty.yaml"), "alice", [
    "foo",
    "bar",
  ], "127.0.0.1:22");
  const listing = configListing(config);
  assert.ok(listing.includes("config.dest = []"));
  assert.ok(listing.includes("config.ssh = {Exe:ssh Args:[-q -Y]}"));
  assert.ok(listing.includes("config.service = default"));
  assert.ok(listing.includes("config.route_select = ordered"));
  assert.ok(listing.includes("config.mode = sticky"));
  assert.ok(listing.includes("config.check_interval = 0s"));
  assert.ok(listing.includes("config.environment = map[]"));
  assert.ok(
    listing.includes(
      "config.etcd = {Endpoints:[] TLS:{CAFile: KeyFile: CertFile:} Username: Password: KeyTTL:0 Mandatory:false}",
    ),
  );
});

Deno.test("a lone dest is normalised to host:port (configDefault.yaml)", async () => {
  const { config } = await effective(fixture("configDefault.yaml"), "alice", [
    "foo",
    "bar",
  ], "127.0.0.1:22");
  assert.deepEqual(config.dest, ["127.0.0.1:22"]);
});

Deno.test("the full example resolves for alice as spec §3.5 says", async () => {
  const { config } = await effective(fixture("config.yaml"), "alice", [
    "foo",
    "bar",
  ], "127.0.0.1:22");
  assert.deepEqual(Object.fromEntries(config.environment), {
    ENV1: "/tmp/env",
    XAUTHORITY: "/dev/shm/.Xauthority_alice",
  });
  assert.deepEqual(Object.fromEntries(config.translateCommands), {
    acommand: { sshArgs: [], command: "something", disableDump: true },
    "internal-sftp": {
      sshArgs: ["-s"],
      command: "anothercommand",
      disableDump: false,
    },
  });
  assert.deepEqual(config.dest, ["server1:12345"]);
  assert.equal(config.etcdKeyttl, 0);
  assert.equal(config.maxConnectionsPerUser, 0);
  assert.equal(config.checkInterval, 120_000_000_000n);
  assert.equal(config.commandMustMatch, false);
  assert.equal(config.service, "service5");
  assert.equal(config.routeSelect, "bandwidth");
  assert.equal(config.mode, "balanced");
  assert.equal(config.log, "/tmp/sshproxy-foo/alice.log");
  assert.equal(
    config.dump,
    "/tmp/sshproxy-alice-2024-05-02T09:15:03.041527381+02:00.dump",
  );
  assert.deepEqual(config.ssh, { exe: "sshhhhh", args: ["-vvv", "-Y"] });
  assert.deepEqual(config.etcd, {
    endpoints: ["host2"],
    tls: { cafile: "ca2.pem", keyfile: "cert2.key", certfile: "cert2.pem" },
    username: "test2",
    password: "pass2",
    keyttl: 2,
    mandatory: false,
  });
});

Deno.test("the full example resolves for notalice with only override 1", async () => {
  const { config } = await effective(fixture("config.yaml"), "notalice", [
    "foo",
    "bar",
  ], "127.0.0.1:22");
  assert.deepEqual(config.dest, ["host5:4222"]);
  assert.equal(config.etcdKeyttl, 3600);
  assert.equal(config.maxConnectionsPerUser, 50);
  assert.equal(config.commandMustMatch, true);
  assert.equal(
    config.environment.get("XAUTHORITY"),
    "/dev/shm/.Xauthority_notalice",
  );
  assert.equal(config.checkInterval, 150_000_000_000n);
  assert.equal(config.dumpLimitWindow, 151_000_000_000n);
  assert.equal(config.logStatsInterval, 152_000_000_000n);
  assert.equal(config.etcdStatsInterval, 153_000_000_000n);
  assert.equal(
    config.dump,
    "/var/lib/sshproxy/dumps/notalice/2024-05-02T09:15:03.041527381+02:00-abcd.dump",
  );
});

Deno.test("two groups keys in one match item mean AND (the documented meaning)", async () => {
  const text = fixture("config.yaml");
  const both = await effective(text, "carol", ["bar", "baz"], "10.9.9.9:22");
  assert.deepEqual(both.config.dest.slice(0, 2), [
    "192.168.0.1:22",
    "192.168.0.2:22",
  ]);
  assert.equal(both.config.debug, false);
  const onlyBaz = await effective(text, "carol", ["baz"], "10.9.9.9:22");
  assert.deepEqual(onlyBaz.config.dest, ["host5:4222"]);
  const onlyBar = await effective(text, "carol", ["foo", "bar"], "10.9.9.9:22");
  assert.deepEqual(onlyBar.config.dest, ["host5:4222"]);
});
