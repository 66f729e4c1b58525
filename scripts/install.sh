#!/usr/bin/env bash
# Installs sshproxy into PREFIX:
#   bin/sshproxy, bin/sshproxyctl, bin/sshproxy-dumpd, bin/sshproxy-replay,
#   bin/sshproxy-agent
#   share/man/man{1,5,8}/...     the man pages
#   share/bash-completion/completions/sshproxyctl
#   share/sshproxy/sshproxy.yaml (commented sample), sshproxy-dumpd.service,
#                                sshproxy-agent.service, sshproxy-alerts.yaml
#   lib/sshproxy/                the program and its MANIFEST
# The commands are runnable by any local user (sshd runs the ForceCommand
# as the user who logs in) and never touch the network. With --binary FILE
# (or a dist/sshproxy built by `deno task build`) they are symlinks to that
# one compiled executable; otherwise to a launcher running the program
# prebuilt here (scripts/bundle.sh: one module per face) with a private copy
# of Deno, offline, and a code cache prepared here that users only read.
# Re-running upgrades in place; --uninstall removes exactly what the
# manifest lists, and the directories that leaves empty.
#
#   scripts/install.sh --prefix DIR [--binary FILE]
#   scripts/install.sh --prefix DIR --uninstall
set -euo pipefail

usage() {
  echo "usage: scripts/install.sh --prefix DIR [--binary FILE] | --prefix DIR --uninstall" >&2
  exit 2
}
die() {
  echo "install.sh: $*" >&2
  exit 1
}

prefix=""
binary=""
uninstall=false
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --binary) [ $# -ge 2 ] || usage; binary=$2; shift 2 ;;
    --binary=*) binary=${1#--binary=}; shift ;;
    --uninstall) uninstall=true; shift ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$prefix" ] || die "missing --prefix DIR (e.g. --prefix /usr/local)"
[ -d "$prefix" ] || die "prefix $prefix does not exist (create it first)"
[ -w "$prefix" ] || die "prefix $prefix is not writable (run as root or choose another prefix)"
prefix=$(cd "$prefix" && pwd)
lib="$prefix/lib/sshproxy"
commands=(sshproxy sshproxyctl sshproxy-dumpd sshproxy-replay sshproxy-agent)
# How the launcher runs Deno: offline, never prompting, with the
# permissions and V8 flags of scripts/runtime_flags.sh (and, below, the
# run-time import map of the npm packages the modules import by name).
# Install-time warm-ups use the same flags.
# shellcheck source=scripts/runtime_flags.sh
. "$(dirname "$0")/runtime_flags.sh"
run_flags="run --cached-only --no-prompt --quiet${v8_flags:+ --v8-flags=$v8_flags} $permission_flags"

remove_empty_parents() {
  local dir=$1
  while [ "$dir" != "$prefix" ] && [ "$dir" != "/" ]; do
    rmdir "$dir" 2>/dev/null || return 0
    dir=$(dirname "$dir")
  done
}

if $uninstall; then
  [ -f "$lib/MANIFEST" ] || die "nothing to uninstall: $lib/MANIFEST not found"
  mapfile -t installed < "$lib/MANIFEST"
  for path in "${installed[@]}"; do
    [ -n "$path" ] && rm -f "$prefix/$path"
  done
  rm -rf "$lib"
  for path in "${installed[@]}" lib/sshproxy; do
    [ -n "$path" ] && remove_empty_parents "$(dirname "$prefix/$path")"
  done
  echo "install.sh: removed sshproxy from $prefix"
  exit 0
fi
# The launcher embeds the prefix in a shell script.
case "$prefix" in
  *[!A-Za-z0-9_./+-]*) die "prefix $prefix contains characters the launcher cannot quote (use letters, digits and _ . / + -)" ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$binary" ] && [ -x "$root/dist/sshproxy" ]; then
  binary="$root/dist/sshproxy"
fi
if [ -n "$binary" ]; then
  [ -f "$binary" ] && [ -x "$binary" ] || die "--binary $binary is not an executable file (build one with: deno task build)"
  # A binary of this project answers `proxy -version` like sshproxy does.
  answer=$(timeout 10 "$binary" proxy -version 2>&1 </dev/null || true)
  case "$answer" in
    "sshproxy version "*) ;;
    *) die "--binary $binary is not an sshproxy executable (\`$binary proxy -version\` did not print \"sshproxy version ...\")" ;;
  esac
else
  deno="$root/scripts/toolchain/node_modules/deno/deno"
  if [ ! -x "$deno" ] || [ ! -d "$root/node_modules" ]; then
    bash "$root/scripts/setup.sh" >/dev/null || die "cannot prepare the toolchain (see scripts/setup.sh)"
  fi
fi

# Stage the program next to its final place, then swap: an interrupted
# install never leaves a half-written tree behind.
mkdir -p "$prefix/lib" "$prefix/bin"
stage=$(mktemp -d "$prefix/lib/.sshproxy.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"
if [ -n "$binary" ]; then
  cp "$binary" "$stage/bin/sshproxy"
  chmod 755 "$stage/bin/sshproxy"
  entry=sshproxy
else
  # Built here, from these sources: an install never runs a stale build.
  bash "$root/scripts/bundle.sh" "$stage" || exit 1 # bundle.sh said why, in one line
  cp -a "$root/node_modules" "$stage/"
  cp "$deno" "$stage/bin/deno"
  cat > "$stage/bin/sshproxy-launcher" <<LAUNCHER
#!/bin/sh
# sshproxy launcher (written by scripts/install.sh). Runs the prebuilt module
# of the face named by \$0 (app/NAME.js; app/main.js picks the face by the
# first argument for any other name) with the pinned Deno, offline, and the
# permission list below. Only shell builtins until Deno starts: this runs at
# every login. Kept POSIX sh.
lib='$lib'
# Deno's own knobs in the environment (DENO_*, NODE_OPTIONS) are the user's:
# they must not steer the runtime, so all of them are cleared.
IFS='
'
set -f
for variable in \$(export -p); do
  case \$variable in
  'export DENO_'* | 'declare -x DENO_'* | 'export NODE_OPTIONS'* | 'declare -x NODE_OPTIONS'*)
    variable=\${variable#export }
    variable=\${variable#declare -x }
    unset "\${variable%%=*}"
    ;;
  esac
done
unset IFS
set +f
case \${0##*/} in
sshproxy | sshproxyctl | sshproxy-dumpd | sshproxy-replay | sshproxy-agent) module=\${0##*/} ;;
*) module=main ;;
esac
if [ ! -r "\$lib/app/\$module.js" ]; then
  echo "\${0##*/}: \$lib/app/\$module.js is missing (reinstall: scripts/install.sh --prefix ${prefix})" >&2
  exit 1
fi
# Users only read the code cache that install.sh prepared. Whoever can
# write it (root) runs without it: a writer stopped in the middle of a
# write would leave it unreadable for every user until the next install.
cache=\$lib/cache
[ -w "\$cache" ] && cache=/dev/null/sshproxy-cache
SSHPROXY_ARGV0=\$0 DENO_DIR=\$cache DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \\
  exec "\$lib/bin/deno" ${run_flags} --config "\$lib/deno.json" "\$lib/app/\$module.js" "\$@"
LAUNCHER
  chmod 755 "$stage/bin/sshproxy-launcher" "$stage/bin/deno"
  entry=sshproxy-launcher
fi

# Everything outside lib/sshproxy, as "source|destination" (relative to PREFIX).
extras=(
  "man/sshproxy.8|share/man/man8/sshproxy.8"
  "man/sshproxyctl.8|share/man/man8/sshproxyctl.8"
  "man/sshproxy-dumpd.8|share/man/man8/sshproxy-dumpd.8"
  "man/sshproxy-agent.8|share/man/man8/sshproxy-agent.8"
  "man/sshproxy.yaml.5|share/man/man5/sshproxy.yaml.5"
  "man/sshproxy-replay.1|share/man/man1/sshproxy-replay.1"
  "config/sshproxyctl.bash-completion|share/bash-completion/completions/sshproxyctl"
  "config/sshproxy.yaml|share/sshproxy/sshproxy.yaml"
  "config/sshproxy-dumpd.service|share/sshproxy/sshproxy-dumpd.service"
  "config/sshproxy-agent.service|share/sshproxy/sshproxy-agent.service"
  "config/sshproxy-alerts.yaml|share/sshproxy/sshproxy-alerts.yaml"
)
{
  for command in "${commands[@]}"; do echo "bin/$command"; done
  for extra in "${extras[@]}"; do echo "${extra#*|}"; done
} > "$stage/MANIFEST"
chmod -R a+rX,go-w "$stage"

old="$prefix/lib/.sshproxy.old.$$"
[ -e "$lib" ] && mv "$lib" "$old"
mv "$stage" "$lib"
# Until the new tree is ready, a failure puts the previous one back.
trap 'rm -rf "$lib"; [ -e "$old" ] && mv "$old" "$lib"' EXIT
if [ -z "$binary" ]; then
  # Fill Deno's caches at their final path (Deno keys them by module path),
  # as the installer and with the launcher's very flags (V8 rejects a code
  # cache made under other flags), then seal them for readers (see
  # scripts/warm_cache.ts and scripts/seal_cache.ts). Users never write
  # them.
  # shellcheck disable=SC2086 # the flags are meant to split
  DENO_DIR="$lib/cache" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 timeout 60 "$lib/bin/deno" $run_flags \
    --config "$lib/deno.json" "$root/scripts/warm_cache.ts" "$lib/app" </dev/null >&2 \
    || die "cannot prepare Deno's caches in $lib/cache (see the line above)"
  # Only the warm-up script itself was TypeScript: nothing in the install
  # needs its transpiled copy.
  rm -rf "$lib/cache/gen"
  "$deno" run --no-config --quiet --allow-read --allow-write "$root/scripts/seal_cache.ts" "$lib/cache" >&2 \
    || die "cannot seal Deno's caches in $lib/cache (see the line above)"
  chmod -R a+rX,go-w "$lib"
  # What a login does, as an unprivileged user: the prepared caches must be
  # used, or every login would parse and compile the program again.
  # shellcheck disable=SC2086 # the flags are meant to split
  check=$(cd / && HOME=/nonexistent SSHPROXY_ARGV0=check DENO_DIR="$lib/cache" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \
    setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$lib/bin/deno" ${run_flags/ --quiet/} --config "$lib/deno.json" --log-level=debug "$lib/app/sshproxy.js" -version 2>&1 </dev/null || true)
  case "$check" in
    *"V8 code cache hit for ES module: file://$lib/app/sshproxy.js"*) ;;
    *"Failed creating cache db"*)
      die "Deno's caches in $lib/cache cannot be opened by users: every login would compile the program again" ;;
    *) die "a login as an unprivileged user does not use the code cache prepared in $lib/cache (its last words: ${check##*$'\n'})" ;;
  esac
fi
trap - EXIT
rm -rf "$old"
for extra in "${extras[@]}"; do
  source=${extra%%|*}
  destination="$prefix/${extra#*|}"
  mkdir -p "$(dirname "$destination")"
  install -m 644 "$root/$source" "$destination.new"
  mv -f "$destination.new" "$destination"
done
for command in "${commands[@]}"; do
  ln -sfn "../lib/sshproxy/bin/$entry" "$prefix/bin/$command.new"
  mv -Tf "$prefix/bin/$command.new" "$prefix/bin/$command"
done
echo "install.sh: installed ${commands[*]} in $prefix/bin ($([ -n "$binary" ] && echo "compiled binary" || echo "launcher")), man pages, completion and samples under $prefix/share"
