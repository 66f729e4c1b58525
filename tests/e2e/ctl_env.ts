// What the sshproxyctl end-to-end tests share: a real etcd from the
// harness, a configuration file pointing at it, the installed sshproxyctl
// run as an ordinary test user, and etcdctl to write keys exactly as a
// reference gateway does.
import {
  type CommandResult,
  ensureTestAccounts,
  type Etcd,
  type EtcdOptions,
  runAs,
  startEtcd,
  USERS,
} from "../harness/mod.ts";
import { installed, sharedWritableDir } from "./installed.ts";

/** Test options for e2e tests: real processes outlive single ops, so sanitizers are off. */
export const e2e = { sanitizeOps: false, sanitizeResources: false };

/** A running etcd, a config for it, and sshproxyctl. */
export interface CtlEnv {
  etcd: Etcd;
  dir: string;
  configPath: string;
  /** Runs the installed sshproxyctl as the fedora test user with `-c config`. */
  ctl(args: string[], options?: { config?: string }): Promise<CommandResult>;
  /** etcdctl as root (auth) or anonymous; throws when it fails. */
  put(key: string, value: string, lease?: string): Promise<void>;
  /** Grants a lease with etcdctl; its decimal ID (as keys name it). */
  grant(ttl: number): Promise<string>;
  /** `etcdctl get --prefix` as key → value. */
  dump(prefix: string): Promise<Map<string, string>>;
  /** The lease a key is attached to, decimal ("0" for none). */
  leaseOf(key: string): Promise<string>;
  /** Writes another configuration file in the shared dir. */
  writeConfig(name: string, text: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** YAML for an `etcd` section pointing at `etcd`, with its TLS files and credentials. */
export function etcdSection(etcd: Etcd, endpoints = etcd.endpoints): string {
  let text = `etcd:\n  endpoints: [${
    endpoints.map((e) => JSON.stringify(e)).join(", ")
  }]\n`;
  if (etcd.tls) {
    text +=
      `  tls:\n    cafile: ${etcd.tls.caFile}\n    certfile: ${etcd.tls.certFile}\n    keyfile: ${etcd.tls.keyFile}\n`;
  }
  if (etcd.auth) {
    text +=
      `  username: ${etcd.auth.user}\n  password: ${etcd.auth.password}\n`;
  }
  return text;
}

/** Starts etcd and writes `sshproxy.yaml` for it (plus `extra` top-level YAML). */
export async function startCtlEnv(
  options: EtcdOptions & { extra?: string } = {},
): Promise<CtlEnv> {
  await ensureTestAccounts();
  const product = await installed();
  const etcd = await startEtcd(options);
  const dir = await sharedWritableDir("sshproxyctl-e2e-");
  const writeConfig = async (name: string, text: string) => {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, text);
    await Deno.chmod(path, 0o644);
    return path;
  };
  const configPath = await writeConfig(
    "sshproxy.yaml",
    etcdSection(etcd) + (options.extra ?? ""),
  );
  const etcdctl = async (args: string[]) => {
    const result = await etcd.etcdctl(args);
    if (!result.ok) {
      throw new Error(`etcdctl ${args.join(" ")}: ${result.stderr}`);
    }
    return result.stdout;
  };
  return {
    etcd,
    dir,
    configPath,
    ctl: (args, opts = {}) =>
      runAs(
        USERS.fedora,
        [product.sshproxyctl, "-c", opts.config ?? configPath, ...args],
        { timeoutMs: 30_000 },
      ),
    async put(key, value, lease) {
      // `--` so that values starting with "-" are not read as flags.
      await etcdctl([
        "put",
        ...(lease ? [`--lease=${BigInt(lease).toString(16)}`] : []),
        "--",
        key,
        value,
      ]);
    },
    async grant(ttl) {
      const out = await etcdctl(["lease", "grant", String(ttl)]);
      const hex = /lease ([0-9a-f]+) granted/.exec(out)?.[1];
      if (!hex) throw new Error(`unexpected etcdctl output: ${out}`);
      return BigInt(`0x${hex}`).toString();
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
    async leaseOf(key) {
      const out = await etcdctl(["get", "-w", "json", key]);
      const kv = JSON.parse(out).kvs?.[0];
      // etcdctl's JSON prints int64 lease IDs as numbers: read them exactly.
      const raw = /"lease":(\d+)/.exec(out)?.[1];
      return kv === undefined ? "" : raw ?? "0";
    },
    writeConfig,
    async [Symbol.asyncDispose]() {
      await etcd.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Lines of a text, without the final empty one. */
export function lines(text: string): string[] {
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  return all;
}
