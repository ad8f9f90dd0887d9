//! Loops shared by every optimized kernel, generic over the vector primitives
//! ([`Lanes`]) that each target implements.
//!
//! The drivers check at entry that the shapes are consistent with the slice lengths
//! and that the parameters fit the vector arithmetic (int8: input zero point in
//! `-128..=127`, so `x - x_zp` fits in i16 and `(x - x_zp) * w` in i16 exactly). When
//! a check fails they call the reference kernel, so an optimized kernel gives the
//! reference's result for *every* input, not only for validated models.
//!
//! int8 sums are i32 with wrapping addition, as in the reference. Wrapping addition
//! is associative and commutative (arithmetic modulo 2^32), so any summation order
//! gives the reference's bits; the products themselves are exact.
//!
//! f32 convolution accumulates each output over (input channel, ky, kx) in the
//! reference's order with separate multiply and add (no FMA), so it is bit-identical
//! to the reference. f32 fully connected sums in vector lanes (a different order);
//! see [`super::fast`] for the bound.

use super::params::{ConvParams, F32Out, FullyConnectedParams, PoolParams, QuantOut};
use super::reference::{f32 as rf, int8 as ri};

/// Accumulator tile length (output columns per pass) of the convolutions.
const TILE: usize = 64;

/// Whether the blocked convolution kernels are compiled in: on 64-bit CPUs with vector
/// units, where the compiler keeps their accumulators in SIMD registers. On
/// microcontrollers they would spill and cost ~8 KiB of flash, and in the browser they
/// would push the .wasm past its size budget, so the tiled path (simd128 there) serves
/// every convolution on those targets (same bytes either way).
const BLOCKED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Output columns per pass of the blocked convolution kernels (accumulators held in
/// registers: four output channels of 16 columns).
const BLOCK: usize = 16;

/// Vector primitives of one target. A value of the implementing type is a proof that
/// the CPU supports the instructions it uses (a zero-sized token, created only after
/// the feature check).
///
/// Slices passed together have equal lengths (the drivers guarantee it;
/// implementations process the common prefix). int8 primitives require
/// `zp` in `-128..=127`.
pub(crate) trait Lanes: Copy {
    /// `sum_k (x[k] - zp) * w[k]`, wrapping i32.
    fn dot_i8(self, x: &[i8], zp: i32, w: &[i8]) -> i32;
    /// [`Lanes::dot_i8`] for four weight rows sharing `x`.
    fn dot4_i8(self, x: &[i8], zp: i32, w: [&[i8]; 4]) -> [i32; 4];
    /// `acc[i] += (x[i] - zp) * w`, wrapping i32.
    fn axpy_i8(self, acc: &mut [i32], x: &[i8], zp: i32, w: i8);
    /// [`Lanes::axpy_i8`] for four accumulator rows and weights sharing `x`.
    fn axpy4_i8(self, acc: [&mut [i32]; 4], x: &[i8], zp: i32, w: [i8; 4]);
    /// `sum_k x[k] * w[k]` in any order.
    fn dot_f32(self, x: &[f32], w: &[f32]) -> f32;
    /// [`Lanes::dot_f32`] for four weight rows sharing `x`.
    fn dot4_f32(self, x: &[f32], w: [&[f32]; 4]) -> [f32; 4];
    /// `acc[i] = acc[i] + x[i] * w`, each operation rounded (no FMA).
    fn axpy_f32(self, acc: &mut [f32], x: &[f32], w: f32);
}

/// `a * b`, `None` on overflow.
#[inline(always)]
fn mul(a: usize, b: usize) -> Option<usize> {
    a.checked_mul(b)
}

/// True when `len` holds a `rows x cols` matrix.
#[inline(always)]
fn holds(len: usize, rows: usize, cols: usize) -> bool {
    mul(rows, cols).is_some_and(|need| len >= need)
}

/// Same contract as [`ri::fully_connected`].
#[inline(always)]
pub(crate) fn int8_fully_connected<L: Lanes>(
    l: L,
    p: &FullyConnectedParams,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    let FullyConnectedParams { batch, k, n } = *p;
    let fits = (-128..=127).contains(&x_zp)
        && holds(x.len(), batch, k)
        && holds(w.len(), n, k)
        && holds(y.len(), batch, n)
        && out.bias.is_none_or(|b| b.len() >= n);
    if !fits {
        return ri::fully_connected(p, x, x_zp, w, out, y);
    }
    let row = |j: usize| &w[j * k..(j + 1) * k];
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        let yr = &mut y[b * n..(b + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let acc = l.dot4_i8(xr, x_zp, [row(j), row(j + 1), row(j + 2), row(j + 3)]);
            for (r, &a) in acc.iter().enumerate() {
                yr[j + r] = out.apply(a, j + r);
            }
            j += 4;
        }
        while j < n {
            yr[j] = out.apply(l.dot_i8(xr, x_zp, row(j)), j);
            j += 1;
        }
    }
}

/// Same contract as [`rf::fully_connected`], summing in vector lanes.
#[inline(always)]
pub(crate) fn f32_fully_connected<L: Lanes>(
    l: L,
    p: &FullyConnectedParams,
    x: &[f32],
    w: &[f32],
    out: &F32Out<'_>,
    y: &mut [f32],
) {
    let FullyConnectedParams { batch, k, n } = *p;
    let fits = holds(x.len(), batch, k)
        && holds(w.len(), n, k)
        && holds(y.len(), batch, n)
        && out.bias.is_none_or(|b| b.len() >= n);
    if !fits {
        return rf::fully_connected(p, x, w, out, y);
    }
    let row = |j: usize| &w[j * k..(j + 1) * k];
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        let yr = &mut y[b * n..(b + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let acc = l.dot4_f32(xr, [row(j), row(j + 1), row(j + 2), row(j + 3)]);
            for (r, &a) in acc.iter().enumerate() {
                yr[j + r] = out.apply(a, j + r);
            }
            j += 4;
        }
        while j < n {
            yr[j] = out.apply(l.dot_f32(xr, row(j)), j);
            j += 1;
        }
    }
}

/// One spatial axis of a convolution, in the reference's terms: output position `o`,
/// tap `k` reads input `o * stride + k * dilation - pad`, if inside `0..len`.
#[derive(Clone, Copy)]
struct Axis {
    len: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
}

impl Axis {
    /// The axis, if every position `o * stride + k * dilation + len` for `o < out`,
    /// `k < kernel` fits in usize (the reference computes `o * stride + k * dilation`
    /// in usize; this keeps both computations identical and overflow-free).
    fn new(
        len: usize,
        stride: u32,
        dilation: u32,
        pad: u32,
        out: usize,
        kernel: usize,
    ) -> Option<Self> {
        let (stride, dilation, pad) = (stride as usize, dilation as usize, pad as usize);
        let last = mul(out.saturating_sub(1), stride)?
            .checked_add(mul(kernel.saturating_sub(1), dilation)?)?;
        last.checked_add(len)?.checked_add(pad)?;
        Some(Axis {
            len,
            stride,
            dilation,
            pad,
        })
    }

    /// Input index of tap `k` at output `o`, `None` in the padding.
    #[inline(always)]
    fn tap(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride + k * self.dilation)
            .checked_sub(self.pad)
            .filter(|&i| i < self.len)
    }

    /// The taps `k0..k1` of output `o` that read the input (an interval: the input
    /// index grows with the tap), `(0, 0)` when none does.
    #[inline(always)]
    fn valid(&self, o: usize, kernel: usize) -> (usize, usize) {
        let Some(k0) = (0..kernel).find(|&k| self.tap(o, k).is_some()) else {
            return (0, 0);
        };
        let k1 = (k0 + 1..kernel)
            .find(|&k| self.tap(o, k).is_none())
            .unwrap_or(kernel);
        (k0, k1)
    }

    /// The outputs `lo..hi` (within `t0..t1`) whose tap `k` reads the input, and the
    /// input index read by output `lo`.
    #[inline(always)]
    fn span(&self, k: usize, t0: usize, t1: usize) -> (usize, usize, usize) {
        let off = k * self.dilation;
        // Valid when pad - off <= o * stride < len + pad - off.
        let end = self.len + self.pad;
        if off >= end {
            return (t0, t0, 0);
        }
        let (lo, hi) = if self.stride == 1 {
            // The common case, without the divisions.
            (self.pad.saturating_sub(off).max(t0), (end - off).min(t1))
        } else if self.stride == 0 {
            if off >= self.pad {
                (t0, t1)
            } else {
                (t0, t0)
            }
        } else {
            let lo = (self.pad.saturating_sub(off)).div_ceil(self.stride);
            let hi = (end - off).div_ceil(self.stride);
            (lo.max(t0), hi.min(t1))
        };
        if lo >= hi {
            return (t0, t0, 0);
        }
        (lo, hi, lo * self.stride + off - self.pad)
    }
}

/// Checked geometry of a convolution: `None` sends the call to the reference.
#[derive(Clone, Copy)]
struct Conv {
    n: usize,
    c: usize,
    plane: usize,
    wd: usize,
    m: usize,
    cg: usize,
    kh: usize,
    kw: usize,
    m_per_group: usize,
    oh: usize,
    ow: usize,
    ah: Axis,
    aw: Axis,
}

impl Conv {
    /// The geometry of `p` over slices of `x_len`, `w_len` and `y_len` elements and a
    /// bias of `bias_len`.
    fn new(
        p: &ConvParams,
        x_len: usize,
        w_len: usize,
        bias_len: Option<usize>,
        y_len: usize,
    ) -> Option<Self> {
        let (win, groups) = (&p.window, p.groups);
        let [n, c, h, wd] = p.x;
        let [m, cg, kh, kw] = p.w;
        let [_, _, oh, ow] = p.y;
        let plane = mul(h, wd)?;
        let m_per_group = (m / groups.max(1)).max(1);
        // Every input channel read (group g = oc / m_per_group) lies inside `c`.
        let groups_read = if m == 0 { 0 } else { (m - 1) / m_per_group + 1 };
        let ok = mul(groups_read, cg)? <= c
            && holds(x_len, mul(n, c)?, plane)
            && holds(w_len, mul(m, cg)?, mul(kh, kw)?)
            && holds(y_len, mul(n, m)?, mul(oh, ow)?)
            && bias_len.is_none_or(|b| b >= m);
        if !ok {
            return None;
        }
        let ah = Axis::new(h, win.stride[0], win.dilation[0], win.pads[0], oh, kh)?;
        let aw = Axis::new(wd, win.stride[1], win.dilation[1], win.pads[1], ow, kw)?;
        Some(Conv {
            n,
            c,
            plane,
            wd,
            m,
            cg,
            kh,
            kw,
            m_per_group,
            oh,
            ow,
            ah,
            aw,
        })
    }

    /// Calls `f(b, oc, count, oy, t0, t1)` for every tile `t0..t1` (at most [`TILE`]
    /// long) of every output row, in output order, for `count` output channels
    /// `oc..oc + count` at once: 4 when `block` is set and the four channels belong to
    /// the same group (they read the same input), else 1.
    #[inline(always)]
    fn for_each_tile(
        &self,
        block: bool,
        mut f: impl FnMut(usize, usize, usize, usize, usize, usize),
    ) {
        for b in 0..self.n {
            let mut oc = 0;
            while oc < self.m {
                let four = block
                    && oc + 4 <= self.m
                    && (oc + 3) / self.m_per_group == oc / self.m_per_group;
                let count = if four { 4 } else { 1 };
                for oy in 0..self.oh {
                    let mut t0 = 0;
                    while t0 < self.ow {
                        let t1 = (t0 + TILE).min(self.ow);
                        f(b, oc, count, oy, t0, t1);
                        t0 = t1;
                    }
                }
                oc += count;
            }
        }
    }

    /// Calls `f(x_offset, w_index, lo, hi)` for every tap of output row `oy` of
    /// channel `oc` in image `b` that reads the input for some column of `t0..t1`, in
    /// the reference's order (input channel, ky, kx): tile entries `lo..hi` read
    /// `x[x_offset + (i - lo) * stride_w]`. All indices are in bounds ([`Conv::new`]).
    #[inline(always)]
    fn taps(
        &self,
        b: usize,
        oc: usize,
        oy: usize,
        t0: usize,
        t1: usize,
        mut f: impl FnMut(usize, usize, usize, usize),
    ) {
        let g = oc / self.m_per_group;
        for ci in 0..self.cg {
            let plane = (b * self.c + g * self.cg + ci) * self.plane;
            let kernel = (oc * self.cg + ci) * self.kh;
            for ky in 0..self.kh {
                let Some(iy) = self.ah.tap(oy, ky) else {
                    continue;
                };
                let row = plane + iy * self.wd;
                for kx in 0..self.kw {
                    let (lo, hi, ix) = self.aw.span(kx, t0, t1);
                    if lo < hi {
                        f(row + ix, (kernel + ky) * self.kw + kx, lo - t0, hi - t0);
                    }
                }
            }
        }
    }

    /// Output channels computed together from `oc`: 4 when they exist and belong to
    /// the same group (they read the same input), else 1.
    #[inline(always)]
    fn block_count(&self, oc: usize) -> usize {
        if oc + 4 <= self.m && (oc + 3) / self.m_per_group == oc / self.m_per_group {
            4
        } else {
            1
        }
    }

    /// The interior columns `c0..c1` of every output row (where every tap `kx` reads
    /// the input; possibly empty), when the blocked kernels apply: horizontal stride
    /// 1, rows of at least [`BLOCK`] outputs and `(kw - 1) * dilation <= EXTRA`.
    fn interior(&self) -> Option<(usize, usize)> {
        let a = &self.aw;
        if !BLOCKED || a.stride != 1 || self.kw == 0 || self.ow < BLOCK {
            return None;
        }
        let reach = mul(self.kw - 1, a.dilation)?;
        if reach > EXTRA {
            return None;
        }
        // Tap kx of output o reads o + kx * dilation - pad: inside the input for
        // every kx when pad <= o and o + reach < len + pad.
        let c0 = a.pad;
        let c1 = (a.len + a.pad).saturating_sub(reach).min(self.ow);
        Some((c0, c1.max(c0)))
    }

    /// For output row `oy` of channel `oc` (image `b`) and a valid tap row `ky`
    /// (see [`Axis::valid`]) of input channel `ci` of the group: the offset in `x` of
    /// the input row read and the index of tap `(ci, ky, 0)` in channel `oc`'s kernel.
    #[inline(always)]
    fn row(&self, b: usize, oc: usize, oy: usize, ci: usize, ky: usize) -> (usize, usize) {
        let iy = oy * self.ah.stride + ky * self.ah.dilation - self.ah.pad;
        let ch = b * self.c + (oc / self.m_per_group) * self.cg + ci;
        (
            ch * self.plane + iy * self.wd,
            (ci * self.kh + ky) * self.kw,
        )
    }

    /// Index of output `(b, oc, oy, t0)` in `y`.
    #[inline(always)]
    fn out(&self, b: usize, oc: usize, oy: usize, t0: usize) -> usize {
        ((b * self.m + oc) * self.oh + oy) * self.ow + t0
    }
}

/// Same contract as [`ri::conv2d`].
#[inline(always)]
pub(crate) fn int8_conv2d<L: Lanes>(
    l: L,
    p: &ConvParams,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    let geom = Conv::new(p, x.len(), w.len(), out.bias.map(<[i32]>::len), y.len());
    let Some(cv) = geom.filter(|_| (-128..=127).contains(&x_zp)) else {
        return ri::conv2d(p, x, x_zp, w, out, y);
    };
    if let Some(interior) = cv.interior() {
        return int8_conv_blocked(&cv, interior, x, x_zp, w, out, y);
    }
    let mut tiles = [[0i32; TILE]; 4];
    let stride = cv.aw.stride;
    // Distance in `w` between the kernels of consecutive output channels.
    let kvol = cv.cg * cv.kh * cv.kw;
    cv.for_each_tile(true, |b, oc, count, oy, t0, t1| {
        let len = t1 - t0;
        for t in &mut tiles[..count] {
            t[..len].fill(0);
        }
        if count == 4 {
            let [a0, a1, a2, a3] = &mut tiles;
            cv.taps(b, oc, oy, t0, t1, |xo, wi, lo, hi| {
                let wv = [w[wi], w[wi + kvol], w[wi + 2 * kvol], w[wi + 3 * kvol]];
                let acc = [
                    &mut a0[lo..hi],
                    &mut a1[lo..hi],
                    &mut a2[lo..hi],
                    &mut a3[lo..hi],
                ];
                if stride == 1 {
                    l.axpy4_i8(acc, &x[xo..xo + (hi - lo)], x_zp, wv);
                } else {
                    for (a, &wv) in acc.into_iter().zip(&wv) {
                        axpy_strided_i8(a, x, xo, stride, x_zp, wv);
                    }
                }
            });
        } else {
            let acc = &mut tiles[0];
            cv.taps(b, oc, oy, t0, t1, |xo, wi, lo, hi| {
                let acc = &mut acc[lo..hi];
                if stride == 1 {
                    l.axpy_i8(acc, &x[xo..xo + (hi - lo)], x_zp, w[wi]);
                } else {
                    axpy_strided_i8(acc, x, xo, stride, x_zp, w[wi]);
                }
            });
        }
        for (r, acc) in tiles[..count].iter().enumerate() {
            let oc = oc + r;
            let at = cv.out(b, oc, oy, t0);
            requant_row(&acc[..len], oc, out, &mut y[at..at + len]);
        }
    });
}

/// `y[i] = out.apply(acc[i], ch)` (bias and requantization of output channel `ch`), in
/// a form that vectorizes (same results for every input; tested against the
/// reference).
///
/// [`ri::requant`] is `mbqm` (TFLite `MultiplyByQuantizedMultiplier`): a left shift,
/// `srdhm(a, m) = trunc((a * m + nudge) / 2^31)` with `nudge = 2^30` for `a * m >= 0`
/// and `1 - 2^30` otherwise, then a rounding right shift. Both cases of the truncating
/// division equal the floor `(a * m + 2^30) >> 31`: for `a * m < 0` the numerator
/// `t = a * m + 1 - 2^30` is negative and `trunc(t / 2^31) = (t + 2^31 - 1) >> 31`.
/// The only overflowing input, `a = m = i32::MIN`, saturates to `i32::MAX` as there.
/// The rounding right shift by `e <= 31` is computed in i32 (the reference's i64
/// mask, remainder and threshold all fit).
#[inline(always)]
pub(crate) fn requant_row(acc: &[i32], ch: usize, out: &QuantOut<'_>, y: &mut [i8]) {
    let (b0, (m, shift)) = (out.bias_of(ch), out.pair(ch));
    let (out_zp, act_min, act_max) = (out.zero_point, out.act_min, out.act_max);
    let shift = shift.clamp(-31, 31);
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    let mask = ((1u32 << right) - 1) as i32;
    let half = mask >> 1;
    let m64 = i64::from(m);
    for (o, &a) in y.iter_mut().zip(acc) {
        let a = a.wrapping_add(b0).wrapping_shl(left);
        let q = ((i64::from(a) * m64 + (1 << 30)) >> 31) as i32;
        let q = if a == i32::MIN && m == i32::MIN {
            i32::MAX
        } else {
            q
        };
        let rem = q & mask;
        let threshold = half + i32::from(q < 0);
        let v = (q >> right) + i32::from(rem > threshold);
        *o = v
            .wrapping_add(out_zp)
            .max(act_min)
            .min(act_max)
            .clamp(-128, 127) as i8;
    }
}

/// `acc[i] += (x[start + i * stride] - zp) * w` (strided rows: plain loop).
///
/// Not inlined: inside an AVX2 function LLVM vectorizes this loop with gathers,
/// which are slower than the scalar loop.
#[inline(never)]
fn axpy_strided_i8(acc: &mut [i32], x: &[i8], start: usize, stride: usize, zp: i32, w: i8) {
    let w = i32::from(w);
    for (i, a) in acc.iter_mut().enumerate() {
        *a = a.wrapping_add((i32::from(x[start + i * stride]) - zp) * w);
    }
}

/// Same contract as [`rf::conv2d`], and the same bits (same summation order).
#[inline(always)]
pub(crate) fn f32_conv2d<L: Lanes>(
    l: L,
    p: &ConvParams,
    x: &[f32],
    w: &[f32],
    out: &F32Out<'_>,
    y: &mut [f32],
) {
    let geom = Conv::new(p, x.len(), w.len(), out.bias.map(<[f32]>::len), y.len());
    let Some(cv) = geom else {
        return rf::conv2d(p, x, w, out, y);
    };
    // f32 sums skip the padding (adding `0 * w` could change the bits), so the
    // passes reading the padding are computed column by column.
    if let Some(interior) = cv.interior().filter(|&(c0, c1)| c1 >= c0 + BLOCK) {
        return f32_conv_blocked(&cv, interior, x, w, out, y);
    }
    let mut tile = [0f32; TILE];
    let stride = cv.aw.stride;
    cv.for_each_tile(false, |b, oc, _, oy, t0, t1| {
        let acc = &mut tile[..t1 - t0];
        acc.fill(0.0);
        cv.taps(b, oc, oy, t0, t1, |xo, wi, lo, hi| {
            let wv = w[wi];
            if stride == 1 {
                l.axpy_f32(&mut acc[lo..hi], &x[xo..xo + (hi - lo)], wv);
            } else {
                for (i, a) in acc[lo..hi].iter_mut().enumerate() {
                    *a += x[xo + i * stride] * wv;
                }
            }
        });
        let at = cv.out(b, oc, oy, t0);
        for (o, &a) in y[at..at + (t1 - t0)].iter_mut().zip(acc.iter()) {
            *o = out.apply(a, oc);
        }
    });
}

/// The edge columns (outside `c0..c1`) of an output row, then the starts of the
/// [`BLOCK`]-wide passes over the interior `c0..c1` (the last pass is moved left to
/// end at `c1`, recomputing a few columns with the same result).
#[inline(always)]
fn row_passes(
    (c0, c1): (usize, usize),
    ow: usize,
) -> (impl Iterator<Item = usize>, impl Iterator<Item = usize>) {
    let edges = (0..c0).chain(c1..ow);
    let blocks = (c0..c1).step_by(BLOCK).map(move |o| o.min(c1 - BLOCK));
    (edges, blocks)
}

/// The starts of the [`BLOCK`]-wide passes over an output row of `ow >= BLOCK`
/// columns (the last pass is moved left to end at `ow`, recomputing a few columns
/// with the same result), each with `true` when the pass lies inside the interior
/// `c0..c1` (no tap in the padding).
#[inline(always)]
fn row_blocks((c0, c1): (usize, usize), ow: usize) -> impl Iterator<Item = (usize, bool)> {
    (0..ow)
        .step_by(BLOCK)
        .map(move |o| o.min(ow - BLOCK))
        .map(move |s| (s, s >= c0 && s + BLOCK <= c1))
}

/// Input columns a pass copies beyond its [`BLOCK`]: the passes that touch the
/// padding need `(kw - 1) * dilation <= EXTRA`.
const EXTRA: usize = 16;

/// The padded input of one pass: `buf[q]` is input column `s + q - pad` of the
/// row at `xo` (`fill` where that is in the padding), for `q < BLOCK + EXTRA`.
#[inline(always)]
fn padded_row<T: Copy>(cv: &Conv, x: &[T], xo: usize, s: usize, fill: T) -> [T; BLOCK + EXTRA] {
    let mut buf = [fill; BLOCK + EXTRA];
    let a = &cv.aw;
    // Input columns s - pad .. s - pad + BLOCK + EXTRA, clipped to the row.
    let first = s.saturating_sub(a.pad);
    let end = (s + BLOCK + EXTRA).saturating_sub(a.pad).min(a.len);
    if first < end {
        let q = first + a.pad - s;
        buf[q..q + (end - first)].copy_from_slice(&x[xo + first..xo + end]);
    }
    buf
}

/// The sums of `R` output channels `oc..` (same group) at columns `s..s + BLOCK` of
/// output row `oy`, all interior columns ([`Conv::interior`], stride 1): each sum in
/// the reference's order (input channel, ky, kx), starting from 0.
#[inline(always)]
fn block_f32<const R: usize>(
    cv: &Conv,
    x: &[f32],
    w: &[f32],
    (b, oc, oy, s): (usize, usize, usize, usize),
) -> [[f32; BLOCK]; R] {
    let kvol = cv.cg * cv.kh * cv.kw;
    let (d, base) = (cv.aw.dilation, s - cv.aw.pad);
    let (ky0, ky1) = cv.ah.valid(oy, cv.kh);
    let mut acc = [[0f32; BLOCK]; R];
    for ci in 0..cv.cg {
        for ky in ky0..ky1 {
            let (xo, wo) = cv.row(b, oc, oy, ci, ky);
            let xo = xo + base;
            for kx in 0..cv.kw {
                let xs = &x[xo + kx * d..xo + kx * d + BLOCK];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let wv = w[(oc + r) * kvol + wo + kx];
                    for j in 0..BLOCK {
                        acc[j] += xs[j] * wv;
                    }
                }
            }
        }
    }
    acc
}

/// The sums of `R` output channels `oc..` at the single column `o` of output row `oy`
/// (any column): each sum in the reference's order, padding skipped.
#[inline(always)]
fn column_f32<const R: usize>(
    cv: &Conv,
    x: &[f32],
    w: &[f32],
    (b, oc, oy, o): (usize, usize, usize, usize),
) -> [f32; R] {
    let kvol = cv.cg * cv.kh * cv.kw;
    let a = &cv.aw;
    let (kx0, kx1) = a.valid(o, cv.kw);
    let (ky0, ky1) = cv.ah.valid(oy, cv.kh);
    let mut acc = [0f32; R];
    if kx0 == kx1 {
        return acc;
    }
    let base = o * a.stride + kx0 * a.dilation - a.pad;
    for ci in 0..cv.cg {
        for ky in ky0..ky1 {
            let (xo, wo) = cv.row(b, oc, oy, ci, ky);
            for kx in kx0..kx1 {
                let xv = x[xo + base + (kx - kx0) * a.dilation];
                for (r, acc) in acc.iter_mut().enumerate() {
                    *acc += xv * w[(oc + r) * kvol + wo + kx];
                }
            }
        }
    }
    acc
}

/// [`f32_conv2d`] over rows with an interior of at least [`BLOCK`] columns
/// ([`Conv::interior`]): the edge columns one by one, the interior in blocks.
#[inline(always)]
fn f32_conv_blocked(
    cv: &Conv,
    interior: (usize, usize),
    x: &[f32],
    w: &[f32],
    out: &F32Out<'_>,
    y: &mut [f32],
) {
    let plane = cv.oh * cv.ow;
    for b in 0..cv.n {
        let mut oc = 0;
        while oc < cv.m {
            let count = cv.block_count(oc);
            for oy in 0..cv.oh {
                let (edges, blocks) = row_passes(interior, cv.ow);
                for o in edges {
                    let at = cv.out(b, oc, oy, o);
                    if count == 4 {
                        let acc = column_f32::<4>(cv, x, w, (b, oc, oy, o));
                        for (r, &a) in acc.iter().enumerate() {
                            y[at + r * plane] = out.apply(a, oc + r);
                        }
                    } else {
                        let [a] = column_f32::<1>(cv, x, w, (b, oc, oy, o));
                        y[at] = out.apply(a, oc);
                    }
                }
                for o in blocks {
                    let at = cv.out(b, oc, oy, o);
                    if count == 4 {
                        let acc = block_f32::<4>(cv, x, w, (b, oc, oy, o));
                        for (r, acc) in acc.iter().enumerate() {
                            let ys = &mut y[at + r * plane..at + r * plane + BLOCK];
                            for (o, &a) in ys.iter_mut().zip(acc) {
                                *o = out.apply(a, oc + r);
                            }
                        }
                    } else {
                        let [acc] = block_f32::<1>(cv, x, w, (b, oc, oy, o));
                        for (o, &a) in y[at..at + BLOCK].iter_mut().zip(&acc) {
                            *o = out.apply(a, oc);
                        }
                    }
                }
            }
            oc += count;
        }
    }
}

/// [`block_f32`] for int8: wrapping i32 sums of `(x - x_zp) * w`. A pass that reads
/// the padding (`inside` false) reads each input row from a copy padded with `x_zp`,
/// whose cells add exactly 0.
#[inline(always)]
fn block_i8<const R: usize>(
    cv: &Conv,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    (b, oc, oy, s): (usize, usize, usize, usize),
    inside: bool,
) -> [[i32; BLOCK]; R] {
    let kvol = cv.cg * cv.kh * cv.kw;
    let (ky0, ky1) = cv.ah.valid(oy, cv.kh);
    let mut acc = [[0i32; BLOCK]; R];
    for ci in 0..cv.cg {
        for ky in ky0..ky1 {
            let (xo, wo) = cv.row(b, oc, oy, ci, ky);
            let taps = (oc, kvol, wo, cv.kw, cv.aw.dilation);
            if inside {
                taps_i8(&mut acc, &x[xo + s - cv.aw.pad..], x_zp, w, taps);
            } else {
                // x_zp is in -128..=127 (checked by the caller).
                let buf = padded_row(cv, x, xo, s, x_zp as i8);
                taps_i8(&mut acc, &buf, x_zp, w, taps);
            }
        }
    }
    acc
}

/// Adds one input row's taps to a block's accumulators: for every `kx`, the `BLOCK`
/// inputs `row[kx * d..]` (minus `x_zp`) times the weight of tap `wo + kx` of each of
/// the `R` output channels from `oc`.
#[inline(always)]
fn taps_i8<const R: usize>(
    acc: &mut [[i32; BLOCK]; R],
    row: &[i8],
    x_zp: i32,
    w: &[i8],
    (oc, kvol, wo, kw, d): (usize, usize, usize, usize, usize),
) {
    for kx in 0..kw {
        let xs = &row[kx * d..kx * d + BLOCK];
        let mut xv = [0i32; BLOCK];
        for j in 0..BLOCK {
            xv[j] = i32::from(xs[j]) - x_zp;
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let wv = i32::from(w[(oc + r) * kvol + wo + kx]);
            for j in 0..BLOCK {
                acc[j] = acc[j].wrapping_add(xv[j] * wv);
            }
        }
    }
}

/// [`int8_conv2d`] over rows with a wide interior ([`Conv::interior`]).
#[inline(always)]
fn int8_conv_blocked(
    cv: &Conv,
    interior: (usize, usize),
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    let plane = cv.oh * cv.ow;
    for b in 0..cv.n {
        let mut oc = 0;
        while oc < cv.m {
            let count = cv.block_count(oc);
            for oy in 0..cv.oh {
                for (o, inside) in row_blocks(interior, cv.ow) {
                    let y0 = cv.out(b, oc, oy, o);
                    let at = (b, oc, oy, o);
                    if count == 4 {
                        let acc = block_i8::<4>(cv, x, x_zp, w, at, inside);
                        for (r, acc) in acc.iter().enumerate() {
                            let ys = &mut y[y0 + r * plane..y0 + r * plane + BLOCK];
                            requant_row(acc, oc + r, out, ys);
                        }
                    } else {
                        let [acc] = block_i8::<1>(cv, x, x_zp, w, at, inside);
                        requant_row(&acc, oc, out, &mut y[y0..y0 + BLOCK]);
                    }
                }
            }
            oc += count;
        }
    }
}

/// Max pool over `T` (same contract as [`ri::max_pool2d`] / [`rf::max_pool2d`]):
/// every output starts at `init` and takes `max(out, tap)` for the taps inside the
/// input in the reference's order (ky, kx), row by row and tap by tap. `None` when
/// the shapes do not fit the slices (the caller then runs the reference).
#[inline(always)]
pub(crate) fn max_pool2d<T: Copy>(
    p: &PoolParams,
    x: &[T],
    y: &mut [T],
    init: T,
    max: impl Fn(T, T) -> T,
) -> Option<()> {
    let [n, c, h, wd] = p.x;
    let [_, _, oh, ow] = p.y;
    let win = &p.window;
    let [kh, kw] = [win.kernel[0] as usize, win.kernel[1] as usize];
    let planes = mul(n, c)?;
    let (plane, out_plane) = (mul(h, wd)?, mul(oh, ow)?);
    if !holds(x.len(), planes, plane) || !holds(y.len(), planes, out_plane) {
        return None;
    }
    let ah = Axis::new(h, win.stride[0], win.dilation[0], win.pads[0], oh, kh)?;
    let aw = Axis::new(wd, win.stride[1], win.dilation[1], win.pads[1], ow, kw)?;
    let stride = aw.stride;
    for pl in 0..planes {
        let xp = &x[pl * plane..(pl + 1) * plane];
        for oy in 0..oh {
            let at = (pl * oh + oy) * ow;
            let out = &mut y[at..at + ow];
            out.fill(init);
            let (ky0, ky1) = ah.valid(oy, kh);
            for ky in ky0..ky1 {
                let iy = oy * ah.stride + ky * ah.dilation - ah.pad;
                let row = &xp[iy * wd..(iy + 1) * wd];
                for kx in 0..kw {
                    let (lo, hi, ix) = aw.span(kx, 0, ow);
                    let out = &mut out[lo..hi];
                    match stride {
                        1 => {
                            for (o, &v) in out.iter_mut().zip(&row[ix..ix + (hi - lo)]) {
                                *o = max(*o, v);
                            }
                        }
                        2 => {
                            let taps = row[ix..].chunks(2);
                            for (o, v) in out.iter_mut().zip(taps) {
                                *o = max(*o, v[0]);
                            }
                        }
                        _ => {
                            for (i, o) in out.iter_mut().enumerate() {
                                *o = max(*o, row[ix + i * stride]);
                            }
                        }
                    }
                }
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`requant_row`] against [`ri::requant`] on the corners of every argument.
    #[test]
    fn requant_row_matches_the_reference() {
        let accs = [
            0,
            1,
            -1,
            2,
            -2,
            3,
            -3,
            100,
            -100,
            12_345,
            -12_345,
            1 << 20,
            -(1 << 20),
            i32::MAX,
            i32::MIN,
            i32::MAX - 1,
            i32::MIN + 1,
            0x4000_0000,
            -0x4000_0000,
        ];
        let multipliers = [
            0,
            1,
            -1,
            1 << 30,
            (1 << 30) + 12_345,
            i32::MAX,
            i32::MIN,
            -(1 << 30),
            1_518_500_250,
        ];
        let mut acc = [0i32; 64];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = accs[i % accs.len()].wrapping_add((i / accs.len()) as i32 * 7_919);
        }
        for b0 in [0, 5, -5, i32::MAX, i32::MIN] {
            for &m in &multipliers {
                for shift in [-40, -32, -31, -30, -16, -9, -1, 0, 1, 2, 7, 30, 31, 32, 40] {
                    for (zp, lo, hi) in
                        [(0, -128, 127), (-128, -128, 127), (127, 0, 6), (3, 10, -10)]
                    {
                        let mut got = [0i8; 64];
                        let bias = [b0];
                        let requant = [m, shift];
                        let out = QuantOut {
                            bias: Some(&bias),
                            requant: &requant,
                            zero_point: zp,
                            act_min: lo,
                            act_max: hi,
                        };
                        requant_row(&acc, 0, &out, &mut got);
                        for (&a, &g) in acc.iter().zip(&got) {
                            let want = ri::requant(a.wrapping_add(b0), (m, shift), zp, lo, hi);
                            assert_eq!(g, want, "acc {a} b0 {b0} m {m} shift {shift} zp {zp}");
                        }
                    }
                }
            }
        }
    }
}
