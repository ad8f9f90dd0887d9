//! The float (f32 / f16) graph of a pre-quantized (QDQ / QOperator) model: every
//! quantized tensor clamped to its quantization range.
//!
//! onnxruntime's quantizer removes a `Relu` / `Clip` whose range the following
//! `QuantizeLinear` covers (a Relu before int8 activations becomes the zero point −128),
//! so in the QDQ file the clamp exists only as the quantization range. The import
//! removes the `QuantizeLinear` → `DequantizeLinear` pairs and keeps their scale and
//! zero point as hints ([`super::qdq`]); the int8 file runs them. For a float file this
//! pass puts each pair's saturation back: a `Clip` to `[(−128 − zp)·s, (127 − zp)·s]`
//! on every hinted tensor, which the graph passes fuse into the producer's activation
//! (Conv, FullyConnected, Add) where they can. What the float file still does not do is
//! round to the quantization grid: its outputs are within the quantization error of
//! onnxruntime's run of the file, not equal to it.

use super::Imported;
use crate::ir::{Graph, TId};
use ferrite::format::types::{Op, UnaryOp};
use ferrite::DType;

/// The note of an f32 / f16 conversion of a pre-quantized model.
pub const FLOAT_OF_QUANTIZED: &str = "this model is pre-quantized (QDQ / QOperator): the f32 / f16 file runs its float graph with every quantized tensor clamped to its quantization range (which stands in for the Relu / Clip the quantizer removed) but not rounded to it, so its outputs are close to onnxruntime's run of this file, within the quantization error, not equal; convert it with --precision int8 to run its own quantization";

/// For a float file (`float`), the model of a pre-quantized import: a copy with the
/// quantization ranges as clamps (see the module doc), the hints dropped and the note
/// added; `None` for an int8 file or when `imported` carries no quantization.
pub fn float_model(imported: &Imported, float: bool) -> Option<Imported> {
    if !float || !imported.graph.tensors.iter().any(|t| t.qhint.is_some()) {
        return None;
    }
    let mut m = imported.clone();
    clamp_to_ranges(&mut m.graph);
    for t in &mut m.graph.tensors {
        t.qhint = None;
    }
    m.graph.weight_scales.clear();
    m.notes.push(FLOAT_OF_QUANTIZED.into());
    Some(m)
}

/// The range `[lo, hi]` a tensor's int8 quantization can represent, if it has one.
fn range(g: &Graph, t: TId) -> Option<(f32, f32)> {
    let h = g.tensors[t].qhint.as_ref()?;
    let (&[s], &[zp]) = (h.scales.as_slice(), h.zero_points.as_slice()) else {
        return None;
    };
    let t = &g.tensors[t];
    (s > 0.0 && s.is_finite() && t.data.is_none() && t.dtype == DType::F32)
        .then(|| ((-128 - zp) as f32 * s, (127 - zp) as f32 * s))
}

/// Whether every value `node` computes lies within the range of its non-constant
/// inputs' values and 0 (a layout op, a max or average pool, a concatenation), so
/// that inputs already clamped within `[lo, hi]` (a range holding 0) need no clamp
/// after it.
fn within_inputs(g: &Graph, node: usize, lo: f32, hi: f32) -> bool {
    let n = &g.nodes[node];
    let keeps_values = matches!(
        n.op,
        Op::Reshape
            | Op::Transpose { .. }
            | Op::Slice { .. }
            | Op::MaxPool { .. }
            | Op::AvgPool { .. }
            | Op::GlobalAvgPool
            | Op::GlobalMaxPool
            | Op::MaxPoolNhwc { .. }
            | Op::AvgPoolNhwc { .. }
            | Op::Concat { .. }
    );
    keeps_values
        && n.inputs
            .iter()
            .filter(|&&i| !g.is_const(i))
            .all(|&i| range(g, i).is_some_and(|(a, b)| a >= lo && b <= hi))
}

/// Whether `node` is a Softmax (not LogSoftmax), whose values lie in `[0, 1]` whatever
/// its input (each `e_j / Σ e` with `0 ≤ e_j ≤ Σ e`, one IEEE division, is in
/// `[0, 1]`; NaN in, NaN out), so that a range holding `[0, 1]` needs no clamp after it.
fn softmax_within(g: &Graph, node: usize, lo: f32, hi: f32) -> bool {
    matches!(g.nodes[node].op, Op::Softmax { log: false, .. }) && lo <= 0.0 && hi >= 1.0
}

/// Clamps every tensor that carries an int8 quantization hint to its range: a `Clip`
/// after it (after the graph input for an input), then [`Graph::optimize`] fuses the
/// clamps into their producers. A tensor whose producer keeps its inputs' values
/// (see [`within_inputs`]) from already clamped inputs, or is a Softmax whose `[0, 1]`
/// the range holds ([`softmax_within`]), is left as it is. Returns the number of
/// clamps added.
pub fn clamp_to_ranges(g: &mut Graph) -> usize {
    let targets: Vec<(TId, f32, f32)> = (0..g.tensors.len())
        .filter_map(|t| range(g, t).map(|(lo, hi)| (t, lo, hi)))
        .filter(|&(t, lo, hi)| {
            let p = g.producer(t);
            (p.is_some() || g.inputs.contains(&t))
                && !p.is_some_and(|p| within_inputs(g, p, lo, hi) || softmax_within(g, p, lo, hi))
        })
        .collect();
    for &(t, lo, hi) in &targets {
        let name = g.tensors[t].name.clone();
        let (shape, dtype) = (g.tensors[t].shape.clone(), g.tensors[t].dtype);
        let y = g.add_tensor(&format!("{name}.range"), &shape, dtype);
        g.replace_uses(t, y);
        if g.outputs.contains(&y) {
            // The graph output keeps its name.
            g.tensors[y].name = name.clone();
            g.tensors[t].name = format!("{name}.unclamped");
        }
        let at = g.producer(t).map_or(0, |p| p + 1);
        g.nodes.insert(
            at,
            crate::ir::Node {
                name: format!("{name}.range"),
                op: Op::Unary {
                    op: UnaryOp::Clip { min: lo, max: hi },
                },
                inputs: vec![t],
                output: y,
            },
        );
    }
    g.optimize();
    targets.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Data, QuantHint};
    use ferrite::format::types::Activation;

    fn hint(scale: f32, zp: i32) -> Option<QuantHint> {
        Some(QuantHint {
            scales: vec![scale],
            zero_points: vec![zp],
            axis: 0,
        })
    }

    /// input → FullyConnected → Reshape → Softmax, every tensor quantized: the input is
    /// clamped by a Clip op, the FullyConnected takes its clamp as its activation, the
    /// Reshape of a clamped tensor needs none, and the Softmax output is clamped by a
    /// Clip op that keeps the graph output's name.
    #[test]
    fn ranges_fuse_where_they_can_and_the_output_keeps_its_name() {
        let mut g = Graph::default();
        let x = g.add_tensor("x", &[1, 2], DType::F32);
        g.inputs.push(x);
        let w = g.add_const("w", &[3, 2], Data::F32(vec![1.0; 6]));
        let fc = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        let h = g.add_node("fc", fc, &[x, w], &[1, 3], DType::F32);
        let r = g.add_node("r", Op::Reshape, &[h], &[3], DType::F32);
        let sm = Op::Softmax {
            axis: 0,
            log: false,
        };
        let y = g.add_node("y", sm, &[r], &[3], DType::F32);
        g.outputs.push(y);
        g.tensors[x].qhint = hint(0.1, 0);
        g.tensors[h].qhint = hint(0.5, -128);
        g.tensors[r].qhint = hint(0.5, -128);
        g.tensors[y].qhint = hint(1.0 / 256.0, -128);
        assert_eq!(clamp_to_ranges(&mut g), 3);
        let ops: Vec<&Op> = g.nodes.iter().map(|n| &n.op).collect();
        let clip = |min, max| Op::Unary {
            op: UnaryOp::Clip { min, max },
        };
        assert_eq!(ops.len(), 5, "{ops:?}");
        assert_eq!(*ops[0], clip(-12.8, 12.7));
        assert_eq!(
            *ops[1],
            Op::FullyConnected {
                act: Activation::Clip {
                    min: 0.0,
                    max: 127.5
                },
                q: None
            }
        );
        assert_eq!(*ops[2], Op::Reshape);
        assert_eq!(*ops[4], clip(0.0, 255.0 / 256.0));
        let out = g.outputs[0];
        assert_eq!(g.tensors[out].name, "y");
        assert_eq!(g.producer(out), Some(4));
    }

    /// A Softmax whose output range holds `[0, 1]` (onnxruntime's `1/255`, zero point
    /// −128) needs no clamp: its values are in `[0, 1]`; a LogSoftmax's still does.
    #[test]
    fn a_softmax_within_its_range_is_not_clamped() {
        for (log, clamps) in [(false, 0), (true, 1)] {
            let mut g = Graph::default();
            let x = g.add_tensor("x", &[1, 3], DType::F32);
            g.inputs.push(x);
            let y = g.add_node("y", Op::Softmax { axis: 1, log }, &[x], &[1, 3], DType::F32);
            g.outputs.push(y);
            g.tensors[y].qhint = hint(1.0 / 255.0, -128);
            assert_eq!(clamp_to_ranges(&mut g), clamps, "log {log}");
        }
    }
}
