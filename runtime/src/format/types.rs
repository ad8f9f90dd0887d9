//! The structured records of a model file.
//!
//! Every record here is postcard-encoded in the file and decoded **borrowed**: strings
//! point into the model bytes, fixed-capacity lists live in `heapless::Vec`, so decoding
//! allocates nothing. Field order is part of the wire format: append new fields only as
//! new enum variants or in a new format minor version (see `docs/format.md`).

use heapless::Vec as HVec;
use serde::{Deserialize, Serialize};

pub use super::op::{
    Activation, Aggregate, BinaryOp, Cell, Direction, GridMode, GridPadding, Norm, Op, OpDef,
    OpGroup, PostTransform, QBinary, QNhwc, QParams, Requant, UnaryOp, Window,
};
pub(crate) use super::op::{OpRef, Operands};

pub use super::limits::{MAX_GRAPH_IO, MAX_OP_INPUTS, MAX_OP_OUTPUTS, MAX_RANK};

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
    Arena {
        /// Byte offset in the arena (16-byte aligned).
        offset: u32,
        /// First step at which the tensor is alive.
        first: u32,
        /// Last step at which it is read.
        last: u32,
    },
    /// A constant in the weights section at `offset` (16-byte aligned).
    Weights {
        /// Byte offset in the weights section.
        offset: u32,
    },
}

/// Quantization parameters of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Quant {
    /// Not quantized.
    None,
    /// `real = scale * (q - zero_point)`.
    PerTensor {
        /// Real value of one quantization step.
        scale: f32,
        /// The quantized value of real 0.
        zero_point: i32,
    },
    /// Symmetric per-channel (zero point 0) along `axis`; `scales` is the weights-section
    /// offset of `shape[axis]` little-endian f32 scales.
    PerChannel {
        /// The channel axis.
        axis: u8,
        /// Weights-section offset of the scales.
        scales: u32,
    },
}

/// One tensor of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorDef<'a> {
    /// Name from the source model (for errors, `inspect` and per-layer validation).
    #[serde(borrow)]
    pub name: &'a str,
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first (no zero dimension).
    pub shape: Shape,
    /// Arena or weights.
    pub location: Location,
    /// Quantization parameters.
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

/// The fields of a `TensorDef` record that [`TensorRef`] does not keep, read by
/// [`TensorRef::decode_fields`]: the steps of an arena tensor, the quantization's
/// variant index and a per-channel quantization's fields.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TensorRest {
    pub first: u32,
    pub last: u32,
    pub quant: u32,
    pub axis: u8,
    pub scales: u32,
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
    #[cfg(test)]
    pub(crate) fn decode(rec: &[u8]) -> Option<TensorRef> {
        let mut t = TensorRef::EMPTY;
        t.read(rec)?;
        Some(t)
    }

    /// [`decode`](Self::decode) into `self` (on `None`, `self` holds a partial decode).
    /// Written in place, field by field: a decoded `TensorRef` copied as a whole right
    /// after its byte fields were stored costs a failed store-to-load forwarding per
    /// word that spans them (most of the executor's time on a small op).
    #[inline(always)]
    pub(crate) fn read(&mut self, rec: &[u8]) -> Option<()> {
        let mut w = super::wire::Wire(rec);
        let name = w.usize()?;
        w.take(name)?;
        *self = TensorRef::EMPTY;
        self.decode_fields(&mut w)?;
        Some(())
    }

    /// The fields after the name into `self`; what the executor does not keep (an arena
    /// tensor's steps, a per-channel quantization) is returned. Also the loader's
    /// decoder of the same fields (`decode.rs`): varints as strict as the loader's
    /// (one byte inline, longer ones through its loop), tags and list lengths bounded,
    /// so it accepts exactly the bytes the loader's decoding did; one copy in the binary.
    #[inline(never)]
    pub(crate) fn decode_fields(&mut self, w: &mut super::wire::Wire<'_>) -> Option<TensorRest> {
        self.dtype = match w.u32()? {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::I8,
            3 => DType::U8,
            4 => DType::I32,
            5 => DType::I64,
            _ => return None,
        };
        let rank = w.usize()?;
        let mut elements = 1usize;
        for d in self.dims.get_mut(..rank)? {
            *d = w.u32()?;
            elements = elements.wrapping_mul(*d as usize);
        }
        self.rank = rank as u8;
        self.elements = elements;
        let mut rest = TensorRest::default();
        self.weights = match w.u32()? {
            0 => {
                self.offset = w.u32()?;
                rest.first = w.u32()?;
                rest.last = w.u32()?;
                false
            }
            1 => {
                self.offset = w.u32()?;
                true
            }
            _ => return None,
        };
        rest.quant = w.u32()?;
        match rest.quant {
            0 => {}
            1 => {
                self.scale = w.f32()?;
                self.zero_point = w.i32()?;
                self.per_tensor = true;
            }
            2 => {
                rest.axis = w.byte()?;
                rest.scales = w.u32()?;
            }
            _ => return None,
        }
        Some(rest)
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

/// Graph-level record: which tensors are the model's inputs and outputs, and the arena.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphIo {
    /// The graph input tensors, in order.
    pub inputs: HVec<u32, MAX_GRAPH_IO>,
    /// The graph output tensors, in order.
    pub outputs: HVec<u32, MAX_GRAPH_IO>,
    /// Bytes of arena a session needs (every arena tensor ends at or before this).
    pub arena_size: u32,
}

/// Model metadata and provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    /// Model name.
    #[serde(borrow)]
    pub name: &'a str,
    /// Model version (free text).
    pub version: &'a str,
    /// What the model does.
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

/// A compact golden vector (section kind 8, `docs/format.md`): every graph input is
/// regenerated from `seed` ([`golden_input`](crate::format::golden_input)) and every
/// output is checked by the 64-bit FNV-1a digest of its bytes
/// ([`fnv1a64`](crate::format::fnv1a64)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldenDigest {
    /// Seed of the generated inputs.
    pub seed: u64,
    /// FNV-1a 64 digest of every graph output's bytes.
    pub outputs: HVec<u64, MAX_GRAPH_IO>,
}

/// One golden vector: input bytes for every graph input and the expected output bytes,
/// produced by the host tool at conversion time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Golden<'a> {
    /// The bytes of every graph input.
    #[serde(borrow)]
    pub inputs: HVec<&'a [u8], MAX_GRAPH_IO>,
    /// The expected bytes of every graph output.
    #[serde(borrow)]
    pub outputs: HVec<&'a [u8], MAX_GRAPH_IO>,
}
