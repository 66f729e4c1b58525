// `deno task bench`: in one run, on the real topology on loopback, how much
// the gateway costs a user next to the floor any ForceCommand proxy pays
// (b) and next to the runtime's own floor (f), with etcd, recording, the
// agent and hand-off when the product has them (issues 7, 10, 13, 14).
// Progress goes to stderr, the table to stdout; bench/results.json,
// docs/benchmarks.md and docs/latency.svg are written only when no
// measurement failed.
//
//   scripts/bench/run.sh [--quick] [--out DIR]
//   scripts/bench/run.sh --from-results bench/results.json [--out DIR]
import { run, USERS } from "../../tests/harness/mod.ts";
import { sharedWritableDir } from "../../tests/e2e/installed.ts";
import {
  agentCounters,
  agentFace,
  detectAgentRouting,
  detectHandoff,
  HANDOFF_YAML,
} from "./agent.ts";
import { ctlScale } from "./ctl_run.ts";
import { detectEtcd, detectRecording } from "./features.ts";
import { MeasureError } from "./measure.ts";
import {
  agentConcurrencyPhase,
  attempt,
  burstPhase,
  concurrencyPhase,
  idleSessionsPhase,
  latencyPhase,
  logins50Phase,
  memoryPhase,
  type Phase,
  plan,
  throughputPhase,
} from "./phases.ts";
import { profile, sessionEnv } from "./profile.ts";
import { chartSvg } from "./report.ts";
import { consoleTable } from "./report_console.ts";
import { markdown } from "./report_markdown.ts";
import type { Outcome, PathId, Results } from "./results.ts";
import {
  captureInvocation,
  type Invocation,
  measureRuntimeFloor,
  NoLauncherError,
  type RuntimeFloor,
  writeFloorFiles,
} from "./runtime_floor.ts";
import { round } from "./stats.ts";
import { loadAverage, machineInfo } from "./system.ts";
import { targets } from "./targets.ts";
import {
  addAgentPath,
  addRuntimeFloor,
  Cleanups,
  setUp,
  SetupError,
  type Topology,
} from "./topology.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const USER = USERS.user1;

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

const cleanups = new Cleanups(say);

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

/**
 * How the launcher runs Deno, read from a session run by hand, then path
 * (f) and the empty module's own figures.
 */
async function runtimeFloor(
  t: Topology,
  workDir: string,
  repeats: number,
): Promise<{ outcome: Outcome<RuntimeFloor>; invocation?: Invocation }> {
  say("runtime floor: how the launcher runs Deno, and an empty module so");
  const config = `${workDir}/capture.yaml`;
  await Deno.writeTextFile(config, t.gw.basicConfig());
  await Deno.chmod(config, 0o644);
  let invocation: Invocation;
  try {
    invocation = await captureInvocation(
      USER,
      t.gw.product.sshproxy,
      [config],
      sessionEnv(`${workDir}/capture-times`),
    );
  } catch (error) {
    const reason = (error as Error).message;
    say(`runtime floor: ${reason}`);
    return {
      outcome: error instanceof NoLauncherError
        ? { status: "not measured", reason }
        : { status: "failed", reason },
    };
  }
  const files = await writeFloorFiles(
    await Deno.makeTempDir({ dir: workDir, prefix: "floor-" }),
  );
  await addRuntimeFloor(t, invocation, files, cleanups);
  const outcome = await attempt(
    say,
    "runtime floor",
    () => measureRuntimeFloor(USER, invocation, files, repeats),
  );
  return { outcome, invocation };
}

/** The outcome of an agent that could not be started for a path. */
function agentNotStarted(error: unknown): Outcome<string> {
  const reason = error instanceof Error ? error.message : String(error);
  return /no agent starter|exports no prepareAgent/.test(reason)
    ? { status: "not measured", reason }
    : { status: "failed", reason: `the agent did not start: ${reason}` };
}

/** Features of the installed product, and the paths that cannot be measured. */
async function features(
  t: Topology,
): Promise<{
  features: Results["features"];
  absent: Phase["absent"];
  agents: Phase["agents"];
}> {
  say("detecting (d) etcd and (e) recording in the proxy");
  const found: Results["features"] = {
    etcd: await detectEtcd(t, USER),
    recording: await detectRecording(t, USER),
  };
  const absent: Phase["absent"] = {};
  if (found.etcd.status !== "measured") absent.d = found.etcd;
  if (found.recording.status !== "measured") absent.e = found.recording;

  say("detecting the agent face (g) and hand-off (h)");
  const agents: Phase["agents"] = {};
  found.agent = await agentFace(t.gw.product.prefix);
  if (found.agent.status === "measured" && absent.d) {
    found.agent = {
      status: "not measured",
      reason: "the agent's paths build on (d), which is not measured",
    };
  }
  if (found.agent.status === "measured") {
    try {
      agents.g = await addAgentPath(t, "g", "", cleanups);
      say(`agent of (g): CPU weight by ${agents.g.cpuWeight}`);
      found.agent = await detectAgentRouting(
        USER,
        t.targets.g!,
        t.etcd.endpoint,
      );
    } catch (error) {
      if (error instanceof SetupError) throw error;
      found.agent = agentNotStarted(error);
    }
  }
  found.handoff = {
    status: "not measured",
    reason: "hand-off is measured through the agent (g)",
  };
  if (found.agent.status === "measured") {
    try {
      agents.h = await addAgentPath(t, "h", `${HANDOFF_YAML}\n`, cleanups);
      say(`agent of (h): CPU weight by ${agents.h.cpuWeight}`);
      found.handoff = await detectHandoff(USER, t.targets.h!);
    } catch (error) {
      if (error instanceof SetupError) throw error;
      found.handoff = agentNotStarted(error);
    }
  }
  if (found.agent.status !== "measured") absent.g = found.agent;
  if (found.handoff.status !== "measured") absent.h = found.handoff;
  for (const [name, outcome] of Object.entries(found)) {
    say(
      `${name}: ${
        outcome.status === "measured" ? outcome.value : outcome.reason
      }`,
    );
  }
  return { features: found, absent, agents };
}

/** Each agent's login counters over the whole run, when it has metrics. */
async function agentCounterReadings(
  agents: Phase["agents"],
): Promise<NonNullable<Results["agentCounters"]>> {
  const readings: NonNullable<Results["agentCounters"]> = {};
  for (const [id, agent] of Object.entries(agents)) {
    if (!agent?.scrape) continue;
    const text = await agent.scrape().catch(() => "");
    if (text) readings[id as PathId] = agentCounters(text);
  }
  return readings;
}

async function gatewaySshdSettings(t: Topology): Promise<string[]> {
  const result = await run([
    "/usr/sbin/sshd",
    "-T",
    "-f",
    t.gw.gateway.sshd.configPath,
  ]);
  return result.stdout.split("\n").filter((l) =>
    /^(maxstartups|maxsessions|exposeauthinfo) /.test(l)
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

const PATH_SETUP: Record<PathId, string> = {
  a: "`ssh` straight to the destination sshd (server1)",
  b: 'a second gateway sshd whose ForceCommand is `exec ssh -q … -e none -p PORT server1 -- "$SSH_ORIGINAL_COMMAND"`',
  f: "a third gateway sshd whose ForceCommand is a script running an empty module exactly as the installed launcher runs ours (same deno binary, flags, DENO_DIR and variables, as the user), then the same `exec ssh` as (b)",
  c: "the gateway sshd whose ForceCommand is the installed `sshproxy`, config: per-user log file, one destination",
  d: "as (c) with an `etcd` section (loopback etcd, keyttl 5), `mode: sticky`, `route_select: connections`, three destinations",
  e: "as (c) with `dump: DIR/{user}-{sid}.dump`",
  g: "a gateway sshd of its own whose sshproxy reads (d)'s configuration plus an `agent` section (socket, metrics on loopback, the default bounds: 200ms for its greeting, 2s for its decision), served by an agent running as its own account, with the CPU weight of its shipped unit (ten times the default: a cpu cgroup of its own where the bench can make one, else niceness -5)",
  h: `as (g), with a gateway, a file and an agent of its own, and \`${HANDOFF_YAML}\``,
};

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  if (options.fromResults) return await rerender(options);
  const started = performance.now();
  const sizes = plan(options.quick);

  await preflight();
  const machine = await machineInfo();
  const commit = await commitId();
  const t = await setUp(say, cleanups);
  const workDir = await sharedWritableDir("sshproxy-bench-work-");
  cleanups.push(() => Deno.remove(workDir, { recursive: true }));

  const floor = await runtimeFloor(t, workDir, sizes.profileRepeats);
  const detected = await features(t);
  const absent = { ...detected.absent };
  if (floor.outcome.status !== "measured" && !t.targets.f) {
    absent.f = floor.outcome;
  }
  const phase: Phase = {
    t,
    user: USER,
    plan: sizes,
    say,
    absent,
    agents: detected.agents,
  };

  const latency = await latencyPhase(phase);
  const throughput = await throughputPhase(phase);
  const memory = await memoryPhase(phase);
  const logins50 = await logins50Phase(phase);
  const concurrency = await concurrencyPhase(phase);
  const agentConcurrency = await agentConcurrencyPhase(phase);
  const burst = await burstPhase(phase);
  const idleSessions = await idleSessionsPhase(phase);

  say("profile: where the added latency goes");
  const profileOutcome = await attempt(say, "profile", () =>
    profile({
      product: t.gw.product,
      invocation: floor.invocation,
      etcdConfig: absent.d ? undefined : t.etcdConfig,
      dumpDir: absent.e ? undefined : t.dumpDir,
      user: USER,
      destination: {
        host: t.gw.servers.server1.host,
        port: t.gw.servers.server1.port,
      },
      sshArgs: t.gw.sshArgs,
      workDir,
      repeats: sizes.profileRepeats,
      say,
    }));
  const gatewaySshd = await gatewaySshdSettings(t);
  const agentReadings = await agentCounterReadings(detected.agents);
  const etcdEndpoint = t.etcd.endpoint;

  say("tearing down the topology");
  await cleanups.run();

  // sshproxyctl at scale (after the teardown: it sets up its own etcd).
  const ctl = await ctlScale(ROOT, options.quick, say);

  const results: Results = {
    date: new Date().toISOString(),
    quick: options.quick,
    durationSeconds: 0,
    commit,
    machine: { ...machine, loadAverage1mEnd: loadAverage() },
    setup: { user: USER, paths: PATH_SETUP, gatewaySshd, etcdEndpoint },
    features: detected.features,
    runtime: floor.outcome,
    latency,
    throughput,
    memory,
    concurrency,
    logins50,
    agentConcurrency,
    burst,
    idleSessions,
    agentCounters: agentReadings,
    ctl,
    profile: profileOutcome,
    targets: [],
  };
  results.targets = targets(results);
  results.durationSeconds = round((performance.now() - started) / 1000, 0);

  console.log(consoleTable(results));

  const outcomes: (Outcome<unknown> | undefined)[] = [
    ...Object.values(results.features),
    floor.outcome,
    ...Object.values(latency.paths),
    ...Object.values(throughput.paths),
    ...Object.values(memory),
    ...Object.values(logins50),
    concurrency,
    agentConcurrency,
    ...Object.values(burst),
    ...Object.values(idleSessions),
    ctl,
    profileOutcome,
  ];
  if (outcomes.some((o) => o?.status === "failed")) {
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
  // Targets are computed from the figures: recompute them with today's list.
  results.targets = targets(results);
  console.log(consoleTable(results));
  const out = options.out ?? ROOT;
  const files = await writeOutputs(results, out);
  say(`rendered ${files.join(", ")} from ${options.fromResults}`);
  return 0;
}

let status = 1;
const interrupted = async () => {
  say("interrupted: tearing down");
  await cleanups.run();
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
  await cleanups.run();
}
Deno.exit(status);
