// Go's flag grammar, case by case (spec §2), including the cases where
// generic CLI parsers differ from Go.
import assert from "node:assert/strict";
import {
  type FlagSpec,
  formatFlagDefaults,
  parseGoFlags,
} from "../../src/cli/go_flags.ts";

const SPECS: FlagSpec[] = [
  { name: "json", kind: "bool", help: "show results in JSON format" },
  { name: "all", kind: "bool", help: "show all" },
  {
    name: "c",
    kind: "string",
    help: "path to configuration file",
    defaultValue: "/etc/sshproxy/sshproxy.yaml",
  },
];

function parse(args: string[]) {
  const parsed = parseGoFlags(args, SPECS);
  if (!parsed.ok) return { error: parsed.error };
  return {
    values: Object.fromEntries(parsed.value.values),
    rest: parsed.value.rest,
    help: parsed.value.helpRequested,
  };
}

Deno.test("single and double dash, =value and separate value", () => {
  assert.deepEqual(parse(["-json", "--all", "-c", "f.yaml", "show"]), {
    values: { json: true, all: true, c: "f.yaml" },
    rest: ["show"],
    help: false,
  });
  assert.deepEqual(parse(["--c=g.yaml", "-json=false", "x"]).values, {
    c: "g.yaml",
    json: false,
  });
});

Deno.test("parsing stops at the first non-flag and after --", () => {
  assert.deepEqual(parse(["show", "-json"]).rest, ["show", "-json"]);
  assert.deepEqual(parse(["--", "-json"]).rest, ["-json"]);
  assert.deepEqual(parse(["-", "x"]).rest, ["-", "x"]);
});

Deno.test("bool flags never take the next word; string flags always do", () => {
  assert.deepEqual(parse(["-json", "true", "x"]), {
    values: { json: true },
    rest: ["true", "x"],
    help: false,
  });
  assert.deepEqual(parse(["-c", "-json"]).values, { c: "-json" });
});

Deno.test("errors use Go's texts", () => {
  assert.deepEqual(parse(["-bogus"]), {
    error: "flag provided but not defined: -bogus",
  });
  assert.deepEqual(parse(["-c"]), { error: "flag needs an argument: -c" });
  assert.deepEqual(parse(["-json=maybe"]), {
    error: 'invalid boolean value "maybe" for -json: parse error',
  });
  assert.deepEqual(parse(["---c"]), { error: "bad flag syntax: ---c" });
  assert.deepEqual(parse(["-=x"]), { error: "bad flag syntax: -=x" });
});

Deno.test("-h and -help ask for help when not defined", () => {
  assert.equal(parse(["-h"]).help, true);
  assert.equal(parse(["--help"]).help, true);
});

Deno.test("the defaults listing is Go's: sorted, two lines, string type and default shown", () => {
  assert.equal(
    formatFlagDefaults(SPECS),
    "  -all\n    \tshow all\n" +
      '  -c string\n    \tpath to configuration file (default "/etc/sshproxy/sshproxy.yaml")\n' +
      "  -json\n    \tshow results in JSON format\n",
  );
  assert.equal(
    formatFlagDefaults([{ name: "h", kind: "bool", help: "help" }]),
    "  -h\thelp\n",
  );
});
