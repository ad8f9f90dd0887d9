//! int8 models. Each node's form comes from [`super::plan`]; this module applies the
//! rules that depend on the model around the op, then writes it:
//!
//! - FullyConnected / Conv with constant weights, the engine convolutions of the NHWC
//!   pass (`ConvNhwc` / `DepthwiseNhwc`, [`engine`]), pools, Add/Sub/Mul, element-wise
//!   functions (as 256-entry tables), Softmax inside the graph and Concat run on int8;
//!   Reshape / Transpose / Slice / Pad / ArgMax run on int8 when their input already is
//!   int8, and so does the move of an f32 graph input into engine convolutions (the
//!   input is quantized first).
//! - Everything else is an f32 island between a `Dequantize` and a `Quantize`, reported
//!   with its [`F32Reason`]. Element-wise ops whose inputs are already f32 stay f32 (no
//!   round trip). Classical ops (Linear, TreeEnsemble, Normalize) always run in f32, and
//!   the f32 values they read are never quantized on the way (no int8 graph input
//!   either), so a model of only classical ops is the f32 model (`reduced_ops == 0`).
//! - A Softmax whose result is a graph output (or goes to a Log) runs in f32 after the
//!   Dequantize: the int8 kernel's output has 1/256 resolution, which would round small
//!   probabilities to 0 for no gain (the dequantized logits are already f32).
//!
//! The graph input is f32 with a `Quantize` op (or int8 itself with
//! [`Int8Options::int8_input`]), the outputs are f32 after a `Dequantize`, so the
//! model's API is unchanged.

use super::plan::{int8_form, is_classical, F32Reason, Int8Form};
use super::writer::{dims, per_tensor, Writer};
use crate::error::{Error, Result};
use crate::ir::{Graph, Node, TId};
use crate::quant::{self, activation_qparam, QParam, Ranges};
use ferrite::format::types::{Op, QParams, Quant, UnaryOp};
use ferrite::DType;
use std::collections::HashMap;

mod engine;

/// Granularity of int8 weight scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WeightGranularity {
    /// One scale per output channel (the default; TFLite's Conv convention).
    #[default]
    PerChannel,
    /// One scale per FullyConnected weight matrix (TFLite's classic FullyConnected
    /// convention; smaller files: one requantization pair instead of one per channel).
    /// Conv weights stay per channel.
    PerTensorFc,
}

/// Options of the int8 emitter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Int8Options {
    pub weights: WeightGranularity,
    /// Make the graph input itself int8 (quantized by `Session::set_input_f32` with the
    /// same kernel a `Quantize` op uses) instead of an f32 input and a `Quantize` op.
    pub int8_input: bool,
    /// Write an f32 NCHW image input's `Quantize`, its `Transpose` to NHWC and the first
    /// int8 `ConvNhwc` as three ops (as before format 1.6: a file format 1.5 runtimes
    /// read) instead of one `ConvNchwI8` that reads the f32 image itself (the same
    /// output bytes).
    pub unfused_stem: bool,
}

/// The quantization of graph input `i` when it is written as int8
/// ([`Int8Options::int8_input`]); a note when the option cannot apply.
pub(super) fn input_qparam(
    g: &Graph,
    i: TId,
    ranges: &Ranges,
    opts: Int8Options,
    notes: &mut Vec<String>,
) -> Option<QParam> {
    if !opts.int8_input {
        return None;
    }
    let t = &g.tensors[i];
    if feeds_classical(g, i) {
        // Classical ops (trees, linear models) must see the exact f32 features.
        notes.push(format!(
            "input \"{}\" stays f32 (--int8-input ignored): classical ops read it",
            t.name
        ));
        return None;
    }
    if t.dtype != DType::F32 {
        return None;
    }
    activation_qparam(g, ranges, i)
}

/// Writes every node of an int8 model; returns the f32 islands, one report line each.
/// `residual_input` maps each engine conv with a fused residual (by output tensor) to
/// the tensor holding its own output's calibration ([`crate::ir::nhwc::NhwcTrace`]).
pub(super) fn nodes(
    w: &mut Writer<'_>,
    ranges: &Ranges,
    opts: Int8Options,
    residual_input: &HashMap<TId, TId>,
) -> Result<Vec<String>> {
    // The first-layer convs that read an f32 NCHW image input themselves
    // (`ConvNchwI8`), unless the input is made int8 or the caller asks for the
    // separate ops.
    let (stems, skip) = match opts.int8_input || opts.unfused_stem {
        false => super::nhwc::nchw_stems(w.g, false),
        true => Default::default(),
    };
    let mut e = Int8 {
        w,
        ranges,
        opts,
        residual_input,
        float_ops: Vec::new(),
    };
    for (i, n) in e.w.g.nodes.iter().enumerate() {
        if skip.contains(&i) {
            continue;
        }
        // The stem's input is a graph input or its `Reshape` (a 1-D input), in f32.
        if stems.values().any(|&x| x == n.output) {
            e.w.node_f32(n)?;
            continue;
        }
        match stems.get(&i) {
            Some(&x) => e.nchw_stem(n, x)?,
            None => e.node(n)?,
        }
    }
    Ok(e.float_ops)
}

/// The error for an activation without a range; a partial product tract split over a
/// Concat (left split by the QDQ import) says why it has none.
fn no_range(name: &str) -> Error {
    match name.find(".concat-einsum-") {
        Some(i) => Error::Other(format!(
            "no quantization for \"{name}\": tract splits the Gemm / MatMul / 1×1 Conv \"{}\" that reads a Concat into one product per concatenated input, and a pre-quantized (QDQ) file quantizes none of them; ferrite joins them back when the file quantizes the product's input (a QuantizeLinear → DequantizeLinear pair between the Concat and it) and the products are summed directly, which is not the case here",
            &name[..i]
        )),
        None => Error::Other(format!("no calibration range for \"{name}\"")),
    }
}

struct Int8<'a, 'g> {
    w: &'a mut Writer<'g>,
    ranges: &'a Ranges,
    opts: Int8Options,
    residual_input: &'a HashMap<TId, TId>,
    float_ops: Vec<String>,
}

impl Int8<'_, '_> {
    /// The int8 form of `t` with its own quantization (constants: from their values).
    fn i8(&mut self, t: TId) -> Result<(u32, QParam)> {
        if let Some(&v) = self.w.i8_of.get(&t) {
            return Ok(v);
        }
        let ten = &self.w.g.tensors[t];
        let v = if let Some(d) = &ten.data {
            let vals = d.to_f32();
            let lo = vals.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = vals.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let q = QParam::from_range(lo, hi);
            self.const_i8(t, q)?
        } else {
            let q =
                activation_qparam(self.w.g, self.ranges, t).ok_or_else(|| no_range(&ten.name))?;
            let x = self.w.f32(t)?;
            let out = self.w.b.add_tensor(
                &format!("{}.q", ten.name),
                DType::I8,
                &dims(&ten.shape),
                per_tensor(q),
            )?;
            self.w.b.add_op(Op::Quantize, &[x], &[out])?;
            (out, q)
        };
        self.w.i8_of.insert(t, v);
        Ok(v)
    }

    /// Constant `t` quantized with `q` (not cached: the caller picks `q`).
    fn const_i8(&mut self, t: TId, q: QParam) -> Result<(u32, QParam)> {
        let ten = &self.w.g.tensors[t];
        let vals = ten.data.as_ref().map(|d| d.to_f32()).unwrap_or_default();
        let bytes: Vec<u8> = vals.iter().map(|&v| q.quantize(v) as u8).collect();
        let id = self.w.b.add_const(
            &format!("{}.q", ten.name),
            DType::I8,
            &dims(&ten.shape),
            &bytes,
            per_tensor(q),
        )?;
        Ok((id, q))
    }

    /// A new int8 tensor for the IR tensor `t`, quantized with `q`.
    fn new_i8(&mut self, t: TId, q: QParam) -> Result<u32> {
        let ten = &self.w.g.tensors[t];
        let id = self
            .w
            .b
            .add_tensor(&ten.name, DType::I8, &dims(&ten.shape), per_tensor(q))?;
        self.w.i8_of.insert(t, (id, q));
        Ok(id)
    }

    /// The calibrated quantization of activation `t`.
    fn out_q(&self, t: TId) -> Result<QParam> {
        activation_qparam(self.w.g, self.ranges, t)
            .ok_or_else(|| no_range(&self.w.g.tensors[t].name))
    }

    /// Writes node `n`: in int8 when its form and the model around it allow, else as an
    /// f32 island.
    fn node(&mut self, n: &Node) -> Result<()> {
        let g = self.w.g;
        let x = n.inputs[0];
        let x_is_i8 = self.w.i8_of.contains_key(&x) && !self.w.f32_of.contains_key(&x);
        let f32_inputs = n.inputs.iter().all(|i| !self.w.i8_of.contains_key(i));
        let read_by_classical = f32_inputs && feeds_classical(g, n.output);
        match int8_form(&n.op) {
            Int8Form::Weighted if g.is_const(n.inputs[1]) => self.weighted(n),
            Int8Form::Weighted => self.f32_island(n, F32Reason::ComputedWeights),
            Int8Form::Pool => self.same_scale(n),
            Int8Form::Move if x_is_i8 || moves_input_to_engine(g, n) => self.same_scale(n),
            Int8Form::Pad if x_is_i8 => self.pad(n),
            Int8Form::Move | Int8Form::Pad => self.f32_island(n, F32Reason::F32Inputs),
            Int8Form::Binary | Int8Form::Lut if f32_inputs => {
                self.f32_island(n, F32Reason::F32Inputs)
            }
            Int8Form::Softmax | Int8Form::Concat | Int8Form::ArgMax if read_by_classical => {
                self.f32_island(n, F32Reason::ReadByClassical)
            }
            Int8Form::Binary => self.binary(n),
            Int8Form::Lut => self.lut(n),
            Int8Form::Softmax if !g.outputs.contains(&n.output) && !feeds_log(g, n.output) => {
                self.softmax(n)
            }
            Int8Form::Softmax => self.f32_island(n, F32Reason::SoftmaxResolution),
            Int8Form::Concat => self.concat(n),
            Int8Form::Engine => self.engine(n),
            Int8Form::ArgMax if x_is_i8 => self.argmax(n),
            Int8Form::ArgMax => self.f32_island(n, F32Reason::F32Inputs),
            Int8Form::F32(reason) => self.f32_island(n, reason),
            Int8Form::EmitterOnly => Err(Error::Other(format!(
                "internal: the imported graph contains {} (\"{}\"), an op only the emitter writes",
                n.op.name(),
                n.name
            ))),
        }
    }

    /// Writes `n` in f32 (int8 inputs are dequantized first) and reports it.
    fn f32_island(&mut self, n: &Node, reason: F32Reason) -> Result<()> {
        self.float_ops.push(format!(
            "{} ({}): {}",
            n.name,
            n.op.name(),
            reason.describe()
        ));
        self.w.node_f32(n)
    }

    /// FullyConnected / Conv with constant weights.
    fn weighted(&mut self, n: &Node) -> Result<()> {
        let g = self.w.g;
        let (xq, xp) = self.i8(n.inputs[0])?;
        let w = &g.tensors[n.inputs[1]];
        let channels = w.shape[0];
        let wdata = w.data.as_ref().map(|d| d.to_f32()).unwrap_or_default();
        let exact = quant::exact_weights(&wdata, channels, &g.weight_scales);
        let per_tensor_w = match &exact {
            Some((_, s)) => s.iter().all(|&v| v == s[0]),
            None => {
                self.opts.weights == WeightGranularity::PerTensorFc
                    && matches!(n.op, Op::FullyConnected { .. })
            }
        };
        let (wq, ws) = if let Some(found) = exact {
            found
        } else if per_tensor_w {
            let (q, s) = quant::quantize_weights(&wdata, 1);
            (q, vec![s[0]; channels])
        } else {
            quant::quantize_weights(&wdata, channels)
        };
        let op_p = self.out_q(n.output)?;
        let wbytes: Vec<u8> = wq.iter().map(|&v| v as u8).collect();
        let wquant = if per_tensor_w {
            Quant::PerTensor {
                scale: ws[0],
                zero_point: 0,
            }
        } else {
            Quant::PerChannel {
                axis: 0,
                scales: self.w.b.add_f32_blob(&ws),
            }
        };
        let wid = self
            .w
            .b
            .add_const(&w.name, DType::I8, &dims(&w.shape), &wbytes, wquant)?;
        let mut ins = vec![xq, wid];
        if let Some(&bt) = n.inputs.get(2) {
            let b = g.tensors[bt]
                .data
                .as_ref()
                .map(|d| d.to_f32())
                .unwrap_or_default();
            let bq = quant::bias_i32(&b, xp.scale, &ws);
            let bytes: Vec<u8> = bq.iter().flat_map(|v| v.to_le_bytes()).collect();
            ins.push(self.w.b.add_const(
                &g.tensors[bt].name,
                DType::I32,
                &[channels as u32],
                &bytes,
                Quant::None,
            )?);
        }
        let rq_channels = if per_tensor_w { 1 } else { channels };
        let real: Vec<f64> = ws
            .iter()
            .take(rq_channels)
            .map(|&s| xp.scale as f64 * s as f64 / op_p.scale as f64)
            .collect();
        let requant = self.w.b.add_i32_blob(&quant::requant_table(&real));
        let op = match &n.op {
            Op::FullyConnected { act, .. } => {
                let (act_min, act_max) = quant::act_range(act, op_p);
                Op::FullyConnected {
                    act: *act,
                    q: Some(QParams {
                        requant,
                        channels: rq_channels as u32,
                        act_min,
                        act_max,
                    }),
                }
            }
            Op::Conv {
                window,
                groups,
                act,
                ..
            } => {
                let (act_min, act_max) = quant::act_range(act, op_p);
                Op::Conv {
                    window: *window,
                    groups: *groups,
                    act: *act,
                    q: Some(QParams {
                        requant,
                        channels: rq_channels as u32,
                        act_min,
                        act_max,
                    }),
                }
            }
            other => {
                return Err(Error::Other(format!(
                    "internal: {} has no weights to quantize",
                    other.name()
                )))
            }
        };
        let out = self.new_i8(n.output, op_p)?;
        self.w.b.add_op(op, &ins, &[out])?;
        Ok(())
    }

    /// An op whose int8 output has its input's quantization (pools, Reshape, Transpose).
    fn same_scale(&mut self, n: &Node) -> Result<()> {
        let (xq, xp) = self.i8(n.inputs[0])?;
        let out = self.new_i8(n.output, xp)?;
        self.w.b.add_op(n.op.clone(), &[xq], &[out])?;
        Ok(())
    }

    /// Pad of an int8 input: the pad value quantized, or f32 when it is not exact.
    fn pad(&mut self, n: &Node) -> Result<()> {
        let Op::Pad { pads, value } = &n.op else {
            return Err(Error::Other(format!("internal: {} is not a Pad", n.name)));
        };
        let (xq, xp) = self.i8(n.inputs[0])?;
        let qv = xp.quantize(*value);
        if (xp.dequantize(qv) - value).abs() > xp.scale {
            return self.f32_island(n, F32Reason::PadValue);
        }
        let out = self.new_i8(n.output, xp)?;
        self.w.b.add_op(
            Op::Pad {
                pads: pads.clone(),
                value: qv as f32,
            },
            &[xq],
            &[out],
        )?;
        Ok(())
    }

    /// Binary Add / Sub / Mul.
    fn binary(&mut self, n: &Node) -> Result<()> {
        let Op::Binary { op: bop, act, .. } = &n.op else {
            return Err(Error::Other(format!("internal: {} is not Binary", n.name)));
        };
        let (aq, ap) = self.i8(n.inputs[0])?;
        let (bq, bp) = self.i8(n.inputs[1])?;
        let op_p = self.out_q(n.output)?;
        let q = quant::qbinary(*bop, ap, bp, op_p, act)?;
        let out = self.new_i8(n.output, op_p)?;
        self.w.b.add_op(
            Op::Binary {
                op: *bop,
                act: *act,
                q: Some(q),
            },
            &[aq, bq],
            &[out],
        )?;
        Ok(())
    }

    /// Unary function as a 256-entry table.
    fn lut(&mut self, n: &Node) -> Result<()> {
        let Op::Unary { op } = &n.op else {
            return Err(Error::Other(format!("internal: {} is not Unary", n.name)));
        };
        let (xq, xp) = self.i8(n.inputs[0])?;
        let op_p = self.out_q(n.output)?;
        let table = quant::lut_table(*op, xp, op_p);
        let tid = self.w.b.add_const(
            &format!("{}.table", n.name),
            DType::I8,
            &[256],
            &table,
            Quant::None,
        )?;
        let out = self.new_i8(n.output, op_p)?;
        self.w.b.add_op(Op::Lut, &[xq, tid], &[out])?;
        Ok(())
    }

    /// Softmax with an exp table; output scale 1/256, zero point -128.
    fn softmax(&mut self, n: &Node) -> Result<()> {
        let Op::Softmax { axis, .. } = &n.op else {
            return Err(Error::Other(format!("internal: {} is not Softmax", n.name)));
        };
        let (xq, xp) = self.i8(n.inputs[0])?;
        let table: Vec<u8> = quant::softmax_table(xp.scale)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let tid = self.w.b.add_const(
            &format!("{}.exp_table", n.name),
            DType::I32,
            &[256],
            &table,
            Quant::None,
        )?;
        let op_p = QParam {
            scale: 1.0 / 256.0,
            zero_point: -128,
        };
        let out = self.new_i8(n.output, op_p)?;
        self.w.b.add_op(
            Op::Softmax {
                axis: *axis,
                log: false,
            },
            &[xq, tid],
            &[out],
        )?;
        Ok(())
    }

    /// Concat, each input requantized to the output's scale when it differs: a `Lut`
    /// whose table is ONNX's `QuantizeLinear(DequantizeLinear(q))` (`quant::requantize_table`,
    /// the one rounding onnxruntime does). A fixed-point `Requantize` would round twice
    /// for ratios below 1/2 (12% of the values one step off at a ratio of 0.28).
    fn concat(&mut self, n: &Node) -> Result<()> {
        let g = self.w.g;
        let op_p = self.out_q(n.output)?;
        let mut ins = Vec::new();
        for &i in &n.inputs {
            if g.is_const(i) {
                ins.push(self.const_i8(i, op_p)?.0);
                continue;
            }
            let (iq, ip) = self.i8(i)?;
            if ip == op_p {
                ins.push(iq);
            } else {
                let name = format!("{}.requant", g.tensors[i].name);
                let table = self.w.b.add_const(
                    &format!("{name}.table"),
                    DType::I8,
                    &[256],
                    &quant::requantize_table(ip, op_p),
                    Quant::None,
                )?;
                let r = self.w.b.add_tensor(
                    &name,
                    DType::I8,
                    &dims(&g.tensors[i].shape),
                    per_tensor(op_p),
                )?;
                self.w.b.add_op(Op::Lut, &[iq, table], &[r])?;
                ins.push(r);
            }
        }
        let out = self.new_i8(n.output, op_p)?;
        self.w.b.add_op(n.op.clone(), &ins, &[out])?;
        Ok(())
    }

    /// ArgMax reading the int8 input (same indices); its output keeps its dtype.
    fn argmax(&mut self, n: &Node) -> Result<()> {
        let (xq, _) = self.i8(n.inputs[0])?;
        let t = &self.w.g.tensors[n.output];
        let out = self
            .w
            .b
            .add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
        self.w.b.add_op(n.op.clone(), &[xq], &[out])?;
        self.w.f32_of.insert(n.output, out);
        Ok(())
    }
}

/// Whether `t` is read by a classical op (Linear, TreeEnsemble, Normalize): those
/// always run in f32 on exact values.
pub(super) fn feeds_classical(g: &Graph, t: TId) -> bool {
    g.nodes
        .iter()
        .any(|n| n.inputs.contains(&t) && is_classical(&n.op))
}

/// Whether `n` moves an f32 graph input (the NHWC pass's input `Transpose` or
/// `Reshape`, or for a 1-D input its `Reshape` then `Transpose`) into int8 engine
/// convolutions only: the input is quantized first (element-wise, so the values are
/// those of quantizing the moved tensor) and moved as int8, a quarter of the bytes.
fn moves_input_to_engine(g: &Graph, n: &Node) -> bool {
    g.inputs.contains(&n.inputs[0])
        && g.tensors[n.inputs[0]].dtype == DType::F32
        && !feeds_classical(g, n.inputs[0])
        && moves_to_engine(g, n)
}

/// Whether every reader of `n`'s output is an engine conv reading it as its input, or
/// a `Reshape` / `Transpose` whose output goes on likewise.
fn moves_to_engine(g: &Graph, n: &Node) -> bool {
    let engine_only = g
        .nodes
        .iter()
        .filter(|m| m.inputs.contains(&n.output))
        .all(|m| match m.op {
            Op::Reshape | Op::Transpose { .. } => moves_to_engine(g, m),
            _ => int8_form(&m.op) == Int8Form::Engine && m.inputs[0] == n.output,
        });
    !g.outputs.contains(&n.output) && g.uses(n.output) > 0 && engine_only
}

/// Whether `t` is read by a `Log` (a LogSoftmax split by tract): the int8 softmax's
/// 1/256 output steps would make the logarithm coarse, so that softmax stays in f32.
fn feeds_log(g: &Graph, t: TId) -> bool {
    g.nodes
        .iter()
        .any(|n| n.inputs.contains(&t) && matches!(n.op, Op::Unary { op: UnaryOp::Log }))
}

#[cfg(test)]
mod tests {
    use super::super::{emit, Precision};
    use crate::ir::{Data, Graph};
    use crate::quant::Ranges;
    use ferrite::format::types::{Activation, BinaryOp, Op, UnaryOp};
    use ferrite::DType;

    fn bin(op: BinaryOp) -> Op {
        Op::Binary {
            op,
            act: Activation::None,
            q: None,
        }
    }

    /// Every f32 island of an int8 model is reported with the rule that kept it f32
    /// (rules from the module docs, applied by hand to this graph).
    #[test]
    fn f32_islands_are_named_with_their_reason() {
        let mut g = Graph::default();
        let x = g.add_tensor("x", &[1, 4], DType::F32);
        g.inputs.push(x);
        let w = g.add_const("w", &[4, 4], Data::F32((0..16).map(|i| i as f32).collect()));
        let fc = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        let y = g.add_node("fc", fc, &[x, w], &[1, 4], DType::F32);
        let two = g.add_const("two", &[1], Data::F32(vec![2.0]));
        let d = g.add_node("div", bin(BinaryOp::Div), &[y, two], &[1, 4], DType::F32);
        let e = g.add_node(
            "exp",
            Op::Unary { op: UnaryOp::Exp },
            &[d],
            &[1, 4],
            DType::F32,
        );
        let m = g.add_node("mul", bin(BinaryOp::Mul), &[y, y], &[1, 4], DType::F32);
        let a = g.add_node("add", bin(BinaryOp::Add), &[e, m], &[1, 4], DType::F32);
        let s = g.add_node(
            "softmax",
            Op::Softmax {
                axis: 1,
                log: false,
            },
            &[a],
            &[1, 4],
            DType::F32,
        );
        g.outputs.push(s);
        let ranges = Ranges {
            ranges: vec![Some((-4.0, 4.0)); g.tensors.len()],
        };
        let r = emit(&g, Precision::Int8, Some(&ranges), "t").unwrap();
        assert_eq!(
            r.float_ops,
            [
                "div (Binary): no int8 form",
                "exp (Unary): inputs already f32",
                "softmax (Softmax): probabilities kept at f32 resolution (graph output or read by Log)",
            ]
        );
        // fc, mul (int8 inputs) and add (one int8 input) run in int8.
        assert_eq!(r.reduced_ops, 3);
    }
}
