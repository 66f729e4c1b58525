// A large recorded pipe session, with real children, real pipes and a real
// dump file: whatever the sizes of the writes on either side, of the reads
// (buffers of odd sizes split the stream anywhere) and however slow the
// user's side is at times (so that chunks are gathered while a write is in
// flight), the user gets exactly the bytes ssh wrote, ssh exactly the bytes
// the user sent, and the dump holds the same bytes per stream in complete
// records that the reference's reader and ours read identically.
import assert from "node:assert/strict";
import { type CopyBuffers, copyRecorded } from "../../src/record/copy.ts";
import {
  concatBytes,
  decodeDump,
  type DumpRecord,
} from "../../src/record/dump_format.ts";
import { Recorder } from "../../src/record/recorder.ts";
import { startPipedSsh } from "../../src/session/recorded_ssh.ts";
import { below, prng, referenceRead } from "./helpers.ts";
import { within } from "../harness/process.ts";

const MiB = 1024 * 1024;
const processes = { sanitizeOps: false, sanitizeResources: false };

function randomData(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(at + 65536, length)));
  }
  return out;
}

/** Chunk sizes from 1 byte to 200 KB, odd ones and pipe-sized ones often. */
function chunkSizes(random: () => number, total: number): number[] {
  const special = [1, 2, 3, 13, 4093, 4096, 65535, 65536, 65537, 131073];
  const sizes: number[] = [];
  for (let left = total; left > 0;) {
    const size = Math.min(
      left,
      random() < 0.3
        ? special[below(random, special.length)]
        : 1 + below(random, random() < 0.5 ? 2000 : 200_000),
    );
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

/** A byte stream (BYOB-readable, like Deno.stdin's) giving `data` in varied chunks. */
function byteSource(
  data: Uint8Array,
  random: () => number,
): ReadableStream<Uint8Array> {
  const sizes = chunkSizes(random, data.length);
  let at = 0;
  let index = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (index === sizes.length) {
        controller.close();
        // A pending BYOB read ends (done) only once answered with 0 bytes.
        controller.byobRequest?.respond(0);
        return;
      }
      const size = sizes[index++];
      // Enqueuing transfers the chunk: hand over a copy.
      controller.enqueue(data.slice(at, at + size));
      at += size;
    },
  });
}

/** The user's side: keeps copies; sometimes takes only part of a write, sometimes is slow. */
function userSink(random: () => number) {
  const parts: Uint8Array[] = [];
  let largest = 0;
  return {
    parts,
    /** The largest write offered. */
    largest: () => largest,
    bytes: () => concatBytes(parts),
    async write(data: Uint8Array): Promise<number> {
      largest = Math.max(largest, data.length);
      if (random() < 0.05) {
        await new Promise((resolve) => setTimeout(resolve, below(random, 3)));
      }
      const taken = random() < 0.2
        ? 1 + below(random, data.length)
        : data.length;
      parts.push(data.slice(0, taken));
      return taken;
    },
  };
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

function assertSameBytes(got: Uint8Array, expected: Uint8Array, what: string) {
  const at = firstDifference(got, expected);
  assert.equal(
    at,
    -1,
    `${what}: ${got.length} bytes against ${expected.length}, first difference at ${at}`,
  );
}

function recorderTo(path: string): Recorder {
  return Recorder.start({
    target: path,
    session: {
      user: "tester",
      command: "transfer",
      clientIp: "192.0.2.10",
      clientPort: 50000,
      sshdIp: "192.0.2.1",
      sshdPort: 22,
      startNs: 1_700_000_000_000_000_000n,
    },
    log: (level, message) => {
      if (level !== "INFO") throw new Error(`${level} ${message}`);
    },
  });
}

/** Decodes the dump both ways and checks it is whole and read identically. */
function readWholeDump(file: Uint8Array): DumpRecord[] {
  const ours = decodeDump(file);
  assert.deepEqual(ours.end, { kind: "complete" });
  assert.equal(ours.error, undefined);
  const reference = referenceRead(file);
  assert.equal(reference.headerError, undefined);
  assert.equal(reference.recordError, undefined);
  assert.equal(reference.records.length, ours.records.length);
  for (let i = 0; i < ours.records.length; i++) {
    const [a, b] = [ours.records[i], reference.records[i]];
    assert.equal(a.timeNs, b.timeNs);
    assert.equal(a.fd, b.fd);
    assertSameBytes(a.data, b.data, `record ${i}`);
  }
  let previous = 0n;
  for (const record of ours.records) {
    assert.ok(record.timeNs >= previous, "record times never go back");
    previous = record.timeNs;
  }
  return ours.records;
}

const ofFd = (records: DumpRecord[], fd: number) =>
  records.filter((record) => record.fd === fd);

Deno.test({
  name:
    "through cat with reads of odd sizes: both directions and the dump hold exactly the bytes, split anywhere",
  ...processes,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const random = prng(20240502);
      const input = randomData(12 * MiB + 12_345);
      const recorder = recorderTo(`${dir}/cat.dump`);
      const child = new Deno.Command("sh", {
        args: ["-c", "cat; printf done >&2"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const user = userSink(random);
      const userErr = userSink(random);
      const small = (readBytes: number, outputBytes: number): CopyBuffers => ({
        readBytes,
        outputBytes,
      });
      const [toChild, fromChild, fromChildErr] = await within(
        Promise.all([
          copyRecorded(
            byteSource(input, random),
            child.stdin,
            0,
            recorder,
            small(4093, 10_007),
          ),
          copyRecorded(child.stdout, user, 1, recorder, small(1021, 7919)),
          copyRecorded(child.stderr, userErr, 2, recorder, small(3, 5)),
        ]),
        120_000,
        "the copies",
      );
      assert.equal((await child.status).code, 0);
      await recorder.close();
      assert.deepEqual([toChild.error, fromChild.error], [
        undefined,
        undefined,
      ]);
      assert.deepEqual(
        [toChild.bytes, fromChild.bytes, fromChildErr.bytes],
        [input.length, input.length, 4],
      );
      assertSameBytes(user.bytes(), input, "what the user got");
      assert.equal(new TextDecoder().decode(userErr.bytes()), "done");
      const records = readWholeDump(await Deno.readFile(`${dir}/cat.dump`));
      const stdin = ofFd(records, 0);
      const stdout = ofFd(records, 1);
      assertSameBytes(concatBytes(stdin.map((r) => r.data)), input, "fd 0");
      assertSameBytes(concatBytes(stdout.map((r) => r.data)), input, "fd 1");
      assert.equal(
        new TextDecoder().decode(
          concatBytes(ofFd(records, 2).map((r) => r.data)),
        ),
        "done",
      );
      // One record per read: never more than the read buffer, never empty
      // but for stdin's end, which is last.
      const sizedUpTo = (max: number) => (r: DumpRecord) =>
        r.data.length > 0 && r.data.length <= max;
      assert.ok(stdin.slice(0, -1).every(sizedUpTo(4093)));
      assert.equal(stdin.at(-1)!.data.length, 0);
      assert.ok(stdout.every(sizedUpTo(1021)));
      // Where the reads split the stream: at odd offsets too.
      let offset = 0;
      const ends = stdout.map((r) => offset += r.data.length);
      assert.ok(
        ends.some((end) => end % 2 === 1),
        "no read ended at an odd offset",
      );
      // Chunks read while a write was in flight were gathered.
      assert.ok(
        user.largest() > 1021,
        "no write to the user was larger than a read: nothing was gathered",
      );
      assert.deepEqual(recorder.totals(), {
        stdin: input.length,
        stdout: input.length,
        stderr: 4,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// The child ssh stands for: writes FILE to stdout in varied sizes with a
// pause now and then and a line to stderr every so often, reads its stdin
// to the end meanwhile, then reports the count of stdin bytes on stderr.
const WRITER = `
const [path, seedText] = Deno.args;
let seed = Number(seedText) >>> 0;
const random = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 4294967296;
};
const file = await Deno.readFile(path);
const writeAll = async (out, data) => {
  while (data.length > 0) data = data.subarray(await out.write(data));
};
const reading = (async () => {
  let count = 0;
  const buffer = new Uint8Array(100003);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) return count;
    count += n;
  }
})();
const encoder = new TextEncoder();
for (let at = 0, line = 0; at < file.length; line++) {
  const size = random() < 0.5 ? 1 + Math.floor(random() * 3000)
    : 1 + Math.floor(random() * 300000);
  await writeAll(Deno.stdout, file.subarray(at, at + size));
  at += size;
  if (line % 97 === 0) await writeAll(Deno.stderr, encoder.encode("progress " + at + "\\n"));
  if (random() < 0.01) await new Promise((resolve) => setTimeout(resolve, 1));
}
await writeAll(Deno.stderr, encoder.encode("stdin=" + await reading + "\\n"));
`;

Deno.test({
  name:
    "a 48 MB recorded session through startPipedSsh: the user, ssh and the dump get every byte, per stream, in order",
  ...processes,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const random = prng(7);
      const output = randomData(48 * MiB + 777);
      const input = randomData(6 * MiB + 3);
      await Deno.writeFile(`${dir}/output.bin`, output);
      const recorder = recorderTo(`${dir}/session.dump`);
      const stdout = userSink(random);
      const stderr = userSink(random);
      const ssh = startPipedSsh(
        [
          Deno.execPath(),
          "eval",
          "--no-config",
          "--quiet",
          WRITER,
          `${dir}/output.bin`,
          "12345",
        ],
        recorder,
        { stdin: byteSource(input, random), stdout, stderr },
      );
      assert.ok(!("error" in ssh), JSON.stringify(ssh));
      assert.equal((await within(ssh.status, 120_000, "ssh's status")).code, 0);
      await recorder.close();
      assertSameBytes(stdout.bytes(), output, "what the user got");
      const errText = new TextDecoder().decode(stderr.bytes());
      assert.match(errText, new RegExp(`\\nstdin=${input.length}\\n$`));
      const records = readWholeDump(await Deno.readFile(`${dir}/session.dump`));
      assertSameBytes(
        concatBytes(ofFd(records, 1).map((r) => r.data)),
        output,
        "fd 1",
      );
      assertSameBytes(
        concatBytes(ofFd(records, 0).map((r) => r.data)),
        input,
        "fd 0",
      );
      assert.equal(
        new TextDecoder().decode(
          concatBytes(ofFd(records, 2).map((r) => r.data)),
        ),
        errText,
      );
      assert.deepEqual(recorder.totals(), {
        stdin: input.length,
        stdout: output.length,
        stderr: stderr.bytes().length,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
