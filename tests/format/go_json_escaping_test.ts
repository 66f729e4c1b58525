import assert from "node:assert/strict";
import {
  encodeGoJson,
  encodeGoJsonArrayLine,
  encodeGoJsonLine,
} from "../../src/format/json.ts";

Deno.test("show -json's example line is reproduced byte for byte", () => {
  assert.deepEqual(
    encodeGoJsonArrayLine([{
      User: "fedora",
      Service: "service2",
      Dest: "server1:22",
      N: 2,
      Last: "2024-05-02T09:15:03.041527381+02:00",
      BwIn: 0,
      BwOut: 0,
    }]),
    {
      ok: true,
      value:
        '[{"User":"fedora","Service":"service2","Dest":"server1:22","N":2,"Last":"2024-05-02T09:15:03.041527381+02:00","BwIn":0,"BwOut":0}]\n',
    },
  );
});

Deno.test("an empty listing is [] or, for Go's nil slices, null", () => {
  assert.deepEqual(encodeGoJsonArrayLine([]), { ok: true, value: "[]\n" });
  assert.deepEqual(encodeGoJsonArrayLine([], { emptyAsNull: true }), {
    ok: true,
    value: "null\n",
  });
});

Deno.test("HTML characters, line separators and controls are escaped like Go", () => {
  assert.deepEqual(
    encodeGoJson([
      "<a>&b",
      "\u2028\u2029",
      "\x00\x01\x1f\x7f",
      '"\\',
      "\b\f\n\r\t",
    ]),
    {
      ok: true,
      value:
        '["\\u003ca\\u003e\\u0026b","\\u2028\\u2029","\\u0000\\u0001\\u001f\x7f","\\"\\\\","\\b\\f\\n\\r\\t"]',
    },
  );
});

Deno.test("C1 controls are escaped too, unlike Go: they could drive an admin's terminal", () => {
  assert.deepEqual(encodeGoJson("a\u0080\u009b31m\u009fé"), {
    ok: true,
    value: '"a\\u0080\\u009b31m\\u009fé"',
  });
});

Deno.test("other non-ASCII text stays UTF-8 and lone surrogates become U+FFFD", () => {
  assert.deepEqual(encodeGoJson("é中🙂\ud800"), {
    ok: true,
    value: '"é中🙂\\ufffd"',
  });
});

Deno.test("keys keep insertion order and numbers print as Go prints them", () => {
  assert.deepEqual(
    encodeGoJsonLine({
      State: "up",
      Ts: "x",
      N: -0,
      B: 2n ** 63n - 1n,
      F: 1e21,
    }),
    {
      ok: true,
      value:
        '{"State":"up","Ts":"x","N":-0,"B":9223372036854775807,"F":1e+21}\n',
    },
  );
});

Deno.test("NaN cannot be encoded, with Go's message", () => {
  assert.deepEqual(encodeGoJson({ x: Number.NaN }), {
    ok: false,
    error: "json: unsupported value: NaN",
  });
});
