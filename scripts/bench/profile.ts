// "Where the time goes": the proxy's own start-up, session and memory cost,
// measured outside sshd so that nothing but sshproxy is timed. Nothing here
// edits the product: CPU profiles and V8-flag variants run through modified
// copies of the installed launcher in a temp dir.
import { run, runAs, sleep, type TestUser } from "../../tests/harness/mod.ts";
import { round, summarize, type Summary } from "./stats.ts";
import {
  anonymousPrivateDirty,
  asUser,
  descendantsRunning,
  type Memory,
  smapsRollup,
  syncPageCache,
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
  /** server1: host and port of a destination sshd. */
  destination: { host: string; port: number };
  /** ssh options for the gateway → destination hop (as the proxy gets them). */
  sshArgs: string[];
  /**
   * When path (d) works: YAML lines adding etcd to the config (etcd, mode,
   * route_select, dest), to profile a session of (d) as well.
   */
  etcdConfig?: string;
  /** etcd's client URL when (d) works (for the import-cost table). */
  etcdEndpoint?: string;
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

/** Self time of CPU profiles, grouped, averaged over `runs` runs. */
export interface CpuBreakdown {
  runs: number;
  /** Wall time of a profiled run (ms, mean). */
  wallMs: number;
  /** Span covered by the profile (ms, mean); the rest is Deno starting up. */
  profiledMs: number;
  /** Self time per group (ms, mean), largest first. */
  groups: { group: string; ms: number }[];
  /** Busiest functions outside idle/program/GC (ms, mean). */
  topFunctions: { name: string; ms: number }[];
}

/** Failed cache writes and retry sleeps seen by strace in one run. */
export interface StraceFigures {
  wallMs: number;
  sleeps: number;
  sleptMs: number;
  deniedWrites: { what: string; count: number }[];
}

/** Start-up of a one-line module importing one thing, as the test user. */
export interface ImportCost {
  what: string;
  source: string;
  ms: Summary;
  /** Memory of the process idling after the import (some cases only). */
  idle?: { rss: number; privateDirty: number; anonymousPrivateDirty: number };
}

/** Memory of the proxy of one hand-run idle session, per variant. */
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
  emptyDenoMs: Summary;
  versionMs: Summary;
  sshAloneMs: Summary;
  session: SessionPhases;
  /** The same with the etcd configuration of (d), when (d) works. */
  etcdSession?: SessionPhases;
  cpu: {
    version: CpuBreakdown;
    session: CpuBreakdown;
    etcdSession?: CpuBreakdown;
    /** Recording `bytes` of output, when (e) works. */
    recording?: CpuBreakdown & { bytes: number; records?: DumpRecords };
  };
  strace?: StraceFigures;
  importCosts: ImportCost[];
  memoryVariants: MemoryVariant[];
}

async function timed(
  user: TestUser,
  argv: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const start = performance.now();
  const result = await runAs(user, argv, { env, timeoutMs: 30_000 });
  const ms = performance.now() - start;
  if (!result.ok) {
    throw new Error(
      `"${argv.join(" ")}" failed (status ${result.code}): ${
        result.stderr.trim().slice(0, 300)
      }`,
    );
  }
  return ms;
}

const libOf = (p: Product) => `${p.prefix}/lib/sshproxy`;

/** How a dump's records split the session's output. */
export interface DumpRecords {
  /** Records of the output stream (fd 1). */
  count: number;
  /** Their data bytes. */
  bytes: number;
  /** Mean and largest data length of one record. */
  meanBytes: number;
  maxBytes: number;
}

/**
 * Reads the one dump file in `dir` (header, then records of a 13-byte frame
 * — time, fd, length — and data): each record is one chunk the proxy read
 * from ssh and relayed.
 */
export async function dumpRecords(
  dir: string,
): Promise<DumpRecords | undefined> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".dump")) names.push(entry.name);
  }
  if (names.length !== 1) return undefined;
  const file = await Deno.open(`${dir}/${names[0]}`);
  try {
    const size = (await file.stat()).size;
    const readExactly = async (n: number) => {
      const buffer = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const read = await file.read(buffer.subarray(got));
        if (read === null) return undefined;
        got += read;
      }
      return buffer;
    };
    const head = await readExactly(4);
    if (!head) return undefined;
    let offset = new DataView(head.buffer).getUint16(2);
    const figures = { count: 0, bytes: 0, meanBytes: 0, maxBytes: 0 };
    while (offset + 13 <= size) {
      await file.seek(offset, Deno.SeekMode.Start);
      const frame = await readExactly(13);
      if (!frame) break;
      const view = new DataView(frame.buffer);
      const fd = view.getUint8(8);
      const length = view.getUint32(9);
      if (fd === 1) {
        figures.count++;
        figures.bytes += length;
        figures.maxBytes = Math.max(figures.maxBytes, length);
      }
      offset += 13 + length;
    }
    figures.meanBytes = figures.count
      ? Math.round(figures.bytes / figures.count)
      : 0;
    return figures;
  } finally {
    file.close();
  }
}

/** As timed(), with the command's stdout on /dev/null (for bulk output). */
async function timedQuiet(
  user: TestUser,
  argv: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const { home, env: userEnv } = await userEnvironment(user);
  const [cmd, ...args] = [...await asUser(user), ...argv];
  const start = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    env: { ...userEnv, ...env },
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, 120_000);
  const output = await child.output();
  clearTimeout(timer);
  const ms = performance.now() - start;
  if (!output.success) {
    throw new Error(
      `"${argv.join(" ")}" failed (status ${output.code}): ${
        new TextDecoder().decode(output.stderr).trim().slice(0, 300)
      }`,
    );
  }
  return ms;
}

/** The proxy's environment for a session run by hand, not by sshd. */
function sessionEnv(
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

/** Runs every profile step; throws (with the step named) when one fails. */
export async function profile(ctx: ProfileContext): Promise<ProfileFigures> {
  const { workDir, user } = ctx;
  const n = ctx.repeats;

  // Files the runs share: an empty JS module, the timing ssh wrapper and
  // the config of the hand-run sessions.
  await Deno.writeTextFile(`${workDir}/empty.js`, "export {};\n");
  const wrapper = `${workDir}/ssh-timed`;
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
  const config = `${workDir}/profile.yaml`;
  const baseLines = [
    `log: ${JSON.stringify(`${workDir}/profile-{user}.log`)}`,
    "ssh:",
    `  exe: ${JSON.stringify(wrapper)}`,
    `  args: ${JSON.stringify(["-q", ...ctx.sshArgs])}`,
  ];
  await Deno.writeTextFile(
    config,
    [
      ...baseLines,
      `dest: [${
        JSON.stringify(`${ctx.destination.host}:${ctx.destination.port}`)
      }]`,
      "",
    ].join("\n"),
  );
  await Deno.chmod(config, 0o644);
  const etcdConfig = ctx.etcdConfig ? `${workDir}/profile-etcd.yaml` : "";
  if (ctx.etcdConfig) {
    await Deno.writeTextFile(
      etcdConfig,
      [...baseLines, ctx.etcdConfig, ""].join("\n"),
    );
    await Deno.chmod(etcdConfig, 0o644);
  }
  const scratch = () => `${workDir}/times-${crypto.randomUUID()}`;

  const product = ctx.product;
  const lib = libOf(product);
  ctx.say("profile: deno run of an empty module, sshproxy -version, ssh alone");
  const emptyDeno: number[] = [];
  const version: number[] = [];
  const sshAlone: number[] = [];
  const phases: number[][] = [];
  const etcdPhases: number[][] = [];
  for (let i = 0; i < n; i++) {
    emptyDeno.push(
      await timed(user, [
        `${lib}/bin/deno`,
        "run",
        "--cached-only",
        "--no-prompt",
        "--quiet",
        "--no-config",
        `${workDir}/empty.js`,
      ], { DENO_DIR: `${lib}/cache` }),
    );
    version.push(await timed(user, [product.sshproxy, "-version"]));
    sshAlone.push(
      await timed(user, [
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
    phases.push(await sessionPhases(ctx, product, config));
    if (etcdConfig) {
      etcdPhases.push(await sessionPhases(ctx, product, etcdConfig));
    }
  }

  ctx.say("profile: start-up cost of single imports");
  const importCosts = await measureImports(ctx, n);

  const cpuRuns = Math.min(3, n);
  ctx.say(`profile: --cpu-prof (${cpuRuns} runs each) via a launcher copy`);
  const cpu = {
    version: await cpuProfile(ctx, product, ["-version"], () => ({}), cpuRuns),
    session: await cpuProfile(
      ctx,
      product,
      [config],
      () => sessionEnv(scratch()),
      cpuRuns,
    ),
    etcdSession: etcdConfig
      ? await cpuProfile(
        ctx,
        product,
        [etcdConfig],
        () => sessionEnv(scratch()),
        cpuRuns,
      )
      : undefined,
    recording: undefined as
      | (CpuBreakdown & { bytes: number; records?: DumpRecords })
      | undefined,
  };
  if (ctx.dumpDir) {
    const recordings = await Deno.makeTempDir({
      dir: ctx.dumpDir,
      prefix: "profile-",
    });
    await Deno.chmod(recordings, 0o1777);
    const dumpConfig = `${workDir}/profile-dump.yaml`;
    await Deno.writeTextFile(
      dumpConfig,
      [
        ...baseLines,
        `dest: [${
          JSON.stringify(`${ctx.destination.host}:${ctx.destination.port}`)
        }]`,
        `dump: ${JSON.stringify(`${recordings}/{user}-{sid}.dump`)}`,
        "",
      ].join("\n"),
    );
    await Deno.chmod(dumpConfig, 0o644);
    ctx.say("profile: --cpu-prof of a recorded session sending 128 MiB");
    const bytes = 128 * 1024 * 1024;
    cpu.recording = {
      bytes,
      ...await cpuProfile(
        ctx,
        product,
        [dumpConfig],
        () => sessionEnv(scratch(), `head -c ${bytes} /dev/zero`),
        1,
        timedQuiet,
      ),
      records: await dumpRecords(recordings),
    };
    await Deno.remove(recordings, { recursive: true });
  }

  let strace: StraceFigures | undefined;
  if (await exists("/usr/bin/strace")) {
    ctx.say("profile: strace of one session (failed cache writes, sleeps)");
    strace = await straceSession(ctx, product, config);
  }

  ctx.say("profile: idle proxy memory, as installed and with V8 flags");
  const memoryVariants = [];
  for (
    const [variant, flags] of [
      ["as installed", ""],
      [
        "with --v8-flags=--max-semi-space-size=1",
        "--v8-flags=--max-semi-space-size=1",
      ],
      ["with --v8-flags=--lite-mode", "--v8-flags=--lite-mode"],
      [
        "with --v8-flags=--lite-mode,--max-semi-space-size=1",
        "--v8-flags=--lite-mode,--max-semi-space-size=1",
      ],
    ]
  ) {
    memoryVariants.push(await idleMemory(ctx, config, variant, product, flags));
  }

  return {
    repeats: n,
    emptyDenoMs: summarize(emptyDeno),
    versionMs: summarize(version),
    sshAloneMs: summarize(sshAlone),
    session: phaseSummary(phases),
    etcdSession: etcdPhases.length ? phaseSummary(etcdPhases) : undefined,
    cpu,
    strace,
    importCosts,
    memoryVariants,
  };
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
  product: Product,
  config: string,
): Promise<number[]> {
  const times = `${ctx.workDir}/times-${crypto.randomUUID()}`;
  const start = Date.now();
  await timed(ctx.user, [product.sshproxy, config], sessionEnv(times));
  const end = Date.now();
  const line = (await Deno.readTextFile(times)).trim().split("\n")[0];
  await Deno.remove(times);
  const [sshStart, sshEnd] = line.split(" ").map((ns) =>
    Number(BigInt(ns) / 1000n) / 1000
  );
  return [end - start, sshStart - start, sshEnd - sshStart, end - sshEnd];
}

/**
 * One-line modules, each importing one thing the proxy imports, run by the
 * installed Deno with its config (import map, node_modules) as the
 * test user; interleaved, medians.
 */
async function measureImports(
  ctx: ProfileContext,
  n: number,
): Promise<ImportCost[]> {
  const lib = libOf(ctx.product);
  const dir = await Deno.makeTempDir({ dir: ctx.workDir, prefix: "imports-" });
  await Deno.chmod(dir, 0o755);
  const yamlEsm = JSON.stringify(
    `file://${lib}/node_modules/yaml/browser/index.js`,
  );
  const cases: [string, string][] = [
    ["nothing (empty module)", "export {};"],
    [
      "node:net (`isIP`, src/config/host_port.ts)",
      'import { isIP } from "node:net";\nisIP("127.0.0.1");',
    ],
    [
      "node:crypto (`createHash`, src/log/session_id.ts)",
      'import { createHash } from "node:crypto";\ncreateHash("sha1").update("x").digest();',
    ],
    [
      "node:dns/promises (src/system/network_names.ts)",
      'import { lookup } from "node:dns/promises";\nvoid lookup;',
    ],
    [
      "the three node: modules together",
      'import { isIP } from "node:net";\nimport { createHash } from "node:crypto";\nimport { lookup } from "node:dns/promises";\nvoid [isIP, createHash, lookup];',
    ],
    [
      "Web Crypto SHA-1 instead of node:crypto",
      'await crypto.subtle.digest("SHA-1", new TextEncoder().encode("x"));',
    ],
    [
      "`yaml` as the proxy imports it (npm:, CommonJS build)",
      'import { parse } from "yaml";\nparse("a: 1");',
    ],
    [
      "`yaml`'s ESM build by file path",
      `import { parse } from ${yamlEsm};\nparse("a: 1");`,
    ],
    [
      "`etcd3` (npm:, grpc-js; loaded by the proxy only with etcd)",
      'const { Etcd3 } = await import("etcd3");\nvoid Etcd3;',
    ],
    ...(ctx.etcdEndpoint
      ? [[
        "instead: one `fetch` to etcd's JSON gateway (POST /v3/kv/range)",
        `const response = await fetch(${
          JSON.stringify(`${ctx.etcdEndpoint}/v3/kv/range`)
        }, { method: "POST", body: JSON.stringify({ key: btoa("/sshproxy/"), range_end: btoa("/sshproxy0"), count_only: true }) });\nif (!response.ok) throw new Error(String(response.status));\nawait response.json();`,
      ] as [string, string]]
      : []),
    [
      "today's set: the three node: modules + `yaml` via npm:",
      'import { isIP } from "node:net";\nimport { createHash } from "node:crypto";\nimport { lookup } from "node:dns/promises";\nimport { parse } from "yaml";\nvoid [isIP, createHash, lookup];\nparse("a: 1");',
    ],
    [
      "alternative: `yaml` ESM build + Web Crypto, no node:",
      `import { parse } from ${yamlEsm};\nawait crypto.subtle.digest("SHA-1", new TextEncoder().encode("x"));\nparse("a: 1");`,
    ],
  ];
  const files = await Promise.all(cases.map(async ([, source], i) => {
    const file = `${dir}/case${i}.js`;
    await Deno.writeTextFile(file, source + "\n");
    await Deno.chmod(file, 0o644);
    return file;
  }));
  const argv = (file: string) => [
    `${lib}/bin/deno`,
    "run",
    "--cached-only",
    "--no-prompt",
    "--quiet",
    "--allow-all",
    "--config",
    `${lib}/deno.json`,
    file,
  ];
  const env = { DENO_DIR: `${lib}/cache` };
  // Once unrecorded each (first-run effects), then n interleaved rounds.
  for (const file of files) await timed(ctx.user, argv(file), env);
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (const [j, file] of files.entries()) {
      samples[j].push(await timed(ctx.user, argv(file), env));
    }
  }
  const costs: ImportCost[] = cases.map(([what, source], j) => ({
    what,
    source,
    ms: summarize(samples[j]),
  }));
  // Memory after loading, for the empty module and the two complete sets.
  for (const cost of costs) {
    if (
      cost !== costs[0] && !cost.what.startsWith("today's") &&
      !cost.what.startsWith("alternative") && !cost.what.startsWith("`etcd3`")
    ) continue;
    const file = `${dir}/idle-${costs.indexOf(cost)}.js`;
    await Deno.writeTextFile(
      file,
      `${cost.source}\nawait new Promise((resolve) => setTimeout(resolve, 4000));\n`,
    );
    await Deno.chmod(file, 0o644);
    const { home, env: userEnv } = await userEnvironment(ctx.user);
    const [cmd, ...args] = [...await asUser(ctx.user), ...argv(file)];
    const child = new Deno.Command(cmd, {
      args,
      env: { ...userEnv, ...env },
      clearEnv: true,
      cwd: home,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await sleep(2500);
    await syncPageCache();
    const memory = await smapsRollup(child.pid);
    const anonymous = await anonymousPrivateDirty(child.pid);
    const status = await child.status;
    if (!memory || anonymous === undefined || !status.success) {
      throw new Error(`idle memory after importing ${cost.what} failed`);
    }
    cost.idle = {
      rss: memory.rss,
      privateDirty: memory.privateDirty,
      anonymousPrivateDirty: anonymous,
    };
  }
  return costs;
}

/**
 * A copy of the product's launcher with extra Deno flags, optionally
 * running `entry` instead of the face's prebuilt module (whose URL is then
 * passed in BENCH_PROFILED_MAIN). Named sshproxy: the face is chosen by
 * that name.
 */
async function launcherCopy(
  ctx: ProfileContext,
  product: Product,
  flags: string,
  entry?: string,
): Promise<string> {
  const lib = libOf(product);
  const original = await Deno.readTextFile(`${lib}/bin/sshproxy-launcher`);
  let modified = original.replace(
    "run --cached-only",
    `run ${flags} --cached-only`,
  );
  if (entry) {
    modified = modified
      .replace(`"$lib/app/$module.js" "$@"`, `'${entry}' "$@"`)
      .replace(
        "SSHPROXY_ARGV0=",
        `BENCH_PROFILED_MAIN='file://${lib}/app/sshproxy.js' SSHPROXY_ARGV0=`,
      );
  }
  const derived = modified.includes(flags) &&
    (!entry ||
      (modified.includes(`'${entry}'`) &&
        modified.includes("BENCH_PROFILED_MAIN")));
  if (!derived) {
    throw new Error(
      `cannot derive a modified launcher from ${lib}/bin/sshproxy-launcher (its layout changed)`,
    );
  }
  const dir = await Deno.makeTempDir({ dir: ctx.workDir, prefix: "launcher-" });
  await Deno.chmod(dir, 0o755);
  const launcher = `${dir}/sshproxy`;
  await Deno.writeTextFile(launcher, modified);
  await Deno.chmod(launcher, 0o755);
  return launcher;
}

/** Entry module turning Deno.exit into a normal end (--cpu-prof writes its file only then). */
async function profiledEntry(ctx: ProfileContext): Promise<string> {
  const entry = `${ctx.workDir}/profiled_entry.js`;
  await Deno.writeTextFile(
    entry,
    [
      "// Runs the proxy face's prebuilt module; Deno.exit becomes a normal end so --cpu-prof can write its",
      "// file, and timers still pending then are cleared (Deno.exit would not",
      "// have waited for them).",
      "class ProfiledExit extends Error {}",
      "let status = 0;",
      "const timers = new Set();",
      "const { setTimeout: realTimeout, setInterval: realInterval } = globalThis;",
      "globalThis.setTimeout = (...args) => {",
      "  const id = realTimeout(...args);",
      "  timers.add(id);",
      "  return id;",
      "};",
      "globalThis.setInterval = (...args) => {",
      "  const id = realInterval(...args);",
      "  timers.add(id);",
      "  return id;",
      "};",
      'Object.defineProperty(Deno, "exit", {',
      "  value: (code = 0) => {",
      "    status = code;",
      "    throw new ProfiledExit();",
      "  },",
      "  configurable: true,",
      "  writable: true,",
      "});",
      "try {",
      '  const face = await import(Deno.env.get("BENCH_PROFILED_MAIN"));',
      '  status = await face.run(Deno.args, "sshproxy");',
      "} catch (error) {",
      "  if (!(error instanceof ProfiledExit)) throw error;",
      "}",
      "for (const id of timers) clearTimeout(id);",
      "Deno.exitCode = status;",
      "",
    ].join("\n"),
  );
  await Deno.chmod(entry, 0o644);
  return entry;
}

interface CpuProfileJson {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const LAZY_EXT =
  "Deno runtime: loading lazily loaded internal modules (node: polyfills)";
const CJS = "Node compat: CommonJS loader";

/** The group a profile node's self time is counted in. */
export function groupOf(
  functionName: string,
  url: string,
  lib: string,
): string {
  if (
    functionName === "loadExtScript" || functionName === "op_load_ext_script"
  ) {
    return LAZY_EXT;
  }
  if (
    functionName.startsWith("op_require") ||
    functionName === "op_compile_function" ||
    (functionName === "compileFunction" && url.startsWith("ext:core"))
  ) {
    return CJS;
  }
  if (url === "") {
    if (functionName === "(idle)") {
      return "(idle): JS waits (module loading in Rust, I/O, the ssh child)";
    }
    if (functionName === "(program)") return "(program): native, not JS";
    if (functionName === "(garbage collector)") return "(garbage collector)";
    return `native: ${functionName}`;
  }
  if (url.includes("/node_modules/")) {
    const pkg = url.split("/node_modules/").pop()!;
    const name = pkg.startsWith("@")
      ? pkg.split("/").slice(0, 2).join("/")
      : pkg.split("/")[0];
    return `npm: ${name}`;
  }
  if (url === "node:module") return CJS;
  if (url.startsWith("node:") || url.startsWith("ext:deno_node")) {
    return "Node compat: node: modules";
  }
  if (url.startsWith("ext:")) return "Deno runtime (ext:)";
  const path = url.replace(/^file:\/\//, "");
  if (path.startsWith(lib)) return "ours: the prebuilt proxy module";
  return "other";
}

/** Self time per group and per function of one .cpuprofile (µs). */
export function selfTimes(
  json: CpuProfileJson,
  lib: string,
): { groups: Map<string, number>; functions: Map<string, number> } {
  const nodes = new Map(json.nodes.map((n) => [n.id, n.callFrame]));
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  json.samples.forEach((id, i) => {
    const frame = nodes.get(id);
    if (!frame) return;
    const us = json.timeDeltas[i] ?? 0;
    const group = groupOf(frame.functionName, frame.url, lib);
    groups.set(group, (groups.get(group) ?? 0) + us);
    if (frame.url !== "" || frame.functionName.startsWith("op_")) {
      const where = frame.url.replace(`file://${lib}/`, "").replace(
        /^.*\/node_modules\/\.deno\/[^/]+\/node_modules\//,
        "npm:",
      );
      const name = `${frame.functionName || "(anonymous)"} ${where}${
        where ? `:${frame.lineNumber + 1}` : ""
      }`.trim();
      functions.set(name, (functions.get(name) ?? 0) + us);
    }
  });
  return { groups, functions };
}

async function cpuProfile(
  ctx: ProfileContext,
  product: Product,
  args: string[],
  env: () => Record<string, string>,
  runs: number,
  runner: typeof timed = timed,
): Promise<CpuBreakdown> {
  const lib = libOf(product);
  const entry = await profiledEntry(ctx);
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let wall = 0;
  let profiled = 0;
  for (let i = 0; i < runs; i++) {
    const outDir = await Deno.makeTempDir({
      dir: ctx.workDir,
      prefix: "cpuprof-",
    });
    await Deno.chmod(outDir, 0o1777);
    const launcher = await launcherCopy(
      ctx,
      product,
      `--cpu-prof --cpu-prof-dir='${outDir}' --cpu-prof-interval=250`,
      entry,
    );
    wall += await runner(ctx.user, [launcher, ...args], env());
    const files = [];
    for await (const f of Deno.readDir(outDir)) {
      if (f.name.endsWith(".cpuprofile")) files.push(f.name);
    }
    if (files.length !== 1) {
      throw new Error(`--cpu-prof wrote ${files.length} profiles in ${outDir}`);
    }
    const json = JSON.parse(
      await Deno.readTextFile(`${outDir}/${files[0]}`),
    ) as CpuProfileJson;
    profiled += json.endTime - json.startTime;
    const self = selfTimes(json, lib);
    for (const [k, v] of self.groups) groups.set(k, (groups.get(k) ?? 0) + v);
    for (const [k, v] of self.functions) {
      functions.set(k, (functions.get(k) ?? 0) + v);
    }
  }
  const ms = (us: number) => round(us / 1000 / runs);
  return {
    runs,
    wallMs: round(wall / runs),
    profiledMs: ms(profiled),
    groups: [...groups].sort((a, b) => b[1] - a[1]).map(([group, us]) => ({
      group,
      ms: ms(us),
    })),
    topFunctions: [...functions].sort((a, b) => b[1] - a[1]).slice(0, 8).map((
      [name, us],
    ) => ({ name, ms: ms(us) })),
  };
}

async function straceSession(
  ctx: ProfileContext,
  product: Product,
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
    product.sshproxy,
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
  return straceFigures(text, libOf(product), wallMs);
}

/** Sleeps and permission-denied writes under the product's lib dir. */
export function straceFigures(
  text: string,
  lib: string,
  wallMs: number,
): StraceFigures {
  let sleeps = 0;
  let sleptNs = 0;
  const denied = new Map<string, number>();
  for (const line of text.split("\n")) {
    const sleep = line.match(
      /(?:clock_nanosleep|nanosleep)\(.*?\{tv_sec=(\d+), tv_nsec=(\d+)\}/,
    );
    if (sleep) {
      sleeps++;
      sleptNs += Number(sleep[1]) * 1e9 + Number(sleep[2]);
      continue;
    }
    if (!line.includes("EACCES")) continue;
    const path = line.match(/"([^"]*)"/)?.[1] ?? "";
    if (!path.startsWith(lib)) continue;
    const rel = path.slice(lib.length + 1);
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
  };
}

/**
 * The proxy of one hand-run session whose remote command sleeps, sampled
 * after 4 idle seconds (the ssh child is up, nothing flows).
 */
async function idleMemory(
  ctx: ProfileContext,
  config: string,
  variant: string,
  product: Product,
  flags: string,
): Promise<MemoryVariant> {
  const launcher = flags
    ? await launcherCopy(ctx, product, flags)
    : product.sshproxy;
  const times = `${ctx.workDir}/times-${crypto.randomUUID()}`;
  const { home, env } = await userEnvironment(ctx.user);
  const child = new Deno.Command((await asUser(ctx.user))[0], {
    args: [...(await asUser(ctx.user)).slice(1), launcher, config],
    env: { ...env, ...sessionEnv(times, "sleep 7") },
    clearEnv: true,
    cwd: home,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeTo(new WritableStream());
  let measured: MemoryVariant | undefined;
  // setpriv execs the launcher, which execs deno: one pid throughout.
  const deadline = Date.now() + 15_000;
  while (
    Date.now() < deadline &&
    (await descendantsRunning(child.pid, "/usr/bin/ssh")).length === 0
  ) {
    await sleep(100);
  }
  await sleep(4000);
  await syncPageCache();
  const memory = await smapsRollup(child.pid);
  const anonymous = await anonymousPrivateDirty(child.pid);
  const status = await Deno.readTextFile(`/proc/${child.pid}/status`).catch(
    () => "",
  );
  if (memory && status && anonymous !== undefined) {
    measured = {
      variant,
      proxy: memory,
      anonymousPrivateDirty: anonymous,
      threads: Number(status.match(/^Threads:\s+(\d+)/m)?.[1] ?? 0),
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
