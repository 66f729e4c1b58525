// `deno task bench` (issue 7): in one run, on the real topology on
// loopback, how much the gateway costs a user next to the floor any
// ForceCommand proxy pays. Progress goes to stderr, the table to stdout;
// bench/results.json, docs/benchmarks.md and docs/latency.svg are written
// only when no measurement failed.
//
//   scripts/bench/run.sh [--quick] [--out DIR]
import {
  type Etcd,
  freePort,
  run,
  sleep,
  SSH_OPTIONS,
  sshAs,
  type Sshd,
  startEtcd,
  startSshd,
  USERS,
} from "../../tests/harness/mod.ts";
import {
  type ProxyGateway,
  proxyPids,
  startProxyGateway,
} from "../../tests/e2e/gateway.ts";
import { sharedWritableDir } from "../../tests/e2e/installed.ts";
import {
  concurrency,
  idleSessionMemory,
  latency,
  MeasureError,
  type Target,
  throughput,
} from "./measure.ts";
import { profile } from "./profile.ts";
import { chartSvg, consoleTable, markdown } from "./report.ts";
import {
  type CtlFigure,
  kibToMb,
  type Outcome,
  PATH_LABELS,
  type PathId,
  type Results,
  type TargetStatus,
} from "./results.ts";
import { round, summarize } from "./stats.ts";
import { loadAverage, machineInfo } from "./system.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const USER = USERS.user1;
const GATEWAY_EXTRA = ["MaxStartups 500", "MaxSessions 500"];

interface Options {
  quick: boolean;
  out?: string;
  /** Re-render the doc and chart from an earlier run's results.json. */
  fromResults?: string;
}

function parseOptions(args: string[]): Options {
  const options: Options = { quick: false };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--quick") options.quick = true;
    else if (args[i] === "--out" && i + 1 < args.length) {
      options.out = args[++i];
    } else if (args[i] === "--from-results" && i + 1 < args.length) {
      options.fromResults = args[++i];
    } else {
      console.error(
        `usage: scripts/bench/run.sh [--quick] [--out DIR] | --from-results FILE [--out DIR]`,
      );
      Deno.exit(2);
    }
  }
  return options;
}

function say(text: string) {
  console.error(`bench: ${text}`);
}

/** Stops the run at set-up time: says what could not be set up, exits 2. */
class SetupError extends Error {}

const cleanups: (() => Promise<void>)[] = [];
async function cleanup() {
  while (cleanups.length > 0) {
    await cleanups.pop()!().catch((error) => say(`cleanup: ${error}`));
  }
}

async function preflight(): Promise<void> {
  if (Deno.uid() !== 0) {
    throw new SetupError(
      "must run as root (it creates test accounts and starts sshd/etcd)",
    );
  }
  const tools: [string, string][] = [
    ["/usr/sbin/sshd", "openssh-server"],
    ["/usr/bin/ssh", "openssh-client"],
    ["/usr/bin/ssh-keygen", "openssh-client"],
    ["/usr/bin/etcd", "etcd-server"],
    ["/usr/bin/etcdctl", "etcd-client"],
    ["/usr/bin/setpriv", "util-linux"],
  ];
  for (const [path, pkg] of tools) {
    const ok = await Deno.stat(path).then((s) => s.isFile, () => false);
    if (!ok) {
      throw new SetupError(
        `${path} is missing (apt-get install -y ${pkg}, or scripts/setup.sh --services)`,
      );
    }
  }
}

async function step<T>(
  what: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new SetupError(`cannot set up ${what}: ${message}`);
  }
}

interface Topology {
  gw: ProxyGateway;
  floor: Sshd;
  etcd: Etcd;
  dumpDir: string;
  configs: { c: string; d: string; e: string };
  /** The etcd part of (d)'s config, with its dest list (for the profile). */
  etcdConfig: string;
  targets: Record<PathId, Target>;
}

async function setUp(): Promise<Topology> {
  say("setting up: install, gateway sshd + 3 destinations");
  const gw = await step(
    "the gateway topology (install.sh, gateway sshd, destinations)",
    () => startProxyGateway({ gatewayExtraConfig: GATEWAY_EXTRA }),
  );
  cleanups.push(() => gw.stop());
  const s1 = gw.servers.server1;

  say("setting up: floor gateway sshd (ForceCommand exec ssh)");
  const floorHost = "127.0.0.5";
  const floor = await step(
    "the floor gateway sshd on 127.0.0.5",
    async () =>
      startSshd({
        name: "bench-floor",
        listen: [{ host: floorHost, port: await freePort(floorHost) }],
        forceCommand: `exec /usr/bin/ssh -q ${
          SSH_OPTIONS.join(" ")
        } -e none -p ${s1.port} ${s1.host} -- "$SSH_ORIGINAL_COMMAND"`,
        extraConfig: GATEWAY_EXTRA,
      }),
  );
  cleanups.push(() => floor.stop());

  say("setting up: etcd");
  const etcd = await step("etcd", () => startEtcd());
  cleanups.push(() => etcd.stop());

  const dumpDir = await sharedWritableDir("sshproxy-bench-dumps-");
  cleanups.push(() => Deno.remove(dumpDir, { recursive: true }));
  const all = Object.values(gw.servers).map((s) => s.address);
  const etcdLines = [
    "etcd:",
    `  endpoints: [${JSON.stringify(etcd.endpoint)}]`,
    "  keyttl: 5",
    "route_select: connections",
    "mode: sticky",
  ];
  const configs = {
    c: gw.basicConfig(),
    d: gw.basicConfig({ dest: all, extra: etcdLines.join("\n") + "\n" }),
    e: gw.basicConfig({
      extra: `dump: ${JSON.stringify(`${dumpDir}/{user}-{sid}.dump`)}\n`,
    }),
  };
  const gwPort = gw.gateway.ports[2022];
  const withConfig = (text: string) => () => gw.writeConfig(text);
  const ours = () => proxyPids(gw.product);
  const targets: Record<PathId, Target> = {
    a: { id: "a", host: s1.host, port: s1.port },
    b: { id: "b", host: floorHost, port: floor.listen[0].port },
    c: {
      id: "c",
      host: gw.gateway.host,
      port: gwPort,
      prepare: withConfig(configs.c),
      proxyPids: ours,
    },
    d: {
      id: "d",
      host: gw.gateway.host,
      port: gwPort,
      prepare: withConfig(configs.d),
      proxyPids: ours,
    },
    e: {
      id: "e",
      host: gw.gateway.host,
      port: gwPort,
      prepare: withConfig(configs.e),
      afterEach: () => emptyDir(dumpDir),
      proxyPids: ours,
    },
  };
  return {
    gw,
    floor,
    etcd,
    dumpDir,
    configs,
    etcdConfig: [
      ...etcdLines,
      `dest: [${all.map((a) => JSON.stringify(a)).join(", ")}]`,
    ].join("\n"),
    targets,
  };
}

async function emptyDir(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
  }
}

async function dumpFiles(
  dir: string,
): Promise<{ name: string; size: number }[]> {
  const files = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    files.push({
      name: entry.name,
      size: (await Deno.stat(`${dir}/${entry.name}`)).size,
    });
  }
  return files;
}

/** (d) is measured only when a session through it registers keys in etcd. */
async function detectEtcd(t: Topology): Promise<Outcome<string>> {
  await t.targets.d.prepare!();
  let settled = false;
  const session = sshAs(USER, {
    host: t.targets.d.host,
    port: t.targets.d.port,
    command: "sleep 3; echo ok",
  }, { timeoutMs: 30_000 }).finally(() => settled = true);
  let keys: string[] = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const listing = await t.etcd.etcdctl([
      "get",
      "--prefix",
      "/sshproxy/",
      "--keys-only",
    ]);
    keys = listing.stdout.split("\n").filter((k) => k.trim() !== "");
    if (keys.length > 0 || settled) break;
    await sleep(200);
  }
  const result = await session;
  if (!result.ok || result.stdout.trim() !== "ok") {
    return {
      status: "failed",
      reason:
        `a session through the etcd configuration failed (status ${result.code}): ${
          result.stderr.trim().slice(0, 200) || "no message"
        }; log: ${
          (await t.gw.readLog(USER)).trim().split("\n").slice(-3).join(" / ")
        }`,
    };
  }
  if (keys.length === 0) {
    return {
      status: "not measured",
      reason:
        "the proxy accepts the etcd configuration and the session runs, but registers nothing in etcd (no key under /sshproxy/ during a 3 s session): etcd is not integrated in the proxy yet",
    };
  }
  return {
    status: "measured",
    value: `${keys.length} key(s) under /sshproxy/ during a session, e.g. ${
      keys[0]
    }`,
  };
}

/** (e) is measured only when a session through it writes a dump file. */
async function detectRecording(t: Topology): Promise<Outcome<string>> {
  await t.targets.e.prepare!();
  await emptyDir(t.dumpDir);
  const result = await sshAs(USER, {
    host: t.targets.e.host,
    port: t.targets.e.port,
    command: "echo recorded",
  }, { timeoutMs: 30_000 });
  if (!result.ok || result.stdout.trim() !== "recorded") {
    return {
      status: "failed",
      reason:
        `a session through the recording configuration failed (status ${result.code}): ${
          result.stderr.trim().slice(0, 200) || "no message"
        }`,
    };
  }
  // The recorder may finish writing just after the session's output.
  let files: { name: string; size: number }[] = [];
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    files = (await dumpFiles(t.dumpDir)).filter((f) => f.size > 0);
    if (files.length > 0) break;
    await sleep(100);
  }
  await emptyDir(t.dumpDir);
  if (files.length === 0) {
    return {
      status: "not measured",
      reason:
        "the proxy accepts `dump: <file>` and the session runs, but no dump file is written: recording is not in the proxy yet",
    };
  }
  return {
    status: "measured",
    value: `a session wrote ${files[0].name} (${files[0].size} bytes)`,
  };
}

async function attempt<T>(
  what: string,
  body: () => Promise<T>,
): Promise<Outcome<T>> {
  try {
    return { status: "measured", value: await body() };
  } catch (error) {
    if (error instanceof SetupError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    say(`${what} FAILED: ${reason}`);
    return { status: "failed", reason };
  }
}

function notMeasured<T>(why: Outcome<unknown>): Outcome<T> {
  return {
    status: "not measured",
    reason: why.status === "measured" ? "" : why.reason,
  };
}

async function ctlScale(quick: boolean): Promise<Outcome<CtlFigure>> {
  const script = `${ROOT}/scripts/bench/ctl_scale.ts`;
  const present = await Deno.stat(script).then(() => true, () => false);
  if (!present) {
    return {
      status: "not measured",
      reason: "scripts/bench/ctl_scale.ts does not exist yet",
    };
  }
  say("ctl: running scripts/bench/ctl_scale.ts");
  const start = performance.now();
  const result = await run(
    [
      Deno.execPath(),
      "run",
      "--allow-all",
      "--config",
      `${ROOT}/deno.json`,
      script,
      ...(quick ? ["1000", "2"] : []),
    ],
    { cwd: ROOT, timeoutMs: 300_000 },
  );
  const seconds = round((performance.now() - start) / 1000, 1);
  if (!result.ok) {
    return {
      status: "failed",
      reason: `ctl_scale.ts exited with status ${result.code}${
        result.timedOut ? " (killed after 300 s)" : ""
      }: ${
        result.stderr.trim().split("\n").slice(-3).join(" / ").slice(0, 300)
      }`,
    };
  }
  const output = result.stdout.trim();
  let figures: Record<string, unknown> | undefined;
  for (const line of output.split("\n").reverse()) {
    try {
      const parsed = JSON.parse(line);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        figures = parsed;
        break;
      }
    } catch {
      // not a JSON line
    }
  }
  return { status: "measured", value: { figures, output, seconds } };
}

/** Finds "show connections" seconds/ms in ctl_scale's figures, if it names them. */
function showConnectionsSeconds(
  figures: Record<string, unknown>,
): number | undefined {
  for (const [key, value] of Object.entries(figures)) {
    if (!/connections/i.test(key)) continue;
    if (typeof value === "number") {
      if (/ms|millis/i.test(key)) return value / 1000;
      if (/sec|_s$|seconds/i.test(key)) return value;
    }
    if (value && typeof value === "object") {
      const inner = showConnectionsSeconds(value as Record<string, unknown>);
      if (inner !== undefined) return inner;
      const o = value as Record<string, unknown>;
      for (const [k, v] of Object.entries(o)) {
        if (typeof v !== "number") continue;
        if (/ms|millis/i.test(k)) return v / 1000;
        if (/sec|^s$|seconds/i.test(k)) return v;
      }
    }
  }
  return undefined;
}

function targets(r: Results): TargetStatus[] {
  const list: TargetStatus[] = [];
  const added = (id: PathId, limit: number) => {
    const o = r.latency.paths[id];
    const a = r.latency.addedOverFloor[id];
    list.push({
      name: `added p50 login latency of ${PATH_LABELS[id]} over (b)`,
      target: `≤ ${limit} ms`,
      measured: a ? `${Math.round(a.p50)} ms` : o?.status ?? "—",
      met: a ? a.p50 <= limit : null,
    });
  };
  added("c", 25);
  added("d", 60);
  const ratio = (id: PathId, limit: number) => {
    const v = r.throughput.ratioToFloor[id];
    const o = r.throughput.paths[id];
    list.push({
      name: `throughput of ${PATH_LABELS[id]}`,
      target: `≥ ${limit} × (b)`,
      measured: v !== undefined ? `${v} × (b)` : o?.status ?? "—",
      met: v !== undefined ? v >= limit : null,
    });
  };
  ratio("c", 0.97);
  ratio("e", 0.85);
  const memory = (id: PathId, limit: number) => {
    const o = r.memory[id];
    const mb = o?.status === "measured"
      ? kibToMb(o.value.proxy.privateDirty)
      : undefined;
    list.push({
      name: `private dirty memory of an idle proxy, ${PATH_LABELS[id]}`,
      target: `≤ ${limit} MB`,
      measured: mb !== undefined ? `${mb} MB` : o?.status ?? "—",
      met: mb !== undefined ? mb <= limit : null,
    });
  };
  memory("c", 20);
  memory("d", 30);
  const c = r.concurrency;
  list.push({
    name: "concurrent sessions through (d)",
    target: "200/200 succeed",
    measured: c.status === "measured"
      ? `${c.value.succeeded}/${c.value.sessions}${
        c.value.path === "d"
          ? ""
          : ` through (${c.value.path}), (d) not available`
      }`
      : c.status,
    met: c.status === "measured" && c.value.path === "d"
      ? c.value.succeeded === 200 && c.value.sessions === 200
      : null,
  });
  const figures = r.ctl.status === "measured" ? r.ctl.value.figures : undefined;
  const text = r.ctl.status === "measured" ? r.ctl.value.output : "";
  // ctl_scale.ts prints "  sshproxyctl show connections   NNN ms (...)".
  const fromText = text.match(
    /^\s*sshproxyctl show connections\s+(\d+(?:\.\d+)?) ms/m,
  );
  const seconds = figures
    ? showConnectionsSeconds(figures)
    : fromText
    ? Number(fromText[1]) / 1000
    : undefined;
  list.push({
    name: "`sshproxyctl show connections` over 10,000 keys",
    target: "< 1 s",
    measured: seconds !== undefined
      ? `${round(seconds, 2)} s${r.quick ? " (quick: 1,000 keys)" : ""}`
      : r.ctl.status === "measured"
      ? "figure not found in ctl_scale.ts's output"
      : r.ctl.status,
    met: seconds !== undefined ? seconds < 1 : null,
  });
  return list;
}

async function gatewaySshdSettings(gw: ProxyGateway): Promise<string[]> {
  const result = await run([
    "/usr/sbin/sshd",
    "-T",
    "-f",
    gw.gateway.sshd.configPath,
  ]);
  return result.stdout.split("\n").filter((l) =>
    /^(maxstartups|maxsessions) /.test(l)
  );
}

async function commitId(): Promise<string> {
  const head = await run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]);
  const status = await run([
    "git",
    "-C",
    ROOT,
    "status",
    "--porcelain",
    "--untracked-files=no",
  ]);
  const id = head.stdout.trim() || "unknown";
  return status.stdout.trim() ? `${id} + uncommitted changes` : id;
}

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  if (options.fromResults) return await rerender(options);
  const started = performance.now();
  const logins = options.quick ? 6 : 50;
  const rounds = options.quick ? 2 : 5;
  const bytes = options.quick ? 64 * 1024 * 1024 : 1024 * 1024 * 1024;
  const repeats = options.quick ? 1 : 3;
  const sessions = options.quick ? 20 : 200;

  await preflight();
  const machine = await machineInfo();
  const commit = await commitId();
  const t = await setUp();
  const { gw } = t;
  const product = () => proxyPids(gw.product);

  say("detecting (d) etcd and (e) recording in the proxy");
  const features = {
    etcd: await detectEtcd(t),
    recording: await detectRecording(t),
  };
  say(
    `(d): ${
      features.etcd.status === "measured"
        ? features.etcd.value
        : features.etcd.reason
    }`,
  );
  say(
    `(e): ${
      features.recording.status === "measured"
        ? features.recording.value
        : features.recording.reason
    }`,
  );
  const has = {
    d: features.etcd.status === "measured",
    e: features.recording.status === "measured",
  };

  // 1. latency
  const latencyIds: PathId[] = ["a", "b", "c"];
  if (has.d) latencyIds.push("d");
  if (has.e) latencyIds.push("e");
  say(`latency: ${logins} logins per path: ${latencyIds.join(", ")}`);
  const latencyPaths: Results["latency"]["paths"] = {};
  const latencyOutcome = await attempt(
    "latency",
    () =>
      latency(USER, latencyIds.map((id) => t.targets[id]), logins, rounds, say),
  );
  for (const id of ["a", "b", "c", "d", "e"] as PathId[]) {
    if (id === "d" && !has.d) latencyPaths.d = notMeasured(features.etcd);
    else if (id === "e" && !has.e) {
      latencyPaths.e = notMeasured(features.recording);
    } else if (latencyOutcome.status !== "measured") {
      latencyPaths[id] = {
        status: "failed",
        reason: latencyOutcome.status === "failed" ? latencyOutcome.reason : "",
      };
    } else {
      const samples = latencyOutcome.value.get(id)!;
      latencyPaths[id] = {
        status: "measured",
        value: {
          ...summarize(samples),
          samplesMs: samples.map((v) => round(v)),
        },
      };
    }
  }
  const addedOverFloor: Results["latency"]["addedOverFloor"] = {};
  const floorLatency = latencyPaths.b;
  for (const id of ["c", "d", "e"] as PathId[]) {
    const o = latencyPaths[id];
    if (o?.status === "measured" && floorLatency?.status === "measured") {
      addedOverFloor[id] = {
        p50: round(o.value.p50 - floorLatency.value.p50),
        p95: round(o.value.p95 - floorLatency.value.p95),
      };
    }
  }

  // 2. throughput
  const throughputIds: PathId[] = ["b", "c"];
  if (has.e) throughputIds.push("e");
  say(
    `throughput: ${bytes} bytes × ${repeats} through ${
      throughputIds.join(", ")
    }`,
  );
  const throughputOutcome = await attempt(
    "throughput",
    () =>
      throughput(
        USER,
        throughputIds.map((id) => t.targets[id]),
        bytes,
        repeats,
        say,
      ),
  );
  const throughputPaths: Results["throughput"]["paths"] = {};
  const ratioToFloor: Results["throughput"]["ratioToFloor"] = {};
  for (const id of ["b", "c", "e"] as PathId[]) {
    if (id === "e" && !has.e) {
      throughputPaths.e = notMeasured(features.recording);
    } else if (throughputOutcome.status !== "measured") {
      throughputPaths[id] = {
        status: "failed",
        reason: throughputOutcome.status === "failed"
          ? throughputOutcome.reason
          : "",
      };
    } else {
      throughputPaths[id] = {
        status: "measured",
        value: throughputOutcome.value.get(id)!,
      };
    }
  }
  const floorRate = throughputOutcome.status === "measured"
    ? throughputOutcome.value.get("b")!.medianMbPerSecond
    : 0;
  for (const id of ["c", "e"] as PathId[]) {
    const o = throughputPaths[id];
    if (o?.status === "measured" && floorRate > 0) {
      ratioToFloor[id] = round(o.value.medianMbPerSecond / floorRate, 3);
    }
  }

  // 3. memory
  const memory: Results["memory"] = {};
  const idleSeconds = options.quick ? 2 : 5;
  say("memory: idle interactive session through (c)");
  memory.c = await attempt(
    "memory (c)",
    () => idleSessionMemory(USER, t.targets.c, product, idleSeconds),
  );
  if (has.d) {
    say("memory: idle interactive session through (d)");
    memory.d = await attempt(
      "memory (d)",
      () => idleSessionMemory(USER, t.targets.d, product, idleSeconds),
    );
  } else {
    memory.d = notMeasured(features.etcd);
  }

  // 4. concurrency
  const concurrencyPath: PathId = has.d ? "d" : "c";
  say(`concurrency: ${sessions} sessions through (${concurrencyPath})`);
  const concurrencyOutcome = await attempt("concurrency", async () => ({
    ...await concurrency(
      USER,
      t.targets[concurrencyPath],
      sessions,
      product,
      say,
    ),
    path: concurrencyPath,
  }));

  // Profile (needs the destination up).
  say("profile: where the added latency goes");
  const workDir = await sharedWritableDir("sshproxy-bench-profile-");
  cleanups.push(() => Deno.remove(workDir, { recursive: true }));
  const profileOutcome = await attempt("profile", () =>
    profile({
      product: gw.product,
      etcdConfig: has.d ? t.etcdConfig : undefined,
      etcdEndpoint: has.d ? t.etcd.endpoint : undefined,
      dumpDir: has.e ? t.dumpDir : undefined,
      user: USER,
      destination: {
        host: gw.servers.server1.host,
        port: gw.servers.server1.port,
      },
      sshArgs: gw.sshArgs,
      workDir,
      repeats: options.quick ? 3 : 10,
      say,
    }));
  const gatewaySshd = await gatewaySshdSettings(gw);
  const etcdEndpoint = t.etcd.endpoint;

  say("tearing down the topology");
  await cleanup();

  // 5. ctl at scale (after the teardown: it sets up its own etcd).
  const ctl = await ctlScale(options.quick);

  const results: Results = {
    date: new Date().toISOString(),
    quick: options.quick,
    durationSeconds: 0,
    commit,
    machine: { ...machine, loadAverage1mEnd: loadAverage() },
    setup: {
      user: USER,
      paths: {
        a: "`ssh` straight to the destination sshd (server1)",
        b: 'a second gateway sshd whose ForceCommand is `exec ssh -q … -e none -p PORT server1 -- "$SSH_ORIGINAL_COMMAND"`',
        c: "the gateway sshd whose ForceCommand is the installed `sshproxy` (launcher + Deno), config: per-user log file, one destination",
        d: "as (c) with an `etcd` section (loopback etcd, keyttl 5), `mode: sticky`, `route_select: connections`, three destinations",
        e: "as (c) with `dump: DIR/{user}-{sid}.dump`",
      },
      gatewaySshd,
      etcdEndpoint,
    },
    features,
    latency: { logins, rounds, paths: latencyPaths, addedOverFloor },
    throughput: { bytes, repeats, paths: throughputPaths, ratioToFloor },
    memory,
    concurrency: concurrencyOutcome,
    ctl,
    profile: profileOutcome,
    targets: [],
  };
  results.targets = targets(results);
  results.durationSeconds = round((performance.now() - started) / 1000, 0);

  console.log(consoleTable(results));

  const failed = [
    ...Object.values(features),
    ...Object.values(latencyPaths),
    ...Object.values(throughputPaths),
    ...Object.values(memory),
    concurrencyOutcome,
    ctl,
    profileOutcome,
  ].some((o) => o?.status === "failed");
  if (failed) {
    say("some measurements FAILED (see above): no result file written");
    return 1;
  }
  const out = options.out ??
    (options.quick
      ? await Deno.makeTempDir({ prefix: "sshproxy-bench-quick-" })
      : ROOT);
  const files = await writeOutputs(results, out);
  say(`wrote ${files.join(", ")}`);
  return 0;
}

/** Writes results.json, the doc and the chart under `out`; returns their paths. */
async function writeOutputs(results: Results, out: string): Promise<string[]> {
  await Deno.mkdir(`${out}/bench`, { recursive: true });
  await Deno.mkdir(`${out}/docs`, { recursive: true });
  const files = [`${out}/bench/results.json`, `${out}/docs/benchmarks.md`];
  await Deno.writeTextFile(files[0], JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(files[1], markdown(results, "latency.svg"));
  await Deno.writeTextFile(`${out}/docs/latency.svg`, chartSvg(results));
  // The repository's formatter owns the layout of the JSON and Markdown.
  const fmt = await run([
    Deno.execPath(),
    "fmt",
    "--quiet",
    `--config=${ROOT}/deno.json`,
    ...files,
  ]);
  if (!fmt.ok) say(`deno fmt of the results failed: ${fmt.stderr.trim()}`);
  return [...files, `${out}/docs/latency.svg`];
}

/** --from-results: the same figures, rendered again (after a wording change). */
async function rerender(options: Options): Promise<number> {
  const results = JSON.parse(
    await Deno.readTextFile(options.fromResults!),
  ) as Results;
  console.log(consoleTable(results));
  const files = await writeOutputs(results, options.out ?? ROOT);
  say(`rendered ${files.join(", ")} from ${options.fromResults}`);
  return 0;
}

let status = 1;
const interrupted = async () => {
  say("interrupted: tearing down");
  await cleanup();
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", interrupted);
Deno.addSignalListener("SIGTERM", interrupted);
try {
  status = await main();
} catch (error) {
  if (error instanceof SetupError) {
    say(`SETUP FAILED: ${error.message}`);
    status = 2;
  } else if (error instanceof MeasureError) {
    say(`FAILED: ${error.message}`);
    status = 1;
  } else {
    say(`FAILED: ${error instanceof Error ? error.stack : String(error)}`);
    status = 1;
  }
} finally {
  await cleanup();
}
Deno.exit(status);
