//! Every committed seed and regression input through its target's harness, without
//! libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml` replays them on any toolchain,
//! so a fixed crash stays fixed and the seeds stay valid models.

use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(rd) = std::fs::read_dir(&d) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    v.sort();
    v
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn fer_seeds_are_valid_models() {
    let seeds: Vec<PathBuf> = files("seeds/fer")
        .into_iter()
        .chain(files("seeds/pipeline"))
        .collect();
    assert!(seeds.len() > 20, "seeds missing");
    for p in &seeds {
        let a = ferrite::AlignedModel::new(&read(p));
        let m = a
            .model()
            .unwrap_or_else(|e| panic!("{} does not load: {e}", p.display()));
        let is_pipeline = p.parent().is_some_and(|d| d.ends_with("pipeline"));
        assert_eq!(m.preprocess().is_some(), is_pipeline, "{}", p.display());
    }
}

#[test]
fn load_run_replays_seeds_and_regressions() {
    for p in files("seeds/fer")
        .into_iter()
        .chain(files("seeds/pipeline"))
        .chain(files("regressions/load_run"))
    {
        ferrite_fuzz::runtime::load_run(&read(&p));
    }
}

#[test]
fn load_verified_replays_seeds_and_regressions() {
    let seeds = files("seeds/fer")
        .into_iter()
        .chain(files("seeds/pipeline"))
        .chain(files("regressions/load_verified"));
    for (i, p) in seeds.enumerate() {
        // A trailer that flips one byte of the signed copy (position and mask vary).
        let mut data = read(&p);
        let mut trailer = [0u8; 17];
        trailer[0] = i as u8;
        trailer[8..16].copy_from_slice(&(i as u64 * 7919).to_le_bytes());
        trailer[16] = 1 << (i % 8);
        data.extend_from_slice(&trailer);
        ferrite_fuzz::verify::load_verified(&data);
    }
}

#[test]
fn preprocess_replays_seeds_and_regressions() {
    for p in files("seeds/pipeline")
        .into_iter()
        .chain(files("regressions/preprocess"))
    {
        ferrite_fuzz::runtime::preprocess(&read(&p));
    }
}

#[test]
fn c_abi_replays_seeds_and_regressions() {
    for p in files("seeds/fer")
        .into_iter()
        .chain(files("seeds/pipeline"))
        .chain(files("regressions/c_abi"))
    {
        let data = read(&p);
        ferrite_fuzz::c_abi::c_abi(&data);
        // A script that calls every entry point once, in order, on the same model.
        let mut scripted = data.clone();
        scripted.extend((0..18u8).flat_map(|op| [op, 1, 2, 3, 0, 1]));
        ferrite_fuzz::c_abi::c_abi(&scripted);
    }
}

#[cfg(feature = "onnx")]
#[test]
fn onnx_import_replays_seeds_and_regressions() {
    use ferrite_fuzz::onnx::{onnx_import, Outcome};
    // Every seed is converted (none is over the target's size bound).
    for p in files("seeds/onnx") {
        assert_eq!(
            onnx_import(&read(&p)),
            Outcome::Converted,
            "{}",
            p.display()
        );
    }
    for p in files("regressions/onnx_import") {
        onnx_import(&read(&p));
    }
}
