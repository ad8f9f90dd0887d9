//! The board, from the target: its memory map (`memory.x`), `cfg(board = …)` and
//! cortex-m-rt's linker script.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo::rustc-check-cfg=cfg(board, values(\"mps2-an386\", \"mps2-an505\"))");
    let board = match target.as_str() {
        "thumbv7em-none-eabihf" => "mps2-an386",
        "thumbv8m.main-none-eabihf" => "mps2-an505",
        other => {
            eprintln!(
                "error: target {other}: the kernel test boards are thumbv7em-none-eabihf \
                 (mps2-an386) and thumbv8m.main-none-eabihf (mps2-an505)"
            );
            std::process::exit(1);
        }
    };
    println!("cargo:rustc-cfg=board=\"{board}\"");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let memory = format!("memory-{board}.x");
    let map = std::fs::read(&memory).unwrap_or_else(|e| panic!("{memory}: {e}"));
    std::fs::write(out.join("memory.x"), map).expect("write memory.x");
    println!("cargo:rerun-if-changed={memory}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
