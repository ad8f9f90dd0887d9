//! QEMU parity: build `boards/mps2-an386` for thumbv7em-none-eabihf with Debian's rustc
//! and `-Zbuild-std=core`, run it in `qemu-system-arm -M mps2-an386`, and check that
//! every window it prints has exactly the output bytes and label of the host runtime
//! (`ferrite` on x86-64) on the same trace windows.
//!
//! The model: `$FERRITE_MODEL` (absolute or relative to the repository root), else the
//! converted sensor CNN at `target/firmware/sensor_cnn_int8.fer` if it exists, else the
//! development model of `tests/support/dev_model.rs` (written to `target/firmware/`).
//! Needs `qemu-system-arm`, Debian's `/usr/bin/cargo` + `/usr/bin/rustc` with the
//! library source (`rust-web-src`) and `ld.lld` (`lld-22`): `cargo xtask setup`.
//! Artifacts go to `target/cross` (TOOLCHAIN.md: the two compilers never share a target
//! dir); the QEMU output is kept in `target/firmware/qemu_parity.log`.

#[path = "support/dev_model.rs"]
mod dev_model;
#[path = "support/reference.rs"]
mod reference;

// Only the clean build environment of the shared helpers is used here.
#[allow(dead_code)]
#[path = "support/host.rs"]
mod host;

use core::time::Duration;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const TRIPLE: &str = "thumbv7em-none-eabihf";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const LLD: &str = "/usr/lib/llvm-22/bin/ld.lld";
const QEMU: &str = "qemu-system-arm";
const QEMU_TIMEOUT: Duration = Duration::from_secs(120);
const SETUP: &str =
    "run `cargo xtask setup` (apt: rustc-web cargo-web rust-web-src lld-22 qemu-system-arm)";

fn require(ok: bool, what: &str) {
    assert!(ok, "QEMU parity test: {what} is missing: {SETUP}");
}

fn check_prerequisites() {
    require(
        Path::new(DEBIAN_CARGO).is_file(),
        "Debian's cargo (/usr/bin/cargo)",
    );
    require(
        Path::new(DEBIAN_RUSTC).is_file(),
        "Debian's rustc (/usr/bin/rustc)",
    );
    let sysroot = Command::new(DEBIAN_RUSTC)
        .arg("--print")
        .arg("sysroot")
        .output();
    let sysroot = match sysroot {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => String::from("/usr"),
    };
    require(
        Path::new(&sysroot)
            .join("lib/rustlib/src/rust/library/core")
            .is_dir(),
        "the Rust library source for -Zbuild-std (package rust-web-src)",
    );
    require(
        Path::new(LLD).is_file(),
        "ld.lld (/usr/lib/llvm-22/bin/ld.lld, package lld-22)",
    );
    let qemu = Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    require(matches!(qemu, Ok(s) if s.success()), "qemu-system-arm");
}

/// The model file to bundle and compare, and a description for the report.
fn model_file(root: &Path) -> (PathBuf, String) {
    if let Some(p) = std::env::var_os("FERRITE_MODEL").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        let p = if p.is_absolute() { p } else { root.join(p) };
        assert!(p.is_file(), "FERRITE_MODEL={}: no such file", p.display());
        return (p, "FERRITE_MODEL".into());
    }
    let default = root.join("target/firmware/sensor_cnn_int8.fer");
    if default.is_file() {
        return (default, "converted sensor CNN (default)".into());
    }
    let dir = root.join("target/firmware");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("dev_model.fer");
    std::fs::write(&p, dev_model::dev_model()).unwrap();
    (
        p,
        "development model (no FERRITE_MODEL, no target/firmware/sensor_cnn_int8.fer)".into(),
    )
}

fn build_board(root: &Path, model: &Path) -> PathBuf {
    let board = root.join("firmware/boards/mps2-an386");
    let target_dir = root.join("target/cross");
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.current_dir(&board)
        .args(["build", "--release", "-Zbuild-std=core", "--target", TRIPLE])
        .arg("--manifest-path")
        .arg(board.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("FERRITE_MODEL", model)
        .env("CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER", LLD);
    host::without_outer_build_env(&mut cmd);
    let status = cmd.status().expect("spawn /usr/bin/cargo");
    assert!(
        status.success(),
        "building firmware/boards/mps2-an386 failed ({status}); see the output above"
    );
    let elf = target_dir.join(TRIPLE).join("release/ferrite-mps2-an386");
    assert!(elf.is_file(), "built, but {} is missing", elf.display());
    elf
}

/// Runs the ELF in QEMU; returns (exit code, stdout, stderr).
fn run_qemu(elf: &Path) -> (Option<i32>, String, String) {
    let mut child = Command::new(QEMU)
        .args(["-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn qemu-system-arm");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > QEMU_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(s) => (s.code(), out, err),
        None => panic!(
            "qemu-system-arm did not exit within {QEMU_TIMEOUT:?}\nstdout:\n{out}\nstderr:\n{err}"
        ),
    }
}

/// The host tool's binary: `$FERRITE_TOOL`, else the newest of `target/{release,debug}/ferrite`.
fn ferrite_tool(root: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FERRITE_TOOL").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    ["target/release/ferrite", "target/debug/ferrite"]
        .iter()
        .map(|p| root.join(p))
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// `ferrite run MODEL --input windows.csv` on the same windows (each value written as
/// the shortest decimal that round-trips the f32): its scores must be the firmware's
/// f32 output values bit for bit. Skipped (and said so) without the tool binary or for
/// a non-f32 output.
fn compare_with_ferrite_run(
    root: &Path,
    model: &Path,
    trace: &[[i16; 3]],
    got: &[reference::Expected],
) -> String {
    use ferrite_firmware::{mg_to_input, CHANNELS, HOP, WINDOW};
    let Some(tool) = ferrite_tool(root) else {
        return "`ferrite run` not compared (no target/*/ferrite; build it with `cargo build -p ferrite-tool`)".into();
    };
    let owned = ferrite::OwnedModel::new(&std::fs::read(model).unwrap()).unwrap();
    if owned.model().output(0).unwrap().dtype != ferrite::DType::F32 {
        return "`ferrite run` not compared (output 0 is not f32)".into();
    }
    let dir = root.join("target/firmware");
    let mut csv = String::new();
    let names: Vec<String> = ["x", "y", "z"]
        .iter()
        .flat_map(|a| (0..WINDOW).map(move |i| format!("{a}{i}")))
        .collect();
    csv += &names.join(",");
    csv.push('\n');
    for start in (0..).step_by(HOP).take_while(|s| s + WINDOW <= trace.len()) {
        let row: Vec<String> = (0..CHANNELS)
            .flat_map(|c| (0..WINDOW).map(move |i| (c, i)))
            .map(|(c, i)| format!("{:?}", mg_to_input(trace[start + i][c])))
            .collect();
        csv += &row.join(",");
        csv.push('\n');
    }
    let input = dir.join("qemu_parity_windows.csv");
    std::fs::write(&input, csv).unwrap();
    let out = Command::new(&tool)
        .arg("run")
        .arg(model)
        .arg("--input")
        .arg(&input)
        // Only the output values: no predicted-class column.
        .args(["--top-k", "0"])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => panic!(
            "{} run failed: {}",
            tool.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run {}: {e}", tool.display()),
    };
    let rows: Vec<Vec<u32>> = out
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f32>()
                        .expect("ferrite run: a number")
                        .to_bits()
                })
                .collect()
        })
        .collect();
    assert_eq!(
        rows.len(),
        got.len(),
        "ferrite run rows vs firmware windows:\n{out}"
    );
    for (row, g) in rows.iter().zip(got) {
        let fw: Vec<u32> = (0..g.out.len() / 8)
            .map(|i| {
                let b = u32::from_str_radix(&g.out[i * 8..i * 8 + 8], 16).unwrap();
                u32::from_le_bytes(b.to_be_bytes())
            })
            .collect();
        assert_eq!(
            row, &fw,
            "window {} (start {}): `ferrite run` vs firmware f32 bits",
            g.window, g.start
        );
    }
    format!(
        "and to `{} run` ({} windows, f32 bits)",
        tool.display(),
        rows.len()
    )
}

/// onnxruntime's label (argmax of p0..p3) and the true label per trace window, from
/// `examples/sensor/trace_reference_ort.csv`.
fn ort_labels(root: &Path) -> Vec<(u64, i32, usize)> {
    let text =
        std::fs::read_to_string(root.join("examples/sensor/trace_reference_ort.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let p: Vec<f64> = f[2..].iter().map(|v| v.parse().unwrap()).collect();
            let arg = (0..p.len()).fold(0, |a, i| if p[i] > p[a] { i } else { a });
            (f[0].parse().unwrap(), f[1].parse().unwrap(), arg)
        })
        .collect()
}

#[test]
fn qemu_windows_are_byte_identical_to_the_host_runtime() {
    check_prerequisites();
    let root = reference::repo_root();
    let (model, which) = model_file(&root);
    eprintln!("model: {} ({which})", model.display());
    let elf = build_board(&root, &model);
    let (code, stdout, stderr) = run_qemu(&elf);
    let _ = std::fs::write(root.join("target/firmware/qemu_parity.log"), &stdout);
    assert_eq!(
        code,
        Some(0),
        "firmware exit status\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let bytes = std::fs::read(&model).unwrap();
    let trace = reference::trace();
    let expected = reference::expected(&bytes, &trace);
    let got: Vec<reference::Expected> = stdout.lines().filter_map(reference::parse_line).collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "windows printed by the firmware vs trace windows\nstdout:\n{stdout}"
    );
    let mut mismatches = Vec::new();
    for (g, e) in got.iter().zip(&expected) {
        if g != e {
            mismatches.push(format!("  firmware {g:?}\n  host     {e:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} windows differ between QEMU and the host:\n{}",
        mismatches.len(),
        expected.len(),
        mismatches.join("\n")
    );
    let done = format!("done windows={} samples={}", expected.len(), trace.len());
    assert!(stdout.contains(&done), "missing `{done}` in\n{stdout}");

    let cli = compare_with_ferrite_run(&root, &model, &trace, &got);

    // Not a pass criterion (the model may be a stand-in or quantized): how the labels
    // compare with onnxruntime's float model on the same windows.
    let ort = ort_labels(&root);
    let same = got
        .iter()
        .zip(&ort)
        .filter(|(g, o)| g.start == o.0 && g.label == Some(o.2))
        .count();
    let inside: Vec<_> = got.iter().zip(&ort).filter(|(_, o)| o.1 >= 0).collect();
    let right = inside
        .iter()
        .filter(|(g, o)| g.label == Some(o.1 as usize))
        .count();
    eprintln!(
        "QEMU parity: {n} windows, all byte-identical to the host runtime; {cli}; labels equal to \
         onnxruntime's float model on {same}/{n}; correct on {right}/{m} windows inside one activity",
        n = expected.len(),
        m = inside.len()
    );
}
