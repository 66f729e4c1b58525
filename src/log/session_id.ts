// The session ID (spec §5.3, interop): sshproxy-dumpd and etcd readers of
// reference gateways recompute or display it, so it must be bit-exact.
// SHA-1 from src/log/sha1.ts, not Web Crypto: crypto.subtle loads Deno's
// WebCrypto module on first use and hands the digest to a worker thread,
// ~2 ms of every login before its ssh starts (measured by hand, 2 runs of
// 100 interleaved logins), for a hash of a few dozen bytes that takes
// microseconds. Not node:crypto either: it starts Deno's
// Node-compatibility layer.
import { sha1 } from "./sha1.ts";

/** SID: upper-case hex of the first 5 bytes of SHA-1("<user>@<clientAddress>@<startNs>"). */
export function sessionId(
  user: string,
  clientAddress: string,
  startNs: bigint,
): string {
  const digest = sha1(
    new TextEncoder().encode(`${user}@${clientAddress}@${startNs}`),
  );
  return Array.from(
    digest.subarray(0, 5),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("").toUpperCase();
}
