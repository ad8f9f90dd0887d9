//! The engine's Cortex-M DSP int8 kernels on the QEMU boards (issue 15): builds
//! `boards/kernels` for thumbv7em-none-eabihf (run on `mps2-an386`, Cortex-M4) and for
//! thumbv8m.main-none-eabihf with `-C target-cpu=cortex-m33` (run on `mps2-an505`,
//! Cortex-M33), with Debian's rustc and `-Zbuild-std=core` as the other board tests.
//! The firmware checks that the engine picked the DSP kernels, runs 400 random conv and
//! depthwise cases through them and through the portable kernels and 120 cases of the
//! DSP conv's pointwise path (1×1, stride 1, `C` = 4..64) through the DSP kernel, and
//! compares every output byte with the reference kernels computed on the board; then it
//! times layers
//! shaped like the MLPerf Tiny models' (instructions, under `-icount shift=0`).
//!
//! Checked here: QEMU's exit status is 0, the firmware says `isa=dsp`, every random case
//! matched, and each layer line is present. The instructions per MAC are printed (run
//! with `--nocapture`), not asserted: they are measurements (firmware/README.md,
//! "Cortex-M DSP kernels"). Needs what `qemu_parity.rs` needs (`cargo xtask setup`).
//! The QEMU output is kept in `target/firmware/qemu_kernels-<board>.log`.

use std::process::{Command, Stdio};

// Only the root, the checked output, the linker and the clean build environment of the
// shared helpers are used here.
#[allow(dead_code)]
#[path = "support/host.rs"]
mod host;
use host::{check, root, without_outer_build_env, LLD};

const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";

/// Builds the board for `triple` and runs it on QEMU's `machine` / `cpu`; returns the
/// firmware's stdout.
fn build_and_run(triple: &str, machine: &str, cpu: &str) -> String {
    let root = root().canonicalize().unwrap();
    let board = root.join("firmware/boards/kernels");
    let target_dir = root.join("target/cross");
    let linker_var = format!(
        "CARGO_TARGET_{}_LINKER",
        triple.to_uppercase().replace(['-', '.'], "_")
    );
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.current_dir(&board)
        .args(["build", "--release", "-Zbuild-std=core", "--target", triple])
        .arg("--manifest-path")
        .arg(board.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env(linker_var, LLD);
    // The board's .cargo/config.toml sets the M33's target-cpu; nothing outside may.
    without_outer_build_env(&mut cmd);
    let status = cmd
        .status()
        .expect("spawn /usr/bin/cargo (run `cargo xtask setup`)");
    assert!(
        status.success(),
        "building firmware/boards/kernels for {triple} failed ({status}); see the output above"
    );
    let elf = target_dir.join(triple).join("release/ferrite-kernels-qemu");
    let out = Command::new("timeout")
        .args(["600", "qemu-system-arm", "-M", machine, "-cpu", cpu])
        .args(["-icount", "shift=0", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf)
        .stdin(Stdio::null())
        .output()
        .expect("spawn qemu-system-arm");
    let log = root.join(format!("target/firmware/qemu_kernels-{machine}.log"));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&log, &text).unwrap();
    let stdout = check(&format!("the kernel firmware on {machine}"), out);
    println!("{machine} ({cpu}):\n{stdout}");
    stdout
}

fn check_output(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("isa=dsp i8_conv=i8_igemm_2x2c4_dsp")),
        "the engine did not pick the DSP kernels:\n{stdout}"
    );
    assert!(
        lines.contains(&"random_cases conv=267 dwconv=133 ok=true"),
        "random cases:\n{stdout}"
    );
    assert!(
        lines.contains(&"pointwise_cases=120 ok=true"),
        "pointwise cases:\n{stdout}"
    );
    let layers = lines.iter().filter(|l| l.starts_with("layer=")).count();
    assert_eq!(layers, 12, "layer lines:\n{stdout}");
    assert!(!stdout.contains("error"), "{stdout}");
    assert_eq!(lines.last(), Some(&"done"), "{stdout}");
}

#[test]
fn dsp_kernels_match_the_reference_on_the_cortex_m4_board() {
    check_output(&build_and_run(
        "thumbv7em-none-eabihf",
        "mps2-an386",
        "cortex-m4",
    ));
}

// The Cortex-M33 build needs a second `-Zbuild-std=core` (its own target-cpu), about a
// CPU-minute that CI's 40-minute budget does not have; the kernels are the same source
// under the same cfg as on the M4. Run it with `-- --ignored` (it passed at the commit
// that added it: 400 of 400 cases byte-identical).
#[test]
#[ignore = "a second build-std (cortex-m33); run with --ignored"]
fn dsp_kernels_match_the_reference_on_the_cortex_m33_board() {
    check_output(&build_and_run(
        "thumbv8m.main-none-eabihf",
        "mps2-an505",
        "cortex-m33",
    ));
}
