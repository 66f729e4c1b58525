// Ordering of candidate destinations for the stateless algorithms (spec
// §5.8.2). Pure: the random source is passed in so tests are repeatable.
import type { RouteSelect } from "../config/types.ts";

/** A source of uniform numbers in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** A uniformly random permutation (Fisher-Yates). */
export function shuffle<T>(items: readonly T[], random: RandomSource): T[] {
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other], result[index]];
  }
  return result;
}

/**
 * Orders destinations without shared state: `ordered` keeps the admin's
 * order; the others are random (the reference's fallback for `connections`
 * and `bandwidth` when etcd is not usable).
 */
export function orderWithoutState(
  destinations: readonly string[],
  routeSelect: RouteSelect,
  random: RandomSource,
): { order: string[]; debug?: string } {
  if (routeSelect === "ordered") return { order: [...destinations] };
  const order = shuffle(destinations, random);
  return { order, debug: `randomized destinations: [${order.join(" ")}]` };
}
