//! One module per op (or family of ops sharing their checks): `check`, everything
//! `Model::load` verifies about the op (arity, dtypes, shapes, attributes, quantization,
//! constant data), and `run`, the dtype switch into the reference or optimized kernels
//! (TFLM's Prepare and Eval, side by side).
//!
//! [`check`], [`run`] and [`Op::group`] dispatch with exhaustive matches (no `_`
//! arm): a new [`Op`] variant does not compile until it has a group, a check and a run.
//! Each module states its ops' group (Cargo feature) once, as `GROUP`; `Op::group`
//! returns it, the loader rejects the ops of a group this build lacks
//! (`Error::UnsupportedOp`) before calling `check`, and every `check` and `run` starts
//! with [`gate`]`(GROUP)`, a constant, so a build without the group links neither the
//! checks nor the kernels.
//!
//! `run` relies on `check`: the executor reads operands with the trusted decoders and
//! calls kernels without re-validating (see [`crate::kernels`] for their contract).

mod argmax;
mod binary;
mod cast;
mod concat;
mod conv;
mod conv_nhwc;
mod fully_connected;
mod fully_connected_f16;
mod linear;
mod lrn;
mod lut;
mod matmul;
mod normalize;
mod pad;
mod pool;
mod quantize;
mod recurrent;
mod reshape;
mod slice;
mod softmax;
mod transpose;
mod tree_ensemble;
mod unary;
mod window;

use crate::error::{Error, OpReason, Result};
use crate::format::types::{
    Activation, DType, Op, OpGroup, QParams, Requant, TensorDef, TensorRef,
};
use crate::graph::Graph;

/// The outcome of an op's check.
pub(crate) type Checked = core::result::Result<(), OpReason>;

/// `Ok` when `ok`, else `Err(reason)`.
#[inline]
pub(crate) fn ensure(ok: bool, reason: OpReason) -> Checked {
    if ok {
        Ok(())
    } else {
        Err(reason)
    }
}

/// `Ok` when this build has group `g` (a constant: the code after a failed gate is
/// removed, so a disabled group's checks and kernels are not linked).
#[inline(always)]
pub(crate) fn gate(g: OpGroup) -> Checked {
    ensure(g.enabled(), OpReason::Inconsistent)
}

/// What an op's check reads: its operands' definitions and the weights.
pub(crate) struct Check<'c, 'a> {
    /// The graph (constant data, requantization tables).
    pub graph: &'c Graph<'a>,
    /// Every input, in order (at least one).
    pub ins: &'c [TensorDef<'a>],
    /// Input 0.
    pub x: &'c TensorDef<'a>,
    /// The output.
    pub out: &'c TensorDef<'a>,
}

impl<'a> Check<'_, 'a> {
    /// Exactly `n` inputs.
    pub fn inputs(&self, n: usize) -> Checked {
        ensure(self.ins.len() == n, OpReason::Arity)
    }

    /// Input 0 and the output have the same shape.
    pub fn same_shape(&self) -> Checked {
        ensure(self.x.shape == self.out.shape, OpReason::Shape)
    }

    /// The f32 values of constant `t` (`None` unless an f32 constant).
    pub fn const_f32(&self, t: &TensorDef<'_>) -> Option<&'a [f32]> {
        if t.dtype != DType::F32 || !t.is_const() {
            return None;
        }
        bytemuck::try_cast_slice(self.graph.constant_bytes(t)?).ok()
    }

    /// The i32 values of constant `t` (`None` unless an i32 constant).
    pub fn const_i32(&self, t: &TensorDef<'_>) -> Option<&'a [i32]> {
        if t.dtype != DType::I32 || !t.is_const() {
            return None;
        }
        bytemuck::try_cast_slice(self.graph.constant_bytes(t)?).ok()
    }
}

/// Every tensor is f32.
pub(crate) fn f32s(ts: &[&TensorDef<'_>]) -> Checked {
    ensure(ts.iter().all(|t| t.dtype == DType::F32), OpReason::DType)
}

/// An int8 activation: dtype I8 with a per-tensor quantization.
pub(crate) fn int8_act(t: &TensorDef<'_>) -> Checked {
    ensure(t.dtype == DType::I8, OpReason::DType)?;
    ensure(t.per_tensor().is_some(), OpReason::Quantization)
}

/// A fused activation whose clamp range is a range.
pub(crate) fn act_ok(a: &Activation) -> Checked {
    let ok = match *a {
        Activation::Clip { min, max } => !min.is_nan() && !max.is_nan() && min <= max,
        _ => true,
    };
    ensure(ok, OpReason::Attribute)
}

/// A requantization the fixed-point helpers define: multiplier 0 or in `[2^30, 2^31)`,
/// shift in `-31..=30`.
pub(crate) fn rq_ok(r: &Requant) -> bool {
    (r.multiplier == 0 || r.multiplier >= 1 << 30) && (-31..=30).contains(&r.shift)
}

/// An int8 clamp range inside `-128..=127`.
pub(crate) fn act_range_ok(lo: i32, hi: i32) -> bool {
    lo <= hi && (-128..=127).contains(&lo) && (-128..=127).contains(&hi)
}

/// The requantization of a FullyConnected or Conv with `out_channels`: 1 or
/// `out_channels` valid pairs in the weights, an int8 clamp range, a per-tensor output.
fn qparams_ok(c: &Check<'_, '_>, q: &QParams, out_channels: usize) -> Checked {
    let ch = q.channels as usize;
    ensure(ch == 1 || ch == out_channels, OpReason::Quantization)?;
    ensure(act_range_ok(q.act_min, q.act_max), OpReason::Quantization)?;
    let table = c
        .graph
        .i32_table(q.requant, 2 * ch)
        .ok_or(OpReason::Quantization)?;
    ensure(c.out.per_tensor().is_some(), OpReason::Quantization)?;
    let pairs_ok = table.chunks_exact(2).all(|p| {
        rq_ok(&Requant {
            multiplier: p[0],
            shift: p[1],
        })
    });
    ensure(pairs_ok, OpReason::Quantization)
}

/// The bias and dtypes of a FullyConnected or Conv with `channels` output channels and
/// weights `w`: the bias (optional, input 2) a constant `[channels]`; all f32 without
/// `q`, else int8 activations, int8 weights, an int32 bias and requantization tables
/// for `channels`.
pub(crate) fn weighted_ok(
    c: &Check<'_, '_>,
    w: &TensorDef<'_>,
    q: Option<&QParams>,
    channels: u32,
) -> Checked {
    let bias = c.ins.get(2);
    if let Some(b) = bias {
        ensure(b.is_const(), OpReason::NotConstant)?;
        ensure(b.shape.as_slice() == [channels], OpReason::Shape)?;
    }
    match q {
        None => {
            f32s(&[c.x, w, c.out])?;
            ensure(bias.is_none_or(|b| b.dtype == DType::F32), OpReason::DType)
        }
        Some(q) => {
            int8_act(c.x)?;
            int8_act(c.out)?;
            ensure(w.dtype == DType::I8, OpReason::DType)?;
            ensure(bias.is_none_or(|b| b.dtype == DType::I32), OpReason::DType)?;
            qparams_ok(c, q, channels as usize)
        }
    }
}

impl Op {
    /// The operator group (Cargo feature) whose kernels run this op: each op module's
    /// `GROUP`. The loader rejects the ops of a group this build lacks
    /// (`Error::UnsupportedOp`), and each module's check and run return early without
    /// their group, so neither is linked.
    pub const fn group(&self) -> OpGroup {
        match self {
            Op::FullyConnected { .. } => fully_connected::GROUP,
            Op::MatMul => matmul::GROUP,
            Op::Conv { .. } => conv::GROUP,
            Op::MaxPool { .. } | Op::AvgPool { .. } | Op::GlobalAvgPool | Op::GlobalMaxPool => {
                pool::GROUP
            }
            Op::Binary { .. } => binary::GROUP,
            Op::Unary { op } => unary::group(op),
            Op::Lut => lut::GROUP,
            Op::Softmax { .. } => softmax::GROUP,
            Op::Reshape => reshape::GROUP,
            Op::Transpose { .. } => transpose::GROUP,
            Op::Concat { .. } => concat::GROUP,
            Op::Pad { .. } => pad::GROUP,
            Op::ArgMax { .. } => argmax::GROUP,
            Op::Quantize | Op::Dequantize | Op::Requantize { .. } => quantize::GROUP,
            Op::Cast => cast::GROUP,
            Op::Linear { .. } => linear::GROUP,
            Op::TreeEnsemble { .. } => tree_ensemble::GROUP,
            Op::Normalize { .. } => normalize::GROUP,
            Op::Slice { .. } => slice::GROUP,
            Op::Lrn { .. } => lrn::GROUP,
            Op::ConvNhwc { .. } | Op::DepthwiseNhwc { .. } => conv_nhwc::GROUP,
            Op::Recurrent { .. } => recurrent::GROUP,
        }
    }
}

/// Checks `op` on its operands (`c`); the caller has checked the graph-level facts
/// (operand indices and lifetimes, one output, the group enabled).
pub(crate) fn check(op: &Op, c: &Check<'_, '_>) -> Checked {
    match op {
        Op::FullyConnected { act, q: None }
            if c.ins.get(1).is_some_and(|w| w.dtype == DType::F16) =>
        {
            fully_connected_f16::check(c, act)
        }
        Op::FullyConnected { act, q } => fully_connected::check(c, act, q.as_ref()),
        Op::MatMul => matmul::check(c),
        Op::Conv {
            window,
            groups,
            act,
            q,
        } => conv::check(c, window, *groups, act, q.as_ref()),
        Op::MaxPool { window } => pool::check_window(c, window, false),
        Op::AvgPool { window, .. } => pool::check_window(c, window, true),
        Op::GlobalAvgPool | Op::GlobalMaxPool => pool::check_global(c),
        Op::Binary { op, act, q } => binary::check(c, *op, act, q.as_ref()),
        Op::Unary { op } => unary::check(c, op),
        Op::Lut => lut::check(c),
        Op::Softmax { axis, log } => softmax::check(c, *axis, *log),
        Op::Reshape => reshape::check(c),
        Op::Transpose { perm } => transpose::check(c, perm),
        Op::Concat { axis } => concat::check(c, *axis),
        Op::Pad { pads, value } => pad::check(c, pads, *value),
        Op::ArgMax { axis, keepdims, .. } => argmax::check(c, *axis, *keepdims),
        Op::Quantize => quantize::check_quantize(c),
        Op::Dequantize => quantize::check_dequantize(c),
        Op::Requantize { rq } => quantize::check_requantize(c, rq),
        Op::Cast => cast::check(c),
        Op::Linear { .. } => linear::check(c),
        Op::TreeEnsemble { .. } => tree_ensemble::check(c),
        Op::Normalize { .. } => normalize::check(c),
        Op::Slice { starts, steps } => slice::check(c, starts, steps),
        Op::Lrn {
            size,
            alpha,
            beta,
            bias,
        } => lrn::check(c, *size, [*alpha, *beta, *bias]),
        Op::ConvNhwc { window, act, q } => conv_nhwc::check(c, window, act, q.as_ref(), false),
        Op::DepthwiseNhwc { window, act, q } => conv_nhwc::check(c, window, act, q.as_ref(), true),
        Op::Recurrent {
            cell,
            direction,
            acts,
            clip,
        } => recurrent::check(c, *cell, *direction, acts, *clip),
    }
}

/// What an op's run reads: its operands, decoded on demand with the trusted decoders,
/// and their bytes in the arena (around the output, which the caller passes separately
/// as `y`: the plan makes it disjoint from every input) or the weights.
pub(crate) struct Cx<'r, 'a> {
    pub graph: &'r Graph<'a>,
    pub inputs: &'r [u32],
    /// The arena before the output.
    pub lo: &'r [u8],
    /// The arena after the output, which starts at arena offset `hi_base`.
    pub hi: &'r [u8],
    pub hi_base: usize,
    /// Input 0.
    pub x: TensorRef,
    /// The output.
    pub out: TensorRef,
    /// The op's index in the graph (for errors).
    pub op: u32,
}

impl<'r> Cx<'r, '_> {
    /// [`gate`] for a run.
    #[inline(always)]
    pub fn gate(&self, g: OpGroup) -> Result<()> {
        if g.enabled() {
            Ok(())
        } else {
            Err(self.internal())
        }
    }

    /// The error for an operand that disagrees with the validated model (its variant is
    /// a constant, so that a failed [`gate`](Self::gate) folds to a return).
    #[inline(always)]
    pub fn internal(&self) -> Error {
        Error::BadOp {
            op: self.op,
            reason: OpReason::Inconsistent,
        }
    }

    /// Input `k`, decoded.
    #[inline]
    pub fn operand(&self, k: usize) -> Result<TensorRef> {
        let mut t = TensorRef::EMPTY;
        let i = *self.inputs.get(k).ok_or(self.internal())?;
        self.graph.read_tensor(i, &mut t).ok_or(self.internal())?;
        Ok(t)
    }

    /// The bytes of operand `t`.
    #[inline]
    pub fn bytes(&self, t: &TensorRef) -> Result<&'r [u8]> {
        let (o, n) = (t.offset as usize, t.byte_len());
        let (src, o) = if t.weights {
            (self.graph.weights, o)
        } else if o.wrapping_add(n) <= self.lo.len() {
            (self.lo, o)
        } else {
            (self.hi, o.wrapping_sub(self.hi_base))
        };
        src.get(o..o.wrapping_add(n)).ok_or(self.internal())
    }

    /// The elements of operand `t`.
    #[inline]
    pub fn slice<T: bytemuck::Pod>(&self, t: &TensorRef) -> Result<&'r [T]> {
        cast(self.bytes(t)?)
    }

    /// The elements of input `k`.
    #[inline]
    pub fn input<T: bytemuck::Pod>(&self, k: usize) -> Result<&'r [T]> {
        self.slice(&self.operand(k)?)
    }

    /// The elements of input `k` if the op has it.
    #[inline]
    pub fn optional<T: bytemuck::Pod>(&self, k: usize) -> Result<Option<&'r [T]>> {
        if self.inputs.len() > k {
            self.input(k).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The per-tensor `(scale, zero_point)` of `t`.
    #[inline]
    pub fn per_tensor(&self, t: &TensorRef) -> Result<(f32, i32)> {
        t.per_tensor().ok_or(self.internal())
    }

    /// `n` i32 values at weights offset `offset` (a requantization table).
    #[inline]
    pub fn i32_table(&self, offset: u32, n: usize) -> Result<&'r [i32]> {
        self.graph.i32_table(offset, n).ok_or(self.internal())
    }
}

/// Bytes of scratch op `s` of the validated graph `g` needs beside its output (the
/// padding row of a [`Op::ConvNhwc`], the packed weights of a batched f32
/// [`Op::FullyConnected`]); `Model::arena_size` reserves the largest after
/// the graph's tensors.
pub(crate) fn scratch_bytes(g: &Graph<'_>, s: u32) -> usize {
    let Some(def) = g.op_ref(s) else {
        return 0;
    };
    let (mut x, mut out) = (TensorRef::EMPTY, TensorRef::EMPTY);
    let read = def.inputs().first().and_then(|&i| g.read_tensor(i, &mut x));
    if read
        .and_then(|_| g.read_tensor(def.output, &mut out))
        .is_none()
    {
        return 0;
    }
    match &def.op {
        Op::ConvNhwc { window, .. } => {
            conv_nhwc::scratch_bytes(x.shape(), out.shape(), window, x.dtype)
        }
        Op::FullyConnected { q: None, .. } => {
            // f16 weights run on their own kernels (fully_connected_f16), without
            // the f32 GEMM's packing scratch.
            let mut w = TensorRef::EMPTY;
            let f16 = def
                .inputs()
                .get(1)
                .and_then(|&i| g.read_tensor(i, &mut w))
                .is_some_and(|_| w.dtype == DType::F16);
            if f16 {
                0
            } else {
                fully_connected::f32_scratch_bytes(x.shape(), out.shape(), x.dtype)
            }
        }
        _ => 0,
    }
}

/// Runs `op` (validated by [`check`]) writing its output `y`; `scratch` holds at least
/// [`scratch_bytes`] (the arena after the graph's tensors).
pub(crate) fn run(op: &Op, cx: &Cx<'_, '_>, y: &mut [u8], scratch: &mut [u8]) -> Result<()> {
    match op {
        Op::FullyConnected { act, q: None } if cx.operand(1)?.dtype == DType::F16 => {
            fully_connected_f16::run(cx, y, act)
        }
        Op::FullyConnected { act, q } => fully_connected::run(cx, y, scratch, act, q.as_ref()),
        Op::MatMul => matmul::run(cx, y),
        Op::Conv {
            window,
            groups,
            act,
            q,
        } => conv::run(cx, y, window, *groups, act, q.as_ref()),
        Op::MaxPool { window } => pool::run_max(cx, y, window),
        Op::AvgPool {
            window,
            count_include_pad,
        } => pool::run_avg(cx, y, window, *count_include_pad),
        Op::GlobalAvgPool => pool::run_global(cx, y, true),
        Op::GlobalMaxPool => pool::run_global(cx, y, false),
        Op::Binary { op, act, q } => binary::run(cx, y, *op, act, q.as_ref()),
        Op::Unary { op } => unary::run(cx, y, *op),
        Op::Lut => lut::run(cx, y),
        Op::Softmax { axis, log } => softmax::run(cx, y, *axis, *log),
        Op::Reshape => reshape::run(cx, y),
        Op::Transpose { perm } => transpose::run(cx, y, perm),
        Op::Concat { axis } => concat::run(cx, y, *axis),
        Op::Pad { pads, value } => pad::run(cx, y, pads, *value),
        Op::ArgMax {
            axis, select_last, ..
        } => argmax::run(cx, y, *axis, *select_last),
        Op::Quantize => quantize::run_quantize(cx, y),
        Op::Dequantize => quantize::run_dequantize(cx, y),
        Op::Requantize { rq } => quantize::run_requantize(cx, y, rq),
        Op::Cast => cast::run(cx, y),
        Op::Linear { post } => linear::run(cx, y, *post),
        Op::TreeEnsemble { aggregate, post } => tree_ensemble::run(cx, y, *aggregate, *post),
        Op::Normalize { norm } => normalize::run(cx, y, *norm),
        Op::Slice { starts, steps } => slice::run(cx, y, starts, steps),
        Op::Lrn {
            size,
            alpha,
            beta,
            bias,
        } => lrn::run(cx, y, *size, [*alpha, *beta, *bias]),
        Op::ConvNhwc { window, act, q } => {
            conv_nhwc::run(cx, y, scratch, window, act, q.as_ref(), false)
        }
        Op::DepthwiseNhwc { window, act, q } => {
            conv_nhwc::run(cx, y, scratch, window, act, q.as_ref(), true)
        }
        Op::Recurrent {
            cell,
            direction,
            acts,
            clip,
        } => recurrent::run(cx, y, *cell, *direction, acts, *clip),
    }
}

/// The f32 clamp of a fused activation.
pub(crate) fn act_range(a: &Activation) -> (f32, f32) {
    match *a {
        Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
        Activation::Relu => (0.0, f32::INFINITY),
        Activation::Clip { min, max } => (min, max),
    }
}

/// Bytes as elements of `T` (the arena and the weights are 16-byte aligned and every
/// tensor offset too, so this fails only on an inconsistent record).
pub(crate) fn cast<T: bytemuck::Pod>(b: &[u8]) -> Result<&[T]> {
    bytemuck::try_cast_slice(b).map_err(|_| Error::Misaligned)
}

/// [`cast`] of the output.
pub(crate) fn cast_mut<T: bytemuck::Pod>(b: &mut [u8]) -> Result<&mut [T]> {
    bytemuck::try_cast_slice_mut(b).map_err(|_| Error::Misaligned)
}
