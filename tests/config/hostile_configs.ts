// Configuration files shaped to make a YAML reader spend time or memory in
// proportion to something other than their meaning (issue 13): deep
// nesting, alias bombs, huge scalars and files, nodesets that expand a
// million times. Each is answered with one line naming the limit and the
// line. Shared by the entry-point tests and scripts/bench/config_shapes.ts.

/** A hostile file and the one-line error it must get. */
export interface HostileConfig {
  name: string;
  text: () => string;
  /** The line the error names. */
  line: number;
  /** What the error says after `line N: `. */
  error: RegExp;
}

const MIB = 1024 * 1024;

function aliasBomb(levels: number): string {
  const lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let level = 1; level < levels; level++) {
    const refs = Array(10).fill(`*l${level - 1}`).join(", ");
    lines.push(`l${level}: &l${level} [${refs}]`);
  }
  return lines.join("\n") + `\ndest: *l${levels - 1}\n`;
}

const DEPTH = /^yaml: exceeded max depth of 100 \(/;
const SIZE = /^yaml: file larger than 1048576 bytes \(the limit; /;

/** Every hostile shape, with the error each must get. */
export const HOSTILE_CONFIGS: readonly HostileConfig[] = [
  {
    name: "5 MiB of [ after dest: (issue 13)",
    text: () => "dest: " + "[".repeat(5 * MIB),
    line: 1,
    error: SIZE,
  },
  {
    name: "a million [ after dest:",
    text: () => "dest: " + "[".repeat(1_000_000),
    line: 1,
    error: DEPTH,
  },
  {
    name: "a million { after a key",
    text: () => "x: " + "{".repeat(1_000_000),
    line: 1,
    error: DEPTH,
  },
  {
    name: "deep [ on the fifth line of a valid file",
    text: () =>
      "debug: true\nlog: /tmp/x.log\nservice: s\n\noverrides: " +
      "[".repeat(100_000) + "]".repeat(100_000) + "\n",
    line: 5,
    error: DEPTH,
  },
  {
    name: "half a million nested `- ` on one line",
    text: () => "- ".repeat(500_000) + "x\n",
    line: 1,
    error: DEPTH,
  },
  {
    name: "200 lines of block mappings, each indented one more space",
    text: () =>
      Array.from({ length: 200 }, (_, i) => " ".repeat(i) + "k:").join("\n") +
      " v\n",
    line: 101,
    error: DEPTH,
  },
  {
    name: "a 10-level alias bomb (issue 13)",
    text: () => aliasBomb(10),
    line: 5,
    error: /^yaml: aliases expand to more than 100000 nodes \(the limit; /,
  },
  {
    name: "a 2 MiB error_banner",
    text: () => "error_banner: " + "x".repeat(2 * MIB) + "\n",
    line: 1,
    error: SIZE,
  },
  {
    name: "2 MiB of comment lines",
    text: () => "# a comment line\n".repeat(2 * MIB / 17),
    line: Math.floor(MIB / 17) + 1,
    error: SIZE,
  },
  {
    name: "a nodeset of a million hosts",
    text: () => "dest: ['h[1-999999]']\n",
    line: 1,
    error: /^dest: the file's nodesets expand to more than 100000 names \(/,
  },
  {
    name: "a thousand overrides each naming 1,000 hosts",
    text: () =>
      "overrides:\n" +
      "  - match: [{sources: ['10.0.[0-9].[0-99]']}]\n    dest: ['h[1-1000]']\n"
        .repeat(1000),
    // 2,000 names an override: the 51st override's dest is one too many.
    line: 103,
    error: /^dest: the file's nodesets expand to more than 100000 names \(/,
  },
];
