// An asciicast v2 checker, line by line, for the export tests: the first
// line a JSON object with version 2, positive integer width and height and
// an integer timestamp; every other line a JSON array [time, code, data]
// with a non-negative, non-decreasing number, a code among o/i/r/m and a
// string (for r: "COLSxROWS").
import assert from "node:assert/strict";

export interface Cast {
  header: Record<string, unknown>;
  events: [number, string, string][];
}

export function checkAsciicast(text: string): Cast {
  assert.ok(text.endsWith("\n"), "an asciicast ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  const header = JSON.parse(lines[0]);
  assert.equal(typeof header, "object");
  assert.ok(header !== null && !Array.isArray(header), "header is an object");
  assert.equal(header.version, 2);
  for (const key of ["width", "height"]) {
    assert.ok(
      Number.isInteger(header[key]) && header[key] > 0,
      `${key} is a positive integer`,
    );
  }
  if ("timestamp" in header) assert.ok(Number.isInteger(header.timestamp));
  const events: [number, string, string][] = [];
  let last = 0;
  for (const [index, line] of lines.slice(1).entries()) {
    const event = JSON.parse(line);
    assert.ok(Array.isArray(event) && event.length === 3, `line ${index + 2}`);
    const [time, code, data] = event;
    assert.equal(typeof time, "number", `line ${index + 2} time`);
    assert.ok(time >= 0 && time >= last, `line ${index + 2}: time goes back`);
    last = time;
    assert.ok(["o", "i", "r", "m"].includes(code), `line ${index + 2} code`);
    assert.equal(typeof data, "string");
    if (code === "r") assert.match(data, /^[1-9][0-9]*x[1-9][0-9]*$/);
    events.push([time, code, data]);
  }
  return { header, events };
}
