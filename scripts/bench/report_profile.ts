// The "Where the time goes" section of docs/benchmarks.md: the added
// milliseconds and MiB split between the runtime's own floor and ours, what
// the session path loads, CPU profiles, caches and V8 flags; every sentence
// computed from the run's figures (older results files render with what
// they hold).
import type { CpuBreakdown, ProfileFigures } from "./profile.ts";
import { md, mdTable, signed } from "./report.ts";
import { kibToMib, measured, type PathId, type Results } from "./results.ts";
import { round } from "./stats.ts";

const fixed = (value: number | undefined) =>
  value === undefined ? "—" : String(round(value));

function cpuTable(title: string, cpu: CpuBreakdown): string[] {
  return mdTable([title, "ms"], "lr", [
    ["wall time of a profiled run", String(cpu.wallMs)],
    ["of which covered by the profile", String(cpu.profiledMs)],
    ...cpu.groups.filter((g) => g.ms >= 1).map((g) => [
      md(g.group),
      String(g.ms),
    ]),
    [
      "everything else (groups under 1 ms each)",
      String(
        round(cpu.groups.filter((g) => g.ms < 1).reduce((t, g) => t + g.ms, 0)),
      ),
    ],
  ]);
}

/** The empty module's start by hand: the launcher's way, else an older bare figure. */
function emptyStart(r: Results, p: ProfileFigures): {
  ms?: number;
  how: string;
} {
  const floor = measured(r.runtime);
  if (floor) {
    return {
      ms: floor.emptyStartMs.p50,
      how: "started as the launcher starts ours",
    };
  }
  if (p.emptyDenoMs) {
    return { ms: p.emptyDenoMs.p50, how: "bare `deno run --no-config`" };
  }
  return { how: "not measured" };
}

function millisecondsTable(r: Results, p: ProfileFigures): string[] {
  const p50 = (id: PathId) => measured(r.latency.paths[id])?.p50;
  const diff = (a?: number, b?: number) =>
    a !== undefined && b !== undefined ? a - b : undefined;
  const empty = emptyStart(r, p);
  const s = p.session;
  const e = p.etcdSession;
  const floor = measured(r.runtime);
  const rows: string[][] = [
    [
      "the floor: sshd, `sh -c 'exec ssh'`, ssh to the destination: (b)",
      fixed(p50("b")),
      `ssh alone ${p.sshAloneMs.p50}`,
    ],
    [
      `the runtime's own start: an empty module ${empty.how}: (f) − (b)`,
      fixed(diff(p50("f"), p50("b"))),
      `${fixed(empty.ms)}${
        floor
          ? ` (bare \`deno run --no-config\`: ${floor.bareStartMs.p50})`
          : ""
      }`,
    ],
    [
      "**ours, stateless: (c) − (f)**",
      fixed(diff(p50("c"), p50("f"))),
      fixed(diff(s.beforeSsh.p50 + s.afterSsh.p50, empty.ms)),
    ],
    [
      "— loading our module graph: `sshproxy -version` − the empty module",
      "",
      fixed(diff(p.versionMs.p50, empty.ms)),
    ],
    [
      "— the session's work until ssh starts, after loading",
      "",
      fixed(s.beforeSsh.p50 - p.versionMs.p50),
    ],
    [
      "— after ssh exits, until the proxy has exited",
      "",
      fixed(s.afterSsh.p50),
    ],
    [
      "**etcd (sticky, connections): (d) − (c)**",
      fixed(diff(p50("d"), p50("c"))),
      e
        ? fixed(
          e.beforeSsh.p50 - s.beforeSsh.p50 + e.afterSsh.p50 - s.afterSsh.p50,
        )
        : "—",
    ],
    [
      "— until ssh starts (client, look-ups, registration)",
      "",
      e ? fixed(e.beforeSsh.p50 - s.beforeSsh.p50) : "—",
    ],
    [
      "— after ssh exits (deregistration, closing)",
      "",
      e ? fixed(e.afterSsh.p50 - s.afterSsh.p50) : "—",
    ],
    [
      "the agent instead of our own etcd client: (g) − (d)",
      fixed(diff(p50("g"), p50("d"))),
      "",
    ],
    ["hand-off: (h) − (g)", fixed(diff(p50("h"), p50("g"))), ""],
  ];
  return mdTable(
    ["part of a login", "through sshd, p50 (ms)", "by hand, p50 (ms)"],
    "lrr",
    rows,
  );
}

function mebibytesTable(r: Results, p: ProfileFigures): string[] {
  const floor = measured(r.runtime)?.idle;
  const olderEmpty = p.importCosts?.[0]?.idle;
  const empty = floor?.memory.privateDirty ?? olderEmpty?.privateDirty;
  const face = p.importCosts?.find((c) => c.kind === "face")?.idle
    ?.privateDirty;
  // The process API's share, against the empty module idling the same way
  // (the import costs' first case), added to the runtime floor's figure.
  const processApiIdle = p.importCosts?.find((c) => c.kind === "process API")
    ?.idle?.privateDirty;
  const processApi = processApiIdle !== undefined && olderEmpty &&
      empty !== undefined
    ? empty + processApiIdle - olderEmpty.privateDirty
    : undefined;
  const proxy = (id: PathId) => measured(r.memory[id]);
  const c = proxy("c")?.proxy.privateDirty;
  const d = proxy("d")?.proxy.privateDirty;
  const mib = (kib?: number) => kib === undefined ? "—" : String(kibToMib(kib));
  const over = (a?: number, b?: number) => {
    if (a === undefined || b === undefined) return "—";
    const value = kibToMib(a - b);
    return `${value < 0 ? "" : "+"}${value}`;
  };
  const rows: string[][] = [
    [
      `an idle empty Deno, ${
        floor
          ? "started as the launcher starts ours"
          : "with the launcher's config"
      } (the runtime's own)`,
      mib(empty),
      floor ? mib(floor.anonymousPrivateDirty) : "",
    ],
    ...(processApi === undefined ? [] : [[
      "+ Deno's process API with a child running (an empty module that started `sleep` and waits for it)",
      over(processApi, empty),
      "",
    ]]),
    ...(face === undefined
      ? [[
        "+ ours: our modules, the session's state, the launcher's shell waiting to hand off ((c) − the above)",
        over(c, processApi ?? empty),
        "",
      ]]
      : [
        [
          "+ our modules at start (idle after importing the proxy face)",
          over(face, processApi ?? empty),
          "",
        ],
        [
          "+ the session's own state (idle proxy (c) − the above)",
          over(c, face),
          "",
        ],
      ]),
    [
      "= our idle proxy, stateless (c)",
      mib(c),
      mib(proxy("c")?.proxyAnonymousPrivateDirty),
    ],
    ["+ etcd: (d) − (c)", over(d, c), ""],
    [
      "= our idle proxy with etcd (d)",
      mib(d),
      mib(proxy("d")?.proxyAnonymousPrivateDirty),
    ],
  ];
  for (const id of ["c", "d"] as PathId[]) {
    const settled = proxy(id)?.settled;
    if (!settled) continue;
    rows.push([
      `(${id}) again after ${settled.idleSeconds} s idle (past V8's first memory-reducing collection)`,
      mib(settled.privateDirty),
      "",
    ]);
  }
  for (const id of ["g", "h"] as PathId[]) {
    const o = proxy(id);
    if (!o) continue;
    rows.push([
      `ours during an idle session of (${id}) (${o.proxyPids.length} processes; the agent apart)`,
      mib(o.proxy.privateDirty),
      mib(o.proxyAnonymousPrivateDirty),
    ]);
  }
  return mdTable(
    [
      "part of an idle session's memory",
      "private dirty (MiB)",
      "of which anonymous",
    ],
    "lrr",
    rows,
  );
}

function graphText(p: ProfileFigures): string[] {
  const g = p.graph;
  if (!g) return [];
  const atStart = g.externals.filter((e) => !e.onDemand);
  const onDemand = g.externals.filter((e) => e.onDemand);
  const list = (items: typeof g.externals) =>
    items.length
      ? items.map((e) => `\`${md(e.specifier)}\` (${md(e.importer)})`).join(
        ", ",
      )
      : "none";
  return [
    `What the session path loads, read from the installed program (\`deno info\` with the launcher's configuration): \`${g.entry}\`${
      g.face ? ` dispatching to \`${g.face}\`` : ""
    }, ${g.staticModules} of our modules at start, importing ${
      list(atStart)
    }; on demand (dynamic imports, loaded only when that code runs): our ${
      g.onDemand.map((m) => `\`${m.module}\``).join(", ") || "none"
    }, and ${list(onDemand)}.${
      p.strace?.opened
        ? ` In one stateless session (strace), the process read ${p.strace.opened.ours} of our source files${
          p.strace.opened.packages.length
            ? ` and files of ${
              p.strace.opened.packages.map((pk) =>
                `${md(pk.name)} (${pk.files})`
              ).join(", ")
            } under node_modules`
            : " and nothing under node_modules"
        }.`
        : ""
    }`,
    "",
  ];
}

function importTable(p: ProfileFigures): string[] {
  if (!p.importCosts?.length) return [];
  const base = p.importCosts[0];
  return [
    `Start-up of a one-line module importing one part of that graph, run as the launcher runs ours, as the test user (medians of ${p.repeats}, interleaved):`,
    "",
    ...mdTable(
      [
        "module imports",
        "ms",
        "over the empty module",
        "idle private dirty (MiB)",
      ],
      "lrrr",
      p.importCosts.map((c) => [
        md(c.what),
        String(c.ms.p50),
        signed(c.ms.p50 - base.ms.p50),
        c.idle ? String(kibToMib(c.idle.privateDirty)) : "",
      ]),
    ),
    "",
  ];
}

function cpuTables(p: ProfileFigures): string[] {
  if (!p.cpu) return [];
  const cpu = p.cpu;
  const top = (title: string, b: CpuBreakdown) => [
    title,
    "",
    ...b.topFunctions.map((f) => `- ${md(f.name)}: ${f.ms} ms`),
    "",
  ];
  return [
    ...cpuTable(
      `\`--cpu-prof\` of \`sshproxy -version\`, self time (mean of ${cpu.version.runs})`,
      cpu.version,
    ),
    "",
    ...cpuTable(
      `\`--cpu-prof\` of one session of (c), self time (mean of ${cpu.session.runs}; idle includes the ssh child)`,
      cpu.session,
    ),
    "",
    ...top("Busiest functions (self time) in a session of (c):", cpu.session),
    ...(cpu.etcdSession
      ? [
        ...cpuTable(
          `\`--cpu-prof\` of one session of (d), self time (mean of ${cpu.etcdSession.runs}; idle includes the ssh child)`,
          cpu.etcdSession,
        ),
        "",
        ...top(
          "Busiest functions (self time) in a session of (d):",
          cpu.etcdSession,
        ),
      ]
      : []),
    ...(cpu.recording
      ? [
        ...cpuTable(
          `\`--cpu-prof\` of a recorded session of (e) by hand sending ${
            Math.round(cpu.recording.bytes / 2 ** 20)
          } MiB (stdout on /dev/null), self time`,
          cpu.recording,
        ),
        "",
        ...top("Busiest functions (self time) while recording:", cpu.recording),
      ]
      : []),
  ];
}

function variantsTable(p: ProfileFigures): string[] {
  if (!p.memoryVariants?.length) return [];
  return [
    "Private memory of our processes in one hand-run session idling on `sleep` (its ssh child up, nothing flowing), as installed and through copies of the launcher with V8 flags added, each with a copy of the installed caches warmed under its flags as install.sh warms them (V8 refuses a code cache made under other flags) (MiB):",
    "",
    ...mdTable(
      ["variant", "RSS", "private dirty", "of which anonymous", "threads"],
      "lrrrr",
      p.memoryVariants.map((v) => [
        md(v.variant),
        String(kibToMib(v.proxy.rss)),
        String(kibToMib(v.proxy.privateDirty)),
        String(kibToMib(v.anonymousPrivateDirty)),
        String(v.threads),
      ]),
    ),
    "",
  ];
}

/** The reading of the figures above, sentence by sentence. */
function findings(r: Results, p: ProfileFigures): string[] {
  const out: string[] = [];
  const p50 = (id: PathId) => measured(r.latency.paths[id])?.p50;
  const empty = emptyStart(r, p);
  const [b, f, c, d] = [p50("b"), p50("f"), p50("c"), p50("d")];
  if (b !== undefined && f !== undefined && c !== undefined) {
    out.push(
      `- Through sshd, the runtime's own start costs ${
        Math.round(f - b)
      } ms (p50 of (f) over (b)) and ours ${
        Math.round(c - f)
      } ms more (stateless (c) over (f)). By hand, an empty module ${empty.how} takes ${
        fixed(empty.ms)
      } ms; loading our module graph ${
        fixed(p.versionMs.p50 - (empty.ms ?? 0))
      } ms more; the session's own work until ssh starts ${
        fixed(p.session.beforeSsh.p50 - p.versionMs.p50)
      } ms; after ssh exits ${p.session.afterSsh.p50} ms.`,
    );
  } else {
    out.push(
      `- By hand, the stateless session needs ${p.session.beforeSsh.p50} ms until its ssh starts (\`sshproxy -version\`: ${p.versionMs.p50} ms; an empty module, ${empty.how}: ${
        fixed(empty.ms)
      } ms) and ${p.session.afterSsh.p50} ms after it exits.`,
    );
  }
  const costs = (p.importCosts ?? []).filter((x) =>
    x.kind === "external" || x.kind === "on demand"
  );
  if (costs.length && p.importCosts) {
    const base = p.importCosts[0].ms.p50;
    const dearest = [...costs].sort((x, y) => y.ms.p50 - x.ms.p50).slice(0, 3);
    out.push(
      `- The dearest single imports over the empty module: ${
        dearest.map((x) => `${md(x.what)} ${signed(x.ms.p50 - base)} ms`)
          .join("; ")
      }.`,
    );
  }
  if (p.cpu) {
    const busy = p.cpu.session.groups.filter((g) =>
      !g.group.startsWith("(idle)") && !g.group.startsWith("(program)")
    ).slice(0, 4);
    out.push(
      `- In a profiled stateless session the JS thread is busy mostly in: ${
        busy.map((g) => `${md(g.group)} ${g.ms} ms`).join(", ")
      }.`,
    );
  }
  if (d !== undefined && c !== undefined && p.etcdSession) {
    const e = p.etcdSession;
    out.push(
      `- With etcd (d), logins take ${
        signed(d - c)
      } ms against stateless through sshd; by hand, ${
        signed(e.beforeSsh.p50 - p.session.beforeSsh.p50)
      } ms until ssh starts and ${
        signed(e.afterSsh.p50 - p.session.afterSsh.p50)
      } ms after it exits.${
        p.cpu?.etcdSession
          ? ` The busiest groups of its profile: ${
            p.cpu.etcdSession.groups.filter((g) =>
              !g.group.startsWith("(idle)") &&
              !g.group.startsWith("(program)")
            ).slice(0, 4).map((g) => `${md(g.group)} ${g.ms} ms`).join(", ")
          }.`
          : ""
      }`,
    );
  }
  if (p.strace) {
    const denied = p.strace.deniedWrites.length
      ? p.strace.deniedWrites.map((x) => `${x.count}× ${x.what}`).join(", ")
      : "none";
    out.push(
      `- Deno's caches, checked with \`strace -f\` on one session: ${p.strace.sleeps} sleeps (${p.strace.sleptMs} ms); writes refused under the program's directory: ${
        md(denied)
      }.${
        p.strace.sleptMs > 100
          ? " Sleeps that long are Deno retrying refused cache writes: the caches must be filled at the installed path, as root, at install."
          : ""
      }`,
    );
  }
  const variants = p.memoryVariants ?? [];
  const installed = variants.find((v) => v.variant === "as installed");
  if (installed && variants.length > 1) {
    const best = [...variants].sort((x, y) =>
      x.proxy.privateDirty - y.proxy.privateDirty
    )[0];
    out.push(
      `- V8 flags: as installed, the idle proxy keeps ${
        kibToMib(installed.proxy.privateDirty)
      } MiB private dirty (${installed.threads} threads); the lowest variant here is ${
        md(best.variant)
      } with ${
        kibToMib(best.proxy.privateDirty)
      } MiB (${best.threads} threads).`,
    );
  }
  const rec = p.cpu?.recording;
  if (rec) {
    const rate = round(rec.bytes / (rec.wallMs / 1000) / 1e6);
    out.push(
      `- Recording (e), by hand without sshd: ${rate} MB/s for ${
        Math.round(rec.bytes / 2 ** 20)
      } MiB (the whole session, login included, with the profiler on).${
        rec.records
          ? ` Its dump holds ${rec.records.count} output records, one per chunk read from ssh: ${
            round(rec.records.meanBytes / 1024)
          } KiB on average, ${round(rec.records.maxBytes / 1024)} KiB at most.`
          : ""
      }`,
    );
  }
  return ["### Reading", "", ...out, ""];
}

/** The whole "Where the time goes" section. */
export function whereTheTimeGoes(r: Results): string[] {
  const lines = ["## Where the time goes", ""];
  if (r.profile.status !== "measured") {
    return [...lines, `${r.profile.status}: ${md(r.profile.reason)}`, ""];
  }
  const p = r.profile.value;
  lines.push(
    `Through sshd, from the latency table above (same run). By hand, outside sshd: the installed proxy run as the test user with \`SSH_CONNECTION\` and \`SSH_ORIGINAL_COMMAND=true\` set and the config of (c) (or (d)) except that \`ssh.exe\` is a wrapper recording when the ssh child starts and ends; medians of ${p.repeats}. The two columns differ by the machine's load between the minutes they are measured in, and by the CPU a real login's two sshds compete for.`,
    "",
    "### Milliseconds",
    "",
    ...millisecondsTable(r, p),
    "",
    "### MiB",
    "",
    `Idle private dirty memory (smaps_rollup after a \`sync\`), from the memory table above and the import costs below.`,
    "",
    ...mebibytesTable(r, p),
    "",
    "### What the session loads",
    "",
    ...graphText(p),
    ...importTable(p),
    "### CPU",
    "",
    ...cpuTables(p),
    "### V8 flags",
    "",
    ...variantsTable(p),
    ...(p.notes?.length
      ? ["Not measured:", "", ...p.notes.map((n) => `- ${md(n)}`), ""]
      : []),
    ...findings(r, p),
  );
  return lines;
}
