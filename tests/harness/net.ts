/** Loopback port helpers: no fixed ports, so parallel runs cannot collide. */

import { sleep } from "./process.ts";

/** A free TCP port on `hostname` (a loopback address), chosen by the kernel. */
export async function freePort(hostname = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(1, hostname);
  return port;
}

/**
 * `count` distinct free TCP ports on `hostname`. All listeners stay open until
 * every port is chosen, so the kernel cannot hand out the same port twice.
 */
export function freePorts(
  count: number,
  hostname = "127.0.0.1",
): Promise<number[]> {
  if (!hostname.startsWith("127.")) {
    throw new Error(
      `e2e harness: only loopback addresses allowed, got ${hostname}`,
    );
  }
  const listeners: Deno.Listener[] = [];
  try {
    for (let i = 0; i < count; i++) {
      listeners.push(Deno.listen({ hostname, port: 0, transport: "tcp" }));
    }
    return Promise.resolve(listeners.map((l) => (l.addr as Deno.NetAddr).port));
  } finally {
    for (const l of listeners) l.close();
  }
}

/**
 * Wait until `hostname:port` accepts TCP connections. Returns false after
 * `timeoutMs`, or as soon as `stillAlive()` says the server process died, so
 * the caller can report the server's log instead of a bare timeout.
 */
export async function waitForPort(
  hostname: string,
  port: number,
  timeoutMs: number,
  stillAlive: () => boolean = () => true,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!stillAlive()) return false;
    try {
      const conn = await Deno.connect({ hostname, port, transport: "tcp" });
      conn.close();
      return true;
    } catch {
      await sleep(25);
    }
  }
  return false;
}

/** Decode /proc/net/tcp's little-endian "0100007F:1F90" into "127.0.0.1:8080". */
function decodeProcAddress(hex: string): string {
  const [ip, port] = hex.split(":");
  const bytes = [6, 4, 2, 0].map((i) => parseInt(ip.slice(i, i + 2), 16));
  return `${bytes.join(".")}:${parseInt(port, 16)}`;
}

/** "ip:port" of every IPv4 TCP socket that process `pid` listens on. */
export async function listeningAddresses(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  try {
    for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
      const target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`).catch(
        () => "",
      );
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]);
    }
  } catch {
    return new Set(); // The process is gone.
  }
  const found = new Set<string>();
  const table = await Deno.readTextFile("/proc/net/tcp");
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[3] is the state (0A = LISTEN), f[9] the socket inode.
    if (f.length > 9 && f[3] === "0A" && inodes.has(f[9])) {
      found.add(decodeProcAddress(f[1]));
    }
  }
  return found;
}

/**
 * Wait until process `pid` itself listens on every `host:port` given.
 * Checking ownership (not just that something accepts) catches a server
 * that lost a race for its port to another program.
 */
export async function waitForListening(
  pid: number,
  addresses: { host: string; port: number }[],
  timeoutMs: number,
  stillAlive: () => boolean | Promise<boolean> = () => true,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && await stillAlive()) {
    const have = await listeningAddresses(pid);
    if (addresses.every(({ host, port }) => have.has(`${host}:${port}`))) {
      return true;
    }
    await sleep(25);
  }
  return false;
}

/**
 * A TCP listener on loopback standing for a destination whose live check
 * (a TCP connection) passes: it accepts and closes every connection.
 */
export function acceptingDestination(): { address: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const connection of listener) connection.close();
  })().catch(() => {});
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: () => listener.close(),
  };
}
