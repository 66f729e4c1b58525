// The I/O edge of configuration: read the file, gather what the pure
// engine needs from the system (/etc/services, ClusterShell groups, the
// resolver) and turn every failure into `<file>: line N: ...`.
import type { GroupResolver } from "../nodeset/clustershell.ts";
import { fail, ok, type Result } from "../result.ts";
import { loadServices, resolveHost } from "../system/network_names.ts";
import {
  parseConfigTree,
  type ParsedConfig,
  resolveConfig,
  type Resolved,
  type SessionContext,
} from "./resolve.ts";
import { YAML_LIMITS } from "./yaml_document.ts";
import { readYamlTree } from "./yaml_read.ts";

/** The default configuration file of every face. */
export const DEFAULT_CONFIG_PATH = "/etc/sshproxy/sshproxy.yaml";

/** Reads and parses a configuration file; errors start with the path. */
export async function readConfigFile(
  path: string,
): Promise<Result<ParsedConfig>> {
  let text: string;
  try {
    text = readAtMost(path, YAML_LIMITS.maxBytes + 1);
  } catch (error) {
    return fail(`${path}: cannot read: ${describeFileError(error)}`);
  }
  const tree = await readYamlTree(text);
  if (!tree.ok) return fail(`${path}: ${tree.error}`);
  // ClusterShell group files are read only when a nodeset uses a group; a
  // broken group file only matters to such a nodeset. Their reader and the
  // `yaml` package they are read with are loaded only when a group can be
  // named: every group reference has an `@`.
  let groupsIn: ((confDir: string) => GroupResolver) | undefined;
  if (text.includes("@")) {
    const { clusterShellGroups, loadYamlParse } = await import(
      "../nodeset/clustershell.ts"
    );
    const parseYaml = await loadYamlParse();
    groupsIn = (confDir) => clusterShellGroups(confDir, parseYaml);
  }
  const parsed = parseConfigTree(tree.value, {
    lookupPort: loadServices(),
    groupsIn,
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

// Never more than the parser accepts (plus one byte, for it to report the
// file as too large), whatever the path names: a huge file, /dev/zero.
// Read synchronously: a configuration is a local file of a few KiB, and
// an asynchronous read costs a login two trips through Deno's thread pool
// (0.5-1 ms measured) where this costs ~50 us.
function readAtMost(path: string, limit: number): string {
  using file = Deno.openSync(path);
  let buffer = new Uint8Array(Math.min(limit, 64 * 1024));
  let filled = 0;
  while (filled < limit) {
    if (filled === buffer.length) {
      const grown = new Uint8Array(Math.min(limit, buffer.length * 4));
      grown.set(buffer);
      buffer = grown;
    }
    const count = file.readSync(buffer.subarray(filled));
    if (count === null) break;
    filled += count;
  }
  return new TextDecoder().decode(buffer.subarray(0, filled));
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
