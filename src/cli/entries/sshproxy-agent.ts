// The `sshproxy-agent` face as a module of its own: scripts/bundle.sh builds it
// into app/sshproxy-agent.js, which the installed launcher runs for the name
// `sshproxy-agent`; main.ts imports it for every other way in.
import * as face from "../agent.ts";
import { runAsMain } from "../launch.ts";

/** Runs the face; resolves to the exit status. */
export const run = face.run;

if (import.meta.main) await runAsMain(face, "sshproxy-agent");
