// The copy loops through a real child process (cat) with a recorder on a
// real file: every chunk reaches the other side, the dump's records add up
// to the same bytes per fd, stdin's EOF is recorded and passed on.
import assert from "node:assert/strict";
import { copyRecorded } from "../../src/record/copy.ts";
import { decodeDump } from "../../src/record/dump_format.ts";
import { Recorder } from "../../src/record/recorder.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

Deno.test("pipe mode through cat: output intact, records per fd add up, EOF recorded", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/s.dump`;
    const recorder = Recorder.start({
      target: path,
      session: {
        user: "alice",
        command: "cat",
        clientIp: "127.0.0.1",
        clientPort: 5000,
        sshdIp: "127.0.0.1",
        sshdPort: 22,
        startNs: 1n,
      },
      log: () => {},
    });
    const input: Uint8Array[] = [];
    let sent = 0;
    for (let i = 0; i < 64; i++) {
      const chunk = new Uint8Array(1000 + i * 997).map((_, j) =>
        (i + j) & 0xff
      );
      input.push(chunk);
      sent += chunk.length;
    }
    const child = new Deno.Command("sh", {
      args: ["-c", "cat; echo done >&2"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const received: Uint8Array[] = [];
    const collect = new WritableStream<Uint8Array>({
      write(chunk) {
        received.push(chunk.slice());
      },
    });
    const errors: Uint8Array[] = [];
    const collectErrors = {
      write(chunk: Uint8Array) {
        errors.push(chunk.slice());
        return Promise.resolve(chunk.length);
      },
    };
    const [toChild, fromChild, fromChildErr] = await Promise.all([
      copyRecorded(streamOf(input), child.stdin, 0, recorder),
      copyRecorded(child.stdout, collect, 1, recorder),
      copyRecorded(child.stderr, collectErrors, 2, recorder),
    ]);
    await child.status;
    await recorder.close();
    assert.equal(toChild.bytes, sent);
    assert.equal(fromChild.bytes, sent);
    assert.equal(fromChildErr.bytes, 5);
    const concat = (parts: Uint8Array[]) => {
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const part of parts) {
        all.set(part, at);
        at += part.length;
      }
      return all;
    };
    assert.deepEqual(concat(received), concat(input));
    const decoded = decodeDump(await Deno.readFile(path));
    assert.deepEqual(decoded.end, { kind: "complete" });
    const ofFd = (fd: number) => decoded.records.filter((r) => r.fd === fd);
    assert.deepEqual(concat(ofFd(0).map((r) => r.data)), concat(input));
    assert.deepEqual(concat(ofFd(1).map((r) => r.data)), concat(input));
    assert.equal(
      new TextDecoder().decode(concat(ofFd(2).map((r) => r.data))),
      "done\n",
    );
    assert.equal(
      ofFd(0).at(-1)!.data.length,
      0,
      "stdin's EOF is an empty record",
    );
    assert.equal(ofFd(0).filter((r) => r.data.length === 0).length, 1);
    assert.deepEqual(recorder.totals(), {
      stdin: sent,
      stdout: sent,
      stderr: 5,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
