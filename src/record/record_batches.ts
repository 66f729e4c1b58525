// The recorder's queue between the session and the dump target: records
// are encoded straight into large reusable buffers (one copy of the
// session's bytes, no allocation per record), and the writer takes whole
// buffers, so a busy session costs one write per buffer rather than one or
// two per record. A quiet session keeps small buffers; they grow (up to
// the batch size) only when records come faster than they are written, so
// an idle recorded session does not hold megabytes. Pure: no I/O, no clock.
import { RECORD_FRAME_SIZE, writeRecordFrame } from "./dump_format.ts";

/**
 * Default buffer size: sixteen 64 KiB reads from a pipe with their frames
 * (a buffer of exactly 1 MiB would leave most of a chunk's worth unused at
 * its end). Measured: 1 GiB through a recorded pipe costs less CPU with
 * 1 MiB buffers than with 256 or 512 KiB ones, mostly in the file writes.
 */
export const DEFAULT_BATCH_BYTES = 16 * (64 * 1024 + RECORD_FRAME_SIZE);

/** The size buffers start at. */
const FIRST_BUFFER_BYTES = 16 * 1024;

/** Encoded records waiting for the dump target, in order. */
export class RecordBatches {
  readonly #batchBytes: number;
  readonly #poolSize: number;
  // Size of new buffers: doubles whenever one fills up, up to #batchBytes.
  #bufferBytes: number;
  // Full buffers (views of their used part), oldest first.
  #sealed: Uint8Array[] = [];
  #current?: Uint8Array;
  #used = 0;
  // Written buffers kept for reuse.
  #pool: Uint8Array[] = [];
  #queued = 0;

  /** `batchBytes`: largest buffer size; `poolSize`: written buffers kept for reuse. */
  constructor(batchBytes = DEFAULT_BATCH_BYTES, poolSize = 1) {
    this.#batchBytes = Math.max(batchBytes, RECORD_FRAME_SIZE);
    this.#bufferBytes = Math.min(FIRST_BUFFER_BYTES, this.#batchBytes);
    this.#poolSize = poolSize;
  }

  /** Bytes appended and not yet taken. */
  get queued(): number {
    return this.#queued;
  }

  /** Encodes one record (frame, then a copy of `data`); `data` may be reused once this returns. */
  append(fd: number, data: Uint8Array, timeNs: bigint): void {
    const size = RECORD_FRAME_SIZE + data.length;
    let current = this.#current;
    if (current === undefined || current.length - this.#used < size) {
      if (this.#used > 0 || size > this.#bufferBytes) this.#grow(size);
      this.#seal();
      // A record longer than the largest buffer gets a buffer of its own.
      current = size <= this.#bufferBytes
        ? this.#pool.pop() ?? new Uint8Array(this.#bufferBytes)
        : new Uint8Array(size);
      this.#current = current;
    }
    writeRecordFrame(current, this.#used, timeNs, fd, data.length);
    current.set(data, this.#used + RECORD_FRAME_SIZE);
    this.#used += size;
    this.#queued += size;
  }

  /** Whether a buffer is full (the next append did not fit in it). */
  get hasFull(): boolean {
    return this.#sealed.length > 0;
  }

  /** The oldest full buffer, if any, to write whole. */
  takeFull(): Uint8Array | undefined {
    const batch = this.#sealed.shift();
    if (batch !== undefined) this.#queued -= batch.length;
    return batch;
  }

  /** The oldest records, full buffer or not; undefined when nothing waits. */
  take(): Uint8Array | undefined {
    if (this.#sealed.length === 0) this.#seal();
    return this.takeFull();
  }

  /** Gives back a buffer from take() once it is written, for reuse. */
  recycle(batch: Uint8Array): void {
    const buffer = batch.buffer;
    if (
      buffer.byteLength === this.#bufferBytes &&
      this.#pool.length < this.#poolSize &&
      buffer instanceof ArrayBuffer
    ) {
      this.#pool.push(new Uint8Array(buffer));
    }
  }

  /** Drops everything queued (the dump is abandoned). */
  clear(): void {
    this.#sealed = [];
    this.#current = undefined;
    this.#used = 0;
    this.#queued = 0;
  }

  /** Records come faster than buffers are written: larger buffers (dropping smaller pooled ones). */
  #grow(size: number): void {
    let bytes = this.#bufferBytes;
    do bytes *= 2; while (bytes < size);
    bytes = Math.min(bytes, this.#batchBytes);
    if (bytes === this.#bufferBytes) return;
    this.#bufferBytes = bytes;
    this.#pool = [];
  }

  #seal(): void {
    const current = this.#current;
    if (current === undefined) return;
    if (this.#used > 0) this.#sealed.push(current.subarray(0, this.#used));
    else this.recycle(current);
    this.#current = undefined;
    this.#used = 0;
  }
}
