// Runs scripts/bench/ctl_scale.ts (sshproxyctl over 10,000 connection keys,
// its own etcd and install) as a child and keeps its output for the doc.
import { run } from "../../tests/harness/mod.ts";
import type { CtlFigure, Outcome } from "./results.ts";
import { round } from "./stats.ts";

/** ctl_scale.ts's figures; `quick` runs 1,000 keys twice instead. */
export async function ctlScale(
  root: string,
  quick: boolean,
  say: (text: string) => void,
): Promise<Outcome<CtlFigure>> {
  const script = `${root}/scripts/bench/ctl_scale.ts`;
  say("ctl: running scripts/bench/ctl_scale.ts");
  const start = performance.now();
  const result = await run(
    [
      Deno.execPath(),
      "run",
      "--allow-all",
      "--config",
      `${root}/deno.json`,
      script,
      ...(quick ? ["1000", "2"] : []),
    ],
    { cwd: root, timeoutMs: 300_000 },
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
