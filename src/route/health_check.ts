// The live check of a destination (spec §5.8.3): a TCP connection within
// one second. A name that does not resolve is simply "down".
import { fail, ok, type Result } from "../result.ts";
import { ioDeadline } from "../system/timers.ts";

/** Tries a TCP connection to host:port within `timeoutMs`; closes it at once. */
export async function tcpProbe(
  host: string,
  port: number,
  timeoutMs = 1000,
): Promise<Result<void>> {
  const attempt = Deno.connect({ hostname: host, port, transport: "tcp" });
  // V8's timer, not AbortSignal.timeout: the connection being opened holds
  // the process meanwhile, and the first AbortSignal.timeout of a login
  // (Deno's timer and abort code compiled then) cost it ~1.5 ms before ssh.
  const timer = ioDeadline(timeoutMs);
  const timeout = timer.expired.then(() => "timeout" as const);
  try {
    const winner = await Promise.race([attempt, timeout]);
    if (winner === "timeout") {
      // Close the connection if it completes after we gave up.
      attempt.then((connection) => connection.close(), () => {});
      return fail(`dial tcp ${joinHostPort(host, port)}: i/o timeout`);
    }
    winner.close();
    return ok(undefined);
  } catch (error) {
    return fail(describeDialError(host, port, error));
  } finally {
    timer.cancel();
  }
}

/** `host:port`, IPv6 hosts in brackets, as Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

// The reference logs Go's net.Dial errors (`cannot connect to <D>: <err>`);
// admins grep for these texts, so the common cases read the same.
export function describeDialError(
  host: string,
  port: number,
  error: unknown,
): string {
  const address = joinHostPort(host, port);
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `dial tcp ${address}: connect: connection refused`;
  }
  if (error instanceof Deno.errors.TimedOut) {
    return `dial tcp ${address}: i/o timeout`;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/lookup address information|Name or service not known/i.test(message)) {
    return `dial tcp: lookup ${host}: no such host`;
  }
  if (/network is unreachable/i.test(message)) {
    return `dial tcp ${address}: connect: network is unreachable`;
  }
  return `dial tcp ${address}: ${message}`;
}
