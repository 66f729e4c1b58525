// `forget persist` and `error_banner` through the installed sshproxyctl
// against a real etcd, with history keys written as reference gateways
// write them (spec §6.1, §6.3, §6.5, §2.2.6).
import assert from "node:assert/strict";
import { e2e, startCtlEnv } from "./ctl_env.ts";

const H = "/sshproxy/history/";

Deno.test({
  name:
    "forget persist removes the persisted destinations matching every filter, and only those",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    const seed = async (userService: string, dest: string) => {
      const lease = await env.grant(3600);
      await env.put(`${H}${userService}/${lease}`, dest, lease);
    };
    await seed("alice@default", "server1:22");
    await seed("alice@default2", "server2:2222");
    await seed("bob@default", "server2:22");
    await seed("carol@v6", "[::1]:22");
    const persisted = async () =>
      [...(await env.dump(H)).entries()].map(([key, value]) =>
        `${key.slice(H.length).split("/")[0]}=${value}`
      );

    // TestForgetPersist: everything on port 22.
    const port = await env.ctl(["forget", "persist", "-port", "22"]);
    assert.equal(port.code, 0, port.stderr);
    assert.deepEqual(await persisted(), ["alice@default2=server2:2222"]);

    await seed("alice@default", "server1:22");
    await seed("bob@default", "server2:22");
    // -service default must not touch default2 (spec §12.3 item 25).
    const svc = await env.ctl([
      "forget",
      "-user",
      "alice",
      "persist",
      "-service",
      "default",
    ]);
    assert.equal(svc.code, 0, svc.stderr);
    assert.deepEqual(await persisted(), [
      "alice@default2=server2:2222",
      "bob@default=server2:22",
    ]);
    const host = await env.ctl([
      "forget",
      "persist",
      "--host",
      "server[1-2]",
      "--port",
      "2222",
    ]);
    assert.equal(host.code, 0, host.stderr);
    assert.deepEqual(await persisted(), ["bob@default=server2:22"]);
    const bad = await env.ctl(["forget", "persist", "-host", "server[x]"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^ERROR: .*rangeset parse error\n\nUsage: /);

    // A key left without lease by a reference gateway (§12.3 item 26) is
    // listed, reported, and can be forgotten.
    await env.put(`${H}dave@default/0`, "server3:22");
    const users = await env.ctl(["show", "-json", "users", "-all"]);
    assert.equal(users.code, 0, users.stderr);
    assert.deepEqual(
      JSON.parse(users.stdout).map((
        u: { User: string; Dest: string; N: number },
      ) => [u.User, u.Dest, u.N]),
      [["bob", "server2:22", 0], ["dave", "server3:22", 0]],
    );
    assert.match(
      users.stderr,
      /history\/dave@default\/0: has no lease, so it never expires/,
    );
    const dave = await env.ctl(["forget", "persist", "-user", "dave"]);
    assert.equal(dave.code, 0, dave.stderr);
    assert.deepEqual(await persisted(), ["bob@default=server2:22"]);
  },
});

Deno.test({
  name:
    "error_banner -expire stores value and expiry under one lease; past dates refused; '' and forget delete",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    const set = await env.ctl([
      "error_banner",
      "-expire",
      "2099-01-01 10:00",
      "maintenance\nuntil tomorrow",
    ]);
    assert.equal(set.code, 0, set.stderr);
    const stored = await env.dump("/sshproxy/error_banner/");
    assert.equal(
      stored.get("/sshproxy/error_banner/value"),
      "maintenance\nuntil tomorrow",
    );
    assert.equal(
      stored.get("/sshproxy/error_banner/expire"),
      "2099-01-01 10:00:00",
    );
    const lease = await env.leaseOf("/sshproxy/error_banner/value");
    assert.notEqual(lease, "0");
    assert.equal(await env.leaseOf("/sshproxy/error_banner/expire"), lease);
    const ttl = await env.etcd.etcdctl([
      "lease",
      "timetolive",
      BigInt(lease).toString(16),
    ]);
    assert.match(ttl.stdout, /remaining\(\d{9,}s\)/);
    const shown = await env.ctl(["show", "error_banner"]);
    assert.equal(
      shown.stdout,
      "Default error banner:\n\n" +
        "Current error banner (expiration date: 2099-01-01 10:00:00):\nmaintenance\nuntil tomorrow\n",
    );

    // A near expiry really expires (rounded up, never made permanent).
    const soon = new Date(Date.now() + 5000);
    const pad = (n: number) => String(n).padStart(2, "0");
    const soonText = `${soon.getFullYear()}-${pad(soon.getMonth() + 1)}-${
      pad(soon.getDate())
    } ${pad(soon.getHours())}:${pad(soon.getMinutes())}:${
      pad(soon.getSeconds())
    }`;
    const short = await env.ctl(["error_banner", "-expire", soonText, "brief"]);
    assert.equal(short.code, 0, short.stderr);
    await new Promise((resolve) => setTimeout(resolve, 8000));
    assert.equal((await env.dump("/sshproxy/error_banner/")).size, 0);

    const past = await env.ctl(["error_banner", "-expire", "2020-01-01", "x"]);
    assert.equal(past.code, 2);
    assert.match(past.stderr, /^ERROR: 2020-01-01 is in the past!\n\nUsage: /);
    const badDate = await env.ctl(["error_banner", "-expire", "foo", "x"]);
    assert.equal(badDate.code, 2);
    assert.match(
      badDate.stderr,
      /^ERROR: parsing time "foo" as "2006-01-02 15:04:05": cannot parse "foo" as "2006"\n/,
    );
    const order = await env.ctl(["error_banner", "x", "-expire", "2099-01-01"]);
    assert.equal(order.code, 2);
    assert.match(order.stderr, /^ERROR: wrong number of arguments\n/);

    const permanent = await env.ctl(["error_banner", "forever"]);
    assert.equal(permanent.code, 0, permanent.stderr);
    assert.equal(await env.leaseOf("/sshproxy/error_banner/value"), "0");
    assert.equal(await env.leaseOf("/sshproxy/error_banner/expire"), "");
    const empty = await env.ctl(["error_banner", ""]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal((await env.dump("/sshproxy/error_banner/")).size, 0);
    await env.ctl(["error_banner", "again"]);
    const forget = await env.ctl(["forget", "error_banner"]);
    assert.equal(forget.code, 0, forget.stderr);
    assert.equal((await env.dump("/sshproxy/error_banner/")).size, 0);
  },
});
