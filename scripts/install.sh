#!/usr/bin/env bash
# Installs sshproxy into PREFIX: the four commands in PREFIX/bin, runnable
# by any local user (sshd runs the ForceCommand as the user who logs in),
# with every dependency under PREFIX/lib/sshproxy so nothing is fetched at
# run time. Re-running upgrades in place; --uninstall removes exactly what
# the manifest says was installed.
#
#   scripts/install.sh --prefix DIR
#   scripts/install.sh --prefix DIR --uninstall
set -euo pipefail

usage() {
  echo "usage: scripts/install.sh --prefix DIR [--uninstall]" >&2
  exit 2
}
die() {
  echo "install.sh: $*" >&2
  exit 1
}

prefix=""
uninstall=false
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
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
commands=(sshproxy sshproxyctl sshproxy-dumpd sshproxy-replay)

if $uninstall; then
  [ -f "$lib/MANIFEST" ] || die "nothing to uninstall: $lib/MANIFEST not found"
  while IFS= read -r path; do
    [ -n "$path" ] && rm -f "$prefix/$path"
  done < "$lib/MANIFEST"
  rm -rf "$lib"
  rmdir "$prefix/bin" "$prefix/lib" 2>/dev/null || true
  echo "install.sh: removed sshproxy from $prefix"
  exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
deno="$root/scripts/toolchain/node_modules/deno/deno"
if [ ! -x "$deno" ] || [ ! -d "$root/node_modules" ]; then
  bash "$root/scripts/setup.sh" >/dev/null || die "cannot prepare the toolchain (see scripts/setup.sh)"
fi

# Stage everything next to the final place, then swap: an interrupted
# install never leaves a half-written tree behind.
mkdir -p "$prefix/lib" "$prefix/bin"
stage=$(mktemp -d "$prefix/lib/.sshproxy.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$root/main.ts" "$root/deno.json" "$root/deno.lock" "$root/src" "$root/node_modules" "$stage/"
mkdir -p "$stage/bin"
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
{
  for command in "${commands[@]}"; do echo "bin/$command"; done
} > "$stage/MANIFEST"
chmod -R a+rX,go-w "$stage"

old="$prefix/lib/.sshproxy.old.$$"
[ -e "$lib" ] && mv "$lib" "$old"
mv "$stage" "$lib"
trap - EXIT
rm -rf "$old"
# Warm Deno's caches at their final path, as the installer, then leave them
# read-only: users only read them. Deno keys its caches by module path, so a
# cache filled in the staging directory would be useless after the move
# (every login would transpile again, ~1 s).
DENO_DIR="$lib/cache" "$lib/bin/deno" cache --quiet --config "$lib/deno.json" "$lib/main.ts" \
  || die "cannot prepare Deno's cache in $lib/cache"
for face in proxy ctl dumpd replay; do
  SSHPROXY_ARGV0=warm-up DENO_DIR="$lib/cache" "$lib/bin/deno" run --cached-only --no-prompt --quiet \
    --config "$lib/deno.json" --allow-all "$lib/main.ts" "$face" -version >/dev/null 2>&1 || true
done
SSHPROXY_ARGV0=warm-up DENO_DIR="$lib/cache" "$lib/bin/deno" run --cached-only --no-prompt --quiet \
  --config "$lib/deno.json" --allow-all "$lib/main.ts" ctl version >/dev/null 2>&1 || true
chmod -R a+rX,go-w "$lib"
# The staged launcher embeds the final paths, so it works once moved.
for command in "${commands[@]}"; do
  ln -sfn "../lib/sshproxy/bin/sshproxy-launcher" "$prefix/bin/$command.new"
  mv -Tf "$prefix/bin/$command.new" "$prefix/bin/$command"
done
echo "install.sh: installed ${commands[*]} in $prefix/bin"
