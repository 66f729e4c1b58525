// scripts/link_chunks.ts on a small split build (tests/scripts/
// link_fixture): the chunks the entry loads first become one module, the
// parts loaded on demand still share their state with the entry (each
// piece of code exists once), and every file is named after the face.
// For the login face, Deno must not read the parts loaded on demand
// before the program runs.
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

/** The fixture split, then linked as `face`, in a temp dir (removed by the caller). */
async function linkFixture(face: string): Promise<string> {
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
    // The bundler names the entry after its source; the face is the name.
    if (face !== "entry") {
      await Deno.rename(
        `${staging}/face/entry.js`,
        `${staging}/face/${face}.js`,
      );
    }
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
      face,
      out,
    ]);
    return out;
  } catch (error) {
    await Deno.remove(out, { recursive: true });
    throw error;
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
}

Deno.test("the chunks a face loads first become one module, and on-demand parts share its state", async () => {
  const out = await linkFixture("entry");
  try {
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
    await Deno.remove(out, { recursive: true });
  }
});

/** Deno's debug log of a run of `module` that loads no part on demand. */
async function startLog(module: string): Promise<string> {
  const output = await new Deno.Command(deno, {
    args: [
      "run",
      "--no-config",
      "--allow-read",
      "--log-level=debug",
      module,
      "first-only",
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.ok(output.success, decoder.decode(output.stderr));
  assert.equal(decoder.decode(output.stdout).trim(), "helper");
  return decoder.decode(output.stderr);
}

const onDemandParts = (dir: string, face: string) =>
  [...Deno.readDirSync(dir)].map((entry) => entry.name).filter((name) =>
    name.startsWith(`${face}.later-`) || name.startsWith(`${face}.other-`)
  );

Deno.test("the login face starts without reading the parts it loads on demand", async () => {
  const login = await linkFixture("sshproxy");
  const other = await linkFixture("entry");
  try {
    const parts = onDemandParts(login, "sshproxy");
    assert.equal(parts.length, 2, `on-demand parts: ${parts}`);
    // Loaded when the code runs: the same output, the same shared state.
    const printed = await run([
      "run",
      "--no-config",
      "--allow-read",
      `${login}/sshproxy.js`,
    ]);
    assert.deepEqual(JSON.parse(printed.trim().split("\n")[0]), {
      later: 2,
      other: "other helper",
      count: 2,
    });
    // Another face's literal imports: Deno fetches those parts at start
    // (which shows that its log would name them)...
    const otherLog = await startLog(`${other}/entry.js`);
    for (const part of onDemandParts(other, "entry")) {
      assert.ok(otherLog.includes(part), `${part} not fetched at start`);
    }
    // ...and the login face's run that needs none of them never reads them.
    const loginLog = await startLog(`${login}/sshproxy.js`);
    for (const part of parts) {
      assert.ok(!loginLog.includes(part), `${part} read at start`);
    }
  } finally {
    await Deno.remove(login, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});
