#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs one libFuzzer target for a bounded time (a `make check` test in the
# sanitizer build): builds the fuzzers first (once, under a lock, since the
# three tests may start together), then fuzzes from a copy of the committed
# seed corpus t/fuzz/corpus/TARGET/, so the source tree is never written.
# A crash, sanitizer report, leak or timeout fails the test; the input is
# kept as t/fuzz/TARGET-crash-* (etc.) in the build directory.
#
#   run.sh TARGET | path/TARGET.fuzz     environment: FUZZ_SECONDS (25), TOP_SRCDIR, TOP_BUILDDIR
set -euo pipefail
target=$(basename "$1" .fuzz)
src=${TOP_SRCDIR:?}
build=${TOP_BUILDDIR:?}
secs=${FUZZ_SECONDS:-25}
mkdir -p "$build/t/fuzz"
# Not the jobserver of the make that runs the tests: this make has its own.
flock "$build/t/fuzz/.build.lock" env -u MAKEFLAGS -u MFLAGS make -s -j2 -C "$build" fuzz-programs
bin=$build/t/fuzz/fuzz-$target
work=$(mktemp -d "/tmp/ppolicy-fuzz-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT
dict=()
[ -f "$src/t/fuzz/$target.dict" ] && dict=(-dict="$src/t/fuzz/$target.dict")
echo "fuzzing $target for ${secs}s (seed corpus: $(ls "$src/t/fuzz/corpus/$target" | wc -l) files)"
# -rss_limit_mb: the daemon's limits must keep memory small whatever the input.
log=$work.log
trap 'rm -rf "$work" "$log"' EXIT
set +e
"$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$build/t/fuzz/$target-" "$work" "$src/t/fuzz/corpus/$target" >"$log" 2>&1
rc=$?
set -e
# The progress lines are noise; everything else (the report of a finding,
# the final statistics) is shown.
awk '/^###### Recommended dictionary/ {skip = 1} !skip && !/^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED)/ {print}
     /^###### End of recommended dictionary/ {skip = 0}' "$log" | tail -n 80
[ "$rc" = 0 ] && echo "fuzz-$target: no crash" || echo "fuzz-$target: FAILED (exit $rc)"
exit "$rc"
