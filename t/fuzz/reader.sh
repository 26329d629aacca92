#!/bin/sh
# make check: fuzz the reader target for FUZZ_SECONDS (t/fuzz/run.sh)
exec "$(dirname "$0")/run.sh" reader
