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
