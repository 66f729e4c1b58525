// A session asking an agent for its route as the proxy does (the agent
// client over a real Unix socket), with a configuration that names the
// socket and the agent's bounds: shared by the agent's socket tests.
import { topLevelConfig } from "../../src/config/resolve.ts";
import type { Config } from "../../src/config/types.ts";
import { routeThroughAgent } from "../../src/session/agent_client.ts";
import { parse } from "../config/fixture_helpers.ts";

/** The uid the tests' sessions prove (the test's own). */
export const UID = Deno.uid() ?? 0;

/** `agent.timeout` (the greeting's bound) and `agent.decision_timeout`. */
export interface Bounds {
  greeting: string;
  decision: string;
}

/** A top-level configuration with an `agent` section, and `extra` lines. */
export function agentConfig(
  socket: string,
  bounds: Bounds,
  extra = "",
): Config {
  const parsed = parse(
    `agent:\n  socket: ${
      JSON.stringify(socket)
    }\n  timeout: ${bounds.greeting}\n  decision_timeout: ${bounds.decision}\n${extra}`,
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return topLevelConfig(parsed.value);
}

/**
 * Asks the agent at `socket` as root's session; `timeout`: both bounds or
 * each its own; the session's log lines go to `log`.
 */
export function askAgent(
  socket: string,
  timeout: string | Bounds,
  log: string[] = [],
  extra = "",
): ReturnType<typeof routeThroughAgent> {
  const bounds = typeof timeout === "string"
    ? { greeting: timeout, decision: timeout }
    : timeout;
  return routeThroughAgent({
    config: agentConfig(socket, bounds, extra),
    configPath: "/etc/sshproxy/sshproxy.yaml",
    user: "root",
    uid: UID,
    sshd: "127.0.0.1:22",
    client: "127.0.0.1:40000",
    sessionId: "0123456789",
    log: (level, message) => log.push(`${level} ${message}`),
    writeStdout: () => {},
    writeStderr: () => {},
  });
}
