// The `sshproxy-agent` face: `sshproxy-agent [-version] [CONFIG]`, one
// long-lived process per gateway, run by its own unprivileged account
// (config/sshproxy-agent.service). See sshproxy-agent(8) and
// src/agent/daemon.ts.
import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { formatLogLine } from "../log/format.ts";
import { startAgent } from "../agent/daemon.ts";
import { startSystemHelper } from "../agent/helper.ts";
import { PROXY_VARIABLES } from "../net/direct_http_client.ts";
import { VERSION } from "../version.ts";
import { type FlagSpec, formatFlagDefaults, parseGoFlags } from "./go_flags.ts";
import { printErr } from "./output.ts";
import { agentNeeds, keepOnly } from "./permissions.ts";

const FLAGS: FlagSpec[] = [{
  name: "version",
  kind: "bool",
  help: "show version number and exit",
}];

const STOP_SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT"];

/** Runs the agent until SIGTERM/SIGINT; returns the exit status. */
export async function run(
  args: string[],
  programName: string,
): Promise<number> {
  const name = programName.split("/").pop() ?? "sshproxy-agent";
  const usage = `usage: ${name} [config]\n${formatFlagDefaults(FLAGS)}`;
  const flags = parseGoFlags(args, FLAGS);
  if (!flags.ok) {
    printErr(`${flags.error}\n${usage}`);
    return 2;
  }
  if (flags.value.helpRequested) {
    printErr(usage);
    return 2;
  }
  if (flags.value.values.get("version") === true) {
    printErr(`sshproxy-agent version ${VERSION}\n`);
    return 0;
  }
  if (flags.value.rest.length > 1) {
    printErr(`too many arguments\n${usage}`);
    return 2;
  }
  const configPath = flags.value.rest[0] ?? DEFAULT_CONFIG_PATH;
  const uid = Deno.uid();
  if (uid === 0) {
    printErr(
      "sshproxy-agent: refusing to run as root: run it as its own account (see sshproxy-agent(8), config/sshproxy-agent.service)\n",
    );
    return 1;
  }
  const helper = startSystemHelper();
  if (!helper.ok) {
    printErr(`sshproxy-agent: ${helper.error}\n`);
    return 1;
  }
  // Deno's HTTP clients read proxy variables from the environment by
  // themselves; the agent's etcd traffic goes direct, always.
  for (const name of PROXY_VARIABLES) Deno.env.delete(name);
  // From here on the agent starts no program, reads no environment.
  await keepOnly(agentNeeds());
  const started = await startAgent({
    configPath,
    helper: helper.value,
    uid: uid ?? -1,
    log: (level, message, sessionId) =>
      printErr(formatLogLine(new Date(), level, sessionId ?? "agent", message)),
  });
  if (!started.ok) {
    printErr(`sshproxy-agent: ${started.error}\n`);
    await helper.value.close();
    return 1;
  }
  const stop = Promise.withResolvers<number>();
  const onSignal = () => stop.resolve(0);
  started.value.failed.then((reason) => {
    printErr(
      formatLogLine(new Date(), "CRITICAL", "agent", `${reason}: stopping`),
    );
    stop.resolve(1);
  });
  // SIGHUP (systemctl reload): look at the configuration file now.
  const onReload = () => void started.value.reload();
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);
  Deno.addSignalListener("SIGHUP", onReload);
  let status = 0;
  try {
    status = await stop.promise;
  } finally {
    for (const signal of STOP_SIGNALS) {
      Deno.removeSignalListener(signal, onSignal);
    }
    Deno.removeSignalListener("SIGHUP", onReload);
    await started.value.stop();
    await helper.value.close();
  }
  return status;
}
