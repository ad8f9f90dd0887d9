//! torch LSTM / GRU / RNN exports (`examples/recurrent/`, made by `make.py`): every
//! model converts to f32 and its outputs (logits, and `h_n` / `c_n` for the `_state`
//! variants) match onnxruntime's, committed as `.npy` files, within 1e-5 on each of the
//! four input rows (uni- and bidirectional, 1 and 2 layers, batch-first, state inputs).
//! Unsupported recurrent attributes are refused with an error naming them.

use ferrite::{OwnedModel, OwnedSession};
use ferrite_tool::convert::{convert, ConvertOptions};
use ferrite_tool::data::parse_npy;
use ferrite_tool::error::Error;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/recurrent")
}

/// A `.npy` file of the fixture as `(rows, values per row)`.
fn npy(name: &str) -> (usize, Vec<f32>) {
    let bytes = std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let d = parse_npy(&bytes, name).unwrap();
    (d.rows, d.values)
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Converts model `name` and checks every output on every row; returns the largest
/// difference to onnxruntime.
fn check_model(name: &str, spec: &serde_json::Value) -> f32 {
    let onnx = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
    let fer = convert(&onnx, &ConvertOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .bytes;
    let model = OwnedModel::new(&fer).unwrap();
    let m = model.model();
    let inputs = spec["inputs"].as_array().unwrap();
    let outputs = spec["outputs"].as_array().unwrap();
    assert_eq!(m.num_inputs(), inputs.len(), "{name}: inputs");
    assert_eq!(m.num_outputs(), outputs.len(), "{name}: outputs");
    let data: Vec<(usize, Vec<f32>)> = inputs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let n = v["name"].as_str().unwrap();
            assert_eq!(m.input(i).unwrap().name, n, "{name}: input {i}");
            npy(spec["input_files"][n].as_str().unwrap())
        })
        .collect();
    let want: Vec<(usize, Vec<f32>)> = outputs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let n = v["name"].as_str().unwrap();
            assert_eq!(m.output(i).unwrap().name, n, "{name}: output {i}");
            npy(spec["ort_files"][n].as_str().unwrap())
        })
        .collect();
    let rows = data[0].0;
    assert_eq!(rows, 4);
    let mut owned = OwnedSession::new(&m);
    let mut s = owned.session();
    let mut worst = 0f32;
    for r in 0..rows {
        for (i, (n, v)) in data.iter().enumerate() {
            let w = v.len() / n;
            s.set_input_f32(i, &v[r * w..(r + 1) * w]).unwrap();
        }
        s.run().unwrap();
        for (o, (n, v)) in want.iter().enumerate() {
            let w = v.len() / n;
            let mut got = vec![0f32; m.output_len(o).unwrap()];
            s.output_f32(o, &mut got).unwrap();
            assert_eq!(got.len(), w, "{name}: output {o} length");
            for (k, (g, e)) in got.iter().zip(&v[r * w..(r + 1) * w]).enumerate() {
                let d = (g - e).abs();
                assert!(
                    d <= 1e-5 * e.abs().max(1.0),
                    "{name} row {r} output {o} [{k}]: ferrite {g}, onnxruntime {e}"
                );
                worst = worst.max(d);
            }
        }
    }
    worst
}

#[test]
fn torch_recurrent_models_match_onnxruntime() {
    let m = manifest();
    let models = m["models"].as_object().unwrap();
    assert_eq!(models.len(), 40);
    let mut worst = 0f32;
    for (name, spec) in models {
        let d = check_model(name, spec);
        eprintln!("{name}: max |ferrite - onnxruntime| = {d:.2e}");
        worst = worst.max(d);
    }
    eprintln!("40 models, max |ferrite - onnxruntime| = {worst:.2e}");
}

/// A one-layer GRU of the fixtures with one attribute changed.
fn edited(edit: impl Fn(&mut tract_onnx::pb::NodeProto)) -> Vec<u8> {
    use prost::Message;
    let onnx = std::fs::read(dir().join("gru_uni_1l_state.onnx")).unwrap();
    let mut model = tract_onnx::pb::ModelProto::decode(onnx.as_slice()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let node = graph.node.iter_mut().find(|n| n.op_type == "GRU").unwrap();
    edit(node);
    model.encode_to_vec()
}

#[test]
fn unsupported_recurrent_attributes_are_named() {
    use tract_onnx::pb::AttributeProto;
    let strings = |name: &str, v: &[&str]| AttributeProto {
        name: name.into(),
        r#type: 8,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    };
    let int = |name: &str, i| AttributeProto {
        name: name.into(),
        r#type: 2,
        i,
        ..Default::default()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            edited(|n| {
                n.attribute
                    .push(strings("activations", &["Sigmoid", "Softsign"]))
            }),
            "GRU (activation Softsign)",
        ),
        (
            edited(|n| n.attribute.push(strings("activations", &["Sigmoid"]))),
            "GRU (1 activations)",
        ),
        (
            edited(|n| n.attribute.push(int("layout", 1))),
            "GRU (layout 1 (batch-major))",
        ),
        (
            edited(|n| {
                n.input.resize(5, String::new());
                n.input[4] = "sequence".into();
            }),
            "GRU (sequence_lens)",
        ),
    ];
    for (onnx, want) in cases {
        match convert(&onnx, &ConvertOptions::default()) {
            Err(Error::Unsupported { ops }) => {
                assert_eq!(ops.len(), 1, "{ops:?}");
                assert_eq!(ops[0].0, want);
            }
            other => panic!("{want}: {:?}", other.map(|r| r.ops)),
        }
    }
}
