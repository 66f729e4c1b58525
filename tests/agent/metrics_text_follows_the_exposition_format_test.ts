// The agent's hand-written Prometheus text exposition (src/agent/metrics.ts).
// (tests/e2e/agent_metrics_test.ts also checks a live agent's output with
// promtool and scrapes it with a real Prometheus.)
import assert from "node:assert/strict";
import { Registry } from "../../src/agent/metrics.ts";

Deno.test("counters, gauges and histograms render with HELP, TYPE and escaped labels", () => {
  const registry = new Registry();
  const logins = registry.counter("sshproxy_logins_total", "Logins.", [
    { outcome: "proxied" },
  ]);
  logins.inc({ outcome: "proxied" });
  logins.inc({ outcome: "banner" }, 2);
  registry.gauge(
    "sshproxy_sessions",
    "Live sessions\nby destination.",
    () => [{ labels: { destination: 'we"ird\\host\n' }, value: 3 }],
  );
  const latency = registry.histogram(
    "sshproxy_login_duration_seconds",
    "Latency.",
    [0.1, 1],
  );
  latency.observe(0.05);
  latency.observe(0.5);
  latency.observe(7);
  assert.equal(
    registry.render(),
    [
      "# HELP sshproxy_logins_total Logins.",
      "# TYPE sshproxy_logins_total counter",
      'sshproxy_logins_total{outcome="proxied"} 1',
      'sshproxy_logins_total{outcome="banner"} 2',
      "# HELP sshproxy_sessions Live sessions\\nby destination.",
      "# TYPE sshproxy_sessions gauge",
      'sshproxy_sessions{destination="we\\"ird\\\\host\\n"} 3',
      "# HELP sshproxy_login_duration_seconds Latency.",
      "# TYPE sshproxy_login_duration_seconds histogram",
      'sshproxy_login_duration_seconds_bucket{le="0.1"} 1',
      'sshproxy_login_duration_seconds_bucket{le="1"} 2',
      'sshproxy_login_duration_seconds_bucket{le="+Inf"} 3',
      "sshproxy_login_duration_seconds_sum 7.55",
      "sshproxy_login_duration_seconds_count 3",
      "",
    ].join("\n"),
  );
});

Deno.test("a family cannot be registered twice nor under an invalid name", () => {
  const registry = new Registry();
  registry.counter("a_total", "A.");
  assert.throws(() => registry.counter("a_total", "A."), /twice/);
  assert.throws(() => registry.counter("a-b", "A."), /invalid/);
});
