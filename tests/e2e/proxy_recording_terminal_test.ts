// An interactive session recorded to a file (spec §5.14, terminal +
// recorder: ssh under script(1)). The test user's `ssh -tt` runs in a
// detached tmux, itself under a client-side `script -O` that logs every
// byte the client received: the dump's stdout records must be exactly
// those bytes. Typed input is fd 0, there is no fd 2, the initial size and
// a resize go to the `.geometry` side file and into the asciicast export
// of the installed sshproxy-replay.
import assert from "node:assert/strict";
import { sshArgv, USERS } from "../harness/mod.ts";
import {
  e2e,
  type ProxyGateway,
  sshdDescendantExes,
  startProxyGateway,
  waitFor,
} from "./gateway.ts";
import { tmuxAs } from "./tmux.ts";
import {
  findDumps,
  logLines,
  readDump,
  streamBytes,
  userOwnedDir,
} from "./proxy_recording_helpers.ts";

const user = USERS.fedora;

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What script -O logged, without its banner line and `Script done` trailer. */
function scriptOutput(bytes: Uint8Array): Uint8Array {
  const start = bytes.indexOf(0x0a) + 1;
  const text = new TextDecoder("latin1").decode(bytes);
  const end = text.lastIndexOf("\nScript done on ");
  assert.ok(start > 0 && end >= start, "not a script(1) log");
  return bytes.slice(start, end);
}

Deno.test({
  name:
    "a recorded interactive session: stdout records are exactly the bytes the client got, input is fd 0, sizes are in the geometry file and the asciicast export",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dumps = `${gw.logDir}/dumps`;
    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "${dumps}/{user}/{sid}.dump"` }),
    );
    const dir = await userOwnedDir(gw.logDir, "client", user);
    const clientLog = `${dir}/client.log`;
    const socket = `${gw.logDir}/tmux.sock`;
    const terminal = tmuxAs(user, socket);
    const client = sshArgv(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      tty: true,
    }).map(shellQuote).join(" ");
    await terminal.start(
      [`script -q -f -O ${clientLog} -c ${shellQuote(client)}`],
      { columns: 100, rows: 30 },
    );
    try {
      const prompt = await terminal.waitForPrompt();
      assert.ok(prompt, `no prompt:\n${await terminal.screen()}`);
      await terminal.typeLine("echo rec-$((6*7)); stty size");
      await terminal.waitForLine("rec-42");
      await terminal.waitForLine("30 100");
      await terminal.resizeTo(120, 40);
      await terminal.typeLine("printf 'x%.0s' $(seq 1 20000); echo; exit 3");
      assert.ok(
        await terminal.ended(10_000),
        "the session did not end after exit",
      );
    } finally {
      await terminal.kill();
    }

    const log = await waitFor(async () => {
      const text = await gw.readLog(user);
      return text.includes("disconnected") ? text : "";
    }, 5_000);
    assert.ok(log, "the session did not log its end");
    assert.match(log, /error executing proxied ssh command: exit status 3\n/);
    assert.deepEqual(logLines(log, / ERROR /).length, 1, log);
    const files = await findDumps(dumps);
    assert.equal(files.length, 1, files.join(" "));
    const { header, records } = await readDump(files[0]);
    assert.equal(new TextDecoder().decode(header.command), "");
    assert.equal(records.filter((r) => r.fd === 2).length, 0);

    const seen = scriptOutput(await Deno.readFile(clientLog));
    const recorded = streamBytes(records, 1);
    assert.equal(
      new TextDecoder().decode(recorded),
      new TextDecoder().decode(seen),
    );
    assert.deepEqual(recorded, seen);
    const typed = new TextDecoder().decode(streamBytes(records, 0));
    assert.ok(typed.includes("echo rec-$((6*7)); stty size\r"), typed);
    assert.ok(typed.endsWith("exit 3\r"), typed);
    const totals = logLines(log, "bytes transferred (final step)")[0];
    assert.ok(
      totals.endsWith(
        ` stdin=${typed.length} stdout=${recorded.length} stderr=0`,
      ),
      totals,
    );

    const geometry = await Deno.readTextFile(`${files[0]}.geometry`);
    const sizes = geometry.trim().split("\n").slice(1).map((line) =>
      line.split(" ")[1]
    );
    assert.deepEqual(sizes, ["100x30", "120x40"], geometry);

    const cast = `${gw.logDir}/session.cast`;
    // The dump is the user's (0600 in a 0700 directory): export as root.
    const exported = await new Deno.Command(gw.product.replay, {
      args: ["-asciicast", cast, files[0]],
    }).output();
    assert.equal(exported.code, 0, new TextDecoder().decode(exported.stderr));
    const lines = (await Deno.readTextFile(cast)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(lines[0].version, 2);
    assert.equal(lines[0].width, 100);
    assert.equal(lines[0].height, 30);
    const resizes = lines.slice(1).filter((event) => event[1] === "r");
    assert.deepEqual(resizes.map((event) => event[2]), ["120x40"]);
    const output = lines.slice(1).filter((event) => event[1] === "o")
      .map((event) => event[2]).join("");
    assert.equal(output, new TextDecoder().decode(recorded));
  },
});

/** A short interactive login in tmux: waits for the prompt, runs `echo term-42`, exits. */
async function shortLogin(gw: ProxyGateway): Promise<void> {
  const socket = `${gw.logDir}/tmux-short.sock`;
  const terminal = tmuxAs(user, socket);
  await terminal.start(
    sshArgv(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      tty: true,
    }),
  );
  try {
    const prompt = await terminal.waitForPrompt();
    assert.ok(prompt, `no prompt:\n${await terminal.screen()}`);
    await terminal.typeLine("echo term-$((6*7))");
    await terminal.waitForLine("term-42");
    await terminal.typeLine("exit");
    const ended = await waitFor(async () => {
      const text = await gw.readLog(user);
      return text.includes(": disconnected\n");
    }, 10_000);
    assert.ok(ended, "the session did not end");
  } finally {
    await terminal.kill();
  }
}

Deno.test({
  name:
    "without script(1) on the PATH a terminal session still works, unrecorded, with one log line",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dumps = `${gw.logDir}/dumps`;
    // The session's PATH (config `environment`) has ssh and nothing else.
    const bin = `${gw.logDir}/bin`;
    await Deno.mkdir(bin);
    await Deno.symlink("/usr/bin/ssh", `${bin}/ssh`);
    await gw.writeConfig(gw.basicConfig({
      extra: `dump: "${dumps}/{user}/{sid}.dump"
environment:
  PATH: ${bin}
`,
    }));
    await shortLogin(gw);
    const log = await gw.readLog(user);
    const lines = logLines(log, "recording");
    assert.equal(lines.length, 1, log);
    assert.match(
      lines[0],
      / ERROR [0-9A-F]{10}: session recording disabled: a terminal session is recorded through script\(1\): script: executable file not found in \$PATH$/,
    );
    assert.deepEqual(await findDumps(dumps), []);
  },
});

Deno.test({
  name:
    "dump: etcd on a terminal: no file, the session's bytes counted through script(1)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "dump: etcd\n" }));
    await shortLogin(gw);
    const log = await gw.readLog(user);
    const final = logLines(log, "bytes transferred (final step)");
    assert.equal(final.length, 1, log);
    const [, stdin, stdout, stderr] = / stdin=(\d+) stdout=(\d+) stderr=(\d+)$/
      .exec(final[0])!.map(Number);
    assert.equal(stdin, "echo term-$((6*7))\rexit\r".length, final[0]);
    assert.ok(stdout > "term-42\r\n".length, final[0]);
    assert.equal(stderr, 0);
    assert.equal(logLines(log, "recording").length, 0, log);
    const listing = await new Deno.Command("find", {
      args: [gw.logDir, "-name", "*.dump*"],
    }).output();
    assert.equal(new TextDecoder().decode(listing.stdout), "");
  },
});

Deno.test({
  name:
    "a recorded terminal session whose client vanishes ends cleanly: no script, ssh or remote command left, dump complete, stats logged",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dumps = `${gw.logDir}/dumps`;
    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "${dumps}/{user}/{sid}.dump"` }),
    );
    const socket = `${gw.logDir}/tmux-gone.sock`;
    const seconds = 100_000 + Math.floor(Math.random() * 800_000);
    const terminal = tmuxAs(user, socket);
    await terminal.start(
      sshArgv(user, {
        port: gw.gateway.ports[2023],
        host: gw.gateway.host,
        tty: true,
        command: `echo ready; sleep ${seconds}`,
      }),
    );
    const remoteSleep = async () => {
      const found: number[] = [];
      for await (const entry of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(entry.name)) continue;
        const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`)
          .catch(() => "");
        if (cmdline === `sleep\0${seconds}\0`) found.push(Number(entry.name));
      }
      return found;
    };
    const gatewayExes = () => sshdDescendantExes(gw.gateway.sshd);
    try {
      const running = await waitFor(
        async () =>
          (await remoteSleep()).length === 1 &&
          (await gatewayExes()).includes("/usr/bin/script"),
        10_000,
      );
      assert.ok(running, `not running: ${await gatewayExes()}`);
    } finally {
      // The client's terminal goes away: its ssh dies with it.
      await terminal.kill();
    }
    const ended = await waitFor(async () => {
      const exes = await gatewayExes();
      return !exes.includes("/usr/bin/script") &&
        !exes.includes("/usr/bin/ssh") && (await remoteSleep()).length === 0;
    }, 10_000);
    assert.ok(ended, `left running: ${await gatewayExes()}`);
    const log = await waitFor(async () => {
      const text = await gw.readLog(user);
      return text.endsWith(": disconnected\n") ? text : "";
    }, 5_000);
    assert.ok(log, await gw.readLog(user));
    assert.equal(logLines(log, "bytes transferred (final step)").length, 1);
    assert.equal(logLines(log, "recording").length, 0, log);
    // As without recording: sshd's SIGHUP cancels the session and ssh gets
    // SIGTERM (directly, not through script's 2 s grace), which it answers
    // with status 255 (no SIGKILL after the grace period).
    assert.match(log, /: Got signal hangup, exiting\n/);
    assert.match(
      log,
      /: error executing proxied ssh command: exit status 255\n/,
    );
    const [file] = await findDumps(dumps);
    const { records } = await readDump(file);
    assert.match(new TextDecoder().decode(streamBytes(records, 1)), /ready/);
  },
});
