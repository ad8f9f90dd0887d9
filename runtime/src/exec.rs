//! Sessions: run a validated model over an arena.

use crate::classic;
use crate::error::{Error, Result};
#[cfg(feature = "ops-shape")]
use crate::format::types::MAX_OP_INPUTS;
use crate::format::types::{Activation, DType, Op, TensorDef, TensorRef, MAX_RANK};
use crate::format::ALIGN;
#[cfg(feature = "ops-shape")]
use crate::kernels::generic as kg;
#[cfg(feature = "ops-conv")]
use crate::kernels::ConvParams;
#[cfg(feature = "ops-pool")]
use crate::kernels::PoolParams;
use crate::kernels::{extra as kx, f32 as kf, fast, int8 as ki};
use crate::kernels::{BroadcastShapes, F32Out, FullyConnectedParams, LrnParams, QuantOut};
use crate::model::Model;
#[cfg(feature = "ops-shape")]
use heapless::Vec as HVec;

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
/// A session is cheap; create one per thread. `run` allocates nothing and, on a
/// validated model, can only fail on the caller's own arguments.
#[derive(Debug)]
pub struct Session<'m, 'a> {
    model: &'m Model<'a>,
    arena: &'m mut [u8],
}

impl<'m, 'a> Session<'m, 'a> {
    /// A session over a caller-supplied arena of at least [`Model::arena_size`] bytes
    /// when `arena` is 16-byte aligned (e.g. [`Arena`]), or 15 bytes more when it is not.
    pub fn new(model: &'m Model<'a>, arena: &'m mut [u8]) -> Result<Self> {
        let need = model.arena_size();
        let skip = arena.as_ptr().align_offset(ALIGN);
        let avail = arena.len().saturating_sub(skip);
        if skip >= ALIGN || avail < need {
            return Err(Error::ArenaTooSmall {
                needed: need + ALIGN - 1,
                actual: arena.len(),
            });
        }
        let arena = &mut arena[skip..skip + need];
        Ok(Session { model, arena })
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
            (DType::I8, Some((s, z))) => kf::quantize_i8(values, s, z, cast_mut(dst)?),
            (DType::U8, Some((s, z))) => kf::quantize_u8(values, s, z, dst),
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
            (DType::I8, Some((s, z))) => kf::dequantize_i8(cast(src)?, s, z, out),
            (DType::U8, Some((s, z))) => kf::dequantize_u8(src, s, z, out),
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
    /// with [`Error::InvalidInput`] naming the feature.
    pub fn predict(&mut self, features: &[f32], scores: &mut [f32]) -> Result<Option<usize>> {
        if self.model.pre.is_some() {
            self.preprocess_into_input(features)?;
        } else {
            if let Some(i) = features.iter().position(|v| !v.is_finite()) {
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
        if let Some(i) = row.iter().position(|v| !v.is_finite()) {
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
            (DType::I8, Some((s, z))) => kf::quantize_i8(row, s, z, cast_mut(dst)?),
            (DType::U8, Some((s, z))) => kf::quantize_u8(row, s, z, dst),
            _ => return Err(Error::Unsupported),
        }
        Ok(())
    }

    /// Runs every op in order.
    pub fn run(&mut self) -> Result<()> {
        for s in 0..self.model.graph.ops.len() {
            self.step(s)?;
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
        for s in 0..self.model.graph.ops.len() {
            let o = self.step(s)?;
            let out = self.model.graph.tensors.get(o)?;
            let r = self
                .model
                .graph
                .tensor_ref(o)
                .ok_or(Error::BadOp { op: s })?;
            observe(s, &out, &self.arena[Self::arena_range(&r)]);
        }
        Ok(())
    }

    /// Runs golden vector `g` stored in the model and compares the output bytes.
    pub fn check_golden(&mut self, g: u32) -> Result<()> {
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

    /// Runs op `s` and returns its output tensor's index.
    ///
    /// The op and its operands are read with the trusted decoders (`OpRef`, `TensorRef`):
    /// `Model::load` checked every record, so only the fields the kernels need are read.
    fn step(&mut self, s: u32) -> Result<u32> {
        let m = self.model;
        let internal = Error::BadOp { op: s };
        let def = m.graph.op_ref(s).ok_or(internal)?;
        let inputs = def.inputs();
        // Decodes input `k` in place (see `Model::read_tensor`).
        macro_rules! operand {
            ($k:expr) => {{
                let mut t = TensorRef::EMPTY;
                let i = *inputs.get($k).ok_or(internal)?;
                m.graph.read_tensor(i, &mut t).ok_or(internal)?;
                t
            }};
        }
        let mut out = TensorRef::EMPTY;
        m.graph.read_tensor(def.output, &mut out).ok_or(internal)?;
        let orange = Self::arena_range(&out);
        let (lo, rest) = self
            .arena
            .split_at_mut_checked(orange.start)
            .ok_or(internal)?;
        let (y, hi) = rest.split_at_mut_checked(orange.len()).ok_or(internal)?;
        let (lo, hi) = (&*lo, &*hi);
        let hi_base = orange.end;
        let weights = m.graph.weights;
        let bytes = |t: &TensorRef| -> Result<&[u8]> {
            let (o, n) = (t.offset as usize, t.byte_len());
            let (src, o) = if t.weights {
                (weights, o)
            } else if o.wrapping_add(n) <= lo.len() {
                (lo, o)
            } else {
                (hi, o.wrapping_sub(hi_base))
            };
            src.get(o..o.wrapping_add(n)).ok_or(internal)
        };
        let x = &operand!(0);
        let xb = bytes(x)?;
        let (xs, xr) = x.udims();
        let (ys, yr) = out.udims();
        match &def.op {
            Op::FullyConnected { act, q } => {
                let w = &operand!(1);
                let (n, k) = (w.dims[0] as usize, w.dims[1] as usize);
                let batch = x.elements / k.max(1);
                let wb = bytes(w)?;
                let bb = if inputs.len() > 2 {
                    Some(bytes(&operand!(2))?)
                } else {
                    None
                };
                let p = FullyConnectedParams { batch, k, n };
                match q {
                    None => {
                        let (act_min, act_max) = act_range(act);
                        let stage = F32Out {
                            bias: bb.map(cast).transpose()?,
                            act_min,
                            act_max,
                        };
                        fast::f32_fully_connected(&p, cast(xb)?, cast(wb)?, &stage, cast_mut(y)?)
                    }
                    Some(q) => {
                        let (_, xz) = x.per_tensor().ok_or(internal)?;
                        let (_, oz) = out.per_tensor().ok_or(internal)?;
                        let rq = m
                            .graph
                            .i32_table(q.requant, 2 * q.channels as usize)
                            .ok_or(internal)?;
                        let stage = QuantOut {
                            bias: bb.map(cast).transpose()?,
                            requant: rq,
                            zero_point: oz,
                            act_min: q.act_min,
                            act_max: q.act_max,
                        };
                        fast::int8_fully_connected(
                            &p,
                            cast(xb)?,
                            xz,
                            cast(wb)?,
                            &stage,
                            cast_mut(y)?,
                        )
                    }
                }
            }
            Op::MatMul => {
                let b = &operand!(1);
                let (bs, br) = b.udims();
                let s = BroadcastShapes {
                    a: &xs[..xr],
                    b: &bs[..br],
                    y: &ys[..yr],
                };
                kf::matmul(&s, cast(xb)?, cast(bytes(b)?)?, cast_mut(y)?);
            }
            #[cfg(feature = "ops-conv")]
            Op::Conv {
                window,
                groups,
                act,
                q,
            } => {
                let w = &operand!(1);
                let (ws, _) = w.udims();
                let x4 = nchw(&xs, xr);
                let y4 = nchw(&ys, yr);
                let w4 = if xr == 3 {
                    [ws[0], ws[1], 1, ws[2]]
                } else {
                    [ws[0], ws[1], ws[2], ws[3]]
                };
                let wb = bytes(w)?;
                let bb = if inputs.len() > 2 {
                    Some(bytes(&operand!(2))?)
                } else {
                    None
                };
                let p = ConvParams {
                    x: x4,
                    w: w4,
                    y: y4,
                    window: *window,
                    groups: *groups as usize,
                };
                match q {
                    None => {
                        let (act_min, act_max) = act_range(act);
                        let stage = F32Out {
                            bias: bb.map(cast).transpose()?,
                            act_min,
                            act_max,
                        };
                        fast::f32_conv2d(&p, cast(xb)?, cast(wb)?, &stage, cast_mut(y)?)
                    }
                    Some(q) => {
                        let (_, xz) = x.per_tensor().ok_or(internal)?;
                        let (_, oz) = out.per_tensor().ok_or(internal)?;
                        let rq = m
                            .graph
                            .i32_table(q.requant, 2 * q.channels as usize)
                            .ok_or(internal)?;
                        let stage = QuantOut {
                            bias: bb.map(cast).transpose()?,
                            requant: rq,
                            zero_point: oz,
                            act_min: q.act_min,
                            act_max: q.act_max,
                        };
                        fast::int8_conv2d(&p, cast(xb)?, xz, cast(wb)?, &stage, cast_mut(y)?)
                    }
                }
            }
            #[cfg(feature = "ops-pool")]
            Op::MaxPool { window } => {
                let p = PoolParams {
                    x: nchw(&xs, xr),
                    y: nchw(&ys, yr),
                    window: *window,
                    count_include_pad: false,
                };
                match x.dtype {
                    DType::I8 => fast::int8_max_pool2d(&p, cast(xb)?, cast_mut(y)?),
                    _ => fast::f32_max_pool2d(&p, cast(xb)?, cast_mut(y)?),
                }
            }
            #[cfg(feature = "ops-pool")]
            Op::AvgPool {
                window,
                count_include_pad,
            } => {
                let p = PoolParams {
                    x: nchw(&xs, xr),
                    y: nchw(&ys, yr),
                    window: *window,
                    count_include_pad: *count_include_pad,
                };
                match x.dtype {
                    DType::I8 => {
                        let (_, xz) = x.per_tensor().ok_or(internal)?;
                        ki::avg_pool2d(&p, cast(xb)?, xz, cast_mut(y)?)
                    }
                    _ => kf::avg_pool2d(&p, cast(xb)?, cast_mut(y)?),
                }
            }
            #[cfg(feature = "ops-pool")]
            Op::GlobalAvgPool | Op::GlobalMaxPool => {
                let ch = xs[0] * xs[1];
                let sp = x.elements / ch.max(1);
                let avg = matches!(def.op, Op::GlobalAvgPool);
                match (x.dtype, avg) {
                    (DType::I8, true) => ki::global_avg_pool(cast(xb)?, ch, sp, cast_mut(y)?),
                    (DType::I8, false) => ki::global_max_pool(cast(xb)?, ch, sp, cast_mut(y)?),
                    (_, true) => kf::global_avg_pool(cast(xb)?, ch, sp, cast_mut(y)?),
                    (_, false) => kf::global_max_pool(cast(xb)?, ch, sp, cast_mut(y)?),
                }
            }
            Op::Binary { op, act, q } => {
                let b = &operand!(1);
                let (bs, br) = b.udims();
                let bb = bytes(b)?;
                let s = BroadcastShapes {
                    a: &xs[..xr],
                    b: &bs[..br],
                    y: &ys[..yr],
                };
                match q {
                    None => kf::binary(*op, &s, cast(xb)?, cast(bb)?, act_range(act), cast_mut(y)?),
                    Some(q) => ki::binary(*op, q, &s, cast(xb)?, cast(bb)?, cast_mut(y)?),
                }
            }
            Op::Unary { op } => kf::unary(*op, cast(xb)?, cast_mut(y)?),
            Op::Lut => ki::lut(cast(xb)?, bytes(&operand!(1))?, cast_mut(y)?),
            Op::Softmax { axis, log } => {
                let a = *axis as usize;
                let outer = xs[..a].iter().product();
                let inner = xs[a + 1..xr].iter().product();
                match x.dtype {
                    DType::I8 => {
                        let table: &[u32] = cast(bytes(&operand!(1))?)?;
                        ki::softmax(cast(xb)?, outer, xs[a], inner, table, cast_mut(y)?)
                    }
                    _ => kf::softmax(cast(xb)?, outer, xs[a], inner, *log, cast_mut(y)?),
                }
            }
            Op::Reshape => y.copy_from_slice(xb),
            #[cfg(feature = "ops-shape")]
            Op::Transpose { perm } => {
                let mut p = [0usize; MAX_RANK];
                for (d, &v) in p.iter_mut().zip(perm.iter()) {
                    *d = v as usize;
                }
                kg::transpose(xb, &xs[..xr], &p[..xr], x.dtype.size(), y);
            }
            #[cfg(feature = "ops-shape")]
            Op::Concat { axis } => {
                let a = *axis as usize;
                let mut parts: HVec<&[u8], MAX_OP_INPUTS> = HVec::new();
                let mut adims: HVec<usize, MAX_OP_INPUTS> = HVec::new();
                for k in 0..inputs.len() {
                    let t = operand!(k);
                    parts.push(bytes(&t)?).map_err(|_| internal)?;
                    adims
                        .push(*t.dims.get(a).ok_or(internal)? as usize)
                        .map_err(|_| internal)?;
                }
                let outer = xs[..a].iter().product();
                let inner: usize = xs[a + 1..xr].iter().product();
                kg::concat(&parts, &adims, outer, inner * x.dtype.size(), y);
            }
            #[cfg(feature = "ops-shape")]
            Op::Pad { pads, value } => {
                let mut p = [0usize; 2 * MAX_RANK];
                for (d, &v) in p.iter_mut().zip(pads.iter()) {
                    *d = v as usize;
                }
                // One element of x's dtype (validation: F32, I8, U8, I32, I64 and an
                // integral value in range for the integer types).
                let mut fill = [0u8; 8];
                let n = x.dtype.size();
                match x.dtype {
                    DType::F32 => fill[..4].copy_from_slice(&value.to_le_bytes()),
                    DType::I32 => fill[..4].copy_from_slice(&(*value as i32).to_le_bytes()),
                    DType::I64 => fill.copy_from_slice(&(*value as i64).to_le_bytes()),
                    _ => fill[0] = (*value as i32) as u8,
                }
                let fill = fill.get(..n).unwrap_or(&[]);
                kg::pad(xb, &xs[..xr], &p[..2 * xr], n, fill, y);
            }
            Op::ArgMax {
                axis, select_last, ..
            } => {
                let a = *axis as usize;
                let outer = xs[..a].iter().product();
                let inner = xs[a + 1..xr].iter().product();
                match x.dtype {
                    DType::I8 => {
                        ki::argmax_i8(cast(xb)?, outer, xs[a], inner, *select_last, cast_mut(y)?)
                    }
                    _ => kf::argmax(cast(xb)?, outer, xs[a], inner, *select_last, cast_mut(y)?),
                }
            }
            Op::Quantize => {
                let (s, z) = out.per_tensor().ok_or(internal)?;
                match out.dtype {
                    DType::I8 => kf::quantize_i8(cast(xb)?, s, z, cast_mut(y)?),
                    _ => kf::quantize_u8(cast(xb)?, s, z, y),
                }
            }
            Op::Dequantize => {
                let (s, z) = x.per_tensor().ok_or(internal)?;
                match x.dtype {
                    DType::I8 => kf::dequantize_i8(cast(xb)?, s, z, cast_mut(y)?),
                    _ => kf::dequantize_u8(xb, s, z, cast_mut(y)?),
                }
            }
            Op::Requantize { rq } => {
                let (_, xz) = x.per_tensor().ok_or(internal)?;
                let (_, oz) = out.per_tensor().ok_or(internal)?;
                ki::requantize(cast(xb)?, xz, *rq, oz, cast_mut(y)?)
            }
            Op::Cast => cast_op(x.dtype, out.dtype, xb, y).ok_or(internal)?,
            Op::Linear { post } => {
                let w = &operand!(1);
                let (n, k) = (w.dims[0] as usize, w.dims[1] as usize);
                let batch = x.elements / k.max(1);
                classic::linear(
                    &FullyConnectedParams { batch, k, n },
                    cast(xb)?,
                    cast(bytes(w)?)?,
                    cast(bytes(&operand!(2))?)?,
                    *post,
                    cast_mut(y)?,
                )
            }
            Op::TreeEnsemble { aggregate, post } => {
                let f = *x.shape().last().ok_or(internal)? as usize;
                let batch = x.elements / f.max(1);
                let trees = classic::Trees {
                    nodes: cast(bytes(&operand!(1))?)?,
                    roots: cast(bytes(&operand!(2))?)?,
                    leaf_targets: cast(bytes(&operand!(3))?)?,
                    leaf_weights: cast(bytes(&operand!(4))?)?,
                    base: cast(bytes(&operand!(5))?)?,
                };
                classic::tree_ensemble(&trees, cast(xb)?, batch, f, *aggregate, *post, cast_mut(y)?)
            }
            Op::Normalize { norm } => {
                let c = *x.shape().last().ok_or(internal)? as usize;
                classic::normalize(*norm, cast(xb)?, c, cast_mut(y)?)
            }
            Op::Slice { starts, steps } => {
                let (mut st, mut sp) = ([0isize; MAX_RANK], [0isize; MAX_RANK]);
                for d in 0..xr {
                    st[d] = *starts.get(d).ok_or(internal)? as isize;
                    sp[d] = *steps.get(d).ok_or(internal)? as isize;
                }
                kx::slice(
                    xb,
                    &xs[..xr],
                    &st[..xr],
                    &sp[..xr],
                    &ys[..yr],
                    x.dtype.size(),
                    y,
                );
            }
            Op::Lrn {
                size,
                alpha,
                beta,
                bias,
            } => {
                let inner = xs[2..xr.max(2)].iter().product();
                let p = LrnParams {
                    n: xs[0],
                    c: xs[1],
                    inner,
                    size: *size as usize,
                    alpha: *alpha,
                    beta: *beta,
                    bias: *bias,
                };
                kx::lrn(&p, cast(xb)?, cast_mut(y)?)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(Error::UnsupportedOp { op: s }),
        }
        Ok(def.output)
    }
}

fn cast_op(from: DType, to: DType, x: &[u8], y: &mut [u8]) -> Option<()> {
    fn each<A: bytemuck::Pod, B: bytemuck::Pod>(
        x: &[u8],
        y: &mut [u8],
        f: impl Fn(A) -> B,
    ) -> Option<()> {
        let x: &[A] = bytemuck::try_cast_slice(x).ok()?;
        let y: &mut [B] = bytemuck::try_cast_slice_mut(y).ok()?;
        y.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
        Some(())
    }
    match (from, to) {
        (DType::F16, DType::F32) => {
            for (o, c) in y.chunks_exact_mut(4).zip(x.chunks_exact(2)) {
                let h = half::f16::from_le_bytes([c[0], c[1]]);
                o.copy_from_slice(&h.to_f32().to_le_bytes());
            }
            Some(())
        }
        (DType::I64, DType::I32) => each(x, y, |v: i64| v as i32),
        (DType::I32, DType::I64) => each(x, y, |v: i32| v as i64),
        (DType::I32, DType::F32) => each(x, y, |v: i32| v as f32),
        (DType::I64, DType::F32) => each(x, y, |v: i64| v as f32),
        (DType::F32, DType::I32) => each(x, y, |v: f32| v as i32),
        (DType::F32, DType::I64) => each(x, y, |v: f32| v as i64),
        (a, b) if a == b => {
            y.copy_from_slice(x);
            Some(())
        }
        _ => None,
    }
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

fn act_range(a: &Activation) -> (f32, f32) {
    match *a {
        Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
        Activation::Relu => (0.0, f32::INFINITY),
        Activation::Clip { min, max } => (min, max),
    }
}

#[cfg(any(feature = "ops-conv", feature = "ops-pool"))]
fn nchw(d: &[usize; MAX_RANK], rank: usize) -> [usize; 4] {
    if rank == 3 {
        [d[0], d[1], 1, d[2]]
    } else {
        [d[0], d[1], d[2], d[3]]
    }
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
    arena: alloc::vec::Vec<u128>,
}

#[cfg(feature = "alloc")]
impl<'m, 'a> OwnedSession<'m, 'a> {
    /// Allocates an aligned arena of exactly [`Model::arena_size`] bytes.
    pub fn new(model: &'m Model<'a>) -> Self {
        let arena = alloc::vec![0u128; model.arena_size().div_ceil(16)];
        OwnedSession { model, arena }
    }

    /// A borrowed session over the owned arena.
    pub fn session(&mut self) -> Session<'_, 'a> {
        let arena = bytemuck::cast_slice_mut::<u128, u8>(&mut self.arena);
        // The arena is aligned and exactly sized, so `Session::new` cannot fail.
        Session {
            model: self.model,
            arena: &mut arena[..self.model.arena_size()],
        }
    }
}
