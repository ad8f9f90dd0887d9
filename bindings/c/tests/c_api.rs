//! The C test program `tests/c/test_ferrite.c`, compiled against `include/ferrite.h` with
//! `gcc -std=c99 -Wall -Wextra -Werror -pedantic`, linked once against `libferrite_c.a`
//! and once against `libferrite_c.so`, and run on the runtime's fixtures: natively and
//! under `valgrind --leak-check=full` (required: `cargo xtask setup` installs it).
//!
//! The references are the Rust runtime's own outputs (`cargo run -p ferrite --example
//! fixtures`) plus two small models written here whose expected results are computed by
//! hand (golden vectors, a single-output regression).

use ferrite::format::types::{Activation, DType, Op, Quant, UnaryOp};
use ferrite::format::write::ModelBuilder;
mod common;

use common::{cargo, check, profile_dir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

struct Built {
    fixtures: PathBuf,
    static_bin: PathBuf,
    dynamic_bin: PathBuf,
}

/// Builds the libraries, the fixtures and both test executables, once per test run.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let profile = profile_dir();
        let release = profile.file_name().is_some_and(|n| n == "release");
        let work = profile.join("ferrite-c-test");
        let fixtures = work.join("fixtures");
        std::fs::create_dir_all(&fixtures).unwrap();

        // The libraries under test: the same profile and target dir as this test.
        let mut build = cargo();
        build.args(["build", "-p", "ferrite-c", "--lib"]);
        if release {
            build.arg("--release");
        }
        check("cargo build -p ferrite-c", build.output().unwrap());
        let lib_a = profile.join("libferrite_c.a");
        let lib_so = profile.join("libferrite_c.so");
        assert!(
            lib_a.is_file() && lib_so.is_file(),
            "no {} / {}",
            lib_a.display(),
            lib_so.display()
        );

        // The runtime's reference outputs.
        common::fixtures(&fixtures);
        write_extra_models(&fixtures);

        let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/test_ferrite.c");
        let gcc = |out: &Path, link: &[&std::ffi::OsStr]| {
            let mut c = Command::new("gcc");
            c.args([
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-g",
                "-O1",
            ])
            .arg("-I")
            .arg(&include)
            .arg(&source)
            .arg("-o")
            .arg(out)
            .args(link);
            check(
                &format!("gcc -o {}", out.display()),
                c.output().expect("gcc is installed"),
            );
        };
        let static_bin = work.join("test_ferrite_static");
        gcc(
            &static_bin,
            &[
                lib_a.as_os_str(),
                "-lpthread".as_ref(),
                "-ldl".as_ref(),
                "-lm".as_ref(),
            ],
        );
        let dynamic_bin = work.join("test_ferrite_dynamic");
        let rpath = format!("-Wl,-rpath,{}", profile.display());
        gcc(
            &dynamic_bin,
            &[lib_so.as_os_str(), rpath.as_ref(), "-lm".as_ref()],
        );
        Built {
            fixtures,
            static_bin,
            dynamic_bin,
        }
    })
}

/// Models whose expected behaviour is known without running ferrite.
fn write_extra_models(dir: &Path) {
    // Relu over 4 values with two golden vectors: one right, one deliberately wrong.
    let mut b = ModelBuilder::new("golden-relu");
    b.version = "2".into();
    b.description = "Relu with golden vectors".into();
    b.producer = "ferrite-c tests".into();
    b.properties = vec![
        ("precision".into(), "f32".into()),
        ("source".into(), "c-test".into()),
    ];
    let x = b.add_tensor("x", DType::F32, &[1, 4], Quant::None).unwrap();
    let y = b.add_tensor("y", DType::F32, &[1, 4], Quant::None).unwrap();
    b.add_op(Op::Unary { op: UnaryOp::Relu }, &[x], &[y])
        .unwrap();
    b.set_io(&[x], &[y]).unwrap();
    let f32s = |v: [f32; 4]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    b.add_golden(
        vec![f32s([-1.0, 0.5, 2.0, -3.0])],
        vec![f32s([0.0, 0.5, 2.0, 0.0])],
    );
    b.add_golden(
        vec![f32s([-1.0, 0.5, 2.0, -3.0])],
        vec![f32s([0.0, 0.5, 2.0, -3.0])],
    );
    std::fs::write(dir.join("golden.fer"), b.finish().unwrap()).unwrap();

    // One output value: y = x . [1 2 3 4] + 0.5, so x = 1,1,1,1 gives 10.5 exactly.
    let mut b = ModelBuilder::new("single-output");
    let x = b.add_tensor("x", DType::F32, &[1, 4], Quant::None).unwrap();
    let w = b
        .add_const_f32("w", &[1, 4], &[1.0, 2.0, 3.0, 4.0])
        .unwrap();
    let bias = b.add_const_f32("b", &[1], &[0.5]).unwrap();
    let y = b.add_tensor("y", DType::F32, &[1, 1], Quant::None).unwrap();
    b.add_op(
        Op::FullyConnected {
            act: Activation::None,
            q: None,
        },
        &[x, w, bias],
        &[y],
    )
    .unwrap();
    b.set_io(&[x], &[y]).unwrap();
    let single = b.finish().unwrap();
    std::fs::write(dir.join("single.fer"), &single).unwrap();
    write_signed_models(dir, &single);
}

/// Signed copies of `single.fer` (the runtime's `signature::sign`, what `ferrite sign`
/// runs) for the verified-load tests: signed at `model_version` 5 by the key of seed
/// [7; 32] (`trusted.pub`), a second key that did not sign (`other.pub`), and the signed
/// file with one byte in the middle of the weights flipped (`single_tampered.fer`).
fn write_signed_models(dir: &Path, single: &[u8]) {
    use ferrite::signature::sign::{public_key, sign};
    let seed = [7u8; 32];
    let signed = sign(single, &seed, 5).unwrap();
    std::fs::write(dir.join("single_signed.fer"), &signed).unwrap();
    std::fs::write(dir.join("trusted.pub"), public_key(&seed).0).unwrap();
    std::fs::write(dir.join("other.pub"), public_key(&[9u8; 32]).0).unwrap();
    // The weights [1 2 3 4] as stored: flip a bit of the third byte of the 2.0.
    let w: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    let at = signed
        .windows(w.len())
        .position(|s| s == w.as_slice())
        .expect("the weights are stored verbatim");
    let mut tampered = signed.clone();
    tampered[at + 6] ^= 0x01;
    std::fs::write(dir.join("single_tampered.fer"), tampered).unwrap();
}

/// Runs the C test program (optionally under valgrind) and returns its output.
fn run(bin: &Path, valgrind: bool) -> String {
    let b = built();
    let mut c = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--error-exitcode=1",
        ])
        .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = c.arg(&b.fixtures).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("{stdout}");
    if valgrind {
        let keys = [
            "ERROR SUMMARY",
            "lost:",
            "in use at exit",
            "total heap usage",
            "no leaks are possible",
        ];
        for l in stderr
            .lines()
            .filter(|l| keys.iter().any(|k| l.contains(k)))
        {
            println!("valgrind: {l}");
        }
    }
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        bin.display(),
        out.status
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.ends_with(" 0 failed") && !summary.starts_with("0 passed"),
        "summary: {summary}"
    );
    if valgrind {
        assert!(
            stderr.contains("ERROR SUMMARY: 0 errors"),
            "valgrind:\n{stderr}"
        );
    }
    stdout
}

#[test]
fn c_program_linked_statically() {
    run(&built().static_bin, false);
}

#[test]
fn c_program_linked_dynamically() {
    let b = built();
    let needed = Command::new("readelf")
        .arg("-d")
        .arg(&b.dynamic_bin)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&needed.stdout).contains("libferrite_c.so"),
        "not linked to the .so"
    );
    run(&b.dynamic_bin, false);
}

#[test]
fn c_program_static_under_valgrind() {
    common::require("valgrind", "valgrind");
    run(&built().static_bin, true);
}

#[test]
fn c_program_dynamic_under_valgrind() {
    common::require("valgrind", "valgrind");
    run(&built().dynamic_bin, true);
}

/// `examples/c`: the Makefile builds `predict`, which classifies a row like the runtime.
#[test]
fn c_example_builds_with_its_makefile_and_predicts() {
    let b = built();
    let out_dir = profile_dir().join("ferrite-c-test/example");
    std::fs::create_dir_all(&out_dir).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/c");
    let bin = out_dir.join("predict");
    let mut make = Command::new("make");
    make.arg("-C")
        .arg(&example)
        .arg(format!("BUILD_DIR={}", out_dir.display()))
        .arg(format!("FERRITE_LIB_DIR={}", profile_dir().display()))
        .arg("CC=gcc")
        .arg(&bin);
    check(
        "make -C examples/c",
        make.output().expect("make is installed"),
    );

    let row = std::fs::read_to_string(b.fixtures.join("inputs.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let labels = std::fs::read_to_string(b.fixtures.join("labels.txt")).unwrap();
    let int8_label: usize = labels
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let name = ["north", "east", "south", "west"][int8_label];
    let out = check(
        "predict",
        Command::new(&bin)
            .arg(b.fixtures.join("mlp_int8.fer"))
            .arg(&row)
            .output()
            .unwrap(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        stdout.contains(&format!("label: {int8_label} ({name})")),
        "{stdout}"
    );
    assert!(
        stdout.contains("model: fixture-mlp-int8 (16 features -> 4 scores)"),
        "{stdout}"
    );

    // Errors are reported with the library's status and message.
    let short = row.rsplit_once(',').unwrap().0;
    let out = Command::new(&bin)
        .arg(b.fixtures.join("mlp_int8.fer"))
        .arg(short)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("FER_STATUS_WRONG_LENGTH") && stderr.contains("expected 16 values, got 15"),
        "{stderr}"
    );
    let out = Command::new(&bin)
        .arg(b.fixtures.join("inputs.csv"))
        .arg(&row)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FER_STATUS_BAD_MAGIC"),
        "not a model"
    );
}
