// Unknown keys are accepted, as the reference does, but a typo such as
// `route_selct` must not pass silently: `show config` (and every session's
// DEBUG log) names it and suggests the closest known key.
import { SETTINGS_KEYS, type UnknownKey } from "./settings.ts";

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0];
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j];
      previous[j] = Math.min(
        previous[j] + 1,
        previous[j - 1] + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return previous[b.length];
}

/** One warning line per unknown key: `line N: unknown key "x" ignored (did you mean "y"?)`. */
export function describeUnknownKeys(keys: readonly UnknownKey[]): string[] {
  return keys.map(({ key, line }) => {
    const last = key.split(".").pop() ?? key;
    let best: string | undefined;
    let bestDistance = 3;
    for (
      const known of [
        ...SETTINGS_KEYS,
        "overrides",
        "match",
        "users",
        "groups",
        "sources",
      ]
    ) {
      const distance = editDistance(last, known);
      if (distance < bestDistance) {
        best = known;
        bestDistance = distance;
      }
    }
    return `line ${line}: unknown key ${JSON.stringify(key)} ignored${
      best ? ` (did you mean "${best}"?)` : ""
    }`;
  });
}
