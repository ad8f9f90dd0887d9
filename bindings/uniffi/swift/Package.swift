// swift-tools-version:5.9
// The ferrite Swift package: the UniFFI-generated Swift API (Sources/Ferrite, committed)
// over the Rust library, shipped as an XCFramework of static libraries built by
// ../build-xcframework.sh (iOS device, iOS simulator, macOS). See ../README.md.
import PackageDescription

let package = Package(
    name: "Ferrite",
    platforms: [.iOS(.v13), .macOS(.v11)],
    products: [
        .library(name: "Ferrite", targets: ["Ferrite"]),
    ],
    targets: [
        // The C side: libferrite_uniffi.a per platform + FerriteFFI.h + module.modulemap
        // (module `FerriteFFI`). To publish, replace `path:` by
        // `url: "https://…/FerriteFFI.xcframework.zip", checksum: "…"`
        // (`swift package compute-checksum FerriteFFI.xcframework.zip`).
        .binaryTarget(name: "FerriteFFI", path: "FerriteFFI.xcframework"),
        .target(name: "Ferrite", dependencies: ["FerriteFFI"], path: "Sources/Ferrite"),
        .testTarget(name: "FerriteTests", dependencies: ["Ferrite"], path: "Tests/FerriteTests"),
    ]
)
