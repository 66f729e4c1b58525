import assert from "node:assert/strict";
import { parseSshConnection } from "../../src/session/ssh_connection.ts";

Deno.test("SSH_CONNECTION examples of spec §5.2", async (t) => {
  await t.step("IPv4 client and sshd", () => {
    const parsed = parseSshConnection("127.0.0.1 1234 192.168.0.1 22");
    assert.deepEqual(parsed, {
      ok: true,
      value: {
        client: { ip: "127.0.0.1", port: 1234 },
        sshd: { ip: "192.168.0.1", port: 22 },
        clientAddress: "127.0.0.1:1234",
        sshdAddress: "192.168.0.1:22",
      },
    });
  });

  const failures: [string, string][] = [
    ["notAnIP 1234 192.168.0.1 22", "bad value"],
    ["1234 1234 192.168.0.1 22", "bad value for source IP"],
    ["127.0.0.1 1234 1234 22", "bad value for destination IP"],
  ];
  for (const [value, why] of failures) {
    await t.step(`${value} → ${why}`, () => {
      assert.deepEqual(parseSshConnection(value), {
        ok: false,
        error: `parsing SSH_CONNECTION '${value}': ${why}`,
      });
    });
  }
});

Deno.test("a missing or empty SSH_CONNECTION has its own fatal message", () => {
  const expected = {
    ok: false,
    error: "No SSH_CONNECTION environment variable",
  };
  assert.deepEqual(parseSshConnection(undefined), expected);
  assert.deepEqual(parseSshConnection(""), expected);
});

Deno.test("IPv6 addresses are bracketed, compressed and lower-case", () => {
  const parsed = parseSshConnection(
    "2001:db8:0:0:0:0:0:1 50000 2001:0db8:0000:0000:0001:0000:0000:0022 22",
  );
  assert.ok(parsed.ok);
  assert.equal(parsed.value.client.ip, "2001:db8::1");
  assert.equal(parsed.value.clientAddress, "[2001:db8::1]:50000");
  assert.equal(parsed.value.sshdAddress, "[2001:db8::1:0:0:22]:22");
});

Deno.test("an IPv4-mapped IPv6 address is shown as dotted IPv4", () => {
  const parsed = parseSshConnection(
    "::ffff:192.0.2.10 4242 ::ffff:c000:201 22",
  );
  assert.ok(parsed.ok);
  assert.equal(parsed.value.clientAddress, "192.0.2.10:4242");
  assert.equal(parsed.value.sshdAddress, "192.0.2.1:22");
});

Deno.test("the search is not anchored, like the reference's regexp", async (t) => {
  await t.step("text around the four fields is ignored", () => {
    const parsed = parseSshConnection("x 10.0.0.1 22 10.0.0.2 2222 trailing");
    assert.ok(parsed.ok);
    assert.equal(parsed.value.clientAddress, "10.0.0.1:22");
    assert.equal(parsed.value.sshdAddress, "10.0.0.2:2222");
  });
  await t.step(
    "upper-case hex is outside the pattern: a fragment is used",
    () => {
      // The pattern only knows 0-9 a-f, so "FE80::1" is read from "80::1".
      const parsed = parseSshConnection("FE80::1 22 ::1 22");
      assert.ok(parsed.ok);
      assert.equal(parsed.value.clientAddress, "[80::1]:22");
    },
  );
  await t.step("with a zone index the match starts inside it", () => {
    // "%eth0" breaks the first address; the search then matches from the
    // "0" of "eth0", which is not an IP.
    const value = "fe80::1%eth0 22 ::1 22";
    assert.deepEqual(parseSshConnection(value), {
      ok: false,
      error: `parsing SSH_CONNECTION '${value}': bad value for source IP`,
    });
  });
});

Deno.test("ports are printed as Go's Atoi/Itoa would", async (t) => {
  await t.step("leading zeros disappear", () => {
    const parsed = parseSshConnection("10.0.0.1 00022 10.0.0.2 0");
    assert.ok(parsed.ok);
    assert.equal(parsed.value.clientAddress, "10.0.0.1:22");
    assert.equal(parsed.value.sshdAddress, "10.0.0.2:0");
  });
  await t.step("ports beyond 65535 are kept, as in the reference", () => {
    const parsed = parseSshConnection("10.0.0.1 99999 10.0.0.2 22");
    assert.ok(parsed.ok);
    assert.equal(parsed.value.client.port, 99999);
  });
  await t.step("an int64 overflow is the reference's port error", () => {
    const huge = "99999999999999999999";
    const source = `10.0.0.1 ${huge} 10.0.0.2 22`;
    assert.deepEqual(parseSshConnection(source), {
      ok: false,
      error: `parsing SSH_CONNECTION '${source}': bad value for source port`,
    });
    const destination = `10.0.0.1 22 10.0.0.2 ${huge}`;
    assert.deepEqual(parseSshConnection(destination), {
      ok: false,
      error:
        `parsing SSH_CONNECTION '${destination}': bad value for destination port`,
    });
  });
});

Deno.test("IPv4 fields with a leading zero are not IPs (Go 1.17+)", () => {
  const value = "010.0.0.1 22 10.0.0.2 22";
  assert.deepEqual(parseSshConnection(value), {
    ok: false,
    error: `parsing SSH_CONNECTION '${value}': bad value for source IP`,
  });
});
