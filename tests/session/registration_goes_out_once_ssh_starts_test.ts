// A session that registers itself in etcd writes nothing while it routes
// (src/session/shared_state.ts, `registerLater`): its connection key and
// the host state of its live check go out when the flow calls register(),
// right after its ssh started, so that they no longer delay ssh. Unless
// max_connections_per_user must rank the login first, and not for the
// agent, which routes without it. Over the in-memory etcd with a real TCP
// listener as the destination (the live check connects); the real gateway
// registers in tests/e2e (proxy_etcd_*).
import assert from "node:assert/strict";
import type { Level } from "../../src/log/format.ts";
import { ok } from "../../src/result.ts";
import { routeSession } from "../../src/session/shared_state.ts";
import { StateStore } from "../../src/state/store.ts";
import { effective } from "../config/fixture_helpers.ts";
import { MemoryEtcd } from "../state/memory_backend.ts";

const CONNECTIONS = "/sshproxy/connections/";
const HOSTS = "/sshproxy/hosts/";

function keysUnder(etcd: MemoryEtcd, prefix: string): string[] {
  return [...etcd.keys.keys()].filter((key) => key.startsWith(prefix));
}

/** A TCP listener standing for the destination. */
function destinationListener(): { address: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const connection of listener) connection.close();
  })().catch(() => {});
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: () => listener.close(),
  };
}

async function route(
  etcd: MemoryEtcd,
  destination: string,
  options: { registerLater?: boolean; limit?: number },
) {
  const limit = options.limit === undefined
    ? ""
    : `max_connections_per_user: ${options.limit}\n`;
  const config = (await effective(
    `dest: ["${destination}"]\n${limit}etcd:\n  endpoints: [memory]\n`,
    "alice",
    [],
  )).config;
  const lines: string[] = [];
  const routed = await routeSession({
    config,
    user: "alice",
    log: (level: Level, message: string) => lines.push(`${level} ${message}`),
    writeStdout: () => {},
    writeStderr: () => {},
    sshd: "127.0.0.1:2022",
    openStore: () => Promise.resolve(ok(new StateStore(etcd))),
    registerLater: options.registerLater,
  });
  assert.ok(!("status" in routed), lines.join("\n"));
  assert.equal(routed.destination, destination);
  assert.ok(routed.shared !== undefined);
  return routed.shared;
}

Deno.test("a session routed to register later writes neither its key nor its host state until register()", async () => {
  const destination = destinationListener();
  try {
    const etcd = new MemoryEtcd();
    const shared = await route(etcd, destination.address, {
      registerLater: true,
    });
    // Let anything started during the choice land.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(keysUnder(etcd, CONNECTIONS), []);
    assert.deepEqual(keysUnder(etcd, HOSTS), []);
    await shared.register(destination.address, "127.0.0.1:2022");
    await shared.settled();
    assert.equal(keysUnder(etcd, CONNECTIONS).length, 1);
    assert.deepEqual(keysUnder(etcd, HOSTS), [
      `${HOSTS}${destination.address}`,
    ]);
    assert.match(
      etcd.keys.get(`${HOSTS}${destination.address}`)!.value,
      /"State":"up"/,
    );
    await shared.close();
    assert.deepEqual(keysUnder(etcd, CONNECTIONS), []);
  } finally {
    destination.close();
  }
});

Deno.test("a session that ends before register() still records its host check, and registers nothing", async () => {
  const destination = destinationListener();
  try {
    const etcd = new MemoryEtcd();
    const shared = await route(etcd, destination.address, {
      registerLater: true,
    });
    await shared.close();
    assert.deepEqual(keysUnder(etcd, CONNECTIONS), []);
    assert.deepEqual(keysUnder(etcd, HOSTS), [
      `${HOSTS}${destination.address}`,
    ]);
  } finally {
    destination.close();
  }
});

Deno.test("with max_connections_per_user the key is written during routing, to rank the login", async () => {
  const destination = destinationListener();
  try {
    const etcd = new MemoryEtcd();
    const shared = await route(etcd, destination.address, {
      registerLater: true,
      limit: 2,
    });
    assert.equal(keysUnder(etcd, CONNECTIONS).length, 1);
    await shared.close();
  } finally {
    destination.close();
  }
});

Deno.test("routed without registerLater (the agent's way), the key is written during routing", async () => {
  const destination = destinationListener();
  try {
    const etcd = new MemoryEtcd();
    const shared = await route(etcd, destination.address, {});
    await shared.settled();
    assert.equal(keysUnder(etcd, CONNECTIONS).length, 1);
    assert.equal(keysUnder(etcd, HOSTS).length, 1);
    await shared.close();
  } finally {
    destination.close();
  }
});
