// A gateway whose ForceCommand is the installed sshproxy reading a config
// file the test rewrites at will (each session reads it afresh), with the
// three destinations of the harness. Torn down by `stop()` or `await using`.
import {
  ensureTestAccounts,
  sleep,
  type Sshd,
  startTopology,
  type TestUser,
  type Topology,
  type TopologyOptions,
} from "../harness/mod.ts";
import { descendants } from "../harness/process.ts";
import { type Installed, installed, sharedWritableDir } from "./installed.ts";

/** Test options for e2e tests: real processes outlive single ops, so sanitizers are off. */
export const e2e = { sanitizeOps: false, sanitizeResources: false };

/** A running gateway topology plus its config file and log directory. */
export interface ProxyGateway extends Topology {
  product: Installed;
  configPath: string;
  logDir: string;
  /** Replaces the configuration file (YAML text). */
  writeConfig(text: string): Promise<void>;
  /** ssh.args for the gateway → destination hop, as a YAML flow list. */
  sshArgsYaml: string;
  /** The per-user log file used by `basicConfig` (`log: <logDir>/sshproxy-{user}.log`). */
  logPath(user: TestUser): string;
  /** That log file's contents ("" when it does not exist yet). */
  readLog(user: TestUser): Promise<string>;
  /**
   * A minimal configuration: per-user log file (unless `log` is given),
   * the harness's ssh args, `dest` (default server1), plus raw YAML lines.
   */
  basicConfig(options?: BasicConfig): string;
  /** pids of the gateway sshd's processes running `ssh` (the proxy's children). */
  gatewaySshPids(): Promise<number[]>;
}

/** What `basicConfig` varies. */
export interface BasicConfig {
  /** `log` value; default the per-user file in logDir. */
  log?: string;
  /** `dest` entries; default server1's address. */
  dest?: string[];
  /** `ssh.exe`; default none (the program's default, ssh). */
  sshExe?: string;
  /** Further top-level YAML, appended as is. */
  extra?: string;
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
  const sshArgsYaml = `[${
    ["-q", ...topology.sshArgs].map((arg) => JSON.stringify(arg)).join(", ")
  }]`;
  const logPath = (user: TestUser) => `${logDir}/sshproxy-${user}.log`;
  return {
    ...topology,
    product,
    configPath,
    logDir,
    sshArgsYaml,
    async writeConfig(text: string) {
      await Deno.writeTextFile(configPath, text);
    },
    logPath,
    readLog: (user) => Deno.readTextFile(logPath(user)).catch(() => ""),
    basicConfig(config: BasicConfig = {}) {
      const dest = config.dest ?? [topology.servers.server1.address];
      return [
        `log: ${JSON.stringify(config.log ?? `${logDir}/sshproxy-{user}.log`)}`,
        `ssh:`,
        ...(config.sshExe === undefined
          ? []
          : [`  exe: ${JSON.stringify(config.sshExe)}`]),
        `  args: ${sshArgsYaml}`,
        `dest: [${dest.map((d) => JSON.stringify(d)).join(", ")}]`,
        config.extra ?? "",
      ].join("\n") + "\n";
    },
    async gatewaySshPids() {
      const pids = await Promise.all(
        topology.gateways.map((g) => sshdPid(g.sshd.dir)),
      );
      const tree = await descendants(pids.filter((p) => p > 0));
      const found: number[] = [];
      for (const pid of tree) {
        const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
        if (exe === "/usr/bin/ssh") found.push(pid);
      }
      return found;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Executable paths of every process an sshd started (its sessions and their children). */
export async function sshdDescendantExes(sshd: Sshd): Promise<string[]> {
  const pid = await sshdPid(sshd.dir);
  if (pid === 0) return [];
  const exes = await Promise.all(
    (await descendants([pid])).map((p) =>
      Deno.readLink(`/proc/${p}/exe`).catch(() => "")
    ),
  );
  return exes.filter((exe) => exe !== "");
}

async function sshdPid(dir: string): Promise<number> {
  const text = await Deno.readTextFile(`${dir}/sshd.pid`).catch(() => "");
  return Number(text.trim()) || 0;
}

/** pids of running installed sshproxy processes (deno running `<prefix>/lib/sshproxy/app/sshproxy.js`). */
export async function proxyPids(product: Installed): Promise<number[]> {
  const script = `${product.prefix}/lib/sshproxy/app/sshproxy.js`;
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`)
      .catch(() => "");
    if (cmdline.split("\0").includes(script)) found.push(Number(entry.name));
  }
  return found;
}

/**
 * Polls `probe` every 50 ms until it returns a truthy value or `timeoutMs`
 * passes; returns the last value (falsy on timeout).
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!value && Date.now() < deadline) {
    await sleep(50);
    value = await probe();
  }
  return value;
}

/** Whether process `pid` exists (and is not a zombie). */
export async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (stat === "") return false;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !==
    "Z";
}
