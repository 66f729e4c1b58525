// config/sshproxy-dumpd.service: the systemd unit shipped for the dump
// collector runs the installed program with the documented flags, as an
// unprivileged user that can write only its output directory.
import assert from "node:assert/strict";

const UNIT = new URL("../../config/sshproxy-dumpd.service", import.meta.url);
const OUTPUT = "/var/lib/sshproxy/dumps";

/** The unit as section → key → values (a key may be repeated). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = line.match(/^\[(.+)\]$/);
    if (header) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const equals = line.indexOf("=");
    assert.ok(current && equals > 0, `not a unit line: ${raw}`);
    const key = line.slice(0, equals);
    current.set(key, [...(current.get(key) ?? []), line.slice(equals + 1)]);
  }
  return sections;
}

function only(
  section: Map<string, string[]> | undefined,
  key: string,
): string | undefined {
  const values = section?.get(key);
  return values === undefined ? undefined : values[values.length - 1];
}

Deno.test("the unit starts sshproxy-dumpd on :5555 writing to /var/lib/sshproxy/dumps", async () => {
  const unit = parseUnit(await Deno.readTextFile(UNIT));
  const service = unit.get("Service");
  assert.equal(
    only(service, "ExecStart"),
    `/usr/local/bin/sshproxy-dumpd -listen :5555 -output ${OUTPUT}`,
  );
  assert.equal(service?.get("ExecStart")?.length, 1);
  assert.equal(only(unit.get("Install"), "WantedBy"), "multi-user.target");
  assert.equal(
    only(unit.get("Unit"), "Documentation"),
    "man:sshproxy-dumpd(8)",
  );
});

Deno.test("the unit runs as a dedicated user with the usual hardening", async () => {
  const service = parseUnit(await Deno.readTextFile(UNIT)).get("Service");
  const user = only(service, "User");
  assert.ok(user !== undefined && user !== "root" && user !== "0");
  assert.equal(only(service, "NoNewPrivileges"), "yes");
  assert.equal(only(service, "ProtectSystem"), "strict");
  assert.equal(only(service, "ReadWritePaths"), OUTPUT);
  assert.equal(only(service, "StateDirectory"), "sshproxy/dumps");
  assert.equal(only(service, "PrivateTmp"), "yes");
  assert.equal(only(service, "ProtectHome"), "yes");
  assert.equal(only(service, "CapabilityBoundingSet"), "");
  assert.equal(only(service, "UMask"), "0077");
  // V8 compiles code at run time: W^X memory would kill the daemon.
  assert.equal(only(service, "MemoryDenyWriteExecute"), undefined);
});
