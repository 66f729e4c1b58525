/**
 * A real single-member etcd on loopback, optionally with TLS client
 * certificates and the reference suite's authentication set-up (spec §6.6).
 */

import type { EtcdSettings } from "../../src/config/types.ts";
import { freePorts } from "./net.ts";
import {
  type CommandResult,
  makeSharedTempDir,
  removeTempDir,
  requireTool,
  run,
  runChecked,
  type Service,
  sleep,
  startService,
} from "./process.ts";

/** Credentials of the etcd user sessions authenticate as. */
export interface EtcdAuth {
  /** User name (granted role `sshproxy`: readwrite on prefix /sshproxy/). */
  user: string;
  /** Its password. */
  password: string;
  /** Password of the `root` user (default "root"). */
  rootPassword?: string;
}

/** How to start etcd. */
export interface EtcdOptions {
  /** Serve clients over TLS and require a client certificate. */
  tls?: boolean;
  /** Create role/user/root as in the reference suite, then enable auth. */
  auth?: EtcdAuth;
  /** Bound on start-up until healthy (default 20 s). */
  startTimeoutMs?: number;
  /** Extra etcd command-line flags. */
  extraArgs?: string[];
  /**
   * A Common Name for the client certificate. By default it has none: with
   * authentication on, etcd's JSON gateway (which the product's client
   * uses) refuses a client certificate that has one.
   */
  clientCommonName?: string;
  /**
   * Whether etcd's server certificate also allows client authentication
   * (default true: with client certificates required, etcd's JSON gateway
   * connects to etcd itself with it).
   */
  serverClientAuth?: boolean;
  /**
   * Whether etcd requires client certificates (default true); without,
   * TLS only proves etcd's identity and clients need no certificate.
   */
  clientCertAuth?: boolean;
}

/** Client-side TLS material (all world-readable so test users' proxies can load it). */
export interface EtcdTlsFiles {
  /** CA certificate that signed the server and client certificates. */
  caFile: string;
  /** Client certificate (no CN unless `clientCommonName` is given). */
  certFile: string;
  /** Client private key. */
  keyFile: string;
}

/** Who an `etcdctl` call authenticates as. */
export type EtcdIdentity = "root" | "user" | "anonymous";

/** A running (or killed, restartable) etcd. */
export interface Etcd {
  /** Client URLs: http://127.0.0.1:PORT, or https://localhost:PORT with TLS. */
  readonly endpoints: string[];
  /** First client URL. */
  readonly endpoint: string;
  /** Temp dir holding data, certificates and the log (mode 0755). */
  readonly dir: string;
  /** Data directory, kept across kill()/restart(). */
  readonly dataDir: string;
  /** etcd's log file. */
  readonly logPath: string;
  /** Client TLS files when started with `tls`. */
  readonly tls?: EtcdTlsFiles;
  /** Credentials when started with `auth` (rootPassword filled in). */
  readonly auth?: Required<EtcdAuth>;
  /** Run etcdctl against this etcd; as root by default when auth is on. */
  etcdctl(args: string[], as?: EtcdIdentity): Promise<CommandResult>;
  /** etcd's log so far. */
  log(): Promise<string>;
  /** Whether the etcd process is currently running. */
  running(): boolean;
  /** SIGKILL etcd (simulates a crash; data and ports kept for restart). */
  kill(): Promise<void>;
  /** Start etcd again on the same ports and data dir, wait until healthy. */
  restart(): Promise<void>;
  /** Stop etcd gracefully and delete its dir; safe to call twice. */
  stop(): Promise<void>;
  /** Same as stop(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The `etcd` settings of a configuration file pointing at this etcd: its
 * endpoints, its client TLS files and credentials when it has them,
 * keyttl 5; `changes` replace any of them.
 */
export function etcdSettings(
  etcd: Etcd,
  changes: Partial<EtcdSettings> = {},
): EtcdSettings {
  return {
    endpoints: etcd.endpoints,
    tls: etcd.tls
      ? {
        cafile: etcd.tls.caFile,
        certfile: etcd.tls.certFile,
        keyfile: etcd.tls.keyFile,
      }
      : { cafile: "", certfile: "", keyfile: "" },
    username: etcd.auth?.user ?? "",
    password: etcd.auth?.password ?? "",
    keyttl: 5,
    mandatory: false,
    ...changes,
  };
}

const ROLE = "sshproxy";

async function makeCertificates(
  dir: string,
  clientSubject: string,
  serverClientAuth: boolean,
): Promise<{
  client: EtcdTlsFiles;
  serverCert: string;
  serverKey: string;
}> {
  const openssl = await requireTool("/usr/bin/openssl");
  const ecKey = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
  ];
  const caFile = `${dir}/ca.crt`;
  const caKey = `${dir}/ca.key`;
  await runChecked([
    openssl,
    ...["req", "-x509", ...ecKey, "-keyout", caKey, "-out", caFile],
    ...["-days", "7", "-subj", "/CN=sshproxy-e2e-ca"],
  ]);
  const issue = async (name: string, subject: string, extensions: string) => {
    const key = `${dir}/${name}.key`;
    const csr = `${dir}/${name}.csr`;
    const cert = `${dir}/${name}.crt`;
    const ext = `${dir}/${name}.ext`;
    await Deno.writeTextFile(ext, extensions);
    await runChecked([
      openssl,
      ...[
        "req",
        "-new",
        ...ecKey,
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        subject,
      ],
    ]);
    await runChecked([
      openssl,
      ...["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey],
      ...[
        "-set_serial",
        String(Date.now()),
        "-days",
        "7",
        "-out",
        cert,
        "-extfile",
        ext,
      ],
    ]);
    return { key, cert };
  };
  // clientAuth too: etcd's own gRPC gateway dials the server with this pair.
  const server = await issue(
    "server",
    "/CN=127.0.0.1",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\n" +
      `extendedKeyUsage=serverAuth${
        serverClientAuth ? ",clientAuth" : ""
      }\nkeyUsage=digitalSignature\n`,
  );
  const client = await issue(
    "client",
    clientSubject,
    "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n",
  );
  // The proxy under test runs as a test user and must read its client key;
  // acceptable only because this is a throwaway test CA.
  for (const f of [caFile, client.cert, client.key]) await Deno.chmod(f, 0o644);
  for (const f of [caKey, server.key]) await Deno.chmod(f, 0o600);
  return {
    client: { caFile, certFile: client.cert, keyFile: client.key },
    serverCert: server.cert,
    serverKey: server.key,
  };
}

/** Start etcd on free loopback ports; fails with its log if not healthy in time. */
export async function startEtcd(options: EtcdOptions = {}): Promise<Etcd> {
  const etcdBin = await requireTool("/usr/bin/etcd");
  const etcdctlBin = await requireTool("/usr/bin/etcdctl");
  const dir = await makeSharedTempDir("sshproxy-e2e-etcd-");
  const dataDir = `${dir}/data`;
  // etcd wants its data dir private.
  await Deno.mkdir(dataDir, { mode: 0o700 });
  const logPath = `${dir}/etcd.log`;
  const [clientPort, peerPort] = await freePorts(2);
  const listenUrl = `${
    options.tls ? "https" : "http"
  }://127.0.0.1:${clientPort}`;
  // With TLS, clients get a host name, as in the reference (https://etcd:2379);
  // the certificate names 127.0.0.1 too, for tests of IP endpoints.
  const endpoint = options.tls ? `https://localhost:${clientPort}` : listenUrl;
  const peer = `http://127.0.0.1:${peerPort}`;
  const auth = options.auth && { rootPassword: "root", ...options.auth };

  const certs = options.tls
    ? await makeCertificates(
      dir,
      options.clientCommonName === undefined
        ? "/O=sshproxy-e2e"
        : `/CN=${options.clientCommonName}`,
      options.serverClientAuth ?? true,
    )
    : undefined;
  const argv = [
    etcdBin,
    ...["--name", "default", "--data-dir", dataDir],
    ...["--listen-client-urls", listenUrl, "--advertise-client-urls", endpoint],
    ...["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer],
    ...[
      "--initial-cluster",
      `default=${peer}`,
      "--initial-cluster-token",
      `e2e-${peerPort}`,
    ],
    ...["--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn"],
    ...(certs
      ? [
        ...["--cert-file", certs.serverCert, "--key-file", certs.serverKey],
        ...(options.clientCertAuth ?? true
          ? ["--client-cert-auth", "--trusted-ca-file", certs.client.caFile]
          : []),
      ]
      : []),
    ...(options.extraArgs ?? []),
  ];

  let authEnabled = false;
  const etcdctl = (
    args: string[],
    as: EtcdIdentity = "root",
  ): Promise<CommandResult> => {
    const credentials = !authEnabled || as === "anonymous"
      ? []
      : as === "root"
      ? [`--user=root:${auth!.rootPassword}`]
      : [`--user=${auth!.user}:${auth!.password}`];
    const tlsFlags = certs
      ? [
        `--cacert=${certs.client.caFile}`,
        `--cert=${certs.client.certFile}`,
        `--key=${certs.client.keyFile}`,
      ]
      : [];
    return run(
      [
        etcdctlBin,
        `--endpoints=${endpoint}`,
        ...tlsFlags,
        ...credentials,
        ...args,
      ],
      { env: { ETCDCTL_API: "3" }, timeoutMs: 15_000 },
    );
  };

  let service: Service | undefined;
  const startTimeout = options.startTimeoutMs ?? 20_000;
  const launch = async () => {
    service = startService(argv, logPath);
    const current = service;
    const deadline = Date.now() + startTimeout;
    let last: CommandResult | undefined;
    while (Date.now() < deadline && current.alive()) {
      last = await etcdctl([
        "--dial-timeout=1s",
        "--command-timeout=2s",
        "endpoint",
        "health",
      ]);
      if (last.ok) return;
      await sleep(100);
    }
    const exited = !current.alive();
    await current.stop();
    const log = await current.log();
    throw new Error(
      `e2e harness: etcd at ${endpoint} not healthy within ${startTimeout} ms` +
        `${exited ? " (it exited)" : ""}; etcdctl said: ` +
        `${last?.stderr.trim() ?? "nothing"}\netcd log:\n${log}`,
    );
  };
  try {
    await launch();
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }

  const stopCurrent = async (signal: Deno.Signal, graceMs: number) => {
    await service?.stop(signal, graceMs);
  };
  try {
    if (auth) {
      const setup = async (args: string[]) => {
        const res = await etcdctl(args);
        if (!res.ok) {
          throw new Error(
            `e2e harness: etcdctl ${
              args.join(" ")
            } failed: ${res.stderr.trim()}`,
          );
        }
      };
      await setup(["role", "add", ROLE]);
      await setup([
        "role",
        "grant-permission",
        ROLE,
        "--prefix=true",
        "readwrite",
        "/sshproxy/",
      ]);
      await setup([
        ...["user", "add", auth.user, "--interactive=false"],
        `--new-user-password=${auth.password}`,
      ]);
      await setup(["user", "grant-role", auth.user, ROLE]);
      await setup([
        ...["user", "add", "root", "--interactive=false"],
        `--new-user-password=${auth.rootPassword}`,
      ]);
      await setup(["auth", "enable"]);
      authEnabled = true;
    }
  } catch (err) {
    await stopCurrent("SIGTERM", 5_000);
    await removeTempDir(dir);
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopCurrent("SIGTERM", 5_000).then(() => removeTempDir(dir));
    return stopping;
  };
  return {
    endpoints: [endpoint],
    endpoint,
    dir,
    dataDir,
    logPath,
    tls: certs?.client,
    auth,
    etcdctl,
    log: () => Deno.readTextFile(logPath).catch(() => ""),
    running: () => service?.alive() ?? false,
    kill: () => stopCurrent("SIGKILL", 0),
    async restart() {
      if (stopping) throw new Error("e2e harness: etcd was stopped for good");
      await stopCurrent("SIGTERM", 5_000);
      await launch();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
