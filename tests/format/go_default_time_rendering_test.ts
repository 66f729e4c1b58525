import assert from "node:assert/strict";
import { formatGoDefaultTime } from "../../src/format/time.ts";

Deno.test("Go's default rendering with a known zone abbreviation", () => {
  assert.equal(
    formatGoDefaultTime(1714634103041527381n, {
      offsetMinutes: 120,
      abbreviation: "CEST",
    }),
    "2024-05-02 09:15:03.041527381 +0200 CEST",
  );
});

Deno.test("an unknown abbreviation repeats the numeric offset", () => {
  assert.equal(
    formatGoDefaultTime(1714634103000000000n, {
      offsetMinutes: 120,
      abbreviation: "",
    }),
    "2024-05-02 09:15:03 +0200 +0200",
  );
  assert.equal(
    formatGoDefaultTime(1714634103100000000n, {
      offsetMinutes: -330,
      abbreviation: "",
    }),
    "2024-05-02 01:45:03.1 -0530 -0530",
  );
});

Deno.test("the local zone's name and offset come from TZ", async () => {
  const script = `
    import { formatGoDefaultTime } from ${
    JSON.stringify(new URL("../../src/format/time.ts", import.meta.url).href)
  };
    console.log(formatGoDefaultTime(1714634103041527381n));
    console.log(formatGoDefaultTime(1704067200000000000n));
  `;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { TZ: "Europe/Paris" },
  }).output();
  assert.ok(success);
  assert.equal(
    new TextDecoder().decode(stdout),
    "2024-05-02 09:15:03.041527381 +0200 CEST\n2024-01-01 01:00:00 +0100 CET\n",
  );
});
