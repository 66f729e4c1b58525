// What sessions and the gateway agent say to each other over the agent's
// Unix socket: one JSON object per line, each side's lines bounded in size.
// Pure: encoding and strict decoding only (the agent trusts nothing a
// client sends until its uid is proven, and checks every field's type).
//
// The exchange (sshproxy-agent(8), One registration per session):
//   agent  → {"agent":"sshproxy-agent","version":2,"nonce":N,"proofDir":D}
//   client creates D/N (a new file: only its owner's uid can own it)
//   client → a request: {"kind":"route",...} or {"kind":"report",...}
//   agent  → for a route: {"kind":"route"|"refused"|"fallback",...}
//   client → after a route, {"kind":"accept"} if it takes it; a client
//            that gave up (its agent.decision_timeout) closes instead
//   agent  → {"kind":"confirmed"}: the registration is the session's; or
//            it closes the connection: withdrawn, the session registers
//            itself (it reads this while its ssh starts, not before)
//   client → then, optionally, {"kind":"started"} and {"kind":"stats"}
//            lines while the session lives
//
// A route's registration is provisional until the accept: a session that
// gave up on the agent routes and registers itself, so the agent must not
// keep one too (one session, one key). The byte stream orders the accept
// and the close: the agent sees the one the client did first.
import type { Level } from "../log/format.ts";
import { escapeText } from "../log/escape.ts";
import { fail, ok, type Result } from "../result.ts";

/** The protocol's version; a client that sees another one routes itself. */
export const PROTOCOL_VERSION = 2;

/** Longest line either side accepts (a route reply carries log lines). */
export const MAX_LINE_BYTES = 64 * 1024;

/** The agent's first line on every connection. */
export interface Hello {
  agent: "sshproxy-agent";
  version: number;
  /** Random, single-use: the name of the file that proves the client's uid. */
  nonce: string;
  /** The sticky directory where the proof file is created. */
  proofDir: string;
}

/**
 * How a login ended, as the metrics count it: `proxied`, or the reason it
 * was refused.
 */
export type Outcome =
  | "proxied"
  | "connection_limit"
  | "no_destination"
  | "banner"
  | "command_not_allowed"
  | "bad_sshproxy_args"
  | "etcd_unavailable"
  | "error";

/** Every outcome, in the order metrics list them. */
export const OUTCOMES: readonly Outcome[] = [
  "proxied",
  "connection_limit",
  "no_destination",
  "banner",
  "command_not_allowed",
  "bad_sshproxy_args",
  "etcd_unavailable",
  "error",
];

/** Outcomes a session reports itself (decided before it asks for a route). */
export const REPORTED_OUTCOMES: readonly Outcome[] = [
  "command_not_allowed",
  "bad_sshproxy_args",
  "error",
];

/** Who the client says it is; the uid is proven, the rest is checked. */
export interface Claim {
  uid: number;
  /** The user name the session's own `id` gave. */
  user: string;
  /** The process that connected (the proxy). */
  pid: number;
}

/** A session asks for its route. */
export interface RouteRequest extends Claim {
  kind: "route";
  /** The process whose end ends the session: the proxy, or its parent (hand-off). */
  sessionPid: number;
  /** The configuration file the session read. */
  config: string;
  /** sshd's listening address from SSH_CONNECTION, canonical `ip:port`. */
  sshd: string;
  /** The client's address from SSH_CONNECTION, canonical `ip:port`. */
  client: string;
  sessionId: string;
  /** The session keeps the connection to send its bandwidth. */
  stats: boolean;
}

/** A session refused before routing tells why (fire and forget). */
export interface ReportRequest extends Claim {
  kind: "report";
  outcome: Outcome;
}

/** A client's first line. */
export type Request = RouteRequest | ReportRequest;

/** A log line the session writes to its own log as if it had decided. */
export type LogLine = [Level, string];

/** The agent's answer to a route request. */
export type RouteReply =
  | { kind: "route"; destination: string; service: string; log: LogLine[] }
  | {
    kind: "refused";
    outcome: Outcome;
    /** The session's exit status. */
    status: number;
    /** Written to the session's stdout (the error banner) and stderr. */
    stdout: string;
    stderr: string;
    log: LogLine[];
  }
  | { kind: "fallback"; reason: string };

/** A client's line that takes the route it was given. */
export const ACCEPT = { kind: "accept" } as const;

/** The agent's line once an accepted route's registration is the session's. */
export const CONFIRMED = { kind: "confirmed" } as const;

/** Whether a client's line after a route takes it (anything else withdraws it). */
export function isAccept(line: string): boolean {
  const json = object(line);
  return json.ok && json.value.kind === "accept";
}

/** Whether the agent's line after an accept confirms it (client side). */
export function isConfirmed(line: string): boolean {
  const json = object(line);
  return json.ok && json.value.kind === "confirmed";
}

/** What a routed session sends while it lives. */
export type SessionUpdate =
  | { kind: "started"; seconds: number }
  | {
    kind: "stats";
    /** Bandwidth over the last interval, KiB/s (the connection key's In/Out). */
    in: number;
    out: number;
    /** Bytes since the session started, when the session counts them. */
    bytesIn?: number;
    bytesOut?: number;
  };

/** One line: compact JSON and a newline. */
export function encodeLine(message: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(message)}\n`);
}

type Json = Record<string, unknown>;

function object(line: string): Result<Json> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail("not JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return fail("not a JSON object");
  }
  return ok(value as Json);
}

function text(json: Json, name: string, max = 4096): Result<string> {
  const value = json[name];
  if (typeof value !== "string") return fail(`${name} is not a string`);
  if (value.length > max) return fail(`${name} is too long`);
  // Control characters (C0, DEL, C1) and other unprintable ones (line
  // separators, bidi controls) would reach log lines and keys: whatever
  // escapeText would have to escape is refused.
  if (escapeText(value) !== value) {
    return fail(`${name} holds a control or unprintable character`);
  }
  return ok(value);
}

function integer(
  json: Json,
  name: string,
  min: number,
  max: number,
): Result<number> {
  const value = json[name];
  if (typeof value !== "number" || !Number.isInteger(value)) {
    return fail(`${name} is not an integer`);
  }
  if (value < min || value > max) return fail(`${name} is out of range`);
  return ok(value);
}

function number(
  json: Json,
  name: string,
  min: number,
  max: number,
): Result<number> {
  const value = json[name];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return fail(`${name} is not a number`);
  }
  if (value < min || value > max) return fail(`${name} is out of range`);
  return ok(value);
}

const MAX_UID = 2 ** 32 - 2;
// What src/log/session_id.ts makes.
const SESSION_ID = /^[0-9A-F]{10}$/;
const MAX_PID = 2 ** 22;

function claim(json: Json): Result<Claim> {
  const uid = integer(json, "uid", 0, MAX_UID);
  if (!uid.ok) return uid;
  const user = text(json, "user", 256);
  if (!user.ok) return user;
  const pid = integer(json, "pid", 2, MAX_PID);
  if (!pid.ok) return pid;
  return ok({ uid: uid.value, user: user.value, pid: pid.value });
}

/** Decodes and checks a client's first line. */
export function decodeRequest(line: string): Result<Request> {
  const json = object(line);
  if (!json.ok) return json;
  const who = claim(json.value);
  if (!who.ok) return who;
  const kind = json.value.kind;
  if (kind === "report") {
    const outcome = json.value.outcome;
    if (!REPORTED_OUTCOMES.includes(outcome as Outcome)) {
      return fail("outcome is not one a session reports");
    }
    return ok({ kind, ...who.value, outcome: outcome as Outcome });
  }
  if (kind !== "route") return fail("kind is neither route nor report");
  const fields: Record<string, string> = {};
  for (const name of ["config", "sshd", "client", "sessionId"]) {
    const value = text(json.value, name);
    if (!value.ok) return value;
    fields[name] = value.value;
  }
  // The session ID starts every log line about the session, raw.
  if (!SESSION_ID.test(fields.sessionId)) {
    return fail("sessionId is not a session ID (10 upper-case hex digits)");
  }
  const sessionPid = integer(json.value, "sessionPid", 2, MAX_PID);
  if (!sessionPid.ok) return sessionPid;
  if (typeof json.value.stats !== "boolean") {
    return fail("stats is not a boolean");
  }
  return ok({
    kind,
    ...who.value,
    sessionPid: sessionPid.value,
    config: fields.config,
    sshd: fields.sshd,
    client: fields.client,
    sessionId: fields.sessionId,
    stats: json.value.stats,
  });
}

/** Decodes a line a routed session sends later. */
export function decodeUpdate(line: string): Result<SessionUpdate> {
  const json = object(line);
  if (!json.ok) return json;
  if (json.value.kind === "started") {
    const seconds = number(json.value, "seconds", 0, 86_400);
    return seconds.ok
      ? ok({ kind: "started", seconds: seconds.value })
      : seconds;
  }
  if (json.value.kind === "stats") {
    const bwIn = integer(json.value, "in", 0, Number.MAX_SAFE_INTEGER);
    if (!bwIn.ok) return bwIn;
    const bwOut = integer(json.value, "out", 0, Number.MAX_SAFE_INTEGER);
    if (!bwOut.ok) return bwOut;
    const update: SessionUpdate = {
      kind: "stats",
      in: bwIn.value,
      out: bwOut.value,
    };
    if (json.value.bytesIn !== undefined || json.value.bytesOut !== undefined) {
      const bytesIn = integer(
        json.value,
        "bytesIn",
        0,
        Number.MAX_SAFE_INTEGER,
      );
      if (!bytesIn.ok) return bytesIn;
      const bytesOut = integer(
        json.value,
        "bytesOut",
        0,
        Number.MAX_SAFE_INTEGER,
      );
      if (!bytesOut.ok) return bytesOut;
      update.bytesIn = bytesIn.value;
      update.bytesOut = bytesOut.value;
    }
    return ok(update);
  }
  return fail("kind is neither started nor stats");
}

/** Decodes the agent's first line (client side). */
export function decodeHello(line: string): Result<Hello> {
  const json = object(line);
  if (!json.ok) return json;
  if (json.value.agent !== "sshproxy-agent") {
    return fail("not an sshproxy agent");
  }
  const version = integer(json.value, "version", 0, 1_000_000);
  if (!version.ok) return version;
  if (version.value !== PROTOCOL_VERSION) {
    return fail(
      `protocol version ${version.value}, expected ${PROTOCOL_VERSION}`,
    );
  }
  const nonce = text(json.value, "nonce", 128);
  if (!nonce.ok) return nonce;
  // The nonce becomes a file name: nothing but hex digits.
  if (!/^[0-9a-f]{32,128}$/.test(nonce.value)) {
    return fail("nonce is not hexadecimal");
  }
  const proofDir = text(json.value, "proofDir");
  if (!proofDir.ok) return proofDir;
  if (!proofDir.value.startsWith("/")) return fail("proofDir is not absolute");
  return ok({
    agent: "sshproxy-agent",
    version: version.value,
    nonce: nonce.value,
    proofDir: proofDir.value,
  });
}

const LEVELS: readonly Level[] = [
  "CRITICAL",
  "ERROR",
  "WARNING",
  "NOTICE",
  "INFO",
  "DEBUG",
];

function logLines(value: unknown): Result<LogLine[]> {
  if (!Array.isArray(value)) return fail("log is not a list");
  const lines: LogLine[] = [];
  for (const item of value) {
    if (
      !Array.isArray(item) || item.length !== 2 ||
      !LEVELS.includes(item[0]) || typeof item[1] !== "string"
    ) {
      return fail("log holds something else than [level, text]");
    }
    lines.push([item[0], item[1]]);
  }
  return ok(lines);
}

/** Decodes the agent's answer to a route request (client side). */
export function decodeRouteReply(line: string): Result<RouteReply> {
  const json = object(line);
  if (!json.ok) return json;
  const kind = json.value.kind;
  if (kind === "fallback") {
    const reason = json.value.reason;
    return ok({
      kind,
      reason: typeof reason === "string" ? reason : "no reason given",
    });
  }
  const log = logLines(json.value.log);
  if (!log.ok) return log;
  if (kind === "route") {
    const destination = json.value.destination;
    const service = json.value.service;
    if (typeof destination !== "string" || destination === "") {
      return fail("destination is not a string");
    }
    if (typeof service !== "string") return fail("service is not a string");
    return ok({ kind, destination, service, log: log.value });
  }
  if (kind === "refused") {
    const { outcome, status, stdout, stderr } = json.value;
    if (!OUTCOMES.includes(outcome as Outcome)) return fail("unknown outcome");
    if (typeof status !== "number" || !Number.isInteger(status)) {
      return fail("status is not an integer");
    }
    if (typeof stdout !== "string" || typeof stderr !== "string") {
      return fail("stdout or stderr is not a string");
    }
    return ok({
      kind,
      outcome: outcome as Outcome,
      status,
      stdout,
      stderr,
      log: log.value,
    });
  }
  return fail("kind is not route, refused or fallback");
}

/** Reads lines from a stream, each at most MAX_LINE_BYTES. */
export class LineReader {
  readonly #reader: { read(buffer: Uint8Array): Promise<number | null> };
  readonly #decoder = new TextDecoder();
  #buffered = new Uint8Array(0);
  #ended = false;
  #bytesRead = 0;

  constructor(reader: { read(buffer: Uint8Array): Promise<number | null> }) {
    this.#reader = reader;
  }

  /** Bytes read from the stream so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** The next line (without its newline), undefined at end of stream. */
  async next(): Promise<Result<string | undefined>> {
    for (;;) {
      const newline = this.#buffered.indexOf(0x0a);
      if (newline >= 0) {
        const line = this.#buffered.subarray(0, newline);
        this.#buffered = this.#buffered.slice(newline + 1);
        return ok(this.#decoder.decode(line));
      }
      if (this.#buffered.length > MAX_LINE_BYTES) {
        return fail(`line longer than ${MAX_LINE_BYTES} bytes`);
      }
      if (this.#ended) {
        return this.#buffered.length === 0
          ? ok(undefined)
          : fail("stream ended inside a line");
      }
      const chunk = new Uint8Array(16 * 1024);
      let count: number | null;
      try {
        count = await this.#reader.read(chunk);
      } catch (error) {
        return fail(error instanceof Error ? error.message : String(error));
      }
      if (count === null) {
        this.#ended = true;
        continue;
      }
      this.#bytesRead += count;
      const grown = new Uint8Array(this.#buffered.length + count);
      grown.set(this.#buffered);
      grown.set(chunk.subarray(0, count), this.#buffered.length);
      this.#buffered = grown;
    }
  }
}
