//! Parameter structs of the kernels: one per kernel family, shared by the reference
//! kernels, the optimized drivers and every SIMD module, so that a kernel signature
//! reads `(params, inputs, output stage, output)` on every layer.
//!
//! A struct holds what the loader computed once (shapes, window geometry, the
//! quantized output stage); the slices are the data. The kernels do not re-validate
//! (see the shared contract in [`crate::kernels`]).

use crate::format::types::{Cell, Direction, UnaryOp, Window};

/// Shape of a fully connected layer: `y[batch, n] = x[batch, k] · w[n, k]ᵀ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullyConnectedParams {
    /// Rows of `x` and of `y`.
    pub batch: usize,
    /// Input features: the columns of `x` and of `w`.
    pub k: usize,
    /// Output features: the rows of `w` and the columns of `y`.
    pub n: usize,
}

/// Geometry of a 2D convolution with groups, in ONNX layouts (1D convolutions have
/// height 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvParams {
    /// Input shape `[N, C, H, W]` (NCHW).
    pub x: [usize; 4],
    /// Weight shape `[M, C / groups, KH, KW]`; the kernel size is taken from here.
    pub w: [usize; 4],
    /// Output shape `[N, M, OH, OW]` (computed by the caller from `window`).
    pub y: [usize; 4],
    /// Stride, dilation and pads `[top, left, bottom, right]` (`window.kernel` agrees
    /// with `w`).
    pub window: Window,
    /// Output channel `m` belongs to group `m / (M / groups)` and reads the input
    /// channels of that group; depthwise is `groups = C`.
    pub groups: usize,
}

/// Geometry of a 2D pool over NCHW planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    /// Input shape `[N, C, H, W]`.
    pub x: [usize; 4],
    /// Output shape `[N, C, OH, OW]`.
    pub y: [usize; 4],
    /// Kernel, stride, dilation and pads.
    pub window: Window,
    /// Average pools only: padded cells count in the divisor (ONNX
    /// `count_include_pad`).
    pub count_include_pad: bool,
}

/// Shapes of an element-wise op with numpy broadcasting (and of the batch axes of a
/// matrix product): `a` and `b` are right-aligned against `y`; ranks may differ, rank 0
/// is a scalar, each dimension equals the output's or is 1; rank at most
/// [`MAX_RANK`](crate::format::types::MAX_RANK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BroadcastShapes<'s> {
    /// Shape of the first operand.
    pub a: &'s [usize],
    /// Shape of the second operand.
    pub b: &'s [usize],
    /// Shape of the output.
    pub y: &'s [usize],
}

/// Output stage (epilogue) of the f32 kernels that accumulate: add the bias of the
/// output channel, then clamp to `[act_min, act_max]` (the fused activation;
/// `(-inf, inf)` is none). The clamp lets NaN through.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct F32Out<'a> {
    /// One bias per output channel, or none.
    pub bias: Option<&'a [f32]>,
    /// Lower bound of the fused activation.
    pub act_min: f32,
    /// Upper bound of the fused activation.
    pub act_max: f32,
}

impl F32Out<'_> {
    /// The output of channel `ch` for the sum `acc`: `clamp(acc + bias[ch])`.
    #[inline(always)]
    pub fn apply(&self, acc: f32, ch: usize) -> f32 {
        let acc = match self.bias {
            Some(b) => acc + b[ch],
            None => acc,
        };
        clamp(acc, (self.act_min, self.act_max))
    }
}

/// Output stage (epilogue) of the int8 kernels that accumulate in i32 (TFLite's
/// quantized output): `y = clamp(zero_point + mbqm(acc + bias[ch], requant[ch]),
/// act_min, act_max)`, saturated to i8.
///
/// `requant` holds interleaved `(multiplier, shift)` i32 pairs, `2 * channels` long,
/// where `channels` is 1 (per tensor: the pair applies to every output channel) or the
/// number of output channels (pair `c` for output channel `c`). A missing pair reads
/// as `(0, 0)` (output = zero point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantOut<'a> {
    /// One i32 bias per output channel (in units of input scale × weight scale), or none.
    pub bias: Option<&'a [i32]>,
    /// The `(multiplier, shift)` pairs.
    pub requant: &'a [i32],
    /// Zero point of the output tensor.
    pub zero_point: i32,
    /// Lower clamp of the quantized output (fused activation).
    pub act_min: i32,
    /// Upper clamp of the quantized output.
    pub act_max: i32,
}

/// The `(multiplier, shift)` pair of output channel `ch` in a requantization table of 1
/// (per-tensor) or `channels` interleaved pairs; a missing pair reads as `(0, 0)`.
#[inline]
pub(crate) fn rq_pair(rq: &[i32], ch: usize) -> (i32, i32) {
    let i = if rq.len() <= 2 { 0 } else { 2 * ch };
    match (rq.get(i), rq.get(i + 1)) {
        (Some(&m), Some(&s)) => (m, s),
        _ => (0, 0),
    }
}

impl QuantOut<'_> {
    /// The `(multiplier, shift)` pair of output channel `ch`.
    #[inline]
    pub fn pair(&self, ch: usize) -> (i32, i32) {
        rq_pair(self.requant, ch)
    }

    /// The bias of output channel `ch` (0 without a bias).
    #[inline(always)]
    pub fn bias_of(&self, ch: usize) -> i32 {
        self.bias.map_or(0, |b| b[ch])
    }

    /// The output of channel `ch` for the accumulator `acc` (bias not yet added).
    #[inline]
    pub fn apply(&self, acc: i32, ch: usize) -> i8 {
        let acc = match self.bias {
            Some(b) => acc.wrapping_add(b[ch]),
            None => acc,
        };
        super::reference::fixed::requant(
            acc,
            self.pair(ch),
            self.zero_point,
            self.act_min,
            self.act_max,
        )
    }
}

/// Local response normalization across channels (ONNX LRN) of an `[n, c, inner]`
/// tensor: `y = x / (bias + alpha / size * sum x[c']^2)^beta` over the channels
/// `c' in [c - (size-1)/2, c + size/2]` clipped to `[0, c)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrnParams {
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Product of the spatial dimensions.
    pub inner: usize,
    /// Channels in the window.
    pub size: usize,
    /// Scale of the sum of squares (divided by `size`).
    pub alpha: f32,
    /// Exponent.
    pub beta: f32,
    /// Added to the scaled sum.
    pub bias: f32,
}

/// Geometry and attributes of an ONNX LSTM / GRU / RNN (`Op::Recurrent`), see
/// [`recurrent::recurrent`](super::recurrent::recurrent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecurrentParams<'a> {
    /// The cell.
    pub cell: Cell,
    /// Forward, reverse or both.
    pub direction: Direction,
    /// Time steps `S`.
    pub seq: usize,
    /// Batch `B`.
    pub batch: usize,
    /// Input features `I`.
    pub input: usize,
    /// Hidden size `H`.
    pub hidden: usize,
    /// `cell.activations()` per direction, the forward direction's first.
    pub acts: &'a [UnaryOp],
    /// Gate pre-activations are clamped to `[-clip, clip]` (infinity: no clip).
    pub clip: f32,
}

/// The constant operands of a recurrent op, ONNX layouts: `w [D, G·H, I]`,
/// `r [D, G·H, H]`, `b [D, 2·G·H]`, LSTM peepholes `p [D, 3·H]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecurrentWeights<'a> {
    /// Input weights.
    pub w: &'a [f32],
    /// Recurrent weights.
    pub r: &'a [f32],
    /// Input biases then recurrent biases, per direction.
    pub b: &'a [f32],
    /// LSTM peepholes (`i, o, f`), if any.
    pub p: Option<&'a [f32]>,
}

/// Clamp that keeps NaN (unlike `f32::clamp`, it never panics on `min > max`).
#[inline]
pub(crate) fn clamp(v: f32, (min, max): (f32, f32)) -> f32 {
    if v < min {
        min
    } else if v > max {
        max
    } else {
        v
    }
}
