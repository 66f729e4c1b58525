import assert from "node:assert/strict";
import { parseRfc3339 } from "../../src/format/time.ts";

const NANO = '"2006-01-02T15:04:05.999999999Z07:00"';

function errorOf(text: string, strict = false): string {
  const parsed = parseRfc3339(text, { strict });
  assert.ok(!parsed.ok, `${text} should not parse`);
  return parsed.error;
}

Deno.test("malformed timestamps fail with Go's time.Parse messages", () => {
  assert.equal(
    errorOf("foo"),
    `parsing time "foo" as ${NANO}: cannot parse "foo" as "2006"`,
  );
  assert.equal(
    errorOf("2024-05-02 09:15:03Z"),
    `parsing time "2024-05-02 09:15:03Z" as ${NANO}: cannot parse " 09:15:03Z" as "T"`,
  );
  assert.equal(
    errorOf("2024-05-02T09:15:03"),
    `parsing time "2024-05-02T09:15:03" as ${NANO}: cannot parse "" as "Z07:00"`,
  );
  assert.equal(
    errorOf("2024-05-02T09:15:03Zjunk"),
    `parsing time "2024-05-02T09:15:03Zjunk": extra text: "junk"`,
  );
  assert.equal(
    errorOf("2024-13-02T09:15:03Z"),
    `parsing time "2024-13-02T09:15:03Z": month out of range`,
  );
  assert.equal(
    errorOf("2023-02-29T00:00:00Z"),
    `parsing time "2023-02-29T00:00:00Z": day out of range`,
  );
  assert.equal(
    errorOf("2024-05-02T09:15:03+25:00"),
    `parsing time "2024-05-02T09:15:03+25:00": time zone offset hour out of range`,
  );
});

Deno.test("time.Parse leniencies are accepted unless JSON strictness is asked", () => {
  for (
    const text of [
      "2024-05-02T9:15:03Z",
      "2024-05-02T09:15:03,5Z",
      "2024-05-02T09:15:03+24:00",
    ]
  ) {
    assert.ok(parseRfc3339(text).ok, text);
  }
  const RFC = '"2006-01-02T15:04:05Z07:00"';
  assert.equal(
    errorOf("2024-05-02T9:15:03Z", true),
    `parsing time "2024-05-02T9:15:03Z" as ${RFC}: cannot parse "9" as "15"`,
  );
  assert.equal(
    errorOf("2024-05-02T09:15:03,5Z", true),
    `parsing time "2024-05-02T09:15:03,5Z" as ${RFC}: cannot parse "," as "."`,
  );
  assert.equal(
    errorOf("2024-05-02T09:15:03+24:00", true),
    `parsing time "2024-05-02T09:15:03+24:00": timezone hour out of range`,
  );
  assert.ok(
    parseRfc3339("2024-05-02T09:15:03.041527381+02:00", { strict: true }).ok,
  );
});

Deno.test("non-ASCII input is quoted with byte escapes, as Go's time errors do", () => {
  assert.equal(
    errorOf("é"),
    `parsing time "\\xc3\\xa9" as ${NANO}: cannot parse "\\xc3\\xa9" as "2006"`,
  );
});
