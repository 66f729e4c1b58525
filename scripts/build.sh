#!/usr/bin/env bash
# `deno task build`: compiles main.ts into ONE executable, dist/sshproxy,
# with an explicit permission list (never -A, never --allow-ffi) and no
# prompts. deno compile needs Deno's runtime base binary (denort); it
# downloads it unless DENORT_BIN points to one (offline builds). Where the
# download is impossible, say so in one line and fail, never hang.
#
#   DENORT_BIN=/path/to/denort deno task build
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deno=scripts/toolchain/node_modules/deno/deno
[ -x "$deno" ] || bash scripts/setup.sh >/dev/null || exit 1
version=$(sed -n 's/^export const VERSION = "\(.*\)";/\1/p' src/version.ts)
if [ -n "${DENORT_BIN:-}" ] && [ ! -x "$DENORT_BIN" ]; then
  echo "build: DENORT_BIN=$DENORT_BIN is not an executable file (expected the denort binary of deno $("$deno" --version | head -n1 | cut -d' ' -f2))" >&2
  exit 1
fi
mkdir -p dist
log=$(mktemp)
# The permission list is the union of what the four faces need; each face
# revokes what it does not use at start (src/cli/permissions.ts).
if timeout 300 "$deno" compile --no-prompt --quiet \
  --allow-read --allow-write --allow-env --allow-run --allow-net --allow-sys \
  --output dist/sshproxy main.ts >"$log" 2>&1; then
  rm -f "$log"
  echo "build: dist/sshproxy $version ($(du -h dist/sshproxy | cut -f1)); symlink it as sshproxy, sshproxyctl, sshproxy-dumpd, sshproxy-replay"
  exit 0
fi
if grep -qiE "dns error|failed to lookup|error sending request|download" "$log"; then
  echo "build: deno compile cannot download its runtime (denort) from this machine; set DENORT_BIN=/path/to/denort for an offline build" >&2
else
  echo "build: deno compile failed: $(grep -m1 -iE 'error' "$log" || head -n1 "$log")" >&2
fi
rm -f "$log"
exit 1
