import assert from "node:assert/strict";
import { sessionId } from "../../src/log/session_id.ts";

Deno.test("the SID of spec §5.3's example is C028E7684F", async () => {
  assert.equal(
    await sessionId("arno", "127.0.0.1:22", 1136239445000000000n),
    "C028E7684F",
  );
});

Deno.test("the SID uses every nanosecond of the start time", async () => {
  const a = await sessionId("arno", "127.0.0.1:22", 1136239445000000000n);
  const b = await sessionId("arno", "127.0.0.1:22", 1136239445000000001n);
  assert.notEqual(a, b);
  assert.match(b, /^[0-9A-F]{10}$/);
});

Deno.test("the SID hashes the bracketed IPv6 client address", async () => {
  const input = "alice@[2001:db8::1]:50000@1700000000123456789";
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(input)),
  );
  const expected = [...digest.slice(0, 5)]
    .map((byte) => byte.toString(16).padStart(2, "0").toUpperCase())
    .join("");
  assert.equal(
    await sessionId("alice", "[2001:db8::1]:50000", 1700000000123456789n),
    expected,
  );
});
