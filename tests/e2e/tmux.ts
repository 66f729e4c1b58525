// tmux driven as a test user on a private socket: the real pty whose size
// the terminal tests control, and the screen they read back.
import assert from "node:assert/strict";
import { runAs, type TestUser } from "../harness/mod.ts";
import { waitFor } from "./gateway.ts";

/** A tmux server of `user` on `socket`, with its one session named "s". */
export interface Tmux {
  /** Runs a tmux command; fails the test when it fails; returns stdout. */
  tmux(...args: string[]): Promise<string>;
  /** The text currently on session "s"'s screen. */
  screen(): Promise<string>;
  /** Starts session "s" running `argv` (in a pane of `size`, when given). */
  start(
    argv: string[],
    size?: { columns: number; rows: number },
  ): Promise<void>;
  /** Waits for a shell prompt ending in "$"; returns the screen (undefined if none came). */
  waitForPrompt(timeoutMs?: number): Promise<string | undefined>;
  /** Waits until a line of the screen is exactly `line` (trailing blanks aside); returns the screen. */
  waitForLine(line: string, timeoutMs?: number): Promise<string>;
  /** Types `text`, then Enter. */
  typeLine(text: string): Promise<void>;
  /** Resizes the window and waits until `stty size` on the other side says so. */
  resizeTo(columns: number, rows: number): Promise<void>;
  /** Whether session "s" ended within `timeoutMs`. */
  ended(timeoutMs: number): Promise<boolean>;
  /** Stops the tmux server (whatever runs in it). */
  kill(): Promise<void>;
}

/** Wraps tmux commands for `user` on `socket`. */
export function tmuxAs(user: TestUser, socket: string): Tmux {
  const tmux = async (...args: string[]) => {
    const result = await runAs(user, ["tmux", "-S", socket, ...args], {
      env: { TERM: "xterm-256color" },
      timeoutMs: 10_000,
    });
    assert.equal(result.code, 0, `tmux ${args[0]}: ${result.stderr}`);
    return result.stdout;
  };
  const screen = () => tmux("capture-pane", "-p", "-t", "s");
  const hasLine = (text: string, line: string) =>
    text.split("\n").some((l) => l.trimEnd() === line);
  const typeLine = async (text: string) => {
    await tmux("send-keys", "-t", "s", "-l", text);
    await tmux("send-keys", "-t", "s", "Enter");
  };
  return {
    tmux,
    screen,
    async start(argv, size) {
      const geometry = size === undefined
        ? []
        : ["-x", String(size.columns), "-y", String(size.rows)];
      await tmux("new-session", "-d", "-s", "s", ...geometry, ...argv);
    },
    waitForPrompt(timeoutMs = 10_000) {
      return waitFor(async () => {
        const text = await screen();
        return /\$ ?$/m.test(text) ? text : undefined;
      }, timeoutMs);
    },
    async waitForLine(line, timeoutMs = 10_000) {
      const found = await waitFor(async () => {
        const text = await screen();
        return hasLine(text, line) ? text : undefined;
      }, timeoutMs);
      assert.ok(
        found,
        `no line ${JSON.stringify(line)} in:\n${await screen()}`,
      );
      return found;
    },
    typeLine,
    async resizeTo(columns, rows) {
      await tmux(
        "resize-window",
        "-t",
        "s",
        "-x",
        String(columns),
        "-y",
        String(rows),
      );
      const resized = await waitFor(async () => {
        await typeLine("stty size");
        return hasLine(await screen(), `${rows} ${columns}`);
      }, 5_000);
      assert.ok(
        resized,
        `size never became ${rows} ${columns}:\n${await screen()}`,
      );
    },
    async ended(timeoutMs) {
      const gone = await waitFor(async () => {
        const result = await runAs(user, [
          "tmux",
          "-S",
          socket,
          "has-session",
          "-t",
          "s",
        ]);
        return result.code !== 0;
      }, timeoutMs);
      return gone === true;
    },
    async kill() {
      await runAs(user, ["tmux", "-S", socket, "kill-server"]);
    },
  };
}
