import assert from "node:assert/strict";
import { targets } from "../../scripts/bench/targets.ts";
import type { Results } from "../../scripts/bench/results.ts";

const latency = (p50: number) => ({
  status: "measured" as const,
  value: { n: 1, p50, p95: p50, mean: p50, min: p50, max: p50, samplesMs: [] },
});

function results(paths: Record<string, number>): Results {
  return {
    quick: true,
    latency: {
      logins: 1,
      paths: Object.fromEntries(
        Object.entries(paths).map(([id, p50]) => [id, latency(p50)]),
      ),
      addedOverFloor: {},
    },
    throughput: { bytes: 0, repeats: 0, paths: {}, ratioToFloor: {} },
    memory: {},
    concurrency: { status: "not measured", reason: "" },
    ctl: { status: "not measured", reason: "" },
    burst: {
      d: {
        status: "measured",
        value: {
          sessions: 20,
          bytes: 1_000_000,
          byteExact: 20,
          wallSeconds: 40,
          sessionSeconds: { n: 1, p50: 1, p95: 1, mean: 1, min: 1, max: 1 },
          failures: [],
        },
      },
    },
  } as unknown as Results;
}

const find = (r: Results, start: string) =>
  targets(r).find((t) => t.name.startsWith(start))!;

Deno.test("stateless latency is judged against the runtime's floor (f), not the exec-ssh floor (b)", () => {
  const within = find(results({ b: 400, f: 440, c: 447 }), "stateless (c)");
  assert.equal(within.met, true);
  assert.match(within.measured, /\(c\) − \(f\) = 7 ms; \(f\) − \(b\) = 40 ms/);
  const over = find(results({ b: 400, f: 440, c: 449 }), "stateless (c)");
  assert.equal(over.met, false);
});

Deno.test("latency targets judge the logins' time inside the gateway when the run stamped it", () => {
  const r = results({ b: 400, f: 440, c: 470, g: 460 });
  const inside = (id: string, p50: number) => {
    const path = r.latency.paths[id as "c"];
    if (path?.status !== "measured") throw new Error(id);
    const summary = { n: 1, p50, p95: p50, mean: p50, min: p50, max: p50 };
    path.value.inGateway = {
      toSsh: summary,
      afterSsh: summary,
      total: summary,
      samplesMs: [p50],
    };
  };
  inside("f", 20.5);
  inside("c", 27.9);
  inside("g", 28.4);
  // Whole logins say 30 ms; inside the gateway, where the two differ, 7.4.
  const stateless = find(r, "stateless (c)");
  assert.equal(stateless.met, true);
  assert.match(
    stateless.measured,
    /\(c\) − \(f\) = 7\.4 ms inside the gateway; whole logins \(c\) − \(f\) = 30 ms; \(f\) − \(b\) = 40 ms/,
  );
  const agent = find(r, "through the agent (g)");
  assert.equal(agent.met, false, "0.5 ms over (c) inside, though -10 whole");
  // Without stamps on one side, whole logins decide.
  const etcd = find(results({ c: 470, d: 475 }), "etcd (d)");
  assert.equal(etcd.met, true);
  assert.equal(etcd.measured, "(d) − (c) = 5 ms");
});

Deno.test("a path missing from the run leaves its target unmeasured, not met", () => {
  const noFloor = find(results({ b: 400, c: 410 }), "stateless (c)");
  assert.equal(noFloor.met, null);
  const agent = find(results({ c: 500, d: 505 }), "through the agent (g)");
  assert.equal(agent.met, null);
});

Deno.test("a burst smaller than the reference's 100 sessions is not held to its time", () => {
  const wall = find(
    results({}),
    "20 concurrent 1 MB round trips with etcd (d): wall",
  );
  assert.equal(wall.met, null);
  assert.equal(
    find(results({}), "20 concurrent 1 MB round trips with etcd (d): byte").met,
    true,
  );
});
