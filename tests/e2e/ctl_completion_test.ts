// The bash completion script proposes what spec §2.2.9 lists.
import assert from "node:assert/strict";
import { run } from "../harness/mod.ts";

const SCRIPT =
  new URL("../../config/sshproxyctl.bash-completion", import.meta.url)
    .pathname;

async function complete(words: string[]): Promise<string[]> {
  const quoted = words.map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(" ");
  const result = await run([
    "bash",
    "-c",
    `source '${SCRIPT}'; COMP_WORDS=(${quoted}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _sshproxyctl; printf '%s\\n' "\${COMPREPLY[@]}"`,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.split("\n").filter((w) => w !== "");
}

Deno.test("completion proposes commands, subcommands and flags like the reference", async () => {
  const commands = [
    "help",
    "version",
    "show",
    "enable",
    "forget",
    "disable",
    "error_banner",
    "convert",
  ];
  assert.deepEqual(await complete(["sshproxyctl", ""]), [
    "-h",
    "-c",
    ...commands,
  ]);
  assert.deepEqual(
    await complete(["sshproxyctl", "-c", "/etc/f.yaml", ""]),
    commands,
  );
  assert.deepEqual(await complete(["sshproxyctl", "fo"]), ["forget"]);
  assert.deepEqual(await complete(["sshproxyctl", "show", ""]), [
    "-all",
    "-csv",
    "-groups",
    "-json",
    "-source",
    "-user",
    "config",
    "connections",
    "error_banner",
    "groups",
    "hosts",
    "users",
  ]);
  assert.deepEqual(await complete(["sshproxyctl", "forget", "p"]), ["persist"]);
  assert.deepEqual(await complete(["sshproxyctl", "forget", "persist", ""]), [
    "-host",
    "-port",
    "-service",
    "-user",
  ]);
  assert.deepEqual(await complete(["sshproxyctl", "show", "hosts", ""]), [
    "-csv",
    "-json",
  ]);
  assert.deepEqual(await complete(["sshproxyctl", "disable", ""]), [
    "-all",
    "-host",
    "-port",
  ]);
  assert.deepEqual(await complete(["sshproxyctl", "error_banner", ""]), [
    "-expire",
  ]);
  assert.deepEqual(
    await complete(["sshproxyctl", "error_banner", "-expire", ""]),
    [],
  );
  assert.deepEqual(await complete(["sshproxyctl", "help", "e"]), [
    "enable",
    "error_banner",
  ]);
  const files = await complete([
    "sshproxyctl",
    "-c",
    SCRIPT.replace(/completion$/, "compl"),
  ]);
  assert.deepEqual(files, [SCRIPT]);
});
