//! The committed header `include/ferrite.h` is what cbindgen generates from the sources.
//! `FERRITE_BLESS=1 cargo test -p ferrite-c --test header` rewrites it.

use std::path::Path;

#[test]
fn committed_header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = dir.join("include/ferrite.h");
    if std::env::var_os("FERRITE_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/ferrite.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let diff_at = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b);
        panic!(
            "include/ferrite.h is out of date (first differing line: {:?}); \
             regenerate it with `FERRITE_BLESS=1 cargo test -p ferrite-c --test header`",
            diff_at.map(|l| l + 1)
        );
    }
}
