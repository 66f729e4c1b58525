// The faces through the installed commands, run as an ordinary user:
// dispatch by the name invoked, -version, usage errors, `show config`,
// `convert`, and one-line configuration errors.
import assert from "node:assert/strict";
import { ensureTestAccounts, run, runAs, USERS } from "../harness/mod.ts";
import { installed, sharedWritableDir } from "./installed.ts";

const e2e = { sanitizeOps: false, sanitizeResources: false };
const FIXTURES =
  new URL("../../../shared/fixtures/reference-config/", import.meta.url)
    .pathname;

Deno.test({
  name:
    "every installed name answers -version and --version on stderr like the reference",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const faces: [string, string][] = [
      [product.sshproxy, "sshproxy"],
      [product.dumpd, "sshproxy-dumpd"],
      [product.replay, "sshproxy-replay"],
      [product.agent, "sshproxy-agent"],
    ];
    for (const [path, name] of faces) {
      for (const flag of ["-version", "--version"]) {
        const result = await runAs(USERS.fedora, [path, flag]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "");
        assert.match(
          result.stderr,
          new RegExp(`^${name} version \\d+\\.\\d+\\.\\d+\\n$`),
        );
      }
    }
    for (const words of [["version"], ["-version"], ["--version"]]) {
      const ctl = await runAs(USERS.fedora, [product.sshproxyctl, ...words]);
      assert.equal(ctl.code, 0, ctl.stderr);
      assert.equal(ctl.stdout, "");
      assert.match(ctl.stderr, /sshproxyctl version \d+\.\d+\.\d+\n$/);
    }
  },
});

Deno.test({
  name:
    "under any other name the first argument picks the face; unknown faces and flags exit 2",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const dir = await sharedWritableDir();
    try {
      const other = `${dir}/sshproxy-tool`;
      await Deno.symlink(
        `${product.prefix}/lib/sshproxy/bin/sshproxy-launcher`,
        other,
      );
      const version = await runAs(USERS.fedora, [other, "replay", "-version"]);
      assert.equal(version.code, 0);
      assert.equal(
        version.stderr,
        "sshproxy-replay version " + version.stderr.split(" ").pop(),
      );
      const unknown = await runAs(USERS.fedora, [other, "nope"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /^unknown face: nope\nusage: /);
      const flag = await runAs(USERS.fedora, [product.sshproxy, "-bogus"]);
      assert.equal(flag.code, 2);
      assert.equal(
        flag.stderr.split("\n")[0],
        "flag provided but not defined: -bogus",
      );
      assert.equal(flag.stderr.split("\n")[1], "usage: sshproxy [config]");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sshproxyctl usage errors exit 2 with the reference's messages",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const cases: [string[], string][] = [
      [[], "ERROR: missing command\n\nUsage: "],
      [["frobnicate"], "ERROR: unknown command: frobnicate\n\nUsage: "],
      [
        ["show"],
        "ERROR: missing 'hosts', 'connections', 'users', 'groups', 'error_banner' or 'config'\n\nUsage: ",
      ],
      [["show", "nope"], "ERROR: unknown subcommand: nope\n\nUsage: "],
      [["help", "show"], "Usage: "],
      [
        ["show", "hosts", "-c", "f.yaml"],
        "flag provided but not defined: -c\n",
      ],
    ];
    for (const [args, start] of cases) {
      const result = await runAs(USERS.fedora, [product.sshproxyctl, ...args]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.ok(
        result.stderr.startsWith(start),
        `${args.join(" ")}: ${result.stderr}`,
      );
      assert.equal(result.stdout, "");
    }
  },
});

Deno.test({
  name:
    "sshproxyctl show config prints the computed configuration for a user, groups and source",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const dir = await sharedWritableDir();
    try {
      const config = `${dir}/sshproxy.yaml`;
      await Deno.writeTextFile(
        config,
        `dest: [server1]
route_selct: random
etcd:
  password: secret
overrides:
  - match:
      - groups: [sshproxy-user1]
    dest: ["server[2-3]:2222"]
  - match:
      - sources: ["127.0.0.1:2023"]
        users: [${USERS.user2}]
    service: svc
    environment: {HOME_OF: "{user}"}
`,
      );
      await Deno.chmod(config, 0o644);
      const args = [
        product.sshproxyctl,
        "-c",
        config,
        "show",
        "-user",
        USERS.user2,
        "config",
        "-source",
        "127.0.0.1:2023",
      ];
      const result = await runAs(USERS.fedora, args);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.split("\n");
      assert.equal(lines[0], `user = ${USERS.user2}`);
      assert.equal(lines[2], "groups = map[sshproxy-user1:true]");
      assert.ok(lines.includes("config.dest = [server2:2222 server3:2222]"));
      assert.ok(lines.includes("config.service = svc"));
      assert.ok(
        lines.includes(`config.environment = map[HOME_OF:${USERS.user2}]`),
      );
      assert.ok(
        lines.some((line) => line.includes("Password:******** ")),
        "password masked",
      );
      assert.ok(!result.stdout.includes("secret"));
      assert.match(
        result.stderr,
        /line 2: unknown key "route_selct" ignored \(did you mean "route_select"\?\)/,
      );

      const unknownUser = await runAs(USERS.fedora, [
        product.sshproxyctl,
        "-c",
        config,
        "show",
        "config",
        "-user",
        "ghost",
        "-groups",
        "a,,b",
      ]);
      assert.equal(unknownUser.code, 0, unknownUser.stderr);
      assert.equal(
        unknownUser.stdout.split("\n")[0],
        "user = ghost (unknown on this system)",
      );
      assert.equal(
        unknownUser.stdout.split("\n")[2],
        "groups = map[a:true b:true]",
      );

      const json = await runAs(USERS.fedora, [...args, "-json"]);
      assert.equal(json.code, 0, json.stderr);
      const parsed = JSON.parse(json.stdout);
      assert.equal(parsed.user, USERS.user2);
      assert.deepEqual(parsed.config.dest, ["server2:2222", "server3:2222"]);
      assert.equal(parsed.config.service, "svc");
      assert.equal(parsed.config.route_select, "ordered");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a configuration error is exactly one line naming the file, the line and the fix, exit 1",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    for (
      const [fixture, line] of [["configModeError.yaml", 2], [
        "configInvalid.yaml",
        1,
      ]] as const
    ) {
      const path = `${FIXTURES}${fixture}`;
      const ctl = await run([
        product.sshproxyctl,
        "-c",
        path,
        "show",
        "config",
      ]);
      assert.equal(ctl.code, 1);
      assert.equal(ctl.stdout, "");
      assert.match(
        ctl.stderr,
        new RegExp(
          `^sshproxyctl: ${path}: line ${line}: .+\\(expected .+\\)\\n$`,
        ),
      );
      const proxy = await run([product.sshproxy, path], {
        env: { SSH_CONNECTION: "127.0.0.1 40000 127.0.0.1 22" },
      });
      assert.equal(proxy.code, 1);
      assert.match(
        proxy.stderr,
        new RegExp(`^sshproxy: ${path}: line ${line}: .+\\(expected .+\\)\\n$`),
      );
    }
    const missing = await run(
      [product.sshproxy, "/nonexistent/sshproxy.yaml"],
      {
        env: { SSH_CONNECTION: "127.0.0.1 40000 127.0.0.1 22" },
      },
    );
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^sshproxy: \/nonexistent\/sshproxy\.yaml: cannot read: no such file or directory .*\n$/,
    );
  },
});

Deno.test({
  name:
    "sshproxyctl convert turns the reference's v1 fixtures into v2 that loads",
  ...e2e,
  async fn() {
    await ensureTestAccounts();
    const product = await installed();
    const dir = await sharedWritableDir();
    try {
      const converted = await run([
        product.sshproxyctl,
        "-c",
        `${FIXTURES}configV1b.yaml`,
        "convert",
      ]);
      assert.equal(converted.code, 0, converted.stderr);
      assert.equal(
        converted.stdout,
        "---\nroute_select: connections\nmode: sticky\nforce_command: /bin/false\ncommand_must_match: true\netcd_keyttl: 1800\n",
      );
      const v1a = await run([
        product.sshproxyctl,
        "-c",
        `${FIXTURES}configV1a.yaml`,
        "convert",
      ]);
      assert.equal(v1a.code, 0, v1a.stderr);
      const v2 = `${dir}/v2.yaml`;
      await Deno.writeTextFile(v2, v1a.stdout);
      const shown = await run([
        product.sshproxyctl,
        "-c",
        v2,
        "show",
        "config",
        "-user",
        "alice",
        "-groups",
        "foo",
      ]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.ok(
        shown.stdout.includes("config.dest = [hostz:22]"),
        shown.stdout,
      );
      const missing = await run([
        product.sshproxyctl,
        "-c",
        `${dir}/none.yaml`,
        "convert",
      ]);
      assert.equal(missing.code, 2);
      assert.match(
        missing.stderr,
        /^ERROR: open .*none\.yaml: no such file or directory\n\nUsage: /,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
