import assert from "node:assert/strict";
import {
  commandArgv,
  splitFields,
  trimSpace,
} from "../../src/session/command_line.ts";

Deno.test("commands are split on whitespace, without quoting", () => {
  assert.deepEqual(
    commandArgv("blocking_command", "  /usr/bin/check  --user\t'a b'\n"),
    {
      ok: true,
      value: ["/usr/bin/check", "--user", "'a", "b'"],
    },
  );
});

Deno.test("a blank command is a clean error, not a crash", () => {
  assert.deepEqual(commandArgv("blocking_command", " \t\n "), {
    ok: false,
    error: "blocking_command is empty",
  });
  assert.deepEqual(commandArgv("bg_command", ""), {
    ok: false,
    error: "bg_command is empty",
  });
});

Deno.test("whitespace is Go's unicode.IsSpace, not JavaScript's \\s", () => {
  assert.deepEqual(splitFields("a\u0085b\u00a0c\u3000d\ufeffe"), [
    "a",
    "b",
    "c",
    "d\ufeffe",
  ]);
  assert.equal(trimSpace("\u2028 x y\v\u0085"), "x y");
  assert.equal(trimSpace("\ufeffx"), "\ufeffx");
});
