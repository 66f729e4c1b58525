// What a login spends inside the gateway, stamped by the login itself: the
// latency phase's ForceCommands note when they start and end, the gateway's
// ssh client (through a wrapper every path runs) when it starts, and the
// destination's command when it ends, all with bash's $EPOCHREALTIME on
// the one machine's clock. So each login gives
//   to ssh:    ForceCommand start -> the gateway's ssh client start
//   after ssh: the destination's command end -> the ForceCommand's end
// which hold everything the proxy adds to a login and nothing of what all
// paths share (the client, the gateway sshd's key exchange and
// authentication, ssh's own connection to the destination): the part of a
// 450 ms login that differs between paths, measured without the noise of
// the rest, which at 50 logins per path is larger than the 8-10 ms the
// issues' targets ask the bench to tell apart.
/** Where one run's stamps are written. */
export interface StampFiles {
  /** World-writable directory holding every path's stamps. */
  dir: string;
  /** The ssh every path runs: notes its start when asked, then is /usr/bin/ssh. */
  sshWrapper: string;
  /** The command the latency phase's logins run at the destination. */
  destinationCommand: string;
}

/** One login's stamps, in ms. */
export interface LoginStamps {
  toSshMs: number;
  afterSshMs: number;
}

const DESTINATION_END = "destination-end";

/** Writes the ssh wrapper into `dir` (world-writable, made by the caller). */
export async function prepareStamps(dir: string): Promise<StampFiles> {
  const sshWrapper = `${dir}/ssh`;
  await Deno.writeTextFile(
    sshWrapper,
    [
      "#!/bin/bash",
      "# The bench's ssh (scripts/bench/stamps.ts): notes when it started",
      "# for the latency phase, then is ssh.",
      'if [ -n "${BENCH_STAMP_DIR-}" ]; then',
      '  printf "%s\\n" "$EPOCHREALTIME" > "$BENCH_STAMP_DIR/ssh" 2>/dev/null',
      "fi",
      'exec /usr/bin/ssh "$@"',
      "",
    ].join("\n"),
  );
  await Deno.chmod(sshWrapper, 0o755);
  return {
    dir,
    sshWrapper,
    // Run by the test user's shell (bash) at the destination.
    destinationCommand:
      `printf '%s\\n' "$EPOCHREALTIME" > ${dir}/${DESTINATION_END}`,
  };
}

/**
 * The latency gateway's ForceCommand for path `id` (run by the test
 * user's bash): stamps, `command` as a child (its own `exec` dropped, so
 * that its end is seen), stamps again, and exits as `command` did.
 */
export function stampedForceCommand(
  files: StampFiles,
  id: string,
  command: string,
): string {
  const stampDir = `${files.dir}/${id}`;
  const child = command.replace(/^exec\s+/, "");
  return [
    `export BENCH_STAMP_DIR=${stampDir}`,
    `printf '%s\\n' "$EPOCHREALTIME" > ${stampDir}/start`,
    child,
    "status=$?",
    `printf '%s\\n' "$EPOCHREALTIME" > ${stampDir}/end`,
    "exit $status",
  ].join("; ");
}

/** Makes `id`'s stamp directory (world-writable: the test user writes it). */
export async function prepareStampDir(
  files: StampFiles,
  id: string,
): Promise<void> {
  const stampDir = `${files.dir}/${id}`;
  await Deno.mkdir(stampDir, { recursive: true });
  await Deno.chmod(stampDir, 0o1777);
}

const STAMP_NAMES = ["start", "ssh", "end"] as const;

/** Removes `id`'s stamps and the destination's (before a login). */
export async function clearStamps(
  files: StampFiles,
  id: string,
): Promise<void> {
  for (
    const path of [
      ...STAMP_NAMES.map((name) => `${files.dir}/${id}/${name}`),
      `${files.dir}/${DESTINATION_END}`,
    ]
  ) {
    await Deno.remove(path).catch(() => {});
  }
}

/** $EPOCHREALTIME's text (seconds, `.` or a locale's `,`) in ms; undefined if it is not one. */
export function parseEpochRealtime(text: string): number | undefined {
  const match = /^(\d+)[.,](\d{6})\s*$/.exec(text);
  return match ? Number(match[1]) * 1000 + Number(match[2]) / 1000 : undefined;
}

/** One login's figures from its four stamps (ms since the epoch). */
export function loginStamps(stamps: {
  start: number;
  ssh: number;
  destinationEnd: number;
  end: number;
}): LoginStamps | string {
  const { start, ssh, destinationEnd, end } = stamps;
  if (!(start <= ssh && ssh <= destinationEnd && destinationEnd <= end)) {
    return `stamps out of order (start ${start}, ssh ${ssh}, destination end ${destinationEnd}, end ${end})`;
  }
  return { toSshMs: ssh - start, afterSshMs: end - destinationEnd };
}

/** Reads `id`'s stamps after a login; a reason when one is missing or wrong. */
export async function readStamps(
  files: StampFiles,
  id: string,
): Promise<LoginStamps | string> {
  const stampDir = `${files.dir}/${id}`;
  const times: number[] = [];
  for (
    const path of [
      `${stampDir}/start`,
      `${stampDir}/ssh`,
      `${files.dir}/${DESTINATION_END}`,
      `${stampDir}/end`,
    ]
  ) {
    const text = await Deno.readTextFile(path).catch(() => "");
    const ms = parseEpochRealtime(text);
    if (ms === undefined) {
      return `path ${id}'s login left no time in ${path} (${
        text === "" ? "missing" : JSON.stringify(text)
      })`;
    }
    times.push(ms);
  }
  const [start, ssh, destinationEnd, end] = times;
  const figures = loginStamps({ start, ssh, destinationEnd, end });
  return typeof figures === "string" ? `path ${id}: ${figures}` : figures;
}
