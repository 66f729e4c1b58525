import assert from "node:assert/strict";
import { formatIp, parseIp } from "../../src/net/ip_address.ts";

function canonical(text: string): string | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : formatIp(ip);
}

Deno.test("IPv6 printing follows RFC 5952 as Go does", () => {
  const cases: [string, string][] = [
    ["0::0", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["0001:0002::", "1:2::"],
    ["2001:DB8::A", "2001:db8::a"],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1"], // the longest run wins
    ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"], // leftmost on a tie
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"], // one zero group stays
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["::1.2.3.4", "::102:304"], // IPv4-compatible is not dotted
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::ffff:0102:0304", "1.2.3.4"],
    ["0:0:0:0:0:ffff:ffff:ffff", "255.255.255.255"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(canonical(input), expected, input);
  }
});

Deno.test("strings Go's net.ParseIP rejects are not IPs", () => {
  const rejected = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.",
    "256.1.1.1",
    "01.2.3.4",
    "1..2.3",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "12345::",
    ":1::",
    "1:",
    "1:2:3:4:5:1.2.3.4",
    "::ffff:01.2.3.4",
    "fe80::1%eth0",
    "1234",
    "g::1",
  ];
  for (const input of rejected) {
    assert.equal(parseIp(input), undefined, input);
  }
});

Deno.test("IPv6 compression agrees with the WHATWG URL serialiser", () => {
  // URL also follows RFC 5952 (it differs only for IPv4-mapped addresses,
  // which Go prints dotted), so random addresses with zero runs can be
  // checked against it.
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let n = 0; n < 2000; n++) {
    const groups = Array.from(
      { length: 8 },
      () => (random() % 3 === 0 ? (random() % 0x10000).toString(16) : "0"),
    );
    const text = groups.join(":");
    const ip = parseIp(text);
    assert.ok(ip !== undefined, text);
    const mapped = groups.slice(0, 5).every((g) => g === "0") &&
      groups[5] === "ffff";
    if (mapped) continue;
    const viaUrl = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    assert.equal(formatIp(ip), viaUrl, text);
  }
});
