// The dump of spec §8.2 typed in byte by byte from its hexdump, and an IPv6
// variant: they decode to the documented values, and encoding those values
// gives the same bytes back.
import assert from "node:assert/strict";
import {
  clientAddress,
  decodeDump,
  encodeDump,
  headerFromFacts,
  sshdAddress,
} from "../../src/record/dump_format.ts";

function fromHexdump(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const line of text.trim().split("\n")) {
    const hex = line.slice(10, 58);
    for (const pair of hex.trim().split(/\s+/)) bytes.push(parseInt(pair, 16));
  }
  return new Uint8Array(bytes);
}

// Spec §8.2: user alice, command hostname, client 192.0.2.10:54321, sshd
// 192.0.2.1:22, start 1714634103041527381 ns, one stdout record 150 ms
// later with "server1\r\n".
const SPEC_EXAMPLE = `
00000000  00 01 00 3f 00 00 00 00  00 00 00 00 00 00 ff ff  |...?............|
00000010  c0 00 02 0a d4 31 00 00  00 00 00 00 00 00 00 00  |.....1..........|
00000020  ff ff c0 00 02 01 00 16  17 cb 9a a1 d7 8f 8e 55  |...............U|
00000030  61 6c 69 63 65 00 68 6f  73 74 6e 61 6d 65 00 17  |alice.hostname..|
00000040  cb 9a a1 e0 80 5f d5 01  00 00 00 09 73 65 72 76  |....._......serv|
00000050  65 72 31 0d 0a                                    |er1..|
`;

const text = new TextDecoder();
const START = 1714634103041527381n;

Deno.test("the spec §8.2 example decodes to its documented values", () => {
  const bytes = fromHexdump(SPEC_EXAMPLE);
  assert.equal(bytes.length, 0x55);
  const decoded = decodeDump(bytes);
  assert.deepEqual(decoded.end, { kind: "complete" });
  const header = decoded.header!;
  assert.equal(header.version, 1);
  assert.equal(text.decode(header.user), "alice");
  assert.equal(text.decode(header.command), "hostname");
  assert.equal(clientAddress(header), "192.0.2.10:54321");
  assert.equal(sshdAddress(header), "192.0.2.1:22");
  assert.equal(header.startNs, START);
  assert.equal(decoded.records.length, 1);
  const [record] = decoded.records;
  assert.equal(record.timeNs, START + 150_000_000n);
  assert.equal(record.fd, 1);
  assert.equal(text.decode(record.data), "server1\r\n");
});

Deno.test("encoding the spec §8.2 session gives its bytes exactly", () => {
  const header = headerFromFacts({
    user: "alice",
    command: "hostname",
    clientIp: "192.0.2.10",
    clientPort: 54321,
    sshdIp: "192.0.2.1",
    sshdPort: 22,
    startNs: START,
  });
  const bytes = encodeDump(header, [{
    timeNs: START + 150_000_000n,
    fd: 1,
    data: new TextEncoder().encode("server1\r\n"),
  }]);
  assert.deepEqual(bytes, fromHexdump(SPEC_EXAMPLE));
});

// The same session from 2001:db8::10 port 54321 to sshd [2001:db8::1]:22,
// interactive (empty command), one stdin record and its EOF record.
const IPV6_EXAMPLE = `
00000000  00 01 00 37 20 01 0d b8  00 00 00 00 00 00 00 00  |...7 ...........|
00000010  00 00 00 10 d4 31 20 01  0d b8 00 00 00 00 00 00  |.....1 .........|
00000020  00 00 00 00 00 01 00 16  17 cb 9a a1 d7 8f 8e 55  |...............U|
00000030  61 6c 69 63 65 00 00 17  cb 9a a1 d8 83 b2 55 00  |alice.........U.|
00000040  00 00 00 03 6c 73 0a 17  cb 9a a1 d8 83 b2 56 00  |....ls........V.|
00000050  00 00 00 00                                       |....|
`;

Deno.test("an IPv6 session with an empty command decodes and encodes exactly", () => {
  const bytes = fromHexdump(IPV6_EXAMPLE);
  const decoded = decodeDump(bytes);
  assert.deepEqual(decoded.end, { kind: "complete" });
  const header = decoded.header!;
  assert.equal((bytes[2] << 8) | bytes[3], 48 + 5 + 0 + 2);
  assert.equal(clientAddress(header), "[2001:db8::10]:54321");
  assert.equal(sshdAddress(header), "[2001:db8::1]:22");
  assert.equal(header.command.length, 0);
  assert.deepEqual(
    decoded.records.map((r) => [r.timeNs - START, r.fd, text.decode(r.data)]),
    [[16_000_000n, 0, "ls\n"], [16_000_001n, 0, ""]],
  );
  const again = encodeDump(
    headerFromFacts({
      user: "alice",
      command: "",
      clientIp: "2001:db8::10",
      clientPort: 54321,
      sshdIp: "2001:db8::1",
      sshdPort: 22,
      startNs: START,
    }),
    decoded.records,
  );
  assert.deepEqual(again, bytes);
});
