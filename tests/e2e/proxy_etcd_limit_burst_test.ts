// max_connections_per_user under a burst, through the real gateway and a
// real etcd (issue 12 item 5): 30 logins of one user released at once with
// a limit of 5. Each session registers, ranks itself among the user's keys
// by etcd's create revision and withdraws when over the limit, so no more
// than 5 ever run their command or keep a key, and the first 5 get in.
import assert from "node:assert/strict";
import { sleep, USERS } from "../harness/mod.ts";
import { e2e, startEtcdGateways } from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;
const CONNECTIONS = "/sshproxy/connections/";
const LOGINS = 30;
const LIMIT = 5;

async function countFiles(dir: string, prefix: string): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(prefix)) count++;
  }
  return count;
}

Deno.test({
  name:
    "30 simultaneous logins of one user with max_connections_per_user 5: exactly 5 run their command and keep a key, 25 are refused",
  ...e2e,
  async fn() {
    // sshd's default MaxStartups (10:30:100) would drop some of the burst.
    await using env = await startEtcdGateways({
      gatewayExtraConfig: ["MaxStartups 200", "MaxSessions 200"],
      destinationExtraConfig: ["MaxStartups 200", "MaxSessions 200"],
    });
    // keyttl 5: a loaded machine must not let a live session's lease lapse.
    await env.configure({
      keyttl: 5,
      extra: `max_connections_per_user: ${LIMIT}`,
    });
    const dir = env.gw.logDir;
    // A session that got in leaves a file, then holds its place.
    const command = `mktemp ${dir}/ran.XXXXXX >/dev/null && sleep 90`;
    const sessions = await Promise.all(
      Array.from({ length: LOGINS }, () => env.start(command)),
    );
    const ended = new Set<number>();
    const results = new Map<number, { code: number; stderr: string }>();
    sessions.forEach((session, index) =>
      session.result().then((result) => {
        ended.add(index);
        results.set(index, result);
      })
    );
    // Every login has either run its command or been refused.
    let maxKeys = 0;
    const sample = async () => {
      const keys = (await env.dump(CONNECTIONS)).size;
      maxKeys = Math.max(maxKeys, keys);
      return keys;
    };
    await env.until(
      "every login decided",
      async () => {
        await sample();
        return (await countFiles(dir, "ran.")) + ended.size === LOGINS;
      },
      150_000,
    );
    // Withdrawals of refused logins are under way or done: the keys settle
    // on the admitted sessions.
    const admitted = await countFiles(dir, "ran.");
    await env.until(
      "the keys of refused logins withdrawn",
      async () => (await sample()) === admitted,
      15_000,
    );
    assert.equal(
      admitted,
      LIMIT,
      `${admitted} sessions ran their command`,
    );
    for (let i = 0; i < 10; i++) {
      assert.ok(
        (await sample()) <= LIMIT,
        `more than ${LIMIT} keys while held open`,
      );
      await sleep(200);
    }
    assert.equal(ended.size, LOGINS - LIMIT);
    for (const result of results.values()) {
      assert.equal(result.code, 1);
      assert.equal(result.stderr, "Too many simultaneous connections\n");
    }
    const log = await env.gw.readLog(FEDORA);
    const refusals = log.split("\n").filter((line) =>
      line.includes(`CRITICAL`) &&
      line.endsWith(`: Max connections per user reached for ${FEDORA}`)
    );
    assert.equal(refusals.length, LOGINS - LIMIT, log.slice(-3000));
    // Nobody got in late either.
    assert.equal(
      await countFiles(dir, "ran."),
      LIMIT,
      "a late session ran its command",
    );
    for (const session of sessions) session.kill("SIGKILL");
    await Promise.all(sessions.map((s) => s.result()));
    await env.until(
      "every key gone",
      async () => (await env.dump(CONNECTIONS)).size === 0,
      15_000,
    );
    // For the record: refused logins' keys live from their registration to
    // their withdrawal (they never count against an earlier login).
    console.log(
      `most connection keys seen at once during the burst: ${maxKeys}`,
    );
  },
});
