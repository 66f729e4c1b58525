// The JSON gateway codec (src/state/etcd_wire.ts) on answers as etcd 3.4
// writes them: keys and values base64, int64 as strings, default fields
// left out; refusals classified (final, re-authenticate, try another
// endpoint) with a reason that is never empty or "undefined".
import assert from "node:assert/strict";
import {
  bytesOf,
  byteStringFromBase64,
  byteStringOf,
  decodeGrant,
  decodeKeepAlive,
  decodeRange,
  decodeTimeToLive,
  deleteRequest,
  keyAfter,
  parseAnswer,
  prefixEnd,
  putRequest,
  rangeRequest,
  refusalOf,
  streamMessage,
  textOf,
  toBase64,
  transportReason,
  txnRequest,
  utf8,
} from "../../src/state/etcd_wire.ts";

const b64 = (text: string) => toBase64(utf8(text));

Deno.test("keys and values travel as base64 of their UTF-8 bytes, both ways", () => {
  for (const text of ["", "/sshproxy/a", "héllo ✓", "a/b@c d", "\u{1F600}"]) {
    const raw = byteStringFromBase64(b64(text));
    assert.equal(textOf(raw), text);
    assert.deepEqual(bytesOf(raw), utf8(text));
    assert.equal(byteStringOf(text), raw);
  }
  assert.equal(b64("/sshproxy/"), "L3NzaHByb3h5Lw==");
  assert.equal(byteStringFromBase64(undefined), "");
  assert.throws(() => byteStringFromBase64("not base64!"));
});

Deno.test("any bytes read as TextDecoder reads them, and keep their bytes", () => {
  // Keys need not be UTF-8: invalid sequences read as U+FFFD, as before
  // the byte strings, and the raw bytes stay exact for the next page.
  const decoder = new TextDecoder();
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor(seed / 2 ** 15) % 256;
  };
  const samples = [
    new Uint8Array([0xff, 0x61]),
    new Uint8Array([0xc3]),
    new Uint8Array([0xe2, 0x82]),
    new Uint8Array([0x61, 0xc3, 0xa9, 0x80]),
  ];
  for (let i = 0; i < 500; i++) {
    samples.push(Uint8Array.from({ length: i % 13 }, random));
  }
  for (const bytes of samples) {
    const raw = byteStringFromBase64(toBase64(bytes));
    assert.equal(textOf(raw), decoder.decode(bytes));
    assert.deepEqual(bytesOf(raw), bytes);
    assert.deepEqual(keyAfter(raw), new Uint8Array([...bytes, 0]));
  }
  assert.deepEqual(putRequest("/k", "v", "0"), {
    key: b64("/k"),
    value: b64("v"),
  });
  assert.deepEqual(putRequest("/k", "", "7587871234567890001"), {
    key: b64("/k"),
    value: "",
    // Lease IDs go past 2^53: strings, never numbers.
    lease: "7587871234567890001",
  });
});

Deno.test("prefix ranges end after the last key of the prefix; pages start after the last key", () => {
  assert.deepEqual(prefixEnd(utf8("/a/")), utf8("/a0"));
  assert.deepEqual(
    prefixEnd(new Uint8Array([0x61, 0xff, 0xff])),
    new Uint8Array([0x62]),
  );
  assert.deepEqual(prefixEnd(new Uint8Array([0xff])), new Uint8Array([0]));
  const input = utf8("/a/");
  prefixEnd(input);
  assert.deepEqual(input, utf8("/a/"), "the caller's bytes are not changed");
  assert.deepEqual(keyAfter("ab"), new Uint8Array([0x61, 0x62, 0]));
  assert.deepEqual(deleteRequest("/a/", true), {
    key: b64("/a/"),
    range_end: b64("/a0"),
  });
  assert.deepEqual(deleteRequest("/a/", false), { key: b64("/a/") });
  assert.deepEqual(
    rangeRequest(utf8("/a/"), {
      rangeEnd: utf8("/a0"),
      limit: 10_000,
      keysOnly: true,
      revision: "42",
    }),
    {
      key: b64("/a/"),
      range_end: b64("/a0"),
      limit: "10000",
      keys_only: true,
      revision: "42",
    },
  );
  assert.deepEqual(
    txnRequest([
      { put: { key: "/k", value: "v", lease: "5" } },
      { delete: { key: "/d/", prefix: true } },
    ]),
    {
      success: [
        { request_put: { key: b64("/k"), value: b64("v"), lease: "5" } },
        { request_delete_range: { key: b64("/d/"), range_end: b64("/d0") } },
      ],
    },
  );
});

Deno.test("range answers decode as etcd 3.4 writes them, left-out fields meaning zero", () => {
  // Verbatim from etcd 3.4.23's gateway (a key without lease, an empty
  // value, and one with a lease).
  const answer = parseAnswer(
    JSON.stringify({
      header: {
        cluster_id: "1",
        member_id: "2",
        revision: "9",
        raft_term: "2",
      },
      kvs: [
        {
          key: b64("/sshproxy/a"),
          create_revision: "2",
          mod_revision: "5",
          version: "3",
          value: b64("hello"),
        },
        {
          key: b64("/sshproxy/b"),
          create_revision: "6",
          mod_revision: "6",
          version: "1",
          lease: "7587871234567890001",
        },
      ],
      more: true,
      count: "3",
    }),
  );
  assert.ok(answer.ok);
  const range = decodeRange(answer.value);
  assert.ok(range.ok);
  assert.equal(range.value.more, true);
  assert.equal(range.value.revision, "9");
  assert.deepEqual(range.value.items.map((item) => item.kv), [
    {
      key: "/sshproxy/a",
      value: "hello",
      lease: "0",
      createRevision: "2",
      modRevision: "5",
    },
    {
      key: "/sshproxy/b",
      value: "",
      lease: "7587871234567890001",
      createRevision: "6",
      modRevision: "6",
    },
  ]);
  assert.equal(range.value.items[1].rawKey, "/sshproxy/b");
  const empty = decodeRange({ header: { revision: "1" } });
  assert.ok(empty.ok);
  assert.deepEqual(empty.value, { items: [], more: false, revision: "1" });
  // Unreadable answers are errors, not guesses.
  for (
    const bad of [
      { kvs: "x" },
      { kvs: [{ value: b64("no key") }] },
      { kvs: [{ key: b64("/k"), lease: 5.5 }] },
      { kvs: [{ key: "not base64!" }] },
    ]
  ) {
    const decoded = decodeRange(bad);
    assert.equal(decoded.ok, false, JSON.stringify(bad));
    if (!decoded.ok) {
      assert.match(decoded.error, /^etcd answered an unreadable/);
    }
  }
  assert.equal(parseAnswer("404 page not found").ok, false);
  assert.equal(parseAnswer("[1]").ok, false);
});

Deno.test("lease answers: IDs as strings, a gone lease is TTL -1 (time-to-live) or 0 (keep-alive)", () => {
  assert.deepEqual(
    decodeGrant({ ID: "7587871234567890001", TTL: "5" }),
    { ok: true, value: "7587871234567890001" },
  );
  assert.deepEqual(decodeGrant({ error: "etcdserver: too large lease TTL" }), {
    ok: false,
    error: "too large lease TTL",
  });
  assert.equal(decodeGrant({}).ok, false);
  assert.deepEqual(decodeTimeToLive({ ID: "1", TTL: "-1" }), {
    ok: true,
    value: -1,
  });
  // etcd 3.4's keep-alive of a lease that no longer exists: no TTL field.
  const gone = streamMessage(
    '{"result":{"header":{"revision":"2"},"ID":"12345"}}\n',
  );
  assert.ok(gone.ok);
  assert.deepEqual(decodeKeepAlive(gone.value), { ok: true, value: 0 });
  const alive = streamMessage('{"result":{"ID":"12345","TTL":"5"}}');
  assert.ok(alive.ok);
  assert.deepEqual(decodeKeepAlive(alive.value), { ok: true, value: 5 });
  const refused = streamMessage(
    '{"error":{"grpc_code":16,"http_code":401,"message":"etcdserver: invalid auth token","http_status":"Unauthorized"}}',
  );
  assert.equal(refused.ok, false);
  assert.ok(!refused.ok && "kind" in refused && refused.kind === "token");
  assert.deepEqual(streamMessage(""), {
    ok: false,
    error: "etcd closed the stream without an answer",
  });
});

Deno.test("refusals: etcd's reason without its prefix; token, elsewhere or final", () => {
  const notFound = refusalOf(
    404,
    '{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}',
  );
  assert.deepEqual(notFound, {
    ok: false,
    error: "requested lease not found",
    kind: "final",
    code: 5,
  });
  assert.equal(
    refusalOf(
      401,
      '{"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16}',
    ).kind,
    "token",
  );
  assert.equal(
    refusalOf(
      400,
      '{"message":"etcdserver: revision of auth store is old","code":3}',
    ).kind,
    "token",
  );
  const noLeader = refusalOf(
    503,
    '{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}',
  );
  assert.deepEqual([noLeader.kind, noLeader.error], ["elsewhere", "no leader"]);
  // etcd with its gateway off (a configuration file without
  // enable-grpc-gateway) answers Go's plain 404.
  const off = refusalOf(404, "404 page not found\n");
  assert.equal(off.kind, "elsewhere");
  assert.match(off.error, /--enable-grpc-gateway/);
  const commonName = refusalOf(
    400,
    "CommonName of client sending a request against gateway will be ignored and not used as expected\n",
  );
  assert.match(commonName.error, /without CN in etcd\.tls\.certfile/);
  // Whatever the body, a reason.
  for (
    const [status, body] of [[500, ""], [502, "{}"], [400, '{"code":3}'], [
      418,
      "<html>\n<body>teapot</body>",
    ]] as const
  ) {
    const refusal = refusalOf(status, body);
    assert.ok(refusal.error !== "" && !/undefined/.test(refusal.error));
    assert.match(refusal.error, new RegExp(`HTTP status ${status}`));
  }
});

Deno.test("transport failures: a short reason, never empty or undefined", () => {
  const fetchFailure = (detail: string) =>
    new TypeError("fetch failed", { cause: new Error(detail) });
  const cases: [unknown, string | RegExp][] = [
    [
      fetchFailure(
        "error sending request for url (http://127.0.0.1:2/v3/kv/range): client error (Connect): tcp connect error: Connection refused (os error 111)",
      ),
      "connection refused",
    ],
    [
      fetchFailure(
        "error sending request for url (http://x.invalid:2379/v3/kv/range): client error (Connect): dns error: failed to lookup address information: Name or service not known",
      ),
      "cannot resolve the host name (Name or service not known)",
    ],
    [
      fetchFailure(
        "error sending request for url (https://localhost:1/v3/kv/range): client error (Connect): invalid peer certificate: UnknownIssuer",
      ),
      "TLS: etcd's certificate is not accepted (UnknownIssuer)",
    ],
    [
      fetchFailure("received fatal alert: BadCertificate"),
      "TLS: etcd refused the handshake (BadCertificate)",
    ],
    [
      new DOMException(
        "The operation was aborted due to timeout",
        "TimeoutError",
      ),
      "no answer within 2s",
    ],
    [fetchFailure("something new: deep reason"), "something new: deep reason"],
    [undefined, "the request failed without a reason"],
    [new Error(""), "the request failed without a reason"],
    [new TypeError(""), "TypeError"],
  ];
  for (const [error, expected] of cases) {
    const reason = transportReason(error, 2000);
    if (typeof expected === "string") assert.equal(reason, expected);
    else assert.match(reason, expected);
    assert.ok(reason !== "" && !/undefined/.test(reason), reason);
  }
});
