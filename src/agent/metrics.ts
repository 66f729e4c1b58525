// Prometheus metrics in the text exposition format (version 0.0.4). Hand
// written: counters, gauges and one histogram are all the agent needs, and
// the npm clients (prom-client) pull in Node's compatibility layer and far
// more code than the ~150 lines below. Pure: values in, text out.

/** Label names to values. */
export type Labels = Record<string, string>;

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  name: string;
  help: string;
  kind: Kind;
  render(): string[];
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll(
    "\n",
    "\\n",
  );
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatLabels(labels: Labels): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return "";
  return `{${
    names.map((name) => `${name}="${escapeLabel(labels[name])}"`).join(",")
  }}`;
}

/** A sample value as Prometheus writes it. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function keyOf(labels: Labels): string {
  return formatLabels(labels);
}

/** A monotonic count, per label set. */
export class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) return;
    const key = keyOf(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels: { ...labels }, value: by });
  }

  /** The current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(keyOf(labels))?.value ?? 0;
  }

  /** Every series. */
  series(): { labels: Labels; value: number }[] {
    return [...this.#values.values()];
  }
}

/** A histogram of one quantity (no labels). */
export class Histogram {
  readonly buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(buckets: readonly number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.#counts = this.buckets.map(() => 0);
  }

  /** Records one observation. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    this.#sum += value;
    this.#count++;
    this.buckets.forEach((bound, index) => {
      if (value <= bound) this.#counts[index]++;
    });
  }

  /** Number of observations. */
  get count(): number {
    return this.#count;
  }

  /** Sum of observations. */
  get sum(): number {
    return this.#sum;
  }

  /** Cumulative counts per upper bound, +Inf last. */
  cumulative(): [number, number][] {
    return [
      ...this.buckets.map((bound, i): [number, number] => [
        bound,
        this.#counts[i],
      ]),
      [Infinity, this.#count],
    ];
  }
}

/** A set of metric families rendered together. */
export class Registry {
  readonly #families: Family[] = [];

  #add(family: Family): void {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(family.name)) {
      throw new Error(`invalid metric name ${family.name}`);
    }
    if (this.#families.some((f) => f.name === family.name)) {
      throw new Error(`metric ${family.name} registered twice`);
    }
    this.#families.push(family);
  }

  /**
   * A counter; `initial` label sets are shown at 0 before anything happens,
   * so that rates and alerts see the series from the start.
   */
  counter(name: string, help: string, initial: Labels[] = []): Counter {
    const counter = new Counter();
    for (const labels of initial) counter.inc(labels, 0);
    this.#add({
      name,
      help,
      kind: "counter",
      render: () =>
        counter.series().map(({ labels, value }) =>
          `${name}${formatLabels(labels)} ${formatValue(value)}`
        ),
    });
    return counter;
  }

  /** A counter kept elsewhere, read when scraped. */
  counterFrom(
    name: string,
    help: string,
    collect: () => Iterable<{ labels?: Labels; value: number }>,
  ): void {
    this.#addCollected(name, help, "counter", collect);
  }

  /** A gauge whose series are computed when scraped. */
  gauge(
    name: string,
    help: string,
    collect: () => Iterable<{ labels?: Labels; value: number }>,
  ): void {
    this.#addCollected(name, help, "gauge", collect);
  }

  #addCollected(
    name: string,
    help: string,
    kind: "counter" | "gauge",
    collect: () => Iterable<{ labels?: Labels; value: number }>,
  ): void {
    this.#add({
      name,
      help,
      kind,
      render: () =>
        [...collect()].map(({ labels, value }) =>
          `${name}${formatLabels(labels ?? {})} ${formatValue(value)}`
        ),
    });
  }

  /** A histogram without labels. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const histogram = new Histogram(buckets);
    this.#add({
      name,
      help,
      kind: "histogram",
      render: () => [
        ...histogram.cumulative().map(([bound, count]) =>
          `${name}_bucket{le="${formatValue(bound)}"} ${count}`
        ),
        `${name}_sum ${formatValue(histogram.sum)}`,
        `${name}_count ${histogram.count}`,
      ],
    });
    return histogram;
  }

  /** The exposition text: HELP, TYPE and samples of every family. */
  render(): string {
    const lines: string[] = [];
    for (const family of this.#families) {
      lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
      lines.push(`# TYPE ${family.name} ${family.kind}`);
      lines.push(...family.render());
    }
    return `${lines.join("\n")}\n`;
  }
}

/** The Content-Type of the text format. */
export const EXPOSITION_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";
