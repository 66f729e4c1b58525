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
# one compiled executable; otherwise to a launcher running the sources with
# a private copy of Deno, offline (--cached-only).
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
  cp -a "$root/main.ts" "$root/deno.json" "$root/deno.lock" "$root/src" "$root/node_modules" "$stage/"
  cp "$deno" "$stage/bin/deno"
  cat > "$stage/bin/sshproxy-launcher" <<LAUNCHER
#!/bin/sh
# sshproxy launcher: runs the sources under $lib with the pinned Deno,
# offline (--cached-only). The face is chosen by the name it is invoked as.
# Deno's own environment knobs are cleared: the user must not steer them.
for name in \$(env | sed -n 's/^\\(DENO_[A-Za-z0-9_]*\\)=.*/\\1/p'); do unset "\$name"; done
unset NODE_OPTIONS
SSHPROXY_ARGV0=\$0 DENO_DIR='$lib/cache' DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 \\
  exec '$lib/bin/deno' run --cached-only --no-prompt --quiet --config '$lib/deno.json' \\
  --allow-read --allow-write --allow-env --allow-run --allow-net --allow-sys \\
  '$lib/main.ts' "\$@"
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
trap - EXIT
rm -rf "$old"
if [ -z "$binary" ]; then
  # Warm Deno's caches at their final path, as the installer, then leave
  # them read-only: users only read them. Deno keys its caches by module
  # path, so a cache filled in the staging directory would be useless after
  # the move (every login would transpile again, ~1 s).
  DENO_DIR="$lib/cache" "$lib/bin/deno" cache --quiet --config "$lib/deno.json" "$lib/main.ts" \
    || die "cannot prepare Deno's cache in $lib/cache"
  for words in "proxy -version" "ctl version" "dumpd -version" "replay -version" "agent -version"; do
    # shellcheck disable=SC2086 # words are meant to split
    SSHPROXY_ARGV0=warm-up DENO_DIR="$lib/cache" "$lib/bin/deno" run --cached-only --no-prompt --quiet \
      --config "$lib/deno.json" --allow-all "$lib/main.ts" $words >/dev/null 2>&1 || true
  done
  # The etcd client's modules too: sshproxyctl against a closed port loads
  # them and fails at once.
  printf 'etcd:\n  endpoints: ["http://127.0.0.1:1"]\n' > "$lib/cache/warm-up.yaml"
  SSHPROXY_ARGV0=warm-up DENO_DIR="$lib/cache" timeout 20 "$lib/bin/deno" run --cached-only --no-prompt --quiet \
    --config "$lib/deno.json" --allow-all "$lib/main.ts" ctl -c "$lib/cache/warm-up.yaml" show hosts >/dev/null 2>&1 || true
  rm -f "$lib/cache/warm-up.yaml"
  chmod -R a+rX,go-w "$lib"
fi
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
