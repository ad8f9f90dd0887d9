//! The bindings tested in their own languages, from `cargo test -p ferrite-uniffi`:
//!
//! - **Kotlin**: `tests/kotlin/*.kt` and the generated Kotlin compiled in one `kotlinc`
//!   invocation, run on the JVM with JNA against the host cdylib; the streaming test
//!   also runs a torch GRU from `examples/recurrent` converted by the `ferrite` CLI
//!   (`cargo run -p ferrite-tool`).
//! - **Python**: `tests/python/test_ferrite.py` with `python3` against the generated
//!   module and the cdylib placed beside it.
//! - **Swift** (no Swift compiler here): the committed Swift sources equal freshly
//!   generated ones, and they expose the documented API.
//!
//! Tools, overridable by environment variables: `KOTLINC` (default
//! `bindings/uniffi/node_modules/kotlin-compiler/bin/kotlinc`, from `npm ci` in
//! `bindings/uniffi`, then `kotlinc` on `PATH`), `JAVA` (`java`), `JNA_JAR`
//! (`/usr/share/java/jna.jar`, Debian's `libjna-java`), `PYTHON` (`python3`).
//! `FERRITE_TOOL`: the `ferrite` binary that converts the GRU (default: `cargo run -p
//! ferrite-tool`). `FERRITE_UPDATE_BINDINGS=1` rewrites the committed Swift sources instead of
//! failing when they are stale (as `generate.sh` does).

mod common;

use common::{material, run};
use core::hash::{Hash, Hasher};
use std::collections::hash_map::DefaultHasher;
use std::path::{Path, PathBuf};
use std::process::Command;

const PKG: &str = env!("CARGO_MANIFEST_DIR");

/// Runs the workspace's `uniffi-bindgen` on the cdylib into a fresh `out` directory.
fn generate(out: &Path, languages: &[&str]) {
    let _ = std::fs::remove_dir_all(out);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"));
    cmd.args(["generate", "--no-format", "--metadata-no-deps", "--library"])
        .arg(&material().cdylib);
    for l in languages {
        cmd.args(["--language", l]);
    }
    cmd.arg("--out-dir").arg(out).current_dir(PKG);
    run(&mut cmd, "uniffi-bindgen generate");
}

/// JVM flags for the two short JVM runs (kotlinc, the Kotlin tests): the client
/// compiler only and the serial collector. The default tiered JIT spends most of a short
/// run's CPU in C2 compiler and GC threads: kotlinc on this test's sources took 32.8 CPU-s
/// with the defaults and 16.3 with these (2026-12-07), same output.
const SHORT_RUN_JVM: &[&str] = &["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"];

/// An executable on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

const KOTLINC_SETUP: &str = "Install it with `npm ci --prefix bindings/uniffi` (kotlin-compiler \
     2.4.20 from bindings/uniffi/package.json, needs Java 17), or set KOTLINC to a kotlinc binary; \
     the JVM side also needs JNA: `apt-get install -y libjna-java`.";

fn kotlinc() -> PathBuf {
    if let Some(k) = std::env::var_os("KOTLINC") {
        let k = PathBuf::from(k);
        assert!(
            k.is_file(),
            "KOTLINC={} is not a file. {KOTLINC_SETUP}",
            k.display()
        );
        return k;
    }
    let local = Path::new(PKG).join("node_modules/kotlin-compiler/bin/kotlinc");
    if local.is_file() {
        return local;
    }
    on_path("kotlinc").unwrap_or_else(|| panic!("kotlinc not found. {KOTLINC_SETUP}"))
}

fn jna_jar() -> PathBuf {
    let jar = std::env::var_os("JNA_JAR")
        .map_or_else(|| PathBuf::from("/usr/share/java/jna.jar"), PathBuf::from);
    assert!(
        jar.is_file(),
        "JNA not found at {}: install it with `apt-get install -y libjna-java` or set JNA_JAR",
        jar.display()
    );
    jar
}

fn hash_files(files: &[PathBuf], extra: &str) -> String {
    let mut h = DefaultHasher::new();
    extra.hash(&mut h);
    for f in files {
        std::fs::read(f).unwrap().hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// `examples/recurrent`: the torch recurrent models, their inputs and onnxruntime's outputs.
fn examples_recurrent() -> PathBuf {
    Path::new(PKG).join("../../examples/recurrent")
}

/// The torch GRU of `examples/recurrent` converted by the `ferrite` CLI (as a user
/// would) into `out/recurrent`: `gru_whole.fer` (the 20-step sequence) and
/// `gru_stream.fer` (one step, `--state initial_h=h_n`).
fn torch_gru_stream(out: &Path) -> PathBuf {
    let dir = out.join("recurrent");
    std::fs::create_dir_all(&dir).unwrap();
    let onnx = examples_recurrent().join("gru_uni_1l_state.onnx");
    // `FERRITE_TOOL` (set by `cargo xtask test`: the tool its workspace build made), else
    // `cargo run -p ferrite-tool`, which resolves features of its own and so may compile
    // tract again.
    let tool = std::env::var_os("FERRITE_TOOL").filter(|p| !p.is_empty());
    let convert = |fer: &str, extra: &[&str]| {
        let mut cmd = match &tool {
            Some(tool) => Command::new(tool),
            None => {
                let mut cmd = Command::new(common::cargo());
                cmd.args(["run", "-q", "-p", "ferrite-tool"]);
                if !cfg!(debug_assertions) {
                    cmd.arg("--release");
                }
                cmd.arg("--");
                cmd
            }
        };
        cmd.arg("convert")
            .arg(&onnx)
            .arg("-o")
            .arg(dir.join(fer))
            .args(extra);
        run(&mut cmd, "ferrite convert");
    };
    convert("gru_whole.fer", &[]);
    convert(
        "gru_stream.fer",
        &[
            "--input-shape",
            "sequence=1,1,6",
            "--state",
            "initial_h=h_n",
        ],
    );
    dir
}

#[test]
fn kotlin() {
    let m = material();
    let dir = m.work.join("kotlin");
    let src = dir.join("generated");
    generate(&src, &["kotlin"]);
    let jna = jna_jar();
    let kotlinc = kotlinc();
    let tests = Path::new(PKG).join("tests/kotlin");
    let mut sources = vec![src.join("dev/ferrite/ferrite_uniffi.kt")];
    sources.extend(["Harness.kt", "FerriteTests.kt", "StreamTests.kt"].map(|f| tests.join(f)));
    let recurrent = torch_gru_stream(&dir);
    // kotlinc takes 10+ s to start: compile everything at once, and only when a source changed.
    let jar = dir.join("tests.jar");
    let stamp = dir.join("tests.jar.stamp");
    let key = hash_files(&sources, &kotlinc.display().to_string());
    if !jar.is_file() || std::fs::read_to_string(&stamp).ok().as_deref() != Some(key.as_str()) {
        let _ = std::fs::remove_file(&stamp);
        let mut cmd = Command::new(&kotlinc);
        if std::env::var_os("JAVA_OPTS").is_none() {
            // kotlinc's own default heap, plus the short-run JVM flags (`SHORT_RUN_JVM`).
            cmd.env(
                "JAVA_OPTS",
                format!("-Xmx512M -Xms128M {}", SHORT_RUN_JVM.join(" ")),
            );
        }
        cmd.args(&sources)
            .arg("-cp")
            .arg(&jna)
            .args(["-include-runtime", "-nowarn", "-d"])
            .arg(&jar);
        run(&mut cmd, "kotlinc");
        std::fs::write(&stamp, key).unwrap();
    }
    let java = std::env::var("JAVA").unwrap_or_else(|_| "java".into());
    let lib_dir = m.cdylib.parent().unwrap();
    let cp = std::env::join_paths([&jar, &jna]).unwrap();
    let mut cmd = Command::new(java);
    cmd.args(SHORT_RUN_JVM)
        .arg(format!("-Djna.library.path={}", lib_dir.display()))
        .arg("-cp")
        .arg(cp)
        .arg("FerriteTestsKt")
        .env("FERRITE_FIXTURES", &m.fixtures)
        .env("FERRITE_RECURRENT", &recurrent)
        .env("FERRITE_EXAMPLES", examples_recurrent());
    let out = run(&mut cmd, "Kotlin tests");
    println!("{out}");
    assert!(out.contains(" passed, 0 failed"), "{out}");
}

#[test]
fn python() {
    let m = material();
    let dir = m.work.join("python");
    generate(&dir, &["python"]);
    std::fs::copy(&m.cdylib, dir.join(m.cdylib.file_name().unwrap())).unwrap();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut cmd = Command::new(python);
    cmd.arg(Path::new(PKG).join("tests/python/test_ferrite.py"))
        .env("PYTHONPATH", &dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("FERRITE_FIXTURES", &m.fixtures);
    let out = run(&mut cmd, "Python tests");
    println!("{out}");
    assert!(out.contains(" passed, 0 failed"), "{out}");
}

/// Generated file → committed file.
const SWIFT_FILES: [(&str, &str); 3] = [
    ("Ferrite.swift", "swift/Sources/Ferrite/Ferrite.swift"),
    ("FerriteFFI.h", "swift/FerriteFFI/FerriteFFI.h"),
    ("FerriteFFI.modulemap", "swift/FerriteFFI/module.modulemap"),
];

#[test]
fn swift_sources_are_current() {
    let out = material().work.join("swift");
    generate(&out, &["swift"]);
    let update = std::env::var_os("FERRITE_UPDATE_BINDINGS").is_some();
    let mut stale = Vec::new();
    for (generated, committed) in SWIFT_FILES {
        let fresh = std::fs::read_to_string(out.join(generated)).unwrap();
        let path = Path::new(PKG).join(committed);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, fresh).unwrap();
                println!("updated {committed}");
            } else {
                stale.push(committed);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the committed Swift bindings are stale: {stale:?}. Run bindings/uniffi/generate.sh \
         (or FERRITE_UPDATE_BINDINGS=1 cargo test -p ferrite-uniffi --test foreign swift) and commit the result."
    );
}

#[test]
fn swift_exposes_the_documented_api() {
    let swift = std::fs::read_to_string(Path::new(PKG).join("swift/Sources/Ferrite/Ferrite.swift"))
        .unwrap();
    // Whitespace-free, so the check does not depend on the generator's formatting.
    let flat: String = swift.chars().filter(|c| !c.is_whitespace()).collect();
    let api = [
        "#if canImport(FerriteFFI)",
        "open class Model: ModelProtocol, @unchecked Sendable",
        "public static func fromBytes(bytes: Data) throws -> Model",
        "public static func fromFile(path: String) throws -> Model",
        "open func info() -> ModelInfo",
        "open func predict(features: [Float]) throws -> Prediction",
        "open func predictBatch(rows: [[Float]]) throws -> [Prediction]",
        "open func runRaw(input: Data) throws -> Data",
        "open func runTensors(inputs: [Data]) throws -> [Data]",
        "open func checkGolden() throws -> UInt32",
        "open func preprocess(raw: [Float]) throws -> [Float]",
        "public func ferriteVersion() -> String",
        "open class Monitor: MonitorProtocol, @unchecked Sendable",
        "public convenience init(model: Model, window: UInt32) throws",
        "open func report() throws -> DriftReport",
        "open func snapshot() throws -> Data",
        "public struct DriftReport",
        "public struct FeatureDrift",
        "public let pValue: Double",
        "public enum DriftLevel",
        "public struct Prediction",
        "public let scores: [Float]",
        "public let label: UInt32?",
        "public let labelName: String?",
        "public struct ModelInfo",
        "public let metadata: ModelMetadata",
        "public let inputs: [TensorInfo]",
        "public let outputs: [TensorInfo]",
        "public let labels: [String]",
        "public let arenaSize: UInt64",
        "public let numGolden: UInt32",
        "public let hasPreprocessing: Bool",
        "public struct ModelMetadata",
        "public let producer: String",
        "public let properties: [String: String]",
        "public struct TensorInfo",
        "public let dtype: DType",
        "public let shape: [UInt32]",
        "public let byteLen: UInt64",
        "public let quantization: Quantization?",
        "public enum DType",
        "public enum Quantization",
        "case perTensor(scale: Float, zeroPoint: Int32)",
        "enum FerriteError: Swift.Error",
        "case InvalidModel(code: UInt32, reason: String)",
        "case WrongLength(code: UInt32, reason: String, expected: UInt64, actual: UInt64)",
        "case InvalidInput(code: UInt32, reason: String, feature: UInt32)",
        "case GoldenMismatch(code: UInt32, reason: String, index: UInt32)",
        "case Unsupported(code: UInt32, reason: String)",
        "case Io(code: UInt32, reason: String, path: String)",
        "case Runtime(code: UInt32, reason: String)",
    ];
    let missing: Vec<&str> = api
        .iter()
        .copied()
        .filter(|a| !flat.contains(&a.chars().filter(|c| !c.is_whitespace()).collect::<String>()))
        .collect();
    assert!(
        missing.is_empty(),
        "the Swift bindings lack the documented API: {missing:#?}"
    );
    let modulemap =
        std::fs::read_to_string(Path::new(PKG).join("swift/FerriteFFI/module.modulemap")).unwrap();
    assert!(
        modulemap.contains("module FerriteFFI") && modulemap.contains("header \"FerriteFFI.h\""),
        "{modulemap}"
    );
}
