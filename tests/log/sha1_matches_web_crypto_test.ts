import assert from "node:assert/strict";
import { sha1 } from "../../src/log/sha1.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

Deno.test("SHA-1 gives FIPS 180's example digests", () => {
  const examples: [string, string][] = [
    ["", "da39a3ee5e6b4b0d3255bfef95601890afd80709"],
    ["abc", "a9993e364706816aba3e25717850c26c9cd0d89d"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    ],
  ];
  for (const [message, digest] of examples) {
    assert.equal(hex(sha1(new TextEncoder().encode(message))), digest);
  }
});

Deno.test("SHA-1 of every length from 0 to 300 bytes matches Web Crypto's", async () => {
  // Padding changes shape at 55/56 bytes of a block and at block ends.
  for (let length = 0; length <= 300; length++) {
    const message = crypto.getRandomValues(new Uint8Array(length));
    const expected = new Uint8Array(
      await crypto.subtle.digest("SHA-1", message),
    );
    assert.equal(hex(sha1(message)), hex(expected), `${length} bytes`);
  }
});

Deno.test("SHA-1 of a message with every byte value set matches Web Crypto's", async () => {
  const message = new Uint8Array(1000).map((_, index) => 255 - (index % 256));
  const expected = new Uint8Array(
    await crypto.subtle.digest("SHA-1", message),
  );
  assert.equal(hex(sha1(message)), hex(expected));
});
