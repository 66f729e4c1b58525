// The session dump format (spec §8.2, interop): a file header, then records,
// all integers big-endian. Reference gateways, sshproxy-dumpd and
// sshproxy-replay read and write it, so encoding is bit-for-bit the
// reference's: IPv4 addresses as IPv4-mapped 16-byte IPv6, the header size
// field truncated to 16 bits, NUL-terminated user and command, nanosecond
// times as 64-bit integers (read back as signed, like Go's time.Unix(0, n)).
// Pure: no I/O. The incremental decoder is fed chunks as they arrive (from a
// socket in sshproxy-dumpd, from a file in sshproxy-replay) and reports where
// a truncated record starts.
import { formatIp, joinHostPort, parseIp } from "../net/ip_address.ts";

/** The fixed part of the file header (before the user name). */
export const FIXED_HEADER_SIZE = 48;
/** Time (8) + fd (1) + length (4). */
export const RECORD_FRAME_SIZE = 13;
/**
 * Largest record data length this project writes (the recorder splits
 * longer chunks) and sshproxy-dumpd accepts; the reference writes at most
 * 32 KiB per record.
 */
export const MAX_RECORD_DATA = 16 * 1024 * 1024;

/** A decoded or to-be-encoded file header. Strings are raw bytes, as Go keeps them. */
export interface DumpHeader {
  /** Always 1 when written; anything else is refused by readers. */
  version: number;
  /** 16 bytes (IPv4 as IPv4-mapped IPv6). */
  clientIp: Uint8Array;
  clientPort: number;
  sshdIp: Uint8Array;
  sshdPort: number;
  /** Session start, ns since the epoch (the value the SID was computed from). */
  startNs: bigint;
  user: Uint8Array;
  command: Uint8Array;
}

/** One record: what a read or write of one standard stream carried. */
export interface DumpRecord {
  /** ns since the epoch. */
  timeNs: bigint;
  /** 0 = from the user (stdin), 1 = to the user's stdout, 2 = to stderr. */
  fd: number;
  data: Uint8Array;
}

/** The session facts a header is built from, as the proxy knows them. */
export interface SessionFacts {
  user: string;
  /** The effective command (empty for an interactive shell). */
  command: string;
  /** Client IP as text (IPv4 dotted or IPv6). */
  clientIp: string;
  clientPort: number;
  sshdIp: string;
  sshdPort: number;
  startNs: bigint;
}

const utf8 = new TextEncoder();
const utf8Lenient = new TextDecoder("utf-8", { fatal: false });

/** Go's IP.To16(): IPv4 becomes ::ffff:a.b.c.d; 16-byte input is kept. */
export function to16(ip: Uint8Array): Uint8Array {
  if (ip.length === 16) return ip;
  if (ip.length !== 4) return new Uint8Array(16);
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ip, 12);
  return out;
}

/** Builds a header from session facts; an IP that does not parse is written as zeros (Go's To16 of nil). */
export function headerFromFacts(facts: SessionFacts): DumpHeader {
  const ip = (text: string) => to16(parseIp(text) ?? new Uint8Array(0));
  return {
    version: 1,
    clientIp: ip(facts.clientIp),
    clientPort: facts.clientPort,
    sshdIp: ip(facts.sshdIp),
    sshdPort: facts.sshdPort,
    startNs: facts.startNs,
    user: utf8.encode(facts.user),
    command: utf8.encode(facts.command),
  };
}

/** Bytes as text (invalid UTF-8 becomes U+FFFD): for messages and file names only. */
export function bytesText(bytes: Uint8Array): string {
  return utf8Lenient.decode(bytes);
}

/** The canonical `ip:port` of the client (Go's FileInfo.Src()). */
export function clientAddress(header: DumpHeader): string {
  return joinHostPort(formatIp(header.clientIp), String(header.clientPort));
}

/** The canonical `ip:port` of sshd (Go's FileInfo.Dst()). */
export function sshdAddress(header: DumpHeader): string {
  return joinHostPort(formatIp(header.sshdIp), String(header.sshdPort));
}

/** Encodes the file header exactly as the reference's record.WriteHeader. */
export function encodeHeader(header: DumpHeader): Uint8Array {
  const size = FIXED_HEADER_SIZE + header.user.length + header.command.length +
    2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, header.version & 0xffff);
  view.setUint16(2, size & 0xffff); // Go: uint16(...), silently truncated
  out.set(to16(header.clientIp), 4);
  view.setUint16(20, header.clientPort & 0xffff);
  out.set(to16(header.sshdIp), 22);
  view.setUint16(38, header.sshdPort & 0xffff);
  view.setBigUint64(40, BigInt.asUintN(64, header.startNs));
  out.set(header.user, FIXED_HEADER_SIZE);
  out[FIXED_HEADER_SIZE + header.user.length] = 0;
  out.set(header.command, FIXED_HEADER_SIZE + header.user.length + 1);
  out[size - 1] = 0;
  return out;
}

/** Writes a record's 13-byte frame (time, fd, length) at `offset` of `out`. */
export function writeRecordFrame(
  out: Uint8Array,
  offset: number,
  timeNs: bigint,
  fd: number,
  length: number,
): void {
  // Byte by byte: called for every record the proxy writes, where a
  // DataView per call would cost more than the frame itself.
  const time = BigInt.asUintN(64, timeNs);
  const high = Number(time >> 32n);
  const low = Number(time & 0xffffffffn);
  out[offset] = high >>> 24;
  out[offset + 1] = high >>> 16;
  out[offset + 2] = high >>> 8;
  out[offset + 3] = high;
  out[offset + 4] = low >>> 24;
  out[offset + 5] = low >>> 16;
  out[offset + 6] = low >>> 8;
  out[offset + 7] = low;
  out[offset + 8] = fd;
  out[offset + 9] = length >>> 24;
  out[offset + 10] = length >>> 16;
  out[offset + 11] = length >>> 8;
  out[offset + 12] = length;
}

/** Encodes one record (frame then data) as the reference's record.Encode. */
export function encodeRecord(record: DumpRecord): Uint8Array {
  const out = new Uint8Array(RECORD_FRAME_SIZE + record.data.length);
  writeRecordFrame(out, 0, record.timeNs, record.fd, record.data.length);
  out.set(record.data, RECORD_FRAME_SIZE);
  return out;
}

/** Encodes a whole dump (header then records) into one buffer. */
export function encodeDump(
  header: DumpHeader,
  records: readonly DumpRecord[],
): Uint8Array {
  const parts = [encodeHeader(header), ...records.map(encodeRecord)];
  return concatBytes(parts);
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Limits an untrusted stream is held to (sshproxy-dumpd); a file reader has none. */
export interface DecodeLimits {
  /** Longest user name accepted, in bytes (NUL excluded). */
  maxUserBytes: number;
  /** Longest command accepted, in bytes (NUL excluded). */
  maxCommandBytes: number;
  /** Largest record data length accepted. */
  maxRecordBytes: number;
}

export const NO_LIMITS: DecodeLimits = {
  maxUserBytes: Infinity,
  maxCommandBytes: Infinity,
  maxRecordBytes: Infinity,
};

/** What the decoder found in the bytes pushed so far. */
export type DecodeEvent =
  | { kind: "header"; header: DumpHeader; size: number }
  | { kind: "record"; record: DumpRecord; offset: number; size: number }
  | {
    kind: "error";
    /** `reading header: ...` errors use the reference's texts (spec §8.2). */
    stage: "header" | "record";
    message: string;
    offset: number;
  };

/** How the input ended, once `finish()` is called. */
export type DecodeEnd =
  | { kind: "complete" }
  /** Ended inside the header: `message` is the reference's (`EOF`, `unexpected EOF`, `reading user: EOF`...). */
  | { kind: "truncated-header"; message: string; offset: number }
  /** Ended inside the record that starts at `offset`. */
  | { kind: "truncated-record"; offset: number; missing: number }
  | { kind: "failed" };

// A queue of chunks that hands out exactly the bytes asked for, copying
// only when a request spans chunks, so large records arriving in many
// small reads are gathered once (no quadratic re-concatenation).
class ChunkQueue {
  #chunks: Uint8Array[] = [];
  #head = 0; // read position inside #chunks[0]
  available = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.available += chunk.length;
  }

  /** The byte at `index` from the read position. */
  at(index: number): number {
    let i = index + this.#head;
    for (const chunk of this.#chunks) {
      if (i < chunk.length) return chunk[i];
      i -= chunk.length;
    }
    throw new RangeError("ChunkQueue.at past the end");
  }

  /** Index (from the read position) of the first `value` in [from, limit); -1 if absent. */
  indexOf(value: number, from: number, limit: number): number {
    let base = 0; // index of the current chunk's first unread byte
    let start = this.#head;
    for (const chunk of this.#chunks) {
      const length = chunk.length - start;
      const lo = Math.max(from - base, 0);
      const hi = Math.min(length, limit - base);
      if (lo < hi) {
        const found = chunk.subarray(start + lo, start + hi).indexOf(value);
        if (found >= 0) return base + lo + found;
      }
      base += length;
      if (base >= limit) return -1;
      start = 0;
    }
    return -1;
  }

  /** Removes and returns the next `count` bytes (count <= available). */
  take(count: number): Uint8Array {
    if (count === 0) return new Uint8Array(0);
    const first = this.#chunks[0];
    if (first.length - this.#head >= count) {
      const out = first.subarray(this.#head, this.#head + count);
      this.#advance(count);
      return out;
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[0];
      const piece = chunk.subarray(
        this.#head,
        this.#head + Math.min(count - filled, chunk.length - this.#head),
      );
      out.set(piece, filled);
      filled += piece.length;
      this.#advance(piece.length);
    }
    return out;
  }

  #advance(count: number): void {
    this.available -= count;
    this.#head += count;
    while (this.#chunks.length > 0 && this.#head >= this.#chunks[0].length) {
      this.#head -= this.#chunks[0].length;
      this.#chunks.shift();
    }
  }
}

/**
 * Decodes a dump fed in chunks. `push` returns the header and every record
 * completed by the new bytes; after an error event the decoder ignores
 * further input. Chunks are kept by reference: do not reuse a pushed buffer.
 */
export class DumpDecoder {
  #queue = new ChunkQueue();
  #state: "header" | "records" | "failed" = "header";
  #offset = 0; // absolute offset of the queue's read position
  #limits: DecodeLimits;
  #userEnd = -1; // index of the user's NUL once found
  #scanFrom = FIXED_HEADER_SIZE;

  constructor(limits: Partial<DecodeLimits> = {}) {
    this.#limits = { ...NO_LIMITS, ...limits };
  }

  /** Offset just past the last complete item (header or record). */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes received but not yet part of a complete item. */
  get pending(): number {
    return this.#queue.available;
  }

  /** True once an error was reported. */
  get failed(): boolean {
    return this.#state === "failed";
  }

  push(chunk: Uint8Array): DecodeEvent[] {
    const events: DecodeEvent[] = [];
    if (this.#state === "failed") return events;
    this.#queue.push(chunk);
    if (this.#state === "header") {
      const header = this.#tryHeader();
      if (header === undefined) return events;
      events.push(header);
      if (header.kind === "error") return events;
    }
    for (;;) {
      const record = this.#tryRecord();
      if (record === undefined) break;
      events.push(record);
      if (record.kind === "error") break;
    }
    return events;
  }

  /** Says how the input ended (call once no more bytes will come). */
  finish(): DecodeEnd {
    if (this.#state === "failed") return { kind: "failed" };
    const queue = this.#queue;
    if (this.#state === "header") {
      // Go's binary.Read: EOF when nothing at all, unexpected EOF when partial.
      if (queue.available < FIXED_HEADER_SIZE) {
        return {
          kind: "truncated-header",
          message: queue.available === 0 ? "EOF" : "unexpected EOF",
          offset: 0,
        };
      }
      // The fixed part is there (version checked in push): a NUL is missing.
      return {
        kind: "truncated-header",
        message: this.#userEnd < 0
          ? "reading user: EOF"
          : "reading command: EOF",
        offset: 0,
      };
    }
    if (queue.available === 0) return { kind: "complete" };
    let missing = RECORD_FRAME_SIZE - queue.available;
    if (queue.available >= RECORD_FRAME_SIZE) {
      missing = RECORD_FRAME_SIZE + this.#recordLength() - queue.available;
    }
    return { kind: "truncated-record", offset: this.#offset, missing };
  }

  #fail(stage: "header" | "record", message: string): DecodeEvent {
    this.#state = "failed";
    return { kind: "error", stage, message, offset: this.#offset };
  }

  #tryHeader(): DecodeEvent | undefined {
    const queue = this.#queue;
    if (queue.available < FIXED_HEADER_SIZE) return undefined;
    const version = (queue.at(0) << 8) | queue.at(1);
    if (version !== 1) {
      return this.#fail(
        "header",
        `unknow version number: ${version.toString(16)}`,
      );
    }
    const { maxUserBytes, maxCommandBytes } = this.#limits;
    // Where the NUL searches resume, so a header arriving in many chunks is
    // scanned once, not once per chunk.
    if (this.#userEnd < 0) {
      const userLimit = FIXED_HEADER_SIZE + maxUserBytes + 1;
      this.#userEnd = queue.indexOf(0, this.#scanFrom, userLimit);
      if (this.#userEnd < 0) {
        if (queue.available >= userLimit) {
          return this.#fail(
            "header",
            `reading user: longer than ${maxUserBytes} bytes`,
          );
        }
        this.#scanFrom = queue.available;
        return undefined;
      }
      this.#scanFrom = this.#userEnd + 1;
    }
    const userEnd = this.#userEnd;
    const commandLimit = userEnd + 1 + maxCommandBytes + 1;
    const commandEnd = queue.indexOf(0, this.#scanFrom, commandLimit);
    if (commandEnd < 0) {
      if (queue.available >= commandLimit) {
        return this.#fail(
          "header",
          `reading command: longer than ${maxCommandBytes} bytes`,
        );
      }
      this.#scanFrom = Math.max(this.#scanFrom, queue.available);
      return undefined;
    }
    const size = commandEnd + 1;
    const bytes = queue.take(size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const header: DumpHeader = {
      version,
      clientIp: bytes.slice(4, 20),
      clientPort: view.getUint16(20),
      sshdIp: bytes.slice(22, 38),
      sshdPort: view.getUint16(38),
      startNs: view.getBigInt64(40),
      user: bytes.slice(FIXED_HEADER_SIZE, userEnd),
      command: bytes.slice(userEnd + 1, commandEnd),
    };
    this.#offset += size;
    this.#state = "records";
    return { kind: "header", header, size };
  }

  #recordLength(): number {
    const q = this.#queue;
    return ((q.at(9) << 24) | (q.at(10) << 16) | (q.at(11) << 8) | q.at(12)) >>>
      0;
  }

  #tryRecord(): DecodeEvent | undefined {
    const queue = this.#queue;
    if (queue.available < RECORD_FRAME_SIZE) return undefined;
    const length = this.#recordLength();
    if (length > this.#limits.maxRecordBytes) {
      return this.#fail(
        "record",
        `record at offset ${this.#offset} announces ${length} bytes (more than ${this.#limits.maxRecordBytes})`,
      );
    }
    if (queue.available < RECORD_FRAME_SIZE + length) return undefined;
    const frame = queue.take(RECORD_FRAME_SIZE);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
    const record: DumpRecord = {
      timeNs: view.getBigInt64(0),
      fd: view.getUint8(8),
      data: queue.take(length),
    };
    const offset = this.#offset;
    const size = RECORD_FRAME_SIZE + length;
    this.#offset += size;
    return { kind: "record", record, offset, size };
  }
}

/** Decodes a whole dump held in memory. */
export function decodeDump(
  bytes: Uint8Array,
  limits: Partial<DecodeLimits> = {},
): {
  header?: DumpHeader;
  records: DumpRecord[];
  error?: DecodeEvent & { kind: "error" };
  end: DecodeEnd;
} {
  const decoder = new DumpDecoder(limits);
  const events = decoder.push(bytes);
  let header: DumpHeader | undefined;
  const records: DumpRecord[] = [];
  let error: (DecodeEvent & { kind: "error" }) | undefined;
  for (const event of events) {
    if (event.kind === "header") header = event.header;
    else if (event.kind === "record") records.push(event.record);
    else error = event;
  }
  return { header, records, error, end: decoder.finish() };
}
