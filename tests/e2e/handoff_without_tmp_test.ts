// The launcher's plan file lives in /tmp (sshproxy(8), HAND-OFF). When
// /tmp cannot take it (no inode left, no space for the plan, read-only,
// not sticky), hand-off is off for that login and nothing else changes:
// the session runs through sshproxy with its usual status. The installed
// launcher runs as the test user, as sshd would run it, in a private mount
// namespace whose /tmp is a tmpfs in that state (the install and the
// test's files mounted back in), and connects with real ssh to a real
// destination.
import assert from "node:assert/strict";
import { ensureTestAccounts, run, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.fedora;

interface TmpState {
  name: string;
  /** tmpfs mount options. */
  options: string;
  /** Shell run as root once the namespace's /tmp is ready. */
  then?: string;
  /** The log line the session must write. */
  expect: RegExp;
}

const STATES: TmpState[] = [
  {
    name: "a sticky, writable /tmp (hand-off works in this namespace)",
    options: "mode=1777",
    expect: /: handed off to ssh, pid \d+:/,
  },
  {
    name: "no inode left in /tmp",
    options: "mode=1777,nr_inodes=3",
    expect: /: not handed off to ssh: the launcher offered no plan file/,
  },
  {
    name: "no space left in /tmp for the plan",
    options: "mode=1777,size=16k",
    then: "dd if=/dev/zero of=/tmp/fill bs=4k 2>/dev/null || true",
    expect:
      /: cannot write the hand-off plan: .*; the session goes on through sshproxy\n/,
  },
  {
    name: "a read-only /tmp",
    options: "mode=1777",
    then: "mount -o remount,ro /tmp",
    expect: /: not handed off to ssh: the launcher offered no plan file/,
  },
  {
    name: "a /tmp without the sticky bit",
    options: "mode=0777",
    expect: /: not handed off to ssh: the launcher offered no plan file/,
  },
];

/** Runs one login through the installed launcher with /tmp in `state`. */
async function login(gw: ProxyGateway, state: TmpState) {
  const accounts = await ensureTestAccounts();
  const account = accounts[user];
  const prefix = gw.product.prefix;
  const keep = [prefix, gw.logDir];
  for (const dir of keep) {
    assert.match(dir, /^\/tmp\/[^/]+$/, "the harness's dirs moved");
  }
  const script = [
    "set -e",
    "mount --bind /tmp /mnt",
    `mount -t tmpfs -o ${state.options} tmpfs /tmp`,
    ...keep.flatMap((dir) => [
      `mkdir '${dir}'`,
      `mount --bind '/mnt${dir.slice(4)}' '${dir}'`,
    ]),
    state.then ?? ":",
    [
      "exec setpriv",
      `--reuid=${account.uid}`,
      `--regid=${account.gid}`,
      "--init-groups",
      "env -i",
      `HOME='${account.home}'`,
      `USER='${user}'`,
      `LOGNAME='${user}'`,
      "PATH=/usr/bin:/bin",
      "SSH_CONNECTION='127.0.0.1 40000 127.0.0.1 22'",
      `SSH_ORIGINAL_COMMAND='echo $SSHPROXY_TEST_HOST; exit 3'`,
      `'${gw.product.sshproxy}'`,
      `'${gw.configPath}'`,
    ].join(" "),
  ].join("\n");
  return await run(
    ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
    { timeoutMs: 30_000, cwd: "/" },
  );
}

Deno.test({
  name:
    "when /tmp cannot take the plan file, the login goes on through sshproxy, hand-off off for it alone",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({ extra: "debug: true\nhandoff: true" }),
    );
    for (const state of STATES) {
      const before = (await gw.readLog(user)).length;
      const result = await login(gw, state);
      assert.equal(result.code, 3, `${state.name}: ${result.stderr}`);
      assert.equal(result.stdout, "server1\n", state.name);
      const log = (await gw.readLog(user)).slice(before);
      assert.match(log, state.expect, `${state.name}:\n${log}`);
    }
  },
});
