#!/usr/bin/env bash
# The project's test command (README, CI): installs what the tests need on
# a fresh machine (Deno from npm, Debian's openssh-server and etcd-server),
# runs the static checks and every test, and ends with `N passed, N failed`.
# End-to-end tests create users and start sshd/etcd on loopback: run as root.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "$(id -u)" = 0 ]; then
  bash scripts/setup.sh --services || exit 1
else
  echo "test.sh: not root: end-to-end tests need root (users, sshd); running setup without services" >&2
  bash scripts/setup.sh || exit 1
fi
deno=scripts/toolchain/node_modules/deno/deno
export PATH="$root/scripts/toolchain/node_modules/.bin:$PATH"

passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@" >/tmp/sshproxy-check.$$ 2>&1; then
    passed=$((passed + 1))
    echo "check $name ... ok"
  else
    failed=$((failed + 1))
    echo "check $name ... FAILED"
    tail -n 30 /tmp/sshproxy-check.$$
  fi
  rm -f /tmp/sshproxy-check.$$
}
check "deno fmt --check" "$deno" fmt --check
check "deno lint" "$deno" lint
check "deno check" "$deno" check main.ts src/ tests/

log=$(mktemp)
# Tests use broad permissions (they create users, start sshd and etcd); the
# product itself runs with the launcher's explicit list.
"$deno" test --allow-all --no-prompt "$@" tests/ 2>&1 | tee "$log"
summary=$(grep -E '^(ok|FAILED) \| ' "$log" | tail -n 1)
rm -f "$log"
test_passed=$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p')
test_failed=$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p')
if [ -z "$test_passed" ]; then
  echo "test.sh: the test runner printed no summary (crashed?)" >&2
  failed=$((failed + 1))
else
  passed=$((passed + test_passed))
  failed=$((failed + ${test_failed:-0}))
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
