// The HTTP/1.1 client of the etcd client (src/net/http1_client.ts) against
// a real TCP listener on loopback that answers with bytes written by hand:
// framing (Content-Length, chunked, until close), kept-alive connections,
// a kept connection the server dropped meanwhile, answers cut short, and
// the one-write request (no Nagle wait between header and body).
import assert from "node:assert/strict";
import { Http1Client } from "../../src/net/http1_client.ts";

interface Seen {
  /** Connections accepted so far. */
  connections: number;
  /** Requests read, as text (header and body). */
  requests: string[];
}

/**
 * A listener that answers each request with the next of `answers` (raw
 * bytes); `close` after an answer closes that connection.
 */
function server(
  answers: { raw: string; close?: boolean; dribble?: number }[],
): { url: string; seen: Seen; stop(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: Seen = { connections: 0, requests: [] };
  const conns: Deno.Conn[] = [];
  let next = 0;
  const serve = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(65536);
    let text = "";
    try {
      for (;;) {
        const count = await conn.read(buffer);
        if (count === null) return;
        text += new TextDecoder().decode(buffer.subarray(0, count));
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) continue;
        const length = Number(
          /content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0,
        );
        // The length counts bytes: a body beyond ASCII has fewer chars.
        const body = new TextEncoder().encode(text.slice(end + 4));
        if (body.length < length) continue;
        const chars = new TextDecoder().decode(body.subarray(0, length)).length;
        seen.requests.push(text.slice(0, end + 4 + chars));
        text = text.slice(end + 4 + chars);
        const answer = answers[next++];
        const bytes = new TextEncoder().encode(answer.raw);
        // `dribble`: a few bytes per write, so that lines and the head's
        // end fall across the client's reads.
        const step = answer.dribble ?? bytes.length;
        for (let at = 0; at < bytes.length; at += step) {
          await conn.write(bytes.subarray(at, at + step));
        }
        if (answer.close) {
          conn.close();
          return;
        }
      }
    } catch {
      // closed by the test
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        seen.connections++;
        conns.push(conn);
        serve(conn);
      }
    } catch {
      // closed
    }
  })();
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    async stop() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
      await accepting;
    },
  };
}

const request = (body = "{}") => ({
  headers: { "content-type": "application/json" },
  body,
  signal: new AbortController().signal,
});

Deno.test("answers framed by length or by chunks are read whole, on one kept connection", async () => {
  const listening = server([
    { raw: 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"a":"one"}' },
    {
      raw:
        'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"b"\r\n6;x=y\r\n:"two"\r\n1\r\n}\r\n0\r\nTrailer: t\r\n\r\n',
    },
  ]);
  const client = new Http1Client();
  try {
    const first = await client.post(`${listening.url}/v3/kv/range`, request());
    assert.deepEqual(first, { status: 200, text: '{"a":"one"}' });
    const second = await client.post(`${listening.url}/v3/kv/put`, request());
    assert.deepEqual(second, { status: 404, text: '{"b":"two"}' });
    assert.equal(listening.seen.connections, 1, "the connection was kept");
    assert.match(
      listening.seen.requests[0],
      /^POST \/v3\/kv\/range HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\ncontent-type: application\/json\r\ncontent-length: 2\r\n\r\n\{\}$/,
    );
  } finally {
    client.close();
    await listening.stop();
  }
});

Deno.test("a head that comes a few bytes at a time, after a 100 Continue, is read whole; one over 64 KiB is refused", async () => {
  const long = "x".repeat(5000);
  const listening = server([
    {
      raw:
        `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Long: ${long}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`,
      dribble: 7,
      close: true,
    },
    {
      raw: `HTTP/1.1 200 OK\r\nX-Huge: ${"y".repeat(70_000)}\r\n\r\n`,
      close: true,
    },
  ]);
  const client = new Http1Client();
  try {
    const first = await client.post(`${listening.url}/v3/kv/range`, request());
    assert.deepEqual(first, { status: 200, text: "ok" });
    await assert.rejects(
      client.post(`${listening.url}/v3/kv/range`, request()),
      /answer headers too long/,
    );
    assert.equal(
      listening.seen.connections,
      2,
      "Connection: close is not kept",
    );
  } finally {
    client.close();
    await listening.stop();
  }
});

Deno.test("a kept connection the server closed meanwhile is replaced and the request sent once more", async () => {
  const listening = server([
    { raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: true },
    { raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain" },
  ]);
  const client = new Http1Client();
  try {
    assert.equal(
      (await client.post(`${listening.url}/x`, request())).text,
      "ok",
    );
    // The server's close reaches the client after the answer: the client
    // kept the connection, finds it dead, and uses a new one.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(
      (await client.post(`${listening.url}/x`, request())).text,
      "again",
    );
    assert.equal(listening.seen.connections, 2);
    assert.equal(listening.seen.requests.length, 2, "each request read once");
  } finally {
    client.close();
    await listening.stop();
  }
});

Deno.test("an answer cut short, or without a body length, is not taken for a whole one", async () => {
  const listening = server([
    { raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close: true },
    { raw: "HTTP/1.1 200 OK\r\n\r\nuntil the end", close: true },
    { raw: "nonsense\r\n\r\n", close: true },
  ]);
  const client = new Http1Client();
  try {
    await assert.rejects(
      client.post(`${listening.url}/x`, request()),
      /connection closed before message completed/,
    );
    assert.deepEqual(await client.post(`${listening.url}/x`, request()), {
      status: 200,
      text: "until the end",
    });
    await assert.rejects(
      client.post(`${listening.url}/x`, request()),
      /not an HTTP answer: "nonsense"/,
    );
    assert.equal(listening.seen.connections, 3, "no connection was reused");
  } finally {
    client.close();
    await listening.stop();
  }
});

Deno.test("chunk sizes in either case are read, a malformed one is refused; a body beyond ASCII is counted in bytes", async () => {
  const listening = server([
    {
      raw:
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n 1 ; x\r\n!\r\n0\r\n\r\n",
    },
    {
      raw:
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1zz\r\nabc\r\n0\r\n\r\n",
      close: true,
    },
  ]);
  const client = new Http1Client();
  try {
    assert.deepEqual(
      await client.post(`${listening.url}/x`, request('{"v":"été"}')),
      { status: 200, text: "0123456789!" },
    );
    assert.match(
      listening.seen.requests[0],
      /content-length: 13\r\n\r\n\{"v":"été"\}$/,
    );
    await assert.rejects(
      client.post(`${listening.url}/x`, request()),
      /bad chunk size "1zz"/,
    );
  } finally {
    client.close();
    await listening.stop();
  }
});

Deno.test("a refused connection and an aborted request fail at once", async () => {
  const client = new Http1Client();
  try {
    // Port 2 is never handed out: nothing listens there.
    await assert.rejects(
      client.post("http://127.0.0.1:2/x", request()),
      /connection refused/i,
    );
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    (async () => {
      for await (const conn of silent) held.push(conn);
    })().catch(() => {});
    const controller = new AbortController();
    const started = Date.now();
    const pending = client.post(
      `http://127.0.0.1:${(silent.addr as Deno.NetAddr).port}/x`,
      { ...request(), signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending, (error: unknown) => {
      assert.equal((error as DOMException).name, "AbortError");
      return true;
    });
    assert.ok(Date.now() - started < 1000);
    silent.close();
    for (const conn of held) conn.close();
  } finally {
    client.close();
  }
});

Deno.test("a streamed answer delivers each chunk as it comes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = new Http1Client();
  const answer = client.postStreaming(
    `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/v3/watch`,
    request(),
  );
  const conn = await accepted;
  try {
    await conn.read(new Uint8Array(4096));
    const write = (text: string) => conn.write(new TextEncoder().encode(text));
    await write(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n",
    );
    const response = await answer;
    assert.equal(response.status, 200);
    const reader = response.body.getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), "first\n");
    // The second message is written only now: the first was not held back.
    await write("7\r\nsecond\n\r\n0\r\n\r\n");
    const second = await reader.read();
    assert.equal(new TextDecoder().decode(second.value), "second\n");
    assert.equal((await reader.read()).done, true);
  } finally {
    client.close();
    conn.close();
    listener.close();
  }
});

Deno.test("a host name nobody can resolve fails as a DNS error", async () => {
  const client = new Http1Client();
  try {
    await assert.rejects(
      client.post("http://sshproxy-test.invalid:2379/x", request()),
      /^Error: dns error: /,
    );
  } finally {
    client.close();
  }
});

Deno.test("the client's waiting work runs once, after the first request is on the wire and before its answer is read", async () => {
  // The server runs on a thread of its own (a worker), so that it reads
  // the request while this thread is busy in the waiting work: it raises
  // a shared flag once it has the whole request, then answers.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const source = `
    self.onmessage = async ({ data: flag }) => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      self.postMessage(listener.addr.port);
      for (let served = 0; served < 2; served++) {
        const conn = await listener.accept();
        const buffer = new Uint8Array(4096);
        let text = "";
        while (!text.includes("ping")) {
          const count = await conn.read(buffer);
          if (count === null) break;
          text += new TextDecoder().decode(buffer.subarray(0, count));
        }
        Atomics.store(flag, 0, served + 1);
        await conn.write(new TextEncoder().encode(
          "HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\nconnection: close\\r\\n\\r\\nok",
        ));
        conn.close();
      }
      listener.close();
    };
  `;
  const worker = new Worker(
    `data:application/javascript,${encodeURIComponent(source)}`,
    { type: "module" },
  );
  try {
    const port = await new Promise<number>((resolve) => {
      worker.onmessage = ({ data }) => resolve(data);
      worker.postMessage(flag);
    });
    const seenByServer: number[] = [];
    const client = new Http1Client(undefined, () => {
      // Busy, as a module load is: the server still gets the request.
      const end = Date.now() + 5000;
      while (Atomics.load(flag, 0) === 0 && Date.now() < end) {
        // spin
      }
      seenByServer.push(Atomics.load(flag, 0));
    });
    const request = {
      headers: {},
      body: "ping",
      signal: AbortSignal.timeout(10_000),
    };
    for (let i = 0; i < 2; i++) {
      const answer = await client.post(`http://127.0.0.1:${port}/`, request);
      assert.deepEqual(answer, { status: 200, text: "ok" });
    }
    // Ran once, and the server had the first request when it ran.
    assert.deepEqual(seenByServer, [1]);
    client.close();
  } finally {
    worker.terminate();
  }
});
