// The aligned table printed on stdout at the end of a run: every figure in
// short, then the targets.
import { alignedTable, outcomeText, signed } from "./report.ts";
import {
  kibToMb,
  kibToMib,
  measured,
  PATH_LABELS,
  PATH_ORDER,
  type PathId,
  type Results,
} from "./results.ts";
import { round } from "./stats.ts";

function latencyRows(r: Results): string[][] {
  const f = measured(r.latency.paths.f)?.p50;
  const insideF = measured(r.latency.paths.f)?.inGateway?.total.p50;
  const rows = [[
    "path",
    "p50",
    "p95",
    "mean",
    "added p50 over (b)",
    "over (f)",
    "inside gateway p50",
    "inside, over (f)",
  ]];
  for (const id of PATH_ORDER) {
    const o = r.latency.paths[id];
    if (!o) continue;
    if (o.status !== "measured") {
      rows.push([PATH_LABELS[id], `${o.status}: ${o.reason}`]);
      continue;
    }
    const added = r.latency.addedOverFloor[id];
    rows.push([
      PATH_LABELS[id],
      String(o.value.p50),
      String(o.value.p95),
      String(o.value.mean),
      added ? signed(added.p50) : "",
      f !== undefined && !["a", "b", "f"].includes(id)
        ? signed(o.value.p50 - f)
        : "",
      o.value.inGateway ? String(o.value.inGateway.total.p50) : "",
      o.value.inGateway && insideF !== undefined &&
        !["a", "b", "f"].includes(id)
        ? signed(round(o.value.inGateway.total.p50 - insideF))
        : "",
    ]);
  }
  return rows;
}

function throughputRows(r: Results): string[][] {
  const rows = [[
    "path",
    "MB/s (data)",
    "ratio to (b)",
    "MB/s incl. login",
    "proxy CPU s",
    "runs (MB/s, data)",
  ]];
  for (const id of ["b", "c", "e"] as PathId[]) {
    const o = r.throughput.paths[id];
    if (!o) continue;
    if (o.status !== "measured") {
      rows.push([PATH_LABELS[id], `${o.status}: ${o.reason}`]);
      continue;
    }
    rows.push([
      PATH_LABELS[id],
      String(o.value.medianMbPerSecond),
      String(r.throughput.ratioToFloor[id] ?? ""),
      String(o.value.medianOverallMbPerSecond),
      o.value.proxyCpuSeconds?.join(" ") ?? "",
      o.value.mbPerSecond.join(" "),
    ]);
  }
  return rows;
}

function memoryRows(r: Results): string[][] {
  const rows = [[
    "process",
    "RSS",
    "priv.dirty",
    "(anon)",
    "over empty Deno",
    "ssh priv.dirty",
  ]];
  const empty = measured(r.runtime)?.idle;
  if (empty) {
    rows.push([
      "an idle empty Deno, run as the launcher runs ours",
      String(kibToMib(empty.memory.rss)),
      String(kibToMib(empty.memory.privateDirty)),
      String(kibToMib(empty.anonymousPrivateDirty)),
      "",
      "",
    ]);
  }
  for (const id of ["c", "d", "g", "h"] as PathId[]) {
    const o = r.memory[id];
    if (!o) continue;
    if (o.status !== "measured") {
      rows.push([PATH_LABELS[id], `${o.status}: ${o.reason}`]);
      continue;
    }
    const { proxy, ssh } = o.value;
    rows.push([
      `ours in ${PATH_LABELS[id]}`,
      String(kibToMib(proxy.rss)),
      String(kibToMib(proxy.privateDirty)),
      String(kibToMib(o.value.proxyAnonymousPrivateDirty)),
      empty
        ? `+${kibToMib(proxy.privateDirty - empty.memory.privateDirty)}`
        : "",
      String(kibToMib(ssh.privateDirty)),
    ]);
  }
  return rows;
}

/** The aligned table printed on stdout at the end of a run. */
export function consoleTable(r: Results): string {
  const out: string[] = [];
  out.push(
    `sshproxy benchmark — ${r.date}${
      r.quick ? " (QUICK run, not comparable)" : ""
    }`,
    `machine: ${r.machine.nproc} cores, ${r.machine.memTotalMiB} MiB, kernel ${r.machine.kernel}, deno ${r.machine.deno}; load ${
      round(r.machine.loadAverage1m, 2)
    } → ${round(r.machine.loadAverage1mEnd, 2)}`,
    "",
    `1. login latency, ${r.latency.logins} sequential logins per path (ms)`,
    alignedTable(latencyRows(r)),
    "",
    `2. throughput, ${r.throughput.bytes} bytes from the destination's /dev/zero (median of ${r.throughput.repeats})`,
    alignedTable(throughputRows(r)),
    "",
    "3. memory of an idle session (MiB)",
    alignedTable(memoryRows(r)),
    "",
    "4. concurrency",
  );
  const concurrency = (label: string, o: Results["concurrency"] | undefined) =>
    `${label}: ${
      outcomeText(
        o,
        (c) =>
          `${c.succeeded}/${c.sessions} through (${c.path}) in ${c.wallSeconds} s; peak ${c.peak.proxies} of ours, ${c.peak.privateDirtyMiB} MiB private dirty${
            c.failures.length
              ? `; failures: ${
                c.failures.map((f) => `${f.count}× ${f.message}`).join("; ")
              }`
              : ""
          }`,
      )
    }`;
  out.push(
    concurrency("  stateless (c)", r.logins50?.c),
    concurrency("  etcd (d)", r.logins50?.d),
    concurrency("  etcd (d), many", r.concurrency),
    concurrency("  agent (g), many", r.agentConcurrency),
    "",
    "5. burst of 1 MB round trips",
  );
  for (const id of ["b", "d"] as PathId[]) {
    out.push(
      `  (${id}): ${
        outcomeText(
          r.burst?.[id],
          (b) =>
            `${b.byteExact}/${b.sessions} byte-exact in ${b.wallSeconds} s; per session p50 ${b.sessionSeconds.p50} s, p95 ${b.sessionSeconds.p95} s${
              b.registrations
                ? `; ${b.registrations.registered} registered in etcd, ${b.registrations.leftAtEnd} keys left at the end`
                : ""
            }`,
        )
      }`,
    );
  }
  out.push("", "6. idle sessions: etcd requests per second, ours per session");
  for (const id of ["d", "g", "h"] as PathId[]) {
    out.push(
      `  (${id}): ${
        outcomeText(
          r.idleSessions?.[id],
          (s) =>
            `${s.sessions} sessions: etcd ${s.etcd.loadedRate} req/s (${s.etcd.idleRate} with none); ${s.ours.processes} of our processes, ${
              kibToMib(s.privateDirtyPerSessionKiB)
            } MiB private dirty per session`,
        )
      }`,
    );
  }
  out.push(
    "",
    "7. sshproxyctl at scale (10,000 connection keys)",
    outcomeText(
      r.ctl,
      (c) =>
        c.figures
          ? JSON.stringify(c.figures)
          : c.output.split("\n").slice(-10).join("\n"),
    ),
    "",
    "targets",
    alignedTable([
      ["issue", "target", "measured", "status"],
      ...r.targets.map((t) => [
        t.issue ? `#${t.issue}` : "",
        `${t.name}: ${t.target}`,
        t.measured,
        t.met === null ? "not measured" : t.met ? "met" : "MISSED",
      ]),
    ]),
  );
  const empty = measured(r.runtime);
  if (empty) {
    out.push(
      "",
      `runtime floor: an empty module started as the launcher starts ours: ${empty.emptyStartMs.p50} ms by hand (bare \`deno run\`: ${empty.bareStartMs.p50} ms), ${
        kibToMb(empty.idle.memory.privateDirty)
      } MB private dirty idle`,
    );
  }
  return out.join("\n") + "\n";
}
