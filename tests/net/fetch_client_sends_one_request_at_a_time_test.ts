// The etcd client's fetch transport (src/net/fetch_client.ts), used for
// endpoints that ask for a client certificate, against a real HTTP server
// on loopback: a session's client (oneAtATime) sends its next request only
// once the previous one is answered, so that one connection serves them
// all; the agent's client sends them at once.
import assert from "node:assert/strict";
import { FetchClient } from "../../src/net/fetch_client.ts";

/** A server that holds each answer until `release()`, counting requests in flight. */
function holdingServer() {
  let inFlight = 0;
  let mostInFlight = 0;
  const arrived: string[] = [];
  const waiting: (() => void)[] = [];
  let arrival: (() => void) | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const body = await request.text();
      arrived.push(body);
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      arrival?.();
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      return new Response(`answer to ${body}`);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/v3/kv/range`,
    arrived,
    mostInFlight: () => mostInFlight,
    /** Resolves once `count` requests have arrived. */
    async arrivals(count: number): Promise<void> {
      while (arrived.length < count) {
        await new Promise<void>((resolve) => arrival = resolve);
      }
    },
    release(): void {
      waiting.shift()?.();
    },
    stop: () => server.shutdown(),
  };
}

function request(body: string) {
  return { headers: {}, body, signal: new AbortController().signal };
}

/** Lets the event loop run for a few turns (the server could receive meanwhile). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve) =>
      AbortSignal.timeout(1).addEventListener("abort", () => resolve())
    );
  }
}

Deno.test("a session's client sends the next request only once the previous one is answered", async () => {
  const server = holdingServer();
  const client = new FetchClient({}, { oneAtATime: true });
  try {
    const first = client.post(server.url, request("one"));
    const second = client.post(server.url, request("two"));
    await server.arrivals(1);
    await settle();
    assert.deepEqual(server.arrived, ["one"], "the second went out early");
    server.release();
    assert.deepEqual(await first, { status: 200, text: "answer to one" });
    await server.arrivals(2);
    server.release();
    assert.deepEqual(await second, { status: 200, text: "answer to two" });
    assert.equal(server.mostInFlight(), 1);
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("a failed request does not stop the line behind it", async () => {
  const server = holdingServer();
  const client = new FetchClient({}, { oneAtATime: true });
  try {
    const aborted = new AbortController();
    const first = client.post(server.url, {
      ...request("one"),
      signal: aborted.signal,
    });
    const second = client.post(server.url, request("two"));
    await server.arrivals(1);
    aborted.abort();
    await assert.rejects(first);
    await server.arrivals(2);
    server.release(); // the abandoned first
    server.release();
    assert.deepEqual(await second, { status: 200, text: "answer to two" });
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test("the agent's client sends its requests at once", async () => {
  const server = holdingServer();
  const client = new FetchClient({});
  let whileWaitingRuns = 0;
  const counted = new FetchClient({}, {
    whileWaiting: () => whileWaitingRuns++,
  });
  try {
    const both = [
      client.post(server.url, request("one")),
      client.post(server.url, request("two")),
    ];
    await server.arrivals(2);
    assert.equal(server.mostInFlight(), 2);
    server.release();
    server.release();
    await Promise.all(both);
    const third = counted.post(server.url, request("three"));
    assert.equal(whileWaitingRuns, 1, "runs once the request is handed over");
    await server.arrivals(3);
    server.release();
    await third;
    const fourth = counted.post(server.url, request("four"));
    await server.arrivals(4);
    server.release();
    await fourth;
    assert.equal(whileWaitingRuns, 1, "runs once");
  } finally {
    client.close();
    counted.close();
    await server.stop();
  }
});
