// Go's `flag` package grammar, which every reference command line uses
// (spec §2): `-name` or `--name`, `-name=value` or `-name value` for string
// flags, bool flags that never take the next word (`-json`, `-json=false`),
// parsing that stops at the first non-flag or after `--`, and Go's exact
// error texts and usage listing. Hand-written because no npm CLI parser
// reproduces it: yargs-parser and commander were both tried; they let a
// bool flag eat a following `true`, take `-c -json` as two flags, read
// `-json=maybe` as false and accept a flag with no value, all of which Go
// rejects or reads differently, and scripts written for the reference rely
// on Go's reading.
import { fail, ok, type Result } from "../result.ts";

/** One flag a command accepts. */
export interface FlagSpec {
  name: string;
  kind: "bool" | "string";
  help: string;
  /** Shown as `(default "...")` in the usage when non-empty. */
  defaultValue?: string;
}

/** Parsed flag values (only the flags given) and the remaining arguments. */
export interface ParsedFlags {
  values: Map<string, string | boolean>;
  rest: string[];
  /** True when `-h`, `-help` (or `--h`, `--help`) was given and is not a defined flag. */
  helpRequested: boolean;
}

const TRUE_WORDS = ["1", "t", "T", "TRUE", "true", "True"];
const FALSE_WORDS = ["0", "f", "F", "FALSE", "false", "False"];

/** Parses `args` against `specs` the way Go's flag.FlagSet.Parse does. */
export function parseGoFlags(
  args: readonly string[],
  specs: readonly FlagSpec[],
): Result<ParsedFlags> {
  const values = new Map<string, string | boolean>();
  let index = 0;
  while (index < args.length) {
    const arg = args[index];
    if (arg.length < 2 || arg[0] !== "-") break;
    let body = arg.slice(1);
    if (body.startsWith("-")) {
      body = body.slice(1);
      if (body === "") {
        index++;
        break;
      }
    }
    if (body === "" || body.startsWith("-") || body.startsWith("=")) {
      return fail(`bad flag syntax: ${arg}`);
    }
    index++;
    const equals = body.indexOf("=");
    const name = equals < 0 ? body : body.slice(0, equals);
    const inlineValue = equals < 0 ? undefined : body.slice(equals + 1);
    const spec = specs.find((candidate) => candidate.name === name);
    if (!spec) {
      if (name === "h" || name === "help") {
        return ok({ values, rest: args.slice(index), helpRequested: true });
      }
      return fail(`flag provided but not defined: -${name}`);
    }
    if (spec.kind === "bool") {
      if (inlineValue === undefined) values.set(name, true);
      else if (TRUE_WORDS.includes(inlineValue)) values.set(name, true);
      else if (FALSE_WORDS.includes(inlineValue)) values.set(name, false);
      else {return fail(
          `invalid boolean value ${
            JSON.stringify(inlineValue)
          } for -${name}: parse error`,
        );}
      continue;
    }
    if (inlineValue !== undefined) {
      values.set(name, inlineValue);
    } else if (index < args.length) {
      values.set(name, args[index]);
      index++;
    } else {
      return fail(`flag needs an argument: -${name}`);
    }
  }
  return ok({ values, rest: args.slice(index), helpRequested: false });
}

/** Go's PrintDefaults listing: flags sorted by name, two lines each. */
export function formatFlagDefaults(specs: readonly FlagSpec[]): string {
  const sorted = [...specs].sort((
    a,
    b,
  ) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let text = "";
  for (const spec of sorted) {
    let line = `  -${spec.name}`;
    if (spec.kind === "string") line += " string";
    line += line.length <= 4 ? "\t" : "\n    \t";
    line += spec.help.replaceAll("\n", "\n    \t");
    if (spec.defaultValue) {
      line += ` (default ${JSON.stringify(spec.defaultValue)})`;
    }
    text += line + "\n";
  }
  return text;
}

/** A string flag's value, or its fallback. */
export function stringFlag(
  flags: ParsedFlags,
  name: string,
  fallback = "",
): string {
  const value = flags.values.get(name);
  return typeof value === "string" ? value : fallback;
}

/** A bool flag's value (false when absent). */
export function boolFlag(flags: ParsedFlags, name: string): boolean {
  return flags.values.get(name) === true;
}
