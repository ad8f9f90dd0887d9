//! Sets `cfg(ferrite_arm_dsp)` when the target has the Arm DSP extension (SMLAD,
//! SXTB16: Cortex-M4/M7, and M33/M35P/M55/M85 built for their CPU), so the engine's
//! int8 kernels for it (`src/kernels/engine/cortex_m_dsp/`) are compiled in.
//!
//! Stable rustc does not expose `target_feature = "dsp"` to `cfg` (the feature is
//! unstable), so the script decides from what it can see: the target features when
//! the compiler reports them (a nightly or `RUSTC_BOOTSTRAP` build: they include
//! `mclass`, and then `dsp` decides), else the target name (ARMv7E-M always has the
//! extension; ARMv8-M Mainline has it when `-C target-cpu` names such a core or
//! `-C target-feature` says `+dsp`).

//!
//! Sets `cfg(ferrite_unoptimized)` when the crate is built at opt-level 0 (cargo's
//! `dev` profile): there the engine's tile and epilogue helpers are not forced inline,
//! which keeps the kernels' stack frames small (see `src/kernels/engine/frame/mod.rs`).

use std::env;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(ferrite_arm_dsp)");
    println!("cargo:rustc-check-cfg=cfg(ferrite_unoptimized)");
    println!("cargo:rerun-if-changed=build.rs");
    if has_dsp() {
        println!("cargo:rustc-cfg=ferrite_arm_dsp");
    }
    if env::var("OPT_LEVEL").as_deref() == Ok("0") {
        println!("cargo:rustc-cfg=ferrite_unoptimized");
    }
}

fn has_dsp() -> bool {
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("arm") {
        return false;
    }
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let features: Vec<&str> = features.split(',').collect();
    if features.contains(&"mclass") {
        return features.contains(&"dsp");
    }
    let target = env::var("TARGET").unwrap_or_default();
    // `-C opt`, `-Copt` and `--codegen opt` as cargo passes them (0x1f-separated).
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut codegen = Vec::new();
    let mut args = flags.split('\x1f');
    while let Some(a) = args.next() {
        if a == "-C" || a == "--codegen" {
            codegen.extend(args.next());
        } else if let Some(opt) = a.strip_prefix("-C") {
            codegen.push(opt);
        }
    }
    let mut cpu = "";
    let mut dsp = None;
    for opt in codegen {
        if let Some(c) = opt.strip_prefix("target-cpu=") {
            cpu = c;
        } else if let Some(list) = opt.strip_prefix("target-feature=") {
            for f in list.split(',') {
                match f {
                    "+dsp" => dsp = Some(true),
                    "-dsp" => dsp = Some(false),
                    _ => {}
                }
            }
        }
    }
    dsp.unwrap_or_else(|| {
        target.starts_with("thumbv7em")
            || (target.starts_with("thumbv8m.main")
                && ["cortex-m33", "cortex-m35p", "cortex-m55", "cortex-m85"].contains(&cpu))
    })
}
