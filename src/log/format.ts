// Log line formats of spec §5.5 (pure). Every message is escaped here, the
// one place all sinks (file, stderr, syslog) go through, so a record is
// always exactly one line whatever user text it carries (escape.ts).
import { escapeText } from "./escape.ts";

/** Severity levels, most severe first (names as the reference prints them). */
export type Level =
  | "CRITICAL"
  | "ERROR"
  | "WARNING"
  | "NOTICE"
  | "INFO"
  | "DEBUG";

/** Syslog severity of each level (RFC 5424 numbers). */
export const SYSLOG_SEVERITY: Record<Level, number> = {
  CRITICAL: 2,
  ERROR: 3,
  WARNING: 4,
  NOTICE: 5,
  INFO: 6,
  DEBUG: 7,
};

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** `YYYY-MM-DD HH:MM:SS LEVEL SID: message` in local time (file and stderr logs). */
export function formatLogLine(
  now: Date,
  level: Level,
  sessionId: string,
  message: string,
): string {
  const stamp =
    `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ` +
    `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return `${stamp} ${level} ${sessionId}: ${escapeText(message)}\n`;
}

/** `<PRI>LEVEL SID: message` for `logger --prio-prefix` (facility authpriv, 10). */
export function formatSyslogLine(
  level: Level,
  sessionId: string,
  message: string,
): string {
  // The reference logs with facility 0 (kern), which syslog daemons file
  // with kernel messages; connection records belong with sshd's, in authpriv.
  const priority = 10 * 8 + SYSLOG_SEVERITY[level];
  // One record per line for logger(1): embedded newlines would split it.
  return `<${priority}>${level} ${sessionId}: ${escapeText(message)}\n`;
}

/** Go's standard logger prefix, `YYYY/MM/DD HH:MM:SS `, in local time. */
export function goLogPrefix(now = new Date()): string {
  return `${now.getFullYear()}/${pad(now.getMonth() + 1)}/${
    pad(now.getDate())
  } ` +
    `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())} `;
}
