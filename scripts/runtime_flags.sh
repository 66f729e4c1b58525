# How Deno runs the program, shared by the installed launcher
# (scripts/install.sh) and the compiled binary (scripts/build.sh). Sourced.
#
# The union of what the four faces need (each face revokes, at start, the
# kinds it does not use: src/cli/permissions.ts): never -A, never ffi.
# shellcheck disable=SC2034 # used by the scripts that source this file
permission_flags="--allow-read --allow-write --allow-env --allow-run --allow-net --allow-sys"
# V8 flags, chosen by measurement (README "Start-up and memory"). A V8 code
# cache only serves a runtime started with the flags it was made with.
# V8 compiles lazily (its default), and what a login runs of our code is
#   nonetheless in the code cache: install.sh marks those functions (and
#   every function of the other faces) for compilation with their module
#   (scripts/login_profile.ts, scripts/eager_compile.ts). `--no-lazy` made
#   the cache whole too, but also compiled, in full, the parts of Deno a
#   session loads on demand (the process API brings Deno's streams, file
#   and fetch-body modules): by hand, through the installed launcher, a
#   stateless login took 35.9 ms against 34.2 now (p50 of 80 interleaved)
#   and an idle one kept 11.05 MiB private dirty against 10.48.
# Measured and left out: --single-threaded (two threads and 0.1 MiB less,
# but a recorded 256 MiB transfer 7-10% slower), --lite-mode (no
# WebAssembly, which ssh2 needs), --no-sparkplug (-0.2 MiB, recording 20%
# slower), semi-space sizes (--max-semi-space-size=1: no change once the
# code cache is warmed under it; --min-semi-space-size=4: an etcd login
# then runs without its two scavenges, p50 -1.4 ms and p90 -6 ms, and
# idles 1.1 MiB lower for its first 30 s, but its keep-alives go on to
# touch the larger young generation: 14.9 MiB at 106 s where the default
# stays between 12.5 and 13.5), --optimize-for-size,
# --no-lazy-feedback-allocation (no gain); V8's memory reducer sooner
# (--gc-memory-reducer-start-delay-ms=500,--memory-reducer-delay-ms=500;
# by default it first runs 30 s after start): an idle etcd session is at
# its long-run 12.3 MiB from ~5 s instead of 14 MiB until ~30 s, but each
# session of 3 to 30 s then pays that collection, ~18 ms of CPU (by hand,
# 7 s sessions: stateless 42 -> 60 ms, etcd 57 -> 74 ms).
# --minor-ms: V8 collects the young generation by marking and sweeping it
#   in place instead of copying its survivors into a second half-space.
#   An etcd session fills its first megabyte of young objects during its
#   login (its HTTP exchanges and JSON), so its first young collection came
#   then: the copy dirtied the other half and left both committed until
#   V8's memory reducer ran 30 s later. By hand, idle sessions (private
#   dirty, interleaved, sampled every 10 s for 2 min): etcd 13.22 -> 11.88
#   MiB at 3 s, 0.15 to 0.4 MiB lower after 30 s; stateless unchanged
#   (11.10 both: it allocates too little to collect early). Logins and a
#   recorded relay as fast, within the machine's noise. Not V8's default:
#   the whole test suite and the benchmark run under it, for every face
#   (one set of flags, so that one code cache serves them all).
# Most V8 flags are part of the code cache's check (--minor-ms is;
# --no-concurrent-* are not): the cache must be warmed under the flags the
# launcher passes, as install.sh does.
# shellcheck disable=SC2034
v8_flags="--minor-ms"
# The login face (sshproxy) adds --no-concurrent-sparkplug and
# --no-concurrent-recompilation: V8 compiles hot functions on the main
# thread instead of background threads. A login is too short for those
# threads to pay off, and on a gateway whose cores are busy they took the
# CPU the session's main thread waited for: one login in three stalled
# ~3 ms (measured by hand, 2 cores: stateless p50 -1.5 ms and p90 -3 ms,
# etcd p50 -2.5 ms; same memory). The long-lived faces (the agent above
# all, whose event loop must not stall on a compilation) keep them.
# shellcheck disable=SC2034
session_v8_flags="${v8_flags:+$v8_flags,}--no-concurrent-sparkplug,--no-concurrent-recompilation"
# The compiled binary runs without a code cache (scripts/build.sh says why):
# there eager compilation would compile the whole program at every login
# (~+10 ms measured with --no-lazy), so it runs the modules as bundled,
# not rewritten by scripts/eager_compile.ts, with the same flags.
# shellcheck disable=SC2034
compiled_v8_flags="$v8_flags"
