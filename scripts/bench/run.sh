#!/usr/bin/env bash
# deno task bench (issues 7, 10, 13, 14): sets up the real topology on
# loopback (gateway sshds, destinations, etcd, the agent when the product has
# one, as the e2e harness does) and measures, in one run, login latency,
# throughput, memory and concurrency of sshproxy next to the floor any
# ForceCommand proxy pays and the runtime's own floor. As root; about 15 to
# 20 minutes (--quick: a few minutes, to check the harness).
#
#   scripts/bench/run.sh [--quick] [--out DIR]
#   scripts/bench/run.sh --from-results bench/results.json   (re-render the doc)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if [ "$(id -u)" != 0 ] && [ "${1:-}" != "--from-results" ]; then
  echo "bench: must run as root (it creates test accounts and starts sshd/etcd on loopback)" >&2
  exit 2
fi
deno="$root/scripts/toolchain/node_modules/deno/deno"
if [ ! -x "$deno" ] || [ ! -d "$root/node_modules" ]; then
  bash "$root/scripts/setup.sh" >/dev/null || { echo "bench: cannot prepare the toolchain (scripts/setup.sh)" >&2; exit 2; }
fi
exec "$deno" run --allow-all --config "$root/deno.json" "$root/scripts/bench/main.ts" "$@"
