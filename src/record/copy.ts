// The copy loops the proxy runs between the user and ssh when a recorder
// exists (spec §5.14, §8.3), with the recording rules in one place:
// a read from the user (fd 0) is recorded when the read returns, and its
// end of file as an empty record before the EOF is passed on; output (fd 1
// and 2) is recorded just before it is written. Chunks are passed through
// as they come (no re-buffering), so the session sees no added latency.
import type { Recorder, StreamFd } from "./recorder.ts";

/** Where copied bytes go: a WritableStream (a child's stdin) or anything with write() (Deno.stdout). */
export type Sink =
  | WritableStream<Uint8Array>
  | { write(data: Uint8Array): Promise<number> };

/** How the copy ended. */
export interface CopyResult {
  /** Bytes copied. */
  bytes: number;
  /** The error that stopped it (a read or write failure), if any. */
  error?: unknown;
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
): Promise<CopyResult> {
  let bytes = 0;
  const reader = source.getReader();
  const writer = sink instanceof WritableStream ? sink.getWriter() : undefined;
  const write = async (data: Uint8Array) => {
    if (writer !== undefined) {
      await writer.write(data);
      return;
    }
    const plain = sink as { write(data: Uint8Array): Promise<number> };
    let rest = data;
    while (rest.length > 0) rest = rest.subarray(await plain.write(rest));
  };
  let error: unknown;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      recorder?.record(fd, value);
      await write(value);
      bytes += value.length;
    }
  } catch (failure) {
    error = failure;
  }
  // The reference records fd 0's end (EOF or error) as an empty record.
  if (fd === 0) recorder?.record(0, new Uint8Array(0));
  reader.releaseLock();
  if (writer !== undefined) {
    if (fd === 0) await writer.close().catch(() => {});
    writer.releaseLock();
  }
  return error === undefined ? { bytes } : { bytes, error };
}
