// The recorder and the daemon together, in process: recorders streaming to
// runDumpd over loopback give files that decode to what was recorded, a
// client that never finishes its header is dropped after the header
// timeout, and aborting stops the daemon with status 0.
import assert from "node:assert/strict";
import { decodeDump } from "../../src/record/dump_format.ts";
import { runDumpd } from "../../src/record/dumpd.ts";
import { Recorder } from "../../src/record/recorder.ts";

async function startDaemon(output: string, headerTimeoutMs = 30_000) {
  const lines: string[] = [];
  const stop = new AbortController();
  let ready!: (port: number) => void;
  const listening = new Promise<number>((resolve) => ready = resolve);
  const done = runDumpd({
    listen: "127.0.0.1:0",
    output,
    log: (message) => lines.push(message),
    signal: stop.signal,
    headerTimeoutMs,
    onListening: (address) => ready(address.port),
  });
  return { lines, stop, done, port: await listening };
}

async function until(test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error("condition never met");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("recorders streaming to the daemon: every session's file holds its records", async () => {
  const output = await Deno.makeTempDir();
  const daemon = await startDaemon(output);
  try {
    const errors: string[] = [];
    const recorders = Array.from({ length: 8 }, (_, i) =>
      Recorder.start({
        target: `TCP:127.0.0.1:${daemon.port}`,
        session: {
          user: `u${i}`,
          command: "",
          clientIp: "127.0.0.1",
          clientPort: 30000 + i,
          sshdIp: "127.0.0.1",
          sshdPort: 22,
          startNs: 1_700_000_000_000_000_000n + BigInt(i),
        },
        log: (level, message) => {
          if (level !== "INFO") errors.push(`${level} ${message}`);
        },
      }));
    for (let step = 0; step < 50; step++) {
      for (const [i, recorder] of recorders.entries()) {
        recorder.record(
          (step % 3) as 0 | 1 | 2,
          new Uint8Array(step * 10 + i).fill(step),
          1_700_000_000_000_000_000n + BigInt(step * 1000 + i),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(
      recorders.map((recorder) => recorder.close().catch(() => {})),
    );
    await until(() =>
      daemon.lines.filter((l) => l.endsWith("] disconnected")).length === 8
    );
    for (let i = 0; i < 8; i++) {
      const files = [...Deno.readDirSync(`${output}/u${i}`)];
      assert.equal(files.length, 1);
      const decoded = decodeDump(
        await Deno.readFile(`${output}/u${i}/${files[0].name}`),
      );
      assert.deepEqual(decoded.end, { kind: "complete" });
      assert.equal(decoded.records.length, 50);
      assert.deepEqual(
        decoded.records.map((r) => r.data.length),
        Array.from({ length: 50 }, (_, step) => step * 10 + i),
      );
    }
  } finally {
    daemon.stop.abort();
    assert.equal(await daemon.done, 0);
    await Deno.remove(output, { recursive: true });
  }
});

Deno.test("a client that never completes its header is dropped after the header timeout", async () => {
  const output = await Deno.makeTempDir();
  const daemon = await startDaemon(output, 200);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: daemon.port });
  try {
    await conn.write(new Uint8Array([0, 1, 0, 60, 0, 0]));
    await until(() => daemon.lines.some((l) => l.endsWith("] disconnected")));
    assert.ok(
      daemon.lines.some((l) =>
        /\] error: reading reader: no complete header within 0\.2s$/.test(l)
      ),
      daemon.lines.join("\n"),
    );
    assert.deepEqual([...Deno.readDirSync(output)], []);
  } finally {
    conn.close();
    daemon.stop.abort();
    assert.equal(await daemon.done, 0);
    assert.equal(daemon.lines.at(-1), "stopped");
    await Deno.remove(output, { recursive: true });
  }
});
