//! Pre-quantized ONNX models: QDQ (`QuantizeLinear` / `DequantizeLinear` around float
//! ops, as written by `onnxruntime.quantization`) and QOperator models (`QLinearConv`,
//! `QLinearMatMul`, `QLinearAdd`, `QLinearMul`, and the `com.microsoft` ops `QGemm`,
//! `QLinearAveragePool`, `QLinearGlobalAveragePool`, `QLinearSoftmax`,
//! `QLinearSigmoid`, `QLinearLeakyRelu`). Other quantized ops and dynamic quantization
//! (`DynamicQuantizeLinear`, `MatMulInteger`, `ConvInteger`) are refused with an error
//! naming the op.
//!
//! The protobuf is rewritten before tract sees it, and the quantization it carried is
//! kept as hints:
//! - a QOperator op becomes `DequantizeLinear` → float op → `QuantizeLinear`, i.e. QDQ
//!   (int32 biases become float with scale `x_scale * w_scale`); a `Flatten` / `Reshape`
//!   / `Transpose` / `Squeeze` / `Unsqueeze` of a quantized tensor is wrapped the same
//!   way with that tensor's scale and zero point;
//! - a `DequantizeLinear` of a constant (weights, int32 biases) becomes the float
//!   constant `scale * (q - zero_point)`; its per-channel scales are kept, so the int8
//!   emitter recovers the exact integers (`w / scale` is an integer);
//! - a `QuantizeLinear` → `DequantizeLinear` pair on an activation is removed and its
//!   scale and zero point are recorded for the float tensor. uint8 activations map to
//!   int8 by subtracting 128 from the zero point (and the data), which is exact.
//!
//! The int8 emitter then uses these parameters instead of calibrated ranges: the file
//! runs the integer kernels with the source model's own quantization.

use super::proto::data_type::{INT8, UINT8};
use super::proto::{attr_i, f32_tensor, int_attr, node, node_name, values_f64};
use crate::error::{Error, Result};
use crate::ir::{Graph, QuantHint};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto};

/// Quantization ops (besides the `QLinear*` family) that make a model pre-quantized.
const QUANTIZED_OPS: &[&str] = &["QuantizeLinear", "DequantizeLinear", "QGemm"];

/// Quantized ops ferrite does not import, and why.
const UNSUPPORTED_OPS: &[(&str, &str)] = &[
    ("DynamicQuantizeLinear", "dynamic quantization (quantize_dynamic) computes activation scales at run time; ferrite needs static ones: quantize with quantize_static, or convert the float model with --precision int8 --calibration DATA"),
    ("MatMulInteger", "dynamic quantization (quantize_dynamic) is not supported; quantize with quantize_static, or convert the float model with --precision int8 --calibration DATA"),
    ("ConvInteger", "dynamic quantization (quantize_dynamic) is not supported; quantize with quantize_static, or convert the float model with --precision int8 --calibration DATA"),
    ("DynamicQuantizeMatMul", "dynamic quantization (quantize_dynamic) is not supported; quantize with quantize_static, or convert the float model with --precision int8 --calibration DATA"),
];

/// QOperator ops read as `DequantizeLinear` → float op → `QuantizeLinear`: the ONNX
/// op, its float counterpart, and the position of the output scale among its inputs.
/// Every other input before it comes in `(x, x_scale, x_zero_point)` triples.
const QLINEAR_ELEMENTWISE: &[(&str, &str, usize)] = &[
    ("QLinearAdd", "Add", 6),
    ("QLinearMul", "Mul", 6),
    ("QLinearAveragePool", "AveragePool", 3),
    ("QLinearGlobalAveragePool", "GlobalAveragePool", 3),
    ("QLinearSoftmax", "Softmax", 3),
    ("QLinearSigmoid", "Sigmoid", 3),
    ("QLinearLeakyRelu", "LeakyRelu", 3),
];

/// Ops that move quantized values without computing (QOperator files run `Flatten`
/// on the int8 tensor): read as DequantizeLinear → op → QuantizeLinear with the same
/// scale and zero point.
const LAYOUT_OPS: &[&str] = &["Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"];

/// Quantization read from a pre-quantized model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hints {
    /// `(ONNX node that produces the tensor, or the graph input name; scale; int8 zero point)`.
    pub activations: Vec<(String, f32, i32)>,
    /// Per-channel (or single) scales of the quantized weight constants.
    pub weight_scales: Vec<Vec<f32>>,
    /// Every ONNX Gemm / MatMul / Conv node with the `(scale, int8 zero point)` of its
    /// input when that is quantized, for the products tract splits over a Concat
    /// ([`super::qdq_concat`]).
    pub product_inputs: Vec<(String, Option<(f32, i32)>)>,
}

/// Rewrites a pre-quantized model to float in place; returns the hints (empty for a
/// float model, which is left untouched).
pub fn prepare(model: &mut ModelProto) -> Result<Hints> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(Hints::default());
    };
    let quantized = graph.node.iter().any(|n| {
        n.op_type.starts_with("QLinear")
            || QUANTIZED_OPS.contains(&n.op_type.as_str())
            || UNSUPPORTED_OPS.iter().any(|(op, _)| *op == n.op_type)
    });
    if !quantized {
        return Ok(Hints::default());
    }
    let mut inits: HashMap<String, TensorProto> = graph
        .initializer
        .drain(..)
        .map(|t| (t.name.clone(), t))
        .collect();
    let mut hints = Hints::default();

    // QOperator → QDQ.
    let mut nodes = Vec::new();
    let mut quantized_tensors: HashMap<String, (String, String)> = HashMap::new();
    for n in graph.node.drain(..) {
        qop_to_qdq(n, &mut inits, &mut quantized_tensors, &mut nodes)?;
    }

    // DequantizeLinear of constants → float constants.
    let mut kept = Vec::new();
    for n in nodes {
        if n.op_type == "DequantizeLinear" && n.input.first().is_some_and(|x| inits.contains_key(x))
        {
            let q = &inits[&n.input[0]];
            let qv = values_f64(q)
                .ok_or_else(|| Error::Import(format!("{}: unsupported constant type", n.name)))?;
            let scale = n
                .input
                .get(1)
                .and_then(|s| inits.get(s))
                .and_then(values_f64);
            let zp = n
                .input
                .get(2)
                .filter(|s| !s.is_empty())
                .and_then(|s| inits.get(s))
                .and_then(values_f64)
                .unwrap_or_else(|| vec![0.0]);
            let Some(scale) = scale else {
                kept.push(n);
                continue;
            };
            let dims = q.dims.clone();
            let rank = dims.len() as i64;
            let axis = attr_i(&n, "axis").unwrap_or(1);
            let axis = if axis < 0 { axis + rank } else { axis } as usize;
            let (outer, ch, inner) = if scale.len() > 1 && axis < dims.len() {
                let d: Option<Vec<usize>> = dims.iter().map(|&x| usize::try_from(x).ok()).collect();
                let product = |ds: &[usize]| ds.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
                let split = d
                    .as_ref()
                    .and_then(|d| Some((product(&d[..axis])?, d[axis], product(&d[axis + 1..])?)));
                match split {
                    Some((o, c, i))
                        if o.checked_mul(c).and_then(|oc| oc.checked_mul(i)) == Some(qv.len()) =>
                    {
                        (o, c, i)
                    }
                    _ => {
                        return Err(Error::Import(format!(
                            "{}: the dims {dims:?} of {} do not describe its {} values",
                            n.name,
                            n.input[0],
                            qv.len()
                        )))
                    }
                }
            } else {
                (1, 1, qv.len())
            };
            let mut out = vec![0f32; qv.len()];
            for o in 0..outer {
                for c in 0..ch {
                    let s = scale.get(c).or(scale.first()).copied().unwrap_or(1.0);
                    let z = zp.get(c).or(zp.first()).copied().unwrap_or(0.0);
                    for k in 0..inner {
                        let at = (o * ch + c) * inner + k;
                        out[at] = ((qv[at] - z) * s) as f32;
                    }
                }
            }
            if matches!(q.data_type, INT8 | UINT8) {
                hints
                    .weight_scales
                    .push(scale.iter().map(|&s| s as f32).collect());
            }
            inits.insert(n.output[0].clone(), f32_tensor(&n.output[0], &dims, &out));
            continue;
        }
        kept.push(n);
    }

    // QuantizeLinear → DequantizeLinear pairs on activations.
    let outputs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut rename: HashMap<String, String> = HashMap::new();
    let mut removed: HashSet<usize> = HashSet::new();
    let mut act: Vec<(String, f32, i32)> = Vec::new();
    for (qi, q) in kept.iter().enumerate() {
        if q.op_type != "QuantizeLinear" {
            continue;
        }
        let consumers: Vec<usize> = kept
            .iter()
            .enumerate()
            .filter(|(_, n)| n.input.iter().any(|i| *i == q.output[0]))
            .map(|(i, _)| i)
            .collect();
        if consumers.is_empty()
            || consumers
                .iter()
                .any(|&c| kept[c].op_type != "DequantizeLinear")
            || outputs.contains(&q.output[0])
        {
            continue;
        }
        let scale = q
            .input
            .get(1)
            .and_then(|s| inits.get(s))
            .and_then(values_f64);
        let zp_t = q
            .input
            .get(2)
            .filter(|s| !s.is_empty())
            .and_then(|s| inits.get(s));
        let (Some(scale), true) = (scale, scale_is_scalar(q, &inits)) else {
            continue;
        };
        let zp = zp_t
            .and_then(values_f64)
            .and_then(|v| v.first().copied())
            .unwrap_or(0.0) as i32;
        let zp = if zp_t.map_or(UINT8, |t| t.data_type) == UINT8 {
            zp - 128
        } else {
            zp
        };
        let x = q.input[0].clone();
        removed.insert(qi);
        let mut target = x.clone();
        for &c in &consumers {
            removed.insert(c);
            let o = kept[c].output[0].clone();
            if outputs.contains(&o) {
                // Keep the graph output's name: the float tensor takes it.
                rename.insert(x.clone(), o.clone());
                target = o;
            }
        }
        for &c in &consumers {
            let o = kept[c].output[0].clone();
            if o != target {
                rename.insert(o, target.clone());
            }
        }
        act.push((target, scale[0] as f32, zp));
    }
    let resolve = |mut s: String| {
        for _ in 0..64 {
            match rename.get(&s) {
                Some(t) if *t != s => s = t.clone(),
                _ => break,
            }
        }
        s
    };
    let mut final_nodes = Vec::new();
    for (i, mut n) in kept.into_iter().enumerate() {
        if removed.contains(&i) {
            continue;
        }
        for s in n.input.iter_mut().chain(n.output.iter_mut()) {
            if !s.is_empty() {
                *s = resolve(s.clone());
            }
        }
        final_nodes.push(n);
    }
    // Producer node of every tensor: the hint is matched to tract's node names.
    let mut producer: HashMap<String, String> = HashMap::new();
    for n in &final_nodes {
        let name = node_name(n);
        for o in &n.output {
            producer.insert(o.clone(), name.clone());
        }
    }
    let by_tensor: HashMap<String, (f32, i32)> = act
        .iter()
        .map(|(t, s, z)| (resolve(t.clone()), (*s, *z)))
        .collect();
    for n in &final_nodes {
        if matches!(n.op_type.as_str(), "Gemm" | "MatMul" | "Conv") {
            let q = n.input.first().and_then(|x| by_tensor.get(x)).copied();
            hints.product_inputs.push((node_name(n), q));
        }
    }
    for (t, s, z) in act {
        let t = resolve(t);
        let p = producer.get(&t).cloned().unwrap_or(t);
        hints.activations.push((p, s, z));
    }
    let used: HashSet<&String> = final_nodes.iter().flat_map(|n| n.input.iter()).collect();
    graph.initializer = inits
        .into_values()
        .filter(|t| used.contains(&t.name))
        .collect();
    graph.initializer.sort_by(|a, b| a.name.cmp(&b.name));
    graph.node = final_nodes;
    Ok(hints)
}

fn scale_is_scalar(q: &NodeProto, inits: &HashMap<String, TensorProto>) -> bool {
    q.input
        .get(1)
        .and_then(|s| inits.get(s))
        .and_then(values_f64)
        .is_some_and(|v| v.len() == 1)
}

/// Records the hints on the IR: activation scales on the tensors computed by the
/// hinted nodes, weight scales on the graph.
///
/// tract names a lowered node after its ONNX node and may split it (a 1×1 `Conv` becomes
/// transpose → matmul → reshape, the last output keeping the ONNX name), so a hint goes
/// to the last IR node named after the ONNX node (by node or tensor name) and then
/// spreads through the value-preserving reshapes and transposes around it, both ways.
///
/// A Gemm / MatMul / 1×1 Conv that tract split over the inputs of a Concat is then
/// joined back ([`super::qdq_concat`]).
pub fn apply(g: &mut Graph, h: &Hints) {
    for (producer, scale, zp) in &h.activations {
        let hint = QuantHint {
            scales: vec![*scale],
            zero_points: vec![*zp],
            axis: 0,
        };
        let mut hit = false;
        for &i in &g.inputs {
            if g.tensors[i].name == *producer {
                g.tensors[i].qhint = Some(hint.clone());
                hit = true;
            }
        }
        if hit {
            continue;
        }
        let named = g
            .nodes
            .iter()
            .rfind(|n| n.name == *producer || g.tensors[n.output].name == *producer)
            .map(|n| n.output);
        let target = named.or_else(|| {
            let prefix = format!("{producer}.");
            g.nodes
                .iter()
                .map(|n| n.output)
                .rfind(|&t| g.tensors[t].name.starts_with(&prefix))
        });
        if let Some(t) = target {
            g.tensors[t].qhint = Some(hint);
        }
    }
    spread_through_layout_ops(g);
    if *h != Hints::default() {
        super::qdq_concat::join_split_products(g, &h.product_inputs);
    }
    g.weight_scales = h.weight_scales.clone();
}

/// Copies activation hints across `Reshape` / `Transpose` (same values, same
/// quantization) to the side that has none, and from the input of a `Slice` (a subset
/// of its values) to its output, until nothing changes.
fn spread_through_layout_ops(g: &mut Graph) {
    use ferrite::format::types::Op;
    loop {
        let mut changed = false;
        for k in 0..g.nodes.len() {
            let n = &g.nodes[k];
            let both_ways = match n.op {
                Op::Reshape | Op::Transpose { .. } => true,
                Op::Slice { .. } => false,
                _ => continue,
            };
            let (x, y) = (n.inputs[0], n.output);
            if g.tensors[x].data.is_some() {
                continue;
            }
            match (g.tensors[x].qhint.clone(), g.tensors[y].qhint.clone()) {
                (Some(h), None) => {
                    g.tensors[y].qhint = Some(h);
                    changed = true;
                }
                (None, Some(h)) if both_ways => {
                    g.tensors[x].qhint = Some(h);
                    changed = true;
                }
                _ => {}
            }
        }
        if !changed {
            break;
        }
    }
}

/// Appends `n` to `out`, rewritten to QDQ when it is a QOperator op; records the scale
/// and zero point of every quantized tensor in `quantized` (output → `(scale, zp)`).
fn qop_to_qdq(
    n: NodeProto,
    inits: &mut HashMap<String, TensorProto>,
    quantized: &mut HashMap<String, (String, String)>,
    out: &mut Vec<NodeProto>,
) -> Result<()> {
    let name = node_name(&n);
    let op = n.op_type.as_str();
    if n.output.is_empty() {
        return Err(Error::Import(format!("{name}: {op} has no output")));
    }
    let i = &n.input;
    let arg = |k: usize| i.get(k).map(String::as_str).unwrap_or("");
    let too_few = |want: usize| {
        Error::Import(format!(
            "{name}: {op} has {} inputs, expected at least {want}",
            i.len()
        ))
    };
    let dq = |out: &mut Vec<NodeProto>, what: &str, k: usize, attrs| {
        let f = format!("{name}/{what}_f");
        out.push(node(
            "DequantizeLinear",
            &format!("{name}/dq_{what}"),
            &[arg(k), arg(k + 1), arg(k + 2)],
            &[&f],
            attrs,
        ));
        f
    };
    let q = |out: &mut Vec<NodeProto>,
             quantized: &mut HashMap<String, (String, String)>,
             y_f: &str,
             s: &str,
             z: &str| {
        out.push(node(
            "QuantizeLinear",
            &format!("{name}/q_y"),
            &[y_f, s, z],
            &[&n.output[0]],
            vec![],
        ));
        quantized.insert(n.output[0].clone(), (s.to_string(), z.to_string()));
    };
    if let Some((_, why)) = UNSUPPORTED_OPS.iter().find(|(o, _)| *o == op) {
        return Err(Error::Import(format!("{name}: {op}: {why}")));
    }
    match op {
        "QuantizeLinear" => {
            quantized.insert(
                n.output[0].clone(),
                (arg(1).to_string(), arg(2).to_string()),
            );
            out.push(n);
        }
        "QLinearMatMul" | "QLinearConv" | "QGemm" => {
            let want = if op == "QGemm" { 6 } else { 8 };
            if i.len() < want {
                return Err(too_few(want));
            }
            let trans_b = attr_i(&n, "transB").unwrap_or(0);
            // Per-channel weight scales run along the output channels: axis 0 of a
            // Conv kernel [out, in, ...] or of a transposed Gemm B [N, K]; axis 1 of
            // [K, N].
            let w_axis = match op {
                "QLinearConv" => 0,
                "QGemm" if trans_b == 1 => 0,
                _ => 1,
            };
            let a_f = dq(out, "a", 0, vec![]);
            let b_f = dq(out, "b", 3, vec![int_attr("axis", w_axis)]);
            let mut float_inputs = vec![a_f.clone(), b_f];
            let bias_at = if op == "QGemm" { 6 } else { 8 };
            if op != "QLinearMatMul" && !arg(bias_at).is_empty() {
                let bias_f = format!("{name}/bias_f");
                let xs = inits.get(arg(1)).and_then(values_f64).unwrap_or_default();
                let ws = inits.get(arg(4)).and_then(values_f64).unwrap_or_default();
                let b = inits
                    .get(arg(bias_at))
                    .and_then(values_f64)
                    .ok_or_else(|| Error::Import(format!("{name}: the bias must be a constant")))?;
                let x_s = *xs.first().ok_or_else(|| {
                    Error::Import(format!("{name}: the input scale must be a constant"))
                })?;
                let bf: Vec<f32> = b
                    .iter()
                    .enumerate()
                    .map(|(c, &q)| {
                        (q * x_s * ws.get(c).or(ws.first()).copied().unwrap_or(1.0)) as f32
                    })
                    .collect();
                inits.insert(bias_f.clone(), f32_tensor(&bias_f, &[bf.len() as i64], &bf));
                float_inputs.push(bias_f);
            }
            let (float_op, attrs, y_at) = match op {
                "QLinearConv" => ("Conv", n.attribute.clone(), 6),
                "QLinearMatMul" => ("MatMul", vec![], 6),
                _ => (
                    "Gemm",
                    n.attribute
                        .iter()
                        .filter(|a| matches!(a.name.as_str(), "alpha" | "transA" | "transB"))
                        .cloned()
                        .collect(),
                    7,
                ),
            };
            let inputs: Vec<&str> = float_inputs.iter().map(String::as_str).collect();
            if op == "QGemm" && arg(y_at).is_empty() {
                // No output scale: QGemm writes float.
                out.push(node(float_op, &name, &inputs, &[&n.output[0]], attrs));
            } else {
                let y_f = format!("{name}/y_f");
                out.push(node(float_op, &name, &inputs, &[&y_f], attrs));
                q(out, quantized, &y_f, arg(y_at), arg(y_at + 1));
            }
        }
        _ if QLINEAR_ELEMENTWISE.iter().any(|(o, _, _)| *o == op) => {
            let &(_, float_op, y_at) = QLINEAR_ELEMENTWISE
                .iter()
                .find(|(o, _, _)| *o == op)
                .expect("matched above");
            if i.len() < y_at + 1 {
                return Err(too_few(y_at + 1));
            }
            if attr_i(&n, "channels_last").unwrap_or(0) != 0 {
                return Err(Error::Import(format!(
                    "{name}: {op} with channels_last=1 is not supported"
                )));
            }
            let inputs: Vec<String> = (0..y_at / 3)
                .map(|k| dq(out, &format!("x{k}"), 3 * k, vec![]))
                .collect();
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            let attrs = n
                .attribute
                .iter()
                .filter(|a| !matches!(a.name.as_str(), "channels_last" | "opset"))
                .cloned()
                .collect();
            let y_f = format!("{name}/y_f");
            out.push(node(float_op, &name, &inputs, &[&y_f], attrs));
            q(out, quantized, &y_f, arg(y_at), arg(y_at + 1));
        }
        _ if LAYOUT_OPS.contains(&op) && quantized.contains_key(arg(0)) => {
            let (s, z) = quantized[arg(0)].clone();
            let x_f = format!("{name}/x_f");
            out.push(node(
                "DequantizeLinear",
                &format!("{name}/dq_x"),
                &[arg(0), &s, &z],
                &[&x_f],
                vec![],
            ));
            let mut inputs = vec![x_f.as_str()];
            inputs.extend(i.iter().skip(1).map(String::as_str));
            let y_f = format!("{name}/y_f");
            out.push(node(op, &name, &inputs, &[&y_f], n.attribute.clone()));
            q(out, quantized, &y_f, &s, &z);
        }
        _ if op.starts_with("QLinear") || n.domain == "com.microsoft" => {
            return Err(Error::Import(format!(
                "{name}: the quantized op {op} ({}) is not supported; ferrite imports QuantizeLinear / DequantizeLinear (QDQ) and {}",
                if n.domain.is_empty() { "ai.onnx" } else { n.domain.as_str() },
                supported_qoperator_ops()
            )));
        }
        _ => out.push(n),
    }
    Ok(())
}

/// The QOperator ops the importer rewrites, for error messages and docs.
pub fn supported_qoperator_ops() -> String {
    let mut ops = vec!["QLinearConv", "QLinearMatMul", "QGemm"];
    ops.extend(QLINEAR_ELEMENTWISE.iter().map(|(o, _, _)| *o));
    ops.join(", ")
}
