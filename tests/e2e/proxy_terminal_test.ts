// An interactive login with a real terminal: the test user's `ssh -tt`
// runs inside a detached tmux (a real pty whose size the test controls);
// the remote shell's prompt, typed input and window-size changes must all
// cross the gateway.
import assert from "node:assert/strict";
import { sshArgv, USERS } from "../harness/mod.ts";
import { e2e, startProxyGateway } from "./gateway.ts";
import { tmuxAs } from "./tmux.ts";

const user = USERS.fedora;

/** A test user's `ssh -tt` through the gateway inside a detached tmux. */
async function startTerminal(port: number, host: string, socket: string) {
  const terminal = tmuxAs(user, socket);
  await terminal.start(sshArgv(user, { port, host, tty: true }), {
    columns: 100,
    rows: 30,
  });
  // The remote shell's prompt ends with "$ ".
  const prompt = await terminal.waitForPrompt();
  return {
    ...terminal,
    prompt,
    [Symbol.asyncDispose]: () => terminal.kill(),
  };
}

Deno.test({
  name:
    "an interactive tty session shows the prompt, runs typed input and follows window resizes",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    const socket = `${gw.logDir}/tmux.sock`;
    await using term = await startTerminal(
      gw.gateway.ports[2023],
      gw.gateway.host,
      socket,
    );
    assert.ok(term.prompt, `no prompt:\n${await term.screen()}`);

    await term.typeLine("echo host=$SSHPROXY_TEST_HOST tty=$(tty | cut -c1-8)");
    await term.waitForLine("host=server1 tty=/dev/pts");

    await term.typeLine("echo hello-$((6*7))");
    await term.waitForLine("hello-42");

    await term.typeLine("stty size");
    await term.waitForLine("30 100");

    // The new size travels client → gateway pty → proxy's ssh →
    // destination pty; ask until it has arrived (bounded).
    await term.resizeTo(120, 40);

    await term.typeLine("exit");
    assert.ok(await term.ended(5_000), "the session did not end after exit");
    const log = await gw.readLog(user);
    assert.match(log, / INFO [0-9A-F]{10}: disconnected\n$/);
  },
});

Deno.test({
  name:
    "an interactive login shows the remote prompt and nothing before it (no runtime warnings on the terminal)",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    await gw.writeConfig(gw.basicConfig());
    await using term = await startTerminal(
      gw.gateway.ports[2023],
      gw.gateway.host,
      `${gw.logDir}/tmux.sock`,
    );
    assert.ok(term.prompt, `no prompt:\n${await term.screen()}`);
    // The destinations print no motd or last-login line: the prompt is
    // the first thing the user sees.
    const lines = term.prompt.split("\n").filter((l) => l.trim() !== "");
    assert.equal(lines.length, 1, `screen:\n${term.prompt}`);
  },
});
