#!/usr/bin/env bash
# Regenerates the Swift, Kotlin and Python sources of the ferrite UniFFI bindings from
# the host cdylib, with the workspace's own `uniffi-bindgen` (same uniffi version):
#
#   bindings/uniffi/generate.sh [--release]
#
# Writes (see README.md):
#   swift/Sources/Ferrite/Ferrite.swift                      committed; a test checks it is current
#   swift/FerriteFFI/FerriteFFI.h, module.modulemap          committed; the XCFramework's headers
#   android/src/main/kotlin/dev/ferrite/ferrite_uniffi.kt    generated, not committed
#   python/ferrite_uniffi.py + the host library beside it    generated, not committed
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo="${CARGO:-cargo}"
profile=debug
flags=()
if [[ "${1:-}" == "--release" ]]; then
    profile=release
    flags=(--release)
fi
case "$(uname -s)" in
    Darwin) lib_file=libferrite_uniffi.dylib ;;
    *) lib_file=libferrite_uniffi.so ;;
esac

cd "$root"
"$cargo" build -q -p ferrite-uniffi --lib "${flags[@]}"
lib="${CARGO_TARGET_DIR:-$root/target}/$profile/$lib_file"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$cargo" run -q -p ferrite-uniffi --bin uniffi-bindgen "${flags[@]}" -- generate \
    --no-format --metadata-no-deps --library "$lib" \
    --language swift --language kotlin --language python --out-dir "$out" >/dev/null

mkdir -p "$here/swift/Sources/Ferrite" "$here/swift/FerriteFFI" \
    "$here/android/src/main/kotlin/dev/ferrite" "$here/python"
cp "$out/Ferrite.swift" "$here/swift/Sources/Ferrite/Ferrite.swift"
cp "$out/FerriteFFI.h" "$here/swift/FerriteFFI/FerriteFFI.h"
cp "$out/FerriteFFI.modulemap" "$here/swift/FerriteFFI/module.modulemap"
cp "$out/dev/ferrite/ferrite_uniffi.kt" "$here/android/src/main/kotlin/dev/ferrite/ferrite_uniffi.kt"
cp "$out/ferrite_uniffi.py" "$here/python/ferrite_uniffi.py"
cp "$lib" "$here/python/$lib_file"
echo "generated Swift, Kotlin and Python bindings from $lib"
