// Telling the user which destination did not answer (issue 13 item 3). A
// host that accepts TCP but never sends its SSH banner (or never accepts)
// makes the gateway's ssh give up after its ConnectTimeout with status 255;
// ssh's own words go to the inherited stderr, which the default `-q`
// silences, and status 255 alone also means "the remote command exited
// 255" or "the connection broke later". So the proxy says it only when ssh
// ended with 255 right at the timeout AND the destination still sends no
// banner within a second now.
import { sshBannerProbe } from "../route/ssh_probe.ts";
import type { Result } from "../result.ts";
import type { ExitStatus } from "./processes.ts";

/** What the verdict is made from. */
export interface SilenceInputs {
  status: ExitStatus;
  /** From ssh's start to its end. */
  elapsedMs: number;
  /** ssh's ConnectTimeout; undefined when unbounded. */
  connectTimeoutSeconds: number | undefined;
  /** The destination as `host:port` (for the messages). */
  destination: string;
  host: string;
  port: number;
}

/** The ERROR log line and the user's line. */
export interface Silence {
  log: string;
  user: string;
}

/** How much later than the timeout ssh may end and still have timed out (a loaded machine). */
const LATE_MS = 3000;

/** Whether ssh's end looks like its ConnectTimeout expiring (pure). */
export function endedAtTimeout(inputs: SilenceInputs): boolean {
  const seconds = inputs.connectTimeoutSeconds;
  if (seconds === undefined) return false;
  if (inputs.status.code !== 255 || inputs.status.signal !== undefined) {
    return false;
  }
  const timeoutMs = seconds * 1000;
  return inputs.elapsedMs >= timeoutMs - 100 &&
    inputs.elapsedMs <= timeoutMs + LATE_MS;
}

/** A probe of the destination's SSH banner (src/route/ssh_probe.ts by default). */
export type BannerProbe = (
  host: string,
  port: number,
) => Promise<Result<string>>;

/** The lines to give when ssh gave up on a silent destination, else undefined. */
export async function silentDestination(
  inputs: SilenceInputs,
  probe: BannerProbe = (host, port) => sshBannerProbe(host, port, 1000),
): Promise<Silence | undefined> {
  if (!endedAtTimeout(inputs)) return undefined;
  const banner = await probe(inputs.host, inputs.port);
  if (banner.ok) return undefined;
  const within = `within ${inputs.connectTimeoutSeconds}s`;
  return {
    log: `destination ${inputs.destination} did not answer ${within} ` +
      `(ssh ConnectTimeout): ${banner.error}`,
    user: `destination ${inputs.destination} did not answer ${within}, ` +
      `please try again later`,
  };
}
