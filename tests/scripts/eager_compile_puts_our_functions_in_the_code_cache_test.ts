// Why scripts/eager_compile.ts exists: Deno makes a module's code cache
// right after compiling it, and a lazily compiling V8 has then compiled
// the top level only. Run twice with a fresh cache (the second run loads
// the cache), the fixture as written compiles its functions again at the
// second run; rewritten, none but class members (which no syntax can put
// in parentheses), object methods that use `super` or are named
// __proto__, and async arrows that use `this` or `arguments` or take a
// pattern (which V8 does not see as called at once).
// Read from V8's own log of function events.
import assert from "node:assert/strict";
import { eagerModule } from "../../scripts/eager_compile.ts";

const fixture = new URL("./eager_fixture/semantics.js", import.meta.url);
// Members of the fixture's class, its object methods that use `super` or
// are named __proto__, its async arrows that cannot become functions, and
// what V8 names a class's initializers and an anonymous function.
const LEFT_LAZY = new Set([
  "Counter",
  "add",
  "get count",
  "greet",
  "__proto__",
  "<instance_members_initializer>",
  "<static_initializer>",
  "asyncPattern",
  "",
]);
const COMPILING = new Set([
  "parse-function",
  "full-parse",
  "preparse-no-resolution",
  "preparse-resolution",
  "interpreter-lazy",
  "interpreter",
]);

/** Names of the module's functions that V8 compiled at the second run. */
async function compiledAtSecondRun(
  dir: string,
  file: string,
): Promise<string[]> {
  const log = `${dir}/v8.log`;
  const run = async () => {
    await Deno.remove(log).catch(() => {});
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-config",
        // The same flags at both runs: V8 refuses a cache made under others.
        `--v8-flags=--minor-ms,--log-function-events,--logfile=${log},--no-logfile-per-isolate`,
        file,
      ],
      env: { NO_COLOR: "1", DENO_DIR: `${dir}/cache` },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(result.success, new TextDecoder().decode(result.stderr));
  };
  await run();
  await run();
  const scripts = new Set<string>();
  const names = new Set<string>();
  const url = new URL(`file://${file}`).href;
  for (const line of (await Deno.readTextFile(log)).split("\n")) {
    const fields = line.split(",");
    if (fields[0] === "script-details" && fields[2] === url) {
      scripts.add(fields[1]);
    } else if (
      fields[0] === "function" && COMPILING.has(fields[1]) &&
      scripts.has(fields[2]) && fields[3] !== "0"
    ) {
      names.add(fields.slice(7).join(","));
    }
  }
  assert.ok(scripts.size > 0, `V8's log never named ${url}`);
  return [...names].sort();
}

Deno.test("a rewritten module's functions come from the code cache", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const written = `${dir}/written/semantics.js`;
    const rewritten = `${dir}/rewritten/semantics.js`;
    await Deno.mkdir(`${dir}/written`);
    await Deno.mkdir(`${dir}/rewritten`);
    const source = await Deno.readTextFile(fixture);
    await Deno.writeTextFile(written, source);
    await Deno.writeTextFile(rewritten, eagerModule(source).code);

    // The detector sees lazy compilation where there is some.
    const asWritten = await compiledAtSecondRun(`${dir}/written`, written);
    for (const name of ["early", "later", "factorial", "selfName", "say"]) {
      assert.ok(asWritten.includes(name), `${name} not in ${asWritten}`);
    }
    const compiled = await compiledAtSecondRun(`${dir}/rewritten`, rewritten);
    assert.deepEqual(compiled.filter((name) => !LEFT_LAZY.has(name)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
