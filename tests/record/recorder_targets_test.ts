// The recorder against real targets: files (modes, parents, side file),
// a real TCP collector, unreachable and unwritable targets, a collector
// that stops reading (bounded queue: the dump is dropped, never the
// session), the dump limits of spec §8.4 and the statistics of §8.5.
import assert from "node:assert/strict";
import {
  decodeDump,
  type DumpRecord,
  type SessionFacts,
} from "../../src/record/dump_format.ts";
import { Recorder, type RecorderOptions } from "../../src/record/recorder.ts";
import type { Level } from "../../src/log/format.ts";

const T0 = 1_714_634_103_041_527_381n;
const SECOND = 1_000_000_000n;
const FACTS: SessionFacts = {
  user: "alice",
  command: "hostname",
  clientIp: "192.0.2.10",
  clientPort: 54321,
  sshdIp: "192.0.2.1",
  sshdPort: 22,
  startNs: T0 - 5n,
};
const bytes = (text: string) => new TextEncoder().encode(text);

function logs() {
  const lines: [Level, string][] = [];
  return {
    lines,
    log: (level: Level, message: string) => lines.push([level, message]),
    of: (level: Level) =>
      lines.filter(([l]) => l === level).map(([, message]) => message),
  };
}

function start(
  target: string,
  extra: Partial<RecorderOptions> = {},
  clock: { now: bigint } = { now: T0 },
) {
  const logged = logs();
  const recorder = Recorder.start({
    target,
    session: FACTS,
    log: logged.log,
    now: () => clock.now,
    ...extra,
  });
  return { recorder, logged, clock };
}

function records(file: Uint8Array): DumpRecord[] {
  const decoded = decodeDump(file);
  assert.deepEqual(decoded.end, { kind: "complete" });
  return decoded.records;
}

Deno.test("a file target: parents 0700, file 0600, the header, every record, the final line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/dumps/alice/session.dump`;
    const { recorder, logged } = start(path);
    recorder.record(0, bytes("ls\n"), T0 + 1n);
    recorder.record(1, bytes("file\n"), T0 + 2n);
    recorder.record(2, bytes("warn\n"), T0 + 3n);
    recorder.record(0, new Uint8Array(0), T0 + 4n);
    await recorder.close();
    assert.equal((await Deno.stat(`${dir}/dumps`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dir}/dumps/alice`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const file = await Deno.readFile(path);
    const decoded = decodeDump(file);
    assert.equal(decoded.header!.startNs, T0 - 5n);
    assert.deepEqual(
      decoded.records.map((r) => [r.timeNs - T0, r.fd, r.data.length]),
      [[1n, 0, 3], [2n, 1, 5], [3n, 2, 5], [4n, 0, 0]],
    );
    assert.deepEqual(recorder.totals(), { stdin: 3, stdout: 5, stderr: 5 });
    assert.deepEqual(logged.of("INFO"), [
      "bytes transferred (final step): duration=0s stdin=3 stdout=5 stderr=5",
    ]);
    assert.deepEqual(logged.of("ERROR"), []);
    assert.equal(recorder.state, "closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an existing file is truncated and narrowed to 0600", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/old.dump`;
    await Deno.writeFile(path, new Uint8Array(5000), { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const { recorder } = start(path);
    recorder.record(1, bytes("x"), T0);
    await recorder.close();
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(records(await Deno.readFile(path)).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unwritable path: one ERROR line, the session's bytes still counted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/plain`, "");
    // Go's MkdirAll names the component that is not a directory.
    const { recorder, logged } = start(`${dir}/plain/sub/x.dump`);
    recorder.record(1, bytes("hello"));
    await recorder.close();
    assert.deepEqual(logged.of("ERROR"), [
      `session recording disabled due to error: creating directory ${dir}/plain/sub: mkdir ${dir}/plain: not a directory`,
    ]);
    assert.deepEqual(recorder.totals(), { stdin: 0, stdout: 5, stderr: 0 });
    assert.match(logged.of("INFO")[0], /stdout=5 /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("etcd: no dump at all, statistics only", async () => {
  const { recorder, logged } = start("etcd");
  assert.equal(recorder.state, "none");
  recorder.record(0, bytes("abc"));
  recorder.resize(100, 40);
  await recorder.close();
  assert.deepEqual(recorder.totals(), { stdin: 3, stdout: 0, stderr: 0 });
  assert.equal(logged.of("ERROR").length, 0);
  assert.deepEqual(recorder.geometry?.cols, 100);
});

/** A one-connection TCP collector; `reading` false leaves the bytes unread until released. */
function collector(reading = true) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const received = (async () => {
    const conn = await listener.accept();
    listener.close();
    if (!reading) await released;
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    conn.close();
    const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return all;
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    release,
  };
}

Deno.test("TCP: the dump stream reaches a real collector intact", async () => {
  const server = collector();
  const { recorder, logged } = start(`TCP:127.0.0.1:${server.port}`);
  const sent: DumpRecord[] = [];
  for (let i = 0; i < 200; i++) {
    const data = new Uint8Array(i * 37).fill(i & 0xff);
    const fd = (i % 3) as 0 | 1 | 2;
    recorder.record(fd, data, T0 + BigInt(i));
    sent.push({ timeNs: T0 + BigInt(i), fd, data });
  }
  await recorder.close();
  const got = records(await server.received);
  assert.equal(got.length, sent.length);
  for (let i = 0; i < sent.length; i++) {
    assert.deepEqual(got[i], sent[i]);
  }
  assert.deepEqual(logged.of("ERROR"), []);
});

Deno.test("TCP: an unreachable collector gives one ERROR line and the session goes on", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const { recorder, logged } = start(`TCP:127.0.0.1:${port}`);
  recorder.record(1, bytes("still counted"));
  await recorder.close();
  assert.deepEqual(logged.of("ERROR"), [
    `session recording disabled due to error connecting to host '127.0.0.1:${port}': dial tcp 127.0.0.1:${port}: connect: connection refused`,
  ]);
  assert.equal(recorder.totals().stdout, 13);
  const bad = start("TCP:nowhere");
  await bad.recorder.close();
  assert.deepEqual(bad.logged.of("ERROR"), [
    "session recording disabled due to error connecting to host 'nowhere': dial tcp nowhere: address nowhere: missing port in address",
  ]);
});

Deno.test("a collector that stops reading: the dump is dropped once, record() never waits", async () => {
  const server = collector(false);
  const { recorder, logged } = start(`TCP:127.0.0.1:${server.port}`, {
    maxQueuedBytes: 256 * 1024,
    closeTimeoutMs: 2000,
  });
  const chunk = new Uint8Array(64 * 1024).fill(0x5a);
  const began = performance.now();
  for (let i = 0; i < 1000; i++) {
    recorder.record(1, chunk, T0 + BigInt(i));
    if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const spent = performance.now() - began;
  assert.ok(spent < 5000, `record() took ${spent} ms for 64 MiB`);
  assert.equal(recorder.state, "closed");
  server.release();
  await recorder.close();
  const errors = logged.of("ERROR");
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(
    errors[0],
    /^session recording disabled: the dump target cannot keep up/,
  );
  assert.equal(recorder.totals().stdout, 1000 * 64 * 1024);
  // What did arrive ends at a record boundary.
  const received = decodeDump(await server.received);
  assert.deepEqual(received.end, { kind: "complete" });
  assert.ok(received.records.length < 1000);
});

Deno.test("dump_limit_size, stop mode: written while the total before is below the limit, then closed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.dump`;
    const { recorder, logged } = start(path, { dumpLimitSize: 10n });
    for (let i = 0; i < 6; i++) {
      recorder.record(1, bytes("abcd"), T0 + BigInt(i));
    }
    await recorder.close();
    // Totals before each record: 0, 4, 8 → written; 12 → closed for good.
    assert.equal(records(await Deno.readFile(path)).length, 3);
    assert.deepEqual(
      logged.of("INFO")[0],
      "session recording stopped: dump_limit_size reached (10 bytes)",
    );
    assert.equal(recorder.totals().stdout, 24);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dump_limit_size with a window: pauses and resumes per window", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.dump`;
    const { recorder } = start(path, {
      dumpLimitSize: 10n,
      dumpLimitWindowNs: SECOND,
    });
    const at = (tenths: number, label: string) =>
      recorder.record(
        1,
        bytes(label.padEnd(5, ".")),
        T0 + BigInt(tenths) * SECOND / 10n,
      );
    at(1, "w0a"); // window 0: cur 0 → written
    at(2, "w0b"); // cur 5 → written
    at(3, "w0c"); // cur 10 → skipped (cur 15)
    at(11, "w1a"); // window 1: prev 15 → skipped (cur 5)
    at(21, "w2a"); // window 2: prev 5, cur 0 → written
    at(22, "w2b"); // cur 5 → written
    at(23, "w2c"); // cur 10 → skipped
    at(45, "w4a"); // window 4 after an empty window 3: prev 0 → written
    await recorder.close();
    const labels = records(await Deno.readFile(path)).map((r) =>
      new TextDecoder().decode(r.data).replace(/\.+$/, "")
    );
    assert.deepEqual(labels, ["w0a", "w0b", "w2a", "w2b", "w4a"]);
    assert.equal(recorder.state, "closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("statistics: the duration is whole seconds as a Go duration; rates and bandwidth per interval", async () => {
  const clock = { now: T0 };
  const { recorder, logged } = start("etcd", {
    etcdStatsIntervalNs: SECOND,
    logStatsIntervalNs: 100_000_000n,
  }, clock);
  recorder.record(0, new Uint8Array(3000));
  recorder.record(1, new Uint8Array(2048));
  recorder.record(2, new Uint8Array(1100));
  clock.now = T0 + 65n * SECOND + 700_000_000n;
  assert.equal(
    recorder.statsLine("intermediate step"),
    "bytes transferred (intermediate step): duration=1m5s stdin=3000 stdout=2048 stderr=1100",
  );
  assert.deepEqual(recorder.bandwidth(), { In: 0, Out: 0 });
  await new Promise((resolve) => setTimeout(resolve, 1150));
  assert.deepEqual(recorder.rates(), {
    stdin: 3000,
    stdout: 2048,
    stderr: 1100,
  });
  assert.deepEqual(recorder.bandwidth(), { In: 2, Out: 3 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.deepEqual(recorder.rates(), { stdin: 0, stdout: 0, stderr: 0 });
  clock.now = T0 + 3600n * SECOND;
  await recorder.close();
  const info = logged.of("INFO");
  assert.ok(info.filter((l) => l.includes("(intermediate step)")).length >= 5);
  assert.equal(
    info.at(-1),
    "bytes transferred (final step): duration=1h0m0s stdin=3000 stdout=2048 stderr=1100",
  );
});
