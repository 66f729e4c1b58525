// The sessions the agent routed and still watches. Each is tied to one
// process (pid and start time, src/agent/processes.ts) that /proc is polled
// for; when it is gone the session has ended, whatever its proxy said or
// did not say, and its end is handed to `onEnded` (etcd key deleted, agent
// log line, metrics).
import {
  type ProcSource,
  stillRunning,
  type WatchedProcess,
} from "./processes.ts";

/** A session routed by the agent, while its process lives. */
export interface LiveSession {
  /** The agent's own number for it. */
  id: number;
  sessionId: string;
  uid: number;
  user: string;
  service: string;
  destination: string;
  /** sshd's listening address (the key's `<sshd>` element). */
  sshd: string;
  client: string;
  /** The watched process (the proxy, or the launcher that became ssh). */
  process: WatchedProcess;
  startedMs: number;
  /** The latest bandwidth the session published, KiB/s. */
  stats: { in: number; out: number };
  /** Bytes the session counted so far, when it counts them. */
  bytes?: { in: number; out: number };
  /** The etcd connection key, when registered. */
  key?: string;
  /** Routed, but the session has not accepted the route yet. */
  provisional?: boolean;
}

/** What the registry needs. */
export interface RegistryDependencies {
  proc: ProcSource;
  /** A session's process has ended. */
  onEnded(session: LiveSession): Promise<void> | void;
  /** /proc could not be read this time (sessions are kept). */
  onBlind?(reason: string): void;
  now?: () => number;
}

/** The live sessions and their watching. */
export class SessionRegistry {
  readonly #sessions = new Map<number, LiveSession>();
  readonly #dependencies: RegistryDependencies;
  #nextId = 1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> | undefined;
  #stopped = false;

  constructor(dependencies: RegistryDependencies) {
    this.#dependencies = dependencies;
  }

  /** A new session's number. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Starts watching a session. */
  add(session: LiveSession): void {
    this.#sessions.set(session.id, session);
  }

  /** Stops watching a session without ending it (a withdrawn route). */
  remove(id: number): LiveSession | undefined {
    const session = this.#sessions.get(id);
    this.#sessions.delete(id);
    return session;
  }

  /** The session watching this process, if any (one route per process). */
  byProcess(process: WatchedProcess): LiveSession | undefined {
    for (const session of this.#sessions.values()) {
      if (
        session.process.pid === process.pid &&
        session.process.startTime === process.startTime
      ) return session;
    }
    return undefined;
  }

  /** One session by number. */
  get(id: number): LiveSession | undefined {
    return this.#sessions.get(id);
  }

  /** Every live session. */
  all(): LiveSession[] {
    return [...this.#sessions.values()];
  }

  /** How many sessions live. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Looks at every watched process once; ends the sessions whose process is gone. */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    let running: boolean[];
    try {
      running = await stillRunning(
        sessions.map((session) => session.process),
        this.#dependencies.proc,
      );
    } catch (error) {
      // Not knowing is not "ended": the sessions stay until /proc answers.
      this.#dependencies.onBlind?.(
        error instanceof Error ? error.message : String(error),
      );
      return;
    }
    const ended = sessions.filter((_, index) => !running[index]);
    for (const session of ended) this.#sessions.delete(session.id);
    await Promise.all(ended.map(async (session) => {
      try {
        await this.#dependencies.onEnded(session);
      } catch {
        // onEnded reports its own failures
      }
    }));
  }

  /** Polls every `intervalMs` until stopped. */
  watch(intervalMs: number): void {
    const tick = () => {
      this.#timer = undefined;
      this.poll().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
      });
    };
    this.#stopped = false;
    this.#timer = setTimeout(tick, intervalMs);
  }

  /** Stops watching (sessions stay listed). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }
}
