// The SSH health checks against a real sshd and against TCP listeners
// that accept and then stay silent, talk HTTP, close at once, or send only
// a banner (health_check: ssh / ssh-kex, issue 4 item 3).
import assert from "node:assert/strict";
import { freePort, startSshd } from "../harness/mod.ts";
import { tcpProbe } from "../../src/route/health_check.ts";
import { sshBannerProbe, sshKexProbe } from "../../src/route/ssh_probe.ts";

const options = { sanitizeOps: false, sanitizeResources: false };

/** A listener answering each connection with `reply` (then optionally closing). */
function fakeServer(
  reply: (connection: Deno.TcpConn) => Promise<void>,
): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.TcpConn[] = [];
  (async () => {
    for await (const connection of listener) {
      held.push(connection);
      reply(connection).catch(() => {});
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const connection of held) {
        try {
          connection.close();
        } catch {
          // closed by the reply
        }
      }
    },
  };
}

const silent = () => new Promise<void>(() => {});
const text = (value: string) => new TextEncoder().encode(value);

Deno.test({
  name: "a real sshd passes the banner probe and the key exchange probe",
  ...options,
  async fn() {
    const port = await freePort("127.0.0.1");
    await using sshd = await startSshd({
      name: "probe",
      listen: [{ host: "127.0.0.1", port }],
    });
    const banner = await sshBannerProbe("127.0.0.1", port, 1000);
    assert.ok(banner.ok, !banner.ok ? banner.error : "");
    assert.match(banner.value, /^SSH-2\.0-OpenSSH/);
    const kex = await sshKexProbe("127.0.0.1", port, 2000);
    assert.ok(kex.ok, !kex.ok ? kex.error : "");
    assert.match(kex.value, /OpenSSH/);
    assert.ok(sshd.name);
  },
});

Deno.test({
  name:
    "a listener that accepts and stays silent is up for tcp, down for ssh within the timeout",
  ...options,
  async fn() {
    const server = fakeServer(silent);
    try {
      assert.ok((await tcpProbe("127.0.0.1", server.port, 1000)).ok);
      const started = Date.now();
      const banner = await sshBannerProbe("127.0.0.1", server.port, 500);
      const took = Date.now() - started;
      assert.equal(banner.ok, false);
      assert.equal(
        !banner.ok && banner.error,
        `ssh 127.0.0.1:${server.port}: connected, but no SSH identification within 0.5s`,
      );
      assert.ok(took >= 450 && took < 1500, `took ${took} ms`);
      const kexStarted = Date.now();
      const kex = await sshKexProbe("127.0.0.1", server.port, 500);
      assert.equal(kex.ok, false);
      assert.match(!kex.ok ? kex.error : "", /no complete SSH key exchange/);
      assert.ok(Date.now() - kexStarted < 1500);
    } finally {
      server.close();
    }
  },
});

Deno.test({
  name: "lines before the identification are skipped (RFC 4253 §4.2)",
  ...options,
  async fn() {
    const server = fakeServer(async (c) => {
      await c.write(text("Welcome\r\nplease wait\r\n"));
      await c.write(text("SSH-2.0-Fake_1.0 comment\r\n"));
      await silent();
    });
    try {
      const banner = await sshBannerProbe("127.0.0.1", server.port, 1000);
      assert.deepEqual(banner, { ok: true, value: "SSH-2.0-Fake_1.0 comment" });
      // A banner without a key exchange behind it fails the kex probe.
      const kex = await sshKexProbe("127.0.0.1", server.port, 500);
      assert.equal(kex.ok, false);
    } finally {
      server.close();
    }
  },
});

Deno.test({
  name:
    "non-SSH servers, SSH-1 only servers and early closes are down, with a reason",
  ...options,
  async fn() {
    const cases: [(c: Deno.TcpConn) => Promise<void>, RegExp][] = [
      [async (c) => {
        await c.write(text("HTTP/1.0 400 Bad Request\r\n\r\n"));
        c.close();
      }, /not an SSH server \(sent "HTTP\/1\.0 400 Bad Request"\)/],
      [async (c) => {
        await c.write(text("SSH-1.5-Old\r\n"));
        await silent();
      }, /unsupported SSH protocol version "1\.5"/],
      [(c) => {
        c.close();
        return Promise.resolve();
      }, /connection closed before the SSH identification/],
      [async (c) => {
        await c.write(text("x".repeat(9000)));
        await silent();
      }, /not an SSH server/],
    ];
    for (const [reply, expected] of cases) {
      const server = fakeServer(reply);
      try {
        const banner = await sshBannerProbe("127.0.0.1", server.port, 1000);
        assert.equal(banner.ok, false);
        assert.match(!banner.ok ? banner.error : "", expected);
      } finally {
        server.close();
      }
    }
  },
});

Deno.test({
  name: "a closed port reads like Go's dial error for both probes",
  ...options,
  async fn() {
    const port = await freePort("127.0.0.1");
    const expected = `dial tcp 127.0.0.1:${port}: connect: connection refused`;
    assert.deepEqual(await sshBannerProbe("127.0.0.1", port, 1000), {
      ok: false,
      error: expected,
    });
    assert.deepEqual(await sshKexProbe("127.0.0.1", port, 1000), {
      ok: false,
      error: expected,
    });
  },
});
