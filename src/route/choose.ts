// Destination choice (spec §5.8): order the candidates, then take the
// first one whose check says `up`. The check and the ordering are passed
// in, so shared state (etcd: sticky lookup, host states, connection
// counts) plugs in without this module doing any I/O itself.
import { fail, ok, type Result } from "../result.ts";

/** The state a host check can report (spec §6.1). */
export type HostState = "up" | "down" | "disabled" | "unknown";

/** What destination choice needs from the outside world. */
export interface ChoiceDependencies {
  /** Checks one destination (`host:port`); logs its own failures. */
  check(destination: string): Promise<HostState>;
  /** Logs at DEBUG or INFO. */
  log(level: "DEBUG" | "INFO", message: string): void;
}

/** The inputs of one choice. */
export interface ChoiceInputs {
  service: string;
  /** Normalised destinations, in configuration order. */
  destinations: readonly string[];
  /** The candidates in the order the route_select algorithm gave. */
  order: readonly string[];
  /** The algorithm's DEBUG line, if any. */
  orderDebug?: string;
}

/** The chosen destination, or undefined when none is usable. */
export async function chooseDestination(
  inputs: ChoiceInputs,
  dependencies: ChoiceDependencies,
): Promise<Result<string | undefined>> {
  if (inputs.destinations.length === 0) {
    return fail(`no destination set for service ${inputs.service}`);
  }
  if (inputs.orderDebug) dependencies.log("DEBUG", inputs.orderDebug);
  for (const destination of inputs.order) {
    if ((await dependencies.check(destination)) === "up") {
      return ok(destination);
    }
  }
  return ok(undefined);
}
