//! `Model::load`: parse and validate a model file once, so that running it cannot fail
//! on anything but the caller's own arguments.

use crate::error::{Error, Result, Section};
use crate::format::types::{Golden, Location, Metadata, OpDef, TensorDef};
use crate::format::{kind, Container, ALIGN};
use crate::graph::{decode_exact, Graph};
use crate::preprocess::Preprocess;
use crate::signature::{self, SignatureInfo};
#[cfg(feature = "verify")]
use crate::signature::{PublicKey, VerifyPolicy};
use crate::validate;

/// A validated model, borrowing the file's bytes (e.g. a `&'static [u8]` in flash).
///
/// Loading allocates nothing. Every offset, shape, dtype, quantization parameter, op
/// and the arena plan has been checked: a [`Session`](crate::Session) over this model
/// cannot index out of bounds.
///
/// ```
/// # use ferrite::format::types::{Op, UnaryOp};
/// # use ferrite::format::write::ModelBuilder;
/// # use ferrite::{DType, Quant};
/// # fn relu_model() -> Vec<u8> {
/// #     let mut b = ModelBuilder::new("relu");
/// #     let x = b.add_tensor("x", DType::F32, &[1, 4], Quant::None).unwrap();
/// #     let y = b.add_tensor("y", DType::F32, &[1, 4], Quant::None).unwrap();
/// #     b.add_op(Op::Unary { op: UnaryOp::Relu }, &[x], &[y]).unwrap();
/// #     b.set_io(&[x], &[y]).unwrap();
/// #     b.finish().unwrap()
/// # }
/// // Bytes from a file or the network: AlignedModel copies them to an aligned buffer
/// // (firmware embeds them aligned with `include_model!`).
/// let bytes = ferrite::AlignedModel::new(&relu_model());
/// let model = ferrite::Model::load(bytes.bytes())?;
/// assert_eq!((model.num_inputs(), model.num_outputs()), (1, 1));
/// assert_eq!(model.input(0)?.shape.as_slice(), [1, 4]);
/// assert_eq!(model.op(0)?.op.name(), "Unary");
/// assert_eq!(model.arena_size(), 32); // x and y, 16 bytes each
///
/// // Any corruption is an error at load, never at run time.
/// let mut bad = relu_model();
/// bad[40] ^= 1;
/// assert!(ferrite::Model::load(ferrite::AlignedModel::new(&bad).bytes()).is_err());
/// # Ok::<(), ferrite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Model<'a> {
    pub(crate) container: Container<'a>,
    pub(crate) meta: Metadata<'a>,
    pub(crate) graph: Graph<'a>,
    pub(crate) pre: Option<Preprocess<'a>>,
    /// See [`Model::input_accepts_nan`].
    pub(crate) nan_input: bool,
    /// Bytes of op scratch after the graph's tensors (the largest `ops::scratch_bytes`;
    /// 0 for files without NHWC convs or batched f32 FullyConnected ops).
    pub(crate) op_scratch: usize,
    /// The STATE section (validated pairs), empty for a model that does not stream.
    pub(crate) state: &'a [u8],
}

/// A zeroed heap buffer whose bytes start at a 64-byte boundary
/// ([`WIDE_ALIGN`](crate::format::WIDE_ALIGN)): the model copies and owned arenas.
/// It over-allocates by up to 63 bytes; the heap block never moves, so the start
/// found at creation stays aligned.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub(crate) struct AlignedBytes {
    buf: alloc::vec::Vec<u8>,
    start: usize,
    len: usize,
}

#[cfg(feature = "alloc")]
impl AlignedBytes {
    pub(crate) fn zeroed(len: usize) -> Self {
        let wide = crate::format::WIDE_ALIGN;
        let buf = alloc::vec![0u8; len + wide - 1];
        // `align_offset` on a byte pointer is always below the alignment at run time.
        let start = buf.as_ptr().align_offset(wide).min(wide - 1);
        AlignedBytes { buf, start, len }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

#[cfg(feature = "alloc")]
impl Clone for AlignedBytes {
    /// A new buffer aligned on its own (a plain copy of the vector could start
    /// elsewhere modulo 64).
    fn clone(&self) -> Self {
        let mut c = AlignedBytes::zeroed(self.len);
        c.bytes_mut().copy_from_slice(self.bytes());
        c
    }
}

/// Model bytes copied into a heap buffer that starts at a 64-byte boundary (a cache
/// line, [`WIDE_ALIGN`](crate::format::WIDE_ALIGN); [`Model::load`] needs 16), for
/// callers whose bytes come from a file or a network buffer of unknown alignment.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
pub struct AlignedModel {
    bytes: AlignedBytes,
}

#[cfg(feature = "alloc")]
impl AlignedModel {
    /// Copies `bytes` into an aligned buffer.
    pub fn new(bytes: &[u8]) -> Self {
        let mut copy = AlignedBytes::zeroed(bytes.len());
        copy.bytes_mut().copy_from_slice(bytes);
        AlignedModel { bytes: copy }
    }

    /// The aligned bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
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

    /// Copies `bytes`, verifies their signature against `policy` and validates them
    /// (see [`Model::load_verified_with`]; any alignment is accepted).
    #[cfg(feature = "verify")]
    pub fn new_verified(bytes: &[u8], policy: &VerifyPolicy<'_>) -> Result<Self> {
        let bytes = AlignedModel::new(bytes);
        Model::load_verified_with(bytes.bytes(), policy)?;
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

impl<'a> Model<'a> {
    /// Parses and validates a model file.
    ///
    /// `bytes` must start at a 16-byte aligned address (use [`include_model!`](crate::include_model),
    /// [`AlignedModel`], or an aligned static) so that f32/i32 constants are read in
    /// place; otherwise [`Error::Misaligned`]. Cost: linear in the file size plus the
    /// arena-plan check, O(n log n) in the number n of arena tensors with the `alloc`
    /// feature. Without an allocator it keeps at most 32 live tensors on the stack; a
    /// plan that keeps more alive at once takes further passes, one per window of 32
    /// births (real models need one pass; see `docs/security.md`).
    ///
    /// A signed file loads like any other (its signature is not checked here; see
    /// [`load_verified`](Self::load_verified)).
    pub fn load(bytes: &'a [u8]) -> Result<Model<'a>> {
        Self::parse(bytes, true)
    }

    /// Verifies the file's Ed25519 signature against trusted `keys`, then loads it
    /// like [`load`](Self::load). Allocates nothing; the file is hashed in place.
    ///
    /// Errors, each distinct: [`Error::Unsigned`] (no SIGNATURE section),
    /// [`Error::UnknownKey`] (signed by a key not in `keys`), [`Error::BadSignature`]
    /// (any byte changed after signing, except the header's CRC field, which the
    /// signature excludes and `load` then checks). Accepts every `model_version`; use
    /// [`load_verified_with`](Self::load_verified_with) for anti-rollback.
    #[cfg(feature = "verify")]
    pub fn load_verified(bytes: &'a [u8], keys: &[PublicKey]) -> Result<Model<'a>> {
        Self::load_verified_with(
            bytes,
            &VerifyPolicy {
                keys,
                min_version: 0,
            },
        )
    }

    /// [`load_verified`](Self::load_verified) with a minimum `model_version`: a file
    /// whose signed version is lower is [`Error::VersionTooOld`] (checked after the
    /// signature, so the version is authentic).
    ///
    /// ```
    /// # use ferrite::format::types::{Op, UnaryOp};
    /// # use ferrite::format::write::ModelBuilder;
    /// # use ferrite::{DType, Quant, signature::{sign, PublicKey, VerifyPolicy}};
    /// # let mut b = ModelBuilder::new("relu");
    /// # let x = b.add_tensor("x", DType::F32, &[1, 4], Quant::None).unwrap();
    /// # let y = b.add_tensor("y", DType::F32, &[1, 4], Quant::None).unwrap();
    /// # b.add_op(Op::Unary { op: UnaryOp::Relu }, &[x], &[y]).unwrap();
    /// # b.set_io(&[x], &[y]).unwrap();
    /// # let unsigned = b.finish().unwrap();
    /// let seed = [7u8; 32]; // secret key (ferrite keygen writes one to key.secret)
    /// let key: PublicKey = sign::public_key(&seed);
    /// let signed = ferrite::AlignedModel::new(&sign::sign(&unsigned, &seed, 5).unwrap());
    /// let policy = VerifyPolicy { keys: &[key], min_version: 5 };
    /// let model = ferrite::Model::load_verified_with(signed.bytes(), &policy)?;
    /// assert_eq!(model.signature().unwrap().model_version, 5);
    ///
    /// let newer_only = VerifyPolicy { keys: &[key], min_version: 6 };
    /// assert_eq!(
    ///     ferrite::Model::load_verified_with(signed.bytes(), &newer_only).unwrap_err(),
    ///     ferrite::Error::VersionTooOld { version: 5, min: 6 },
    /// );
    /// # Ok::<(), ferrite::Error>(())
    /// ```
    #[cfg(feature = "verify")]
    pub fn load_verified_with(bytes: &'a [u8], policy: &VerifyPolicy<'_>) -> Result<Model<'a>> {
        signature::verify(bytes, policy)?;
        Self::load(bytes)
    }

    /// The signed key id and `model_version` of a signed model, `None` if unsigned.
    /// Only [`load_verified`](Self::load_verified) proves they are authentic.
    pub fn signature(&self) -> Option<SignatureInfo> {
        signature::info(&self.container)
    }

    fn parse(bytes: &'a [u8], check: bool) -> Result<Model<'a>> {
        let container = Container::parse_with(bytes, check)?;
        if bytes.as_ptr().align_offset(ALIGN) != 0 {
            return Err(Error::Misaligned);
        }
        let meta_bytes = container.section(kind::METADATA).ok_or(Error::BadSection {
            section: Section::Metadata,
        })?;
        let meta: Metadata<'a> = decode_exact(meta_bytes, Section::Metadata)?;
        if check {
            if let Some(sig) = container.section(kind::SIGNATURE) {
                signature::parse(sig)?;
            }
        }
        let graph = Graph::parse(&container, check)?;
        if check {
            validate::graph(&graph)?;
        }
        let op_scratch = (0..graph.ops.len())
            .map(|s| crate::ops::scratch_bytes(&graph, s))
            .max()
            .unwrap_or(0);
        let mut model = Model {
            container,
            meta,
            graph,
            pre: None,
            nan_input: false,
            op_scratch,
            state: &[],
        };
        model.nan_input = model.reads_input_only_in_trees();
        if let Some(s) = container.section(kind::STATE) {
            model.state = s;
            if check {
                model.check_state()?;
            }
        }
        if let Some(p) = container.section(kind::PREPROCESS) {
            if !cfg!(feature = "preprocess") {
                return Err(Error::Unsupported);
            }
            let graph_in = if model.num_inputs() == 0 {
                0
            } else {
                model.input_len(0)?
            };
            model.pre = Some(Preprocess::parse(p, graph_in, check)?);
        }
        if check && cfg!(feature = "monitor") {
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
    ///
    /// The NHWC convolutions ([`Op::ConvNhwc`](crate::Op::ConvNhwc)) whose taps reach the
    /// padding need a padding row of scratch (the input's channels): the largest is
    /// reserved there too (the pipeline and the graph never run at the same time, so
    /// they share it). An f32 [`Op::FullyConnected`](crate::Op::FullyConnected) over at
    /// least [`FC_GEMM_MIN_BATCH`](crate::kernels::engine::FC_GEMM_MIN_BATCH) rows (a
    /// batch file) packs its weights there per run for the GEMM
    /// ([`f32_fc_scratch_len`](crate::kernels::engine::f32_fc_scratch_len) elements).
    /// A [`Op::ConvNchw`](crate::Op::ConvNchw) reserves an NHWC copy of its image
    /// ([`f32_conv_nchw_scratch_len`](crate::kernels::engine::f32_conv_nchw_scratch_len)
    /// elements) for the CPUs that run it as a transpose and a conv; its int8 form
    /// [`Op::ConvNchwI8`](crate::Op::ConvNchwI8) one band of quantized input rows
    /// ([`i8_conv_nchw_scratch_len`](crate::kernels::engine::i8_conv_nchw_scratch_len)
    /// bytes).
    /// Files without those ops need exactly the planned arena.
    pub fn arena_size(&self) -> usize {
        match (&self.pre, self.op_scratch) {
            (None, 0) => self.graph.io.arena_size as usize,
            (pre, op) => {
                self.graph_arena_end() + op.max(pre.as_ref().map_or(0, |p| p.scratch_bytes()))
            }
        }
    }

    /// End of the graph's part of the arena (16-byte aligned when a pipeline follows).
    pub(crate) fn graph_arena_end(&self) -> usize {
        (self.graph.io.arena_size as usize).div_ceil(ALIGN) * ALIGN
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

    /// Whether [`Session::predict`](crate::Session::predict) accepts NaN (a missing
    /// value) in its features: graph input 0 is f32 and only `TreeEnsemble` ops read it,
    /// as their features — a tree node defines where a missing value goes (its
    /// missing-tracks-true flag, else the comparison's result). Any other model rejects
    /// NaN with [`Error::InvalidInput`](crate::Error::InvalidInput).
    pub fn input_accepts_nan(&self) -> bool {
        self.nan_input
    }

    fn reads_input_only_in_trees(&self) -> bool {
        // TreeEnsemble is group Classic: a build without it loads no tree model.
        if !crate::format::types::OpGroup::Classic.enabled() {
            return false;
        }
        let Some(&x) = self.graph.io.inputs.first() else {
            return false;
        };
        if !matches!(self.input(0), Ok(t) if t.dtype == crate::format::types::DType::F32) {
            return false;
        }
        let mut read = false;
        for i in 0..self.num_ops() {
            let Ok(op) = self.op(i) else { return false };
            for (k, &t) in op.inputs.iter().enumerate() {
                if t == x {
                    if k != 0 || !matches!(op.op, crate::format::types::Op::TreeEnsemble { .. }) {
                        return false;
                    }
                    read = true;
                }
            }
        }
        read && !self.graph.io.outputs.contains(&x)
    }

    /// Number of graph inputs.
    pub fn num_inputs(&self) -> usize {
        self.graph.io.inputs.len()
    }

    /// The streaming state pairs `(input, output)` of graph IO indices (none for a
    /// model that does not stream): after each
    /// [`Session::run_step`](crate::Session::run_step), output `output` is copied into
    /// input `input` for the next step.
    pub fn state_pairs(&self) -> impl Iterator<Item = (usize, usize)> + 'a {
        let b = self.state;
        let n = crate::format::rd_u32(b, 0).unwrap_or(0) as usize;
        (0..n).filter_map(move |k| {
            let at = 4 + 8 * k;
            let i = crate::format::rd_u32(b, at)? as usize;
            let o = crate::format::rd_u32(b, at + 4)? as usize;
            Some((i, o))
        })
    }

    /// Whether the model streams (has state pairs).
    pub fn is_streaming(&self) -> bool {
        self.state_pairs().next().is_some()
    }

    /// The STATE section: `count u32` then `count` pairs `(input u32, output u32)`,
    /// exactly; each input a graph input other than input 0 and used once, each output
    /// a graph output other than output 0, of the input's dtype and shape; each state
    /// input in the arena and alive until the last op (so that writing it after a run
    /// clobbers no output).
    fn check_state(&self) -> Result<()> {
        let bad = Error::BadSection {
            section: Section::State,
        };
        let b = self.state;
        let n = crate::format::rd_u32(b, 0).ok_or(bad)? as usize;
        if n > crate::format::types::MAX_GRAPH_IO || b.len() != 4 + 8 * n {
            return Err(bad);
        }
        let n_ops = self.num_ops();
        let mut seen = 0u32;
        for (i, o) in self.state_pairs() {
            if i == 0 || o == 0 || i >= self.num_inputs() || o >= self.num_outputs() {
                return Err(bad);
            }
            if seen & (1 << i) != 0 {
                return Err(bad);
            }
            seen |= 1 << i;
            let (ti, to) = (self.input(i)?, self.output(o)?);
            let alive = matches!(ti.location, Location::Arena { last, .. } if last + 1 == n_ops);
            if ti.dtype != to.dtype || ti.shape != to.shape || !alive {
                return Err(bad);
            }
        }
        Ok(())
    }

    /// Number of graph outputs.
    pub fn num_outputs(&self) -> usize {
        self.graph.io.outputs.len()
    }

    /// Definition of graph input `i`.
    pub fn input(&self, i: usize) -> Result<TensorDef<'a>> {
        self.graph.io_def(false, i)
    }

    /// Definition of graph output `i`.
    pub fn output(&self, i: usize) -> Result<TensorDef<'a>> {
        self.graph.io_def(true, i)
    }

    /// Number of tensors in the graph.
    pub fn num_tensors(&self) -> u32 {
        self.graph.tensors.len()
    }

    /// Tensor `i` of the graph.
    pub fn tensor(&self, i: u32) -> Result<TensorDef<'a>> {
        self.graph.tensors.get(i)
    }

    /// Number of ops (execution steps).
    pub fn num_ops(&self) -> u32 {
        self.graph.ops.len()
    }

    /// Op `i` in execution order.
    pub fn op(&self, i: u32) -> Result<OpDef> {
        self.graph.ops.get(i)
    }

    /// Bytes of constant `t` in the weights section (`None` for arena tensors).
    pub fn constant_bytes(&self, t: &TensorDef<'_>) -> Option<&'a [u8]> {
        self.graph.constant_bytes(t)
    }

    /// Raw bytes of the weights section.
    pub fn weights(&self) -> &'a [u8] {
        self.graph.weights
    }

    /// Number of golden vectors stored in the model.
    pub fn num_golden(&self) -> u32 {
        self.graph.num_golden()
    }

    /// Golden vector `i` when it is stored in full (section 6: input and output bytes);
    /// [`Error::NoSuchIndex`] for a compact one (see [`Model::golden_input`]).
    pub fn golden(&self, i: u32) -> Result<Golden<'a>> {
        self.graph.golden(i)
    }

    /// The bytes of graph input `input` of golden vector `g`, full or compact (a
    /// compact vector's inputs are generated from its seed, see
    /// [`golden_input`](crate::format::golden_input)), into `out` (the input's byte
    /// length).
    pub fn golden_input(&self, g: u32, input: usize, out: &mut [u8]) -> Result<()> {
        let n = self.input(input)?.byte_len().unwrap_or(0);
        if out.len() != n {
            return Err(Error::WrongLength {
                expected: n,
                actual: out.len(),
            });
        }
        if g < self.graph.num_full_golden() {
            let v = self.graph.golden(g)?;
            let b = v.inputs.get(input).ok_or(Error::NoSuchIndex {
                index: input as u32,
            })?;
            out.copy_from_slice(b);
            return Ok(());
        }
        let d = self.graph.golden_digest(g)?;
        if !crate::format::golden_input(d.seed, input, self.input(input)?.dtype, out) {
            return Err(Error::Unsupported);
        }
        Ok(())
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
        self.graph
            .tensors
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
