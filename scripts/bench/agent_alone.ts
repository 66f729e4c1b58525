// The gateway agent alone (issue 14), a standalone run on loopback beside
// `deno task bench` (whose paths (g) and (h) measure the agent through real
// sshd sessions, scripts/bench/agent.ts): login latency through the agent
// next to stateless and etcd logins without it (same gateway, same
// destinations, interleaved), etcd requests per second while N idle
// sessions are routed by the agent (N = 20 and 200: the rate must not grow
// with N), and the agent's resident memory with them. Run as root:
//
//   deno run -A scripts/bench/agent_alone.ts [--logins N] [--idle-seconds S]
//
// The idle sessions are processes of a test user registered through the
// agent's protocol by one client (tests/e2e/agent_impostor.js's honest
// mode, repeated), so 200 of them cost no sshd, ssh or proxy processes: what
// is measured is the agent and etcd alone. Printed on stdout as Markdown.
import {
  type RunningCommand,
  sleep,
  spawnAs,
  startEtcd,
  USERS,
} from "../../tests/harness/mod.ts";
import { prepareAgent, sample } from "../../tests/e2e/agent_env.ts";
import { startProxyGateway } from "../../tests/e2e/gateway.ts";
import { latency, type Target } from "./measure.ts";
import { median, percentile } from "./stats.ts";

const args = Deno.args;
const option = (name: string, fallback: number) => {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const LOGINS = option("--logins", 20);
const IDLE_SECONDS = option("--idle-seconds", 30);
const say = (text: string) => console.error(`bench-agent: ${text}`);

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
  say(`latency: ${LOGINS} logins per path, interleaved`);
  const samples = await latency(USERS.user1, targets, LOGINS, 4, say);
  const log = await gw.readLog(USERS.user1);
  const fallbacks = (log.match(/routing without it/g) ?? []).length;
  console.log("## Login latency (ms, `ssh gateway true`, whole login)\n");
  console.log("| path | p50 | p90 | logins |");
  console.log("| --- | --- | --- | --- |");
  for (const [id, values] of samples) {
    console.log(
      `| ${id} | ${Math.round(median(values))} | ${
        Math.round(percentile(values, 90))
      } | ${values.length} |`,
    );
  }
  console.log(
    `\n(${fallbacks} login(s) through the agent fell back to routing themselves)\n`,
  );

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
} finally {
  for (const cleanup of cleanups) await cleanup().catch(() => {});
}
