import assert from "node:assert/strict";
import { sessionId } from "../../src/log/session_id.ts";

Deno.test("the SID of spec §5.3's example is C028E7684F", () => {
  assert.equal(
    sessionId("arno", "127.0.0.1:22", 1136239445000000000n),
    "C028E7684F",
  );
});

Deno.test("the SID uses every nanosecond of the start time", () => {
  const a = sessionId("arno", "127.0.0.1:22", 1136239445000000000n);
  const b = sessionId("arno", "127.0.0.1:22", 1136239445000000001n);
  assert.notEqual(a, b);
  assert.match(b, /^[0-9A-F]{10}$/);
});

/** The SID of `input` by Web Crypto's SHA-1: an oracle independent of ours. */
async function webCryptoSid(input: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(input)),
  );
  return [...digest.slice(0, 5)]
    .map((byte) => byte.toString(16).padStart(2, "0").toUpperCase())
    .join("");
}

Deno.test("the SID hashes the bracketed IPv6 client address", async () => {
  assert.equal(
    sessionId("alice", "[2001:db8::1]:50000", 1700000000123456789n),
    await webCryptoSid("alice@[2001:db8::1]:50000@1700000000123456789"),
  );
});

Deno.test("the SID of inputs spanning one to three SHA-1 blocks matches Web Crypto's digest", async () => {
  // 55, 56 and 64 bytes are where SHA-1's padding changes shape.
  for (const length of [1, 20, 40, 41, 42, 48, 49, 100, 150]) {
    const user = "u".repeat(length);
    const input = `${user}@192.0.2.7:50000@1700000000123456789`;
    assert.equal(
      sessionId(user, "192.0.2.7:50000", 1700000000123456789n),
      await webCryptoSid(input),
      `user of ${length} characters (${
        new TextEncoder().encode(input).length
      } bytes)`,
    );
  }
});
