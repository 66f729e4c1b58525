// The agent's wire format (src/agent/protocol.ts): what a client may send
// is checked field by field before anything else; lines are bounded.
import assert from "node:assert/strict";
import {
  decodeHello,
  decodeRequest,
  decodeRouteReply,
  decodeUpdate,
  encodeLine,
  isAccept,
  isConfirmed,
  LineReader,
  MAX_LINE_BYTES,
} from "../../src/agent/protocol.ts";

const route = {
  kind: "route",
  uid: 1001,
  user: "alice",
  pid: 4242,
  sessionPid: 4242,
  config: "/etc/sshproxy/sshproxy.yaml",
  sshd: "192.0.2.1:22",
  client: "198.51.100.7:51000",
  sessionId: "0123456789",
  stats: false,
};

Deno.test("a route request round-trips", () => {
  const line = new TextDecoder().decode(encodeLine(route)).trimEnd();
  assert.deepEqual(decodeRequest(line), { ok: true, value: route });
});

Deno.test("requests with wrong types, ranges or control characters are refused", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...route, uid: -1 }, "uid is out of range"],
    [{ ...route, uid: "1001" }, "uid is not an integer"],
    [{ ...route, pid: 1 }, "pid is out of range"],
    [
      { ...route, user: "al\nice" },
      "user holds a control or unprintable character",
    ],
    [
      { ...route, sshd: "x\u001b[2J" },
      "sshd holds a control or unprintable character",
    ],
    [
      { ...route, user: "al\u009b31mice" },
      "user holds a control or unprintable character",
    ],
    [
      { ...route, config: "/etc/x\u2028y" },
      "config holds a control or unprintable character",
    ],
    [
      { ...route, sessionId: "0123456789\u202e" },
      "sessionId holds a control or unprintable character",
    ],
    [
      { ...route, sessionId: "forged" },
      "sessionId is not a session ID (10 upper-case hex digits)",
    ],
    [{ ...route, stats: "yes" }, "stats is not a boolean"],
    [{ ...route, kind: "admin" }, "kind is neither route nor report"],
    [{ ...route, config: "x".repeat(5000) }, "config is too long"],
    [
      { kind: "report", uid: 1, user: "a", pid: 5, outcome: "proxied" },
      "outcome is not one a session reports",
    ],
  ];
  for (const [message, error] of cases) {
    assert.deepEqual(decodeRequest(JSON.stringify(message)), {
      ok: false,
      error,
    });
  }
  assert.deepEqual(decodeRequest("[1]"), {
    ok: false,
    error: "not a JSON object",
  });
  assert.deepEqual(decodeRequest("{"), { ok: false, error: "not JSON" });
});

Deno.test("a report of a refusal decided by the session is accepted", () => {
  assert.deepEqual(
    decodeRequest(JSON.stringify({
      kind: "report",
      uid: 1001,
      user: "alice",
      pid: 77,
      outcome: "bad_sshproxy_args",
    })),
    {
      ok: true,
      value: {
        kind: "report",
        uid: 1001,
        user: "alice",
        pid: 77,
        outcome: "bad_sshproxy_args",
      },
    },
  );
});

Deno.test("the hello's nonce must be hexadecimal (it becomes a file name)", () => {
  const hello = {
    agent: "sshproxy-agent",
    version: 2,
    nonce: "0123456789abcdef0123456789abcdef",
    proofDir: "/run/sshproxy-agent/proof",
  };
  assert.ok(decodeHello(JSON.stringify(hello)).ok);
  assert.deepEqual(
    decodeHello(JSON.stringify({ ...hello, nonce: "../../home/x/.bashrc" })),
    { ok: false, error: "nonce is not hexadecimal" },
  );
  // A protocol-1 agent (no accept step) is not used: the session routes itself.
  assert.deepEqual(decodeHello(JSON.stringify({ ...hello, version: 1 })), {
    ok: false,
    error: "protocol version 1, expected 2",
  });
});

Deno.test("only an accept takes a route, only a confirmation confirms it", () => {
  assert.equal(isAccept('{"kind":"accept"}'), true);
  for (const line of ['{"kind":"started","seconds":1}', "accept", "", "{"]) {
    assert.equal(isAccept(line), false, line);
  }
  assert.equal(isConfirmed('{"kind":"confirmed"}'), true);
  assert.equal(isConfirmed('{"kind":"route"}'), false);
  assert.equal(isConfirmed("null"), false);
});

Deno.test("replies and updates decode strictly", () => {
  assert.deepEqual(
    decodeRouteReply(
      '{"kind":"route","destination":"s1:22","service":"default","log":[["INFO","x"]]}',
    ),
    {
      ok: true,
      value: {
        kind: "route",
        destination: "s1:22",
        service: "default",
        log: [["INFO", "x"]],
      },
    },
  );
  assert.equal(
    decodeRouteReply(
      '{"kind":"route","destination":"s","service":"d","log":[["LOUD","x"]]}',
    ).ok,
    false,
  );
  assert.deepEqual(decodeUpdate('{"kind":"stats","in":3,"out":4}'), {
    ok: true,
    value: { kind: "stats", in: 3, out: 4 },
  });
  assert.equal(decodeUpdate('{"kind":"stats","in":-3,"out":4}').ok, false);
  assert.equal(decodeUpdate('{"kind":"started","seconds":1e9}').ok, false);
});

Deno.test("lines are read one by one and an endless line is refused", async () => {
  const chunks = [
    new TextEncoder().encode('{"a":1}\n{"b"'),
    new TextEncoder().encode(":2}\n"),
  ];
  const reader = new LineReader({
    read(buffer: Uint8Array) {
      const chunk = chunks.shift();
      if (chunk === undefined) return Promise.resolve(null);
      buffer.set(chunk);
      return Promise.resolve(chunk.length);
    },
  });
  assert.deepEqual(await reader.next(), { ok: true, value: '{"a":1}' });
  assert.deepEqual(await reader.next(), { ok: true, value: '{"b":2}' });
  assert.deepEqual(await reader.next(), { ok: true, value: undefined });
  const endless = new LineReader({
    read(buffer: Uint8Array) {
      buffer.fill(0x41);
      return Promise.resolve(buffer.length);
    },
  });
  assert.deepEqual(await endless.next(), {
    ok: false,
    error: `line longer than ${MAX_LINE_BYTES} bytes`,
  });
});
