// Issue 12 item 2, as a hostile user does it through the real gateway: a
// per-user log is created 0600 (nobody reads another's commands); a file,
// symbolic link or directory another user planted at a victim's log or dump
// path before the victim's first login is not used: the victim's session
// goes on, with one line saying why, and the planted thing is left as it
// was. A shared log that is a symbolic link is never followed.
import assert from "node:assert/strict";
import { ensureTestAccounts, runAs, sshAs, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";
import { findDumps, logLines } from "./proxy_recording_helpers.ts";

const victim = USERS.user1;
const attacker = USERS.user2;

async function as(user: typeof victim | typeof attacker, script: string) {
  const result = await runAs(user, ["/bin/sh", "-c", script]);
  assert.equal(result.code, 0, `${user}: ${script}: ${result.stderr}`);
}

async function uidOf(user: typeof victim | typeof attacker): Promise<number> {
  return (await ensureTestAccounts())[user].uid;
}

function login(gw: ProxyGateway) {
  return sshAs(victim, {
    port: gw.gateway.ports[2023],
    host: gw.gateway.host,
    command: "echo secret-command-output",
  });
}

function refusedLogLine(path: string, reason: string): string {
  return `sshproxy: not logging this session to ${path}: ${reason}; tell the gateway's administrators\n`;
}

Deno.test({
  name: "a per-user log file is created 0600 by the user's first login",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const result = await login(gw);
    assert.equal(result.code, 0, result.stderr);
    const info = await Deno.stat(gw.logPath(victim));
    assert.equal(info.uid, await uidOf(victim));
    assert.equal(info.mode! & 0o777, 0o600);
    assert.match(
      await gw.readLog(victim),
      / INFO [0-9A-F]{10}: disconnected\n$/,
    );
    // Another user cannot read it.
    const peek = await runAs(attacker, ["cat", gw.logPath(victim)]);
    assert.notEqual(peek.code, 0);
    assert.equal(peek.stdout, "");
  },
});

Deno.test({
  name:
    "a file another user planted at the victim's log path is not written: one line on stderr, the session goes on",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const path = gw.logPath(victim);
    await as(attacker, `umask 0; echo planted > '${path}'`);
    const result = await login(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "secret-command-output\n");
    assert.equal(
      result.stderr,
      refusedLogLine(
        path,
        `it is owned by uid ${await uidOf(attacker)}, not by uid ${await uidOf(
          victim,
        )}, root or the directory's owner, in a directory other users can write`,
      ),
    );
    assert.equal(await Deno.readTextFile(path), "planted\n");
  },
});

Deno.test({
  name:
    "a symbolic link another user planted at the victim's log path is not followed",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const path = gw.logPath(victim);
    const loot = `${gw.logDir}/loot`;
    await as(attacker, `umask 0; : > '${loot}'; ln -s '${loot}' '${path}'`);
    const result = await login(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "secret-command-output\n");
    assert.equal(result.stderr, refusedLogLine(path, "it is a symbolic link"));
    assert.equal(await Deno.readTextFile(loot), "");
  },
});

Deno.test({
  name:
    "a shared log file (no {user}) that is a symbolic link is never followed, even the operator's",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const shared = `${gw.logDir}/all.log`;
    const real = `${gw.logDir}/real.log`;
    await Deno.writeTextFile(real, "");
    await Deno.chmod(real, 0o666);
    await Deno.symlink(real, shared);
    await gw.writeConfig(gw.basicConfig({ log: shared }));
    const result = await login(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "secret-command-output\n");
    assert.equal(
      result.stderr,
      refusedLogLine(shared, "it is a symbolic link"),
    );
    assert.equal(await Deno.readTextFile(real), "");

    // The same file named directly is the operator's choice: it is used.
    await gw.writeConfig(gw.basicConfig({ log: real }));
    const direct = await login(gw);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(direct.stderr, "");
    assert.match(await Deno.readTextFile(real), / disconnected\n$/);
  },
});

Deno.test({
  name:
    "a {user} dump directory another user pre-created is refused with one log line; the session is not recorded there",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const dumps = `${gw.logDir}/dumps`;
    await Deno.mkdir(dumps);
    await Deno.chmod(dumps, 0o1777); // the operator's shared directory
    const victimDir = `${dumps}/${victim}`;
    await as(attacker, `mkdir -m 777 '${victimDir}'`);
    await gw.writeConfig(
      gw.basicConfig({ extra: `dump: "${dumps}/{user}/{sid}.dump"` }),
    );
    const result = await login(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "secret-command-output\n");
    assert.equal(result.stderr, "");
    assert.deepEqual(await findDumps(dumps), []);
    const log = await gw.readLog(victim);
    const lines = logLines(log, "recording");
    assert.equal(lines.length, 1, log);
    assert.match(
      lines[0],
      new RegExp(
        ` ERROR [0-9A-F]{10}: session recording disabled: not writing to ${victimDir}: it is owned by uid ${await uidOf(
          attacker,
        )}, not by uid ${await uidOf(
          victim,
        )}, root or the directory's owner, in a directory other users can write$`,
      ),
    );
  },
});

Deno.test({
  name:
    "a symbolic link planted at a predictable dump path never truncates the victim's own file",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const precious = `/home/${victim}/precious-${crypto.randomUUID()}`;
    await as(victim, `echo keep me > '${precious}'`);
    try {
      await as(attacker, `ln -s '${precious}' '${gw.logDir}/${victim}.dump'`);
      await gw.writeConfig(
        gw.basicConfig({ extra: `dump: "${gw.logDir}/{user}.dump"` }),
      );
      const result = await login(gw);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "secret-command-output\n");
      assert.equal(await Deno.readTextFile(precious), "keep me\n");
      const lines = logLines(await gw.readLog(victim), "recording");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.ok(
        lines[0].endsWith(
          `session recording disabled: not writing to ${gw.logDir}/${victim}.dump: it is a symbolic link`,
        ),
        lines[0],
      );
    } finally {
      await Deno.remove(precious).catch(() => {});
    }
  },
});
