// The etcd client: etcd v3's JSON gateway (served by etcd 3.4+ on its client
// URL) over HTTP/1.1 (src/net/http1_client.ts, on Deno.connect and
// Deno.connectTls; Deno's fetch cost every login ~6 ms of module loading at
// its first request). It
// replaces the npm `etcd3` client (grpc-js): that one cost 120-250 ms and
// ~20 MiB to load at every login, and its HTTP/2 (Deno's node:http2 over
// nghttp2) could abort or crash the whole process when etcd closed a
// connection (denoland/deno#36788), which ended the user's session. Here
// the wire is HTTP/1.1 JSON over Deno's own sockets.
//
// Behaviour (the rules are in etcd_client.ts's header):
// - Fail-over: a request starts on the endpoint that answered last; an
//   endpoint that cannot be reached (refused, reset, TLS, no such host) or
//   that cannot serve (gRPC status UNAVAILABLE: no leader, gateway off...)
//   passes the request to the next one at once, and one that stays silent
//   for the request's budget divided by the number of endpoints is joined
//   by the next one (the first answer wins, the others are cancelled). So a
//   dead member among three costs a third of the budget, not all of it.
//   Every request repeats safely except a lease grant, whose late duplicate
//   is revoked.
// - Authentication: the token of /v3/auth/authenticate travels in the
//   `Authorization` header; when etcd says it is invalid or stale (etcd
//   restarted, auth store changed) the client authenticates again, once,
//   and repeats the request.
// - Budgets: opening (authentication and one read) within the connect
//   budget, each call (its fail-over and re-authentication included)
//   within REQUEST_TIMEOUT_MS.
// - Proxy variables of the environment never apply: the HTTP client reads
//   none. TLS material is still checked by Deno.createHttpClient
//   (direct_http_client.ts), whose errors name the file at fault.
// - Watch (the gateway agent's mirror of /sshproxy/, etcd_watch.ts): one
//   long POST /v3/watch whose answer is a stream of messages, on the
//   endpoint that answered last, else the next one; the same token (renewed
//   once when etcd no longer knows it), the same HTTP client. A
//   stream that ends, whatever the reason, says so once and is not
//   restarted here: the caller resumes from the revision it reached, or
//   reads again after a compaction.
import type { EtcdSettings } from "../config/types.ts";
import { createDirectHttpClient } from "../net/direct_http_client.ts";
import { FetchClient } from "../net/fetch_client.ts";
import {
  Http1Client,
  type Http1StreamingResponse,
  type Http1Tls,
} from "../net/http1_client.ts";
import { fail, ok, type Result } from "../result.ts";
import { type Deadline, ioDeadline } from "../system/timers.ts";
import {
  type EtcdBackend,
  type KeyValue,
  type OpenOptions,
  REQUEST_TIMEOUT_MS,
  type TxnOp,
} from "./etcd_client.ts";
import {
  decodeRevision,
  decodeSummary,
  decodeWatchMessage,
  type PrefixSnapshot,
  type PrefixSummary,
  revisionRequest,
  summaryRequest,
  type WatchableEtcd,
  type WatchEnd,
  type WatchMessage,
  watchRequest,
  type WatchStream,
} from "./etcd_watch.ts";
import {
  decodeDeleted,
  decodeGrant,
  decodeKeepAlive,
  decodeRange,
  decodeReadTxn,
  decodeTimeToLive,
  decodeToken,
  decodeTxn,
  deleteRequest,
  type EtcdRefusal,
  keyAfter,
  parseAnswer,
  prefixEnd,
  putRequest,
  type RangeAnswer,
  type RangeItem,
  rangeRequest,
  readTxnRequest,
  refusalOf,
  streamMessage,
  transportReason,
  txnRequest,
  utf8,
} from "./etcd_wire.ts";

// Sent with every request. `accept` as Deno's fetch sent it: without it,
// etcd 3.4's gateway answers a request without credentials from a client
// certificate lacking a Common Name with "permission denied" instead of
// "user name is empty", which hides the fix (set etcd.username).
const REQUEST_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json",
  accept: "*/*",
};

// Keys fetched per range request.
const PAGE_SIZE = 10_000;

type Json = Record<string, unknown>;

/** A failure of one exchange: etcd's refusal, or no usable answer at all. */
type Failure = Omit<EtcdRefusal, "kind"> & {
  kind: EtcdRefusal["kind"] | "unreachable";
};
type Exchange = { ok: true; value: Json } | Failure;
type Parse = (text: string) => Result<Json> | EtcdRefusal;

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
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].trim() || "unknown error";
}

function fileErrorText(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  return errorText(error);
}

interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

const PEM_CERTIFICATE =
  /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;

// Reads each TLS file so that a missing or unreadable one is named, instead
// of surfacing later as an anonymous handshake failure.
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
  ): Promise<Result<string | undefined>> => {
    if (path === "") return ok(undefined);
    try {
      return ok(await Deno.readTextFile(path));
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
  return ok({ ca: ca.value, cert: cert.value, key: key.value });
}

function clientOptions(material: TlsMaterial): Deno.CreateHttpClientOptions {
  return {
    // HTTP/1.1 only: the gateway speaks it, and no HTTP/2 stack is involved.
    http1: true,
    http2: false,
    ...(material.ca !== undefined ? { caCerts: [material.ca] } : {}),
    ...(material.cert !== undefined && material.key !== undefined
      ? { cert: material.cert, key: material.key }
      : {}),
  };
}

function http1Tls(material: TlsMaterial): Http1Tls {
  return material.ca !== undefined ? { caCerts: [material.ca] } : {};
}

/** The transports etcd's requests go through (same interface). */
type Transport = Http1Client | FetchClient;

// What is wrong with the TLS files that a look at them shows: a line
// naming the file, or undefined.
function checkTlsMaterial(
  settings: EtcdSettings,
  material: TlsMaterial,
): string | undefined {
  const { cafile, certfile, keyfile } = settings.tls;
  // Deno would take a CA file without certificates silently, and every
  // handshake would then fail as "UnknownIssuer".
  if (
    material.ca !== undefined &&
    (material.ca.match(PEM_CERTIFICATE) ?? []).length === 0
  ) {
    return `etcd.tls.cafile ${cafile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  }
  if (material.cert !== undefined && material.key !== undefined) {
    if ((material.cert.match(PEM_CERTIFICATE) ?? []).length === 0) {
      return `etcd.tls.certfile ${certfile} is not a PEM certificate: no -----BEGIN CERTIFICATE-----`;
    }
    if (!PEM_PRIVATE_KEY.test(material.key)) {
      return `etcd.tls.keyfile ${keyfile} is not a PEM private key: no -----BEGIN PRIVATE KEY-----`;
    }
  }
  return undefined;
}

// Which file a TLS set-up that Deno refused (`error`) is at fault for, as
// one line: each part is tried alone so that the message names the right
// file.
function explainTlsRefusal(
  settings: EtcdSettings,
  material: TlsMaterial,
  error: unknown,
): string {
  const { cafile, certfile, keyfile } = settings.tls;
  if (material.ca !== undefined) {
    try {
      createDirectHttpClient(clientOptions({ ca: material.ca })).close();
    } catch (caError) {
      return `etcd.tls.cafile ${cafile} holds an unreadable certificate: ${
        errorText(caError)
      }`;
    }
  }
  const text = errorText(error);
  if (material.cert !== undefined && material.key !== undefined) {
    if (/KeyMismatch|keys may not be consistent/i.test(text)) {
      return `etcd.tls.keyfile ${keyfile} is not the key of etcd.tls.certfile ${certfile}`;
    }
    if (/key/i.test(text)) {
      return `etcd.tls.keyfile ${keyfile} is not a PEM private key: ${text}`;
    }
    return `etcd.tls.certfile ${certfile} is not a PEM certificate: ${text}`;
  }
  return `cannot configure the etcd client: ${text}`;
}

/**
 * Connects to etcd through its JSON gateway and checks that it answers
 * (authentication, then one small read of /sshproxy/, within the connect
 * budget). See openEtcd in etcd_client.ts for the messages.
 */
export async function openHttpEtcd(
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
    const wrong = checkTlsMaterial(settings, material);
    if (wrong !== undefined) return fail(wrong);
  }
  // A client certificate goes through Deno's fetch, everything else
  // through Http1Client (fetch_client.ts says why). Deno's TLS set-up
  // names what is wrong with the files (an unreadable certificate, a key
  // that is not the certificate's) before any connection.
  let client: Transport;
  try {
    if (material.cert !== undefined && material.key !== undefined) {
      client = new FetchClient(clientOptions(material), {
        whileWaiting: options.whileWaiting,
        oneAtATime: options.fewConnections ?? false,
      });
    } else {
      if (useTls) createDirectHttpClient(clientOptions(material)).close();
      client = new Http1Client(
        useTls ? http1Tls(material) : undefined,
        options.whileWaiting,
      );
    }
  } catch (error) {
    return fail(explainTlsRefusal(settings, material, error));
  }
  const backend = new HttpEtcd(client, {
    shown,
    names: [...settings.endpoints],
    urls: endpoints.map((e) => `${useTls ? "https" : "http"}://${e.address}`),
    credentials: settings.username === ""
      ? undefined
      : { name: settings.username, password: settings.password },
  });
  const opened = await backend.open(
    options.connectTimeoutMs ?? REQUEST_TIMEOUT_MS,
    options.firstLists ?? [],
  );
  if (!opened.ok) {
    backend.close();
    return fail(explainOpenFailure(opened.error, settings, shown, useTls));
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
  if (/user name is empty/i.test(reason) && settings.username === "") {
    return `etcd at ${shown} requires authentication: set etcd.username and etcd.password`;
  }
  if (/permission denied/i.test(reason)) {
    return `etcd at ${shown}: user ${
      JSON.stringify(settings.username)
    } may not read /sshproxy/ (grant it readwrite on the prefix /sshproxy/)`;
  }
  let hint = "";
  if (useTls) {
    const { cafile, certfile } = settings.tls;
    if (/certificate is not accepted \(NotValidForName/.test(reason)) {
      hint =
        " (TLS: etcd's certificate does not name the host of the endpoint; use a name or address listed in its subjectAltName)";
    } else if (/certificate is not accepted/.test(reason)) {
      hint = cafile !== ""
        ? ` (TLS: check that etcd.tls.cafile ${cafile} holds the CA of etcd's certificate)`
        : " (TLS: etcd's certificate is not trusted; set etcd.tls.cafile to the CA that signed it)";
    } else if (/refused the handshake/.test(reason)) {
      hint = certfile === ""
        ? " (TLS: etcd requires a client certificate: set etcd.tls.certfile and etcd.tls.keyfile)"
        : ` (TLS: does etcd trust the CA of etcd.tls.certfile ${certfile}?)`;
    } else if (
      reason === "connection closed" ||
      reason.startsWith('connection error: desc = "transport: ')
    ) {
      // The gateway's own connection to etcd's gRPC server failed (its
      // answer: UNAVAILABLE, "connection closed", or a transport error
      // such as a reset while writing the client preface, depending on
      // timing): with client certificates required, etcd dials itself with
      // its server certificate, which must then allow client
      // authentication.
      hint =
        " (etcd's JSON gateway cannot connect to etcd itself: with --client-cert-auth, etcd's server certificate must also allow client authentication, extendedKeyUsage clientAuth)";
    } else if (/closed the handshake|closed the connection/.test(reason)) {
      hint = " (does etcd serve TLS on this port?)";
    }
  } else if (/closed the connection without answering/.test(reason)) {
    hint =
      " (does etcd serve TLS there? use https:// endpoints or set etcd.tls.cafile)";
  }
  return `cannot reach etcd at ${shown}: ${reason}${hint}`;
}

interface Target {
  /** All endpoints as configured, for messages. */
  shown: string;
  /** Each endpoint as configured. */
  names: string[];
  /** Each endpoint's base URL. */
  urls: string[];
  credentials?: { name: string; password: string };
}

/** A listing the open read: whole, or its first page and where the rest starts. */
interface OpenedListing {
  items: KeyValue[];
  rest?: { from: Uint8Array; revision: string };
}

class HttpEtcd implements WatchableEtcd {
  readonly endpoints: string;
  readonly #client: Transport;
  readonly #target: Target;
  // The endpoint that answered last: where the next request starts.
  #preferred = 0;
  #token: string | undefined;
  #authenticating: Promise<Result<void>> | undefined;
  readonly #inflight = new Set<AbortController>();
  #closed = false;
  // The open's listings by prefix, until this client writes anything.
  #opened = new Map<string, OpenedListing>();

  constructor(client: Transport, target: Target) {
    this.#client = client;
    this.#target = target;
    this.endpoints = target.shown;
  }

  /**
   * Authenticates (when configured) and reads /sshproxy/ once: one key of
   * it, or the first page of each of `firstLists` (one request), each kept
   * for later reads when it is the whole listing.
   */
  async open(
    budgetMs: number,
    firstLists: readonly string[],
  ): Promise<Result<void>> {
    const deadline = Date.now() + budgetMs;
    if (this.#target.credentials !== undefined) {
      const authenticated = await this.#authenticate(budgetMs);
      if (!authenticated.ok) return authenticated;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) return fail(`no answer within ${budgetMs / 1000}s`);
    const ranges = firstLists.length === 0
      ? [rangeRequest(utf8("/sshproxy/"), { limit: 1, keysOnly: true })]
      : firstLists.map((prefix) => {
        const start = utf8(prefix);
        return rangeRequest(start, {
          rangeEnd: prefixEnd(start),
          limit: PAGE_SIZE,
        });
      });
    const one = ranges.length === 1;
    const probe = await this.#exchange(
      one ? "/v3/kv/range" : "/v3/kv/txn",
      JSON.stringify(one ? ranges[0] : readTxnRequest(ranges)),
      parseAnswer,
      this.#token,
      remaining,
    );
    if (!probe.ok) return fail(probe.error);
    if (firstLists.length === 0) return ok(undefined);
    let answers: RangeAnswer[];
    if (one) {
      const range = decodeRange(probe.value);
      if (!range.ok) return range;
      answers = [range.value];
    } else {
      const ranges = decodeReadTxn(probe.value);
      if (!ranges.ok) return ranges;
      answers = ranges.value;
    }
    for (const [index, answer] of answers.entries()) {
      const last = answer.items.at(-1);
      this.#opened.set(firstLists[index], {
        items: answer.items.map((item) => item.kv),
        // More than a page: list() reads the rest at the same revision.
        rest: answer.more && last !== undefined
          ? { from: keyAfter(last.rawKey), revision: answer.revision }
          : undefined,
      });
    }
    return ok(undefined);
  }

  // What this client wrote may be missing from the open's listings.
  #forgetOpened(): void {
    this.#opened.clear();
  }

  async #authenticate(budgetMs: number): Promise<Result<void>> {
    const credentials = this.#target.credentials!;
    const answer = await this.#exchange(
      "/v3/auth/authenticate",
      JSON.stringify({
        name: credentials.name,
        password: credentials.password,
      }),
      parseAnswer,
      undefined,
      budgetMs,
    );
    if (!answer.ok) return fail(answer.error);
    const token = decodeToken(answer.value);
    if (!token.ok) return token;
    this.#token = token.value;
    return ok(undefined);
  }

  // One authentication at a time, however many requests found the token
  // stale; a request whose token was already replaced just retries.
  #renewToken(stale: string | undefined, budgetMs: number) {
    if (this.#token !== stale) return Promise.resolve(ok(undefined));
    this.#authenticating ??= this.#authenticate(budgetMs).finally(() => {
      this.#authenticating = undefined;
    });
    return this.#authenticating;
  }

  // One request, with its fail-over and re-authentication, within
  // REQUEST_TIMEOUT_MS.
  async #call(
    path: string,
    request: Json,
    parse: Parse = parseAnswer,
    onLateAnswer?: (value: Json) => void,
  ): Promise<Exchange> {
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    const body = JSON.stringify(request);
    const token = this.#token;
    const answer = await this.#exchange(
      path,
      body,
      parse,
      token,
      REQUEST_TIMEOUT_MS,
      onLateAnswer,
    );
    if (
      answer.ok || answer.kind !== "token" ||
      this.#target.credentials === undefined
    ) {
      return answer;
    }
    const remaining = () => deadline - Date.now();
    const timedOut: Failure = {
      ok: false,
      kind: "unreachable",
      error: `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`,
      code: -1,
    };
    if (remaining() <= 0) return timedOut;
    const renewed = await this.#renewToken(token, remaining());
    if (!renewed.ok) {
      return {
        ok: false,
        kind: "final",
        error: `authenticating again: ${renewed.error}`,
        code: -1,
      };
    }
    if (remaining() <= 0) return timedOut;
    return this.#exchange(
      path,
      body,
      parse,
      this.#token,
      remaining(),
      onLateAnswer,
    );
  }

  // Sends one request to the endpoints in turn (see the header), within
  // `budgetMs`. A failure names each endpoint's reason when they differ.
  #exchange(
    path: string,
    body: string,
    parse: Parse,
    token: string | undefined,
    budgetMs: number,
    onLateAnswer?: (value: Json) => void,
  ): Promise<Exchange> {
    if (this.#closed) {
      return Promise.resolve({
        ok: false,
        kind: "final",
        error: "etcd client closed",
        code: -1,
      });
    }
    const count = this.#target.urls.length;
    const first = this.#preferred;
    const order = Array.from({ length: count }, (_, i) => (first + i) % count);
    const stagger = budgetMs / count;
    const reasons = new Map<number, string>();
    const controllers = new Set<AbortController>();
    return new Promise<Exchange>((resolve) => {
      let started = 0;
      let running = 0;
      let settled = false;
      // The runtime's own timers: the global setTimeout would start Deno's
      // Node-compatibility layer in every session that talks to etcd.
      let hedge: Deadline | undefined;
      let budget: Deadline | undefined = undefined;
      const summary = (): string => {
        const tried = order.slice(0, started);
        const texts = tried.map((index) => reasons.get(index) ?? "");
        if (count === 1 || new Set(texts).size === 1) return texts[0];
        return tried
          .map((index, i) => `${this.#target.names[index]}: ${texts[i]}`)
          .join("; ");
      };
      const finish = (result: Exchange) => {
        if (settled) return;
        settled = true;
        budget?.cancel();
        hedge?.cancel();
        for (const controller of controllers) controller.abort();
        resolve(result);
      };
      const startNext = () => {
        if (settled || started >= count) return;
        const index = order[started++];
        running++;
        hedge?.cancel();
        if (started < count) {
          hedge = ioDeadline(stagger);
          hedge.expired.then(startNext);
        }
        const controller = new AbortController();
        controllers.add(controller);
        this.#inflight.add(controller);
        this.#attempt(index, path, body, parse, token, controller.signal)
          .then((attempt) => {
            running--;
            controllers.delete(controller);
            this.#inflight.delete(controller);
            if (settled) {
              if (attempt.ok && !this.#closed) onLateAnswer?.(attempt.value);
              return;
            }
            if (
              attempt.ok || attempt.kind === "final" || attempt.kind === "token"
            ) {
              this.#preferred = index;
              finish(attempt);
              return;
            }
            reasons.set(index, attempt.error);
            if (started < count) startNext();
            else if (running === 0) {
              finish({
                ok: false,
                kind: "unreachable",
                error: summary(),
                code: -1,
              });
            }
          });
      };
      budget = ioDeadline(budgetMs);
      budget.expired.then(() => {
        for (const index of order.slice(0, started)) {
          if (!reasons.has(index)) {
            reasons.set(index, `no answer within ${budgetMs / 1000}s`);
          }
        }
        finish({ ok: false, kind: "unreachable", error: summary(), code: -1 });
      });
      startNext();
    });
  }

  // One request to one endpoint; never rejects.
  async #attempt(
    index: number,
    path: string,
    body: string,
    parse: Parse,
    token: string | undefined,
    signal: AbortSignal,
  ): Promise<Exchange> {
    const headers: Record<string, string> = { ...REQUEST_HEADERS };
    if (token !== undefined) headers.authorization = token;
    try {
      const response = await this.#client.post(
        `${this.#target.urls[index]}${path}`,
        { headers, body, signal },
      );
      const text = response.text;
      if (response.status !== 200) return refusalOf(response.status, text);
      const parsed = parse(text);
      if (parsed.ok) return parsed;
      return "kind" in parsed
        ? parsed
        : { ok: false, kind: "final", error: parsed.error, code: -1 };
    } catch (error) {
      if (this.#closed) {
        return {
          ok: false,
          kind: "final",
          error: "etcd client closed",
          code: -1,
        };
      }
      return {
        ok: false,
        kind: "unreachable",
        error: transportReason(error, REQUEST_TIMEOUT_MS),
        code: -1,
      };
    }
  }

  async get(key: string): Promise<Result<KeyValue | undefined>> {
    for (const [prefix, listed] of this.#opened) {
      if (key.startsWith(prefix) && listed.rest === undefined) {
        return ok(listed.items.find((kv) => kv.key === key));
      }
    }
    const answer = await this.#call(
      "/v3/kv/range",
      rangeRequest(utf8(key)),
    );
    if (!answer.ok) return fail(answer.error);
    const range = decodeRange(answer.value);
    if (!range.ok) return range;
    return ok(range.value.items[0]?.kv);
  }

  async list(
    prefix: string,
    options: { keysOnly?: boolean } = {},
  ): Promise<Result<KeyValue[]>> {
    const start = utf8(prefix);
    const rangeEnd = prefixEnd(start);
    const items: KeyValue[] = [];
    let from = start;
    // Every page is read at the revision of the first one: a consistent
    // listing even while keys come and go.
    let revision: string | undefined;
    const opened = this.#opened.get(prefix);
    if (opened !== undefined) {
      const blank = (kv: KeyValue) =>
        options.keysOnly ? { ...kv, value: "" } : kv;
      if (opened.rest === undefined) return ok(opened.items.map(blank));
      items.push(...opened.items.map(blank));
      ({ from, revision } = opened.rest);
    }
    for (;;) {
      const answer = await this.#call(
        "/v3/kv/range",
        rangeRequest(from, {
          rangeEnd,
          limit: PAGE_SIZE,
          keysOnly: options.keysOnly ?? false,
          revision,
        }),
      );
      if (!answer.ok) return fail(answer.error);
      const page = decodeRange(answer.value);
      if (!page.ok) return page;
      for (const item of page.value.items) items.push(item.kv);
      const last = page.value.items.at(-1);
      if (!page.value.more || last === undefined) return ok(items);
      if (revision === undefined && page.value.revision !== "0") {
        revision = page.value.revision;
      }
      from = keyAfter(last.rawKey);
    }
  }

  async put(key: string, value: string, lease?: string): Promise<Result<void>> {
    this.#forgetOpened();
    const answer = await this.#call(
      "/v3/kv/put",
      putRequest(key, value, lease),
    );
    return answer.ok ? ok(undefined) : fail(answer.error);
  }

  async remove(
    key: string,
    options: { prefix?: boolean } = {},
  ): Promise<Result<number>> {
    this.#forgetOpened();
    const answer = await this.#call(
      "/v3/kv/deleterange",
      deleteRequest(key, options.prefix ?? false),
    );
    return answer.ok ? decodeDeleted(answer.value) : fail(answer.error);
  }

  async txn(ops: readonly TxnOp[]): Promise<Result<void>> {
    this.#forgetOpened();
    const answer = await this.#call("/v3/kv/txn", txnRequest(ops));
    return answer.ok ? decodeTxn(answer.value) : fail(answer.error);
  }

  async grant(ttl: number): Promise<Result<string>> {
    const answer = await this.#call(
      "/v3/lease/grant",
      { TTL: String(ttl) },
      parseAnswer,
      // A slow endpoint's grant that arrives after another endpoint's:
      // nothing uses that lease, so it goes at once.
      (late) => {
        const id = decodeGrant(late);
        if (id.ok) void this.revoke(id.value);
      },
    );
    return answer.ok ? decodeGrant(answer.value) : fail(answer.error);
  }

  async revoke(id: string): Promise<Result<void>> {
    this.#forgetOpened();
    const answer = await this.#call("/v3/lease/revoke", { ID: id });
    if (answer.ok || /requested lease not found/.test(answer.error)) {
      return ok(undefined);
    }
    return fail(answer.error);
  }

  async timeToLive(id: string): Promise<Result<number>> {
    const answer = await this.#call("/v3/lease/timetolive", { ID: id });
    if (!answer.ok) {
      return /requested lease not found/.test(answer.error)
        ? ok(-1)
        : fail(answer.error);
    }
    return decodeTimeToLive(answer.value);
  }

  async keepAliveOnce(id: string): Promise<Result<number>> {
    // One request message in the body, so etcd answers once and ends the
    // stream.
    const answer = await this.#call(
      "/v3/lease/keepalive",
      { ID: id },
      streamMessage,
    );
    return answer.ok ? decodeKeepAlive(answer.value) : fail(answer.error);
  }

  async snapshot(prefix: string): Promise<Result<PrefixSnapshot>> {
    const start = utf8(prefix);
    const rangeEnd = prefixEnd(start);
    const items: RangeItem[] = [];
    let from = start;
    // Every page at the revision of the first: one consistent snapshot.
    let revision: string | undefined;
    for (;;) {
      const answer = await this.#call(
        "/v3/kv/range",
        rangeRequest(from, { rangeEnd, limit: PAGE_SIZE, revision }),
      );
      if (!answer.ok) return fail(answer.error);
      const page = decodeRange(answer.value);
      if (!page.ok) return page;
      revision ??= page.value.revision;
      items.push(...page.value.items);
      const last = page.value.items.at(-1);
      if (!page.value.more || last === undefined) {
        return ok({ items, revision: BigInt(revision) });
      }
      from = keyAfter(last.rawKey);
    }
  }

  async summary(prefix: string): Promise<Result<PrefixSummary>> {
    const answer = await this.#call("/v3/kv/range", summaryRequest(prefix));
    return answer.ok ? decodeSummary(answer.value) : fail(answer.error);
  }

  async revision(prefix: string): Promise<Result<bigint>> {
    const answer = await this.#call("/v3/kv/range", revisionRequest(prefix));
    return answer.ok ? decodeRevision(answer.value) : fail(answer.error);
  }

  watch(
    prefix: string,
    startRevision: bigint,
    onMessage: (message: WatchMessage) => void,
  ): WatchStream {
    const controller = new AbortController();
    this.#inflight.add(controller);
    const body = JSON.stringify(watchRequest(prefix, startRevision));
    const done = (async (): Promise<WatchEnd> => {
      let renewed = false;
      for (;;) {
        const token = this.#token;
        const end = await this.#watchOnce(body, token, onMessage, controller);
        if (end.kind !== "token") return end;
        // etcd no longer knows the token (it restarted): once more with a
        // new one; the watch had not started, nothing was missed.
        if (renewed || this.#target.credentials === undefined) {
          return { kind: "ended", reason: end.reason };
        }
        renewed = true;
        const again = await this.#renewToken(token, REQUEST_TIMEOUT_MS);
        if (!again.ok) {
          return {
            kind: "ended",
            reason: `authenticating again: ${again.error}`,
          };
        }
      }
    })().finally(() => this.#inflight.delete(controller));
    return { done, cancel: () => controller.abort() };
  }

  // One watch stream: the endpoints in turn until one answers, then its
  // messages until it ends.
  async #watchOnce(
    body: string,
    token: string | undefined,
    onMessage: (message: WatchMessage) => void,
    outer: AbortController,
  ): Promise<WatchEnd | { kind: "token"; reason: string }> {
    const count = this.#target.urls.length;
    const reasons: string[] = [];
    for (let i = 0; i < count; i++) {
      if (outer.signal.aborted || this.#closed) return { kind: "cancelled" };
      const index = (this.#preferred + i) % count;
      const attempt = new AbortController();
      const abort = () => attempt.abort();
      outer.signal.addEventListener("abort", abort);
      // Only the answer's start is bounded: the stream itself lasts.
      const timer = setTimeout(abort, REQUEST_TIMEOUT_MS);
      const headers: Record<string, string> = { ...REQUEST_HEADERS };
      if (token !== undefined) headers.authorization = token;
      let response: Http1StreamingResponse;
      try {
        response = await this.#client.postStreaming(
          `${this.#target.urls[index]}/v3/watch`,
          { headers, body, signal: attempt.signal },
        );
      } catch (error) {
        clearTimeout(timer);
        outer.signal.removeEventListener("abort", abort);
        if (outer.signal.aborted || this.#closed) return { kind: "cancelled" };
        reasons.push(
          `${this.#target.names[index]}: ${
            transportReason(error, REQUEST_TIMEOUT_MS)
          }`,
        );
        continue;
      }
      clearTimeout(timer);
      try {
        if (response.status !== 200) {
          const refusal = refusalOf(
            response.status,
            await new Response(response.body).text(),
          );
          if (refusal.kind === "elsewhere") {
            reasons.push(`${this.#target.names[index]}: ${refusal.error}`);
            continue;
          }
          return refusal.kind === "token"
            ? { kind: "token", reason: refusal.error }
            : { kind: "ended", reason: refusal.error };
        }
        this.#preferred = index;
        return await this.#readWatch(response.body, onMessage, outer);
      } finally {
        outer.signal.removeEventListener("abort", abort);
        attempt.abort();
      }
    }
    return {
      kind: "ended",
      reason: reasons.length === 1
        ? reasons[0].slice(reasons[0].indexOf(": ") + 2)
        : reasons.join("; "),
    };
  }

  // The messages of one stream, until it ends.
  async #readWatch(
    stream: ReadableStream<Uint8Array>,
    onMessage: (message: WatchMessage) => void,
    outer: AbortController,
  ): Promise<WatchEnd | { kind: "token"; reason: string }> {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    try {
      for (;;) {
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf("\n");
          if (line === "") continue;
          const message = decodeWatchMessage(line);
          if (!message.ok) {
            if ("kind" in message && message.kind === "token") {
              return { kind: "token", reason: message.error };
            }
            return { kind: "ended", reason: message.error };
          }
          const value = message.value;
          if (value.kind === "compacted") {
            return {
              kind: "compacted",
              compactRevision: value.compactRevision,
            };
          }
          if (value.kind === "canceled") {
            return /invalid auth token|revision of auth store is old/.test(
                value.reason,
              )
              ? { kind: "token", reason: value.reason }
              : {
                kind: "ended",
                reason: `etcd ended the watch: ${value.reason}`,
              };
          }
          onMessage(value);
        }
        const chunk = await reader.read();
        if (chunk.done) {
          return { kind: "ended", reason: "etcd closed the watch stream" };
        }
        buffered += chunk.value;
      }
    } catch (error) {
      if (outer.signal.aborted || this.#closed) return { kind: "cancelled" };
      return {
        kind: "ended",
        reason: transportReason(error, REQUEST_TIMEOUT_MS),
      };
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const controller of this.#inflight) controller.abort();
    this.#inflight.clear();
    try {
      this.#client.close();
    } catch {
      // already released
    }
  }
}
