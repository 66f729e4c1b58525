// A gateway whose ForceCommand is the installed sshproxy reading a config
// file the test rewrites at will (each session reads it afresh), with the
// three destinations of the harness. Torn down by `stop()` or `await using`.
import {
  ensureTestAccounts,
  startTopology,
  type Topology,
  type TopologyOptions,
} from "../harness/mod.ts";
import { type Installed, installed, sharedWritableDir } from "./installed.ts";

/** A running gateway topology plus its config file and log directory. */
export interface ProxyGateway extends Topology {
  product: Installed;
  configPath: string;
  logDir: string;
  /** Replaces the configuration file (YAML text). */
  writeConfig(text: string): Promise<void>;
  /** ssh.args for the gateway → destination hop, as a YAML flow list. */
  sshArgsYaml: string;
}

/** Starts the topology with ForceCommand = installed sshproxy + a config in a shared dir. */
export async function startProxyGateway(
  options: Omit<TopologyOptions, "forceCommand"> = {},
): Promise<ProxyGateway> {
  await ensureTestAccounts();
  const product = await installed();
  const logDir = await sharedWritableDir();
  const configPath = `${logDir}/sshproxy.yaml`;
  await Deno.writeTextFile(configPath, "");
  await Deno.chmod(configPath, 0o644);
  const topology = await startTopology({
    ...options,
    forceCommand: `${product.sshproxy} ${configPath}`,
  });
  const stop = async () => {
    await topology.stop();
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  };
  return {
    ...topology,
    product,
    configPath,
    logDir,
    sshArgsYaml: `[${
      ["-q", ...topology.sshArgs].map((arg) => JSON.stringify(arg)).join(", ")
    }]`,
    async writeConfig(text: string) {
      await Deno.writeTextFile(configPath, text);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
