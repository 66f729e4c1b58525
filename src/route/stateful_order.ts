// The `connections` and `bandwidth` orderings of spec §5.8.2, from the
// loads etcd holds. Pure: loads and the random source are passed in.
import type { DestinationLoad } from "../state/aggregate.ts";
import { type RandomSource, shuffle } from "./order.ts";

/** The per-destination sort keys of one algorithm, most significant first. */
export function loadKeys(
  routeSelect: "connections" | "bandwidth",
  load: DestinationLoad | undefined,
): [number, number] {
  if (load === undefined) return [0, 0];
  if (routeSelect === "connections") return [load.userN, load.hostN];
  return [
    load.userIn ** 2 + load.userOut ** 2 + load.userN,
    load.hostIn ** 2 + load.hostOut ** 2 + load.hostN,
  ];
}

/**
 * Orders `destinations` by (1) this user@service's load, (2) everyone's
 * load, both ascending, (3) at random among equals (a uniform shuffle,
 * then a stable sort), as the reference does.
 */
export function orderByLoad(
  destinations: readonly string[],
  routeSelect: "connections" | "bandwidth",
  loads: ReadonlyMap<string, DestinationLoad>,
  random: RandomSource,
): { order: string[]; debug: string } {
  const keyed = shuffle(destinations, random).map((destination) => ({
    destination,
    keys: loadKeys(routeSelect, loads.get(destination)),
  }));
  keyed.sort((a, b) => a.keys[0] - b.keys[0] || a.keys[1] - b.keys[1]);
  const order = keyed.map((k) => k.destination);
  const what = routeSelect === "connections"
    ? "# of connections"
    : "bandwidth used";
  return {
    order,
    debug: `ordered destinations based on ${what}: [${order.join(" ")}]`,
  };
}
