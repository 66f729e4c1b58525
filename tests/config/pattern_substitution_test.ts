// `{user}`, `{sid}` and `{time}` are substituted exactly where spec §3.8
// says — `{user}` in log, environment values and dump; `{sid}` and
// `{time}` in dump only — every occurrence, after overrides, and nowhere
// else.
import assert from "node:assert/strict";
import { resolveConfig } from "../../src/config/resolve.ts";
import type { Config } from "../../src/config/types.ts";
import { effective, fakeResolver, parse } from "./fixture_helpers.ts";

const TIME = "2024-05-02T09:15:03.041527381+02:00";
const P = "{user}-{sid}-{time}";

const EVERYWHERE = `
log: /l/${P}
dump: /d/${P}
error_banner: banner ${P}
blocking_command: /b ${P}
bg_command: /bg ${P}
force_command: /f ${P}
service: svc{user}
dest: ["{user}host"]
ssh:
  exe: /ssh/${P}
  args: ["-l", "${P}"]
environment:
  E: env ${P}
translate_commands:
  "cmd ${P}":
    ssh_args: ["${P}"]
    command: "c ${P}"
etcd:
  endpoints: ["${P}"]
  username: "${P}"
  password: "${P}"
  tls: {cafile: "${P}", keyfile: "${P}", certfile: "${P}"}
`;

async function everywhere(): Promise<Config> {
  return (await effective(EVERYWHERE, "alice", [], undefined, "SID123"))
    .config;
}

// [field, value for alice, session id SID123]
const rows: [string, (config: Config) => unknown, unknown][] = [
  ["log ({user} only)", (c) => c.log, `/l/alice-{sid}-{time}`],
  ["dump ({user}, {sid}, {time})", (c) => c.dump, `/d/alice-SID123-${TIME}`],
  [
    "environment values ({user} only)",
    (c) => c.environment.get("E"),
    "env alice-{sid}-{time}",
  ],
  ["error_banner (none)", (c) => c.errorBanner, `banner ${P}`],
  ["blocking_command (none)", (c) => c.blockingCommand, `/b ${P}`],
  ["bg_command (none)", (c) => c.bgCommand, `/bg ${P}`],
  ["force_command (none)", (c) => c.forceCommand, `/f ${P}`],
  ["service (none)", (c) => c.service, "svc{user}"],
  ["dest (none)", (c) => c.dest, ["{user}host:22"]],
  ["ssh.exe (none)", (c) => c.ssh.exe, `/ssh/${P}`],
  ["ssh.args (none)", (c) => c.ssh.args, ["-l", P]],
  [
    "translate_commands keys and entries (none)",
    (c) => Object.fromEntries(c.translateCommands),
    {
      [`cmd ${P}`]: { sshArgs: [P], command: `c ${P}`, disableDump: false },
    },
  ],
  ["etcd (none)", (c) => c.etcd, {
    endpoints: [P],
    username: P,
    password: P,
    tls: { cafile: P, keyfile: P, certfile: P },
    keyttl: 0,
    mandatory: false,
  }],
];

for (const [what, read, expected] of rows) {
  Deno.test(`substitution in ${what}`, async () => {
    assert.deepEqual(read(await everywhere()), expected);
  });
}

Deno.test("every occurrence is replaced", async () => {
  const { config } = await effective(
    "log: /{user}/{user}.log\ndump: /{sid}{sid}/{time}/{user}{user}\nenvironment: {A: '{user}:{user}'}\n",
    "bob",
    [],
    undefined,
    "S",
  );
  assert.equal(config.log, "/bob/bob.log");
  assert.equal(config.dump, `/SS/${TIME}/bobbob`);
  assert.equal(config.environment.get("A"), "bob:bob");
});

Deno.test("substitution happens after overrides, on top-level and override values alike", async () => {
  const text = `log: /top/{user}.log
environment:
  TOP: top_{user}
overrides:
  - match: [{users: [carol]}]
    dump: /o/{user}/{sid}
    environment:
      OVER: over_{user}
`;
  const { config } = await effective(text, "carol", [], undefined, "X1");
  assert.equal(config.log, "/top/carol.log");
  assert.equal(config.dump, "/o/carol/X1");
  assert.deepEqual(Object.fromEntries(config.environment), {
    TOP: "top_carol",
    OVER: "over_carol",
  });
});

Deno.test("sshproxyctl has no session id: {sid} becomes empty", async () => {
  const { config } = await effective(
    "dump: /d/{sid}.dump\n",
    "a",
    [],
    undefined,
    "",
  );
  assert.equal(config.dump, "/d/.dump");
});

Deno.test("an empty dump and log stay empty (no recorder, log on stdout)", async () => {
  const { config } = await effective("debug: true\n", "a", []);
  assert.equal(config.dump, "");
  assert.equal(config.log, "");
});

Deno.test("user names are inserted literally: $ patterns and braces are not interpreted", async () => {
  for (
    const user of ["host$", "a$&b", "a$1b", "a$'b", "a$`b", "{sid}", "{time}"]
  ) {
    const { config } = await effective(
      "log: /l/{user}\ndump: /d/{user}/{sid}\nenvironment: {U: '{user}'}\n",
      user,
      [],
      undefined,
      "S",
    );
    assert.equal(config.log, `/l/${user}`, user);
    assert.equal(config.dump, `/d/${user}/S`, user);
    assert.equal(config.environment.get("U"), user, user);
  }
});

Deno.test("patterns are case sensitive and must be complete", async () => {
  const { config } = await effective(
    "dump: /{User}/{SID}/{user/{ user}/user}/{times}\n",
    "a",
    [],
  );
  assert.equal(config.dump, "/{User}/{SID}/{user/{ user}/user}/{times}");
});

Deno.test("each session substitutes its own values from the same parsed file", async () => {
  const parsed = parse("log: /l/{user}\ndump: /d/{user}-{sid}-{time}\n");
  assert.ok(parsed.ok);
  const session = async (user: string, sid: string, time: string) => {
    const resolved = await resolveConfig(parsed.value, {
      user,
      groups: new Set(),
      sessionId: sid,
      startTime: time,
    }, fakeResolver);
    assert.ok(resolved.ok);
    return resolved.value.config;
  };
  const first = await session("u1", "s1", "t1");
  const second = await session("u2", "s2", "t2");
  assert.equal(first.dump, "/d/u1-s1-t1");
  assert.equal(second.dump, "/d/u2-s2-t2");
  assert.equal(second.log, "/l/u2");
});
