import assert from "node:assert/strict";
import { formatRfc3339Nano, parseRfc3339 } from "../../src/format/time.ts";

function roundTrip(text: string): string {
  const parsed = parseRfc3339(text);
  assert.ok(parsed.ok, `${text}: ${parsed.ok ? "" : parsed.error}`);
  return formatRfc3339Nano(parsed.value.ns, parsed.value.offsetMinutes);
}

Deno.test("the spec's RFC3339Nano examples round-trip byte for byte", () => {
  for (
    const text of [
      "2024-05-02T09:15:03.041527381+02:00",
      "2024-05-02T07:15:03.1Z",
      "2024-05-02T09:15:03+02:00",
    ]
  ) {
    assert.equal(roundTrip(text), text);
  }
});

Deno.test("1 to 9 fractional digits round-trip in +02:00, Z and -05:30", () => {
  for (const zone of ["+02:00", "Z", "-05:30"]) {
    for (let digits = 1; digits <= 9; digits++) {
      // Ends in a non-zero digit: Go would trim a trailing zero.
      const fraction = "123456789".slice(0, digits - 1) + "7";
      const text = `2024-05-02T09:15:03.${fraction}${zone}`;
      assert.equal(roundTrip(text), text);
    }
  }
});

Deno.test("the instant is exact to the nanosecond and the offset is kept", () => {
  const parsed = parseRfc3339("2024-05-02T09:15:03.041527381+02:00");
  assert.deepEqual(parsed, {
    ok: true,
    value: { ns: 1714634103041527381n, offsetMinutes: 120 },
  });
  const west = parseRfc3339("2024-05-02T01:45:03.5-05:30");
  assert.deepEqual(west, {
    ok: true,
    value: { ns: 1714634103500000000n, offsetMinutes: -330 },
  });
});

Deno.test("formatting trims the fraction's trailing zeros and drops a zero fraction", () => {
  const ns = 1714634103_000000000n;
  assert.equal(formatRfc3339Nano(ns, 120), "2024-05-02T09:15:03+02:00");
  assert.equal(
    formatRfc3339Nano(ns + 100_000_000n, 0),
    "2024-05-02T07:15:03.1Z",
  );
  assert.equal(
    formatRfc3339Nano(ns + 41_527_380n, 120),
    "2024-05-02T09:15:03.04152738+02:00",
  );
});

Deno.test("a zero offset prints Z, whatever zone it came from", () => {
  assert.equal(roundTrip("2024-05-02T07:15:03+00:00"), "2024-05-02T07:15:03Z");
  assert.equal(roundTrip("2024-05-02T07:15:03-00:00"), "2024-05-02T07:15:03Z");
});

Deno.test("more than nine fractional digits are accepted and truncated", () => {
  assert.equal(
    roundTrip("2024-05-02T09:15:03.1234567891234-05:30"),
    "2024-05-02T09:15:03.123456789-05:30",
  );
});

Deno.test("instants before 1970 and far years format like Go", () => {
  assert.equal(formatRfc3339Nano(-1n, 0), "1969-12-31T23:59:59.999999999Z");
  assert.equal(
    formatRfc3339Nano(-62135596800_000000000n, 0),
    "0001-01-01T00:00:00Z",
  );
  assert.equal(roundTrip("0000-03-01T00:00:00Z"), "0000-03-01T00:00:00Z");
});
