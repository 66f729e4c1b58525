// `sshproxyctl show connections|hosts|users|groups|error_banner` through
// the installed command, run as an ordinary user, against a real etcd whose
// keys were written with etcdctl exactly as reference gateways write them
// (spec §6.1, §7): every subcommand in table, CSV and JSON form.
import assert from "node:assert/strict";
import { USERS } from "../harness/mod.ts";
import { e2e, lines, startCtlEnv } from "./ctl_env.ts";

const FEDORA = USERS.fedora;
const USER2 = USERS.user2;
const GONE = "sshproxy-gone";
const C = "/sshproxy/connections/";

/** The cells of each row of a box table (header, data and footer rows). */
function cells(table: string): string[][] {
  return lines(table)
    .filter((line) => line.startsWith("│"))
    .map((line) => line.split("│").slice(1, -1).map((cell) => cell.trim()));
}

Deno.test({
  name:
    "show reads reference-written keys in table, CSV and JSON form; a bad key is reported once and skipped",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv({
      extra: "error_banner: the default banner\n",
    });
    const history = await env.grant(3600);
    await env.put(
      `${C}${FEDORA}@service2/server1:22/192.168.0.1:2022/2024-05-02T09:15:03.041527381+02:00`,
      '{"In":0,"Out":0}',
    );
    await env.put(
      `${C}${FEDORA}@service2/server1:22/192.168.0.2:2022/2024-05-02T08:00:00.5+02:00`,
      '{"In":1536,"Out":12}',
    );
    await env.put(
      `${C}${FEDORA}@service3/server2:22/192.168.0.1:2022/2024-05-02T07:15:03Z`,
      '{"In":1,"Out":2}',
    );
    await env.put(
      `${C}${USER2}@default/server2:22/192.168.0.1:2022/2024-05-02T07:20:00Z`,
      '{"In":0,"Out":0}',
    );
    await env.put(
      `${C}${GONE}@default/server3:22/192.168.0.1:2022/2024-05-02T07:21:00Z`,
      '{"In":0,"Out":0}',
    );
    await env.put(`${C}garbage`, "x");
    await env.put(
      `${C}${FEDORA}@service2/server1:22/192.168.0.3:2022/2024-05-02T07:00:00Z`,
      "not json",
    );
    await env.put(
      "/sshproxy/hosts/server1:22",
      '{"State":"up","Ts":"2024-05-02T09:15:03.041527381+02:00"}',
    );
    await env.put(
      "/sshproxy/hosts/server2:22",
      '{"State":"disabled","Ts":"2024-05-02T07:00:00Z"}',
    );
    await env.put(
      "/sshproxy/hosts/[::1]:22",
      '{"State":"down","Ts":"2024-05-02T07:00:00.1Z"}',
    );
    await env.put(
      `/sshproxy/history/${USER2}@default/${history}`,
      "server2:22",
      history,
    );

    // --- connections
    const json = await env.ctl(["show", "-json", "connections"]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(
      json.stdout,
      JSON.stringify([
        {
          User: FEDORA,
          Service: "service2",
          Dest: "server1:22",
          N: 2,
          Last: "2024-05-02T08:00:00.5+02:00",
          BwIn: 1536,
          BwOut: 12,
        },
        {
          User: FEDORA,
          Service: "service3",
          Dest: "server2:22",
          N: 1,
          Last: "2024-05-02T07:15:03Z",
          BwIn: 1,
          BwOut: 2,
        },
        {
          User: GONE,
          Service: "default",
          Dest: "server3:22",
          N: 1,
          Last: "2024-05-02T07:21:00Z",
          BwIn: 0,
          BwOut: 0,
        },
        {
          User: USER2,
          Service: "default",
          Dest: "server2:22",
          N: 1,
          Last: "2024-05-02T07:20:00Z",
          BwIn: 0,
          BwOut: 0,
        },
      ]) + "\n",
    );
    // Each bad key once, named, and skipped.
    const warnings = lines(json.stderr);
    assert.equal(warnings.length, 2, json.stderr);
    assert.equal(
      warnings.filter((l) => l.includes(`etcd key ${C}garbage:`)).length,
      1,
    );
    assert.ok(warnings.every((l) => l.endsWith("(skipped)")));
    assert.ok(warnings.some((l) => l.includes("192.168.0.3:2022")));

    const table = await env.ctl(["show", "connections"]);
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(cells(table.stdout), [
      [
        "USER",
        "SERVICE",
        "DESTINATION",
        "#  OF CONNS",
        "LAST CONNECTION",
        "BW IN",
        "BW OUT",
      ],
      [
        FEDORA,
        "service2",
        "server1:22",
        "2",
        "2024-05-02 08:00:00",
        "1.5 MB/s",
        "12 kB/s",
      ],
      [
        FEDORA,
        "service3",
        "server2:22",
        "1",
        "2024-05-02 07:15:03",
        "1 kB/s",
        "2 kB/s",
      ],
      [
        GONE,
        "default",
        "server3:22",
        "1",
        "2024-05-02 07:21:00",
        "0 kB/s",
        "0 kB/s",
      ],
      [
        USER2,
        "default",
        "server2:22",
        "1",
        "2024-05-02 07:20:00",
        "0 kB/s",
        "0 kB/s",
      ],
      ["", "", "Totals", "5", "", "1.5 MB/s", "14 kB/s"],
    ]);
    assert.match(table.stdout, /^┌─/);

    // CSV wins over JSON for connections, as in the reference.
    const csv = await env.ctl(["show", "connections", "-csv", "-json"]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(lines(csv.stdout), [
      `${FEDORA},service2,server1:22,2,2024-05-02 08:00:00,1536,12`,
      `${FEDORA},service3,server2:22,1,2024-05-02 07:15:03,1,2`,
      `${GONE},default,server3:22,1,2024-05-02 07:21:00,0,0`,
      `${USER2},default,server2:22,1,2024-05-02 07:20:00,0,0`,
    ]);

    const allJson = await env.ctl(["show", "-all", "-json", "connections"]);
    assert.equal(allJson.code, 0, allJson.stderr);
    const all = JSON.parse(allJson.stdout);
    assert.equal(all.length, 5);
    assert.deepEqual(Object.keys(all[0]), [
      "User",
      "Service",
      "From",
      "Dest",
      "Ts",
      "BwIn",
      "BwOut",
    ]);
    assert.deepEqual(all[0], {
      User: FEDORA,
      Service: "service2",
      From: "192.168.0.1:2022",
      Dest: "server1:22",
      Ts: "2024-05-02T09:15:03.041527381+02:00",
      BwIn: 0,
      BwOut: 0,
    });
    const allCsv = await env.ctl(["show", "connections", "-all", "--csv"]);
    assert.equal(allCsv.code, 0, allCsv.stderr);
    assert.equal(
      lines(allCsv.stdout)[1],
      `${FEDORA},service2,192.168.0.2:2022,server1:22,2024-05-02 08:00:00,1536,12`,
    );
    const allTable = await env.ctl(["show", "connections", "-all"]);
    assert.equal(allTable.code, 0, allTable.stderr);
    const allCells = cells(allTable.stdout);
    assert.deepEqual(allCells[0], [
      "USER",
      "SERVICE",
      "FROM",
      "DESTINATION",
      "START TIME",
      "BW IN",
      "BW OUT",
    ]);
    assert.deepEqual(allCells.at(-1), [
      "",
      "",
      "",
      "Totals",
      "5",
      "1.5 MB/s",
      "14 kB/s",
    ]);

    // --- hosts (JSON wins over CSV here)
    const hosts = await env.ctl(["show", "hosts", "-json", "-csv"]);
    assert.equal(hosts.code, 0, hosts.stderr);
    assert.equal(
      hosts.stdout,
      JSON.stringify([
        {
          Hostname: "[::1]:22",
          N: 0,
          BwIn: 0,
          BwOut: 0,
          HistoryN: 0,
          State: "down",
          Ts: "2024-05-02T07:00:00.1Z",
        },
        {
          Hostname: "server1:22",
          N: 2,
          BwIn: 1536,
          BwOut: 12,
          HistoryN: 0,
          State: "up",
          Ts: "2024-05-02T09:15:03.041527381+02:00",
        },
        {
          Hostname: "server2:22",
          N: 2,
          BwIn: 1,
          BwOut: 2,
          HistoryN: 1,
          State: "disabled",
          Ts: "2024-05-02T07:00:00Z",
        },
      ]) + "\n",
    );
    const hostsCsv = await env.ctl(["show", "hosts", "-csv"]);
    assert.deepEqual(lines(hostsCsv.stdout), [
      "[::1]:22,down,2024-05-02 07:00:00,0,0,0,0",
      "server1:22,up,2024-05-02 09:15:03,2,1536,12,0",
      "server2:22,disabled,2024-05-02 07:00:00,2,1,2,1",
    ]);
    const hostsTable = await env.ctl(["show", "hosts"]);
    assert.deepEqual(cells(hostsTable.stdout), [
      [
        "HOST",
        "STATE",
        "LAST CHECK",
        "#  OF CONNS",
        "BW IN",
        "BW OUT",
        "#  PERSIST",
      ],
      ["[::1]:22", "down", "2024-05-02 07:00:00", "0", "0 kB/s", "0 kB/s", "0"],
      [
        "server1:22",
        "up",
        "2024-05-02 09:15:03",
        "2",
        "1.5 MB/s",
        "12 kB/s",
        "0",
      ],
      [
        "server2:22",
        "disabled",
        "2024-05-02 07:00:00",
        "2",
        "1 kB/s",
        "2 kB/s",
        "1",
      ],
      ["", "", "Totals", "4", "1.5 MB/s", "14 kB/s", "1"],
    ]);

    // --- users: groups looked up on this machine; an unknown user is not fatal
    const users = await env.ctl(["show", "-json", "users"]);
    assert.equal(users.code, 0, users.stderr);
    assert.deepEqual(JSON.parse(users.stdout), [
      { User: FEDORA, Groups: "sshproxy-fedora", N: 3, BwIn: 1537, BwOut: 14 },
      { User: GONE, Groups: "", N: 1, BwIn: 0, BwOut: 0 },
      { User: USER2, Groups: "sshproxy-user1", N: 1, BwIn: 0, BwOut: 0 },
    ]);
    assert.deepEqual(
      lines(users.stderr).filter((line) => line.includes("unknown user")),
      [`user: unknown user ${GONE}`],
    );
    const usersAll = await env.ctl(["show", "users", "-all", "-json"]);
    assert.equal(usersAll.code, 0, usersAll.stderr);
    const parsedAll = JSON.parse(usersAll.stdout);
    assert.deepEqual(Object.keys(parsedAll[0]), [
      "User",
      "Service",
      "Groups",
      "N",
      "BwIn",
      "BwOut",
      "Dest",
      "TTL",
    ]);
    assert.deepEqual(
      parsedAll.map((
        u: { User: string; Service: string; N: number; Dest: string },
      ) => [u.User, u.Service, u.N, u.Dest]),
      [
        [FEDORA, "service2", 2, ""],
        [FEDORA, "service3", 1, ""],
        [GONE, "default", 1, ""],
        [USER2, "default", 1, "server2:22"],
      ],
    );
    const ttl = parsedAll[3].TTL;
    assert.ok(ttl > 3500 && ttl <= 3600, `TTL ${ttl}`);
    const usersAllCsv = await env.ctl(["show", "users", "-all", "-csv"]);
    assert.match(
      lines(usersAllCsv.stdout)[3],
      new RegExp(
        `^${USER2},default,sshproxy-user1,1,0,0,server2:22,3[56]\\d\\d$`,
      ),
    );
    const usersTable = await env.ctl(["show", "users"]);
    assert.deepEqual(cells(usersTable.stdout)[2], [
      GONE,
      "\u274C",
      "1",
      "0 kB/s",
      "0 kB/s",
    ]);
    const usersAllTable = await env.ctl(["show", "users", "-all"]);
    const userRow = cells(usersAllTable.stdout).find((row) => row[0] === USER2);
    assert.match(userRow![7], /^\d+m \d+s$/);
    assert.deepEqual(cells(usersAllTable.stdout)[0], [
      "USER",
      "SERVICE",
      "GROUPS",
      "#  OF CONNS",
      "BW IN",
      "BW OUT",
      "PERSIST TO",
      "PERSIST TTL",
    ]);

    // --- groups
    const groups = await env.ctl(["show", "groups", "-json"]);
    assert.equal(groups.code, 0, groups.stderr);
    // Sorted as the table (the reference's JSON order is random).
    assert.deepEqual(JSON.parse(groups.stdout), [
      { Group: "sshproxy-fedora", Users: FEDORA, N: 3, BwIn: 1537, BwOut: 14 },
      { Group: "sshproxy-user1", Users: USER2, N: 1, BwIn: 0, BwOut: 0 },
      { Group: "", Users: GONE, N: 1, BwIn: 0, BwOut: 0 },
    ]);
    const groupsAll = await env.ctl(["show", "-all", "groups", "-json"]);
    assert.deepEqual(
      JSON.parse(groupsAll.stdout).map((
        g: { Group: string; Service: string; N: number },
      ) => [g.Group, g.Service, g.N]),
      [
        ["sshproxy-fedora", "service2", 2],
        ["sshproxy-fedora", "service3", 1],
        ["sshproxy-user1", "default", 1],
        ["", "default", 1],
      ],
    );
    const groupsCsv = await env.ctl(["show", "groups", "-all", "-csv"]);
    assert.deepEqual(lines(groupsCsv.stdout), [
      `,default,${GONE},1,0,0`,
      `sshproxy-fedora,service2,${FEDORA},2,1536,12`,
      `sshproxy-fedora,service3,${FEDORA},1,1,2`,
      `sshproxy-user1,default,${USER2},1,0,0`,
    ]);
    const groupsTable = await env.ctl(["show", "groups"]);
    assert.deepEqual(cells(groupsTable.stdout), [
      ["GROUP", "USERS", "#  OF CONNS", "BW IN", "BW OUT"],
      ["sshproxy-fedora", FEDORA, "3", "1.5 MB/s", "14 kB/s"],
      ["sshproxy-user1", USER2, "1", "0 kB/s", "0 kB/s"],
      ["\u274C", GONE, "1", "0 kB/s", "0 kB/s"],
    ]);

    // --- error banner: configuration's, then etcd's once set
    const noBanner = await env.ctl(["show", "error_banner"]);
    assert.equal(noBanner.code, 0, noBanner.stderr);
    assert.equal(
      noBanner.stdout,
      "Default error banner:\nthe default banner\n",
    );
    await env.put("/sshproxy/error_banner/value", "down for\nmaintenance");
    const banner = await env.ctl(["show", "error_banner"]);
    assert.equal(
      banner.stdout,
      "Default error banner:\nthe default banner\n" +
        "Current error banner (expiration date: never):\ndown for\nmaintenance\n",
    );
  },
});

Deno.test({
  name:
    "an empty etcd lists [] in JSON, nothing in CSV, and tables with zero totals",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    for (const sub of ["connections", "hosts", "users", "groups"]) {
      for (const all of [[], ["-all"]]) {
        const json = await env.ctl(["show", sub, "-json", ...all]);
        assert.equal(json.code, 0, json.stderr);
        assert.equal(json.stdout, "[]\n", `${sub} ${all}`);
        assert.equal(json.stderr, "");
        const csv = await env.ctl(["show", sub, "-csv", ...all]);
        assert.equal(csv.stdout, "");
      }
    }
    const table = await env.ctl(["show", "connections"]);
    assert.deepEqual(cells(table.stdout).at(-1), [
      "",
      "",
      "Totals",
      "0",
      "",
      "0 kB/s",
      "0 kB/s",
    ]);
  },
});

Deno.test({
  name:
    "over TLS with client certificates and a password, also to an IP-address endpoint",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv({
      tls: true,
      auth: { user: "sshproxy", password: "s3cret" },
    });
    const enabled = await env.ctl(["disable", "-host", "server1"]);
    assert.equal(enabled.code, 0, enabled.stderr);
    const hosts = await env.ctl(["show", "-json", "hosts"]);
    assert.equal(hosts.code, 0, hosts.stderr);
    assert.equal(JSON.parse(hosts.stdout)[0].State, "disabled");
    // Written as the reference writes it, readable by etcdctl.
    const stored = await env.dump("/sshproxy/hosts/");
    assert.match(
      stored.get("/sshproxy/hosts/server1:22")!,
      /^\{"State":"disabled","Ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)"\}$/,
    );
    const port = new URL(env.etcd.endpoint).port;
    const { etcdSection } = await import("./ctl_env.ts");
    const byIp = await env.writeConfig(
      "by-ip.yaml",
      etcdSection(env.etcd, [`https://127.0.0.1:${port}`]),
    );
    const viaIp = await env.ctl(["show", "-json", "hosts"], { config: byIp });
    assert.equal(viaIp.code, 0, viaIp.stderr);
    assert.equal(JSON.parse(viaIp.stdout)[0].Hostname, "server1:22");
    // Scheme-less endpoints use TLS when TLS files are configured.
    const noScheme = await env.writeConfig(
      "no-scheme.yaml",
      etcdSection(env.etcd, [`localhost:${port}`]),
    );
    const viaNoScheme = await env.ctl(["show", "-json", "hosts"], {
      config: noScheme,
    });
    assert.equal(viaNoScheme.code, 0, viaNoScheme.stderr);
  },
});
