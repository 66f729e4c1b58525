// The agent may make logins faster, never impossible (sshproxy-agent(8)):
// with no agent on the socket, with an agent that does not answer in time
// (stopped), or with one that will not decide for this session (another
// configuration file), the session routes itself after one DEBUG line.
// And the agent re-reads the configuration when it changes, keeping the
// previous one when the new one does not load.
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { prepareAgent, sample } from "./agent_env.ts";
import { e2e, startProxyGateway, waitFor } from "./gateway.ts";

const WHERE = "echo $SSHPROXY_TEST_HOST";

Deno.test({
  name:
    "absent, stopped or refusing agent: the session routes itself and says why at DEBUG",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await using agent = await prepareAgent(gw);
    const port = gw.gateway.ports[2022];
    const configure = (options: { timeout?: string } = {}) =>
      gw.writeConfig(gw.basicConfig({
        extra: `debug: true\n${
          agent.agentYaml({ timeout: options.timeout ?? "5s" })
        }`,
      }));
    const login = async () => {
      const result = await sshAs(USERS.user1, { port, command: WHERE });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), "server1");
      const log = await gw.readLog(USERS.user1);
      await Deno.remove(gw.logPath(USERS.user1));
      return log;
    };
    await configure();
    // No agent yet: the socket does not exist.
    assert.match(
      await login(),
      /DEBUG \w+: agent at \S+agent\.sock: No such file or directory[^\n]*; routing without it/,
    );

    // A stopped agent never greets: 300 ms, then the session goes on.
    await agent.start();
    await configure({ timeout: "300ms" });
    Deno.kill(agent.pid()!, "SIGSTOP");
    try {
      const started = Date.now();
      const log = await login();
      assert.match(
        log,
        /DEBUG \w+: agent at \S+: no greeting within 300 ms; routing without it/,
      );
      assert.ok(Date.now() - started < 15_000);
    } finally {
      Deno.kill(agent.pid()!, "SIGCONT");
    }

    // The agent reads another file than this session: it leaves it alone.
    const other = `${gw.logDir}/other.yaml`;
    await Deno.copyFile(gw.configPath, other);
    await Deno.chmod(other, 0o644);
    await gw.writeConfig(
      gw.basicConfig({ extra: `debug: true\n${agent.agentYaml()}` }),
    );
    const elsewhere = await prepareAgentOn(other);
    assert.match(
      elsewhere,
      new RegExp(
        `DEBUG \\w+: agent at \\S+: the session reads ${gw.configPath}, the agent \\S+other\\.yaml; routing without it`,
      ),
    );
    const metrics = await agent.scrape();
    assert.equal(sample(metrics, "sshproxy_agent_fallbacks_total"), 1);

    async function prepareAgentOn(path: string): Promise<string> {
      await agent.stop();
      await agent.start(path);
      return await login();
    }
  },
});

Deno.test({
  name:
    "the agent follows a changed configuration; a broken one keeps the previous in force with one ERROR line",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await using agent = await prepareAgent(gw);
    const port = gw.gateway.ports[2022];
    const { server1, server2 } = gw.servers;
    const write = (dest: string) =>
      gw.writeConfig(gw.basicConfig({
        dest: [dest],
        extra: `debug: true\n${agent.agentYaml()}`,
      }));
    await write(server1.address);
    await agent.start();
    const where = async () => {
      const result = await sshAs(USERS.user1, { port, command: WHERE });
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.trim();
    };
    assert.equal(await where(), "server1");
    await write(server2.address);
    // The agent looks at the file before each decision: at once.
    assert.equal(await where(), "server2");
    assert.match(await gw.readLog(USERS.user1), /route given by the agent/);
    await agent.waitForLog(/INFO agent: configuration reloaded from /);

    // A broken file: sessions cannot read it either, but the agent keeps
    // serving the previous one and says so once.
    await gw.writeConfig("dest: [\n");
    await agent.waitForLog(
      /ERROR agent: configuration not reloaded, the previous one stays in force: \S+: /,
    );
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    const errors = (await agent.log()).split("\n").filter((line) =>
      line.includes("configuration not reloaded")
    );
    assert.equal(errors.length, 1, errors.join("\n"));
    const metrics = await agent.scrape();
    assert.equal(
      sample(metrics, 'sshproxy_agent_config_reloads_total{result="failed"}'),
      1,
    );
    await write(server1.address);
    assert.equal(await where(), "server1");
    assert.ok(
      await waitFor(async () =>
        sample(
          await agent.scrape(),
          'sshproxy_agent_config_reloads_total{result="ok"}',
        ) === 2, 5_000),
    );
  },
});

Deno.test({
  name:
    "an agent whose helper dies stops with status 1 and one CRITICAL line (systemd restarts it); logins go on",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await using agent = await prepareAgent(gw);
    await gw.writeConfig(gw.basicConfig({
      extra: `debug: true\n${agent.agentYaml()}`,
    }));
    await agent.start();
    const pid = agent.pid()!;
    const children = (await Deno.readTextFile(
      `/proc/${pid}/task/${pid}/children`,
    )).trim().split(/\s+/).map(Number);
    // Its two helper shells, nothing else: name service (sh), /proc (bash,
    // which this Debian machine has).
    assert.equal(children.length, 2, `children: ${children}`);
    const shells = await Promise.all(
      children.map(async (child) =>
        (await Deno.readTextFile(`/proc/${child}/cmdline`)).split("\0")
          .slice(0, 2).join(" ")
      ),
    );
    assert.deepEqual(shells.sort(), ["/bin/bash -c", "/bin/sh -c"]);
    Deno.kill(children[1], "SIGKILL");
    await agent.waitForLog(
      /CRITICAL agent: the [\w/]+ helper ended \(exit status \d+\): stopping/,
    );
    assert.ok(
      await waitFor(() => agent.pid() === undefined, 10_000),
      "the agent is still running",
    );
    const result = await sshAs(USERS.user1, {
      port: gw.gateway.ports[2022],
      command: WHERE,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(await gw.readLog(USERS.user1), /routing without it/);
  },
});
