// The session path tells IP literals from names with our own parser
// (ipLiteralFamily, canonicalIp) instead of node:net, which starts Deno's
// Node-compatibility layer. This checks, over a generated corpus, that the
// answers are those node:net's isIP (and the former canonicalIp, built on
// it and on the URL parser) gave.
import assert from "node:assert/strict";
import { isIP } from "node:net";
import { canonicalIp } from "../../src/config/host_port.ts";
import { ipLiteralFamily } from "../../src/net/ip_address.ts";

// The implementation canonicalIp had before it stopped using node:net.
function formerCanonicalIp(text: string): string | undefined {
  const unwrapped = text.startsWith("[") && text.endsWith("]")
    ? text.slice(1, -1)
    : text;
  const percent = unwrapped.indexOf("%");
  const bare = percent < 0 ? unwrapped : unwrapped.slice(0, percent);
  const zone = percent < 0 ? "" : unwrapped.slice(percent);
  if (zone !== "") {
    if (zone === "%" || isIP(bare) !== 6) return undefined;
    const address = formerCanonicalIp(bare);
    return address === undefined || !address.includes(":")
      ? undefined
      : address + zone;
  }
  const family = isIP(bare);
  if (family === 4) {
    return bare.split(".").map((part) => String(Number(part))).join(".");
  }
  if (family !== 6) return undefined;
  const host = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const high = parseInt(mapped[1], 16);
    const low = parseInt(mapped[2], 16);
    return [high >> 8, high & 255, low >> 8, low & 255].join(".");
  }
  return host;
}

const HANDPICKED = [
  "",
  "1.2.3.4",
  "01.2.3.4",
  "1.2.3",
  "1.2.3.4.5",
  "256.1.1.1",
  "255.255.255.255",
  "0.0.0.0",
  "1.2.3.4%eth0",
  " 1.2.3.4",
  "1.2.3.4 ",
  "::",
  ":",
  ":::",
  "::1",
  "1::",
  "1::2::3",
  "::ffff:1.2.3.4",
  "::ffff:01.2.3.4",
  "::1.2.3.4",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "1:2:3:4:5::1.2.3.4",
  "1:2:3:4:5:6::1.2.3.4",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8::",
  "::1:2:3:4:5:6:7:8",
  "1::2:3:4:5:6:7:8",
  "12345::",
  "0001:0002::",
  "2001:DB8::A",
  "g::1",
  "fe80::1%eth0",
  "fe80::1%",
  "fe80::1%eth0%1",
  "fe80::1%a b",
  "fe80::1%en-0.1:2",
  "fe80::1%é",
  "::ffff:1.2.3.4%eth0",
  "1.2.3.4%",
  "%eth0",
  "[::1]",
  "[1.2.3.4]",
  "[fe80::1%eth0]",
  "[::1",
  "::1]",
  "localhost",
  "host.example",
  "1:2",
  "1.2:3::",
  "::1.2.3",
  "::1.2.3.4.5",
  "1:2:3:4:5:6:7:1.2",
  "٣.2.3.4",
];

// Random strings over the alphabet IP literals are written with.
function generated(count: number): string[] {
  let seed = 20261121;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pieces = [
    "0",
    "1",
    "00",
    "255",
    "256",
    "ffff",
    "FfFf",
    "12345",
    "a",
    ".",
    ":",
    "::",
    "%",
    "eth0",
    "1.2.3.4",
    "[",
    "]",
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = "";
    const length = 1 + Math.floor(random() * 12);
    for (let j = 0; j < length; j++) {
      text += pieces[Math.floor(random() * pieces.length)];
    }
    out.push(text);
  }
  // Well-formed IPv6 literals with zero runs in every position.
  for (let i = 0; i < count / 4; i++) {
    const groups = Array.from(
      { length: 8 },
      () => random() < 0.4 ? "0" : Math.floor(random() * 65536).toString(16),
    );
    out.push(groups.join(":"));
    const cut = Math.floor(random() * 8);
    const cutLength = Math.floor(random() * (8 - cut));
    out.push(
      `${groups.slice(0, cut).join(":")}::${
        groups.slice(cut + cutLength).join(":")
      }`,
    );
  }
  return out;
}

const CORPUS = [...HANDPICKED, ...generated(20000)];

Deno.test("ipLiteralFamily answers as node:net's isIP", () => {
  for (const text of CORPUS) {
    assert.equal(ipLiteralFamily(text), isIP(text), JSON.stringify(text));
  }
});

Deno.test("canonicalIp answers as it did on node:net and the URL parser", () => {
  for (const text of CORPUS) {
    assert.equal(
      canonicalIp(text),
      formerCanonicalIp(text),
      JSON.stringify(text),
    );
  }
});
