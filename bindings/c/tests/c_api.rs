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
    std::fs::write(dir.join("single.fer"), b.finish().unwrap()).unwrap();
    write_stream_models(dir);
}

/// An RNN (tanh, 3 inputs, hidden 4) over `seq` frames: inputs x `[seq, 1, 3]` and
/// initial_h `[1, 1, 4]`, outputs the last step `y` `[1, 4]` and `h_n` `[1, 1, 4]`;
/// `stream` pairs `h_n` → initial_h.
fn rnn_model(seq: u32, stream: bool) -> Vec<u8> {
    use ferrite::format::types::{Cell, Direction};
    let v = |n: usize, salt: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + salt * 11) % 17) as f32 - 8.0) / 10.0)
            .collect()
    };
    let mut b = ModelBuilder::new("rnn-stream");
    let x = b
        .add_tensor("x", DType::F32, &[seq, 1, 3], Quant::None)
        .unwrap();
    let w = b.add_const_f32("w", &[1, 4, 3], &v(12, 1)).unwrap();
    let r = b.add_const_f32("r", &[1, 4, 4], &v(16, 2)).unwrap();
    let bias = b.add_const_f32("b", &[1, 8], &v(8, 3)).unwrap();
    let h0 = b
        .add_tensor("initial_h", DType::F32, &[1, 1, 4], Quant::None)
        .unwrap();
    let packed = b
        .add_tensor("packed", DType::F32, &[seq + 1, 1, 1, 4], Quant::None)
        .unwrap();
    let op = Op::Recurrent {
        cell: Cell::Rnn,
        direction: Direction::Forward,
        acts: [UnaryOp::Tanh].into_iter().collect(),
        clip: None,
    };
    b.add_op(op, &[x, w, r, bias, h0], &[packed]).unwrap();
    let mut outs = Vec::new();
    for (name, row, shape) in [("y", seq - 1, &[1u32, 4][..]), ("h_n", seq, &[1, 1, 4][..])] {
        let rows = b
            .add_tensor(
                &format!("{name}_row"),
                DType::F32,
                &[1, 1, 1, 4],
                Quant::None,
            )
            .unwrap();
        let op = Op::Slice {
            starts: [row as i32, 0, 0, 0].into_iter().collect(),
            steps: [1, 1, 1, 1].into_iter().collect(),
        };
        b.add_op(op, &[packed], &[rows]).unwrap();
        let t = b.add_tensor(name, DType::F32, shape, Quant::None).unwrap();
        b.add_op(Op::Reshape, &[rows], &[t]).unwrap();
        outs.push(t);
    }
    b.set_io(&[x, h0], &outs).unwrap();
    if stream {
        b.set_state(&[(1, 1)]).unwrap();
    }
    b.finish().unwrap()
}

/// `stream.fer` (one frame per step), `stream_frames.bin` (6 frames of 3 f32) and
/// `stream_expected.bin`: the last step's `y` and `h_n` (4 + 4 f32) of the
/// whole-sequence model run by the Rust runtime on those frames from a zero state.
fn write_stream_models(dir: &Path) {
    let frames: Vec<f32> = (0..18).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let whole = rnn_model(6, false);
    let a = ferrite::AlignedModel::new(&whole);
    let m = a.model().unwrap();
    let mut os = ferrite::OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_f32(0, &frames).unwrap();
    s.set_input_f32(1, &[0.0; 4]).unwrap();
    s.run().unwrap();
    let mut expected = [0f32; 8];
    s.output_f32(0, &mut expected[..4]).unwrap();
    s.output_f32(1, &mut expected[4..]).unwrap();
    let bytes = |v: &[f32]| v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(dir.join("stream.fer"), rnn_model(1, true)).unwrap();
    std::fs::write(dir.join("stream_frames.bin"), bytes(&frames)).unwrap();
    std::fs::write(dir.join("stream_expected.bin"), bytes(&expected)).unwrap();
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
