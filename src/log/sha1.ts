// SHA-1 (FIPS 180-4) of a short message, for the session ID only
// (src/log/session_id.ts), where it is an identifier the reference defined,
// not a security measure.
// Hand-written, in plain functions: Web Crypto loads Deno's WebCrypto
// module and hands the digest to a worker thread at every login (~2 ms),
// and @noble/hashes' SHA-1 is a class hierarchy, whose members V8 compiles
// at every login instead of taking them from the install's code cache
// (scripts/eager_compile.ts): by hand, 150 interleaved logins each, ssh
// started 0.7 ms later (p50) and a login took 0.6 ms more CPU with it
// than with this file.

/** The 20-byte SHA-1 digest of `message`. */
export function sha1(message: Uint8Array): Uint8Array {
  const length = message.length;
  // The message, a 1 bit, zeros and the 64-bit bit length, in 64-byte blocks.
  const blocks = ((length + 8) >>> 6) + 1;
  const words = new Uint32Array(blocks * 16);
  for (let index = 0; index < length; index++) {
    words[index >>> 2] |= message[index] << (24 - (index & 3) * 8);
  }
  words[length >>> 2] |= 0x80 << (24 - (length & 3) * 8);
  words[blocks * 16 - 2] = Math.floor(length / 0x20000000);
  words[blocks * 16 - 1] = (length * 8) >>> 0;
  const state = new Uint32Array([
    0x67452301,
    0xefcdab89,
    0x98badcfe,
    0x10325476,
    0xc3d2e1f0,
  ]);
  const schedule = new Uint32Array(80);
  for (let block = 0; block < blocks; block++) {
    compress(state, schedule, words, block * 16);
  }
  const digest = new Uint8Array(20);
  const view = new DataView(digest.buffer);
  for (let index = 0; index < 5; index++) {
    view.setUint32(index * 4, state[index]);
  }
  return digest;
}

function compress(
  state: Uint32Array,
  schedule: Uint32Array,
  words: Uint32Array,
  offset: number,
): void {
  for (let t = 0; t < 16; t++) schedule[t] = words[offset + t];
  for (let t = 16; t < 80; t++) {
    const mixed = schedule[t - 3] ^ schedule[t - 8] ^ schedule[t - 14] ^
      schedule[t - 16];
    schedule[t] = (mixed << 1) | (mixed >>> 31);
  }
  let a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
  for (let t = 0; t < 80; t++) {
    const mixed = t < 20
      ? ((b & c) | (~b & d)) + 0x5a827999
      : t < 40
      ? (b ^ c ^ d) + 0x6ed9eba1
      : t < 60
      ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc
      : (b ^ c ^ d) + 0xca62c1d6;
    const next = (((a << 5) | (a >>> 27)) + mixed + e + schedule[t]) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = next;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
}
