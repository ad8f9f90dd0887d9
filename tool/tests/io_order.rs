//! A converted model's inputs and outputs come in the ONNX graph's declared order, so
//! the bindings (C, WASM, Kotlin…) can address them by index, as onnxruntime users do.
//!
//! Fixtures in `data/io_order/`, written by `make_io_order.py`, each with the inputs and
//! the outputs computed by numpy from the formulas (not by an ONNX runtime):
//! - `io_order.onnx`: inputs `x: [2,3]`, `y: [3]`, `z: [2,1]`; outputs `first = y + 1`,
//!   `second = z * (2y - x)`, with the nodes arranged so that a walk from the outputs
//!   meets the inputs as z, y, x;
//! - `params_as_inputs.onnx`: `BatchNormalization(Conv(x, W, B))` with the weights, the
//!   bias and the batch norm's parameters as seven graph inputs (weights not constant).

use ferrite::OwnedSession;
use ferrite_tool::convert::{convert, ConvertOptions, Precision};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/io_order")
        .join(name)
}

struct Expected {
    name: String,
    shape: Vec<usize>,
    values: Vec<f32>,
}

fn tensors(v: &Value, key: &str) -> Vec<Expected> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("expected.json: no {key}"))
        .iter()
        .map(|t| Expected {
            name: t["name"].as_str().unwrap().to_string(),
            shape: t["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect(),
            values: t["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

fn fixture(name: &str) -> (Vec<u8>, Vec<Expected>, Vec<Expected>) {
    let onnx = std::fs::read(data(&format!("{name}.onnx"))).unwrap();
    let text = std::fs::read_to_string(data(&format!("{name}_expected.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    (onnx, tensors(&v, "inputs"), tensors(&v, "outputs"))
}

/// Converts fixture `name`, checks the model's input and output names and shapes by
/// index, runs it and compares with the expected outputs (relative tolerance `rtol`).
fn check(name: &str, precision: Precision, rtol: f32) {
    let (onnx, inputs, outputs) = fixture(name);
    let opts = ConvertOptions {
        precision,
        golden: 0,
        ..Default::default()
    };
    let report = convert(&onnx, &opts).unwrap_or_else(|e| panic!("{e}"));
    let owned = ferrite::OwnedModel::new(&report.bytes).unwrap();
    let model = owned.model();

    // Declared order, names and shapes.
    assert_eq!(model.num_inputs(), inputs.len());
    assert_eq!(model.num_outputs(), outputs.len());
    for (i, want) in inputs.iter().enumerate() {
        let def = model.input(i).unwrap();
        assert_eq!(def.name, want.name, "input {i}");
        let shape: Vec<usize> = def.shape.iter().map(|&d| d as usize).collect();
        assert_eq!(shape, want.shape, "input {i} ({})", want.name);
    }
    for (i, want) in outputs.iter().enumerate() {
        let def = model.output(i).unwrap();
        assert_eq!(def.name, want.name, "output {i}");
        let shape: Vec<usize> = def.shape.iter().map(|&d| d as usize).collect();
        assert_eq!(shape, want.shape, "output {i} ({})", want.name);
    }

    // Values, addressing inputs and outputs by index only.
    let mut os = OwnedSession::new(&model);
    let mut s = os.session();
    for (i, t) in inputs.iter().enumerate() {
        let bytes: Vec<u8> = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        s.set_input_bytes(i, &bytes).unwrap();
    }
    s.run().unwrap();
    for (i, want) in outputs.iter().enumerate() {
        let mut got = vec![0f32; model.output_len(i).unwrap()];
        s.output_f32(i, &mut got).unwrap();
        for (k, (&g, &w)) in got.iter().zip(&want.values).enumerate() {
            assert!(
                (g - w).abs() <= rtol * w.abs().max(1.0),
                "output {i} ({}) element {k}: got {g}, expected {w} (all: {got:?})",
                want.name
            );
        }
        assert_eq!(got.len(), want.values.len());
    }
}

#[test]
fn f32_model_keeps_the_onnx_input_and_output_order() {
    check("io_order", Precision::F32, 1e-6);
}

#[test]
fn f16_model_keeps_the_onnx_input_and_output_order() {
    check("io_order", Precision::F16, 1e-6);
}

/// Conv weights and bias and batch norm parameters fed as graph inputs: the Conv reads
/// its weights from the arena, the bias is a broadcasting Add, the batch norm is
/// expanded to elementwise ops; the seven inputs stay in declared order.
#[test]
fn conv_and_batch_norm_parameters_as_graph_inputs() {
    check("params_as_inputs", Precision::F32, 1e-5);
    check("params_as_inputs", Precision::F16, 1e-5);
}

/// The IR itself (what every emitter reads) lists the inputs in declared order.
#[test]
fn imported_graph_lists_inputs_in_declared_order() {
    let (onnx, inputs, outputs) = fixture("io_order");
    let g = ferrite_tool::import::import(&onnx, &Default::default())
        .unwrap()
        .graph;
    let names: Vec<&str> = g
        .inputs
        .iter()
        .map(|&t| g.tensors[t].name.as_str())
        .collect();
    let want: Vec<&str> = inputs.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, want);
    let names: Vec<&str> = g
        .outputs
        .iter()
        .map(|&t| g.tensors[t].name.as_str())
        .collect();
    let want: Vec<&str> = outputs.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, want);
}
