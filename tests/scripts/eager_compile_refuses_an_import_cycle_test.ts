// A declaration that scripts/eager_compile.ts makes a `var` is assigned
// when its module starts to run: only a module in an import cycle could
// call it before. The rewrite refuses such a directory, names the cycle,
// and leaves every file as it was.
import assert from "node:assert/strict";
import { importCycle } from "../../scripts/eager_compile.ts";

const script = new URL("../../scripts/eager_compile.ts", import.meta.url)
  .pathname;

Deno.test("importCycle finds a cycle and only a cycle", () => {
  assert.deepEqual(
    importCycle(
      new Map([["a.js", ["b.js"]], ["b.js", ["c.js"]], ["c.js", ["a.js"]]]),
    ),
    ["a.js", "b.js", "c.js", "a.js"],
  );
  assert.equal(
    importCycle(
      new Map([["a.js", ["b.js", "c.js"]], ["b.js", ["c.js"]], ["c.js", []]]),
    ),
    undefined,
  );
});

Deno.test("a directory whose modules import each other is left as it was", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = {
      "a.js":
        'import { b } from "./b.js";\nexport function a() { return b; }\n',
      "b.js": 'import { a } from "./a.js";\nexport const b = () => a;\n',
    };
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", script, dir],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr).trim();
    assert.equal(result.code, 1);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /import cycle \(a\.js -> b\.js -> a\.js\)/);
    for (const [name, text] of Object.entries(files)) {
      assert.equal(await Deno.readTextFile(`${dir}/${name}`), text);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
