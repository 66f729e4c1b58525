// etcd's watch and the reads that go with it, as data (the agent's mirror
// of /sshproxy/, src/agent/state_mirror.ts): the body of a watch on a
// prefix from a revision, its stream's messages decoded and checked, and
// the one-request summary of a prefix (how many keys, and the newest
// modification among them) that tells whether a mirror is as fresh as
// etcd. Pure: the client (etcd_http.ts) moves the bytes. The JSON gateway
// (grpc-gateway) writes one message per line, `{"result": WatchResponse}`
// or `{"error": {...}}`; fields at their default value are left out (an
// event without `type` is a PUT).
import type { EtcdBackend, KeyValue } from "./etcd_client.ts";
import {
  byteStringFromBase64,
  decodeRange,
  type EtcdRefusal,
  prefixEnd,
  type RangeItem,
  toBase64,
  utf8,
} from "./etcd_wire.ts";
import { fail, ok, type Result } from "../result.ts";

/** One change under a watched prefix, at `revision`. */
export type WatchEvent =
  | { type: "put"; rawKey: string; kv: KeyValue; revision: bigint }
  | { type: "delete"; rawKey: string; revision: bigint };

/** One message of a watch stream. */
export type WatchMessage =
  /** The watch exists (its events follow). */
  | { kind: "created" }
  /** Changes, in revision order; every revision is whole. */
  | { kind: "events"; events: WatchEvent[] }
  /** Nothing changed under the prefix up to `revision`. */
  | { kind: "progress"; revision: bigint }
  /** The start revision is older than etcd's compaction: read again. */
  | { kind: "compacted"; compactRevision: bigint }
  /** etcd ended the watch (`reason`: its words). */
  | { kind: "canceled"; reason: string };

/** How a prefix stands in etcd, from one read (see summaryRequest). */
export interface PrefixSummary {
  /** etcd's revision when it answered. */
  revision: bigint;
  /** Keys under the prefix. */
  count: number;
  /** The highest modification revision among them (0 when none). */
  newestModRevision: bigint;
}

/** A snapshot of a prefix at one revision. */
export interface PrefixSnapshot {
  items: RangeItem[];
  revision: bigint;
}

/** How a watch stream ended. */
export type WatchEnd =
  | { kind: "compacted"; compactRevision: bigint }
  | { kind: "ended"; reason: string }
  | { kind: "cancelled" };

/** A running watch. */
export interface WatchStream {
  /** Resolves once, when the stream is over. */
  readonly done: Promise<WatchEnd>;
  /** Stops it (done then resolves with `cancelled`). */
  cancel(): void;
}

/** An etcd client that can also watch (etcd_http.ts's). */
export interface WatchableEtcd extends EtcdBackend {
  /** Every key under `prefix` at one revision, with that revision. */
  snapshot(prefix: string): Promise<Result<PrefixSnapshot>>;
  /** One read: etcd's revision, and the count and newest change under `prefix`. */
  summary(prefix: string): Promise<Result<PrefixSummary>>;
  /** etcd's revision now, from the cheapest read (one key: `prefix` itself). */
  revision(prefix: string): Promise<Result<bigint>>;
  /**
   * Watches `prefix` from `startRevision` (inclusive); messages go to
   * `onMessage` in order, until the stream ends or is cancelled.
   */
  watch(
    prefix: string,
    startRevision: bigint,
    onMessage: (message: WatchMessage) => void,
  ): WatchStream;
}

/** Whether a backend is one that can watch. */
export function isWatchable(backend: EtcdBackend): backend is WatchableEtcd {
  const candidate = backend as Partial<WatchableEtcd>;
  return typeof candidate.watch === "function" &&
    typeof candidate.snapshot === "function" &&
    typeof candidate.summary === "function" &&
    typeof candidate.revision === "function";
}

/** Body of /v3/watch: a watch on every key under `prefix`, from a revision. */
export function watchRequest(
  prefix: string,
  startRevision: bigint,
): Record<string, unknown> {
  const key = utf8(prefix);
  return {
    create_request: {
      key: toBase64(key),
      range_end: toBase64(prefixEnd(key)),
      start_revision: String(startRevision),
      // Progress notifications say "nothing changed up to R" (etcd sends
      // them every --experimental-watch-progress-notify-interval).
      progress_notify: true,
    },
  };
}

/**
 * Body of /v3/kv/range that summarizes a prefix in one request: the key
 * modified last (keys only, sorted by modification revision, descending,
 * limit 1) and the count of all keys under it, at etcd's current revision.
 */
export function summaryRequest(prefix: string): Record<string, unknown> {
  const key = utf8(prefix);
  return {
    key: toBase64(key),
    range_end: toBase64(prefixEnd(key)),
    limit: "1",
    keys_only: true,
    sort_order: "DESCEND",
    sort_target: "MOD",
  };
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// A revision: a decimal string (or a safe number); absent means 0.
function revision(value: unknown): bigint | undefined {
  if (value === undefined) return 0n;
  if (typeof value === "string" && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value);
  }
  return undefined;
}

/**
 * Body of /v3/kv/range that reads the one key `prefix` (keys only): its
 * answer's header is etcd's revision, at the cost of one key however many
 * there are under the prefix (a summary reads them all: ~10 ms at 5,000).
 */
export function revisionRequest(prefix: string): Record<string, unknown> {
  return { key: toBase64(utf8(prefix)), limit: "1", keys_only: true };
}

/** etcd's revision from the answer of revisionRequest (an answer without one is unreadable). */
export function decodeRevision(answer: Json): Result<bigint> {
  const header = answer.header;
  const found = isObject(header) ? revision(header.revision) : undefined;
  return found === undefined || found === 0n ? bad("revision") : ok(found);
}

/** Decodes the answer of summaryRequest. */
export function decodeSummary(answer: Json): Result<PrefixSummary> {
  const range = decodeRange(answer);
  if (!range.ok) return range;
  const count = revision(answer.count);
  const newest = range.value.items[0]?.kv.modRevision ?? "0";
  if (count === undefined) return fail("etcd answered an unreadable count");
  return ok({
    revision: BigInt(range.value.revision),
    count: Number(count),
    newestModRevision: BigInt(newest),
  });
}

const bad = (what: string) => fail(`etcd answered an unreadable ${what}`);

function decodeEvent(raw: unknown): Result<WatchEvent> {
  if (!isObject(raw) || !isObject(raw.kv)) return bad("watch event");
  const kv = raw.kv;
  if (typeof kv.key !== "string") return bad("watch event (no key)");
  const modRevision = revision(kv.mod_revision);
  if (modRevision === undefined || modRevision === 0n) {
    return bad("watch event (no revision)");
  }
  let rawKey: string;
  try {
    rawKey = byteStringFromBase64(kv.key);
  } catch {
    return bad("watch event (key not base64)");
  }
  const type = raw.type ?? "PUT";
  if (type === "DELETE") {
    return ok({ type: "delete", rawKey, revision: modRevision });
  }
  if (type !== "PUT") return bad(`watch event (type ${String(type)})`);
  // A put's kv is a whole KeyValue: decodeRange checks it the same way.
  const decoded = decodeRange({ kvs: [kv] });
  if (!decoded.ok) return decoded;
  return ok({
    type: "put",
    rawKey,
    kv: decoded.value.items[0].kv,
    revision: modRevision,
  });
}

/**
 * Decodes one line of a watch stream; an etcd refusal (the gateway's
 * `{"error": ...}`) comes back as such, for the client to act on.
 */
export function decodeWatchMessage(
  line: string,
): Result<WatchMessage> | EtcdRefusal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return bad("watch message (not JSON)");
  }
  if (!isObject(parsed)) return bad("watch message");
  if (isObject(parsed.error)) {
    const { message, grpc_code: code } = parsed.error;
    const text = typeof message === "string" && message !== ""
      ? message.replace(/^etcdserver: /, "")
      : "the watch failed";
    return {
      ok: false,
      error: text,
      kind: code === 14
        ? "elsewhere"
        : /invalid auth token/.test(text)
        ? "token"
        : "final",
      code: typeof code === "number" ? code : -1,
    };
  }
  const result = parsed.result;
  if (!isObject(result)) return bad("watch message (no result)");
  const compacted = revision(result.compact_revision);
  if (compacted === undefined) return bad("watch message (compaction)");
  if (compacted > 0n) {
    return ok({ kind: "compacted", compactRevision: compacted });
  }
  if (result.canceled === true) {
    const reason = typeof result.cancel_reason === "string"
      ? result.cancel_reason.replace(/^rpc error: code = \w+ desc = /, "")
        .replace(/^etcdserver: /, "")
      : "";
    return ok({
      kind: "canceled",
      reason: reason || "etcd canceled the watch",
    });
  }
  if (result.created === true) return ok({ kind: "created" });
  const events = result.events ?? [];
  if (!Array.isArray(events)) return bad("watch message (events)");
  if (events.length === 0) {
    const header = isObject(result.header) ? result.header : {};
    const at = revision(header.revision);
    if (at === undefined) return bad("watch message (revision)");
    return ok({ kind: "progress", revision: at });
  }
  const decoded: WatchEvent[] = [];
  for (const raw of events) {
    const event = decodeEvent(raw);
    if (!event.ok) return event;
    decoded.push(event.value);
  }
  return ok({ kind: "events", events: decoded });
}
