//! ONNX → IR through tract: load, fix the input shapes, type and declutter (constant
//! folding, Dropout/Identity removal, BatchNorm as affine ops), then lower each tract
//! node to ferrite ops in topological order.
//!
//! Lowering follows the decluttered tract graph, not the ONNX node list: Gemm/MatMul
//! arrive as `EinSum`, Relu/Clip as `Max`/`Min` with a constant, Flatten/Squeeze as
//! `AxisOp`s. Per-output-channel `Add`/`Sub`/`Mul`/`Div` by constants right after a
//! FullyConnected or Conv (biases, folded BatchNorm) are folded into its weights.
//!
//! | ONNX op(s) | decluttered tract op | ferrite op |
//! |---|---|---|
//! | Gemm, MatMul with a constant operand | `EinSum` (+ `Add`) | `FullyConnected` (+ bias, Transpose/Reshape as needed) |
//! | MatMul of two activations, batched | `EinSum` | `MatMul` |
//! | Conv 1-D/2-D (stride, pads, dilation, groups, depthwise) | `Conv` | `Conv` (weights not constant: read from the arena, f32 only; such a bias: a broadcasting `Add`) |
//! | BatchNormalization, Add/Mul by per-channel constants after Conv/Gemm | `Mul`/`Add` | folded into the weights and bias |
//! | BatchNormalization with non-constant parameters | rewritten before tract (`batchnorm.rs`) | `Binary`, `Unary Sqrt`, `Reshape` |
//! | MaxPool, AveragePool | `MaxPool`, `SumPool` (normalized) | `MaxPool`, `AvgPool` |
//! | GlobalAveragePool, ReduceMean, ReduceSum | `Reduce<Sum>` (+ `Div`/`Mul`) | `GlobalAvgPool` (+ `Mul` when not a mean) |
//! | GlobalMaxPool, ReduceMax, ReduceMin | `Reduce<Max/Min>` | `GlobalMaxPool` (Min: between two `Neg`) |
//! | mean of a square (the variance in InstanceNormalization, GroupNormalization, MeanVarianceNormalization) | `Reduce<MeanOfSquares>` | `Binary Mul` (x·x) + `GlobalAvgPool` |
//! | (any of the reductions above over axes that are not the trailing spatial ones) | `Reduce<…>` | `Transpose` (reduced axes last) + `Reshape [outer, 1, count]` + the global pool + `Reshape` |
//! | LayerNormalization, RMSNormalization | `Reduce<Sum>`, `Sub`, `RmsNorm`, `Mul`/`Add` | `x · Reciprocal(Sqrt(mean(x²) + eps))` with broadcasting `Binary` ops |
//! | Add, Sub, Mul, Div, Max, Min, Pow (broadcasting) | `TypedBinOp` | `Binary` (Div by a constant: `Mul` by its inverse) |
//! | Relu, Clip, Max/Min with a scalar constant | `Max`/`Min` | `Unary Clip/Relu`, fused into the producer |
//! | Sigmoid, Tanh, Exp, Log, Sqrt, Neg, Abs, Reciprocal, Floor, Ceil, Erf, HardSwish, LeakyRelu, Gelu | `ElementWiseOp` | `Unary` |
//! | Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Round (half to even), Sign | `ElementWiseOp` | `Unary` |
//! | Elu, Selu, PRelu, ThresholdedRelu | parsed by [`activations`] (not tract's `Iff` expansions) | `Unary Elu` (Selu: + `Mul`); PRelu: `Relu`, `Clip`, `Mul`, `Add`; ThresholdedRelu: `Sub`, `Sign`, `Relu`, `Clip`, `Mul` |
//! | HardSigmoid, Softplus, Softsign, Celu | expanded by tract to Mul/Add/Min/Max/Exp/Ln | the corresponding `Binary`/`Unary` ops |
//! | Silu, Square, Rsqrt | `ElementWiseOp` | `Unary` + `Binary` |
//! | Softmax, LogSoftmax | `Softmax` | `Softmax` |
//! | Reshape, Flatten, Squeeze, Unsqueeze | `AxisOp` | `Reshape` |
//! | Transpose | `AxisOp::Move` | `Transpose` |
//! | Concat | `TypedConcat` | `Concat` (groups of 8 inputs) |
//! | Pad (constant) | `Pad` | `Pad` |
//! | ArgMax | `Reduce<ArgMax>` | `ArgMax` |
//! | Cast (between f32/i32/i64) | `Cast` | `Cast` |
//! | Expand | `MultiBroadcastTo` | `Binary Add` with zeros |
//! | Dropout, Identity | removed | — |
//!
//! Not supported (listed by node in the error): Resize, Slice and Gather beyond the
//! static cases of `extra_ops.rs`, comparisons and `Iff` (Where, Equal, Less…),
//! ReduceProd, LpNormalization, reflect/edge Pad, recurrent ops.

use crate::error::{Error, Result};
use crate::ir::{permute, Data, Graph, TId};
use ferrite::format::types::{Activation, BinaryOp, Op, UnaryOp, Window};
use ferrite::DType;
use std::collections::{HashMap, HashSet};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::array::{MultiBroadcastTo, Pad, PadMode, TypedConcat};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::cnn::conv::KernelFormat;
use tract_onnx::tract_core::ops::cnn::{Conv, MaxPool, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::nn::{DataFormat, Reduce, Reducer, RmsNorm, Softmax, SoftmaxKind};
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_hir::infer::Factoid;

#[path = "activations.rs"]
pub mod activations;
#[path = "extra_ops.rs"]
mod extra_ops;

fn imp(e: impl std::fmt::Display) -> Error {
    Error::Import(format!("{e:#}"))
}

/// Loads an ONNX model with tract and returns the typed, decluttered model, with every
/// input shape fixed (from `input_shapes`, the model's own static shape, or 1 for a
/// symbolic leading batch dimension). Batch norms with non-constant parameters are
/// rewritten first ([`super::batchnorm`]), as for the import.
pub fn load_typed(bytes: &[u8], input_shapes: &[(String, Vec<usize>)]) -> Result<TypedModel> {
    let mut proto = parse(bytes)?;
    super::batchnorm::prepare(&mut proto);
    load_typed_proto(&proto, input_shapes)
}

/// Parses ONNX bytes into tract's protobuf model.
pub fn parse(bytes: &[u8]) -> Result<tract_onnx::pb::ModelProto> {
    activations::onnx()
        .proto_model_for_read(&mut &*bytes)
        .map_err(imp)
}

/// [`load_typed`] from a parsed (possibly rewritten) protobuf model.
pub fn load_typed_proto(
    proto: &tract_onnx::pb::ModelProto,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<TypedModel> {
    let mut model = activations::onnx()
        .model_for_proto_model(proto)
        .map_err(imp)?;
    let n_inputs = model.input_outlets().map_err(imp)?.len();
    let all: Vec<String> = model
        .input_outlets()
        .map_err(imp)?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    for (n, _) in input_shapes {
        if !all.contains(n) {
            return Err(Error::Usage(format!(
                "--input-shape names \"{n}\", but the model's inputs are: {}",
                all.join(", ")
            )));
        }
    }
    for i in 0..n_inputs {
        let outlet = model.input_outlets().map_err(imp)?[i];
        let name = model.node(outlet.node).name.clone();
        let fact = model.input_fact(i).map_err(imp)?.clone();
        let dt = fact.datum_type.concretize().unwrap_or(f32::datum_type());
        let shape: Vec<usize> = if let Some((_, s)) = input_shapes.iter().find(|(n, _)| *n == name)
        {
            s.clone()
        } else {
            let dims: Vec<Option<TDim>> = fact.shape.dims().map(|d| d.concretize()).collect();
            let rendered: Vec<String> = dims
                .iter()
                .map(|d| d.as_ref().map_or("?".to_string(), |d| d.to_string()))
                .collect();
            let hint_dims: Vec<String> = dims
                .iter()
                .enumerate()
                .map(|(k, d)| match d.as_ref().and_then(|d| d.to_usize().ok()) {
                    Some(v) => v.to_string(),
                    None if k == 0 => "1".to_string(),
                    None => format!(
                        "<{}>",
                        d.as_ref().map_or("?".to_string(), |d| d.to_string())
                    ),
                })
                .collect();
            let dynamic = || Error::DynamicShape {
                input: name.clone(),
                shape: format!("[{}]", rendered.join(",")),
                hint: format!("--input-shape {name}={}", hint_dims.join(",")),
            };
            if fact.shape.is_open() || dims.is_empty() && fact.shape.is_open() {
                return Err(dynamic());
            }
            let mut s = Vec::new();
            for (k, d) in dims.iter().enumerate() {
                match d.as_ref().and_then(|d| d.to_usize().ok()) {
                    Some(v) => s.push(v),
                    // A symbolic leading dimension is the batch: ferrite runs batch 1.
                    None if k == 0 => s.push(1),
                    None => return Err(dynamic()),
                }
            }
            s
        };

        model
            .set_input_fact(i, InferenceFact::dt_shape(dt, shape))
            .map_err(imp)?;
    }
    let typed = model.into_typed().map_err(imp)?;
    typed.into_decluttered().map_err(imp)
}

/// Imports a parsed ONNX model into the IR (see [`load_typed`] for `input_shapes`).
pub fn import_proto(
    proto: &tract_onnx::pb::ModelProto,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<Graph> {
    let model = load_typed_proto(proto, input_shapes)?;
    let mut l = Lower {
        m: &model,
        g: Graph::default(),
        map: HashMap::new(),
        skip: HashSet::new(),
        unsupported: Vec::new(),
    };
    l.run()?;
    let mut g = l.g;
    g.optimize();
    Ok(g)
}

struct Lower<'m> {
    m: &'m TypedModel,
    g: Graph,
    map: HashMap<OutletId, TId>,
    skip: HashSet<usize>,
    unsupported: Vec<(String, String)>,
}

/// A constant folded by an affine successor: `y = x * scale + shift` per channel.
struct Affine {
    scale: Vec<f32>,
    shift: Vec<f32>,
    last: OutletId,
    name: String,
}

fn tensor_f32(t: &Tensor) -> Result<Vec<f32>> {
    let c = t.cast_to::<f32>().map_err(imp)?;
    let v = c.to_plain_array_view::<f32>().map_err(imp)?;
    Ok(v.iter().copied().collect())
}

fn tensor_i64(t: &Tensor) -> Result<Vec<i64>> {
    let c = t.cast_to::<i64>().map_err(imp)?;
    let v = c.to_plain_array_view::<i64>().map_err(imp)?;
    Ok(v.iter().copied().collect())
}

fn scalar_of(v: &[f32]) -> Option<f32> {
    let f = *v.first()?;
    v.iter()
        .all(|&x| x == f || x.is_nan() && f.is_nan())
        .then_some(f)
}

fn window_of(spec: &PoolSpec, spatial: &[usize]) -> Result<Window> {
    let rank = spec.kernel_shape.len();
    let pads = spec.computed_padding(spatial);
    let strides = spec.strides();
    let dil = spec.dilations();
    Ok(match rank {
        1 => Window {
            kernel: [1, spec.kernel_shape[0] as u32],
            stride: [1, strides[0] as u32],
            dilation: [1, dil[0] as u32],
            pads: [0, pads[0].pad_before as u32, 0, pads[0].pad_after as u32],
        },
        2 => Window {
            kernel: [spec.kernel_shape[0] as u32, spec.kernel_shape[1] as u32],
            stride: [strides[0] as u32, strides[1] as u32],
            dilation: [dil[0] as u32, dil[1] as u32],
            pads: [
                pads[0].pad_before as u32,
                pads[1].pad_before as u32,
                pads[0].pad_after as u32,
                pads[1].pad_after as u32,
            ],
        },
        r => return Err(Error::Other(format!("{r}-D windows are not supported"))),
    })
}

/// A conv / pool node's input in NCHW ([`Lower::spatial`]).
struct Spatial {
    x: TId,
    window: Window,
    /// Whether tract's layout already had the batch dimension (NCHW, not CHW).
    batched: bool,
    /// The output shape with the batch dimension, and tract's own.
    so: Vec<usize>,
    tract_so: Vec<usize>,
}

impl<'m> Lower<'m> {
    fn run(&mut self) -> Result<()> {
        let order = self.m.eval_order().map_err(imp)?;
        for id in order {
            if self.skip.contains(&id) {
                continue;
            }
            let node = self.m.node(id);
            if node.op_is::<Const>() {
                continue;
            }
            // Downstream of an unsupported op, lower against placeholders so that every
            // unsupported op is found in one pass (the graph is discarded anyway).
            for i in &node.inputs {
                if !self.map.contains_key(i) && self.konst(*i).is_none() {
                    if self.unsupported.is_empty() {
                        return Err(Error::Other(format!(
                            "internal: node \"{}\" reads an unknown value",
                            node.name
                        )));
                    }
                    let shape = self.shape(*i).unwrap_or_default();
                    let t = self.g.add_tensor("placeholder", &shape, DType::F32);
                    self.map.insert(*i, t);
                }
            }
            match self.node(node) {
                Ok(true) => {}
                Ok(false) => self
                    .unsupported
                    .push((self.op_label(node), node.name.clone())),
                Err(e) => return Err(e),
            }
        }
        if !self.unsupported.is_empty() {
            return Err(Error::Unsupported {
                ops: std::mem::take(&mut self.unsupported),
            });
        }
        // Graph inputs in the ONNX graph's declared order (tract keeps it in
        // `input_outlets`), not in evaluation order: the bindings address inputs by
        // index, as onnxruntime users do. An input no output depends on is kept too.
        for o in self.m.input_outlets().map_err(imp)?.to_vec() {
            let t = match self.map.get(&o) {
                Some(&t) => t,
                None => {
                    let shape = self.shape(o)?;
                    let t = self
                        .g
                        .add_tensor(&self.m.node(o.node).name, &shape, self.dtype(o)?);
                    self.map.insert(o, t);
                    t
                }
            };
            self.g.inputs.push(t);
        }
        for (i, o) in self.m.output_outlets().map_err(imp)?.iter().enumerate() {
            let mut t = self.value(*o)?;
            if self.g.is_const(t) || self.g.inputs.contains(&t) || self.g.outputs.contains(&t) {
                let shape = self.g.tensors[t].shape.clone();
                let dt = self.g.tensors[t].dtype;
                t = self
                    .g
                    .add_node(&format!("output_{i}"), Op::Reshape, &[t], &shape, dt);
            }
            if let Some(label) = self.m.outlet_label(*o) {
                self.g.tensors[t].name = label.to_string();
            }
            self.g.outputs.push(t);
        }
        Ok(())
    }

    fn op_label(&self, node: &TypedNode) -> String {
        if let Some(b) = node.op_as::<TypedBinOp>() {
            return b.0.name().to_string();
        }
        if let Some(e) = node.op_as::<ElementWiseOp>() {
            return e.0.name();
        }
        node.op.name().to_string()
    }

    fn konst(&self, o: OutletId) -> Option<Arc<Tensor>> {
        let node = self.m.node(o.node);
        if let Some(c) = node.op_as::<Const>() {
            return Some(c.val().clone());
        }
        self.m.outlet_fact(o).ok()?.konst.clone()
    }

    fn konst_f32(&self, o: OutletId) -> Option<Vec<f32>> {
        self.konst(o).and_then(|t| tensor_f32(&t).ok())
    }

    fn shape(&self, o: OutletId) -> Result<Vec<usize>> {
        let f = self.m.outlet_fact(o).map_err(imp)?;
        f.shape.as_concrete().map(|s| s.to_vec()).ok_or_else(|| {
            Error::Import(format!(
                "node \"{}\" has a non-constant shape {:?}",
                self.m.node(o.node).name,
                f.shape
            ))
        })
    }

    fn dtype(&self, o: OutletId) -> Result<DType> {
        let dt = self.m.outlet_fact(o).map_err(imp)?.datum_type;
        if dt == f32::datum_type() {
            Ok(DType::F32)
        } else if dt == i64::datum_type() {
            Ok(DType::I64)
        } else if dt == i32::datum_type() {
            Ok(DType::I32)
        } else {
            Err(Error::Import(format!(
                "values of type {dt:?} are not supported"
            )))
        }
    }

    /// The IR tensor of a tract value (constants become IR constants on first use).
    fn value(&mut self, o: OutletId) -> Result<TId> {
        if let Some(&t) = self.map.get(&o) {
            return Ok(t);
        }
        let k = self
            .konst(o)
            .ok_or_else(|| Error::Other(format!("internal: no value for {o:?}")))?;
        let name = self.m.node(o.node).name.clone();
        let shape = k.shape().to_vec();
        let data = if k.datum_type() == i64::datum_type() || k.datum_type() == i32::datum_type() {
            Data::I64(tensor_i64(&k)?)
        } else {
            Data::F32(tensor_f32(&k)?)
        };
        let t = self.g.add_const(&name, &shape, data);
        self.map.insert(o, t);
        Ok(t)
    }

    fn out(&self, node: &TypedNode) -> OutletId {
        OutletId::new(node.id, 0)
    }

    /// Adds an op computing the node's output (named after the node).
    fn emit(&mut self, node: &TypedNode, op: Op, inputs: &[TId]) -> Result<TId> {
        let o = self.out(node);
        let shape = self.shape(o)?;
        let dt = self.dtype(o)?;
        let t = self.g.add_node(&node.name, op, inputs, &shape, dt);
        self.map.insert(o, t);
        Ok(t)
    }

    fn reshape(&mut self, x: TId, shape: &[usize], name: &str) -> TId {
        if self.g.tensors[x].shape == shape {
            return x;
        }
        let dt = self.g.tensors[x].dtype;
        self.g.add_node(name, Op::Reshape, &[x], shape, dt)
    }

    fn transpose(&mut self, x: TId, perm: &[usize], name: &str) -> Result<TId> {
        let s = self.g.tensors[x].shape.clone();
        let shape: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let dt = self.g.tensors[x].dtype;
        let p = heapless::Vec::from_slice(&perm.iter().map(|&p| p as u8).collect::<Vec<_>>())
            .map_err(|_| Error::Other("rank too large".into()))?;
        Ok(self
            .g
            .add_node(name, Op::Transpose { perm: p }, &[x], &shape, dt))
    }

    /// Rearranges `x` (row-major data whose axes are labelled `labels` with sizes
    /// `sizes`) so that its non-trivial axes come in the order `want`, then reshapes it
    /// to `shape`.
    #[allow(clippy::too_many_arguments)]
    fn arrange(
        &mut self,
        x: TId,
        labels: &[char],
        sizes: &[usize],
        want: &[char],
        shape: &[usize],
        name: &str,
    ) -> Result<TId> {
        let cur: Vec<char> = labels
            .iter()
            .zip(sizes)
            .filter(|(_, &s)| s > 1)
            .map(|(&l, _)| l)
            .collect();
        if self.g.is_const(x) {
            let data = self.g.tensors[x].data.clone().unwrap_or(Data::F32(vec![]));
            if cur == want && self.g.tensors[x].shape == shape {
                return Ok(x);
            }
            let data = if cur == want {
                data
            } else {
                Data::F32(permute(
                    &data.to_f32(),
                    sizes,
                    &arrange_perm(labels, sizes, want),
                ))
            };
            return Ok(self.g.add_const(name, shape, data));
        }
        let mut t = x;
        if cur != want {
            t = self.reshape(t, sizes, &format!("{name}.unflatten"));
            t = self.transpose(
                t,
                &arrange_perm(labels, sizes, want),
                &format!("{name}.transpose"),
            )?;
        }
        Ok(self.reshape(t, shape, &format!("{name}.reshape")))
    }

    /// Lowers one node; `Ok(false)` when ferrite has no equivalent.
    fn node(&mut self, node: &TypedNode) -> Result<bool> {
        if let Some(done) = self.extra_node(node)? {
            return Ok(done);
        }
        let o = self.out(node);
        if let Some(src) = node.op_as::<TypedSource>() {
            let _ = src;
            let shape = self.shape(o)?;
            if self.dtype(o)? != DType::F32 {
                return Ok(false);
            }
            // Listed in `g.inputs` by `run`, in the graph's declared order.
            let t = self.g.add_tensor(&node.name, &shape, DType::F32);
            self.map.insert(o, t);
            return Ok(true);
        }
        if let Some(es) = node.op_as::<EinSum>() {
            return self.einsum(node, es);
        }
        if let Some(c) = node.op_as::<Conv>() {
            return self.conv(node, c);
        }
        if let Some(b) = node.op_as::<TypedBinOp>() {
            return self.binary(node, b.0.name());
        }
        if let Some(e) = node.op_as::<ElementWiseOp>() {
            return self.unary(node, e);
        }
        if let Some(a) = node.op_as::<AxisOp>() {
            let x = self.value(node.inputs[0])?;
            let op = match a {
                AxisOp::Move(from, to) => {
                    let r = self.g.tensors[x].shape.len();
                    let mut perm: Vec<usize> = (0..r).collect();
                    let v = perm.remove(*from);
                    perm.insert(*to, v);
                    Op::Transpose {
                        perm: heapless::Vec::from_slice(
                            &perm.iter().map(|&p| p as u8).collect::<Vec<_>>(),
                        )
                        .map_err(|_| Error::Other("rank too large".into()))?,
                    }
                }
                _ => Op::Reshape,
            };
            self.emit(node, op, &[x])?;
            return Ok(true);
        }
        if let Some(s) = node.op_as::<Softmax>() {
            if s.axes.len() != 1 || s.quant_output_dt.is_some() {
                return Ok(false);
            }
            let x = self.value(node.inputs[0])?;
            let log = s.kind == SoftmaxKind::LogSoftmax;
            self.emit(
                node,
                Op::Softmax {
                    axis: s.axes[0] as u8,
                    log,
                },
                &[x],
            )?;
            return Ok(true);
        }
        if let Some(p) = node.op_as::<MaxPool>() {
            if p.with_index_outputs.is_some() {
                return Ok(false);
            }
            return self.pool(node, &p.pool_spec, None);
        }
        if let Some(p) = node.op_as::<SumPool>() {
            if !p.normalize {
                return Ok(false);
            }
            return self.pool(node, &p.pool_spec, Some(p.count_include_pad));
        }
        if let Some(r) = node.op_as::<Reduce>() {
            return self.reduce(node, r);
        }
        if let Some(rn) = node.op_as::<RmsNorm>() {
            return self.rms_norm(node, rn);
        }
        if let Some(c) = node.op_as::<TypedConcat>() {
            let mut ins = Vec::new();
            for i in &node.inputs {
                ins.push(self.value(*i)?);
            }
            let axis = c.axis;
            // The format caps an op's inputs: concatenate in groups.
            while ins.len() > ferrite::format::types::MAX_OP_INPUTS {
                let group: Vec<TId> = ins.drain(..ferrite::format::types::MAX_OP_INPUTS).collect();
                let mut shape = self.g.tensors[group[0]].shape.clone();
                shape[axis] = group.iter().map(|&t| self.g.tensors[t].shape[axis]).sum();
                let dt = self.g.tensors[group[0]].dtype;
                let t = self.g.add_node(
                    &format!("{}.part", node.name),
                    Op::Concat { axis: axis as u8 },
                    &group,
                    &shape,
                    dt,
                );
                ins.insert(0, t);
            }
            self.emit(node, Op::Concat { axis: axis as u8 }, &ins)?;
            return Ok(true);
        }
        if let Some(p) = node.op_as::<Pad>() {
            let PadMode::Constant(v) = &p.mode else {
                return Ok(false);
            };
            let value = tensor_f32(v)?.first().copied().unwrap_or(0.0);
            let x = self.value(node.inputs[0])?;
            let mut pads: heapless::Vec<u32, { 2 * ferrite::format::types::MAX_RANK }> =
                heapless::Vec::new();
            for (b, _) in &p.pads {
                pads.push(*b as u32)
                    .map_err(|_| Error::Other("rank too large".into()))?;
            }
            for (_, a) in &p.pads {
                pads.push(*a as u32)
                    .map_err(|_| Error::Other("rank too large".into()))?;
            }
            self.emit(node, Op::Pad { pads, value }, &[x])?;
            return Ok(true);
        }
        if let Some(c) = node.op_as::<Cast>() {
            let x = self.value(node.inputs[0])?;
            let from = self.g.tensors[x].dtype;
            let to = if c.to == f32::datum_type() {
                DType::F32
            } else if c.to == i64::datum_type() {
                DType::I64
            } else if c.to == i32::datum_type() {
                DType::I32
            } else {
                return Ok(false);
            };
            if from == to {
                self.map.insert(o, x);
            } else {
                self.emit(node, Op::Cast, &[x])?;
            }
            return Ok(true);
        }
        if let Some(b) = node.op_as::<MultiBroadcastTo>() {
            let x = self.value(node.inputs[0])?;
            let Some(target) = b.shape.as_concrete().map(|s| s.to_vec()) else {
                return Ok(false);
            };
            let xs = &self.g.tensors[x].shape;
            let off = target.len() - xs.len();
            let zshape: Vec<usize> = target
                .iter()
                .enumerate()
                .map(|(d, &n)| if d >= off && xs[d - off] == n { 1 } else { n })
                .collect();
            let n: usize = zshape.iter().product();
            let z = self.g.add_const(
                &format!("{}.zeros", node.name),
                &zshape,
                Data::F32(vec![0.0; n]),
            );
            self.emit(
                node,
                Op::Binary {
                    op: BinaryOp::Add,
                    act: Activation::None,
                    q: None,
                },
                &[x, z],
            )?;
            return Ok(true);
        }
        let name = node.op.name();
        if name == "Identity" || name == "Dummy" {
            let x = self.value(node.inputs[0])?;
            self.map.insert(o, x);
            return Ok(true);
        }
        Ok(false)
    }

    /// Single consumer of `o`, unless `o` is a model output.
    fn single_successor(&self, o: OutletId) -> Option<&'m TypedNode> {
        let succ = self.m.outlet_successors(o);
        let is_output = self.m.output_outlets().ok()?.contains(&o);
        if succ.len() != 1 || is_output {
            return None;
        }
        Some(self.m.node(succ[0].node))
    }

    /// Folds `Add/Sub/Mul/Div` by constants that vary only along the channel axes
    /// (`channel_axes` positions in the output, `channels` values) into an affine map.
    fn fold_affine(
        &mut self,
        start: OutletId,
        out_shape: &[usize],
        channel_axes: &[usize],
        channels: usize,
    ) -> Affine {
        let mut aff = Affine {
            scale: vec![1.0; channels],
            shift: vec![0.0; channels],
            last: start,
            name: String::new(),
        };
        while let Some(next) = self.single_successor(aff.last) {
            let Some(bin) = next.op_as::<TypedBinOp>() else {
                break;
            };
            let op = bin.0.name();
            let slot = next.inputs.iter().position(|i| *i == aff.last).unwrap_or(0);
            if next.inputs.len() != 2 || next.inputs[1 - slot] == aff.last {
                break;
            }
            let other = next.inputs[1 - slot];
            let Some(k) = self.konst(other) else { break };
            let ks = k.shape().to_vec();
            let Ok(kv) = tensor_f32(&k) else { break };
            let Ok(next_shape) = self.shape(OutletId::new(next.id, 0)) else {
                break;
            };
            if next_shape != out_shape || ks.len() > out_shape.len() {
                break;
            }
            // Right-align the constant with the output and read it per channel.
            let off = out_shape.len() - ks.len();
            let ok = ks.iter().enumerate().all(|(d, &n)| {
                n == 1 || channel_axes.contains(&(d + off)) && n == out_shape[d + off]
            });
            if !ok {
                break;
            }
            let mut per = Vec::with_capacity(channels);
            let ch_sizes: Vec<usize> = channel_axes.iter().map(|&a| out_shape[a]).collect();
            for c in 0..channels {
                let mut rem = c;
                let mut idx = vec![0usize; ch_sizes.len()];
                for (j, &s) in ch_sizes.iter().enumerate().rev() {
                    idx[j] = rem % s;
                    rem /= s;
                }
                let mut off_k = 0;
                for (d, &n) in ks.iter().enumerate() {
                    let i = channel_axes
                        .iter()
                        .position(|&a| a == d + off)
                        .map_or(0, |j| idx[j]);
                    off_k = off_k * n + if n == 1 { 0 } else { i };
                }
                per.push(kv[off_k]);
            }
            match (op, slot) {
                ("Add", _) => aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s += v),
                ("Sub", 0) => aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s -= v),
                ("Mul", _) => {
                    aff.scale.iter_mut().zip(&per).for_each(|(s, v)| *s *= v);
                    aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s *= v);
                }
                ("Div", 0) => {
                    aff.scale.iter_mut().zip(&per).for_each(|(s, v)| *s /= v);
                    aff.shift.iter_mut().zip(&per).for_each(|(s, v)| *s /= v);
                }
                _ => break,
            }
            self.skip.insert(next.id);
            aff.last = OutletId::new(next.id, 0);
            aff.name = next.name.clone();
        }
        aff
    }

    fn einsum(&mut self, node: &TypedNode, es: &EinSum) -> Result<bool> {
        if node.inputs.len() != 2 || es.q_params.is_some() || es.operating_dt != f32::datum_type() {
            return Ok(false);
        }
        let (ins, outs) = es.axes.to_strs();
        let labels: Vec<Vec<char>> = ins.iter().map(|s| s.chars().collect()).collect();
        let ol: Vec<char> = outs[0].chars().collect();
        let o = self.out(node);
        let so = self.shape(o)?;
        let s0 = self.shape(node.inputs[0])?;
        let s1 = self.shape(node.inputs[1])?;
        let mut size: HashMap<char, usize> = HashMap::new();
        for (ls, ss) in [(&labels[0], &s0), (&labels[1], &s1), (&ol, &so)] {
            for (l, s) in ls.iter().zip(ss.iter()) {
                size.insert(*l, *s);
            }
        }
        let c0 = self.konst(node.inputs[0]).is_some();
        let c1 = self.konst(node.inputs[1]).is_some();
        let (xi, wi) = if c1 || !c0 { (0, 1) } else { (1, 0) };
        let w_const = self.konst(node.inputs[wi]).is_some();
        let (xl, wl) = (&labels[xi], &labels[wi]);
        let (xs, ws) = if xi == 0 { (&s0, &s1) } else { (&s1, &s0) };
        let nt = |l: &char| size[l] > 1;
        let mut m_l = Vec::new();
        let mut k_l = Vec::new();
        let mut b_l = Vec::new();
        for l in xl.iter().filter(|l| nt(l)) {
            match (wl.contains(l), ol.contains(l)) {
                (true, false) => k_l.push(*l),
                (false, true) => m_l.push(*l),
                (true, true) => b_l.push(*l),
                (false, false) => return Ok(false),
            }
        }
        let mut n_l = Vec::new();
        for l in ol.iter().filter(|l| nt(l)) {
            if wl.contains(l) && !xl.contains(l) {
                n_l.push(*l);
            } else if !xl.contains(l) {
                return Ok(false);
            }
        }
        if wl
            .iter()
            .any(|l| nt(l) && !xl.contains(l) && !ol.contains(l))
        {
            return Ok(false);
        }
        // b_l in output order.
        b_l.sort_by_key(|l| ol.iter().position(|x| x == l));
        let prod = |ls: &[char]| ls.iter().map(|l| size[l]).product::<usize>();
        let (mm, kk, nn, bb) = (prod(&m_l), prod(&k_l), prod(&n_l), prod(&b_l));
        let x = self.value(node.inputs[xi])?;
        let name = node.name.clone();
        let (result, result_labels, result_sizes) = if w_const && b_l.is_empty() {
            // FullyConnected: x [M..., K], w [N, K].
            let mut want_x = m_l.clone();
            want_x.extend(&k_l);
            let x_lead: Vec<usize> = m_l.iter().map(|l| size[l]).collect();
            let x2 = if self.g.tensors[x].shape.last() == Some(&kk)
                && xl
                    .iter()
                    .zip(xs.iter())
                    .filter(|(_, &s)| s > 1)
                    .map(|(l, _)| *l)
                    .collect::<Vec<_>>()
                    == want_x
                && k_l.len() <= 1
            {
                x
            } else {
                let mut shape = x_lead.clone();
                shape.push(kk);
                self.arrange(x, xl, xs, &want_x, &shape, &format!("{name}.x"))?
            };
            let wdata = self.konst_f32(node.inputs[wi]).unwrap_or_default();
            let mut want_w = n_l.clone();
            want_w.extend(&k_l);
            let perm = arrange_perm(wl, ws, &want_w);
            let mut w = permute(&wdata, ws, &perm);
            let mut fc_shape: Vec<usize> = self.g.tensors[x2].shape.clone();
            fc_shape.pop();
            fc_shape.push(nn);
            // Output channels are the n axes of the einsum output.
            let ch_axes: Vec<usize> = ol
                .iter()
                .enumerate()
                .filter(|(_, l)| n_l.contains(l))
                .map(|(i, _)| i)
                .collect();
            let aff = self.fold_affine(o, &so, &ch_axes, nn);
            for (r, s) in w.chunks_mut(kk.max(1)).zip(&aff.scale) {
                r.iter_mut().for_each(|v| *v *= s);
            }
            let wt = self
                .g
                .add_const(&format!("{name}.weight"), &[nn, kk], Data::F32(w));
            let mut inputs = vec![x2, wt];
            if aff.shift.iter().any(|&b| b != 0.0) {
                let bt =
                    self.g
                        .add_const(&format!("{name}.bias"), &[nn], Data::F32(aff.shift.clone()));
                inputs.push(bt);
            }
            let out_name = if aff.name.is_empty() {
                name.clone()
            } else {
                aff.name.clone()
            };
            let y = self.g.add_node(
                &out_name,
                Op::FullyConnected {
                    act: Activation::None,
                    q: None,
                },
                &inputs,
                &fc_shape,
                DType::F32,
            );
            let mut labels: Vec<char> = m_l.clone();
            labels.extend(&n_l);
            let sizes: Vec<usize> = labels.iter().map(|l| size[l]).collect();
            let want_o: Vec<char> = ol.iter().copied().filter(|l| nt(l)).collect();
            let t = self.arrange(y, &labels, &sizes, &want_o, &so, &out_name)?;
            self.map.insert(aff.last, t);
            return Ok(true);
        } else {
            // MatMul: [B, M, K] x [B, K, N].
            let mut want_x = b_l.clone();
            want_x.extend(&m_l);
            want_x.extend(&k_l);
            let x2 = self.arrange(x, xl, xs, &want_x, &[bb, mm, kk], &format!("{name}.a"))?;
            let w = self.value(node.inputs[wi])?;
            let mut want_w = b_l.clone();
            want_w.extend(&k_l);
            want_w.extend(&n_l);
            let w2 = self.arrange(w, wl, ws, &want_w, &[bb, kk, nn], &format!("{name}.b"))?;
            let y = self.g.add_node(
                &format!("{name}.matmul"),
                Op::MatMul,
                &[x2, w2],
                &[bb, mm, nn],
                DType::F32,
            );
            let mut labels = b_l.clone();
            labels.extend(&m_l);
            labels.extend(&n_l);
            let sizes: Vec<usize> = labels.iter().map(|l| size[l]).collect();
            (y, labels, sizes)
        };
        let want_o: Vec<char> = ol.iter().copied().filter(|l| nt(l)).collect();
        let t = self.arrange(result, &result_labels, &result_sizes, &want_o, &so, &name)?;
        self.map.insert(o, t);
        Ok(true)
    }

    fn conv(&mut self, node: &TypedNode, c: &Conv) -> Result<bool> {
        if c.q_params.is_some() || c.kernel_fmt != KernelFormat::OIHW {
            return Ok(false);
        }
        let spec = &c.pool_spec;
        let rank = spec.kernel_shape.len();
        // Weights are normally constants (initializers) and fold the per-channel affine
        // ops that follow. Weights or a bias computed in the graph (or fed as graph
        // inputs, as in the ONNX node tests) stay tensors: the f32 Conv kernel reads
        // its weights from the arena, and such a bias is added by a broadcasting `Add`.
        let kernel = self.konst_f32(node.inputs[1]);
        let ks = self.shape(node.inputs[1])?;
        if ks.len() != rank + 2 {
            return Ok(false);
        }
        let Some(sp) = self.spatial(node, spec)? else {
            return Ok(false);
        };
        let o = self.out(node);
        let (x, so) = (sp.x, sp.so.clone());
        let name = node.name.clone();
        let m = ks[0];
        enum Bias {
            Const(Vec<f32>),
            Tensor(OutletId),
        }
        let bias = match node.inputs.get(2) {
            Some(b) => match self.konst_f32(*b) {
                Some(v) if v.len() == m => Bias::Const(v),
                Some(v) if v.len() == 1 => Bias::Const(vec![v[0]; m]),
                Some(_) => return Ok(false),
                None => {
                    let bs = self.shape(*b)?;
                    if bs.iter().product::<usize>() != m || self.dtype(*b)? != DType::F32 {
                        return Ok(false);
                    }
                    Bias::Tensor(*b)
                }
            },
            None => Bias::Const(vec![0.0; m]),
        };
        let ch_axis = if sp.batched { 1 } else { 0 };
        let op = Op::Conv {
            window: sp.window,
            groups: c.group as u32,
            act: Activation::None,
            q: None,
        };
        let (Some(kernel), Bias::Const(bias)) = (kernel, &bias) else {
            if self.dtype(node.inputs[1])? != DType::F32 {
                return Ok(false);
            }
            let w = self.value(node.inputs[1])?;
            let mut y = self.g.add_node(&name, op, &[x, w], &so, DType::F32);
            if let Bias::Tensor(b) = bias {
                let b = self.value(b)?;
                let mut bs = vec![1; so.len() - 1];
                bs[0] = m;
                let b = self.reshape(b, &bs, &format!("{name}.bias"));
                let add = Op::Binary {
                    op: BinaryOp::Add,
                    act: Activation::None,
                    q: None,
                };
                let conv_name = format!("{name}.conv");
                self.g.tensors[y].name = conv_name;
                y = self.g.add_node(&name, add, &[y, b], &so, DType::F32);
            }
            let y = self.unbatch(y, &sp, &name);
            self.map.insert(o, y);
            return Ok(true);
        };
        let aff = self.fold_affine(o, &sp.tract_so, &[ch_axis], m);
        let per = kernel.len() / m.max(1);
        let mut w = kernel;
        for (r, s) in w.chunks_mut(per.max(1)).zip(&aff.scale) {
            r.iter_mut().for_each(|v| *v *= s);
        }
        let b: Vec<f32> = bias
            .iter()
            .zip(aff.scale.iter().zip(&aff.shift))
            .map(|(b, (s, t))| b * s + t)
            .collect();
        let wt = self
            .g
            .add_const(&format!("{name}.weight"), &ks, Data::F32(w));
        let mut inputs = vec![x, wt];
        if b.iter().any(|&v| v != 0.0) {
            inputs.push(
                self.g
                    .add_const(&format!("{name}.bias"), &[m], Data::F32(b)),
            );
        }
        let out_name = if aff.name.is_empty() {
            name.clone()
        } else {
            aff.name.clone()
        };
        let y = self.g.add_node(&out_name, op, &inputs, &so, DType::F32);
        let y = self.unbatch(y, &sp, &out_name);
        self.map.insert(aff.last, y);
        Ok(true)
    }

    fn pool(&mut self, node: &TypedNode, spec: &PoolSpec, avg: Option<bool>) -> Result<bool> {
        let Some(sp) = self.spatial(node, spec)? else {
            return Ok(false);
        };
        let window = sp.window;
        let op = match avg {
            None => Op::MaxPool { window },
            Some(count_include_pad) => Op::AvgPool {
                window,
                count_include_pad,
            },
        };
        let name = node.name.clone();
        let y = self.g.add_node(&name, op, &[sp.x], &sp.so, DType::F32);
        let y = self.unbatch(y, &sp, &name);
        self.map.insert(self.out(node), y);
        Ok(true)
    }

    /// The NCHW view of a 1-D / 2-D conv or pool node: its input, with a leading batch
    /// dimension added by a Reshape for a CHW layout (and in the output shape), and its
    /// window. `None` for other layouts and ranks.
    fn spatial(&mut self, node: &TypedNode, spec: &PoolSpec) -> Result<Option<Spatial>> {
        let batched = match spec.data_format {
            DataFormat::NCHW => true,
            DataFormat::CHW => false,
            _ => return Ok(None),
        };
        let rank = spec.kernel_shape.len();
        if !(rank == 1 || rank == 2) {
            return Ok(None);
        }
        let x0 = self.value(node.inputs[0])?;
        let mut xs = self.g.tensors[x0].shape.clone();
        let tract_so = self.shape(self.out(node))?;
        let mut so = tract_so.clone();
        let x = if batched {
            x0
        } else {
            xs.insert(0, 1);
            so.insert(0, 1);
            self.reshape(x0, &xs, &format!("{}.batch", node.name))
        };
        let window = window_of(spec, &xs[2..])?;
        Ok(Some(Spatial {
            x,
            window,
            batched,
            so,
            tract_so,
        }))
    }

    /// `y` (computed on [`Lower::spatial`]'s batched view) in tract's output shape.
    fn unbatch(&mut self, y: TId, sp: &Spatial, name: &str) -> TId {
        if sp.batched {
            y
        } else {
            self.reshape(y, &sp.tract_so, &format!("{name}.unbatch"))
        }
    }

    fn reduce(&mut self, node: &TypedNode, r: &Reduce) -> Result<bool> {
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        let o = self.out(node);
        let so = self.shape(o)?;
        let mut axes: Vec<usize> = r.axes.to_vec();
        axes.sort_unstable();
        let name = node.name.clone();
        match r.reducer {
            Reducer::ArgMax(last) if axes.len() == 1 => {
                self.emit(
                    node,
                    Op::ArgMax {
                        axis: axes[0] as u8,
                        keepdims: true,
                        select_last: last,
                    },
                    &[x],
                )?;
                Ok(true)
            }
            Reducer::Sum | Reducer::MeanOfSquares | Reducer::Max | Reducer::Min => {
                if self.g.tensors[x].dtype != DType::F32 || axes.iter().any(|&a| a >= xs.len()) {
                    return Ok(false);
                }
                let mean_of_squares = r.reducer == Reducer::MeanOfSquares;
                let (src, pool) = if mean_of_squares {
                    let sq = self.g.add_node(
                        &format!("{name}.square"),
                        Op::Binary {
                            op: BinaryOp::Mul,
                            act: Activation::None,
                            q: None,
                        },
                        &[x, x],
                        &xs,
                        DType::F32,
                    );
                    (sq, Reducer::Sum)
                } else {
                    (x, r.reducer)
                };
                let mut y = self.pool_axes(src, &axes, pool, &name)?;
                if !matches!(r.reducer, Reducer::Sum | Reducer::MeanOfSquares) {
                    let y = self.reshape(y, &so, &format!("{name}.reshape"));
                    self.map.insert(o, y);
                    return Ok(true);
                }
                // The pool gives the mean: a Sum is the mean times the count. Fold a
                // following division or multiplication by a scalar constant.
                let mut factor = if mean_of_squares {
                    1.0
                } else {
                    axes.iter().map(|&a| xs[a]).product::<usize>() as f32
                };
                let mut last = o;
                let mut out_name = name.clone();
                if let Some(next) = self.single_successor(o) {
                    if let Some(b) = next.op_as::<TypedBinOp>() {
                        let slot = next.inputs.iter().position(|i| *i == o).unwrap_or(0);
                        let other = next.inputs[1 - slot];
                        if let Some(k) = self.konst_f32(other).and_then(|v| scalar_of(&v)) {
                            let f = match (b.0.name(), slot) {
                                ("Div", 0) => Some(factor / k),
                                ("Mul", _) => Some(factor * k),
                                _ => None,
                            };
                            if let Some(f) = f {
                                if self.shape(OutletId::new(next.id, 0))? == so {
                                    factor = f;
                                    last = OutletId::new(next.id, 0);
                                    out_name = next.name.clone();
                                    self.skip.insert(next.id);
                                }
                            }
                        }
                    }
                }
                if factor != 1.0 {
                    self.g.tensors[y].name = format!("{name}.mean");
                    let k =
                        self.g
                            .add_const(&format!("{name}.count"), &[1], Data::F32(vec![factor]));
                    let s = self.g.tensors[y].shape.clone();
                    y = self.g.add_node(
                        &out_name,
                        Op::Binary {
                            op: BinaryOp::Mul,
                            act: Activation::None,
                            q: None,
                        },
                        &[y, k],
                        &s,
                        DType::F32,
                    );
                } else {
                    self.g.tensors[y].name = out_name.clone();
                }
                let y = self.reshape(y, &so, &format!("{out_name}.reshape"));
                self.map.insert(last, y);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// `x` (f32) reduced over `axes` (sorted, distinct) by a global pool: the mean for
    /// `Sum`, the maximum for `Max`, the minimum for `Min` (GlobalMaxPool between two
    /// `Neg`). When the axes are the trailing ones of an `[N, C, ...]` tensor the pool
    /// reads `x` as it is and the result has `x`'s shape with the reduced axes set to 1;
    /// otherwise the reduced axes are moved last (Transpose), flattened into
    /// `[outer, 1, count]` (Reshape) and the result is `[outer, 1, 1]`, the kept axes in
    /// their order. The result tensor is named `name`.
    fn pool_axes(&mut self, x: TId, axes: &[usize], reducer: Reducer, name: &str) -> Result<TId> {
        let xs = self.g.tensors[x].shape.clone();
        let rank = xs.len();
        let count: usize = axes.iter().map(|&a| xs[a]).product();
        let trailing = axes
            .iter()
            .enumerate()
            .all(|(i, &a)| a + axes.len() == rank + i);
        // Global pools reduce every axis after the first two of [N, C, ...].
        let (mut t, pooled_shape) = if trailing && rank >= 3 && axes.first() == Some(&2) {
            let s: Vec<usize> = xs
                .iter()
                .enumerate()
                .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
                .collect();
            (x, s)
        } else {
            let mut perm: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
            perm.extend(axes);
            let t = if perm.iter().enumerate().all(|(i, &p)| i == p) {
                x
            } else {
                self.transpose(x, &perm, &format!("{name}.transpose"))?
            };
            let outer = xs.iter().product::<usize>() / count.max(1);
            let t = self.reshape(t, &[outer, 1, count], &format!("{name}.flatten"));
            (t, vec![outer, 1, 1])
        };
        let neg = |g: &mut Graph, t: TId, n: &str| {
            let s = g.tensors[t].shape.clone();
            g.add_node(n, Op::Unary { op: UnaryOp::Neg }, &[t], &s, DType::F32)
        };
        let min = reducer == Reducer::Min;
        if min {
            t = neg(&mut self.g, t, &format!("{name}.neg"));
        }
        let op = if reducer == Reducer::Sum {
            Op::GlobalAvgPool
        } else {
            Op::GlobalMaxPool
        };
        let pool_name = if min {
            format!("{name}.pool")
        } else {
            name.to_string()
        };
        let y = self
            .g
            .add_node(&pool_name, op, &[t], &pooled_shape, DType::F32);
        Ok(if min { neg(&mut self.g, y, name) } else { y })
    }

    /// RmsNorm (what tract makes of LayerNormalization and RMSNormalization):
    /// `x · (1 / sqrt(mean(x², axis) + eps))`, the mean broadcast back along `axis`.
    fn rms_norm(&mut self, node: &TypedNode, rn: &RmsNorm) -> Result<bool> {
        let x = self.value(node.inputs[0])?;
        let xs = self.g.tensors[x].shape.clone();
        if self.g.tensors[x].dtype != DType::F32 || rn.axis >= xs.len() {
            return Ok(false);
        }
        let Some(eps) = tensor_f32(&rn.eps)?.first().copied() else {
            return Ok(false);
        };
        let name = node.name.clone();
        let bin = |op| Op::Binary {
            op,
            act: Activation::None,
            q: None,
        };
        let sq = self.g.add_node(
            &format!("{name}.square"),
            bin(BinaryOp::Mul),
            &[x, x],
            &xs,
            DType::F32,
        );
        let ms = self.pool_axes(sq, &[rn.axis], Reducer::Sum, &format!("{name}.mean_sq"))?;
        let mut ks = xs.clone();
        ks[rn.axis] = 1;
        let ms = self.reshape(ms, &ks, &format!("{name}.mean_sq.reshape"));
        let e = self
            .g
            .add_const(&format!("{name}.eps"), &[1], Data::F32(vec![eps]));
        let v = self.g.add_node(
            &format!("{name}.add_eps"),
            bin(BinaryOp::Add),
            &[ms, e],
            &ks,
            DType::F32,
        );
        let s = self.g.add_node(
            &format!("{name}.sqrt"),
            Op::Unary { op: UnaryOp::Sqrt },
            &[v],
            &ks,
            DType::F32,
        );
        let inv = self.g.add_node(
            &format!("{name}.recip"),
            Op::Unary {
                op: UnaryOp::Reciprocal,
            },
            &[s],
            &ks,
            DType::F32,
        );
        self.emit(node, bin(BinaryOp::Mul), &[x, inv])?;
        Ok(true)
    }

    fn binary(&mut self, node: &TypedNode, op: &str) -> Result<bool> {
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let kb = self.konst_f32(b).and_then(|v| scalar_of(&v));
        let ka = self.konst_f32(a).and_then(|v| scalar_of(&v));
        let o = self.out(node);
        let so = self.shape(o)?;
        // max(x, c) / min(x, c) with a scalar constant are clips (Relu, Relu6, Clip).
        let clip = match (op, ka, kb) {
            ("Max", _, Some(c)) if self.shape(a)? == so => Some((a, c, f32::INFINITY)),
            ("Max", Some(c), _) if self.shape(b)? == so => Some((b, c, f32::INFINITY)),
            ("Min", _, Some(c)) if self.shape(a)? == so => Some((a, f32::NEG_INFINITY, c)),
            ("Min", Some(c), _) if self.shape(b)? == so => Some((b, f32::NEG_INFINITY, c)),
            _ => None,
        };
        if let Some((x, min, max)) = clip {
            let x = self.value(x)?;
            self.emit(
                node,
                Op::Unary {
                    op: UnaryOp::Clip { min, max },
                },
                &[x],
            )?;
            return Ok(true);
        }
        let bop = match op {
            "Add" => BinaryOp::Add,
            "Sub" => BinaryOp::Sub,
            "Mul" => BinaryOp::Mul,
            "Div" => BinaryOp::Div,
            "Max" => BinaryOp::Max,
            "Min" => BinaryOp::Min,
            "Pow" => BinaryOp::Pow,
            _ => return Ok(false),
        };
        if self.dtype(o)? != DType::F32 {
            return Ok(false);
        }
        let (va, vb) = (self.value(a)?, self.value(b)?);
        for v in [va, vb] {
            if self.g.tensors[v].dtype != DType::F32 {
                return Ok(false);
            }
        }
        // x / c is x * (1 / c): the kernels multiply faster than they divide.
        if bop == BinaryOp::Div && self.g.is_const(vb) {
            if let Some(Data::F32(d)) = self.g.tensors[vb].data.clone() {
                let shape = self.g.tensors[vb].shape.clone();
                let inv = self.g.add_const(
                    &format!("{}.recip", node.name),
                    &shape,
                    Data::F32(d.iter().map(|v| 1.0 / v).collect()),
                );
                self.emit(
                    node,
                    Op::Binary {
                        op: BinaryOp::Mul,
                        act: Activation::None,
                        q: None,
                    },
                    &[va, inv],
                )?;
                return Ok(true);
            }
        }
        self.emit(
            node,
            Op::Binary {
                op: bop,
                act: Activation::None,
                q: None,
            },
            &[va, vb],
        )?;
        Ok(true)
    }

    fn unary(&mut self, node: &TypedNode, e: &ElementWiseOp) -> Result<bool> {
        use tract_onnx::tract_core::ops::nn::LeakyRelu;
        let name = e.0.name();
        let u = match name.as_str() {
            "Sigmoid" => UnaryOp::Sigmoid,
            "Tanh" => UnaryOp::Tanh,
            "Exp" => UnaryOp::Exp,
            "Ln" => UnaryOp::Log,
            "Sqrt" => UnaryOp::Sqrt,
            "Neg" => UnaryOp::Neg,
            "Abs" => UnaryOp::Abs,
            "Recip" => UnaryOp::Reciprocal,
            "Floor" => UnaryOp::Floor,
            "Ceil" => UnaryOp::Ceil,
            "Erf" => UnaryOp::Erf,
            "HardSwish" => UnaryOp::HardSwish,
            "GeluExact" => UnaryOp::Gelu,
            "Sin" => UnaryOp::Sin,
            "Cos" => UnaryOp::Cos,
            "Tan" => UnaryOp::Tan,
            "Asin" => UnaryOp::Asin,
            "Acos" => UnaryOp::Acos,
            "Atan" => UnaryOp::Atan,
            "Sinh" => UnaryOp::Sinh,
            "Cosh" => UnaryOp::Cosh,
            "Asinh" => UnaryOp::Asinh,
            "Acosh" => UnaryOp::Acosh,
            "Atanh" => UnaryOp::Atanh,
            "RoundHalfToEven" => UnaryOp::Round,
            "Sign" => UnaryOp::Sign,
            "LeakyRelu" => match e.0.downcast_ref::<LeakyRelu>() {
                Some(l) => UnaryOp::LeakyRelu { alpha: l.alpha },
                None => return Ok(false),
            },
            "Elu" => match e.0.downcast_ref::<activations::Elu>() {
                Some(l) => UnaryOp::Elu { alpha: l.alpha },
                None => return Ok(false),
            },
            "Square" | "Silu" | "Rsqrt" => {
                let x = self.value(node.inputs[0])?;
                let s = self.g.tensors[x].shape.clone();
                let mul = Op::Binary {
                    op: BinaryOp::Mul,
                    act: Activation::None,
                    q: None,
                };
                match name.as_str() {
                    "Square" => {
                        self.emit(node, mul, &[x, x])?;
                    }
                    "Silu" => {
                        let sg = self.g.add_node(
                            &format!("{}.sigmoid", node.name),
                            Op::Unary {
                                op: UnaryOp::Sigmoid,
                            },
                            &[x],
                            &s,
                            DType::F32,
                        );
                        self.emit(node, mul, &[x, sg])?;
                    }
                    _ => {
                        let sq = self.g.add_node(
                            &format!("{}.sqrt", node.name),
                            Op::Unary { op: UnaryOp::Sqrt },
                            &[x],
                            &s,
                            DType::F32,
                        );
                        self.emit(
                            node,
                            Op::Unary {
                                op: UnaryOp::Reciprocal,
                            },
                            &[sq],
                        )?;
                    }
                }
                return Ok(true);
            }
            _ => return Ok(false),
        };
        if self.dtype(self.out(node))? != DType::F32 {
            return Ok(false);
        }
        let x = self.value(node.inputs[0])?;
        self.emit(node, Op::Unary { op: u }, &[x])?;
        Ok(true)
    }
}

/// Permutation putting the trivial (size 1) axes first, then the non-trivial axes in
/// the order `want`.
fn arrange_perm(labels: &[char], sizes: &[usize], want: &[char]) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..labels.len()).filter(|&i| sizes[i] <= 1).collect();
    for l in want {
        if let Some(i) = labels.iter().position(|x| x == l) {
            perm.push(i);
        }
    }
    perm
}
