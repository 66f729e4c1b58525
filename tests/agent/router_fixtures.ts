// What the router's tests stand in for: a session's request, a
// destination that greets like sshd, and /proc's stat line of a process.
import type { RouteRequest } from "../../src/agent/protocol.ts";

/** The proven uid of the tests' sessions, their client's pid and its parent's. */
export const UID = 4242;
export const CLIENT_PID = 500;
export const SESSION_PID = 400;

/** A route request of `user` reading the configuration at `config`. */
export function routeRequest(config: string, user = "alice"): RouteRequest {
  return {
    kind: "route",
    uid: UID,
    user,
    pid: CLIENT_PID,
    sessionPid: SESSION_PID,
    config,
    sshd: "127.0.0.1:22",
    client: "127.0.0.1:50000",
    sessionId: "0123456789",
    stats: false,
  };
}

/** A listener that greets like sshd, so the destination's probe succeeds. */
export function sshLikeListener(): { address: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const connection of listener) {
      connection.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n"))
        .catch(() => {})
        .finally(() => connection.close());
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${listener.addr.port}`,
    close: () => listener.close(),
  };
}

/** /proc/PID/stat of a process with this parent and start time. */
export function statLine(ppid: number, start: number): string {
  const fields = ["S", String(ppid), ...Array(17).fill("0"), String(start)];
  return `(proxy) ${fields.join(" ")} 0 0`;
}
