// Scale benchmark of sshproxyctl's listings (issue: `show connections` over
// 10,000 connection keys in under 1 s). Starts a throwaway etcd on
// loopback, writes N connection keys in the reference's format (plus host
// and history keys), installs the product into a temp prefix and times,
// in the same run and on the same data:
//   - the baseline: `etcdctl get --prefix` of the same keys (what reading
//     them at all costs, process start included),
//   - `sshproxyctl show connections` (table, -json, -all -json), `show hosts`.
// Each figure is the median of several runs. Needs root's apt packages
// etcd-server/etcd-client (see scripts/setup.sh).
//
//   deno run -A scripts/bench/ctl_scale.ts [N=10000] [RUNS=5]
import { startEtcd } from "../../tests/harness/mod.ts";
import { StateStore } from "../../src/state/store.ts";
import type { TxnOp } from "../../src/state/etcd_client.ts";
import { formatRfc3339Nano } from "../../src/format/time.ts";

const count = Number(Deno.args[0] ?? 10_000);
const runs = Number(Deno.args[1] ?? 5);
const root = new URL("../..", import.meta.url).pathname;

async function timed(argv: string[]): Promise<number> {
  const start = performance.now();
  const output = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "null",
    stderr: "piped",
    env: { ETCDCTL_API: "3" },
  }).output();
  const elapsed = performance.now() - start;
  if (!output.success) {
    throw new Error(
      `${argv.join(" ")}: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return elapsed;
}

async function median(argv: string[]): Promise<number> {
  await timed(argv); // warm caches
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timed(argv));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const etcd = await startEtcd();
const prefix = await Deno.makeTempDir({ prefix: "sshproxy-bench-" });
// install.sh checks, as an unprivileged user, that logins use its caches:
// that user must reach the prefix.
await Deno.chmod(prefix, 0o755);
try {
  const settings = {
    endpoints: etcd.endpoints,
    tls: { cafile: "", certfile: "", keyfile: "" },
    username: "",
    password: "",
    keyttl: 0,
    mandatory: false,
  };
  const opened = await StateStore.open(settings);
  if (!opened.ok) throw new Error(opened.error);
  const store = opened.value;
  const hosts = 50;
  const writeStart = performance.now();
  let ops: TxnOp[] = [];
  const flush = async () => {
    if (ops.length === 0) return;
    const written = await store.backend.txn(ops);
    if (!written.ok) throw new Error(written.error);
    ops = [];
  };
  const base = 1_714_633_503_041_527_381n;
  for (let i = 0; i < count; i++) {
    const user = `user${i % 500}`;
    const service = ["default", "service2", "service3"][i % 3];
    const dest = `server${i % hosts}:22`;
    const sshd = `192.168.0.${i % 10}:2022`;
    const ts = formatRfc3339Nano(base + BigInt(i) * 1_000_003n, 120);
    ops.push({
      put: {
        key: `/sshproxy/connections/${user}@${service}/${dest}/${sshd}/${ts}`,
        value: `{"In":${i % 97},"Out":${i % 89}}`,
      },
    });
    if (ops.length === 100) await flush();
  }
  for (let h = 0; h < hosts; h++) {
    ops.push({
      put: {
        key: `/sshproxy/hosts/server${h}:22`,
        value: `{"State":"up","Ts":"${formatRfc3339Nano(base, 120)}"}`,
      },
    });
  }
  await flush();
  store.close();
  const writeMs = performance.now() - writeStart;

  const install = await new Deno.Command("bash", {
    args: [`${root}/scripts/install.sh`, "--prefix", prefix],
    stdout: "null",
  }).output();
  if (!install.success) throw new Error("install.sh failed");
  const config = `${prefix}/sshproxy.yaml`;
  await Deno.writeTextFile(
    config,
    `etcd:\n  endpoints: ["${etcd.endpoint}"]\n`,
  );
  const ctl = [`${prefix}/bin/sshproxyctl`, "-c", config];
  const etcdctl = ["/usr/bin/etcdctl", `--endpoints=${etcd.endpoint}`];

  const figures: [string, number][] = [
    [
      "baseline: etcdctl get --prefix /sshproxy/connections/ -w json",
      await median([
        ...etcdctl,
        "get",
        "--prefix",
        "/sshproxy/connections/",
        "-w",
        "json",
      ]),
    ],
    ["sshproxyctl version (start-up only)", await median([...ctl, "version"])],
    [
      "sshproxyctl show connections",
      await median([...ctl, "show", "connections"]),
    ],
    [
      "sshproxyctl show -json connections",
      await median([...ctl, "show", "-json", "connections"]),
    ],
    [
      "sshproxyctl show -all -json connections",
      await median([...ctl, "show", "-all", "-json", "connections"]),
    ],
    ["sshproxyctl show hosts", await median([...ctl, "show", "hosts"])],
    // One NSS look-up (`id`) per distinct user: 500 users here.
    [
      "sshproxyctl show -json users (500 distinct users)",
      await median([...ctl, "show", "-json", "users"]),
    ],
  ];
  console.log(
    `${count} connection keys, ${hosts} hosts (written in ${
      Math.round(writeMs)
    } ms); median of ${runs} runs:`,
  );
  const baseline = figures[0][1];
  for (const [name, ms] of figures) {
    console.log(
      `  ${name.padEnd(64)} ${String(Math.round(ms)).padStart(6)} ms  (${
        (ms / baseline).toFixed(2)
      }x baseline)`,
    );
  }
} finally {
  await etcd.stop();
  await Deno.remove(prefix, { recursive: true });
}
