// The etcd key space and value codecs are byte-for-byte the reference's
// (spec §6.1), and readers accept what reference gateways write (§6.2, §6.3).
import assert from "node:assert/strict";
import {
  BANNER_EXPIRE_KEY,
  BANNER_VALUE_KEY,
  connectionKey,
  connectionPrefix,
  historyKey,
  historyPrefix,
  hostKey,
  parseConnectionKey,
  parseHistoryKey,
  parseHostKey,
  parseKeyTime,
} from "../../src/state/keys.ts";
import {
  decodeConnectionValue,
  decodeHostValue,
  encodeConnectionValue,
  encodeHostValue,
  timestampText,
  ZERO_TIME,
} from "../../src/state/values.ts";
import { parseRfc3339 } from "../../src/format/time.ts";

function ts(text: string) {
  const parsed = parseRfc3339(text);
  assert.ok(parsed.ok);
  return parsed.value;
}

Deno.test("connection keys have the reference's five elements", () => {
  const key = connectionKey({
    user: "alice",
    service: "default",
    dest: "server1:22",
    sshd: "192.168.0.1:2022",
    ts: "2024-05-02T09:15:03.041527381+02:00",
  });
  assert.deepEqual(key, {
    ok: true,
    value:
      "/sshproxy/connections/alice@default/server1:22/192.168.0.1:2022/2024-05-02T09:15:03.041527381+02:00",
  });
  const v6 = connectionKey({
    user: "alice",
    service: "default",
    dest: "[::1]:22",
    sshd: "[::1]:2022",
    ts: "2024-05-02T07:15:03.1Z",
  });
  assert.ok(v6.ok);
  assert.equal(
    v6.value,
    "/sshproxy/connections/alice@default/[::1]:22/[::1]:2022/2024-05-02T07:15:03.1Z",
  );
});

Deno.test("keys the reference could not read are never built", () => {
  const base = {
    user: "alice",
    service: "default",
    dest: "server1:22",
    sshd: "10.0.0.1:22",
    ts: "2024-05-02T07:15:03Z",
  };
  for (
    const bad of [
      { user: "al@ice" },
      { user: "a/b" },
      { user: "" },
      { service: "de:fault" },
      { service: "a/b" },
      { service: "" },
      { dest: "a/b:22" },
      { sshd: "" },
    ]
  ) {
    const key = connectionKey({ ...base, ...bad });
    assert.equal(key.ok, false, JSON.stringify(bad));
  }
});

Deno.test("lookup prefixes end with a slash so default never sees default2", () => {
  assert.equal(
    connectionPrefix("alice", "default"),
    "/sshproxy/connections/alice@default/",
  );
  assert.equal(connectionPrefix("alice"), "/sshproxy/connections/alice@");
  assert.equal(
    historyPrefix("alice", "default"),
    "/sshproxy/history/alice@default/",
  );
  assert.equal(historyPrefix("alice"), "/sshproxy/history/alice@");
  assert.equal(historyPrefix(), "/sshproxy/history/");
  const other =
    "/sshproxy/connections/alice@default2/server1:22/10.0.0.1:22/2024-05-02T07:15:03Z";
  assert.equal(other.startsWith(connectionPrefix("alice", "default")), false);
  // Keys written by a reference gateway carry the same slash.
  const reference =
    "/sshproxy/connections/alice@default/server1:22/10.0.0.1:22/2024-05-02T07:15:03Z";
  assert.ok(reference.startsWith(connectionPrefix("alice", "default")));
  assert.equal(
    historyKey("alice", "default", "7587871234567890123"),
    "/sshproxy/history/alice@default/7587871234567890123",
  );
  assert.equal(hostKey("server1:22"), "/sshproxy/hosts/server1:22");
  assert.equal(BANNER_VALUE_KEY, "/sshproxy/error_banner/value");
  assert.equal(BANNER_EXPIRE_KEY, "/sshproxy/error_banner/expire");
});

Deno.test("connection keys written by reference gateways parse, nanoseconds and offset kept", () => {
  const parsed = parseConnectionKey(
    "/sshproxy/connections/fedora@service2/server1:22/192.168.0.1:2022/2024-05-02T09:15:03.041527381+02:00",
  );
  assert.ok(parsed.ok);
  assert.equal(parsed.value.user, "fedora");
  assert.equal(parsed.value.service, "service2");
  assert.equal(parsed.value.dest, "server1:22");
  assert.equal(parsed.value.sshd, "192.168.0.1:2022");
  assert.equal(
    timestampText(parsed.value.ts),
    "2024-05-02T09:15:03.041527381+02:00",
  );
  assert.equal(parsed.value.ts.offsetMinutes, 120);
  // Any number of fractional digits, Z, trailing zeros re-marshalled away.
  const z = parseConnectionKey(
    "/sshproxy/connections/a@b/h:22/s:1/2024-05-02T07:15:03.100Z",
  );
  assert.ok(z.ok);
  assert.equal(timestampText(z.value.ts), "2024-05-02T07:15:03.1Z");
});

Deno.test("malformed connection keys are errors naming the problem", () => {
  for (
    const [key, pattern] of [
      ["/sshproxy/connections/alice@default/server1:22", /found 2 element/],
      ["/sshproxy/connections/a/b/c/d/e", /found 5 element/],
      [
        "/sshproxy/connections/alice/h:22/s:1/2024-05-02T07:15:03Z",
        /user@service/,
      ],
      [
        "/sshproxy/connections/alice@svc:x/h:22/s:1/2024-05-02T07:15:03Z",
        /user@service/,
      ],
      ["/sshproxy/connections/a@b/h:22/s:1/yesterday", /bad time element/],
    ] as const
  ) {
    const parsed = parseConnectionKey(key);
    assert.equal(parsed.ok, false, key);
    if (!parsed.ok) assert.match(parsed.error, pattern);
  }
});

Deno.test("history keys carry a decimal lease ID", () => {
  assert.deepEqual(
    parseHistoryKey("/sshproxy/history/alice@default/7587871234567890123"),
    {
      ok: true,
      value: {
        user: "alice",
        service: "default",
        leaseId: "7587871234567890123",
      },
    },
  );
  assert.equal(parseHistoryKey("/sshproxy/history/alice@default").ok, false);
  assert.equal(parseHistoryKey("/sshproxy/history/alice@default/x1").ok, false);
  assert.deepEqual(parseHostKey("/sshproxy/hosts/[::1]:22"), {
    ok: true,
    value: "[::1]:22",
  });
});

Deno.test('connection values are {"In":n,"Out":n} and read like Go\'s decoder', () => {
  assert.equal(
    encodeConnectionValue({ bwIn: 0, bwOut: 0 }),
    '{"In":0,"Out":0}',
  );
  assert.equal(
    encodeConnectionValue({ bwIn: 1536, bwOut: 12 }),
    '{"In":1536,"Out":12}',
  );
  assert.deepEqual(decodeConnectionValue('{"In":3,"Out":4}'), {
    ok: true,
    value: { bwIn: 3, bwOut: 4 },
  });
  // Missing fields are 0, names match case-insensitively, extras ignored.
  assert.deepEqual(decodeConnectionValue('{"in":3,"extra":"x"}'), {
    ok: true,
    value: { bwIn: 3, bwOut: 0 },
  });
  assert.deepEqual(decodeConnectionValue("null"), {
    ok: true,
    value: { bwIn: 0, bwOut: 0 },
  });
  for (const bad of ["", "garbage", "[1]", '{"In":1.5}', '{"In":"1"}']) {
    assert.equal(decodeConnectionValue(bad).ok, false, bad);
  }
});

Deno.test("host values are compact {State, Ts} in that order, states read in any case", () => {
  const when = ts("2024-05-02T09:15:03.041527381+02:00");
  assert.equal(
    encodeHostValue({ state: "disabled", ts: when }),
    '{"State":"disabled","Ts":"2024-05-02T09:15:03.041527381+02:00"}',
  );
  assert.deepEqual(
    decodeHostValue('{"State":"UP","Ts":"2024-05-02T07:15:03Z"}'),
    { ok: true, value: { state: "up", ts: ts("2024-05-02T07:15:03Z") } },
  );
  const unknown = decodeHostValue(
    '{"State":"maintenance","Ts":"2024-05-02T07:15:03Z"}',
  );
  assert.ok(unknown.ok);
  assert.equal(unknown.value.state, "unknown");
  const noTs = decodeHostValue('{"State":"down"}');
  assert.ok(noTs.ok);
  assert.equal(noTs.value.ts, ZERO_TIME);
  assert.equal(timestampText(ZERO_TIME), "0001-01-01T00:00:00Z");
  for (
    const bad of ["up", '{"State":1}', '{"State":"up","Ts":"now"}', '{"Ts":5}']
  ) {
    assert.equal(decodeHostValue(bad).ok, false, bad);
  }
});

Deno.test("the fast time path agrees with Go's parser on valid and invalid times", () => {
  const samples = [
    "2024-05-02T09:15:03.041527381+02:00",
    "2024-05-02T07:15:03Z",
    "2024-05-02T07:15:03.1Z",
    "2024-05-02T07:15:03.100000000-05:30",
    "2024-02-29T23:59:59.999999999+14:00",
    "2023-02-29T10:00:00Z",
    "2024-13-01T10:00:00Z",
    "2024-05-02T24:00:00Z",
    "2024-05-02T07:15:60Z",
    "2024-05-02T07:15:03-00:00",
    "2024-05-02T07:15:03+24:00",
    "0099-05-02T07:15:03Z",
    "2024-05-02T07:15:03.1234567891Z",
    "2024-05-02 07:15:03Z",
    "yesterday",
  ];
  // -0 and 0 are the same offset (both print "Z").
  const same = (r: ReturnType<typeof parseRfc3339>) =>
    r.ok ? { ...r.value, offsetMinutes: r.value.offsetMinutes || 0 } : r;
  for (const text of samples) {
    assert.deepEqual(same(parseKeyTime(text)), same(parseRfc3339(text)), text);
  }
  assert.deepEqual(decodeConnectionValue('{"In":-0,"Out":12}'), {
    ok: true,
    value: { bwIn: 0, bwOut: 12 },
  });
});
