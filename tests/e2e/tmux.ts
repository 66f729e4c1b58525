// tmux driven as a test user on a private socket: the real pty whose size
// the terminal tests control, and the screen they read back.
import assert from "node:assert/strict";
import { runAs, type TestUser } from "../harness/mod.ts";

/** A tmux server of `user` on `socket`, with its one session named "s". */
export interface Tmux {
  /** Runs a tmux command; fails the test when it fails; returns stdout. */
  tmux(...args: string[]): Promise<string>;
  /** The text currently on session "s"'s screen. */
  screen(): Promise<string>;
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
  return { tmux, screen: () => tmux("capture-pane", "-p", "-t", "s") };
}
