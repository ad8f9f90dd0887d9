//! torch LSTM / GRU / RNN exports (`examples/recurrent/`, made by `make.py`): every
//! model converts to f32 and its outputs (logits, and `h_n` / `c_n` for the `_state`
//! variants) match onnxruntime's, committed as `.npy` files, within 1e-5 on each of the
//! four input rows (uni- and bidirectional, 1 and 2 layers, batch-first, state inputs).
//! Unsupported recurrent attributes are refused with an error naming them. Also:
//! `layout = 1` and weights fed as graph inputs (format 1.4) on an edited export, and
//! ONNX `Scan` unrolled at conversion against hand-computed values.

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
            edited(|n| n.attribute.push(int("input_forget", 1))),
            "GRU (input_forget 1)",
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

/// `lstm_uni_1l_batchfirst` (torch transposes the batch-first input for the LSTM node)
/// edited two ways that leave its function unchanged: (a) the node reads the
/// batch-major input itself with `layout = 1` and a `Transpose` turns its batch-major
/// `Y` back; (b) `W`, `R` and `B` are graph inputs instead of initializers (as in the
/// ONNX backend tests; format 1.4). Both give the unedited model's logits bit for bit
/// and onnxruntime's within 1e-5.
#[test]
fn batch_major_layout_and_weights_fed_as_inputs() {
    use prost::Message;
    use tract_onnx::pb::{AttributeProto, ModelProto};
    let name = "lstm_uni_1l_batchfirst";
    let onnx = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
    let original = ModelProto::decode(onnx.as_slice()).unwrap();
    let lstm = |m: &mut ModelProto| {
        let g = m.graph.as_mut().unwrap();
        g.node.iter().position(|n| n.op_type == "LSTM").unwrap()
    };
    // (a) layout = 1.
    let mut batch_major = original.clone();
    let at = lstm(&mut batch_major);
    let g = batch_major.graph.as_mut().unwrap();
    let node = &mut g.node[at];
    node.input[0] = "sequence".into();
    node.attribute.push(AttributeProto {
        name: "layout".into(),
        r#type: 2,
        i: 1,
        ..Default::default()
    });
    let y = std::mem::replace(&mut node.output[0], "y_batch_major".into());
    let back = AttributeProto {
        name: "perm".into(),
        r#type: 7,
        ints: vec![1, 2, 0, 3],
        ..Default::default()
    };
    let transpose = ferrite_tool::import::proto::node(
        "Transpose",
        "y_back",
        &["y_batch_major"],
        &[&y],
        vec![back],
    );
    g.node.insert(at + 1, transpose);
    // (b) W, R, B as graph inputs (after `sequence`), fed with the initializers' values.
    let mut fed = original.clone();
    let at = lstm(&mut fed);
    let g = fed.graph.as_mut().unwrap();
    let weights: Vec<String> = g.node[at].input[1..4].to_vec();
    let mut values = Vec::new();
    for w in &weights {
        let k = g.initializer.iter().position(|t| &t.name == w).unwrap();
        let t = g.initializer.remove(k);
        let v = ferrite_tool::import::proto::values_f64(&t).unwrap();
        values.push(v.iter().map(|&x| x as f32).collect::<Vec<f32>>());
        let mut info = g.input[0].clone();
        info.name = w.clone();
        if let Some(tract_onnx::pb::type_proto::Value::TensorType(tt)) =
            info.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            let shape = tt.shape.as_mut().unwrap();
            shape.dim.truncate(t.dims.len());
            for (d, &n) in shape.dim.iter_mut().zip(&t.dims) {
                d.value = Some(tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(n));
            }
        }
        g.input.push(info);
    }
    let run = |fer: &[u8], extra: &[Vec<f32>], frames: &[f32]| -> Vec<f32> {
        let model = OwnedModel::new(fer).unwrap();
        let m = model.model();
        let mut os = OwnedSession::new(&m);
        let mut s = os.session();
        s.set_input_f32(0, frames).unwrap();
        for (k, v) in extra.iter().enumerate() {
            s.set_input_f32(k + 1, v).unwrap();
        }
        s.run().unwrap();
        let mut y = vec![0f32; 4];
        s.output_f32(0, &mut y).unwrap();
        y
    };
    let fer = |m: &ModelProto| {
        convert(&m.encode_to_vec(), &ConvertOptions::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes
    };
    let (plain, batch_major, fed) = (fer(&original), fer(&batch_major), fer(&fed));
    let minor = |f: &[u8]| u16::from_le_bytes([f[6], f[7]]);
    // 1.1, 1.1 and 1.4 (weights fed as inputs) by their ops and operands; all three
    // raised to 1.7 by a Reshape written in place.
    assert_eq!((minor(&plain), minor(&batch_major), minor(&fed)), (7, 7, 7));
    assert_eq!(OwnedModel::new(&fed).unwrap().model().num_inputs(), 4);
    let (_, seqs) = npy("sequences.npy");
    let (_, ort) = npy(&format!("{name}_ort_logits.npy"));
    for r in 0..4 {
        let frames = &seqs[r * 120..(r + 1) * 120];
        let want = run(&plain, &[], frames);
        assert_eq!(run(&batch_major, &[], frames), want, "layout 1, row {r}");
        assert_eq!(run(&fed, &values, frames), want, "W, R, B fed, row {r}");
        for (g, e) in want.iter().zip(&ort[r * 4..(r + 1) * 4]) {
            assert!(
                (g - e).abs() <= 1e-5 * e.abs().max(1.0),
                "row {r}: {g} vs {e}"
            );
        }
    }
}

/// A float value info of `shape`.
fn value_info(name: &str, shape: &[i64]) -> tract_onnx::pb::ValueInfoProto {
    use tract_onnx::pb::tensor_shape_proto::{dimension::Value, Dimension};
    use tract_onnx::pb::{type_proto, TensorShapeProto, TypeProto, ValueInfoProto};
    let dim = shape
        .iter()
        .map(|&d| Dimension {
            value: Some(Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: 1,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// ONNX `Scan` (unrolled at conversion) at opsets 11 and 13 (`Unsqueeze` axes as an
/// attribute, then as an input): state `s` starts at `init [2]`; the scan input
/// `x [2, 3]` is read along axis 1 in reverse; the body computes `s += column` and
/// emits `two * s` (`two` taken from the enclosing graph) and `s`; the first scan
/// output is stacked along axis 1 forward, the second along axis 0 in reverse. Expected
/// values by hand: columns `[3, 6], [2, 5], [1, 4]` from `init = [10, 20]` give sums
/// `[13, 26], [15, 31], [16, 35]`.
#[test]
fn scan_is_unrolled_exactly() {
    use ferrite_tool::import::proto::{f32_tensor, int_attr, node};
    use prost::Message;
    use tract_onnx::pb::{AttributeProto, GraphProto, ModelProto, OperatorSetIdProto};
    let ints = |name: &str, v: &[i64]| AttributeProto {
        name: name.into(),
        r#type: 7,
        ints: v.to_vec(),
        ..Default::default()
    };
    let body = GraphProto {
        name: "body".into(),
        node: vec![
            node("Add", "add", &["s_in", "col"], &["s_out"], vec![]),
            node("Mul", "mul", &["s_out", "two"], &["doubled"], vec![]),
            node("Identity", "id", &["s_out"], &["sum"], vec![]),
        ],
        input: vec![value_info("s_in", &[2]), value_info("col", &[2])],
        output: vec![
            value_info("s_out", &[2]),
            value_info("doubled", &[2]),
            value_info("sum", &[2]),
        ],
        ..Default::default()
    };
    let scan = {
        let mut n = node(
            "Scan",
            "scan",
            &["init", "x"],
            &["y", "z", "z2"],
            vec![
                int_attr("num_scan_inputs", 1),
                ints("scan_input_axes", &[1]),
                ints("scan_input_directions", &[1]),
                ints("scan_output_axes", &[1, 0]),
                ints("scan_output_directions", &[0, 1]),
            ],
        );
        n.attribute.push(AttributeProto {
            name: "body".into(),
            r#type: 5,
            g: Some(body),
            ..Default::default()
        });
        n
    };
    let want: [Vec<f32>; 3] = [
        vec![16.0, 35.0],
        vec![26.0, 30.0, 32.0, 52.0, 62.0, 70.0],
        vec![16.0, 35.0, 15.0, 31.0, 13.0, 26.0],
    ];
    let model = |opset: i64, x: i64| ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(GraphProto {
            name: "scan".into(),
            node: vec![scan.clone()],
            initializer: vec![f32_tensor("two", &[2], &[2.0, 2.0])],
            input: vec![value_info("init", &[2]), value_info("x", &[2, x])],
            output: vec![
                value_info("y", &[2]),
                value_info("z", &[2, x]),
                value_info("z2", &[x, 2]),
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    for opset in [11, 13] {
        let fer = convert(&model(opset, 3).encode_to_vec(), &ConvertOptions::default())
            .unwrap_or_else(|e| panic!("opset {opset}: {e}"))
            .bytes;
        let model = OwnedModel::new(&fer).unwrap();
        let m = model.model();
        let mut os = OwnedSession::new(&m);
        let mut s = os.session();
        s.set_input_f32(0, &[10.0, 20.0]).unwrap();
        s.set_input_f32(1, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        s.run().unwrap();
        for (k, w) in want.iter().enumerate() {
            let mut got = vec![0f32; w.len()];
            s.output_f32(k, &mut got).unwrap();
            assert_eq!(&got, w, "opset {opset}, output {k}");
        }
    }
    // Refused with the reason: opset 8's Scan (a batch axis), a loop too long to unroll.
    for (m, why) in [
        (model(8, 3), "Scan (opset 8: batch axis)"),
        (
            model(13, 30_000),
            "Scan (30000 iterations unroll to 180000 nodes, more than 100000)",
        ),
    ] {
        match convert(&m.encode_to_vec(), &ConvertOptions::default()) {
            Err(Error::Unsupported { ops }) => assert_eq!(ops[0].0, why),
            other => panic!("{why}: {:?}", other.map(|r| r.ops)),
        }
    }
}
