#!/usr/bin/env bash
# Builds and runs ferrite's fuzz targets (see fuzz/README.md).
#
#   fuzz/run.sh [--ci | --long | --replay] [TARGET...]
#
#   --ci      (default) each target for FUZZ_SECONDS (default 25) from the committed
#             seeds and regressions only (new inputs go to a temporary directory, so a
#             local fuzz/corpus/ does not change what CI runs): the CI smoke run.
#   --long    each target for FUZZ_SECONDS (default 3600), one after the other, keeping
#             the growing corpus in fuzz/corpus/<target>.
#   --replay  runs every committed seed and regression file once per target (no
#             fuzzing): fails on a reproduced crash.
#   TARGET    load_run, load_verified, preprocess, c_abi, onnx_import (default: all).
#
# The .fer targets are built with cargo-fuzz: it must be on PATH (or
# CARGO_FUZZ=/path/to/cargo-fuzz). On a stable toolchain the nightly flags cargo-fuzz
# passes (-Zsanitizer=address, ...) are enabled with RUSTC_BOOTSTRAP=1, which this
# script sets. onnx_import is the workspace member fuzz/onnx-harness, built with plain
# cargo in the workspace's target dir and dev profile, so it links the tract of the
# workspace's debug build (`cargo test --workspace` compiles it); rustc-wrapper.sh
# instruments the host tool and the harness only, without a sanitizer (README.md,
# "onnx_import in CI"). Environment: FUZZ_SECONDS, FUZZ_SANITIZER (address | none;
# default address; the .fer targets), FUZZ_NICE (default 15), FUZZ_ARGS (extra
# libFuzzer flags), FUZZ_TARGET_DIR (cargo-fuzz's target dir; default fuzz/target, or
# fuzz/target-nosan without a sanitizer). Exit code: 0 when no target crashed, 1
# otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mode=ci
targets=()
for a in "$@"; do
    case "$a" in
        --ci) mode=ci ;;
        --long) mode=long ;;
        --replay) mode=replay ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        -*) echo "unknown option $a" >&2; exit 2 ;;
        *) targets+=("$a") ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=(load_run load_verified preprocess c_abi onnx_import)

case "$mode" in
    ci) seconds=${FUZZ_SECONDS:-25} ;;
    long) seconds=${FUZZ_SECONDS:-3600} ;;
    replay) seconds=0 ;;
esac
sanitizer=${FUZZ_SANITIZER:-address}
nice_level=${FUZZ_NICE:-15}
cargo_fuzz=${CARGO_FUZZ:-cargo-fuzz}
export RUSTC_BOOTSTRAP=1
triple=$(rustc -vV | sed -n 's/^host: //p')
# cargo-fuzz puts the binaries of a build with a sanitizer and without it in the same
# place; a separate target dir keeps both.
target_dir="$here/target"
[ "$sanitizer" = none ] && target_dir="$here/target-nosan"
target_dir=${FUZZ_TARGET_DIR:-$target_dir}

# Per target: the seed directories, libFuzzer's input size limit, time-out per input (s).
seeds_of() {
    case "$1" in
        load_run|load_verified|c_abi) echo "$here/seeds/fer $here/seeds/pipeline" ;;
        preprocess) echo "$here/seeds/pipeline" ;;
        onnx_import) echo "$here/seeds/onnx" ;;
        *) echo "unknown target $1" >&2; exit 2 ;;
    esac
}
max_len_of() { [ "$1" = onnx_import ] && echo 1048576 || echo 262144; }
timeout_of() { [ "$1" = onnx_import ] && echo 30 || echo 10; }
# The crates of the onnx_import build that get libFuzzer's instrumentation (crate
# names: the host tool's library and the harness) and, as packages, a profile override
# that gives them file names and fingerprints of their own: the wrapper's flags enter
# no hash, so without it the instrumented ferrite-tool would overwrite the workspace's
# plain one. codegen-units = 256 is what the dev profile uses anyway; only the hash
# changes. The runtime (`ferrite`) stays the plain, shared build: Model::load is the
# .fer targets' work, and its instrumented build would cost CI another compile.
onnx_instrumented="ferrite_tool ferrite_fuzz onnx_import"
onnx_overrides=()
for p in ferrite-tool ferrite-fuzz-onnx; do
    onnx_overrides+=(--config "profile.dev.package.$p.codegen-units=256")
done
# Builds a target (cargo's output on stderr); prints the path of its binary.
build() {
    if [ "$1" = onnx_import ]; then
        # Without RUSTC_BOOTSTRAP, as the workspace builds: proc-macro2's build script
        # reruns when it changes, and with it every crate above (tract too).
        (cd "$root" && RUSTC_WRAPPER="$here/rustc-wrapper.sh" \
            FUZZ_INSTRUMENT="$onnx_instrumented" \
            nice -n "$nice_level" env -u RUSTC_BOOTSTRAP cargo build "${onnx_overrides[@]}" \
            --workspace --exclude ferrite-conformance --features ferrite-fuzz-onnx/fuzz \
            --bin onnx_import >&2)
        echo "${CARGO_TARGET_DIR:-$root/target}/debug/onnx_import"
    else
        (cd "$root" && nice -n "$nice_level" "$cargo_fuzz" build -a -s "$sanitizer" \
            --target-dir "$target_dir" "$1" >&2)
        echo "$target_dir/$triple/release/$1"
    fi
}

failed=()
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT
for t in "${targets[@]}"; do
    seeds=$(seeds_of "$t")
    san=$sanitizer
    [ "$t" = onnx_import ] && san=none
    echo "==> fuzz $t ($mode, ${seconds}s, sanitizer $san)"
    bin=$(build "$t")
    regressions="$here/regressions/$t"
    if [ "$mode" = ci ]; then
        corpus=$(mktemp -d)
        scratch+=("$corpus")
    else
        corpus="$here/corpus/$t"
    fi
    mkdir -p "$corpus" "$here/artifacts/$t"
    common=(-rss_limit_mb=2048 -malloc_limit_mb=2048 "-max_len=$(max_len_of "$t")"
        "-timeout=$(timeout_of "$t")" "-artifact_prefix=$here/artifacts/$t/")
    dirs=()
    for d in $seeds "$regressions"; do [ -d "$d" ] && dirs+=("$d"); done
    set +e
    if [ "$mode" = replay ]; then
        files=()
        for d in "${dirs[@]}"; do files+=("$d"/*); done
        nice -n "$nice_level" "$bin" "${common[@]}" ${FUZZ_ARGS:-} "${files[@]}"
    else
        # The first directory receives the new inputs; seeds and regressions are read.
        nice -n "$nice_level" "$bin" "${common[@]}" -max_total_time="$seconds" \
            -print_final_stats=1 ${FUZZ_ARGS:-} "$corpus" "${dirs[@]}"
    fi
    rc=$?
    set -e
    [ $rc -ne 0 ] && failed+=("$t")
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${targets[*]}: no crash"
