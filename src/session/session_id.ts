// The session ID (spec §5.3, interop): sshproxy-dumpd and etcd readers of
// reference gateways recompute or display it, so it must be bit-exact.
import { createHash } from "node:crypto";

/** SID: upper-case hex of the first 5 bytes of SHA-1("<user>@<clientAddress>@<startNs>"). */
export function sessionId(
  user: string,
  clientAddress: string,
  startNs: bigint,
): string {
  const digest = createHash("sha1")
    .update(`${user}@${clientAddress}@${startNs}`, "utf8")
    .digest();
  return digest.subarray(0, 5).toString("hex").toUpperCase();
}
