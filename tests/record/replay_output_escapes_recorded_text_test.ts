// Issue 12 item 3, the pure parts: the replay header shows a recorded user
// and command escaped (ordinary ones exactly as the reference prints them),
// and the asciicast export escapes what JSON.stringify leaves raw.
import assert from "node:assert/strict";
import { AsciicastBuilder } from "../../src/record/asciicast.ts";
import { headerFromFacts } from "../../src/record/dump_format.ts";
import { headerLines } from "../../src/record/listing.ts";

const T0 = 1714634103041527381n;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const facts = {
  user: "alice",
  command: "hostname",
  clientIp: "192.0.2.10",
  clientPort: 54321,
  sshdIp: "192.0.2.1",
  sshdPort: 22,
  startNs: T0,
};

Deno.test("an ordinary header is printed as the reference prints it", () => {
  const header = headerFromFacts({ ...facts, user: "élodie", command: "" });
  assert.equal(
    text(headerLines(header, "START")),
    "--> Version: 1\n--> Start:   START\n--> User:    élodie\n" +
      "--> From:    192.0.2.10:54321\n--> To:      192.0.2.1:22\n" +
      "--> Command: \n",
  );
});

Deno.test("a recorded user and command cannot add header lines or control the terminal", () => {
  const header = {
    ...headerFromFacts(facts),
    user: new Uint8Array([0x61, 0x0a, 0x9b, 0x31, 0x6d]),
    command: new TextEncoder().encode(
      "ls\r\n--> User:    root\x1b]0;x\x07\u2028",
    ),
  };
  const shown = text(headerLines(header, "START"));
  assert.equal(
    shown,
    "--> Version: 1\n--> Start:   START\n--> User:    a\\n\\x9b1m\n" +
      "--> From:    192.0.2.10:54321\n--> To:      192.0.2.1:22\n" +
      "--> Command: ls\\r\\n--> User:    root\\x1b]0;x\\a\\u2028\n",
  );
  assert.equal(shown.split("\n").length, 7);
});

Deno.test("asciicast lines escape DEL, C1 controls and line separators as well", () => {
  const builder = new AsciicastBuilder(
    headerFromFacts({ ...facts, command: "a\u009bb\u2029" }),
    [],
    { input: false, speed: 1 },
  );
  const header = builder.headerLine();
  const event = builder.record({
    timeNs: T0 + 1_000_000n,
    fd: 1,
    data: new TextEncoder().encode("x\x7f\u0085\u2028\x1b[0m"),
  });
  for (const line of [header, event]) {
    assert.doesNotMatch(
      line.slice(0, -1),
      // deno-lint-ignore no-control-regex -- control characters are the point
      /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/,
    );
  }
  assert.equal(
    JSON.parse(header).title,
    "alice@192.0.2.10:54321: a\u009bb\u2029",
  );
  assert.equal(event, '[0.001000, "o", "x\\u007f\\u0085\\u2028\\u001b[0m"]\n');
  assert.deepEqual(JSON.parse(event), [0.001, "o", "x\x7f\u0085\u2028\x1b[0m"]);
});
