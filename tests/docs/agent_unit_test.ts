// config/sshproxy-agent.service: the systemd unit shipped for the gateway
// agent runs the installed program on the sessions' configuration, as its
// own unprivileged account, confined, with the runtime directory the
// configuration's agent.socket names and that survives restarts.
import assert from "node:assert/strict";

const UNIT = new URL("../../config/sshproxy-agent.service", import.meta.url);
const SAMPLE = new URL("../../man/sshproxy-agent.8", import.meta.url);

function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
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

function only(section: Map<string, string[]> | undefined, key: string) {
  return section?.get(key)?.at(-1);
}

Deno.test("the unit runs the installed agent on the sessions' configuration, reloadable", async () => {
  const unit = parseUnit(await Deno.readTextFile(UNIT));
  const service = unit.get("Service");
  assert.equal(
    only(service, "ExecStart"),
    "/usr/local/bin/sshproxy-agent /etc/sshproxy/sshproxy.yaml",
  );
  assert.equal(only(service, "ExecReload"), "/bin/kill -HUP $MAINPID");
  assert.equal(only(unit.get("Install"), "WantedBy"), "multi-user.target");
  assert.equal(
    only(unit.get("Unit"), "Documentation"),
    "man:sshproxy-agent(8)",
  );
});

Deno.test("its runtime directory is the socket's of the man page, kept across restarts", async () => {
  const service = parseUnit(await Deno.readTextFile(UNIT)).get("Service");
  assert.equal(only(service, "RuntimeDirectory"), "sshproxy-agent");
  assert.equal(only(service, "RuntimeDirectoryMode"), "0755");
  assert.equal(only(service, "RuntimeDirectoryPreserve"), "restart");
  assert.equal(only(service, "ReadWritePaths"), "/run/sshproxy-agent");
  assert.match(
    await Deno.readTextFile(SAMPLE),
    /socket: \/run\/sshproxy\\-agent\/agent\.sock/,
  );
});

Deno.test("it runs as its own account, confined, yet sees other users' processes", async () => {
  const service = parseUnit(await Deno.readTextFile(UNIT)).get("Service");
  const user = only(service, "User");
  assert.ok(user !== undefined && user !== "root" && user !== "0");
  for (
    const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["PrivateDevices", "yes"],
      ["CapabilityBoundingSet", ""],
      ["RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"],
    ]
  ) {
    assert.equal(only(service, key), value, key);
  }
  // The agent watches the sessions' processes in /proc.
  assert.equal(only(service, "ProtectProc"), undefined);
  assert.equal(only(service, "ProcSubset"), undefined);
  assert.equal(only(service, "PrivateUsers"), undefined);
  // V8 compiles code at run time.
  assert.equal(only(service, "MemoryDenyWriteExecute"), undefined);
});
