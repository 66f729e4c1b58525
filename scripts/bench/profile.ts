// "Where the time goes": the proxy's own start-up, session and memory cost,
// measured outside sshd so that nothing but sshproxy is timed. Nothing here
// edits the product: CPU profiles and V8-flag variants run through copies
// of the launcher written from how it really runs Deno (runtime_floor.ts).
import { run, sleep, type TestUser } from "../../tests/harness/mod.ts";
import { runChecked } from "../../tests/harness/process.ts";
import { type CpuBreakdown, cpuProfile } from "./cpu_profile.ts";
import { type DumpRecords, dumpRecords } from "./dump_records.ts";
import {
  importCases,
  type ImportCost,
  measureImports,
} from "./import_costs.ts";
import { type ModuleGraph, moduleGraph } from "./module_graph.ts";
import { descendantsOf, isOurs, summedMemory, threadsOf } from "./processes.ts";
import { round, summarize, type Summary } from "./stats.ts";
import {
  type Invocation,
  withFlags,
  writeLauncherVariant,
} from "./runtime_floor.ts";
import {
  anonymousPrivateDirty,
  asUser,
  exeOf,
  type Memory,
  syncPageCache,
  timedAs,
  timedQuietAs,
  userEnvironment,
} from "./system.ts";

/** An installed product (prefix layout of scripts/install.sh). */
export interface Product {
  prefix: string;
  sshproxy: string;
}

/** What the profile needs from the running topology. */
export interface ProfileContext {
  product: Product;
  user: TestUser;
  /** How the launcher runs Deno (undefined: not under `deno run`). */
  invocation?: Invocation;
  /** server1: host and port of a destination sshd. */
  destination: { host: string; port: number };
  /** ssh options for the gateway → destination hop (as the proxy gets them). */
  sshArgs: string[];
  /**
   * When path (d) works: YAML lines adding etcd to the config (etcd, mode,
   * route_select, dest), to profile a session of (d) as well.
   */
  etcdConfig?: string;
  /** When (e) works: a directory every user can write, for a profiled recording. */
  dumpDir?: string;
  /** A temp dir every user can write (mode 1777). */
  workDir: string;
  /** Repetitions of each timing. */
  repeats: number;
  /** Lines of progress for the console. */
  say(text: string): void;
}

/** One session run by hand (no sshd), split at the ssh child's start and end. */
export interface SessionPhases {
  total: Summary;
  /** From exec of the launcher to the ssh child's start. */
  beforeSsh: Summary;
  /** The ssh child's own run (the destination login and `true`). */
  ssh: Summary;
  /** From the ssh child's exit to the proxy's exit. */
  afterSsh: Summary;
}

export type { CpuBreakdown, DumpRecords, ImportCost };

/** What strace saw in one session: cache writes refused, sleeps, modules read. */
export interface StraceFigures {
  wallMs: number;
  sleeps: number;
  sleptMs: number;
  deniedWrites: { what: string; count: number }[];
  /** Files opened under the program's directory: our sources, npm packages. */
  opened?: { ours: number; packages: { name: string; files: number }[] };
}

/** Memory of our processes in one hand-run idle session, per variant. */
export interface MemoryVariant {
  variant: string;
  proxy: Memory;
  /** Private dirty of anonymous mappings only (KiB). */
  anonymousPrivateDirty: number;
  threads: number;
}

/** Everything the profile measured. */
export interface ProfileFigures {
  repeats: number;
  /** `deno run --no-config` of an empty module (results before the runtime floor existed). */
  emptyDenoMs?: Summary;
  versionMs: Summary;
  sshAloneMs: Summary;
  session: SessionPhases;
  /** The same with the etcd configuration of (d), when (d) works. */
  etcdSession?: SessionPhases;
  cpu?: {
    version: CpuBreakdown;
    session: CpuBreakdown;
    etcdSession?: CpuBreakdown;
    /** Recording `bytes` of output, when (e) works. */
    recording?: CpuBreakdown & { bytes: number; records?: DumpRecords };
  };
  strace?: StraceFigures;
  /** What the session path loads, from the installed program's graph. */
  graph?: ModuleGraph;
  importCosts?: ImportCost[];
  memoryVariants?: MemoryVariant[];
  /** Parts not measured, and why. */
  notes?: string[];
}

const libOf = (p: Product) => `${p.prefix}/lib/sshproxy`;

/** The proxy's environment for a session run by hand, not by sshd. */
export function sessionEnv(
  times: string,
  command = "true",
): Record<string, string> {
  return {
    SSH_CONNECTION: "127.0.0.1 40000 127.0.0.1 22",
    SSH_CLIENT: "127.0.0.1 40000 22",
    SSH_ORIGINAL_COMMAND: command,
    BENCH_SSH_TIMES: times,
  };
}

/** The files the hand-run sessions share: the timing ssh wrapper and configs. */
interface ProfileConfigs {
  base: string[];
  stateless: string;
  etcd?: string;
}

async function writeConfigs(ctx: ProfileContext): Promise<ProfileConfigs> {
  const wrapper = `${ctx.workDir}/ssh-timed`;
  await Deno.writeTextFile(
    wrapper,
    [
      "#!/bin/sh",
      "# Records when the proxy's ssh child starts and ends (ns since the epoch).",
      "start=$(date +%s%N)",
      '/usr/bin/ssh "$@"',
      "status=$?",
      'echo "$start $(date +%s%N)" >> "$BENCH_SSH_TIMES"',
      'exit "$status"',
      "",
    ].join("\n"),
  );
  await Deno.chmod(wrapper, 0o755);
  const base = [
    `log: ${JSON.stringify(`${ctx.workDir}/profile-{user}.log`)}`,
    "ssh:",
    `  exe: ${JSON.stringify(wrapper)}`,
    `  args: ${JSON.stringify(["-q", ...ctx.sshArgs])}`,
  ];
  const write = async (name: string, lines: string[]) => {
    const path = `${ctx.workDir}/${name}`;
    await Deno.writeTextFile(path, [...base, ...lines, ""].join("\n"));
    await Deno.chmod(path, 0o644);
    return path;
  };
  const dest = `dest: [${
    JSON.stringify(`${ctx.destination.host}:${ctx.destination.port}`)
  }]`;
  return {
    base: [...base, dest],
    stateless: await write("profile.yaml", [dest]),
    etcd: ctx.etcdConfig
      ? await write("profile-etcd.yaml", [ctx.etcdConfig])
      : undefined,
  };
}

/** Runs every profile step; throws (with the step named) when one fails. */
export async function profile(ctx: ProfileContext): Promise<ProfileFigures> {
  const { workDir, user, product } = ctx;
  const n = ctx.repeats;
  const configs = await writeConfigs(ctx);
  const scratch = () => `${workDir}/times-${crypto.randomUUID()}`;
  const notes: string[] = [];

  ctx.say("profile: sshproxy -version, ssh alone, sessions by hand");
  const version: number[] = [];
  const sshAlone: number[] = [];
  const phases: number[][] = [];
  const etcdPhases: number[][] = [];
  for (let i = 0; i < n; i++) {
    version.push(await timedAs(user, [product.sshproxy, "-version"]));
    sshAlone.push(
      await timedAs(user, [
        "/usr/bin/ssh",
        "-q",
        ...ctx.sshArgs,
        "-e",
        "none",
        "-p",
        String(ctx.destination.port),
        ctx.destination.host,
        "--",
        "true",
      ]),
    );
    phases.push(await sessionPhases(ctx, configs.stateless));
    if (configs.etcd) etcdPhases.push(await sessionPhases(ctx, configs.etcd));
  }
  const figures: ProfileFigures = {
    repeats: n,
    versionMs: summarize(version),
    sshAloneMs: summarize(sshAlone),
    session: phaseSummary(phases),
    etcdSession: etcdPhases.length ? phaseSummary(etcdPhases) : undefined,
    notes,
  };

  if (await exists("/usr/bin/strace")) {
    ctx.say("profile: strace of one session (cache writes, sleeps, modules)");
    figures.strace = await straceSession(ctx, configs.stateless);
  } else notes.push("strace: /usr/bin/strace is not installed");

  const invocation = ctx.invocation;
  if (!invocation) {
    notes.push(
      "CPU profiles, import costs and V8-flag variants: the installed sshproxy does not run under `deno run`, so there is no launcher to copy",
    );
    return figures;
  }
  const lib = libOf(product);

  ctx.say("profile: the session path's module graph and import costs");
  const face = `${lib}/src/cli/proxy.ts`;
  try {
    figures.graph = await moduleGraph(
      user,
      invocation,
      lib,
      await exists(face) ? face : undefined,
    );
  } catch (error) {
    notes.push(`module graph: ${(error as Error).message}`);
  }
  if (figures.graph) {
    const dir = await Deno.makeTempDir({ dir: workDir, prefix: "imports-" });
    figures.importCosts = await measureImports(
      user,
      invocation,
      importCases(figures.graph, lib),
      dir,
      n,
    );
  }

  const cpuRuns = Math.min(3, n);
  ctx.say(`profile: --cpu-prof (${cpuRuns} runs each) via a launcher copy`);
  const common = { user, workDir, invocation, programDir: lib, runs: cpuRuns };
  figures.cpu = {
    version: await cpuProfile({
      ...common,
      args: ["-version"],
      env: () => ({}),
    }),
    session: await cpuProfile({
      ...common,
      args: [configs.stateless],
      env: () => sessionEnv(scratch()),
    }),
    etcdSession: configs.etcd
      ? await cpuProfile({
        ...common,
        args: [configs.etcd],
        env: () => sessionEnv(scratch()),
      })
      : undefined,
  };
  if (ctx.dumpDir) {
    figures.cpu.recording = await recordingProfile(ctx, configs, invocation);
  }

  ctx.say("profile: idle proxy memory, as installed and with V8 flags");
  const variants: [string, string[]][] = [
    ["as installed", []],
    // V8's default young generation, which the launcher replaces
    // (scripts/runtime_flags.sh): what --minor-ms saves, in this run.
    ["+ --no-minor-ms (V8's default scavenger)", ["--no-minor-ms"]],
    ["+ --single-threaded", ["--single-threaded"]],
    // (--lite-mode cannot be installed: no WebAssembly, which ssh2 needs.)
  ];
  figures.memoryVariants = [];
  for (const [variant, v8Flags] of variants) {
    const launcher = v8Flags.length
      ? await writeLauncherVariant(workDir, invocation, {
        v8Flags,
        env: {
          DENO_DIR: await codeCacheForFlags(workDir, invocation, v8Flags),
        },
      })
      : product.sshproxy;
    figures.memoryVariants.push(
      await idleMemory(ctx, configs.stateless, variant, launcher),
    );
  }
  return figures;
}

/**
 * A copy of the installed Deno caches, warmed and sealed as install.sh
 * does but under `v8Flags` added to the launcher's: V8 refuses a code cache
 * made under other flags (most of them count), and a variant compiling our
 * program at each start would be measured against a cached one.
 */
async function codeCacheForFlags(
  workDir: string,
  invocation: Invocation,
  v8Flags: string[],
): Promise<string> {
  const installed = invocation.env.DENO_DIR;
  if (!installed) {
    throw new Error("the launcher sets no DENO_DIR: no code cache to copy");
  }
  const copy = await Deno.makeTempDir({ dir: workDir, prefix: "cache-" });
  await runChecked(["cp", "-a", `${installed}/.`, copy]);
  const changed = withFlags(invocation, [], v8Flags);
  const entry = changed.argv[changed.moduleIndex];
  const scripts = new URL("../", import.meta.url).pathname;
  await runChecked([
    ...changed.argv.slice(0, changed.moduleIndex),
    `${scripts}warm_cache.ts`,
    entry.slice(0, entry.lastIndexOf("/")),
  ], { env: { ...invocation.env, DENO_DIR: copy }, timeoutMs: 120_000 });
  await Deno.remove(`${copy}/gen`, { recursive: true }).catch(() => {});
  await runChecked([
    changed.argv[0],
    "run",
    "--no-config",
    "--quiet",
    "--allow-read",
    "--allow-write",
    `${scripts}seal_cache.ts`,
    copy,
  ]);
  await runChecked(["chmod", "-R", "a+rX,go-w", copy]);
  return copy;
}

/** `--cpu-prof` of a recorded session sending 128 MiB, and its dump's records. */
async function recordingProfile(
  ctx: ProfileContext,
  configs: ProfileConfigs,
  invocation: Invocation,
): Promise<CpuBreakdown & { bytes: number; records?: DumpRecords }> {
  const recordings = await Deno.makeTempDir({
    dir: ctx.dumpDir,
    prefix: "profile-",
  });
  await Deno.chmod(recordings, 0o1777);
  const dumpConfig = `${ctx.workDir}/profile-dump.yaml`;
  await Deno.writeTextFile(
    dumpConfig,
    [
      ...configs.base,
      `dump: ${JSON.stringify(`${recordings}/{user}-{sid}.dump`)}`,
      "",
    ].join("\n"),
  );
  await Deno.chmod(dumpConfig, 0o644);
  ctx.say("profile: --cpu-prof of a recorded session sending 128 MiB");
  const bytes = 128 * 1024 * 1024;
  try {
    return {
      bytes,
      ...await cpuProfile({
        user: ctx.user,
        workDir: ctx.workDir,
        invocation,
        programDir: libOf(ctx.product),
        args: [dumpConfig],
        env: () =>
          sessionEnv(
            `${ctx.workDir}/times-${crypto.randomUUID()}`,
            `head -c ${bytes} /dev/zero`,
          ),
        runs: 1,
        runner: timedQuietAs,
      }),
      records: await dumpRecords(recordings),
    };
  } finally {
    await Deno.remove(recordings, { recursive: true });
  }
}

function phaseSummary(rows: number[][]): SessionPhases {
  return {
    total: summarize(rows.map((r) => r[0])),
    beforeSsh: summarize(rows.map((r) => r[1])),
    ssh: summarize(rows.map((r) => r[2])),
    afterSsh: summarize(rows.map((r) => r[3])),
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** [total, beforeSsh, ssh, afterSsh] of one hand-run session, in ms. */
async function sessionPhases(
  ctx: ProfileContext,
  config: string,
): Promise<number[]> {
  const times = `${ctx.workDir}/times-${crypto.randomUUID()}`;
  const start = Date.now();
  await timedAs(ctx.user, [ctx.product.sshproxy, config], sessionEnv(times));
  const end = Date.now();
  const line = (await Deno.readTextFile(times)).trim().split("\n")[0];
  await Deno.remove(times);
  const [sshStart, sshEnd] = line.split(" ").map((ns) =>
    Number(BigInt(ns) / 1000n) / 1000
  );
  return [end - start, sshStart - start, sshEnd - sshStart, end - sshEnd];
}

async function straceSession(
  ctx: ProfileContext,
  config: string,
): Promise<StraceFigures> {
  const out = `${ctx.workDir}/strace-${crypto.randomUUID()}.txt`;
  const times = `${ctx.workDir}/strace-times-${crypto.randomUUID()}`;
  const { home, env } = await userEnvironment(ctx.user);
  const start = performance.now();
  const result = await run([
    "/usr/bin/strace",
    "-f",
    "-qq",
    "-o",
    out,
    "-e",
    "trace=clock_nanosleep,nanosleep,openat,mkdir,rename",
    ...await asUser(ctx.user),
    ctx.product.sshproxy,
    config,
  ], {
    clearEnv: true,
    env: { ...env, ...sessionEnv(times) },
    cwd: home,
    timeoutMs: 60_000,
  });
  const wallMs = performance.now() - start;
  if (!result.ok) {
    throw new Error(
      `strace of a session failed: ${result.stderr.slice(0, 300)}`,
    );
  }
  const text = await Deno.readTextFile(out);
  await Deno.remove(out).catch(() => {});
  await Deno.remove(times).catch(() => {});
  return straceFigures(text, libOf(ctx.product), wallMs);
}

/** The npm package a path under node_modules belongs to. */
function packageOf(relative: string): string {
  const inner = relative.split("/node_modules/").pop()!.replace(
    /^node_modules\//,
    "",
  );
  const parts = inner.split("/");
  return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Sleeps, permission-denied writes and files read under the program's dir. */
export function straceFigures(
  text: string,
  lib: string,
  wallMs: number,
): StraceFigures {
  let sleeps = 0;
  let sleptNs = 0;
  const denied = new Map<string, number>();
  const ours = new Set<string>();
  const packages = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const sleep = line.match(
      /(?:clock_nanosleep|nanosleep)\(.*?\{tv_sec=(\d+), tv_nsec=(\d+)\}/,
    );
    if (sleep) {
      sleeps++;
      sleptNs += Number(sleep[1]) * 1e9 + Number(sleep[2]);
      continue;
    }
    const path = line.match(/"([^"]*)"/)?.[1] ?? "";
    if (!path.startsWith(`${lib}/`)) continue;
    const rel = path.slice(lib.length + 1);
    if (!line.includes("EACCES")) {
      if (!/openat\(/.test(line) || / = -\d/.test(line)) continue;
      if (!/\.(m|c)?(j|t)sx?$|\.json$/.test(rel)) continue;
      if (rel.startsWith("node_modules/")) {
        const name = packageOf(rel);
        if (name.startsWith(".")) continue;
        packages.set(name, (packages.get(name) ?? new Set()).add(rel));
      } else if (!rel.startsWith("cache/")) ours.add(rel);
      continue;
    }
    const what = rel.startsWith("node_modules/.deno/.setup-cache")
      ? "node_modules/.deno/.setup-cache.*.tmp (npm set-up marker)"
      : rel.startsWith("node_modules/.deno/.deno.lock")
      ? "node_modules/.deno/.deno.lock"
      : rel.startsWith("cache/gen/")
      ? "cache/gen/… (transpiled sources)"
      : rel.startsWith("cache/")
      ? `cache/${rel.slice(6).replace(/-(shm|wal)$/, "")} (sqlite cache)`
      : rel;
    denied.set(what, (denied.get(what) ?? 0) + 1);
  }
  return {
    wallMs: round(wallMs),
    sleeps,
    sleptMs: round(sleptNs / 1e6),
    deniedWrites: [...denied].sort((a, b) => b[1] - a[1]).map((
      [what, count],
    ) => ({ what, count })),
    opened: {
      ours: ours.size,
      packages: [...packages].map(([name, files]) => ({
        name,
        files: files.size,
      })).sort((a, b) => b.files - a.files),
    },
  };
}

/**
 * Our processes in one hand-run session whose remote command sleeps,
 * sampled after 4 idle seconds (the ssh child is up, nothing flows).
 */
async function idleMemory(
  ctx: ProfileContext,
  config: string,
  variant: string,
  launcher: string,
): Promise<MemoryVariant> {
  const times = `${ctx.workDir}/times-${crypto.randomUUID()}`;
  const { home, env } = await userEnvironment(ctx.user);
  const [cmd, ...args] = [...await asUser(ctx.user), launcher, config];
  const child = new Deno.Command(cmd, {
    args,
    env: { ...env, ...sessionEnv(times, "sleep 7") },
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeTo(new WritableStream());
  // Ours: the product's processes (not the timing wrapper around ssh).
  const ours = async () => {
    const tree = [child.pid, ...await descendantsOf(child.pid)];
    const exes = await Promise.all(tree.map(exeOf));
    const mine = await Promise.all(
      tree.map((pid) => isOurs(pid, ctx.product.prefix)),
    );
    return {
      ours: tree.filter((_, i) => mine[i]),
      ssh: tree.filter((_, i) => exes[i] === "/usr/bin/ssh"),
    };
  };
  let measured: MemoryVariant | undefined;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (await ours()).ssh.length === 0) {
    await sleep(100);
  }
  await sleep(4000);
  await syncPageCache();
  const { ours: pids } = await ours();
  const anonymous = await Promise.all(pids.map(anonymousPrivateDirty));
  const threads = await Promise.all(pids.map(threadsOf));
  if (pids.length > 0 && anonymous.every((a) => a !== undefined)) {
    measured = {
      variant,
      proxy: await summedMemory(pids),
      anonymousPrivateDirty: anonymous.reduce((t, a) => t + a!, 0),
      threads: threads.reduce((t, a) => t + a, 0),
    };
  }
  const result = await child.status;
  await stderr.catch(() => {});
  await Deno.remove(times).catch(() => {});
  if (!result.success || !measured) {
    throw new Error(
      `idle memory (${variant}): the session ${
        result.success
          ? "ended before it was sampled"
          : `failed (${result.code})`
      }`,
    );
  }
  return measured;
}
