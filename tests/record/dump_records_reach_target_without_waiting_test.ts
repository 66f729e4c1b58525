// Batching never holds records back: a quiet session's record reaches the
// dump file on its own (no later record, no close() needed), and so does the
// tail of a bulk transfer once the records stop coming, so a collector or an
// admin reading a live dump sees what happened without waiting for the
// session's end.
import assert from "node:assert/strict";
import { decodeDump } from "../../src/record/dump_format.ts";
import { Recorder } from "../../src/record/recorder.ts";

const T0 = 1_714_634_103_041_527_381n;

function recorderTo(path: string): Recorder {
  return Recorder.start({
    target: path,
    session: {
      user: "alice",
      command: "",
      clientIp: "192.0.2.10",
      clientPort: 54321,
      sshdIp: "192.0.2.1",
      sshdPort: 22,
      startNs: T0,
    },
    log: (level, message) => {
      if (level !== "INFO") throw new Error(`${level} ${message}`);
    },
  });
}

/** Polls the dump until it holds `count` records (at most 5 s); returns them. */
async function recordsOnDisk(path: string, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const file = await Deno.readFile(path).catch(() => new Uint8Array(0));
    const { records } = decodeDump(file);
    if (records.length >= count || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("a keystroke and its echo reach the dump file without a later record or close()", async () => {
  const dir = await Deno.makeTempDir();
  const recorder = recorderTo(`${dir}/s.dump`);
  try {
    recorder.record(0, new TextEncoder().encode("l"), T0 + 1n);
    assert.equal((await recordsOnDisk(`${dir}/s.dump`, 1)).length, 1);
    recorder.record(1, new TextEncoder().encode("l"), T0 + 2n);
    const records = await recordsOnDisk(`${dir}/s.dump`, 2);
    assert.deepEqual(records.map((r) => [r.fd, r.data.length]), [[0, 1], [
      1,
      1,
    ]]);
  } finally {
    await recorder.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the tail of a bulk transfer reaches the dump file once records stop, before close()", async () => {
  const dir = await Deno.makeTempDir();
  const recorder = recorderTo(`${dir}/s.dump`);
  try {
    const chunk = new Uint8Array(64 * 1024).fill(7);
    // 8 MiB in full-pipe chunks, a few per turn (a bulk transfer), then a
    // last small chunk that fills no buffer.
    for (let i = 0; i < 128; i++) {
      recorder.record(1, chunk, T0 + BigInt(i));
      if (i % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    recorder.record(1, new Uint8Array(100), T0 + 200n);
    const records = await recordsOnDisk(`${dir}/s.dump`, 129);
    assert.equal(records.length, 129);
    assert.equal(records.at(-1)!.data.length, 100);
  } finally {
    await recorder.close();
    await Deno.remove(dir, { recursive: true });
  }
});
