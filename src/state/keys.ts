// The etcd key space shared with reference gateways (spec §6.1), byte for
// byte. Pure: builds and parses key names only. Every lookup prefix ends
// with "/" (or "@" for "all services of a user"), so service `default`
// never sees the keys of `default2` (spec §12.3 item 25); keys written by
// reference gateways always carry that "/" after `<user>@<service>`, so
// they are found the same way.
import { fail, ok, type Result } from "../result.ts";
import { parseRfc3339, type Timestamp } from "../format/time.ts";

/** Everything sshproxy stores lives under this prefix. */
export const ROOT_PREFIX = "/sshproxy/";
/** `/sshproxy/connections/<user>@<service>/<dest>/<sshd>/<ts>`. */
export const CONNECTIONS_PREFIX = "/sshproxy/connections/";
/** `/sshproxy/history/<user>@<service>/<leaseID>`. */
export const HISTORY_PREFIX = "/sshproxy/history/";
/** `/sshproxy/hosts/<host:port>`. */
export const HOSTS_PREFIX = "/sshproxy/hosts/";
/** The etcd error banner's text. */
export const BANNER_VALUE_KEY = "/sshproxy/error_banner/value";
/** The etcd error banner's expiry, `YYYY-MM-DD HH:MM:SS`. */
export const BANNER_EXPIRE_KEY = "/sshproxy/error_banner/expire";

// The layout every writer uses (Go's RFC3339Nano); anything else goes
// through the complete parser, which also produces Go's error texts.
const PLAIN_RFC3339 =
  /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:Z|([+-])(\d\d):(\d\d))$/;

function daysIn(month: number, year: number): number {
  if (month === 2) {
    return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// 10^(9 - digits): a fraction of `digits` digits in nanoseconds.
const FRACTION_SCALE = [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 100, 10, 1];

/**
 * Parses a key's time element: a fast path for plainly valid RFC3339Nano
 * (a login without the agent, under connections routing, parses every
 * connection key of the gateways: thousands; so no array, string or
 * BigInt more than needed: 9 -> ~5 ms for 5,000 keys, measured cold),
 * else Go's full rules.
 */
export function parseKeyTime(text: string): Result<Timestamp> {
  const m = PLAIN_RFC3339.exec(text);
  if (m) {
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = Number(m[6]);
    const zulu = m[8] === undefined;
    const offsetHours = zulu ? 0 : Number(m[9]);
    const offsetMinutesPart = zulu ? 0 : Number(m[10]);
    if (
      year >= 100 && month >= 1 && month <= 12 && day >= 1 &&
      day <= daysIn(month, year) && hour < 24 && minute < 60 && second < 60 &&
      offsetHours < 24 && offsetMinutesPart < 60
    ) {
      const offset = (m[8] === "-" ? -1 : 1) *
        (offsetHours * 60 + offsetMinutesPart);
      const ms = Date.UTC(year, month - 1, day, hour, minute, second) -
        offset * 60_000;
      // At most 999,999,999: exact as a number.
      const fraction = m[7] === undefined
        ? 0
        : Number(m[7]) * FRACTION_SCALE[m[7].length];
      return ok({
        ns: BigInt(ms) * 1_000_000n + BigInt(fraction),
        offsetMinutes: offset === 0 ? 0 : offset,
      });
    }
  }
  return parseRfc3339(text);
}

// `<non-empty without @>@<non-empty without :>`, what the reference's
// readers accept as the first element (spec §6.2).
const USER_SERVICE = /^([^@]+)@([^:]+)$/;

/** The parts of a connection key. */
export interface ConnectionKeyParts {
  user: string;
  service: string;
  /** Destination `host:port` (IPv6 as `[addr]:port`). */
  dest: string;
  /** The gateway's sshd listening address (the reference's "From"). */
  sshd: string;
  /** Registration time, as parsed (instant and the writer's UTC offset). */
  ts: Timestamp;
}

/** The parts of a history key. */
export interface HistoryKeyParts {
  user: string;
  service: string;
  /** Decimal etcd lease ID (int64, kept as text). */
  leaseId: string;
}

/** Why a user or service name cannot appear in a key, or undefined when it can. */
export function checkUserService(
  user: string,
  service: string,
): string | undefined {
  if (user === "" || /[@/]/.test(user)) {
    return `user name ${
      JSON.stringify(user)
    } cannot be stored in etcd (empty, or contains "@" or "/")`;
  }
  if (service === "" || /[@/:]/.test(service)) {
    return `service name ${
      JSON.stringify(service)
    } cannot be stored in etcd (empty, or contains "@", "/" or ":")`;
  }
  return undefined;
}

function checkElement(name: string, value: string): string | undefined {
  if (value === "" || value.includes("/")) {
    return `${name} ${
      JSON.stringify(value)
    } cannot be stored in etcd (empty, or contains "/")`;
  }
  return undefined;
}

/** `/sshproxy/connections/<user>@<service>/<dest>/<sshd>/<ts>`; refuses elements that would make a key the reference cannot read. */
export function connectionKey(
  parts: {
    user: string;
    service: string;
    dest: string;
    sshd: string;
    ts: string;
  },
): Result<string> {
  const problem = checkUserService(parts.user, parts.service) ??
    checkElement("destination", parts.dest) ??
    checkElement("sshd address", parts.sshd) ??
    checkElement("timestamp", parts.ts);
  if (problem !== undefined) return fail(problem);
  return ok(
    `${CONNECTIONS_PREFIX}${parts.user}@${parts.service}/${parts.dest}/${parts.sshd}/${parts.ts}`,
  );
}

/**
 * Prefix of the connection keys of `user@service/`, or of every service of
 * `user` (`user@`) when no service is given.
 */
export function connectionPrefix(user: string, service?: string): string {
  return service === undefined
    ? `${CONNECTIONS_PREFIX}${user}@`
    : `${CONNECTIONS_PREFIX}${user}@${service}/`;
}

/** `/sshproxy/history/<user>@<service>/<leaseID>`. */
export function historyKey(
  user: string,
  service: string,
  leaseId: string,
): string {
  return `${HISTORY_PREFIX}${user}@${service}/${leaseId}`;
}

/** Prefix of the history keys of `user@service/`, of `user@`, or all of them. */
export function historyPrefix(user?: string, service?: string): string {
  if (user === undefined || user === "") return HISTORY_PREFIX;
  return service === undefined
    ? `${HISTORY_PREFIX}${user}@`
    : `${HISTORY_PREFIX}${user}@${service}/`;
}

/** `/sshproxy/hosts/<host:port>`. */
export function hostKey(dest: string): string {
  return `${HOSTS_PREFIX}${dest}`;
}

/** Splits `<user>@<service>` as the reference's readers do. */
export function parseUserService(
  text: string,
): Result<{ user: string; service: string }> {
  const match = USER_SERVICE.exec(text);
  if (!match) return fail(`bad user@service element ${JSON.stringify(text)}`);
  return ok({ user: match[1], service: match[2] });
}

/**
 * Parses a connection key with the reference's rules (spec §6.2): four
 * elements after the prefix, `user@service`, an RFC3339 time. The error
 * names what is wrong (the reference names the wrong element, item 43).
 */
export function parseConnectionKey(key: string): Result<ConnectionKeyParts> {
  if (!key.startsWith(CONNECTIONS_PREFIX)) {
    return fail(`not under ${CONNECTIONS_PREFIX}`);
  }
  const parts = key.slice(CONNECTIONS_PREFIX.length).split("/");
  if (parts.length !== 4) {
    return fail(
      `expected <user>@<service>/<dest>/<sshd>/<time> after ${CONNECTIONS_PREFIX}, found ${parts.length} element(s)`,
    );
  }
  const userService = parseUserService(parts[0]);
  if (!userService.ok) return userService;
  const ts = parseKeyTime(parts[3]);
  if (!ts.ok) return fail(`bad time element: ${ts.error}`);
  return ok({
    user: userService.value.user,
    service: userService.value.service,
    dest: parts[1],
    sshd: parts[2],
    ts: ts.value,
  });
}

/** Parses `/sshproxy/history/<user>@<service>/<leaseID>`. */
export function parseHistoryKey(key: string): Result<HistoryKeyParts> {
  if (!key.startsWith(HISTORY_PREFIX)) {
    return fail(`not under ${HISTORY_PREFIX}`);
  }
  const parts = key.slice(HISTORY_PREFIX.length).split("/");
  if (parts.length !== 2) {
    return fail(
      `expected <user>@<service>/<lease ID> after ${HISTORY_PREFIX}, found ${parts.length} element(s)`,
    );
  }
  const userService = parseUserService(parts[0]);
  if (!userService.ok) return userService;
  if (!/^[0-9]+$/.test(parts[1])) {
    return fail(`lease ID ${JSON.stringify(parts[1])} is not a decimal number`);
  }
  return ok({ ...userService.value, leaseId: parts[1] });
}

/** The `host:port` of a host key (everything after the prefix). */
export function parseHostKey(key: string): Result<string> {
  if (!key.startsWith(HOSTS_PREFIX)) return fail(`not under ${HOSTS_PREFIX}`);
  const name = key.slice(HOSTS_PREFIX.length);
  if (name === "") return fail("empty host name");
  return ok(name);
}
