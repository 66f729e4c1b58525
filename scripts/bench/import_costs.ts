// What each part of the session's module graph costs to load: one-line
// modules, each importing one thing the proxy imports (as read from the
// installed program's graph, so the table follows the code), run as the
// launcher runs our program, as the test user; start-up time against the
// empty module, and for the larger parts the memory kept once idle.
import type { TestUser } from "../../tests/harness/mod.ts";
import type { ModuleGraph } from "./module_graph.ts";
import {
  idleProcessMemory,
  type Invocation,
  withModule,
} from "./runtime_floor.ts";
import { summarize, type Summary } from "./stats.ts";
import { timedAs } from "./system.ts";

/** Start-up of a one-line module importing one thing, as the test user. */
export interface ImportCost {
  what: string;
  source: string;
  ms: Summary;
  /** Memory of the process idling after the import (some cases only), KiB. */
  idle?: { rss: number; privateDirty: number; anonymousPrivateDirty: number };
  /**
   * Which part: the baseline, Deno's process API (what any proxy that
   * starts ssh loads), ours at start, an external import, ours on demand.
   */
  kind?: "empty" | "process API" | "face" | "external" | "on demand";
}

interface ImportCase {
  what: string;
  source: string;
  kind: NonNullable<ImportCost["kind"]>;
  idle: boolean;
  /** The module that idles, when it is not `source` followed by a wait. */
  idleSource?: string;
}

/** The cases for `graph` (pure): the empty module first. */
export function importCases(
  graph: ModuleGraph,
  programDir: string,
): ImportCase[] {
  const url = (relative: string) =>
    JSON.stringify(`file://${programDir}/${relative}`);
  const cases: ImportCase[] = [{
    what: "nothing (empty module)",
    source: "export {};",
    kind: "empty",
    idle: true,
  }, {
    // The floor of any proxy that starts a child, ours included: the
    // runtime's process API, loaded and evaluated at each start.
    what:
      "Deno's process API: `Deno.Command` starting a child and waiting for it (as the session starts ssh)",
    source:
      'await new Deno.Command("/bin/true", { stdin: "inherit", stdout: "inherit", stderr: "inherit" }).spawn().status;',
    kind: "process API",
    idle: true,
    idleSource:
      'await new Deno.Command("/bin/sleep", { args: ["6"], stdin: "inherit", stdout: "inherit", stderr: "inherit" }).spawn().status;',
  }];
  if (graph.face) {
    cases.push({
      what:
        `the proxy face at start: \`${graph.face}\` and its static imports (${graph.staticModules} of our modules with \`${graph.entry}\`)`,
      source: `import ${url(graph.face)};`,
      kind: "face",
      idle: true,
    });
  }
  for (const external of graph.externals.slice(0, 12)) {
    cases.push({
      what: `\`${external.specifier}\` (${
        external.onDemand ? "on demand, " : ""
      }imported by ${external.importer})`,
      source: `import * as imported from ${
        JSON.stringify(external.specifier)
      };\nvoid imported;`,
      kind: "external",
      idle: external.resolved.startsWith("npm:"),
    });
  }
  for (const part of graph.onDemand.slice(0, 6)) {
    cases.push({
      what: `\`${part.module}\` (on demand, imported by ${part.importer})`,
      source: `await import(${url(part.module)});`,
      kind: "on demand",
      idle: true,
    });
  }
  return cases;
}

/**
 * Times every case `repeats` times (interleaved, after one unrecorded run
 * each) and reads the idle memory of the cases that ask for it.
 */
export async function measureImports(
  user: TestUser,
  invocation: Invocation,
  cases: ImportCase[],
  dir: string,
  repeats: number,
): Promise<ImportCost[]> {
  await Deno.chmod(dir, 0o755);
  const files = await Promise.all(cases.map(async ({ source }, i) => {
    const file = `${dir}/case${i}.js`;
    await Deno.writeTextFile(file, source + "\n");
    await Deno.chmod(file, 0o644);
    return file;
  }));
  const argv = (file: string) => withModule(invocation, file);
  for (const file of files) await timedAs(user, argv(file), invocation.env);
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < repeats; i++) {
    for (const [j, file] of files.entries()) {
      samples[j].push(await timedAs(user, argv(file), invocation.env));
    }
  }
  const costs: ImportCost[] = [];
  for (const [j, c] of cases.entries()) {
    const cost: ImportCost = {
      what: c.what,
      source: c.source,
      kind: c.kind,
      ms: summarize(samples[j]),
    };
    if (c.idle) {
      const file = `${dir}/idle${j}.js`;
      await Deno.writeTextFile(
        file,
        c.idleSource ??
          // The runtime's own timer: the global setTimeout loads Node's layer.
          `${c.source}\nawait new Promise((resolve) => AbortSignal.timeout(6000).addEventListener("abort", resolve));\n`,
      );
      await Deno.chmod(file, 0o644);
      const idle = await idleProcessMemory(
        user,
        argv(file),
        invocation.env,
        3000,
      );
      cost.idle = {
        rss: idle.memory.rss,
        privateDirty: idle.memory.privateDirty,
        anonymousPrivateDirty: idle.anonymousPrivateDirty,
      };
    }
    costs.push(cost);
  }
  return costs;
}
