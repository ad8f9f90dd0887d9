#!/usr/bin/env bash
# RUSTC_WRAPPER for fuzz builds that instrument only ferrite's own code (run.sh uses it
# for onnx_import; see README.md, "Coverage of ferrite's crates only").
#
# cargo-fuzz passes libFuzzer's sanitizer-coverage flags in RUSTFLAGS, so every crate
# gets them, tract included: that build takes tens of CPU minutes. This wrapper keeps
# them for ferrite's crates (crate names ferrite*) and the fuzz target binaries (sources
# under fuzz_targets/) only. Every other crate loses -Cpasses=sancov-module,
# -Cllvm-args=-sanitizer-coverage-* and cargo-fuzz's -Ccodegen-units=1, and is built
# with -Copt-level=1 and no debug info: tract still runs compiled, for a fraction of
# the build time. The sanitizer, --cfg fuzzing and debug assertions stay as cargo-fuzz
# set them, so the crates link together.
# Called by cargo as: rustc-wrapper.sh RUSTC ARGS...
set -euo pipefail
rustc=$1
shift
name=
ours=0
prev=
for a in "$@"; do
    [ "$prev" = --crate-name ] && name=$a
    case "$a" in *fuzz_targets/*.rs) ours=1 ;; esac
    prev=$a
done
case "$name" in ferrite*) ours=1 ;; esac
if [ "$ours" = 1 ]; then
    exec "$rustc" "$@"
fi
args=()
for a in "$@"; do
    case "$a" in
        -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | -Ccodegen-units=1) ;;
        *) args+=("$a") ;;
    esac
done
exec "$rustc" "${args[@]}" -Copt-level=1 -Cdebuginfo=0
