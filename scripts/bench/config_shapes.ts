// Benchmark of reading configuration files (issue 13: every configuration
// gets an answer in milliseconds). Installs the product into a temp prefix
// and times, in the same run, `sshproxyctl -c FILE show config` on:
//   - the baseline: the commented sample configuration (config/sshproxy.yaml),
//   - every hostile shape of tests/config/hostile_configs.ts (each must be
//     refused with one line),
//   - legitimate files of growing size (N overrides, long one-line lists),
//     to show what reading costs per MiB below the 1 MiB limit.
// Each figure is the median of several runs, wall clock, process start
// included, its ratio to the baseline, and the peak resident memory.
//
//   deno run -A scripts/bench/config_shapes.ts [RUNS=5]
import { HOSTILE_CONFIGS } from "../../tests/config/hostile_configs.ts";

const runs = Number(Deno.args[0] ?? 5);
const root = new URL("../..", import.meta.url).pathname;

interface Timing {
  ms: number;
  code: number;
  firstLine: string;
  /** CPU time (user + system) in ms (GNU time), 0 when unknown. */
  cpuMs: number;
  /** Peak resident memory in KiB (GNU time), 0 when unknown. */
  maxRssKiB: number;
}

// GNU time, when installed, reports the CPU time (which a busy machine
// disturbs less than the wall clock) and the peak resident memory on its
// last stderr line.
const gnuTime = await Deno.stat("/usr/bin/time").then(() => true, () => false);

async function timed(argv: string[]): Promise<Timing> {
  const command = gnuTime ? ["/usr/bin/time", "-f", "%U %S %M", ...argv] : argv;
  const start = performance.now();
  const output = await new Deno.Command(command[0], {
    args: command.slice(1),
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - start;
  const lines = new TextDecoder().decode(output.stderr).trimEnd().split("\n");
  const [user, system, rss] = gnuTime
    ? (lines.pop() ?? "").split(" ").map(Number)
    : [0, 0, 0];
  return {
    ms,
    code: output.code,
    firstLine: lines[0] ?? "",
    cpuMs: (user + system) * 1000,
    maxRssKiB: rss,
  };
}

async function median(argv: string[]): Promise<Timing> {
  await timed(argv); // warm caches
  const all: Timing[] = [];
  for (let run = 0; run < runs; run++) all.push(await timed(argv));
  all.sort((a, b) => a.ms - b.ms);
  return all[Math.floor(all.length / 2)];
}

function legitimate(overrides: number): string {
  let text = "dest: [login1, login2]\noverrides:\n";
  for (let i = 0; i < overrides; i++) {
    text += `  - match:\n      - users: [user${i}]\n        groups: [grp${
      i % 50
    }]\n    dest: [node${
      i % 100
    }]\n    environment:\n      VAR_${i}: value-{user}\n    mode: balanced\n`;
  }
  return text;
}

const prefix = await Deno.makeTempDir({ prefix: "sshproxy-bench-config-" });
try {
  const install = await new Deno.Command("bash", {
    args: [`${root}scripts/install.sh`, "--prefix", prefix],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!install.success) {
    throw new Error(new TextDecoder().decode(install.stderr));
  }
  const ctl = `${prefix}/bin/sshproxyctl`;
  const path = `${prefix}/bench.yaml`;
  const measure = async (text: string) => {
    await Deno.writeTextFile(path, text);
    return await median([ctl, "-c", path, "show", "config"]);
  };
  const baseline = await measure(
    await Deno.readTextFile(`${root}config/sshproxy.yaml`),
  );
  const row = (name: string, bytes: number, timing: Timing) =>
    console.log(
      [
        name.padEnd(58),
        `${String(bytes).padStart(8)} B`,
        `${timing.ms.toFixed(0).padStart(5)} ms`,
        `x${(timing.ms / baseline.ms).toFixed(2).padStart(5)}`,
        `cpu ${timing.cpuMs.toFixed(0).padStart(5)} ms`,
        `x${(timing.cpuMs / baseline.cpuMs).toFixed(2).padStart(5)}`,
        `${(timing.maxRssKiB / 1024).toFixed(0).padStart(4)} MiB`,
        `exit ${timing.code}`,
        timing.code === 0 ? "" : timing.firstLine.slice(0, 90),
      ].join("  "),
    );
  row("baseline: config/sshproxy.yaml", 0, baseline);
  for (const shape of HOSTILE_CONFIGS) {
    const text = shape.text();
    row(shape.name, text.length, await measure(text));
  }
  for (const overrides of [10, 100, 1000, 5000]) {
    const text = legitimate(overrides);
    row(`legitimate: ${overrides} overrides`, text.length, await measure(text));
  }
  // One-line lists: the simple reader once looked at the rest of the line
  // for every item (22 s for 200,000 items).
  for (const item of ["host", "'host'"]) {
    const text = `dest: [${Array(150_000).fill(item).join(", ")}]\n`;
    row(
      `legitimate: a one-line list of 150,000 ${item}`,
      text.length,
      await measure(text),
    );
  }
} finally {
  await Deno.remove(prefix, { recursive: true });
}
