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
session_run_flags="run --cached-only --no-prompt --quiet --v8-flags=$session_v8_flags $permission_flags"

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
# The front script removes a plan file the program never claimed with
# this rm, by absolute path: a login's PATH may come from the user.
rm_path=$(command -v rm)
case "$rm_path" in
  /*) ;;
  *) die "rm is not found as an absolute path (PATH=$PATH)" ;;
esac
# The hand-off protocol's status and plan header, from the proxy's side.
handoff_status=$(sed -n 's/^export const HANDOFF_STATUS = \([0-9]*\);$/\1/p' "$root/src/session/handoff.ts")
plan_header=$(sed -n 's/^export const PLAN_HEADER = "\([^"'"'"'\\]*\)";$/\1/p' "$root/src/session/handoff.ts")
[ -n "$handoff_status" ] && [ -n "$plan_header" ] \
  || die "cannot read HANDOFF_STATUS and PLAN_HEADER from src/session/handoff.ts"
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

# The shell script in front of the program (POSIX sh, builtins only: it
# runs at every login), as the launcher (KIND=launcher: runs the face's
# prebuilt module with the pinned Deno) or the compiled binary's wrapper
# (KIND=wrapper). Both clear the user's knobs of the runtime, pick the face
# by $0, and offer the proxy a hand-off (sshproxy(8), HAND-OFF;
# src/session/handoff.ts): the proxy runs as the script's child with a
# private plan file, and when the configuration says `handoff: true` and
# the session can, the script becomes the ssh the plan names.
front_script() { # KIND
  local kind=$1 header
  if [ "$kind" = launcher ]; then
    header="# sshproxy launcher (written by scripts/install.sh). Runs the prebuilt module
# of the face named by \$0 (app/NAME.js; app/main.js picks the face by the
# first argument for any other name) with the pinned Deno, offline, and the
# permission list below."
  else
    header="# sshproxy wrapper (written by scripts/install.sh) in front of the compiled
# binary bin/sshproxy-deno, run as faces/NAME for the face named by \$0 (the
# binary picks its face by that name, or by the first argument)."
  fi
  cat <<FRONT
#!/bin/sh
$header
# Only shell builtins until the program starts: this runs at every login.
# Kept POSIX sh (dash).
#
# The environment is the user's. A variable it holds under the name of one
# of this script's would stay exported with this script's value: unset
# first, they are this script's alone.
unset lib variable module cache plan uuid label mask child status line
unset SSHPROXY_HANDOFF SSHPROXY_SSHD
lib='$lib'
# The user's environment must not steer the runtime: Deno's knobs (DENO_*,
# NODE_OPTIONS) and SSLKEYLOGFILE (TLS secrets written where it says) are
# cleared.
IFS='
'
set -f
for variable in \$(export -p); do
  case \$variable in
  'export DENO_'* | 'declare -x DENO_'* | 'export NODE_OPTIONS'* | 'declare -x NODE_OPTIONS'* | \\
    'export SSLKEYLOGFILE'* | 'declare -x SSLKEYLOGFILE'*)
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
FRONT
  if [ "$kind" = launcher ]; then
    cat <<FRONT
if [ ! -r "\$lib/app/\$module.js" ]; then
  echo "\${0##*/}: \$lib/app/\$module.js is missing (reinstall: scripts/install.sh --prefix ${prefix})" >&2
  exit 1
fi
# Users only read the code cache that install.sh prepared. Whoever can
# write it (root) runs without it: a writer stopped in the middle of a
# write would leave it unreadable for every user until the next install.
cache=\$lib/cache
[ -w "\$cache" ] && cache=/dev/null/sshproxy-cache
FRONT
  fi
  cat <<'FRONT'
# Hand-off (sshproxy(8), HAND-OFF): the proxy may end the session with its
# ssh in place of this script. Deno cannot exec, so the proxy runs as this
# script's child with the name of a plan file made here: a kernel UUID in
# sticky /tmp (never $TMPDIR, the user's), created exclusively, mode 0600,
# kept open on fd 3 (the proxy unlinks it at once). Only when the proxy
# exits with its hand-off status and the file starts with the plan's
# header is the plan run, here at top level: its `exec` makes ssh this
# very process. Any failure here means no hand-off, and the proxy is
# exec'd as without it.
plan=
if [ "$module" = sshproxy ] && [ $# -le 1 ] && [ "${1#-}" = "${1-}" ] &&
  [ -k /tmp ] && { read -r uuid; } 2>/dev/null </proc/sys/kernel/random/uuid &&
  { read -r label mask && read -r label mask; } 2>/dev/null </proc/self/status &&
  [ "$label" = Umask: ]; then
  case $uuid in
  *[!0-9a-f-]* | '') ;;
  *)
    umask 077
    set -C
    if { command exec 3>"/tmp/sshproxy-plan.$uuid"; } 2>/dev/null; then
      plan=/tmp/sshproxy-plan.$uuid
    fi
    set +C
    umask "$mask"
    ;;
  esac
fi
FRONT
  if [ "$kind" = launcher ]; then
    cat <<FRONT
# The login face runs with V8 flags of its own (scripts/runtime_flags.sh).
if [ "\$module" = sshproxy ]; then
  set -- "\$lib/bin/deno" ${session_run_flags} --config "\$lib/deno.json" "\$lib/app/\$module.js" "\$@"
else
  set -- "\$lib/bin/deno" ${run_flags} --config "\$lib/deno.json" "\$lib/app/\$module.js" "\$@"
fi
if [ -z "\$plan" ]; then
  SSHPROXY_ARGV0=\$0 SSHPROXY_HANDOFF= SSHPROXY_SSHD= DENO_DIR=\$cache DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \\
    exec "\$@" 3>&-
fi
FRONT
  else
    cat <<'FRONT'
if [ "$module" = main ]; then
  set -- "$lib/bin/sshproxy-deno" "$@"
else
  set -- "$lib/faces/$module" "$@"
fi
[ -n "$plan" ] || SSHPROXY_HANDOFF= SSHPROXY_SSHD= exec "$@" 3>&-
FRONT
  fi
  cat <<'FRONT'
# The proxy runs as a background job so that this script, the process sshd
# started, can pass on what sshd or an admin sends it (a terminal's hangup
# above all); the job keeps the session's input and foreground process
# group (no job control here).
{ command exec 4<&0; } 2>/dev/null
FRONT
  if [ "$kind" = launcher ]; then
    cat <<'FRONT'
SSHPROXY_ARGV0=$0 SSHPROXY_HANDOFF=$plan SSHPROXY_SSHD=$PPID DENO_DIR=$cache DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \
  "$@" <&4 3>&- 4<&- &
FRONT
  else
    cat <<'FRONT'
SSHPROXY_HANDOFF=$plan SSHPROXY_SSHD=$PPID "$@" <&4 3>&- 4<&- &
FRONT
  fi
  cat <<FRONT
child=\$!
exec 4<&-
trap 'kill -HUP "\$child" 2>/dev/null' HUP
trap 'kill -INT "\$child" 2>/dev/null' INT
trap 'kill -TERM "\$child" 2>/dev/null' TERM
# A signal ends \`wait\` early, with status 128 + its number, while the
# proxy still runs: then wait again.
while :; do
  wait "\$child"
  status=\$?
  [ "\$status" -gt 128 ] && kill -0 "\$child" 2>/dev/null || break
done
trap - HUP INT TERM
if [ "\$status" = $handoff_status ] && { IFS= read -r line; } 2>/dev/null </proc/self/fd/3 &&
  [ "\$line" = '$plan_header' ]; then
  . /proc/self/fd/3
fi
# The proxy unlinks the file first thing; if it never got that far:
if [ -e "\$plan" ] && [ -O "\$plan" ]; then
  '$rm_path' -f -- "\$plan" 2>/dev/null
fi
exit "\$status"
FRONT
}

# Stage the program next to its final place, then swap: an interrupted
# install never leaves a half-written tree behind.
mkdir -p "$prefix/lib" "$prefix/bin"
stage=$(mktemp -d "$prefix/lib/.sshproxy.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"
if [ -n "$binary" ]; then
  # The binary runs behind a wrapper (front_script): the compiled runtime
  # would honour the user's DENO_*, NODE_OPTIONS and SSLKEYLOGFILE, and
  # hand-off needs a shell. faces/NAME are the names the binary picks its
  # face by; bin/sshproxy-deno itself picks it by its first argument.
  cp "$binary" "$stage/bin/sshproxy-deno"
  mkdir -p "$stage/faces"
  for command in "${commands[@]}"; do
    ln -s ../bin/sshproxy-deno "$stage/faces/$command"
  done
  front_script wrapper >"$stage/bin/sshproxy"
  chmod 755 "$stage/bin/sshproxy-deno" "$stage/bin/sshproxy"
  entry=sshproxy
else
  # Built here, from these sources: an install never runs a stale build.
  bash "$root/scripts/bundle.sh" "$stage" || exit 1 # bundle.sh said why, in one line
  cp -a "$root/node_modules" "$stage/"
  # The functions a login runs (one stateless session of this build, on
  # loopback: scripts/login_profile.ts), and every function of the other
  # faces and of the parts loaded on demand, are compiled with their
  # modules, into the code cache warmed below; V8 compiles the rest lazily
  # (scripts/eager_compile.ts).
  profile=$(mktemp) || die "cannot create a temporary file"
  "$deno" run --no-config --quiet --allow-read --allow-write --allow-run --allow-net \
    "$root/scripts/login_profile.ts" "$deno" "$stage" "$session_v8_flags" "$permission_flags" "$profile" \
    || { rm -f "$profile"; exit 1; } # it said why, in one line
  "$deno" run --quiet --config "$root/deno.json" --allow-read --allow-write="$stage/app" \
    "$root/scripts/eager_compile.ts" --profile "$profile" "$stage/app" \
    || { rm -f "$profile"; exit 1; } # it said why, in one line
  rm -f "$profile"
  cp "$deno" "$stage/bin/deno"
  front_script launcher >"$stage/bin/sshproxy-launcher"
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
  # Twice: the login face's flags differ from the other faces'.
  for flags in "$session_run_flags" "$run_flags"; do
    # shellcheck disable=SC2086 # the flags are meant to split
    DENO_DIR="$lib/cache" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 timeout 60 "$lib/bin/deno" $flags \
      --config "$lib/deno.json" "$root/scripts/warm_cache.ts" "$lib/app" </dev/null >&2 \
      || die "cannot prepare Deno's caches in $lib/cache (see the line above)"
  done
  # The other faces' warm-up came last: one more under the login face's
  # flags must leave the code cache as it is. A flag that V8's cache check
  # counts, set for one face and not the other, would make Deno rewrite it
  # (and logins, which cannot write it, compile the whole program).
  digest() {
    "$deno" run --no-config --quiet --allow-read "$root/scripts/cache_digest.ts" "$lib/cache"
  }
  warmed=$(digest) || die "cannot read Deno's code cache in $lib/cache (see the line above)"
  # shellcheck disable=SC2086 # the flags are meant to split
  DENO_DIR="$lib/cache" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 timeout 60 "$lib/bin/deno" $session_run_flags \
    --config "$lib/deno.json" "$root/scripts/warm_cache.ts" "$lib/app" </dev/null >&2 \
    || die "cannot prepare Deno's caches in $lib/cache (see the line above)"
  [ "$(digest)" = "$warmed" ] ||
    die "the login face's V8 flags and the other faces' need different code caches (scripts/runtime_flags.sh: give both the same cache-checked flags)"
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
    "$lib/bin/deno" ${session_run_flags/ --quiet/} --config "$lib/deno.json" --log-level=debug "$lib/app/sshproxy.js" -version 2>&1 </dev/null || true)
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
