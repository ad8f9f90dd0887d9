//! Writes the firmware's development model (a stand-in for the converted sensor CNN,
//! see `tests/support/dev_model.rs`) to a file, for building the boards before the
//! host tool is available:
//!
//! ```sh
//! cargo run -p ferrite-firmware --example dev_model -- target/firmware/dev_model.fer
//! FERRITE_MODEL=target/firmware/dev_model.fer …   # then build a board
//! ```

#[path = "../tests/support/dev_model.rs"]
mod dev_model;

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/firmware/dev_model.fer".into());
    let out = std::path::Path::new(&out);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
    let bytes = dev_model::dev_model();
    if let Err(e) = std::fs::write(out, &bytes) {
        eprintln!("error: cannot write {}: {e}", out.display());
        std::process::exit(1);
    }
    println!("{} ({} bytes)", out.display(), bytes.len());
}
