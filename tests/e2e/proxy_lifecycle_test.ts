// How a session's processes start and, above all, end: the background
// command, the client vanishing (TestMainSSHDied), and the signals sshd or
// an admin sends to the proxy. Nothing may be left running on the gateway.
import assert from "node:assert/strict";
import {
  type RunningCommand,
  sleep,
  spawnAs,
  sshArgv,
  sshAs,
  USERS,
} from "../harness/mod.ts";
import { descendants } from "../harness/process.ts";
import {
  alive,
  e2e,
  type ProxyGateway,
  proxyPids,
  startProxyGateway,
  waitFor,
} from "./gateway.ts";

const user = USERS.fedora;

/** pids whose argv is exactly `argv` (any program path for argv[0]'s basename). */
async function processesRunning(argv: string[]): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`)
      .catch(() => "");
    const words = cmdline.split("\0").slice(0, -1);
    if (
      words.length === argv.length &&
      words[0].split("/").pop() === argv[0] &&
      words.slice(1).every((w, i) => w === argv[i + 1]) &&
      await alive(Number(entry.name))
    ) {
      found.push(Number(entry.name));
    }
  }
  return found;
}

/** Kills (by pid) whatever still runs `argv`: a failed test must not leave it behind. */
async function killLeftovers(argv: string[]): Promise<void> {
  for (const pid of await processesRunning(argv)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Disposing it kills what still runs any of `argvs` (by pid). */
function reaper(...argvs: string[][]): AsyncDisposable {
  return {
    async [Symbol.asyncDispose]() {
      for (const argv of argvs) await killLeftovers(argv);
    },
  };
}

/** A random number no other run or test uses as a sleep duration. */
function uniqueSeconds(): number {
  return 100_000 + Math.floor(Math.random() * 800_000);
}

/** `ssh` through the gateway's proxy port running `command`, as the test user (30 s at most). */
function startLogin(
  gw: ProxyGateway,
  command: string,
): Promise<RunningCommand> {
  return spawnAs(
    user,
    sshArgv(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command,
    }),
    { timeoutMs: 30_000 },
  );
}

/** Starts `sleep 60` through the gateway and waits until it runs on the destination. */
async function longSession(
  gw: ProxyGateway,
): Promise<{ session: RunningCommand; proxy: number; ssh: number }> {
  const session = await startLogin(gw, "sleep 60");
  const proxies = await waitFor(async () => {
    const pids = await proxyPids(gw.product);
    return pids.length > 0 && (await gw.gatewaySshPids()).length > 0
      ? pids
      : undefined;
  }, 10_000);
  assert.ok(proxies, "the proxy and its ssh never showed up on the gateway");
  assert.equal(proxies.length, 1, `proxies: ${proxies}`);
  const sshChildren = [];
  for (const pid of await descendants(proxies)) {
    const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
    if (exe === "/usr/bin/ssh") sshChildren.push(pid);
  }
  assert.equal(sshChildren.length, 1, "the proxy should run one ssh");
  return { session, proxy: proxies[0], ssh: sshChildren[0] };
}

Deno.test({
  name:
    "bg_command runs during the session and it and its children are gone within 3 s after",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const seconds = uniqueSeconds();
    const script = `${gw.logDir}/bg.sh`;
    // A parent with a child, both identifiable by their unique durations.
    await Deno.writeTextFile(
      script,
      `sleep "$1" &\nsleep "$(($1 + 1))"\nwait\n`,
    );
    await gw.writeConfig(
      gw.basicConfig({ extra: `bg_command: /bin/sh ${script} ${seconds}` }),
    );
    const parent = ["sleep", String(seconds + 1)];
    const child = ["sleep", String(seconds)];
    await using _reaper = reaper(parent, child);
    const session = await startLogin(gw, "sleep 2; echo $SSHPROXY_TEST_HOST");
    const during = await waitFor(
      async () =>
        (await processesRunning(parent)).length === 1 &&
        (await processesRunning(child)).length === 1,
      5_000,
    );
    assert.ok(during, "bg_command's processes did not run during the session");
    const result = await session.result();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "server1\n");
    const gone = await waitFor(
      async () =>
        (await processesRunning(parent)).length === 0 &&
        (await processesRunning(child)).length === 0,
      3_000,
    );
    assert.ok(
      gone,
      `left running: ${await processesRunning(parent)} ${await processesRunning(
        child,
      )}`,
    );
  },
});

Deno.test({
  name:
    "a bg_command that cannot start is logged as an ERROR and the session still works",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({ extra: "bg_command: /nonexistent/sshproxy-bg 1" }),
    );
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: "echo $SSHPROXY_TEST_HOST",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "server1\n");
    const log = await gw.readLog(user);
    assert.match(
      log,
      / ERROR [0-9A-F]{10}: error running background command: .*\/nonexistent\/sshproxy-bg/,
      log,
    );
    assert.match(log, /proxied to/);
  },
});

Deno.test({
  name:
    "with debug, bg_command's output lines are logged at DEBUG and its failure during the session as ERROR",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const script = `${gw.logDir}/bg-fails.sh`;
    await Deno.writeTextFile(
      script,
      `echo "  out line  "\necho err line >&2\nexit 3\n`,
    );
    await gw.writeConfig(
      gw.basicConfig({ extra: `debug: true\nbg_command: /bin/sh ${script}` }),
    );
    const result = await sshAs(user, {
      port: gw.gateway.ports[2023],
      host: gw.gateway.host,
      command: "sleep 1; echo $SSHPROXY_TEST_HOST",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "server1\n");
    const log = await gw.readLog(user);
    assert.match(log, / DEBUG [0-9A-F]{10}: bg_command\.stdout: out line\n/);
    assert.match(log, / DEBUG [0-9A-F]{10}: bg_command\.stderr: err line\n/);
    assert.match(
      log,
      / ERROR [0-9A-F]{10}: error running background command: exit status 3\n/,
    );
  },
});

for (const log of ["file", "default"] as const) {
  Deno.test({
    name:
      `when the client vanishes, no proxy, gateway ssh or bg_command remain within 3 s (TestMainSSHDied, ${log} log)`,
    ...e2e,
    async fn() {
      await using gw = await startProxyGateway();
      const seconds = uniqueSeconds();
      const background = ["sleep", String(seconds)];
      await using _reaper = reaper(background);
      // The default log writes to the session's stderr, which is gone too.
      await gw.writeConfig(
        gw.basicConfig({
          ...(log === "default" ? { log: "" } : {}),
          extra: `bg_command: /bin/sleep ${seconds}`,
        }),
      );
      const { session } = await longSession(gw);
      assert.equal((await processesRunning(background)).length, 1);
      session.kill("SIGKILL");
      await session.result();
      const clean = await waitFor(
        async () =>
          (await proxyPids(gw.product)).length === 0 &&
          (await gw.gatewaySshPids()).length === 0 &&
          (await processesRunning(background)).length === 0,
        3_000,
      );
      assert.ok(
        clean,
        `left: proxies ${await proxyPids(gw.product)}, ssh ${await gw
          .gatewaySshPids()}, bg_command ${await processesRunning(background)}`,
      );
      if (log === "file") {
        const text = await waitFor(async () => {
          const text = await gw.readLog(user);
          return text.includes("disconnected") ? text : "";
        }, 1_000);
        assert.match(text, / INFO [0-9A-F]{10}: disconnected\n$/);
      }
    },
  });
}

/** Starts a session whose blocking command is `sleep <unique>`; waits until it runs. */
async function blockedSession(gw: ProxyGateway) {
  const seconds = uniqueSeconds();
  const blocking = ["sleep", String(seconds)];
  await gw.writeConfig(
    gw.basicConfig({ extra: `blocking_command: /bin/sleep ${seconds}` }),
  );
  const session = await startLogin(gw, "echo $SSHPROXY_TEST_HOST");
  const proxies = await waitFor(async () => {
    const pids = await proxyPids(gw.product);
    return (await processesRunning(blocking)).length === 1 ? pids : undefined;
  }, 10_000);
  assert.ok(proxies, "the blocking command never started");
  assert.equal(proxies.length, 1);
  return {
    session,
    proxy: proxies[0],
    blockingLeft: () => processesRunning(blocking),
    leftovers: reaper(blocking),
  };
}

Deno.test({
  name:
    "when the client vanishes during a long blocking_command, it and the proxy are gone within 3 s and ssh never starts",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const { session, proxy, blockingLeft, leftovers } = await blockedSession(
      gw,
    );
    await using _leftovers = leftovers;
    await using _ = session;
    session.kill("SIGKILL");
    await session.result();
    const clean = await waitFor(
      async () => (await blockingLeft()).length === 0 && !(await alive(proxy)),
      3_000,
    );
    assert.ok(
      clean,
      `left: blocking ${await blockingLeft()}, proxy alive ${await alive(
        proxy,
      )}`,
    );
    assert.deepEqual(await gw.gatewaySshPids(), []);
    const log = await gw.readLog(user);
    assert.doesNotMatch(log, /proxied to/);
    const notices = log.match(/SSH parent connection is dead|Got signal/g);
    assert.equal(notices?.length, 1, log);
    assert.match(log, / INFO [0-9A-F]{10}: disconnected\n$/);
  },
});

Deno.test({
  name:
    "SIGTERM during a long blocking_command ends it and the proxy within 1 s",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const { session, proxy, blockingLeft, leftovers } = await blockedSession(
      gw,
    );
    await using _leftovers = leftovers;
    await using _ = session;
    Deno.kill(proxy, "SIGTERM");
    const ended = await waitFor(
      async () => (await blockingLeft()).length === 0 && !(await alive(proxy)),
      1_000,
    );
    assert.ok(
      ended,
      "the blocking command or the proxy outlived SIGTERM by 1 s",
    );
    const result = await session.result();
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, "", "the session must not reach server1");
    const log = await gw.readLog(user);
    assert.match(log, / INFO [0-9A-F]{10}: Got signal terminated, exiting\n/);
    assert.doesNotMatch(log, /proxied to/);
  },
});

for (
  const [signal, name] of [["SIGHUP", "hangup"], ["SIGTERM", "terminated"]] as [
    Deno.Signal,
    string,
  ][]
) {
  Deno.test({
    name:
      `${signal} to the proxy terminates its ssh and the proxy exits within 1 s`,
    ...e2e,
    async fn() {
      await using gw = await startProxyGateway();
      await gw.writeConfig(gw.basicConfig());
      const { session, proxy, ssh } = await longSession(gw);
      await using _ = session;
      // Let the session settle into its wait before the signal.
      await sleep(200);
      Deno.kill(proxy, signal);
      const ended = await waitFor(
        async () => !(await alive(proxy)) && !(await alive(ssh)),
        1_000,
      );
      assert.ok(
        ended,
        `after 1 s: proxy alive ${await alive(proxy)}, ssh alive ${await alive(
          ssh,
        )}`,
      );
      const result = await session.result();
      assert.notEqual(result.code, 0);
      const log = await gw.readLog(user);
      assert.match(
        log,
        new RegExp(` INFO [0-9A-F]{10}: Got signal ${name}, exiting\n`),
      );
      assert.match(log, / INFO [0-9A-F]{10}: disconnected\n$/);
    },
  });
}

Deno.test({
  name:
    "SIGTERM while etcd keeps the login waiting: ssh never starts, the proxy says why and exits",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    // An etcd that takes connections and reads requests, never answering.
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    let received = 0;
    const accepting = (async () => {
      for await (const connection of silent) {
        held.push(connection);
        (async () => {
          const buffer = new Uint8Array(4096);
          for (;;) {
            const count = await connection.read(buffer);
            if (count === null) return;
            received += count;
          }
        })().catch(() => {});
      }
    })().catch(() => {});
    try {
      await gw.writeConfig(gw.basicConfig({
        extra: `etcd:\n  endpoints: ["http://127.0.0.1:${silent.addr.port}"]\n`,
      }));
      const session = await startLogin(gw, "echo $SSHPROXY_TEST_HOST");
      await using _ = session;
      // The proxy's first request is out: it now waits for etcd.
      const proxies = await waitFor(
        async () => received > 0 ? await proxyPids(gw.product) : undefined,
        10_000,
      );
      assert.ok(proxies, "the proxy never asked etcd");
      assert.equal(proxies.length, 1, `proxies: ${proxies}`);
      await sleep(100);
      Deno.kill(proxies[0], "SIGTERM");
      const result = await session.result();
      assert.notEqual(result.code, 0);
      assert.equal(result.stdout, "", "the session must not reach server1");
      assert.deepEqual(await gw.gatewaySshPids(), []);
      const log = await gw.readLog(user);
      assert.match(log, / INFO [0-9A-F]{10}: Got signal terminated, exiting\n/);
      assert.doesNotMatch(log, /proxied to/);
      assert.match(log, / INFO [0-9A-F]{10}: disconnected\n$/);
    } finally {
      silent.close();
      for (const connection of held) {
        try {
          connection.close();
        } catch {
          // closed by the proxy's end
        }
      }
      await accepting;
    }
  },
});
