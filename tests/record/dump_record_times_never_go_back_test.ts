// A dump is read in record order (replay sleeps the difference between
// consecutive records, spec §8.7): the records of a real recorded session
// carry times that never go backwards, however densely they come.
import assert from "node:assert/strict";
import { decodeDump } from "../../src/record/dump_format.ts";
import { Recorder } from "../../src/record/recorder.ts";
import { startPipedSsh } from "../../src/session/recorded_ssh.ts";

// At least this many chunks, for at least this long (bounded), so that
// the records cross many millisecond boundaries however fast the machine.
const MIN_CHUNKS = 1000;
const MIN_MS = 40;
const MAX_CHUNKS = 100_000;

Deno.test({
  name:
    "the records of a recorded session (stdin and what cat echoes) have non-decreasing times",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const recorder = Recorder.start({
        target: `${dir}/session.dump`,
        session: {
          user: "tester",
          command: "",
          clientIp: "127.0.0.1",
          clientPort: 1,
          sshdIp: "127.0.0.1",
          sshdPort: 22,
          startNs: 1n,
        },
        log: () => {},
      });
      let sent = 0;
      const started = performance.now();
      // One small chunk per pull, so that the records spread over many
      // milliseconds instead of arriving as one read.
      const stdin = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const enough = sent >= MIN_CHUNKS &&
            performance.now() - started >= MIN_MS;
          if (enough || sent === MAX_CHUNKS) {
            controller.close();
            return;
          }
          await new Promise((resolve) => queueMicrotask(() => resolve(null)));
          controller.enqueue(new TextEncoder().encode(`${sent++}\n`));
        },
      });
      let echoed = 0;
      const ssh = startPipedSsh(["/bin/cat"], recorder, {
        stdin,
        stdout: {
          write: (data: Uint8Array) => {
            echoed += data.length;
            return Promise.resolve(data.length);
          },
        },
        stderr: { write: (data: Uint8Array) => Promise.resolve(data.length) },
      });
      assert.ok(!("error" in ssh));
      assert.equal((await ssh.status).code, 0);
      await recorder.close();
      const dump = decodeDump(await Deno.readFile(`${dir}/session.dump`));
      assert.ok(echoed > 0);
      assert.ok(
        dump.records.filter((r) => r.fd === 0).length > sent,
        `${dump.records.length} records`,
      );
      let milliseconds = 0;
      for (let i = 1; i < dump.records.length; i++) {
        const [previous, record] = [dump.records[i - 1], dump.records[i]];
        assert.ok(
          record.timeNs >= previous.timeNs,
          `record ${i} (fd ${record.fd}) at ${record.timeNs} before record ${
            i - 1
          } (fd ${previous.fd}) at ${previous.timeNs}`,
        );
        if (record.timeNs / 1_000_000n !== previous.timeNs / 1_000_000n) {
          milliseconds++;
        }
      }
      // The proof needs the records to cross many millisecond boundaries.
      assert.ok(milliseconds >= 10, `${milliseconds} ms boundaries`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
