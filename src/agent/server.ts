// The agent's Unix socket: every connection gets a nonce, must prove its
// uid with it (src/agent/proof.ts) in its first line, within a deadline,
// and is then answered (a route) or counted (a report). A route's
// registration stays provisional until the session accepts it; the agent
// withdraws it when the session closes instead, says anything else, or
// does not answer within a bound (protocol.ts). An accepted session may
// keep its connection to send when ssh started and its bandwidth.
// Nothing a client sends is acted upon before the proof holds.
import { checkProof, newNonce } from "./proof.ts";
import {
  CONFIRMED,
  decodeRequest,
  decodeUpdate,
  encodeLine,
  type Hello,
  isAccept,
  LineReader,
  PROTOCOL_VERSION,
  type ReportRequest,
  type RouteReply,
  type RouteRequest,
  type SessionUpdate,
} from "./protocol.ts";
import type { Result } from "../result.ts";

/** A route given but not yet accepted: its registration is provisional. */
export interface ProvisionalRoute {
  /**
   * The session took the route: its registration is final. Returns what
   * receives the session's later lines, if anything.
   */
  accept(): ((update: SessionUpdate) => void) | undefined;
  /** The session did not take it (or the agent stops first): undo the registration. */
  withdraw(reason: string): Promise<void>;
}

/** What the server does with proven requests. */
export interface ServerHandlers<Arrival = undefined> {
  /**
   * Starts, as a connection arrives, what deciding its route will need and
   * takes time (its route gets it back): nothing the client says is known
   * yet, let alone proven.
   */
  arrived?(): Arrival;
  /** Decides a route; a `route` reply comes with its provisional registration. */
  route(request: RouteRequest, arrival: Arrival | undefined): Promise<{
    reply: RouteReply;
    provisional?: ProvisionalRoute;
  }>;
  /** Counts an outcome a session decided itself. */
  report(request: ReportRequest): void | Promise<void>;
  /**
   * A client that left after the greeting without asking: a session that
   * gave up waiting for it (it routes itself), or one that ended.
   */
  abandoned(): void;
  /** A client that could not prove who it claimed to be, or spoke nonsense. */
  rejected(
    category: "proof" | "request" | "deadline" | "busy",
    detail: string,
    claimedUid?: number,
  ): void;
}

/** Where and how the server listens. */
export interface ServerOptions<Arrival = undefined> {
  socketPath: string;
  proofDir: string;
  handlers: ServerHandlers<Arrival>;
  /** Time from the nonce to the client's request (default 2 s). */
  proofDeadlineMs?: number;
  /** Connections served at once; more are closed at once (default 1024). */
  maxConnections?: number;
  /**
   * Time from a route to the session's accept before the agent withdraws
   * it (default ACCEPT_DEADLINE_MS). A session that gave up closes its
   * connection at its own `agent.decision_timeout`: this bounds only a client that
   * neither accepts nor closes.
   */
  acceptDeadlineMs?: number;
}

/** How long a route waits for its accept (sshproxy-agent(8), One registration per session). */
export const ACCEPT_DEADLINE_MS = 10_000;

// An accept that is already in the socket when the deadline fires (the
// agent was stopped or busy) is still read: the deadline waits this much
// more for the read under way.
const ACCEPT_GRACE_MS = 200;

// How long close() waits for the connections being served to finish
// (decisions under way, provisional routes to withdraw).
const CLOSE_BUDGET_MS = 3000;

/** A listening server. */
export interface AgentServer {
  /** Connections being served now. */
  readonly active: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

// After accept() failed, how long before trying again (it fails at once
// while the process has no file descriptor left).
const ACCEPT_RETRY_MS = 100;

// A session's bandwidth is worth one etcd write per second at most.
const MIN_STATS_INTERVAL_MS = 1000;

/**
 * Listens on `socketPath` (a stale socket there is replaced; anything else
 * is refused), world-connectable: the proof, not the socket's mode, says
 * who may do what.
 */
export async function startServer<Arrival = undefined>(
  options: ServerOptions<Arrival>,
): Promise<AgentServer> {
  try {
    const existing = await Deno.lstat(options.socketPath);
    if (!existing.isSocket) {
      throw new Error(
        `${options.socketPath} exists and is not a socket: remove it or choose another agent.socket`,
      );
    }
    await Deno.remove(options.socketPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const listener = Deno.listen({
    transport: "unix",
    path: options.socketPath,
  });
  await Deno.chmod(options.socketPath, 0o666);
  const connections = new Set<Deno.UnixConn>();
  const served = new Set<Promise<void>>();
  const maxConnections = options.maxConnections ?? 1024;
  let closing = false;
  const serving = (async () => {
    for (;;) {
      let connection: Deno.UnixConn;
      try {
        connection = await listener.accept();
      } catch (error) {
        if (closing) return;
        // Out of file descriptors (a local user holding connections open)
        // or a connection gone before it was taken: the listener still
        // works, and must, once the crowd is gone.
        options.handlers.rejected(
          "busy",
          `cannot accept a connection: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (connections.size >= maxConnections) {
        options.handlers.rejected("busy", "too many connections at once");
        try {
          connection.close();
        } catch {
          // already gone
        }
        continue;
      }
      connections.add(connection);
      const serving = serve(connection, options).catch(() => {}).finally(
        () => {
          connections.delete(connection);
          served.delete(serving);
          try {
            connection.close();
          } catch {
            // already closed
          }
        },
      );
      served.add(serving);
    }
  })();
  return {
    get active() {
      return connections.size;
    },
    async close() {
      closing = true;
      listener.close();
      await serving;
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          // already closed
        }
      }
      // Provisional routes are withdrawn as their connections close.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(served),
        new Promise((resolve) => timer = setTimeout(resolve, CLOSE_BUDGET_MS)),
      ]);
      clearTimeout(timer);
      await Deno.remove(options.socketPath).catch(() => {});
    },
  };
}

async function write(
  connection: Deno.Conn,
  message: unknown,
): Promise<boolean> {
  const bytes = encodeLine(message);
  try {
    let written = 0;
    while (written < bytes.length) {
      written += await connection.write(bytes.subarray(written));
    }
    return true;
  } catch {
    return false;
  }
}

async function serve<Arrival>(
  connection: Deno.UnixConn,
  options: ServerOptions<Arrival>,
): Promise<void> {
  const { handlers } = options;
  const nonce = newNonce();
  const issuedAtMs = Date.now();
  const hello: Hello = {
    agent: "sshproxy-agent",
    version: PROTOCOL_VERSION,
    nonce,
    proofDir: options.proofDir,
  };
  // The greeting goes first: the client waits for it, not for the work
  // started on its arrival.
  const greeting = write(connection, hello);
  const arrival = handlers.arrived?.();
  if (!(await greeting)) return;
  const reader = new LineReader(connection);
  // The deadline closes the connection: a late request, or a proof made
  // after it, is never looked at.
  let expired = false;
  const deadline = setTimeout(() => {
    expired = true;
    try {
      connection.close();
    } catch {
      // already closed
    }
  }, options.proofDeadlineMs ?? 2000);
  const first = await reader.next();
  clearTimeout(deadline);
  if (expired) {
    handlers.rejected("deadline", "no request before the deadline");
    await removeProof(options.proofDir, nonce);
    return;
  }
  if (!first.ok || first.value === undefined) {
    // Closed before a byte of request: the end of stream, or a reset when
    // the client had not even read the greeting (Linux resets a Unix
    // socket closed with unread data). Neither is the protocol's fault.
    if (first.ok || reader.bytesRead === 0 && /reset/i.test(first.error)) {
      handlers.abandoned();
    } else {
      handlers.rejected("request", `unreadable request: ${first.error}`);
    }
    await removeProof(options.proofDir, nonce);
    return;
  }
  const request = decodeRequest(first.value);
  if (!request.ok) {
    handlers.rejected("request", `bad request: ${request.error}`);
    await removeProof(options.proofDir, nonce);
    return;
  }
  const proof = checkProof(
    options.proofDir,
    nonce,
    request.value.uid,
    issuedAtMs,
  );
  if (!proof.ok) {
    handlers.rejected("proof", proof.error, request.value.uid);
    return;
  }
  if (request.value.kind === "report") {
    await handlers.report(request.value);
    return;
  }
  const { reply, provisional } = await handlers.route(request.value, arrival);
  if (!(await write(connection, reply))) {
    await provisional?.withdraw(
      "it closed its connection before the answer (it gave up waiting)",
    );
    return;
  }
  if (reply.kind !== "route" || provisional === undefined) return;
  const answer = await nextWithin(
    reader,
    options.acceptDeadlineMs ?? ACCEPT_DEADLINE_MS,
  );
  if (answer === "timeout" || !answer.ok || answer.value === undefined) {
    await provisional.withdraw(
      answer === "timeout"
        ? "it did not accept the route in time"
        : "it closed its connection without taking the route (it gave up waiting)",
    );
    return;
  }
  if (!isAccept(answer.value)) {
    await provisional.withdraw("it answered something else than accept");
    return;
  }
  const onUpdate = provisional.accept();
  // A session that accepted is registered, whether or not it reads this.
  if (!(await write(connection, CONFIRMED)) || onUpdate === undefined) return;
  // The session's later lines, until it closes or goes away.
  let started = false;
  let lastStatsMs = 0;
  for (;;) {
    const line = await reader.next();
    if (!line.ok || line.value === undefined) return;
    const update = decodeUpdate(line.value);
    if (!update.ok) {
      handlers.rejected(
        "request",
        `bad update: ${update.error}`,
        request.value.uid,
      );
      return;
    }
    if (update.value.kind === "started") {
      if (started) continue;
      started = true;
    } else {
      const now = Date.now();
      if (now - lastStatsMs < MIN_STATS_INTERVAL_MS) continue;
      lastStatsMs = now;
    }
    onUpdate(update.value);
  }
}

// The next line within `ms`, or (an extra grace for a read under way)
// "timeout".
async function nextWithin(
  reader: LineReader,
  ms: number,
): Promise<Result<string | undefined> | "timeout"> {
  const next = reader.next();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = (delay: number) =>
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), delay);
    });
  try {
    const first = await Promise.race([next, wait(ms)]);
    if (first !== "timeout") return first;
    clearTimeout(timer);
    return await Promise.race([next, wait(ACCEPT_GRACE_MS)]);
  } finally {
    clearTimeout(timer);
  }
}

async function removeProof(proofDir: string, nonce: string): Promise<void> {
  await Deno.remove(`${proofDir}/${nonce}`).catch(() => {});
}
