// Paths (g) and (h) of issue 14: sessions routed through the gateway agent,
// and the same with hand-off (no process of ours left once ssh runs). The
// bench does not start the agent its own way: it uses the e2e harness's
// agent starter (tests/e2e/agent_env.ts, which creates the agent's own
// account), loaded only when the installed product has an agent face, so
// that the bench runs the same before and after the agent lands.
import { run, sleep, sshAs, type TestUser } from "../../tests/harness/mod.ts";
import type { ProxyGateway } from "../../tests/e2e/gateway.ts";
import { CONNECTIONS_PREFIX } from "./burst.ts";
import { etcdKeyLeases } from "./etcd_observe.ts";
import type { Target } from "./measure.ts";
import type { Outcome } from "./results.ts";
import { type AgentWeight, cpuCgroups, weighAgent } from "./agent_weight.ts";

/**
 * The top-level configuration key that opts in to hand-off, and its value.
 * The hand-off branch names it: change it here if it lands under another
 * name (path (h) says so when the key has no effect).
 */
export const HANDOFF_YAML = "handoff: true";

/** The agent's greeting time before a session routes itself (issue 14). */
export const AGENT_TIMEOUT = "200ms";

/** Once greeted, the agent's decision time (the product's default). */
export const AGENT_DECISION_TIMEOUT = "2s";

/** The harness's agent starter, as far as the bench uses it. */
interface HarnessAgent {
  agentYaml(
    options?: { timeout?: string; decisionTimeout?: string },
  ): string;
  start(configPath?: string, options?: { nice?: number }): Promise<void>;
  pid(): number | undefined;
  stop(): Promise<void>;
  log(): Promise<string>;
  scrape?: () => Promise<string>;
  [Symbol.asyncDispose]?: () => Promise<void>;
}

interface AgentEnvModule {
  prepareAgent?: (gw: ProxyGateway) => Promise<HarnessAgent>;
}

/** A running agent serving one configuration file. */
export interface BenchAgent {
  /** How it was given its unit's CPU weight, in words. */
  cpuWeight: string;
  /** The configuration it serves (the gateway's sessions must read this file). */
  configPath: string;
  /** That file's text. */
  config: string;
  pid(): number | undefined;
  log(): Promise<string>;
  /** Its metrics text, when the harness can read it. */
  scrape?: () => Promise<string>;
  /** Stops the agent and removes what the harness made for it. */
  stop(): Promise<void>;
}

/** Whether the installed product has an agent face (`sshproxy-agent -version`). */
export async function agentFace(prefix: string): Promise<Outcome<string>> {
  const command = `${prefix}/bin/sshproxy-agent`;
  const exists = await Deno.stat(command).then(() => true, () => false);
  if (!exists) {
    return {
      status: "not measured",
      reason:
        `the installed product has no agent face (${command} does not exist)`,
    };
  }
  const result = await run([command, "-version"], { timeoutMs: 20_000 });
  const answer = (result.stdout + result.stderr).trim();
  if (!result.ok || !/version/.test(answer)) {
    return {
      status: "not measured",
      reason:
        `the installed product has no agent face (\`sshproxy-agent -version\` answered status ${result.code}: ${
          answer.split("\n")[0]?.slice(0, 160) || "nothing"
        })`,
    };
  }
  return { status: "measured", value: answer.split("\n")[0] };
}

/**
 * Writes `configPath` (`config` given the agent's `agent:` section) and
 * starts an agent on it through the harness's starter. The agent serves
 * only sessions reading that same file (others it leaves to route
 * themselves), so the gateway of its path must run `sshproxy configPath`.
 * Throws with the reason when the harness has no starter or the agent
 * does not start.
 */
/** Niceness of the bench's agents where no cgroup can weigh them (scripts/bench/agent_weight.ts). */
const AGENT_NICE = -5;

export async function startAgent(
  gw: ProxyGateway,
  configPath: string,
  config: (agentYaml: string) => string,
): Promise<BenchAgent> {
  const module = new URL("../../tests/e2e/agent_env.ts", import.meta.url);
  const present = await Deno.stat(module).then(() => true, () => false);
  if (!present) {
    throw new Error(
      "the harness has no agent starter (tests/e2e/agent_env.ts is missing)",
    );
  }
  // A computed specifier: the module does not exist before the agent lands,
  // and the bench must type-check either way.
  const env = await import(module.href) as AgentEnvModule;
  if (typeof env.prepareAgent !== "function") {
    throw new Error("tests/e2e/agent_env.ts exports no prepareAgent(gw)");
  }
  const agent = await env.prepareAgent(gw);
  const text = config(agent.agentYaml({
    timeout: AGENT_TIMEOUT,
    decisionTimeout: AGENT_DECISION_TIMEOUT,
  }));
  await Deno.writeTextFile(configPath, text);
  await Deno.chmod(configPath, 0o644);
  let weight: AgentWeight | undefined;
  const dispose = async () => {
    await agent.stop().catch(() => {});
    await weight?.release();
    await agent[Symbol.asyncDispose]?.().catch(() => {});
  };
  try {
    // The CPU weight the shipped unit gives the agent
    // (config/sshproxy-agent.service), as a cgroup of its own where the
    // machine allows one, else as a niceness.
    const cgroups = await cpuCgroups();
    await agent.start(
      configPath,
      cgroups === undefined ? { nice: AGENT_NICE } : {},
    );
    const pid = agent.pid();
    if (cgroups !== undefined && pid !== undefined) {
      weight = await weighAgent(cgroups, pid);
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    cpuWeight: weight?.how ?? `niceness ${AGENT_NICE}`,
    configPath,
    config: text,
    pid: () => agent.pid(),
    log: () => agent.log(),
    scrape: agent.scrape ? () => agent.scrape!() : undefined,
    stop: dispose,
  };
}

/** The agent's login counters from its metrics text (issue 14's names). */
export function agentCounters(text: string): Record<string, number> {
  const counters: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const login = line.match(
      /^sshproxy_logins_total\{[^}]*outcome="([^"]+)"[^}]*\} (\S+)$/,
    );
    if (login) {
      counters[`logins ${login[1]}`] = (counters[`logins ${login[1]}`] ?? 0) +
        Number(login[2]);
    }
    const fallback = line.match(
      /^sshproxy_agent_fallbacks_total(?:\{\})? (\S+)$/,
    );
    if (fallback) counters.fallbacks = Number(fallback[1]);
    // Sessions that gave up on the agent's greeting (agent.timeout) and
    // routed themselves; withdrawn: gave up on its decision.
    const left = line.match(
      /^sshproxy_agent_(abandoned_clients|withdrawn_routes)_total(?:\{\})? (\S+)$/,
    );
    if (left) {
      counters[
        left[1] === "abandoned_clients"
          ? "left before asking"
          : "routes withdrawn"
      ] = Number(left[2]);
    }
  }
  return counters;
}

/**
 * Whether sessions through `target` are routed by the agent: two sessions
 * at once must register keys under one lease (the agent's), where sessions
 * routing themselves hold one lease each.
 */
export async function detectAgentRouting(
  user: TestUser,
  target: Target,
  etcdEndpoint: string,
): Promise<Outcome<string>> {
  await target.prepare?.();
  const sessions = [0, 1].map(() =>
    sshAs(user, {
      host: target.host,
      port: target.port,
      command: "sleep 3; echo ok",
    }, { timeoutMs: 30_000 })
  );
  let leases: { key: string; lease: string }[] = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && leases.length < 2) {
    leases = await etcdKeyLeases(etcdEndpoint, CONNECTIONS_PREFIX);
    if (leases.length < 2) await sleep(100);
  }
  const results = await Promise.all(sessions);
  const failed = results.find((r) => !r.ok || r.stdout.trim() !== "ok");
  if (failed) {
    return {
      status: "not measured",
      reason:
        `a session through the agent configuration failed (status ${failed.code}): ${
          failed.stderr.trim().slice(0, 200) || "no message"
        }`,
    };
  }
  const distinct = new Set(leases.map((l) => l.lease));
  if (leases.length < 2) {
    return {
      status: "not measured",
      reason:
        `two sessions through the agent configuration registered ${leases.length} key(s) in etcd instead of 2`,
    };
  }
  if (distinct.size !== 1 || distinct.has("0")) {
    return {
      status: "not measured",
      reason:
        `sessions through the agent configuration do not route through the agent: two concurrent sessions' keys have leases ${
          [...distinct].join(" and ")
        } (one per session, as without the agent)`,
    };
  }
  return {
    status: "measured",
    value: `two concurrent sessions registered under one lease (${
      [...distinct][0]
    }), the agent's`,
  };
}

/**
 * Whether a session through `target` hands off: while it runs, the
 * gateway has its ssh and no process of ours. Up to three sessions: one
 * the agent was too slow to route (a fresh agent's first answers, a loaded
 * machine) routes itself and, registered in etcd by itself, rightly stays.
 */
export async function detectHandoff(
  user: TestUser,
  target: Target,
): Promise<Outcome<string>> {
  let outcome: Outcome<string> | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    outcome = await detectHandoffOnce(user, target);
    if (outcome.status === "measured") break;
  }
  return outcome!;
}

async function detectHandoffOnce(
  user: TestUser,
  target: Target,
): Promise<Outcome<string>> {
  const probe = target.sessions;
  if (!probe) throw new Error(`(${target.id}) has no gateway sessions to see`);
  await target.prepare?.();
  const session = sshAs(user, {
    host: target.host,
    port: target.port,
    command: "sleep 3; echo ok",
  }, { timeoutMs: 30_000 });
  let settled = false;
  session.finally(() => settled = true);
  let seen: { ours: number[]; ssh: number[] } | undefined;
  let exes: string[] = [];
  const deadline = Date.now() + 10_000;
  while (!settled && Date.now() < deadline) {
    const now = await probe();
    if (now.ssh.length > 0) {
      // Let a launcher or wrapper that outlives the ssh start settle.
      await sleep(1000);
      seen = await probe();
      exes = await Promise.all(
        seen.ours.map(async (pid) => {
          const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "?");
          const argv = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(
            () => "",
          );
          return `${exe} ${argv.split("\0").slice(1, 3).join(" ")}`.trim();
        }),
      );
      break;
    }
    await sleep(100);
  }
  const result = await session;
  if (!result.ok || result.stdout.trim() !== "ok") {
    return {
      status: "not measured",
      reason:
        `a session with \`${HANDOFF_YAML}\` failed (status ${result.code}): ${
          result.stderr.trim().slice(0, 200) || "no message"
        }`,
    };
  }
  if (!seen) {
    return {
      status: "not measured",
      reason: `no gateway ssh seen during a session with \`${HANDOFF_YAML}\``,
    };
  }
  if (seen.ours.length > 0) {
    return {
      status: "not measured",
      reason:
        `with \`${HANDOFF_YAML}\` a process of ours stays for the whole session (${
          exes.join(", ")
        }): the installed product does not hand off, or names the key otherwise (HANDOFF_YAML in scripts/bench/agent.ts)`,
    };
  }
  return {
    status: "measured",
    value: "during a session the gateway runs its ssh and no process of ours",
  };
}
