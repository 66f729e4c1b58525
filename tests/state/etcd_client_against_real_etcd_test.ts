// The etcd client (JSON gateway over fetch) against a real etcd, with
// etcdctl (Go's client over gRPC) as the independent oracle: the same
// bytes, leases and revisions both ways; TLS with a CA and a client
// certificate, by host name and by IP address; authentication (right and
// wrong password, the token lost when etcd restarts); endpoints down or
// silent among several; and the etcd set-ups its gateway cannot serve,
// each refused with one line naming the fix.
import assert from "node:assert/strict";
import {
  type Etcd,
  type EtcdOptions,
  etcdSettings as settingsFor,
  startEtcd,
} from "../harness/mod.ts";
import { type EtcdBackend, openEtcd } from "../../src/state/etcd_client.ts";
import type { EtcdSettings } from "../../src/config/types.ts";

async function open(settings: EtcdSettings): Promise<EtcdBackend> {
  const opened = await openEtcd(settings);
  assert.ok(opened.ok, opened.ok ? "" : opened.error);
  return opened.value;
}

async function openError(settings: EtcdSettings): Promise<string> {
  const opened = await openEtcd(settings);
  if (opened.ok) {
    opened.value.close();
    assert.fail("opened");
  }
  return opened.error;
}

function unwrap<T>(
  result: { ok: true; value: T } | { ok: false; error: string },
): T {
  if (!result.ok) assert.fail(result.error);
  return result.value;
}

interface CtlKeyValue {
  key: Uint8Array;
  value: Uint8Array;
  lease: string;
  createRevision: string;
  modRevision: string;
}

// `etcdctl get -w json`: keys and values base64, numbers that may exceed
// 2^53 (lease IDs) kept as text.
async function ctlGet(
  etcd: Etcd,
  key: string,
  prefix = false,
): Promise<CtlKeyValue[]> {
  const got = await etcd.etcdctl([
    "get",
    ...(prefix ? ["--prefix"] : []),
    "-w",
    "json",
    key,
  ]);
  assert.ok(got.ok, got.stderr);
  const json = JSON.parse(got.stdout.replace(/:(\d{10,})/g, ':"$1"'));
  return (json.kvs ?? []).map((kv: Record<string, unknown>) => ({
    key: Uint8Array.fromBase64(String(kv.key)),
    value: Uint8Array.fromBase64(String(kv.value ?? "")),
    lease: String(kv.lease ?? "0"),
    createRevision: String(kv.create_revision),
    modRevision: String(kv.mod_revision),
  }));
}

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test({
  name:
    "keys, values, leases and revisions are the same bytes for etcdctl, both ways",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    const client = await open(settingsFor(etcd));
    try {
      // Written by us, read by etcdctl.
      const key = "/sshproxy/connections/élodie@default/server1:22/x";
      const value = '{"In":1,"Out":2} ✓\n';
      const lease = unwrap(await client.grant(60));
      unwrap(await client.put(key, value, lease));
      unwrap(await client.put("/sshproxy/hosts/server1:22", "permanent"));
      const [ours] = await ctlGet(etcd, key);
      assert.deepEqual(ours.key, utf8(key));
      assert.deepEqual(ours.value, utf8(value));
      assert.equal(ours.lease, lease);
      const mine = unwrap(await client.get(key));
      assert.deepEqual(mine, {
        key,
        value,
        lease,
        createRevision: ours.createRevision,
        modRevision: ours.modRevision,
      });
      const [permanent] = await ctlGet(etcd, "/sshproxy/hosts/server1:22");
      assert.equal(permanent.lease, "0");

      // Written by etcdctl (as a reference gateway), read by us.
      const theirs = "/sshproxy/history/zoé@default";
      const theirValue = 'server2:22 "quoted" ünïcode';
      const granted = await etcd.etcdctl(["lease", "grant", "120"]);
      assert.ok(granted.ok, granted.stderr);
      const hex = /lease ([0-9a-f]+) granted/.exec(granted.stdout)![1];
      const theirLease = BigInt(`0x${hex}`).toString();
      const put = await etcd.etcdctl([
        "put",
        `--lease=${hex}`,
        theirs,
        theirValue,
      ]);
      assert.ok(put.ok, put.stderr);
      const read = unwrap(await client.get(theirs));
      assert.equal(read?.value, theirValue);
      assert.equal(read?.lease, theirLease);
      const ttl = unwrap(await client.timeToLive(theirLease));
      assert.ok(ttl > 100 && ttl <= 120, String(ttl));

      // Listings: ascending key order, values left out with keysOnly.
      const listed = unwrap(await client.list("/sshproxy/"));
      const ctlListed = await ctlGet(etcd, "/sshproxy/", true);
      assert.deepEqual(
        listed.map((kv) => [utf8(kv.key), utf8(kv.value), kv.lease]),
        ctlListed.map((kv) => [kv.key, kv.value, kv.lease]),
      );
      const keysOnly = unwrap(
        await client.list("/sshproxy/", { keysOnly: true }),
      );
      assert.deepEqual(
        keysOnly.map((kv) => kv.key),
        listed.map((kv) => kv.key),
      );
      assert.ok(keysOnly.every((kv) => kv.value === ""));
      // A prefix never reaches its neighbours (/sshproxy/hosts/ vs hosts2).
      unwrap(await client.put("/sshproxy/hosts2", "neighbour"));
      assert.deepEqual(
        unwrap(await client.list("/sshproxy/hosts/")).map((kv) => kv.key),
        ["/sshproxy/hosts/server1:22"],
      );

      // A transaction applies as one revision.
      unwrap(
        await client.txn([
          { put: { key: "/sshproxy/t/a", value: "1", lease } },
          { put: { key: "/sshproxy/t/b", value: "2" } },
          { delete: { key: "/sshproxy/hosts2" } },
        ]),
      );
      const [a, b] = await ctlGet(etcd, "/sshproxy/t/", true);
      assert.equal(a.modRevision, b.modRevision);
      assert.equal(a.lease, lease);
      assert.deepEqual(await ctlGet(etcd, "/sshproxy/hosts2"), []);
      assert.equal(
        unwrap(await client.remove("/sshproxy/t/", { prefix: true })),
        2,
      );
      assert.deepEqual(await ctlGet(etcd, "/sshproxy/t/", true), []);

      // Leases: renewed, then revoked from outside.
      assert.equal(unwrap(await client.keepAliveOnce(lease)), 60);
      const revoked = await etcd.etcdctl([
        "lease",
        "revoke",
        BigInt(lease).toString(16),
      ]);
      assert.ok(revoked.ok, revoked.stderr);
      assert.equal(unwrap(await client.keepAliveOnce(lease)), 0);
      assert.equal(unwrap(await client.timeToLive(lease)), -1);
      assert.equal(unwrap(await client.get(key)), undefined);
      unwrap(await client.revoke(lease));
      const refused = await client.put(key, value, lease);
      assert.deepEqual(refused, {
        ok: false,
        error: "requested lease not found",
      });
    } finally {
      client.close();
    }
    assert.deepEqual(await client.get("/sshproxy/x"), {
      ok: false,
      error: "etcd client closed",
    });
  },
});

Deno.test({
  name: "a listing longer than one page (10,000 keys) comes whole and in order",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    const client = await open(settingsFor(etcd));
    try {
      const total = 10_125;
      const name = (i: number) =>
        `/sshproxy/connections/u${String(i).padStart(5, "0")}`;
      // etcd takes at most 128 operations per transaction.
      for (let start = 0; start < total; start += 125) {
        const ops = [];
        for (let i = start; i < Math.min(start + 125, total); i++) {
          ops.push({ put: { key: name(i), value: String(i) } });
        }
        unwrap(await client.txn(ops));
      }
      const listed = unwrap(await client.list("/sshproxy/connections/"));
      assert.equal(listed.length, total);
      assert.ok(
        listed.every((kv, i) => kv.key === name(i) && kv.value === String(i)),
      );
      const keys = unwrap(
        await client.list("/sshproxy/connections/", { keysOnly: true }),
      );
      assert.deepEqual(keys.map((kv) => kv.key), listed.map((kv) => kv.key));
      const counted = await etcd.etcdctl([
        "get",
        "--prefix",
        "--limit=1",
        "-w",
        "fields",
        "/sshproxy/connections/",
      ]);
      assert.match(counted.stdout, new RegExp(`"Count" : ${total}\\b`));
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name:
    "TLS with a CA and a client certificate, by name and by IP; a wrong password is one line",
  sanitizeResources: false,
  async fn() {
    const options: EtcdOptions = {
      tls: true,
      auth: { user: "sshproxy", password: "s3cret" },
    };
    await using etcd = await startEtcd(options);
    const port = new URL(etcd.endpoint).port;
    for (
      const endpoints of [
        [etcd.endpoint],
        [`https://127.0.0.1:${port}`],
        [`localhost:${port}`], // no scheme: TLS because TLS files are set
      ]
    ) {
      const client = await open(settingsFor(etcd, { endpoints }));
      unwrap(await client.put("/sshproxy/tls", endpoints[0]));
      assert.equal(
        unwrap(await client.get("/sshproxy/tls"))?.value,
        endpoints[0],
      );
      client.close();
    }
    const got = await etcd.etcdctl(
      ["get", "--print-value-only", "/sshproxy/tls"],
      "user",
    );
    assert.equal(got.stdout.trim(), `localhost:${port}`);

    assert.equal(
      await openError(settingsFor(etcd, { password: "wrong" })),
      `etcd at ${etcd.endpoint} refused user "sshproxy": wrong user name or password (etcd.username, etcd.password)`,
    );
    assert.equal(
      await openError(settingsFor(etcd, { username: "", password: "" })),
      `etcd at ${etcd.endpoint} requires authentication: set etcd.username and etcd.password`,
    );
    const noCa = await openError(
      settingsFor(etcd, {
        tls: { ...settingsFor(etcd).tls, cafile: "" },
      }),
    );
    assert.match(
      noCa,
      /^cannot reach etcd at \S+: TLS: etcd's certificate is not accepted \(UnknownIssuer\) \(TLS: .*set etcd\.tls\.cafile/,
    );
    const noCertificate = await openError(
      settingsFor(etcd, {
        tls: { ...settingsFor(etcd).tls, certfile: "", keyfile: "" },
      }),
    );
    assert.match(
      noCertificate,
      /^cannot reach etcd at \S+: TLS: etcd refused the handshake \(\w+\) \(TLS: etcd requires a client certificate/,
    );
    for (const error of [noCa, noCertificate]) {
      assert.equal(error.split("\n").length, 1);
    }
  },
});

Deno.test({
  name:
    "TLS that only proves etcd's identity: no client certificate, user and password",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd({
      tls: true,
      clientCertAuth: false,
      auth: { user: "sshproxy", password: "s3cret" },
    });
    const settings = settingsFor(etcd, {
      tls: { cafile: etcd.tls!.caFile, certfile: "", keyfile: "" },
    });
    const client = await open(settings);
    try {
      unwrap(await client.put("/sshproxy/server-tls", "yes"));
      // Two requests at once: each on a connection of its own.
      const [first, second] = await Promise.all([
        client.get("/sshproxy/server-tls"),
        client.get("/sshproxy/server-tls"),
      ]);
      assert.equal(unwrap(first)?.value, "yes");
      assert.equal(unwrap(second)?.value, "yes");
    } finally {
      client.close();
    }
    const got = await etcd.etcdctl(
      ["get", "--print-value-only", "/sshproxy/server-tls"],
      "user",
    );
    assert.equal(got.stdout.trim(), "yes");
    const noCa = await openError({
      ...settings,
      tls: { cafile: "", certfile: "", keyfile: "" },
      endpoints: [etcd.endpoint],
    });
    assert.match(
      noCa,
      /^cannot reach etcd at \S+: TLS: etcd's certificate is not accepted \(UnknownIssuer\)/,
    );
  },
});

Deno.test({
  name: "a TLS file at fault is named in one line, before any connection",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd({ tls: true });
    const tls = settingsFor(etcd).tls;
    const other = `${etcd.dir}/other.key`;
    const made = await new Deno.Command("/usr/bin/openssl", {
      args: ["genpkey", "-algorithm", "ed25519", "-out", other],
      stderr: "piped",
    }).output();
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    const garbage = `${etcd.dir}/garbage.crt`;
    await Deno.writeTextFile(
      garbage,
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    const cases: [Partial<typeof tls>, string | RegExp][] = [
      [
        { keyfile: other },
        `etcd.tls.keyfile ${other} is not the key of etcd.tls.certfile ${tls.certfile}`,
      ],
      [
        { certfile: tls.keyfile },
        `etcd.tls.certfile ${tls.keyfile} is not a PEM certificate: no -----BEGIN CERTIFICATE-----`,
      ],
      [
        { keyfile: tls.certfile },
        `etcd.tls.keyfile ${tls.certfile} is not a PEM private key: no -----BEGIN PRIVATE KEY-----`,
      ],
      [
        { cafile: tls.keyfile },
        `etcd.tls.cafile ${tls.keyfile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      ],
      [
        { cafile: garbage },
        new RegExp(
          `^etcd\\.tls\\.cafile ${garbage} holds an unreadable certificate: \\S`,
        ),
      ],
      [
        { certfile: "", keyfile: tls.keyfile },
        `etcd.tls.keyfile ${tls.keyfile} is set but etcd.tls.certfile is not: a client certificate needs both`,
      ],
      [
        { cafile: `${etcd.dir}/missing.crt` },
        `cannot read etcd.tls.cafile ${etcd.dir}/missing.crt: no such file`,
      ],
    ];
    for (const [change, expected] of cases) {
      const error = await openError(
        settingsFor(etcd, { tls: { ...tls, ...change } }),
      );
      if (typeof expected === "string") assert.equal(error, expected);
      else assert.match(error, expected);
    }
  },
});

Deno.test({
  name:
    "a token etcd no longer knows is renewed by the client itself; etcd killed and restarted under it",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd({
      tls: true,
      auth: { user: "sshproxy", password: "pw" },
    });
    const client = await open(settingsFor(etcd));
    try {
      unwrap(await client.put("/sshproxy/before", "1"));
      // Turning authentication off and on drops every token etcd issued.
      for (const args of [["auth", "disable"], ["auth", "enable"]]) {
        const done = await etcd.etcdctl(args);
        assert.ok(done.ok, done.stderr);
      }
      assert.equal(unwrap(await client.get("/sshproxy/before"))?.value, "1");
      assert.match(
        await etcd.log(),
        /invalid auth token/,
        "the old token was refused, then replaced",
      );

      await etcd.kill();
      const down = await client.get("/sshproxy/before");
      assert.deepEqual(down, { ok: false, error: "connection refused" });
      await etcd.restart();
      // Whether or not the token survived the restart (simple tokens live
      // in memory, but etcd may replay the authentication from its log),
      // the first request after it succeeds.
      assert.equal(unwrap(await client.get("/sshproxy/before"))?.value, "1");
      unwrap(await client.put("/sshproxy/after", "2"));
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name:
    "an endpoint down or silent among several: requests go to the one that answers, which is remembered",
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    // A listener that accepts and never answers (a member whose machine
    // hangs), and a port nothing serves (port 2: never handed out).
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const conn of silent) held.push(conn);
      } catch {
        // closed
      }
    })();
    const silentEndpoint = `http://127.0.0.1:${
      (silent.addr as Deno.NetAddr).port
    }`;
    const down = "http://127.0.0.1:2";
    try {
      const started = Date.now();
      const client = await open(
        settingsFor(etcd, { endpoints: [down, silentEndpoint, etcd.endpoint] }),
      );
      // Down: at once; silent: a third of the 2 s budget, then the next one.
      assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
      const connections = held.length;
      assert.equal(connections, 1, "the silent endpoint was tried once");
      for (let i = 0; i < 5; i++) {
        const before = Date.now();
        unwrap(await client.put(`/sshproxy/k${i}`, String(i)));
        assert.ok(Date.now() - before < 600, `request ${i}`);
      }
      assert.equal(held.length, connections, "the answering one is remembered");
      client.close();

      // Nothing answers: each endpoint's reason, within the budget.
      const before = Date.now();
      const error = await openError(
        settingsFor(etcd, { endpoints: [silentEndpoint, down] }),
      );
      assert.equal(
        error,
        `cannot reach etcd at ${silentEndpoint},${down}: ${silentEndpoint}: no answer within 2s; ${down}: connection refused`,
      );
      assert.ok(Date.now() - before < 3000);
      assert.equal(
        await openError(settingsFor(etcd, { endpoints: [down] })),
        `cannot reach etcd at ${down}: connection refused`,
      );
    } finally {
      silent.close();
      await accepting;
      for (const conn of held) conn.close();
    }
  },
});

Deno.test({
  name:
    "set-ups etcd's JSON gateway cannot serve are refused with one line naming the fix",
  sanitizeResources: false,
  async fn(t) {
    await t.step(
      "a client certificate with a Common Name, auth on",
      async () => {
        await using etcd = await startEtcd({
          tls: true,
          auth: { user: "sshproxy", password: "pw" },
          clientCommonName: "sshproxy",
        });
        // etcdctl (gRPC) is served; the gateway refuses the certificate.
        const put = await etcd.etcdctl(["put", "/sshproxy/x", "1"], "user");
        assert.ok(put.ok, put.stderr);
        assert.equal(
          await openError(settingsFor(etcd)),
          `cannot reach etcd at ${etcd.endpoint}: etcd refuses a client certificate that has a Common Name on its JSON gateway when authentication is on; use a certificate without CN in etcd.tls.certfile (the user comes from etcd.username)`,
        );
      },
    );
    await t.step(
      "client certificates required, etcd's own certificate for servers only",
      async () => {
        await using etcd = await startEtcd({
          tls: true,
          serverClientAuth: false,
        });
        const put = await etcd.etcdctl(["put", "/sshproxy/x", "1"]);
        assert.ok(put.ok, put.stderr);
        // etcd words its failure to dial itself after its timing: either
        // "connection closed" or a transport error (a reset while writing
        // the client preface); both get the same hint.
        const error = await openError(settingsFor(etcd));
        assert.match(
          error,
          new RegExp(
            `^cannot reach etcd at ${etcd.endpoint}: (connection closed|connection error: desc = "transport: .*") \\(etcd's JSON gateway cannot connect to etcd itself: with --client-cert-auth, etcd's server certificate must also allow client authentication, extendedKeyUsage clientAuth\\)$`,
          ),
        );
      },
    );
    await t.step("the gateway turned off", async () => {
      await using etcd = await startEtcd({
        extraArgs: ["--enable-grpc-gateway=false"],
      });
      assert.equal(
        await openError(settingsFor(etcd)),
        `cannot reach etcd at ${etcd.endpoint}: etcd does not serve its JSON gateway here (HTTP 404 on /v3/); run etcd with --enable-grpc-gateway (enable-grpc-gateway: true in its configuration file)`,
      );
    });
  },
});
