//! The structured records of a model file.
//!
//! Every record here is postcard-encoded in the file and decoded **borrowed**: strings
//! point into the model bytes, fixed-capacity lists live in `heapless::Vec`, so decoding
//! allocates nothing. Field order is part of the wire format: append new fields only as
//! new enum variants or in a new format minor version (see `docs/format.md`).

use heapless::Vec as HVec;
use serde::{Deserialize, Serialize};

/// Largest tensor rank the format and the kernels accept.
pub const MAX_RANK: usize = 8;
/// Most inputs a single op may have (Concat / Sum are the wide ones).
pub const MAX_OP_INPUTS: usize = 8;
/// Most outputs a single op may have.
pub const MAX_OP_OUTPUTS: usize = 2;
/// Most graph inputs / outputs.
pub const MAX_GRAPH_IO: usize = 8;

/// A tensor shape (row-major, outermost first).
pub type Shape = HVec<u32, MAX_RANK>;

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum DType {
    /// IEEE-754 binary32.
    F32 = 0,
    /// IEEE-754 binary16; a storage type for weights, computed in f32.
    F16 = 1,
    /// Signed 8-bit integer (quantized activations and weights).
    I8 = 2,
    /// Unsigned 8-bit integer (quantized activations).
    U8 = 3,
    /// Signed 32-bit integer (biases, indices).
    I32 = 4,
    /// Signed 64-bit integer (ArgMax output, ONNX indices).
    I64 = 5,
}

impl DType {
    /// Size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 => 2,
            DType::I8 | DType::U8 => 1,
            DType::I64 => 8,
        }
    }

    /// The value range of a quantized integer dtype (`I8`, `U8`, `I32`), `None` for the
    /// others.
    pub const fn qrange(self) -> Option<(i32, i32)> {
        match self {
            DType::I8 => Some((-128, 127)),
            DType::U8 => Some((0, 255)),
            DType::I32 => Some((i32::MIN, i32::MAX)),
            _ => None,
        }
    }

    /// Lower-case name as used in docs, `inspect` and the bindings.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
        }
    }
}

/// Where a tensor's bytes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Location {
    /// In the session arena at `offset`, alive from op `first` to op `last` inclusive
    /// (graph inputs are alive from step 0, graph outputs until the last step).
    Arena { offset: u32, first: u32, last: u32 },
    /// A constant in the weights section at `offset` (16-byte aligned).
    Weights { offset: u32 },
}

/// Quantization parameters of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Quant {
    /// Not quantized.
    None,
    /// `real = scale * (q - zero_point)`.
    PerTensor { scale: f32, zero_point: i32 },
    /// Symmetric per-channel (zero point 0) along `axis`; `scales` is the weights-section
    /// offset of `shape[axis]` little-endian f32 scales.
    PerChannel { axis: u8, scales: u32 },
}

/// One tensor of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorDef<'a> {
    /// Name from the source model (for errors, `inspect` and per-layer validation).
    #[serde(borrow)]
    pub name: &'a str,
    pub dtype: DType,
    pub shape: Shape,
    pub location: Location,
    pub quant: Quant,
}

impl TensorDef<'_> {
    /// Number of elements (product of the shape), `None` on overflow.
    pub fn elements(&self) -> Option<usize> {
        shape_elements(&self.shape)
    }

    /// Size in bytes, `None` on overflow.
    pub fn byte_len(&self) -> Option<usize> {
        self.elements()?.checked_mul(self.dtype.size())
    }

    /// The per-tensor quantization as `(scale, zero_point)`, `None` unless
    /// [`Quant::PerTensor`].
    pub fn per_tensor(&self) -> Option<(f32, i32)> {
        match self.quant {
            Quant::PerTensor { scale, zero_point } => Some((scale, zero_point)),
            _ => None,
        }
    }

    /// Whether the tensor is a constant in the weights section.
    pub fn is_const(&self) -> bool {
        matches!(self.location, Location::Weights { .. })
    }
}

/// What the executor reads of a [`TensorDef`], decoded straight from a record that
/// `Model::load` validated (see [`TensorRef::decode`]): no name, no lifetime, the shape
/// as a fixed array padded with 1s and the byte length computed once. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)] // no padding (the byte-sized fields last): it is copied as whole words
pub(crate) struct TensorRef {
    /// `shape` in its first `rank` entries, 1 after them.
    pub dims: [u32; MAX_RANK],
    /// Number of elements (validated: the byte size fits in a `u32`).
    pub elements: usize,
    /// Offset in the arena, or in the weights section when `weights`.
    pub offset: u32,
    /// `Quant::PerTensor` parameters when `per_tensor` (plain fields rather than a
    /// `Quant`, so the record copies as aligned words).
    pub scale: f32,
    pub zero_point: i32,
    pub dtype: DType,
    /// Rank, at most [`MAX_RANK`].
    pub rank: u8,
    pub weights: bool,
    pub per_tensor: bool,
}

impl TensorRef {
    /// A placeholder to decode into.
    pub(crate) const EMPTY: TensorRef = TensorRef {
        dims: [1; MAX_RANK],
        elements: 0,
        offset: 0,
        scale: 0.0,
        zero_point: 0,
        dtype: DType::F32,
        rank: 0,
        weights: false,
        per_tensor: false,
    };

    /// Decodes the fields of a `TensorDef` record the executor needs, in wire order
    /// (`name, dtype, shape, location, quant`), skipping the name. On a record that
    /// decoded as a `TensorDef` in `Model::load` this equals that decoding; otherwise it
    /// may return `None`.
    #[inline(always)]
    pub(crate) fn decode(rec: &[u8]) -> Option<TensorRef> {
        let mut w = super::Wire(rec);
        let name = w.usize()?;
        w.take(name)?;
        let dtype = match w.u32()? {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::I8,
            3 => DType::U8,
            4 => DType::I32,
            5 => DType::I64,
            _ => return None,
        };
        let rank = w.usize()?;
        let mut dims = [1u32; MAX_RANK];
        let mut elements = 1usize;
        for d in dims.get_mut(..rank)? {
            *d = w.u32()?;
            elements = elements.wrapping_mul(*d as usize);
        }
        let (weights, offset) = match w.u32()? {
            0 => {
                let offset = w.u32()?;
                w.u32()?;
                w.u32()?;
                (false, offset)
            }
            1 => (true, w.u32()?),
            _ => return None,
        };
        let (per_tensor, scale, zero_point) = match w.u32()? {
            0 => (false, 0.0, 0),
            1 => (true, w.f32()?, w.i32()?),
            2 => {
                w.byte()?;
                w.u32()?;
                (false, 0.0, 0)
            }
            _ => return None,
        };
        Some(TensorRef {
            dims,
            elements,
            offset,
            scale,
            zero_point,
            dtype,
            rank: rank as u8,
            weights,
            per_tensor,
        })
    }

    /// The same fields taken from a fully decoded `TensorDef` (to check [`decode`](Self::decode)).
    #[cfg(any(test, debug_assertions))]
    pub(crate) fn of(t: &TensorDef<'_>) -> TensorRef {
        let mut dims = [1u32; MAX_RANK];
        for (d, &v) in dims.iter_mut().zip(t.shape.iter()) {
            *d = v;
        }
        let (weights, offset) = match t.location {
            Location::Arena { offset, .. } => (false, offset),
            Location::Weights { offset } => (true, offset),
        };
        let (per_tensor, scale, zero_point) = match t.quant {
            Quant::PerTensor { scale, zero_point } => (true, scale, zero_point),
            _ => (false, 0.0, 0),
        };
        TensorRef {
            dims,
            elements: t.elements().unwrap_or(0),
            offset,
            scale,
            zero_point,
            dtype: t.dtype,
            rank: t.shape.len() as u8,
            weights,
            per_tensor,
        }
    }

    /// The dimensions as `usize` (padded with 1s) and the rank.
    #[inline]
    pub(crate) fn udims(&self) -> ([usize; MAX_RANK], usize) {
        let mut d = [1usize; MAX_RANK];
        for (o, &v) in d.iter_mut().zip(self.dims.iter()) {
            *o = v as usize;
        }
        (d, self.rank as usize)
    }

    /// The shape.
    #[inline]
    pub(crate) fn shape(&self) -> &[u32] {
        self.dims.get(..self.rank as usize).unwrap_or(&[])
    }

    /// Size in bytes.
    #[inline]
    pub(crate) fn byte_len(&self) -> usize {
        self.elements.wrapping_mul(self.dtype.size())
    }

    /// The per-tensor quantization as `(scale, zero_point)`.
    #[inline]
    pub(crate) fn per_tensor(&self) -> Option<(f32, i32)> {
        self.per_tensor.then_some((self.scale, self.zero_point))
    }
}

/// Product of the dimensions, `None` on overflow.
pub fn shape_elements(shape: &[u32]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
}

/// A fused activation, applied to the op's output before it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    None,
    Relu,
    /// Clamp to `[min, max]` (Relu6 is `Clip { 0, 6 }`).
    Clip {
        min: f32,
        max: f32,
    },
}

/// Fixed-point rescale as in TFLite: `x * multiplier * 2^(shift - 31)`, rounded with
/// gemmlowp's rules (`multiplier` in `[2^30, 2^31)` or 0; `shift` in `-31..=30`, a
/// positive shift is a left shift).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Requant {
    pub multiplier: i32,
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
    /// Clamp of the quantized output after the fused activation.
    pub act_min: i32,
    pub act_max: i32,
}

/// Element-wise binary operators (numpy broadcasting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Pow,
}

/// Element-wise unary operators (f32; int8 graphs use [`Op::Lut`]); the definitions
/// are those of ONNX (`kernels::f32::unary`). `Round` rounds half to even, `Sign` gives
/// -1, 0 or 1.
///
/// The variant index is the wire encoding: new variants go at the end.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnaryOp {
    Relu,
    Clip { min: f32, max: f32 },
    LeakyRelu { alpha: f32 },
    Elu { alpha: f32 },
    Sigmoid,
    Tanh,
    HardSigmoid { alpha: f32, beta: f32 },
    HardSwish,
    Exp,
    Log,
    Sqrt,
    Neg,
    Abs,
    Reciprocal,
    Floor,
    Ceil,
    Erf,
    Softplus,
    Gelu,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Round,
    Sign,
}

impl UnaryOp {
    /// The functions every build has; the others need the `ops-math` feature.
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
    pub a_zero_point: i32,
    pub b_zero_point: i32,
    pub out_zero_point: i32,
    /// Add/Sub: the inputs are shifted left by `left_shift` then rescaled by `a`/`b`.
    pub left_shift: i32,
    pub a: Requant,
    pub b: Requant,
    /// Final rescale to the output scale.
    pub out: Requant,
    pub act_min: i32,
    pub act_max: i32,
}

/// Spatial parameters of Conv and the pools, in 2D; 1D ops use height 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Window {
    /// Kernel (height, width).
    pub kernel: [u32; 2],
    pub stride: [u32; 2],
    pub dilation: [u32; 2],
    /// Padding (top, left, bottom, right).
    pub pads: [u32; 4],
}

/// One operator, with its attributes. Tensor operands are listed in [`OpDef`].
///
/// Layouts follow ONNX: activations are NCHW (NCW for 1D), Conv weights are
/// `[out_channels, in_channels / groups, kh, kw]`, FullyConnected weights `[N, K]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `y[b, n] = act(sum_k x[b, k] * w[n, k] + bias[n])`.
    /// Inputs: x `[B, K]`, w `[N, K]` constant, optional bias `[N]` (f32 or i32).
    FullyConnected {
        act: Activation,
        q: Option<QParams>,
    },
    /// Batched matrix product of two tensors with numpy broadcasting (f32).
    MatMul,
    /// 1D/2D convolution with groups (depthwise when groups == channels).
    /// Inputs: x `[N, C, H, W]`, w, optional bias `[M]`.
    Conv {
        window: Window,
        groups: u32,
        act: Activation,
        q: Option<QParams>,
    },
    MaxPool {
        window: Window,
    },
    /// Average pool; `count_include_pad` counts padded cells in the divisor.
    AvgPool {
        window: Window,
        count_include_pad: bool,
    },
    /// Mean over all spatial positions: `[N, C, ...] -> [N, C, 1, ...]`.
    GlobalAvgPool,
    GlobalMaxPool,
    Binary {
        op: BinaryOp,
        act: Activation,
        q: Option<QBinary>,
    },
    Unary {
        op: UnaryOp,
    },
    /// Int8/uint8 element-wise function through a 256-entry table (input 1, constant).
    Lut,
    /// Softmax / LogSoftmax along `axis`. Int8: input 1 is a 256-entry u32 table of
    /// `exp(-scale * beta * d)` in Q0.31 for d = 0..255, output scale 1/256, zp -128.
    Softmax {
        axis: u8,
        log: bool,
    },
    /// Copy with a new shape (Reshape, Flatten, Squeeze, Unsqueeze).
    Reshape,
    Transpose {
        perm: HVec<u8, MAX_RANK>,
    },
    Concat {
        axis: u8,
    },
    /// Constant padding; `pads` = begins then ends per axis, `value` in the tensor's
    /// own domain (bit pattern of f32, or a quantized integer).
    Pad {
        pads: HVec<u32, { 2 * MAX_RANK }>,
        value: f32,
    },
    /// Index of the largest value along `axis` (output i64).
    ArgMax {
        axis: u8,
        keepdims: bool,
        select_last: bool,
    },
    /// f32 -> int8/uint8 with the output tensor's quantization.
    Quantize,
    /// int8/uint8 -> f32 with the input tensor's quantization.
    Dequantize,
    /// int8 -> int8 with a new scale and zero point (input and output quantization).
    Requantize {
        rq: Requant,
    },
    /// Element type conversion (f16 weights -> f32 scratch, i64 <-> i32, ints <-> f32).
    Cast,
    /// ONNX-ML LinearClassifier / LinearRegressor: `y[b, n] = post(sum_k x[b, k] * w[n, k]
    /// + bias[n])`. Inputs: x `[B, K]` f32, w `[N, K]` f32 constant, bias `[N]` f32
    /// constant. Output `[B, N]` f32 (class scores / probabilities or targets).
    Linear {
        post: PostTransform,
    },
    /// ONNX-ML TreeEnsembleClassifier / TreeEnsembleRegressor over flat node arrays
    /// (see `docs/format.md`). Inputs: x `[B, F]` f32, nodes `[N, 4]` i32, roots `[R]`
    /// i32, leaf targets `[L]` i32, leaf weights `[L]` f32, base values `[T]` f32 (all
    /// but x constant). Output `[B, T]` f32.
    TreeEnsemble {
        aggregate: Aggregate,
        post: PostTransform,
    },
    /// ONNX-ML Normalizer over the last axis (f32).
    Normalize {
        norm: Norm,
    },
    /// Strided slice with static bounds (ONNX Slice, tract Downsample), any dtype: output
    /// element `i` along axis `d` is input element `starts[d] + i * steps[d]` (steps may
    /// be negative, never 0). The output shape is the output tensor's; the loader checks
    /// every read index lies inside the input.
    Slice {
        starts: HVec<i32, MAX_RANK>,
        steps: HVec<i32, MAX_RANK>,
    },
    /// Local response normalization across channels (axis 1, f32, ONNX LRN):
    /// `y = x / (bias + alpha / size * sum_{c' in window} x[c']^2)^beta`, window
    /// `[c - (size-1)/2, c + size/2]` clipped to the channels.
    Lrn {
        size: u32,
        alpha: f32,
        beta: f32,
        bias: f32,
    },
}

/// Post transform of ONNX-ML linear and tree-ensemble models, applied per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PostTransform {
    /// The raw scores.
    None,
    /// `exp(s) / sum(exp)` over the row.
    Softmax,
    /// `1 / (1 + exp(-s))` per value.
    Logistic,
    /// Softmax over the non-zero scores; zero scores stay 0 (ONNX `SOFTMAX_ZERO`).
    SoftmaxZero,
}

/// How the leaf values of the trees of an ensemble are combined per target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Aggregate {
    Sum,
    /// Sum divided by the number of trees.
    Average,
    Min,
    Max,
}

/// Row normalization (ONNX-ML Normalizer, scikit-learn `Normalizer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Norm {
    /// Divide by the sum of absolute values.
    L1,
    /// Divide by the Euclidean norm.
    L2,
    /// Divide by the largest absolute value.
    Max,
}

impl Op {
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
        }
    }
}

/// One step of the graph: an op and the indices of its operand tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpDef {
    pub op: Op,
    pub inputs: HVec<u32, MAX_OP_INPUTS>,
    pub outputs: HVec<u32, MAX_OP_OUTPUTS>,
}

/// What the executor reads of an [`OpDef`] record that `Model::load` validated: the
/// op (decoded by postcard), its inputs and its first output, without building the
/// `OpDef` (see [`TensorRef`]).
#[derive(Clone, Debug)]
pub(crate) struct OpRef {
    pub op: Op,
    inputs: [u32; MAX_OP_INPUTS],
    n_inputs: usize,
    pub output: u32,
}

impl OpRef {
    /// Decodes `op, inputs, outputs` (wire order); `None` where `OpDef` would not decode
    /// or has no output.
    #[inline]
    pub(crate) fn decode(rec: &[u8]) -> Option<OpRef> {
        // The op itself through postcard: its decoder is in the binary anyway (load
        // uses it), and a second one for every variant would cost kilobytes of flash.
        let (op, rest) = postcard::take_from_bytes::<Op>(rec).ok()?;
        let mut w = super::Wire(rest);
        let n_inputs = w.usize()?;
        let mut inputs = [0u32; MAX_OP_INPUTS];
        for i in inputs.get_mut(..n_inputs)? {
            *i = w.u32()?;
        }
        if w.usize()? == 0 {
            return None;
        }
        let output = w.u32()?;
        Some(OpRef {
            op,
            inputs,
            n_inputs,
            output,
        })
    }

    /// The input tensor indices.
    #[inline]
    pub(crate) fn inputs(&self) -> &[u32] {
        self.inputs.get(..self.n_inputs).unwrap_or(&[])
    }
}

/// Graph-level record: which tensors are the model's inputs and outputs, and the arena.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphIo {
    pub inputs: HVec<u32, MAX_GRAPH_IO>,
    pub outputs: HVec<u32, MAX_GRAPH_IO>,
    /// Bytes of arena a session needs (every arena tensor ends at or before this).
    pub arena_size: u32,
}

/// Model metadata and provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    #[serde(borrow)]
    pub name: &'a str,
    pub version: &'a str,
    pub description: &'a str,
    /// What wrote the file, e.g. `ferrite-tool 0.1.0`.
    pub producer: &'a str,
    /// Class labels of the first output, one per line (empty: none).
    pub labels: &'a str,
    /// Free-form provenance, `key=value` one per line (source hash, precision, …).
    pub properties: &'a str,
}

impl<'a> Metadata<'a> {
    /// The class labels, in output order.
    pub fn labels(&self) -> impl Iterator<Item = &'a str> {
        let labels = self.labels;
        labels.split('\n').filter(|l| !l.is_empty())
    }

    /// The `key=value` properties.
    pub fn properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let props = self.properties;
        props.split('\n').filter_map(|l| l.split_once('='))
    }

    /// Value of one property.
    pub fn property(&self, key: &str) -> Option<&'a str> {
        self.properties().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// One golden vector: input bytes for every graph input and the expected output bytes,
/// produced by the host tool at conversion time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Golden<'a> {
    #[serde(borrow)]
    pub inputs: HVec<&'a [u8], MAX_GRAPH_IO>,
    #[serde(borrow)]
    pub outputs: HVec<&'a [u8], MAX_GRAPH_IO>,
}
