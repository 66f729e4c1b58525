// What the state layer needs from etcd (spec §5.6), and how to get it. This
// module stays small and imports nothing heavy: the client itself
// (etcd_http.ts, etcd v3's JSON gateway over HTTP/1.1) is loaded with the
// store (a session loads both only when etcd is configured,
// session_layer.ts), and the unit tests implement the same interface in
// memory (tests/state/memory_backend.ts).
//
// The connection's rules: endpoints with or without a scheme; TLS for
// `https://` endpoints, and for endpoints written without a scheme when
// any TLS file is configured (as Go's etcd client v3.5 does); `cafile`
// alone is enough (the reference ignores it, spec §12.1 item 10);
// `http://` endpoints are always plain. User/password authentication,
// several endpoints with fail-over, a 2 s budget to reach etcd and 2 s per
// request. Every failure is a value with a one-line text; nothing throws.
import type { EtcdSettings } from "../config/types.ts";
import type { Result } from "../result.ts";

/** One key as stored. */
export interface KeyValue {
  key: string;
  value: string;
  /** Decimal lease ID, "0" when the key has no lease. */
  lease: string;
  /** Decimal revision at which the key was created (when the backend knows it). */
  createRevision?: string;
  /** Decimal revision of the key's last modification (when the backend knows it). */
  modRevision?: string;
}

/** One operation of an atomic transaction. */
export type TxnOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string; prefix?: boolean } };

/** What the state layer needs from etcd; implemented over etcd's JSON gateway (etcd_http.ts) and in memory by tests. */
export interface EtcdBackend {
  /** The configured endpoints, comma-separated, for messages. */
  readonly endpoints: string;
  /** One key, or undefined when absent. */
  get(key: string): Promise<Result<KeyValue | undefined>>;
  /** Every key under `prefix`, ascending key order (values empty with keysOnly). */
  list(
    prefix: string,
    options?: { keysOnly?: boolean },
  ): Promise<Result<KeyValue[]>>;
  /** Puts a key, attached to `lease` when given (else permanent). */
  put(key: string, value: string, lease?: string): Promise<Result<void>>;
  /** Deletes a key, or every key under it with `prefix`; the count deleted. */
  remove(key: string, options?: { prefix?: boolean }): Promise<Result<number>>;
  /** Applies all operations atomically. */
  txn(ops: readonly TxnOp[]): Promise<Result<void>>;
  /** Grants a lease of `ttl` seconds; its decimal ID. */
  grant(ttl: number): Promise<Result<string>>;
  /** Revokes a lease (and deletes its keys); a missing lease is not an error. */
  revoke(id: string): Promise<Result<void>>;
  /** Remaining seconds of a lease, -1 when it does not exist (expired). */
  timeToLive(id: string): Promise<Result<number>>;
  /** Renews a lease once; the remaining TTL, 0 when it no longer exists. */
  keepAliveOnce(id: string): Promise<Result<number>>;
  /** Releases connections; pending calls fail. */
  close(): void;
}

/** Timeout of connecting, and of each request (spec §5.6). */
export const REQUEST_TIMEOUT_MS = 2000;

/** How to open the connection. */
export interface OpenOptions {
  /** Budget to reach etcd (default 2 s, as the reference's dial timeout). */
  connectTimeoutMs?: number;
  /**
   * Called once, right after the first request went out: work the caller
   * has to do anyway, done while etcd answers (see Http1Client).
   */
  whileWaiting?: () => void;
  /**
   * A short-lived client (a session): over TLS with a client certificate,
   * its requests share one connection, one at a time (fetch_client.ts).
   */
  fewConnections?: boolean;
  /**
   * Prefixes listed as the open's check (in one request, at one revision),
   * instead of the small read of /sshproxy/: until the client's first
   * write, list() of one of them and get() of a key under one are answered
   * from it (a session's routing reads; requests to etcd less per login).
   */
  firstLists?: readonly string[];
}

/**
 * Connects to etcd and checks that it answers (one small read of
 * /sshproxy/, or the listings of `firstLists`, within the connect budget,
 * which also checks the credentials).
 * Errors: `cannot reach etcd at <endpoints>: <reason>`, or a line naming the
 * TLS file or the user at fault.
 */
export async function openEtcd(
  settings: EtcdSettings,
  options: OpenOptions = {},
): Promise<Result<EtcdBackend>> {
  const { openHttpEtcd } = await import("./etcd_http.ts");
  return openHttpEtcd(settings, options);
}
