// `show groups` sorts its rows on the group name as displayed (spec §7.5):
// the reference sorts the table's cells, so users without a group (shown
// ❌, U+274C) come after ASCII names and before names past U+274C, while
// its CSV (raw, empty name) lists them first. Our JSON follows the table.
import assert from "node:assert/strict";
import type { GroupRow } from "../../src/state/aggregate.ts";
import { renderGroups } from "../../src/state/show_output.ts";

const NO_GROUP = "\u274C";

function row(group: string, service?: string): GroupRow {
  return {
    group,
    ...(service === undefined ? {} : { service }),
    users: `u-${group || "none"}`,
    n: 1,
    bwIn: 0,
    bwOut: 0,
  };
}

/** The first cell of each data row of a box table. */
function firstColumn(table: string): string[] {
  return table.split("\n")
    .filter((line) => line.startsWith("│"))
    .slice(1)
    .map((line) => line.split("│")[1].trim());
}

// As groupRows hands them over: sorted on the raw name.
const ROWS = [
  row(""),
  row("alpha"),
  row("zeta"),
  row("\u00E9quipe"),
  row("\u4E2D"),
];

Deno.test("show groups table: the row without a group sorts as its ❌", () => {
  assert.deepEqual(
    firstColumn(renderGroups(ROWS, { all: false, format: "table" })),
    ["alpha", "zeta", "\u00E9quipe", NO_GROUP, "\u4E2D"],
  );
});

Deno.test("show groups -json: in the table's order", () => {
  const parsed = JSON.parse(
    renderGroups(ROWS, { all: false, format: "json" }),
  ) as { Group: string }[];
  assert.deepEqual(
    parsed.map((g) => g.Group),
    ["alpha", "zeta", "\u00E9quipe", "", "\u4E2D"],
  );
});

Deno.test("show groups -csv: on the raw name, the empty one first, as the reference", () => {
  assert.deepEqual(
    renderGroups(ROWS, { all: false, format: "csv" }).split("\n")
      .filter((line) => line !== "")
      .map((line) => line.split(",")[0]),
    ["", "alpha", "zeta", "\u00E9quipe", "\u4E2D"],
  );
});

Deno.test("show -all groups: by displayed group, then service", () => {
  const rows = [
    row("", "default"),
    row("", "b"),
    row("alpha", "z"),
    row("alpha", "a"),
    row("zeta", "default"),
  ];
  const table = renderGroups(rows, { all: true, format: "table" });
  assert.deepEqual(
    table.split("\n")
      .filter((line) => line.startsWith("│"))
      .slice(1)
      .map((line) =>
        line.split("│").slice(1, 3).map((cell) => cell.trim()).join("@")
      ),
    [
      "alpha@a",
      "alpha@z",
      "zeta@default",
      `${NO_GROUP}@b`,
      `${NO_GROUP}@default`,
    ],
  );
  const json = JSON.parse(
    renderGroups(rows, { all: true, format: "json" }),
  ) as {
    Group: string;
    Service: string;
  }[];
  assert.deepEqual(
    json.map((g) => `${g.Group}@${g.Service}`),
    ["alpha@a", "alpha@z", "zeta@default", "@b", "@default"],
  );
});
