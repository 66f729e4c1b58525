// The latency chart of docs/benchmarks.md, written as SVG text: one row per
// path, a p50 bar and a p95 bar, and a dashed line at the floor's p50.

/** One path of the chart; a path without figures shows its note instead. */
export interface ChartRow {
  label: string;
  p50?: number;
  p95?: number;
  note?: string;
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(
    ">",
    "&gt;",
  ).replaceAll('"', "&quot;");
}

/** A tick step giving 4 to 10 ticks up to `max`. */
function tickStep(max: number): number {
  const raw = max / 6;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) {
    if (raw <= factor * magnitude) return factor * magnitude;
  }
  return 10 * magnitude;
}

/** SVG of p50/p95 login latency per path (milliseconds). */
export function latencyChart(
  title: string,
  subtitle: string,
  rows: ChartRow[],
  floorP50?: number,
): string {
  const left = 350;
  const right = 90;
  const plotWidth = 520;
  const top = 64;
  const rowHeight = 46;
  const bar = 15;
  const width = left + plotWidth + right;
  const height = top + rows.length * rowHeight + 56;
  const values = rows.flatMap((r) =>
    [r.p50, r.p95].filter((v): v is number => v !== undefined)
  );
  const max = Math.max(1, ...values) * 1.05;
  const step = tickStep(max);
  const scale = (ms: number) =>
    left + (ms / (Math.ceil(max / step) * step)) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${
      escape(title)
    }</text>`,
    `<text x="12" y="42" fill="#555555">${escape(subtitle)}</text>`,
  ];
  const axisBottom = top + rows.length * rowHeight;
  for (
    let tick = 0;
    tick <= Math.ceil(max / step) * step + 1e-9;
    tick += step
  ) {
    const x = scale(tick).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${
        top - 6
      }" x2="${x}" y2="${axisBottom}" stroke="#e4e4e4"/>`,
      `<text x="${x}" y="${
        axisBottom + 16
      }" text-anchor="middle" fill="#555555">${Math.round(tick)}</text>`,
    );
  }
  parts.push(
    `<text x="${left + plotWidth / 2}" y="${
      axisBottom + 34
    }" text-anchor="middle" fill="#333333">milliseconds per login (ssh … true)</text>`,
  );
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    parts.push(
      `<text x="${left - 10}" y="${y + bar + 4}" text-anchor="end">${
        escape(row.label)
      }</text>`,
    );
    if (row.p50 === undefined || row.p95 === undefined) {
      parts.push(
        `<text x="${left + 6}" y="${y + bar + 4}" fill="#a33">${
          escape(row.note ?? "not measured")
        }</text>`,
      );
      return;
    }
    const bars: [number, string, string][] = [
      [row.p50, "#2b6cb0", "p50"],
      [row.p95, "#90cdf4", "p95"],
    ];
    bars.forEach(([value, color, name], j) => {
      const by = y + j * (bar + 2);
      const x2 = scale(value);
      parts.push(
        `<rect x="${left}" y="${by}" width="${
          (x2 - left).toFixed(1)
        }" height="${bar}" fill="${color}"/>`,
        `<text x="${(x2 + 4).toFixed(1)}" y="${
          by + bar - 3
        }" fill="#333333">${name} ${Math.round(value)}</text>`,
      );
    });
  });
  if (floorP50 !== undefined) {
    const x = scale(floorP50).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${
        top - 8
      }" x2="${x}" y2="${axisBottom}" stroke="#c05621" stroke-dasharray="4 3"/>`,
      `<text x="${x}" y="${
        top - 12
      }" text-anchor="middle" fill="#c05621">floor (b) p50</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
