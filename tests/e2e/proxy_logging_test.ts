// Where the proxy's log goes and what it holds: a per-user file with one
// line per step, all of the session's ID, never the user's data; stderr by
// default (the reference used stdout, corrupting the session's output);
// syslog without touching the session's streams.
import assert from "node:assert/strict";
import { sshAs, USERS } from "../harness/mod.ts";
import { e2e, type ProxyGateway, startProxyGateway } from "./gateway.ts";

const user = USERS.fedora;
const LINE =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG) ([0-9A-F]{10}): (.*)$/;

/** A session whose output cannot be found in its own command text. */
async function markedSession(gw: ProxyGateway) {
  const token = crypto.randomUUID().slice(0, 8);
  const result = await sshAs(user, {
    port: gw.gateway.ports[2023],
    host: gw.gateway.host,
    command: `printf '%s-%s\\n' output ${token}`,
  });
  return { result, output: `output-${token}\n` };
}

/** Parses log text; every line must have the documented shape. */
function parseLog(text: string) {
  assert.ok(text.endsWith("\n"), `log does not end with a newline: ${text}`);
  return text.slice(0, -1).split("\n").map((line) => {
    const m = LINE.exec(line);
    assert.ok(m, `malformed log line: ${JSON.stringify(line)}`);
    return { level: m[1], sid: m[2], message: m[3] };
  });
}

function assertOneSessionSteps(lines: ReturnType<typeof parseLog>) {
  const sids = new Set(lines.map((l) => l.sid));
  assert.equal(sids.size, 1, `several session IDs: ${[...sids]}`);
  const info = lines.filter((l) => l.level === "INFO").map((l) => l.message);
  assert.match(
    info[0],
    new RegExp(
      `^${user} connected from 127\\.0\\.0\\.1:\\d+ to sshd listening on 127\\.0\\.0\\.1:\\d+$`,
    ),
  );
  assert.ok(
    info.some((m) =>
      /^proxied to 127\.0\.0\.11:\d+ \(service: default\)$/.test(m)
    ),
    info.join("\n"),
  );
  assert.equal(info.at(-1), "disconnected");
  assert.equal(lines.at(-1)?.message, "disconnected");
}

Deno.test({
  name:
    "a log file gets one well-formed line per step with one session ID and none of the user's output",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const { result, output } = await markedSession(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, output);
    assert.equal(result.stderr, "");
    const text = await gw.readLog(user);
    const lines = parseLog(text);
    assertOneSessionSteps(lines);
    assert.ok(!lines.some((l) => l.level === "DEBUG"), text);
    assert.ok(!text.includes(output.trim()), "user output in the log");
    // Created by the user's session, in the user's name.
    const info = await Deno.stat(gw.logPath(user));
    assert.equal(info.uid, (await Deno.stat(`/home/${user}`)).uid);
  },
});

Deno.test({
  name:
    "with debug: true the log file also lists the configuration and the ssh command line",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ extra: "debug: true" }));
    const { result, output } = await markedSession(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, output);
    const text = await gw.readLog(user);
    const lines = parseLog(text);
    assertOneSessionSteps(lines);
    const debug = lines.filter((l) => l.level === "DEBUG").map((l) =>
      l.message
    );
    assert.ok(debug.includes("config.debug = true"), debug.join("\n"));
    assert.ok(debug.includes("config.service = default"), debug.join("\n"));
    assert.ok(
      debug.includes(`config.dest = [${gw.servers.server1.address}]`),
      debug.join("\n"),
    );
    assert.ok(
      debug.some((m) =>
        m.startsWith("command = ") &&
        m.includes(`"${gw.servers.server1.host}" "--" "printf`)
      ),
      debug.join("\n"),
    );
    assert.ok(!text.includes(output.trim()), "user output in the log");
  },
});

Deno.test({
  name:
    "with the default log the session's stdout is exactly the command's output and the log is on stderr",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig({ log: "", extra: "debug: true" }));
    const { result, output } = await markedSession(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, output);
    assertOneSessionSteps(parseLog(result.stderr));
  },
});

Deno.test({
  name:
    "with log: syslog the session works and its stdout and stderr carry nothing else",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(
      gw.basicConfig({ log: "syslog", extra: "debug: true" }),
    );
    const { result, output } = await markedSession(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, output);
    assert.equal(result.stderr, "");
  },
});

Deno.test({
  name:
    "a log file's missing directories are created; a log file that cannot be opened refuses the session with one line",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    const nested = `${gw.logDir}/nested/deeper/{user}.log`;
    await gw.writeConfig(gw.basicConfig({ log: nested }));
    const { result, output } = await markedSession(gw);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, output);
    const path = nested.replace("{user}", user);
    assertOneSessionSteps(parseLog(await Deno.readTextFile(path)));
    const dirMode = (await Deno.stat(`${gw.logDir}/nested/deeper`)).mode ?? 0;
    assert.equal(dirMode & 0o777 & ~0o022, 0o755 & ~0o022);

    // A directory where the file should be: the session cannot be logged.
    const blocked = `${gw.logDir}/blocked.log`;
    await Deno.mkdir(blocked);
    await gw.writeConfig(gw.basicConfig({ log: blocked }));
    const refused = await markedSession(gw);
    assert.equal(refused.result.code, 1);
    assert.equal(refused.result.stdout, "");
    assert.match(
      refused.result.stderr,
      new RegExp(`^sshproxy: error opening log file ${blocked}: .*\\n$`),
    );
  },
});
