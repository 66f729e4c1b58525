#!/usr/bin/env bash
# `deno task build`: compiles the program into ONE executable, dist/sshproxy,
# from the same prebuilt modules the launcher runs (scripts/bundle.sh):
# app/main.js, which picks the face by argv[0] or the first argument, and
# the five face modules it loads. Install it with
# `scripts/install.sh --prefix DIR --binary dist/sshproxy`, which puts it
# behind a wrapper script (the user's DENO_*, NODE_OPTIONS and
# SSLKEYLOGFILE cleared, and the proxy's hand-off to ssh, sshproxy(8)). Same permission list as the launcher
# (scripts/runtime_flags.sh, with the V8 flags of a run without a code
# cache), no prompts. deno compile needs Deno's
# runtime base binary (denort); it downloads it unless DENORT_BIN points to
# one (offline builds). Where the download is impossible, say so in one
# line and fail, never hang.
#
# No V8 code cache (--no-code-cache): a compiled binary keeps its cache in
# $TMPDIR/deno-compile-<name>.cache, one file shared by every user who
# runs it; whoever writes it first (any local user) would choose the code
# every later login runs.
#
#   DENORT_BIN=/path/to/denort deno task build
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deno=scripts/toolchain/node_modules/deno/deno
[ -x "$deno" ] || bash scripts/setup.sh >/dev/null || exit 1
# shellcheck source=scripts/runtime_flags.sh
. scripts/runtime_flags.sh
version=$(sed -n 's/^export const VERSION = "\(.*\)";/\1/p' src/version.ts)
if [ -n "${DENORT_BIN:-}" ] && [ ! -x "$DENORT_BIN" ]; then
  echo "build: DENORT_BIN=$DENORT_BIN is not an executable file (expected the denort binary of deno $("$deno" --version | head -n1 | cut -d' ' -f2))" >&2
  exit 1
fi
rm -rf dist/build
bash scripts/bundle.sh dist/build || exit 1 # bundle.sh said why, in one line
log=$(mktemp)
includes=()
# Every module of the split build: faces and their chunks (bundle.sh).
for module in dist/build/app/*.js; do
  [ "$module" = dist/build/app/main.js ] || includes+=(--include "$module")
done
# shellcheck disable=SC2086 # the permission flags are meant to split
if timeout 300 "$deno" compile --no-prompt --quiet --no-code-cache --config deno.json \
  ${compiled_v8_flags:+--v8-flags=$compiled_v8_flags} $permission_flags "${includes[@]}" \
  --output dist/sshproxy dist/build/app/main.js >"$log" 2>&1; then
  rm -f "$log"
  echo "build: dist/sshproxy $version ($(du -h dist/sshproxy | cut -f1)); install it with scripts/install.sh --prefix DIR --binary dist/sshproxy"
  exit 0
fi
if grep -qiE "dns error|failed to lookup|error sending request|download" "$log"; then
  echo "build: deno compile cannot download its runtime (denort) from this machine; set DENORT_BIN=/path/to/denort for an offline build" >&2
else
  echo "build: deno compile failed: $(grep -m1 -iE 'error' "$log" || head -n1 "$log")" >&2
fi
rm -f "$log"
exit 1
