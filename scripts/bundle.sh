#!/usr/bin/env bash
# Builds the prebuilt program that the installed commands run
# (scripts/install.sh) and that the compiled binary is made of
# (scripts/build.sh), from the sources, offline:
#   OUT/app/sshproxy.js, sshproxyctl.js, sshproxy-dumpd.js, sshproxy-replay.js,
#       sshproxy-agent.js
#       one self-contained ES module per face (src/cli/entries/*.ts): a
#       login reads, compiles and keeps only the proxy's code;
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

bundle() { # ENTRY OUTPUT
  local flags=()
  for name in "${external[@]}"; do flags+=(--external "$name"); done
  if ! (cd "$root" && "$deno" bundle --quiet --platform deno --config deno.json \
    "${flags[@]}" -o "$2" "$1") >"$log" 2>&1; then
    echo "bundle: cannot build $2 from $1: $(grep -m1 -iE 'error' "$log" || head -n1 "$log")" >&2
    exit 1
  fi
}

for face in sshproxy sshproxyctl sshproxy-dumpd sshproxy-replay sshproxy-agent; do
  bundle "src/cli/entries/$face.ts" "$out/app/$face.js"
done
bundle main.ts "$out/app/main.js"

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
