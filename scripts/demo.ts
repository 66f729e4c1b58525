// `bash scripts/demo.sh`: the whole product on loopback, in one command.
// Two gateways (sshd whose ForceCommand is the installed sshproxy) share a
// real etcd in front of three destinations; two accounts made for the demo
// log in. It shows stickiness across gateways, sshproxyctl's tables, a
// disabled host being avoided, and a recorded session replayed and
// exported as asciicast; then it removes everything it made (processes,
// accounts, temporary files), also on Ctrl-C. Needs root: it creates
// accounts and runs sshd, which must switch to the user logging in.
import {
  type CommandResult,
  type Destination,
  type Etcd,
  makeSharedTempDir,
  run,
  sleep,
  SSH_OPTIONS,
  startEtcd,
  startTopology,
  type Topology,
} from "../tests/harness/mod.ts";
import { withTimeout } from "../tests/harness/process.ts";
import { type Installed, installed } from "../tests/e2e/installed.ts";

/** The demo's own accounts: made at the start, removed at the end. */
const ALICE = "sshproxy-demo-alice";
const BOB = "sshproxy-demo-bob";
const DEMO_USERS = [ALICE, BOB] as const;
type DemoUser = typeof DEMO_USERS[number];

interface Account {
  uid: number;
  gid: number;
  home: string;
}

/** Everything the demo started or made, undone in reverse by `cleanUp`. */
const undo: (() => Promise<void>)[] = [];

async function cleanUp(): Promise<void> {
  for (const step of undo.splice(0).reverse()) {
    await step().catch((error) => console.error(`demo: clean-up: ${error}`));
  }
}

/** Runs a set-up command, throwing one line with its error output on failure. */
async function must(argv: string[]): Promise<CommandResult> {
  const result = await run(argv, { timeoutMs: 30_000 });
  if (!result.ok) {
    throw new Error(`${argv.join(" ")}: ${result.stderr.trim()}`);
  }
  return result;
}

async function passwd(name: string): Promise<Account | undefined> {
  const entry = await run(["getent", "passwd", name]);
  if (!entry.ok) return undefined;
  const fields = entry.stdout.trim().split(":");
  return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] };
}

/** Runs a passwd-file tool, retrying while a concurrent one holds the lock. */
async function accountTool(argv: string[]): Promise<void> {
  for (let attempt = 1;; attempt++) {
    const result = await run(argv, { timeoutMs: 30_000 });
    if (result.ok) return;
    if (attempt === 10 || !/lock/i.test(result.stderr)) {
      throw new Error(`${argv.join(" ")}: ${result.stderr.trim()}`);
    }
    await sleep(300);
  }
}

/** Creates a login account with a key pair it may use to reach the destinations. */
async function createAccount(name: DemoUser): Promise<Account> {
  if (await passwd(name)) {
    throw new Error(
      `account ${name} already exists (another demo running, or one that was killed: userdel -r ${name})`,
    );
  }
  await accountTool([
    "/usr/sbin/useradd",
    ...["-m", "-U", "-s", "/bin/bash", "-d", `/home/${name}`, name],
  ]);
  undo.push(async () => {
    await accountTool(["/usr/sbin/userdel", "-r", "-f", name]);
    if ((await run(["getent", "group", name])).ok) {
      await accountTool(["/usr/sbin/groupdel", name]);
    }
  });
  // useradd leaves the account locked, and sshd without PAM then refuses
  // even a key; "*" is "no password, not locked".
  await accountTool(["/usr/sbin/usermod", "-p", "*", name]);
  const account = await passwd(name);
  if (!account) throw new Error(`account ${name} missing after useradd`);
  const ssh = `${account.home}/.ssh`;
  await Deno.mkdir(ssh, { mode: 0o700 });
  await must([
    "/usr/bin/ssh-keygen",
    ...["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", `${ssh}/id_ed25519`],
  ]);
  await Deno.copyFile(`${ssh}/id_ed25519.pub`, `${ssh}/authorized_keys`);
  for (
    const file of ["", "/id_ed25519", "/id_ed25519.pub", "/authorized_keys"]
  ) {
    await Deno.chown(`${ssh}${file}`, account.uid, account.gid);
  }
  return account;
}

/** The OpenSSH client as `user`, with a clean login-like environment. */
function sshArgv(
  user: DemoUser,
  account: Account,
  host: string,
  port: number,
  command: string,
): { argv: string[]; env: Record<string, string>; cwd: string } {
  return {
    argv: [
      "/usr/bin/setpriv",
      `--reuid=${account.uid}`,
      `--regid=${account.gid}`,
      "--init-groups",
      "--",
      "/usr/bin/ssh",
      ...SSH_OPTIONS,
      ...["-T", "-p", String(port), `${user}@${host}`, "--", command],
    ],
    env: {
      HOME: account.home,
      USER: user,
      LOGNAME: user,
      PATH: "/usr/local/bin:/usr/bin:/bin",
    },
    cwd: account.home,
  };
}

/** A session left running in the background. */
interface OpenSession {
  /** Where it landed (the destination's SSHPROXY_TEST_HOST). */
  where: string;
  close(): Promise<void>;
}

const WHERE = "echo $SSHPROXY_TEST_HOST";

function printIndented(text: string, prefix = "     "): void {
  for (const line of text.trimEnd().split("\n")) console.log(prefix + line);
}

/** The running demo: what the steps of the story use. */
interface World {
  product: Installed;
  servers: Destination[];
  /** Directory every session writes its log and recordings to. */
  shared: string;
  /** Directory for the demo's own files. */
  work: string;
  /** Rewrites the configuration with these extra top-level lines. */
  configure(extra?: string): Promise<void>;
  /** A session through gatewayN running `command`, to its end. */
  login(
    user: DemoUser,
    gateway: number,
    command: string,
  ): Promise<CommandResult>;
  /** Where a login through gatewayN lands. */
  landing(user: DemoUser, gateway: number): Promise<string>;
  /** A session through gatewayN left open. */
  open(user: DemoUser, gateway: number): Promise<OpenSession>;
  /** The installed sshproxyctl on the demo's configuration; its output. */
  ctl(args: string[]): Promise<string>;
}

/** Makes the accounts, installs the product, starts etcd and the sshds. */
async function setUp(): Promise<World> {
  const accounts = {} as Record<DemoUser, Account>;
  for (const user of DEMO_USERS) accounts[user] = await createAccount(user);

  const product = await installed();
  undo.push(() => Deno.remove(product.prefix, { recursive: true }));
  const work = await makeSharedTempDir("sshproxy-demo-");
  undo.push(() => Deno.remove(work, { recursive: true }));
  // Sessions write their logs and recordings here, as themselves.
  const shared = `${work}/shared`;
  await Deno.mkdir(shared);
  await Deno.chmod(shared, 0o1777);
  const configPath = `${work}/sshproxy.yaml`;

  const etcd: Etcd = await startEtcd();
  undo.push(() => etcd.stop());
  const topology: Topology = await startTopology({
    forceCommand: `${product.sshproxy} ${configPath}`,
    gateways: 2,
  });
  undo.push(() => topology.stop());
  // Runs before the sshds stop, once the sessions are closed: a session's
  // processes outlive its client by a moment, and one that its sshd no
  // longer parents would escape the sshd's clean-up.
  undo.push(() => sessionsGone(Object.values(accounts).map((a) => a.uid)));
  const { gateways } = topology;
  const servers = Object.values(topology.servers);

  const configure = async (extra = "") => {
    await Deno.writeTextFile(
      configPath,
      `# sshproxy demo: every login picks among three destinations, the one
# with the fewest connections, and stays where the user already is.
log: ${shared}/sshproxy-{user}.log
ssh:
  args: [${["-q", ...SSH_OPTIONS].map((a) => JSON.stringify(a)).join(", ")}]
etcd:
  endpoints: [${JSON.stringify(etcd.endpoint)}]
  keyttl: 5
service: demo
dest: [${servers.map((s) => JSON.stringify(s.address)).join(", ")}]
route_select: connections
mode: sticky
${extra}`,
    );
    await Deno.chmod(configPath, 0o644);
  };
  await configure();

  console.log(
    `  gateways: ${
      gateways.map((g) => `${g.name} ${g.host}:${g.ports[2022]}`).join(", ")
    } (sshd, ForceCommand ${product.sshproxy})`,
  );
  console.log(
    `  destinations: ${
      servers.map((s) => `${s.name} ${s.address}`).join(", ")
    }; etcd ${etcd.endpoint}`,
  );
  console.log(
    `  users (made for the demo): ${
      DEMO_USERS.join(", ")
    }; routing: fewest connections, sticky`,
  );

  const client = (user: DemoUser, gateway: number, command: string) => {
    const g = gateways[gateway - 1];
    return sshArgv(user, accounts[user], g.host, g.ports[2022], command);
  };
  const login = async (user: DemoUser, gateway: number, command: string) => {
    const { argv, env, cwd } = client(user, gateway, command);
    return await run(argv, { env, clearEnv: true, cwd, timeoutMs: 30_000 });
  };
  return {
    product,
    servers,
    shared,
    work,
    configure,
    login,
    async landing(user, gateway) {
      const result = await login(user, gateway, WHERE);
      if (!result.ok) {
        throw new Error(
          `${user} via gateway${gateway}: exit ${result.code}: ${result.stderr.trim()}`,
        );
      }
      return result.stdout.trim();
    },
    open(user, gateway) {
      return openSession(
        client(user, gateway, `${WHERE}; exec cat >/dev/null`),
      );
    },
    async ctl(args) {
      const result = await run([
        product.sshproxyctl,
        ...["-c", configPath, ...args],
      ]);
      if (!result.ok) {
        throw new Error(
          `sshproxyctl ${args.join(" ")}: ${result.stderr.trim()}`,
        );
      }
      return result.stdout;
    },
  };
}

/**
 * Starts a session that prints where it landed and then waits for the end
 * of its input; closing that input ends it cleanly through both hops, so
 * nothing lingers on the gateway or the destination.
 */
async function openSession(
  { argv, env, cwd }: ReturnType<typeof sshArgv>,
): Promise<OpenSession> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    clearEnv: true,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await child.stdin.close().catch(() => {});
      if (!(await withTimeout(child.status, 15_000)).done) {
        try {
          Deno.kill(-child.pid, "SIGKILL");
        } catch {
          // Exited in between.
        }
        await child.status;
      }
      await child.stdout.cancel().catch(() => {});
    })();
  undo.push(close);
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  await withTimeout(
    (async () => {
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
      }
    })(),
    30_000,
  );
  reader.releaseLock();
  const where = text.trim();
  if (!/^server\d$/.test(where)) throw new Error("a session did not start");
  return { where, close };
}

/** Waits (up to 10 s) until no process runs as one of `uids`. */
async function sessionsGone(uids: number[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let running = false;
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`)
        .catch(() => "");
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
      if (uids.includes(uid)) running = true;
    }
    if (!running) return;
    await sleep(100);
  }
}

/** Waits until etcd lists `count` connections (sessions register as they start). */
async function registered(world: World, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const rows = JSON.parse(
      await world.ctl(["show", "-json", "connections"]),
    ) as { N: number }[];
    if (rows.reduce((sum, row) => sum + row.N, 0) >= count) return;
    await sleep(100);
  }
  throw new Error(`etcd never listed ${count} connections`);
}

/** Step 1: alice goes back to her host through the other gateway. */
async function showSticky(world: World): Promise<string | undefined> {
  console.log("\n1. Sticky across gateways (they share who is where in etcd)");
  const alice = await world.open(ALICE, 1);
  console.log(`   alice via gateway1 -> ${alice.where}   (session kept open)`);
  await registered(world, 1);
  const bob = await world.open(BOB, 2);
  console.log(`   bob   via gateway2 -> ${bob.where}   (session kept open)`);
  await registered(world, 2);
  const again = await world.landing(ALICE, 2);
  const idle = world.servers.map((s) => s.name).find((name) =>
    name !== alice.where && name !== bob.where
  );
  const sticky = again === alice.where;
  console.log(
    `   alice via gateway2 -> ${again}   (${
      sticky
        ? `sticky: where her open session is, although ${idle} has none`
        : "NOT STICKY"
    })`,
  );
  console.log(
    "\n2. sshproxyctl show connections (the same from either gateway)",
  );
  printIndented(await world.ctl(["show", "connections"]));
  return sticky ? alice.where : undefined;
}

/** Step 3: the host alice is on is disabled; her next login goes elsewhere. */
async function showDisable(world: World, host: string): Promise<boolean> {
  const disabled = world.servers.find((s) => s.name === host)!;
  console.log(
    `\n3. sshproxyctl disable -host ${disabled.host} -port ${disabled.port}   (${disabled.name}, alice's host)`,
  );
  await world.ctl([
    "disable",
    ...["-host", disabled.host, "-port", String(disabled.port)],
  ]);
  const next = await world.landing(ALICE, 1);
  const avoided = next !== disabled.name;
  console.log(
    `   alice via gateway1 -> ${next}   (${
      avoided
        ? `not ${disabled.name}, although her open session stays there`
        : "STILL ON THE DISABLED HOST"
    })`,
  );
  console.log("   sshproxyctl show hosts:");
  printIndented(await world.ctl(["show", "hosts"]));
  return avoided;
}

/** Step 4: a recorded session, replayed and exported as asciicast. */
async function showRecording(world: World): Promise<boolean> {
  const { shared, product } = world;
  const pattern = `${shared}/{user}-{sid}.dump`;
  await world.configure(`dump: ${pattern}\n`);
  console.log(`\n4. Recording: dump: ${pattern}`);
  const recorded = await world.login(
    BOB,
    1,
    'for i in 1 2 3; do echo "line $i from $SSHPROXY_TEST_HOST"; sleep 0.3; done',
  );
  if (!recorded.ok) {
    throw new Error(`bob's recorded session: ${recorded.stderr.trim()}`);
  }
  let dump = "";
  for await (const entry of Deno.readDir(shared)) {
    if (entry.name.endsWith(".dump")) dump = `${shared}/${entry.name}`;
  }
  if (dump === "") throw new Error("bob's session left no recording");
  console.log(
    `   bob via gateway1 ran a 3-line command; recorded in ${
      dump.slice(shared.length + 1)
    } (${(await Deno.stat(dump)).size} bytes)`,
  );
  const replay = await run([product.replay, "-replay", dump]);
  console.log("   sshproxy-replay -replay (at the recorded pace):");
  printIndented(replay.stdout + replay.stderr, "     | ");
  const cast = `${world.work}/bob.cast`;
  const exported = await run([product.replay, "-asciicast", cast, dump]);
  if (!exported.ok) {
    throw new Error(`asciicast export: ${exported.stderr.trim()}`);
  }
  const castLines = (await Deno.readTextFile(cast)).trimEnd().split("\n");
  const header = JSON.parse(castLines[0]) as { version: number };
  console.log(
    `   sshproxy-replay -asciicast bob.cast: asciicast v${header.version}, ${
      castLines.length - 1
    } events, e.g. ${castLines[1]}`,
  );
  return replay.ok;
}

async function main(): Promise<number> {
  console.log(
    "sshproxy demo: installing the product, starting etcd, 2 gateways and 3 destinations on loopback...",
  );
  const world = await setUp();
  const aliceHost = await showSticky(world);
  const avoided = aliceHost !== undefined &&
    await showDisable(world, aliceHost);
  const replayed = await showRecording(world);
  return aliceHost !== undefined && avoided && replayed ? 0 : 1;
}

if (Deno.uid() !== 0) {
  console.error(
    "demo: run as root (it creates two accounts and starts sshd on loopback): sudo bash scripts/demo.sh",
  );
  Deno.exit(1);
}
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await cleanUp();
  console.log(
    "\ndemo: stopped every process and removed the accounts and temporary files it made",
  );
  Deno.exit(code);
};
Deno.addSignalListener("SIGINT", () => void stop(130));
Deno.addSignalListener("SIGTERM", () => void stop(143));
let status = 1;
try {
  status = await main();
} catch (error) {
  // After Ctrl-C the clean-up pulls processes from under the story: its
  // errors then say nothing.
  if (!stopping) {
    console.error(
      `demo: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
await stop(status);
