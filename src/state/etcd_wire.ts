// etcd v3's JSON gateway, as data: request bodies, answers decoded and
// checked, and every failure turned into a short reason. Pure: no I/O, so
// the codec is tested without an etcd and the client (etcd_http.ts) only
// moves bytes. The gateway is grpc-gateway over etcd's own gRPC API: keys
// and values are base64, 64-bit integers are JSON strings (lease IDs go
// past 2^53), fields at their default value are left out of answers, and
// an error is `{"error", "message", "code"}` with the gRPC status code.
import type { KeyValue, TxnOp } from "./etcd_client.ts";
import { fail, ok, type Result } from "../result.ts";

const encoder = new TextEncoder();
// Non-fatal: a key that is not UTF-8 reads with U+FFFD, as Node's
// Buffer#toString did for the etcd3 client and Go's string() prints it.
const decoder = new TextDecoder();

/** A text's UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes as the gateway's base64. */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

// Keys and values are read through atob, whose byte string (one char per
// byte) is the text itself when it is ASCII, as every key and value
// sshproxy writes is: no TextDecoder call per field. A listing of 5,000
// connection keys (a login's routing read without the agent) decoded in
// ~6 ms less than with Uint8Array.fromBase64 and TextDecoder (measured
// cold, as a login runs it).
const NOT_ASCII = /[\u0080-\uffff]/;

/** The gateway's base64 as a byte string, one char per byte ("" for a field left out). */
export function byteStringFromBase64(text: string | undefined): string {
  return text === undefined || text === "" ? "" : atob(text);
}

/** A byte string's bytes. */
export function bytesOf(byteString: string): Uint8Array {
  const bytes = new Uint8Array(byteString.length);
  for (let i = 0; i < byteString.length; i++) {
    bytes[i] = byteString.charCodeAt(i);
  }
  return bytes;
}

/** The UTF-8 text of a byte string (non-fatal, as `decoder`). */
export function textOf(byteString: string): string {
  return NOT_ASCII.test(byteString)
    ? decoder.decode(bytesOf(byteString))
    : byteString;
}

/** A text's UTF-8 bytes as a byte string (the mirror's names). */
export function byteStringOf(text: string): string {
  if (!NOT_ASCII.test(text)) return text;
  let bytes = "";
  for (const byte of encoder.encode(text)) bytes += String.fromCharCode(byte);
  return bytes;
}

/** Smallest key greater than every key starting with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = new Uint8Array(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.slice(0, i + 1);
    }
  }
  // Every byte 0xff (or empty): the range runs to the end of the key space.
  return new Uint8Array([0]);
}

/** The smallest key after `key`, a byte string (where the next page of a listing starts). */
export function keyAfter(key: string): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(bytesOf(key));
  return next;
}

/** Body of /v3/kv/range. */
export function rangeRequest(
  key: Uint8Array,
  options: {
    rangeEnd?: Uint8Array;
    limit?: number;
    keysOnly?: boolean;
    revision?: string;
  } = {},
): Record<string, unknown> {
  return {
    key: toBase64(key),
    ...(options.rangeEnd ? { range_end: toBase64(options.rangeEnd) } : {}),
    ...(options.limit ? { limit: String(options.limit) } : {}),
    ...(options.keysOnly ? { keys_only: true } : {}),
    ...(options.revision ? { revision: options.revision } : {}),
  };
}

/** Body of /v3/kv/put (also a transaction's request_put). */
export function putRequest(
  key: string,
  value: string,
  lease?: string,
): Record<string, unknown> {
  return {
    key: toBase64(utf8(key)),
    value: toBase64(utf8(value)),
    ...(lease !== undefined && lease !== "0" ? { lease } : {}),
  };
}

/** Body of /v3/kv/deleterange (also a transaction's request_delete_range). */
export function deleteRequest(
  key: string,
  prefix: boolean,
): Record<string, unknown> {
  const bytes = utf8(key);
  return prefix
    ? { key: toBase64(bytes), range_end: toBase64(prefixEnd(bytes)) }
    : { key: toBase64(bytes) };
}

/** Body of /v3/kv/txn: every operation, unconditionally. */
export function txnRequest(ops: readonly TxnOp[]): Record<string, unknown> {
  return {
    success: ops.map((op) =>
      "put" in op
        ? { request_put: putRequest(op.put.key, op.put.value, op.put.lease) }
        : {
          request_delete_range: deleteRequest(
            op.delete.key,
            op.delete.prefix ?? false,
          ),
        }
    ),
  };
}

/** Body of a /v3/kv/txn that only reads: each range at the same revision. */
export function readTxnRequest(
  ranges: readonly Record<string, unknown>[],
): Record<string, unknown> {
  return { success: ranges.map((range) => ({ request_range: range })) };
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// An int64/uint64 field: a decimal string, or (from other encoders) a
// number; absent means 0.
function int64(value: unknown): string | undefined {
  if (value === undefined) return "0";
  if (typeof value === "string" && /^-?\d+$/.test(value)) return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) {
    return String(value);
  }
  return undefined;
}

function bad(what: string): Result<never> {
  return fail(`etcd answered an unreadable ${what}`);
}

/** Parses an answer's body; a reason when it is not a JSON object. */
export function parseAnswer(text: string): Result<Json> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad("answer (not JSON)");
  }
  return isObject(value) ? ok(value) : bad("answer (not a JSON object)");
}

/** One key of a range answer, with its raw bytes. */
export interface RangeItem {
  /** The key's bytes as a byte string (one char per byte: byteStringFromBase64). */
  rawKey: string;
  kv: KeyValue;
}

/** A decoded /v3/kv/range answer. */
export interface RangeAnswer {
  items: RangeItem[];
  more: boolean;
  /** The store revision the answer was read at ("0" when not given). */
  revision: string;
}

/** Decodes a /v3/kv/range answer. */
export function decodeRange(answer: Json): Result<RangeAnswer> {
  const header = answer.header;
  const revision = isObject(header) ? int64(header.revision) : "0";
  const kvs = answer.kvs ?? [];
  if (!Array.isArray(kvs) || revision === undefined) return bad("range");
  const items: RangeItem[] = [];
  for (const raw of kvs) {
    if (!isObject(raw) || typeof raw.key !== "string") return bad("key");
    const lease = int64(raw.lease);
    const createRevision = int64(raw.create_revision);
    const modRevision = int64(raw.mod_revision);
    if (
      (raw.value !== undefined && typeof raw.value !== "string") ||
      lease === undefined || createRevision === undefined ||
      modRevision === undefined
    ) {
      return bad("key");
    }
    let rawKey: string;
    let rawValue: string;
    try {
      rawKey = byteStringFromBase64(raw.key);
      rawValue = byteStringFromBase64(raw.value as string | undefined);
    } catch {
      return bad("key (not base64)");
    }
    items.push({
      rawKey,
      kv: {
        key: textOf(rawKey),
        value: textOf(rawValue),
        lease,
        createRevision,
        modRevision,
      },
    });
  }
  return ok({ items, more: answer.more === true, revision });
}

/** Decodes the answer of readTxnRequest: one range answer per range asked. */
export function decodeReadTxn(answer: Json): Result<RangeAnswer[]> {
  const responses = answer.responses ?? [];
  if (!Array.isArray(responses)) return bad("transaction");
  const ranges: RangeAnswer[] = [];
  for (const response of responses) {
    if (!isObject(response) || !isObject(response.response_range)) {
      return bad("transaction");
    }
    // A transaction's ranges carry no header: the transaction's applies.
    const range = decodeRange({
      ...response.response_range,
      header: answer.header,
    });
    if (!range.ok) return range;
    ranges.push(range.value);
  }
  return ok(ranges);
}

/** The `deleted` count of a /v3/kv/deleterange answer. */
export function decodeDeleted(answer: Json): Result<number> {
  const deleted = int64(answer.deleted);
  return deleted === undefined ? bad("deletion") : ok(Number(deleted));
}

/** Checks a /v3/kv/txn answer (no comparisons: it must have succeeded). */
export function decodeTxn(answer: Json): Result<void> {
  return answer.succeeded === true
    ? ok(undefined)
    : fail("etcd did not apply the transaction");
}

/** The lease ID of a /v3/lease/grant answer. */
export function decodeGrant(answer: Json): Result<string> {
  if (typeof answer.error === "string" && answer.error !== "") {
    return fail(withoutPrefix(answer.error));
  }
  const id = int64(answer.ID);
  if (id === undefined) return bad("lease grant");
  return id === "0" ? fail("etcd granted no lease") : ok(id);
}

/** The TTL of a /v3/lease/timetolive answer: -1 when the lease is gone. */
export function decodeTimeToLive(answer: Json): Result<number> {
  const ttl = int64(answer.TTL);
  return ttl === undefined ? bad("lease TTL") : ok(Number(ttl));
}

/** The token of a /v3/auth/authenticate answer. */
export function decodeToken(answer: Json): Result<string> {
  return typeof answer.token === "string" && answer.token !== ""
    ? ok(answer.token)
    : bad("authentication (no token)");
}

/**
 * The first message of a streamed answer (/v3/lease/keepalive): the
 * gateway writes `{"result": ...}` or `{"error": {...}}` per message, one
 * per line.
 */
export function streamMessage(text: string): Result<Json> | EtcdRefusal {
  const line = text.split("\n").find((l) => l.trim() !== "");
  if (line === undefined) {
    return fail("etcd closed the stream without an answer");
  }
  const parsed = parseAnswer(line);
  if (!parsed.ok) return parsed;
  const { result, error } = parsed.value;
  if (isObject(error)) {
    const code = typeof error.grpc_code === "number" ? error.grpc_code : -1;
    const message = typeof error.message === "string" ? error.message : "";
    return refusal(code, message, `HTTP ${String(error.http_code ?? "?")}`);
  }
  return isObject(result) ? ok(result) : bad("stream message");
}

/** The remaining TTL of a keep-alive message: 0 when the lease is gone. */
export function decodeKeepAlive(message: Json): Result<number> {
  const ttl = int64(message.TTL);
  return ttl === undefined ? bad("keep-alive") : ok(Number(ttl));
}

/** How a refusal by etcd (or its gateway) is to be handled. */
export type RefusalKind =
  /** Final: etcd said no (permission, lease not found, bad request...). */
  | "final"
  /** The auth token is unknown or expired: authenticate again. */
  | "token"
  /** This member cannot serve now (no leader, gateway off...): try another. */
  | "elsewhere";

/** etcd answered, and refused. */
export interface EtcdRefusal {
  ok: false;
  error: string;
  kind: RefusalKind;
  /** The gRPC status code, -1 when the answer was not the gateway's. */
  code: number;
}

// gRPC status codes the gateway passes on.
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

function withoutPrefix(message: string): string {
  return message.replace(/^etcdserver: /, "").trim();
}

function refusal(code: number, message: string, fallback: string): EtcdRefusal {
  const error = withoutPrefix(message) || fallback;
  let kind: RefusalKind = "final";
  if (code === UNAVAILABLE) kind = "elsewhere";
  // A token etcd no longer knows (it restarted: simple tokens live in
  // memory) or issued before the auth store changed: Go's client
  // authenticates again on both, and so do we.
  if (
    code === UNAUTHENTICATED ||
    /invalid auth token|revision of auth store is old/.test(error)
  ) {
    kind = "token";
  }
  return { ok: false, error, kind, code };
}

/** Turns a non-200 answer into a refusal with a reason (never empty). */
export function refusalOf(status: number, body: string): EtcdRefusal {
  const parsed = parseAnswer(body);
  if (parsed.ok) {
    const { code, message, error } = parsed.value;
    const text = typeof message === "string" && message !== ""
      ? message
      : typeof error === "string"
      ? error
      : "";
    return refusal(
      typeof code === "number" ? code : -1,
      text,
      `HTTP status ${status}`,
    );
  }
  // Not the gateway's JSON: etcd's own HTTP layer answered.
  const firstLine = body.trim().split("\n")[0].slice(0, 200);
  if (status === 404) {
    return {
      ok: false,
      error:
        "etcd does not serve its JSON gateway here (HTTP 404 on /v3/); run etcd with --enable-grpc-gateway (enable-grpc-gateway: true in its configuration file)",
      kind: "elsewhere",
      code: -1,
    };
  }
  if (/CommonName of client/.test(firstLine)) {
    return {
      ok: false,
      error:
        "etcd refuses a client certificate that has a Common Name on its JSON gateway when authentication is on; use a certificate without CN in etcd.tls.certfile (the user comes from etcd.username)",
      kind: "elsewhere",
      code: -1,
    };
  }
  return {
    ok: false,
    error: `HTTP status ${status}${firstLine === "" ? "" : `: ${firstLine}`}`,
    kind: status >= 500 ? "elsewhere" : "final",
    code: -1,
  };
}

/** A transport failure (no answer from etcd) as a short reason, never empty. */
export function transportReason(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `no answer within ${timeoutMs / 1000}s`;
  }
  // Deno's sockets throw "Connection refused (os error 111)" and rustls's
  // texts; src/net/http1_client.ts adds "dns error: " to a resolver's
  // failure. (Deno's fetch, used before, chained hyper's causes in
  // `cause`: "error sending request for url (...): client error (Connect):
  // tcp connect error: ...", still read the same way.)
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    if (current instanceof Error) {
      parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  const text = parts.join(": ").replace(/\s+/g, " ");
  const rules: [RegExp, (m: RegExpExecArray) => string][] = [
    [/connection refused/i, () => "connection refused"],
    [
      /dns error: (?:failed to lookup address information: )?([^:]+)/i,
      (m) => `cannot resolve the host name (${m[1].trim()})`,
    ],
    [
      /invalid peer certificate: ([\w ]+)/,
      (m) => `TLS: etcd's certificate is not accepted (${m[1].trim()})`,
    ],
    [
      /received fatal alert: (\w+)/,
      (m) => `TLS: etcd refused the handshake (${m[1]})`,
    ],
    [/tls handshake eof/i, () => "TLS: etcd closed the handshake"],
    [
      /connection closed before message completed|unexpected end of file|IncompleteMessage/i,
      () => "etcd closed the connection without answering",
    ],
    [/connection reset/i, () => "connection reset"],
    [/no route to host/i, () => "no route to host"],
    [/network is unreachable/i, () => "network is unreachable"],
  ];
  for (const [pattern, reason] of rules) {
    const match = pattern.exec(text);
    if (match) return reason(match);
  }
  // Something else: its innermost cause, without the URL preamble.
  const last = parts.filter((p) => p.trim() !== "").pop() ?? "";
  const core = last.replace(/^error sending request[^:]*:\s*/, "").trim();
  if (core !== "" && core !== "undefined") return core;
  return error instanceof Error && error.name !== "Error"
    ? error.name
    : "the request failed without a reason";
}
