// A local user cannot pass for another towards the gateway agent: speaking
// the agent's protocol by hand (tests/e2e/agent_impostor.js) as user2,
// claiming user1's uid with user2's own proof file, with a symbolic link or
// a hard link to a file of user1 planted under the nonce's name, with a
// nonce used before, or with a proof made after the deadline: every attempt
// is turned away before the agent acts on it, and says why in its log.
import assert from "node:assert/strict";
import { ensureTestAccounts, runAs, USERS } from "../harness/mod.ts";
import { prepareAgent, sample } from "./agent_env.ts";
import { e2e, startProxyGateway } from "./gateway.ts";

const IMPOSTOR = new URL("./agent_impostor.js", import.meta.url).pathname;

interface Outcome {
  nonce: string;
  sent?: boolean;
  reply?: string | null;
  first?: string | null;
  linked?: boolean;
  linkError?: string;
  unlinked?: boolean;
}

Deno.test({
  name:
    "user2 speaking the protocol by hand cannot register, count or read routes as user1",
  ...e2e,
  async fn() {
    const accounts = await ensureTestAccounts();
    const user1 = accounts[USERS.user1];
    const user2 = accounts[USERS.user2];
    await using gw = await startProxyGateway();
    await using agent = await prepareAgent(gw);
    await gw.writeConfig(gw.basicConfig({ extra: agent.agentYaml() }));
    await agent.start();
    // Files of user1 that user2 can reach: one user2 may read and write
    // (so fs.protected_hardlinks lets user2 link it) in a directory where
    // user2 may also delete it, and a private one.
    const victims = await Deno.makeTempDir({ prefix: "sshproxy-victims-" });
    await Deno.chmod(victims, 0o777);
    const open = `${victims}/open`;
    const secret = `${victims}/secret`;
    await Deno.writeTextFile(open, "");
    await Deno.writeTextFile(secret, "");
    await Deno.chmod(open, 0o666);
    await Deno.chmod(secret, 0o600);
    for (const file of [open, secret]) {
      await Deno.chown(file, user1.uid, user1.gid);
    }
    const denoDir = `${gw.logDir}/impostor-deno`;
    const deno = `${gw.product.prefix}/lib/sshproxy/bin/deno`;
    const attempt = async (
      mode: string,
      extra: Record<string, unknown> = {},
      claim: { uid: number; user: string } = {
        uid: user1.uid,
        user: user1.name,
      },
    ): Promise<Outcome> => {
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
          mode,
          claimUid: claim.uid,
          claimUser: claim.user,
          ...extra,
        }),
      ], { env: { DENO_DIR: denoDir }, timeoutMs: 30_000 });
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };
    try {
      // user2 as itself: the agent answers.
      const honest = await attempt("honest", {}, {
        uid: user2.uid,
        user: user2.name,
      });
      assert.match(honest.reply ?? "", /"kind":"route"/);

      const claimed = await attempt("claim-other");
      assert.equal(claimed.reply, null, "connection closed, nothing answered");
      await agent.waitForLog(
        new RegExp(
          `turned a client away claiming uid ${user1.uid}: the proof belongs to uid ${user2.uid}, not ${user1.uid}`,
        ),
      );

      const symlink = await attempt("symlink", { target: open });
      assert.equal(symlink.reply, null);
      await agent.waitForLog(/the proof is a symbolic link/);

      // protected_hardlinks: user2 cannot link user1's private file at all.
      const privateLink = await attempt("hardlink", { target: secret });
      assert.equal(privateLink.linked, false);
      assert.equal(privateLink.reply, null);

      // A file user2 may write: linked, it has two names...
      const linked = await attempt("hardlink", { target: open });
      assert.equal(linked.linked, true);
      assert.equal(linked.reply, null);
      await agent.waitForLog(/the proof has 2 links \(a hard link\)/);
      // ... and with its first name deleted, its mode and age betray it.
      const moved = await attempt("hardlink", {
        target: open,
        unlinkTarget: true,
      });
      assert.equal(moved.linked, true);
      assert.equal(moved.unlinked, true);
      assert.equal(moved.reply, null);
      await agent.waitForLog(/the proof's mode 666 lets others in/);

      // A nonce proven twice: the second connection has its own nonce.
      const reused = await attempt("reuse", {}, {
        uid: user2.uid,
        user: user2.name,
      });
      assert.match(reused.first ?? "", /"kind":"route"/);
      assert.equal(reused.reply, null);
      await agent.waitForLog(/claiming uid \d+: no proof file/);

      // A proof made after the deadline (2 s) is never looked at.
      const late = await attempt("late", { waitMs: 2_500 }, {
        uid: user2.uid,
        user: user2.name,
      });
      assert.notEqual(late.reply?.includes('"kind"'), true);
      await agent.waitForLog(/no request before the deadline/);

      const metrics = await agent.scrape();
      assert.equal(
        sample(
          metrics,
          'sshproxy_agent_rejected_clients_total{reason="proof"}',
        ),
        6,
      );
      assert.equal(
        sample(
          metrics,
          'sshproxy_agent_rejected_clients_total{reason="deadline"}',
        ),
        1,
      );
      // Nothing was routed, counted or registered for user1.
      const log = await agent.log();
      assert.doesNotMatch(log, new RegExp(`routed ${user1.name}`));
      assert.doesNotMatch(
        metrics,
        new RegExp(`logins_total\\{outcome="proxied"\\} [1-9]`),
      );
      // And the proof directory holds nothing another user could reuse.
      const left = [...Deno.readDirSync(`${agent.dir}/proof`)].map((e) =>
        e.name
      );
      assert.deepEqual(left, []);
    } finally {
      await Deno.remove(victims, { recursive: true });
    }
  },
});
