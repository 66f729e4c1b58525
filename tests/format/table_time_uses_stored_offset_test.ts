import assert from "node:assert/strict";
import { formatTableTime } from "../../src/format/time.ts";

Deno.test("table times keep the writer's offset instead of the viewer's zone", () => {
  assert.deepEqual(formatTableTime("2024-05-02T09:15:03.041527381+02:00"), {
    ok: true,
    value: "2024-05-02 09:15:03",
  });
  assert.deepEqual(formatTableTime("2024-05-02T01:45:03.9-05:30"), {
    ok: true,
    value: "2024-05-02 01:45:03",
  });
  assert.equal(
    formatTableTime({ ns: 1714634103041527381n, offsetMinutes: 0 }),
    "2024-05-02 07:15:03",
  );
});

Deno.test("an unparsable stored time is reported, not printed", () => {
  const result = formatTableTime("yesterday");
  assert.equal(result.ok, false);
});
