#!/usr/bin/env bash
# The README's "run" command: prepares the toolchain and Debian packages,
# then runs scripts/demo.ts (as root: it creates two accounts and starts
# etcd and sshd on loopback, and removes all of it at the end).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh" --services >/dev/null
exec "$root/scripts/toolchain/node_modules/deno/deno" run --allow-all "$root/scripts/demo.ts"
