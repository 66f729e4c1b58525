// The installed sshproxy-agent run for a test gateway, as its own
// unprivileged account (tests/harness/agent_account.ts), with its socket in
// a runtime directory it owns (as systemd's RuntimeDirectory makes it) and
// its metrics on a free loopback port. The test writes the gateway's
// configuration with `agentYaml` in it, then starts the agent on that file.
import {
  type AgentAccount,
  createAgentAccount,
} from "../harness/agent_account.ts";
import { freePort, sleep } from "../harness/mod.ts";
import { requireTool, type Service, startService } from "../harness/process.ts";
import { type ProxyGateway, waitFor } from "./gateway.ts";

/** One agent for one gateway's configuration file. */
export interface TestAgent extends AsyncDisposable {
  account: AgentAccount;
  /** The runtime directory (socket, proof directory). */
  dir: string;
  socket: string;
  metricsPort: number;
  metricsUrl: string;
  /** The `agent:` section for the configuration file. */
  agentYaml(
    options?: { timeout?: string; decisionTimeout?: string; socket?: string },
  ): string;
  /**
   * Starts the agent on `configPath` and waits for its socket; `nice`
   * sets its niceness (as `nice -n`), `nofile`
   * sets its open-file limit (soft and hard, as `prlimit` does).
   */
  start(
    configPath?: string,
    options?: { nofile?: number; nice?: number },
  ): Promise<void>;
  /** The agent's pid (undefined when not running). */
  pid(): number | undefined;
  /** SIGKILL: an agent dying without any clean-up. */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** The agent's stderr so far. */
  log(): Promise<string>;
  /** Waits until the agent's log matches `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** The metrics text (GET /metrics). */
  scrape(): Promise<string>;
}

/** Prepares an agent for `gw` (not started yet). */
export async function prepareAgent(gw: ProxyGateway): Promise<TestAgent> {
  const account = await createAgentAccount();
  const setpriv = await requireTool("/usr/bin/setpriv");
  const dir = await Deno.makeTempDir({ prefix: "sshproxy-agent-run-" });
  await Deno.chown(dir, account.uid, account.gid);
  await Deno.chmod(dir, 0o755);
  const socket = `${dir}/agent.sock`;
  const logPath = `${gw.logDir}/agent.log`;
  const metricsPort = await freePort();
  let service: Service | undefined;
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    const running = service;
    service = undefined;
    await running?.stop(signal, 5_000);
  };
  const log = () => Deno.readTextFile(logPath).catch(() => "");
  return {
    account,
    dir,
    socket,
    metricsPort,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    agentYaml(options = {}) {
      return [
        "agent:",
        `  socket: ${JSON.stringify(options.socket ?? socket)}`,
        `  metrics: "127.0.0.1:${metricsPort}"`,
        `  timeout: ${options.timeout ?? "5s"}`,
        // The test's bound is the whole exchange's, unless it says otherwise.
        `  decision_timeout: ${
          options.decisionTimeout ?? options.timeout ?? "5s"
        }`,
      ].join("\n") + "\n";
    },
    async start(configPath = gw.configPath, options = {}) {
      if (service?.alive()) throw new Error("the agent already runs");
      const before = (await log()).length;
      const limit = options.nofile === undefined ? [] : [
        await requireTool("/usr/bin/prlimit"),
        `--nofile=${options.nofile}:${options.nofile}`,
        "--",
      ];
      const niceness = options.nice === undefined
        ? []
        : [await requireTool("/usr/bin/nice"), "-n", String(options.nice)];
      service = startService([
        "/usr/bin/env",
        "-i",
        "PATH=/usr/bin:/bin",
        ...niceness,
        ...limit,
        setpriv,
        `--reuid=${account.uid}`,
        `--regid=${account.gid}`,
        "--clear-groups",
        "--",
        gw.product.agent,
        configPath,
      ], logPath);
      const current = service;
      const listening = await waitFor(async () => {
        if (!current.alive()) return "exited";
        const text = (await log()).slice(before);
        return /listening on /.test(text) ? "ok" : undefined;
      }, 20_000);
      if (listening !== "ok") {
        const text = await log();
        await stop("SIGKILL");
        throw new Error(
          `sshproxy-agent did not start (${listening ?? "timeout"}):\n${text}`,
        );
      }
    },
    pid: () => service?.alive() ? service.pid : undefined,
    kill: () => stop("SIGKILL"),
    stop: () => stop("SIGTERM"),
    log,
    async waitForLog(pattern, timeoutMs = 10_000) {
      const text = await waitFor(async () => {
        const current = await log();
        return pattern.test(current) ? current : undefined;
      }, timeoutMs);
      if (text === undefined) {
        throw new Error(
          `agent log never matched ${pattern}:\n${await log()}`,
        );
      }
      return text;
    },
    async scrape() {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      const text = await response.text();
      if (!response.ok) throw new Error(`scrape: ${response.status} ${text}`);
      return text;
    },
    async [Symbol.asyncDispose]() {
      await stop("SIGTERM");
      await sleep(0);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await account[Symbol.asyncDispose]();
    },
  };
}

/** The value of one sample in a metrics text (undefined when absent). */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) {
      return Number(line.slice(series.length + 1));
    }
  }
  return undefined;
}
