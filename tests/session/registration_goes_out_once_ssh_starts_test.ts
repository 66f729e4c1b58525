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
import {
  routeSession,
  type SharedState,
} from "../../src/session/shared_state.ts";
import { StateStore } from "../../src/state/store.ts";
import { effective } from "../config/fixture_helpers.ts";
import { MemoryEtcd } from "../state/memory_backend.ts";
import { acceptingDestination } from "../harness/net.ts";

const CONNECTIONS = "/sshproxy/connections/";
const HOSTS = "/sshproxy/hosts/";

function keysUnder(etcd: MemoryEtcd, prefix: string): string[] {
  return [...etcd.keys.keys()].filter((key) => key.startsWith(prefix));
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

/** Routes one session to a live destination, then runs `check` on what it wrote. */
async function routedOnce(
  options: { registerLater?: boolean; limit?: number },
  check: (
    etcd: MemoryEtcd,
    shared: SharedState,
    destination: string,
  ) => Promise<void>,
): Promise<void> {
  const destination = acceptingDestination();
  try {
    const etcd = new MemoryEtcd();
    const shared = await route(etcd, destination.address, options);
    await check(etcd, shared, destination.address);
  } finally {
    destination.close();
  }
}

Deno.test("a session routed to register later writes neither its key nor its host state until register()", async () => {
  await routedOnce({ registerLater: true }, async (etcd, shared, address) => {
    // Let anything started during the choice land.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(keysUnder(etcd, CONNECTIONS), []);
    assert.deepEqual(keysUnder(etcd, HOSTS), []);
    await shared.register(address, "127.0.0.1:2022");
    await shared.settled();
    assert.equal(keysUnder(etcd, CONNECTIONS).length, 1);
    assert.deepEqual(keysUnder(etcd, HOSTS), [`${HOSTS}${address}`]);
    assert.match(etcd.keys.get(`${HOSTS}${address}`)!.value, /"State":"up"/);
    await shared.close();
    assert.deepEqual(keysUnder(etcd, CONNECTIONS), []);
  });
});

Deno.test("a session that ends before register() still records its host check, and registers nothing", async () => {
  await routedOnce({ registerLater: true }, async (etcd, shared, address) => {
    await shared.close();
    assert.deepEqual(keysUnder(etcd, CONNECTIONS), []);
    assert.deepEqual(keysUnder(etcd, HOSTS), [`${HOSTS}${address}`]);
  });
});

Deno.test("with max_connections_per_user the key is written during routing, to rank the login", async () => {
  await routedOnce({ registerLater: true, limit: 2 }, async (etcd, shared) => {
    assert.equal(keysUnder(etcd, CONNECTIONS).length, 1);
    await shared.close();
  });
});

Deno.test("routed without registerLater (the agent's way), the key is written during routing", async () => {
  await routedOnce({}, async (etcd, shared) => {
    await shared.settled();
    assert.equal(keysUnder(etcd, CONNECTIONS).length, 1);
    assert.equal(keysUnder(etcd, HOSTS).length, 1);
    await shared.close();
  });
});
