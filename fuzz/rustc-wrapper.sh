#!/usr/bin/env bash
# RUSTC_WRAPPER of the onnx_import harness build (fuzz/onnx-harness; run.sh uses it,
# see README.md, "onnx_import in CI"): adds libFuzzer's coverage instrumentation (the
# sanitizer-coverage flags cargo-fuzz passes) to the crates named in FUZZ_INSTRUMENT
# (crate names, space-separated) and calls rustc unchanged for every other crate.
#
# cargo hashes neither the wrapper nor the flags it adds into a unit's fingerprint or
# file names, so every other crate (tract) stays Fresh and is shared with the
# workspace's plain debug build. The instrumented crates therefore need hashes of
# their own, or their instrumented artifacts would replace the plain ones: run.sh
# gives each of them a profile override (--config) that only its builds use.
# Called by cargo as: rustc-wrapper.sh RUSTC ARGS...
set -euo pipefail
rustc=$1
shift
name=
prev=
for a in "$@"; do
    [ "$prev" = --crate-name ] && name=$a
    prev=$a
done
for c in ${FUZZ_INSTRUMENT:-}; do
    if [ "$name" = "$c" ]; then
        exec "$rustc" "$@" -Cpasses=sancov-module \
            -Cllvm-args=-sanitizer-coverage-level=4 \
            -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
            -Cllvm-args=-sanitizer-coverage-pc-table \
            -Cllvm-args=-sanitizer-coverage-trace-compares \
            -Cllvm-args=-sanitizer-coverage-stack-depth \
            --cfg fuzzing
    fi
done
exec "$rustc" "$@"
