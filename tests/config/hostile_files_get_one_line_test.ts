// Hostile configuration files (hostile_configs.ts: deep nesting, alias
// bombs, huge scalars and files, nodesets of a million names) through the
// installed commands: `sshproxyctl -c FILE show config` and a login through
// a real gateway each answer with one line naming the file, the line and
// the limit, and exit 1, where the yaml package alone ran out of stack or
// memory (issue 13). How fast is measured by scripts/bench/config_shapes.ts.
import assert from "node:assert/strict";
import { run, sshAs, USERS } from "../harness/mod.ts";
import { e2e, startProxyGateway } from "../e2e/gateway.ts";
import { installed, sharedWritableDir } from "../e2e/installed.ts";
import { HOSTILE_CONFIGS } from "./hostile_configs.ts";

const user = USERS.fedora;

function oneLine(stderr: string): string {
  const lines = stderr.split("\n");
  assert.equal(lines.length, 2, `not one line: ${stderr.slice(0, 2000)}`);
  assert.equal(lines[1], "", `not one line: ${stderr.slice(0, 2000)}`);
  return lines[0];
}

Deno.test({
  name:
    "sshproxyctl show config answers each hostile file with one line naming the file, the line and the limit, exit 1",
  ...e2e,
  async fn() {
    const product = await installed();
    const dir = await sharedWritableDir();
    try {
      for (const shape of HOSTILE_CONFIGS) {
        const path = `${dir}/hostile.yaml`;
        await Deno.writeTextFile(path, shape.text());
        const result = await run(
          [product.sshproxyctl, "-c", path, "show", "config"],
          { timeoutMs: 60_000 },
        );
        assert.equal(result.code, 1, `${shape.name}: ${result.stderr}`);
        assert.equal(result.stdout, "", shape.name);
        const message = oneLine(result.stderr);
        const prefix = `sshproxyctl: ${path}: line ${shape.line}: `;
        assert.ok(message.startsWith(prefix), `${shape.name}: ${message}`);
        assert.match(message.slice(prefix.length), shape.error, shape.name);
        assert.ok(message.length < 300, `${shape.name}: a short line`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a login through the gateway with a hostile configuration gets one line naming the file, the line and the limit, exit 1",
  ...e2e,
  async fn() {
    await using gw = await startProxyGateway();
    for (const shape of HOSTILE_CONFIGS) {
      await gw.writeConfig(shape.text());
      const result = await sshAs(user, {
        port: gw.gateway.ports[2023],
        host: gw.gateway.host,
        command: "echo $SSHPROXY_TEST_HOST",
      });
      assert.equal(result.code, 1, `${shape.name}: ${result.stderr}`);
      assert.equal(result.stdout, "", shape.name);
      const message = oneLine(result.stderr);
      const prefix = `sshproxy: ${gw.configPath}: line ${shape.line}: `;
      assert.ok(message.startsWith(prefix), `${shape.name}: ${message}`);
      assert.match(message.slice(prefix.length), shape.error, shape.name);
    }
  },
});

Deno.test({
  name:
    "a huge unknown key loads, and its warning is one short line (the key is shortened)",
  ...e2e,
  async fn() {
    const product = await installed();
    const dir = await sharedWritableDir();
    try {
      const path = `${dir}/longkey.yaml`;
      const key = "k".repeat(900_000);
      await Deno.writeTextFile(path, `? ${key}\n: v\ndest: [d]\n`);
      const result = await run(
        [product.sshproxyctl, "-c", path, "show", "config"],
        { timeoutMs: 60_000 },
      );
      assert.equal(result.code, 0, result.stderr.slice(0, 2000));
      const warning = oneLine(result.stderr);
      assert.match(
        warning,
        /^sshproxyctl: warning: .*: line 1: unknown key "k{60}\.\.\. \(900000 characters\)" ignored$/,
      );
      assert.match(result.stdout, /^config\.dest = \[d:22\]$/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
