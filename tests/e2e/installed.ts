// The product as an admin installs it: scripts/install.sh into a temp
// prefix readable by every test account, once per test process. Every e2e
// test drives these installed commands, never the sources directly.
import { makeSharedTempDir, run } from "../harness/mod.ts";

/** Paths of the installed commands. */
export interface Installed {
  prefix: string;
  sshproxy: string;
  sshproxyctl: string;
  dumpd: string;
  replay: string;
  agent: string;
}

let installing: Promise<Installed> | undefined;

/** Installs once (the same prefix is reused by every test of the process). */
export function installed(): Promise<Installed> {
  installing ??= install();
  return installing;
}

async function install(): Promise<Installed> {
  const prefix = await makeSharedTempDir("sshproxy-prefix-");
  const script = new URL("../../scripts/install.sh", import.meta.url).pathname;
  const result = await run(["bash", script, "--prefix", prefix], {
    timeoutMs: 120_000,
  });
  if (!result.ok) {
    throw new Error(`install.sh failed (${result.code}): ${result.stderr}`);
  }
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(prefix, { recursive: true });
    } catch {
      // already gone
    }
  });
  return {
    prefix,
    sshproxy: `${prefix}/bin/sshproxy`,
    sshproxyctl: `${prefix}/bin/sshproxyctl`,
    dumpd: `${prefix}/bin/sshproxy-dumpd`,
    replay: `${prefix}/bin/sshproxy-replay`,
    agent: `${prefix}/bin/sshproxy-agent`,
  };
}

/** A directory every test account can write (sticky, like /tmp), for logs and dumps. */
export async function sharedWritableDir(
  prefix = "sshproxy-shared-",
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o1777);
  return dir;
}
