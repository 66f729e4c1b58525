// scripts/eager_compile.ts rewrites every function of the prebuilt modules
// so that V8 compiles it with its module: a fixture covering what
// declarations, expressions and arrows mean (hoisting, their names, their
// own name's binding, blocks, `this`, `arguments`, `new.target`, classes
// left alone) prints the same lines rewritten as written.
import assert from "node:assert/strict";
import { eagerModule } from "../../scripts/eager_compile.ts";

const fixture = new URL("./eager_fixture/semantics.js", import.meta.url);

async function output(path: string): Promise<string> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-config", path],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  assert.ok(result.success, `${path}: ${stderr}`);
  return new TextDecoder().decode(result.stdout);
}

Deno.test("a rewritten module prints what the module as written prints", async () => {
  const source = await Deno.readTextFile(fixture);
  const rewritten = eagerModule(source);
  assert.ok(rewritten.hoisted >= 10, `hoisted ${rewritten.hoisted}`);
  assert.ok(rewritten.wrapped >= 8, `wrapped ${rewritten.wrapped}`);
  assert.notEqual(rewritten.code, source);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/semantics.js`, rewritten.code);
    const expected = await output(fixture.pathname);
    assert.match(expected, /^early 23$/m, "the fixture itself changed");
    assert.equal(await output(`${dir}/semantics.js`), expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("declarations move to their scope's start; expressions, arrows and async arrows get parentheses", () => {
  const { code } = eagerModule(
    [
      "use(f);",
      "function f(a) { return g(a); function g(b) { return b; } }",
      "{ h(); function h() {} }",
      "const k = (x) => x;",
      "class C { m() { return () => 1; } }",
      "const bare = async x => x;",
      "const block = async (a, b) => { return a + b; };",
      "const self = async () => this;",
      "",
    ].join("\n"),
  );
  assert.match(code, /^var f = \(function \(a\) \{var g = \(function \(b\)/);
  assert.match(code, /\{let h = \(function \(\) \{\}\);/);
  assert.match(code, /const k = \(\(x\) => x\);/);
  assert.match(code, /class C \{ m\(\) \{ return \(\(\) => 1\); \} \}/);
  assert.match(code, /const bare = \(async function \(x\) \{ return x; \}\);/);
  assert.match(
    code,
    /const block = \(async function \(a, b\) \{ return a \+ b; \}\);/,
  );
  assert.match(code, /const self = async \(\) => this;/);
});
