//! Issue #20, point 10: `convert` reports each stage as it starts (import, the f32
//! model, calibration, the int8 model, agreement, golden vectors, the final check), so
//! a long conversion is never silent; the `ferrite` binary prints them on a terminal.

use ferrite_tool::convert::{convert, ConvertOptions, Precision, Stage, StageLog};
use ferrite_tool::data::Dataset;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn ex(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(p)
        .display()
        .to_string()
}

#[test]
fn convert_reports_every_stage() {
    let onnx = std::fs::read(ex("digits/digits_mlp.onnx")).unwrap();
    let calib = Dataset::load(Path::new(&ex("digits/calib.csv"))).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let opts = ConvertOptions {
        precision: Precision::Int8,
        calibration: Some(calib),
        stages: Some(StageLog::new(move |s| log.lock().unwrap().push(s))),
        ..ConvertOptions::default()
    };
    convert(&onnx, &opts).unwrap();
    let seen = seen.lock().unwrap().clone();
    let want = [
        Stage::Import,
        Stage::Emit(Precision::F32),
        Stage::Calibrate,
        Stage::Emit(Precision::Int8),
        Stage::Agreement,
        Stage::Golden,
        Stage::Check,
    ];
    assert_eq!(seen, want);

    // f32 without data: no calibration, no second model, no agreement.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let opts = ConvertOptions {
        stages: Some(StageLog::new(move |s| log.lock().unwrap().push(s))),
        ..ConvertOptions::default()
    };
    convert(&onnx, &opts).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Stage::Import,
            Stage::Emit(Precision::F32),
            Stage::Golden,
            Stage::Check
        ]
    );
}
