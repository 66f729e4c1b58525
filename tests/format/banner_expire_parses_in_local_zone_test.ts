import assert from "node:assert/strict";
import { parseBannerExpire } from "../../src/format/time.ts";

const TIME_MODULE = new URL("../../src/format/time.ts", import.meta.url).href;

// The local zone is read at start-up, so each zone needs its own process.
async function inZone(tz: string, inputs: string[]): Promise<string[]> {
  const script = `
    import { formatBannerExpire, parseBannerExpire } from ${
    JSON.stringify(TIME_MODULE)
  };
    for (const input of ${JSON.stringify(inputs)}) {
      const parsed = parseBannerExpire(input);
      console.log(parsed.ok ? parsed.value + " " + formatBannerExpire(parsed.value) : "ERR " + parsed.error);
    }
  `;
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { TZ: tz },
  }).output();
  assert.ok(success);
  return new TextDecoder().decode(stdout).trimEnd().split("\n");
}

Deno.test("an unparsable date fails with the spec's Go error text", () => {
  assert.deepEqual(parseBannerExpire("foo"), {
    ok: false,
    error:
      'parsing time "foo" as "2006-01-02 15:04:05": cannot parse "foo" as "2006"',
  });
});

Deno.test("the error is the one of the last layout tried", () => {
  assert.deepEqual(parseBannerExpire("2030-01-01 10"), {
    ok: false,
    error:
      'parsing time "2030-01-01 10" as "2006-01-02 15:04:05": cannot parse "" as ":"',
  });
  assert.deepEqual(parseBannerExpire("2030-13-01"), {
    ok: false,
    error: 'parsing time "2030-13-01": month out of range',
  });
});

Deno.test("the three layouts are read in the local zone", async () => {
  assert.deepEqual(
    await inZone("Europe/Paris", [
      "2030-01-01",
      "2030-07-01 10:00",
      "2030-07-01 10:00:05",
    ]),
    [
      "1893452400000000000 2030-01-01 00:00:00",
      "1909123200000000000 2030-07-01 10:00:00",
      "1909123205000000000 2030-07-01 10:00:05",
    ],
  );
  assert.deepEqual(await inZone("UTC", ["2030-01-01"]), [
    "1893456000000000000 2030-01-01 00:00:00",
  ]);
});

Deno.test("daylight-saving gaps and overlaps resolve as Go's time.Date does", async () => {
  assert.deepEqual(
    await inZone("Europe/Paris", ["2024-03-31 02:30", "2024-10-27 02:30"]),
    [
      "1711848600000000000 2024-03-31 03:30:00",
      "1729992600000000000 2024-10-27 02:30:00",
    ],
  );
});
