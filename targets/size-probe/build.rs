//! Put the memory map of the target architecture on the linker's search path as
//! `memory.x` (cortex-m-rt's and riscv-rt's `link.x` include it).

use std::path::PathBuf;

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let memory: &[u8] = match arch.as_str() {
        "riscv32" => include_bytes!("memory-riscv.x"),
        _ => include_bytes!("memory-cortex-m.x"),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-riscv.x");
    println!("cargo:rerun-if-changed=memory-cortex-m.x");
    println!("cargo:rerun-if-changed=build.rs");
}
