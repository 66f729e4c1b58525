// Expected tables were printed by the reference's own table library
// (tablewriter 1.1.4 configured as sshproxyctl does).
import assert from "node:assert/strict";
import { renderTable } from "../../src/format/table.ts";

const lines = (...rows: string[]) => rows.join("\n") + "\n";

Deno.test("show connections renders exactly like the spec's example", () => {
  assert.equal(
    renderTable({
      header: [
        "User",
        "Service",
        "Destination",
        "# of conns",
        "Last connection",
        "Bw in",
        "Bw out",
      ],
      rows: [[
        "fedora",
        "service2",
        "server1:22",
        "2",
        "2024-05-02 09:15:03",
        "0 kB/s",
        "0 kB/s",
      ]],
      footer: ["", "", "Totals", "2", "", "0 kB/s", "0 kB/s"],
    }),
    lines(
      "┌────────┬──────────┬─────────────┬─────────────┬─────────────────────┬────────┬────────┐",
      "│  USER  │ SERVICE  │ DESTINATION │ #  OF CONNS │   LAST CONNECTION   │ BW IN  │ BW OUT │",
      "├────────┼──────────┼─────────────┼─────────────┼─────────────────────┼────────┼────────┤",
      "│ fedora │ service2 │  server1:22 │           2 │ 2024-05-02 09:15:03 │ 0 kB/s │ 0 kB/s │",
      "├────────┼──────────┼─────────────┼─────────────┼─────────────────────┼────────┼────────┤",
      "│        │          │      Totals │           2 │                     │ 0 kB/s │ 0 kB/s │",
      "└────────┴──────────┴─────────────┴─────────────┴─────────────────────┴────────┴────────┘",
    ),
  );
});

Deno.test("long data cells wrap with minimal raggedness within 200/columns", () => {
  // 8 columns: 25 characters per column including padding.
  assert.equal(
    renderTable({
      header: [
        "User",
        "Service",
        "Groups",
        "# of conns",
        "Bw in",
        "Bw out",
        "Persist to",
        "Persist TTL",
      ],
      rows: [[
        "alice",
        "default",
        "g1 g2 g3 g4 g5 g6 g7 g8 g9 g10 g11 g12 g13",
        "1",
        "1.5 MB/s",
        "0 kB/s",
        "server1:22",
        "1h 2m 5s",
      ]],
      footer: ["", "", "Totals", "1", "1.5 MB/s", "0 kB/s", "", ""],
    }),
    lines(
      "┌───────┬─────────┬─────────────────────────┬─────────────┬──────────┬────────┬────────────┬─────────────┐",
      "│ USER  │ SERVICE │         GROUPS          │ #  OF CONNS │  BW IN   │ BW OUT │ PERSIST TO │ PERSIST TTL │",
      "├───────┼─────────┼─────────────────────────┼─────────────┼──────────┼────────┼────────────┼─────────────┤",
      "│ alice │ default │ g1 g2 g3 g4 g5 g6 g7 g8 │           1 │ 1.5 MB/s │ 0 kB/s │ server1:22 │    1h 2m 5s │",
      "│       │         │      g9 g10 g11 g12 g13 │             │          │        │            │             │",
      "├───────┼─────────┼─────────────────────────┼─────────────┼──────────┼────────┼────────────┼─────────────┤",
      "│       │         │                  Totals │           1 │ 1.5 MB/s │ 0 kB/s │            │             │",
      "└───────┴─────────┴─────────────────────────┴─────────────┴──────────┴────────┴────────────┴─────────────┘",
    ),
  );
});

Deno.test("an empty listing with totals keeps both lines around the missing rows", () => {
  assert.equal(
    renderTable({
      header: [
        "User",
        "Service",
        "Destination",
        "# of conns",
        "Last connection",
        "Bw in",
        "Bw out",
      ],
      rows: [],
      footer: ["", "", "Totals", "0", "", "0 kB/s", "0 kB/s"],
    }),
    lines(
      "┌──────┬─────────┬─────────────┬─────────────┬─────────────────┬────────┬────────┐",
      "│ USER │ SERVICE │ DESTINATION │ #  OF CONNS │ LAST CONNECTION │ BW IN  │ BW OUT │",
      "├──────┼─────────┼─────────────┼─────────────┼─────────────────┼────────┼────────┤",
      "├──────┼─────────┼─────────────┼─────────────┼─────────────────┼────────┼────────┤",
      "│      │         │      Totals │           0 │                 │ 0 kB/s │ 0 kB/s │",
      "└──────┴─────────┴─────────────┴─────────────┴─────────────────┴────────┴────────┘",
    ),
  );
});

Deno.test("without a footer no line is drawn between data rows or at the end", () => {
  assert.equal(
    renderTable({
      header: ["Group", "Users", "# of conns", "Bw in", "Bw out"],
      rows: [
        ["❌", "alice", "1", "0 kB/s", "0 kB/s"],
        ["admins", "bob carol", "2", "12 kB/s", "1.0 GB/s"],
      ],
    }),
    lines(
      "┌────────┬───────────┬─────────────┬─────────┬──────────┐",
      "│ GROUP  │   USERS   │ #  OF CONNS │  BW IN  │  BW OUT  │",
      "├────────┼───────────┼─────────────┼─────────┼──────────┤",
      "│     ❌ │     alice │           1 │  0 kB/s │   0 kB/s │",
      "│ admins │ bob carol │           2 │ 12 kB/s │ 1.0 GB/s │",
      "└────────┴───────────┴─────────────┴─────────┴──────────┘",
    ),
  );
});

Deno.test("a header alone has no line under it", () => {
  assert.equal(
    renderTable({
      header: [
        "Host",
        "State",
        "Last check",
        "# of conns",
        "Bw in",
        "Bw out",
        "# persist",
      ],
      rows: [],
    }),
    lines(
      "┌──────┬───────┬────────────┬─────────────┬───────┬────────┬────────────┐",
      "│ HOST │ STATE │ LAST CHECK │ #  OF CONNS │ BW IN │ BW OUT │ #  PERSIST │",
      "└──────┴───────┴────────────┴─────────────┴───────┴────────┴────────────┘",
    ),
  );
});

Deno.test("a header wider than its column share is cut with an ellipsis", () => {
  assert.equal(
    renderTable({
      header: [
        "A title much too long for its column here",
        "B",
        "C",
        "D",
        "E",
        "F",
        "G",
      ],
      rows: [["x", "", "", "", "", "", ""]],
    }),
    lines(
      "┌───────────────────────────┬───┬───┬───┬───┬───┬───┐",
      "│ A TITLE MUCH TOO LONG FO… │ B │ C │ D │ E │ F │ G │",
      "├───────────────────────────┼───┼───┼───┼───┼───┼───┤",
      "│                         x │   │   │   │   │   │   │",
      "└───────────────────────────┴───┴───┴───┴───┴───┴───┘",
    ),
  );
});

Deno.test("cell spaces: inner runs collapse, leading and trailing ones stay", () => {
  assert.equal(
    renderTable({ header: ["H"], rows: [["  a   b  "], ["x\ny"]] }),
    lines(
      "┌─────────┐",
      "│    H    │",
      "├─────────┤",
      "│   a b   │",
      "│       x │",
      "│       y │",
      "└─────────┘",
    ),
  );
});

Deno.test("a word longer than the column share widens the column", () => {
  const word = "x".repeat(40);
  const table = renderTable({
    header: ["A", "B", "C", "D", "E", "F", "G"],
    rows: [[`${word} y`, "", "", "", "", "", ""]],
  });
  const [, , , first, second] = table.split("\n");
  assert.equal(first, `│ ${word} │   │   │   │   │   │   │`);
  assert.equal(second, `│ ${" ".repeat(39)}y │   │   │   │   │   │   │`);
});

Deno.test("control characters the drawing package refuses are shown as U+FFFD", () => {
  const table = renderTable({ header: ["H"], rows: [["a\x01b"]] });
  assert.ok(table.includes("a\ufffdb"));
});
