// What `id` prints, as NSS gives it (files, LDAP, SSSD): group names may
// hold spaces, commas and parentheses, a gid may have no name, SELinux
// adds a context.
import assert from "node:assert/strict";
import { parseIdOutput } from "../../src/system/identity.ts";

Deno.test("a local user: primary group first, then the others", () => {
  const parsed = parseIdOutput(
    "uid=1000(alice) gid=1000(alice) groups=1000(alice),27(sudo),100(users)\n",
  );
  assert.deepEqual(parsed, {
    ok: true,
    value: {
      user: "alice",
      uid: 1000,
      groups: ["alice", "sudo", "users"],
      unnamedGroupIds: [],
    },
  });
});

Deno.test("SSSD names with spaces, commas and parentheses are whole groups", () => {
  const parsed = parseIdOutput(
    "uid=158201103(bob@ad.example.org) gid=158200513(domain users@ad.example.org) " +
      "groups=158200513(domain users@ad.example.org),158201120(hpc, team (a)),158201121(x)\n",
  );
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.groups, [
    "domain users@ad.example.org",
    "hpc, team (a)",
    "x",
  ]);
  assert.equal(parsed.value.user, "bob@ad.example.org");
});

Deno.test("a gid without a name is kept apart; the primary group is added when id leaves it out", () => {
  const parsed = parseIdOutput(
    "uid=1001(carol) gid=5000 groups=27(sudo),6000\n",
  );
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.groups, ["sudo"]);
  assert.deepEqual(parsed.value.unnamedGroupIds, [5000, 6000]);
  const named = parseIdOutput("uid=1001(carol) gid=100(users) groups=27(sudo)");
  assert.ok(named.ok);
  assert.deepEqual(named.value.groups, ["users", "sudo"]);
});

Deno.test("an SELinux context after the groups is not a group", () => {
  const parsed = parseIdOutput(
    "uid=0(root) gid=0(root) groups=0(root),10(wheel) context=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023\n",
  );
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.groups, ["root", "wheel"]);
});

Deno.test("output that is not id's is an error naming it", () => {
  const parsed = parseIdOutput("hello\n");
  assert.deepEqual(parsed, {
    ok: false,
    error: 'unexpected output of id: "hello"',
  });
});
