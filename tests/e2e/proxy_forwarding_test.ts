// X11 and agent forwarding through the gateway, end to end (issue 11 item
// 3): the client's own X server (an Xvfb this test starts, on a display
// number only the client knows) is reached from the destination through
// both hops, and the client's ssh-agent is listed on the destination and
// authenticates the gateway → destination hop, when `ssh.args` asks for the
// forwarding (the reference passes `-Y` by default) and only then.
import assert from "node:assert/strict";
import {
  ensureTestAccounts,
  run,
  runAs,
  type RunningCommand,
  spawnAs,
  SSH_OPTIONS,
  sshAs,
  USERS,
} from "../harness/mod.ts";
import { withTimeout } from "../harness/process.ts";
import { e2e, startProxyGateway, waitFor } from "./gateway.ts";

const USER = USERS.fedora;

/** `ssh.args` as a YAML flow list: `flags`, then the harness's options. */
function sshArgs(...flags: string[]): string {
  return `[${
    ["-q", ...flags, ...SSH_OPTIONS].map((a) => JSON.stringify(a)).join(", ")
  }]`;
}

/** Fails with the Debian package to install when a tool is missing. */
async function requirePackageTool(path: string, pkg: string): Promise<string> {
  try {
    if ((await Deno.stat(path)).isFile) return path;
  } catch {
    // Reported below.
  }
  throw new Error(
    `${path} is missing; install it with "apt-get install -y ${pkg}" (scripts/setup.sh --services does)`,
  );
}

/** A directory only `USER` (and root) can enter. */
async function userDir(prefix: string): Promise<string> {
  const { uid, gid } = (await ensureTestAccounts())[USER];
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chown(dir, uid, gid);
  return dir;
}

/** The client's X display: an Xvfb with a geometry and a root property of its own. */
interface ClientDisplay {
  /** ":N", as the client's DISPLAY. */
  display: string;
  /** Environment the client runs with (DISPLAY, XAUTHORITY). */
  env: Record<string, string>;
  /** Screen size given to Xvfb, e.g. "1234x567". */
  geometry: string;
  /** Value of the root window property SSHPROXY_E2E_NONCE. */
  nonce: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts Xvfb (its own display number, chosen by Xvfb with -displayfd),
 * gives the client an Xauthority file with the server's cookie and sets a
 * random property on the root window: something only this display has.
 */
async function startClientDisplay(): Promise<ClientDisplay> {
  const xvfb = await requirePackageTool("/usr/bin/Xvfb", "xvfb");
  const xauth = await requirePackageTool("/usr/bin/xauth", "xauth");
  const xprop = await requirePackageTool("/usr/bin/xprop", "x11-utils");
  const dir = await userDir("sshproxy-e2e-x11-");
  const serverAuth = `${dir}/server.xauth`;
  const clientAuth = `${dir}/client.xauth`;
  const cookie = [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  // Xvfb accepts every cookie in its -auth file, whatever display it names.
  await run([xauth, "-f", serverAuth, "add", ":0", ".", cookie]);
  const geometry = `${1100 + Math.floor(Math.random() * 400)}x${
    500 + Math.floor(Math.random() * 200)
  }`;
  const child = new Deno.Command(xvfb, {
    args: [
      ...["-displayfd", "1", "-auth", serverAuth, "-nolisten", "tcp"],
      // No reset when the last client leaves: the root property must stay.
      "-noreset",
      ...["-screen", "0", `${geometry}x24`],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    // -displayfd: Xvfb writes its display number once it accepts clients.
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    const readLine = async () => {
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
      }
    };
    const waited = await withTimeout(readLine(), 15_000);
    reader.releaseLock();
    const number = text.trim();
    if (!waited.done || !/^\d+$/.test(number)) {
      throw new Error(`Xvfb did not report a display (got "${text}")`);
    }
    const display = `:${number}`;
    await run([xauth, "-f", clientAuth, "add", display, ".", cookie]);
    const { uid, gid } = (await ensureTestAccounts())[USER];
    await Deno.chown(clientAuth, uid, gid);
    const env = { DISPLAY: display, XAUTHORITY: clientAuth };
    const nonce = crypto.randomUUID();
    const set = await runAs(USER, [
      xprop,
      ...["-root", "-f", "SSHPROXY_E2E_NONCE", "8s"],
      ...["-set", "SSHPROXY_E2E_NONCE", nonce],
    ], { env, timeoutMs: 15_000 });
    if (!set.ok) throw new Error(`xprop -set on ${display}: ${set.stderr}`);
    return { display, env, geometry, nonce, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Entries of the user's ~/.Xauthority, which the gateway's and the
 * destination's sshd extend with their forwarded displays' cookies.
 */
async function xauthorityEntries(): Promise<string[]> {
  const { home } = (await ensureTestAccounts())[USER];
  const result = await runAs(USER, [
    "/usr/bin/xauth",
    ...["-f", `${home}/.Xauthority`, "-n", "list"],
  ]);
  return result.stdout.split("\n").filter((line) => line.trim() !== "");
}

/** Removes the entries added since `before` (the file too when it was absent). */
async function restoreXauthority(before: string[]): Promise<void> {
  const { home } = (await ensureTestAccounts())[USER];
  const file = `${home}/.Xauthority`;
  const added = (await xauthorityEntries()).filter((e) => !before.includes(e));
  for (const entry of added) {
    await runAs(USER, [
      "/usr/bin/xauth",
      "-f",
      file,
      "-n",
      "remove",
      entry.split(/\s+/)[0],
    ]);
  }
  if (before.length === 0) await Deno.remove(file).catch(() => {});
}

/** What the destination reports about the display it was given. */
const X11_PROBE = [
  'echo "host=$SSHPROXY_TEST_HOST display=$DISPLAY"',
  'xdpyinfo | grep "dimensions:"',
  "xprop -root SSHPROXY_E2E_NONCE",
].join("; ");

Deno.test({
  name:
    "ssh -X through the gateway reaches the client's own X display from the destination, when ssh.args has -Y",
  ...e2e,
  async fn() {
    await requirePackageTool("/usr/bin/xdpyinfo", "x11-utils");
    const before = await xauthorityEntries();
    try {
      await using gw = await startProxyGateway({ x11Forwarding: true });
      await using client = await startClientDisplay();
      const login = () =>
        sshAs(USER, {
          host: gw.gateway.host,
          port: gw.gateway.ports[2022],
          extraArgs: ["-X"],
          command: X11_PROBE,
        }, { env: client.env, timeoutMs: 30_000 });

      // The reference's default flags, plus the harness's host-key options.
      await gw.writeConfig(
        gw.basicConfig().replace(gw.sshArgsYaml, sshArgs("-Y")),
      );
      const forwarded = await login();
      assert.equal(forwarded.code, 0, forwarded.stderr);
      const display = /display=(\S*)/.exec(forwarded.stdout)?.[1] ?? "";
      // A display sshd forwards on the destination, not the client's own.
      assert.match(display, /^localhost:\d+\.0$/, forwarded.stdout);
      assert.notEqual(display, client.display);
      assert.match(forwarded.stdout, /host=server1 /);
      assert.match(
        forwarded.stdout,
        new RegExp(`dimensions:\\s+${client.geometry} pixels`),
      );
      assert.match(
        forwarded.stdout,
        new RegExp(`SSHPROXY_E2E_NONCE\\(STRING\\) = "${client.nonce}"`),
      );

      // Without -Y (or -X) in ssh.args the destination gets no display.
      await gw.writeConfig(gw.basicConfig());
      const plain = await login();
      assert.match(plain.stdout, /host=server1 display=\n/, plain.stderr);
      assert.doesNotMatch(plain.stdout, new RegExp(client.nonce));
    } finally {
      await restoreXauthority(before);
    }
  },
});

/** The client's ssh-agent, holding a key whose private half is nowhere else. */
interface ClientAgent {
  /** SSH_AUTH_SOCK for the client. */
  socket: string;
  /** The key's public line. */
  publicKey: string;
  /** `ssh-keygen -l` fingerprint (SHA256:...). */
  fingerprint: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts ssh-agent as the user, loads a fresh key into it and deletes the key file. */
async function startClientAgent(): Promise<ClientAgent> {
  const dir = await userDir("sshproxy-e2e-agent-");
  const socket = `${dir}/agent.sock`;
  let agent: RunningCommand | undefined;
  const stop = async () => {
    if (agent) {
      agent.kill("SIGKILL");
      await agent.result();
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const key = `${dir}/agent_key`;
    const keygen = await runAs(USER, [
      "/usr/bin/ssh-keygen",
      ...["-q", "-t", "ed25519", "-N", "", "-C", "sshproxy-e2e-agent-key"],
      ...["-f", key],
    ]);
    assert.equal(keygen.code, 0, keygen.stderr);
    agent = await spawnAs(USER, ["/usr/bin/ssh-agent", "-D", "-a", socket], {
      timeoutMs: 300_000,
    });
    const listening = await waitFor(
      () => Deno.stat(socket).then((s) => s.isSocket, () => false),
      10_000,
    );
    if (!listening) throw new Error(`ssh-agent did not create ${socket}`);
    const added = await runAs(USER, ["/usr/bin/ssh-add", "-q", key], {
      env: { SSH_AUTH_SOCK: socket },
    });
    assert.equal(added.code, 0, added.stderr);
    const publicKey = (await Deno.readTextFile(`${key}.pub`)).trim();
    const fingerprint =
      (await run(["/usr/bin/ssh-keygen", "-l", "-f", `${key}.pub`])).stdout
        .split(" ")[1];
    assert.match(fingerprint, /^SHA256:/);
    // From here on the private key exists only in the agent's memory.
    await Deno.remove(key);
    await Deno.remove(`${key}.pub`);
    return {
      socket,
      publicKey,
      fingerprint,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `text` as a regular expression matching itself. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** server2's loopback address in the harness topology. */
const SERVER2_HOST = "127.0.0.12";

Deno.test({
  name:
    "ssh -A through the gateway: the hop authenticates with the client's forwarded agent, and the destination lists the agent's key when ssh.args has -A, sees no agent without",
  ...e2e,
  async fn() {
    // server2 accepts only the agent's key: the user's own key, which the
    // gateway hop would otherwise offer from ~/.ssh, is not authorised there.
    const keysDir = await Deno.makeTempDir({ prefix: "sshproxy-e2e-keys-" });
    await Deno.chmod(keysDir, 0o755);
    const agentOnlyKeys = `${keysDir}/authorized_keys`;
    try {
      await using gw = await startProxyGateway({
        agentForwarding: true,
        destinationExtraConfig: [
          `Match LocalAddress ${SERVER2_HOST}`,
          `AuthorizedKeysFile ${agentOnlyKeys}`,
        ],
      });
      assert.equal(gw.servers.server2.host, SERVER2_HOST);
      await using agent = await startClientAgent();
      await Deno.writeTextFile(agentOnlyKeys, `${agent.publicKey}\n`);
      await Deno.chmod(agentOnlyKeys, 0o644);
      const { publicKey: ownKey } = (await ensureTestAccounts())[USER];
      assert.notEqual(ownKey, agent.publicKey);

      const login = (forwardAgent: boolean, command: string) =>
        sshAs(USER, {
          host: gw.gateway.host,
          port: gw.gateway.ports[2022],
          extraArgs: [forwardAgent ? "-A" : "-a"],
          command,
        }, { env: { SSH_AUTH_SOCK: agent.socket }, timeoutMs: 30_000 });
      const configure = (args: string, dest: string) =>
        gw.writeConfig(
          gw.basicConfig({ dest: [dest] }).replace(gw.sshArgsYaml, args),
        );
      const probe =
        'echo "host=$SSHPROXY_TEST_HOST sock=$SSH_AUTH_SOCK"; ssh-add -l; echo "status=$?"';

      // -A in ssh.args: the destination sees the client's agent.
      await configure(sshArgs("-A"), gw.servers.server1.address);
      const listed = await login(true, probe);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /host=server1 sock=\/\S+/);
      assert.match(
        listed.stdout,
        new RegExp(
          `${escape(agent.fingerprint)} sshproxy-e2e-agent-key \\(ED25519\\)`,
        ),
      );
      assert.match(listed.stdout, /status=0/);

      // The gateway hop to server2 authenticates with the forwarded agent...
      await configure(sshArgs("-A"), gw.servers.server2.address);
      const viaAgent = await login(true, 'echo "host=$SSHPROXY_TEST_HOST"');
      assert.equal(viaAgent.code, 0, viaAgent.stderr);
      assert.equal(viaAgent.stdout.trim(), "host=server2");
      // ...and cannot without it: the user's key on the gateway is refused.
      const noAgent = await login(false, 'echo "host=$SSHPROXY_TEST_HOST"');
      assert.equal(noAgent.code, 255, noAgent.stdout + noAgent.stderr);
      assert.doesNotMatch(noAgent.stdout, /server2/);

      // Without -A in ssh.args the destination sees no agent, even though
      // the client forwarded it to the gateway...
      await configure(sshArgs(), gw.servers.server1.address);
      const unlisted = await login(true, probe);
      assert.equal(unlisted.code, 0, unlisted.stderr);
      assert.match(unlisted.stdout, /host=server1 sock=\n/);
      assert.match(unlisted.stdout, /status=2/);
      assert.doesNotMatch(
        unlisted.stdout,
        new RegExp(escape(agent.fingerprint)),
      );
      // The hop itself still authenticates with the agent the client
      // forwarded to the gateway (ssh offers SSH_AUTH_SOCK's keys whatever
      // -A says); the agent just goes no further.
      await configure(sshArgs(), gw.servers.server2.address);
      const hopOnly = await login(
        true,
        'echo "host=$SSHPROXY_TEST_HOST sock=$SSH_AUTH_SOCK"',
      );
      assert.equal(hopOnly.code, 0, hopOnly.stderr);
      assert.equal(hopOnly.stdout.trim(), "host=server2 sock=");
    } finally {
      await Deno.remove(keysDir, { recursive: true }).catch(() => {});
    }
  },
});
