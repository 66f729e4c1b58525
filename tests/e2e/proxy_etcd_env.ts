// What the proxy's etcd end-to-end tests share (spec §10.1): a real etcd
// from the harness, one or two gateways whose ForceCommand is the installed
// sshproxy, the reference suite's configuration (service1 on the 2022
// ports of every gateway, service2 on gateway1:2023, service3 on
// gateway1:2024, default elsewhere), the installed sshproxyctl on the same
// file, and etcdctl to look at or write keys as a reference gateway does.
import {
  type CommandResult,
  type Etcd,
  type EtcdOptions,
  runAs,
  type RunningCommand,
  sleep,
  spawnAs,
  sshArgv,
  startEtcd,
  type TestUser,
  USERS,
} from "../harness/mod.ts";
import { etcdSection } from "./ctl_env.ts";
import { type ProxyGateway, startProxyGateway, waitFor } from "./gateway.ts";

export { e2e } from "./gateway.ts";

/** The gateway port roles of the reference suite. */
export type Role = 2022 | 2023 | 2024 | 2025;

/** What varies in the reference configuration. */
export interface ReferenceOptions {
  /** Top-level YAML lines added at the end of the top level. */
  extra?: string;
  /** Override items (YAML `  - match: ...` lines) added after the reference's. */
  overrides?: string;
  /** Settings of override O1 (service1 on the 2022 ports). */
  o1?: { etcdKeyttl?: number; routeSelect?: string; mode?: string };
  /** `etcd.keyttl` (default 1, as the reference suite). */
  keyttl?: number;
  /** `etcd.mandatory` (default false). */
  mandatory?: boolean;
  /** Endpoints instead of the harness etcd's. */
  endpoints?: string[];
  /** Leave the etcd section out entirely. */
  noEtcd?: boolean;
}

/** The running environment. */
export interface EtcdGateways {
  gw: ProxyGateway;
  etcd: Etcd;
  /** Writes the reference configuration with these variations. */
  configure(options?: ReferenceOptions): Promise<void>;
  /** ssh through gatewayN (1-based) on a role port, waiting for the result. */
  ssh(
    command: string,
    options?: { user?: TestUser; gateway?: number; role?: Role },
  ): Promise<CommandResult>;
  /** Starts a session that stays (e.g. `sleep 20`); disposed by kill. */
  start(
    command: string,
    options?: { user?: TestUser; gateway?: number; role?: Role },
  ): Promise<RunningCommand>;
  /** The installed sshproxyctl as fedora with this configuration. */
  ctl(args: string[]): Promise<CommandResult>;
  /** `sshproxyctl show -json ...` parsed (throws when it fails). */
  showJson<T = Record<string, unknown>[]>(args: string[]): Promise<T>;
  /** `etcdctl get --prefix` as key → value. */
  dump(prefix: string): Promise<Map<string, string>>;
  /** etcdctl, failing loudly. */
  etcdctl(args: string[]): Promise<string>;
  /** Waits until `probe` holds (50 ms polls); throws with `what` on timeout. */
  until<T>(
    what: string,
    probe: () => Promise<T>,
    timeoutMs?: number,
  ): Promise<NonNullable<T>>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts etcd and `gateways` gateways with the reference configuration. */
export async function startEtcdGateways(
  options: {
    gateways?: number;
    etcd?: EtcdOptions;
    gatewayExtraConfig?: string[];
    destinationExtraConfig?: string[];
  } = {},
): Promise<EtcdGateways> {
  const etcd = await startEtcd(options.etcd ?? {});
  let gw: ProxyGateway;
  try {
    gw = await startProxyGateway({
      gateways: options.gateways ?? 1,
      gatewayExtraConfig: options.gatewayExtraConfig,
      destinationExtraConfig: options.destinationExtraConfig,
    });
  } catch (error) {
    await etcd.stop();
    throw error;
  }
  const running = new Set<RunningCommand>();
  const host = (n: number) => gw.gateways[n - 1];
  const configure = async (o: ReferenceOptions = {}) => {
    const { servers } = gw;
    const source = (n: number, role: Role) =>
      JSON.stringify(`${host(n).host}:${host(n).ports[role]}`);
    const sources2022 = gw.gateways.map((_, i) => source(i + 1, 2022));
    let etcdYaml = o.noEtcd
      ? ""
      : etcdSection(etcd, o.endpoints ?? etcd.endpoints) +
        `  keyttl: ${o.keyttl ?? 1}\n  mandatory: ${o.mandatory ?? false}\n`;
    if (o.noEtcd && o.mandatory) etcdYaml = "etcd:\n  mandatory: true\n";
    await gw.writeConfig(`debug: true
log: ${gw.logDir}/sshproxy-{user}.log
max_connections_per_user: 0
ssh:
  args: ${gw.sshArgsYaml}
${etcdYaml}service: default
dest: [${JSON.stringify(servers.server3.address)}]
${o.extra ?? ""}
overrides:
  - match:
      - sources: [${sources2022.join(", ")}]
    service: service1
    dest: [${JSON.stringify(servers.server1.address)}, ${
      JSON.stringify(servers.server2.address)
    }]
    route_select: ${o.o1?.routeSelect ?? "ordered"}
    mode: ${o.o1?.mode ?? "sticky"}
    etcd_keyttl: ${o.o1?.etcdKeyttl ?? 0}
  - match:
      - sources: [${source(1, 2023)}]
    service: service2
    dest: [${JSON.stringify(servers.server1.address)}]
  - match:
      - sources: [${source(1, 2024)}]
    service: service3
    dest: [${JSON.stringify(servers.server2.address)}]
${o.overrides ?? ""}
`);
  };
  await configure();
  const target = (
    command: string,
    o: { user?: TestUser; gateway?: number; role?: Role },
  ) => {
    const g = host(o.gateway ?? 1);
    return {
      user: o.user ?? USERS.fedora,
      target: { host: g.host, port: g.ports[o.role ?? 2023], command },
    };
  };
  const etcdctl = async (args: string[]) => {
    const result = await etcd.etcdctl(args);
    if (!result.ok) {
      throw new Error(`etcdctl ${args.join(" ")}: ${result.stderr}`);
    }
    return result.stdout;
  };
  const ctl = (args: string[]) =>
    runAs(
      USERS.fedora,
      [gw.product.sshproxyctl, "-c", gw.configPath, ...args],
      {
        timeoutMs: 30_000,
      },
    );
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const session of running) session.kill("SIGKILL");
      await Promise.all([...running].map((s) => s.result()));
      await gw.stop();
      await etcd.stop();
    })();
    return stopping;
  };
  return {
    gw,
    etcd,
    configure,
    async ssh(command, o = {}) {
      const { user, target: t } = target(command, o);
      return await runAs(user, sshArgv(user, t), { timeoutMs: 30_000 });
    },
    async start(command, o = {}) {
      const { user, target: t } = target(command, o);
      const session = await spawnAs(user, sshArgv(user, t), {
        timeoutMs: 120_000,
      });
      running.add(session);
      return session;
    },
    ctl,
    async showJson<T>(args: string[]) {
      const result = await ctl(["show", "-json", ...args]);
      if (!result.ok) {
        throw new Error(
          `sshproxyctl show -json ${args.join(" ")}: ${result.stderr}`,
        );
      }
      return JSON.parse(result.stdout) as T;
    },
    async dump(prefix) {
      const out = await etcdctl(["get", "--prefix", "-w", "json", prefix]);
      const kvs = (JSON.parse(out).kvs ?? []) as {
        key: string;
        value: string;
      }[];
      const decode = (b64: string) =>
        new TextDecoder().decode(
          Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
        );
      return new Map(kvs.map((kv) => [decode(kv.key), decode(kv.value)]));
    },
    etcdctl,
    async until(what, probe, timeoutMs = 10_000) {
      // A probe that fails (etcdctl timing out on a loaded machine) is
      // "not yet"; its last error is reported on timeout.
      let lastError: unknown;
      const value = await waitFor(async () => {
        try {
          return await probe();
        } catch (error) {
          lastError = error;
          return undefined;
        }
      }, timeoutMs);
      if (!value) {
        throw new Error(
          `timed out (${timeoutMs} ms) waiting: ${what}${
            lastError ? ` (last error: ${lastError})` : ""
          }`,
        );
      }
      return value as NonNullable<typeof value>;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A session's destination name, as the harness's servers print it. */
export const WHERE = "echo $SSHPROXY_TEST_HOST";

/** The aggregated `show -json connections` rows. */
export interface ConnectionRow {
  User: string;
  Service: string;
  Dest: string;
  N: number;
}

/** Waits a little so that a just-started session has registered. */
export async function settle(ms = 300): Promise<void> {
  await sleep(ms);
}
