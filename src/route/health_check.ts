// The live check of a destination (spec §5.8.3): a TCP connection within
// one second. A name that does not resolve is simply "down".
import { fail, ok, type Result } from "../result.ts";

/** Tries a TCP connection to host:port within `timeoutMs`; closes it at once. */
export async function tcpProbe(
  host: string,
  port: number,
  timeoutMs = 1000,
): Promise<Result<void>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = Deno.connect({ hostname: host, port, transport: "tcp" });
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const winner = await Promise.race([attempt, timeout]);
    if (winner === "timeout") {
      // Close the connection if it completes after we gave up.
      attempt.then((connection) => connection.close(), () => {});
      return fail(`dial tcp ${host}:${port}: i/o timeout`);
    }
    winner.close();
    return ok(undefined);
  } catch (error) {
    return fail(
      `dial tcp ${host}:${port}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  } finally {
    clearTimeout(timer);
  }
}
