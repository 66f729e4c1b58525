// The I/O edge of configuration: read the file, gather what the pure
// engine needs from the system (/etc/services, ClusterShell groups, the
// resolver) and turn every failure into `<file>: line N: ...`.
import {
  clusterShellConfDir,
  type GroupResolver,
  loadClusterShellGroups,
} from "../nodeset/clustershell.ts";
import { fail, ok, type Result } from "../result.ts";
import { loadServices, resolveHost } from "../system/network_names.ts";
import {
  parseConfig,
  type ParsedConfig,
  resolveConfig,
  type Resolved,
  type SessionContext,
} from "./resolve.ts";

/** The default configuration file of every face. */
export const DEFAULT_CONFIG_PATH = "/etc/sshproxy/sshproxy.yaml";

/** Reads and parses a configuration file; errors start with the path. */
export async function readConfigFile(
  path: string,
  env: (name: string) => string | undefined,
): Promise<Result<ParsedConfig>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    return fail(`${path}: cannot read: ${describeFileError(error)}`);
  }
  // ClusterShell group files are read only when the file uses a group.
  let groupResolver: GroupResolver | undefined;
  if (text.includes("@")) {
    const groups = await loadClusterShellGroups(clusterShellConfDir(env));
    // A broken group file only matters to a nodeset that uses a group.
    groupResolver = groups.ok ? groups.value : {
      resolve: () => fail(`ClusterShell groups unavailable: ${groups.error}`),
    };
  }
  const parsed = parseConfig(text, {
    lookupPort: loadServices(),
    groupResolver,
  });
  if (!parsed.ok) return fail(`${path}: ${parsed.error}`);
  return ok(parsed.value);
}

/** Whether any override matches on `groups` (only then a session needs the user's groups). */
export function matchesGroups(parsed: ParsedConfig): boolean {
  return parsed.overrides.some((override) =>
    override.match?.some((item) => item.groups.length > 0) ?? false
  );
}

/** Resolves a parsed file for one session with the system resolver. */
export function resolveForSession(
  parsed: ParsedConfig,
  context: SessionContext,
): Promise<Result<Resolved>> {
  return resolveConfig(parsed, context, resolveHost);
}

function describeFileError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) {
    return "no such file or directory (expected the path of a YAML configuration file)";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (the file must be readable by every user who logs in)";
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return "is a directory (expected a YAML file)";
  }
  return error instanceof Error ? error.message : String(error);
}
