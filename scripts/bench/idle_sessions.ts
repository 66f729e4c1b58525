// Many live, idle sessions through one path (issue 14): what they cost
// etcd (gRPC messages per second, against the same etcd with no session,
// measured just before) and what of ours stays resident per session (our
// processes under the gateway sshd, plus what the agent grew by).
import { sleep, sshArgv, type TestUser } from "../../tests/harness/mod.ts";
import { CONNECTIONS_PREFIX } from "./burst.ts";
import { etcdKeyLeases, etcdMessages, messageRates } from "./etcd_observe.ts";
import type { Target } from "./measure.ts";
import { descendantsOf, summedMemory } from "./processes.ts";
import { round } from "./stats.ts";
import {
  type Memory,
  spawnStreamingAs,
  type Streaming,
  syncPageCache,
} from "./system.ts";

/** The figures of N idle sessions through one path. */
export interface IdleSessionsFigure {
  sessions: number;
  /** Length of each etcd reading window (s). */
  windowSeconds: number;
  etcd: {
    /** gRPC messages per second with no session. */
    idleRate: number;
    /** The same with every session live and idle. */
    loadedRate: number;
    /** Per method ("Service/Method"): rate with none and with all. */
    byMethod: { method: string; idle: number; loaded: number }[];
  };
  /**
   * The connection keys with every session live, and how many share the
   * most common lease (the agent's, when it routes them; 1 when each
   * session keeps its own).
   */
  leases?: { keys: number; largestShare: number };
  /** Our processes under the gateway sshd with every session live. */
  ours: { processes: number; memory: Memory };
  /** The agent (its process tree), before the sessions and with them. */
  agent?: { before: Memory; loaded: Memory };
  /** (our processes + the agent's growth) / sessions, private dirty (KiB). */
  privateDirtyPerSessionKiB: number;
}

/** Where the agent runs, when the path goes through one. */
export interface AgentProcess {
  pid(): number | undefined;
}

async function treeMemory(pid: number | undefined): Promise<Memory> {
  if (!pid) return { rss: 0, pss: 0, privateDirty: 0, privateClean: 0 };
  return await summedMemory([pid, ...await descendantsOf(pid)]);
}

async function rateOver(
  endpoint: string,
  seconds: number,
): Promise<Map<string, number>> {
  const before = await etcdMessages(endpoint);
  const start = performance.now();
  await sleep(seconds * 1000);
  const after = await etcdMessages(endpoint);
  return messageRates(before, after, (performance.now() - start) / 1000);
}

const total = (rates: Map<string, number>) =>
  round([...rates.values()].reduce((t, r) => t + r, 0), 2);

/**
 * Opens `sessions` sessions running `sleep` through `target` (at most
 * `wave` logging in at once), waits until the gateway has an ssh per
 * session, and reads etcd's message rate and the memory of ours; the etcd
 * rate with no session is read first over the same window.
 */
export async function idleSessions(
  user: TestUser,
  target: Target,
  sessions: number,
  etcdEndpoint: string,
  windowSeconds: number,
  say: (text: string) => void,
  agent?: AgentProcess,
): Promise<IdleSessionsFigure> {
  const probe = target.sessions;
  if (!probe) {
    throw new Error(`(${target.id}) has no gateway sessions to count`);
  }
  await target.prepare?.();
  // What an earlier phase left to etcd (revocations, expiring leases)
  // must not count as this path's idle rate.
  await sleep(3000);
  const idle = await rateOver(etcdEndpoint, windowSeconds);
  await syncPageCache();
  const agentBefore = agent ? await treeMemory(agent.pid()) : undefined;
  const clients: Streaming[] = [];
  let ended = 0;
  const wave = 25;
  const deadline = Date.now() + 300_000;
  try {
    for (let opened = 0; opened < sessions;) {
      const count = Math.min(wave, sessions - opened);
      for (let i = 0; i < count; i++) {
        const client = await spawnStreamingAs(
          user,
          sshArgv(user, {
            host: target.host,
            port: target.port,
            // Bounded: a session the bench fails to end still ends.
            command: "exec sleep 900",
          }),
        );
        client.child.stdin.close().catch(() => {});
        client.child.stdout.cancel().catch(() => {});
        client.child.stderr.cancel().catch(() => {});
        client.child.status.then(() => ended++);
        clients.push(client);
      }
      opened += count;
      while ((await probe()).ssh.length < opened) {
        if (ended > 0) {
          throw new Error(
            `idle sessions (${target.id}): ${ended} of ${opened} sessions ended instead of staying idle`,
          );
        }
        if (Date.now() > deadline) {
          throw new Error(
            `idle sessions (${target.id}): only ${
              (await probe()).ssh.length
            } of ${opened} sessions reached the destination within 300 s`,
          );
        }
        await sleep(250);
      }
      say(`idle sessions (${target.id}): ${opened}/${sessions} live`);
    }
    // Registrations retried in the background have time to land.
    await sleep(2000);
    const loaded = await rateOver(etcdEndpoint, windowSeconds);
    await syncPageCache();
    const live = await probe();
    if (ended > 0 || live.ssh.length < sessions) {
      throw new Error(
        `idle sessions (${target.id}): ${
          Math.max(ended, sessions - live.ssh.length)
        } sessions ended while idle`,
      );
    }
    const ours = await summedMemory(live.ours);
    const keys = await etcdKeyLeases(etcdEndpoint, CONNECTIONS_PREFIX);
    const perLease = new Map<string, number>();
    for (const { lease } of keys) {
      perLease.set(lease, (perLease.get(lease) ?? 0) + 1);
    }
    const agentLoaded = agent ? await treeMemory(agent.pid()) : undefined;
    const growth = agentBefore && agentLoaded
      ? Math.max(0, agentLoaded.privateDirty - agentBefore.privateDirty)
      : 0;
    const methods = new Set([...idle.keys(), ...loaded.keys()]);
    return {
      sessions,
      windowSeconds,
      etcd: {
        idleRate: total(idle),
        loadedRate: total(loaded),
        byMethod: [...methods].sort().map((method) => ({
          method,
          idle: round(idle.get(method) ?? 0, 2),
          loaded: round(loaded.get(method) ?? 0, 2),
        })),
      },
      leases: {
        keys: keys.length,
        largestShare: Math.max(0, ...perLease.values()),
      },
      ours: { processes: live.ours.length, memory: ours },
      agent: agentBefore && agentLoaded
        ? { before: agentBefore, loaded: agentLoaded }
        : undefined,
      privateDirtyPerSessionKiB: round(
        (ours.privateDirty + growth) / sessions,
        0,
      ),
    };
  } finally {
    for (const client of clients) client.kill("SIGKILL");
    await Promise.all(clients.map((c) => c.child.status));
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      const left = await probe();
      if (left.ours.length === 0 && left.ssh.length === 0) break;
      await sleep(250);
    }
  }
}
