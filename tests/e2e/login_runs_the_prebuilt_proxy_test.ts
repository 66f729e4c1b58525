// What a login costs, checked on the installed product rather than timed:
// sshd runs the prebuilt proxy module (app/sshproxy.js, not the sources),
// the login writes nothing into the install tree or any cache, and a
// session (stateless, registered in etcd, or routed by the agent) starts
// neither Deno's Node-compatibility layer nor any npm package (ssh2)
// beyond what an empty module run the same way starts. Timings are the benchmark's business (scripts/bench).
import assert from "node:assert/strict";
import { dirname } from "node:path";
import {
  ensureTestAccounts,
  runAs,
  spawnAs,
  sshArgv,
  sshAs,
  USERS,
} from "../harness/mod.ts";
import { e2e, proxyPids, startProxyGateway, waitFor } from "./gateway.ts";
import { installed, sharedWritableDir } from "./installed.ts";
import { prepareAgent } from "./agent_env.ts";
import { startEtcdGateways } from "./proxy_etcd_env.ts";

const user = USERS.user1;

/** Every entry under `dir` (none if it does not exist): type, mode, size, mtime, content. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const walk = async (path: string) => {
    const info = await Deno.lstat(path);
    let content = "";
    if (info.isFile) {
      const digest = await crypto.subtle.digest(
        "SHA-256",
        await Deno.readFile(path),
      );
      content = [...new Uint8Array(digest)].map((byte) =>
        byte.toString(16).padStart(2, "0")
      ).join("");
    }
    entries.set(
      path,
      `${info.isDirectory ? "d" : info.isSymlink ? "l" : "f"} ${
        info.mode?.toString(8)
      } ${info.size} ${info.mtime?.getTime()} ${content}`,
    );
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        await walk(`${path}/${entry.name}`);
      }
    }
  };
  if (await Deno.lstat(dir).then(() => true, () => false)) await walk(dir);
  return entries;
}

function changes(
  before: Map<string, string>,
  after: Map<string, string>,
): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((path) => before.get(path) !== after.get(path))
    .map((path) =>
      `${path}: ${before.get(path) ?? "(absent)"} -> ${
        after.get(path) ?? "(absent)"
      }`
    );
}

Deno.test({
  name:
    "a login through sshd runs the prebuilt proxy module and changes nothing under PREFIX/lib",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const lib = `${gw.product.prefix}/lib/sshproxy`;
    const home = (await Deno.readTextFile("/etc/passwd")).split("\n")
      .map((line) => line.split(":")).find((fields) => fields[0] === user)
      ?.[5];
    assert.ok(home, `no home for ${user}`);
    // Where a Deno left to itself would write for this user (other tests
    // may have put something there: only changes count).
    const userCaches = [`${home}/.cache/deno`, `${home}/.deno`];
    const cachesBefore = await Promise.all(userCaches.map(snapshot));
    const before = await snapshot(lib);
    const target = { port: gw.gateway.ports[2023], host: gw.gateway.host };

    // A long session: its proxy runs the prebuilt module.
    await using session = await spawnAs(
      user,
      sshArgv(user, { ...target, command: "sleep 30" }),
      { timeoutMs: 60_000 },
    );
    const proxies = await waitFor(async () => {
      const pids = await proxyPids(gw.product);
      return pids.length > 0 ? pids : undefined;
    }, 15_000);
    assert.ok(proxies, "no proxy running app/sshproxy.js showed up");
    const cmdline = (await Deno.readTextFile(`/proc/${proxies[0]}/cmdline`))
      .split("\0");
    assert.equal(cmdline[0], `${lib}/bin/deno`);
    assert.ok(
      !cmdline.some((arg) => arg.includes("/src/") || arg.endsWith(".ts")),
      `the proxy runs sources: ${cmdline.join(" ")}`,
    );
    session.kill("SIGTERM");
    await session.result();

    // A short one, start to end.
    const result = await sshAs(user, { ...target, command: "true" });
    assert.equal(result.code, 0, result.stderr);

    assert.deepEqual(changes(before, await snapshot(lib)), []);
    for (const [i, path] of userCaches.entries()) {
      assert.deepEqual(
        changes(cachesBefore[i], await snapshot(path)),
        [],
        `a login wrote under ${path}`,
      );
    }
  },
});

/** The names of the scripts V8 compiled or deserialized, from its log. */
async function loadedScripts(logPath: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const line of (await Deno.readTextFile(logPath)).split("\n")) {
    // script-details,<id>,<name>,<line>,<column>,<source map>
    const fields = line.split(",");
    if (fields[0] === "script-details" && fields[2]) names.add(fields[2]);
  }
  return names;
}

/**
 * A copy of the installed launcher that also logs V8's script events to
 * `logPath`, named `name` (the launcher picks the module by its own name);
 * with `module`, it runs that file instead of the face's module.
 */
async function loggingLauncher(
  lib: string,
  dir: string,
  name: string,
  logPath: string,
  module?: string,
): Promise<string> {
  const original = await Deno.readTextFile(`${lib}/bin/sshproxy-launcher`);
  const logging =
    `--log-function-events,--logfile=${logPath},--no-logfile-per-isolate`;
  let text = /--v8-flags=\S+/.test(original)
    ? original.replace(/--v8-flags=(\S+)/g, `--v8-flags=$1,${logging}`)
    : original.replace(/ run /g, ` run --v8-flags=${logging} `);
  if (module !== undefined) {
    text = text.replaceAll(`"$lib/app/$module.js" "$@"`, `'${module}' "$@"`);
  }
  assert.ok(text.includes(logging), "the launcher's layout changed");
  assert.ok(module === undefined || text.includes(module));
  const path = `${dir}/${name}`;
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o755);
  return path;
}

/**
 * Runs one session as `user` on `config` through a logging copy of the
 * launcher, and an empty module the same way; fails on what the session
 * loaded beyond the empty module: any module of ours but app/sshproxy.js
 * and its chunks (scripts/bundle.sh; exactly `expectedModules` of app/
 * when given), the `yaml` package's code (a simple
 * file is read without it), any Node-compatibility module, any npm
 * package.
 */
async function assertLoadsNothingExtra(
  lib: string,
  dir: string,
  config: string,
  expectedLog: RegExp,
  sessionEnv: Record<string, string> = {},
  expectedModules?: string[],
): Promise<void> {
  const env = { SSH_CONNECTION: "127.0.0.1 40000 127.0.0.1 22" };
  const sessionLog = `${dir}/session.v8.log`;
  await Deno.remove(sessionLog).catch(() => {});
  const proxy = await loggingLauncher(lib, dir, "sshproxy", sessionLog);
  const session = await runAs(user, [proxy, config], {
    env: { ...env, ...sessionEnv },
  });
  assert.equal(session.code, 0, session.stderr);
  const log = await Deno.readTextFile(`${dir}/sshproxy-${user}.log`);
  assert.match(log, expectedLog);
  assert.doesNotMatch(log, /WARNING|ERROR/);

  const empty = `${dir}/empty.js`;
  await Deno.writeTextFile(empty, "");
  await Deno.chmod(empty, 0o644);
  const emptyLog = `${dir}/empty.v8.log`;
  await Deno.remove(emptyLog).catch(() => {});
  // Named sshproxy too: the launcher gives the login face's V8 flags.
  const baseline = await loggingLauncher(
    lib,
    dir,
    "baseline/sshproxy",
    emptyLog,
    empty,
  );
  const emptyRun = await runAs(user, [baseline], { env });
  assert.equal(emptyRun.code, 0, emptyRun.stderr);

  const loaded = await loadedScripts(sessionLog);
  const runtime = await loadedScripts(emptyLog);
  const ours = [...loaded].filter((name) => name.startsWith("file:"));
  assert.ok(ours.includes(`file://${lib}/app/sshproxy.js`), ours.join(" "));
  for (const name of ours) {
    const app = `file://${lib}/app/`;
    assert.ok(
      name.startsWith(app) && !name.slice(app.length).includes("/") &&
        name.endsWith(".js"),
      `${name} is not one of the prebuilt modules`,
    );
    // The bundler names each module it takes in; the yaml package's
    // are under node_modules/.deno/yaml@.
    const source = await Deno.readTextFile(new URL(name));
    assert.doesNotMatch(
      source,
      /^\/\/ .*node_modules\/\.deno\/yaml@/m,
      `${name} holds the yaml package`,
    );
  }
  if (expectedModules !== undefined) {
    // Each module costs a login ~0.2 ms whatever its size: the chunks the
    // proxy loads first are joined into one (scripts/link_chunks.ts).
    assert.deepEqual(
      ours.map((name) => name.slice(`file://${lib}/app/`.length)).sort(),
      expectedModules,
    );
  }
  const nodeLayer = [...loaded].filter((name) =>
    (name.startsWith("ext:deno_node/") || name.startsWith("node:")) &&
    !runtime.has(name)
  );
  assert.deepEqual(nodeLayer, [], "Node-compatibility modules loaded");
  const packages = [...loaded].filter((name) =>
    name.includes("/node_modules/") || name.startsWith("npm:")
  );
  assert.deepEqual(packages, [], "npm packages loaded");
}

/** A loopback listener for the destination's health check. */
function destination(): Deno.TcpListener & { done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    for await (const connection of listener) connection.close();
  })().catch(() => {});
  return Object.assign(listener, { done });
}

Deno.test({
  name:
    "a stateless session loads no more of Deno's Node layer than an empty module, and no npm package",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const lib = `${product.prefix}/lib/sshproxy`;
    const dir = await sharedWritableDir("sshproxy-startup-");
    const listener = destination();
    try {
      const config = `${dir}/sshproxy.yaml`;
      const head = `log: ${dir}/sshproxy-{user}.log\n` +
        `dest: ["127.0.0.1:${listener.addr.port}"]\n`;
      // One session on `yaml`, with `env`: loads nothing extra.
      const session = async (
        yaml: string,
        env: Record<string, string> = {},
        expectedModules?: string[],
      ) => {
        await Deno.writeTextFile(config, yaml);
        await Deno.chmod(config, 0o644);
        await Deno.remove(`${dir}/sshproxy-${user}.log`).catch(() => {});
        await assertLoadsNothingExtra(
          lib,
          dir,
          config,
          /proxied to 127\.0\.0\.1:\d+ \(service: default\)/,
          env,
          expectedModules,
        );
      };
      await session(`${head}ssh:\n  exe: /bin/true\n`, {}, [
        "sshproxy.js",
        "sshproxy.linked.js",
      ]);
      // What sshd's ExposeAuthInfo (the README's setting) adds to every
      // login: the file is read and its key parsed, without Node's timers.
      const userAuth = `${dir}/user-auth`;
      await Deno.writeTextFile(userAuth, `publickey ${USER_AUTH_KEY}\n`);
      await Deno.chmod(userAuth, 0o644);
      await session(`${head}ssh:\n  exe: /bin/true\n`, {
        SSH_USER_AUTH: userAuth,
      });
      // A gateway's file as sites write them: a document marker first,
      // nodesets in quoted list items, overrides, translate_commands,
      // environment. Read without the yaml package too.
      await session(
        `--- # sshproxy on the gateway\n${head}` +
          `ssh:\n  exe: /bin/true\n  args: ["-q", "-Y"]\n` +
          `environment:\n  XAUTHORITY: "/tmp/.Xauthority_{user}"\n` +
          `translate_commands:\n  "/usr/lib/openssh/sftp-server":\n` +
          `    ssh_args: ["-s"]\n    command: sftp\n` +
          `overrides:\n  - match:\n      - sources: ["192.0.2.[1-2]:2022"]\n` +
          `    dest: ["visu[1-2]:22"]\n` +
          `  - match:\n      - users: [somebody-else]\n    service: other\n`,
        { SSH_ORIGINAL_COMMAND: "/usr/lib/openssh/sftp-server" },
      );
      // A recorded session: the recorder's timers are the runtime's too.
      await session(
        `${head}ssh:\n  exe: /bin/true\ndump: ${dir}/{user}-{sid}.dump\n`,
      );
      const dumps = [...Deno.readDirSync(dir)].filter((entry) =>
        entry.name.endsWith(".dump")
      );
      assert.equal(dumps.length, 1, "the session was recorded");
    } finally {
      listener.close();
      await listener.done;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// A public key as sshd writes it in the SSH_USER_AUTH file.
const USER_AUTH_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

Deno.test({
  name:
    "sessions registered in etcd, by themselves or by the agent, load no Node layer and no npm package either",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    await using agent = await prepareAgent(env.gw);
    const lib = `${env.gw.product.prefix}/lib/sshproxy`;
    const dir = env.gw.logDir;
    const listener = destination();
    try {
      // etcd, sticky: look-ups, a lease, a registration, its removal.
      await env.configure({ keyttl: 5 });
      const etcdConfig = (await Deno.readTextFile(env.gw.configPath))
        .replace(/^dest: .*$/m, `dest: ["127.0.0.1:${listener.addr.port}"]`)
        .replace(/^ssh:\n {2}args: .*$/m, "ssh:\n  exe: /bin/true");
      assert.match(etcdConfig, /exe: \/bin\/true/);
      await env.gw.writeConfig(etcdConfig);
      await assertLoadsNothingExtra(
        lib,
        dir,
        env.gw.configPath,
        /proxied to 127\.0\.0\.1:\d+ \(service: default\)/,
      );
      const registered = await Deno.readTextFile(env.gw.logPath(user));
      assert.doesNotMatch(registered, /routing without it|ERROR/);
      await Deno.remove(env.gw.logPath(user));

      // The same file through the agent: the session only asks.
      await env.gw.writeConfig(etcdConfig + agent.agentYaml());
      await agent.start();
      await assertLoadsNothingExtra(
        lib,
        dir,
        env.gw.configPath,
        /route given by the agent/,
      );
    } finally {
      listener.close();
      await listener.done;
    }
  },
});

Deno.test({
  name:
    "a session that hands off to ssh never loads Deno's process API; one that starts ssh itself does",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const lib = `${product.prefix}/lib/sshproxy`;
    const dir = await sharedWritableDir("sshproxy-handoff-load-");
    const listener = destination();
    const processApi = "ext:deno_process/40_process.js";
    try {
      const env = { SSH_CONNECTION: "127.0.0.1 40000 127.0.0.1 22" };
      const v8Log = `${dir}/session.v8.log`;
      const proxy = await loggingLauncher(lib, dir, "sshproxy", v8Log);
      const config = `${dir}/sshproxy.yaml`;
      const logPath = `${dir}/sshproxy-${user}.log`;
      const run = async (handoff: boolean) => {
        await Deno.writeTextFile(
          config,
          `log: ${logPath}\n` +
            `dest: ["127.0.0.1:${listener.addr.port}"]\n` +
            `ssh:\n  exe: /bin/true\n` + (handoff ? "handoff: true\n" : ""),
        );
        await Deno.chmod(config, 0o644);
        await Deno.remove(v8Log).catch(() => {});
        await Deno.remove(logPath).catch(() => {});
        const session = await runAs(user, [proxy, config], { env });
        assert.equal(session.code, 0, session.stderr);
        return {
          log: await Deno.readTextFile(logPath),
          loaded: await loadedScripts(v8Log),
        };
      };
      const handedOff = await run(true);
      assert.match(handedOff.log, /handed off to ssh, pid \d+/);
      assert.ok(
        !handedOff.loaded.has(processApi),
        `${processApi} loaded by a session that handed off`,
      );
      const spawned = await run(false);
      assert.match(spawned.log, /disconnected/);
      assert.ok(spawned.loaded.has(processApi), "the check sees the load");
    } finally {
      listener.close();
      await listener.done;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
