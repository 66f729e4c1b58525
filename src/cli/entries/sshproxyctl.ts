// The `sshproxyctl` face as a module of its own: scripts/bundle.sh builds it
// into app/sshproxyctl.js, which the installed launcher runs for the name
// `sshproxyctl`; main.ts imports it for every other way in.
import * as face from "../ctl.ts";
import { runAsMain } from "../launch.ts";

/** Runs the face; resolves to the exit status. */
export const run = face.run;

if (import.meta.main) await runAsMain(face, "sshproxyctl");
