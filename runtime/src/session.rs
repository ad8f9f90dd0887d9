//! Sessions: run a validated model over an arena, op by op (each op's run is in its
//! module under `ops/`).

use crate::error::{Error, OpReason, Result};
use crate::format::types::{DType, Operands, TensorDef, TensorRef};
use crate::format::{ALIGN, WIDE_ALIGN};
use crate::kernels::fast;
use crate::model::Model;
use crate::ops;
use crate::plan::{NoPlan, Plan, PlanSlot};

/// A 16-byte aligned static arena, for firmware: `static mut`-free use is
/// `let mut arena = ferrite::Arena::<4096>::new();`.
#[derive(Debug)]
#[repr(C, align(16))]
pub struct Arena<const N: usize>(pub [u8; N]);

impl<const N: usize> Arena<N> {
    /// A zeroed arena.
    pub const fn new() -> Self {
        Arena([0; N])
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// One inference context: a model and the arena its tensors live in.
///
/// A session is cheap; create one per thread and reuse it. `run` allocates nothing and,
/// on a validated model, can only fail on the caller's own arguments. Off
/// microcontrollers (the default `session-plan` feature) a session keeps its first 8
/// ops decoded from its second run on (a [`Plan`], see [`run`](Self::run));
/// `size_of::<Session>()` is then about 3 KiB. [`Session::new_unplanned`] makes one
/// that keeps none (three words).
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
/// # let bytes = ferrite::AlignedModel::new(&relu_model());
/// let model = ferrite::Model::load(bytes.bytes())?;
/// let mut arena = ferrite::Arena::<64>::new(); // at least model.arena_size() bytes
/// let mut session = ferrite::Session::new(&model, &mut arena.0)?;
///
/// session.set_input_f32(0, &[-1.0, 2.0, -3.0, 4.0])?;
/// session.run()?;
/// let mut y = [0.0f32; 4];
/// session.output_f32(0, &mut y)?;
/// assert_eq!(y, [0.0, 2.0, 0.0, 4.0]);
///
/// // predict = input 0, run, output 0, and the index of the largest score.
/// let mut scores = [0.0f32; 4];
/// assert_eq!(session.predict(&[5.0, -1.0, 7.0, 1.0], &mut scores)?, Some(2));
/// // The caller's mistakes are errors too.
/// assert!(session.set_input_f32(0, &[1.0]).is_err());
/// # Ok::<(), ferrite::Error>(())
/// ```
#[derive(Debug)]
pub struct Session<'m, 'a, P: PlanSlot = Plan> {
    model: &'m Model<'a>,
    arena: &'m mut [u8],
    /// The decoded ops, from the second run on ([`Plan`]; [`NoPlan`] keeps none).
    plan: P,
}

impl<'m, 'a> Session<'m, 'a> {
    /// A session over a caller-supplied arena of at least [`Model::arena_size`] bytes
    /// when `arena` is 16-byte aligned (e.g. [`Arena`]), or 15 bytes more when it is not.
    ///
    /// When the slice has room for it, the session's arena starts at a 64-byte boundary
    /// (a cache line, see [`WIDE_ALIGN`](crate::format::WIDE_ALIGN)): a slice of
    /// `arena_size + 63` bytes always gets one. The kernels' wide vector loads are then
    /// never split across two lines; results are the same at any alignment.
    pub fn new(model: &'m Model<'a>, arena: &'m mut [u8]) -> Result<Self> {
        Self::with_slot(model, arena)
    }
}

impl<'m, 'a> Session<'m, 'a, NoPlan> {
    /// [`Session::new`] for a session that keeps no [`Plan`] (three words: the C
    /// binding keeps its session in a 64-byte header); it decodes every op on every run.
    pub fn new_unplanned(model: &'m Model<'a>, arena: &'m mut [u8]) -> Result<Self> {
        Self::with_slot(model, arena)
    }
}

impl<'m, 'a, P: PlanSlot> Session<'m, 'a, P> {
    fn with_slot(model: &'m Model<'a>, arena: &'m mut [u8]) -> Result<Self> {
        let need = model.arena_size();
        let wide = arena.as_ptr().align_offset(WIDE_ALIGN);
        let skip = if wide < WIDE_ALIGN && arena.len().saturating_sub(wide) >= need {
            wide
        } else {
            arena.as_ptr().align_offset(ALIGN)
        };
        let avail = arena.len().saturating_sub(skip);
        if skip >= WIDE_ALIGN || avail < need {
            return Err(Error::ArenaTooSmall {
                needed: need + ALIGN - 1,
                actual: arena.len(),
            });
        }
        let arena = &mut arena[skip..skip + need];
        Ok(Session {
            model,
            arena,
            plan: P::EMPTY,
        })
    }

    /// The model this session runs.
    pub fn model(&self) -> &'m Model<'a> {
        self.model
    }

    fn io_tensor(&self, outputs: bool, i: usize) -> Result<TensorRef> {
        self.model.graph.io_ref(outputs, i)
    }

    fn arena_range(t: &TensorRef) -> core::ops::Range<usize> {
        if t.weights {
            0..0
        } else {
            t.offset as usize..(t.offset as usize).wrapping_add(t.byte_len())
        }
    }

    /// Writes raw bytes (little-endian, the tensor's dtype) into input `i`.
    pub fn set_input_bytes(&mut self, i: usize, bytes: &[u8]) -> Result<()> {
        let t = self.io_tensor(false, i)?;
        let r = Self::arena_range(&t);
        if bytes.len() != r.len() {
            return Err(Error::WrongLength {
                expected: r.len(),
                actual: bytes.len(),
            });
        }
        self.arena[r].copy_from_slice(bytes);
        Ok(())
    }

    /// Writes f32 values into input `i`, quantizing them when the input is int8/uint8.
    pub fn set_input_f32(&mut self, i: usize, values: &[f32]) -> Result<()> {
        let t = self.io_tensor(false, i)?;
        let n = t.elements;
        if values.len() != n {
            return Err(Error::WrongLength {
                expected: n,
                actual: values.len(),
            });
        }
        let dst = &mut self.arena[Self::arena_range(&t)];
        match (t.dtype, t.per_tensor()) {
            (DType::F32, _) => cast_mut::<f32>(dst)?.copy_from_slice(values),
            (DType::I8, Some((s, z))) => fast::f32_quantize_i8(values, s, z, cast_mut(dst)?),
            (DType::U8, Some((s, z))) => fast::f32_quantize_u8(values, s, z, dst),
            _ => return Err(Error::Unsupported),
        }
        Ok(())
    }

    /// Raw bytes of output `i` (valid after [`run`](Self::run)).
    pub fn output_bytes(&self, i: usize) -> Result<&[u8]> {
        let t = self.io_tensor(true, i)?;
        Ok(&self.arena[Self::arena_range(&t)])
    }

    /// Output `i` as f32, dequantized when it is int8/uint8.
    pub fn output_f32(&self, i: usize, out: &mut [f32]) -> Result<()> {
        let t = self.io_tensor(true, i)?;
        let n = t.elements;
        if out.len() != n {
            return Err(Error::WrongLength {
                expected: n,
                actual: out.len(),
            });
        }
        let src = &self.arena[Self::arena_range(&t)];
        match (t.dtype, t.per_tensor()) {
            (DType::F32, _) => out.copy_from_slice(cast::<f32>(src)?),
            (DType::I8, Some((s, z))) => fast::f32_dequantize_i8(cast(src)?, s, z, out),
            (DType::U8, Some((s, z))) => fast::f32_dequantize_u8(src, s, z, out),
            (DType::I8, None) => out
                .iter_mut()
                .zip(cast::<i8>(src)?)
                .for_each(|(o, &v)| *o = v as f32),
            (DType::I32, _) => out
                .iter_mut()
                .zip(cast::<i32>(src)?)
                .for_each(|(o, &v)| *o = v as f32),
            (DType::I64, _) => out
                .iter_mut()
                .zip(cast::<i64>(src)?)
                .for_each(|(o, &v)| *o = v as f32),
            _ => return Err(Error::Unsupported),
        }
        Ok(())
    }

    /// One prediction: `features` into input 0, run, output 0 as f32 `scores`.
    /// Returns the index of the largest score for a multi-value output (a class
    /// label index, see [`Model::labels`]) and `None` for a single value.
    ///
    /// With a preprocessing pipeline (see [`Model::preprocess`]), `features` are the raw
    /// values ([`Model::raw_input_len`]); they go through the pipeline first, so NaN is
    /// accepted wherever the pipeline handles it (e.g. imputation), and a non-finite
    /// value left in the pipeline's output is rejected with [`Error::InvalidInput`]
    /// naming that output column. Without a pipeline, NaN and infinities are rejected
    /// with [`Error::InvalidInput`] naming the feature. Exception: a model whose input
    /// only tree ensembles read ([`Model::input_accepts_nan`]) takes NaN as a missing
    /// value (infinities are still rejected).
    pub fn predict(&mut self, features: &[f32], scores: &mut [f32]) -> Result<Option<usize>> {
        if self.model.pre.is_some() {
            self.preprocess_into_input(features)?;
        } else {
            if let Some(i) = refused(features, self.model.nan_input) {
                return Err(Error::InvalidInput { feature: i as u32 });
            }
            self.set_input_f32(0, features)?;
        }
        self.run()?;
        self.output_f32(0, scores)?;
        Ok(if scores.len() > 1 {
            Some(argmax(scores))
        } else {
            None
        })
    }

    /// Runs only the model's preprocessing pipeline: `raw` ([`Model::raw_input_len`]
    /// values) to `out` (the elements of graph input 0). Without a pipeline this copies
    /// `raw` to `out`. NaN may remain in `out` where no step replaced it (see
    /// `docs/preprocessing.md`). Uses the session arena as scratch; allocates nothing.
    pub fn preprocess(&mut self, raw: &[f32], out: &mut [f32]) -> Result<()> {
        match &self.model.pre {
            Some(p) => {
                let end = self.model.graph_arena_end();
                let scratch =
                    cast_mut::<f32>(self.arena.get_mut(end..).ok_or(Error::Unsupported)?)?;
                p.run(raw, out, scratch)
            }
            None => {
                let n = self.model.input_len(0)?;
                if raw.len() != n || out.len() != n {
                    let actual = if raw.len() != n { raw.len() } else { out.len() };
                    return Err(Error::WrongLength {
                        expected: n,
                        actual,
                    });
                }
                out.copy_from_slice(raw);
                Ok(())
            }
        }
    }

    fn preprocess_into_input(&mut self, raw: &[f32]) -> Result<()> {
        let Some(p) = &self.model.pre else {
            return Err(Error::Unsupported);
        };
        let t = self.io_tensor(false, 0)?;
        let end = self.model.graph_arena_end();
        let (graph, scratch) = self.arena.split_at_mut(end.min(self.arena.len()));
        let row = p.run_scratch(raw, cast_mut::<f32>(scratch)?)?;
        if let Some(i) = refused(row, self.model.nan_input) {
            return Err(Error::InvalidInput { feature: i as u32 });
        }
        let n = t.elements;
        if row.len() != n {
            return Err(Error::WrongLength {
                expected: n,
                actual: row.len(),
            });
        }
        let dst = &mut graph[Self::arena_range(&t)];
        match (t.dtype, t.per_tensor()) {
            (DType::F32, _) => cast_mut::<f32>(dst)?.copy_from_slice(row),
            (DType::I8, Some((s, z))) => fast::f32_quantize_i8(row, s, z, cast_mut(dst)?),
            (DType::U8, Some((s, z))) => fast::f32_quantize_u8(row, s, z, dst),
            _ => return Err(Error::Unsupported),
        }
        Ok(())
    }

    /// Runs every op in order.
    ///
    /// With a [`Plan`] (the default off microcontrollers), a session that runs more
    /// than once decodes its first 8 ops from the model once, at the start of its
    /// second run, and keeps them (in the `Session` value, never in the arena); later
    /// runs skip the decoding. A session
    /// used for one run only decodes every op as it runs, as on microcontrollers.
    pub fn run(&mut self) -> Result<()> {
        if let Some(plan) = self.plan.plan_mut() {
            plan.count_run(&self.model.graph);
        }
        let mut last = Last::NONE;
        for s in 0..self.model.graph.ops.len() {
            self.run_op(s, &mut last)?;
        }
        Ok(())
    }

    /// One step of a streaming model ([`Model::is_streaming`]; for other models the same
    /// as [`run`](Self::run)): runs the graph on the inputs set, then copies each state
    /// output into its state input ([`Model::state_pairs`]), so the next call continues
    /// from this step's state. Set the other inputs before each call.
    pub fn run_step(&mut self) -> Result<()> {
        self.run()?;
        for (i, o) in self.model.state_pairs() {
            let (ti, to) = (self.io_tensor(false, i)?, self.io_tensor(true, o)?);
            let (ri, ro) = (Self::arena_range(&ti), Self::arena_range(&to));
            if ri.len() != ro.len() || ri.end > self.arena.len() || ro.end > self.arena.len() {
                return Err(Error::BadSection {
                    section: crate::error::Section::State,
                });
            }
            self.arena.copy_within(ro, ri.start);
        }
        Ok(())
    }

    /// Streaming with one feature input and one result: writes `features` into input 0,
    /// runs one [`run_step`](Self::run_step) and reads output 0 into `outputs` (f32,
    /// dequantized when int8). The hidden state stays in the session between calls;
    /// [`reset`](Self::reset) starts a new stream.
    ///
    /// A streaming model converted from a recurrent network with sequence length 1
    /// (`ferrite convert --state initial_h=h_n ...`) gives after `N` steps the outputs of
    /// the whole-sequence model on those `N` frames.
    pub fn step(&mut self, features: &[f32], outputs: &mut [f32]) -> Result<()> {
        self.set_input_f32(0, features)?;
        self.run_step()?;
        self.output_f32(0, outputs)
    }

    /// Zeroes every state input of a streaming model (the quantized zero for int8
    /// states): the next [`step`](Self::step) starts a new stream. The state lives in
    /// the arena, not in the `Session` value: a session over a zeroed arena ([`Arena`],
    /// `OwnedSession`, the bindings' arenas) starts from a zero state, and a new
    /// `Session` over the same arena continues the stream.
    pub fn reset(&mut self) -> Result<()> {
        for (i, _) in self.model.state_pairs() {
            let t = self.io_tensor(false, i)?;
            let fill = match (t.dtype, t.per_tensor()) {
                (DType::I8 | DType::U8, Some((_, z))) => z as u8,
                _ => 0,
            };
            let r = Self::arena_range(&t);
            self.arena
                .get_mut(r)
                .ok_or(Error::BadSection {
                    section: crate::error::Section::State,
                })?
                .fill(fill);
        }
        Ok(())
    }

    /// Runs every op in order and calls `observe(op_index, output_def, output_bytes)`
    /// after each one: per-layer validation and calibration read every intermediate
    /// tensor this way (the arena reuses memory, so read it inside the callback).
    pub fn run_observed(
        &mut self,
        mut observe: impl FnMut(u32, &TensorDef<'a>, &[u8]),
    ) -> Result<()> {
        let mut last = Last::NONE;
        for s in 0..self.model.graph.ops.len() {
            let o = self.run_op(s, &mut last)?;
            let out = self.model.graph.tensors.get(o)?;
            let r = self.model.graph.tensor_ref(o).ok_or(Error::BadOp {
                op: s,
                reason: OpReason::Inconsistent,
            })?;
            observe(s, &out, &self.arena[Self::arena_range(&r)]);
        }
        Ok(())
    }

    /// Runs golden vector `g` stored in the model and compares the output bytes (a
    /// compact vector: generates its inputs from the seed and compares the outputs'
    /// FNV-1a 64 digests).
    pub fn check_golden(&mut self, g: u32) -> Result<()> {
        if g >= self.model.graph.num_full_golden() {
            let d = self.model.graph.golden_digest(g)?;
            for i in 0..self.model.num_inputs() {
                let t = self.io_tensor(false, i)?;
                let dst = &mut self.arena[Self::arena_range(&t)];
                if !crate::format::golden_input(d.seed, i, t.dtype, dst) {
                    return Err(Error::Unsupported);
                }
            }
            self.run()?;
            for (i, &want) in d.outputs.iter().enumerate() {
                if crate::format::fnv1a64(self.output_bytes(i)?) != want {
                    return Err(Error::GoldenMismatch { index: g });
                }
            }
            return Ok(());
        }
        let v = self.model.golden(g)?;
        for (i, b) in v.inputs.iter().enumerate() {
            self.set_input_bytes(i, b)?;
        }
        self.run()?;
        for (i, b) in v.outputs.iter().enumerate() {
            if self.output_bytes(i)? != *b {
                return Err(Error::GoldenMismatch { index: g });
            }
        }
        Ok(())
    }

    /// Runs op `s` and returns its output tensor's index; `last` is the output of the
    /// op run before it in this pass (input 0 of most ops), and becomes this op's.
    ///
    /// The op and its operands are read with the trusted decoders (`OpRef`, `TensorRef`):
    /// `Model::load` checked every record, so only the fields the kernels need are read.
    fn run_op(&mut self, s: u32, last: &mut Last) -> Result<u32> {
        let g = &self.model.graph;
        let internal = Error::BadOp {
            op: s,
            reason: OpReason::Inconsistent,
        };
        // A planned op: its records were decoded when the plan was built. (`last` is
        // not set: every op after a planned one is planned, or decodes its input 0.)
        #[cfg(all(feature = "session-plan", not(target_os = "none")))]
        if let Some(p) = self.plan.plan().and_then(|plan| plan.ops.get(s as usize)) {
            let op = p.op.as_ref().ok_or(internal)?;
            let known = p.ins.get(..p.known as usize).ok_or(internal)?;
            let cx = ops::Cx {
                graph: g,
                inputs: p.io.inputs(),
                lo: &[],
                hi: &[],
                hi_base: 0,
                known,
                x: p.ins[0],
                out: p.out,
                op: s,
            };
            let end = self.model.graph_arena_end();
            Self::run_in(self.arena, end, op, cx, internal)?;
            return Ok(p.io.output);
        }
        // The op, its operand lists and its operands are decoded in place (the op in
        // the decoder's return slot, bound by reference; the tensors in `cx`): see
        // `TensorRef::read`.
        let (mut op, mut io) = (None, Operands::EMPTY);
        g.read_op(s, &mut op, &mut io).ok_or(internal)?;
        let Some(op) = &op else {
            return Err(internal);
        };
        let mut cx = ops::Cx {
            graph: g,
            inputs: io.inputs(),
            lo: &[],
            hi: &[],
            hi_base: 0,
            #[cfg(all(feature = "session-plan", not(target_os = "none")))]
            known: &[],
            x: TensorRef::EMPTY,
            out: TensorRef::EMPTY,
            op: s,
        };
        g.read_tensor(io.output, &mut cx.out).ok_or(internal)?;
        let x = *cx.inputs.first().ok_or(internal)?;
        if x == last.index {
            cx.x = last.tensor;
        } else {
            g.read_tensor(x, &mut cx.x).ok_or(internal)?;
        }
        let out = cx.out;
        Self::run_in(self.arena, self.model.graph_arena_end(), op, cx, internal)?;
        (last.index, last.tensor) = (io.output, out);
        Ok(io.output)
    }

    /// Runs `op` on `cx` over `arena`, setting `cx`'s `lo`, `hi` and `hi_base`: the
    /// output between the bytes before and after it (the arena plan keeps it apart from
    /// every input, so the inputs are shared borrows beside a mutable output), the op
    /// scratch after the graph's tensors, which end at `graph_end` (see
    /// `Model::arena_size`).
    #[inline(always)]
    fn run_in<'r>(
        arena: &'r mut [u8],
        graph_end: usize,
        op: &crate::format::types::Op,
        mut cx: ops::Cx<'r, '_>,
        internal: Error,
    ) -> Result<()> {
        let orange = Self::arena_range(&cx.out);
        let end = graph_end.min(arena.len());
        let (arena, scratch) = arena.split_at_mut(end);
        let (lo, rest) = arena.split_at_mut_checked(orange.start).ok_or(internal)?;
        let (y, hi) = rest.split_at_mut_checked(orange.len()).ok_or(internal)?;
        (cx.lo, cx.hi, cx.hi_base) = (lo, hi, orange.end);
        ops::run(op, &cx, y, scratch)
    }
}

/// The output of the op run last in a pass (`Session::run_op`): the next op's input 0
/// is usually that tensor, whose record then need not be decoded again.
struct Last {
    index: u32,
    tensor: TensorRef,
}

impl Last {
    /// Before the first op (no tensor has index `u32::MAX`: a table holds fewer).
    const NONE: Last = Last {
        index: u32::MAX,
        tensor: TensorRef::EMPTY,
    };
}

/// Index of the first value `predict` refuses: an infinity, or NaN unless `nan_ok`.
/// Off microcontrollers, one vectorised pass over the exponent bits first (NaN and the
/// infinities are exactly the values with all of them set): the scalar search, about
/// half a nanosecond per value, runs only when that pass finds one.
fn refused(v: &[f32], nan_ok: bool) -> Option<usize> {
    const EXP: u32 = 0x7F80_0000;
    let special = |x: &f32| u32::from(x.to_bits() & EXP == EXP);
    if cfg!(not(target_os = "none")) && v.iter().map(special).fold(0, u32::wrapping_add) == 0 {
        return None;
    }
    v.iter()
        .position(|x| !(x.is_finite() || nan_ok && x.is_nan()))
}

/// Index of the largest value (first on ties; NaN never wins).
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || v[best].is_nan() && !x.is_nan() {
            best = i;
        }
    }
    best
}

fn cast<T: bytemuck::Pod>(b: &[u8]) -> Result<&[T]> {
    bytemuck::try_cast_slice(b).map_err(|_| Error::Misaligned)
}

fn cast_mut<T: bytemuck::Pod>(b: &mut [u8]) -> Result<&mut [T]> {
    bytemuck::try_cast_slice_mut(b).map_err(|_| Error::Misaligned)
}

/// A session that owns its arena (needs the `alloc` feature).
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct OwnedSession<'m, 'a> {
    model: &'m Model<'a>,
    arena: crate::model::AlignedBytes,
}

#[cfg(feature = "alloc")]
impl<'m, 'a> OwnedSession<'m, 'a> {
    /// Allocates a zeroed arena of exactly [`Model::arena_size`] bytes that starts at
    /// a 64-byte boundary ([`WIDE_ALIGN`](crate::format::WIDE_ALIGN)).
    pub fn new(model: &'m Model<'a>) -> Self {
        let arena = crate::model::AlignedBytes::zeroed(model.arena_size());
        OwnedSession { model, arena }
    }

    /// A borrowed session over the owned arena.
    pub fn session(&mut self) -> Session<'_, 'a> {
        // The arena is aligned and exactly sized, so `Session::new` cannot fail.
        Session {
            model: self.model,
            arena: self.arena.bytes_mut(),
            plan: Plan::EMPTY,
        }
    }
}

#[cfg(test)]
mod tests {
    /// `refused` against the plain scalar rule, on every position of every length up
    /// to 70 (past the vector passes' tails), for each special value and its neighbours.
    #[test]
    fn refused_matches_the_scalar_rule() {
        let specials = [
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7F80_0001), // signalling NaN
            f32::from_bits(0xFFFF_FFFF),
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::from_bits(0x7F7F_FFFF),
            f32::from_bits(1), // subnormal
            -0.0,
        ];
        let mut v = [0.5f32; 70];
        for n in 0..=v.len() {
            for at in 0..n {
                for &x in &specials {
                    v[at] = x;
                    for nan_ok in [false, true] {
                        let want = v[..n]
                            .iter()
                            .position(|x| !(x.is_finite() || nan_ok && x.is_nan()));
                        assert_eq!(super::refused(&v[..n], nan_ok), want, "{n} {at} {x}");
                    }
                    v[at] = 0.5;
                }
            }
        }
    }
}
