//! The model (`FERRITE_MODEL`, validated on the host, arena size as a constant), the
//! memory map and cortex-m-rt's linker script.

use std::path::PathBuf;

fn main() {
    if let Err(e) = ferrite_firmware::build::bundle_model() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
