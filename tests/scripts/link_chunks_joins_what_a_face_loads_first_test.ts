// scripts/link_chunks.ts on a small split build (tests/scripts/
// link_fixture): the chunks the entry loads first become one module, the
// parts loaded on demand still share their state with the entry (each
// piece of code exists once), and every file is named after the face.
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const deno = Deno.execPath();

async function run(args: string[]): Promise<string> {
  const output = await new Deno.Command(deno, {
    args,
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, `deno ${args.join(" ")}: ${stderr}`);
  return new TextDecoder().decode(output.stdout);
}

Deno.test("the chunks a face loads first become one module, and on-demand parts share its state", async () => {
  const staging = await Deno.makeTempDir();
  const out = await Deno.makeTempDir();
  try {
    await run([
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--no-config",
      "--code-splitting",
      "--outdir",
      `${staging}/face`,
      "tests/scripts/link_fixture/entry.ts",
    ]);
    const split = [...Deno.readDirSync(`${staging}/face`)].map((entry) =>
      entry.name
    );
    assert.ok(
      split.filter((name) => name.startsWith("chunk-")).length >= 2,
      `the fixture no longer splits into chunks: ${split.join(" ")}`,
    );
    await run([
      "run",
      "--no-config",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "scripts/link_chunks.ts",
      deno,
      `${staging}/face`,
      "entry",
      out,
    ]);
    const files = [...Deno.readDirSync(out)].map((entry) => entry.name).sort();
    for (const file of files) {
      assert.ok(
        file === "entry.js" || file.startsWith("entry."),
        `${file} is not named after the face`,
      );
    }
    assert.ok(files.includes("entry.linked.js"), files.join(" "));
    const entry = await Deno.readTextFile(`${out}/entry.js`);
    const imported = [...entry.matchAll(/^import[^"]*"\.\/([^"]+)";$/gm)]
      .map((match) => match[1]);
    assert.deepEqual([...new Set(imported)], ["entry.linked.js"]);

    const printed = await run(["run", "--no-config", `${out}/entry.js`]);
    const [counts, helper] = printed.trim().split("\n");
    // 2: the part loaded later counted in the entry's state, not a copy.
    assert.deepEqual(JSON.parse(counts), {
      later: 2,
      other: "other helper",
      count: 2,
    });
    assert.equal(helper, "helper");
  } finally {
    await Deno.remove(staging, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
