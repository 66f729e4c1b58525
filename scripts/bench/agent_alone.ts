// The gateway agent alone (issue 14), a standalone run on loopback beside
// `deno task bench` (whose paths (g) and (h) measure the agent through real
// sshd sessions, scripts/bench/agent.ts): login latency through the agent
// next to stateless and etcd logins without it (same gateway, same
// destinations, interleaved), etcd requests per second while N idle
// sessions are routed by the agent (N = 20 and 200: the rate must not grow
// with N), and the agent's resident memory with them. Run as root:
//
//   deno run -A scripts/bench/agent_alone.ts [--logins N] [--idle-seconds S]
//     [--decisions N] [--sessions 20,200] [--only latency,decisions,keys,idle]
//
// The idle sessions are processes of a test user registered through the
// agent's protocol by one client (tests/e2e/agent_impostor.js's honest
// mode, repeated), so 200 of them cost no sshd, ssh or proxy processes: what
// is measured is the agent and etcd alone. Printed on stdout as Markdown.
//
// Also: the agent's own decision time (its log's `decided in N ms`) over
// sequential logins through the agent, stateless and with etcd; and real
// sessions (`ssh gateway sleep`, opened 25 at a time as the bench does)
// through the agent with the default bounds (`agent.timeout` 200 ms for the
// greeting, `agent.decision_timeout` 2 s for the decision): the
// connection keys they leave in etcd and how many are under the agent's
// lease (one key per session is right; a session that gave up on a slow
// agent and registered itself while the agent registered it too was two).
import {
  type RunningCommand,
  sleep,
  spawnAs,
  startEtcd,
  USERS,
} from "../../tests/harness/mod.ts";
import { prepareAgent, sample } from "../../tests/e2e/agent_env.ts";
import { startProxyGateway } from "../../tests/e2e/gateway.ts";
import { sshArgv } from "../../tests/harness/mod.ts";
import { etcdKeyLeases } from "./etcd_observe.ts";
import { latency, type Target } from "./measure.ts";
import { median, percentile } from "./stats.ts";
import { spawnStreamingAs, type Streaming } from "./system.ts";

const args = Deno.args;
const option = (name: string, fallback: number) => {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const LOGINS = option("--logins", 20);
const IDLE_SECONDS = option("--idle-seconds", 30);
const DECISIONS = option("--decisions", 30);
const listOption = (name: string, fallback: string) => {
  const index = args.indexOf(name);
  return (index >= 0 ? args[index + 1] : fallback).split(",").filter(Boolean);
};
const SESSIONS = listOption("--sessions", "20,200").map(Number);
const ONLY = new Set(listOption("--only", "latency,decisions,keys,idle"));
// Where to copy the agent's log at the end (to read its decisions).
const AGENT_LOG = listOption("--agent-log", "")[0];
const say = (text: string) => console.error(`bench-agent: ${text}`);

/** The sections asked for are done. */
class Done extends Error {}

const etcd = await startEtcd();
const gw = await startProxyGateway({
  gatewayExtraConfig: ["MaxStartups 500", "MaxSessions 500"],
});
const agent = await prepareAgent(gw);
const cleanups: (() => Promise<void>)[] = [
  async () => await agent[Symbol.asyncDispose](),
  () => gw.stop(),
  () => etcd.stop(),
];
try {
  const { server1, server2, server3 } = gw.servers;
  const dest = [server1.address, server2.address, server3.address];
  const etcdYaml = `etcd:\n  endpoints: [${
    JSON.stringify(etcd.endpoint)
  }]\n  keyttl: 5\nroute_select: connections\nmode: sticky\n`;
  const configs = {
    stateless: gw.basicConfig({ dest }),
    statelessAgent: gw.basicConfig({
      dest,
      extra: agent.agentYaml({ timeout: "2s" }),
    }),
    etcd: gw.basicConfig({ dest, extra: etcdYaml }),
    etcdAgent: gw.basicConfig({
      dest,
      extra: etcdYaml + agent.agentYaml({ timeout: "2s" }),
    }),
  };
  // The agent starts with the etcd settings the sessions will have.
  await gw.writeConfig(configs.etcdAgent);
  await agent.start();
  const port = gw.gateway.ports[2022];
  const target = (id: string, config: string): Target => ({
    id,
    host: gw.gateway.host,
    port,
    prepare: () => gw.writeConfig(config),
  });
  const targets = [
    target("stateless", configs.stateless),
    target("stateless+agent", configs.statelessAgent),
    target("etcd", configs.etcd),
    target("etcd+agent", configs.etcdAgent),
  ];
  if (ONLY.has("decisions")) {
    await decisionTimes(
      [
        ["stateless+agent", configs.statelessAgent],
        ["etcd+agent", configs.etcdAgent],
      ],
      port,
    );
  }
  if (ONLY.has("keys")) {
    // DEBUG: each session that routes itself says why.
    const config = gw.basicConfig({
      dest,
      extra: `debug: true\n${etcdYaml}${
        agent.agentYaml({ timeout: "200ms", decisionTimeout: "2s" })
      }`,
    });
    console.log(
      "## Real idle sessions through the agent (`agent.timeout: 200ms`, `decision_timeout: 2s`): connection keys\n",
    );
    console.log(
      "| sessions | connection keys | under the agent's lease | other keys (sessions' own leases) | routed by the agent | routes withdrawn | decision p50 / max (ms) |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const count of SESSIONS) await sessionKeys(count, config, port);
    console.log("");
  }
  if (!ONLY.has("latency")) throw new Done();
  say(`latency: ${LOGINS} logins per path, interleaved`);
  const samples = await latency(USERS.user1, targets, LOGINS, say);
  const log = await gw.readLog(USERS.user1);
  const fallbacks = (log.match(/routing without it/g) ?? []).length;
  console.log("## Login latency (ms, `ssh gateway true`, whole login)\n");
  console.log("| path | p50 | p90 | logins |");
  console.log("| --- | --- | --- | --- |");
  for (const [id, { totalMs: values }] of samples) {
    console.log(
      `| ${id} | ${Math.round(median(values))} | ${
        Math.round(percentile(values, 90))
      } | ${values.length} |`,
    );
  }
  console.log(
    `\n(${fallbacks} login(s) through the agent fell back to routing themselves)\n`,
  );

  if (!ONLY.has("idle")) throw new Done();
  // Idle sessions registered through the agent.
  await gw.writeConfig(configs.etcdAgent);
  const etcdRequests = async () => {
    const text = await (await fetch(`${etcd.endpoint}/metrics`)).text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("grpc_server_handled_total{")) {
        total += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return total;
  };
  const agentRss = async () => {
    const pid = agent.pid()!;
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  };
  const holders: RunningCommand[] = [];
  console.log("## Idle sessions routed by the agent\n");
  console.log(
    "| sessions | etcd requests/s (etcd's count) | agent's own etcd requests/s | agent RSS (MiB) | agent JS heap used (MiB) |",
  );
  console.log("| --- | --- | --- | --- | --- |");
  const idle = async (count: number) => {
    // One client registers `count` sleeping processes of user1 as sessions.
    const script = new URL("./agent_sessions_client.js", import.meta.url)
      .pathname;
    const holder = await spawnAs(USERS.user1, [
      `${gw.product.prefix}/lib/sshproxy/bin/deno`,
      "run",
      "--allow-all",
      "--no-config",
      script,
      JSON.stringify({
        socket: agent.socket,
        config: gw.configPath,
        sshd: `127.0.0.1:${port}`,
        count,
      }),
    ], { env: { DENO_DIR: `${gw.logDir}/bench-deno` }, timeoutMs: 3_600_000 });
    holders.push(holder);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const metrics = await agent.scrape();
      let live = 0;
      for (const line of metrics.split("\n")) {
        if (line.startsWith("sshproxy_sessions{")) {
          live += Number(line.slice(line.lastIndexOf(" ") + 1));
        }
      }
      if (live >= count) break;
      await sleep(500);
    }
    await sleep(2_000);
    const before = await etcdRequests();
    const ownBefore = ownRequests(await agent.scrape());
    await sleep(IDLE_SECONDS * 1000);
    const after = await etcdRequests();
    const ownAfter = ownRequests(await agent.scrape());
    const rss = await agentRss();
    const heap =
      (sample(await agent.scrape(), "sshproxy_agent_heap_used_bytes") ?? 0) /
      1048576;
    console.log(
      `| ${count} | ${((after - before) / IDLE_SECONDS).toFixed(2)} | ${
        ((ownAfter - ownBefore) / IDLE_SECONDS).toFixed(2)
      } | ${rss.toFixed(1)} | ${heap.toFixed(1)} |`,
    );
    holder.kill("SIGKILL");
    await holder.result();
    await sleep(3_000);
  };
  const ownRequests = (text: string) => {
    let total = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith("sshproxy_etcd_requests_total{")) {
        total += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return total;
  };
  await idle(0);
  await idle(20);
  await idle(200);
  const keys = await etcd.etcdctl([
    "get",
    "--prefix",
    "--keys-only",
    "/sshproxy/connections/",
  ]);
  say(
    `connection keys left: ${keys.stdout.split("\n").filter(Boolean).length}`,
  );
} catch (error) {
  if (!(error instanceof Done)) throw error;
} finally {
  if (AGENT_LOG) await Deno.writeTextFile(AGENT_LOG, await agent.log());
  for (const cleanup of cleanups) await cleanup().catch(() => {});
}

/** `decided in N ms` of the agent's log lines after `from` characters. */
async function decidedMs(from: number): Promise<number[]> {
  return [...(await agent.log()).slice(from).matchAll(/decided in (\d+) ms/g)]
    .map((match) => Number(match[1]));
}

/** The agent's decision time over sequential logins through each path. */
async function decisionTimes(
  paths: [string, string][],
  port: number,
): Promise<void> {
  console.log(
    `## The agent's decision time (ms, its log's \`decided in N ms\`, ${DECISIONS} sequential logins per path)\n`,
  );
  console.log("| path | p50 | p90 | max | from the watched copy |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const [id, config] of paths) {
    await gw.writeConfig(config);
    // Two logins warm the path (the agent reloads the file, etc.).
    for (let i = 0; i < 2; i++) {
      await sshAsUser1(port, "true");
    }
    const from = (await agent.log()).length;
    for (let i = 0; i < DECISIONS; i++) await sshAsUser1(port, "true");
    await sleep(500);
    const text = (await agent.log()).slice(from);
    const times = await decidedMs(from);
    const mirrored = (text.match(/state from the watched copy/g) ?? []).length;
    console.log(
      `| ${id} | ${median(times)} | ${percentile(times, 90)} | ${
        Math.max(...times)
      } | ${mirrored} of ${times.length} |`,
    );
  }
  console.log("");
}

async function sshAsUser1(port: number, command: string): Promise<void> {
  const client = await spawnStreamingAs(
    USERS.user1,
    sshArgv(USERS.user1, { host: gw.gateway.host, port, command }),
  );
  client.child.stdin.close().catch(() => {});
  client.child.stdout.cancel().catch(() => {});
  client.child.stderr.cancel().catch(() => {});
  await client.child.status;
}

/**
 * `count` real idle sessions through the agent (default bounds),
 * opened 25 at a time: the connection keys in etcd once they all run.
 */
async function sessionKeys(
  count: number,
  config: string,
  port: number,
): Promise<void> {
  await gw.writeConfig(config);
  await sleep(2_500); // the agent sees the new file
  const sessionLog = () => gw.readLog(USERS.user1);
  const logFrom = (await sessionLog()).length;
  const agentFrom = (await agent.log()).length;
  const clients: Streaming[] = [];
  const deadline = Date.now() + 300_000;
  const proxied = async () =>
    ((await sessionLog()).slice(logFrom).match(/INFO \w+: proxied to/g) ?? [])
      .length;
  try {
    for (let opened = 0; opened < count;) {
      const wave = Math.min(25, count - opened);
      for (let i = 0; i < wave; i++) {
        const client = await spawnStreamingAs(
          USERS.user1,
          sshArgv(USERS.user1, {
            host: gw.gateway.host,
            port,
            command: "exec sleep 900",
          }),
        );
        client.child.stdin.close().catch(() => {});
        client.child.stdout.cancel().catch(() => {});
        client.child.stderr.cancel().catch(() => {});
        clients.push(client);
      }
      opened += wave;
      while ((await proxied()) < opened && Date.now() < deadline) {
        await sleep(250);
      }
      say(`keys: ${opened}/${count} sessions live`);
    }
    // Decisions the agent finishes late, and registrations in the background.
    await sleep(3_000);
    const keys = await etcdKeyLeases(etcd.endpoint, "/sshproxy/connections/");
    const perLease = new Map<string, number>();
    for (const { lease } of keys) {
      perLease.set(lease, (perLease.get(lease) ?? 0) + 1);
    }
    const agentShare = Math.max(0, ...perLease.values());
    const agentLog = (await agent.log()).slice(agentFrom);
    const reasons = new Map<string, number>();
    const sessionText = (await sessionLog()).slice(logFrom);
    for (
      const match of sessionText.matchAll(
        /agent at \S+: (.*); routing without it/g,
      )
    ) {
      const reason = match[1].replace(/\d+/g, "N");
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    for (const match of agentLog.matchAll(/to route itself: (.*)/g)) {
      const reason = `agent: ${match[1].replace(/\d+/g, "N")}`;
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    say(
      `keys: ${count} sessions: why sessions routed themselves: ${
        JSON.stringify([...reasons])
      }`,
    );
    const routed = (agentLog.match(/ routed \S+ from /g) ?? []).length;
    const withdrawn = (agentLog.match(/withdrew the route of/g) ?? []).length;
    const times = [...agentLog.matchAll(/decided in (\d+) ms/g)].map((m) =>
      Number(m[1])
    );
    console.log(
      `| ${count} | ${keys.length} | ${agentShare} | ${
        keys.length - agentShare
      } | ${routed} | ${withdrawn} | ${
        times.length > 0 ? median(times) : "-"
      } / ${times.length > 0 ? Math.max(...times) : "-"} |`,
    );
  } finally {
    for (const client of clients) client.kill("SIGKILL");
    await Promise.all(clients.map((c) => c.child.status));
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      if (
        (await etcdKeyLeases(etcd.endpoint, "/sshproxy/connections/"))
          .length === 0
      ) break;
      await sleep(500);
    }
  }
}
