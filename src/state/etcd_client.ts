// The etcd connection (spec §5.6): endpoints with or without a scheme, TLS,
// user/password, a 2 s budget to reach etcd and 2 s per request. `etcd3`
// (grpc-js) costs 120-200 ms to import, so it is loaded here, on demand,
// and only by callers that have etcd configured. Every failure is a value
// with a one-line text; nothing throws.
//
// TLS is used for `https://` endpoints, and for endpoints written without a
// scheme when any TLS file is configured (as Go's etcd client v3.5 does);
// `cafile` alone is enough (the reference ignores it, spec §12.1 item 10).
// `http://` endpoints are always plain.
import type { Buffer as NodeBuffer } from "node:buffer";
import type { Etcd3, IKeyValue } from "etcd3";
import type { EtcdSettings } from "../config/types.ts";
import { fail, ok, type Result } from "../result.ts";

/** One key as stored. */
export interface KeyValue {
  key: string;
  value: string;
  /** Decimal lease ID, "0" when the key has no lease. */
  lease: string;
  /** Decimal revision of the key's creation (its order among live keys), when the backend knows it. */
  createRevision?: string;
  /** Decimal revision of the key's last change, when the backend knows it. */
  modRevision?: string;
}

/** One operation of an atomic transaction. */
export type TxnOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string; prefix?: boolean } };

/** What the state layer needs from etcd; implemented over etcd3 here and in memory by tests. */
export interface EtcdBackend {
  /** The configured endpoints, comma-separated, for messages. */
  readonly endpoints: string;
  /** One key, or undefined when absent. */
  get(key: string): Promise<Result<KeyValue | undefined>>;
  /** Every key under `prefix`, ascending key order (values empty with keysOnly). */
  list(
    prefix: string,
    options?: { keysOnly?: boolean },
  ): Promise<Result<KeyValue[]>>;
  /** Puts a key, attached to `lease` when given (else permanent). */
  put(key: string, value: string, lease?: string): Promise<Result<void>>;
  /** Deletes a key, or every key under it with `prefix`; the count deleted. */
  remove(key: string, options?: { prefix?: boolean }): Promise<Result<number>>;
  /** Applies all operations atomically. */
  txn(ops: readonly TxnOp[]): Promise<Result<void>>;
  /** Grants a lease of `ttl` seconds; its decimal ID. */
  grant(ttl: number): Promise<Result<string>>;
  /** Revokes a lease (and deletes its keys); a missing lease is not an error. */
  revoke(id: string): Promise<Result<void>>;
  /** Remaining seconds of a lease, -1 when it does not exist (expired). */
  timeToLive(id: string): Promise<Result<number>>;
  /** Renews a lease once; the remaining TTL, 0 when it no longer exists. */
  keepAliveOnce(id: string): Promise<Result<number>>;
  /** Releases connections; pending calls fail. */
  close(): void;
}

/** Timeout of connecting, and of each request (spec §5.6). */
export const REQUEST_TIMEOUT_MS = 2000;
// Keys fetched per range request (the receive limit is raised below).
const PAGE_SIZE = 10_000;

interface Endpoint {
  scheme: "http" | "https" | "";
  address: string;
}

function parseEndpoint(text: string): Result<Endpoint> {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.*)$/.exec(text.trim());
  if (!match) return ok({ scheme: "", address: text.trim() });
  const scheme = match[1].toLowerCase();
  const address = match[2].replace(/\/+$/, "");
  if (scheme !== "http" && scheme !== "https") {
    return fail(
      `etcd endpoint ${text}: unsupported scheme ${
        match[1]
      }:// (use http:// or https://)`,
    );
  }
  if (address === "" || address.includes("/")) {
    return fail(`etcd endpoint ${text}: expected [http[s]://]host:port`);
  }
  return ok({ scheme, address });
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function fileErrorText(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  return errorText(error).split("\n")[0];
}

interface TlsMaterial {
  ca?: Uint8Array;
  cert?: Uint8Array;
  key?: Uint8Array;
}

// Reads and checks each TLS file so that a bad one is named, instead of
// surfacing later as an anonymous handshake failure.
async function readTlsFiles(
  settings: EtcdSettings,
): Promise<Result<TlsMaterial>> {
  const { cafile, certfile, keyfile } = settings.tls;
  if ((certfile === "") !== (keyfile === "")) {
    return fail(
      certfile === ""
        ? `etcd.tls.keyfile ${keyfile} is set but etcd.tls.certfile is not: a client certificate needs both`
        : `etcd.tls.certfile ${certfile} is set but etcd.tls.keyfile is not: a client certificate needs both`,
    );
  }
  const read = async (
    name: string,
    path: string,
  ): Promise<Result<Uint8Array | undefined>> => {
    if (path === "") return ok(undefined);
    try {
      return ok(await Deno.readFile(path));
    } catch (error) {
      return fail(
        `cannot read etcd.tls.${name} ${path}: ${fileErrorText(error)}`,
      );
    }
  };
  const ca = await read("cafile", cafile);
  if (!ca.ok) return ca;
  const cert = await read("certfile", certfile);
  if (!cert.ok) return cert;
  const key = await read("keyfile", keyfile);
  if (!key.ok) return key;
  const crypto = await import("node:crypto");
  const { Buffer } = await import("node:buffer");
  const decoder = new TextDecoder();
  const certificates = (bytes: Uint8Array): string[] =>
    decoder.decode(bytes).match(
      /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
    ) ?? [];
  if (ca.value !== undefined) {
    const pems = certificates(ca.value);
    if (pems.length === 0) {
      return fail(
        `etcd.tls.cafile ${cafile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      );
    }
    for (const pem of pems) {
      try {
        new crypto.X509Certificate(pem);
      } catch (error) {
        return fail(
          `etcd.tls.cafile ${cafile} holds an unreadable certificate: ${
            errorText(error)
          }`,
        );
      }
    }
  }
  if (cert.value !== undefined && key.value !== undefined) {
    const pems = certificates(cert.value);
    let x509;
    try {
      if (pems.length === 0) throw new Error("no -----BEGIN CERTIFICATE-----");
      x509 = new crypto.X509Certificate(pems[0]);
    } catch (error) {
      return fail(
        `etcd.tls.certfile ${certfile} is not a PEM certificate: ${
          errorText(error)
        }`,
      );
    }
    let privateKey;
    try {
      privateKey = crypto.createPrivateKey(Buffer.from(key.value));
    } catch (error) {
      return fail(
        `etcd.tls.keyfile ${keyfile} is not a PEM private key: ${
          errorText(error)
        }`,
      );
    }
    let matches = true;
    try {
      matches = x509.checkPrivateKey(privateKey);
    } catch {
      // Key types this runtime cannot compare: let the handshake decide.
    }
    if (!matches) {
      return fail(
        `etcd.tls.keyfile ${keyfile} is not the key of etcd.tls.certfile ${certfile}`,
      );
    }
  }
  return ok({ ca: ca.value, cert: cert.value, key: key.value });
}

let ipServernamePatched = false;

// grpc-js passes the endpoint's host as TLS server name (SNI), and Deno's
// node:tls refuses an IP address there ("options.servername must not be an
// IP address"), so https://10.0.0.5:2379 could not work at all. SNI must
// not carry an IP anyway (RFC 6066); without it the certificate is still
// verified against the IP address (its IP subjectAltName).
async function allowIpEndpointsOverTls(): Promise<void> {
  if (ipServernamePatched) return;
  ipServernamePatched = true;
  const tls = (await import("node:tls")).default;
  const { isIP } = await import("node:net");
  const original = tls.connect;
  const patched = function (this: unknown, ...args: unknown[]) {
    const options = args[0];
    if (
      options !== null && typeof options === "object" &&
      "servername" in options &&
      typeof options.servername === "string" && isIP(options.servername) !== 0
    ) {
      const copy: Record<string, unknown> = { ...options };
      delete copy.servername;
      args[0] = copy;
    }
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  (tls as { connect: unknown }).connect = patched;
}

// Resolves after `ms` with the timeout value, unless the promise settles first;
// the timer never outlives the race.
async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => T,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((resolve) => {
        timer = setTimeout(() => resolve(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Turns a gRPC/etcd error into a short reason (no stack, no grpc noise). */
export function describeEtcdError(error: unknown): string {
  const text = errorText(error).replace(/\s+/g, " ").trim();
  const lastError = /Last error: (.*?)(?: Resolution note:.*)?$/.exec(text);
  const core = (lastError ? lastError[1] : text)
    .replace(/^\d+ [A-Z_]+: /, "")
    .replace(/^(Error|TypeError)( \[[A-Z_]+\])?: /, "")
    // grpc-js appends the time of the failure: "(2026-01-01T10:00:00.000Z)."
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)\.?$/, "")
    .replace(/\.$/, "")
    .trim();
  const refused = /ECONNREFUSED|Connection refused|connection refused/.test(
    core,
  );
  if (refused) return "connection refused";
  if (
    /ENOTFOUND|EAI_AGAIN|Name or service not known|failed to lookup/.test(core)
  ) {
    return `cannot resolve the host name (${core})`;
  }
  if (/Deadline exceeded|DEADLINE_EXCEEDED/i.test(text)) {
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  }
  return core.replace(/^etcdserver: /, "") || text;
}

/** How to open the connection. */
export interface OpenOptions {
  /** Budget to reach etcd (default 2 s, as the reference's dial timeout). */
  connectTimeoutMs?: number;
}

/**
 * Connects to etcd and checks that it answers (one small read of
 * /sshproxy/ within the connect budget, which also checks the credentials).
 * Errors: `cannot reach etcd at <endpoints>: <reason>`, or a line naming the
 * TLS file or the user at fault.
 */
export async function openEtcd(
  settings: EtcdSettings,
  options: OpenOptions = {},
): Promise<Result<EtcdBackend>> {
  const shown = settings.endpoints.join(",");
  if (settings.endpoints.length === 0) {
    return fail("no etcd endpoints configured (etcd.endpoints)");
  }
  const endpoints: Endpoint[] = [];
  for (const text of settings.endpoints) {
    const parsed = parseEndpoint(text);
    if (!parsed.ok) return parsed;
    endpoints.push(parsed.value);
  }
  const { cafile, certfile, keyfile } = settings.tls;
  const anyTlsFile = cafile !== "" || certfile !== "" || keyfile !== "";
  const secure = endpoints.map((endpoint) =>
    endpoint.scheme === "https" || (endpoint.scheme === "" && anyTlsFile)
  );
  if (secure.some((s) => s) && secure.some((s) => !s)) {
    return fail(
      `etcd.endpoints mix TLS and plain endpoints (${shown}): use https:// for all of them or for none`,
    );
  }
  const useTls = secure[0];
  let material: TlsMaterial = {};
  if (useTls) {
    const read = await readTlsFiles(settings);
    if (!read.ok) return read;
    material = read.value;
    await allowIpEndpointsOverTls();
  }
  const { Buffer } = await import("node:buffer");
  const etcd3 = await import("etcd3");
  // No circuit breaker and no blind retries (they multiply the waiting
  // time): a call that cannot reach one endpoint moves on to the next one,
  // each endpoint being tried at most once.
  const once = {
    execute: <T>(fn: (context: { signal: AbortSignal }) => T) =>
      Promise.resolve().then(() =>
        fn({ signal: new AbortController().signal })
      ),
  };
  const eachEndpointOnce = {
    execute: async <T>(
      fn: (context: { signal: AbortSignal }) => Promise<T>,
    ): Promise<T> => {
      let last: unknown;
      for (let attempt = 0; attempt < endpoints.length; attempt++) {
        try {
          return await fn({ signal: new AbortController().signal });
        } catch (error) {
          last = error;
          if (!(error instanceof Error) || !etcd3.isRecoverableError(error)) {
            throw error;
          }
        }
      }
      throw last;
    },
  };
  type FaultPolicy = NonNullable<
    NonNullable<
      NonNullable<ConstructorParameters<typeof etcd3.Etcd3>[0]>["faultHandling"]
    >["global"]
  >;
  let client: Etcd3;
  try {
    client = new etcd3.Etcd3({
      hosts: endpoints.map((e) => useTls ? `https://${e.address}` : e.address),
      ...(useTls
        ? {
          credentials: {
            rootCertificate: material.ca
              ? Buffer.from(material.ca)
              : (null as unknown as NodeBuffer),
            ...(material.key ? { privateKey: Buffer.from(material.key) } : {}),
            ...(material.cert ? { certChain: Buffer.from(material.cert) } : {}),
          },
        }
        : {}),
      ...(settings.username !== ""
        ? {
          auth: { username: settings.username, password: settings.password },
        }
        : {}),
      // A page of keys must never hit gRPC's 4 MiB default (long keys).
      grpcOptions: { "grpc.max_receive_message_length": 64 * 1024 * 1024 },
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + REQUEST_TIMEOUT_MS },
      faultHandling: {
        host: () => once as unknown as FaultPolicy,
        global: eachEndpointOnce as unknown as FaultPolicy,
      },
    });
  } catch (error) {
    return fail(`cannot configure the etcd client: ${errorText(error)}`);
  }
  const backend = new Etcd3Backend(client, shown, Buffer);
  const budget = options.connectTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const probe = await withTimeout(
    backend.probe(),
    budget,
    () => fail<void>(`no answer within ${budget / 1000}s`),
  );
  if (!probe.ok) {
    backend.close();
    return fail(explainOpenFailure(probe.error, settings, shown, useTls));
  }
  return ok(backend);
}

function explainOpenFailure(
  reason: string,
  settings: EtcdSettings,
  shown: string,
  useTls: boolean,
): string {
  if (/authentication failed|invalid user ID or password/i.test(reason)) {
    return `etcd at ${shown} refused user ${
      JSON.stringify(settings.username)
    }: wrong user name or password (etcd.username, etcd.password)`;
  }
  if (
    /user name is empty|authentication is not enabled/i.test(reason) &&
    settings.username === ""
  ) {
    return `etcd at ${shown} requires authentication: set etcd.username and etcd.password`;
  }
  if (/permission denied/i.test(reason)) {
    return `etcd at ${shown}: user ${
      JSON.stringify(settings.username)
    } may not read /sshproxy/ (grant it readwrite on the prefix /sshproxy/)`;
  }
  let tlsHint = "";
  if (useTls) {
    if (
      /verify|self.signed|UnknownIssuer|unknown ca|certificate/i.test(reason)
    ) {
      tlsHint = settings.tls.cafile !== ""
        ? ` (TLS: check that etcd.tls.cafile ${settings.tls.cafile} holds the CA of etcd's certificate and that the certificate names this host)`
        : " (TLS: etcd's certificate is not trusted; set etcd.tls.cafile to the CA that signed it)";
    } else if (/EPIPE|ECONNRESET|socket disconnected|handshake/i.test(reason)) {
      tlsHint = settings.tls.certfile === ""
        ? " (TLS: etcd closed the connection; does it serve TLS, and does it require a client certificate (etcd.tls.certfile, etcd.tls.keyfile)?)"
        : ` (TLS: etcd closed the connection; does it serve TLS, and does it accept etcd.tls.certfile ${settings.tls.certfile}?)`;
    }
  }
  return `cannot reach etcd at ${shown}: ${reason}${tlsHint}`;
}

/** Smallest key greater than every key starting with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  // A copy: Buffer#slice would share (and here mutate) the caller's bytes.
  const end = new Uint8Array(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.slice(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

type BufferClass = typeof NodeBuffer;

class Etcd3Backend implements EtcdBackend {
  readonly endpoints: string;
  readonly #client: Etcd3;
  readonly #Buffer: BufferClass;
  #closed = false;

  constructor(client: Etcd3, endpoints: string, buffer: BufferClass) {
    this.#client = client;
    this.endpoints = endpoints;
    this.#Buffer = buffer;
  }

  #bytes(text: string) {
    return this.#Buffer.from(text, "utf8");
  }

  async #call<T>(what: () => Promise<T>): Promise<Result<T>> {
    if (this.#closed) return fail("etcd client closed");
    const timedOut = Symbol("timeout");
    try {
      const value = await withTimeout<T | typeof timedOut>(
        what(),
        REQUEST_TIMEOUT_MS + 500,
        () => timedOut,
      );
      if (value === timedOut) {
        return fail(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`);
      }
      return ok(value as T);
    } catch (error) {
      return fail(describeEtcdError(error));
    }
  }

  probe(): Promise<Result<void>> {
    return this.#call(async () => {
      await this.#client.kv.range({
        key: this.#bytes("/sshproxy/"),
        limit: 1,
        keys_only: true,
      });
    });
  }

  async get(key: string): Promise<Result<KeyValue | undefined>> {
    const response = await this.#call(() =>
      this.#client.kv.range({ key: this.#bytes(key) })
    );
    if (!response.ok) return response;
    const kv = response.value.kvs?.[0];
    return ok(kv === undefined ? undefined : this.#toKeyValue(kv));
  }

  #toKeyValue(kv: IKeyValue): KeyValue {
    return {
      key: kv.key.toString("utf8"),
      value: kv.value ? kv.value.toString("utf8") : "",
      lease: String(kv.lease ?? "0"),
      ...(kv.create_revision == null
        ? {}
        : { createRevision: String(kv.create_revision) }),
      ...(kv.mod_revision == null
        ? {}
        : { modRevision: String(kv.mod_revision) }),
    };
  }

  async list(
    prefix: string,
    options: { keysOnly?: boolean } = {},
  ): Promise<Result<KeyValue[]>> {
    const start = this.#bytes(prefix);
    const end = this.#Buffer.from(prefixEnd(start));
    const items: KeyValue[] = [];
    let from = start;
    let revision: string | undefined;
    for (;;) {
      const request = {
        key: from,
        range_end: end,
        limit: PAGE_SIZE,
        keys_only: options.keysOnly ?? false,
        ...(revision === undefined ? {} : { revision }),
      };
      const response = await this.#call(() => this.#client.kv.range(request));
      if (!response.ok) return response;
      const page = response.value;
      revision ??= page.header?.revision;
      const kvs = page.kvs ?? [];
      for (const kv of kvs) items.push(this.#toKeyValue(kv));
      if (!page.more || kvs.length === 0) return ok(items);
      from = this.#Buffer.concat([
        kvs[kvs.length - 1].key,
        this.#Buffer.from([0]),
      ]);
    }
  }

  async put(key: string, value: string, lease?: string): Promise<Result<void>> {
    const response = await this.#call(() =>
      this.#client.kv.put({
        key: this.#bytes(key),
        value: this.#bytes(value),
        lease: lease ?? "0",
      })
    );
    return response.ok ? ok(undefined) : response;
  }

  #deleteRequest(key: string, prefix: boolean) {
    const bytes = this.#bytes(key);
    return prefix
      ? { key: bytes, range_end: this.#Buffer.from(prefixEnd(bytes)) }
      : { key: bytes };
  }

  async remove(
    key: string,
    options: { prefix?: boolean } = {},
  ): Promise<Result<number>> {
    const response = await this.#call(() =>
      this.#client.kv.deleteRange(
        this.#deleteRequest(key, options.prefix ?? false),
      )
    );
    return response.ok ? ok(Number(response.value.deleted ?? 0)) : response;
  }

  async txn(ops: readonly TxnOp[]): Promise<Result<void>> {
    const success = ops.map((op) =>
      "put" in op
        ? {
          request_put: {
            key: this.#bytes(op.put.key),
            value: this.#bytes(op.put.value),
            lease: op.put.lease ?? "0",
          },
        }
        : {
          request_delete_range: this.#deleteRequest(
            op.delete.key,
            op.delete.prefix ?? false,
          ),
        }
    );
    const response = await this.#call(() =>
      this.#client.kv.txn({ compare: [], success, failure: [] })
    );
    return response.ok ? ok(undefined) : response;
  }

  async grant(ttl: number): Promise<Result<string>> {
    const response = await this.#call(() =>
      this.#client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 })
    );
    return response.ok ? ok(String(response.value.ID)) : response;
  }

  async revoke(id: string): Promise<Result<void>> {
    const response = await this.#call(() =>
      this.#client.leaseClient.leaseRevoke({ ID: id })
    );
    if (!response.ok && /requested lease not found/.test(response.error)) {
      return ok(undefined);
    }
    return response.ok ? ok(undefined) : response;
  }

  async timeToLive(id: string): Promise<Result<number>> {
    const response = await this.#call(() =>
      this.#client.leaseClient.leaseTimeToLive({ ID: id })
    );
    if (!response.ok) {
      return /requested lease not found/.test(response.error)
        ? ok(-1)
        : response;
    }
    return ok(Number(response.value.TTL));
  }

  keepAliveOnce(id: string): Promise<Result<number>> {
    return this.#call(async () => {
      const stream = await this.#client.leaseClient.leaseKeepAlive();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let answered = false;
      try {
        return await new Promise<number>((resolve, reject) => {
          timer = setTimeout(
            () => reject(new Error("Deadline exceeded")),
            REQUEST_TIMEOUT_MS,
          );
          stream.on("data", (response: { TTL: string }) => {
            answered = true;
            resolve(Number(response.TTL));
          });
          stream.on("error", reject);
          stream.on("end", () => reject(new Error("keep-alive stream ended")));
          stream.write({ ID: id });
        });
      } finally {
        clearTimeout(timer);
        try {
          if (answered) stream.end();
          else (stream as { cancel?: () => void }).cancel?.();
        } catch {
          // already closed
        }
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#client.close();
    } catch {
      // nothing left to release
    }
  }
}
