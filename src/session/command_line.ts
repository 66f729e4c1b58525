// `blocking_command` and `bg_command` are split on whitespace, without
// quoting or a shell (spec §5.13), exactly like Go's strings.Fields; the same
// Go whitespace rules split SSHPROXY_ARGS and trim authorized_keys lines.
import { fail, ok, type Result } from "../result.ts";

// Go's unicode.IsSpace; JavaScript's \s differs (it has U+FEFF, lacks U+0085).
const GO_SPACE_CLASS =
  "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const GO_SPACE = new RegExp(`${GO_SPACE_CLASS}+`);
const GO_SPACE_START = new RegExp(`^${GO_SPACE_CLASS}+`);
const GO_SPACE_END = new RegExp(`${GO_SPACE_CLASS}+$`);

/** Trims leading and trailing whitespace like Go's strings.TrimSpace. */
export function trimSpace(text: string): string {
  return text.replace(GO_SPACE_START, "").replace(GO_SPACE_END, "");
}

/** Splits text into words like Go's strings.Fields. */
export function splitFields(text: string): string[] {
  return text.split(GO_SPACE).filter((word) => word !== "");
}

/** The argv of a configured command; `<key> is empty` when there is no word. */
export function commandArgv(key: string, command: string): Result<string[]> {
  const argv = splitFields(command);
  // The reference indexes args[0] unchecked and panics on a blank command.
  if (argv.length === 0) return fail(`${key} is empty`);
  return ok(argv);
}
