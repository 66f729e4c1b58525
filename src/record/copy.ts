// The copy loops the proxy runs between the user and ssh when a recorder
// exists (spec §5.14, §8.3), with the recording rules in one place:
// a read from the user (fd 0) is recorded when the read returns, and its
// end of file as an empty record before the EOF is passed on; output (fd 1
// and 2) is recorded when it is read, before it is written.
//
// Every byte of a recorded session passes through here, so the loop costs
// as few operations per byte as it can, without ever holding a chunk back:
// * a byte stream is read into one buffer of the loop's own (a BYOB read:
//   no allocation per read), reused once the chunk is recorded and handed
//   on (the recorder copies it before record() returns);
// * a chunk is written at once when no write is in flight; while one is
//   (the reader on the other side is slower, or the write crosses a
//   thread), the chunks read meanwhile are gathered and written together as
//   soon as it ends: fewer, larger writes under load, the same latency
//   when idle, and reads overlap writes. What is gathered is bounded
//   (CopyBuffers.outputBytes): past it, reading waits;
// * buffers start small and grow (to those bounds) only with the chunks a
//   busy transfer brings: an idle recorded session holds kilobytes.
import type { Recorder, StreamFd } from "./recorder.ts";

/**
 * Where copied bytes go: a WritableStream (a child's stdin) or anything
 * with write() (Deno.stdout). A chunk's buffer is reused once its write
 * has resolved: a sink keeps a copy, never the chunk itself.
 */
export type Sink =
  | WritableStream<Uint8Array>
  | { write(data: Uint8Array): Promise<number> };

/** How the copy ended. */
export interface CopyResult {
  /** Bytes copied (written to the sink). */
  bytes: number;
  /** The error that stopped it (a read or write failure), if any. */
  error?: unknown;
}

/** Sizes of the loop's buffers (tests make them small to cross their edges). */
export interface CopyBuffers {
  /**
   * What one read may return: a pipe holds 64 KiB, a socket (sshd's end of
   * the session, on some systems) more; only the pages a read touches cost.
   */
  readBytes: number;
  /** Bytes gathered while a write is in flight, at most (two such buffers alternate). */
  outputBytes: number;
}

/** The sizes the proxy uses. */
export const COPY_BUFFERS: CopyBuffers = {
  readBytes: 128 * 1024,
  outputBytes: 256 * 1024,
};

/** Where the buffers start. */
const FIRST_BUFFER_BYTES = 16 * 1024;

/** The next size of a buffer that must hold `needed` bytes: doubling, at most `max`. */
function grown(current: number, needed: number, max: number): number {
  let size = Math.max(current, FIRST_BUFFER_BYTES);
  while (size < needed) size *= 2;
  return Math.min(size, max);
}

interface ChunkReader {
  /** The next chunk (valid until the next call), undefined at the end. */
  read(): Promise<Uint8Array | undefined>;
  /** Ends a pending read (the other side is gone). */
  cancel(): void;
  release(): void;
}

/** Reads a byte stream into one reused buffer, any other stream as it comes. */
function chunkReader(
  source: ReadableStream<Uint8Array>,
  readBytes: number,
): ChunkReader {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = source.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream (a test's stream of chunks): read it as it comes.
    const reader = source.getReader();
    return {
      async read() {
        const { value, done } = await reader.read();
        return done ? undefined : value;
      },
      cancel: () => void reader.cancel().catch(() => {}),
      release: () => reader.releaseLock(),
    };
  }
  const reader = byob;
  let buffer = new Uint8Array(Math.min(FIRST_BUFFER_BYTES, readBytes));
  return {
    async read() {
      // The buffer is transferred into the read and comes back as `value`.
      const { value, done } = await reader.read(buffer);
      if (done || value === undefined) return undefined;
      buffer = new Uint8Array(value.buffer);
      // A full read: more is probably waiting, read more at once next time
      // (this chunk stays valid: only the next read uses the new buffer).
      if (value.length === buffer.length && buffer.length < readBytes) {
        buffer = new Uint8Array(
          grown(buffer.length, buffer.length + 1, readBytes),
        );
      }
      return value;
    },
    cancel: () => void reader.cancel().catch(() => {}),
    release: () => reader.releaseLock(),
  };
}

/**
 * Writes chunks in order: at once when idle, gathered in one of two
 * alternating buffers while a write is in flight. The first write failure
 * is kept and reported by push() and drain().
 */
class GatheringWriter {
  readonly #write: (data: Uint8Array) => Promise<void>;
  readonly #onFailure: () => void;
  readonly #maxBytes: number;
  // Grown on demand (see grown()), each on its own.
  readonly #buffers = [new Uint8Array(0), new Uint8Array(0)];
  #filling: 0 | 1 = 0;
  #fill = 0;
  #inFlight?: Promise<void>;
  #failure?: { error: unknown };
  /** Bytes the sink has taken. */
  written = 0;

  constructor(
    write: (data: Uint8Array) => Promise<void>,
    outputBytes: number,
    onFailure: () => void,
  ) {
    this.#write = write;
    this.#onFailure = onFailure;
    this.#maxBytes = outputBytes;
  }

  /** Queues a copy of `chunk` (reusable once this resolves); waits only while the gathered bytes are at their bound. */
  async push(chunk: Uint8Array): Promise<void> {
    const needed = () => this.#fill + chunk.length;
    for (;;) {
      this.#throwFailure();
      if (needed() <= this.#buffers[this.#filling].length) break;
      if (needed() <= this.#maxBytes) {
        this.#growFilling(needed());
        break;
      }
      if (this.#inFlight === undefined) break;
      await this.#inFlight;
    }
    if (needed() > this.#buffers[this.#filling].length) {
      // Larger than a buffer may be (only from a stream of chunks): nothing
      // is gathered (fill is 0 once no write is in flight), write it as is.
      await this.#send(chunk);
      this.#throwFailure();
      return;
    }
    this.#buffers[this.#filling].set(chunk, this.#fill);
    this.#fill += chunk.length;
    if (this.#inFlight === undefined) this.#start();
  }

  /** Waits until everything pushed is written; throws the write failure, if any. */
  async drain(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
    this.#throwFailure();
  }

  #growFilling(needed: number): void {
    const old = this.#buffers[this.#filling];
    const buffer = new Uint8Array(grown(old.length, needed, this.#maxBytes));
    buffer.set(old.subarray(0, this.#fill));
    this.#buffers[this.#filling] = buffer;
  }

  #start(): void {
    const data = this.#buffers[this.#filling].subarray(0, this.#fill);
    this.#filling = this.#filling === 0 ? 1 : 0;
    this.#fill = 0;
    this.#inFlight = this.#send(data).then(() => {
      this.#inFlight = undefined;
      if (this.#fill > 0 && this.#failure === undefined) this.#start();
    });
  }

  async #send(data: Uint8Array): Promise<void> {
    try {
      await this.#write(data);
      this.written += data.length;
    } catch (error) {
      if (this.#failure === undefined) {
        this.#failure = { error };
        this.#onFailure();
      }
    }
  }

  #throwFailure(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}

/**
 * Copies `source` to `sink`, recording every chunk as `fd`. For fd 0 the
 * sink is closed at the end (EOF reaches ssh); output sinks are left open.
 * Never throws: failures end the copy and are returned.
 */
export async function copyRecorded(
  source: ReadableStream<Uint8Array>,
  sink: Sink,
  fd: StreamFd,
  recorder: Recorder | undefined,
  buffers: CopyBuffers = COPY_BUFFERS,
): Promise<CopyResult> {
  const reader = chunkReader(source, buffers.readBytes);
  const writer = sink instanceof WritableStream ? sink.getWriter() : undefined;
  const plain = sink as { write(data: Uint8Array): Promise<number> };
  const output = new GatheringWriter(
    writer !== undefined ? (data) => writer.write(data) : async (data) => {
      let rest = data;
      while (rest.length > 0) rest = rest.subarray(await plain.write(rest));
    },
    buffers.outputBytes,
    // Nobody takes ssh's output any more: stop reading it (ssh then gets
    // EPIPE). The user's stdin is left as it is.
    () => {
      if (fd !== 0) reader.cancel();
    },
  );
  let error: unknown;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk === undefined) break;
      if (chunk.length === 0) continue;
      recorder?.record(fd, chunk);
      await output.push(chunk);
    }
  } catch (failure) {
    error = failure;
  }
  // The reference records fd 0's end (EOF or error) as an empty record.
  if (fd === 0) recorder?.record(0, new Uint8Array(0));
  try {
    await output.drain();
  } catch (failure) {
    error ??= failure;
  }
  reader.release();
  if (writer !== undefined) {
    if (fd === 0) await writer.close().catch(() => {});
    writer.releaseLock();
  }
  const bytes = output.written;
  return error === undefined ? { bytes } : { bytes, error };
}
