// What the session path loads, read from the installed program itself
// (`deno info --json` with the launcher's configuration), so that the
// "where the time goes" tables follow the code as it is: our modules loaded
// at start, the external modules (node: built-ins, npm packages, files in
// node_modules) they import, and what is imported only on demand.
import { runAs, type TestUser } from "../../tests/harness/mod.ts";
import type { Invocation } from "./runtime_floor.ts";

/** One import of something that is not our source. */
export interface ExternalImport {
  /** As written in the importing module (what a one-line module imports too). */
  specifier: string;
  /** What it resolved to. */
  resolved: string;
  /** The importing module, relative to the program's directory. */
  importer: string;
  /** Reached only through a dynamic import (loaded when that code runs). */
  onDemand: boolean;
}

/** The session path's module graph. */
export interface ModuleGraph {
  /** The entry, relative to the program's directory. */
  entry: string;
  /** The face the entry dispatches to, when it is a module of its own. */
  face?: string;
  /** Our modules loaded by static imports from the entry. */
  staticModules: number;
  /** Our modules reached only through a dynamic import, with the import. */
  onDemand: { module: string; importer: string }[];
  externals: ExternalImport[];
}

interface InfoDependency {
  specifier: string;
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  kind?: string;
  dependencies?: InfoDependency[];
}

interface InfoJson {
  roots: string[];
  modules: InfoModule[];
  redirects?: Record<string, string>;
}

/** The options of `deno run` that change resolution, for `deno info`. */
export function resolutionFlags(invocation: Invocation): string[] {
  const withValue = new Set(["--config", "-c", "--import-map", "--lock"]);
  const alone =
    /^(--config=|--import-map=|--lock=|--no-config$|--node-modules-dir|--no-lock$|--frozen|--no-npm$|--no-remote$|--cached-only$)/;
  const flags: string[] = [];
  const argv = invocation.argv.slice(2, invocation.moduleIndex);
  for (let i = 0; i < argv.length; i++) {
    if (withValue.has(argv[i]) && i + 1 < argv.length) {
      flags.push(argv[i], argv[++i]);
    } else if (alone.test(argv[i])) flags.push(argv[i]);
  }
  return flags.filter((flag) => flag !== "--cached-only");
}

/**
 * Reads the graph of the launcher's module as `user`, with the launcher's
 * flags; `face` (a file path), when the module dispatches to faces by
 * dynamic import, is the face whose graph counts as loaded at start.
 */
export async function moduleGraph(
  user: TestUser,
  invocation: Invocation,
  programDir: string,
  face?: string,
): Promise<ModuleGraph> {
  // `deno info --json` of one module, as `user` with the launcher's flags.
  const infoOf = async (module: string): Promise<InfoJson> => {
    const result = await runAs(user, [
      invocation.argv[0],
      "info",
      "--json",
      ...resolutionFlags(invocation),
      module,
    ], { env: invocation.env, timeoutMs: 60_000 });
    if (!result.ok) {
      throw new Error(
        `deno info of ${module} failed (status ${result.code}): ${
          result.stderr.trim().slice(0, 300)
        }`,
      );
    }
    return JSON.parse(result.stdout) as InfoJson;
  };
  const info = await infoOf(invocation.argv[invocation.moduleIndex]);
  await addComputedImports(info, programDir, infoOf);
  return graphOf(info, programDir, face ? `file://${face}` : undefined);
}

// The login face imports its parts on demand with computed specifiers
// (scripts/link_chunks.ts), which `deno info` does not follow; minified
// (scripts/bundle.sh), without the spaces.
const COMPUTED_IMPORT =
  /\bimport\(\s*new URL\(\s*"(\.\/[^"\/]+\.js)"\s*,\s*import\.meta\.url\s*\)\.href\s*\)/g;

/** The relative specifiers a module imports with `import(new URL("./x.js", import.meta.url).href)` (pure). */
export function computedImports(source: string): string[] {
  return [...new Set([...source.matchAll(COMPUTED_IMPORT)].map((m) => m[1]))];
}

// Adds to `info` the on-demand modules our modules import with computed
// specifiers, as dynamic dependencies, with the graphs `infoOf` gives.
async function addComputedImports(
  info: InfoJson,
  programDir: string,
  infoOf: (module: string) => Promise<InfoJson>,
): Promise<void> {
  const ourPrefix = `file://${programDir}/`;
  const scanned = new Set<string>();
  for (let more = true; more;) {
    more = false;
    for (const module of [...info.modules]) {
      const specifier = module.specifier;
      if (
        scanned.has(specifier) || !specifier.startsWith(ourPrefix) ||
        specifier.slice(ourPrefix.length).startsWith("node_modules/")
      ) continue;
      scanned.add(specifier);
      const source = await Deno.readTextFile(new URL(specifier));
      for (const relative of computedImports(source)) {
        const target = new URL(relative, specifier).href;
        module.dependencies = [...module.dependencies ?? [], {
          specifier: relative,
          code: { specifier: target },
          isDynamic: true,
        }];
        if (info.modules.some((known) => known.specifier === target)) continue;
        const added = await infoOf(new URL(target).pathname);
        for (const found of added.modules) {
          if (
            !info.modules.some((known) => known.specifier === found.specifier)
          ) {
            info.modules.push(found);
          }
        }
        more = true;
      }
    }
  }
}

/**
 * The graph's figures from `deno info --json` output (pure). With `face`,
 * the root's own dynamic imports are the faces it dispatches to: only
 * `face` counts, as loaded at start.
 */
export function graphOf(
  info: InfoJson,
  programDir: string,
  face?: string,
): ModuleGraph {
  const ourPrefix = `file://${programDir}/`;
  const relative = (specifier: string) =>
    specifier.startsWith(ourPrefix)
      ? specifier.slice(ourPrefix.length)
      : specifier;
  const isOurs = (specifier: string) =>
    specifier.startsWith(ourPrefix) &&
    !specifier.slice(ourPrefix.length).startsWith("node_modules/");
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (specifier: string) =>
    info.redirects?.[specifier] ?? specifier;
  const root = resolve(info.roots[0]);
  const dispatched = face !== undefined && modules.has(face);
  const reachedStatically = new Set<string>();
  const onDemand = new Map<string, string>();
  const externals = new Map<string, ExternalImport>();
  // The static closure of the root first; then, from each module a
  // dynamic import names, its own closure (on demand).
  const walk = (start: string, walkingOnDemand: boolean) => {
    const queue = [start];
    const seen = new Set<string>();
    while (queue.length > 0) {
      const current = queue.shift()!;
      if (seen.has(current)) continue;
      seen.add(current);
      for (const dep of modules.get(current)?.dependencies ?? []) {
        if (!dep.code) continue;
        const target = resolve(dep.code.specifier);
        if (
          dispatched && current === root && dep.isDynamic && isOurs(target)
        ) continue;
        const dynamic = walkingOnDemand || dep.isDynamic === true;
        if (!isOurs(target)) {
          const known = externals.get(dep.specifier);
          if (!known || (known.onDemand && !dynamic)) {
            externals.set(dep.specifier, {
              specifier: dep.specifier,
              resolved: target,
              importer: relative(current),
              onDemand: dynamic,
            });
          }
        } else if (dep.isDynamic) {
          if (!onDemand.has(target)) onDemand.set(target, relative(current));
        } else {
          if (!walkingOnDemand) reachedStatically.add(target);
          queue.push(target);
        }
      }
    }
  };
  reachedStatically.add(root);
  walk(root, false);
  if (dispatched) {
    reachedStatically.add(face);
    walk(face, false);
  }
  const walked = new Set<string>();
  for (let more = true; more;) {
    more = false;
    for (const module of [...onDemand.keys()]) {
      if (walked.has(module) || reachedStatically.has(module)) continue;
      walked.add(module);
      walk(module, true);
      more = true;
    }
  }
  for (const module of reachedStatically) onDemand.delete(module);
  return {
    entry: relative(root),
    face: dispatched ? relative(face) : undefined,
    staticModules: reachedStatically.size,
    onDemand: [...onDemand].map(([module, importer]) => ({
      module: relative(module),
      importer,
    })),
    externals: [...externals.values()].sort((a, b) =>
      Number(a.onDemand) - Number(b.onDemand) ||
      a.specifier.localeCompare(b.specifier)
    ),
  };
}
