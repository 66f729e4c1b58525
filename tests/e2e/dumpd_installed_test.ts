// The installed sshproxy-dumpd over real TCP on loopback: concurrent
// sessions land in <output>/<user>/<start>-<SID>.dump byte for byte
// (including records sent in the same write as the header, which the
// reference loses), hostile or broken clients are logged and dropped while
// the daemon stays up, and SIGTERM ends it cleanly.
import assert from "node:assert/strict";
import { freePort, run, sleep, waitForPort } from "../harness/mod.ts";
import { startService } from "../harness/process.ts";
import {
  clientAddress,
  type DumpHeader,
  type DumpRecord,
  encodeDump,
  encodeHeader,
  encodeRecord,
  headerFromFacts,
} from "../../src/record/dump_format.ts";
import { formatRfc3339Nano } from "../../src/format/time.ts";
import { sessionId } from "../../src/log/session_id.ts";
import { installed } from "./installed.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
// Summer 2024: Europe/Paris is UTC+2 for every start time used here.
const T0 = 1_714_634_103_041_527_381n;
const PARIS_SUMMER = 120;

async function startDumpd(output: string) {
  const product = await installed();
  const port = await freePort();
  const logPath = `${output}.log`;
  const service = startService(
    [
      "env",
      "TZ=Europe/Paris",
      product.dumpd,
      "-listen",
      `127.0.0.1:${port}`,
      "-output",
      output,
    ],
    logPath,
  );
  if (!(await waitForPort("127.0.0.1", port, 30_000, service.alive))) {
    throw new Error(`dumpd did not start: ${await service.log()}`);
  }
  // waitForPort's probe is a client too: wait until it is gone, and count
  // connections from there.
  await waitForLog(service, (l) => count(l, "] disconnected") === 1);
  return { service, port };
}

async function send(
  port: number,
  chunks: Uint8Array[],
  pauseMs = 0,
): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const chunk of chunks) {
      let rest = chunk;
      while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
      if (pauseMs > 0) await sleep(pauseMs);
    }
  } finally {
    conn.close();
  }
}

async function waitForLog(
  service: { log(): Promise<string> },
  test: (log: string) => boolean,
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await service.log();
    if (test(log)) return log;
    if (Date.now() > deadline) throw new Error(`log never matched:\n${log}`);
    await sleep(50);
  }
}

const count = (log: string, text: string) => log.split(text).length - 1;

function expectedPath(output: string, header: DumpHeader): string {
  const user = new TextDecoder().decode(header.user);
  const sid = sessionId(user, clientAddress(header), header.startNs);
  return `${output}/${user}/${
    formatRfc3339Nano(header.startNs, PARIS_SUMMER)
  }-${sid}.dump`;
}

function session(index: number): { header: DumpHeader; records: DumpRecord[] } {
  const header = headerFromFacts({
    user: `user${index % 7}`,
    command: index % 2 === 0 ? "" : `cat /data/${index}`,
    clientIp: index % 3 === 0 ? "2001:db8::7" : `192.0.2.${index}`,
    clientPort: 40000 + index,
    sshdIp: "192.0.2.1",
    sshdPort: 22,
    startNs: T0 + BigInt(index) * 1_000_000_007n,
  });
  const records: DumpRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const data = new Uint8Array((i * 997 + index * 31) % 5000);
    for (let j = 0; j < data.length; j++) data[j] = (i * 7 + j + index) & 0xff;
    records.push({
      timeNs: header.startNs + BigInt(i) * 1_000_000n,
      fd: i % 3,
      data,
    });
  }
  return { header, records };
}

Deno.test({
  name:
    "dumpd: 20 concurrent sessions give 20 files identical to the streams sent, 0700/0600",
  ...e2e,
  async fn() {
    const output = await Deno.makeTempDir({ prefix: "dumpd-out-" });
    const { service, port } = await startDumpd(output);
    try {
      const sessions = Array.from({ length: 20 }, (_, i) => session(i));
      await Promise.all(sessions.map(({ header, records }, i) => {
        const whole = encodeDump(header, records);
        if (i % 2 === 0) return send(port, [whole]); // header and records in ONE write
        // The others trickle: header in two pieces, records cut anywhere.
        const pieces: Uint8Array[] = [];
        for (let at = 0; at < whole.length; at += 3001 + i) {
          pieces.push(whole.subarray(at, at + 3001 + i));
        }
        return send(port, [
          whole.subarray(0, 20),
          ...pieces.map((p, k) => k === 0 ? p.subarray(20) : p),
        ], 2);
      }));
      const log = await waitForLog(
        service,
        (l) => count(l, "] disconnected") === 21,
      );
      assert.equal(count(log, "] connected"), 21);
      // Only the readiness probe, which sent nothing.
      assert.equal(count(log, "error"), 1);
      assert.equal(count(log, "error: reading reader: EOF"), 1);
      assert.match(
        log,
        /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d listening on 127\.0\.0\.1:\d+$/m,
      );
      assert.match(
        log,
        /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[127\.0\.0\.1:\d+\] connected$/m,
      );
      for (const { header, records } of sessions) {
        const path = expectedPath(output, header);
        const file = await Deno.readFile(path);
        assert.deepEqual(file, encodeDump(header, records), path);
        assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
        const dir = path.slice(0, path.lastIndexOf("/"));
        assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
      }
      let files = 0;
      for (const user of Deno.readDirSync(output)) {
        for (const _ of Deno.readDirSync(`${output}/${user.name}`)) files++;
      }
      assert.equal(files, 20);
    } finally {
      await service.stop();
      await Deno.remove(output, { recursive: true });
      await Deno.remove(`${output}.log`).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "dumpd: garbage, a truncated header, path-like user names and an absurd size are dropped; the daemon stays up",
  ...e2e,
  async fn() {
    const output = await Deno.makeTempDir({ prefix: "dumpd-out-" });
    const { service, port } = await startDumpd(output);
    try {
      const good = session(1);
      const header = encodeHeader(good.header);
      await send(port, [
        new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n".repeat(4)),
      ]);
      await send(port, [header.subarray(0, 30)]);
      await send(port, [header.subarray(0, 50)]);
      await send(port, [header.subarray(0, 55)]);
      for (const user of ["../escape", "a/b", "..", "", "x".repeat(300)]) {
        const evil = headerFromFacts({
          user,
          command: "",
          clientIp: "192.0.2.66",
          clientPort: 1,
          sshdIp: "192.0.2.1",
          sshdPort: 22,
          startNs: T0,
        });
        await send(port, [encodeDump(evil, good.records.slice(0, 2))]);
      }
      const absurd = new Uint8Array(13);
      new DataView(absurd.buffer).setUint32(9, 0x7fffffff);
      const other = { ...good.header, startNs: good.header.startNs + 1n };
      await send(port, [encodeDump(other, good.records.slice(0, 3)), absurd]);
      const log = await waitForLog(
        service,
        (l) => count(l, "] disconnected") === 11,
      );
      assert.match(
        log,
        /\] error: reading reader: unknow version number: 4745$/m,
      );
      assert.match(log, /\] error: reading reader: unexpected EOF$/m);
      assert.match(log, /\] error: reading reader: reading user: EOF$/m);
      assert.match(log, /\] error: reading reader: reading command: EOF$/m);
      assert.match(log, /refusing user name "\.\.\/escape": contains "\/"$/m);
      assert.match(log, /refusing user name "a\/b": contains "\/"$/m);
      assert.match(log, /refusing user name "\.\.": not a directory name$/m);
      assert.match(log, /refusing user name "": empty$/m);
      assert.match(
        log,
        /error: reading reader: reading user: longer than 255 bytes$/m,
      );
      assert.match(
        log,
        /error copying records: record at offset \d+ announces 2147483647 bytes/,
      );
      // Nothing escaped the output directory; the absurd session kept its complete records.
      const parent = output.slice(0, output.lastIndexOf("/"));
      await assert.rejects(() => Deno.stat(`${parent}/escape`));
      const kept = await Deno.readFile(expectedPath(output, other));
      assert.deepEqual(kept, encodeDump(other, good.records.slice(0, 3)));
      // Still up: a normal session afterwards is received.
      await send(port, [encodeDump(good.header, good.records)]);
      await waitForLog(service, (l) => count(l, "] disconnected") === 12);
      assert.deepEqual(
        await Deno.readFile(expectedPath(output, good.header)),
        encodeDump(good.header, good.records),
      );
      assert.ok(service.alive());
    } finally {
      await service.stop();
      await Deno.remove(output, { recursive: true });
      await Deno.remove(`${output}.log`).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "dumpd: a session cut mid-record keeps every complete record; SIGTERM closes in-progress sessions and exits 0",
  ...e2e,
  async fn() {
    const output = await Deno.makeTempDir({ prefix: "dumpd-out-" });
    const { service, port } = await startDumpd(output);
    try {
      const cut = session(2);
      const whole = encodeDump(cut.header, cut.records);
      const end = encodeHeader(cut.header).length +
        cut.records.slice(0, 5).reduce((n, r) => n + encodeRecord(r).length, 0);
      await send(port, [whole.subarray(0, end + 7)]);
      let log = await waitForLog(
        service,
        (l) => count(l, "] disconnected") === 2,
      );
      assert.match(
        log,
        new RegExp(
          `error copying records: unexpected EOF: the record at offset ${end} is incomplete \\(7 bytes dropped\\)`,
        ),
      );
      assert.deepEqual(
        await Deno.readFile(expectedPath(output, cut.header)),
        whole.subarray(0, end),
      );

      // A session still open when SIGTERM comes: its records so far are kept.
      const open = session(3);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encodeDump(open.header, open.records.slice(0, 4)));
      await waitForLog(service, (l) => count(l, "] connected") === 3);
      await sleep(200);
      Deno.kill(service.pid, "SIGTERM");
      const status = await service.exited;
      conn.close();
      assert.equal(status.code, 0);
      log = await service.log();
      assert.match(log, /shutting down: no new connections\n/);
      assert.match(log, /stopped\n$/);
      assert.equal(count(log, "] disconnected"), 3);
      assert.deepEqual(
        await Deno.readFile(expectedPath(output, open.header)),
        encodeDump(open.header, open.records.slice(0, 4)),
      );
    } finally {
      await service.stop();
      await Deno.remove(output, { recursive: true });
      await Deno.remove(`${output}.log`).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "dumpd: missing -output and a busy port are fatal with the reference's texts",
  ...e2e,
  async fn() {
    const product = await installed();
    const missing = await run([product.dumpd]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d error: no output directory specified\n$/,
    );
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (busy.addr as Deno.NetAddr).port;
    try {
      const result = await run([
        product.dumpd,
        "-listen",
        `127.0.0.1:${port}`,
        "-output",
        "/nonexistent",
      ]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        new RegExp(
          `error: listening: listen tcp 127\\.0\\.0\\.1:${port}: bind: address already in use\\n$`,
        ),
      );
    } finally {
      busy.close();
    }
  },
});
