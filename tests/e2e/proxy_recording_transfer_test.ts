// Non-terminal sessions recorded through the proxy's pipes (spec §5.14,
// §8.3): 100 MB from the destination arrive intact and the dump's stdout
// records carry exactly those bytes; data sent by the user is recorded as
// fd 0 with its EOF, passed on to the destination; remote stderr is fd 2;
// the exit status is the remote command's; output still in flight when
// ssh exits is not lost (the reference's §12.2 item 21). The throughput
// with and without a dump is printed for the README.
import assert from "node:assert/strict";
import { runAs, SSH_OPTIONS, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";
import {
  findDumps,
  logLines,
  randomFile,
  readDump,
  sha256,
  streamBytes,
  userOwnedDir,
} from "./proxy_recording_helpers.ts";

const user = USERS.fedora;
const BIG = 100_000_000;

function sshCommand(gw: ProxyGateway, command: string): string {
  return [
    "/usr/bin/ssh",
    ...SSH_OPTIONS,
    "-T",
    "-p",
    String(gw.gateway.ports[2023]),
    `${user}@${gw.gateway.host}`,
    "--",
    `'${command}'`,
  ].join(" ");
}

/** Runs `cat SOURCE` through the gateway into DEST; returns the seconds it took. */
async function download(
  gw: ProxyGateway,
  source: string,
  dest: string,
): Promise<number> {
  const started = performance.now();
  const result = await runAs(
    user,
    ["sh", "-c", `${sshCommand(gw, `cat ${source}`)} > ${dest}`],
    { timeoutMs: 120_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  return (performance.now() - started) / 1000;
}

Deno.test({
  name:
    "100 MB from the destination arrive intact with dump on, and the dump's stdout records hold the same bytes",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dir = await userOwnedDir(gw.logDir, "data", user);
    const dumps = `${gw.logDir}/dumps`;
    const source = await randomFile(`${dir}/source.bin`, BIG, user);
    const expected = await sha256(source);

    // Without a recorder first: ssh inherits the proxy's stdio.
    await gw.writeConfig(gw.basicConfig());
    const plain = await download(gw, `${dir}/source.bin`, `${dir}/plain.bin`);
    assert.equal(
      await sha256(await Deno.readFile(`${dir}/plain.bin`)),
      expected,
    );
    await Deno.remove(`${dir}/plain.bin`);

    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "${dumps}/{user}/{sid}.dump"` }),
    );
    const recorded = await download(
      gw,
      `${dir}/source.bin`,
      `${dir}/recorded.bin`,
    );
    const received = await Deno.readFile(`${dir}/recorded.bin`);
    assert.equal(received.length, BIG);
    assert.equal(await sha256(received), expected);

    const files = await findDumps(dumps);
    assert.equal(files.length, 1, files.join(" "));
    assert.match(files[0], new RegExp(`/${user}/[0-9A-F]{10}\\.dump$`));
    const mode = (await Deno.stat(files[0])).mode! & 0o777;
    assert.equal(mode, 0o600);
    const { header, records } = await readDump(files[0]);
    assert.equal(new TextDecoder().decode(header.user), user);
    assert.equal(
      new TextDecoder().decode(header.command),
      `cat ${dir}/source.bin`,
    );
    const stdout = streamBytes(records, 1);
    assert.equal(stdout.length, BIG);
    assert.equal(await sha256(stdout), expected);
    assert.equal(streamBytes(records, 2).length, 0);
    // Nothing typed: stdin's EOF (the client's /dev/null) as an empty record.
    const stdin = records.filter((r) => r.fd === 0);
    assert.deepEqual(stdin.map((r) => r.data.length), [0]);
    for (let i = 1; i < records.length; i++) {
      assert.ok(records[i].timeNs >= header.startNs);
    }
    const log = await gw.readLog(user);
    const final = logLines(log, "bytes transferred (final step)");
    assert.equal(final.length, 1, log);
    assert.match(final[0], / stdin=0 stdout=100000000 stderr=0$/);
    assert.ok(
      log.indexOf("bytes transferred (final step)") < log.lastIndexOf(
        "disconnected",
      ),
    );

    const mb = BIG / 1e6;
    console.log(
      `throughput, 100 MB non-tty through the gateway: without dump ${
        (mb / plain).toFixed(0)
      } MB/s (${plain.toFixed(2)} s), with dump ${
        (mb / recorded).toFixed(0)
      } MB/s (${recorded.toFixed(2)} s)`,
    );
  },
});

Deno.test({
  name:
    "what the user sends is recorded as fd 0 with its EOF and reaches the destination; stderr is fd 2; the remote status is kept; late output is not lost",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dir = await userOwnedDir(gw.logDir, "data", user);
    const dumps = `${gw.logDir}/dumps`;
    const source = await randomFile(`${dir}/up.bin`, 10_000_000, user);
    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "${dumps}/{user}/{sid}.dump"` }),
    );
    // The remote command reads everything (EOF must arrive), then writes to
    // both streams right before exiting with status 7.
    const command =
      `cat > ${dir}/copy.bin; echo written >&2; head -c 300000 ${dir}/up.bin; exit 7`;
    const result = await runAs(
      user,
      ["sh", "-c", `${sshCommand(gw, command)} < ${dir}/up.bin > ${dir}/out`],
      { timeoutMs: 60_000 },
    );
    assert.equal(result.code, 7, result.stderr);
    assert.equal(result.stderr, "written\n");
    const copy = await Deno.readFile(`${dir}/copy.bin`);
    assert.equal(await sha256(copy), await sha256(source));
    const out = await Deno.readFile(`${dir}/out`);
    assert.equal(out.length, 300_000);

    const [file] = await findDumps(dumps);
    const { records } = await readDump(file);
    const stdin = streamBytes(records, 0);
    assert.equal(await sha256(stdin), await sha256(source));
    const fd0 = records.filter((r) => r.fd === 0);
    assert.equal(fd0[fd0.length - 1].data.length, 0, "no EOF record");
    assert.equal(
      new TextDecoder().decode(streamBytes(records, 2)),
      "written\n",
    );
    assert.equal(
      await sha256(streamBytes(records, 1)),
      await sha256(source.slice(0, 300_000)),
    );
    const log = await gw.readLog(user);
    assert.match(
      log,
      / INFO [0-9A-F]{10}: bytes transferred \(final step\): duration=[0-9]+s stdin=10000000 stdout=300000 stderr=8\n/,
    );
    assert.match(log, /error executing proxied ssh command: exit status 7\n/);
  },
});
