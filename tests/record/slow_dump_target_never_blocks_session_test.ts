// A dump target that cannot keep up costs the session nothing: with a
// real sshproxy-dumpd that stops reading (SIGSTOP), a dump file whose
// writes block (a FIFO nobody reads: a disk that hangs) and a dump file on
// a filesystem that fills up (a small tmpfs mounted for the test), a
// recorded 40 MB pipe session ends on time with every byte delivered,
// the dump is given up with one ERROR line, close() does not wait for the
// stuck target, and what the target did get is whole records, a prefix of
// the session.
import assert from "node:assert/strict";
import {
  concatBytes,
  decodeDump,
  type DecodeEnd,
  type DumpRecord,
} from "../../src/record/dump_format.ts";
import { Recorder } from "../../src/record/recorder.ts";
import { startPipedSsh } from "../../src/session/recorded_ssh.ts";
import { freePort, waitForPort } from "../harness/net.ts";
import { within } from "../harness/process.ts";
import { referenceRead } from "./helpers.ts";

const MiB = 1024 * 1024;
const SESSION_BYTES = 40 * MiB + 4321;
const processes = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url).pathname;

async function randomFile(path: string, length: number): Promise<Uint8Array> {
  const data = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) {
    crypto.getRandomValues(data.subarray(at, Math.min(at + 65536, length)));
  }
  await Deno.writeFile(path, data);
  return data;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : length;
}

/** The user's side of the session: keeps a copy of everything. */
function userSink() {
  const parts: Uint8Array[] = [];
  return {
    bytes: () => concatBytes(parts),
    write(data: Uint8Array): Promise<number> {
      parts.push(data.slice());
      return Promise.resolve(data.length);
    },
  };
}

/**
 * Runs `cat SOURCE` as ssh, recorded to `target`: checks the session ends
 * in time with every byte, returns the recorder's log lines and how long
 * close() took.
 */
async function recordedSession(
  target: string,
  source: string,
  expected: Uint8Array,
): Promise<{ lines: string[]; closeMs: number }> {
  const lines: string[] = [];
  const recorder = Recorder.start({
    target,
    session: {
      user: "tester",
      command: `cat ${source}`,
      clientIp: "127.0.0.1",
      clientPort: 40000,
      sshdIp: "127.0.0.1",
      sshdPort: 22,
      startNs: 1_700_000_000_000_000_000n,
    },
    log: (level, message) => lines.push(`${level} ${message}`),
    // Longer than the bound below: close() must not wait for a stuck target.
    closeTimeoutMs: 30_000,
  });
  const stdout = userSink();
  const stderr = userSink();
  const idle = new ReadableStream<Uint8Array>({ start() {} });
  const ssh = startPipedSsh(["cat", source], recorder, {
    stdin: idle,
    stdout,
    stderr,
  });
  assert.ok(!("error" in ssh), JSON.stringify(ssh));
  const status = await within(ssh.status, 60_000, "the session");
  assert.equal(status.code, 0);
  const started = performance.now();
  await within(recorder.close(), 10_000, "close()");
  const closeMs = performance.now() - started;
  const got = stdout.bytes();
  assert.equal(
    firstDifference(got, expected),
    -1,
    `the user got ${got.length} of ${expected.length} bytes, or other bytes`,
  );
  assert.equal(stderr.bytes().length, 0);
  assert.equal(recorder.totals().stdout, expected.length);
  assert.equal(recorder.state, "closed");
  return { lines, closeMs };
}

/** The dump's records (ours and the reference's reader agree); their fd 1 bytes start the session. */
function checkPrefix(
  file: Uint8Array,
  expected: Uint8Array,
  ends: DecodeEnd["kind"][],
): DumpRecord[] {
  const dump = decodeDump(file);
  assert.ok(dump.header !== undefined, "the header was written");
  assert.ok(ends.includes(dump.end.kind), JSON.stringify(dump.end));
  const reference = referenceRead(file);
  assert.equal(reference.records.length, dump.records.length);
  const kept = concatBytes(
    dump.records.filter((r) => r.fd === 1).map((r) => r.data),
  );
  assert.ok(kept.length < expected.length, "the dump was given up");
  assert.equal(firstDifference(kept, expected.subarray(0, kept.length)), -1);
  return dump.records;
}

const OVERFLOW =
  /^ERROR session recording disabled: the dump target cannot keep up \(more than 16777216 bytes waiting\)$/;

Deno.test({
  name:
    "sshproxy-dumpd stopped (SIGSTOP): the session goes on whole, the dump is dropped once, dumpd keeps whole records",
  ...processes,
  async fn() {
    const dir = await Deno.makeTempDir();
    const port = await freePort();
    const dumpd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--config",
        `${ROOT}deno.json`,
        `${ROOT}main.ts`,
        "dumpd",
        "-listen",
        `127.0.0.1:${port}`,
        "-output",
        `${dir}/collected`,
      ],
      env: { SSHPROXY_ARGV0: "" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let dumpdLog = "";
    const logRead = dumpd.stderr.pipeThrough(new TextDecoderStream())
      .pipeTo(
        new WritableStream({
          write(text) {
            dumpdLog += text;
          },
        }),
      );
    let stopped = false;
    try {
      if (!await waitForPort("127.0.0.1", port, 30_000)) {
        dumpd.kill("SIGKILL");
        assert.fail(`dumpd did not listen: ${dumpdLog}`);
      }
      const expected = await randomFile(`${dir}/source`, SESSION_BYTES);
      Deno.kill(dumpd.pid, "SIGSTOP");
      stopped = true;
      const { lines, closeMs } = await recordedSession(
        `TCP:127.0.0.1:${port}`,
        `${dir}/source`,
        expected,
      );
      const errors = lines.filter((line) => !line.startsWith("INFO "));
      assert.equal(errors.length, 1, lines.join("\n"));
      assert.match(errors[0], OVERFLOW);
      assert.ok(closeMs < 5_000, `close() took ${closeMs} ms`);
      Deno.kill(dumpd.pid, "SIGCONT");
      stopped = false;
      // The probe's connection and the session's end (it was closed).
      const deadline = Date.now() + 30_000;
      while (dumpdLog.split("] disconnected").length - 1 < 2) {
        assert.ok(
          Date.now() < deadline,
          `dumpd never got to the end:\n${dumpdLog}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      Deno.kill(dumpd.pid, "SIGTERM");
      await within(dumpd.status, 30_000, "dumpd's exit");
      const users = [...Deno.readDirSync(`${dir}/collected/tester`)];
      assert.equal(users.length, 1);
      checkPrefix(
        await Deno.readFile(`${dir}/collected/tester/${users[0].name}`),
        expected,
        ["complete"],
      );
    } finally {
      if (stopped) Deno.kill(dumpd.pid, "SIGCONT");
      try {
        dumpd.kill("SIGKILL");
      } catch {
        // already gone
      }
      await dumpd.status;
      await logRead.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a dump file whose writes block (a FIFO nobody reads): the session goes on whole, one ERROR line, close() does not wait",
  ...processes,
  async fn() {
    const dir = await Deno.makeTempDir();
    const fifo = `${dir}/session.dump`;
    let reader: Deno.FsFile | undefined;
    try {
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      assert.ok(made.success);
      const expected = await randomFile(`${dir}/source`, SESSION_BYTES);
      // Opened for reading, never read until the session is over.
      const opening = Deno.open(fifo, { read: true });
      const session = recordedSession(fifo, `${dir}/source`, expected);
      reader = await opening;
      const { lines, closeMs } = await session;
      const errors = lines.filter((line) => !line.startsWith("INFO "));
      assert.equal(errors.length, 1, lines.join("\n"));
      assert.match(errors[0], OVERFLOW);
      assert.ok(closeMs < 5_000, `close() took ${closeMs} ms`);
      // The disk comes back: the write that was stuck ends, and with it
      // the file, on a record boundary.
      const file = await within(
        new Response(reader.readable).bytes(),
        30_000,
        "the FIFO's end",
      );
      reader = undefined;
      checkPrefix(file, expected, ["complete"]);
    } finally {
      try {
        reader?.close();
      } catch {
        // closed by its stream
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a dump file on a filesystem that fills up: the session goes on whole, one ERROR line, the records written stay readable",
  ...processes,
  async fn() {
    const dir = await Deno.makeTempDir();
    const mount = `${dir}/small`;
    await Deno.mkdir(mount);
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mount],
      stderr: "piped",
    }).output();
    assert.ok(
      mounted.success,
      `mounting a 2 MiB tmpfs (run as root): ${
        new TextDecoder().decode(mounted.stderr)
      }`,
    );
    try {
      const expected = await randomFile(`${dir}/source`, SESSION_BYTES);
      const path = `${mount}/session.dump`;
      const { lines } = await recordedSession(path, `${dir}/source`, expected);
      const errors = lines.filter((line) => !line.startsWith("INFO "));
      assert.equal(errors.length, 1, lines.join("\n"));
      assert.match(errors[0], /^ERROR writing: .*no space left on device/i);
      // Filled to the last byte: the record being written is cut there,
      // and both readers stop at it the same way.
      const records = checkPrefix(await Deno.readFile(path), expected, [
        "complete",
        "truncated-record",
      ]);
      assert.ok(records.length > 0);
    } finally {
      await new Deno.Command("umount", { args: [mount] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
