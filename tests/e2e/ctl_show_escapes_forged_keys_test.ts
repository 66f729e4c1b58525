// Anyone holding the etcd password (every gateway user can read it in the
// configuration their sessions run with) can write keys whose user, service
// or host names carry terminal escape sequences and newlines, and an error
// banner with them. `sshproxyctl show` must print such keys to the admin
// escaped, in every form, without crashing (the table package throws on
// some control characters) and without a second, forged line.
import assert from "node:assert/strict";
import { e2e, startCtlEnv } from "./ctl_env.ts";

const C = "/sshproxy/connections/";
// Sets the terminal's title, clears the screen; then an 8-bit CSI (U+009B)
// that many terminals obey in UTF-8 too, and a carriage return.
const ESC = "\x1b]0;PWNED\x07\x1b[2J";
const C1 = "\u009b31m";

// Anything a terminal would obey: C0 controls but the newline ending each
// line, DEL, C1.
// deno-lint-ignore no-control-regex -- control characters are the point
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

Deno.test({
  name:
    "show prints names forged in etcd escaped, as tables, CSV and JSON, and never crashes on them",
  ...e2e,
  async fn() {
    await using env = await startCtlEnv();
    const now = new Date().toISOString();
    await env.put(
      `${C}ev${ESC}il\n2024-01-01 INFO forged${C1}@default/10.0.0.1:22/127.0.0.1:22/${now}`,
      '{"In":0,"Out":0}',
    );
    await env.put(
      `${C}mallory@ser${ESC}vice/10.0.0.2${C1}:22/127.0.0.1:22\r/${now}`,
      '{"In":0,"Out":0}',
    );
    await env.put(`${C}bad${ESC}key`, "x");
    await env.put(`/sshproxy/history/ev${ESC}il@default/1234`, "10.0.0.1:22");
    await env.put(
      `/sshproxy/hosts/10.0.0.1${ESC}:22`,
      `{"State":"up${C1}","Ts":"2024-01-01T00:00:00Z"}`,
    );
    await env.put(
      `/sshproxy/error_banner/value`,
      `Maintenance until noon.\n${ESC}Second line\r${C1}`,
    );
    const commands = [
      ["show", "connections"],
      ["show", "connections", "-all"],
      ["show", "connections", "-csv"],
      ["show", "connections", "-all", "-csv"],
      ["show", "connections", "-json"],
      ["show", "connections", "-all", "-json"],
      ["show", "users"],
      ["show", "users", "-all"],
      ["show", "users", "-csv"],
      ["show", "users", "-all", "-json"],
      ["show", "groups"],
      ["show", "groups", "-all", "-csv"],
      ["show", "groups", "-json"],
      ["show", "hosts"],
      ["show", "hosts", "-csv"],
      ["show", "hosts", "-json"],
      ["show", "error_banner"],
    ];
    for (const args of commands) {
      const result = await env.ctl(args);
      const what = `sshproxyctl ${args.join(" ")}`;
      assert.equal(result.code, 0, `${what}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /Uncaught|\n\s+at /, what);
      for (
        const [stream, text] of [["stdout", result.stdout], [
          "stderr",
          result.stderr,
        ]]
      ) {
        const raw = RAW_CONTROL.exec(text);
        assert.equal(
          raw,
          null,
          `${what}: raw ${JSON.stringify(raw?.[0])} on ${stream}: ${
            JSON.stringify(text)
          }`,
        );
        // A forged line never starts a line of its own.
        assert.doesNotMatch(text, /^2024-01-01 INFO forged/m, what);
      }
    }
    // The names are there, escaped, for the admin to see.
    const table = await env.ctl(["show", "connections", "-all"]);
    assert.match(table.stdout, /ev\\x1b\]0;PWNED\\a\\x1b\[2Jil\\n2024/);
    const csv = await env.ctl(["show", "connections", "-all", "-csv"]);
    assert.match(csv.stdout, /ev\\x1b\]0;PWNED/);
    assert.match(csv.stdout, /10\.0\.0\.2\\u009b31m:22/);
    // JSON keeps the exact name for scripts, escaped as JSON.
    const json = await env.ctl(["show", "connections", "-all", "-json"]);
    const users = (JSON.parse(json.stdout) as { User: string }[]).map((c) =>
      c.User
    );
    assert.ok(
      users.includes(`ev${ESC}il\n2024-01-01 INFO forged${C1}`),
      json.stdout,
    );
    // The banner keeps its lines; nothing else raw.
    const banner = await env.ctl(["show", "error_banner"]);
    assert.match(
      banner.stdout,
      /\nMaintenance until noon\.\n\\x1b\]0;PWNED\\a\\x1b\[2JSecond line\\r\\u009b31m\n$/,
    );
  },
});
