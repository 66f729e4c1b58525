// One proxied session, start to end (spec §5.4): identity, configuration,
// logging, routing (with etcd when configured, src/session/shared_state.ts),
// ssh with or without a recorder, clean-up. The order is the reference's
// except that every check that can refuse
// the session (command_must_match, SSHPROXY_ARGS) runs before anything
// with a side effect (blocking command, background command), where the
// reference checks them last (spec §12.2 item 18).
import {
  matchesGroups,
  readConfigFile,
  resolveForSession,
} from "../config/load.ts";
import { splitHostPort } from "../config/host_port.ts";
import type { Config } from "../config/types.ts";
import {
  formatRfc3339Nano,
  localOffsetMinutes,
  nowNanoseconds,
} from "../format/time.ts";
import type { Level } from "../log/format.ts";
import { type Logger, openLogger } from "../log/logger.ts";
import { ok, type Result } from "../result.ts";
import {
  currentUserFromFiles,
  lookupIdentity,
  type UserIdentity,
} from "../system/identity.ts";
import { preloadProcessApi } from "../system/process_api.ts";
import { every } from "../system/timers.ts";
import { TRUSTED_DIRECTORIES } from "../system/trusted_path.ts";
import { loadServices } from "../system/network_names.ts";
import { commandArgv } from "./command_line.ts";
import { sessionEnvironment } from "./environment.ts";
import {
  needsKeyParser,
  originalCommand,
  readUserAuth,
} from "./original_command.ts";
import {
  delay,
  type ExitStatus,
  runBlockingCommand,
  type SshProcess,
  startBackgroundCommand,
  startSsh,
} from "./processes.ts";
import type { RecordedSession } from "./recorded_ssh.ts";
import { buildSshCommand, type SshCommand } from "./ssh_command.ts";
import { parseSshConnection, type SshConnection } from "./ssh_connection.ts";
import { silentDestination } from "./silent_destination.ts";
import { sessionId as computeSessionId } from "../log/session_id.ts";
import { routeSession } from "./shared_state.ts";
import type { AgentSession } from "./agent_client.ts";
import {
  findsExecutable,
  HANDOFF_STATUS,
  handoffBlockers,
  type OfferClaim,
  planText,
} from "./handoff.ts";

/** What a session reads from its process: passed in so the flow has no hidden inputs. */
export interface SessionInputs {
  configPath: string;
  env: (name: string) => string | undefined;
  stdoutIsTerminal: boolean;
  /** Writes a line to the session's stdout (the error banner). */
  writeStdout(text: string): void;
  /** Writes a line to the session's stderr (messages for the user). */
  writeStderr(text: string): void;
  /** The launcher's plan file, when it offered one (src/session/handoff.ts). */
  handoff: OfferClaim;
  /** Whether sshd, which started the session, is gone. */
  parentGone(): boolean;
}

/** A fatal error before logging exists: one line for stderr and the exit status. */
class Refusal {
  constructor(readonly message: string, readonly status = 1) {}
}

/** Runs the whole session; returns the exit status for the process. */
export async function runSession(inputs: SessionInputs): Promise<number> {
  const startNs = nowNanoseconds();
  const prepared = await prepare(inputs, startNs);
  if (prepared instanceof Refusal) {
    inputs.writeStderr(`sshproxy: ${prepared.message}\n`);
    return prepared.status;
  }
  const { logger } = prepared;
  try {
    return await proxy(inputs, prepared, startNs);
  } finally {
    await logger.close();
  }
}

interface Prepared {
  user: string;
  uid: number;
  sessionId: string;
  connection: SshConnection;
  config: Config;
  logger: Logger;
  log: (level: Level, message: string) => void;
}

async function prepare(
  inputs: SessionInputs,
  startNs: bigint,
): Promise<Prepared | Refusal> {
  // The user's name without a process when /etc/passwd answers NSS first;
  // else from `id` (NSS), which runs while the configuration is read and
  // parsed. The refusals keep their order: user, SSH_CONNECTION, file.
  const fromFiles = currentUserFromFiles();
  const looking = fromFiles === undefined ? lookupIdentity() : undefined;
  const reading = readConfigFile(inputs.configPath);
  let identity: UserIdentity | undefined;
  if (looking !== undefined) {
    const looked = await looking;
    if (!looked.ok) {
      return new Refusal(`Cannot find current user: ${looked.error}`);
    }
    identity = looked.value;
  }
  const connection = parseSshConnection(inputs.env("SSH_CONNECTION"));
  if (!connection.ok) {
    return new Refusal(
      `${connection.error} (this program runs as sshd's ForceCommand, which sets it)`,
    );
  }
  const user = fromFiles ?? identity?.user ?? "";
  const sessionId = computeSessionId(
    user,
    connection.value.clientAddress,
    startNs,
  );
  const parsed = await reading;
  if (!parsed.ok) return new Refusal(parsed.error);
  if (identity === undefined && matchesGroups(parsed.value)) {
    const looked = await lookupIdentity();
    if (!looked.ok) {
      return new Refusal(`Cannot find current user: ${looked.error}`);
    }
    identity = looked.value;
  }
  const sshd = splitHostPort(connection.value.sshdAddress, loadServices());
  if (!sshd.ok) {
    return new Refusal(`sshdHostPort: invalid address: ${sshd.error}`);
  }
  const resolved = await resolveForSession(parsed.value, {
    user,
    groups: new Set(identity?.groups ?? []),
    sshd: sshd.value,
    sessionId,
    startTime: formatRfc3339Nano(startNs, localOffsetMinutes(startNs)),
  });
  if (!resolved.ok) {
    return new Refusal(`${inputs.configPath}: ${resolved.error}`);
  }
  const config = resolved.value.config;
  const logger = openLogger(config.log, config.debug, sessionId);
  if (!logger.ok) return new Refusal(logger.error);
  const log = (level: Level, message: string) =>
    logger.value.log(level, message);
  // DEBUG lines are only computed (and their code loaded) when they are
  // written.
  if (config.debug) {
    const [{ configListing }, { describeUnknownKeys }] = await Promise.all([
      import("../config/listing.ts"),
      import("../config/unknown_keys.ts"),
    ]);
    for (const line of configListing(config)) log("DEBUG", line);
    for (const line of describeUnknownKeys(parsed.value.unknownKeys)) {
      log("DEBUG", `${inputs.configPath}: ${line}`);
    }
  }
  for (const warning of resolved.value.warnings) log("WARNING", warning);
  if (config.debug && identity && identity.unnamedGroupIds.length > 0) {
    log(
      "DEBUG",
      `group IDs without a name ignored: ${identity.unnamedGroupIds.join(" ")}`,
    );
  }
  return {
    user,
    uid: identity?.uid ?? Deno.uid() ?? -1,
    sessionId,
    connection: connection.value,
    config,
    logger: logger.value,
    log,
  };
}

async function proxy(
  inputs: SessionInputs,
  prepared: Prepared,
  startNs: bigint,
): Promise<number> {
  const { config, connection, log, user } = prepared;
  log(
    "INFO",
    `${user} connected from ${connection.clientAddress} to sshd listening on ${connection.sshdAddress}`,
  );

  const userAuth = await readUserAuth(inputs.env("SSH_USER_AUTH"));
  const original = originalCommand(
    userAuth,
    inputs.env("SSH_ORIGINAL_COMMAND") ?? "",
    needsKeyParser(userAuth)
      ? (await import("./authorized_key.ts")).parseAuthorizedKey
      : undefined,
  );
  for (const warning of original.warnings) log("WARNING", warning);
  log("DEBUG", original.debugLine);
  log("DEBUG", `interactiveCommand = ${inputs.stdoutIsTerminal}`);
  const commandInput = {
    config,
    originalCommand: original.command,
    sshproxyArgs: inputs.env("SSHPROXY_ARGS") ?? "",
    stdoutIsTerminal: inputs.stdoutIsTerminal,
  };
  // Refuse before any side effect; the destination does not change the verdict.
  const verdict = buildSshCommand({
    ...commandInput,
    destination: { host: "destination", port: 22 },
  });
  if (!verdict.ok) {
    log("ERROR", `error executing proxied ssh command: ${verdict.error}`);
    inputs.writeStderr(`sshproxy: ${verdict.error}\n`);
    await tellAgent(prepared, verdict.error);
    return 1;
  }
  const blockingParsed = optionalArgv(
    "blocking_command",
    config.blockingCommand,
  );
  const backgroundParsed = optionalArgv("bg_command", config.bgCommand);
  if (!blockingParsed.ok || !backgroundParsed.ok) {
    const error = !blockingParsed.ok
      ? blockingParsed.error
      : !backgroundParsed.ok
      ? backgroundParsed.error
      : "";
    log("CRITICAL", `${error} (expected a command line, or remove the key)`);
    inputs.writeStderr(
      "sshproxy: the gateway is misconfigured, please contact its administrators\n",
    );
    return 1;
  }
  const blockingArgv = blockingParsed.value;
  const backgroundArgv = backgroundParsed.value;
  // Whether the session may end with its ssh in place of our process;
  // the routing below may still add a reason not to.
  const handoffBlocked = config.handoff
    ? handoffBlockers({
      dump: verdict.value.dump,
      bgCommand: config.bgCommand,
      etcd: config.etcd.endpoints.length > 0,
      agent: config.agent.socket !== "",
      environment: [...config.environment],
    })
    : undefined;

  // A session that will most likely hand off never starts a process: it
  // need not load Deno's process API while it routes.
  const expectsHandoff = handoffBlocked?.length === 0 &&
    inputs.handoff.offer !== undefined && blockingArgv.length === 0;

  // Made only for a process that runs something: checking that sshd still
  // lives loads Deno's process API (Deno.kill), which a session that hands
  // off never needs.
  let cancellation: Cancellation | undefined;
  const cancellable = () =>
    cancellation ??= startCancellation(log, inputs.parentGone);
  // What starting ssh needs, prepared while etcd, the agent or a live
  // check answers (the process API ~2.7 ms, the signal listeners ~0.5 ms
  // of the main thread, measured): a signal during that wait then ends the
  // session cleanly after routing, withdrawing what it registered.
  const prepareToRun = () => {
    preloadProcessApi();
    cancellable();
  };
  const nothing = () => {};
  // A routed session that ends before ssh starts stops its cancellation.
  const refused = async (status: number) => {
    await cancellation?.end();
    return status;
  };

  // Spec §5.4 steps 6-8 and 12: etcd, max_connections_per_user, the
  // destination, the registration; decided by the gateway's agent when one
  // is configured and answers.
  const agentRouted = await askAgent(
    inputs,
    prepared,
    expectsHandoff ? nothing : prepareToRun,
  );
  const routed = agentRouted ?? await routeSession({
    config,
    user,
    log,
    writeStdout: inputs.writeStdout,
    writeStderr: inputs.writeStderr,
    sshd: connection.sshdAddress,
    // Registered by itself, a session with etcd does not hand off.
    prepareToRun: !expectsHandoff || config.etcd.endpoints.length > 0
      ? prepareToRun
      : nothing,
    registerLater: true,
  });
  if ("status" in routed) return await refused(routed.status);
  const { destination, shared } = routed;
  if (agentRouted === undefined && shared !== undefined) {
    handoffBlocked?.push(
      "it registered itself in etcd (the agent did not route it)",
    );
  }
  const split = splitHostPort(destination, loadServices());
  if (!split.ok) {
    log(
      "CRITICAL",
      `Invalid destination '${destination}': ${split.error}`,
    );
    await shared?.close(); // registered already: withdraw
    return await refused(1);
  }
  const built = buildSshCommand({ ...commandInput, destination: split.value });
  if (!built.ok) {
    await shared?.close();
    return await refused(1); // cannot happen: the same inputs passed above
  }
  const command: SshCommand = built.value;

  const environment = sessionEnvironment(
    Object.entries(Deno.env.toObject()),
    config.environment,
    ["SSHPROXY_ARGS"],
    TRUSTED_DIRECTORIES.join(":"),
  );
  for (const [name, value] of environment.toSet) Deno.env.set(name, value);
  for (const line of environment.debugLines) log("DEBUG", line);

  // Spec §6.3 (step 12): the session's own registration goes out once its
  // blocking command or its ssh starts (routeSession made it already when
  // max_connections_per_user ranked the login; the agent's is the agent's).
  const register = () =>
    void shared?.register(destination, connection.sshdAddress);
  let recording: RecordedSession | undefined;
  let handedOff = false;
  try {
    if (blockingArgv.length > 0) {
      register();
      const blocking = cancellable();
      blocking.watchParent();
      const status = await runBlockingCommand(
        blockingArgv,
        blocking.abortSignal(),
      );
      if ("error" in status) {
        log("ERROR", `error running blocking command: ${status.error}`);
        inputs.writeStderr(
          `sshproxy: cannot run the gateway's blocking command, please contact its administrators\n`,
        );
        return 1;
      }
      if (status.code !== 0) {
        log(
          "ERROR",
          `error running blocking command: ${describeStatus(status)}`,
        );
        return status.code;
      }
    }
    // Cancelled while the blocking command ran: nobody waits for ssh.
    if (cancellation?.cancelled) return 255;
    if (handoffBlocked !== undefined) {
      handedOff = await handOff({
        inputs,
        prepared,
        command,
        destination,
        blockers: handoffBlocked,
        environment: environment.toSet,
        agent: shared !== undefined && "sshStarted" in shared
          ? shared
          : undefined,
        startNs,
      });
      if (handedOff) return HANDOFF_STATUS;
    }
    // From here on signals and sshd's end cancel the session.
    cancellable();
    if (backgroundArgv.length > 0) {
      const started = startBackgroundCommand(
        backgroundArgv,
        config.debug
          ? (stream, line) => log("DEBUG", `bg_command.${stream}: ${line}`)
          : undefined,
      );
      if ("error" in started) {
        log("ERROR", `error running background command: ${started.error}`);
      } else {
        const cancellation = cancellable();
        cancellation.onCleanup(() => started.stop());
        started.status.then((status) => {
          if (!cancellation.ended && status.code !== 0) {
            log(
              "ERROR",
              `error running background command: exit status ${status.code}`,
            );
          }
        });
      }
    }
    for (const line of command.debugLines) log("DEBUG", line);
    log("INFO", `proxied to ${destination} (service: ${config.service})`);
    // Spec §5.14: inherited stdio, or recorded through pipes or script(1)
    // (the recorder's code is loaded only for a session it records).
    const sshStartMs = Date.now();
    recording = command.dump === ""
      ? { ssh: startSsh(command.argv), close: () => Promise.resolve() }
      : await (await import("./recorded_ssh.ts")).startRecordedSsh({
        argv: command.argv,
        dump: command.dump,
        command: command.command,
        stdoutIsTerminal: inputs.stdoutIsTerminal,
        user,
        connection,
        startNs,
        config,
        log,
      });
    const ssh = recording.ssh;
    if (!("error" in ssh)) register();
    // Spec §8.5: the recorder's bandwidth on the connection key.
    if (recording.recorder) shared?.publishStats(recording.recorder);
    if ("error" in ssh) {
      log("ERROR", `error executing proxied ssh command: ${ssh.error}`);
      return 255;
    }
    if (shared && "sshStarted" in shared) void shared.sshStarted(startNs);
    const status = await cancellable().run(ssh);
    if (status.code !== 0) {
      log(
        "ERROR",
        `error executing proxied ssh command: ${describeStatus(status)}`,
      );
      const silence = await silentDestination({
        status,
        elapsedMs: Date.now() - sshStartMs,
        connectTimeoutSeconds: command.connectTimeoutSeconds,
        destination,
        host: split.value.host,
        port: split.value.port,
      });
      if (silence) {
        log("ERROR", silence.log);
        inputs.writeStderr(`sshproxy: ${silence.user}\n`);
      }
    }
    return status.code;
  } finally {
    await cancellation?.end();
    await recording?.close();
    await shared?.close();
    // Handed off, the session goes on without us: its end is the agent's
    // to log, when it routed it (sshproxy(8), HAND-OFF).
    if (!handedOff) log("INFO", "disconnected");
  }
}

/** What handOff needs from the session. */
interface HandOff {
  inputs: SessionInputs;
  prepared: Prepared;
  command: SshCommand;
  destination: string;
  /** Why the session cannot be handed off (empty: it can). */
  blockers: string[];
  environment: [string, string][];
  /** The agent's session, when the agent routed it. */
  agent: AgentSession | undefined;
  startNs: bigint;
}

/**
 * Hands the session to the launcher (src/session/handoff.ts): writes the
 * plan and says so in the log. False when the session must go on here,
 * the reason logged at DEBUG.
 */
async function handOff(request: HandOff): Promise<boolean> {
  const { inputs, prepared, command } = request;
  const { config, log } = prepared;
  const claim = inputs.handoff;
  const blockers = [...request.blockers];
  if (claim.offer === undefined) {
    blockers.push(
      claim.problem ??
        "the launcher offered no plan file (sshproxy(8), HAND-OFF)",
    );
  }
  if (!findsExecutable(command.argv[0], Deno.env.get("PATH"))) {
    blockers.push(`ssh.exe ${JSON.stringify(command.argv[0])} is not found`);
  }
  const plan = planText(command.argv, request.environment);
  if (!plan.ok && blockers.length === 0) blockers.push(plan.error);
  // The agent's confirmation, read while the plan was prepared: a session
  // it withdrew registers itself, so it must stay.
  if (request.agent !== undefined && !(await request.agent.kept())) {
    blockers.push("the agent withdrew the route it gave");
  }
  if (blockers.length > 0 || claim.offer === undefined || !plan.ok) {
    log("DEBUG", `not handed off to ssh: ${blockers.join("; ")}`);
    return false;
  }
  const written = claim.offer.write(plan.value);
  if (!written.ok) {
    log(
      "ERROR",
      `cannot write the hand-off plan: ${written.error}; the session goes on through sshproxy`,
    );
    return false;
  }
  for (const line of command.debugLines) log("DEBUG", line);
  log(
    "INFO",
    `proxied to ${request.destination} (service: ${config.service})`,
  );
  log(
    "INFO",
    `handed off to ssh, pid ${claim.offer.launcherPid}: the end of the session is not logged here`,
  );
  // The agent's login latency: ssh starts as soon as we have exited.
  await request.agent?.sshStarted(request.startNs);
  return true;
}

// The agent client is loaded only on gateways that configure an agent.
async function askAgent(
  inputs: SessionInputs,
  prepared: Prepared,
  prepareToRun: () => void,
) {
  if (prepared.config.agent.socket === "") return undefined;
  const { routeThroughAgent } = await import("./agent_client.ts");
  return await routeThroughAgent({
    config: prepared.config,
    configPath: inputs.configPath,
    user: prepared.user,
    uid: prepared.uid,
    sshd: prepared.connection.sshdAddress,
    client: prepared.connection.clientAddress,
    sessionId: prepared.sessionId,
    // Under a launcher that may hand off, the session's process is the
    // launcher's: it lives as long as the session, whoever runs ssh.
    sessionPid: inputs.handoff.offer?.launcherPid,
    prepareToRun,
    log: prepared.log,
    writeStdout: inputs.writeStdout,
    writeStderr: inputs.writeStderr,
  });
}

async function tellAgent(prepared: Prepared, error: string): Promise<void> {
  if (prepared.config.agent.socket === "") return;
  const { commandRefusalOutcome, reportToAgent } = await import(
    "./agent_client.ts"
  );
  await reportToAgent(
    prepared.config,
    prepared,
    commandRefusalOutcome(error),
  );
}

// Go's *exec.ExitError text: `exit status N` or `signal: killed`.
const GO_SIGNAL_NAMES: Record<string, string> = {
  SIGHUP: "hangup",
  SIGINT: "interrupt",
  SIGKILL: "killed",
  SIGTERM: "terminated",
  SIGPIPE: "broken pipe",
  SIGQUIT: "quit",
};

function describeStatus(status: ExitStatus): string {
  if (status.signal === undefined) return `exit status ${status.code}`;
  return `signal: ${GO_SIGNAL_NAMES[status.signal] ?? status.signal}`;
}

function optionalArgv(key: string, command: string): Result<string[]> {
  return command === "" ? ok([]) : commandArgv(key, command);
}

const SIGNAL_NAMES: [Deno.Signal, string][] = [["SIGHUP", "hangup"], [
  "SIGTERM",
  "terminated",
], ["SIGINT", "interrupt"]];

/** Ends the session on SIGHUP/SIGTERM/SIGINT or when sshd (our parent) goes away. */
interface Cancellation {
  /** Whether the session's end has begun. */
  readonly ended: boolean;
  /** Whether the session is cancelled (signal or parent death). */
  readonly cancelled: boolean;
  /** A signal aborted when the session is cancelled (made on first call). */
  abortSignal(): AbortSignal;
  onCleanup(cleanup: () => Promise<void>): void;
  /** Starts watching sshd (once): run() does, and so must what runs before ssh. */
  watchParent(): void;
  /** Waits for ssh, or terminates it (SIGTERM, then SIGKILL after 500 ms) when cancelled. */
  run(ssh: SshProcess): Promise<ExitStatus>;
  end(): Promise<void>;
}

// A closure rather than a class: V8 compiles class members lazily, at
// every login (~0.4 ms here, measured), where functions are compiled with
// their module into the install's code cache (scripts/eager_compile.ts).
function startCancellation(
  log: (level: Level, message: string) => void,
  parentGone: () => boolean,
): Cancellation {
  const cleanups: (() => Promise<void>)[] = [];
  const listeners: [Deno.Signal, () => void][] = [];
  // A promise and a flag, not an AbortController: Deno compiles its
  // event and abort code at their first use, which was on the way to ssh
  // (only a blocking command needs an AbortSignal, made then).
  let markCancelled = () => {};
  const cancelled = new Promise<void>((resolve) => markCancelled = resolve);
  let controller: AbortController | undefined;
  const cancel = () => {
    if (cancellation.cancelled) return;
    cancellation.cancelled = true;
    markCancelled();
    controller?.abort();
  };
  for (const [signal, name] of SIGNAL_NAMES) {
    const listener = () => {
      log("INFO", `Got signal ${name}, exiting`);
      cancel();
    };
    Deno.addSignalListener(signal, listener);
    listeners.push([signal, listener]);
  }
  let watching = false;
  let stopWatching = () => {};
  // The reference only notices a re-parenting to PID 1; any change of
  // parent means sshd is gone (sub-reapers, containers), and so does
  // the end of a launcher that waits to hand off (src/cli/proxy.ts).
  const gone = () => {
    if (!parentGone()) return false;
    stopWatching();
    if (cancellation.cancelled) return true;
    log("WARNING", "SSH parent connection is dead");
    cancel();
    return true;
  };
  const cancellation = {
    ended: false,
    cancelled: false,
    abortSignal: function (): AbortSignal {
      if (controller === undefined) {
        controller = new AbortController();
        if (cancellation.cancelled) controller.abort();
      }
      return controller.signal;
    },
    onCleanup: (cleanup: () => Promise<void>) => {
      cleanups.push(cleanup);
    },
    // Not at creation: the first look and the timer (0.4 to 1 ms of the
    // main thread, measured) would come before ssh starts, on every
    // login's path; once ssh runs, they overlap ssh's own start. Gone
    // already (while the session was routed): cancelled at once. Else
    // every second, as the reference: each look wakes an idle session
    // (0.2 to 0.4 ms of CPU, measured), which 1,000 sessions pay together.
    watchParent: () => {
      if (watching || cancellation.ended) return;
      watching = true;
      if (!gone()) stopWatching = every(1000, () => void gone());
    },
    // Function expressions, not async arrows: V8 compiles those lazily.
    run: async function (ssh: SshProcess): Promise<ExitStatus> {
      cancellation.watchParent();
      const outcome = await Promise.race([
        ssh.status,
        cancelled.then(() => "cancelled" as const),
      ]);
      if (outcome !== "cancelled") return outcome;
      return await ssh.terminate(500);
    },
    end: async function (): Promise<void> {
      cancellation.ended = true;
      stopWatching();
      for (const [signal, listener] of listeners) {
        Deno.removeSignalListener(signal, listener);
      }
      // Without cleanups (no bg_command), no timer: its first use would
      // compile Deno's timer and abort code after ssh ended.
      if (cleanups.length === 0) return;
      await Promise.race([
        Promise.all(cleanups.map((cleanup) => cleanup())),
        delay(1000),
      ]);
    },
  };
  return cancellation;
}
