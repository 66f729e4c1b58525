// Terminal geometry beside a dump (issue 5, item 2). The reference records
// no terminal size, so every replay or export has to guess 80x24. We record
// the initial size and every resize, but NOT inside the dump stream:
//
// * The reference reader takes records of any fd. In its default listing a
//   record on an unknown fd (say 3) is still printed, with the direction of
//   the previous record (its `direction` variable is not reset), so
//   geometry would show up as fake user input or output.
// * In `-replay` mode the reference keeps the previous record's stream for
//   an unknown fd and writes the data to it: after any stdout record, a
//   geometry record's bytes would be written to the viewer's terminal.
// * Encoding the size in an fd-0/1/2 record, a zero-length record or the
//   header is impossible without changing what reference readers show.
//
// So geometry lives in a side file, `<dump path>.geometry`, that reference
// tools never open: the dump itself stays byte-for-byte what the reference
// writes. A TCP dump (sshproxy-dumpd) has no side channel, so it carries no
// geometry and replays of it fall back to 80x24. The side file is text:
//
//   sshproxy-geometry 1
//   <time ns> <cols>x<rows>
//   ...
//
// one line per size, in the order they were set (the first is the initial
// size). Readers skip lines they do not understand.

/** One terminal size and when it was set. */
export interface GeometryEvent {
  timeNs: bigint;
  cols: number;
  rows: number;
}

/** First line of every geometry file. */
export const GEOMETRY_MAGIC = "sshproxy-geometry 1\n";

/** The side file of a dump file. */
export function geometryPath(dumpPath: string): string {
  return `${dumpPath}.geometry`;
}

/** One line of the side file. */
export function formatGeometryLine(event: GeometryEvent): string {
  return `${event.timeNs} ${event.cols}x${event.rows}\n`;
}

/** Parses a side file; anything that is not a geometry file gives no events. */
export function parseGeometry(text: string): GeometryEvent[] {
  if (!text.startsWith(GEOMETRY_MAGIC)) return [];
  const events: GeometryEvent[] = [];
  for (const line of text.slice(GEOMETRY_MAGIC.length).split("\n")) {
    const match = /^(-?[0-9]{1,20}) ([0-9]{1,5})x([0-9]{1,5})$/.exec(line);
    if (!match) continue;
    const cols = Number(match[2]);
    const rows = Number(match[3]);
    if (cols === 0 || rows === 0) continue;
    events.push({ timeNs: BigInt(match[1]), cols, rows });
  }
  return events;
}
