// Host states through the real gateway and a real etcd (spec §10.2):
// TestEtcdHosts with check_interval, TestErrorBanner with -expire,
// TestNodesets (sshproxyctl side, then a nodeset `dest` whose hosts are
// disabled with a nodeset), and health_check: a destination that accepts
// TCP but never sends an SSH banner is chosen with `tcp`, skipped with
// `ssh` and `ssh-kex`.
import assert from "node:assert/strict";
import { sleep, USERS } from "../harness/mod.ts";
import { etcdSection } from "./ctl_env.ts";
import {
  e2e,
  type EtcdGateways,
  startEtcdGateways,
  WHERE,
} from "./proxy_etcd_env.ts";

const FEDORA = USERS.fedora;

type HostRow = { Hostname: string; State: string; Ts: string };

async function host(
  env: EtcdGateways,
  dest: string,
): Promise<HostRow | undefined> {
  const rows = await env.showJson<HostRow[]>(["hosts"]);
  return rows.find((row) => row.Hostname === dest);
}

async function ctlOk(env: EtcdGateways, args: string[]): Promise<void> {
  const result = await env.ctl(args);
  assert.equal(
    result.code,
    0,
    `sshproxyctl ${args.join(" ")}: ${result.stderr}`,
  );
}

Deno.test({
  name:
    "TestEtcdHosts: a check records Ts; within check_interval Ts is left unchanged; after it the host is checked again",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways({ gateways: 2 });
    const s1 = env.gw.servers.server1.address;
    const before = Date.now();
    const first = await env.ssh(WHERE);
    assert.equal(first.stdout.trim(), "server1", first.stderr);
    const checked = (await host(env, s1))!;
    assert.equal(checked.State, "up");
    const ts = Date.parse(checked.Ts);
    assert.ok(ts >= before - 1000 && ts <= Date.now(), checked.Ts);

    await env.configure({ extra: "check_interval: 3s" });
    // Through the other gateway too: the check of gateway1 is trusted.
    const second = await env.ssh(WHERE, { gateway: 1 });
    assert.equal(second.stdout.trim(), "server1", second.stderr);
    assert.equal((await host(env, s1))!.Ts, checked.Ts);

    await sleep(Math.max(0, ts + 3200 - Date.now()));
    const third = await env.ssh(WHERE);
    assert.equal(third.stdout.trim(), "server1", third.stderr);
    const refreshed = (await host(env, s1))!;
    assert.equal(refreshed.State, "up");
    assert.ok(Date.parse(refreshed.Ts) > ts + 3000, refreshed.Ts);
  },
});

Deno.test({
  name:
    "TestErrorBanner: with every host disabled the user sees etcd's banner, then (after it expires or is forgotten) the configuration's",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    const first = await env.ssh(WHERE);
    assert.equal(first.code, 0, first.stderr);
    await ctlOk(env, ["disable", "-all"]);
    await env.configure({ extra: 'error_banner: "a default error"' });
    await ctlOk(env, ["error_banner", "a custom error"]);
    const custom = await env.ssh(WHERE);
    assert.equal(custom.code, 1);
    assert.equal(custom.stdout, "a custom error\n");
    assert.match(
      await env.gw.readLog(FEDORA),
      /CRITICAL [^:]+: Cannot find a valid destination\n/,
    );
    await ctlOk(env, ["forget", "error_banner"]);
    const configured = await env.ssh(WHERE);
    assert.equal(configured.code, 1);
    assert.equal(configured.stdout, "a default error\n");

    // -expire: the banner goes with its lease.
    const soon = new Date(Date.now() + 3000);
    const pad = (n: number) => String(n).padStart(2, "0");
    const soonText = `${soon.getFullYear()}-${pad(soon.getMonth() + 1)}-${
      pad(soon.getDate())
    } ${pad(soon.getHours())}:${pad(soon.getMinutes())}:${
      pad(soon.getSeconds())
    }`;
    await ctlOk(env, ["error_banner", "-expire", soonText, "back at noon"]);
    const expiring = await env.ssh(WHERE);
    assert.equal(expiring.stdout, "back at noon\n");
    await env.until(
      "the banner expired",
      async () => (await env.dump("/sshproxy/error_banner/")).size === 0,
      12_000,
    );
    const expired = await env.ssh(WHERE);
    assert.equal(expired.code, 1);
    assert.equal(expired.stdout, "a default error\n");
  },
});

Deno.test({
  name:
    "TestNodesets: disable/enable/forget host with nodesets; a nodeset dest whose hosts are disabled is never probed",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    const states = async () =>
      Object.fromEntries(
        (await env.showJson<HostRow[]>(["hosts"]))
          .filter((row) => row.Hostname.startsWith("server"))
          .map((row) => [row.Hostname, row.State]),
      );
    await ctlOk(env, ["disable", "-host", "server[1000-1002]"]);
    assert.deepEqual(await states(), {
      "server1000:22": "disabled",
      "server1001:22": "disabled",
      "server1002:22": "disabled",
    });
    await ctlOk(env, ["enable", "-host", "server[1000-1002]"]);
    assert.deepEqual(await states(), {
      "server1000:22": "up",
      "server1001:22": "up",
      "server1002:22": "up",
    });
    await ctlOk(env, ["forget", "host", "-host", "server[1001]"]);
    assert.deepEqual(Object.keys(await states()), [
      "server1000:22",
      "server1002:22",
    ]);
    await ctlOk(env, ["forget", "host", "-host", "server[1000-1002]"]);
    assert.deepEqual(await states(), {});
    await ctlOk(env, ["forget", "host", "-host", "server[12345]"]);
    const bad = await env.ctl([
      "forget",
      "host",
      "-host",
      "server[notAnumber]",
    ]);
    assert.notEqual(bad.code, 0);

    // Through the gateway: dest 127.0.0.[100-101]:P (nothing listens
    // there) before server1 is probed, until a nodeset disables them.
    const { server1 } = env.gw.servers;
    await env.configure({
      overrides: `  - match:\n      - sources: ["${env.gw.gateway.host}:${
        env.gw.gateway.ports[2025]
      }"]\n    dest: ["127.0.0.[100-101]:${server1.port}", "${server1.address}"]`,
    });
    const probed = await env.ssh(WHERE, { role: 2025 });
    assert.equal(probed.stdout.trim(), "server1", probed.stderr);
    const log = await env.gw.readLog(FEDORA);
    assert.match(
      log,
      new RegExp(`cannot connect to 127\\.0\\.0\\.100:${server1.port}: `),
    );
    assert.match(
      log,
      new RegExp(`cannot connect to 127\\.0\\.0\\.101:${server1.port}: `),
    );
    await ctlOk(env, [
      "disable",
      "-host",
      "127.0.0.[100-101]",
      "-port",
      String(server1.port),
    ]);
    const length = log.length;
    const skipped = await env.ssh(WHERE, { role: 2025 });
    assert.equal(skipped.stdout.trim(), "server1", skipped.stderr);
    const after = (await env.gw.readLog(FEDORA)).slice(length);
    assert.doesNotMatch(after, /cannot connect to 127\.0\.0\.10[01]/);
    assert.match(after, /proxied to 127\.0\.0\.11:/);
  },
});

/** A TCP listener that accepts connections and never says anything. */
function silentListener(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const connection of listener) held.push(connection);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const c of held) {
        try {
          c.close();
        } catch {
          // gone
        }
      }
    },
  };
}

Deno.test({
  name:
    "health_check: a host that accepts TCP but never sends a banner is chosen with tcp, skipped (and recorded down) with ssh and ssh-kex",
  ...e2e,
  async fn() {
    await using env = await startEtcdGateways();
    const silent = silentListener();
    try {
      const silentDest = `127.0.0.1:${silent.port}`;
      const configure = (check: string) =>
        env.gw.writeConfig(env.gw.basicConfig({
          dest: [silentDest, env.gw.servers.server1.address],
          extra: `route_select: ordered\nhealth_check: ${check}\n` +
            // The gateway's ssh would wait for the silent host's banner.
            `ssh:\n  args: ${
              env.gw.sshArgsYaml.slice(0, -1)
            }, "-oConnectTimeout=2"]\n` + etcdSection(env.etcd) +
            "  keyttl: 1\n",
        }));
      await configure("tcp");
      const tcp = await env.ssh(WHERE);
      assert.notEqual(tcp.code, 0);
      assert.match(
        await env.gw.readLog(FEDORA),
        new RegExp(`proxied to ${silentDest} `),
      );
      const stored = await env.dump(`/sshproxy/hosts/${silentDest}`);
      assert.match(
        stored.get(`/sshproxy/hosts/${silentDest}`)!,
        /"State":"up"/,
      );

      for (const check of ["ssh", "ssh-kex"]) {
        await configure(check);
        const length = (await env.gw.readLog(FEDORA)).length;
        const started = Date.now();
        const result = await env.ssh(WHERE);
        const took = Date.now() - started;
        assert.equal(result.code, 0, `${check}: ${result.stderr}`);
        assert.equal(result.stdout.trim(), "server1");
        // One second for the silent host, not ssh's connect timeout.
        assert.ok(took < 6000, `${check}: ${took} ms`);
        const log = (await env.gw.readLog(FEDORA)).slice(length);
        assert.match(
          log,
          new RegExp(
            `INFO [^:]+: cannot connect to ${silentDest}: ssh ${silentDest}: ${
              check === "ssh"
                ? "connected, but no SSH identification within 1s"
                : "no complete SSH key exchange within 1s"
            }\n`,
          ),
        );
        assert.match(log, /proxied to 127\.0\.0\.11:/);
        const hosts = await env.dump("/sshproxy/hosts/");
        assert.match(
          hosts.get(`/sshproxy/hosts/${silentDest}`)!,
          /"State":"down"/,
        );
        assert.match(
          hosts.get(`/sshproxy/hosts/${env.gw.servers.server1.address}`)!,
          /"State":"up"/,
        );
      }
    } finally {
      silent.close();
    }
  },
});
