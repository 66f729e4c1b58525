// `sshproxyctl show metrics`: the agent's Prometheus text (agent_metrics.ts)
// read back and told in a few lines for an operator without Prometheus or
// Grafana at hand. Pure: text in, lines out. Only the exposition format's
// sample lines are read (`name{label="value",...} number`); comments and
// anything unknown are skipped, so an agent of another version still gives
// what both know.

/** One sample of an exposition text. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => c === "n" ? "\n" : c);
}

function number(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** The samples of a text exposition (lines that are not samples are skipped). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE.exec(line.trim());
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[3] ?? "").matchAll(LABEL)) {
      labels[label[1]] = unescape(label[2]);
    }
    const value = number(match[4]);
    if (!Number.isNaN(value)) samples.push({ name: match[1], labels, value });
  }
  return samples;
}

function sum(
  samples: Sample[],
  name: string,
  where: Record<string, string> = {},
) {
  return samples.filter((s) =>
    s.name === name &&
    Object.entries(where).every(([key, value]) => s.labels[key] === value)
  ).reduce((total, s) => total + s.value, 0);
}

function has(samples: Sample[], name: string): boolean {
  return samples.some((s) => s.name === name);
}

function duration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const d = Math.floor(whole / 86400);
  const h = Math.floor((whole % 86400) / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  if (d > 0) return `${d}d${h}h${m}m`;
  if (h > 0) return `${h}h${m}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

function seconds(value: number): string {
  if (value === Infinity) return "more";
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value} s`;
}

// The bucket bounds that hold the q-quantile of a histogram: "≤ bound".
function quantile(samples: Sample[], name: string, q: number): string {
  const buckets = samples.filter((s) => s.name === `${name}_bucket`)
    .map((s) => ({ le: number(s.labels.le ?? "+Inf"), count: s.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return "-";
  const bucket = buckets.find((b) => b.count >= q * total)!;
  return bucket.le === Infinity
    ? `> ${seconds(buckets.at(-2)?.le ?? 0)}`
    : `≤ ${seconds(bucket.le)}`;
}

function counts(entries: [string, number][]): string {
  return entries.filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`)
    .join(", ");
}

/** A few lines on the agent's state, for a terminal. */
export function summarizeMetrics(
  samples: Sample[],
  nowSeconds: number,
): string[] {
  const lines: string[] = [];
  const version = samples.find((s) => s.name === "sshproxy_agent_info")
    ?.labels.version;
  const started = samples.find((s) => s.name === "process_start_time_seconds")
    ?.value;
  const rss = samples.find((s) => s.name === "process_resident_memory_bytes")
    ?.value;
  lines.push(
    `agent${version ? ` ${version}` : ""}${
      started ? `, up ${duration(nowSeconds - started)}` : ""
    }${rss ? `, ${(rss / 1048576).toFixed(1)} MiB resident` : ""}`,
  );

  const byOutcome = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== "sshproxy_logins_total") continue;
    const outcome = s.labels.outcome ?? "?";
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + s.value);
  }
  const proxied = byOutcome.get("proxied") ?? 0;
  byOutcome.delete("proxied");
  const refused = [...byOutcome.values()].reduce((a, b) => a + b, 0);
  const extra = counts([
    [
      "left to route themselves",
      sum(samples, "sshproxy_agent_fallbacks_total"),
    ],
    [
      "route(s) withdrawn",
      sum(samples, "sshproxy_agent_withdrawn_routes_total"),
    ],
    [
      "left before asking",
      sum(samples, "sshproxy_agent_abandoned_clients_total"),
    ],
  ]);
  lines.push(
    `logins: ${proxied} proxied, ${refused} refused${
      refused > 0 ? ` (${counts([...byOutcome].sort())})` : ""
    }${extra ? `; ${extra}` : ""}`,
  );
  if (sum(samples, "sshproxy_login_duration_seconds_count") > 0) {
    lines.push(
      `login time (to ssh): median ${
        quantile(samples, "sshproxy_login_duration_seconds", 0.5)
      }, 90% ${quantile(samples, "sshproxy_login_duration_seconds", 0.9)}`,
    );
  }
  const decisions = sum(
    samples,
    "sshproxy_agent_decision_duration_seconds_count",
  );
  if (decisions > 0) {
    const mirrored = sum(samples, "sshproxy_agent_routing_reads_total", {
      source: "mirror",
    });
    const withEtcd = mirrored +
      sum(samples, "sshproxy_agent_routing_reads_total", { source: "etcd" });
    lines.push(
      `decisions: ${decisions}, median ${
        quantile(samples, "sshproxy_agent_decision_duration_seconds", 0.5)
      }, 90% ${
        quantile(samples, "sshproxy_agent_decision_duration_seconds", 0.9)
      }${
        withEtcd > 0
          ? `; ${mirrored} of ${withEtcd} read the watched copy of etcd`
          : ""
      }`,
    );
  }

  const live = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== "sshproxy_sessions" || s.value === 0) continue;
    const destination = s.labels.destination ?? "?";
    live.set(destination, (live.get(destination) ?? 0) + s.value);
  }
  const total = [...live.values()].reduce((a, b) => a + b, 0);
  lines.push(
    `live sessions: ${total}${
      total > 0
        ? ` (${
          [...live].sort(([a], [b]) => a.localeCompare(b)).map(([d, n]) =>
            `${d} ${n}`
          ).join(", ")
        })`
        : ""
    }`,
  );

  const states = samples.filter((s) =>
    s.name === "sshproxy_destination_state" && s.value === 1
  ).map((s) => [s.labels.destination ?? "?", s.labels.state ?? "?"] as const)
    .sort(([a], [b]) => a.localeCompare(b));
  if (states.length > 0) {
    lines.push(
      `destinations: ${states.map(([d, state]) => `${d} ${state}`).join(", ")}`,
    );
  }

  if (
    has(samples, "sshproxy_etcd_requests_total") ||
    has(samples, "sshproxy_agent_mirror_up")
  ) {
    const up = samples.find((s) => s.name === "sshproxy_agent_mirror_up");
    const keys = samples.find((s) => s.name === "sshproxy_agent_mirror_keys");
    const requests = sum(samples, "sshproxy_etcd_requests_total");
    const errors = sum(samples, "sshproxy_etcd_request_errors_total");
    const watch = up === undefined
      ? ""
      : up.value === 1
      ? `watch up (${keys?.value ?? 0} keys), `
      : "watch DOWN (decisions read etcd), ";
    lines.push(
      `etcd: ${watch}${requests} requests, ${errors} error(s)`,
    );
  }
  const rejected = sum(samples, "sshproxy_agent_rejected_clients_total");
  if (rejected > 0) {
    const reasons = samples.filter((s) =>
      s.name === "sshproxy_agent_rejected_clients_total"
    ).map((s) => [s.labels.reason ?? "?", s.value] as [string, number]);
    lines.push(`clients turned away: ${rejected} (${counts(reasons)})`);
  }
  return lines;
}
