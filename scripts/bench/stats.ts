// Small statistics for the bench: nearest-rank percentiles (no
// interpolation, so a reported p95 is a login that really took that long).

/** The p-th percentile (0 < p ≤ 100) by nearest rank of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** The median (nearest-rank p50). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * The median of `series[i] - baseline[i]` over the pairs both have: a shift
 * estimated login by login. Logged in the same round, a pair shares the
 * machine's pace of that moment, which the difference cancels.
 */
export function pairedMedian(
  series: readonly number[],
  baseline: readonly number[],
): number {
  const count = Math.min(series.length, baseline.length);
  const differences = Array.from(
    { length: count },
    (_, i) => series[i] - baseline[i],
  );
  return median(differences);
}

/** Arithmetic mean. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error("mean of no values");
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** Rounds to `digits` decimals (for JSON output that stays readable). */
export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Summary of one series of durations in milliseconds. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

/** p50, p95, mean, min and max of `values`, rounded to 0.1. */
export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    mean: round(mean(values)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
  };
}
