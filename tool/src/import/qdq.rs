//! Pre-quantized ONNX models: QDQ (`QuantizeLinear` / `DequantizeLinear` around float
//! ops, as written by `onnxruntime.quantization`) and the QOperator ops `QLinearConv` /
//! `QLinearMatMul`.
//!
//! The protobuf is rewritten before tract sees it, and the quantization it carried is
//! kept as hints:
//! - `QLinearConv` / `QLinearMatMul` become `DequantizeLinear` → float op →
//!   `QuantizeLinear`, i.e. QDQ;
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

/// Quantization read from a pre-quantized model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hints {
    /// `(ONNX node that produces the tensor, or the graph input name; scale; int8 zero point)`.
    pub activations: Vec<(String, f32, i32)>,
    /// Per-channel (or single) scales of the quantized weight constants.
    pub weight_scales: Vec<Vec<f32>>,
}

/// Rewrites a pre-quantized model to float in place; returns the hints (empty for a
/// float model, which is left untouched).
pub fn prepare(model: &mut ModelProto) -> Result<Hints> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(Hints::default());
    };
    let quantized = graph.node.iter().any(|n| {
        matches!(
            n.op_type.as_str(),
            "QuantizeLinear" | "DequantizeLinear" | "QLinearConv" | "QLinearMatMul"
        )
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
    for n in graph.node.drain(..) {
        let name = node_name(&n);
        match n.op_type.as_str() {
            "QLinearMatMul" | "QLinearConv" if n.input.len() >= 8 => {
                let i = &n.input;
                let (a_f, b_f, y_f) = (
                    format!("{name}/a_f"),
                    format!("{name}/b_f"),
                    format!("{name}/y_f"),
                );
                nodes.push(node(
                    "DequantizeLinear",
                    &format!("{name}/dq_a"),
                    &[&i[0], &i[1], &i[2]],
                    &[&a_f],
                    vec![],
                ));
                let mut wdq_attrs = vec![];
                if n.op_type == "QLinearConv" {
                    wdq_attrs.push(int_attr("axis", 0));
                }
                nodes.push(node(
                    "DequantizeLinear",
                    &format!("{name}/dq_b"),
                    &[&i[3], &i[4], &i[5]],
                    &[&b_f],
                    wdq_attrs,
                ));
                let mut float_inputs = vec![a_f.as_str(), b_f.as_str()];
                let bias_f = format!("{name}/bias_f");
                if n.op_type == "QLinearConv" && i.len() > 8 && !i[8].is_empty() {
                    let xs = inits.get(&i[1]).and_then(values_f64).unwrap_or_default();
                    let ws = inits.get(&i[4]).and_then(values_f64).unwrap_or_default();
                    let b = inits.get(&i[8]).and_then(values_f64).unwrap_or_default();
                    let x_s = *xs.first().ok_or_else(|| {
                        Error::Import(format!("{name}: x_scale must be a constant"))
                    })?;
                    let bf: Vec<f32> = b
                        .iter()
                        .enumerate()
                        .map(|(c, &q)| {
                            (q * x_s * ws.get(c).or(ws.first()).copied().unwrap_or(1.0)) as f32
                        })
                        .collect();
                    inits.insert(bias_f.clone(), f32_tensor(&bias_f, &[bf.len() as i64], &bf));
                    float_inputs.push(&bias_f);
                }
                let op = if n.op_type == "QLinearConv" {
                    "Conv"
                } else {
                    "MatMul"
                };
                let attrs = if op == "Conv" {
                    n.attribute.clone()
                } else {
                    vec![]
                };
                nodes.push(node(op, &name, &float_inputs, &[&y_f], attrs));
                nodes.push(node(
                    "QuantizeLinear",
                    &format!("{name}/q_y"),
                    &[&y_f, &i[6], &i[7]],
                    &[&n.output[0]],
                    vec![],
                ));
            }
            _ => nodes.push(n),
        }
    }

    // DequantizeLinear of constants → float constants.
    let mut kept = Vec::new();
    for n in nodes {
        if n.op_type == "DequantizeLinear" && inits.contains_key(&n.input[0]) {
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
                let d: Vec<usize> = dims.iter().map(|&x| x as usize).collect();
                (
                    d[..axis].iter().product::<usize>(),
                    d[axis],
                    d[axis + 1..].iter().product::<usize>(),
                )
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
        let exact: Vec<usize> = g
            .nodes
            .iter()
            .map(|n| n.output)
            .filter(|&t| g.tensors[t].name == *producer)
            .collect();
        let target = match exact.last() {
            Some(&t) => Some(t),
            None => {
                let prefix = format!("{producer}.");
                g.nodes
                    .iter()
                    .map(|n| n.output)
                    .rfind(|&t| g.tensors[t].name.starts_with(&prefix))
            }
        };
        if let Some(t) = target {
            g.tensors[t].qhint = Some(hint.clone());
            // Reshapes and transposes right after carry the same values.
            let mut cur = t;
            while let Some(n) = g.nodes.iter().find(|n| {
                n.inputs.first() == Some(&cur)
                    && matches!(
                        n.op,
                        ferrite::format::types::Op::Reshape
                            | ferrite::format::types::Op::Transpose { .. }
                    )
            }) {
                cur = n.output;
                if g.tensors[cur].qhint.is_none() {
                    g.tensors[cur].qhint = Some(hint.clone());
                }
            }
        }
    }
    g.weight_scales = h.weight_scales.clone();
}
