//! The exported API called from Rust: the same scenarios as the Kotlin and Python
//! tests, without a foreign toolchain, so a failure here points at the Rust side.

mod common;

use common::{fact, hex, lines, material, unhex};
use ferrite_uniffi::{DType, FerriteError, Model, Quantization, CODE_IO};
use std::sync::Arc;

fn load(name: &str) -> Arc<Model> {
    Model::from_file(
        material()
            .fixtures
            .join(name)
            .to_string_lossy()
            .into_owned(),
    )
    .unwrap()
}

fn inputs() -> Vec<Vec<f32>> {
    lines(&material().fixtures.join("inputs.csv"))
        .iter()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn score_bytes(s: &[f32]) -> Vec<u8> {
    s.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn expected_labels(column: usize) -> Vec<u32> {
    lines(&material().fixtures.join("labels.txt"))
        .iter()
        .map(|l| l.split(' ').nth(column).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn info_matches_the_runtime() {
    let fx = &material().fixtures;
    let m = load("mlp_f32.fer");
    let info = m.info();
    assert_eq!(info.metadata.name, "fixture-mlp-f32");
    assert_eq!(info.metadata.version, "1");
    assert_eq!(info.labels, ["north", "east", "south", "west"]);
    assert_eq!(info.inputs.len(), 1);
    assert_eq!(info.inputs[0].name, "x");
    assert_eq!(info.inputs[0].dtype, DType::F32);
    assert_eq!(info.inputs[0].shape, [1, 16]);
    assert_eq!(info.inputs[0].elements, 16);
    assert_eq!(info.inputs[0].byte_len, 64);
    assert_eq!(info.outputs[0].name, "probs");
    assert_eq!(info.outputs[0].shape, [1, 4]);
    assert_eq!(info.arena_size.to_string(), fact(fx, "mlp_f32.arena_size"));
    assert_eq!(info.file_size.to_string(), fact(fx, "mlp_f32.file_size"));
    assert!(!info.has_preprocessing);
    let raw = load("mlp_int8_raw.fer").info();
    assert_eq!(raw.inputs[0].dtype, DType::I8);
    assert_eq!(
        raw.inputs[0].quantization,
        Some(Quantization::PerTensor {
            scale: 2.0 / 255.0,
            zero_point: 0
        })
    );
    let g = load("golden.fer").info();
    assert_eq!(g.metadata.description, "harness model");
    assert_eq!(g.metadata.producer, "ferrite-uniffi tests");
    assert_eq!(
        g.metadata.properties.get("source").map(String::as_str),
        Some("harness")
    );
    assert_eq!(g.metadata.properties.len(), 2);
    assert_eq!(g.num_golden.to_string(), fact(fx, "golden.num_golden"));
}

#[test]
fn predict_reproduces_the_runtime_fixtures_exactly() {
    let fx = &material().fixtures;
    for (model, short, col) in [("mlp_f32.fer", "f32", 0), ("mlp_int8.fer", "int8", 1)] {
        let m = load(model);
        let hexes = lines(&fx.join(format!("expected_{short}.hex")));
        let labels = expected_labels(col);
        for (i, row) in inputs().into_iter().enumerate() {
            let p = m.predict(row).unwrap();
            assert_eq!(hex(&score_bytes(&p.scores)), hexes[i], "{model} row {i}");
            assert_eq!(p.label, Some(labels[i]), "{model} row {i}");
            let names = ["north", "east", "south", "west"];
            assert_eq!(p.label_name.as_deref(), Some(names[labels[i] as usize]));
        }
        let batch = m.predict_batch(inputs()).unwrap();
        for (i, p) in batch.iter().enumerate() {
            assert_eq!(
                hex(&score_bytes(&p.scores)),
                hexes[i],
                "{model} batch row {i}"
            );
        }
    }
}

#[test]
fn run_raw_reproduces_the_int8_fixture_bytes() {
    let fx = &material().fixtures;
    let m = load("mlp_int8_raw.fer");
    let ins = lines(&fx.join("raw_inputs.hex"));
    let outs = lines(&fx.join("expected_int8_raw.hex"));
    assert_eq!(ins.len(), 8);
    for (i, o) in ins.iter().zip(&outs) {
        assert_eq!(&hex(&m.run_raw(unhex(i)).unwrap()), o);
    }
}

#[test]
fn run_tensors_handles_several_inputs_and_outputs() {
    let fx = &material().fixtures;
    let m = load("two_inputs.fer");
    let out = m
        .run_tensors(vec![
            unhex(&fact(fx, "two_inputs.a")),
            unhex(&fact(fx, "two_inputs.b")),
        ])
        .unwrap();
    assert_eq!(hex(&out[0]), fact(fx, "two_inputs.sum"));
    assert_eq!(hex(&out[1]), fact(fx, "two_inputs.prod"));
    assert!(matches!(
        m.predict(vec![0.0; 4]),
        Err(FerriteError::Unsupported { code: 19, .. })
    ));
    assert!(matches!(
        m.run_raw(vec![0; 16]),
        Err(FerriteError::Unsupported { code: 19, .. })
    ));
    assert!(matches!(
        m.run_tensors(vec![vec![0; 16]]),
        Err(FerriteError::WrongLength {
            code: 14,
            expected: 2,
            actual: 1,
            ..
        })
    ));
}

#[test]
fn golden_vectors_check_and_mismatch_is_reported() {
    assert_eq!(load("golden.fer").check_golden().unwrap(), 2);
    assert_eq!(load("mlp_f32.fer").check_golden().unwrap(), 0);
    match load("golden_bad.fer").check_golden() {
        Err(FerriteError::GoldenMismatch {
            code: 17,
            index: 1,
            reason,
        }) => {
            assert_eq!(reason, "golden vector 1 did not reproduce")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn preprocess_is_identity_without_a_preprocessing_section() {
    let m = load("mlp_f32.fer");
    let row = inputs().remove(0);
    assert_eq!(m.preprocess(row.clone()).unwrap(), row);
    assert!(matches!(
        m.preprocess(vec![1.0; 3]),
        Err(FerriteError::WrongLength {
            expected: 16,
            actual: 3,
            ..
        })
    ));
}

#[test]
fn every_bad_model_is_a_clear_error() {
    let bytes = std::fs::read(material().fixtures.join("mlp_f32.fer")).unwrap();
    let err = |b: &[u8]| Model::from_bytes(b.to_vec()).unwrap_err();
    let mut corrupt = bytes.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    assert!(
        matches!(err(&corrupt), FerriteError::InvalidModel { code: 4, .. }),
        "{:?}",
        err(&corrupt)
    );
    let e = err(&bytes[..bytes.len() - 10]);
    assert!(
        matches!(e, FerriteError::InvalidModel { code: 3, .. }),
        "{e:?}"
    );
    assert!(matches!(
        err(&bytes[..2]),
        FerriteError::InvalidModel { code: 3, .. }
    ));
    assert!(matches!(
        err(b""),
        FerriteError::InvalidModel { code: 3, .. }
    ));
    assert!(matches!(
        err(b"this is not a model at all, really"),
        FerriteError::InvalidModel { code: 1, .. }
    ));
    match Model::from_file("/nonexistent/model.fer".into()) {
        Err(FerriteError::Io { code, path, reason }) => {
            assert_eq!((code, path.as_str()), (CODE_IO, "/nonexistent/model.fer"));
            assert!(
                reason.starts_with("cannot read model file /nonexistent/model.fer"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_bad_input_is_a_clear_error() {
    let m = load("mlp_f32.fer");
    match m.predict(vec![0.5; 3]) {
        Err(
            e @ FerriteError::WrongLength {
                code: 14,
                expected: 16,
                actual: 3,
                ..
            },
        ) => {
            assert_eq!(e.to_string(), "wrong length: expected 16 values, got 3")
        }
        other => panic!("{other:?}"),
    }
    let mut row = vec![0.5; 16];
    row[7] = f32::NAN;
    match m.predict(row.clone()) {
        Err(
            e @ FerriteError::InvalidInput {
                code: 16,
                feature: 7,
                ..
            },
        ) => {
            assert_eq!(e.to_string(), "invalid value in input feature 7")
        }
        other => panic!("{other:?}"),
    }
    row[7] = 0.0;
    row[2] = f32::NEG_INFINITY;
    assert!(matches!(
        m.predict(row.clone()),
        Err(FerriteError::InvalidInput { feature: 2, .. })
    ));
    match m.predict_batch(vec![vec![0.0; 16], vec![0.0; 16], row]) {
        Err(FerriteError::InvalidInput {
            feature: 2, reason, ..
        }) => {
            assert_eq!(reason, "row 2: invalid value in input feature 2")
        }
        other => panic!("{other:?}"),
    }
    assert!(m.predict_batch(vec![]).unwrap().is_empty());
    let raw = load("mlp_int8_raw.fer");
    assert!(matches!(
        raw.run_raw(vec![0; 15]),
        Err(FerriteError::WrongLength {
            expected: 16,
            actual: 15,
            ..
        })
    ));
}

#[test]
fn concurrent_predictions_equal_sequential_ones() {
    let m = load("mlp_int8.fer");
    let rows = inputs();
    let reference: Vec<_> = rows.iter().map(|r| m.predict(r.clone()).unwrap()).collect();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (m, rows, reference) = (&m, &rows, &reference);
            s.spawn(move || {
                for k in 0..200 {
                    let i = (t + k) % rows.len();
                    assert_eq!(
                        m.predict(rows[i].clone()).unwrap(),
                        reference[i],
                        "thread {t} call {k}"
                    );
                }
            });
        }
    });
}

/// The fixtures' streaming RNN: six `Stream::step` calls give, bit for bit, the last
/// step of the whole-sequence model that the runtime ran without streaming.
#[test]
fn stream_steps_equal_the_whole_sequence() {
    use ferrite_uniffi::Stream;
    let f32s = |name: &str| -> Vec<f32> {
        std::fs::read(material().fixtures.join(name))
            .unwrap()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let (frames, expected) = (f32s("stream_frames.bin"), f32s("stream_expected.bin"));
    let stream = Stream::new(load("stream.fer"));
    assert_eq!(stream.num_states(), 1);
    for round in 0..2 {
        let mut y = Vec::new();
        for t in 0..6 {
            y = stream.step(frames[3 * t..3 * t + 3].to_vec()).unwrap();
        }
        assert_eq!(
            score_bytes(&y),
            score_bytes(&expected[..4]),
            "round {round}"
        );
        stream.reset().unwrap();
    }
    let a = stream.step(frames[..3].to_vec()).unwrap();
    let b = stream.step(frames[..3].to_vec()).unwrap();
    assert_ne!(a, b, "the state is carried");
    assert!(matches!(
        stream.step(vec![1.0]),
        Err(FerriteError::WrongLength { .. })
    ));
    assert_eq!(Stream::new(load("mlp_f32.fer")).num_states(), 0);
}
