// The agent's log is the admin's: a local user speaking the protocol by
// hand (tests/e2e/agent_impostor.js, as user2, with honest proofs of its
// own uid) cannot make it name another user, put unprintable characters in
// it (the session ID starts every line raw), or flood it.
import assert from "node:assert/strict";
import { ensureTestAccounts, runAs, USERS } from "../harness/mod.ts";
import { prepareAgent, sample } from "./agent_env.ts";
import { e2e, startProxyGateway } from "./gateway.ts";

const IMPOSTOR = new URL("./agent_impostor.js", import.meta.url).pathname;

// What a terminal or a log viewer could take for a control or a line end.
const UNPRINTABLE =
  // deno-lint-ignore no-control-regex -- control characters are the point
  /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e]/;

Deno.test({
  name:
    "a local user cannot make the agent's log name another user, carry control characters, or overflow",
  ...e2e,
  async fn() {
    const accounts = await ensureTestAccounts();
    const user1 = accounts[USERS.user1];
    const user2 = accounts[USERS.user2];
    await using gw = await startProxyGateway();
    await using agent = await prepareAgent(gw);
    await gw.writeConfig(gw.basicConfig({ extra: agent.agentYaml() }));
    await agent.start();
    const deno = `${gw.product.prefix}/lib/sshproxy/bin/deno`;
    const attempt = async (
      scenario: Record<string, unknown>,
      claimUser: string = user2.name,
    ) => {
      const result = await runAs(USERS.user2, [
        deno,
        "run",
        "--allow-all",
        "--no-config",
        IMPOSTOR,
        JSON.stringify({
          socket: agent.socket,
          config: gw.configPath,
          sshd: `127.0.0.1:${gw.gateway.ports[2022]}`,
          mode: "honest",
          claimUid: user2.uid,
          claimUser,
          ...scenario,
        }),
      ], {
        env: { DENO_DIR: `${gw.logDir}/impostor-deno` },
        timeoutMs: 120_000,
      });
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as { reply?: string | null };
    };

    // A report of a refused login in user1's name, from user2's uid.
    await attempt({ report: true }, user1.name);
    await agent.waitForLog(
      new RegExp(
        `turned a report away: uid ${user2.uid} claims to be ${user1.name}, NSS says ${user2.name}`,
      ),
    );

    // Unprintable characters where the agent logs them: the session ID
    // (which starts its lines), the user name, the configuration path (a
    // fallback line quotes it).
    for (
      const fields of [
        { sessionId: "\u2028FORGED\u009b" },
        { sessionId: "ABCDEF0123\u202e", config: "/nonexistent" },
        { sessionId: "\u00850123456789", config: "/nonexistent" },
        { sessionId: "INFO forged", config: "/nonexistent" },
        { config: "/nonexistent\u009b31m" },
      ]
    ) {
      const answer = await attempt({ fields });
      assert.equal(answer.reply, null, JSON.stringify(fields));
    }
    await attempt({}, `${user2.name}\u009b31m`);
    await agent.waitForLog(/sessionId is not a session ID/);

    // One connection after another: the log says a bounded part of it.
    const before = await agent.log();
    const flood = await runAs(USERS.user2, [
      deno,
      "run",
      "--allow-all",
      "--no-config",
      IMPOSTOR,
      JSON.stringify({
        socket: agent.socket,
        mode: "flood",
        count: 300,
        report: true,
        claimUid: user2.uid,
        claimUser: user2.name,
      }),
    ], { env: { DENO_DIR: `${gw.logDir}/impostor-deno` }, timeoutMs: 120_000 });
    assert.equal(flood.code, 0, flood.stderr);
    assert.equal(JSON.parse(flood.stdout).sent, 300);
    const metrics = await agent.scrape();
    assert.equal(
      sample(metrics, 'sshproxy_logins_total{outcome="error"}'),
      300,
      "each report is still counted",
    );
    const said = (await agent.log()).slice(before.length).split("\n").filter(
      (line) => line.includes(`${user2.name} (uid ${user2.uid}) was refused`),
    );
    assert.ok(
      said.length > 0 && said.length <= 30,
      `${said.length} lines for 300 reports`,
    );

    const log = await agent.log();
    const raw = UNPRINTABLE.exec(log);
    assert.equal(raw, null, `raw ${JSON.stringify(raw?.[0])} in:\n${log}`);
    assert.doesNotMatch(log, new RegExp(`${user1.name}[^\\n]*was refused`));
    assert.doesNotMatch(log, /^\S+ \S+ \S+ (FORGED|INFO forged)/m);
  },
});
