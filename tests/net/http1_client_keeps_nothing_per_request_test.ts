// The HTTP/1.1 client of the etcd client (src/net/http1_client.ts) serves
// a long-lived process (the gateway's agent, a session's keep-alives) on
// one kept connection: what a request leaves behind once its answer is
// read must be garbage. Measured in a fresh process with V8's collector at
// hand, against a real listener on loopback: the heap after thousands of
// requests, fully collected, is what it was before them (within the
// collector's noise).
import assert from "node:assert/strict";

const CLIENT = new URL("../../src/net/http1_client.ts", import.meta.url).href;

const SCRIPT = `
import { Http1Client } from ${JSON.stringify(CLIENT)};
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const answer = new TextEncoder().encode(
  "HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n" +
    "transfer-encoding: chunked\\r\\n\\r\\n2\\r\\n{}\\r\\n0\\r\\n\\r\\n",
);
(async () => {
  for await (const conn of listener) {
    (async () => {
      const buffer = new Uint8Array(65536);
      let text = "";
      for (;;) {
        const count = await conn.read(buffer).catch(() => null);
        if (count === null) return;
        text += new TextDecoder().decode(buffer.subarray(0, count));
        while (text.includes("\\r\\n\\r\\n{}")) {
          text = text.slice(text.indexOf("\\r\\n\\r\\n{}") + 6);
          await conn.write(answer);
        }
      }
    })();
  }
})();
const { port } = listener.addr;
const client = new Http1Client();
const signal = new AbortController().signal;
const once = () =>
  client.post("http://127.0.0.1:" + port + "/v3/lease/keepalive", {
    headers: { "content-type": "application/json" },
    body: "{}",
    signal,
  });
// Past V8's compilations (they leave code and feedback once): then one
// round of requests, collected, against the next.
for (let i = 0; i < 2000; i++) await once();
const count = 4000;
const heap = [];
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < count; i++) await once();
  gc();
  gc();
  heap.push(Deno.memoryUsage().heapUsed);
}
const before = heap[1];
const after = heap[2];
console.log(JSON.stringify({ perRequest: (after - before) / count }));
Deno.exit(0);
`;

Deno.test("requests on one kept connection leave nothing behind once collected", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--quiet",
      "--no-check",
      "--v8-flags=--expose-gc",
      SCRIPT,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(
    output.success,
    `status ${output.code}: ${new TextDecoder().decode(output.stderr)}`,
  );
  const { perRequest } = JSON.parse(new TextDecoder().decode(output.stdout));
  // Before the fix a kept connection gained a close handler at every
  // request: ~115 bytes each, for the life of the process. What remains
  // now is the collector's noise, about half a byte per request.
  assert.ok(
    perRequest < 16,
    `the heap kept ${perRequest.toFixed(1)} bytes per request`,
  );
});
