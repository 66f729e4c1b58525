// Entry point of `deno run main.ts ...` and of the compiled binary: picks
// the face by the name it was invoked as (a symlink) or by its first
// argument, then loads that face's module and nothing of the other three.
// The installed launcher does this choice itself for the four command
// names and runs the face's prebuilt module directly (scripts/install.sh).
import { chooseFace, type Face, PROGRAM_NAMES } from "./src/cli/dispatch.ts";
import { type FaceModule, invokedAs } from "./src/cli/launch.ts";

// Built by scripts/bundle.sh, this module is app/main.js and each face is
// a prebuilt module beside it (app/sshproxy.js, ...); from the sources the
// faces are the entry modules under src/cli/entries/.
function faceModuleUrl(face: Face): string {
  const name = PROGRAM_NAMES[face];
  const prebuilt = import.meta.url.endsWith(".js");
  const path = prebuilt ? `./${name}.js` : `./src/cli/entries/${name}.ts`;
  return new URL(path, import.meta.url).href;
}

// Imported (install.sh fills Deno's code cache that way), it does nothing.
if (import.meta.main) {
  const choice = chooseFace(await invokedAs(), Deno.args);
  if ("usage" in choice) {
    await Deno.stderr.write(new TextEncoder().encode(choice.usage));
    Deno.exit(2);
  }
  const { face, args, programName } = choice;
  const faceModule: FaceModule = await import(faceModuleUrl(face));
  Deno.exit(await faceModule.run(args, programName));
}
