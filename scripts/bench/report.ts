// What the renderers share: text helpers for outcomes and tables, and the
// latency chart of docs/latency.svg.
import { latencyChart } from "./chart.ts";
import {
  type Outcome,
  PATH_LABELS,
  PATH_ORDER,
  type Results,
} from "./results.ts";

/** An outcome as text: its value rendered, or its status and reason. */
export function outcomeText<T>(
  outcome: Outcome<T> | undefined,
  text: (value: T) => string,
): string {
  if (!outcome) return "not measured in this run";
  if (outcome.status === "measured") return text(outcome.value);
  return `${outcome.status}: ${display(outcome.reason)}`;
}

/** Replaces a temp install prefix by PREFIX in displayed text. */
export function display(text: string): string {
  return text.replace(/\/tmp\/sshproxy-prefix-[^/ ]+/g, "PREFIX");
}

/**
 * The sentence under a table listing why its rows without figures have
 * none ("" when every row has figures).
 */
export function reasonsBelow(
  rows: [string, Outcome<unknown> | undefined][],
): string[] {
  const missing = rows.filter(([, o]) => o && o.status !== "measured");
  if (missing.length === 0) return [];
  return [
    missing.map(([label, o]) =>
      `${label}: ${o!.status}, ${
        o!.status === "measured" ? "" : md(display(o!.reason))
      }`
    ).join("; ") + ".",
    "",
  ];
}

/** A signed, rounded number of ms ("+12", "-3"). */
export function signed(ms: number): string {
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

/** Text safe inside a Markdown table cell. */
export function md(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** A Markdown table from a header and rows (alignment: "l" or "r" per column). */
export function mdTable(
  header: string[],
  align: string,
  rows: string[][],
): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `| ${[...align].map((a) => a === "r" ? "---:" : "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
}

/** The chart of latency per path. */
export function chartSvg(r: Results): string {
  const rows = PATH_ORDER.flatMap((id) => {
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
