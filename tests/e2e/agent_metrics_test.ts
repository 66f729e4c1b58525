// The agent's Prometheus metrics from a live agent after real logins:
// valid for promtool, scraped by a real Prometheus server, and counting
// what happened (proxied logins, refusals decided by the agent and those
// the sessions reported, the login latency, live sessions, destination
// health). Also the shipped alert rules pass `promtool check rules`.
import assert from "node:assert/strict";
import {
  freePort,
  run,
  spawnAs,
  sshArgv,
  sshAs,
  USERS,
} from "../harness/mod.ts";
import { startService } from "../harness/process.ts";
import { prepareAgent, sample } from "./agent_env.ts";
import { e2e, startProxyGateway, waitFor } from "./gateway.ts";

const PROMTOOL = "/usr/bin/promtool";
const PROMETHEUS = "/usr/bin/prometheus";

async function promtool(args: string[], stdin?: string) {
  return await run([PROMTOOL, ...args], { stdin, timeoutMs: 30_000 });
}

Deno.test({
  name:
    "a live agent's metrics pass promtool, count outcomes and latency, and a real Prometheus scrapes them",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway({
      gatewayExtraConfig: ["AcceptEnv SSHPROXY_ARGS"],
    });
    await using agent = await prepareAgent(gw);
    const { server1 } = gw.servers;
    await gw.writeConfig(gw.basicConfig({
      dest: [server1.address],
      extra: `${agent.agentYaml()}overrides:
  - match:
      - users: [${USERS.user2}]
    dest: ["127.0.0.11:1"]
    error_banner: all down
  - match:
      - users: [${USERS.tmpuser}]
    force_command: "echo forced"
    command_must_match: true
`,
    }));
    await agent.start();
    const port = gw.gateway.ports[2022];
    // Two proxied logins, one refused by the agent (no usable destination:
    // banner), one refused by the session (command not allowed), one by the
    // session (SSHPROXY_ARGS).
    for (let i = 0; i < 2; i++) {
      const ok = await sshAs(USERS.user1, { port, command: "true" });
      assert.equal(ok.code, 0, ok.stderr);
    }
    const banner = await sshAs(USERS.user2, { port, command: "true" });
    assert.equal(banner.code, 1);
    assert.equal(banner.stdout, "all down\n");
    const forced = await sshAs(USERS.tmpuser, { port, command: "ls" });
    assert.equal(forced.code, 1);
    const args = await sshAs(
      USERS.fedora,
      { port, command: "true", extraArgs: ["-o", "SendEnv=SSHPROXY_ARGS"] },
      { env: { SSHPROXY_ARGS: "-oProxyCommand=x" } },
    );
    assert.equal(args.code, 1, args.stderr);

    const text = await waitFor(async () => {
      const scraped = await agent.scrape();
      return sample(
          scraped,
          'sshproxy_logins_total{outcome="bad_sshproxy_args"}',
        ) === 1
        ? scraped
        : undefined;
    }, 10_000);
    assert.ok(text, await agent.scrape());
    assert.equal(sample(text, 'sshproxy_logins_total{outcome="proxied"}'), 2);
    assert.equal(sample(text, 'sshproxy_logins_total{outcome="banner"}'), 1);
    assert.equal(
      sample(text, 'sshproxy_logins_total{outcome="command_not_allowed"}'),
      1,
    );
    assert.equal(sample(text, "sshproxy_login_duration_seconds_count"), 2);
    assert.ok(sample(text, "sshproxy_login_duration_seconds_sum")! > 0);
    assert.ok(sample(text, "process_resident_memory_bytes")! > 1_000_000);
    const checked = await promtool(["check", "metrics"], text);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.equal(checked.stdout + checked.stderr, "");

    // A live session shows up by service and destination.
    await using _session = await spawnAs(
      USERS.user1,
      sshArgv(USERS.user1, { port, command: "sleep 30" }),
    );
    const live =
      `sshproxy_sessions{destination="${server1.address}",service="default"}`;
    assert.ok(
      await waitFor(
        async () => sample(await agent.scrape(), live) === 1,
        10_000,
      ),
      await agent.scrape(),
    );

    // A real Prometheus scrapes the endpoint.
    const dir = await Deno.makeTempDir({ prefix: "sshproxy-prometheus-" });
    try {
      const promPort = await freePort();
      await Deno.writeTextFile(
        `${dir}/prometheus.yml`,
        `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: sshproxy-agent
    static_configs:
      - targets: ["127.0.0.1:${agent.metricsPort}"]
`,
      );
      const prometheus = startService([
        PROMETHEUS,
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ], `${dir}/prometheus.log`);
      try {
        const query = async (expression: string) => {
          const response = await fetch(
            `http://127.0.0.1:${promPort}/api/v1/query?query=${
              encodeURIComponent(expression)
            }`,
          ).catch(() => undefined);
          if (!response?.ok) return undefined;
          const body = await response.json();
          return body.data?.result?.[0]?.value?.[1] as string | undefined;
        };
        const up = await waitFor(
          () => query('up{job="sshproxy-agent"}'),
          30_000,
        );
        assert.equal(up, "1", await prometheus.log());
        // The two logins above and the live session.
        assert.equal(
          await waitFor(
            () => query('sshproxy_logins_total{outcome="proxied"}'),
            10_000,
          ),
          "3",
        );
        assert.equal(
          await query(`sshproxy_sessions{destination="${server1.address}"}`),
          "1",
        );
      } finally {
        await prometheus.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the shipped alert rules pass promtool check rules", async () => {
  const rules = new URL("../../config/sshproxy-alerts.yaml", import.meta.url)
    .pathname;
  const checked = await promtool(["check", "rules", rules]);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, /SUCCESS: \d+ rules found/);
});
