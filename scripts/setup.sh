#!/usr/bin/env bash
# One command for a fresh machine: the pinned Deno (from npm) and the
# project's npm dependencies. With --services it also installs, as root,
# what the end-to-end tests start: OpenSSH server and client, etcd, rsync,
# tmux, man-db, an X server with its tools for the X11 forwarding tests, and
# Prometheus (its server and promtool check the agent's metrics) (Debian
# packages).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "${1:-}" = "--services" ]; then
  missing=()
  for tool in /usr/sbin/sshd:openssh-server /usr/bin/ssh:openssh-client /usr/bin/etcd:etcd-server \
    /usr/bin/etcdctl:etcd-client /usr/bin/rsync:rsync /usr/bin/tmux:tmux /usr/bin/man:man-db \
    /usr/bin/openssl:openssl /usr/bin/Xvfb:xvfb /usr/bin/xauth:xauth /usr/bin/xdpyinfo:x11-utils \
    /usr/bin/prometheus:prometheus /usr/bin/promtool:prometheus; do
    [ -x "${tool%%:*}" ] || missing+=("${tool##*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "setup: missing Debian packages ${missing[*]}; run as root or: apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

# `npm install`, not `npm ci`: npm writes only this platform's optional
# @deno/* entries into the lock, and `npm ci` then refuses it; the version is
# pinned exactly in package.json, so the result is the same.
if [ ! -x scripts/toolchain/node_modules/deno/deno ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed to install Deno (apt-get install -y npm)" >&2; exit 1; }
  (cd scripts/toolchain && npm install --no-audit --no-fund --loglevel=error)
fi
deno=scripts/toolchain/node_modules/deno/deno
"$deno" install --frozen --quiet 2>/dev/null || "$deno" install --frozen
echo "setup: $("$deno" --version | head -n 1) ready at $deno"
