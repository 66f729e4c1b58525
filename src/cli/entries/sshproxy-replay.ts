// The `sshproxy-replay` face as a module of its own: scripts/bundle.sh builds it
// into app/sshproxy-replay.js, which the installed launcher runs for the name
// `sshproxy-replay`; main.ts imports it for every other way in.
import * as face from "../replay.ts";
import { runAsMain } from "../launch.ts";

/** Runs the face; resolves to the exit status. */
export const run = face.run;

if (import.meta.main) await runAsMain(face, "sshproxy-replay");
