// A connection key's time element has a fast path (src/state/keys.ts
// parseKeyTime: a login without the agent parses every key of the
// gateways) beside Go's complete RFC3339 rules (src/format/time.ts): both
// must give the same instant and offset, or the same refusal, for any
// text a writer may have put there.
import assert from "node:assert/strict";
import { parseRfc3339 } from "../../src/format/time.ts";
import { parseKeyTime } from "../../src/state/keys.ts";

function same(text: string): void {
  const fast = parseKeyTime(text);
  const full = parseRfc3339(text);
  assert.equal(fast.ok, full.ok, text);
  // -00:00: the full parser keeps -0, the fast path 0; both print as Go's.
  const plain = (t: { ns: bigint; offsetMinutes: number }) => ({
    ns: t.ns,
    offsetMinutes: t.offsetMinutes || 0,
  });
  if (fast.ok && full.ok) {
    assert.deepEqual(plain(fast.value), plain(full.value), text);
  }
}

Deno.test("the key-time fast path reads every plain RFC3339Nano as the full parser", () => {
  let seed = 11;
  // An LCG's high bits (its low bits cycle too fast to cover the months).
  const pick = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor(seed / 2 ** 15) % n;
  };
  const two = (n: number) => String(n).padStart(2, "0");
  for (let i = 0; i < 2000; i++) {
    const year = 1970 + pick(130);
    const month = 1 + pick(12);
    const day = 1 + pick(31); // some impossible: both must refuse them
    const digits = pick(10);
    const fraction = digits === 0
      ? ""
      : "." + String(pick(10 ** digits)).padStart(digits, "0");
    const zone = pick(3) === 0
      ? "Z"
      : `${pick(2) ? "+" : "-"}${two(pick(24))}:${two(pick(60))}`;
    same(
      `${year}-${two(month)}-${two(day)}T${two(pick(24))}:${two(pick(60))}:${
        two(pick(60))
      }${fraction}${zone}`,
    );
  }
});

Deno.test("the key-time fast path agrees at the edges: leap days, offsets, fractions", () => {
  for (
    const text of [
      "2024-02-29T23:59:59.999999999Z",
      "2023-02-29T00:00:00Z",
      "2100-02-29T00:00:00Z",
      "2000-02-29T00:00:00Z",
      "2024-04-31T00:00:00Z",
      "2024-06-31T00:00:00Z",
      "2024-09-31T00:00:00Z",
      "2024-11-31T00:00:00Z",
      "2024-12-31T00:00:00Z",
      "2024-12-31T23:59:59.1+23:59",
      "2024-01-01T00:00:00.000000001-00:00",
      "2024-01-01T00:00:00.5-05:30",
      "2024-01-01T24:00:00Z",
      "2024-01-01T00:00:60Z",
      "2024-01-01T00:00:00+24:00",
      "0099-01-01T00:00:00Z",
      "2024-01-01T00:00:00.1234567890Z",
      "2024-01-01 00:00:00Z",
      "2024-01-01T00:00:00",
    ]
  ) same(text);
});
