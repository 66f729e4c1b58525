// `bash scripts/demo.sh`, the README's one command, run as a user would:
// it must show what it claims (stickiness across two gateways sharing
// etcd, sshproxyctl's tables, a disabled host avoided, a recording replayed
// and exported) and leave nothing behind: every process it started is
// gone, as are the accounts and the temporary directories it made.
import assert from "node:assert/strict";
import { descendants, run, sleep, spawn } from "../harness/process.ts";
import { e2e } from "./gateway.ts";

const DEMO = new URL("../../scripts/demo.sh", import.meta.url).pathname;
const ACCOUNTS = ["sshproxy-demo-alice", "sshproxy-demo-bob"];

/** A process seen during the run: pid plus start time, so a reused pid is not mistaken for it. */
interface Seen {
  pid: number;
  start: string;
  cmdline: string;
}

async function startTime(pid: number): Promise<string | undefined> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (stat === "") return undefined;
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/** Records every descendant of `root` every 100 ms until `done` resolves. */
async function watchTree(
  root: number,
  done: Promise<unknown>,
): Promise<Map<string, Seen>> {
  const seen = new Map<string, Seen>();
  let finished = false;
  done.finally(() => finished = true);
  while (!finished) {
    for (const pid of await descendants([root])) {
      const start = await startTime(pid);
      if (start === undefined) continue;
      const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)
        .catch(() => "")).split("\0").join(" ");
      seen.set(`${pid}:${start}`, { pid, start, cmdline });
    }
    await sleep(100);
  }
  return seen;
}

/** The line of `output` matching `pattern`, or a failure naming what was missing. */
function line(output: string, pattern: RegExp, what: string): RegExpMatchArray {
  const match = output.match(pattern);
  assert.ok(match, `the demo should show ${what}; its output:\n${output}`);
  return match;
}

Deno.test({
  name:
    "the demo shows stickiness across two gateways, the ctl tables, a disabled host avoided, a recording replayed and exported, and leaves nothing behind",
  ...e2e,
  async fn() {
    for (const account of ACCOUNTS) {
      assert.ok(
        !(await run(["getent", "passwd", account])).ok,
        `${account} exists before the demo: remove it (userdel -r ${account})`,
      );
    }
    const demo = spawn(["bash", DEMO], { timeoutMs: 240_000 });
    const finished = demo.result();
    const tree = await watchTree(demo.pid, finished);
    const result = await finished;
    const out = result.stdout;
    assert.equal(result.code, 0, `${out}\n${result.stderr}`);

    const address = (name: string) =>
      line(
        out,
        new RegExp(`${name} (127\\.[\\d.]+:\\d+)`),
        `${name}'s address`,
      )[1];
    const servers = ["server1", "server2", "server3"];
    const addressOf = Object.fromEntries(servers.map((s) => [s, address(s)]));

    // 1. Sticky: alice's second login, through the other gateway, goes back
    // to her open session's host although another host has no session.
    const alice1 = line(
      out,
      /alice via gateway1 -> (server\d)\s+\(session kept open\)/,
      "alice's first session",
    )[1];
    const bob1 = line(
      out,
      /bob +via gateway2 -> (server\d)\s+\(session kept open\)/,
      "bob's session",
    )[1];
    assert.notEqual(bob1, alice1, "bob goes to a host with fewer connections");
    const alice2 = line(
      out,
      /alice via gateway2 -> (server\d)\s+\((.*)\)/,
      "alice's second login",
    );
    assert.equal(alice2[1], alice1);
    assert.match(alice2[2], /^sticky/);

    // 2. show connections: a table with both users on their hosts.
    for (const [user, server] of [["alice", alice1], ["bob", bob1]]) {
      line(
        out,
        new RegExp(
          `│ +sshproxy-demo-${user} │ +demo │ ${addressOf[server]} │ +1 │`,
        ),
        `${user}'s connection row`,
      );
    }

    // 3. The disabled host (alice's) is avoided by her next login, and the
    // hosts table says it is disabled.
    const disabled = line(
      out,
      /sshproxyctl disable -host (\S+) -port (\d+)\s+\((server\d)/,
      "the disable command",
    );
    assert.equal(disabled[3], alice1);
    assert.equal(`${disabled[1]}:${disabled[2]}`, addressOf[alice1]);
    const alice3 = line(
      out,
      /alice via gateway1 -> (server\d)\s+\(not /,
      "alice's login after the disable",
    )[1];
    assert.notEqual(alice3, alice1);
    line(
      out,
      new RegExp(`│ ${addressOf[alice1]} │ disabled │`),
      "the disabled host's row",
    );

    // 4. The recording, replayed with its output and exported as asciicast v2.
    for (const n of [1, 2, 3]) {
      line(
        out,
        new RegExp(`\\| line ${n} from server\\d`),
        `replayed line ${n}`,
      );
    }
    line(out, /--> User: +sshproxy-demo-bob/, "the recording's header");
    line(
      out,
      /asciicast v2, 3 events, e\.g\. \[[\d.]+, "o", "line 1 from server\d\\n"\]/,
      "the asciicast export",
    );

    // Nothing left behind.
    for (const account of ACCOUNTS) {
      assert.ok(
        !(await run(["getent", "passwd", account])).ok,
        `${account} still exists`,
      );
      assert.ok(
        !(await run(["getent", "group", account])).ok,
        `group ${account} still exists`,
      );
      await assert.rejects(
        Deno.lstat(`/home/${account}`),
        `/home/${account} still exists`,
      );
    }
    assert.ok(tree.size >= 5, `saw only ${tree.size} processes of the demo`);
    const cmdlines = [...tree.values()].map((p) => p.cmdline);
    assert.ok(cmdlines.some((c) => c.includes("sshd")), "saw the demo's sshd");
    assert.ok(cmdlines.some((c) => c.includes("etcd")), "saw the demo's etcd");
    for (const process of tree.values()) {
      assert.notEqual(
        await startTime(process.pid),
        process.start,
        `still running after the demo: ${process.pid} ${process.cmdline}`,
      );
    }
    // Temporary directories: those the demo printed and those its
    // processes ran from (sshd configs, etcd data).
    const dirs = new Set(
      [out, ...cmdlines].flatMap((text) =>
        [...text.matchAll(/\/tmp\/[\w.-]+/g)].map((m) => m[0])
      ),
    );
    assert.ok(dirs.size >= 3, `found only ${[...dirs].join(", ")}`);
    for (const dir of dirs) {
      await assert.rejects(Deno.lstat(dir), `${dir} is left behind`);
    }
  },
});
