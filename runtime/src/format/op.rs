//! The ops of the graph and their attributes (re-exported by [`super::types`]).
//!
//! Every record here is postcard-encoded; the variant index of each enum is its wire
//! encoding, so new variants go at the end (see `docs/format.md`).

use heapless::Vec as HVec;
use serde::{Deserialize, Serialize};

pub use super::classic::{Aggregate, Norm, PostTransform};
pub use super::grid::{GridMode, GridPadding};
pub use super::group::OpGroup;
use super::limits::{MAX_OP_INPUTS, MAX_OP_OUTPUTS, MAX_RANK};
pub use super::recurrent::{Cell, Direction};

/// A fused activation, applied to the op's output before it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// No activation.
    None,
    /// `max(0, v)`.
    Relu,
    /// Clamp to `[min, max]` (Relu6 is `Clip { 0, 6 }`).
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

/// Fixed-point rescale as in TFLite: `x * multiplier * 2^(shift - 31)`, rounded with
/// gemmlowp's rules (`multiplier` in `[2^30, 2^31)` or 0; `shift` in `-31..=30`, a
/// positive shift is a left shift).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Requant {
    /// Q0.31 multiplier.
    pub multiplier: i32,
    /// Power-of-two exponent (positive: left shift).
    pub shift: i32,
}

/// Integer parameters shared by the int8 kernels that accumulate in i32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QParams {
    /// Weights-section offset of `channels` pairs of little-endian i32
    /// `(multiplier, shift)`, one per output channel (a single pair for per-tensor).
    pub requant: u32,
    /// Number of `(multiplier, shift)` pairs at `requant` (1 or the output channels).
    pub channels: u32,
    /// Lower clamp of the quantized output (the fused activation).
    pub act_min: i32,
    /// Upper clamp of the quantized output.
    pub act_max: i32,
}

/// Element-wise binary operators (numpy broadcasting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// numpy `maximum` (NaN propagates).
    Max,
    /// numpy `minimum` (NaN propagates).
    Min,
    /// `a ^ b` (`powf`).
    Pow,
    /// `a - trunc(a / b) * b` computed exactly (C `fmodf`, ONNX Mod with `fmod = 1`;
    /// format 1.3).
    Fmod,
    /// The remainder with the sign of `b`, `a - floor(a / b) * b` computed exactly
    /// (numpy `mod`, ONNX Mod with `fmod = 0`; format 1.4): `fmod(a, b)`, plus `b` when
    /// that is non-zero and of the other sign than `b`.
    Mod,
}

/// Element-wise unary operators (f32; int8 graphs use [`Op::Lut`]); the definitions
/// are those of ONNX (`kernels::f32::unary`). `Round` rounds half to even, `Sign` gives
/// -1, 0 or 1.
///
/// The variant index is the wire encoding: new variants go at the end.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnaryOp {
    /// `max(0, v)`.
    Relu,
    /// Clamp to `[min, max]`.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// `v` for `v >= 0`, else `alpha * v`.
    LeakyRelu {
        /// Slope below 0.
        alpha: f32,
    },
    /// `v` for `v >= 0`, else `alpha * (e^v - 1)`.
    Elu {
        /// Scale below 0.
        alpha: f32,
    },
    /// `1 / (1 + e^-v)`.
    Sigmoid,
    /// `tanh(v)`.
    Tanh,
    /// `max(0, min(1, alpha * v + beta))`.
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// `v * max(0, min(1, v / 6 + 0.5))`.
    HardSwish,
    /// `e^v`.
    Exp,
    /// Natural logarithm.
    Log,
    /// Square root.
    Sqrt,
    /// `-v`.
    Neg,
    /// `|v|`.
    Abs,
    /// `1 / v`.
    Reciprocal,
    /// Round down.
    Floor,
    /// Round up.
    Ceil,
    /// The error function.
    Erf,
    /// `ln(1 + e^v)`.
    Softplus,
    /// `0.5 v (1 + erf(v / sqrt 2))`.
    Gelu,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Tangent.
    Tan,
    /// Arc sine.
    Asin,
    /// Arc cosine.
    Acos,
    /// Arc tangent.
    Atan,
    /// Hyperbolic sine.
    Sinh,
    /// Hyperbolic cosine.
    Cosh,
    /// Inverse hyperbolic sine.
    Asinh,
    /// Inverse hyperbolic cosine.
    Acosh,
    /// Inverse hyperbolic tangent.
    Atanh,
    /// Round to the nearest integer, ties to even.
    Round,
    /// -1, 0 or 1 (NaN passes through).
    Sign,
    /// ONNX Shrink (format 1.4): `v + bias` for `v < -lambd`, `v - bias` for
    /// `v > lambd`, else 0.
    Shrink {
        /// Half-width of the zeroed band.
        lambd: f32,
        /// Moves the values outside the band towards 0.
        bias: f32,
    },
}

impl UnaryOp {
    /// The functions every build has ([`OpGroup::Core`]); the others are
    /// [`OpGroup::Math`].
    pub const fn is_core(&self) -> bool {
        matches!(
            self,
            UnaryOp::Relu
                | UnaryOp::Clip { .. }
                | UnaryOp::LeakyRelu { .. }
                | UnaryOp::Sigmoid
                | UnaryOp::Tanh
        )
    }
}

/// Int8 parameters of an element-wise binary op (TFLite `add`/`mul` arithmetic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QBinary {
    /// Zero point of input `a`.
    pub a_zero_point: i32,
    /// Zero point of input `b`.
    pub b_zero_point: i32,
    /// Zero point of the output.
    pub out_zero_point: i32,
    /// Add/Sub: the inputs are shifted left by `left_shift` then rescaled by `a`/`b`.
    pub left_shift: i32,
    /// Add/Sub: rescale of input `a` to the common scale.
    pub a: Requant,
    /// Add/Sub: rescale of input `b` to the common scale.
    pub b: Requant,
    /// Final rescale to the output scale.
    pub out: Requant,
    /// Lower clamp of the quantized output (the fused activation).
    pub act_min: i32,
    /// Upper clamp of the quantized output.
    pub act_max: i32,
}

/// Spatial parameters of Conv and the pools, in 2D; 1D ops use height 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Window {
    /// Kernel (height, width).
    pub kernel: [u32; 2],
    /// Stride (height, width).
    pub stride: [u32; 2],
    /// Dilation (height, width).
    pub dilation: [u32; 2],
    /// Padding (top, left, bottom, right).
    pub pads: [u32; 4],
}

/// One operator, with its attributes. Tensor operands are listed in [`OpDef`]; what
/// each op accepts is checked by its module under `runtime/src/ops/` and listed in
/// `docs/ops.md`.
///
/// Layouts follow ONNX: activations are NCHW (NCW for 1D), Conv weights are
/// `[out_channels, in_channels / groups, kh, kw]`, FullyConnected weights `[N, K]`.
/// The variant index is the wire encoding: new variants go at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `y[b, n] = act(sum_k x[b, k] * w[n, k] + bias[n])`.
    /// Inputs: x `[B, K]`, w `[N, K]` constant, optional bias `[N]` (f32 or i32).
    FullyConnected {
        /// Fused activation (f32; int8 clamps with `q`).
        act: Activation,
        /// int8 requantization; `None` for f32.
        q: Option<QParams>,
    },
    /// Batched matrix product of two tensors with numpy broadcasting (f32).
    MatMul,
    /// 1D/2D convolution with groups (depthwise when groups == channels).
    /// Inputs: x `[N, C, H, W]`, w, optional bias `[M]`.
    Conv {
        /// Kernel, stride, dilation, pads.
        window: Window,
        /// Channel groups (`C` and `M` are multiples of it).
        groups: u32,
        /// Fused activation (f32; int8 clamps with `q`).
        act: Activation,
        /// int8 requantization; `None` for f32.
        q: Option<QParams>,
    },
    /// Max pool (f32 or int8 raw values).
    MaxPool {
        /// Kernel, stride, dilation, pads.
        window: Window,
    },
    /// Average pool (f32 or int8).
    AvgPool {
        /// Kernel, stride, dilation, pads.
        window: Window,
        /// Padded cells count in the divisor.
        count_include_pad: bool,
    },
    /// Mean over all spatial positions: `[N, C, ...] -> [N, C, 1, ...]`.
    GlobalAvgPool,
    /// Max over all spatial positions: `[N, C, ...] -> [N, C, 1, ...]`.
    GlobalMaxPool,
    /// Element-wise binary op with numpy broadcasting (f32; int8 Add, Sub, Mul).
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Fused activation (f32; int8 clamps with `q`).
        act: Activation,
        /// int8 parameters; `None` for f32.
        q: Option<QBinary>,
    },
    /// Element-wise f32 function.
    Unary {
        /// The function.
        op: UnaryOp,
    },
    /// Int8/uint8 element-wise function through a 256-entry table (input 1, constant).
    Lut,
    /// Softmax / LogSoftmax along `axis`. Int8: input 1 is a 256-entry u32 table of
    /// `exp(-scale * beta * d)` in Q0.31 for d = 0..255, output scale 1/256, zp -128.
    Softmax {
        /// The axis normalized.
        axis: u8,
        /// LogSoftmax (f32 only).
        log: bool,
    },
    /// Copy with a new shape (Reshape, Flatten, Squeeze, Unsqueeze).
    Reshape,
    /// Permutation of the axes (any dtype).
    Transpose {
        /// Output axis `k` is input axis `perm[k]`.
        perm: HVec<u8, MAX_RANK>,
    },
    /// Concatenation along one axis (any dtype).
    Concat {
        /// The axis joined.
        axis: u8,
    },
    /// Constant padding.
    Pad {
        /// The begins of every axis, then the ends.
        pads: HVec<u32, { 2 * MAX_RANK }>,
        /// The fill, in the tensor's own domain (an f32, or a quantized integer).
        value: f32,
    },
    /// Index of the largest value along `axis` (output i64).
    ArgMax {
        /// The axis searched.
        axis: u8,
        /// Keep the axis with length 1.
        keepdims: bool,
        /// On ties, the last index (else the first).
        select_last: bool,
    },
    /// f32 -> int8/uint8 with the output tensor's quantization.
    Quantize,
    /// int8/uint8 -> f32 with the input tensor's quantization.
    Dequantize,
    /// int8 -> int8 with a new scale and zero point (input and output quantization).
    Requantize {
        /// Input scale / output scale.
        rq: Requant,
    },
    /// Element type conversion (f16 weights -> f32 scratch, i64 <-> i32, ints <-> f32).
    Cast,
    /// ONNX-ML LinearClassifier / LinearRegressor:
    /// `y[b, n] = post(sum_k x[b, k] * w[n, k] + bias[n])`. Inputs: x `[B, K]` f32,
    /// w `[N, K]` f32 constant, bias `[N]` f32 constant. Output `[B, N]` f32 (class
    /// scores / probabilities or targets).
    Linear {
        /// Applied to each output row.
        post: PostTransform,
    },
    /// ONNX-ML TreeEnsembleClassifier / TreeEnsembleRegressor over flat node arrays
    /// (see `docs/format.md`). Inputs: x `[B, F]` f32, nodes `[N, 4]` i32, roots `[R]`
    /// i32, leaf targets `[L]` i32, leaf weights `[L]` f32, base values `[T]` f32 (all
    /// but x constant). Output `[B, T]` f32.
    TreeEnsemble {
        /// How the trees' leaf values combine.
        aggregate: Aggregate,
        /// Applied to each output row.
        post: PostTransform,
    },
    /// ONNX-ML Normalizer over the last axis (f32).
    Normalize {
        /// The norm divided by.
        norm: Norm,
    },
    /// Strided slice with static bounds (ONNX Slice, tract Downsample), any dtype: output
    /// element `i` along axis `d` is input element `starts[d] + i * steps[d]` (steps may
    /// be negative, never 0). The output shape is the output tensor's; the loader checks
    /// every read index lies inside the input.
    Slice {
        /// First index read per axis.
        starts: HVec<i32, MAX_RANK>,
        /// Step per axis.
        steps: HVec<i32, MAX_RANK>,
    },
    /// Local response normalization across channels (axis 1, f32, ONNX LRN):
    /// `y = x / (bias + alpha / size * sum_{c' in window} x[c']^2)^beta`, window
    /// `[c - (size-1)/2, c + size/2]` clipped to the channels.
    Lrn {
        /// Channels in the window.
        size: u32,
        /// Scale of the sum of squares.
        alpha: f32,
        /// Exponent.
        beta: f32,
        /// Added to the scaled sum.
        bias: f32,
    },
    // ---- Format minor 1: the NHWC engine ops (issue #14). Activations are
    // channels-last, weights are packed once at conversion by the engine's `pack_*`
    // functions (`kernels::engine`), so the layouts are those of its module docs. ----
    /// 2D convolution (k×k, 1×1; 1D as height 1) of NHWC activations on the engine.
    /// Inputs: x `[N, H, W, C]` (f32 or int8, per-tensor), the packed weights (a 1D
    /// constant: f32 elements from `pack_f32_conv` for f32, u8 bytes from
    /// `pack_i8_conv` packed for x's zero point for int8; bias and int8 requantization
    /// are inside), an optional residual `[N, OH, OW, M]` (the output's dtype) added
    /// by the fused epilogue. Output `[N, OH, OW, M]`.
    ConvNhwc {
        /// Kernel, stride, dilation, pads (the output size floors, as ONNX Conv).
        window: Window,
        /// Fused activation (f32; int8 clamps with `q`).
        act: Activation,
        /// int8 output parameters; `None` for f32.
        q: Option<QNhwc>,
    },
    /// Depthwise convolution (one filter per channel, `M = C`) of NHWC activations on
    /// the engine. Inputs as [`Op::ConvNhwc`], weights from `pack_f32_dwconv` /
    /// `pack_i8_dwconv`.
    DepthwiseNhwc {
        /// Kernel, stride, dilation, pads.
        window: Window,
        /// Fused activation (f32; int8 clamps with `q`).
        act: Activation,
        /// int8 output parameters; `None` for f32.
        q: Option<QNhwc>,
    },

    // --- Recurrent ops (issue #16). One contiguous block: keep it together. ---
    /// ONNX LSTM / GRU / RNN over a whole sequence, f32, ONNX `layout` 0, no
    /// `sequence_lens`. Inputs: x `[S, B, I]`, w `[D, G·H, I]`, r `[D, G·H, H]`,
    /// b `[D, 2·G·H]` (`[Wb, Rb]`), initial_h `[D, B, H]`; LSTM also initial_c
    /// `[D, B, H]` and optionally the peepholes p `[D, 3·H]`. w, r, b and p are
    /// constants, or from format 1.4 on tensors computed at run time. `G`
    /// is 4 (LSTM, gates `iofc`), 3 (GRU, `zrh`) or 1 (RNN); `D` is 2 when
    /// bidirectional, else 1. The one output `[S + K, D, B, H]` packs the ONNX outputs:
    /// rows `0..S` are `Y`, row `S` is `Y_h`, and for LSTM (`K = 2`) row `S + 1` is
    /// `Y_c` (`K = 1` otherwise).
    Recurrent {
        /// The cell and its gates.
        cell: Cell,
        /// Forward, reverse or both.
        direction: Direction,
        /// The ONNX `activations`, exactly `n · D` of them (`n` = 3 for LSTM: f, g, h;
        /// 2 for GRU: f, g; 1 for RNN), the forward direction's first: each one of
        /// Sigmoid, Tanh, Relu, LeakyRelu, HardSigmoid, Elu, Softplus.
        acts: HVec<UnaryOp, 6>,
        /// The ONNX `clip`: gate pre-activations are clamped to `[-clip, clip]`.
        clip: Option<f32>,
    },

    // --- Sampling ops (issue #16, format minor 3). ---
    /// ONNX GridSample (f32): samples x `[N, C, D1..Dr]` (r = 1, 2 or 3 spatial axes)
    /// at the normalized coordinates of grid `[N, O1..Or, r]` (last axis innermost
    /// first: `(x, y[, z])`, -1 and 1 the edges, or the corner pixels' centres with
    /// `align_corners`). Output `[N, C, O1..Or]`.
    GridSample {
        /// Nearest (round half to even), linear or cubic (Keys, a = -0.75) taps.
        mode: GridMode,
        /// What taps outside the input read.
        padding: GridPadding,
        /// -1 and 1 are the centres of the corner pixels (else their outer edges).
        align_corners: bool,
    },
    // --- NHWC pools (format 1.3). ---
    /// Max pool of NHWC activations (f32 or int8 raw values; input and output share
    /// dtype and quantization): x `[N, H, W, C]`, output `[N, OH, OW, C]` (floor or
    /// ceil mode, as [`Op::MaxPool`]). A global max pool is the window `[H, W]`.
    MaxPoolNhwc {
        /// Kernel, stride, dilation, pads.
        window: Window,
    },
    /// Average pool of NHWC activations (f32 or int8, as [`Op::AvgPool`]): x
    /// `[N, H, W, C]`, output `[N, OH, OW, C]`. A global average pool is the window
    /// `[H, W]`.
    AvgPoolNhwc {
        /// Kernel, stride, dilation, pads.
        window: Window,
        /// Padded cells count in the divisor.
        count_include_pad: bool,
    },
    // --- Reductions beyond the pools (issue #16, format 1.4). ---
    /// Product over all positions after the first two axes (f32, ONNX ReduceProd):
    /// `[N, C, ...] -> [N, C, 1, ...]`, the positions multiplied in order.
    GlobalProd,
    // --- Format 1.5 (issue #14). ---
    /// f32 conv of an **NCHW** image with 1–4 channels (a first layer reading the graph
    /// input) into NHWC: x `[N, C, H, W]`, packed weights as [`Op::ConvNhwc`]'s f32
    /// (`pack_f32_conv`); output `[N, OH, OW, M]`. A Transpose to NHWC and an f32
    /// `ConvNhwc`, without the transpose.
    ConvNchw {
        /// Kernel, stride, dilation, pads (the output size floors, as ONNX Conv).
        window: Window,
        /// Fused activation.
        act: Activation,
    },
    // --- Format 1.6 (issue #14). ---
    /// int8 conv of an **f32 NCHW** image with 1–4 channels (a first layer reading the
    /// graph input) into int8 NHWC: x `[N, C, H, W]` f32, quantized with `x_scale`,
    /// `x_zero_point` as it is read (the `Quantize` op's arithmetic); int8 packed
    /// weights as [`Op::ConvNhwc`]'s for that zero point; output `[N, OH, OW, M]` int8.
    /// `Quantize`, a Transpose to NHWC and an int8 `ConvNhwc` (no residual), as one op.
    ConvNchwI8 {
        /// Kernel, stride, dilation, pads (the output size floors, as ONNX Conv).
        window: Window,
        /// The fused activation (informative: the clamp is `act_min..=act_max`).
        act: Activation,
        /// Scale of the quantized input.
        x_scale: f32,
        /// Zero point of the quantized input (-128..=127).
        x_zero_point: i32,
        /// Lower clamp of the quantized output.
        act_min: i32,
        /// Upper clamp of the quantized output.
        act_max: i32,
    },
}

/// int8 output parameters of the NHWC engine ops ([`Op::ConvNhwc`],
/// [`Op::DepthwiseNhwc`]); the per-channel requantization is in the packed weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QNhwc {
    /// Lower clamp of the conv's quantized output (the fused activation).
    pub act_min: i32,
    /// Upper clamp of the conv's quantized output.
    pub act_max: i32,
    /// A fused residual `Add` (input 2): the conv's clamped output, quantized with
    /// zero point `a_zero_point`, is the Add's input `a`, the residual its input `b`,
    /// and the op's output tensor the Add's output (reference int8 `Add` arithmetic).
    /// Without it the conv's output zero point is the output tensor's.
    pub residual: Option<QBinary>,
}

impl Op {
    /// The format minor version that introduced this op: a writer sets the file's
    /// minor to the largest over its ops, so a file without newer ops is readable by
    /// the runtimes of every earlier minor.
    pub const fn since_minor(&self) -> u16 {
        match self {
            Op::ConvNhwc { .. } | Op::DepthwiseNhwc { .. } | Op::Recurrent { .. } => 1,
            Op::GridSample { .. }
            | Op::MaxPoolNhwc { .. }
            | Op::AvgPoolNhwc { .. }
            | Op::Binary {
                op: BinaryOp::Fmod, ..
            } => 3,
            Op::GlobalProd
            | Op::Binary {
                op: BinaryOp::Mod, ..
            }
            | Op::Unary {
                op: UnaryOp::Shrink { .. },
            } => 4,
            Op::ConvNchw { .. } => 5,
            Op::ConvNchwI8 { .. } => 6,
            _ => 0,
        }
    }

    /// Short operator name used in errors and `inspect`.
    pub fn name(&self) -> &'static str {
        match self {
            Op::FullyConnected { .. } => "FullyConnected",
            Op::MatMul => "MatMul",
            Op::Conv { .. } => "Conv",
            Op::MaxPool { .. } => "MaxPool",
            Op::AvgPool { .. } => "AvgPool",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::GlobalMaxPool => "GlobalMaxPool",
            Op::Binary { .. } => "Binary",
            Op::Unary { .. } => "Unary",
            Op::Lut => "Lut",
            Op::Softmax { .. } => "Softmax",
            Op::Reshape => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Concat { .. } => "Concat",
            Op::Pad { .. } => "Pad",
            Op::ArgMax { .. } => "ArgMax",
            Op::Quantize => "Quantize",
            Op::Dequantize => "Dequantize",
            Op::Requantize { .. } => "Requantize",
            Op::Cast => "Cast",
            Op::Linear { .. } => "Linear",
            Op::TreeEnsemble { .. } => "TreeEnsemble",
            Op::Normalize { .. } => "Normalize",
            Op::Slice { .. } => "Slice",
            Op::Lrn { .. } => "Lrn",
            Op::ConvNhwc { .. } => "ConvNhwc",
            Op::DepthwiseNhwc { .. } => "DepthwiseNhwc",
            Op::Recurrent { cell, .. } => match cell {
                Cell::Lstm => "LSTM",
                Cell::Gru { .. } => "GRU",
                Cell::Rnn => "RNN",
            },
            Op::GridSample { .. } => "GridSample",
            Op::MaxPoolNhwc { .. } => "MaxPoolNhwc",
            Op::AvgPoolNhwc { .. } => "AvgPoolNhwc",
            Op::GlobalProd => "GlobalProd",
            Op::ConvNchw { .. } => "ConvNchw",
            Op::ConvNchwI8 { .. } => "ConvNchwI8",
        }
    }
}

/// One step of the graph: an op and the indices of its operand tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpDef {
    /// The op and its attributes.
    pub op: Op,
    /// Input tensor indices, in the op's order.
    pub inputs: HVec<u32, MAX_OP_INPUTS>,
    /// Output tensor indices (one for every op so far).
    pub outputs: HVec<u32, MAX_OP_OUTPUTS>,
}

/// What the executor reads of an [`OpDef`] record that `Model::load` validated: the
/// op (decoded as the loader does) and its operands, without building the `OpDef` (see
/// [`TensorRef`](super::types::TensorRef)).
#[derive(Clone, Debug)]
pub(crate) struct OpRef {
    pub op: Op,
    pub io: Operands,
}

impl OpRef {
    /// The input tensor indices.
    #[inline]
    pub(crate) fn inputs(&self) -> &[u32] {
        self.io.inputs()
    }
}

/// The operand lists of an [`OpDef`] record: its inputs and its first output.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operands {
    inputs: [u32; MAX_OP_INPUTS],
    n_inputs: usize,
    pub output: u32,
}

impl Operands {
    /// A placeholder to decode into.
    pub(crate) const EMPTY: Operands = Operands {
        inputs: [0; MAX_OP_INPUTS],
        n_inputs: 0,
        output: 0,
    };

    /// The `inputs, outputs` lists that follow the op in an `OpDef` record (`rest`, wire
    /// order) into `self`, in place (see `TensorRef::read`); `None` where `OpDef` would
    /// not decode or has no output.
    #[inline]
    pub(crate) fn read(&mut self, rest: &[u8]) -> Option<()> {
        let mut w = super::wire::Wire(rest);
        let n_inputs = w.usize()?;
        for i in self.inputs.get_mut(..n_inputs)? {
            *i = w.u32()?;
        }
        self.n_inputs = n_inputs;
        if w.usize()? == 0 {
            return None;
        }
        self.output = w.u32()?;
        Some(())
    }

    /// The input tensor indices.
    #[inline]
    pub(crate) fn inputs(&self) -> &[u32] {
        self.inputs.get(..self.n_inputs).unwrap_or(&[])
    }
}

impl Cell {
    /// The ONNX default activations of one direction.
    pub const fn default_activations(self) -> &'static [UnaryOp] {
        match self {
            Cell::Lstm => &[UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Tanh],
            Cell::Gru { .. } => &[UnaryOp::Sigmoid, UnaryOp::Tanh],
            Cell::Rnn => &[UnaryOp::Tanh],
        }
    }
}
