import { bump, count } from "./state.ts";

/** Counts once more, in the state the entry counted in. */
export function later(): number {
  bump();
  return count();
}
