# How Deno runs the program, shared by the installed launcher
# (scripts/install.sh) and the compiled binary (scripts/build.sh). Sourced.
#
# The union of what the four faces need (each face revokes, at start, the
# kinds it does not use: src/cli/permissions.ts): never -A, never ffi.
# shellcheck disable=SC2034 # used by the scripts that source this file
permission_flags="--allow-read --allow-write --allow-env --allow-run --allow-net --allow-sys"
# V8 flags, chosen by measurement (README "Start-up and memory"). A V8 code
# cache only serves a runtime started with the flags it was made with.
# shellcheck disable=SC2034
v8_flags=""
