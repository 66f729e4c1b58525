// The agent's socket server (src/agent/server.ts) starts what a decision
// will wait for (the agent's etcd freshness read) as a connection arrives,
// before the client has said or proven anything, and hands it to that
// connection's route: each route gets its own connection's arrival, and a
// connection that never asks costs nothing more than that start.
import assert from "node:assert/strict";
import { prepareProofDir } from "../../src/agent/proof.ts";
import { LineReader, type RouteReply } from "../../src/agent/protocol.ts";
import { startServer } from "../../src/agent/server.ts";
import { askAgent, UID } from "./session_asks.ts";

const ROUTE: RouteReply = {
  kind: "route",
  destination: "server1:22",
  service: "default",
  log: [],
};

Deno.test("each route gets what its own connection started on arrival", async () => {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/agent.sock`;
  const proofDir = `${dir}/proof`;
  const prepared = await prepareProofDir(proofDir, UID);
  assert.ok(prepared.ok, prepared.ok ? "" : prepared.error);
  let arrivals = 0;
  const routedWith: (number | undefined)[] = [];
  let abandoned = 0;
  const server = await startServer({
    socketPath: socket,
    proofDir,
    handlers: {
      arrived: () => ++arrivals,
      route(_request, arrival) {
        routedWith.push(arrival);
        return Promise.resolve({
          reply: ROUTE,
          provisional: {
            accept: () => undefined,
            withdraw: () => Promise.resolve(),
          },
        });
      },
      report() {},
      abandoned() {
        abandoned++;
      },
      rejected(category, detail) {
        throw new Error(`rejected: ${category} ${detail}`);
      },
    },
  });
  try {
    // A connection that only reads the greeting: its arrival was started
    // as the greeting was written, and no route ever ran.
    const idle = await Deno.connect({ transport: "unix", path: socket });
    const greeting = await new LineReader(idle).next();
    assert.ok(greeting.ok && greeting.value !== undefined);
    assert.equal(arrivals, 1);
    assert.deepEqual(routedWith, []);
    idle.close();

    for (const expected of [2, 3]) {
      const routed = await askAgent(socket, "2s");
      assert.ok(routed !== undefined && "destination" in routed);
      assert.equal(routed.destination, "server1:22");
      assert.equal(routedWith.at(-1), expected);
      await routed.shared.close();
    }
    assert.deepEqual(routedWith, [2, 3]);
    for (let i = 0; i < 100 && abandoned === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(abandoned, 1);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
