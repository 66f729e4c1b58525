// Timers for the session path that do not start Deno's Node-compatibility
// layer. In Deno 2.9 the global setTimeout/setInterval are Node's timers,
// loaded on first use: ~4 ms and ~1 MiB of heap per login (measured, see
// README "Start-up"). AbortSignal.timeout runs on the runtime's own timer
// and keeps the event loop alive like setTimeout does while a listener
// waits on it. Such a timer cannot be cleared: a cancelled one loses its
// listener (then, unreferenced, it no longer keeps the process alive) and
// still fires later, doing nothing. The repetition, every(), and the
// deadline on I/O under way, ioDeadline(), run on V8's own timer instead
// (Atomics.waitAsync: gone once cancelled, but it never holds the process).
// A deadline on a peer's answer, answerDeadline(), is one on I/O under way
// that looks once more before it passes: a process starved of CPU past the
// bound finds the timer and the answer ready together.
// Hand-written because no package offers timers that avoid Deno's globals.

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => after(ms, resolve));
}

/** A deadline: `expired` resolves after `ms` unless `cancel()` came first (then never). */
export interface Deadline {
  expired: Promise<void>;
  cancel(): void;
}

/** Starts a deadline of `ms` milliseconds. */
export function deadline(ms: number): Deadline {
  let cancelled = false;
  let forget = () => {};
  const expired = new Promise<void>((resolve) => {
    forget = after(ms, () => {
      if (!cancelled) resolve();
    });
  });
  return {
    expired,
    cancel: () => {
      cancelled = true;
      forget();
    },
  };
}

// How long an answer deadline looks again once it passed; 5 ms was
// enough in 20 of 20 stalls of 300 ms (by hand), 0 ms in 18.
const LOOK_AGAIN_MS = 10;

/**
 * A deadline on a peer's answer that does not blame the peer for this
 * process's own stall: once `ms` passed, it waits a moment more, from when
 * the process runs again, so that an answer that arrived while the
 * process waited for the CPU is read first (when both are ready at once,
 * the runtime fires the timer before the read in about half the cases).
 * The wait for the answer holds the process, so it runs on V8's timer
 * (ioDeadline): AbortSignal.timeout's first use at a login (Deno's timer
 * and abort code compiled then) cost the agent's greeting ~1 ms.
 */
export function answerDeadline(ms: number): Deadline {
  const first = ioDeadline(ms);
  let second: Deadline | undefined;
  let cancelled = false;
  const expired = first.expired.then(() => {
    if (cancelled) return new Promise<void>(() => {});
    second = ioDeadline(LOOK_AGAIN_MS);
    return second.expired;
  });
  return {
    expired,
    cancel: () => {
      cancelled = true;
      first.cancel();
      second?.cancel();
    },
  };
}

/**
 * A deadline on I/O under way (the I/O holds the process): unlike
 * `deadline` it does not hold the process itself, and once cancelled
 * nothing of it remains (`deadline`'s AbortSignal still fires later, with
 * an Event and a DOMException: ~5 KB for each etcd request, which an idle
 * session sends all session long).
 */
export function ioDeadline(ms: number): Deadline {
  // V8's own timer, as in every(); a notify ends the wait at once.
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let cancelled = false;
  const waiting = Atomics.waitAsync(cell, 0, 0, Math.max(0, ms));
  const expired = new Promise<void>((resolve) => {
    if (!waiting.async) return resolve();
    void waiting.value.then((outcome) => {
      if (outcome === "timed-out" && !cancelled) resolve();
    });
  });
  return {
    expired,
    cancel: () => {
      if (cancelled) return;
      cancelled = true;
      Atomics.notify(cell, 0);
    },
  };
}

/**
 * Calls `tick` every `ms` milliseconds until the returned function is
 * called. Unlike the one-shot timers here, a repetition never keeps the
 * process alive by itself: what it watches (the session's ssh child) does.
 */
export function every(ms: number, tick: () => void): () => void {
  // V8's own timer (Atomics.waitAsync on a cell nobody writes) rather than
  // AbortSignal.timeout: each of those allocates an AbortSignal, an Event
  // and a DOMException with its stack, ~4 KB per tick, so that an idle
  // session's heap grew ~0.5 MiB a minute from its 500 ms parent watch
  // alone until a collection (measured); this one, ~0.3 KB.
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const period = Math.max(1, ms);
  let stopped = false;
  const wait = (): void => {
    const waiting = Atomics.waitAsync(cell, 0, 0, period);
    if (waiting.async) void waiting.value.then(fire);
  };
  const fire = (): void => {
    if (stopped) return;
    tick();
    if (!stopped) wait();
  };
  wait();
  return () => {
    stopped = true;
    // Wakes the pending wait now rather than leaving it to time out.
    Atomics.notify(cell, 0);
  };
}

/**
 * Calls `callback` once after `ms` milliseconds unless the returned
 * function is called first.
 */
export function after(ms: number, callback: () => void): () => void {
  const signal = AbortSignal.timeout(Math.max(0, ms));
  signal.addEventListener("abort", callback, { once: true });
  return () => signal.removeEventListener("abort", callback);
}
