//! What each ferrite op becomes in a reduced-precision model: **the one place** that
//! decides, as an exhaustive match over [`Op`] (no catch-all arm), so a new op does not
//! compile until its int8 and f16 forms are chosen.
//!
//! An op is either written in int8 ([`Int8Form`] other than `F32`), or it is a
//! deliberate f32 island — kept in f32 between a `Dequantize` and a `Quantize` — whose
//! [`F32Reason`] the conversion report names next to the op (`float_ops`). The int8
//! emitter ([`super::int8`]) then applies the rules that depend on the model around the
//! op (is its input already int8? is it a graph output? does a classical op read it?).

use ferrite::format::types::{BinaryOp, Op};

/// The int8 form of an op, before looking at the model around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Form {
    /// FullyConnected / Conv: int8 weights (per channel, or per tensor on request),
    /// int32 bias, requantized output with the activation as its clamp. f32 when the
    /// weights are computed in the graph.
    Weighted,
    /// Pools: int8 in and out with the input's quantization.
    Pool,
    /// Reshape / Transpose / Slice: int8 with the input's quantization when the input
    /// already is int8; otherwise f32 (quantizing only to move data would add error for
    /// nothing).
    Move,
    /// Pad: as [`Int8Form::Move`], and the pad value must be exact in the input's scale.
    Pad,
    /// ArgMax: reads an int8 input when there is one (the indices do not change).
    ArgMax,
    /// Binary Add / Sub / Mul: int8 operands rescaled in fixed point.
    Binary,
    /// Unary functions: a 256-entry lookup table (`Lut`).
    Lut,
    /// Softmax: int8 with an exp table and 1/256 output steps.
    Softmax,
    /// Concat: inputs requantized to the output's scale.
    Concat,
    /// ConvNhwc / DepthwiseNhwc (written by the NHWC pass): int8 weights per output
    /// channel packed with the requantization pairs for the engine, the activation as
    /// the output clamp, a fused residual `Add` as the op's third operand.
    Engine,
    /// Always f32, for the reason given.
    F32(F32Reason),
    /// Ops the emitter writes itself (Quantize, Dequantize, Requantize, Lut; the f32
    /// emitter's ConvNchw); an imported graph never contains them.
    EmitterOnly,
}

/// Why an op of an int8 model runs in f32 (reported with the op in `float_ops`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F32Reason {
    /// Linear, TreeEnsemble, Normalize: classical ops compute exactly in f32 by design.
    Classical,
    /// There is no int8 form of this op (or of this variant of it).
    NoInt8Form,
    /// Its inputs are f32 already (an element-wise op after an f32 op, data movement of
    /// f32 values): a Quantize / Dequantize round trip would only add error.
    F32Inputs,
    /// A classical op reads its result, and classical ops take exact f32 values.
    ReadByClassical,
    /// FullyConnected / Conv whose weights are computed in the graph.
    ComputedWeights,
    /// Softmax whose probabilities are a graph output or go to a Log: the int8 kernel's
    /// 1/256 steps would round small probabilities to 0.
    SoftmaxResolution,
    /// Pad whose value has no exact int8 form in the input's quantization.
    PadValue,
}

impl F32Reason {
    /// A short explanation for the conversion report.
    pub fn describe(self) -> &'static str {
        match self {
            F32Reason::Classical => "classical op, exact in f32",
            F32Reason::NoInt8Form => "no int8 form",
            F32Reason::F32Inputs => "inputs already f32",
            F32Reason::ReadByClassical => "read by a classical op, which takes exact f32",
            F32Reason::ComputedWeights => "weights computed in the graph",
            F32Reason::SoftmaxResolution => {
                "probabilities kept at f32 resolution (graph output or read by Log)"
            }
            F32Reason::PadValue => "pad value not exact in int8",
        }
    }
}

/// How an op's weights are stored in an f16 model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F16Form {
    /// Constant f32 weights (operand 1, with the bias) are stored as f16, packed for
    /// the runtime's f16 kernels, which read them directly: the arena is the f32
    /// model's (format 1.2).
    Packed,
    /// A constant f32 operand 1 (the weights) is stored as f16 and widened by a `Cast`
    /// into an arena scratch tensor right before the op (no f16 kernel for the op).
    Cast,
    /// Written as in the f32 model.
    F32,
}

/// The reduced-precision forms of `op`.
pub fn forms(op: &Op) -> (Int8Form, F16Form) {
    use F16Form as F16;
    use Int8Form as I8;
    match op {
        Op::FullyConnected { .. } => (I8::Weighted, F16::Packed),
        // The NHWC pass turns 2-D convolutions into the engine ops; a Conv it leaves
        // (1-D, grouped) has no f16 kernel.
        Op::Conv { .. } => (I8::Weighted, F16::Cast),
        Op::MatMul => (I8::F32(F32Reason::NoInt8Form), F16::Cast),
        Op::MaxPool { .. }
        | Op::AvgPool { .. }
        | Op::GlobalAvgPool
        | Op::GlobalMaxPool
        | Op::MaxPoolNhwc { .. }
        | Op::AvgPoolNhwc { .. } => (I8::Pool, F16::F32),
        Op::Binary { op, .. } => match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => (I8::Binary, F16::F32),
            BinaryOp::Div
            | BinaryOp::Max
            | BinaryOp::Min
            | BinaryOp::Pow
            | BinaryOp::Fmod
            | BinaryOp::Mod => (I8::F32(F32Reason::NoInt8Form), F16::F32),
        },
        Op::Unary { .. } => (I8::Lut, F16::F32),
        Op::Softmax { log: false, .. } => (I8::Softmax, F16::F32),
        Op::Softmax { log: true, .. } => (I8::F32(F32Reason::NoInt8Form), F16::F32),
        Op::Reshape | Op::Transpose { .. } => (I8::Move, F16::F32),
        Op::Pad { .. } => (I8::Pad, F16::F32),
        Op::Concat { .. } => (I8::Concat, F16::F32),
        Op::ArgMax { .. } => (I8::ArgMax, F16::F32),
        Op::Linear { .. } | Op::TreeEnsemble { .. } | Op::Normalize { .. } => {
            (I8::F32(F32Reason::Classical), F16::F32)
        }
        Op::Slice { .. } => (I8::Move, F16::F32),
        Op::Cast
        | Op::Lrn { .. }
        | Op::Recurrent { .. }
        | Op::GridSample { .. }
        | Op::GlobalProd => (I8::F32(F32Reason::NoInt8Form), F16::F32),
        Op::Quantize
        | Op::Dequantize
        | Op::Requantize { .. }
        | Op::Lut
        | Op::ConvNchw { .. }
        | Op::ConvNchwI8 { .. } => (I8::EmitterOnly, F16::F32),
        // Written by the NHWC layout pass (`ir::nhwc`).
        Op::ConvNhwc { .. } | Op::DepthwiseNhwc { .. } => (I8::Engine, F16::Packed),
    }
}

/// The int8 form of `op` ([`forms`]).
pub fn int8_form(op: &Op) -> Int8Form {
    forms(op).0
}

/// Whether `op` is a classical op (Linear, TreeEnsemble, Normalize): those always run
/// in f32 on exact values.
pub fn is_classical(op: &Op) -> bool {
    int8_form(op) == Int8Form::F32(F32Reason::Classical)
}
