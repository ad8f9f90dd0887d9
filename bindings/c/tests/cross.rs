//! Cross builds of the C library with Debian's rustc and `-Zbuild-std` (see
//! `targets/README.md`; no rustup target needed):
//!
//! - `thumbv7em-none-eabihf`, `--no-default-features` (`#![no_std]`, no allocator): the
//!   staticlib is linked into a small C firmware (`tests/c/cortex_m/`) with
//!   `arm-none-eabi-gcc`, which runs in `qemu-system-arm -M mps2-an386` and must
//!   reproduce the runtime's results byte for byte;
//! - the mobile staticlibs (Android aarch64/armv7/x86_64, iOS device and simulator): built,
//!   checked to export the API, sizes recorded.
//!
//! A target whose standard library rustup installed (`cargo xtask setup` adds every
//! target rustup has) is built with rustup's cargo into the workspace's `target/`, as
//! the `staticlib:*` jobs of `cargo xtask build` do; the others (e.g.
//! `aarch64-apple-ios-sim`, which rustup may not serve) with Debian's rustc and
//! `-Zbuild-std` into `target/cross/`. `XTASK_ROUTE=build-std` forces the second route
//! for all, as it does for the driver.
//!
//! Sizes go to `target/cross/ferrite-c-sizes.txt`. Needs what `cargo xtask setup`
//! installs: Debian's rustc with the library sources (`apt-get install -y rustc-web
//! cargo-web rust-web-src`), `arm-none-eabi-gcc` and `qemu-system-arm`; a missing one
//! fails the test. `FERRITE_C_CROSS=0` skips the cross builds on purpose.

mod common;

use common::{check, workspace};
use core::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";

/// The functions every build exports (the no-allocator subset).
const CORE_API: &[&str] = &[
    "fer_version",
    "fer_format_version",
    "fer_model_load_static",
    "fer_model_free",
    "fer_model_num_inputs",
    "fer_model_input_info",
    "fer_model_label",
    "fer_model_property",
    "fer_model_arena_size",
    "fer_session_arena_size",
    "fer_session_new_in",
    "fer_session_free",
    "fer_predict",
    "fer_set_input_bytes",
    "fer_run",
    "fer_output_bytes",
    "fer_check_golden",
    "fer_last_error_message",
    "fer_status_name",
];
/// Only with an allocator (`std`).
const STD_API: &[&str] = &["fer_model_load", "fer_session_new"];

fn enabled() -> bool {
    if std::env::var("FERRITE_C_CROSS").is_ok_and(|v| v == "0") {
        eprintln!("SKIPPED: cross builds disabled by FERRITE_C_CROSS=0");
        return false;
    }
    let sysroot = Command::new(DEBIAN_RUSTC)
        .args(["--print", "sysroot"])
        .output();
    let src = sysroot.ok().filter(|o| o.status.success()).map(|o| {
        PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
            .join("lib/rustlib/src/rust/library/core")
    });
    assert!(
        src.is_some_and(|p| p.is_dir()) && Path::new(DEBIAN_CARGO).is_file(),
        "cross builds need Debian's rustc with the library sources: run `cargo xtask setup` \
         (apt-get install -y rustc-web cargo-web rust-web-src), or set FERRITE_C_CROSS=0"
    );
    true
}

/// `target/cross`: Debian's rustc differs from rustup's, so it gets its own target dir.
fn cross_dir() -> PathBuf {
    workspace().join("target/cross")
}

/// Whether rustup's toolchain (the one running this test) has `target`'s prebuilt
/// standard library, unless `XTASK_ROUTE=build-std` asks for Debian's route.
fn rustup_has(target: &str) -> bool {
    if std::env::var("XTASK_ROUTE").is_ok_and(|v| v == "build-std") {
        return false;
    }
    let Ok(out) = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", target])
        .output()
    else {
        return false;
    };
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    out.status.success()
        && std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))
        })
}

/// Builds `libferrite_c.a` for `target` (release, `--crate-type staticlib`) with
/// rustup's prebuilt standard library when it has one, else with Debian's rustc and
/// `-Zbuild-std={build_std}`; returns its path.
fn build_staticlib(target: &str, build_std: &str, std_feature: bool) -> PathBuf {
    let rustup = rustup_has(target);
    let (cargo, dir) = if rustup {
        // The test's own cargo; a release build does not wait for the debug build
        // directory that `cargo test` holds.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        (PathBuf::from(cargo), workspace().join("target"))
    } else {
        (PathBuf::from(DEBIAN_CARGO), cross_dir())
    };
    let mut c = Command::new(cargo);
    c.current_dir(workspace())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .args([
            "rustc",
            "--lib",
            "--crate-type",
            "staticlib",
            "--release",
            "-p",
            "ferrite-c",
            "--target",
            target,
        ])
        .arg("--target-dir")
        .arg(&dir);
    if !rustup {
        c.env("RUSTC", DEBIAN_RUSTC)
            .env("RUSTC_BOOTSTRAP", "1")
            .arg(format!("-Zbuild-std={build_std}"));
    } else {
        c.env_remove("RUSTC").env_remove("RUSTC_BOOTSTRAP");
    }
    if !std_feature {
        c.arg("--no-default-features");
    }
    let route = if rustup { "rustup" } else { "build-std" };
    check(
        &format!("staticlib for {target} ({route})"),
        c.output().expect("run cargo"),
    );
    let lib = dir.join(target).join("release/libferrite_c.a");
    assert!(lib.is_file(), "{} missing", lib.display());
    lib
}

/// Defined (exported) `fer_*` symbols of a static library, through an `nm` that reads it.
fn exported(lib: &Path) -> Option<Vec<String>> {
    let nms = [
        "/usr/lib/llvm-22/bin/llvm-nm",
        "llvm-nm",
        "arm-none-eabi-nm",
        "nm",
    ];
    for nm in nms {
        let Ok(out) = Command::new(nm)
            .args(["--defined-only", "-g"])
            .arg(lib)
            .output()
        else {
            continue;
        };
        if !out.status.success() {
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let names = text
            .lines()
            .filter_map(|l| l.split_whitespace().last())
            .map(|s| s.trim_start_matches('_').to_string()) // Mach-O prefixes an underscore
            .filter(|s| s.starts_with("fer_"))
            .collect::<Vec<_>>();
        return Some(names);
    }
    None
}

fn assert_exports(lib: &Path, std_api: bool) {
    let Some(names) = exported(lib) else {
        eprintln!("no nm able to read {}: symbol check skipped", lib.display());
        return;
    };
    for f in CORE_API {
        assert!(
            names.iter().any(|n| n == f),
            "{} does not export {f}",
            lib.display()
        );
    }
    for f in STD_API {
        assert_eq!(
            names.iter().any(|n| n == f),
            std_api,
            "{f} in {}",
            lib.display()
        );
    }
}

static SIZES: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());

fn record(what: &str, bytes: u64) {
    println!("size: {what}: {bytes} bytes");
    let mut sizes = SIZES.lock().unwrap_or_else(|e| e.into_inner());
    sizes.retain(|(w, _)| w != what);
    sizes.push((what.to_string(), bytes));
    let mut text =
        String::from("# sizes measured by `cargo test -p ferrite-c --test cross` (release)\n");
    for (w, b) in sizes.iter() {
        let _ = writeln!(text, "{w}\t{b}");
    }
    let _ = std::fs::create_dir_all(cross_dir());
    let _ = std::fs::write(cross_dir().join("ferrite-c-sizes.txt"), text);
}

/// C source of the fixtures for the firmware (models in flash, inputs, expected bytes).
fn fixtures_header(dir: &Path) -> String {
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    let text = |n: &str| String::from_utf8(read(n)).unwrap();
    let mut h = String::from("/* Generated by tests/cross.rs from the runtime's fixtures. */\n");
    h += "#define ROWS 8\n#define FEATURES 16\n#define CLASSES 4\n#define ARENA_BYTES 4096\n";
    let bytes = |h: &mut String, name: &str, b: &[u8]| {
        let _ = write!(
            h,
            "static const uint8_t {name}[] __attribute__((aligned(16))) = {{"
        );
        for (i, v) in b.iter().enumerate() {
            let sep = match i {
                0 => "\n    ",
                _ if i % 24 == 0 => ",\n    ",
                _ => ",",
            };
            let _ = write!(h, "{sep}{v}");
        }
        h.push_str("\n};\n");
    };
    for m in ["mlp_f32", "mlp_int8", "mlp_int8_raw"] {
        bytes(
            &mut h,
            &format!("model_{}", m.trim_start_matches("mlp_")),
            &read(&format!("{m}.fer")),
        );
    }
    let hex_rows = |n: &str| -> Vec<Vec<u8>> {
        text(n)
            .lines()
            .map(|l| {
                (0..l.len() / 2)
                    .map(|i| u8::from_str_radix(&l[2 * i..2 * i + 2], 16).unwrap())
                    .collect()
            })
            .collect()
    };
    for (name, file) in [
        ("expected_f32", "expected_f32.hex"),
        ("expected_int8", "expected_int8.hex"),
    ] {
        bytes(&mut h, name, &hex_rows(file).concat());
    }
    let rows2d = |h: &mut String, name: &str, rows: &[Vec<u8>]| {
        let _ = writeln!(
            h,
            "static const uint8_t {name}[ROWS][{}] = {{",
            rows[0].len()
        );
        for r in rows {
            let vals: Vec<String> = r.iter().map(|v| v.to_string()).collect();
            let _ = writeln!(h, "    {{{}}},", vals.join(","));
        }
        h.push_str("};\n");
    };
    rows2d(&mut h, "raw_inputs", &hex_rows("raw_inputs.hex"));
    rows2d(
        &mut h,
        "expected_int8_raw",
        &hex_rows("expected_int8_raw.hex"),
    );
    h += "static const uint32_t input_bits[ROWS][FEATURES] = {\n";
    for line in text("inputs.csv").lines() {
        let bits: Vec<String> = line
            .split(',')
            .map(|v| format!("0x{:08x}u", v.trim().parse::<f32>().unwrap().to_bits()))
            .collect();
        let _ = writeln!(h, "    {{{}}},", bits.join(","));
    }
    h += "};\n";
    let (mut f32s, mut int8s) = (Vec::new(), Vec::new());
    for line in text("labels.txt").lines() {
        let mut it = line.split_whitespace();
        f32s.push(it.next().unwrap().to_string());
        int8s.push(it.next().unwrap().to_string());
    }
    let _ = writeln!(
        h,
        "static const int labels_f32[ROWS] = {{{}}};",
        f32s.join(",")
    );
    let _ = writeln!(
        h,
        "static const int labels_int8[ROWS] = {{{}}};",
        int8s.join(",")
    );
    h
}

#[test]
fn thumbv7em_no_std_library_links_into_c_firmware_and_matches_the_runtime() {
    if !enabled() {
        return;
    }
    let lib = build_staticlib("thumbv7em-none-eabihf", "core", false);
    record(
        "thumbv7em-none-eabihf libferrite_c.a (no_std, no alloc)",
        std::fs::metadata(&lib).unwrap().len(),
    );
    assert_exports(&lib, false);

    common::require(
        "arm-none-eabi-gcc",
        "gcc-arm-none-eabi libnewlib-arm-none-eabi",
    );
    let work = cross_dir().join("ferrite-c-firmware");
    let fixtures = work.join("fixtures");
    common::fixtures(&fixtures);
    std::fs::write(work.join("fixtures.h"), fixtures_header(&fixtures)).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/cortex_m");
    let elf = work.join("firmware.elf");
    let mut gcc = Command::new("arm-none-eabi-gcc");
    gcc.args([
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfloat-abi=hard",
        "-mfpu=fpv4-sp-d16",
    ])
    .args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Os",
        "-ffunction-sections",
        "-fdata-sections",
    ])
    .arg("-I")
    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
    .arg("-I")
    .arg(&work)
    .arg(src.join("main.c"))
    .arg(src.join("startup.c"))
    .arg(&lib)
    .args(["-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections"])
    .arg(format!("-Wl,-T,{}", src.join("link.ld").display()))
    .arg(format!("-Wl,-Map,{}", work.join("firmware.map").display()))
    .arg("-o")
    .arg(&elf);
    check("arm-none-eabi-gcc firmware", gcc.output().unwrap());
    let size = check(
        "arm-none-eabi-size",
        Command::new("arm-none-eabi-size")
            .arg(&elf)
            .output()
            .unwrap(),
    );
    let size = String::from_utf8_lossy(&size.stdout).into_owned();
    println!("{size}");
    let cols: Vec<u64> = size
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .take(3)
        .map(|v| v.parse().unwrap())
        .collect();
    record(
        "thumbv7em firmware.elf text (library + test + 3 models in flash)",
        cols[0],
    );
    record(
        "thumbv7em firmware.elf data+bss (incl. 4 KiB arena)",
        cols[1] + cols[2],
    );

    common::require("qemu-system-arm", "qemu-system-arm");
    let out = Command::new("timeout")
        .args([
            "60",
            "qemu-system-arm",
            "-M",
            "mps2-an386",
            "-cpu",
            "cortex-m4",
            "-nographic",
        ])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf)
        .output()
        .unwrap();
    // QEMU writes the semihosting console to stderr.
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("firmware on qemu-system-arm mps2-an386:\n{console}");
    assert!(
        out.status.success(),
        "firmware failed ({}):\n{console}",
        out.status
    );
    let summary = console
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or_default();
    assert!(
        summary.ends_with(" 0 failed") && !summary.starts_with("0 passed"),
        "firmware output:\n{console}"
    );
}

#[test]
fn mobile_static_libraries_build_and_export_the_api() {
    if !enabled() {
        return;
    }
    for target in [
        "aarch64-linux-android",
        "armv7-linux-androideabi",
        "x86_64-linux-android",
        "aarch64-apple-ios",
        "aarch64-apple-ios-sim",
    ] {
        let lib = build_staticlib(target, "std,panic_abort", true);
        record(
            &format!("{target} libferrite_c.a"),
            std::fs::metadata(&lib).unwrap().len(),
        );
        assert_exports(&lib, true);
    }
}
