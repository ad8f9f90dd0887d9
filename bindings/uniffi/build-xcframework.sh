#!/usr/bin/env bash
# macOS only (Xcode + rustup): builds swift/FerriteFFI.xcframework from static libraries
# for iOS devices, the iOS simulator (arm64 + x86_64) and macOS (arm64 + x86_64), and
# writes the runtime's fixtures for the Swift tests. Then:
#
#   cd bindings/uniffi/swift && swift test        # macOS slice, XCTest
#
# See README.md ("Swift package").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cargo="${CARGO:-cargo}"
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
target_dir="${CARGO_TARGET_DIR:-$root/target}"
build="$here/swift/build"

cd "$root"
if command -v rustup >/dev/null; then
    rustup target add "${targets[@]}"
fi
# The committed Swift sources must match the library; regenerate (a no-op when current).
"$here/generate.sh"
for t in "${targets[@]}"; do
    "$cargo" rustc -p ferrite-uniffi --lib --release --target "$t" --crate-type staticlib
done
lib() { echo "$target_dir/$1/release/libferrite_uniffi.a"; }

rm -rf "$build" "$here/swift/FerriteFFI.xcframework"
mkdir -p "$build/ios-sim" "$build/macos"
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$build/ios-sim/libferrite_uniffi.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$build/macos/libferrite_uniffi.a"
# -headers: FerriteFFI.h + module.modulemap (module FerriteFFI), committed in swift/FerriteFFI.
xcodebuild -create-xcframework \
    -library "$(lib aarch64-apple-ios)" -headers "$here/swift/FerriteFFI" \
    -library "$build/ios-sim/libferrite_uniffi.a" -headers "$here/swift/FerriteFFI" \
    -library "$build/macos/libferrite_uniffi.a" -headers "$here/swift/FerriteFFI" \
    -output "$here/swift/FerriteFFI.xcframework"

"$cargo" run -q -p ferrite --example fixtures -- "$here/swift/Tests/FerriteTests/Fixtures"
echo "built $here/swift/FerriteFFI.xcframework; now: cd $here/swift && swift test"
