// The session ID (spec §5.3, interop): sshproxy-dumpd and etcd readers of
// reference gateways recompute or display it, so it must be bit-exact.
// Web Crypto, not node:crypto: the latter starts Deno's Node-compatibility
// layer, which every login would pay for.

/** SID: upper-case hex of the first 5 bytes of SHA-1("<user>@<clientAddress>@<startNs>"). */
export async function sessionId(
  user: string,
  clientAddress: string,
  startNs: bigint,
): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(`${user}@${clientAddress}@${startNs}`),
    ),
  );
  return Array.from(
    digest.subarray(0, 5),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("").toUpperCase();
}
