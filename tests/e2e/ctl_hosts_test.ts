// `enable`, `disable` and `forget host` through the installed sshproxyctl
// against a real etcd: the reference suite's TestNodesets (spec §10.2),
// `-all`, `-port`, IPv6, and what the reference got wrong (§12.4 item 35).
import assert from "node:assert/strict";
import { e2e, startCtlEnv } from "./ctl_env.ts";

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

Deno.test({
  name:
    "TestNodesets: disable/enable/forget host with server[1000-1002], server[notAnumber] fails",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    await env.put(
      "/sshproxy/hosts/server1:22",
      '{"State":"up","Ts":"2024-05-02T07:00:00Z"}',
    );
    const states = async () => {
      const result = await env.ctl(["show", "-json", "hosts"]);
      assert.equal(result.code, 0, result.stderr);
      const hosts = JSON.parse(result.stdout) as {
        Hostname: string;
        State: string;
        Ts: string;
      }[];
      for (const host of hosts) assert.match(host.Ts, TS);
      return Object.fromEntries(hosts.map((h) => [h.Hostname, h.State]));
    };

    const disable = await env.ctl(["disable", "-host", "server[1000-1002]"]);
    assert.equal(disable.code, 0, disable.stderr);
    assert.equal(disable.stdout + disable.stderr, "");
    assert.deepEqual(await states(), {
      "server1000:22": "disabled",
      "server1001:22": "disabled",
      "server1002:22": "disabled",
      "server1:22": "up",
    });
    // The value is exactly what a reference sshproxyctl writes.
    const stored = await env.dump("/sshproxy/hosts/server1000:22");
    assert.match(
      stored.get("/sshproxy/hosts/server1000:22")!,
      /^\{"State":"disabled","Ts":"[^"]+"\}$/,
    );
    assert.equal(await env.leaseOf("/sshproxy/hosts/server1000:22"), "0");

    const enable = await env.ctl(["enable", "--host", "server[1000-1002]"]);
    assert.equal(enable.code, 0, enable.stderr);
    assert.deepEqual(await states(), {
      "server1000:22": "up",
      "server1001:22": "up",
      "server1002:22": "up",
      "server1:22": "up",
    });

    const forgetOne = await env.ctl([
      "forget",
      "host",
      "-host",
      "server[1001]",
    ]);
    assert.equal(forgetOne.code, 0, forgetOne.stderr);
    assert.deepEqual(Object.keys(await states()), [
      "server1000:22",
      "server1002:22",
      "server1:22",
    ]);
    const forgetRange = await env.ctl([
      "forget",
      "-host",
      "server[1000-1002]",
      "host",
    ]);
    assert.equal(forgetRange.code, 0, forgetRange.stderr);
    assert.deepEqual(Object.keys(await states()), ["server1:22"]);
    const forgetMissing = await env.ctl([
      "forget",
      "host",
      "-host",
      "server[12345]",
    ]);
    assert.equal(forgetMissing.code, 0, forgetMissing.stderr);

    const bad = await env.ctl([
      "forget",
      "host",
      "-host",
      "server[notAnumber]",
    ]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^ERROR: cannont convert starting range to integer notAnumber - rangeset parse error\n\nUsage: .*forget COMMAND/,
    );
    const badPort = await env.ctl(["disable", "-host", "a", "-port", "ssh"]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /^ERROR: port "ssh" must be an integer\n/);
    assert.deepEqual(Object.keys(await states()), ["server1:22"]);
  },
});

Deno.test({
  name:
    "-host without -port uses the host's known ports or 22, never other hosts' ports; -all and -port; IPv6",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    for (const host of ["server1:22", "server2:2222", "[::1]:2022"]) {
      await env.put(
        `/sshproxy/hosts/${host}`,
        '{"State":"up","Ts":"2024-05-02T07:00:00Z"}',
      );
    }
    const hostStates = async () => {
      const result = await env.ctl(["show", "-csv", "hosts"]);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.trim().split("\n").map((line) =>
        line.split(",").slice(0, 2).join(" ")
      );
    };
    assert.equal((await env.ctl(["disable", "-host", "server2"])).code, 0);
    assert.equal((await env.ctl(["disable", "-host", "server3"])).code, 0);
    assert.equal((await env.ctl(["disable", "-host", "::1"])).code, 0);
    // The reference would have written server2:22, server3:2222, ... too.
    assert.deepEqual(await hostStates(), [
      "[::1]:2022 disabled",
      "server1:22 up",
      "server2:2222 disabled",
      "server3:22 disabled",
    ]);
    const all = await env.ctl(["enable", "-all"]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(await hostStates(), [
      "[::1]:2022 up",
      "server1:22 up",
      "server2:2222 up",
      "server3:22 up",
    ]);
    const allPort = await env.ctl(["disable", "-all", "-port", "2222"]);
    assert.equal(allPort.code, 0, allPort.stderr);
    assert.deepEqual(await hostStates(), [
      "[::1]:2022 up",
      "[::1]:2222 disabled",
      "server1:22 up",
      "server1:2222 disabled",
      "server2:2222 disabled",
      "server3:22 up",
      "server3:2222 disabled",
    ]);
    const forget = await env.ctl(["forget", "host", "-all", "-port", "2222"]);
    assert.equal(forget.code, 0, forget.stderr);
    const forgetV6 = await env.ctl(["forget", "host", "-host", "[::1]"]);
    assert.equal(forgetV6.code, 0, forgetV6.stderr);
    assert.deepEqual(await hostStates(), ["server1:22 up", "server3:22 up"]);
    const forgetAll = await env.ctl(["forget", "host", "-all"]);
    assert.equal(forgetAll.code, 0, forgetAll.stderr);
    assert.deepEqual((await env.dump("/sshproxy/hosts/")).size, 0);
  },
});

Deno.test({
  name: "usage errors of enable, disable and forget exit 2 with the usage",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    const cases: [string[], RegExp][] = [
      [["enable"], /^ERROR: missing '-all' or '-host'\n\nUsage: \S+ enable /],
      [
        ["disable", "-port", "22"],
        /^ERROR: missing '-all' or '-host'\n\nUsage: \S+ disable /,
      ],
      [
        ["disable", "-bogus"],
        /^flag provided but not defined: -bogus\nUsage: /,
      ],
      [
        ["forget"],
        /^ERROR: missing 'host', 'error_banner' or 'persist'\n\nUsage: /,
      ],
      [["forget", "hots"], /^ERROR: unknown subcommand: hots\n\nUsage: /],
      [["forget", "host"], /^ERROR: missing '-all' or '-host'\n\nUsage: /],
      [
        ["forget", "persist"],
        /^ERROR: missing '-user', '-service', '-host' or '-port'\n\nUsage: /,
      ],
    ];
    for (const [args, pattern] of cases) {
      const result = await env.ctl(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(" "));
      assert.equal(result.stdout, "");
    }
    assert.equal((await env.dump("/sshproxy/")).size, 0, "nothing written");
  },
});
