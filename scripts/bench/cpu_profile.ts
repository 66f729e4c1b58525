// Where the CPU goes in our program: `--cpu-prof` runs through copies of
// the launcher (the product is never edited), self time grouped by where
// the code comes from (our directories, npm packages, Deno's runtime, the
// Node-compatibility layer, V8's idle and GC time).
import type { TestUser } from "../../tests/harness/mod.ts";
import {
  type Invocation,
  moduleUrl,
  writeLauncherVariant,
} from "./runtime_floor.ts";
import { round } from "./stats.ts";
import { timedAs } from "./system.ts";

/** Self time of CPU profiles, grouped, averaged over `runs` runs. */
export interface CpuBreakdown {
  runs: number;
  /** Wall time of a profiled run (ms, mean). */
  wallMs: number;
  /** Span covered by the profile (ms, mean); the rest is Deno starting up. */
  profiledMs: number;
  /** Self time per group (ms, mean), largest first. */
  groups: { group: string; ms: number }[];
  /** Busiest functions outside idle/program/GC (ms, mean). */
  topFunctions: { name: string; ms: number }[];
}

/** Entry module turning Deno.exit into a normal end (--cpu-prof writes its file only then). */
async function profiledEntry(workDir: string): Promise<string> {
  const entry = `${workDir}/profiled_entry.js`;
  await Deno.writeTextFile(
    entry,
    [
      "// Runs main.ts; Deno.exit becomes a normal end so --cpu-prof can write its",
      "// file. The global setTimeout is not touched: in Deno 2.9 reading it loads",
      "// Node's timers, which our program does not (src/system/timers.ts).",
      "class ProfiledExit extends Error {}",
      "let status = 0;",
      'Object.defineProperty(Deno, "exit", {',
      "  value: (code = 0) => {",
      "    status = code;",
      "    throw new ProfiledExit();",
      "  },",
      "  configurable: true,",
      "  writable: true,",
      "});",
      "try {",
      '  await import(Deno.env.get("BENCH_PROFILED_MAIN"));',
      "} catch (error) {",
      "  if (!(error instanceof ProfiledExit)) throw error;",
      "}",
      "Deno.exitCode = status;",
      "",
    ].join("\n"),
  );
  await Deno.chmod(entry, 0o644);
  return entry;
}

interface CpuProfileJson {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const LAZY_EXT =
  "Deno runtime: loading lazily loaded internal modules (node: polyfills)";
const CJS = "Node compat: CommonJS loader";

/** The group a profile node's self time is counted in. */
export function groupOf(
  functionName: string,
  url: string,
  lib: string,
): string {
  if (
    functionName === "loadExtScript" || functionName === "op_load_ext_script"
  ) {
    return LAZY_EXT;
  }
  if (
    functionName.startsWith("op_require") ||
    functionName === "op_compile_function" ||
    (functionName === "compileFunction" && url.startsWith("ext:core"))
  ) {
    return CJS;
  }
  if (url === "") {
    if (functionName === "(idle)") {
      return "(idle): JS waits (module loading in Rust, I/O, the ssh child)";
    }
    if (functionName === "(program)") return "(program): native, not JS";
    if (functionName === "(garbage collector)") return "(garbage collector)";
    return `native: ${functionName}`;
  }
  if (url.includes("/node_modules/")) {
    const pkg = url.split("/node_modules/").pop()!;
    const name = pkg.startsWith("@")
      ? pkg.split("/").slice(0, 2).join("/")
      : pkg.split("/")[0];
    return `npm: ${name}`;
  }
  if (url === "node:module") return CJS;
  if (url.startsWith("node:") || url.startsWith("ext:deno_node")) {
    return "Node compat: node: modules";
  }
  if (url.startsWith("ext:")) return "Deno runtime (ext:)";
  const path = url.replace(/^file:\/\//, "");
  if (path.startsWith(`${lib}/src/`)) {
    return `ours: src/${path.slice(lib.length + 5).split("/")[0]}`;
  }
  if (path.startsWith(`${lib}/`)) return `ours: ${path.slice(lib.length + 1)}`;
  return "other";
}

/** Self time per group and per function of one .cpuprofile (µs). */
export function selfTimes(
  json: CpuProfileJson,
  lib: string,
): { groups: Map<string, number>; functions: Map<string, number> } {
  const nodes = new Map(json.nodes.map((n) => [n.id, n.callFrame]));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  json.samples.forEach((id, i) => {
    const frame = nodes.get(id);
    if (!frame) return;
    const us = json.timeDeltas[i] ?? 0;
    const group = groupOf(frame.functionName, frame.url, lib);
    groups.set(group, (groups.get(group) ?? 0) + us);
    if (frame.url !== "" || frame.functionName.startsWith("op_")) {
      const where = frame.url.replace(`file://${lib}/`, "").replace(
        /^.*\/node_modules\/\.deno\/[^/]+\/node_modules\//,
        "npm:",
      );
      const name = `${frame.functionName || "(anonymous)"} ${where}${
        where ? `:${frame.lineNumber + 1}` : ""
      }`.trim();
      functions.set(name, (functions.get(name) ?? 0) + us);
    }
  });
  return { groups, functions };
}

/** What a CPU profile runs: our program with `args`, through a launcher copy. */
export interface CpuProfileRun {
  user: TestUser;
  /** A directory every user can read and write into (mode 1777). */
  workDir: string;
  invocation: Invocation;
  /** The installed program's directory (lib/sshproxy), to group our code. */
  programDir: string;
  args: string[];
  /** Variables of each run (e.g. a fresh timing file). */
  env: () => Record<string, string>;
  runs: number;
  /** How a run is executed and timed (default: output collected). */
  runner?: typeof timedAs;
}

/**
 * `--cpu-prof` of our program through copies of the launcher whose entry
 * is a wrapper importing our module (so Deno.exit ends normally and the
 * profile is written); self time per group and function, mean of the runs.
 */
export async function cpuProfile(run: CpuProfileRun): Promise<CpuBreakdown> {
  const entry = await profiledEntry(run.workDir);
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let wall = 0;
  let profiled = 0;
  for (let i = 0; i < run.runs; i++) {
    const outDir = await Deno.makeTempDir({
      dir: run.workDir,
      prefix: "cpuprof-",
    });
    await Deno.chmod(outDir, 0o1777);
    const launcher = await writeLauncherVariant(run.workDir, run.invocation, {
      denoFlags: [
        "--cpu-prof",
        `--cpu-prof-dir=${outDir}`,
        "--cpu-prof-interval=250",
      ],
      entry,
      env: { BENCH_PROFILED_MAIN: moduleUrl(run.invocation) },
    });
    wall += await (run.runner ?? timedAs)(
      run.user,
      [launcher, ...run.args],
      run.env(),
    );
    const files = [];
    for await (const f of Deno.readDir(outDir)) {
      if (f.name.endsWith(".cpuprofile")) files.push(f.name);
    }
    if (files.length !== 1) {
      throw new Error(`--cpu-prof wrote ${files.length} profiles in ${outDir}`);
    }
    const json = JSON.parse(
      await Deno.readTextFile(`${outDir}/${files[0]}`),
    ) as CpuProfileJson;
    profiled += json.endTime - json.startTime;
    const self = selfTimes(json, run.programDir);
    for (const [k, v] of self.groups) groups.set(k, (groups.get(k) ?? 0) + v);
    for (const [k, v] of self.functions) {
      functions.set(k, (functions.get(k) ?? 0) + v);
    }
  }
  const ms = (us: number) => round(us / 1000 / run.runs);
  return {
    runs: run.runs,
    wallMs: round(wall / run.runs),
    profiledMs: ms(profiled),
    groups: [...groups].sort((a, b) => b[1] - a[1]).map(([group, us]) => ({
      group,
      ms: ms(us),
    })),
    topFunctions: [...functions].sort((a, b) => b[1] - a[1]).slice(0, 8).map((
      [name, us],
    ) => ({ name, ms: ms(us) })),
  };
}
