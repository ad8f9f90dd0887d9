//! `Model::load`: parse and validate a model file once, so that running it cannot fail
//! on anything but the caller's own arguments.

use crate::error::{Error, Result, Section};
use crate::format::types::{
    DType, Golden, GraphIo, Location, Metadata, OpDef, OpRef, Quant, TensorDef, TensorRef,
};
use crate::format::{kind, rd_u32, Container, RecordTable, ALIGN};
use crate::preprocess::Preprocess;
use crate::validate;

/// A validated model, borrowing the file's bytes (e.g. a `&'static [u8]` in flash).
///
/// Loading allocates nothing. Every offset, shape, dtype, quantization parameter, op
/// and the arena plan has been checked: a [`Session`](crate::Session) over this model
/// cannot index out of bounds.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    pub(crate) container: Container<'a>,
    pub(crate) meta: Metadata<'a>,
    pub(crate) io: GraphIo,
    pub(crate) tensors: RecordTable<'a, TensorDef<'a>>,
    pub(crate) ops: RecordTable<'a, OpDef>,
    pub(crate) weights: &'a [u8],
    pub(crate) golden: Option<RecordTable<'a, Golden<'a>>>,
    pub(crate) pre: Option<Preprocess<'a>>,
}

/// Model bytes copied into a 16-byte aligned heap buffer, for callers whose bytes
/// come from a file or a network buffer of unknown alignment.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
pub struct AlignedModel {
    words: alloc::vec::Vec<u128>,
    len: usize,
}

#[cfg(feature = "alloc")]
impl AlignedModel {
    /// Copies `bytes` into an aligned buffer.
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = alloc::vec![0u128; bytes.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedModel {
            words,
            len: bytes.len(),
        }
    }

    /// The aligned bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u128, u8>(&self.words)[..self.len]
    }

    /// Validates the model (see [`Model::load`]).
    pub fn model(&self) -> Result<Model<'_>> {
        Model::load(self.bytes())
    }
}

/// A validated model that owns its (aligned) bytes: `Send + Sync`, no lifetime, for
/// bindings and long-lived services. Validation runs once in [`OwnedModel::new`];
/// [`OwnedModel::model`] then hands out a borrowed [`Model`] in O(1).
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
pub struct OwnedModel {
    bytes: AlignedModel,
}

#[cfg(feature = "alloc")]
impl OwnedModel {
    /// Copies and validates `bytes` (see [`Model::load`]; any alignment is accepted).
    pub fn new(bytes: &[u8]) -> Result<Self> {
        let bytes = AlignedModel::new(bytes);
        Model::load(bytes.bytes())?;
        Ok(OwnedModel { bytes })
    }

    /// The model, without validating again.
    pub fn model(&self) -> Model<'_> {
        // The bytes are immutable and passed `Model::load` in `new`, so the trusted
        // parse cannot fail; fall back to a full load rather than panic if it did.
        match Model::parse(self.bytes.bytes(), false) {
            Ok(m) => m,
            Err(_) => unreachable_model(self.bytes.bytes()),
        }
    }

    /// The model file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
    }
}

#[cfg(feature = "alloc")]
#[cold]
fn unreachable_model(bytes: &[u8]) -> Model<'_> {
    // Only reachable if the trusted parse disagreed with `Model::load` on the same bytes.
    Model::parse(bytes, true).unwrap_or_else(|_| core::panic!("validated model failed to parse"))
}

/// Placeholder so the name exists without `alloc`.
#[cfg(not(feature = "alloc"))]
#[derive(Debug)]
pub enum AlignedModel {}

fn graph_parts(g: &[u8]) -> Result<(&[u8], &[u8], &[u8])> {
    let bad = Error::BadSection {
        section: Section::Graph,
    };
    let io_len = rd_u32(g, 0).ok_or(bad)? as usize;
    let t_len = rd_u32(g, 4).ok_or(bad)? as usize;
    let o_len = rd_u32(g, 8).ok_or(bad)? as usize;
    let a = 16usize;
    let b = a.checked_add(io_len).ok_or(bad)?;
    let c = b.checked_add(t_len).ok_or(bad)?;
    let d = c.checked_add(o_len).ok_or(bad)?;
    if d != g.len() {
        return Err(bad);
    }
    Ok((&g[a..b], &g[b..c], &g[c..d]))
}

fn decode_exact<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], section: Section) -> Result<T> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        _ => Err(Error::Decode { section, index: 0 }),
    }
}

impl<'a> Model<'a> {
    /// Parses and validates a model file.
    ///
    /// `bytes` must start at a 16-byte aligned address (use [`include_model!`](crate::include_model),
    /// [`AlignedModel`], or an aligned static) so that f32/i32 constants are read in
    /// place; otherwise [`Error::Misaligned`]. Cost: linear in the file size plus a
    /// pairwise check of the arena plan (quadratic in the number of arena tensors).
    pub fn load(bytes: &'a [u8]) -> Result<Model<'a>> {
        Self::parse(bytes, true)
    }

    fn parse(bytes: &'a [u8], check: bool) -> Result<Model<'a>> {
        let container = Container::parse_with(bytes, check)?;
        if bytes.as_ptr().align_offset(ALIGN) != 0 {
            return Err(Error::Misaligned);
        }
        let missing = |section| Error::BadSection { section };
        let meta_bytes = container
            .section(kind::METADATA)
            .ok_or(missing(Section::Metadata))?;
        let meta: Metadata<'a> = decode_exact(meta_bytes, Section::Metadata)?;
        let graph = container
            .section(kind::GRAPH)
            .ok_or(missing(Section::Graph))?;
        let weights = container.section(kind::WEIGHTS).unwrap_or(&[]);
        let (io_b, t_b, o_b) = graph_parts(graph)?;
        let io: GraphIo = decode_exact(io_b, Section::Graph)?;
        let tensors = RecordTable::parse_with(t_b, Section::Graph, check)?;
        let ops = RecordTable::parse_with(o_b, Section::Graph, check)?;
        let golden = match container.section(kind::GOLDEN) {
            Some(g) => Some(RecordTable::parse_with(g, Section::Golden, check)?),
            None => None,
        };
        let mut model = Model {
            container,
            meta,
            io,
            tensors,
            ops,
            weights,
            golden,
            pre: None,
        };
        if check {
            validate::model(&model)?;
        }
        if let Some(p) = container.section(kind::PREPROCESS) {
            let graph_in = if model.num_inputs() == 0 {
                0
            } else {
                model.input_len(0)?
            };
            model.pre = Some(Preprocess::parse(p, graph_in, check)?);
        }
        if check {
            model.monitor_baseline()?;
        }
        Ok(model)
    }

    /// Metadata and provenance.
    pub fn metadata(&self) -> &Metadata<'a> {
        &self.meta
    }

    /// Class labels of the first output (may be empty).
    pub fn labels(&self) -> impl Iterator<Item = &'a str> {
        self.meta.labels()
    }

    /// Exact number of arena bytes a session needs when its arena is 16-byte aligned
    /// (an unaligned arena needs up to 15 bytes more; see [`Session::new`](crate::Session::new)).
    ///
    /// With a preprocessing pipeline this includes its scratch rows, placed after the
    /// graph's tensors.
    pub fn arena_size(&self) -> usize {
        match &self.pre {
            Some(p) => self.graph_arena_end() + p.scratch_bytes(),
            None => self.io.arena_size as usize,
        }
    }

    /// End of the graph's part of the arena (16-byte aligned when a pipeline follows).
    pub(crate) fn graph_arena_end(&self) -> usize {
        (self.io.arena_size as usize).div_ceil(ALIGN) * ALIGN
    }

    /// The preprocessing pipeline (PREPROCESS section), if the model has one.
    pub fn preprocess(&self) -> Option<&Preprocess<'a>> {
        self.pre.as_ref()
    }

    /// Number of raw input values [`Session::predict`](crate::Session::predict) takes:
    /// the pipeline's raw width, or the elements of input 0 without a pipeline.
    pub fn raw_input_len(&self) -> Result<usize> {
        match &self.pre {
            Some(p) => Ok(p.raw_len()),
            None => self.input_len(0),
        }
    }

    /// Number of graph inputs.
    pub fn num_inputs(&self) -> usize {
        self.io.inputs.len()
    }

    /// Number of graph outputs.
    pub fn num_outputs(&self) -> usize {
        self.io.outputs.len()
    }

    /// Definition of graph input `i`.
    pub fn input(&self, i: usize) -> Result<TensorDef<'a>> {
        let t = *self
            .io
            .inputs
            .get(i)
            .ok_or(Error::NoSuchIndex { index: i as u32 })?;
        self.tensors.get(t)
    }

    /// Definition of graph output `i`.
    pub fn output(&self, i: usize) -> Result<TensorDef<'a>> {
        let t = *self
            .io
            .outputs
            .get(i)
            .ok_or(Error::NoSuchIndex { index: i as u32 })?;
        self.tensors.get(t)
    }

    /// Number of tensors in the graph.
    pub fn num_tensors(&self) -> u32 {
        self.tensors.len()
    }

    /// Tensor `i` of the graph.
    pub fn tensor(&self, i: u32) -> Result<TensorDef<'a>> {
        self.tensors.get(i)
    }

    /// Number of ops (execution steps).
    pub fn num_ops(&self) -> u32 {
        self.ops.len()
    }

    /// Op `i` in execution order.
    pub fn op(&self, i: u32) -> Result<OpDef> {
        self.ops.get(i)
    }

    /// Tensor `i` for the executor (trusted decode of a validated record; see
    /// [`TensorRef`]). In debug builds it is checked against the full decode.
    #[inline]
    pub(crate) fn tensor_ref(&self, i: u32) -> Option<TensorRef> {
        let mut t = TensorRef::EMPTY;
        self.read_tensor(i, &mut t)?;
        Some(t)
    }

    /// [`tensor_ref`](Self::tensor_ref) into `t` (the executor's hot path: writing in
    /// place rather than returning the record keeps it in registers and aligned slots).
    #[inline(never)]
    pub(crate) fn read_tensor(&self, i: u32, t: &mut TensorRef) -> Option<()> {
        *t = TensorRef::decode(self.tensors.record(i)?)?;
        #[cfg(debug_assertions)]
        if let Ok(d) = self.tensors.get(i) {
            debug_assert_eq!(*t, TensorRef::of(&d), "tensor {i}");
        }
        Some(())
    }

    /// Op `i` for the executor (trusted decode; see [`OpRef`]).
    #[inline]
    pub(crate) fn op_ref(&self, i: u32) -> Option<OpRef> {
        let o = OpRef::decode(self.ops.record(i)?);
        #[cfg(debug_assertions)]
        if let (Ok(d), Some(o)) = (self.ops.get(i), &o) {
            debug_assert!(
                d.op == o.op && d.inputs[..] == *o.inputs() && d.outputs.first() == Some(&o.output),
                "op {i}"
            );
        }
        o
    }

    /// Graph input (`outputs` false) or output `i` for the executor.
    #[inline]
    pub(crate) fn io_ref(&self, outputs: bool, i: usize) -> Result<TensorRef> {
        let list = if outputs {
            &self.io.outputs
        } else {
            &self.io.inputs
        };
        let t = *list.get(i).ok_or(Error::NoSuchIndex { index: i as u32 })?;
        self.tensor_ref(t).ok_or(Error::BadTensor { tensor: t })
    }

    /// Bytes of constant `t` in the weights section (`None` for arena tensors).
    pub fn constant_bytes(&self, t: &TensorDef<'_>) -> Option<&'a [u8]> {
        match t.location {
            Location::Weights { offset } => {
                let len = t.byte_len()?;
                self.weights
                    .get(offset as usize..(offset as usize).checked_add(len)?)
            }
            Location::Arena { .. } => None,
        }
    }

    /// Raw bytes of the weights section.
    pub fn weights(&self) -> &'a [u8] {
        self.weights
    }

    /// Number of golden vectors stored in the model.
    pub fn num_golden(&self) -> u32 {
        self.golden.as_ref().map_or(0, |g| g.len())
    }

    /// Golden vector `i`.
    pub fn golden(&self, i: u32) -> Result<Golden<'a>> {
        self.golden
            .as_ref()
            .ok_or(Error::NoSuchIndex { index: i })?
            .get(i)
    }

    /// The bytes of an optional section, by kind (see `docs/format.md`).
    pub fn section(&self, kind: u16) -> Option<&'a [u8]> {
        self.container.section(kind)
    }

    /// The whole model file.
    pub fn bytes(&self) -> &'a [u8] {
        self.container.bytes()
    }

    /// Sum of the byte sizes of all constant tensors.
    pub fn parameter_bytes(&self) -> usize {
        self.tensors
            .iter()
            .filter_map(|t| t.ok())
            .filter(|t| matches!(t.location, Location::Weights { .. }))
            .filter_map(|t| t.byte_len())
            .sum()
    }

    /// Number of elements of input `i`.
    pub fn input_len(&self, i: usize) -> Result<usize> {
        self.input(i)?
            .elements()
            .ok_or(Error::BadTensor { tensor: 0 })
    }

    /// Number of elements of output `i`.
    pub fn output_len(&self, i: usize) -> Result<usize> {
        self.output(i)?
            .elements()
            .ok_or(Error::BadTensor { tensor: 0 })
    }
}

/// The value range of a quantized integer dtype.
pub(crate) fn qrange(dtype: DType) -> Option<(i32, i32)> {
    match dtype {
        DType::I8 => Some((-128, 127)),
        DType::U8 => Some((0, 255)),
        DType::I32 => Some((i32::MIN, i32::MAX)),
        _ => None,
    }
}

/// The per-tensor quantization of `t` as `(scale, zero_point)`.
pub(crate) fn per_tensor(t: &TensorDef<'_>) -> Option<(f32, i32)> {
    match t.quant {
        Quant::PerTensor { scale, zero_point } => Some((scale, zero_point)),
        _ => None,
    }
}
