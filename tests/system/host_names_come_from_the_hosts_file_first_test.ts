// A host name in `sources` is looked up in /etc/hosts first, as the
// system resolver does when nsswitch.conf consults `files` first for hosts
// (every line naming it, without case), and goes to the resolver (Node's
// dns, ~17 ms of a login) only when the file does not name it.
import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import {
  hostsFileAddresses,
  resolveHost,
} from "../../src/system/network_names.ts";

async function withFiles(
  nsswitch: string,
  hosts: string,
  check: (paths: { nsswitch: string; hosts: string }) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const paths = { nsswitch: `${dir}/nsswitch.conf`, hosts: `${dir}/hosts` };
    await Deno.writeTextFile(paths.nsswitch, nsswitch);
    await Deno.writeTextFile(paths.hosts, hosts);
    check(paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const HOSTS = [
  "127.0.0.1\tlocalhost",
  "10.0.0.5 gw1.example.org gw1 # the gateway",
  "# 10.0.0.9 gw1.example.org",
  "2001:DB8::5 gw1.example.org",
  "10.0.0.6   GW1.EXAMPLE.ORG",
  "10.0.0.5 gw1",
  "not-an-address gw1",
  "10.0.0.7",
  "",
].join("\n");

Deno.test("a name the hosts file lists gets every address of every line naming it, without case", async () => {
  await withFiles("hosts: files dns\n", HOSTS, (paths) => {
    assert.deepEqual(hostsFileAddresses("gw1.example.org", paths), [
      "10.0.0.5",
      "2001:db8::5",
      "10.0.0.6",
    ]);
    assert.deepEqual(hostsFileAddresses("GW1", paths), ["10.0.0.5"]);
    assert.deepEqual(hostsFileAddresses("localhost", paths), ["127.0.0.1"]);
  });
});

Deno.test("the resolver decides for a name the file does not list, or when NSS asks DNS first", async () => {
  await withFiles("hosts: files dns\n", HOSTS, (paths) => {
    assert.equal(hostsFileAddresses("gw2.example.org", paths), undefined);
    assert.equal(hostsFileAddresses("the", paths), undefined);
  });
  await withFiles("hosts: dns files\n", HOSTS, (paths) => {
    assert.equal(hostsFileAddresses("gw1", paths), undefined);
  });
  await withFiles("passwd: files\n", HOSTS, (paths) => {
    assert.equal(hostsFileAddresses("gw1", paths), undefined);
  });
});

Deno.test("on this machine, a name in /etc/hosts resolves as the system resolver says", async () => {
  const nsswitch = await Deno.readTextFile("/etc/nsswitch.conf").catch(() =>
    ""
  );
  const hosts = await Deno.readTextFile("/etc/hosts");
  const named = hosts.split("\n").map((line) =>
    line.replace(/#.*/, "").trim().split(/\s+/)
  ).find((fields) => fields.length >= 2)?.[1];
  assert.ok(named !== undefined, "/etc/hosts names no host");
  const resolved = await resolveHost(named);
  assert.ok(resolved.ok, resolved.ok ? "" : resolved.error);
  const system = await lookup(named, { all: true, verbatim: true });
  assert.deepEqual(
    [...resolved.value].sort(),
    [...new Set(system.map((answer) => answer.address))].sort(),
  );
  if (/^hosts:\s*files/m.test(nsswitch)) {
    assert.deepEqual(hostsFileAddresses(named), resolved.value);
  }
});
