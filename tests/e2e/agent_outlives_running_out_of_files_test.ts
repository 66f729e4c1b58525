// A local user opening more connections to the agent's socket than the
// agent has file descriptors (tests/e2e/agent_impostor.js, "hold", as
// user2) makes accepting fail for a while. The agent must go on accepting
// once they are gone: the next login of another user is routed by the
// agent, not left to route itself for as long as the agent runs.
import assert from "node:assert/strict";
import { runAs, sshAs, USERS } from "../harness/mod.ts";
import { prepareAgent } from "./agent_env.ts";
import { e2e, startProxyGateway } from "./gateway.ts";

const IMPOSTOR = new URL("./agent_impostor.js", import.meta.url).pathname;
// Open files the agent may have: its runtime, helpers and listeners take
// a few dozen; the user below asks for more than the rest.
const NOFILE = 128;

Deno.test({
  name:
    "the agent accepts again after a local user made it run out of file descriptors",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await using agent = await prepareAgent(gw);
    const port = gw.gateway.ports[2022];
    await gw.writeConfig(gw.basicConfig({
      extra: `debug: true\n${agent.agentYaml({ timeout: "2s" })}`,
    }));
    await agent.start(gw.configPath, { nofile: NOFILE });
    const held = await runAs(USERS.user2, [
      `${gw.product.prefix}/lib/sshproxy/bin/deno`,
      "run",
      "--allow-all",
      "--no-config",
      IMPOSTOR,
      JSON.stringify({
        socket: agent.socket,
        mode: "hold",
        count: 2 * NOFILE,
        holdMs: 1_000,
      }),
    ], {
      env: { DENO_DIR: `${gw.logDir}/impostor-deno` },
      timeoutMs: 60_000,
    });
    assert.equal(held.code, 0, held.stderr);
    assert.ok(
      JSON.parse(held.stdout).opened > NOFILE,
      `more connections than the agent has files: ${held.stdout}`,
    );
    await agent.waitForLog(/cannot accept a connection: .*open files/);
    assert.ok(agent.pid() !== undefined, "the agent still runs");

    // Once they are gone, logins go through the agent again.
    const result = await sshAs(USERS.user1, { port, command: "true" });
    assert.equal(result.code, 0, result.stderr);
    const log = await gw.readLog(USERS.user1);
    assert.match(log, /route given by the agent/);
    assert.doesNotMatch(log, /routing without it/);
  },
});
