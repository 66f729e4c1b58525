// The values stored under the etcd keys (spec §6.1), encoded exactly as the
// reference's Go code marshals them (compact JSON, field order, RFC3339Nano
// with the writer's offset) and decoded as tolerantly as Go's
// encoding/json reads them (field names matched case-insensitively, missing
// fields zero, unknown fields ignored). Pure.
import { fail, ok, type Result } from "../result.ts";
import {
  formatRfc3339Nano,
  parseRfc3339,
  type Timestamp,
} from "../format/time.ts";

/** Bandwidth of one connection in integer kB/s (In: user → destination). */
export interface ConnectionStats {
  bwIn: number;
  bwOut: number;
}

/** A host's state; anything unrecognised reads as "unknown" (never usable). */
export type HostState = "up" | "down" | "disabled" | "unknown";

/** What `/sshproxy/hosts/<host:port>` holds. */
export interface HostValue {
  state: HostState;
  /** When the state was checked or set. */
  ts: Timestamp;
}

/** Go's zero time.Time (0001-01-01T00:00:00Z), what a missing `Ts` reads as. */
export const ZERO_TIME: Timestamp = {
  ns: -62_135_596_800_000_000_000n,
  offsetMinutes: 0,
};

/** `{"In":<in>,"Out":<out>}`, as json.Marshal(&Bandwidth{...}) writes it. */
export function encodeConnectionValue(stats: ConnectionStats): string {
  return `{"In":${Math.trunc(stats.bwIn)},"Out":${Math.trunc(stats.bwOut)}}`;
}

// Go's decoder prefers the exact field name, then a case-insensitive match.
function field(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) {
    if (key.toLowerCase() === lower) return object[key];
  }
  return undefined;
}

function parseObject(text: string): Result<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(
      `value is not JSON: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (parsed === null) return ok({});
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    return fail(`value is not a JSON object: ${JSON.stringify(text)}`);
  }
  return ok(parsed as Record<string, unknown>);
}

function integerField(
  object: Record<string, unknown>,
  name: string,
): Result<number> {
  const value = field(object, name);
  if (value === undefined || value === null) return ok(0);
  if (typeof value !== "number" || !Number.isInteger(value)) {
    return fail(`field ${name} is not an integer: ${JSON.stringify(value)}`);
  }
  return ok(value);
}

// What every writer stores; other shapes go through the full decoder.
const PLAIN_CONNECTION_VALUE = /^\{"In":(-?\d{1,15}),"Out":(-?\d{1,15})\}$/;

/** Reads `{"In":n,"Out":n}`; missing fields are 0, as in Go. */
export function decodeConnectionValue(text: string): Result<ConnectionStats> {
  const plain = PLAIN_CONNECTION_VALUE.exec(text);
  if (plain) {
    return ok({ bwIn: Number(plain[1]) || 0, bwOut: Number(plain[2]) || 0 });
  }
  const object = parseObject(text);
  if (!object.ok) return object;
  const bwIn = integerField(object.value, "In");
  if (!bwIn.ok) return bwIn;
  const bwOut = integerField(object.value, "Out");
  if (!bwOut.ok) return bwOut;
  return ok({ bwIn: bwIn.value, bwOut: bwOut.value });
}

/** A state word in any case → the state; anything else is "unknown". */
export function parseHostState(text: string): HostState {
  const lower = text.toLowerCase();
  return lower === "up" || lower === "down" || lower === "disabled"
    ? lower
    : "unknown";
}

/** `{"State":"<state>","Ts":"<RFC3339Nano>"}`, compact, in that order. */
export function encodeHostValue(value: HostValue): string {
  return `{"State":"${value.state}","Ts":"${
    formatRfc3339Nano(value.ts.ns, value.ts.offsetMinutes)
  }"}`;
}

/** Reads a host value; `Ts` must be an RFC3339 string as Go's time.Time decoding wants. */
export function decodeHostValue(text: string): Result<HostValue> {
  const object = parseObject(text);
  if (!object.ok) return object;
  const rawState = field(object.value, "State");
  let state: HostState = "unknown";
  if (typeof rawState === "string") state = parseHostState(rawState);
  else if (rawState !== undefined && rawState !== null) {
    return fail(`field State is not a string: ${JSON.stringify(rawState)}`);
  }
  const rawTs = field(object.value, "Ts");
  if (rawTs === undefined || rawTs === null) {
    return ok({ state, ts: ZERO_TIME });
  }
  if (typeof rawTs !== "string") {
    return fail(`field Ts is not a string: ${JSON.stringify(rawTs)}`);
  }
  const ts = parseRfc3339(rawTs, { strict: true });
  if (!ts.ok) return fail(`field Ts: ${ts.error}`);
  return ok({ state, ts: ts.value });
}

/** A timestamp as Go's JSON encoding of time.Time prints it (RFC3339Nano in its own offset). */
export function timestampText(ts: Timestamp): string {
  return formatRfc3339Nano(ts.ns, ts.offsetMinutes);
}
