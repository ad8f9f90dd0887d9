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

/// Converts fixture `name` with `opts`.
fn convert_with(name: &str, opts: &ConvertOptions) -> Vec<u8> {
    let onnx = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
    convert(&onnx, opts)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .bytes
}

/// The forward `_state` models converted for streaming (sequence length 1, `--state
/// initial_h=h_n [initial_c=c_n]`): 20 calls of `Session::step` on the frames of a
/// row give the whole-sequence model's logits and final state (ferrite, bit for bit,
/// and onnxruntime within 1e-5), continuing from the row's initial state; `reset`
/// starts from zeros. Bidirectional models are refused.
#[test]
fn streaming_steps_equal_the_whole_sequence() {
    let m = manifest();
    let models = m["models"].as_object().unwrap();
    let mut checked = 0;
    for (name, spec) in models {
        if !spec["stateful"].as_bool().unwrap() {
            continue;
        }
        let lstm = spec["kind"] == "lstm";
        let mut state = vec![("initial_h".to_string(), "h_n".to_string())];
        if lstm {
            state.push(("initial_c".into(), "c_n".into()));
        }
        let opts = ConvertOptions {
            input_shapes: vec![("sequence".into(), vec![1, 1, 6])],
            state,
            ..ConvertOptions::default()
        };
        if spec["bidirectional"].as_bool().unwrap() {
            let onnx = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
            match convert(&onnx, &opts) {
                Err(Error::Usage(m)) => assert!(m.contains("not a forward recurrent op"), "{m}"),
                other => panic!("{name}: {:?}", other.map(|r| r.ops)),
            }
            continue;
        }
        let whole = OwnedModel::new(&convert_with(name, &ConvertOptions::default())).unwrap();
        let stream = OwnedModel::new(&convert_with(name, &opts)).unwrap();
        let (wm, sm) = (whole.model(), stream.model());
        assert!(sm.is_streaming() && !wm.is_streaming(), "{name}");
        let (_, seqs) = npy("sequences.npy");
        let (_, h0) = npy(&format!("{name}_h0.npy"));
        let (_, c0) = if lstm {
            npy(&format!("{name}_c0.npy"))
        } else {
            (0, Vec::new())
        };
        let (_, ort) = npy(&format!("{name}_ort_logits.npy"));
        let (_, ort_h) = npy(&format!("{name}_ort_h_n.npy"));
        let (fw, hw) = (120, h0.len() / 4);
        let mut ws = OwnedSession::new(&wm);
        let mut w = ws.session();
        let mut ss = OwnedSession::new(&sm);
        let mut s = ss.session();
        for r in 0..4 {
            let frames = &seqs[r * fw..(r + 1) * fw];
            let states: Vec<&[f32]> = if lstm {
                vec![&h0[r * hw..(r + 1) * hw], &c0[r * hw..(r + 1) * hw]]
            } else {
                vec![&h0[r * hw..(r + 1) * hw]]
            };
            // Whole sequence.
            w.set_input_f32(0, frames).unwrap();
            for (k, st) in states.iter().enumerate() {
                w.set_input_f32(k + 1, st).unwrap();
            }
            w.run().unwrap();
            let mut want = vec![0f32; 4];
            w.output_f32(0, &mut want).unwrap();
            let mut want_h = vec![0f32; hw];
            w.output_f32(1, &mut want_h).unwrap();
            // Streaming, from the row's initial state.
            s.reset().unwrap();
            if r > 0 {
                for (k, st) in states.iter().enumerate() {
                    s.set_input_f32(k + 1, st).unwrap();
                }
            } else {
                assert!(states.iter().all(|st| st.iter().all(|&v| v == 0.0)));
            }
            let mut got = vec![0f32; 4];
            for t in 0..20 {
                s.step(&frames[t * 6..(t + 1) * 6], &mut got).unwrap();
            }
            let mut got_h = vec![0f32; hw];
            s.output_f32(1, &mut got_h).unwrap();
            assert_eq!(got, want, "{name} row {r}: logits");
            assert_eq!(got_h, want_h, "{name} row {r}: h_n");
            for (g, e) in got.iter().zip(&ort[r * 4..(r + 1) * 4]) {
                assert!(
                    (g - e).abs() <= 1e-5 * e.abs().max(1.0),
                    "{name} row {r}: {g} vs {e}"
                );
            }
            for (g, e) in got_h.iter().zip(&ort_h[r * hw..(r + 1) * hw]) {
                assert!(
                    (g - e).abs() <= 1e-5 * e.abs().max(1.0),
                    "{name} row {r}: {g} vs {e}"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}
