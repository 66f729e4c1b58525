// Entry point: only dispatches to one of the faces. Each face is
// imported on demand so a login pays only for the proxy's modules.
import { chooseFace } from "./src/cli/dispatch.ts";

async function invokedAs(): Promise<string> {
  // The installed launcher passes its own name (always setting the
  // variable); a compiled binary reads argv[0] (a symlink's name) from
  // Node's process object and ignores the variable, which sshd would pass
  // from the user with `AcceptEnv SSHPROXY_*` to choose another face.
  const fromLauncher = Deno.build.standalone
    ? undefined
    : Deno.env.get("SSHPROXY_ARGV0");
  if (fromLauncher) return fromLauncher;
  const { argv0 } = await import("node:process");
  return argv0;
}

const choice = chooseFace(await invokedAs(), Deno.args);
if ("usage" in choice) {
  await Deno.stderr.write(new TextEncoder().encode(choice.usage));
  Deno.exit(2);
}
const { face, args, programName } = choice;
const faceModule = face === "proxy"
  ? await import("./src/cli/proxy.ts")
  : face === "ctl"
  ? await import("./src/cli/ctl.ts")
  : face === "dumpd"
  ? await import("./src/cli/dumpd.ts")
  : face === "agent"
  ? await import("./src/cli/agent.ts")
  : await import("./src/cli/replay.ts");
Deno.exit(await faceModule.run(args, programName));
