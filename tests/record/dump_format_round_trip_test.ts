// Property-style checks of the dump format: random headers and records
// (seeded, reproducible) encode and decode back identically, whole or fed
// in random chunks, agree with a reader following the reference's rules,
// and any cut reports the offset of the record it falls in.
import assert from "node:assert/strict";
import {
  decodeDump,
  DumpDecoder,
  type DumpHeader,
  type DumpRecord,
  encodeDump,
  encodeHeader,
  encodeRecord,
} from "../../src/record/dump_format.ts";
import {
  below,
  prng,
  randomHeader,
  randomRecords,
  referenceRead,
} from "./helpers.ts";

const CASES = 300;

function assertSameHeader(actual: DumpHeader, expected: DumpHeader): void {
  assert.deepEqual(actual.clientIp, expected.clientIp);
  assert.deepEqual(actual.sshdIp, expected.sshdIp);
  assert.equal(actual.clientPort, expected.clientPort);
  assert.equal(actual.sshdPort, expected.sshdPort);
  assert.equal(actual.startNs, expected.startNs);
  assert.deepEqual(actual.user, expected.user);
  assert.deepEqual(actual.command, expected.command);
  assert.equal(actual.version, 1);
}

function assertSameRecords(
  actual: readonly DumpRecord[],
  expected: readonly DumpRecord[],
): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i].timeNs, expected[i].timeNs, `record ${i} time`);
    assert.equal(actual[i].fd, expected[i].fd, `record ${i} fd`);
    assert.deepEqual(actual[i].data, expected[i].data, `record ${i} data`);
  }
}

Deno.test("random dumps decode back to what was encoded, whole and chunk by chunk", () => {
  const random = prng(0x5eed);
  for (let n = 0; n < CASES; n++) {
    const header = randomHeader(random);
    const records = randomRecords(random, header.startNs, below(random, 12));
    const bytes = encodeDump(header, records);

    const whole = decodeDump(bytes);
    assertSameHeader(whole.header!, header);
    assertSameRecords(whole.records, records);
    assert.deepEqual(whole.end, { kind: "complete" });

    const decoder = new DumpDecoder();
    const got: DumpRecord[] = [];
    let gotHeader: DumpHeader | undefined;
    for (let at = 0; at < bytes.length;) {
      const size = 1 + below(random, random() < 0.5 ? 7 : 5000);
      for (const event of decoder.push(bytes.slice(at, at + size))) {
        if (event.kind === "header") gotHeader = event.header;
        else if (event.kind === "record") got.push(event.record);
        else assert.fail(`unexpected error ${event.message}`);
      }
      at += size;
    }
    assertSameHeader(gotHeader!, header);
    assertSameRecords(got, records);
    assert.deepEqual(decoder.finish(), { kind: "complete" });
    assert.equal(decoder.offset, bytes.length);
  }
});

Deno.test("random dumps read the same through the reference's reader rules", () => {
  const random = prng(42);
  for (let n = 0; n < CASES; n++) {
    const header = randomHeader(random);
    const records = randomRecords(random, header.startNs, below(random, 8));
    const reference = referenceRead(encodeDump(header, records));
    assert.equal(reference.headerError, undefined);
    assert.equal(reference.recordError, undefined);
    assert.equal(reference.startNs, header.startNs);
    assert.deepEqual(reference.user, header.user);
    assert.deepEqual(reference.command, header.command);
    assertSameRecords(reference.records, records);
  }
});

Deno.test("the header size field is 48 + user + command + 2, truncated to 16 bits", () => {
  const random = prng(7);
  for (let n = 0; n < CASES; n++) {
    const header = randomHeader(random);
    const encoded = encodeHeader(header);
    const size = 48 + header.user.length + header.command.length + 2;
    assert.equal(encoded.length, size);
    assert.equal((encoded[2] << 8) | encoded[3], size % 65536);
  }
});

Deno.test("a cut anywhere in the records reports the offset of the record it falls in", () => {
  const random = prng(99);
  for (let n = 0; n < CASES; n++) {
    const header = randomHeader(random);
    const records = randomRecords(random, header.startNs, 1 + below(random, 6));
    const headerBytes = encodeHeader(header);
    const starts: number[] = [];
    let offset = headerBytes.length;
    for (const record of records) {
      starts.push(offset);
      offset += encodeRecord(record).length;
    }
    const bytes = encodeDump(header, records);
    const cut = headerBytes.length +
      below(random, bytes.length - headerBytes.length);
    const decoded = decodeDump(bytes.subarray(0, cut));
    const complete = starts.filter((start, i) =>
      start + encodeRecord(records[i]).length <= cut
    ).length;
    assertSameRecords(decoded.records, records.slice(0, complete));
    if (starts.includes(cut)) {
      assert.deepEqual(decoded.end, { kind: "complete" });
    } else {
      assert.equal(decoded.end.kind, "truncated-record");
      if (decoded.end.kind === "truncated-record") {
        assert.equal(decoded.end.offset, starts[complete]);
        assert.ok(decoded.end.missing > 0);
      }
    }
  }
});

Deno.test("a cut inside the header gives the reference's error texts", () => {
  const header: DumpHeader = {
    version: 1,
    clientIp: new Uint8Array(16),
    clientPort: 1,
    sshdIp: new Uint8Array(16),
    sshdPort: 2,
    startNs: 3n,
    user: new TextEncoder().encode("bob"),
    command: new TextEncoder().encode("ls"),
  };
  const bytes = encodeHeader(header);
  const expect = (cut: number, message: string) => {
    const end = decodeDump(bytes.subarray(0, cut)).end;
    assert.deepEqual(
      end,
      { kind: "truncated-header", message, offset: 0 },
      `cut ${cut}`,
    );
    assert.equal(
      referenceRead(bytes.subarray(0, cut)).headerError,
      `reading header: ${message}`,
    );
  };
  expect(0, "EOF");
  expect(1, "unexpected EOF");
  expect(47, "unexpected EOF");
  expect(48, "reading user: EOF");
  expect(51, "reading user: EOF");
  expect(52, "reading command: EOF");
  expect(54, "reading command: EOF");
  assert.deepEqual(decodeDump(bytes).end, { kind: "complete" });
});

Deno.test("a version other than 1 is refused with the reference's text (sic)", () => {
  const bytes = encodeDump({
    version: 0x2a,
    clientIp: new Uint8Array(16),
    clientPort: 0,
    sshdIp: new Uint8Array(16),
    sshdPort: 0,
    startNs: 0n,
    user: new Uint8Array(0),
    command: new Uint8Array(0),
  }, []);
  const decoded = decodeDump(bytes);
  assert.equal(decoded.error?.message, "unknow version number: 2a");
  assert.equal(decoded.error?.stage, "header");
  assert.equal(
    referenceRead(bytes).headerError,
    "reading header: unknow version number: 2a",
  );
});

Deno.test("limits refuse long user names, long commands and absurd record sizes", () => {
  const header: DumpHeader = {
    version: 1,
    clientIp: new Uint8Array(16),
    clientPort: 0,
    sshdIp: new Uint8Array(16),
    sshdPort: 0,
    startNs: 0n,
    user: new Uint8Array(300).fill(0x61),
    command: new Uint8Array(0),
  };
  const limits = {
    maxUserBytes: 255,
    maxCommandBytes: 100,
    maxRecordBytes: 1000,
  };
  // Fed one byte at a time, the refusal comes as soon as the limit is passed.
  const decoder = new DumpDecoder(limits);
  const bytes = encodeHeader(header);
  let failedAt = -1;
  for (let i = 0; i < bytes.length && failedAt < 0; i++) {
    if (decoder.push(bytes.slice(i, i + 1)).some((e) => e.kind === "error")) {
      failedAt = i;
    }
  }
  assert.equal(failedAt, 48 + 255);
  const longCommand = decodeDump(
    encodeHeader({
      ...header,
      user: new Uint8Array(3).fill(0x62),
      command: new Uint8Array(101).fill(0x63),
    }),
    limits,
  );
  assert.equal(
    longCommand.error?.message,
    "reading command: longer than 100 bytes",
  );
  const fine = encodeHeader({
    ...header,
    user: new Uint8Array(255).fill(0x61),
    command: new Uint8Array(100).fill(0x63),
  });
  assert.equal(decodeDump(fine, limits).error, undefined);
  const absurd = new Uint8Array(13);
  new DataView(absurd.buffer).setUint32(9, 0xffffffff);
  const big = decodeDump(
    new Uint8Array([
      ...fine,
      ...encodeRecord({ timeNs: 1n, fd: 1, data: new Uint8Array(5) }),
      ...absurd,
    ]),
    limits,
  );
  assert.equal(big.records.length, 1);
  assert.equal(big.error?.stage, "record");
  assert.equal(big.error?.offset, fine.length + 18);
  assert.match(big.error!.message, /announces 4294967295 bytes/);
});
