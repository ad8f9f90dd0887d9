//! What every op module shares: the check helpers ([`Check`], [`ensure`], [`gate`], the
//! quantization and activation checks) and the run context ([`Cx`], [`cast`]). The op
//! modules and the dispatch in `ops` use this module; it uses none of them.

use crate::error::{Error, OpReason, Result};
use crate::format::types::{Activation, DType, OpGroup, QParams, Requant, TensorDef, TensorRef};
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
    /// Inputs `0..known.len()` already decoded (a session's plan, see
    /// `Session::run`; off microcontrollers), or none.
    #[cfg(all(feature = "session-plan", not(target_os = "none")))]
    pub known: &'r [TensorRef],
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
        #[cfg(all(feature = "session-plan", not(target_os = "none")))]
        if let Some(t) = self.known.get(k) {
            return Ok(*t);
        }
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
