// Which destination a session reaches when some are missing: a nodeset
// `dest` expanded to two hosts sharing a port, dead ports and names that do
// not resolve skipped under `ordered` and `random`, and the error banner
// when nothing is left.
import assert from "node:assert/strict";
import { freePort, sshAs, startSshd, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.fedora;

async function whereTo(gw: ProxyGateway) {
  return await sshAs(user, {
    port: gw.gateway.ports[2023],
    host: gw.gateway.host,
    command: "echo $SSHPROXY_TEST_HOST",
  });
}

/** A port free on both addresses (the kernel picks it on the first). */
async function portFreeOnBoth(first: string, second: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(first);
    try {
      Deno.listen({ hostname: second, port, transport: "tcp" }).close();
      return port;
    } catch {
      // Taken on the second address: try another.
    }
  }
  throw new Error(`no port free on both ${first} and ${second}`);
}

Deno.test({
  name:
    "a nodeset dest 127.0.0.[21-22]:PORT goes to .21 first, then to .22 when .21 stops",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const port = await portFreeOnBoth("127.0.0.21", "127.0.0.22");
    const start = (host: string, name: string) =>
      startSshd({
        name,
        listen: [{ host, port }],
        setEnv: { SSHPROXY_TEST_HOST: name },
      });
    const node21 = await start("127.0.0.21", "node21");
    await using _node22 = await start("127.0.0.22", "node22");
    try {
      await gw.writeConfig(
        gw.basicConfig({
          dest: [`127.0.0.[21-22]:${port}`],
          extra: "route_select: ordered",
        }),
      );
      const first = await whereTo(gw);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, "node21\n");
    } finally {
      await node21.stop();
    }
    const second = await whereTo(gw);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, "node22\n");
    const log = await gw.readLog(user);
    assert.match(
      log,
      new RegExp(`cannot connect to 127\\.0\\.0\\.21:${port}: `),
    );
    assert.match(log, new RegExp(`proxied to 127\\.0\\.0\\.22:${port} `));
  },
});

Deno.test({
  name:
    "a dead destination is skipped under ordered and under random (always the live one)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dead = `127.0.0.1:${await freePort("127.0.0.1")}`;
    const live = gw.servers.server1.address;
    await gw.writeConfig(
      gw.basicConfig({ dest: [dead, live], extra: "route_select: ordered" }),
    );
    const ordered = await whereTo(gw);
    assert.equal(ordered.code, 0, ordered.stderr);
    assert.equal(ordered.stdout, "server1\n");
    assert.match(
      await gw.readLog(user),
      new RegExp(
        ` INFO [0-9A-F]{10}: cannot connect to ${dead}: dial tcp ${dead}: connect: connection refused\n`,
      ),
    );

    await gw.writeConfig(
      gw.basicConfig({ dest: [dead, live], extra: "route_select: random" }),
    );
    for (let i = 0; i < 6; i++) {
      const random = await whereTo(gw);
      assert.equal(random.code, 0, random.stderr);
      assert.equal(random.stdout, "server1\n", `random session ${i}`);
    }
  },
});

Deno.test({
  name: "a destination whose name does not resolve counts as down",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({
        dest: ["no-such-host.invalid:22", gw.servers.server2.address],
        extra: "route_select: ordered",
      }),
    );
    const result = await whereTo(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "server2\n");
    assert.match(
      await gw.readLog(user),
      / INFO [0-9A-F]{10}: cannot connect to no-such-host\.invalid:22: dial tcp: lookup no-such-host\.invalid: no such host\n/,
    );
  },
});

Deno.test({
  name:
    "with every destination dead the user gets the multi-line error_banner on stdout and a failure",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dead = `127.0.0.1:${await freePort("127.0.0.1")}`;
    const banner = "All nodes are down.\n  Please retry later: 'maint' #42";
    await gw.writeConfig(
      gw.basicConfig({
        dest: [dead, "no-such-host.invalid:22"],
        extra: `error_banner: |-\n${
          banner.split("\n").map((l) => `  ${l}`).join("\n")
        }`,
      }),
    );
    const result = await whereTo(gw);
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, `${banner}\n`);
    const log = await gw.readLog(user);
    assert.match(
      log,
      / CRITICAL [0-9A-F]{10}: Cannot find a valid destination\n/,
    );
    assert.doesNotMatch(log, /proxied to/);
  },
});
