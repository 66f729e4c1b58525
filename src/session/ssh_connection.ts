// SSH_CONNECTION parsing (spec §5.2). The canonical `ip:port` strings built
// here are the client and sshd addresses used for the SID, etcd keys,
// `sources` matching and the dump header, so they follow Go's printing.
import { fail, ok, type Result } from "../result.ts";
import { formatIp, joinHostPort, parseIp } from "../net/ip_address.ts";

/** One end of the SSH connection, with its IP in canonical form. */
export interface Endpoint {
  ip: string;
  port: number;
}

/** The parsed SSH_CONNECTION: the user's client and the sshd listening address. */
export interface SshConnection {
  client: Endpoint;
  sshd: Endpoint;
  /** Canonical `ip:port` (`[ipv6]:port`) of the client. */
  clientAddress: string;
  /** Canonical `ip:port` (`[ipv6]:port`) on which sshd accepted the connection. */
  sshdAddress: string;
}

// Not anchored, lower-case hex only: the reference's exact pattern, so the
// same values are accepted (and the same fragment is picked) as there.
const PATTERN = /([0-9a-f.:]+) ([0-9]+) ([0-9a-f.:]+) ([0-9]+)/;

// Go's strconv.Atoi on 64-bit platforms.
const MAX_INT64 = (1n << 63n) - 1n;

/** Parses SSH_CONNECTION; errors are the reference's complete fatal messages. */
export function parseSshConnection(
  value: string | undefined,
): Result<SshConnection> {
  if (value === undefined || value === "") {
    return fail("No SSH_CONNECTION environment variable");
  }
  const bad = (why: string) =>
    fail<SshConnection>(`parsing SSH_CONNECTION '${value}': ${why}`);
  const match = PATTERN.exec(value);
  if (match === null) return bad("bad value");
  const [, clientIpText, clientPortText, sshdIpText, sshdPortText] = match;
  // Checked in the reference's order so that the first problem reported is
  // the same one.
  const clientIp = parseIp(clientIpText);
  if (clientIp === undefined) return bad("bad value for source IP");
  const clientPort = BigInt(clientPortText);
  // Only an absurdly long digit run gets here (Atoi overflow); the reference
  // reports it with this message although its code says "will never happen".
  if (clientPort > MAX_INT64) return bad("bad value for source port");
  const sshdIp = parseIp(sshdIpText);
  if (sshdIp === undefined) return bad("bad value for destination IP");
  const sshdPort = BigInt(sshdPortText);
  if (sshdPort > MAX_INT64) return bad("bad value for destination port");

  const client = { ip: formatIp(clientIp), port: Number(clientPort) };
  const sshd = { ip: formatIp(sshdIp), port: Number(sshdPort) };
  return ok({
    client,
    sshd,
    // Printed from the BigInt so leading zeros go away exactly as with Go's
    // Itoa, even for ports a Number could not hold.
    clientAddress: joinHostPort(client.ip, clientPort.toString()),
    sshdAddress: joinHostPort(sshd.ip, sshdPort.toString()),
  });
}
