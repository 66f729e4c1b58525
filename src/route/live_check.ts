// The live check of one destination (spec §5.8.3) with the configured
// `health_check`: `tcp` (the reference's connect), `ssh` (identification
// line) or `ssh-kex` (complete key exchange), all within `timeoutMs`.
import type { HealthCheck } from "../config/types.ts";
import { fail, ok, type Result } from "../result.ts";
import { tcpProbe } from "./health_check.ts";
import { sshBannerProbe, sshKexProbe } from "./ssh_probe.ts";

/** The reference's live-check timeout. */
export const LIVE_CHECK_TIMEOUT_MS = 1000;

/** Probes host:port; the error completes `cannot connect to <D>: <err>`. */
export async function liveCheck(
  kind: HealthCheck,
  host: string,
  port: number,
  timeoutMs = LIVE_CHECK_TIMEOUT_MS,
): Promise<Result<void>> {
  const probe = kind === "ssh"
    ? await sshBannerProbe(host, port, timeoutMs)
    : kind === "ssh-kex"
    ? await sshKexProbe(host, port, timeoutMs)
    : await tcpProbe(host, port, timeoutMs);
  return probe.ok ? ok(undefined) : fail(probe.error);
}
