// Shared by the recording tests: a seeded PRNG, random dumps, and a reader
// that follows the reference's rules exactly (pkg/record and
// sshproxy-replay of sshproxy 2.1.1, spec §8.2 and §8.7), quirks included,
// to check what reference tools would make of the files we write.
import type { DumpHeader, DumpRecord } from "../../src/record/dump_format.ts";

/** mulberry32: small, seeded, good enough for generating cases. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [0, n). */
export function below(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/** Random bytes; `noNul` keeps 0 out (user names and commands). */
export function randomBytes(
  random: () => number,
  length: number,
  noNul = false,
): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = noNul ? 1 + below(random, 255) : below(random, 256);
  }
  return out;
}

function randomIp(random: () => number): Uint8Array {
  const ip = new Uint8Array(16);
  if (random() < 0.5) {
    ip[10] = 0xff;
    ip[11] = 0xff;
    ip.set(randomBytes(random, 4), 12);
  } else {
    ip.set(randomBytes(random, 16));
  }
  return ip;
}

function randomInt64(random: () => number): bigint {
  const high = BigInt(below(random, 2 ** 32));
  const low = BigInt(below(random, 2 ** 32));
  return BigInt.asIntN(64, (high << 32n) | low);
}

/** A random header: IPv4-mapped or IPv6 addresses, any ports and times, long commands sometimes. */
export function randomHeader(random: () => number): DumpHeader {
  const commandLength = random() < 0.05
    ? 65_000 + below(random, 2_000) // crosses the 16-bit header size
    : below(random, 40);
  return {
    version: 1,
    clientIp: randomIp(random),
    clientPort: below(random, 65536),
    sshdIp: randomIp(random),
    sshdPort: below(random, 65536),
    startNs: random() < 0.2 ? randomInt64(random) : 1_700_000_000_000_000_000n +
      BigInt(below(random, 2 ** 40)),
    user: randomBytes(random, below(random, 20), true),
    command: randomBytes(random, commandLength, true),
  };
}

/** Random records: fds 0-2 mostly, sometimes others; sizes 0 to a few KiB. */
export function randomRecords(
  random: () => number,
  start: bigint,
  count: number,
): DumpRecord[] {
  const records: DumpRecord[] = [];
  let time = start;
  for (let i = 0; i < count; i++) {
    time += BigInt(below(random, 2_000_000_000));
    const length = random() < 0.1
      ? 0
      : below(random, random() < 0.1 ? 70_000 : 300);
    records.push({
      timeNs: random() < 0.05 ? randomInt64(random) : time,
      fd: random() < 0.05 ? below(random, 256) : below(random, 3),
      data: randomBytes(random, length),
    });
  }
  return records;
}

/** What the reference's record.NewReader + Next loop yields. */
export interface ReferenceRead {
  /** `reading header: ...` (NewReader's error), if any. */
  headerError?: string;
  version?: number;
  startNs?: bigint;
  user?: Uint8Array;
  command?: Uint8Array;
  records: DumpRecord[];
  /** The error that ended the record loop (io.EOF is a normal end, not reported). */
  recordError?: string;
}

/**
 * Go's reader, rule for rule: binary.Read of 48 bytes (EOF when none,
 * unexpected EOF when partial), version check, ReadString(0) twice, then
 * Decode until an error: the 13-byte frame via binary.Read, the data via
 * io.ReadFull (which says EOF, a normal end, when not even one data byte
 * is there).
 */
export function referenceRead(bytes: Uint8Array): ReferenceRead {
  let at = 0;
  const readFull = (n: number): Uint8Array | "EOF" | "unexpected EOF" => {
    if (n === 0) return new Uint8Array(0);
    if (at >= bytes.length) return "EOF";
    if (bytes.length - at < n) {
      at = bytes.length;
      return "unexpected EOF";
    }
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const fixed = readFull(48);
  if (typeof fixed === "string") {
    return { headerError: `reading header: ${fixed}`, records: [] };
  }
  const view = new DataView(fixed.buffer, fixed.byteOffset, 48);
  const version = view.getUint16(0);
  if (version !== 1) {
    return {
      headerError: `reading header: unknow version number: ${
        version.toString(16)
      }`,
      records: [],
    };
  }
  const readString = (what: string): Uint8Array | string => {
    const end = bytes.indexOf(0, at);
    if (end < 0) {
      at = bytes.length;
      return `reading header: reading ${what}: EOF`;
    }
    const out = bytes.subarray(at, end);
    at = end + 1;
    return out;
  };
  const user = readString("user");
  if (typeof user === "string") return { headerError: user, records: [] };
  const command = readString("command");
  if (typeof command === "string") {
    return { headerError: command, records: [] };
  }
  const result: ReferenceRead = {
    version,
    startNs: view.getBigInt64(40),
    user,
    command,
    records: [],
  };
  for (;;) {
    const frame = readFull(13);
    if (frame === "EOF") return result;
    if (typeof frame === "string") {
      result.recordError = frame;
      return result;
    }
    const frameView = new DataView(frame.buffer, frame.byteOffset, 13);
    const length = frameView.getUint32(9);
    const data = readFull(length);
    if (data === "EOF") return result; // io.ReadFull's quirk: a silent end
    if (typeof data === "string") {
      result.recordError = data;
      return result;
    }
    result.records.push({
      timeNs: frameView.getBigInt64(0),
      fd: frameView.getUint8(8),
      data: data.slice(),
    });
  }
}

/**
 * What the reference's `-replay` writes, as (stream, bytes) pairs: fd 1 to
 * stdout, fd 2 to stderr, fd 0 skipped, and any other fd to the stream of
 * the previous fd-1/2 record (Go's `stream` variable is not reset), or
 * nowhere before the first (a nil *os.File's Write fails).
 */
export function referenceLiveWrites(
  bytes: Uint8Array,
): { stream: "stdout" | "stderr"; data: Uint8Array }[] {
  const writes: { stream: "stdout" | "stderr"; data: Uint8Array }[] = [];
  let stream: "stdout" | "stderr" | undefined;
  for (const record of referenceRead(bytes).records) {
    if (record.fd === 0) continue;
    if (record.fd === 1) stream = "stdout";
    else if (record.fd === 2) stream = "stderr";
    if (stream !== undefined) writes.push({ stream, data: record.data });
  }
  return writes;
}

/**
 * The reference's default listing lines per record (times left out):
 * `[<D>] <L> bytes` with the arrow of the previous record for unknown fds.
 */
export function referenceListingArrows(bytes: Uint8Array): string[] {
  const lines: string[] = [];
  let arrow = "";
  for (const record of referenceRead(bytes).records) {
    if (record.fd === 0) arrow = "-->";
    else if (record.fd === 1) arrow = "<--";
    else if (record.fd === 2) arrow = "<==";
    lines.push(`[${arrow}] ${record.data.length} bytes`);
  }
  return lines;
}
