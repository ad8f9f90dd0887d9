//! Dtype-agnostic data movement on raw bytes (transpose, concat, pad, strided slice):
//! every element is `elem` bytes and is copied verbatim, so these kernels serve f32,
//! int8, i32 and i64 tensors alike.
//!
//! Shapes are row-major (outermost axis first) with at most [`MAX_RANK`] axes.

use crate::format::types::MAX_RANK;

/// Numpy broadcasting strides of an operand of shape `in_shape` read as an output of
/// shape `out_shape`.
///
/// Shapes are right-aligned (numpy rules); `in_shape` may have fewer axes than
/// `out_shape` (rank 0 = a scalar). Writes `strides[i]` = the element stride of the
/// operand along output axis `i`: 0 on axes the operand broadcasts (its dimension is 1
/// or it lacks the axis), the row-major stride otherwise. Entries from the output rank
/// on are set to 0. Returns the output rank (the number of meaningful strides).
///
/// Preconditions (checked by the loader): `in_shape.len() <= out_shape.len() <=
/// MAX_RANK`, and each operand dimension equals the output dimension or is 1. Axes
/// beyond [`MAX_RANK`] are ignored.
pub fn broadcast_strides(
    in_shape: &[usize],
    out_shape: &[usize],
    strides: &mut [usize; 8],
) -> usize {
    *strides = [0; MAX_RANK];
    let out_rank = out_shape.len().min(MAX_RANK);
    let mut stride = 1;
    for (slot, &dim) in strides[..out_rank]
        .iter_mut()
        .rev()
        .zip(in_shape.iter().rev())
    {
        *slot = if dim == 1 { 0 } else { stride };
        stride *= dim;
    }
    out_rank
}

/// Row-major element strides of `shape` (at most [`MAX_RANK`] axes).
fn strides_of(shape: &[usize]) -> [usize; MAX_RANK] {
    let mut s = [0; MAX_RANK];
    let mut acc = 1;
    for (slot, &d) in s[..shape.len()].iter_mut().zip(shape).rev() {
        *slot = acc;
        acc *= d;
    }
    s
}

/// Advances the row-major multi-index `idx` over `shape`; false once it wrapped.
#[inline]
fn step(idx: &mut [usize], shape: &[usize]) -> bool {
    for (i, &d) in idx.iter_mut().zip(shape).rev() {
        *i += 1;
        if *i < d {
            return true;
        }
        *i = 0;
    }
    false
}

/// Transpose: `y[j0, …, jr-1] = x[i]` where `i[perm[k]] = j[k]`, i.e. output axis `k`
/// is input axis `perm[k]` (ONNX / numpy `transpose`).
///
/// - `x`: `product(shape) * elem` bytes; `y`: the same number of bytes, laid out with
///   shape `[shape[perm[0]], …, shape[perm[r-1]]]`.
/// - `perm` is a permutation of `0..shape.len()`, rank <= [`MAX_RANK`]; rank 0 copies
///   the single element. Does nothing if the rank exceeds [`MAX_RANK`] or `elem` is 0.
///
/// Trailing axes that the permutation keeps in place are copied as one block.
pub fn transpose(x: &[u8], shape: &[usize], perm: &[usize], elem: usize, y: &mut [u8]) {
    let rank = shape.len();
    if rank > MAX_RANK || perm.len() != rank || elem == 0 {
        return;
    }
    // Axes `keep..` are left in place: their elements are contiguous in x and y.
    let keep = (0..=rank)
        .rev()
        .take_while(|&k| k == rank || perm[k] == k)
        .last()
        .unwrap_or(rank);
    let block = elem * shape[keep..].iter().product::<usize>();
    let in_strides = strides_of(shape);
    let mut out_shape = [0; MAX_RANK];
    let mut src_stride = [0; MAX_RANK];
    for k in 0..keep {
        out_shape[k] = shape[perm[k]];
        src_stride[k] = in_strides[perm[k]] * elem;
    }
    let out_shape = &out_shape[..keep];
    if block == 0 || out_shape.contains(&0) {
        return;
    }
    // A swap of two groups of axes after some leading ones (NCHW <-> NHWC): a blocked
    // 2-D transpose of `[outer][a][b]` blocks, the same bytes as the loop below.
    let lead = (0..keep).take_while(|&k| perm[k] == k).count();
    if let Some(m) = (lead + 1..keep).find(|&m| perm[lead] == m) {
        let rotated = (lead..keep).all(|k| {
            let want = if k < lead + keep - m {
                m + k - lead
            } else {
                k - (keep - m)
            };
            perm[k] == want
        });
        if rotated {
            let a: usize = shape[lead..m].iter().product();
            let b: usize = shape[m..keep].iter().product();
            let outer: usize = shape[..lead].iter().product();
            swap_2d(x, outer, a, b, block, y);
            return;
        }
    }
    let mut idx = [0; MAX_RANK];
    let idx = &mut idx[..keep];
    for dst in y.chunks_exact_mut(block) {
        let src: usize = idx.iter().zip(&src_stride).map(|(i, s)| i * s).sum();
        dst.copy_from_slice(&x[src..src + block]);
        if !step(idx, out_shape) {
            break;
        }
    }
}

/// `y[o][j][i] = x[o][i][j]` for `outer` matrices of `a × b` blocks of `block` bytes,
/// in 8 × 8 tiles (both sides stay in cache); with at most [`FEW_ROWS`] rows of bytes
/// (an int8 graph input's NCHW → NHWC with 1–4 channels), output row by output row:
/// for a 3 × 96 × 96 image about 4× faster than the tiles' one-byte copies, while for
/// 4-byte elements the tiles stay ~3× faster than that gather (measured). Three rows of
/// 4-byte elements (an f32 RGB input) take [`gather_fixed`]: 3 × 96 × 96 in ~10 µs
/// instead of the tiles' ~26 µs (fastest of 1,000 runs inside a VWW session, pinned).
fn swap_2d(x: &[u8], outer: usize, a: usize, b: usize, block: usize, y: &mut [u8]) {
    const T: usize = 8;
    let mat = a * b * block;
    for (xm, ym) in x.chunks_exact(mat).zip(y.chunks_exact_mut(mat)).take(outer) {
        match (a, block) {
            (1..=FEW_ROWS, 1) => {
                gather_rows::<1>(xm, a, b, ym);
                continue;
            }
            (3, 4) => {
                gather_fixed::<3, 4>(xm, b, ym);
                continue;
            }
            _ => {}
        }
        for i0 in (0..a).step_by(T) {
            for j0 in (0..b).step_by(T) {
                for i in i0..(i0 + T).min(a) {
                    for j in j0..(j0 + T).min(b) {
                        let (src, dst) = ((i * b + j) * block, (j * a + i) * block);
                        // Constant-size copies for 1-byte (int8: the quantized graph
                        // input's NCHW -> NHWC) and 4-byte elements (f32, i32): one
                        // move instead of a memcpy call.
                        match block {
                            1 => ym[dst] = xm[src],
                            4 => ym[dst..dst + 4].copy_from_slice(&xm[src..src + 4]),
                            _ => ym[dst..dst + block].copy_from_slice(&xm[src..src + block]),
                        }
                    }
                }
            }
        }
    }
}

/// `y[j][i] = x[i][j]` for exactly `A` rows of `b` elements of `N` bytes (an f32 RGB
/// graph input's NCHW -> NHWC): [`gather_rows`] with the row count a constant, four
/// output rows at a time from fixed-size chunks of every input row, so the moves are
/// unrolled and carry no bounds checks.
fn gather_fixed<const A: usize, const N: usize>(x: &[u8], b: usize, y: &mut [u8]) {
    const J: usize = 4;
    let row = |i: usize| x.get(i * b * N..(i + 1) * b * N).unwrap_or(&[]);
    let mut rows: [core::slice::ChunksExact<'_, u8>; A] =
        core::array::from_fn(|i| row(i).chunks_exact(J * N));
    let y = y.get_mut(..A * b * N).unwrap_or(&mut []);
    let mut outs = y.chunks_exact_mut(J * A * N);
    for out in &mut outs {
        for (i, r) in rows.iter_mut().enumerate() {
            if let Some(s) = r.next() {
                for j in 0..J {
                    let d = (j * A + i) * N;
                    out[d..d + N].copy_from_slice(&s[j * N..(j + 1) * N]);
                }
            }
        }
    }
    // The last `b % J` output rows.
    let tail = outs.into_remainder();
    for (i, r) in rows.iter().enumerate() {
        for (j, s) in r.remainder().chunks_exact(N).enumerate() {
            let d = (j * A + i) * N;
            if let Some(t) = tail.get_mut(d..d + N) {
                t.copy_from_slice(s);
            }
        }
    }
}

/// The row count up to which [`swap_2d`] gathers each output row from all rows at once.
const FEW_ROWS: usize = 4;

/// `y[j][i] = x[i][j]` for `a <= FEW_ROWS` rows of `b` elements of `N` bytes: each
/// output row of `a` elements gathers one element of every input row (constant-size
/// moves, the rows read in order).
fn gather_rows<const N: usize>(x: &[u8], a: usize, b: usize, y: &mut [u8]) {
    let mut rows: [&[u8]; FEW_ROWS] = [&[]; FEW_ROWS];
    for (i, r) in rows.iter_mut().enumerate().take(a) {
        *r = x.get(i * b * N..(i + 1) * b * N).unwrap_or(&[]);
    }
    let rows = &rows[..a];
    for (j, out) in y.chunks_exact_mut(a * N).enumerate().take(b) {
        for (d, row) in out.chunks_exact_mut(N).zip(rows) {
            if let Some(s) = row.get(j * N..(j + 1) * N) {
                d.copy_from_slice(s);
            }
        }
    }
}

/// Concatenation along one axis: part `i` has shape `[outer, axis_dims[i], inner]`
/// (as bytes: `outer * axis_dims[i] * inner_bytes`), `y` has shape
/// `[outer, sum(axis_dims), inner]`. `inner_bytes` is the byte size of one `inner`
/// slab (product of the axes after the concat axis, times the element size).
/// `parts.len() == axis_dims.len()`.
pub fn concat(
    parts: &[&[u8]],
    axis_dims: &[usize],
    outer: usize,
    inner_bytes: usize,
    y: &mut [u8],
) {
    let mut dst = 0;
    for o in 0..outer {
        for (part, &dim) in parts.iter().zip(axis_dims) {
            let len = dim * inner_bytes;
            let src = o * len;
            y[dst..dst + len].copy_from_slice(&part[src..src + len]);
            dst += len;
        }
    }
}

/// Constant padding: `y` has shape `shape[i] + pads[i] + pads[rank + i]` per axis
/// (`pads` = the begins of every axis, then the ends; len `2 * rank`), filled with
/// the element `fill` (`elem` bytes) and with `x` (shape `shape`) copied at offset
/// `pads[..rank]`. Rank <= [`MAX_RANK`]; rank 0 copies the single element. Does nothing
/// if the rank exceeds [`MAX_RANK`], `pads` has the wrong length or `fill` is not one
/// element.
pub fn pad(x: &[u8], shape: &[usize], pads: &[usize], elem: usize, fill: &[u8], y: &mut [u8]) {
    let rank = shape.len();
    if rank > MAX_RANK || pads.len() != 2 * rank || elem == 0 || fill.len() != elem {
        return;
    }
    for cell in y.chunks_exact_mut(elem) {
        cell.copy_from_slice(fill);
    }
    if rank == 0 {
        y[..elem].copy_from_slice(&x[..elem]);
        return;
    }
    let mut out_shape = [0; MAX_RANK];
    for (i, o) in out_shape[..rank].iter_mut().enumerate() {
        *o = shape[i] + pads[i] + pads[rank + i];
    }
    let out_strides = strides_of(&out_shape[..rank]);
    // Copy x one innermost row at a time.
    let row = shape[rank - 1] * elem;
    let outer_shape = &shape[..rank - 1];
    if row == 0 || outer_shape.contains(&0) {
        return;
    }
    let mut idx = [0; MAX_RANK];
    let idx = &mut idx[..rank - 1];
    for src in x.chunks_exact(row) {
        let dst = elem
            * (pads[rank - 1]
                + idx
                    .iter()
                    .zip(pads)
                    .zip(&out_strides)
                    .map(|((i, p), s)| (i + p) * s)
                    .sum::<usize>());
        y[dst..dst + row].copy_from_slice(src);
        if !step(idx, outer_shape) {
            break;
        }
    }
}

/// A strided slice: output element `(i_0, .., i_{r-1})` of shape `y` is input element
/// `(starts[d] + i_d * steps[d])_d` of shape `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceParams<'s> {
    /// Input shape.
    pub x: &'s [usize],
    /// First index read along each axis.
    pub starts: &'s [isize],
    /// Step along each axis (negative walks backwards, never 0).
    pub steps: &'s [isize],
    /// Output shape.
    pub y: &'s [usize],
    /// Bytes per element.
    pub elem: usize,
}

/// Strided slice on raw bytes (see [`SliceParams`]). Preconditions (checked by the
/// loader): equal ranks `<= MAX_RANK`, every index read inside `p.x`,
/// `x.len() == prod(p.x) * p.elem`, `y.len() == prod(p.y) * p.elem`.
pub fn slice(p: &SliceParams<'_>, x: &[u8], y: &mut [u8]) {
    let (in_shape, starts, steps, out_shape, elem) = (p.x, p.starts, p.steps, p.y, p.elem);
    let r = out_shape.len().min(MAX_RANK);
    let n: usize = out_shape[..r].iter().product();
    if n == 0 || elem == 0 {
        return;
    }
    let mut in_strides = [0isize; MAX_RANK];
    let mut s = 1isize;
    for d in (0..r).rev() {
        in_strides[d] = s;
        s *= in_shape[d] as isize;
    }
    let mut idx = [0usize; MAX_RANK];
    for out in y.chunks_exact_mut(elem).take(n) {
        let mut off = 0isize;
        for d in 0..r {
            off += (starts[d] + idx[d] as isize * steps[d]) * in_strides[d];
        }
        let o = off as usize * elem;
        out.copy_from_slice(&x[o..o + elem]);
        for d in (0..r).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}
