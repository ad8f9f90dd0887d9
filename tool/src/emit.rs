//! IR → `.fer`: writes a [`Graph`] with the runtime's own [`ModelBuilder`] in f32, f16
//! or int8.
//!
//! - **f32**: one ferrite op per IR node (op `i` of the file is node `i`).
//! - **f16**: FullyConnected / Conv / MatMul weights are stored as f16 and widened by a
//!   `Cast` op into an arena scratch tensor right before the op that reads them.
//! - **int8**: FullyConnected, Conv, pools, Add/Sub/Mul, element-wise functions (as
//!   256-entry tables), Softmax (inside the graph), Reshape/Transpose/Pad/Concat and
//!   ArgMax run on int8; every other op runs in f32 between a Dequantize and a
//!   Quantize. Classical ops (Linear, TreeEnsemble, Normalize) always run in f32, and
//!   f32 values they read are never quantized on the way (no int8 graph input either),
//!   so a model of only classical ops is the f32 model (`reduced_ops == 0`). The graph
//!   input is f32 with a `Quantize` op, the outputs are f32 after a
//!   `Dequantize`, so the model's API is unchanged. A Softmax whose result is a graph
//!   output runs in f32 after the Dequantize: the int8 kernel's output has 1/256
//!   resolution, which would round small probabilities to 0 for no gain (the
//!   dequantized logits are already f32).

use crate::error::{Error, Result};
use crate::ir::{Graph, TId};
use crate::quant::{self, activation_qparam, QParam, Ranges};
use ferrite::format::types::{BinaryOp, Op, QParams, Quant, Requant};
use ferrite::format::write::ModelBuilder;
use ferrite::DType;
use std::collections::HashMap;

/// Numeric precision of a written model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    F16,
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "int8" | "i8" => Ok(Precision::Int8),
            _ => Err(Error::Usage(format!(
                "unknown precision \"{s}\" (f32, f16, int8)"
            ))),
        }
    }
}

/// A written graph: the builder (metadata and golden vectors still to add) and the
/// IR nodes that an int8 model runs in f32.
#[derive(Debug)]
pub struct Emitted {
    pub builder: ModelBuilder,
    pub float_ops: Vec<String>,
    /// IR nodes written in the requested reduced precision: int8 ops, or ops whose
    /// weights are stored as f16 (0 for f32, and when there was nothing to convert,
    /// e.g. a model of only classical ops).
    pub reduced_ops: usize,
    /// Choices the emitter made that the caller should report.
    pub notes: Vec<String>,
}

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
}

/// The runtime accepts an arena (Cast-produced) f32 weight operand for FullyConnected
/// and Conv. With `false`, f16 FullyConnected layers would be written as `Cast` +
/// `MatMul` + `Add` and f16 Conv weights kept in f32 (the form for runtimes that
/// require constant weights).
const ARENA_WEIGHTS_ACCEPTED: bool = true;

/// Writes `g` into a new builder. `ranges` is required for int8.
pub fn emit(
    g: &Graph,
    precision: Precision,
    ranges: Option<&Ranges>,
    name: &str,
) -> Result<Emitted> {
    emit_with(g, precision, ranges, name, Int8Options::default())
}

/// [`emit`] with int8 options.
pub fn emit_with(
    g: &Graph,
    precision: Precision,
    ranges: Option<&Ranges>,
    name: &str,
    int8: Int8Options,
) -> Result<Emitted> {
    let mut e = Emitter {
        g,
        b: ModelBuilder::new(name),
        f32_of: HashMap::new(),
        i8_of: HashMap::new(),
        f16_of: HashMap::new(),
        float_ops: Vec::new(),
        opts: int8,
    };
    e.b.producer = crate::producer();
    let mut notes = Vec::new();
    let mut reduced_ops = 0;
    let mut input_ids = Vec::new();
    for &i in &g.inputs {
        let t = &g.tensors[i];
        let q = match (precision, int8.int8_input, ranges) {
            (Precision::Int8, true, Some(_)) if feeds_classical(g, i) => {
                // Classical ops (trees, linear models) must see the exact f32 features.
                notes.push(format!(
                    "input \"{}\" stays f32 (--int8-input ignored): classical ops read it",
                    t.name
                ));
                None
            }
            (Precision::Int8, true, Some(r)) if t.dtype == DType::F32 => activation_qparam(g, r, i),
            _ => None,
        };
        let id = match q {
            Some(q) => {
                let id =
                    e.b.add_tensor(&t.name, DType::I8, &dims(&t.shape), per_tensor(q))?;
                e.i8_of.insert(i, (id, q));
                id
            }
            None => {
                let id =
                    e.b.add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
                e.f32_of.insert(i, id);
                id
            }
        };
        input_ids.push(id);
    }
    match precision {
        Precision::F32 | Precision::F16 => {
            for n in &g.nodes {
                let w = n
                    .inputs
                    .get(1)
                    .copied()
                    .filter(|&w| g.is_const(w) && g.tensors[w].dtype == DType::F32);
                if precision == Precision::F16 && w.is_some() {
                    match n.op {
                        Op::FullyConnected { act, .. } if !ARENA_WEIGHTS_ACCEPTED => {
                            e.f16_fully_connected(n, act)?;
                            reduced_ops += 1;
                            continue;
                        }
                        Op::Conv { .. } if !ARENA_WEIGHTS_ACCEPTED => {}
                        Op::FullyConnected { .. } | Op::Conv { .. } | Op::MatMul => {
                            let mut ins = Vec::new();
                            for (k, &i) in n.inputs.iter().enumerate() {
                                ins.push(if k == 1 {
                                    e.f16_weight(i, &n.name, false)?
                                } else {
                                    e.f32(i)?
                                });
                            }
                            let t = &g.tensors[n.output];
                            let out =
                                e.b.add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
                            e.b.add_op(n.op.clone(), &ins, &[out])?;
                            e.f32_of.insert(n.output, out);
                            reduced_ops += 1;
                            continue;
                        }
                        _ => {}
                    }
                }
                let mut ins = Vec::new();
                for &i in &n.inputs {
                    ins.push(e.f32(i)?);
                }
                let t = &g.tensors[n.output];
                let out =
                    e.b.add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
                e.b.add_op(n.op.clone(), &ins, &[out])?;
                e.f32_of.insert(n.output, out);
            }
        }
        Precision::Int8 => {
            let ranges = ranges.ok_or_else(|| {
                Error::Usage("int8 needs calibration data (--calibration DATA)".into())
            })?;
            for idx in 0..g.nodes.len() {
                e.int8_node(idx, ranges)?;
            }
            reduced_ops = g.nodes.len() - e.float_ops.len();
        }
    }
    let mut outs = Vec::new();
    for &o in &g.outputs {
        let t = e.f32(o)?;
        outs.push(t);
    }
    e.b.set_io(&input_ids, &outs)?;
    Ok(Emitted {
        builder: e.b,
        float_ops: e.float_ops,
        reduced_ops,
        notes,
    })
}

fn dims(s: &[usize]) -> Vec<u32> {
    s.iter().map(|&d| d as u32).collect()
}

struct Emitter<'g> {
    g: &'g Graph,
    b: ModelBuilder,
    f32_of: HashMap<TId, u32>,
    i8_of: HashMap<TId, (u32, QParam)>,
    f16_of: HashMap<TId, u32>,
    float_ops: Vec<String>,
    opts: Int8Options,
}

impl Emitter<'_> {
    /// The f32 form of `t`: constants are written on first use, int8 values dequantized.
    fn f32(&mut self, t: TId) -> Result<u32> {
        if let Some(&id) = self.f32_of.get(&t) {
            return Ok(id);
        }
        let ten = &self.g.tensors[t];
        let id = if let Some(d) = &ten.data {
            self.b.add_const(
                &ten.name,
                d.dtype(),
                &dims(&ten.shape),
                &d.bytes(),
                Quant::None,
            )?
        } else if let Some(&(q, _)) = self.i8_of.get(&t) {
            let (name, _, _, _) = self
                .b
                .tensor_info(q)
                .ok_or_else(|| Error::Other("internal: tensor".into()))?;
            let name = name.trim_end_matches(".q").to_string();
            let out = self
                .b
                .add_tensor(&name, DType::F32, &dims(&ten.shape), Quant::None)?;
            self.b.add_op(Op::Dequantize, &[q], &[out])?;
            out
        } else {
            return Err(Error::Other(format!(
                "internal: tensor \"{}\" used before it is computed",
                ten.name
            )));
        };
        self.f32_of.insert(t, id);
        Ok(id)
    }

    /// An f16 weight constant (transposed from `[N, K]` to `[K, N]` when `transpose`)
    /// and the `Cast` op widening it into a scratch tensor.
    fn f16_weight(&mut self, t: TId, user: &str, transpose: bool) -> Result<u32> {
        let ten = &self.g.tensors[t];
        let mut shape = ten.shape.clone();
        if transpose {
            shape.reverse();
        }
        let c = match self.f16_of.get(&t) {
            Some(&c) => c,
            None => {
                let mut v = ten.data.as_ref().map(|d| d.to_f32()).unwrap_or_default();
                if transpose {
                    v = crate::ir::permute(&v, &ten.shape, &[1, 0]);
                }
                let bytes: Vec<u8> = v
                    .iter()
                    .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                    .collect();
                let c =
                    self.b
                        .add_const(&ten.name, DType::F16, &dims(&shape), &bytes, Quant::None)?;
                self.f16_of.insert(t, c);
                c
            }
        };
        let out = self.b.add_tensor(
            &format!("{user}.weight_f32"),
            DType::F32,
            &dims(&shape),
            Quant::None,
        )?;
        self.b.add_op(Op::Cast, &[c], &[out])?;
        Ok(out)
    }

    /// f16 FullyConnected as `Cast` (f16 `[K, N]` → f32) + `MatMul` + bias `Add`.
    fn f16_fully_connected(
        &mut self,
        n: &crate::ir::Node,
        act: ferrite::format::types::Activation,
    ) -> Result<()> {
        let g = self.g;
        let x = self.f32(n.inputs[0])?;
        let w = self.f16_weight(n.inputs[1], &n.name, true)?;
        let t = &g.tensors[n.output];
        let has_bias = n.inputs.len() > 2;
        let mm_name = if has_bias {
            format!("{}.matmul", t.name)
        } else {
            t.name.clone()
        };
        let mut y = self
            .b
            .add_tensor(&mm_name, DType::F32, &dims(&t.shape), Quant::None)?;
        self.b.add_op(Op::MatMul, &[x, w], &[y])?;
        let act_needed = act != ferrite::format::types::Activation::None;
        if has_bias || act_needed {
            let b = match n.inputs.get(2) {
                Some(&b) => self.f32(b)?,
                None => self
                    .b
                    .add_const_f32(&format!("{}.zero", n.name), &[1], &[0.0])?,
            };
            let out = self
                .b
                .add_tensor(&t.name, DType::F32, &dims(&t.shape), Quant::None)?;
            self.b.add_op(
                Op::Binary {
                    op: BinaryOp::Add,
                    act,
                    q: None,
                },
                &[y, b],
                &[out],
            )?;
            y = out;
        }
        self.f32_of.insert(n.output, y);
        Ok(())
    }

    /// The int8 form of `t` with its own quantization (constants: from their values).
    fn i8(&mut self, t: TId, ranges: &Ranges) -> Result<(u32, QParam)> {
        if let Some(&v) = self.i8_of.get(&t) {
            return Ok(v);
        }
        let ten = &self.g.tensors[t];
        let v = if let Some(d) = &ten.data {
            let vals = d.to_f32();
            let lo = vals.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = vals.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let q = QParam::from_range(lo, hi);
            self.const_i8(t, q)?
        } else {
            let q = activation_qparam(self.g, ranges, t).ok_or_else(|| {
                Error::Other(format!("no calibration range for \"{}\"", ten.name))
            })?;
            let x = self.f32(t)?;
            let out = self.b.add_tensor(
                &format!("{}.q", ten.name),
                DType::I8,
                &dims(&ten.shape),
                per_tensor(q),
            )?;
            self.b.add_op(Op::Quantize, &[x], &[out])?;
            (out, q)
        };
        self.i8_of.insert(t, v);
        Ok(v)
    }

    /// Constant `t` quantized with `q` (not cached: the caller picks `q`).
    fn const_i8(&mut self, t: TId, q: QParam) -> Result<(u32, QParam)> {
        let ten = &self.g.tensors[t];
        let vals = ten.data.as_ref().map(|d| d.to_f32()).unwrap_or_default();
        let bytes: Vec<u8> = vals.iter().map(|&v| q.quantize(v) as u8).collect();
        let id = self.b.add_const(
            &format!("{}.q", ten.name),
            DType::I8,
            &dims(&ten.shape),
            &bytes,
            per_tensor(q),
        )?;
        Ok((id, q))
    }

    fn new_i8(&mut self, t: TId, q: QParam) -> Result<u32> {
        let ten = &self.g.tensors[t];
        let id = self
            .b
            .add_tensor(&ten.name, DType::I8, &dims(&ten.shape), per_tensor(q))?;
        self.i8_of.insert(t, (id, q));
        Ok(id)
    }

    fn out_q(&self, t: TId, ranges: &Ranges) -> Result<QParam> {
        activation_qparam(self.g, ranges, t).ok_or_else(|| {
            Error::Other(format!(
                "no calibration range for \"{}\"",
                self.g.tensors[t].name
            ))
        })
    }

    /// Emits node `idx` of an int8 model.
    fn int8_node(&mut self, idx: usize, ranges: &Ranges) -> Result<()> {
        let g = self.g;
        let n = &g.nodes[idx];
        let x = n.inputs[0];
        let is_output = g.outputs.contains(&n.output);
        let x_is_i8 = self.i8_of.contains_key(&x) && !self.f32_of.contains_key(&x);
        match &n.op {
            Op::FullyConnected { act, .. } | Op::Conv { act, .. } if g.is_const(n.inputs[1]) => {
                let (xq, xp) = self.i8(x, ranges)?;
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
                let op_p = self.out_q(n.output, ranges)?;
                let wbytes: Vec<u8> = wq.iter().map(|&v| v as u8).collect();
                let wquant = if per_tensor_w {
                    Quant::PerTensor {
                        scale: ws[0],
                        zero_point: 0,
                    }
                } else {
                    Quant::PerChannel {
                        axis: 0,
                        scales: self.b.add_f32_blob(&ws),
                    }
                };
                let wid = self
                    .b
                    .add_const(&w.name, DType::I8, &dims(&w.shape), &wbytes, wquant)?;
                let mut ins = vec![xq, wid];
                if let Some(&bt) = n.inputs.get(2) {
                    let b = g.tensors[bt]
                        .data
                        .as_ref()
                        .map(|d| d.to_f32())
                        .unwrap_or_default();
                    let bq: Vec<i32> = b
                        .iter()
                        .zip(&ws)
                        .map(|(&v, &s)| {
                            (v as f64 / (xp.scale as f64 * s as f64))
                                .round()
                                .clamp(i32::MIN as f64, i32::MAX as f64)
                                as i32
                        })
                        .collect();
                    let bytes: Vec<u8> = bq.iter().flat_map(|v| v.to_le_bytes()).collect();
                    ins.push(self.b.add_const(
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
                let requant = self.b.add_i32_blob(&quant::requant_table(&real));
                let (act_min, act_max) = quant::act_range(act, op_p);
                let q = Some(QParams {
                    requant,
                    channels: rq_channels as u32,
                    act_min,
                    act_max,
                });
                let op = match &n.op {
                    Op::FullyConnected { act, .. } => Op::FullyConnected { act: *act, q },
                    Op::Conv {
                        window,
                        groups,
                        act,
                        ..
                    } => Op::Conv {
                        window: *window,
                        groups: *groups,
                        act: *act,
                        q,
                    },
                    _ => unreachable!("matched above"),
                };
                let out = self.new_i8(n.output, op_p)?;
                self.b.add_op(op, &ins, &[out])?;
            }
            Op::MaxPool { .. } | Op::GlobalMaxPool | Op::Reshape | Op::Transpose { .. }
                if x_is_i8 || !matches!(n.op, Op::Reshape | Op::Transpose { .. }) =>
            {
                let (xq, xp) = self.i8(x, ranges)?;
                let out = self.new_i8(n.output, xp)?;
                self.b.add_op(n.op.clone(), &[xq], &[out])?;
            }
            Op::AvgPool { .. } => {
                let (xq, xp) = self.i8(x, ranges)?;
                let out = self.new_i8(n.output, xp)?;
                self.b.add_op(n.op.clone(), &[xq], &[out])?;
            }
            Op::GlobalAvgPool => {
                let (xq, xp) = self.i8(x, ranges)?;
                let out = self.new_i8(n.output, xp)?;
                self.b.add_op(n.op.clone(), &[xq], &[out])?;
            }
            Op::Pad { pads, value } if x_is_i8 => {
                let (xq, xp) = self.i8(x, ranges)?;
                let qv = xp.quantize(*value);
                if (xp.dequantize(qv) - value).abs() > xp.scale {
                    return self.f32_node(idx);
                }
                let out = self.new_i8(n.output, xp)?;
                self.b.add_op(
                    Op::Pad {
                        pads: pads.clone(),
                        value: qv as f32,
                    },
                    &[xq],
                    &[out],
                )?;
            }
            // Element-wise ops whose inputs are already f32 stay in f32 (no round trip),
            // and so does anything on f32 values that a classical op reads (exact).
            Op::Binary { .. } | Op::Unary { .. }
                if n.inputs.iter().all(|i| !self.i8_of.contains_key(i)) =>
            {
                return self.f32_node(idx)
            }
            _ if feeds_classical(g, n.output)
                && n.inputs.iter().all(|i| !self.i8_of.contains_key(i)) =>
            {
                return self.f32_node(idx)
            }
            Op::Binary {
                op: bop @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul),
                act,
                ..
            } => {
                let (aq, ap) = self.i8(n.inputs[0], ranges)?;
                let (bq, bp) = self.i8(n.inputs[1], ranges)?;
                let op_p = self.out_q(n.output, ranges)?;
                let q = quant::qbinary(*bop, ap, bp, op_p, act)?;
                let out = self.new_i8(n.output, op_p)?;
                self.b.add_op(
                    Op::Binary {
                        op: *bop,
                        act: *act,
                        q: Some(q),
                    },
                    &[aq, bq],
                    &[out],
                )?;
            }
            Op::Unary { op } => {
                let (xq, xp) = self.i8(x, ranges)?;
                let op_p = self.out_q(n.output, ranges)?;
                let table = quant::lut_table(*op, xp, op_p);
                let tid = self.b.add_const(
                    &format!("{}.table", n.name),
                    DType::I8,
                    &[256],
                    &table,
                    Quant::None,
                )?;
                let out = self.new_i8(n.output, op_p)?;
                self.b.add_op(Op::Lut, &[xq, tid], &[out])?;
            }
            Op::Softmax { axis, log: false } if !is_output && !feeds_log(g, n.output) => {
                let (xq, xp) = self.i8(x, ranges)?;
                let table: Vec<u8> = quant::softmax_table(xp.scale)
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                let tid = self.b.add_const(
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
                self.b.add_op(
                    Op::Softmax {
                        axis: *axis,
                        log: false,
                    },
                    &[xq, tid],
                    &[out],
                )?;
            }
            Op::Concat { axis } => {
                let op_p = self.out_q(n.output, ranges)?;
                let mut ins = Vec::new();
                for &i in &n.inputs {
                    if g.is_const(i) {
                        ins.push(self.const_i8(i, op_p)?.0);
                        continue;
                    }
                    let (iq, ip) = self.i8(i, ranges)?;
                    if ip == op_p {
                        ins.push(iq);
                    } else {
                        let (multiplier, shift) = ferrite::kernels::fixed::quantize_multiplier(
                            ip.scale as f64 / op_p.scale as f64,
                        );
                        let name = format!("{}.requant", g.tensors[i].name);
                        let r = self.b.add_tensor(
                            &name,
                            DType::I8,
                            &dims(&g.tensors[i].shape),
                            per_tensor(op_p),
                        )?;
                        self.b.add_op(
                            Op::Requantize {
                                rq: Requant { multiplier, shift },
                            },
                            &[iq],
                            &[r],
                        )?;
                        ins.push(r);
                    }
                }
                let out = self.new_i8(n.output, op_p)?;
                self.b.add_op(Op::Concat { axis: *axis }, &ins, &[out])?;
            }
            Op::ArgMax { .. } if x_is_i8 => {
                let (xq, _) = self.i8(x, ranges)?;
                let t = &g.tensors[n.output];
                let out = self
                    .b
                    .add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
                self.b.add_op(n.op.clone(), &[xq], &[out])?;
                self.f32_of.insert(n.output, out);
            }
            _ => return self.f32_node(idx),
        }
        Ok(())
    }

    /// Emits node `idx` in f32 (int8 inputs are dequantized first).
    fn f32_node(&mut self, idx: usize) -> Result<()> {
        let n = &self.g.nodes[idx];
        self.float_ops.push(format!("{} ({})", n.name, n.op.name()));
        let mut ins = Vec::new();
        for &i in &n.inputs {
            ins.push(self.f32(i)?);
        }
        let t = &self.g.tensors[n.output];
        let out = self
            .b
            .add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
        self.b.add_op(n.op.clone(), &ins, &[out])?;
        self.f32_of.insert(n.output, out);
        Ok(())
    }
}

/// Whether `t` is read by a classical op (Linear, TreeEnsemble, Normalize): those
/// always run in f32 on exact values.
fn feeds_classical(g: &Graph, t: TId) -> bool {
    g.nodes.iter().any(|n| {
        n.inputs.contains(&t)
            && matches!(
                n.op,
                Op::Linear { .. } | Op::TreeEnsemble { .. } | Op::Normalize { .. }
            )
    })
}

/// Whether `t` is read by a `Log` (a LogSoftmax split by tract): the int8 softmax's
/// 1/256 output steps would make the logarithm coarse, so that softmax stays in f32.
fn feeds_log(g: &Graph, t: TId) -> bool {
    g.nodes.iter().any(|n| {
        n.inputs.contains(&t)
            && matches!(
                n.op,
                Op::Unary {
                    op: ferrite::format::types::UnaryOp::Log
                }
            )
    })
}

fn per_tensor(q: QParam) -> Quant {
    Quant::PerTensor {
        scale: q.scale,
        zero_point: q.zero_point,
    }
}
