// Sessions routed by the gateway agent (sshproxy-agent(8)) through a real
// gateway sshd, with the agent running as its own unprivileged account.
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { prepareAgent } from "./agent_env.ts";
import { e2e, startProxyGateway } from "./gateway.ts";

const WHERE = "echo $SSHPROXY_TEST_HOST";

Deno.test({
  name:
    "a session asks the agent and lands where the stateless rules say; the agent logs its end",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await using agent = await prepareAgent(gw);
    const { server1, server2 } = gw.servers;
    await gw.writeConfig(gw.basicConfig({
      dest: ["127.0.0.11:1", server2.address, server1.address],
      extra: `debug: true\n${agent.agentYaml()}`,
    }));
    await agent.start();
    const result = await sshAs(USERS.user1, {
      port: gw.gateway.ports[2022],
      command: WHERE,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "server2");
    const log = await gw.readLog(USERS.user1);
    assert.match(log, /route given by the agent/);
    assert.match(log, /cannot connect to 127\.0\.0\.11:1: /);
    const sid = /INFO (\w+): proxied to/.exec(log)?.[1];
    assert.ok(sid, log);
    await agent.waitForLog(
      new RegExp(`${sid}: session of ${USERS.user1} ended`),
    );
  },
});
