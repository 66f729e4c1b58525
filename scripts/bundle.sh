#!/usr/bin/env bash
# Builds the prebuilt program that the installed commands run
# (scripts/install.sh) and that the compiled binary is made of
# (scripts/build.sh), from the sources, offline:
#   OUT/app/sshproxy.js, sshproxyctl.js, sshproxy-dumpd.js, sshproxy-replay.js,
#       sshproxy-agent.js
#       one ES module per face (src/cli/entries/*.ts), with its own
#       FACE.linked.js (what it loads before it runs) and FACE.*.js (what
#       it loads on demand; see below): a login reads, compiles and keeps
#       only the proxy's code, and of it only what it uses, in two modules;
#   OUT/app/main.js
#       main.ts's dispatcher (other names, `deno run`, compiled binary),
#       which loads one of the five modules above;
#   OUT/deno.json
#       the run-time configuration: deno.json's import map, for the npm
#       package left outside the modules (ssh2 loads native addons and
#       Node's module system; it is imported only by `health_check:
#       ssh-kex`), found in OUT/node_modules, which Deno must
#       not modify (nodeModulesDir "manual", no lock file).
# Any failure is one line naming what failed, and exit status 1.
#
#   scripts/bundle.sh OUT
set -uo pipefail
[ $# -eq 1 ] || {
  echo "usage: scripts/bundle.sh OUT" >&2
  exit 2
}
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
deno="$root/scripts/toolchain/node_modules/deno/deno"
[ -x "$deno" ] || {
  echo "bundle: $deno is missing (run scripts/setup.sh)" >&2
  exit 1
}
external=(ssh2)
mkdir -p "$out/app" || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

bundle() { # WHAT ARGS...
  local what=$1
  shift
  if ! (cd "$root" && NO_COLOR=1 "$deno" bundle --quiet --platform deno --config deno.json \
    "${flags[@]}" "$@") >"$log" 2>&1; then
    echo "bundle: cannot build $what: $(grep -m1 -iE 'error' "$log" || head -n1 "$log")" >&2
    exit 1
  fi
}
flags=()
for name in "${external[@]}"; do flags+=(--external "$name"); done
# Each face is built on its own, split: code that only a dynamic import
# reaches (the etcd client, the agent client, the `yaml` package for files
# the simple reader leaves to it, ClusterShell group files...) is a chunk
# of its own (app/FACE.NAME-*.js, app/FACE.chunk-*.js), loaded when used. A login
# loads app/sshproxy.js and what it imports statically: about 40% less
# code than one file. One build per face, not one for all: code shared by
# different sets of faces would be as many more chunks, each a module a
# login opens.
# The chunks a face loads before it runs are then joined into one module
# (scripts/link_chunks.ts says why).
staging=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$staging"' EXIT
for face in sshproxy sshproxyctl sshproxy-dumpd sshproxy-replay sshproxy-agent; do
  bundle "$out/app/$face.js from src/cli/entries/$face.ts" \
    --code-splitting --outdir "$staging/$face" "src/cli/entries/$face.ts"
  "$deno" run --no-config --quiet --allow-read --allow-write --allow-run \
    "$root/scripts/link_chunks.ts" "$deno" "$staging/$face" "$face" "$out/app" || exit 1
done
# The dispatcher imports a face by a computed URL: nothing to split.
bundle "$out/app/main.js from main.ts" -o "$out/app/main.js" main.ts
for name in sshproxy sshproxyctl sshproxy-dumpd sshproxy-replay sshproxy-agent main; do
  [ -f "$out/app/$name.js" ] || {
    echo "bundle: $out/app/$name.js was not built (deno bundle named its outputs otherwise?)" >&2
    exit 1
  }
done

# Every module minified (the others it imports left as they are): a
# session holds its modules' source as long as it lives (V8 compiles from
# it what it compiles lazily), at ~1.8 bytes of private memory per byte of
# source (measured: a module of 180 KB of comments idles 0.32 MiB above an
# empty one). Without --keep-names, which would rename every function
# again at every start (one Object.defineProperty each): nothing of ours
# reads a function's or class's `.name`, and no stack trace reaches a user.
modules=("$out"/app/*.js)
minify=(--minify)
for module in "${modules[@]}"; do minify+=(--external "./${module##*/}"); done
for module in "${modules[@]}"; do
  bundle "$module (minified)" "${minify[@]}" -o "$module.min" "$module"
  mv "$module.min" "$module" || exit 1
done

# deno.json's import map (it pins the external packages' versions).
"$deno" eval --no-config --quiet '
  const [source, target, ...names] = Deno.args;
  const imports = JSON.parse(Deno.readTextFileSync(source)).imports ?? {};
  const missing = names.filter((name) => !(name in imports));
  if (missing.length > 0) {
    console.error(`bundle: ${source} does not map ${missing.join(", ")}`);
    Deno.exit(1);
  }
  const runtime = { imports, nodeModulesDir: "manual", lock: false };
  Deno.writeTextFileSync(target, JSON.stringify(runtime, null, 2) + "\n");
' "$root/deno.json" "$out/deno.json" "${external[@]}" || exit 1
