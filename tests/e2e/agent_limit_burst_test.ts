// max_connections_per_user holds across sessions routed by the agent and
// sessions routing themselves (sshproxy-agent(8)): 20 logins of one user
// released at once, half on a port whose sessions ask the agent, half on a
// port whose override turns the agent off, with a limit of 4. The agent
// ranks its sessions' keys among every key of the user in etcd by the same
// register-then-rank rule as the sessions, so exactly 4 get in.
import assert from "node:assert/strict";
import { sleep, USERS } from "../harness/mod.ts";
import { prepareAgent } from "./agent_env.ts";
import { e2e, startEtcdGateways } from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;
const CONNECTIONS = "/sshproxy/connections/";
const LOGINS_PER_PATH = 10;
const LIMIT = 4;

async function countFiles(dir: string, prefix: string): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(prefix)) count++;
  }
  return count;
}

Deno.test({
  name:
    "a burst of 20 logins, half through the agent and half routing themselves, with max_connections_per_user 4 lets exactly 4 in",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({
      gatewayExtraConfig: ["MaxStartups 200", "MaxSessions 200"],
      destinationExtraConfig: ["MaxStartups 200", "MaxSessions 200"],
    });
    await using agent = await prepareAgent(env.gw);
    const gateway = env.gw.gateway;
    await env.configure({
      keyttl: 5,
      extra: `${
        agent.agentYaml({ timeout: "10s" })
      }max_connections_per_user: ${LIMIT}`,
      overrides: `  - match:
      - sources: [${JSON.stringify(`${gateway.host}:${gateway.ports[2023]}`)}]
    agent:
      socket: ""
`,
    });
    await agent.start();
    const dir = env.gw.logDir;
    const command = (path: string) =>
      `mktemp ${dir}/ran-${path}.XXXXXX >/dev/null && sleep 90`;
    const sessions = await Promise.all([
      ...Array.from(
        { length: LOGINS_PER_PATH },
        () => env.start(command("agent"), { role: 2022 }),
      ),
      ...Array.from(
        { length: LOGINS_PER_PATH },
        () => env.start(command("self"), { role: 2023 }),
      ),
    ]);
    const ended = new Map<number, { code: number; stderr: string }>();
    sessions.forEach((session, index) =>
      session.result().then((result) => ended.set(index, result))
    );
    await env.until(
      "every login decided",
      async () =>
        (await countFiles(dir, "ran-")) + ended.size === 2 * LOGINS_PER_PATH,
      150_000,
    );
    const admitted = await countFiles(dir, "ran-");
    await env.until(
      "the keys of refused logins withdrawn",
      async () => (await env.dump(CONNECTIONS)).size === admitted,
      20_000,
    );
    assert.equal(admitted, LIMIT, `${admitted} sessions ran their command`);
    for (let i = 0; i < 10; i++) {
      assert.ok((await env.dump(CONNECTIONS)).size <= LIMIT);
      await sleep(200);
    }
    for (const result of ended.values()) {
      assert.equal(result.code, 1);
      assert.equal(result.stderr, "Too many simultaneous connections\n");
    }
    // Both paths took part: the agent decided for the first half.
    const log = await env.gw.readLog(FEDORA);
    const throughAgent = log.split("\n").filter((line) =>
      line.includes("route given by the agent")
    ).length;
    const agentRefusals = (await agent.log()).split("\n").filter((line) =>
      line.includes(`refused ${FEDORA} (connection_limit)`)
    ).length;
    assert.ok(
      throughAgent + agentRefusals === LOGINS_PER_PATH,
      `${throughAgent} routed and ${agentRefusals} refused by the agent`,
    );
    assert.doesNotMatch(log, /routing without it/);
    console.log(
      `admitted: ${await countFiles(
        dir,
        "ran-agent",
      )} through the agent, ${await countFiles(
        dir,
        "ran-self",
      )} routing themselves`,
    );
    for (const session of sessions) {
      session.kill("SIGKILL");
    }
    await Promise.all(sessions.map((s) =>
      s.result()
    ));
    await env.until(
      "every key gone",
      async () => (await env.dump(CONNECTIONS)).size === 0,
      15_000,
    );
  },
});
