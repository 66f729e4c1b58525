// Whether the installed proxy really does what a path measures: (d) only
// when a session registers keys in etcd, (e) only when a session writes a
// dump file. A path whose feature is absent is "not measured", with why.
import { sleep, sshAs, type TestUser } from "../../tests/harness/mod.ts";
import type { Outcome } from "./results.ts";
import { emptyDir, type Topology } from "./topology.ts";

/** (d) is measured only when a session through it registers keys in etcd. */
export async function detectEtcd(
  t: Topology,
  user: TestUser,
): Promise<Outcome<string>> {
  const target = t.targets.d!;
  await target.prepare!();
  let settled = false;
  const session = sshAs(user, {
    host: target.host,
    port: target.port,
    command: "sleep 3; echo ok",
  }, { timeoutMs: 30_000 }).finally(() => settled = true);
  let keys: string[] = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const listing = await t.etcd.etcdctl([
      "get",
      "--prefix",
      "/sshproxy/",
      "--keys-only",
    ]);
    keys = listing.stdout.split("\n").filter((k) => k.trim() !== "");
    if (keys.length > 0 || settled) break;
    await sleep(200);
  }
  const result = await session;
  if (!result.ok || result.stdout.trim() !== "ok") {
    return {
      status: "failed",
      reason:
        `a session through the etcd configuration failed (status ${result.code}): ${
          result.stderr.trim().slice(0, 200) || "no message"
        }; log: ${
          (await t.gw.readLog(user)).trim().split("\n").slice(-3).join(" / ")
        }`,
    };
  }
  if (keys.length === 0) {
    return {
      status: "not measured",
      reason:
        "the proxy accepts the etcd configuration and the session runs, but registers nothing in etcd (no key under /sshproxy/ during a 3 s session)",
    };
  }
  return {
    status: "measured",
    value: `${keys.length} key(s) under /sshproxy/ during a session, e.g. ${
      keys[0]
    }`,
  };
}

async function dumpFiles(
  dir: string,
): Promise<{ name: string; size: number }[]> {
  const files = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    files.push({
      name: entry.name,
      size: (await Deno.stat(`${dir}/${entry.name}`)).size,
    });
  }
  return files;
}

/** (e) is measured only when a session through it writes a dump file. */
export async function detectRecording(
  t: Topology,
  user: TestUser,
): Promise<Outcome<string>> {
  const target = t.targets.e!;
  await target.prepare!();
  await emptyDir(t.dumpDir);
  const result = await sshAs(user, {
    host: target.host,
    port: target.port,
    command: "echo recorded",
  }, { timeoutMs: 30_000 });
  if (!result.ok || result.stdout.trim() !== "recorded") {
    return {
      status: "failed",
      reason:
        `a session through the recording configuration failed (status ${result.code}): ${
          result.stderr.trim().slice(0, 200) || "no message"
        }`,
    };
  }
  // The recorder may finish writing just after the session's output.
  let files: { name: string; size: number }[] = [];
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    files = (await dumpFiles(t.dumpDir)).filter((f) => f.size > 0);
    if (files.length > 0) break;
    await sleep(100);
  }
  await emptyDir(t.dumpDir);
  if (files.length === 0) {
    return {
      status: "not measured",
      reason:
        "the proxy accepts `dump: <file>` and the session runs, but no dump file is written",
    };
  }
  return {
    status: "measured",
    value: `a session wrote ${files[0].name} (${files[0].size} bytes)`,
  };
}
