/** A computation's outcome: a value, or an error message carrying its context. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/** Wraps a successful value. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** Wraps an error message. */
export function fail<T = never>(error: string): Result<T> {
  return { ok: false, error };
}
