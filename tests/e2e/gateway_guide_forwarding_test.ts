// The gateway guide (README, sshproxy(8)) says how to close what sshd
// itself leaves open whatever the ForceCommand: `ssh -W dest:22 gateway`
// and `ssh -N -L ...` never run a session, so they reach internal hosts
// through the gateway's own sshd (issue 12 item 6). Proven here on a real
// gateway: without the guide's lines both work; with `DisableForwarding
// yes`, or with the variant that keeps X11 (`AllowTcpForwarding no` +
// `AllowStreamLocalForwarding no`), both are refused, and in the latter
// X11 still reaches a destination through the proxy.
import assert from "node:assert/strict";
import {
  freePort,
  run,
  sleep,
  spawnAs,
  sshArgv,
  sshAs,
  USERS,
  waitForPort,
} from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.user1;

/** The guide's two ways of closing forwarding. */
const GUIDE: Record<string, string[]> = {
  "DisableForwarding yes": ["DisableForwarding yes"],
  "AllowTcpForwarding no, AllowStreamLocalForwarding no (X11 kept)": [
    "AllowTcpForwarding no",
    "AllowStreamLocalForwarding no",
    "X11Forwarding yes",
  ],
};

/** What `ssh -W server1 gateway` prints: the destination's SSH banner, if it got through. */
async function stdioForward(gw: ProxyGateway): Promise<string> {
  const server = gw.servers.server1;
  const result = await sshAs(user, {
    port: gw.gateway.ports[2022],
    host: gw.gateway.host,
    extraArgs: ["-W", `${server.host}:${server.port}`],
  }, { stdin: "SSH-2.0-forwarding_probe\r\n", timeoutMs: 20_000 });
  assert.ok(!result.timedOut, "ssh -W hung");
  return result.stdout;
}

/** What a connection to `ssh -N -L` receives from server1: its banner, if it got through. */
async function localForward(gw: ProxyGateway): Promise<string> {
  const server = gw.servers.server1;
  const port = await freePort();
  const argv = sshArgv(user, {
    port: gw.gateway.ports[2022],
    host: gw.gateway.host,
    extraArgs: ["-N", "-L", `127.0.0.1:${port}:${server.host}:${server.port}`],
  });
  await using forwarder = await spawnAs(user, argv, { timeoutMs: 30_000 });
  assert.ok(
    await waitForPort("127.0.0.1", port, 10_000),
    "ssh -L did not listen",
  );
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const buffer = new Uint8Array(256);
    const read = await Promise.race([
      connection.read(buffer).catch(() => null),
      sleep(5_000).then(() => "silent" as const),
    ]);
    if (read === null || read === "silent") return "";
    return new TextDecoder().decode(buffer.subarray(0, read));
  } finally {
    connection.close();
    forwarder.kill("SIGKILL");
  }
}

Deno.test({
  name:
    "without the guide's lines, ssh -W and ssh -N -L reach a destination through the gateway's sshd",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    assert.match(await stdioForward(gw), /^SSH-2\.0-OpenSSH/);
    assert.match(await localForward(gw), /^SSH-2\.0-OpenSSH/);
  },
});

for (const [name, lines] of Object.entries(GUIDE)) {
  Deno.test({
    name:
      `a gateway configured as the guide says (${name}) refuses ssh -W and -L`,
    ...e2e,
    async fn() {
      await using gw = await startProxyGateway({ gatewayExtraConfig: lines });
      await gw.writeConfig(gw.basicConfig());
      assert.equal(await stdioForward(gw), "");
      assert.equal(await localForward(gw), "");
      // Sessions still go through the proxy.
      const login = await sshAs(user, {
        port: gw.gateway.ports[2022],
        host: gw.gateway.host,
        command: "echo on-$SSHPROXY_TEST_HOST",
      });
      assert.equal(login.code, 0, login.stderr);
      assert.equal(login.stdout, "on-server1\n");
    },
  });
}

/** An Xvfb on a free display, reachable by anyone (-ac), for the client side. */
async function startXvfb() {
  // Debian packages xvfb, x11-utils and xauth (scripts/setup.sh --services).
  for (const tool of ["/usr/bin/Xvfb", "/usr/bin/xdpyinfo", "/usr/bin/xauth"]) {
    assert.equal(
      (await run(["test", "-x", tool])).code,
      0,
      `${tool} is missing: apt-get install -y xvfb x11-utils xauth`,
    );
  }
  let display = 0;
  for (let n = 60; n < 120 && display === 0; n++) {
    const taken = await Deno.lstat(`/tmp/.X${n}-lock`).then(
      () => true,
      () => false,
    );
    if (!taken) display = n;
  }
  assert.ok(display > 0, "no free X display");
  const xvfb = new Deno.Command("/usr/bin/Xvfb", {
    args: [
      `:${display}`,
      "-ac",
      "-nolisten",
      "tcp",
      "-screen",
      "0",
      "640x480x8",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const socket = `/tmp/.X11-unix/X${display}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await Deno.lstat(socket).then(() => true, () => false)) break;
    await sleep(50);
  }
  return {
    display: `:${display}`,
    async stop() {
      try {
        xvfb.kill("SIGTERM");
      } catch {
        // already gone
      }
      await xvfb.status;
    },
  };
}

Deno.test({
  name:
    "with the X11-keeping variant, X11 still reaches a destination through the proxy",
  ...e2e,
  async fn() {
    const xvfb = await startXvfb();
    try {
      await using gw = await startProxyGateway({
        gatewayExtraConfig: GUIDE[Object.keys(GUIDE)[1]],
        destinationExtraConfig: ["X11Forwarding yes"],
      });
      const args = `[${
        ["-q", "-Y", ...gw.sshArgs].map((a) => JSON.stringify(a)).join(", ")
      }]`;
      await gw.writeConfig(
        gw.basicConfig().replace(`args: ${gw.sshArgsYaml}`, `args: ${args}`),
      );
      const result = await sshAs(user, {
        port: gw.gateway.ports[2022],
        host: gw.gateway.host,
        extraArgs: ["-Y"],
        command: "xdpyinfo | grep dimensions:",
      }, { env: { DISPLAY: xvfb.display }, timeoutMs: 30_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /dimensions: +640x480 pixels/);
    } finally {
      await xvfb.stop();
    }
  },
});
