// The etcd client's watch, snapshot and summary (src/state/etcd_http.ts,
// etcd_watch.ts) against a real etcd, with etcdctl (Go's client over gRPC)
// as the writer and the oracle: events in order with etcd's revisions, a
// start revision that etcd compacted reported as such, a stream that ends
// when etcd is killed and resumes without a gap after its restart, a token
// etcd forgot renewed, a dead first endpoint passed over, cancellation, and
// proxy variables that do not steer the stream.
import assert from "node:assert/strict";
import {
  type Etcd,
  type EtcdOptions,
  etcdSettings,
  startEtcd,
} from "../harness/mod.ts";
import { openEtcd } from "../../src/state/etcd_client.ts";
import {
  isWatchable,
  type WatchableEtcd,
  type WatchEvent,
  type WatchMessage,
} from "../../src/state/etcd_watch.ts";
import type { EtcdSettings } from "../../src/config/types.ts";

async function open(settings: EtcdSettings): Promise<WatchableEtcd> {
  const opened = await openEtcd(settings);
  assert.ok(opened.ok, opened.ok ? "" : opened.error);
  assert.ok(isWatchable(opened.value));
  return opened.value;
}

async function ctl(etcd: Etcd, args: string[]): Promise<string> {
  const result = await etcd.etcdctl(args);
  assert.ok(result.ok, `etcdctl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** etcd's current revision, as etcdctl reads it. */
async function revisionOf(etcd: Etcd): Promise<bigint> {
  const out = await ctl(etcd, ["get", "-w", "json", "/sshproxy/none"]);
  return BigInt(/"revision":(\d+)/.exec(out)![1]);
}

/** Collects a watch's messages; `until` waits for a condition on them. */
function collector() {
  const messages: WatchMessage[] = [];
  const waiters = new Set<() => void>();
  return {
    messages,
    onMessage(message: WatchMessage) {
      messages.push(message);
      for (const wake of waiters) wake();
    },
    events(): WatchEvent[] {
      return messages.flatMap((m) => m.kind === "events" ? m.events : []);
    },
    async until(what: string, holds: () => boolean, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!holds()) {
        const left = deadline - Date.now();
        assert.ok(left > 0, `timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, Math.min(left, 200));
          waiters.add(wake);
        });
      }
    },
  };
}

function described(event: WatchEvent): string {
  return event.type === "put"
    ? `put ${event.kv.key}=${event.kv.value} @${event.revision}`
    : `delete ${event.rawKey} @${event.revision}`;
}

async function withEtcd(
  options: EtcdOptions,
  fn: (etcd: Etcd) => Promise<void>,
): Promise<void> {
  const etcd = await startEtcd(options);
  try {
    await fn(etcd);
  } finally {
    await etcd.stop();
  }
}

Deno.test("a watch from a snapshot's next revision sees etcdctl's puts and deletes in order, and the summary agrees", async () => {
  await withEtcd({}, async (etcd) => {
    await ctl(etcd, ["put", "/sshproxy/hosts/a:22", "A"]);
    await ctl(etcd, ["put", "/outside", "x"]);
    const client = await open(etcdSettings(etcd));
    try {
      const snapshot = await client.snapshot("/sshproxy/");
      assert.ok(snapshot.ok, snapshot.ok ? "" : snapshot.error);
      assert.deepEqual(snapshot.value.items.map((i) => i.kv.key), [
        "/sshproxy/hosts/a:22",
      ]);
      assert.equal(snapshot.value.revision, await revisionOf(etcd));
      const seen = collector();
      const stream = client.watch(
        "/sshproxy/",
        snapshot.value.revision + 1n,
        seen.onMessage,
      );
      await seen.until("created", () => seen.messages.length > 0);
      assert.deepEqual(seen.messages[0], { kind: "created" });
      await ctl(etcd, ["put", "/sshproxy/hosts/b:22", "B"]);
      await ctl(etcd, ["put", "/outside", "y"]);
      await ctl(etcd, ["del", "/sshproxy/hosts/a:22"]);
      await ctl(etcd, ["put", "/sshproxy/hosts/b:22", "B2"]);
      const base = snapshot.value.revision;
      await seen.until("three events", () => seen.events().length === 3);
      assert.deepEqual(seen.events().map(described), [
        `put /sshproxy/hosts/b:22=B @${base + 1n}`,
        `delete /sshproxy/hosts/a:22 @${base + 3n}`,
        `put /sshproxy/hosts/b:22=B2 @${base + 4n}`,
      ]);
      const last = seen.events()[2];
      assert.ok(last.type === "put");
      assert.equal(last.kv.createRevision, String(base + 1n));
      const summary = await client.summary("/sshproxy/");
      assert.ok(summary.ok, summary.ok ? "" : summary.error);
      assert.deepEqual(summary.value, {
        revision: base + 4n,
        count: 1,
        newestModRevision: base + 4n,
      });
      stream.cancel();
      assert.deepEqual(await stream.done, { kind: "cancelled" });
    } finally {
      client.close();
    }
  });
});

Deno.test("a watch from a revision etcd compacted ends as compacted", async () => {
  await withEtcd({}, async (etcd) => {
    const client = await open(etcdSettings(etcd));
    try {
      const before = await revisionOf(etcd);
      for (let i = 0; i < 3; i++) {
        await ctl(etcd, ["put", `/sshproxy/k${i}`, String(i)]);
      }
      const now = await revisionOf(etcd);
      await ctl(etcd, ["compaction", String(now)]);
      const seen = collector();
      const stream = client.watch("/sshproxy/", before + 1n, seen.onMessage);
      assert.deepEqual(await stream.done, {
        kind: "compacted",
        compactRevision: now,
      });
      assert.equal(seen.events().length, 0);
    } finally {
      client.close();
    }
  });
});

Deno.test("etcd killed under a watch ends it; after the restart a watch from the revision reached misses nothing", async () => {
  await withEtcd(
    { auth: { user: "sshproxy-watch", password: "secret" } },
    async (etcd) => {
      const client = await open(etcdSettings(etcd));
      try {
        const snapshot = await client.snapshot("/sshproxy/");
        assert.ok(snapshot.ok, snapshot.ok ? "" : snapshot.error);
        const seen = collector();
        const first = client.watch(
          "/sshproxy/",
          snapshot.value.revision + 1n,
          seen.onMessage,
        );
        await seen.until("created", () => seen.messages.length > 0);
        await ctl(etcd, ["put", "/sshproxy/before", "1"]);
        await seen.until("the first put", () => seen.events().length === 1);
        const reached = seen.events()[0].revision;
        await etcd.kill();
        const end = await first.done;
        assert.equal(end.kind, "ended", JSON.stringify(end));
        await etcd.restart();
        // Written while nobody watched.
        await ctl(etcd, ["put", "/sshproxy/during", "2"]);
        const again = client.watch("/sshproxy/", reached + 1n, seen.onMessage);
        await seen.until(
          "the put made while nobody watched",
          () => seen.events().length === 2,
        );
        await ctl(etcd, ["put", "/sshproxy/after", "3"]);
        await seen.until("the next put", () => seen.events().length === 3);
        assert.deepEqual(
          seen.events().map((e) => e.type === "put" ? e.kv.key : "?"),
          ["/sshproxy/before", "/sshproxy/during", "/sshproxy/after"],
        );
        again.cancel();
        assert.deepEqual(await again.done, { kind: "cancelled" });
      } finally {
        client.close();
      }
    },
  );
});

/** A TCP forwarder to etcd, closed at will (an endpoint that dies). */
function forwarder(target: string) {
  const { hostname, port } = new URL(target);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const accepting = (async () => {
    try {
      for await (const inbound of listener) {
        const outbound = await Deno.connect({ hostname, port: Number(port) });
        open.add(inbound);
        open.add(outbound);
        inbound.readable.pipeTo(outbound.writable).catch(() => {});
        outbound.readable.pipeTo(inbound.writable).catch(() => {});
      }
    } catch {
      // closed
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async close() {
      listener.close();
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
    },
  };
}

Deno.test("a watch renews a token etcd no longer knows", async () => {
  // Simple tokens live --auth-token-ttl seconds after their last use.
  await withEtcd(
    {
      auth: { user: "sshproxy-watch", password: "secret" },
      extraArgs: ["--auth-token-ttl", "1"],
    },
    async (etcd) => {
      const client = await open(etcdSettings(etcd));
      try {
        await new Promise((resolve) => setTimeout(resolve, 2500));
        const seen = collector();
        const stream = client.watch(
          "/sshproxy/",
          (await revisionOf(etcd)) + 1n,
          seen.onMessage,
        );
        await seen.until("created", () => seen.messages.length > 0);
        await ctl(etcd, ["put", "/sshproxy/with-a-new-token", "1"]);
        await seen.until("the put", () => seen.events().length === 1);
        stream.cancel();
        assert.deepEqual(await stream.done, { kind: "cancelled" });
      } finally {
        client.close();
      }
    },
  );
});

Deno.test("a watch passes over an endpoint that died since it last answered", async () => {
  await withEtcd({}, async (etcd) => {
    const front = forwarder(etcd.endpoint);
    // The client starts on the endpoint that answered last: the forwarder.
    const client = await open(
      etcdSettings(etcd, { endpoints: [front.url, etcd.endpoint] }),
    );
    try {
      await front.close();
      const seen = collector();
      const stream = client.watch(
        "/sshproxy/",
        (await revisionOf(etcd)) + 1n,
        seen.onMessage,
      );
      await seen.until("created", () => seen.messages.length > 0, 15_000);
      await ctl(etcd, ["put", "/sshproxy/x", "1"]);
      await seen.until("the put", () => seen.events().length === 1);
      stream.cancel();
      await stream.done;
    } finally {
      client.close();
    }
  });
});

Deno.test("proxy variables do not steer the watch stream", async () => {
  await withEtcd({}, async (etcd) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let connections = 0;
    const accepting = (async () => {
      try {
        for await (const conn of listener) {
          connections++;
          conn.close();
        }
      } catch {
        // closed
      }
    })();
    const proxy = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    const names = ["ALL_PROXY", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY"];
    const saved = names.map((name) => [name, Deno.env.get(name)] as const);
    for (const name of names) Deno.env.set(name, proxy);
    let client: WatchableEtcd | undefined;
    try {
      client = await open(etcdSettings(etcd));
      const seen = collector();
      const stream = client.watch(
        "/sshproxy/",
        (await revisionOf(etcd)) + 1n,
        seen.onMessage,
      );
      await ctl(etcd, ["put", "/sshproxy/through", "direct"]);
      await seen.until("the put", () => seen.events().length === 1);
      stream.cancel();
      await stream.done;
      assert.equal(connections, 0, "the proxy saw a connection");
    } finally {
      client?.close();
      for (const [name, value] of saved) {
        if (value === undefined) Deno.env.delete(name);
        else Deno.env.set(name, value);
      }
      listener.close();
      await accepting;
    }
  });
});
