// `sshproxyctl show metrics` (src/agent/metrics_summary.ts): the agent's own
// metrics text (src/agent/agent_metrics.ts, fed here with known values) read
// back and told in a few lines; samples of unknown families, comments and
// escapes do not confuse it. Pure logic.
import assert from "node:assert/strict";
import { agentMetrics } from "../../src/agent/agent_metrics.ts";
import {
  parseExposition,
  summarizeMetrics,
} from "../../src/agent/metrics_summary.ts";
import type { LiveSession } from "../../src/agent/sessions.ts";

function session(destination: string): LiveSession {
  return {
    id: 1,
    sessionId: "0123456789",
    uid: 1001,
    user: "alice",
    service: "default",
    destination,
    sshd: "192.0.2.1:22",
    client: "198.51.100.7:5000",
    process: { pid: 4242, startTime: 1n },
    startedMs: 0,
    stats: { in: 0, out: 0 },
  };
}

Deno.test("the agent's metrics are told in a few lines", () => {
  const nowSeconds = 1_800_000_000;
  const metrics = agentMetrics({
    sessions:
      () => [session("login1:22"), session("login1:22"), session("login2:22")],
    destinations: () => [
      ["login1:22", { state: "up", checkedSeconds: nowSeconds }],
      ["login3:22", { state: "down", checkedSeconds: nowSeconds }],
    ],
    connections: () => 0,
    mirror: () => ({ live: true, keys: 345 }),
    configReloads: () => ({ ok: 1, failed: 0 }),
    startedSeconds: nowSeconds - 3723,
    memory: () => ({ rss: 70 * 1048576, heapUsed: 9 * 1048576 }),
  });
  metrics.logins.inc({ outcome: "proxied" }, 40);
  metrics.logins.inc({ outcome: "connection_limit" }, 3);
  metrics.logins.inc({ outcome: "banner" });
  metrics.fallbacks.inc({}, 2);
  metrics.withdrawn.inc();
  metrics.abandoned.inc({}, 3);
  for (let i = 0; i < 40; i++) {
    metrics.loginSeconds.observe(i < 30 ? 0.15 : 0.4);
  }
  for (let i = 0; i < 44; i++) {
    metrics.decisionSeconds.observe(i < 40 ? 0.004 : 0.03);
  }
  metrics.routingReads.inc({ source: "mirror" }, 42);
  metrics.routingReads.inc({ source: "etcd" }, 2);
  metrics.etcdRequests.inc({ operation: "range" }, 100);
  metrics.etcdRequests.inc({ operation: "txn" }, 40);
  metrics.etcdErrors.inc({ operation: "range" }, 1);
  metrics.rejected.inc({ reason: "proof" }, 2);
  const lines = summarizeMetrics(
    parseExposition(metrics.registry.render()),
    nowSeconds,
  );
  assert.deepEqual(lines.slice(1), [
    "logins: 40 proxied, 4 refused (1 banner, 3 connection_limit); 2 left to route themselves, 1 route(s) withdrawn, 3 left before asking",
    "login time (to ssh): median ≤ 200 ms, 90% ≤ 500 ms",
    "decisions: 44, median ≤ 5 ms, 90% ≤ 5 ms; 42 of 44 read the watched copy of etcd",
    "live sessions: 3 (login1:22 2, login2:22 1)",
    "destinations: login1:22 up, login3:22 down",
    "etcd: watch up (345 keys), 140 requests, 1 error(s)",
    "clients turned away: 2 (2 proof)",
  ]);
  assert.match(lines[0], /^agent \S+, up 1h2m3s, 70\.0 MiB resident$/);
});

Deno.test("an exposition with other families, comments and escapes parses", () => {
  const samples = parseExposition([
    "# HELP x_total A counter.",
    "# TYPE x_total counter",
    'x_total{path="a\\"b\\\\c",le="+Inf"} 3',
    "y 1.5e3 1700000000000",
    "z NaN",
    "not a sample line",
  ].join("\n"));
  assert.deepEqual(samples, [
    { name: "x_total", labels: { path: 'a"b\\c', le: "+Inf" }, value: 3 },
    { name: "y", labels: {}, value: 1500 },
  ]);
  // An agent without any of our families still gives a first line.
  assert.deepEqual(summarizeMetrics(samples, 0), [
    "agent",
    "logins: 0 proxied, 0 refused",
    "live sessions: 0",
  ]);
});
