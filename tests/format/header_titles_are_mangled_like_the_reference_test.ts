import assert from "node:assert/strict";
import { formatHeaderTitle } from "../../src/format/table.ts";

Deno.test("the titles of spec §7.1 display as the reference shows them", () => {
  const expected: Record<string, string> = {
    User: "USER",
    Service: "SERVICE",
    Destination: "DESTINATION",
    From: "FROM",
    Host: "HOST",
    State: "STATE",
    Group: "GROUP",
    Groups: "GROUPS",
    Users: "USERS",
    "# of conns": "#  OF CONNS",
    "# persist": "#  PERSIST",
    "Last connection": "LAST CONNECTION",
    "Start time": "START TIME",
    "Last check": "LAST CHECK",
    "Bw in": "BW IN",
    "Bw out": "BW OUT",
    "Persist to": "PERSIST TO",
    "Persist TTL": "PERSIST TTL",
  };
  for (const [title, shown] of Object.entries(expected)) {
    assert.equal(formatHeaderTitle(title), shown, title);
  }
});

Deno.test("runs split at character-class changes, capitalised words stay whole", () => {
  assert.equal(formatHeaderTitle("HelloWorld"), "HELLO WORLD");
  assert.equal(formatHeaderTitle("ABCdef x2y"), "AB CDEF X 2 Y");
  assert.equal(formatHeaderTitle("iPhone"), "I PHONE");
});

Deno.test("underscores become spaces and dots between letters are spaced", () => {
  assert.equal(formatHeaderTitle("hello_world"), "HELLO WORLD");
  assert.equal(formatHeaderTitle("_x_"), "X");
  assert.equal(formatHeaderTitle("a.b"), "A . B");
  assert.equal(formatHeaderTitle("a..b"), "A  . B");
  assert.equal(formatHeaderTitle("1.2"), "1 . 2");
});

Deno.test("upper-casing maps one character to one, as Go does", () => {
  assert.equal(formatHeaderTitle("straße"), "STRAßE");
  assert.equal(formatHeaderTitle("ÄbcDEF"), "ÄBC DEF");
});

Deno.test("a blank title stays blank", () => {
  assert.equal(formatHeaderTitle("   "), "");
  assert.equal(formatHeaderTitle(""), "");
});
