// The burst of issue 13: many logins released at once, each sending 1 MB
// of random bytes to `cat` on the destination and reading them back
// (`head -c 1000000 /dev/urandom | ssh gw cat`, compared byte for byte);
// wall time, per-session times and, with etcd, how many sessions were
// registered meanwhile (from etcd's own history of the burst, not from
// polling, which could miss a short registration).
import { sleep, sshAs, type TestUser } from "../../tests/harness/mod.ts";
import { etcdCount, etcdHistory, etcdRevision } from "./etcd_observe.ts";
import type { Target } from "./measure.ts";
import { round, summarize, type Summary } from "./stats.ts";

/** Where the proxy registers its sessions in etcd (the reference's keys). */
export const CONNECTIONS_PREFIX = "/sshproxy/connections/";

/** The burst's figures. */
export interface BurstFigure {
  sessions: number;
  /** Bytes each session sends and gets back. */
  bytes: number;
  /** Sessions that ended well and got their own bytes back, exactly. */
  byteExact: number;
  wallSeconds: number;
  /** One session, from its client's start to its end (s). */
  sessionSeconds: Summary;
  /** Failed sessions grouped by what went wrong. */
  failures: { message: string; count: number }[];
  /** With etcd: what the sessions registered during the burst. */
  registrations?: {
    /** Distinct connection keys put. */
    registered: number;
    puts: number;
    deletes: number;
    /** Connection keys still present when the last session had ended. */
    leftAtEnd: number;
    /** Seconds after the end until none was left (undefined: some stayed 10 s). */
    clearedAfterSeconds?: number;
  };
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let at = 0; at < length; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + 65_536)));
  }
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `sessions` concurrent round trips of `bytes` through `target`; with
 * `etcdEndpoint`, the connection keys put and deleted meanwhile.
 */
export async function burst(
  user: TestUser,
  target: Target,
  sessions: number,
  bytes: number,
  say: (text: string) => void,
  etcdEndpoint?: string,
): Promise<BurstFigure> {
  await target.prepare?.();
  const payloads = Array.from({ length: sessions }, () => randomBytes(bytes));
  const fromRevision = etcdEndpoint ? await etcdRevision(etcdEndpoint) + 1 : 0;
  const start = performance.now();
  const durations: number[] = [];
  const failures = new Map<string, number>();
  let done = 0;
  const progress = setInterval(
    () => say(`burst (${target.id}): ${done}/${sessions} ended`),
    5000,
  );
  let byteExact = 0;
  try {
    await Promise.all(payloads.map(async (payload) => {
      const t0 = performance.now();
      const result = await sshAs(user, {
        host: target.host,
        port: target.port,
        command: "cat",
      }, { stdin: payload, timeoutMs: 240_000 });
      durations.push((performance.now() - t0) / 1000);
      done++;
      if (result.ok && sameBytes(result.stdoutBytes, payload)) {
        byteExact++;
        return;
      }
      const message = result.ok
        ? `status 0 but ${result.stdoutBytes.length} bytes back${
          result.stdoutBytes.length === payload.length ? ", not the same" : ""
        }`
        : `status ${result.code}${result.timedOut ? " (timed out)" : ""}: ${
          result.stderr.trim().split("\n")[0]?.slice(0, 160) || "no message"
        }`;
      failures.set(message, (failures.get(message) ?? 0) + 1);
    }));
  } finally {
    clearInterval(progress);
  }
  const wallSeconds = round((performance.now() - start) / 1000, 2);
  const figure: BurstFigure = {
    sessions,
    bytes,
    byteExact,
    wallSeconds,
    sessionSeconds: summarize(durations),
    failures: [...failures].map(([message, count]) => ({ message, count })),
  };
  if (etcdEndpoint) {
    const leftAtEnd = await etcdCount(etcdEndpoint, CONNECTIONS_PREFIX);
    let clearedAfterSeconds: number | undefined = leftAtEnd === 0
      ? 0
      : undefined;
    const ended = performance.now();
    while (clearedAfterSeconds === undefined) {
      await sleep(250);
      const seconds = (performance.now() - ended) / 1000;
      if (await etcdCount(etcdEndpoint, CONNECTIONS_PREFIX) === 0) {
        clearedAfterSeconds = round(seconds, 1);
      } else if (seconds > 10) break;
    }
    const untilRevision = await etcdRevision(etcdEndpoint);
    const history = await etcdHistory(
      etcdEndpoint,
      CONNECTIONS_PREFIX,
      fromRevision,
      untilRevision,
    );
    figure.registrations = {
      registered: history.puts.size,
      puts: [...history.puts.values()].reduce((t, n) => t + n, 0),
      deletes: history.deletes,
      leftAtEnd,
      clearedAfterSeconds,
    };
  }
  return figure;
}
