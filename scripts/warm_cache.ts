// Fills Deno's caches (DENO_DIR) with every module the installed commands
// load; run by scripts/install.sh as the installer, with the launcher's
// flags, before scripts/seal_cache.ts seals them for readers.
//
// The modules are imported, not run: a face that runs ends with Deno.exit,
// which would cut short Deno's code cache writes (they finish after the
// module was compiled, asynchronously). Deno's own Node-compatibility
// modules, which the npm packages load, are cached the same way.
//
//   deno run FLAGS --config LIB/deno.json scripts/warm_cache.ts LIB/app
const [app] = Deno.args;
if (app === undefined) {
  console.error("usage: warm_cache.ts APP_DIR");
  Deno.exit(2);
}
const faces = [
  "main",
  "sshproxy",
  "sshproxyctl",
  "sshproxy-dumpd",
  "sshproxy-replay",
  "sshproxy-agent",
];
// The faces, then every chunk of the split build (scripts/bundle.sh): a
// chunk loaded on demand (the etcd client, the yaml package) is cached
// only if imported here.
const chunks = [...Deno.readDirSync(app)]
  .map((entry) => entry.name)
  .filter((name) => name.endsWith(".js"))
  .map((name) => name.slice(0, -3))
  .filter((name) => !faces.includes(name))
  .sort();
const modules = [...faces, ...chunks].map((name) =>
  new URL(`file://${app}/${name}.js`).href
);
// Each import stands alone: a module that fails to load is named, and the
// install stops (see install.sh).
for (const specifier of [...modules, "ssh2"]) {
  try {
    await import(specifier);
  } catch (error) {
    console.error(
      `warm_cache: cannot load ${specifier}: ${
        error instanceof Error ? error.message.split("\n")[0] : String(error)
      }`,
    );
    Deno.exit(1);
  }
}
// Deno writes code caches shortly after compiling: let those writes end.
await new Promise((resolve) =>
  AbortSignal.timeout(500).addEventListener("abort", resolve)
);
