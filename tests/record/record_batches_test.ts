// The recorder's queue (pure logic): whatever the sizes of the records and
// of the buffers, and however takes, writes and reuse of written buffers
// interleave with appends, the bytes taken are exactly the records encoded
// one after the other as the reference encodes them, and the count of
// queued bytes stays true.
import assert from "node:assert/strict";
import {
  concatBytes,
  type DumpRecord,
  encodeRecord,
} from "../../src/record/dump_format.ts";
import { RecordBatches } from "../../src/record/record_batches.ts";
import { below, prng, randomRecords } from "./helpers.ts";

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

Deno.test("random records through small buffers come out as the reference's encoding, in order", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = prng(seed);
    // Small buffers, or ones that start small and grow as they fill.
    const batchBytes = 13 + below(random, seed % 2 ? 3000 : 200_000);
    const batches = new RecordBatches(batchBytes, below(random, 3));
    const records: DumpRecord[] = randomRecords(random, 1n << 60n, 300);
    const written: Uint8Array[] = [];
    // Taken buffers being "written": kept by reference until recycled, as
    // the recorder's writer does, so a reused buffer would show here.
    let inFlight: Uint8Array[] = [];
    let expectedQueued = 0;
    const complete = () => {
      for (const batch of inFlight) {
        written.push(batch.slice());
        batches.recycle(batch);
      }
      inFlight = [];
    };
    for (const record of records) {
      // The caller's buffer is reused right after append().
      const scratch = new Uint8Array(record.data.length + 7);
      scratch.set(record.data, 3);
      const data = scratch.subarray(3, 3 + record.data.length);
      batches.append(record.fd, data, record.timeNs);
      scratch.fill(0xee);
      expectedQueued += 13 + record.data.length;
      assert.equal(batches.queued, expectedQueued);
      const roll = random();
      if (roll < 0.2) {
        const batch = batches.takeFull();
        if (batch !== undefined) {
          expectedQueued -= batch.length;
          inFlight.push(batch);
        }
      } else if (roll < 0.35) {
        const batch = batches.take();
        if (batch !== undefined) {
          expectedQueued -= batch.length;
          inFlight.push(batch);
        }
      }
      if (random() < 0.3) complete();
      assert.equal(batches.queued, expectedQueued);
    }
    for (;;) {
      const batch = batches.take();
      if (batch === undefined) break;
      inFlight.push(batch);
    }
    complete();
    assert.equal(batches.queued, 0);
    const expected = concatBytes(records.map(encodeRecord));
    const got = concatBytes(written);
    assert.equal(firstDifference(got, expected), -1, `seed ${seed}`);
  }
});

Deno.test("a full buffer is reported as soon as a record does not fit; a record larger than a buffer gets its own", () => {
  const batches = new RecordBatches(100);
  batches.append(1, new Uint8Array(40), 1n); // 53 bytes
  assert.equal(batches.hasFull, false);
  assert.equal(batches.takeFull(), undefined);
  batches.append(1, new Uint8Array(40), 2n); // does not fit: first sealed
  assert.equal(batches.hasFull, true);
  assert.equal(batches.takeFull()?.length, 53);
  batches.append(2, new Uint8Array(500), 3n); // larger than a buffer
  assert.deepEqual(
    [batches.take()?.length, batches.take()?.length, batches.take()],
    [53, 513, undefined],
  );
  batches.append(0, new Uint8Array(0), 4n);
  batches.clear();
  assert.equal(batches.queued, 0);
  assert.equal(batches.take(), undefined);
});
