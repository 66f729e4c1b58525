// The agent's list of watched sessions, kept in its runtime directory
// (RuntimeDirectoryPreserve=restart) so that a restarted agent (upgrade,
// crash) takes them back: it watches their processes again, and keeps
// their etcd keys under the same lease if it is still alive, else writes
// them again. Decoding is pure and strict: a file that does not read is
// ignored as a whole (its sessions' keys then lapse with the old lease).
import { fail, ok, type Result } from "../result.ts";
import type { HistoryWish } from "./agent_keys.ts";
import type { LiveSession } from "./sessions.ts";

/** One session as saved. */
export interface SavedSession {
  sessionId: string;
  uid: number;
  user: string;
  service: string;
  destination: string;
  sshd: string;
  client: string;
  pid: number;
  startTime: string;
  startedMs: number;
  key?: string;
  history?: HistoryWish;
}

/** What the file holds. */
export interface SavedState {
  /** The connection lease the keys are under, when there is one. */
  lease?: string;
  sessions: SavedSession[];
}

/** A live session as saved. */
export function saveSession(
  session: LiveSession,
  history?: HistoryWish,
): SavedSession {
  return {
    sessionId: session.sessionId,
    uid: session.uid,
    user: session.user,
    service: session.service,
    destination: session.destination,
    sshd: session.sshd,
    client: session.client,
    pid: session.process.pid,
    startTime: String(session.process.startTime),
    startedMs: session.startedMs,
    ...(session.key === undefined ? {} : { key: session.key }),
    ...(history === undefined ? {} : { history }),
  };
}

function isText(value: unknown): value is string {
  return typeof value === "string";
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** Reads the file's text (pure). */
export function decodeState(text: string): Result<SavedState> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail("not JSON");
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return fail("not an object");
  }
  const { version, lease, sessions } = json as Record<string, unknown>;
  if (version !== 1) return fail("unknown version");
  if (lease !== undefined && !(isText(lease) && /^\d+$/.test(lease))) {
    return fail("bad lease");
  }
  if (!Array.isArray(sessions)) return fail("no session list");
  const decoded: SavedSession[] = [];
  for (const item of sessions) {
    const s = item as Record<string, unknown>;
    if (
      item === null || typeof item !== "object" ||
      ![s.sessionId, s.user, s.service, s.destination, s.sshd, s.client]
        .every(isText) ||
      !isCount(s.uid) || !isCount(s.pid) || !isCount(s.startedMs) ||
      !(isText(s.startTime) && /^\d+$/.test(s.startTime)) ||
      !(s.key === undefined || isText(s.key))
    ) {
      return fail("bad session entry");
    }
    let history: HistoryWish | undefined;
    if (s.history !== undefined) {
      const h = s.history as Record<string, unknown>;
      if (
        h === null || typeof h !== "object" ||
        ![h.user, h.service, h.dest].every(isText) || !isCount(h.ttl)
      ) {
        return fail("bad history entry");
      }
      history = {
        user: h.user as string,
        service: h.service as string,
        dest: h.dest as string,
        ttl: h.ttl as number,
      };
    }
    decoded.push({
      sessionId: s.sessionId as string,
      uid: s.uid as number,
      user: s.user as string,
      service: s.service as string,
      destination: s.destination as string,
      sshd: s.sshd as string,
      client: s.client as string,
      pid: s.pid as number,
      startTime: s.startTime as string,
      startedMs: s.startedMs as number,
      ...(s.key === undefined ? {} : { key: s.key as string }),
      ...(history === undefined ? {} : { history }),
    });
  }
  return ok({ ...(lease === undefined ? {} : { lease }), sessions: decoded });
}

/** The file's text (pure). */
export function encodeState(state: SavedState): string {
  return `${JSON.stringify({ version: 1, ...state })}\n`;
}

/** Reads the file; undefined when there is none, an error when it does not read. */
export async function readState(
  path: string,
): Promise<Result<SavedState | undefined>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return ok(undefined);
    return fail(error instanceof Error ? error.message : String(error));
  }
  return decodeState(text);
}

/** Replaces the file at once (written beside it, then renamed). */
export async function writeState(
  path: string,
  state: SavedState,
): Promise<Result<void>> {
  const temporary = `${path}.new`;
  try {
    await Deno.writeTextFile(temporary, encodeState(state), { mode: 0o600 });
    await Deno.rename(temporary, path);
    return ok(undefined);
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
}
