// What `sshproxyctl show connections|hosts|users|groups|error_banner`
// prints (spec §7.2-7.6): box tables, CSV without header, and JSON with the
// reference's field names and order, which scripts parse. Pure.
//
// Every name and address in a listing comes from etcd, which anyone holding
// the etcd password may write (a session's configuration carries it): in
// tables and CSV each cell's control and other unprintable characters are
// escaped Go-style (escapeText), so that a forged user name can neither
// drive the admin's terminal nor break the table; JSON escapes them itself.
//
// Departures: an empty listing is `[]` in JSON everywhere (the reference
// prints `null` for `show connections`, spec §12.4 item 40); JSON arrays of
// users and groups are sorted like the tables instead of in random order
// (spec §7.4, §7.5).
import { encodeGoJsonArrayLine, type JsonObject } from "../format/json.ts";
import { escapeLines, escapeText } from "../log/escape.ts";
import {
  renderTable as renderRawTable,
  type TableInput,
} from "../format/table.ts";
import { formatTableTime } from "../format/time.ts";
import {
  formatBandwidth,
  formatCsv as formatRawCsv,
  formatPersistTtl,
} from "../format/units.ts";
import {
  aggregateConnections,
  compareStrings,
  type Connection,
  type GroupRow,
  type HostRow,
  type UserRow,
} from "./aggregate.ts";
import { timestampText } from "./values.ts";

/** Output form chosen by `-csv` / `-json`. */
export type OutputFormat = "table" | "csv" | "json";

// Tables show an empty group name (or group list) as a red cross.
const NO_GROUP = "\u274C";

function json(items: readonly JsonObject[]): string {
  const encoded = encodeGoJsonArrayLine(items);
  // Only NaN or infinities fail, and every number here is an integer.
  return encoded.ok ? encoded.value : "[]\n";
}

function escapeRow(row: readonly string[]): string[] {
  return row.map(escapeText);
}

function formatCsv(rows: readonly (readonly string[])[]): string {
  return formatRawCsv(rows.map(escapeRow));
}

function renderTable(input: TableInput): string {
  return renderRawTable({
    header: input.header,
    rows: input.rows.map(escapeRow),
    ...(input.footer === undefined ? {} : { footer: escapeRow(input.footer) }),
  });
}

function sum<T>(rows: readonly T[], get: (row: T) => number): number {
  return rows.reduce((total, row) => total + get(row), 0);
}

const bw = formatBandwidth;

/** `show connections` (aggregated) or `show connections -all`. */
export function renderConnections(
  connections: readonly Connection[],
  options: { all: boolean; format: OutputFormat },
): string {
  if (options.all) {
    if (options.format === "json") {
      return json(connections.map((c) => ({
        User: c.user,
        Service: c.service,
        From: c.from,
        Dest: c.dest,
        Ts: timestampText(c.ts),
        BwIn: c.bwIn,
        BwOut: c.bwOut,
      })));
    }
    const rows = connections.map((c) => [
      c.user,
      c.service,
      c.from,
      c.dest,
      formatTableTime(c.ts),
      options.format === "csv" ? String(c.bwIn) : bw(c.bwIn),
      options.format === "csv" ? String(c.bwOut) : bw(c.bwOut),
    ]);
    if (options.format === "csv") return formatCsv(rows);
    return renderTable({
      header: [
        "User",
        "Service",
        "From",
        "Destination",
        "Start time",
        "Bw in",
        "Bw out",
      ],
      rows,
      footer: [
        "",
        "",
        "",
        "Totals",
        String(connections.length),
        bw(sum(connections, (c) => c.bwIn)),
        bw(sum(connections, (c) => c.bwOut)),
      ],
    });
  }
  const groups = aggregateConnections(connections);
  if (options.format === "json") {
    return json(groups.map((g) => ({
      User: g.user,
      Service: g.service,
      Dest: g.dest,
      N: g.n,
      Last: timestampText(g.last),
      BwIn: g.bwIn,
      BwOut: g.bwOut,
    })));
  }
  const csv = options.format === "csv";
  const rows = groups.map((g) => [
    g.user,
    g.service,
    g.dest,
    String(g.n),
    formatTableTime(g.last),
    csv ? String(g.bwIn) : bw(g.bwIn),
    csv ? String(g.bwOut) : bw(g.bwOut),
  ]);
  if (csv) return formatCsv(rows);
  return renderTable({
    header: [
      "User",
      "Service",
      "Destination",
      "# of conns",
      "Last connection",
      "Bw in",
      "Bw out",
    ],
    rows,
    footer: [
      "",
      "",
      "Totals",
      String(sum(groups, (g) => g.n)),
      "",
      bw(sum(groups, (g) => g.bwIn)),
      bw(sum(groups, (g) => g.bwOut)),
    ],
  });
}

/** `show hosts`. */
export function renderHosts(
  hosts: readonly HostRow[],
  format: OutputFormat,
): string {
  if (format === "json") {
    return json(hosts.map((h) => ({
      Hostname: h.hostname,
      N: h.n,
      BwIn: h.bwIn,
      BwOut: h.bwOut,
      HistoryN: h.historyN,
      State: h.state,
      Ts: timestampText(h.ts),
    })));
  }
  const csv = format === "csv";
  const rows = hosts.map((h) => [
    h.hostname,
    h.state,
    formatTableTime(h.ts),
    String(h.n),
    csv ? String(h.bwIn) : bw(h.bwIn),
    csv ? String(h.bwOut) : bw(h.bwOut),
    String(h.historyN),
  ]);
  if (csv) return formatCsv(rows);
  return renderTable({
    header: [
      "Host",
      "State",
      "Last check",
      "# of conns",
      "Bw in",
      "Bw out",
      "# persist",
    ],
    rows,
    footer: [
      "",
      "",
      "Totals",
      String(sum(hosts, (h) => h.n)),
      bw(sum(hosts, (h) => h.bwIn)),
      bw(sum(hosts, (h) => h.bwOut)),
      String(sum(hosts, (h) => h.historyN)),
    ],
  });
}

/** `show users` or `show users -all`. */
export function renderUsers(
  users: readonly UserRow[],
  options: { all: boolean; format: OutputFormat },
): string {
  const csv = options.format === "csv";
  if (options.all) {
    if (options.format === "json") {
      return json(users.map((u) => ({
        User: u.user,
        Service: u.service ?? "",
        Groups: u.groups,
        N: u.n,
        BwIn: u.bwIn,
        BwOut: u.bwOut,
        Dest: u.dest ?? "",
        TTL: u.ttl ?? 0,
      })));
    }
    const rows = users.map((u) => [
      u.user,
      u.service ?? "",
      csv || u.groups !== "" ? u.groups : NO_GROUP,
      String(u.n),
      csv ? String(u.bwIn) : bw(u.bwIn),
      csv ? String(u.bwOut) : bw(u.bwOut),
      u.dest ?? "",
      formatPersistTtl(u.ttl ?? 0, { raw: csv }),
    ]);
    if (csv) return formatCsv(rows);
    return renderTable({
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
      rows,
      footer: [
        "",
        "",
        "Totals",
        String(sum(users, (u) => u.n)),
        bw(sum(users, (u) => u.bwIn)),
        bw(sum(users, (u) => u.bwOut)),
        "",
        "",
      ],
    });
  }
  if (options.format === "json") {
    return json(users.map((u) => ({
      User: u.user,
      Groups: u.groups,
      N: u.n,
      BwIn: u.bwIn,
      BwOut: u.bwOut,
    })));
  }
  const rows = users.map((u) => [
    u.user,
    csv || u.groups !== "" ? u.groups : NO_GROUP,
    String(u.n),
    csv ? String(u.bwIn) : bw(u.bwIn),
    csv ? String(u.bwOut) : bw(u.bwOut),
  ]);
  if (csv) return formatCsv(rows);
  return renderTable({
    header: ["User", "Groups", "# of conns", "Bw in", "Bw out"],
    rows,
    footer: [
      "",
      "Totals",
      String(sum(users, (u) => u.n)),
      bw(sum(users, (u) => u.bwIn)),
      bw(sum(users, (u) => u.bwOut)),
    ],
  });
}

/**
 * `show groups` or `show groups -all` (tables have no footer). Rows are
 * sorted on the group name as displayed, as the reference sorts them: in a
 * table (and our JSON) the users without a group (❌) come after every
 * ASCII name; in CSV their empty name comes first.
 */
export function renderGroups(
  rows: readonly GroupRow[],
  options: { all: boolean; format: OutputFormat },
): string {
  const csv = options.format === "csv";
  const shown = (row: GroupRow) =>
    csv || row.group !== "" ? row.group : NO_GROUP;
  const groups = [...rows].sort((a, b) =>
    compareStrings(shown(a), shown(b)) ||
    compareStrings(a.service ?? "", b.service ?? "")
  );
  if (options.format === "json") {
    return json(groups.map((g) => ({
      Group: g.group,
      ...(options.all ? { Service: g.service ?? "" } : {}),
      Users: g.users,
      N: g.n,
      BwIn: g.bwIn,
      BwOut: g.bwOut,
    })));
  }
  const cells = groups.map((g) => [
    shown(g),
    ...(options.all ? [g.service ?? ""] : []),
    g.users,
    String(g.n),
    csv ? String(g.bwIn) : bw(g.bwIn),
    csv ? String(g.bwOut) : bw(g.bwOut),
  ]);
  if (csv) return formatCsv(cells);
  return renderTable({
    header: [
      "Group",
      ...(options.all ? ["Service"] : []),
      "Users",
      "# of conns",
      "Bw in",
      "Bw out",
    ],
    rows: cells,
  });
}

/**
 * `show error_banner`: the configuration's banner, then etcd's if set, as
 * the lines users see, with any other control character escaped.
 */
export function renderErrorBanner(
  configBanner: string,
  etcd: { message: string; expire: string },
): string {
  let text = `Default error banner:\n${escapeLines(configBanner)}\n`;
  if (etcd.message !== "") {
    text += `Current error banner (expiration date: ${
      etcd.expire === "" ? "never" : escapeText(etcd.expire)
    }):\n${escapeLines(etcd.message)}\n`;
  }
  return text;
}
