// Host/port splitting and destination normalisation (spec §3.7), with
// IPv6 literals normalised to `[addr]:port` instead of the reference's
// `[[::1]]:22`, and canonical IP text for comparisons.
import assert from "node:assert/strict";
import {
  canonicalIp,
  joinHostPort,
  parseServices,
  splitHostPort,
} from "../../src/config/host_port.ts";
import { effective, lookupPort, parse } from "./fixture_helpers.ts";

// [input, host, port] — spec §3.7 table, then more
const splits: [string, string, number][] = [
  ["host", "host", 22],
  ["host:123", "host", 123],
  ["host:gopher", "host", 70],
  ["[::1]", "::1", 22], // the reference keeps "[::1]" as the host
  ["[::1]:123", "::1", 123],
  ["[::1]:gopher", "::1", 70],
  ["host:ssh", "host", 22],
  ["host:", "host", 0],
  ["host:0", "host", 0],
  ["host:65535", "host", 65535],
  ["host:0022", "host", 22],
  ["10.0.0.1", "10.0.0.1", 22],
  ["10.0.0.1:2222", "10.0.0.1", 2222],
  ["[fe80::1]:2222", "fe80::1", 2222],
  ["[fe80::1]", "fe80::1", 22],
  ["[host]:22", "host", 22],
];

for (const [input, host, port] of splits) {
  Deno.test(`splitHostPort(${JSON.stringify(input)}) is host ${host}, port ${port}`, () => {
    assert.deepEqual(splitHostPort(input, lookupPort), {
      ok: true,
      value: { host, port },
    });
  });
}

// [input, error] — Go's net.SplitHostPort and LookupPort wording
const refused: [string, string][] = [
  [
    "host:port:invalid",
    "address host:port:invalid: too many colons in address",
  ],
  ["host:port", "address host:port: invalid port"],
  ["host:65536", "address host:65536: invalid port"],
  ["host:-1", "address host:-1: invalid port"],
  ["[::1]:nosuchservice", "address [::1]:nosuchservice: invalid port"],
  ["[::1", "address [::1: missing ']' in address"],
  ["[::1]::22", "address [::1]::22: too many colons in address"],
  ["a]b:22", "address a]b:22: unexpected ']' in address"],
  ["a[b:22", "address a[b:22: unexpected '[' in address"],
  ["::1", "address ::1: too many colons in address"],
];

for (const [input, error] of refused) {
  Deno.test(`splitHostPort(${JSON.stringify(input)}) fails: ${error}`, () => {
    assert.deepEqual(splitHostPort(input, lookupPort), { ok: false, error });
  });
}

// [host, port, joined]
const joins: [string, number, string][] = [
  ["server1", 22, "server1:22"],
  ["::1", 22, "[::1]:22"],
  ["fe80::1", 2222, "[fe80::1]:2222"],
  ["10.0.0.1", 0, "10.0.0.1:0"],
];

for (const [host, port, joined] of joins) {
  Deno.test(`joinHostPort(${host}, ${port}) is ${joined}`, () => {
    assert.equal(joinHostPort(host, port), joined);
  });
}

// [dest entry, normalised]
const destinations: [string, string][] = [
  ["server1", "server1:22"],
  ["server1:ssh", "server1:22"],
  ["server1:2222", "server1:2222"],
  ["server1:", "server1:0"],
  ["[::1]", "[::1]:22"],
  ["[::1]:2222", "[::1]:2222"],
  ["[fe80::1]:2222", "[fe80::1]:2222"],
  ["[fe80::1]:ssh", "[fe80::1]:22"],
  ["127.0.0.1", "127.0.0.1:22"],
];

for (const [entry, normalised] of destinations) {
  Deno.test(`dest ${entry} is normalised to ${normalised}`, async () => {
    const { config } = await effective(
      `dest: [${JSON.stringify(entry)}]`,
      "alice",
      [],
    );
    assert.deepEqual(config.dest, [normalised]);
  });
}

Deno.test("dest expands nodesets in the admin's order, then normalises and removes repeats", async () => {
  const { config } = await effective(
    'dest: ["server3", "server[1-2]", "server1:22", "server2:ssh", "[::1]"]',
    "alice",
    [],
  );
  assert.deepEqual(config.dest, [
    "server3:22",
    "server1:22",
    "server2:22",
    "[::1]:22",
  ]);
});

Deno.test("a bad dest in an override is refused with the override's line", () => {
  const parsed = parse(
    "overrides:\n  - match:\n      - users: [nobody]\n    dest: [host:port]\n",
  );
  assert.deepEqual(parsed, {
    ok: false,
    error:
      "line 4: dest: invalid destination 'host:port': address host:port: invalid port (expected host[:port] with a numeric port or a service name)",
  });
});

// [text, canonical] — what `sources` and the sshd address compare
const canonical: [string, string | undefined][] = [
  ["10.0.0.1", "10.0.0.1"],
  ["::1", "::1"],
  ["[::1]", "::1"],
  ["0:0::1", "::1"],
  ["0:0:0:0:0:0:0:1", "::1"],
  ["FE80::1", "fe80::1"],
  ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
  ["::ffff:10.0.0.1", "10.0.0.1"],
  ["::FFFF:0a00:0001", "10.0.0.1"],
  ["fe80::1%eth0", "fe80::1%eth0"],
  ["[FE80:0::1%eth0]", "fe80::1%eth0"],
  ["fe80::1%", undefined],
  ["10.0.0.1%eth0", undefined],
  ["server1", undefined],
  ["10.0.0", undefined],
  ["", undefined],
];

for (const [text, expected] of canonical) {
  Deno.test(`canonicalIp(${JSON.stringify(text)}) is ${expected}`, () => {
    assert.equal(canonicalIp(text), expected);
  });
}

Deno.test("parseServices reads names, aliases and tcp ports only, first entry wins", () => {
  const lookup = parseServices(
    "# comment\nssh\t\t22/tcp\t\t\t# SSH\nssh 22/udp\ndomain 53/udp\nwww 80/tcp http\nwww 8080/tcp\n",
  );
  assert.equal(lookup("ssh"), 22);
  assert.equal(lookup("http"), 80);
  assert.equal(lookup("www"), 80);
  assert.equal(lookup("domain"), undefined);
  assert.equal(lookup("SSH"), undefined);
});
