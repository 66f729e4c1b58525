// The asciicast v2 export, pure: header size from the recorded geometry
// (80x24 without), o/i/r events, UTF-8 split across records, speed and
// max-wait, all checked with the v2 rules of asciicast.ts.
import assert from "node:assert/strict";
import { AsciicastBuilder } from "../../src/record/asciicast.ts";
import {
  type DumpRecord,
  headerFromFacts,
} from "../../src/record/dump_format.ts";
import { checkAsciicast } from "./asciicast.ts";

const T0 = 1_714_634_103_041_527_381n;
const MS = 1_000_000n;
const header = headerFromFacts({
  user: "alice",
  command: "",
  clientIp: "192.0.2.10",
  clientPort: 54321,
  sshdIp: "192.0.2.1",
  sshdPort: 22,
  startNs: T0,
});
const bytes = (text: string) => new TextEncoder().encode(text);
const euro = bytes("€"); // 3 bytes

const RECORDS: DumpRecord[] = [
  { timeNs: T0 + 100n * MS, fd: 1, data: bytes("$ ") },
  { timeNs: T0 + 900n * MS, fd: 0, data: bytes("ls\r") },
  {
    timeNs: T0 + 950n * MS,
    fd: 1,
    data: new Uint8Array([...bytes("a"), ...euro.subarray(0, 2)]),
  },
  { timeNs: T0 + 960n * MS, fd: 2, data: bytes("err\n") },
  {
    timeNs: T0 + 970n * MS,
    fd: 1,
    data: new Uint8Array([...euro.subarray(2), ...bytes("\r\n")]),
  },
  { timeNs: T0 + 5000n * MS, fd: 0, data: new Uint8Array(0) },
];

function exportCast(
  geometry: { timeNs: bigint; cols: number; rows: number }[],
  options: { input: boolean; speed: number; maxWaitNs?: bigint },
): string {
  const builder = new AsciicastBuilder(header, geometry, options);
  let text = builder.headerLine();
  for (const record of RECORDS) text += builder.record(record);
  return text + builder.finish();
}

Deno.test("asciicast: header from the first geometry, r events for resizes, o for fd 1 and 2", () => {
  const cast = checkAsciicast(exportCast(
    [
      { timeNs: T0 + 1n, cols: 132, rows: 43 },
      { timeNs: T0 + 955n * MS, cols: 100, rows: 30 },
      { timeNs: T0 + 9000n * MS, cols: 90, rows: 20 },
    ],
    { input: false, speed: 1 },
  ));
  assert.equal(cast.header.width, 132);
  assert.equal(cast.header.height, 43);
  assert.equal(cast.header.timestamp, 1714634103);
  assert.equal(cast.header.title, "alice@192.0.2.10:54321");
  assert.deepEqual(cast.events, [
    [0.1, "o", "$ "],
    [0.95, "o", "a"],
    [0.955, "r", "100x30"],
    [0.96, "o", "err\n"],
    [0.97, "o", "€\r\n"],
    [9, "r", "90x20"],
  ]);
});

Deno.test("asciicast: 80x24 without geometry; input only when asked", () => {
  const plain = checkAsciicast(exportCast([], { input: false, speed: 1 }));
  assert.equal(plain.header.width, 80);
  assert.equal(plain.header.height, 24);
  assert.ok(plain.events.every(([, code]) => code === "o"));
  const withInput = checkAsciicast(exportCast([], { input: true, speed: 1 }));
  assert.deepEqual(
    withInput.events.filter(([, code]) => code === "i"),
    [[0.9, "i", "ls\r"]],
  );
});

Deno.test("asciicast: speed divides the pauses, max-wait caps them", () => {
  const fast = checkAsciicast(exportCast([], { input: true, speed: 2 }));
  assert.deepEqual(fast.events.map(([time]) => time), [
    0.05,
    0.45,
    0.475,
    0.48,
    0.485,
  ]);
  const capped = checkAsciicast(
    exportCast([], { input: true, speed: 1, maxWaitNs: 200n * MS }),
  );
  // 0.1, then 0.8 s capped to 0.2, then 50/10/10 ms.
  assert.deepEqual(capped.events.map(([time]) => time), [
    0.1,
    0.3,
    0.35,
    0.36,
    0.37,
  ]);
});

Deno.test("asciicast: records out of order never make time go back", () => {
  const builder = new AsciicastBuilder(header, [], { input: false, speed: 1 });
  let text = builder.headerLine();
  text += builder.record({ timeNs: T0 + 500n * MS, fd: 1, data: bytes("b") });
  text += builder.record({ timeNs: T0 + 100n * MS, fd: 1, data: bytes("a") });
  text += builder.record({
    timeNs: T0 - 100n * MS,
    fd: 1,
    data: bytes("\xff"),
  });
  const cast = checkAsciicast(text + builder.finish());
  assert.deepEqual(cast.events.map(([time]) => time), [0.5, 0.5, 0.5]);
});
