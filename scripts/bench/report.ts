// Turns Results into the console table, docs/benchmarks.md and the chart.
import { latencyChart } from "./chart.ts";
import { round } from "./stats.ts";
import type { CpuBreakdown, ProfileFigures } from "./profile.ts";
import {
  kibToMb,
  type Outcome,
  PATH_LABELS,
  type PathId,
  type Results,
} from "./results.ts";

function outcomeText<T>(
  outcome: Outcome<T> | undefined,
  text: (value: T) => string,
): string {
  if (!outcome) return "—";
  if (outcome.status === "measured") return text(outcome.value);
  return `${outcome.status}: ${outcome.reason}`;
}

function signed(ms: number): string {
  return `${ms >= 0 ? "+" : ""}${Math.round(ms)}`;
}

/** Rows of equal-width columns. */
export function alignedTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) {
        widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
      }
    });
  }
  return rows.map((row) =>
    row.map((cell, i) =>
      i < row.length - 1
        ? cell + " ".repeat(widths[i] - [...cell].length)
        : cell
    ).join("  ").trimEnd()
  ).join("\n");
}

const LATENCY_ORDER: PathId[] = ["a", "b", "c", "d", "e"];

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
  );
  const rows = [["path", "p50", "p95", "mean", "added p50", "added p95"]];
  for (const id of LATENCY_ORDER) {
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
      added ? signed(added.p95) : "",
    ]);
  }
  out.push(alignedTable(rows), "");
  out.push(
    `2. throughput, ${r.throughput.bytes} bytes from the destination's /dev/zero (median of ${r.throughput.repeats})`,
  );
  const trows = [[
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
      trows.push([PATH_LABELS[id], `${o.status}: ${o.reason}`]);
      continue;
    }
    trows.push([
      PATH_LABELS[id],
      String(o.value.medianMbPerSecond),
      String(r.throughput.ratioToFloor[id] ?? ""),
      String(o.value.medianOverallMbPerSecond),
      o.value.proxyCpuSeconds?.join(" ") ?? "",
      o.value.mbPerSecond.join(" "),
    ]);
  }
  out.push(alignedTable(trows), "");
  out.push("3. memory of an idle interactive session (MB = 10^6 bytes)");
  const mrows = [[
    "path",
    "proxy RSS",
    "proxy PSS",
    "proxy priv.dirty",
    "(anon)",
    "ssh RSS",
    "ssh PSS",
    "ssh priv.dirty",
  ]];
  for (const id of ["c", "d"] as PathId[]) {
    const o = r.memory[id];
    if (!o) continue;
    if (o.status !== "measured") {
      mrows.push([PATH_LABELS[id], `${o.status}: ${o.reason}`]);
      continue;
    }
    const { proxy, ssh } = o.value;
    mrows.push([
      PATH_LABELS[id],
      ...[
        proxy.rss,
        proxy.pss,
        proxy.privateDirty,
        o.value.proxyAnonymousPrivateDirty,
        ssh.rss,
        ssh.pss,
        ssh.privateDirty,
      ]
        .map((k) => String(kibToMb(k))),
    ]);
  }
  out.push(alignedTable(mrows), "");
  out.push("4. concurrency");
  out.push(
    outcomeText(
      r.concurrency,
      (c) =>
        `${c.succeeded}/${c.sessions} sessions of \`sleep 5; echo ok\` through ${
          PATH_LABELS[c.path]
        } succeeded in ${c.wallSeconds} s; peak ${c.peak.proxies} proxies, ${c.peak.privateDirtyMiB} MiB private dirty (${c.peak.privateMiB} MiB private) summed${
          c.failures.length
            ? `; failures: ${
              c.failures.map((f) => `${f.count}× ${f.message}`).join("; ")
            }`
            : ""
        }`,
    ),
    "",
    "5. sshproxyctl at scale (10,000 connection keys)",
    outcomeText(
      r.ctl,
      (c) =>
        c.figures
          ? JSON.stringify(c.figures)
          : c.output.split("\n").slice(-10).join("\n"),
    ),
    "",
    "targets (issue 7)",
  );
  out.push(
    alignedTable([
      ["target", "measured", "status"],
      ...r.targets.map((t) => [
        `${t.name}: ${t.target}`,
        t.measured,
        t.met === null ? "not measured" : t.met ? "met" : "MISSED",
      ]),
    ]),
  );
  return out.join("\n") + "\n";
}

/** The chart of latency per path. */
export function chartSvg(r: Results): string {
  const rows = LATENCY_ORDER.flatMap((id) => {
    const o = r.latency.paths[id];
    if (!o) return [];
    return [
      o.status === "measured"
        ? { label: PATH_LABELS[id], p50: o.value.p50, p95: o.value.p95 }
        : { label: PATH_LABELS[id], note: o.status },
    ];
  });
  const floor = r.latency.paths.b;
  return latencyChart(
    "sshproxy: login latency per path (ssh … true)",
    `${r.latency.logins} sequential logins per path, ${
      r.date.slice(0, 10)
    }, ${r.machine.nproc} cores, loopback`,
    rows,
    floor?.status === "measured" ? floor.value.p50 : undefined,
  );
}

function md(text: string): string {
  return text.replaceAll("|", "\\|");
}

function cpuTable(title: string, cpu: CpuBreakdown): string[] {
  return [
    `| ${title} | ms |`,
    "| --- | ---: |",
    `| wall time of a profiled run | ${cpu.wallMs} |`,
    `| of which covered by the profile | ${cpu.profiledMs} |`,
    ...cpu.groups.filter((g) => g.ms >= 1).map((g) =>
      `| ${md(g.group)} | ${g.ms} |`
    ),
    `| everything else (groups under 1 ms each) | ${
      round(
        cpu.groups.filter((g) => g.ms < 1).reduce((t, g) => t + g.ms, 0),
      )
    } |`,
  ];
}

function whereTheTimeGoes(r: Results, p: ProfileFigures): string[] {
  const c = r.latency.addedOverFloor.c;
  const s = p.session;
  const lines: string[] = ["## Where the time goes", ""];
  lines.push(
    `Measured in the same run, outside sshd: the installed proxy run by hand as the test user, with \`SSH_CONNECTION\` and \`SSH_ORIGINAL_COMMAND=true\` set and the config of (c) except that \`ssh.exe\` is a wrapper recording when the ssh child starts and ends. Medians of ${p.repeats}.`,
    "",
    "| step (as the test user) | ms |",
    "| --- | ---: |",
    `| \`deno run\` of an empty .js module (the runtime's own start-up) | ${p.emptyDenoMs.p50} |`,
    `| \`sshproxy -version\` (launcher + loading the proxy's whole module graph) | ${p.versionMs.p50} |`,
    `| \`ssh dest true\` alone (what the proxy's child does) | ${p.sshAloneMs.p50} |`,
    `| one session of (c) by hand, in all | ${s.total.p50} |`,
    `| — start-up, until the ssh child starts | ${s.beforeSsh.p50} |`,
    `| — the ssh child | ${s.ssh.p50} |`,
    `| — after the ssh child exits, until the proxy has exited | ${s.afterSsh.p50} |`,
    ...(p.etcdSession
      ? [
        `| one session of (d) (etcd, sticky, connections) by hand, in all | ${p.etcdSession.total.p50} |`,
        `| — start-up, until the ssh child starts | ${p.etcdSession.beforeSsh.p50} |`,
        `| — the ssh child | ${p.etcdSession.ssh.p50} |`,
        `| — after the ssh child exits, until the proxy has exited | ${p.etcdSession.afterSsh.p50} |`,
      ]
      : []),
    "",
  );
  if (c) {
    lines.push(
      `Through the gateway the proxy adds ${
        Math.round(c.p50)
      } ms (p50) over the floor; run by hand, the proxy needs ${s.beforeSsh.p50} ms until its ssh starts, where the floor's \`sh -c 'exec ssh'\` needs a few ms. The added latency is the proxy's start-up; the two figures differ by the machine's load, which changes between the minutes they are measured in, and by the CPU the proxy's start-up competes for with both sshds during a real login.`,
      "",
    );
  }
  lines.push(
    ...cpuTable(
      `\`--cpu-prof\` of \`sshproxy -version\`, self time (mean of ${p.cpu.version.runs})`,
      p.cpu.version,
    ),
    "",
    ...cpuTable(
      `\`--cpu-prof\` of one session, self time (mean of ${p.cpu.session.runs}; idle includes the ssh child)`,
      p.cpu.session,
    ),
    "",
    ...(p.cpu.etcdSession
      ? [
        ...cpuTable(
          `\`--cpu-prof\` of one session of (d), self time (mean of ${p.cpu.etcdSession.runs}; idle includes the ssh child)`,
          p.cpu.etcdSession,
        ),
        "",
        "Busiest functions (self time) in a session of (d):",
        "",
        ...p.cpu.etcdSession.topFunctions.map((f) =>
          `- ${md(f.name)}: ${f.ms} ms`
        ),
        "",
      ]
      : []),
    ...(p.cpu.recording
      ? [
        ...cpuTable(
          `\`--cpu-prof\` of a recorded session of (e) by hand sending ${
            Math.round(p.cpu.recording.bytes / 2 ** 20)
          } MiB (stdout on /dev/null), self time`,
          p.cpu.recording,
        ),
        "",
        "Busiest functions (self time) while recording:",
        "",
        ...p.cpu.recording.topFunctions.map((f) =>
          `- ${md(f.name)}: ${f.ms} ms`
        ),
        "",
      ]
      : []),
    "Busiest functions (self time) in a session of (c):",
    "",
    ...p.cpu.session.topFunctions.map((f) => `- ${md(f.name)}: ${f.ms} ms`),
    "",
    `Start-up of a one-line module importing what the proxy imports (the installed Deno and config, as the test user; medians of ${p.repeats}, interleaved):`,
    "",
    "| module imports | ms | over the empty module | idle private dirty (MB) |",
    "| --- | ---: | ---: | ---: |",
    ...p.importCosts.map((ic) =>
      `| ${md(ic.what)} | ${ic.ms.p50} | ${
        signed(ic.ms.p50 - p.importCosts[0].ms.p50)
      } | ${ic.idle ? kibToMb(ic.idle.privateDirty) : ""} |`
    ),
    "",
  );
  if (p.strace) {
    const denied = p.strace.deniedWrites.length
      ? p.strace.deniedWrites.map((d) => `${d.count}× ${d.what}`).join(", ")
      : "none";
    lines.push(
      `Deno's caches, checked with \`strace -f\` on one session: ${p.strace.sleeps} sleeps (${p.strace.sleptMs} ms); writes refused under \`lib/sshproxy\`: ${
        md(denied)
      }.`,
      "",
    );
  }
  lines.push(
    "Private memory of the proxy of one hand-run session idling on `sleep` (its ssh child up, nothing flowing), with V8 flags added through a copy of the launcher (MB = 10^6 bytes):",
    "",
    "| variant | RSS (MB) | private dirty (MB) | of which anonymous (MB) | threads |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...p.memoryVariants.map((v) =>
      `| ${md(v.variant)} | ${kibToMb(v.proxy.rss)} | ${
        kibToMb(v.proxy.privateDirty)
      } | ${kibToMb(v.anonymousPrivateDirty)} | ${v.threads} |`
    ),
    "",
  );
  lines.push(...findings(p));
  return lines;
}

/** The idle memory of the import sets, as a sentence (or ""). */
function idleMemoryText(p: ProfileFigures): string {
  const find = (prefix: string) =>
    p.importCosts.find((c) => c.what.startsWith(prefix))?.idle;
  const empty = p.importCosts[0].idle;
  const today = find("today's");
  const alternative = find("alternative");
  if (!empty || !today || !alternative) return "";
  return ` Idle after loading, these modules keep ${
    kibToMb(today.privateDirty)
  } MB private dirty (today's set) against ${
    kibToMb(alternative.privateDirty)
  } MB (the alternative) and ${kibToMb(empty.privateDirty)} MB (nothing).`;
}

/** Idle memory after importing the etcd client, as a sentence (or ""). */
function etcdMemoryText(p: ProfileFigures): string {
  const client = p.importCosts.find((c) => c.what.startsWith("the etcd client"))
    ?.idle;
  const empty = p.importCosts[0].idle;
  if (!client || !empty) return "";
  return ` Idle after importing the etcd client alone, a process keeps ${
    kibToMb(client.privateDirty)
  } MB private dirty (${kibToMb(empty.privateDirty)} MB for nothing).`;
}

/** The reading of the profile, computed from this run's figures. */
function findings(p: ProfileFigures): string[] {
  const out = ["### Reading", ""];
  const s = p.session;
  if (p.strace && p.strace.sleptMs > 100) {
    out.push(
      `- **Deno's caches are not usable by users**: one session slept ${p.strace.sleptMs} ms retrying refused cache writes (Deno's atomic writes retry with sleeps of 10, 20, 30, 40, 50 ms). Deno keys its caches by module path: they must be filled at the final install path, and the node_modules set-up marker must match it (scripts/install.sh).`,
    );
  }
  const cost = (prefix: string) => {
    const found = p.importCosts.find((c) => c.what.startsWith(prefix));
    return found ? Math.round(found.ms.p50 - p.importCosts[0].ms.p50) : NaN;
  };
  const group = (cpu: CpuBreakdown, test: (g: string) => boolean) =>
    Math.round(
      cpu.groups.filter((g) => test(g.group)).reduce((t, g) => t + g.ms, 0),
    );
  const ours = group(p.cpu.session, (g) => g.startsWith("ours:"));
  const nodeLayer = group(
    p.cpu.version,
    (g) =>
      g.startsWith("Node compat") || g.startsWith("npm:") ||
      g.startsWith("Deno runtime: loading lazily"),
  );
  const moduleGraph = Math.round(p.versionMs.p50 - p.emptyDenoMs.p50);
  const sessionWork = Math.round(s.beforeSsh.p50 - p.versionMs.p50);
  out.push(
    `- The start-up until ssh runs (${s.beforeSsh.p50} ms) is: Deno itself, ${p.emptyDenoMs.p50} ms (an empty module); loading the proxy's module graph, ${moduleGraph} ms more (\`sshproxy -version\` ${p.versionMs.p50} ms); the session's own work before spawning ssh, ${sessionWork} ms more (reading the config with \`yaml\`, user and groups, opening the log, the TCP check of the destination). Our own modules' self time in a whole session is ${ours} ms.`,
    `- Most of the module-graph time is the Node-compatibility layer, which the proxy starts because the session path imports \`node:\` modules and an npm package: ${nodeLayer} ms of the JS self time of \`-version\` is Node polyfills loaded lazily, the CommonJS loader and npm code. Over an empty module: \`node:net\` ${
      cost("node:net")
    } ms, \`node:crypto\` ${cost("node:crypto")} ms, \`node:dns/promises\` ${
      cost("node:dns")
    } ms, the three together ${
      cost("the three")
    } ms (they share the layer); \`yaml\` through \`npm:\` (its CommonJS build) ${
      cost("`yaml` as")
    } ms; today's set together ${
      cost("today's set")
    } ms. The alternative — \`yaml\`'s ESM build by path, Web Crypto's SHA-1, no \`node:\` import — costs ${
      cost("alternative")
    } ms.${idleMemoryText(p)}`,
    `- After the ssh child exits, the proxy needs ${s.afterSsh.p50} ms to finish (closing the log, exiting).`,
    `- What would bring it down: taking the Node layer off the session path (own \`isIP\` instead of \`node:net\`, a SHA-1 without \`node:crypto\`, \`node:dns/promises\` imported only when a name must be resolved, \`yaml\`'s ESM build) saves about ${
      cost("today's set") - cost("alternative")
    } ms of start-up by the table above. It cannot reach the ≤ 25 ms target under \`deno run\`: an empty module alone costs ${p.emptyDenoMs.p50} ms here, against a few ms for the floor's \`sh -c 'exec ssh'\`. A compiled binary (\`deno compile\`) starts differently and could not be measured here (no \`denort\`).`,
  );
  if (p.etcdSession && p.cpu.etcdSession) {
    const e = p.etcdSession;
    const grpc = group(p.cpu.etcdSession, (g) => g.startsWith("npm:")) -
      group(p.cpu.session, (g) => g.startsWith("npm:"));
    out.push(
      `- With etcd (d), the start-up until ssh is ${e.beforeSsh.p50} ms against ${s.beforeSsh.p50} ms for (c): ${
        Math.round(e.beforeSsh.p50 - s.beforeSsh.p50)
      } ms more, for loading the etcd client (its module alone costs ${
        cost("the etcd client")
      } ms over an empty module; npm code's self time grows by ${grpc} ms in the profile) and the round trips to etcd before ssh starts (sticky lookup, connection counts, registration). After ssh exits, ${e.afterSsh.p50} ms (deleting the connection key, closing the client) against ${s.afterSsh.p50} ms.${
        Number.isNaN(cost("instead: one `fetch`"))
          ? ""
          : ` A start-up that reaches etcd with one \`fetch\` to its JSON gateway (no grpc-js, no protobuf code generation) costs ${
            cost("instead: one `fetch`")
          } ms over an empty module, request included.`
      }${etcdMemoryText(p)}`,
    );
  }
  if (p.cpu.recording) {
    const rec = p.cpu.recording;
    const rate = round(rec.bytes / (rec.wallMs / 1000) / 1e6);
    const busy = rec.groups.filter((g) =>
      !g.group.startsWith("(idle)") && !g.group.startsWith("(program)")
    ).slice(0, 3).map((g) => `${md(g.group)} ${g.ms} ms`).join(", ");
    out.push(
      `- Recording (e), by hand without sshd: ${rate} MB/s for ${
        Math.round(rec.bytes / 2 ** 20)
      } MiB (the whole session, login included, with the profiler on). Where the JS thread's time goes: (idle) ${
        rec.groups.find((g) => g.group.startsWith("(idle)"))?.ms ?? 0
      } ms, (program) ${
        rec.groups.find((g) => g.group.startsWith("(program)"))?.ms ?? 0
      } ms; the busiest groups: ${busy}. The busiest functions are listed above.${
        rec.records
          ? ` Its dump holds ${rec.records.count} output records, one per chunk read from ssh and relayed: ${
            round(rec.records.meanBytes / 1024)
          } KiB on average, ${
            round(rec.records.maxBytes / 1024)
          } KiB at most, so every ${
            round(rec.records.meanBytes / 1024)
          } KiB costs a read, a record and an awaited write.`
          : ""
      }`,
    );
  }
  const variant = (prefix: string) =>
    p.memoryVariants.find((v) => v.variant.startsWith(prefix));
  const base = variant("as installed");
  const semi = variant("with --v8-flags=--max-semi-space-size=1");
  const lite = variant("with --v8-flags=--lite-mode");
  const both = variant("with --v8-flags=--lite-mode,");
  if (base && semi && lite && both) {
    out.push(
      `- Memory: the idle proxy keeps ${
        kibToMb(base.proxy.privateDirty)
      } MB private dirty (${base.threads} threads): V8's heap and code, Deno's and the Node layer's modules. V8 flags take some off: \`--max-semi-space-size=1\` ${
        kibToMb(semi.proxy.privateDirty)
      } MB, \`--lite-mode\` ${kibToMb(lite.proxy.privateDirty)} MB, both ${
        kibToMb(both.proxy.privateDirty)
      } MB. Lite mode disables V8's optimizing compilers: harmless while the proxy only waits for its child with stdio inherited, not for a recorder that relays every byte in JS. Loading fewer modules (no Node layer) also shrinks the heap.`,
    );
  }
  out.push("");
  return out;
}

/** What the proxy's CPU during the transfers says, as paragraphs. */
function throughputReading(r: Results): string[] {
  const out: string[] = [];
  const figure = (id: PathId) => {
    const o = r.throughput.paths[id];
    return o?.status === "measured" ? o.value : undefined;
  };
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.ceil(values.length / 2) - 1];
  const c = figure("c");
  if (c?.proxyCpuSeconds) {
    out.push(
      `The proxy process itself used ${
        median(c.proxyCpuSeconds)
      } s of CPU during a transfer through (c) (median; from \`/proc/PID/stat\`, read every 200 ms while it ran): its ssh child inherits the session's stdio, so no byte passes through it, and a gap between (c) and (b) is this shared machine's noise rather than the proxy's work (compare the runs).`,
      "",
    );
  }
  const e = figure("e");
  if (e?.proxyCpuSeconds) {
    out.push(
      `With recording (e) every byte passes through the proxy, which relays and records it: it used ${
        median(e.proxyCpuSeconds)
      } s of CPU per transfer of ${
        round(r.throughput.bytes / 2 ** 30, 2)
      } GiB, on a machine with ${r.machine.nproc} cores that the four SSH endpoints of the path already keep busy.`,
      "",
    );
  }
  return out;
}

/** docs/benchmarks.md. */
export function markdown(r: Results, chartFile: string): string {
  const lines: string[] = [
    "# Benchmarks",
    "",
    "<!-- Generated by `deno task bench` (scripts/bench/main.ts); re-run it rather than editing. -->",
    "",
    `How much the gateway costs a user, side by side with the floor any ForceCommand proxy pays. Latest run: ${r.date}${
      r.quick ? " — **QUICK run (fewer repetitions), not comparable**" : ""
    }, ${r.durationSeconds} s, on the working tree of commit \`${
      r.commit.replace(/ \+ uncommitted changes$/, "")
    }\`${
      r.commit.endsWith("uncommitted changes")
        ? " with uncommitted changes (the install copies the working tree)"
        : ""
    }.`,
    "",
    `Machine: ${r.machine.nproc} cores (${
      md(r.machine.cpuModel)
    }), ${r.machine.memTotalMiB} MiB, Linux ${r.machine.kernel}, Deno ${r.machine.deno} (V8 ${r.machine.v8}), ${r.machine.openssh}, etcd ${r.machine.etcd}. Load average (1 min) ${
      round(r.machine.loadAverage1m, 2)
    } at the start and ${
      round(r.machine.loadAverage1mEnd, 2)
    } at the end: this machine is shared, so compare paths within one run, not across runs.`,
    "",
    "Everything runs on loopback: a gateway sshd (ForceCommand = the installed `sshproxy`), destination sshds, etcd, and the OpenSSH client logging in as a test account; see `scripts/bench/main.ts`.",
    "",
    "## Where we stand",
    "",
    "| target (issue 7) | measured | status |",
    "| --- | --- | --- |",
    ...r.targets.map((t) =>
      `| ${md(t.name)}: ${md(t.target)} | ${md(t.measured)} | ${
        t.met === null ? "not measured" : t.met ? "met" : "**missed**"
      } |`
    ),
    "",
    "## 1. Login latency",
    "",
    `${r.latency.logins} sequential \`ssh -T -p PORT user@host true\` per path, interleaved in ${r.latency.rounds} blocks (after 2 unrecorded logins per path); p50/p95 by nearest rank; "added" is over the floor (b) of the same run.`,
    "",
    "| path | p50 (ms) | p95 (ms) | mean (ms) | added p50 | added p95 |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const id of LATENCY_ORDER) {
    const o = r.latency.paths[id];
    if (!o) continue;
    if (o.status !== "measured") {
      lines.push(
        `| ${PATH_LABELS[id]} | ${o.status}: ${md(o.reason)} | | | | | |`,
      );
      continue;
    }
    const a = r.latency.addedOverFloor[id];
    lines.push(
      `| ${
        PATH_LABELS[id]
      } | ${o.value.p50} | ${o.value.p95} | ${o.value.mean} | ${
        a ? signed(a.p50) : ""
      } | ${a ? signed(a.p95) : ""} |`,
    );
  }
  lines.push(
    "",
    `![login latency per path](${chartFile})`,
    "",
    "Paths: " +
      Object.entries(r.setup.paths).map(([id, how]) => `(${id}) ${md(how)}`)
        .join("; ") +
      ".",
    "",
    "## 2. Throughput",
    "",
    `\`head -c ${r.throughput.bytes} /dev/zero\` on the destination, bytes counted by the bench on the client side; median of ${r.throughput.repeats} interleaved transfers per path. The rate is that of the data phase (first byte to end of stream), so that the login's latency, measured above, does not count twice; the rate over the whole command (login included) is given too.`,
    "",
    "| path | MB/s (data phase) | ratio to (b) | MB/s incl. login | each run (MB/s, data phase) | CPU of the proxy process per run (s) |",
    "| --- | ---: | ---: | ---: | --- | --- |",
  );
  for (const id of ["b", "c", "e"] as PathId[]) {
    const o = r.throughput.paths[id];
    if (!o) continue;
    lines.push(
      o.status === "measured"
        ? `| ${PATH_LABELS[id]} | ${o.value.medianMbPerSecond} | ${
          r.throughput.ratioToFloor[id] ?? ""
        } | ${o.value.medianOverallMbPerSecond} | ${
          o.value.mbPerSecond.join(", ")
        } | ${o.value.proxyCpuSeconds?.join(", ") ?? "(no proxy)"} |`
        : `| ${PATH_LABELS[id]} | ${o.status}: ${md(o.reason)} | | | | |`,
    );
  }
  lines.push("", ...throughputReading(r));
  lines.push(
    "## 3. Memory of an idle interactive session",
    "",
    "`ssh -tt` without a command (a login shell on the destination, the client's stdin held open and silent); after the proxy has had its ssh child for a few idle seconds, `/proc/PID/smaps_rollup` of the proxy (the `deno` process running `lib/sshproxy/main.ts`) and of its `ssh` child, after a `sync` (file pages still dirty in the page cache, such as a binary installed moments ago, count as private dirty otherwise); \"anonymous\" is the private dirty memory of the proxy's anonymous mappings alone (from `/proc/PID/smaps`). MB = 10^6 bytes.",
    "",
    "| path | process | RSS (MB) | PSS (MB) | private dirty (MB) | of which anonymous (MB) | private clean (MB) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const id of ["c", "d"] as PathId[]) {
    const o = r.memory[id];
    if (!o) continue;
    if (o.status !== "measured") {
      lines.push(
        `| ${PATH_LABELS[id]} | ${o.status}: ${md(o.reason)} | | | | | |`,
      );
      continue;
    }
    const { proxy, ssh, proxyAnonymousPrivateDirty } = o.value;
    lines.push(
      `| ${PATH_LABELS[id]} | proxy (deno) | ${kibToMb(proxy.rss)} | ${
        kibToMb(proxy.pss)
      } | ${kibToMb(proxy.privateDirty)} | ${
        kibToMb(proxyAnonymousPrivateDirty)
      } | ${kibToMb(proxy.privateClean)} |`,
      `| ${PATH_LABELS[id]} | its ssh child | ${kibToMb(ssh.rss)} | ${
        kibToMb(ssh.pss)
      } | ${kibToMb(ssh.privateDirty)} | | ${kibToMb(ssh.privateClean)} |`,
    );
  }
  lines.push("", "## 4. Concurrency", "");
  lines.push(
    outcomeText(r.concurrency, (c) =>
      [
        `${c.sessions} concurrent \`ssh … 'sleep 5; echo ok'\` through ${
          PATH_LABELS[c.path]
        }${
          c.path === "c" ? " (path (d) is not available, see above)" : ""
        }, all started at once: **${c.succeeded}/${c.sessions} succeeded**, wall time ${c.wallSeconds} s (one session, from its client's start to its end: p50 ${c.sessionSeconds.p50} s, max ${c.sessionSeconds.max} s). The machine's CPU was ${
          Math.round(c.cpuBusy * 100)
        }% busy meanwhile: on ${r.machine.nproc} cores, the ${c.sessions} clients, the ${
          2 * c.sessions
        } SSH handshakes (client → gateway, proxy → destination) and the ${c.sessions} proxy start-ups queue for CPU, so at most ${c.maxProxies} proxies were alive at once. Peak of the summed memory of all proxy processes (smaps_rollup, sampled every 250 ms): ${c.peak.proxies} proxies, **${c.peak.privateDirtyMiB} MiB private dirty** (${
          c.peak.proxies ? round(c.peak.privateDirtyMiB / c.peak.proxies) : 0
        } MiB per proxy), ${c.peak.privateMiB} MiB private (clean + dirty), ${c.peak.rssMiB} MiB RSS. Gateway sshd: ${
          r.setup.gatewaySshd.join(", ")
        }.`,
        ...(c.failures.length
          ? [
            "",
            "Failures:",
            "",
            ...c.failures.map((f) => `- ${f.count}× ${md(f.message)}`),
          ]
          : []),
      ].join("\n")),
    "",
    "## 5. sshproxyctl at scale",
    "",
  );
  lines.push(
    outcomeText(
      r.ctl,
      (c) =>
        c.figures
          ? "Figures from `scripts/bench/ctl_scale.ts` (10,000 connection keys in etcd):\n\n" +
            Object.entries(c.figures).map(([k, v]) =>
              `- ${k}: ${JSON.stringify(v)}`
            ).join("\n")
          : "Output of `scripts/bench/ctl_scale.ts`:\n\n```\n" + c.output +
            "\n```",
    ),
    "",
  );
  if (r.profile.status === "measured") {
    lines.push(...whereTheTimeGoes(r, r.profile.value));
  } else {
    lines.push(
      "## Where the time goes",
      "",
      `${r.profile.status}: ${r.profile.reason}`,
      "",
    );
  }
  lines.push(
    "## Running it",
    "",
    "`deno task bench` as root (it creates test accounts and starts sshd and etcd on loopback); about 10 minutes on 2 cores. It prints the table, writes `bench/results.json` (every figure and sample, with the machine and the date), this file and `docs/latency.svg`. `deno task bench --quick` does fewer repetitions and writes into a temp dir. A step that cannot be set up (sshd missing, a port taken) stops the run with a message and a non-zero status; a failed measurement is reported as failed, never with a figure, and the run exits non-zero without overwriting these files. Paths (d) and (e) are measured only when the proxy really uses etcd (a session registers keys) and really records (a session writes a dump file).",
    "",
  );
  return lines.join("\n");
}
