#!/usr/bin/env bash
# Builds the Android shared libraries into android/src/main/jniLibs/<abi>/ and the
# Kotlin sources into android/src/main/kotlin (generate.sh). Needs the Android NDK
# (ANDROID_NDK_HOME) and cargo-ndk (`cargo install cargo-ndk`). See README.md
# ("Android library module").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo="${CARGO:-cargo}"
abis=(arm64-v8a armeabi-v7a x86_64)
targets=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android)

cd "$root"
if command -v rustup >/dev/null; then
    rustup target add "${targets[@]}"
fi
"$here/generate.sh"
args=()
for a in "${abis[@]}"; do
    args+=(-t "$a")
done
"$cargo" ndk "${args[@]}" --platform 24 -o "$here/android/src/main/jniLibs" \
    build -p ferrite-uniffi --lib --release
echo "built $(find "$here/android/src/main/jniLibs" -name 'libferrite_uniffi.so' | wc -l) libraries into android/src/main/jniLibs"
