//! The UniFFI bindings generator, built from the same `uniffi` version as the library:
//! `cargo run -p ferrite-uniffi --bin uniffi-bindgen -- generate --library
//! target/debug/libferrite_uniffi.so --language kotlin --out-dir out` (see `generate.sh`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
