//! The host tool's ONNX import: `ferrite_tool::convert` (f32, the `ferrite convert`
//! default) on hostile ONNX bytes, and a protobuf-aware mutator.
//!
//! The contract (docs/security.md): a file a user downloads may make the import fail,
//! never crash the tool or hang it; what `convert` returns loads with `Model::load`.
//! Byte mutations of a protobuf mostly break its framing, so the mutator decodes the
//! model (tract's `pb::ModelProto`), changes one thing the importer interprets — a
//! dimension, a data type, an initializer's data, an attribute, a node's op type or
//! wiring, a graph input's shape, an opset — and encodes it again.

use crate::rng::{mutate_bytes, Rng, INTERESTING_F32};
use prost::Message;
use tract_onnx::pb::{
    self, tensor_shape_proto::dimension::Value as Dim, type_proto::Value as Ty, ModelProto,
};

/// Largest ONNX input the target converts (bytes).
pub const MAX_ONNX: usize = 1 << 20;

/// Most values (summed over every tensor of the imported graph, weights included) of a
/// model the target converts: the conversion runs the model eight times (four golden
/// vectors written, then checked), so its time grows with the sizes the file declares.
/// A 5 KB file declaring a batch of 65,536 windows (12.6 M input values, 1.85 G
/// multiply-adds per run) took over 30 s in the fuzz build
/// (`regressions/onnx_import/huge-batch.onnx`); the example models are far below the
/// bound (the replay test checks that every seed is converted).
pub const MAX_VALUES: usize = 1 << 22;

/// What [`onnx_import`] did with an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Larger than [`MAX_ONNX`], or an import of more than [`MAX_VALUES`] values: not
    /// converted.
    TooLarge,
    /// The import or the conversion returned an error.
    Refused,
    /// Converted; the result loads with `Model::load`.
    Converted,
}

/// Installs (once) a panic hook around the one in place that lets a panic inside the
/// tool's `no_panic` (tract's loading and analysis of the model) unwind to it, where it
/// becomes the import error a user of `ferrite convert` gets: libFuzzer's hook aborts
/// on every panic, before any unwinding. Such a panic is printed as one line
/// ("contained …"); a panic anywhere else goes to the previous hook (under libFuzzer:
/// a crash).
pub fn contain_tract_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let outer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ferrite_tool::import::tract::catching_panics() {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                eprintln!("contained (an import error): a panic in tract at {at}");
            } else {
                outer(info)
            }
        }));
    });
}

/// The `onnx_import` target: `ferrite convert`'s import, then (within [`MAX_VALUES`])
/// the rest of the conversion.
pub fn onnx_import(data: &[u8]) -> Outcome {
    contain_tract_panics();
    if data.len() > MAX_ONNX {
        return Outcome::TooLarge;
    }
    let opts = ferrite_tool::ConvertOptions::default();
    let imported = match ferrite_tool::import::import(data, &Default::default()) {
        Ok(i) => i,
        Err(_) => return Outcome::Refused,
    };
    let values = imported.graph.tensors.iter().try_fold(0usize, |sum, t| {
        let n = t.shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d))?;
        sum.checked_add(n)
    });
    if values.is_none_or(|v| v > MAX_VALUES) {
        return Outcome::TooLarge;
    }
    match ferrite_tool::convert::convert_imported(&imported, data, &opts) {
        Ok(report) => {
            let a = ferrite::AlignedModel::new(&report.bytes);
            a.model().expect("a converted model loads");
            Outcome::Converted
        }
        Err(_) => Outcome::Refused,
    }
}

const INTERESTING_I64: [i64; 14] = [
    0,
    1,
    2,
    3,
    -1,
    -2,
    16,
    255,
    65536,
    1 << 31,
    1 << 32,
    1 << 40,
    i64::MAX,
    i64::MIN,
];

/// Op types the importers know, for swapping a node's type.
const OPS: [&str; 40] = [
    "Add",
    "Sub",
    "Mul",
    "Div",
    "MatMul",
    "Gemm",
    "Conv",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Reshape",
    "Flatten",
    "Transpose",
    "Concat",
    "Pad",
    "Slice",
    "Gather",
    "Squeeze",
    "Unsqueeze",
    "BatchNormalization",
    "Clip",
    "ArgMax",
    "ReduceMean",
    "Cast",
    "QuantizeLinear",
    "DequantizeLinear",
    "Scaler",
    "Imputer",
    "OneHotEncoder",
    "LinearClassifier",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "Normalizer",
    "ZipMap",
    "Constant",
];

fn i64v(rng: &mut Rng, around: i64) -> i64 {
    match rng.below(4) {
        0 => around.wrapping_add(1),
        1 => around.wrapping_sub(1),
        _ => INTERESTING_I64[rng.below(INTERESTING_I64.len())],
    }
}

/// The custom mutator of `onnx_import`.
pub fn mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng::new(seed);
    let decoded = if rng.chance(1, 8) {
        None
    } else {
        ModelProto::decode(&data[..size]).ok()
    };
    let out = match decoded {
        Some(mut m) => {
            mutate_model(&mut m, &mut rng);
            m.encode_to_vec()
        }
        None => return libfuzzer_sys::fuzzer_mutate(data, size, max_size),
    };
    if out.len() > max_size {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    data[..out.len()].copy_from_slice(&out);
    out.len()
}

fn mutate_model(m: &mut ModelProto, rng: &mut Rng) {
    if rng.chance(1, 16) || m.graph.is_none() {
        if let Some(o) = m.opset_import.first_mut() {
            o.version = i64v(rng, o.version);
        } else {
            m.ir_version = i64v(rng, m.ir_version);
        }
        return;
    }
    let Some(g) = m.graph.as_mut() else { return };
    match rng.below(6) {
        0 | 1 => mutate_nodes(g, rng),
        2 | 3 if !g.initializer.is_empty() => {
            let i = rng.below(g.initializer.len());
            mutate_tensor(&mut g.initializer[i], rng);
        }
        4 if !g.input.is_empty() || !g.output.is_empty() => {
            let vi = if rng.chance(3, 4) && !g.input.is_empty() {
                let i = rng.below(g.input.len());
                &mut g.input[i]
            } else {
                let i = rng.below(g.output.len().max(1));
                match g.output.get_mut(i) {
                    Some(v) => v,
                    None => return,
                }
            };
            if let Some(Ty::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
                if rng.chance(1, 4) {
                    t.elem_type = rng.below(17) as i32;
                } else if let Some(s) = t.shape.as_mut() {
                    match rng.below(4) {
                        0 => s.dim.truncate(rng.below(s.dim.len() + 1)),
                        1 => s.dim.push(s.dim.first().cloned().unwrap_or_default()),
                        _ if !s.dim.is_empty() => {
                            let k = rng.below(s.dim.len());
                            s.dim[k].value = if rng.chance(1, 4) {
                                Some(Dim::DimParam("N".into()))
                            } else {
                                let d = match s.dim[k].value {
                                    Some(Dim::DimValue(d)) => d,
                                    _ => 1,
                                };
                                Some(Dim::DimValue(i64v(rng, d)))
                            };
                        }
                        _ => {}
                    }
                }
            }
        }
        _ => {
            // A byte-level change inside one node, re-framed.
            if g.node.is_empty() {
                return;
            }
            let i = rng.below(g.node.len());
            let mut b = g.node[i].encode_to_vec();
            mutate_bytes(&mut b, 32);
            if let Ok(n) = pb::NodeProto::decode(&b[..]) {
                g.node[i] = n;
            }
        }
    }
}

fn mutate_nodes(g: &mut pb::GraphProto, rng: &mut Rng) {
    if g.node.is_empty() {
        return;
    }
    let i = rng.below(g.node.len());
    // Every value name in the graph, for rewiring.
    let names: Vec<String> = g
        .input
        .iter()
        .map(|v| v.name.clone())
        .chain(g.initializer.iter().map(|t| t.name.clone()))
        .chain(g.node.iter().flat_map(|n| n.output.iter().cloned()))
        .collect();
    let pick = |rng: &mut Rng| {
        names
            .get(rng.below(names.len()))
            .cloned()
            .unwrap_or_default()
    };
    match rng.below(8) {
        0 => g.node[i].op_type = OPS[rng.below(OPS.len())].into(),
        1 => {
            let n = g.node[i].clone();
            g.node.insert(rng.below(g.node.len() + 1), n);
        }
        2 if g.node.len() > 1 => {
            g.node.remove(i);
        }
        3 => {
            let j = rng.below(g.node.len());
            g.node.swap(i, j);
        }
        4 => {
            let n = &mut g.node[i];
            match rng.below(3) {
                0 if !n.input.is_empty() => {
                    let k = rng.below(n.input.len());
                    n.input[k] = pick(rng);
                }
                1 => n.input.push(pick(rng)),
                _ => {
                    n.input.pop();
                }
            }
        }
        _ => {
            let n = &mut g.node[i];
            if n.attribute.is_empty() {
                return;
            }
            let k = rng.below(n.attribute.len());
            let a = &mut n.attribute[k];
            match rng.below(6) {
                0 => a.i = i64v(rng, a.i),
                1 => a.f = INTERESTING_F32[rng.below(INTERESTING_F32.len())],
                2 if !a.ints.is_empty() => {
                    let j = rng.below(a.ints.len());
                    a.ints[j] = i64v(rng, a.ints[j]);
                }
                3 => {
                    if rng.chance(1, 2) {
                        a.ints.pop();
                    } else {
                        a.ints.push(i64v(rng, 1));
                    }
                }
                4 if !a.floats.is_empty() => {
                    let j = rng.below(a.floats.len());
                    a.floats[j] = INTERESTING_F32[rng.below(INTERESTING_F32.len())];
                }
                _ => {
                    if let Some(t) = a.t.as_mut() {
                        mutate_tensor(t, rng);
                    } else {
                        a.r#type = rng.below(15) as i32;
                    }
                }
            }
        }
    }
}

fn mutate_tensor(t: &mut pb::TensorProto, rng: &mut Rng) {
    match rng.below(6) {
        0 if !t.dims.is_empty() => {
            let k = rng.below(t.dims.len());
            t.dims[k] = i64v(rng, t.dims[k]);
        }
        1 => {
            if rng.chance(1, 2) {
                t.dims.pop();
            } else {
                t.dims.push(1 + rng.below(3) as i64);
            }
        }
        2 => t.data_type = rng.below(17) as i32,
        3 if !t.raw_data.is_empty() => {
            let n = t.raw_data.len();
            t.raw_data.truncate(rng.below(n));
        }
        4 if !t.float_data.is_empty() => {
            let k = rng.below(t.float_data.len());
            t.float_data[k] = INTERESTING_F32[rng.below(INTERESTING_F32.len())];
        }
        _ => {
            if !t.raw_data.is_empty() {
                let len = t.raw_data.len();
                let at = rng.below(len);
                let n = (len - at).min(8);
                let mut part = t.raw_data[at..at + n].to_vec();
                libfuzzer_sys::fuzzer_mutate(&mut part, n, n);
                t.raw_data[at..at + n].copy_from_slice(&part);
            } else {
                t.data_location = Some(1);
            }
        }
    }
}
