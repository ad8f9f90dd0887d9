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
//! with [`gate`](common::gate)`(GROUP)`, a constant, so a build without the group links neither the
//! checks nor the kernels.
//!
//! `run` relies on `check`: the executor reads operands with the trusted decoders and
//! calls kernels without re-validating (see [`crate::kernels`] for their contract).

mod argmax;
mod binary;
mod cast;
mod common;
mod concat;
mod conv;
mod conv_nchw;
mod conv_nhwc;
mod fully_connected;
mod fully_connected_f16;
mod grid_sample;
mod linear;
mod lrn;
mod lut;
mod matmul;
mod normalize;
mod pad;
mod pool;
mod pool_nhwc;
mod quantize;
mod recurrent;
mod reduce;
mod reshape;
mod slice;
mod softmax;
mod transpose;
mod tree_ensemble;
mod unary;
mod window;

use crate::error::Result;
use crate::format::types::{DType, Op, OpGroup, TensorDef, TensorRef};
use crate::graph::Graph;
pub(crate) use common::{Check, Checked, Cx};

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
            Op::GridSample { .. } => grid_sample::GROUP,
            Op::MaxPoolNhwc { .. } | Op::AvgPoolNhwc { .. } => pool::GROUP,
            Op::GlobalProd => reduce::GROUP,
            Op::ConvNchw { .. } | Op::ConvNchwI8 { .. } => conv_nchw::GROUP,
        }
    }
}

impl Op {
    /// Whether this build has the kernels of `op` on its operands `ins`: its
    /// [`group`](Op::group), [`OpGroup::F16`] when its weights (input 1) are f16,
    /// [`OpGroup::ConvF32`] for a conv or pool op on f32 activations and
    /// [`OpGroup::Nchw`] for the NCHW conv and pool ops.
    pub(crate) fn groups_enabled(&self, ins: &[TensorDef<'_>]) -> bool {
        let dtype = |i: usize| ins.get(i).map(|t| t.dtype);
        let f16 = matches!(
            self,
            Op::FullyConnected { .. } | Op::ConvNhwc { .. } | Op::DepthwiseNhwc { .. }
        ) && dtype(1) == Some(DType::F16);
        let conv_f32 =
            matches!(self.group(), OpGroup::Conv | OpGroup::Pool) && dtype(0) == Some(DType::F32);
        // (Constant false without the conv and pool groups, whose test already refuses
        // these ops: no code in an MLP build.)
        let nchw = (OpGroup::Conv.enabled() || OpGroup::Pool.enabled())
            && matches!(
                self,
                Op::Conv { .. }
                    | Op::MaxPool { .. }
                    | Op::AvgPool { .. }
                    | Op::GlobalAvgPool
                    | Op::GlobalMaxPool
            );
        self.group().enabled()
            && (!nchw || OpGroup::Nchw.enabled())
            && (!f16 || OpGroup::F16.enabled())
            && (!conv_f32 || OpGroup::ConvF32.enabled())
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
        Op::GridSample { .. } => grid_sample::check(c),
        Op::MaxPoolNhwc { window } => pool_nhwc::check(c, window, false),
        Op::AvgPoolNhwc { window, .. } => pool_nhwc::check(c, window, true),
        Op::GlobalProd => reduce::check(c),
        Op::ConvNchw { window, act } => conv_nchw::check(c, window, act),
        Op::ConvNchwI8 { window, act, .. } => conv_nchw::check_i8(c, window, act, &nchw_i8(op)),
    }
}

/// Bytes of scratch op `s` of the validated graph `g` needs beside its output (the
/// padding row of a [`Op::ConvNhwc`], the packed weights of a batched f32
/// [`Op::FullyConnected`]); `Model::arena_size` reserves the largest after
/// the graph's tensors.
pub(crate) fn scratch_bytes(g: &Graph<'_>, s: u32) -> usize {
    // Both users are the conv engine's (the NHWC conv, the batched f32 FC's GEMM): a
    // build without group Conv needs no scratch and links none of this.
    if !OpGroup::Conv.enabled() {
        return 0;
    }
    let Some(def) = g.op_ref(s) else {
        return 0;
    };
    let (mut x, mut out) = (TensorRef::EMPTY, TensorRef::EMPTY);
    let read = def.inputs().first().and_then(|&i| g.read_tensor(i, &mut x));
    if read
        .and_then(|_| g.read_tensor(def.io.output, &mut out))
        .is_none()
    {
        return 0;
    }
    match &def.op {
        Op::ConvNhwc { window, .. } => {
            conv_nhwc::scratch_bytes(x.shape(), out.shape(), window, x.dtype)
        }
        Op::ConvNchw { window, .. } => conv_nchw::scratch_bytes(x.shape(), out.shape(), window),
        Op::ConvNchwI8 { window, .. } => {
            conv_nchw::scratch_bytes_i8(x.shape(), out.shape(), window)
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
        // (Only the weights' dtype tag is read; a build without f16 kernels loads no
        // f16 weights, so it does not look.)
        Op::FullyConnected { act, q: None } if OpGroup::F16.enabled() && is_f16(cx, 1) => {
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
        Op::GridSample {
            mode,
            padding,
            align_corners,
        } => grid_sample::run(cx, y, *mode, *padding, *align_corners),
        Op::MaxPoolNhwc { window } => pool_nhwc::run(cx, y, window, None),
        Op::AvgPoolNhwc {
            window,
            count_include_pad,
        } => pool_nhwc::run(cx, y, window, Some(*count_include_pad)),
        Op::GlobalProd => reduce::run(cx, y),
        Op::ConvNchw { window, act } => conv_nchw::run(cx, y, scratch, window, act),
        Op::ConvNchwI8 { window, .. } => conv_nchw::run_i8(cx, y, scratch, window, &nchw_i8(op)),
    }
}

/// Whether input `k` of the op is f16: from the session's plan when it has the
/// operand, else from the record's dtype tag ([`Graph::is_f16`]).
#[inline]
fn is_f16(cx: &Cx<'_, '_>, k: usize) -> bool {
    #[cfg(all(feature = "session-plan", not(target_os = "none")))]
    if let Some(t) = cx.known.get(k) {
        return t.dtype == DType::F16;
    }
    cx.inputs.get(k).is_some_and(|&w| cx.graph.is_f16(w))
}

/// The int8 fields of a [`Op::ConvNchwI8`] (default ones for any other op).
fn nchw_i8(op: &Op) -> conv_nchw::I8Fields {
    match *op {
        Op::ConvNchwI8 {
            x_scale,
            x_zero_point,
            act_min,
            act_max,
            ..
        } => conv_nchw::I8Fields {
            x: (x_scale, x_zero_point),
            act: (act_min, act_max),
        },
        _ => conv_nchw::I8Fields {
            x: (0.0, 0),
            act: (0, 0),
        },
    }
}
