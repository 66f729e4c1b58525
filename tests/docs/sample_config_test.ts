// config/sshproxy.yaml, the shipped sample: it loads with the real engine
// without a warning, shows every key, and its commented-out settings are
// the defaults, so uncommenting any of them changes nothing by accident.
import assert from "node:assert/strict";
import { readConfigFile, resolveForSession } from "../../src/config/load.ts";
import type { SessionContext } from "../../src/config/resolve.ts";
import { SETTINGS_KEYS } from "../../src/config/settings.ts";
import type { Config } from "../../src/config/types.ts";

const SAMPLE = new URL("../../config/sshproxy.yaml", import.meta.url).pathname;

function session(
  user: string,
  groups: string[],
  sshd?: { host: string; port: number },
): SessionContext {
  return {
    user,
    groups: new Set(groups),
    sshd,
    sessionId: "0123456789",
    startTime: "2026-11-21T09:15:03.041527381+01:00",
  };
}

/** Loads a file and resolves it for one session; fails on any warning. */
async function load(path: string, context: SessionContext): Promise<Config> {
  const parsed = await readConfigFile(path);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(parsed.value.unknownKeys, [], "unknown or ignored keys");
  const resolved = await resolveForSession(parsed.value, context);
  assert.ok(resolved.ok, resolved.ok ? "" : resolved.error);
  assert.deepEqual(resolved.value.warnings, []);
  return resolved.value.config;
}

/**
 * The sample with its commented-out settings made active: a line such as
 * `#dest: []` starts a setting, and the `#  ` lines right after it belong
 * to it; `# ` lines are prose and stay comments.
 */
function uncomment(text: string): string {
  let inSetting = false;
  return text.split("\n").map((line) => {
    if (/^#[a-z_]+:/.test(line)) {
      inSetting = true;
      return line.slice(1);
    }
    if (inSetting && line.startsWith("#  ")) return line.slice(1);
    inSetting = false;
    return line;
  }).join("\n");
}

async function withTempFile<T>(
  text: string,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, text);
    return await use(path);
  } finally {
    await Deno.remove(path);
  }
}

const defaults = () =>
  withTempFile("", (path) => load(path, session("alice", ["users"])));

Deno.test("the shipped sample loads without error or warning and leaves every default", async () => {
  const config = await load(SAMPLE, session("alice", ["users"]));
  assert.deepEqual(config, await defaults());
});

Deno.test("the sample shows every configuration key as a commented-out setting", async () => {
  const text = await Deno.readTextFile(SAMPLE);
  for (const key of [...SETTINGS_KEYS, "overrides"]) {
    assert.match(
      text,
      new RegExp(`^#${key}:`, "m"),
      `config/sshproxy.yaml does not show ${key}`,
    );
  }
  for (
    const key of [
      "endpoints",
      "tls",
      "cafile",
      "certfile",
      "keyfile",
      "username",
      "password",
      "keyttl",
      "mandatory",
      "exe",
      "args",
      "ssh_args",
      "command",
      "disable_dump",
      "match",
      "users",
      "groups",
      "sources",
    ]
  ) {
    assert.match(text, new RegExp(`^#\\s+(- )?${key}:`, "m"), `no ${key}`);
  }
  for (const pattern of ["{user}", "{sid}", "{time}"]) {
    assert.ok(text.includes(pattern), `no ${pattern}`);
  }
});

Deno.test("the sample does not claim that only interactive sessions are recorded", async () => {
  const text = await Deno.readTextFile(SAMPLE);
  assert.doesNotMatch(text, /only\s+(the\s+)?interactive/i);
  assert.match(text, /Record every session/);
});

Deno.test("every commented-out value is the default: uncommented, the sample changes nothing", async () => {
  const text = uncomment(await Deno.readTextFile(SAMPLE));
  assert.match(text, /^dest: \[\]$/m);
  assert.match(text, /^ {2}endpoints: \[\]$/m);
  await withTempFile(text, async (path) => {
    // A session that none of the example overrides matches.
    const config = await load(path, session("alice", ["users"]));
    assert.deepEqual(config, await defaults());
  });
});

Deno.test("the example overrides of the sample do what its comments say", async () => {
  const text = uncomment(await Deno.readTextFile(SAMPLE));
  await withTempFile(text, async (path) => {
    const visu = await load(
      path,
      session("bob", ["users"], { host: "192.0.2.2", port: 2022 }),
    );
    assert.equal(visu.service, "visu");
    assert.deepEqual(visu.dest, ["visu1:22", "visu2:22"]);
    assert.equal(
      visu.dump,
      "/var/lib/sshproxy/dumps/bob/2026-11-21T09:15:03.041527381+01:00-0123456789.dump",
    );
    const otherPort = await load(
      path,
      session("bob", ["users"], { host: "192.0.2.2", port: 22 }),
    );
    assert.equal(otherPort.service, "default");
    // Both groups are required: the two `groups:` conditions are an AND.
    const onlyAdmin = await load(path, session("carol", ["admins"]));
    assert.deepEqual(onlyAdmin.dest, []);
    const admin = await load(path, session("carol", ["admins", "oncall"]));
    assert.deepEqual(admin.dest, ["admin1:22"]);
    assert.equal(admin.log, "/var/log/sshproxy/admins/carol.log");
  });
});
