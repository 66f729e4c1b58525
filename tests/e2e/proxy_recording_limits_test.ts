// dump_limit_size / dump_limit_window through real sessions (spec §8.4).
// Stop mode: the dump holds a prefix of the session of at least `limit`
// payload bytes, overshooting by less than one record, then ends cleanly;
// the session itself is untouched. Window mode: a burst is cut once the
// window's total reaches the limit, the next window is skipped because
// the previous one was over, and recording resumes after a quiet window.
import assert from "node:assert/strict";
import { runAs, SSH_OPTIONS, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";
import {
  findDumps,
  logLines,
  randomFile,
  readDump,
  streamBytes,
  userOwnedDir,
} from "./proxy_recording_helpers.ts";

const user = USERS.fedora;

async function session(gw: ProxyGateway, command: string, output: string) {
  const line = [
    "/usr/bin/ssh",
    ...SSH_OPTIONS,
    "-T",
    "-p",
    String(gw.gateway.ports[2023]),
    `${user}@${gw.gateway.host}`,
    "--",
    `'${command}'`,
  ].join(" ");
  const result = await runAs(user, ["sh", "-c", `${line} > ${output}`], {
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, result.stderr);
  return await Deno.readFile(output);
}

Deno.test({
  name:
    "stop mode: the dump is the session's first dump_limit_size bytes plus at most one record, then closed; the session is whole",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dir = await userOwnedDir(gw.logDir, "data", user);
    const dumps = `${gw.logDir}/dumps`;
    const source = await randomFile(`${dir}/source.bin`, 2_000_000, user);
    const limit = 300_000;
    await gw.writeConfig(gw.basicConfig({
      extra: `dump: "${dumps}/{user}/{sid}.dump"\ndump_limit_size: ${limit}\n`,
    }));
    const received = await session(
      gw,
      `cat ${dir}/source.bin`,
      `${dir}/copy.bin`,
    );
    assert.deepEqual(received, source);
    const [file] = await findDumps(dumps);
    const { records } = await readDump(file);
    const payload = records.reduce((n, r) => n + r.data.length, 0);
    const last = records[records.length - 1];
    assert.ok(payload >= limit, `${payload} < ${limit}`);
    assert.ok(payload - last.data.length < limit, "more than one record over");
    const stdout = streamBytes(records, 1);
    assert.deepEqual(stdout, source.slice(0, stdout.length));
    const log = await gw.readLog(user);
    assert.deepEqual(
      logLines(log, "recording").map((l) => l.replace(/^.*: session/, "")),
      [` recording stopped: dump_limit_size reached (${limit} bytes)`],
    );
    assert.match(log, / stdin=0 stdout=2000000 stderr=0\n/);
  },
});

Deno.test({
  name:
    "window mode: cut at the limit within a window, skipped while the previous window was over, resumed after a quiet one",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dir = await userOwnedDir(gw.logDir, "data", user);
    const dumps = `${gw.logDir}/dumps`;
    const limit = 10_000;
    await gw.writeConfig(gw.basicConfig({
      extra: `dump: "${dumps}/{user}/{sid}.dump"
dump_limit_size: ${limit}
dump_limit_window: 2s
`,
    }));
    // Window 0 [0, 2 s): a 200 kB burst of "a". Window 1: "B" (previous
    // window over the limit: skipped). Window 2 stays quiet, so "C" (in
    // window 3 or later) is recorded again.
    const received = await session(
      gw,
      'head -c 200000 /dev/zero | tr "\\\\0" a; sleep 2.5; echo BBBB; sleep 4; echo CCCC',
      `${dir}/out`,
    );
    const text = new TextDecoder().decode(received);
    assert.equal(text, `${"a".repeat(200_000)}BBBB\nCCCC\n`);
    const [file] = await findDumps(dumps);
    const { header, records } = await readDump(file);
    const recorded = new TextDecoder().decode(streamBytes(records, 1));
    assert.ok(recorded.endsWith("CCCC\n"), recorded.slice(-20));
    assert.ok(!recorded.includes("B"), "B was recorded");
    const burst = recorded.slice(0, -"CCCC\n".length);
    assert.match(burst, /^a+$/);
    assert.ok(burst.length > 0 && burst.length < 200_000, `${burst.length}`);
    // Every written "a" record started below the limit of window 0.
    let before = 0;
    for (const record of records.filter((r) => r.data[0] === 0x61)) {
      assert.ok(before < limit);
      assert.ok(record.timeNs - header.startNs < 2_000_000_000n);
      before += record.data.length;
    }
    const log = await gw.readLog(user);
    assert.equal(logLines(log, "recording").length, 0, log);
  },
});
