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
check "deno check" "$deno" check main.ts src/ tests/ scripts/

# Each test file runs in its own process (type-checked once above): a crash
# of the runtime in one file (e.g. denoland/deno#36788, an nghttp2 abort
# on an HTTP/2 GOAWAY in an in-process etcd client) then fails that file
# only, instead of ending the whole run. Tests use broad permissions (they
# create users, start sshd and etcd); the product itself runs with the
# launcher's explicit list.
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find tests -name '*_test.ts' | sort); fi
log=$(mktemp)
failures=() # one line per failing file, repeated before the closing line so a
# truncated CI log still says what failed
for file in "${files[@]}"; do
  "$deno" test --no-check --allow-all --no-prompt "$file" >"$log" 2>&1
  status=$?
  cat "$log"
  summary=$(grep -E '(ok|FAILED).* \| [0-9]+ passed' "$log" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')
  file_passed=$(echo "$summary" | sed -n 's/.*| \([0-9][0-9]*\) passed.*/\1/p')
  file_failed=$(echo "$summary" | sed -n 's/.*| \([0-9][0-9]*\) failed.*/\1/p')
  if [ -z "$file_passed" ]; then
    echo "test.sh: $file ended without a summary (exit $status): counted as one failure" >&2
    failed=$((failed + 1))
    failures+=("$file: no summary, exit $status: $(tail -n 3 "$log" | tr '\n' ' ' | cut -c1-300)")
  else
    passed=$((passed + file_passed))
    failed=$((failed + ${file_failed:-0}))
    [ "$status" -ne 0 ] && [ "${file_failed:-0}" -eq 0 ] && failed=$((failed + 1))
    if [ "$status" -ne 0 ]; then
      names=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E ' \.\.\. FAILED' | sed 's/ \.\.\. FAILED.*//' | sort -u | tr '\n' ';')
      failures+=("$file (exit $status): ${names:-see its output above}")
    fi
  fi
done
rm -f "$log"
if [ ${#failures[@]} -gt 0 ]; then
  echo
  echo "failing test files:"
  printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
