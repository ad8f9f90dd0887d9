//! ONNX normalizations, reductions over inner axes and the activations that tract would
//! expand with `Iff` (Elu, Selu, PRelu, ThresholdedRelu): one-node models built here,
//! converted to f32 and run by ferrite and by the tract reference, each compared with
//! the formula evaluated in f64.

use ferrite_tool::convert::{convert, ConvertOptions};
use ferrite_tool::reference::Reference;
use prost::Message;
use tract_onnx::pb;

const FLOAT: i32 = 1;

fn value_info(name: &str, shape: &[usize]) -> pb::ValueInfoProto {
    let dim = shape
        .iter()
        .map(|&d| pb::tensor_shape_proto::Dimension {
            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: FLOAT,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

enum Attr {
    F(&'static str, f32),
    I(&'static str, i64),
    Ints(&'static str, Vec<i64>),
}

/// A model of one `op` node reading `x` (shape `xs`) then the constants `consts`,
/// writing `y` (shape `ys`).
fn one_node(
    op: &str,
    attrs: Vec<Attr>,
    xs: &[usize],
    consts: &[(&str, &[usize], &[f32])],
    ys: &[usize],
    opset: i64,
) -> Vec<u8> {
    let attribute = attrs
        .into_iter()
        .map(|a| match a {
            Attr::F(name, f) => pb::AttributeProto {
                name: name.into(),
                r#type: 1,
                f,
                ..Default::default()
            },
            Attr::I(name, i) => pb::AttributeProto {
                name: name.into(),
                r#type: 2,
                i,
                ..Default::default()
            },
            Attr::Ints(name, ints) => pb::AttributeProto {
                name: name.into(),
                r#type: 7,
                ints,
                ..Default::default()
            },
        })
        .collect();
    let mut input = vec!["x".to_string()];
    input.extend(consts.iter().map(|(n, ..)| n.to_string()));
    let initializer = consts
        .iter()
        .map(|(name, dims, v)| pb::TensorProto {
            name: name.to_string(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            float_data: v.to_vec(),
            ..Default::default()
        })
        .collect();
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(pb::GraphProto {
            name: "g".into(),
            node: vec![pb::NodeProto {
                op_type: op.into(),
                name: "n".into(),
                input,
                output: vec!["y".into()],
                attribute,
                ..Default::default()
            }],
            initializer,
            input: vec![value_info("x", xs)],
            output: vec![value_info("y", ys)],
            ..Default::default()
        }),
        ..Default::default()
    };
    model.encode_to_vec()
}

/// Deterministic inputs in [-3, 3), with `extra` appended.
fn inputs(n: usize, extra: &[f32]) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n - extra.len())
        .map(|i| ((i * 37 + 11) % 97) as f32 / 97.0 * 6.0 - 3.0)
        .collect();
    v.extend_from_slice(extra);
    v
}

/// Runs `onnx` on `x` through ferrite (converted to f32) and through tract, and checks
/// both against `want` (`|got - want| <= 1e-5 (1 + |want|)`, infinities exactly).
fn check(name: &str, onnx: &[u8], x: &[f32], want: &[f64]) {
    let report = convert(
        onnx,
        &ConvertOptions {
            golden: 0,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let owned = ferrite::OwnedModel::new(&report.bytes).unwrap();
    let model = owned.model();
    let mut s = ferrite::OwnedSession::new(&model);
    let mut s = s.session();
    s.set_input_f32(0, x).unwrap();
    s.run().unwrap();
    let mut got = vec![f32::NAN; want.len()];
    s.output_f32(0, &mut got).unwrap();
    let reference = Reference::load(onnx, &[]).unwrap();
    let tract = reference.run(&[x]).unwrap().swap_remove(0);
    for (who, got) in [("ferrite", &got), ("tract", &tract)] {
        assert_eq!(got.len(), want.len(), "{name} ({who}): length");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let ok = if w.is_infinite() {
                f64::from(g) == w
            } else {
                (f64::from(g) - w).abs() <= 1e-5 * (1.0 + w.abs())
            };
            assert!(ok, "{name} ({who}): element {i}: got {g}, want {w}");
        }
    }
}

#[test]
fn layer_normalization_over_the_last_axis() {
    let (rows, n) = (6, 4);
    let x = inputs(rows * n, &[]);
    let scale = [0.5f32, -1.0, 2.0, 1.5];
    let bias = [0.1f32, 0.0, -0.2, 0.3];
    let eps = 1e-3f32;
    let onnx = one_node(
        "LayerNormalization",
        vec![Attr::I("axis", -1), Attr::F("epsilon", eps)],
        &[2, 3, n],
        &[("scale", &[n], &scale), ("bias", &[n], &bias)],
        &[2, 3, n],
        17,
    );
    let mut want = Vec::new();
    for r in x.chunks(n) {
        let r: Vec<f64> = r.iter().map(|&v| f64::from(v)).collect();
        let mean = r.iter().sum::<f64>() / n as f64;
        let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let inv = 1.0 / (var + f64::from(eps)).sqrt();
        for (j, v) in r.iter().enumerate() {
            want.push((v - mean) * inv * f64::from(scale[j]) + f64::from(bias[j]));
        }
    }
    check("LayerNormalization", &onnx, &x, &want);
}

#[test]
fn layer_normalization_over_two_inner_axes() {
    // axis = 1 of [2, 3, 4]: each of the 2 outer rows normalized over 12 values.
    let x = inputs(24, &[]);
    let onnx = one_node(
        "LayerNormalization",
        vec![Attr::I("axis", 1)],
        &[2, 3, 4],
        &[("scale", &[3, 4], &[1.0; 12])],
        &[2, 3, 4],
        17,
    );
    let mut want = Vec::new();
    for r in x.chunks(12) {
        let r: Vec<f64> = r.iter().map(|&v| f64::from(v)).collect();
        let mean = r.iter().sum::<f64>() / 12.0;
        let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 12.0;
        want.extend(r.iter().map(|v| (v - mean) / (var + 1e-5).sqrt()));
    }
    check("LayerNormalization axis 1", &onnx, &x, &want);
}

#[test]
fn reduce_mean_over_non_trailing_axes_without_keepdims() {
    // ReduceMean over axes 0 and 2 of [2, 3, 4] -> [3].
    let x = inputs(24, &[]);
    let onnx = one_node(
        "ReduceMean",
        vec![Attr::Ints("axes", vec![0, 2]), Attr::I("keepdims", 0)],
        &[2, 3, 4],
        &[],
        &[3],
        13,
    );
    let want: Vec<f64> = (0..3)
        .map(|c| {
            let mut s = 0.0;
            for b in 0..2 {
                for k in 0..4 {
                    s += f64::from(x[b * 12 + c * 4 + k]);
                }
            }
            s / 8.0
        })
        .collect();
    check("ReduceMean", &onnx, &x, &want);
}

#[test]
fn instance_normalization_per_channel() {
    let x = inputs(2 * 3 * 5, &[]);
    let scale = [1.0f32, 2.0, -0.5];
    let bias = [0.0f32, 1.0, 0.25];
    let onnx = one_node(
        "InstanceNormalization",
        vec![Attr::F("epsilon", 1e-2)],
        &[2, 3, 5],
        &[("scale", &[3], &scale), ("B", &[3], &bias)],
        &[2, 3, 5],
        13,
    );
    let mut want = Vec::new();
    for (i, r) in x.chunks(5).enumerate() {
        let c = i % 3;
        let r: Vec<f64> = r.iter().map(|&v| f64::from(v)).collect();
        let mean = r.iter().sum::<f64>() / 5.0;
        let var = r.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5.0;
        let inv = 1.0 / (var + 1e-2).sqrt();
        want.extend(
            r.iter()
                .map(|v| (v - mean) * inv * f64::from(scale[c]) + f64::from(bias[c])),
        );
    }
    check("InstanceNormalization", &onnx, &x, &want);
}

#[test]
fn elu_and_selu() {
    let x = inputs(24, &[0.0, -0.0, -20.0]);
    let alpha = 0.5f32;
    let onnx = one_node("Elu", vec![Attr::F("alpha", alpha)], &[24], &[], &[24], 13);
    let elu = |v: f64, a: f64| if v < 0.0 { a * v.exp_m1() } else { v };
    let want: Vec<f64> = x
        .iter()
        .map(|&v| elu(f64::from(v), f64::from(alpha)))
        .collect();
    check("Elu", &onnx, &x, &want);

    let onnx = one_node("Selu", vec![], &[24], &[], &[24], 13);
    let (a, g) = (1.673_263_192_176_818_8, 1.050_701_022_148_132_3);
    let want: Vec<f64> = x.iter().map(|&v| g * elu(f64::from(v), a)).collect();
    check("Selu", &onnx, &x, &want);
}

#[test]
fn prelu_broadcasts_the_slope() {
    let x = inputs(24, &[0.0, -0.0, -1.0]);
    let slope = [0.25f32, -0.5, 2.0];
    let onnx = one_node(
        "PRelu",
        vec![],
        &[2, 3, 4],
        &[("slope", &[3, 1], &slope)],
        &[2, 3, 4],
        16,
    );
    let want: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let v = f64::from(v);
            if v < 0.0 {
                f64::from(slope[(i / 4) % 3]) * v
            } else {
                v
            }
        })
        .collect();
    check("PRelu", &onnx, &x, &want);
}

#[test]
fn thresholded_relu_is_zero_at_the_threshold() {
    let alpha = 1.0f32;
    let just_above = f32::from_bits(alpha.to_bits() + 1);
    let just_below = f32::from_bits(alpha.to_bits() - 1);
    let x = inputs(
        24,
        &[
            alpha,
            just_above,
            just_below,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
        ],
    );
    let onnx = one_node(
        "ThresholdedRelu",
        vec![Attr::F("alpha", alpha)],
        &[24],
        &[],
        &[24],
        10,
    );
    let want: Vec<f64> = x
        .iter()
        .map(|&v| if v > alpha { f64::from(v) } else { 0.0 })
        .collect();
    check("ThresholdedRelu", &onnx, &x, &want);
}
