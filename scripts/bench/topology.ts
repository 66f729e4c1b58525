// The bench's topology on loopback: the gateway sshd whose ForceCommand is
// the installed sshproxy (paths c, d, e by configuration), the floor
// gateway (b: `exec ssh`), the runtime-floor gateway (f: an empty Deno
// module run as the launcher runs ours, then `exec ssh`), a gateway, file
// and agent of their own for g and h, three destinations and etcd; the
// targets the measurements log in to; and, for the login-latency phase
// alone, one sshd serving every path's ForceCommand (startLatencyGateway).
import {
  type Etcd,
  freePort,
  freePorts,
  SSH_OPTIONS,
  type Sshd,
  startEtcd,
  startSshd,
} from "../../tests/harness/mod.ts";
import {
  type ProxyGateway,
  startProxyGateway,
} from "../../tests/e2e/gateway.ts";
import { sharedWritableDir } from "../../tests/e2e/installed.ts";
import { type BenchAgent, startAgent } from "./agent.ts";
import type { Target } from "./measure.ts";
import { type SessionProcesses, sessionProcesses } from "./processes.ts";
import type { PathId } from "./results.ts";
import {
  prepareStampDir,
  prepareStamps,
  stampedForceCommand,
  type StampFiles,
} from "./stamps.ts";
import {
  type FloorFiles,
  type Invocation,
  writeFloorLauncher,
} from "./runtime_floor.ts";

/** Stops the run at set-up time: says what could not be set up, exits 2. */
export class SetupError extends Error {}

/** Runs a set-up step; a failure becomes a SetupError naming the step. */
export async function step<T>(
  what: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new SetupError(`cannot set up ${what}: ${message}`);
  }
}

/** Tear-down actions, run last-in first-out. */
export class Cleanups {
  #actions: (() => Promise<void>)[] = [];
  constructor(private readonly say: (text: string) => void) {}
  /** Registers an action. */
  push(action: () => Promise<void>): void {
    this.#actions.push(action);
  }
  /** Runs every action registered so far, newest first. */
  async run(): Promise<void> {
    while (this.#actions.length > 0) {
      await this.#actions.pop()!().catch((error) =>
        this.say(`cleanup: ${error}`)
      );
    }
  }
}

// ExposeAuthInfo as the README's gateway sets it: every login then reads
// and parses the SSH_USER_AUTH file, as on a real gateway.
const GATEWAY_EXTRA = [
  "MaxStartups 500",
  "MaxSessions 500",
  "ExposeAuthInfo yes",
];

/** The running topology. */
export interface Topology {
  gw: ProxyGateway;
  floor: Sshd;
  etcd: Etcd;
  dumpDir: string;
  /** The YAML of (d)'s etcd settings, with its dest list (for the profile). */
  etcdConfig: string;
  /** The configuration text of each proxy path. */
  configs: Partial<Record<PathId, string>>;
  targets: Partial<Record<PathId, Target>>;
  /** Our processes and the gateway's ssh clients, now. */
  sessions(): Promise<SessionProcesses>;
  /** The floor's ssh line, as (b) and (f) run it after their own part. */
  floorSshCommand: string;
  /** The latency phase's stamps, and the ssh wrapper every path runs. */
  stamps: StampFiles;
}

/** Starts the gateways, destinations and etcd; registers their tear-down. */
export async function setUp(
  say: (text: string) => void,
  cleanups: Cleanups,
): Promise<Topology> {
  say("setting up: install, gateway sshd + 3 destinations");
  const gw = await step(
    "the gateway topology (install.sh, gateway sshd, destinations)",
    // Destinations too: a burst reaches them all at once, and sshd's default
    // MaxStartups (10:30:100) would drop connections the bench asked for.
    () =>
      startProxyGateway({
        gatewayExtraConfig: GATEWAY_EXTRA,
        destinationExtraConfig: GATEWAY_EXTRA,
      }),
  );
  cleanups.push(() => gw.stop());
  // Every path's ssh is the stamps' wrapper (a bash that execs ssh), so
  // that the latency phase sees when each starts; the floor pays it too.
  const stampDir = await sharedWritableDir("sshproxy-bench-stamps-");
  cleanups.push(() => Deno.remove(stampDir, { recursive: true }));
  const stamps = await prepareStamps(stampDir);
  const s1 = gw.servers.server1;
  const floorSshCommand = `exec ${stamps.sshWrapper} -q ${
    SSH_OPTIONS.join(" ")
  } -e none -p ${s1.port} ${s1.host} -- "$SSH_ORIGINAL_COMMAND"`;

  say("setting up: floor gateway sshd (ForceCommand exec ssh)");
  const floorHost = "127.0.0.5";
  const floor = await step(
    "the floor gateway sshd on 127.0.0.5",
    async () =>
      startSshd({
        name: "bench-floor",
        listen: [{ host: floorHost, port: await freePort(floorHost) }],
        forceCommand: floorSshCommand,
        extraConfig: GATEWAY_EXTRA,
      }),
  );
  cleanups.push(() => floor.stop());

  say("setting up: etcd");
  const etcd = await step("etcd", () => startEtcd());
  cleanups.push(() => etcd.stop());

  const dumpDir = await sharedWritableDir("sshproxy-bench-dumps-");
  cleanups.push(() => Deno.remove(dumpDir, { recursive: true }));
  const all = Object.values(gw.servers).map((s) => s.address);
  const etcdLines = [
    "etcd:",
    `  endpoints: [${JSON.stringify(etcd.endpoint)}]`,
    "  keyttl: 5",
    "route_select: connections",
    "mode: sticky",
  ];
  const sshExe = stamps.sshWrapper;
  const configs: Partial<Record<PathId, string>> = {
    c: gw.basicConfig({ sshExe }),
    d: gw.basicConfig({
      sshExe,
      dest: all,
      extra: etcdLines.join("\n") + "\n",
    }),
    e: gw.basicConfig({
      sshExe,
      extra: `dump: ${JSON.stringify(`${dumpDir}/{user}-{sid}.dump`)}\n`,
    }),
  };
  const gwPort = gw.gateway.ports[2022];
  const sessions = () =>
    sessionProcesses(gw.gateway.sshd.dir, gw.product.prefix);
  const proxyPath = (id: PathId): Target => ({
    id,
    host: gw.gateway.host,
    port: gwPort,
    forceCommand: `${gw.product.sshproxy} ${gw.configPath}`,
    prepare: () => gw.writeConfig(configs[id]!),
    sessions,
  });
  const targets: Partial<Record<PathId, Target>> = {
    a: { id: "a", host: s1.host, port: s1.port },
    b: {
      id: "b",
      host: floorHost,
      port: floor.listen[0].port,
      forceCommand: floorSshCommand,
    },
    c: proxyPath("c"),
    d: proxyPath("d"),
    e: { ...proxyPath("e"), afterEach: () => emptyDir(dumpDir) },
  };
  return {
    gw,
    floor,
    etcd,
    dumpDir,
    etcdConfig: [
      ...etcdLines,
      `dest: [${all.map((a) => JSON.stringify(a)).join(", ")}]`,
    ].join("\n"),
    configs,
    targets,
    sessions,
    floorSshCommand,
    stamps,
  };
}

/**
 * Adds path (f): a third gateway sshd whose ForceCommand runs the empty
 * module as the launcher runs ours, then the floor's `exec ssh`.
 */
export async function addRuntimeFloor(
  t: Topology,
  invocation: Invocation,
  files: FloorFiles,
  cleanups: Cleanups,
): Promise<void> {
  const launcher = await writeFloorLauncher(
    files,
    invocation,
    t.floorSshCommand,
  );
  const host = "127.0.0.6";
  const sshd = await step(
    "the runtime-floor gateway sshd on 127.0.0.6",
    async () =>
      startSshd({
        name: "bench-runtime-floor",
        listen: [{ host, port: await freePort(host) }],
        forceCommand: launcher,
        extraConfig: GATEWAY_EXTRA,
      }),
  );
  cleanups.push(() => sshd.stop());
  t.targets.f = {
    id: "f",
    host,
    port: sshd.listen[0].port,
    forceCommand: launcher,
  };
}

/**
 * Adds path (g) or (h): a gateway sshd of its own whose ForceCommand is the
 * installed sshproxy reading a file that an agent of its own serves, with
 * (d)'s configuration, the agent's section and `extra` (hand-off for h).
 * An agent serves only the sessions reading its own file, so each path
 * has its gateway, file and agent, and no file changes during the run.
 */
export async function addAgentPath(
  t: Topology,
  id: "g" | "h",
  extra: string,
  cleanups: Cleanups,
): Promise<BenchAgent> {
  const agent = await startAgent(
    t.gw,
    `${t.gw.logDir}/sshproxy-${id}.yaml`,
    (agentYaml) => `${t.configs.d}${agentYaml}${extra}`,
  );
  cleanups.push(() => agent.stop());
  t.configs[id] = agent.config;
  const host = id === "g" ? "127.0.0.7" : "127.0.0.8";
  const sshd = await step(
    `the gateway sshd of (${id}) on ${host}`,
    async () =>
      startSshd({
        name: `bench-agent-${id}`,
        listen: [{ host, port: await freePort(host) }],
        forceCommand: `${t.gw.product.sshproxy} ${agent.configPath}`,
        extraConfig: GATEWAY_EXTRA,
      }),
  );
  cleanups.push(() => sshd.stop());
  t.targets[id] = {
    id,
    host,
    port: sshd.listen[0].port,
    forceCommand: `${t.gw.product.sshproxy} ${agent.configPath}`,
    sessions: () => sessionProcesses(sshd.dir, t.gw.product.prefix),
  };
  return agent;
}

/**
 * The login-latency phase's gateway: ONE sshd listening on one port per
 * path, whose `Match LocalPort` blocks give each port its path's
 * ForceCommand, so that every path logs in through the same sshd process.
 * Separate sshd instances of the same configuration differed by up to 6 ms
 * in public-key authentication alone (measured on a 2-core VM, ssh -v
 * timestamps; the bias lasted for the instance's life, even across
 * SIGHUP), which compared across paths reads as what the proxy adds.
 * Returns the targets moved to it (a path without a gateway stays as is).
 */
export async function startLatencyGateway(
  targets: Target[],
  stamps: StampFiles,
  cleanups: Cleanups,
): Promise<Target[]> {
  const host = "127.0.0.9";
  const gated = targets.filter((target) => target.forceCommand !== undefined);
  for (const target of gated) await prepareStampDir(stamps, target.id);
  const ports = await freePorts(gated.length, host);
  const portOf = new Map(gated.map((target, i) => [target.id, ports[i]]));
  const sshd = await step(
    `the login-latency gateway sshd on ${host}`,
    () =>
      startSshd({
        name: "bench-latency",
        listen: ports.map((port) => ({ host, port })),
        // Every port has its own below; a port without one runs nothing.
        forceCommand: "/bin/false",
        extraConfig: [
          ...GATEWAY_EXTRA,
          ...gated.flatMap((target) => [
            `Match LocalPort ${portOf.get(target.id)}`,
            `  ForceCommand ${
              stampedForceCommand(stamps, target.id, target.forceCommand!)
            }`,
          ]),
        ],
      }),
  );
  cleanups.push(() => sshd.stop());
  return targets.map((target) => {
    const port = portOf.get(target.id);
    return port === undefined ? target : { ...target, host, port };
  });
}

/** Deletes everything in `dir`. */
export async function emptyDir(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
  }
}
