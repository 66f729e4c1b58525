// Joins the chunks that a face's module imports statically into one
// module, after scripts/bundle.sh's split build of that face. The split
// keeps the code that only a dynamic import reaches out of a login, but
// the bundler also cuts the code every run loads into one chunk per set of
// dynamic imports that share it: app/sshproxy.js opened twelve modules
// before its first line ran, and each module costs Deno ~0.2 ms to find,
// check against its code cache, and link, whatever its size (measured).
//
// The chunks the entry imports (directly or through each other) are
// bundled again, with nothing split, into linked.js, which exports
// each chunk's exports under the chunk's name as prefix; the entry and the
// chunks loaded on demand import from it instead. It never runs the
// face (no top-level await): a chunk loaded on demand, which imports it,
// can never wait on the entry that is waiting for that chunk.
//
// Hand-written: the bundler (deno bundle, esbuild) has no option to merge
// chunks. It relies only on the shape of the bundler's own output: import
// statements at the start of a line (`import { a, b as c } from "./x.js";`
// or `import "./x.js";`) and one `export { ... };` statement per chunk.
//
// The login face's dynamic imports of its own chunks are then written so
// that Deno cannot follow them before the program runs: Deno reads and
// analyses every module a literal `import("./x.js")` names at start, even
// one the session never loads (eleven files, ~600 KB, for app/sshproxy.js:
// ~1 ms of every login, measured). A computed specifier is resolved only
// when that code runs, against the read permission the login face keeps;
// scripts/build.sh includes every chunk in the compiled binary by name.
// The other faces keep literal imports, checked at start.
//
// The face's files then go to OUT, each but the entry named after the face
// (FACE.NAME.js): joined, a chunk imports its own face's module, so two
// faces can no longer share a chunk file, as the bundler's content-hashed
// names would have them do.
//
//   deno run --allow-read --allow-write --allow-run scripts/link_chunks.ts DENO DIR FACE OUT
//
// DIR holds the face's build only (FACE.js and its chunks).

const [deno, dir, face, out] = Deno.args;
// The face every login starts.
const LOGIN_FACE = "sshproxy";
if (out === undefined) {
  console.error("usage: link_chunks.ts DENO DIR FACE OUT");
  Deno.exit(2);
}

interface StaticImport {
  /** The whole statement, as written. */
  statement: string;
  /** The file imported (in DIR). */
  file: string;
  /** [imported name, local name]; none for an import for effect. */
  names: [string, string][];
}

const IMPORT = /^import\s*(?:\{([^}]*)\}\s*from\s*)?"\.\/([^"/]+\.js)";\n/gm;
const EXPORT = /^export\s*\{([^}]*)\};\s*$/m;

function pairs(list: string): [string, string][] {
  return list.split(",").map((item) => item.trim()).filter((item) =>
    item !== ""
  ).map((item) => {
    const [name, alias] = item.split(/\s+as\s+/);
    return [name, alias ?? name];
  });
}

function staticImports(source: string): StaticImport[] {
  return [...source.matchAll(IMPORT)].map((match) => ({
    statement: match[0],
    file: match[2],
    names: match[1] === undefined ? [] : pairs(match[1]),
  }));
}

function fail(message: string): never {
  console.error(`link_chunks: ${face}: ${message}`);
  Deno.exit(1);
}

const sources = new Map<string, string>();
for (const entry of Deno.readDirSync(dir)) {
  if (entry.isFile && entry.name.endsWith(".js")) {
    sources.set(entry.name, Deno.readTextFileSync(`${dir}/${entry.name}`));
  }
}
const entryFile = `${face}.js`;
if (!sources.has(entryFile)) fail(`${dir}/${entryFile} is missing`);

// The chunks the entry loads before it runs, in the order the runtime
// evaluates them (each after its own imports).
const loaded: string[] = [];
const seen = new Set<string>([entryFile]);
function visit(file: string): void {
  const source = sources.get(file);
  if (source === undefined) fail(`${file} is imported but was not built`);
  for (const { file: imported } of staticImports(source)) {
    if (seen.has(imported)) continue;
    seen.add(imported);
    visit(imported);
    loaded.push(imported);
  }
}
visit(entryFile);
if (loaded.length >= 2) link();
copyOut();

function link(): void {
  // A chunk's exports, as the prefixed names the joined module gives them.
  const prefixOf = (file: string) =>
    `${file.slice(0, -3).replace(/[^A-Za-z0-9_]/g, "_")}$`;
  const exportsOf = new Map<string, string[]>();
  for (const file of loaded) {
    const match = EXPORT.exec(sources.get(file)!);
    exportsOf.set(
      file,
      match ? pairs(match[1]).map(([, exported]) => exported) : [],
    );
  }

  const linkedFile = "linked.js";
  const joinEntry = `${dir}/${face}.link-entry.js`;
  Deno.writeTextFileSync(
    joinEntry,
    loaded.map((file) => {
      const names = exportsOf.get(file)!;
      return names.length === 0
        ? `import "./${file}";\n`
        : `export { ${
          names.map((name) => `${name} as ${prefixOf(file)}${name}`).join(", ")
        } } from "./${file}";\n`;
    }).join(""),
  );
  // Everything else stays outside: the chunks loaded on demand, npm packages,
  // Node's modules.
  const externals = [...sources.keys()].filter((file) => !loaded.includes(file))
    .flatMap((file) => ["--external", `./${file}`]);
  const bundled = new Deno.Command(deno, {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--no-config",
      ...externals,
      "--external",
      "ssh2",
      "--external",
      "node:*",
      "-o",
      `${dir}/${linkedFile}`,
      joinEntry,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  Deno.removeSync(joinEntry);
  if (!bundled.success) {
    const text = new TextDecoder().decode(bundled.stderr).trim().split("\n")[0];
    fail(`cannot join ${loaded.join(", ")}: ${text}`);
  }

  // The entry and the chunks loaded on demand import from the joined module.
  for (const [file, source] of sources) {
    if (loaded.includes(file)) continue;
    let linked = source;
    for (const { statement, file: imported, names } of staticImports(source)) {
      if (!loaded.includes(imported)) continue;
      const replacement = names.length === 0
        ? `import "./${linkedFile}";\n`
        : `import { ${
          names.map(([name, local]) =>
            `${prefixOf(imported)}${name} as ${local}`
          )
            .join(", ")
        } } from "./${linkedFile}";\n`;
      // A function, so that no `$` of the names is read as a pattern.
      linked = linked.replace(statement, () => replacement);
    }
    if (linked !== source) Deno.writeTextFileSync(`${dir}/${file}`, linked);
  }
  for (const file of loaded) Deno.removeSync(`${dir}/${file}`);
}

// Renames every file but the entry after the face, in its name and in
// every reference to it, on the way to OUT.
function copyOut(): void {
  const files = [...Deno.readDirSync(dir)].map((entry) => entry.name)
    .filter((name) => name.endsWith(".js"));
  const renamed = (file: string) =>
    file === entryFile ? file : `${face}.${file}`;
  for (const file of files) {
    let text = Deno.readTextFileSync(`${dir}/${file}`);
    for (const other of files) {
      text = text.replaceAll(`"./${other}"`, () => `"./${renamed(other)}"`);
    }
    if (face === LOGIN_FACE) text = hideDynamicImports(text);
    Deno.writeTextFileSync(`${out}/${renamed(file)}`, text);
  }
}

// `import("./x.js")` as `import(new URL("./x.js", import.meta.url).href)`:
// the same module, resolved only when the import runs (see above).
function hideDynamicImports(source: string): string {
  return source.replace(
    /\bimport\(("\.\/[^"\/]+\.js")\)/g,
    (_, specifier: string) =>
      `import(new URL(${specifier}, import.meta.url).href)`,
  );
}
