// Unknown keys are accepted, as the reference does, but a typo such as
// `route_selct` must not pass silently: `show config` (and every session's
// DEBUG log) names it and suggests the closest known key.
import { quoted, SETTINGS_KEYS, type UnknownKey } from "./settings.ts";

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j];
      previous[j] = Math.min(
        previous[j] + 1,
        previous[j - 1] + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return previous[b.length];
}

// The keys that are valid where an unknown key was found, so a suggestion
// is always something that could be written there.
function vocabulary(path: string[]): readonly string[] {
  const parent = path.slice(0, -1);
  const where = parent[0] === "overrides" ? parent.slice(1) : parent;
  if (where.length === 0) {
    return parent[0] === "overrides"
      ? [...SETTINGS_KEYS, "match"]
      : [...SETTINGS_KEYS, "overrides"];
  }
  if (where[0] === "ssh") return ["exe", "args", "config"];
  if (where[0] === "agent") {
    return ["socket", "metrics", "timeout", "decision_timeout"];
  }
  if (where[0] === "etcd" && where[1] === "tls") {
    return ["cafile", "keyfile", "certfile"];
  }
  if (where[0] === "etcd") {
    return ["endpoints", "tls", "username", "password", "keyttl", "mandatory"];
  }
  if (where[0] === "translate_commands") {
    return ["ssh_args", "command", "disable_dump"];
  }
  return [];
}

function suggestion(key: string): string | undefined {
  // translate_commands keys are commands and may contain dots: only the
  // field after the command is a key.
  const path = key.startsWith("translate_commands.") ||
      key.startsWith("overrides.translate_commands.")
    ? [
      ...key.slice(0, key.indexOf("translate_commands.")).split(".").filter(
        Boolean,
      ),
      "translate_commands",
      key.slice(key.lastIndexOf(".") + 1),
    ]
    : key.split(".");
  const last = path[path.length - 1];
  // At most one edit per three characters: `route_selct` finds
  // `route_select`, but `foo` does not become `log`.
  let bestDistance = Math.max(1, Math.floor(last.length / 3)) + 1;
  let best: string | undefined;
  for (const known of vocabulary(path)) {
    const distance = editDistance(last, known);
    if (distance < bestDistance) {
      best = known;
      bestDistance = distance;
    }
  }
  return best;
}

// A file can hold any number of unknown keys, and each costs a suggestion
// search and a log line on every login: the first ones are enough to act on.
const MAX_WARNINGS = 100;

/**
 * One warning line per ignored key, in file order:
 * `line N: unknown key "x" ignored (did you mean "y"?)`, or the key's note;
 * at most MAX_WARNINGS lines, then one line saying how many were left out.
 */
export function describeUnknownKeys(keys: readonly UnknownKey[]): string[] {
  const sorted = [...keys].sort((a, b) => a.line - b.line);
  const lines: string[] = [];
  const seen = new Set<string>();
  let omitted = 0;
  for (const { key, line, shadowedBy, mergedInto, note } of sorted) {
    let text: string;
    if (note !== undefined) text = `line ${line}: ${note}`;
    else if (mergedInto !== undefined) {
      text = `line ${line}: duplicate key ${
        quoted(key)
      } merged with the one on line ${mergedInto} (keys given again there win)`;
    } else if (shadowedBy !== undefined) {
      text = `line ${line}: duplicate key ${
        quoted(key)
      } ignored (the one on line ${shadowedBy} wins)`;
    } else {
      // Keys merged from one anchor into several places are met again.
      const best = key.length <= 64 ? suggestion(key) : undefined;
      text = `line ${line}: unknown key ${quoted(key)} ignored${
        best ? ` (did you mean "${best}"?)` : ""
      }`;
    }
    if (seen.has(text)) continue;
    seen.add(text);
    if (lines.length < MAX_WARNINGS) lines.push(text);
    else omitted++;
  }
  if (omitted > 0) {
    lines.push(`${omitted} more warnings about the file left out`);
  }
  return lines;
}
