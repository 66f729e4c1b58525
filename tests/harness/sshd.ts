/**
 * Real OpenSSH servers on loopback: single sshd instances and the reference
 * suite's gateway + three destinations topology (spec §10.1).
 */

import { freePorts, waitForListening } from "./net.ts";
import {
  removeTempDir,
  requireTool,
  runChecked,
  type Service,
  startService,
} from "./process.ts";
import { SSH_OPTIONS } from "./ssh.ts";

/** One `ListenAddress` of an sshd. */
export interface ListenAddress {
  /** Loopback IPv4 address. */
  host: string;
  /** TCP port. */
  port: number;
}

/** How to configure one sshd. */
export interface SshdOptions {
  /** Label used in error messages and the temp dir name. */
  name?: string;
  /** Addresses to listen on (at least one). */
  listen: ListenAddress[];
  /** Client variables accepted (`AcceptEnv`). */
  acceptEnv?: string[];
  /** Variables set for every session (`SetEnv`), e.g. the host's identity. */
  setEnv?: Record<string, string>;
  /** sftp subsystem: "internal-sftp" or a path (default: sftp-server). */
  sftp?: string;
  /** `ForceCommand` for every session (the proxy under test, on gateways). */
  forceCommand?: string;
  /** `ExposeAuthInfo yes`, giving sessions `SSH_USER_AUTH`. */
  exposeAuthInfo?: boolean;
  /** `X11Forwarding yes`, with `XAuthLocation` set to this machine's xauth. */
  x11Forwarding?: boolean;
  /** `AllowAgentForwarding` (sshd's default, yes, when not given). */
  agentForwarding?: boolean;
  /** Raw sshd_config lines appended last (Match blocks go here). */
  extraConfig?: string[];
  /** How long to wait for the ports to accept connections (default 10 s). */
  startTimeoutMs?: number;
}

/** A running sshd. */
export interface Sshd {
  /** Label given in the options. */
  readonly name: string;
  /** Addresses it listens on. */
  readonly listen: readonly ListenAddress[];
  /** Its private directory (config, host key, pid file, log). */
  readonly dir: string;
  /** sshd_config path. */
  readonly configPath: string;
  /** Log file (sshd -e output). */
  readonly logPath: string;
  /** sshd's current log contents. */
  log(): Promise<string>;
  /** Stop sshd and every session it started; safe to call twice. */
  stop(): Promise<void>;
  /** Same as stop(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const SFTP_SERVER_CANDIDATES = [
  "/usr/lib/openssh/sftp-server", // Debian, Ubuntu
  "/usr/libexec/openssh/sftp-server", // Fedora, RHEL (the reference's path)
  "/usr/libexec/sftp-server",
];

/** Path of OpenSSH's sftp-server binary on this machine. */
export async function findSftpServer(): Promise<string> {
  for (const path of SFTP_SERVER_CANDIDATES) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // Try the next location.
    }
  }
  return await requireTool(SFTP_SERVER_CANDIDATES[0]);
}

/** xauth, which sshd runs to hand a forwarded display's cookie to the session. */
async function xauthPath(): Promise<string> {
  const path = "/usr/bin/xauth";
  try {
    return await requireTool(path);
  } catch {
    throw new Error(
      `e2e harness: ${path} is missing; install it with "apt-get install -y xauth" (scripts/setup.sh --services does)`,
    );
  }
}

function quote(value: string): string {
  // sshd_config tokens use double quotes; a value with a quote cannot be
  // expressed, so refuse it rather than write a config that means otherwise.
  if (value.includes('"') || value.includes("\n")) {
    throw new Error(
      `e2e harness: cannot put ${JSON.stringify(value)} in sshd_config`,
    );
  }
  return /[\s#]/.test(value) || value === "" ? `"${value}"` : value;
}

/** Write host key and sshd_config into `dir`, validate, return the config path. */
async function writeConfig(
  dir: string,
  sshd: string,
  keygen: string,
  options: SshdOptions,
): Promise<string> {
  const hostKey = `${dir}/ssh_host_ed25519_key`;
  await runChecked([keygen, "-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  await Deno.chmod(hostKey, 0o600);

  const sftp = options.sftp ?? await findSftpServer();
  const lines = [
    ...options.listen.map(({ host, port }) => `ListenAddress ${host}:${port}`),
    `HostKey ${hostKey}`,
    `PidFile ${dir}/sshd.pid`,
    "UsePAM no",
    // Keys live in homes and temp dirs whose modes we do not police.
    "StrictModes no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "AuthorizedKeysFile .ssh/authorized_keys",
    "PermitRootLogin no",
    // Only the harness's accounts may log in to these test servers.
    "AllowUsers sshproxy-*",
    "UseDNS no",
    // Keep TTY sessions' output free of login noise.
    "PrintMotd no",
    "PrintLastLog no",
    // Load tests open many connections at once from one address.
    "MaxStartups 200:30:400",
    "MaxSessions 50",
    "LogLevel ERROR",
    `Subsystem sftp ${sftp}`,
    ...(options.acceptEnv?.length
      ? [`AcceptEnv ${options.acceptEnv.join(" ")}`]
      : []),
    ...Object.entries(options.setEnv ?? {}).map(([k, v]) =>
      `SetEnv ${k}=${quote(v)}`
    ),
    ...(options.exposeAuthInfo ? ["ExposeAuthInfo yes"] : []),
    // sshd silently refuses X11 forwarding when xauth is missing, so its
    // path is required (and named in the error) rather than assumed.
    ...(options.x11Forwarding
      ? ["X11Forwarding yes", `XAuthLocation ${await xauthPath()}`]
      : []),
    ...(options.agentForwarding !== undefined
      ? [`AllowAgentForwarding ${options.agentForwarding ? "yes" : "no"}`]
      : []),
    ...(options.forceCommand !== undefined
      ? [`ForceCommand ${options.forceCommand}`]
      : []),
    ...(options.extraConfig ?? []),
  ];
  const configPath = `${dir}/sshd_config`;
  await Deno.writeTextFile(configPath, lines.join("\n") + "\n");
  // Validate first: a config error is then reported as such, not as a
  // port that never opened.
  await runChecked([sshd, "-t", "-f", configPath]);
  return configPath;
}

/** Start one sshd with its own config, host key and log in a temp dir. */
export async function startSshd(options: SshdOptions): Promise<Sshd> {
  const sshd = await requireTool("/usr/sbin/sshd");
  const keygen = await requireTool("/usr/bin/ssh-keygen");
  if (options.listen.length === 0) {
    throw new Error("e2e harness: sshd needs a ListenAddress");
  }
  for (const { host } of options.listen) {
    if (!host.startsWith("127.")) {
      throw new Error(
        `e2e harness: sshd may only listen on loopback, got ${host}`,
      );
    }
  }
  const name = options.name ?? "sshd";
  // Privilege separation directory; Debian creates it only from its unit.
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await Deno.makeTempDir({ prefix: `sshproxy-e2e-${name}-` });
  let configPath: string;
  try {
    configPath = await writeConfig(dir, sshd, keygen, options);
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }

  const service: Service = startService(
    [sshd, "-D", "-e", "-f", configPath],
    `${dir}/sshd.log`,
  );
  const timeout = options.startTimeoutMs ?? 10_000;
  // sshd keeps running when only some of its addresses fail to bind, so
  // its log is watched too, to fail at once instead of after the timeout.
  const healthy = async () =>
    service.alive() && !/Bind to port .* failed/.test(await service.log());
  if (
    !(await waitForListening(service.pid, options.listen, timeout, healthy))
  ) {
    await service.stop();
    const log = await service.log();
    await removeTempDir(dir);
    const wanted = options.listen.map(({ host, port }) => `${host}:${port}`);
    throw new Error(
      `e2e harness: sshd "${name}" did not listen on ${wanted.join(", ")} ` +
        `within ${timeout} ms; its output:\n${log}`,
    );
  }
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= service.stop().then(() => removeTempDir(dir));
    return stopping;
  };
  return {
    name,
    listen: options.listen,
    dir,
    configPath,
    logPath: service.logPath,
    log: service.log,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** The reference gateway's four ForceCommand ports, by their role number. */
export type GatewayRole = 2022 | 2023 | 2024 | 2025;

/** The four gateway roles, in order. */
export const GATEWAY_ROLES: readonly GatewayRole[] = [2022, 2023, 2024, 2025];

/** Names of the three destinations. */
export type ServerName = "server1" | "server2" | "server3";

/** A gateway sshd whose sessions all run the ForceCommand. */
export interface Gateway {
  /** "gateway1", "gateway2", ... */
  name: string;
  /** Loopback address (127.0.0.1 for gateway1, 127.0.0.2 for gateway2...). */
  host: string;
  /** Actual port serving each reference port role. */
  ports: Record<GatewayRole, number>;
  /** The sshd itself (log, config). */
  sshd: Sshd;
}

/** A destination sshd that identifies itself as SSHPROXY_TEST_HOST. */
export interface Destination {
  /** server1, server2 or server3 (also its SSHPROXY_TEST_HOST value). */
  name: ServerName;
  /** Loopback address (127.0.0.11, .12, .13). */
  host: string;
  /** Listening port. */
  port: number;
  /** "host:port", as a proxy configuration's `dest` entry. */
  address: string;
  /** The sftp subsystem it runs ("internal-sftp" or sftp-server's path). */
  sftp: string;
  /** The sshd itself (log, config). */
  sshd: Sshd;
}

/** What `startTopology` needs. */
export interface TopologyOptions {
  /** ForceCommand of the gateways (the installed sshproxy, with arguments). */
  forceCommand: string;
  /** Number of gateways (default 1); the reference uses 2 for stickiness. */
  gateways?: number;
  /** Extra `SetEnv` on gateways (SSHPROXY_TEST_HOST=gatewayN is always set). */
  gatewaySetEnv?: Record<string, string>;
  /** Raw sshd_config lines for the gateways. */
  gatewayExtraConfig?: string[];
  /** Raw sshd_config lines for the destinations. */
  destinationExtraConfig?: string[];
  /** `X11Forwarding yes` on gateways and destinations (see SshdOptions). */
  x11Forwarding?: boolean;
  /** `AllowAgentForwarding` on gateways and destinations (see SshdOptions). */
  agentForwarding?: boolean;
}

/** A running topology: gateways in front of three destinations. */
export interface Topology {
  /** All gateways, gateway1 first. */
  gateways: Gateway[];
  /** gateway1. */
  gateway: Gateway;
  /** The destinations by name. */
  servers: Record<ServerName, Destination>;
  /** ssh options for the proxy's `ssh.args` (gateway → destination hop). */
  sshArgs: string[];
  /** Stop every sshd and session; safe to call twice. */
  stop(): Promise<void>;
  /** Same as stop(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const SERVERS: { name: ServerName; host: string; internalSftp: boolean }[] = [
  { name: "server1", host: "127.0.0.11", internalSftp: false },
  { name: "server2", host: "127.0.0.12", internalSftp: true },
  { name: "server3", host: "127.0.0.13", internalSftp: false },
];

/** Client variables the reference's hosts accept (Fedora's default list). */
const ACCEPT_ENV = ["LANG", "LC_*", "XMODIFIERS"];

/**
 * Start the reference suite's topology on loopback: gateway sshd(s) with
 * four ForceCommand ports each, and server1..3 (spec §10.1). Anything
 * already started is stopped again if a later part fails.
 */
export async function startTopology(
  options: TopologyOptions,
): Promise<Topology> {
  const sftpServer = await findSftpServer();
  const gatewayCount = options.gateways ?? 1;
  if (gatewayCount < 1 || gatewayCount > 9) {
    throw new Error(`e2e harness: 1 to 9 gateways, not ${gatewayCount}`);
  }

  const gatewayStarts = Array.from({ length: gatewayCount }, async (_, i) => {
    const name = `gateway${i + 1}`;
    const host = `127.0.0.${i + 1}`;
    const numbers = await freePorts(GATEWAY_ROLES.length, host);
    const ports = Object.fromEntries(
      GATEWAY_ROLES.map((role, j) => [role, numbers[j]]),
    ) as Record<GatewayRole, number>;
    const sshd = await startSshd({
      name,
      listen: numbers.map((port) => ({ host, port })),
      acceptEnv: ACCEPT_ENV,
      setEnv: { SSHPROXY_TEST_HOST: name, ...options.gatewaySetEnv },
      sftp: sftpServer,
      forceCommand: options.forceCommand,
      x11Forwarding: options.x11Forwarding,
      agentForwarding: options.agentForwarding,
      extraConfig: options.gatewayExtraConfig,
    });
    return { name, host, ports, sshd };
  });
  const serverStarts = SERVERS.map(async ({ name, host, internalSftp }) => {
    const [port] = await freePorts(1, host);
    const sftp = internalSftp ? "internal-sftp" : sftpServer;
    const sshd = await startSshd({
      name,
      listen: [{ host, port }],
      acceptEnv: ACCEPT_ENV,
      setEnv: { SSHPROXY_TEST_HOST: name },
      sftp,
      x11Forwarding: options.x11Forwarding,
      agentForwarding: options.agentForwarding,
      extraConfig: options.destinationExtraConfig,
    });
    return { name, host, port, address: `${host}:${port}`, sftp, sshd };
  });

  const settled = await Promise.allSettled([...gatewayStarts, ...serverStarts]);
  const started = settled.flatMap((s) =>
    s.status === "fulfilled" ? [s.value.sshd] : []
  );
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= Promise.all(started.map((s) => s.stop())).then(() => {});
    return stopping;
  };
  const failure = settled.find((s): s is PromiseRejectedResult =>
    s.status === "rejected"
  );
  if (failure) {
    await stop();
    throw failure.reason;
  }

  const gateways = (await Promise.all(gatewayStarts)) as Gateway[];
  const servers = Object.fromEntries(
    (await Promise.all(serverStarts)).map((d) => [d.name, d as Destination]),
  ) as Record<ServerName, Destination>;
  return {
    gateways,
    gateway: gateways[0],
    servers,
    sshArgs: [...SSH_OPTIONS],
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
