// What the bench reads from etcd 3.4, through its JSON gateway and its
// /metrics page, with Deno's fetch (loopback, no etcdctl process per
// reading, so that sampling under load costs little): key counts, the
// leases keys are attached to, the history of puts and deletes since a
// revision (a watch replaying it), and gRPC messages received per method
// (`grpc_server_msg_received_total`, which counts every unary request and
// every message of a stream such as lease keep-alives, whichever API the
// client used: the JSON gateway forwards to the same gRPC server).

const encoder = new TextEncoder();

function base64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): string {
  const binary = atob(text);
  return new TextDecoder().decode(
    Uint8Array.from(binary, (c) => c.charCodeAt(0)),
  );
}

/** The end of the range of keys starting with `prefix`. */
function prefixEnd(prefix: string): string {
  const bytes = encoder.encode(prefix);
  const end = bytes.slice();
  end[end.length - 1]++;
  let binary = "";
  for (const byte of end) binary += String.fromCharCode(byte);
  return btoa(binary);
}

async function post(
  endpoint: string,
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Response> {
  const response = await fetch(`${endpoint}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    signal: signal ?? AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    throw new Error(
      `etcd ${path}: HTTP ${response.status}: ${
        (await response.text()).slice(0, 200)
      }`,
    );
  }
  return response;
}

interface RangeAnswer {
  header?: { revision?: string };
  kvs?: { key: string; lease?: string }[];
  count?: string;
}

/** etcd's current revision. */
export async function etcdRevision(endpoint: string): Promise<number> {
  const answer = await (await post(endpoint, "/v3/kv/range", {
    key: base64("\0"),
    count_only: true,
  })).json() as RangeAnswer;
  return Number(answer.header?.revision ?? 0);
}

/** How many keys start with `prefix`. */
export async function etcdCount(
  endpoint: string,
  prefix: string,
): Promise<number> {
  const answer = await (await post(endpoint, "/v3/kv/range", {
    key: base64(prefix),
    range_end: prefixEnd(prefix),
    count_only: true,
  })).json() as RangeAnswer;
  return Number(answer.count ?? 0);
}

/** Keys starting with `prefix` and the lease each is attached to ("0": none). */
export async function etcdKeyLeases(
  endpoint: string,
  prefix: string,
): Promise<{ key: string; lease: string }[]> {
  const answer = await (await post(endpoint, "/v3/kv/range", {
    key: base64(prefix),
    range_end: prefixEnd(prefix),
    keys_only: true,
  })).json() as RangeAnswer;
  return (answer.kvs ?? []).map((kv) => ({
    key: fromBase64(kv.key),
    lease: kv.lease ?? "0",
  }));
}

/** Puts and deletes under a prefix between two revisions. */
export interface EtcdHistory {
  /** Distinct keys put, with how many times each. */
  puts: Map<string, number>;
  deletes: number;
}

interface WatchAnswer {
  result?: {
    header?: { revision?: string };
    events?: { type?: string; kv: { key: string; mod_revision?: string } }[];
  };
  error?: { message?: string };
}

/**
 * The puts and deletes of keys under `prefix` from revision `from` to
 * `until` inclusive, replayed by a watch (etcd keeps the history until a
 * compaction, which nothing triggers on the bench's etcd).
 */
export async function etcdHistory(
  endpoint: string,
  prefix: string,
  from: number,
  until: number,
): Promise<EtcdHistory> {
  const history: EtcdHistory = { puts: new Map(), deletes: 0 };
  if (until < from) return history;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  try {
    const response = await post(endpoint, "/v3/watch", {
      create_request: {
        key: base64(prefix),
        range_end: prefixEnd(prefix),
        start_revision: String(from),
      },
    }, controller.signal);
    const reader = response.body!.pipeThrough(new TextDecoderStream())
      .getReader();
    let buffer = "";
    let seen = from - 1;
    // The history is replayed at once; a quiet second after the last event
    // means there is no event up to `until` left (keys outside the prefix
    // may have taken the last revisions).
    while (seen < until) {
      const quiet = new Promise<"quiet">((resolve) =>
        setTimeout(() => resolve("quiet"), 1000)
      );
      const next = await Promise.race([reader.read(), quiet]);
      if (next === "quiet" || next.done) break;
      buffer += next.value;
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        if (!line) continue;
        const answer = JSON.parse(line) as WatchAnswer;
        if (answer.error) {
          throw new Error(`etcd watch: ${answer.error.message ?? line}`);
        }
        for (const event of answer.result?.events ?? []) {
          const revision = Number(event.kv.mod_revision ?? 0);
          if (revision > until) continue;
          seen = Math.max(seen, revision);
          const key = fromBase64(event.kv.key);
          if (event.type === "DELETE") history.deletes++;
          else history.puts.set(key, (history.puts.get(key) ?? 0) + 1);
        }
      }
    }
    await reader.cancel().catch(() => {});
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return history;
}

/** gRPC messages etcd has received so far, per method ("Service/Method"). */
export async function etcdMessages(
  endpoint: string,
): Promise<Map<string, number>> {
  const response = await fetch(`${endpoint}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`etcd /metrics: HTTP ${response.status}`);
  return parseMessageCounts(await response.text());
}

/** `grpc_server_msg_received_total` per method from a metrics text. */
export function parseMessageCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("grpc_server_msg_received_total{")) continue;
    const method = line.match(/grpc_method="([^"]*)"/)?.[1] ?? "?";
    const service = line.match(/grpc_service="([^"]*)"/)?.[1] ?? "?";
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (!Number.isFinite(value) || value === 0) continue;
    const name = `${service.replace(/^etcdserverpb\./, "")}/${method}`;
    counts.set(name, (counts.get(name) ?? 0) + value);
  }
  return counts;
}

/** Messages per second per method between two readings `seconds` apart. */
export function messageRates(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
): Map<string, number> {
  const rates = new Map<string, number>();
  for (const [method, count] of after) {
    const delta = count - (before.get(method) ?? 0);
    if (delta > 0) rates.set(method, delta / seconds);
  }
  return rates;
}
