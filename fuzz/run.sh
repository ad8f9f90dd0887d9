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
# Needs cargo-fuzz on PATH (or CARGO_FUZZ=/path/to/cargo-fuzz). On a stable toolchain
# the nightly flags cargo-fuzz passes (-Zsanitizer=address, ...) are enabled with
# RUSTC_BOOTSTRAP=1, which this script sets. Environment: FUZZ_SECONDS, FUZZ_SANITIZER
# (address | none; default address), FUZZ_NICE (default 15), FUZZ_ARGS (extra libFuzzer
# flags), FUZZ_TARGET_DIR (cargo target dir; default fuzz/target, or fuzz/target-nosan
# without a sanitizer), FUZZ_ONNX_COVERAGE (ferrite | all; default ferrite): onnx_import
# is built in its own target dir (<target dir>-onnx) through rustc-wrapper.sh, which
# leaves tract and the other dependencies without coverage instrumentation, at
# opt-level 1 (about 13-18 CPU minutes; an instrumented tract takes far longer); `all`
# instruments every crate, as cargo-fuzz does (<target dir>-onnx-all). Exit code: 0 when no target crashed, 1 otherwise.
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
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
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
features_of() { [ "$1" = onnx_import ] && echo "--features onnx" || true; }
onnx_coverage=${FUZZ_ONNX_COVERAGE:-ferrite}
case "$onnx_coverage" in
    ferrite | all) ;;
    *) echo "FUZZ_ONNX_COVERAGE must be ferrite or all, not $onnx_coverage" >&2; exit 2 ;;
esac
# The cargo target dir of a target; onnx_import has its own, so the uninstrumented
# dependencies of its build are never reused by the other targets' builds.
target_dir_of() {
    if [ "$1" != onnx_import ]; then
        echo "$target_dir"
    elif [ "$onnx_coverage" = ferrite ]; then
        echo "$target_dir-onnx"
    else
        echo "$target_dir-onnx-all"
    fi
}
# The RUSTC_WRAPPER of a target's build (empty: none).
wrapper_of() {
    [ "$1" = onnx_import ] && [ "$onnx_coverage" = ferrite ] && echo "$here/rustc-wrapper.sh" || true
}

failed=()
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT
for t in "${targets[@]}"; do
    seeds=$(seeds_of "$t")
    echo "==> fuzz $t ($mode, ${seconds}s, sanitizer $sanitizer)"
    dir=$(target_dir_of "$t")
    wrapper=$(wrapper_of "$t")
    # shellcheck disable=SC2046
    (cd "$root" && { [ -z "$wrapper" ] || export RUSTC_WRAPPER="$wrapper"; } &&
        nice -n "$nice_level" "$cargo_fuzz" build -a -s "$sanitizer" --target-dir "$dir" \
        $(features_of "$t") "$t")
    bin="$dir/$triple/release/$t"
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
