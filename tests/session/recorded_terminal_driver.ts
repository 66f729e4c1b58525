// Run inside a real terminal (a tmux pane) by recorded_terminal_test.ts:
// records `argv` under script(1) the way the proxy does, into DUMP, then
// writes `status=<code>` and the log lines to DUMP.out.
//
//   deno run -A recorded_terminal_driver.ts DUMP [--terminate-after MS] -- ARGV...
import { Recorder } from "../../src/record/recorder.ts";
import { startScriptedSsh } from "../../src/session/terminal_recording.ts";

const [dump, ...rest] = Deno.args;
const separator = rest.indexOf("--");
const flags = rest.slice(0, separator);
const argv = rest.slice(separator + 1);
const terminateAfter = flags[0] === "--terminate-after"
  ? Number(flags[1])
  : undefined;
const lines: string[] = [];
const log = (level: string, message: string) =>
  lines.push(`${level} ${message}`);
const recorder = Recorder.start({
  target: dump,
  session: {
    user: "tester",
    command: argv.join(" "),
    clientIp: "192.0.2.10",
    clientPort: 54321,
    sshdIp: "192.0.2.1",
    sshdPort: 22,
    startNs: 1714634103041527381n,
  },
  log,
});
const ssh = await startScriptedSsh({ argv, recorder, log });
let code: number;
let signal = "";
if ("unavailable" in ssh) {
  lines.push(`unavailable ${ssh.unavailable}`);
  code = -1;
} else {
  const status = terminateAfter === undefined
    ? await ssh.status
    : await new Promise<Awaited<typeof ssh.status>>((resolve) => {
      setTimeout(() => resolve(ssh.terminate(500)), terminateAfter);
    });
  code = status.code;
  signal = status.signal ?? "";
}
await recorder.close();
await Deno.writeTextFile(
  `${dump}.out`,
  [`status=${code}`, `signal=${signal}`, ...lines].join("\n") + "\n",
);
Deno.exit(0);
