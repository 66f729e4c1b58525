// Starting ssh for a session, with or without a recorder (spec §5.14, §8.1):
//
// | stdout terminal? | recorder? | here                                      |
// | --- | --- | --- |
// | any | no  | ssh inherits stdio (processes.ts), no byte passes through us |
// | no  | yes | three pipes, copyRecorded: stdin → ssh (fd 0, EOF passed on), ssh stdout → stdout (fd 1), ssh stderr → stderr (fd 2) |
// | yes | yes | ssh under script(1), which owns the pty (terminal_recording.ts) |
//
// A recorder exists iff the effective `dump` (after `disable_dump`) is
// non-empty, whatever the target (`etcd` only counts). Unlike the
// reference (§12.2 item 21), the session's status is reported only once
// the output that ssh wrote before exiting has reached the user and the
// recorder (bounded wait), and `close()` then ends the recording, which
// logs the final statistics line. Target errors (unwritable path,
// unreachable collector) are the recorder's business: one log line, the
// session goes on.
import type { Config } from "../config/types.ts";
import type { Level } from "../log/format.ts";
import { copyRecorded, type Sink } from "../record/copy.ts";
import { Recorder } from "../record/recorder.ts";
import {
  delay,
  type ExitStatus,
  spawnError,
  type SshProcess,
  startSsh,
  statusOf,
  superviseSsh,
} from "./processes.ts";
import type { SshConnection } from "./ssh_connection.ts";
import { scriptUnavailable, startScriptedSsh } from "./terminal_recording.ts";

/** What the session knows when it starts ssh. */
export interface RecordedSshInput {
  /** The ssh argv (SshCommand.argv). */
  argv: string[];
  /** The effective dump target (SshCommand.dump); "" = no recorder. */
  dump: string;
  /** The dump header's command (SshCommand.command). */
  command: string;
  stdoutIsTerminal: boolean;
  user: string;
  connection: SshConnection;
  /** The session start (the SID's), ns since the epoch. */
  startNs: bigint;
  config: Pick<
    Config,
    | "dumpLimitSize"
    | "dumpLimitWindow"
    | "logStatsInterval"
    | "etcdStatsInterval"
  >;
  log: (level: Level, message: string) => void;
}

/** The running ssh and the recording around it. */
export interface RecordedSession {
  ssh: SshProcess | { error: string };
  /** The recorder (its bandwidth() feeds etcd_stats_interval), if any. */
  recorder?: Recorder;
  /** Ends the recording (logs `bytes transferred (final step)`); call after ssh's status. Idempotent. */
  close(): Promise<void>;
}

/** Starts ssh as §5.14 says for this session. */
export async function startRecordedSsh(
  input: RecordedSshInput,
): Promise<RecordedSession> {
  const { argv, dump, log } = input;
  const unrecorded = () => ({ ssh: startSsh(argv), close: async () => {} });
  if (dump === "") return unrecorded();
  if (input.stdoutIsTerminal) {
    // Checked first: without script(1) no dump is started at all (an
    // empty dump would read as a session that showed nothing).
    const why = await scriptUnavailable();
    if (why !== undefined) {
      log("ERROR", `${TERMINAL_OFF}: ${why}`);
      return unrecorded();
    }
  }
  const recorder = Recorder.start({
    target: dump,
    session: {
      user: input.user,
      command: input.command,
      clientIp: input.connection.client.ip,
      clientPort: input.connection.client.port,
      sshdIp: input.connection.sshd.ip,
      sshdPort: input.connection.sshd.port,
      startNs: input.startNs,
    },
    dumpLimitSize: input.config.dumpLimitSize,
    dumpLimitWindowNs: input.config.dumpLimitWindow,
    logStatsIntervalNs: input.config.logStatsInterval,
    etcdStatsIntervalNs: input.config.etcdStatsInterval,
    log,
  });
  const close = () => recorder.close();
  if (!input.stdoutIsTerminal) {
    return { ssh: startPipedSsh(argv, recorder), recorder, close };
  }
  const scripted = await startScriptedSsh({
    argv,
    recorder,
    log,
    checked: true,
  });
  if (!("unavailable" in scripted)) return { ssh: scripted, recorder, close };
  log("ERROR", `${TERMINAL_OFF}: ${scripted.unavailable}`);
  return { ssh: startSsh(argv), recorder, close };
}

const TERMINAL_OFF =
  "session recording disabled: a terminal session is recorded through script(1)";

/** The session's own streams. */
export interface SessionStdio {
  stdin: ReadableStream<Uint8Array>;
  stdout: Sink;
  stderr: Sink;
}

/**
 * Starts ssh with three pipes and copies them through the recorder. The
 * status waits for ssh's stdout and stderr to reach their end (at most
 * `drainTimeoutMs` after ssh exits: a process ssh left behind may hold
 * them open). The stdin copy is not waited for: nobody may ever type again.
 */
export function startPipedSsh(
  argv: string[],
  recorder: Recorder,
  stdio: SessionStdio = {
    stdin: Deno.stdin.readable,
    stdout: Deno.stdout,
    stderr: Deno.stderr,
  },
  drainTimeoutMs = 5000,
): SshProcess | { error: string } {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    return { error: spawnError(argv[0], error) };
  }
  void copyRecorded(stdio.stdin, child.stdin, 0, recorder);
  // A user who went away (EPIPE on our side) must not leave ssh blocked
  // on a full pipe: its end is closed, ssh gets EPIPE in turn.
  const output = (
    source: ReadableStream<Uint8Array>,
    sink: Sink,
    fd: 1 | 2,
  ) =>
    copyRecorded(source, sink, fd, recorder).then(async (result) => {
      if (result.error !== undefined) await source.cancel().catch(() => {});
    });
  const outputs = Promise.all([
    output(child.stdout, stdio.stdout, 1),
    output(child.stderr, stdio.stderr, 2),
  ]);
  const status = (async (): Promise<ExitStatus> => {
    const raw = await child.status;
    // Past the bound the copies go on unwatched; the process exit ends them.
    await Promise.race([outputs, delay(drainTimeoutMs)]);
    return statusOf(raw);
  })();
  return superviseSsh(child, status);
}
