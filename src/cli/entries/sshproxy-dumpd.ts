// The `sshproxy-dumpd` face as a module of its own: scripts/bundle.sh builds it
// into app/sshproxy-dumpd.js, which the installed launcher runs for the name
// `sshproxy-dumpd`; main.ts imports it for every other way in.
import * as face from "../dumpd.ts";
import { runAsMain } from "../launch.ts";

/** Runs the face; resolves to the exit status. */
export const run = face.run;

if (import.meta.main) await runAsMain(face, "sshproxy-dumpd");
