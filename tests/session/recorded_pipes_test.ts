// Pipe mode of spec §5.14 (recorder, stdout not a terminal) with real
// children: the status waits for the output ssh wrote before exiting (the
// reference could lose it, §12.2 item 21) but not for a process that
// keeps the pipes open; stdin's EOF reaches the child; a user who went
// away does not leave the child blocked; exec errors read like Go's.
import assert from "node:assert/strict";
import { decodeDump } from "../../src/record/dump_format.ts";
import { Recorder } from "../../src/record/recorder.ts";
import {
  type SessionStdio,
  startPipedSsh,
} from "../../src/session/recorded_ssh.ts";

const processes = { sanitizeOps: false, sanitizeResources: false };

function recorder(target = "etcd", lines: string[] = []): Recorder {
  return Recorder.start({
    target,
    session: {
      user: "tester",
      command: "",
      clientIp: "127.0.0.1",
      clientPort: 1,
      sshdIp: "127.0.0.1",
      sshdPort: 22,
      startNs: 1n,
    },
    log: (level, message) => lines.push(`${level} ${message}`),
  });
}

function input(chunks: string[], keepOpen = false): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(new TextEncoder().encode(chunk));
      }
      if (!keepOpen) controller.close();
    },
  });
}

/** A sink collecting bytes, each write taking `delayMs`. */
function collector(delayMs = 0) {
  const parts: Uint8Array[] = [];
  return {
    parts,
    text: () => new TextDecoder().decode(concat(parts)),
    size: () => parts.reduce((n, p) => n + p.length, 0),
    async write(data: Uint8Array) {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      parts.push(data.slice());
      return data.length;
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

Deno.test({
  name:
    "the status comes after every byte ssh wrote before exiting reached the user and the recorder",
  ...processes,
  async fn() {
    const rec = recorder();
    const stdout = collector(2);
    const stderr = collector();
    const stdio: SessionStdio = {
      stdin: input([], true),
      stdout,
      stderr,
    };
    const ssh = startPipedSsh(
      [
        "/bin/sh",
        "-c",
        "head -c 3000000 /dev/zero | tr '\\0' x; echo bye >&2; exit 4",
      ],
      rec,
      stdio,
    );
    assert.ok(!("error" in ssh));
    const status = await ssh.status;
    assert.equal(status.code, 4);
    assert.equal(stdout.size(), 3_000_000);
    assert.equal(stderr.text(), "bye\n");
    assert.deepEqual(rec.totals(), {
      stdin: 0,
      stdout: 3_000_000,
      stderr: 4,
    });
    await rec.close();
  },
});

Deno.test({
  name:
    "a process left holding ssh's output open delays the status by the drain bound only",
  ...processes,
  async fn() {
    const rec = recorder();
    const stdout = collector();
    const started = Date.now();
    const ssh = startPipedSsh(
      ["/bin/sh", "-c", "sleep 5 & echo hi"],
      rec,
      { stdin: input([], true), stdout, stderr: collector() },
      300,
    );
    assert.ok(!("error" in ssh));
    assert.equal((await ssh.status).code, 0);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 300 && elapsed < 3000, `${elapsed} ms`);
    assert.equal(stdout.text(), "hi\n");
    await rec.close();
  },
});

Deno.test({
  name:
    "stdin reaches ssh and its EOF too (recorded as an empty fd 0 record), in a real dump file",
  ...processes,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const rec = recorder(`${dir}/s.dump`);
      const stdout = collector();
      const ssh = startPipedSsh(
        ["/bin/sh", "-c", "wc -c; cat >/dev/null"],
        rec,
        { stdin: input(["hello ", "world"]), stdout, stderr: collector() },
      );
      assert.ok(!("error" in ssh));
      assert.equal((await ssh.status).code, 0);
      assert.equal(stdout.text().trim(), "11");
      await rec.close();
      const dump = decodeDump(await Deno.readFile(`${dir}/s.dump`));
      assert.deepEqual(
        dump.records.map((r) => [r.fd, new TextDecoder().decode(r.data)]),
        [[0, "hello "], [0, "world"], [0, ""], [1, "11\n"]],
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a user gone (writes to stdout fail) closes ssh's stdout: ssh gets EPIPE instead of blocking",
  ...processes,
  async fn() {
    const rec = recorder();
    const ssh = startPipedSsh(
      ["/bin/sh", "-c", "yes; echo yes-stopped >&2"],
      rec,
      {
        stdin: input([], true),
        stdout: {
          write: () => Promise.reject(new Deno.errors.BrokenPipe("gone")),
        },
        stderr: collector(),
      },
    );
    assert.ok(!("error" in ssh));
    const status = await Promise.race([
      ssh.status,
      new Promise<"hung">((r) => setTimeout(() => r("hung"), 5000)),
    ]);
    assert.notEqual(status, "hung");
    await rec.close();
  },
});

Deno.test("an ssh that cannot be started: Go's exec error", () => {
  const rec = recorder();
  const ssh = startPipedSsh(["/nonexistent/ssh"], rec, {
    stdin: input([]),
    stdout: collector(),
    stderr: collector(),
  });
  assert.deepEqual(ssh, {
    error: 'exec: "/nonexistent/ssh": executable file not found in $PATH',
  });
  return rec.close();
});
