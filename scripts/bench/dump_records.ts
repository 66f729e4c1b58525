// How a recording's dump file splits the session's output into records
// (the reference's format: a header, then records of a 13-byte frame —
// time, fd, length — and data).

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
