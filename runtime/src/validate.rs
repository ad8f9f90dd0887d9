//! Validation done once by `Model::load`: after it passes, every kernel call the
//! executor makes has consistent shapes, in-bounds operands and valid parameters.

use crate::error::{Error, Result};
use crate::format::types::{
    shape_elements, Activation, BinaryOp, DType, Location, Op, OpDef, QParams, Quant, Requant,
    TensorDef, Window, MAX_RANK,
};
use crate::format::{rd_u32, ALIGN};
use crate::graph::Graph;
use heapless::Vec as HVec;

type Operands<'a> = HVec<TensorDef<'a>, { crate::format::types::MAX_OP_INPUTS }>;

pub(crate) fn graph(m: &Graph<'_>) -> Result<()> {
    let n_ops = m.ops.len();
    let arena = m.io.arena_size as usize;
    for i in 0..m.tensors.len() {
        let t = m.tensors.get(i)?;
        tensor(m, i, &t, arena, n_ops)?;
    }
    graph_io(m, n_ops)?;
    for s in 0..n_ops {
        let op = m.ops.get(s)?;
        op_def(m, s, &op)?;
    }
    producers(m)?;
    plan(m)?;
    for g in 0..m.golden.as_ref().map_or(0, |g| g.len()) {
        golden(m, g)?;
    }
    Ok(())
}

fn tensor(m: &Graph<'_>, i: u32, t: &TensorDef<'_>, arena: usize, n_ops: u32) -> Result<()> {
    let bad = Error::BadTensor { tensor: i };
    let len = t
        .byte_len()
        .filter(|&l| l <= u32::MAX as usize)
        .ok_or(bad)?;
    if t.shape.contains(&0) {
        return Err(bad);
    }
    match t.location {
        Location::Weights { offset } => {
            let end = (offset as usize).checked_add(len).ok_or(bad)?;
            if offset as usize % ALIGN != 0 || end > m.weights.len() {
                return Err(bad);
            }
        }
        Location::Arena {
            offset,
            first,
            last,
        } => {
            let end = (offset as usize).checked_add(len).ok_or(bad)?;
            if offset as usize % ALIGN != 0 || end > arena {
                return Err(Error::BadPlan { tensor: i });
            }
            if first > last || (n_ops > 0 && last >= n_ops) || t.dtype == DType::F16 {
                return Err(Error::BadPlan { tensor: i });
            }
        }
    }
    match t.quant {
        Quant::None => {}
        Quant::PerTensor { scale, zero_point } => {
            let (lo, hi) = t.dtype.qrange().ok_or(bad)?;
            if !(scale.is_finite() && scale > 0.0) || zero_point < lo || zero_point > hi {
                return Err(bad);
            }
        }
        Quant::PerChannel { axis, scales } => {
            let ch = *t.shape.get(axis as usize).ok_or(bad)? as usize;
            if !matches!(t.dtype, DType::I8 | DType::I32) {
                return Err(bad);
            }
            let sc = m.f32_table(scales, ch).ok_or(bad)?;
            if !sc.iter().all(|s| s.is_finite() && *s > 0.0) {
                return Err(bad);
            }
        }
    }
    Ok(())
}

fn graph_io(m: &Graph<'_>, n_ops: u32) -> Result<()> {
    if m.io.outputs.is_empty() {
        return Err(Error::BadSection {
            section: crate::Section::Graph,
        });
    }
    for &i in m.io.inputs.iter() {
        let t = m
            .tensors
            .get(i)
            .map_err(|_| Error::BadTensor { tensor: i })?;
        match t.location {
            Location::Arena { first: 0, .. } => {}
            _ => return Err(Error::BadPlan { tensor: i }),
        }
    }
    for &o in m.io.outputs.iter() {
        let t = m
            .tensors
            .get(o)
            .map_err(|_| Error::BadTensor { tensor: o })?;
        match t.location {
            Location::Arena { last, .. } if n_ops == 0 || last + 1 == n_ops => {}
            _ => return Err(Error::BadPlan { tensor: o }),
        }
    }
    Ok(())
}

/// Every arena tensor that is not a graph input is the output of the op at its `first`
/// step (so it is written before it is read).
fn producers(m: &Graph<'_>) -> Result<()> {
    for i in 0..m.tensors.len() {
        let t = m.tensors.get(i)?;
        if let Location::Arena { first, .. } = t.location {
            if m.io.inputs.contains(&i) {
                continue;
            }
            let op = m.ops.get(first).map_err(|_| Error::BadPlan { tensor: i })?;
            if !op.outputs.contains(&i) {
                return Err(Error::BadPlan { tensor: i });
            }
        }
    }
    Ok(())
}

/// No two arena tensors alive at the same step share a byte.
fn plan(m: &Graph<'_>) -> Result<()> {
    let n = m.tensors.len();
    for i in 0..n {
        let a = m.tensors.get(i)?;
        let Location::Arena {
            offset: ao,
            first: af,
            last: al,
        } = a.location
        else {
            continue;
        };
        let alen = a.byte_len().unwrap_or(0);
        for j in i + 1..n {
            let b = m.tensors.get(j)?;
            let Location::Arena {
                offset: bo,
                first: bf,
                last: bl,
            } = b.location
            else {
                continue;
            };
            let blen = b.byte_len().unwrap_or(0);
            let live_together = af <= bl && bf <= al;
            let (ao, bo) = (ao as usize, bo as usize);
            let overlap = ao < bo + blen && bo < ao + alen;
            if live_together && overlap {
                return Err(Error::BadPlan { tensor: j });
            }
        }
    }
    Ok(())
}

fn golden(m: &Graph<'_>, g: u32) -> Result<()> {
    let bad = Error::Decode {
        section: crate::Section::Golden,
        index: g,
    };
    let v = m.golden(g)?;
    if v.inputs.len() != m.io.inputs.len() || v.outputs.len() != m.io.outputs.len() {
        return Err(bad);
    }
    for (i, b) in v.inputs.iter().enumerate() {
        if Some(b.len()) != m.io_def(false, i)?.byte_len() {
            return Err(bad);
        }
    }
    for (i, b) in v.outputs.iter().enumerate() {
        if Some(b.len()) != m.io_def(true, i)?.byte_len() {
            return Err(bad);
        }
    }
    Ok(())
}

fn op_def(m: &Graph<'_>, s: u32, def: &OpDef) -> Result<()> {
    let bad = Error::BadOp { op: s };
    let mut ins: Operands<'_> = HVec::new();
    for &i in def.inputs.iter() {
        let t = m.tensors.get(i).map_err(|_| bad)?;
        if let Location::Arena { first, last, .. } = t.location {
            // Read before it is written, or after it is dead: the plan is wrong.
            let is_input = m.io.inputs.contains(&i);
            if !(first <= s && s <= last) || (first == s && !is_input) {
                return Err(Error::BadPlan { tensor: i });
            }
        }
        ins.push(t).map_err(|_| bad)?;
    }
    if def.outputs.len() != 1 {
        return Err(bad);
    }
    let o = def.outputs[0];
    let out = m.tensors.get(o).map_err(|_| bad)?;
    match out.location {
        Location::Arena { first, .. } if first == s && !m.io.inputs.contains(&o) => {}
        _ => return Err(Error::BadPlan { tensor: o }),
    }
    if def.inputs.contains(&o) {
        return Err(bad);
    }
    if !enabled(&def.op) {
        return Err(Error::UnsupportedOp { op: s });
    }
    if check(m, &def.op, &ins, &out) {
        Ok(())
    } else {
        Err(bad)
    }
}

/// Whether this build has the kernels for `op` (cargo features).
fn enabled(op: &Op) -> bool {
    match op {
        Op::Conv { .. } => cfg!(feature = "ops-conv"),
        Op::MaxPool { .. } | Op::AvgPool { .. } | Op::GlobalAvgPool | Op::GlobalMaxPool => {
            cfg!(feature = "ops-pool")
        }
        Op::Transpose { .. } | Op::Concat { .. } | Op::Pad { .. } => cfg!(feature = "ops-shape"),
        Op::MatMul | Op::Binary { .. } => cfg!(feature = "ops-math"),
        Op::Unary { op } => cfg!(feature = "ops-math") || op.is_core(),
        _ => true,
    }
}

fn is_const(t: &TensorDef<'_>) -> bool {
    matches!(t.location, Location::Weights { .. })
}

fn act_ok(a: &Activation) -> bool {
    match *a {
        Activation::Clip { min, max } => !min.is_nan() && !max.is_nan() && min <= max,
        _ => true,
    }
}

fn rq_ok(r: &Requant) -> bool {
    (r.multiplier == 0 || r.multiplier >= 1 << 30) && (-31..=30).contains(&r.shift)
}

fn qparams_ok(m: &Graph<'_>, q: &QParams, out_channels: usize, out: &TensorDef<'_>) -> bool {
    let ch = q.channels as usize;
    if !(ch == 1 || ch == out_channels) || q.act_min > q.act_max {
        return false;
    }
    if !(-128..=127).contains(&q.act_min) || !(-128..=127).contains(&q.act_max) {
        return false;
    }
    let Some(t) = m.i32_table(q.requant, 2 * ch) else {
        return false;
    };
    out.per_tensor().is_some()
        && t.chunks_exact(2).all(|p| {
            rq_ok(&Requant {
                multiplier: p[0],
                shift: p[1],
            })
        })
}

/// The bias and dtypes of a FullyConnected or Conv with `channels` output channels: the
/// bias (optional) a constant `[channels]`; all f32 without `q`, else int8 activations,
/// int8 weights, an int32 bias and requantization tables for `channels`.
fn weighted_ok(
    m: &Graph<'_>,
    x: &TensorDef<'_>,
    w: &TensorDef<'_>,
    bias: Option<&TensorDef<'_>>,
    out: &TensorDef<'_>,
    q: Option<&QParams>,
    channels: u32,
) -> bool {
    if let Some(b) = bias {
        if !is_const(b) || b.shape.as_slice() != [channels] {
            return false;
        }
    }
    match q {
        None => f32s(&[x, w, out]) && bias.is_none_or(|b| b.dtype == DType::F32),
        Some(q) => {
            int8_act(x)
                && int8_act(out)
                && w.dtype == DType::I8
                && bias.is_none_or(|b| b.dtype == DType::I32)
                && qparams_ok(m, q, channels as usize, out)
        }
    }
}

fn int8_act(t: &TensorDef<'_>) -> bool {
    t.dtype == DType::I8 && t.per_tensor().is_some()
}

fn f32s(ts: &[&TensorDef<'_>]) -> bool {
    ts.iter().all(|t| t.dtype == DType::F32)
}

/// Numpy broadcast of two shapes into `out`; false when incompatible.
pub(crate) fn broadcast(a: &[u32], b: &[u32], out: &mut HVec<u32, MAX_RANK>) -> bool {
    let r = a.len().max(b.len());
    out.clear();
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            1
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            1
        };
        let d = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return false;
        };
        if out.push(d).is_err() {
            return false;
        }
    }
    true
}

/// Output length of one spatial axis; `None` when the window does not fit.
pub(crate) fn out_dim(
    input: u32,
    k: u32,
    s: u32,
    d: u32,
    p0: u32,
    p1: u32,
    ceil: bool,
) -> Option<u32> {
    if k == 0 || s == 0 || d == 0 {
        return None;
    }
    let span = (d as u64) * (k as u64 - 1) + 1;
    let padded = input as u64 + p0 as u64 + p1 as u64;
    if padded < span {
        return None;
    }
    let q = (padded - span) / s as u64;
    let r = (padded - span) % s as u64;
    let mut o = q + 1;
    if ceil && r != 0 && q * s as u64 + (s as u64) < input as u64 + p0 as u64 {
        o += 1;
    }
    u32::try_from(o).ok()
}

fn window_out(x: &[u32], w: &Window, ch: u32, out: &[u32]) -> bool {
    // x is [N, C, W] or [N, C, H, W]; 1D windows have kernel height 1 and no h padding.
    let (h, wd) = match x.len() {
        3 => {
            if w.kernel[0] != 1 || w.pads[0] != 0 || w.pads[2] != 0 {
                return false;
            }
            (1, x[2])
        }
        4 => (x[2], x[3]),
        _ => return false,
    };
    if out.len() != x.len() || out[0] != x[0] || out[1] != ch {
        return false;
    }
    let (oh, ow) = if x.len() == 3 {
        (1, out[2])
    } else {
        (out[2], out[3])
    };
    let exact = |ceil| {
        out_dim(
            h,
            w.kernel[0],
            w.stride[0],
            w.dilation[0],
            w.pads[0],
            w.pads[2],
            ceil,
        ) == Some(oh)
            && out_dim(
                wd,
                w.kernel[1],
                w.stride[1],
                w.dilation[1],
                w.pads[1],
                w.pads[3],
                ceil,
            ) == Some(ow)
    };
    exact(false) || exact(true)
}

fn check(m: &Graph<'_>, op: &Op, ins: &[TensorDef<'_>], out: &TensorDef<'_>) -> bool {
    let x = match ins.first() {
        Some(x) => x,
        None => return false,
    };
    let same_shape = |a: &TensorDef<'_>, b: &TensorDef<'_>| a.shape == b.shape;
    match op {
        Op::FullyConnected { act, q } => {
            if !(ins.len() == 2 || ins.len() == 3) || !act_ok(act) {
                return false;
            }
            let w = &ins[1];
            // f32 weights may come from the arena (f16 constants widened by a Cast).
            if !(is_const(w) || q.is_none()) || w.shape.len() != 2 || x.shape.is_empty() {
                return false;
            }
            let (n, k) = (w.shape[0], w.shape[1]);
            let r = x.shape.len();
            if x.shape[r - 1] != k
                || out.shape.len() != r
                || out.shape[..r - 1] != x.shape[..r - 1]
                || out.shape[r - 1] != n
            {
                return false;
            }
            weighted_ok(m, x, w, ins.get(2), out, q.as_ref(), n)
        }
        Op::MatMul => {
            if ins.len() != 2 || !f32s(&[x, &ins[1], out]) {
                return false;
            }
            matmul_shape(&x.shape, &ins[1].shape, &out.shape)
        }
        Op::Conv {
            window,
            groups,
            act,
            q,
        } => {
            if !(ins.len() == 2 || ins.len() == 3) || !act_ok(act) || *groups == 0 {
                return false;
            }
            let w = &ins[1];
            let r = x.shape.len();
            if !(is_const(w) || q.is_none()) || w.shape.len() != r || !(r == 3 || r == 4) {
                return false;
            }
            let (mch, cg) = (w.shape[0], w.shape[1]);
            let (kh, kw) = if r == 3 {
                (1, w.shape[2])
            } else {
                (w.shape[2], w.shape[3])
            };
            if window.kernel != [kh, kw]
                || x.shape[1] != cg.saturating_mul(*groups)
                || mch % groups != 0
                || !window_out(&x.shape, window, mch, &out.shape)
            {
                return false;
            }
            weighted_ok(m, x, w, ins.get(2), out, q.as_ref(), mch)
        }
        Op::MaxPool { window } | Op::AvgPool { window, .. } => {
            if ins.len() != 1 || x.dtype != out.dtype || x.quant != out.quant {
                return false;
            }
            // The int8 average reads the zero point (the max of raw values does not).
            if matches!(op, Op::AvgPool { .. }) && x.dtype == DType::I8 && !int8_act(x) {
                return false;
            }
            let r = x.shape.len();
            let kh_ok = r == 4 || window.kernel[0] == 1;
            kh_ok
                && matches!(x.dtype, DType::F32 | DType::I8)
                && window_out(
                    &x.shape,
                    window,
                    x.shape.get(1).copied().unwrap_or(0),
                    &out.shape,
                )
        }
        Op::GlobalAvgPool | Op::GlobalMaxPool => {
            ins.len() == 1
                && x.dtype == out.dtype
                && x.quant == out.quant
                && matches!(x.dtype, DType::F32 | DType::I8)
                && x.shape.len() >= 3
                && out.shape.len() == x.shape.len()
                && out.shape[..2] == x.shape[..2]
                && out.shape[2..].iter().all(|&d| d == 1)
        }
        Op::Binary { op, act, q } => {
            if ins.len() != 2 || !act_ok(act) {
                return false;
            }
            let b = &ins[1];
            let mut shape = HVec::new();
            if !broadcast(&x.shape, &b.shape, &mut shape) || shape != out.shape {
                return false;
            }
            match q {
                None => f32s(&[x, b, out]),
                Some(q) => {
                    matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul)
                        && int8_act(x)
                        && int8_act(b)
                        && int8_act(out)
                        && rq_ok(&q.a)
                        && rq_ok(&q.b)
                        && rq_ok(&q.out)
                        && (0..=20).contains(&q.left_shift)
                        && q.act_min <= q.act_max
                        && (-128..=127).contains(&q.act_min)
                        && (-128..=127).contains(&q.act_max)
                        && [q.a_zero_point, q.b_zero_point, q.out_zero_point]
                            .iter()
                            .all(|z| (-128..=127).contains(z))
                }
            }
        }
        Op::Unary { .. } => ins.len() == 1 && f32s(&[x, out]) && same_shape(x, out),
        Op::Lut => {
            ins.len() == 2
                && x.dtype == DType::I8
                && out.dtype == DType::I8
                && same_shape(x, out)
                && is_const(&ins[1])
                && matches!(ins[1].dtype, DType::I8 | DType::U8)
                && ins[1].elements() == Some(256)
        }
        Op::Softmax { axis, log } => {
            if (*axis as usize) >= x.shape.len() || !same_shape(x, out) {
                return false;
            }
            match x.dtype {
                DType::F32 => ins.len() == 1 && out.dtype == DType::F32,
                DType::I8 => {
                    let ok_out = out.per_tensor() == Some((1.0 / 256.0, -128));
                    let table_ok = ins.get(1).is_some_and(|t| {
                        is_const(t)
                            && t.dtype == DType::I32
                            && t.elements() == Some(256)
                            && m.constant_bytes(t)
                                .and_then(|b| rd_u32(b, 0))
                                .is_some_and(|v| v > 0)
                    });
                    !*log
                        && ins.len() == 2
                        && int8_act(x)
                        && out.dtype == DType::I8
                        && ok_out
                        && table_ok
                }
                _ => false,
            }
        }
        Op::Reshape => {
            ins.len() == 1
                && x.dtype == out.dtype
                && x.quant == out.quant
                && shape_elements(&x.shape) == shape_elements(&out.shape)
        }
        Op::Transpose { perm } => {
            let r = x.shape.len();
            if ins.len() != 1 || perm.len() != r || x.dtype != out.dtype || out.shape.len() != r {
                return false;
            }
            let mut seen = [false; MAX_RANK];
            for (i, &p) in perm.iter().enumerate() {
                let p = p as usize;
                if p >= r || seen[p] || out.shape[i] != x.shape[p] {
                    return false;
                }
                seen[p] = true;
            }
            x.quant == out.quant
        }
        Op::Concat { axis } => {
            let a = *axis as usize;
            let r = x.shape.len();
            if a >= r || out.shape.len() != r || ins.is_empty() {
                return false;
            }
            let mut sum = 0u64;
            for t in ins {
                if t.dtype != out.dtype || t.quant != out.quant || t.shape.len() != r {
                    return false;
                }
                for d in 0..r {
                    if d != a && t.shape[d] != out.shape[d] {
                        return false;
                    }
                }
                sum += t.shape[a] as u64;
            }
            sum == out.shape[a] as u64
        }
        Op::Pad { pads, value } => {
            let r = x.shape.len();
            if ins.len() != 1 || pads.len() != 2 * r || x.dtype != out.dtype || out.shape.len() != r
            {
                return false;
            }
            if x.quant != out.quant || value.is_nan() && x.dtype != DType::F32 {
                return false;
            }
            // The fill is written as one element of x's dtype (F16 is a weight storage
            // type, never padded).
            let integral = value.is_finite() && libm::truncf(*value) == *value;
            match x.dtype {
                DType::F32 | DType::I8 | DType::U8 | DType::I32 => {}
                DType::I64 if integral => {}
                _ => return false,
            }
            if let Some((lo, hi)) = x.dtype.qrange() {
                if *value < lo as f32 || *value > hi as f32 || libm::truncf(*value) != *value {
                    return false;
                }
            }
            (0..r).all(|d| {
                (x.shape[d] as u64 + pads[d] as u64 + pads[r + d] as u64) == out.shape[d] as u64
            })
        }
        Op::ArgMax { axis, keepdims, .. } => {
            let a = *axis as usize;
            let r = x.shape.len();
            if ins.len() != 1 || a >= r || out.dtype != DType::I64 {
                return false;
            }
            if !matches!(x.dtype, DType::F32 | DType::I8) {
                return false;
            }
            let mut expect: HVec<u32, MAX_RANK> = HVec::new();
            for (d, &n) in x.shape.iter().enumerate() {
                if d == a {
                    if *keepdims {
                        let _ = expect.push(1);
                    }
                } else {
                    let _ = expect.push(n);
                }
            }
            expect == out.shape
        }
        Op::Quantize => {
            ins.len() == 1
                && x.dtype == DType::F32
                && matches!(out.dtype, DType::I8 | DType::U8)
                && out.per_tensor().is_some()
                && same_shape(x, out)
        }
        Op::Dequantize => {
            ins.len() == 1
                && matches!(x.dtype, DType::I8 | DType::U8)
                && x.per_tensor().is_some()
                && out.dtype == DType::F32
                && same_shape(x, out)
        }
        Op::Requantize { rq } => {
            ins.len() == 1 && int8_act(x) && int8_act(out) && same_shape(x, out) && rq_ok(rq)
        }
        Op::Cast => {
            ins.len() == 1
                && same_shape(x, out)
                && matches!(
                    (x.dtype, out.dtype),
                    (DType::F16, DType::F32)
                        | (DType::I64, DType::I32)
                        | (DType::I32, DType::I64)
                        | (
                            DType::I32 | DType::I64 | DType::F32,
                            DType::F32 | DType::I32 | DType::I64
                        )
                )
        }
        Op::Linear { .. } => {
            if ins.len() != 3 || !f32s(&[x, &ins[1], &ins[2], out]) {
                return false;
            }
            let (w, b) = (&ins[1], &ins[2]);
            if !is_const(w) || !is_const(b) || w.shape.len() != 2 || x.shape.len() != 2 {
                return false;
            }
            let (n, k) = (w.shape[0], w.shape[1]);
            x.shape[1] == k
                && b.shape.as_slice() == [n]
                && out.shape.as_slice() == [x.shape[0], n]
                && const_f32(m, w).is_some_and(|v| v.iter().all(|f| f.is_finite()))
                && const_f32(m, b).is_some_and(|v| v.iter().all(|f| f.is_finite()))
        }
        Op::TreeEnsemble { .. } => tree_ensemble(m, ins, out),
        Op::Normalize { .. } => {
            ins.len() == 1 && f32s(&[x, out]) && same_shape(x, out) && !x.shape.is_empty()
        }
        Op::Slice { starts, steps } => slice_ok(x, starts, steps, out) && ins.len() == 1,
        Op::Lrn {
            size,
            alpha,
            beta,
            bias,
        } => {
            ins.len() == 1
                && f32s(&[x, out])
                && same_shape(x, out)
                && x.shape.len() >= 2
                && *size >= 1
                && alpha.is_finite()
                && beta.is_finite()
                && bias.is_finite()
        }
    }
}

/// Every index a [`Op::Slice`] reads lies inside the input (and the output has the
/// input's rank, dtype and quantization).
fn slice_ok(x: &TensorDef<'_>, starts: &[i32], steps: &[i32], out: &TensorDef<'_>) -> bool {
    let r = x.shape.len();
    if starts.len() != r || steps.len() != r || out.shape.len() != r {
        return false;
    }
    if x.dtype != out.dtype || x.quant != out.quant {
        return false;
    }
    if out.shape.contains(&0) {
        return steps.iter().all(|&s| s != 0);
    }
    (0..r).all(|d| {
        let (n, o, s, b) = (
            x.shape[d] as i64,
            out.shape[d] as i64,
            steps[d] as i64,
            starts[d] as i64,
        );
        let last = b + (o - 1) * s;
        s != 0 && (0..n).contains(&b) && (0..n).contains(&last)
    })
}

fn const_f32<'m>(m: &Graph<'m>, t: &TensorDef<'_>) -> Option<&'m [f32]> {
    if t.dtype != DType::F32 || !is_const(t) {
        return None;
    }
    bytemuck::try_cast_slice(m.constant_bytes(t)?).ok()
}

fn const_i32<'m>(m: &Graph<'m>, t: &TensorDef<'_>) -> Option<&'m [i32]> {
    if t.dtype != DType::I32 || !is_const(t) {
        return None;
    }
    bytemuck::try_cast_slice(m.constant_bytes(t)?).ok()
}

/// Tree ensemble operands: x `[B, F]` f32, nodes `[N, 4]` i32, roots `[R]` i32, leaf
/// targets `[L]` i32, leaf weights `[L]` f32, base `[T]` f32; output `[B, T]` f32.
/// Every child index is strictly greater than its parent's (so a walk ends), every
/// index is in range and every value finite.
fn tree_ensemble(m: &Graph<'_>, ins: &[TensorDef<'_>], out: &TensorDef<'_>) -> bool {
    use crate::classic::{Node, NodeMode};
    if ins.len() != 6 {
        return false;
    }
    let x = &ins[0];
    if x.dtype != DType::F32
        || out.dtype != DType::F32
        || x.shape.len() != 2
        || out.shape.len() != 2
    {
        return false;
    }
    let (Some(nodes), Some(roots), Some(ids), Some(ws), Some(base)) = (
        const_i32(m, &ins[1]),
        const_i32(m, &ins[2]),
        const_i32(m, &ins[3]),
        const_f32(m, &ins[4]),
        const_f32(m, &ins[5]),
    ) else {
        return false;
    };
    if ins[1].shape.len() != 2 || ins[1].shape[1] != 4 || ins[2].shape.len() != 1 {
        return false;
    }
    let (f, t) = (x.shape[1] as usize, base.len());
    if out.shape.as_slice() != [x.shape[0], t as u32] || ids.len() != ws.len() {
        return false;
    }
    let n = nodes.len() / 4;
    if !ws.iter().chain(base).all(|v| v.is_finite())
        || !ids.iter().all(|&i| i >= 0 && (i as usize) < t)
    {
        return false;
    }
    if !roots.iter().all(|&r| r >= 0 && (r as usize) < n) {
        return false;
    }
    for (i, w) in nodes.chunks_exact(4).enumerate() {
        let Some(node) = Node::decode(w) else {
            return false;
        };
        if node.mode == NodeMode::Leaf {
            let end = node.a as u64 + node.b as u64;
            if end > ids.len() as u64 {
                return false;
            }
        } else if node.feature as usize >= f
            || node.threshold.is_nan()
            || node.a as usize <= i
            || node.b as usize <= i
            || node.a as usize >= n
            || node.b as usize >= n
        {
            return false;
        }
    }
    true
}

fn matmul_shape(a: &[u32], b: &[u32], out: &[u32]) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (m, ka) = if a.len() == 1 {
        (None, a[0])
    } else {
        (Some(a[a.len() - 2]), a[a.len() - 1])
    };
    let (kb, n) = if b.len() == 1 {
        (b[0], None)
    } else {
        (b[b.len() - 2], Some(b[b.len() - 1]))
    };
    if ka != kb {
        return false;
    }
    let ab = if a.len() > 2 {
        &a[..a.len() - 2]
    } else {
        &[][..]
    };
    let bb = if b.len() > 2 {
        &b[..b.len() - 2]
    } else {
        &[][..]
    };
    let mut expect = HVec::new();
    if !broadcast(ab, bb, &mut expect) {
        return false;
    }
    if let Some(m) = m {
        let _ = expect.push(m);
    }
    if let Some(n) = n {
        let _ = expect.push(n);
    }
    expect.as_slice() == out
}
