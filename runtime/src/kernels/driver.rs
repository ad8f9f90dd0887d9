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

use super::reference::{f32 as rf, int8 as ri};
use crate::format::types::Window;

/// Accumulator tile length (output columns per pass) of the convolutions.
const TILE: usize = 64;

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
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn int8_fully_connected<L: Lanes>(
    l: L,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    batch: usize,
    k: usize,
    n: usize,
    rq: &[i32],
    out_zp: i32,
    act_min: i32,
    act_max: i32,
    y: &mut [i8],
) {
    let fits = (-128..=127).contains(&x_zp)
        && holds(x.len(), batch, k)
        && holds(w.len(), n, k)
        && holds(y.len(), batch, n)
        && bias.is_none_or(|b| b.len() >= n);
    if !fits {
        return ri::fully_connected(
            x, x_zp, w, bias, batch, k, n, rq, out_zp, act_min, act_max, y,
        );
    }
    let finish = |acc: i32, j: usize| {
        let acc = match bias {
            Some(b) => acc.wrapping_add(b[j]),
            None => acc,
        };
        ri::requant(acc, ri::rq_pair(rq, j), out_zp, act_min, act_max)
    };
    let row = |j: usize| &w[j * k..(j + 1) * k];
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        let yr = &mut y[b * n..(b + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let acc = l.dot4_i8(xr, x_zp, [row(j), row(j + 1), row(j + 2), row(j + 3)]);
            for (r, &a) in acc.iter().enumerate() {
                yr[j + r] = finish(a, j + r);
            }
            j += 4;
        }
        while j < n {
            yr[j] = finish(l.dot_i8(xr, x_zp, row(j)), j);
            j += 1;
        }
    }
}

/// Same contract as [`rf::fully_connected`], summing in vector lanes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn f32_fully_connected<L: Lanes>(
    l: L,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    batch: usize,
    k: usize,
    n: usize,
    act: (f32, f32),
    y: &mut [f32],
) {
    let fits = holds(x.len(), batch, k)
        && holds(w.len(), n, k)
        && holds(y.len(), batch, n)
        && bias.is_none_or(|b| b.len() >= n);
    if !fits {
        return rf::fully_connected(x, w, bias, batch, k, n, act, y);
    }
    let finish = |acc: f32, j: usize| {
        let acc = match bias {
            Some(b) => acc + b[j],
            None => acc,
        };
        rf::clamp(acc, act)
    };
    let row = |j: usize| &w[j * k..(j + 1) * k];
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        let yr = &mut y[b * n..(b + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let acc = l.dot4_f32(xr, [row(j), row(j + 1), row(j + 2), row(j + 3)]);
            for (r, &a) in acc.iter().enumerate() {
                yr[j + r] = finish(a, j + r);
            }
            j += 4;
        }
        while j < n {
            yr[j] = finish(l.dot_f32(xr, row(j)), j);
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
        let (lo, hi) = if self.stride == 0 {
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
    #[allow(clippy::too_many_arguments)]
    fn new(
        xs: [usize; 4],
        x_len: usize,
        ws: [usize; 4],
        w_len: usize,
        bias_len: Option<usize>,
        win: &Window,
        groups: usize,
        ys: [usize; 4],
        y_len: usize,
    ) -> Option<Self> {
        let [n, c, h, wd] = xs;
        let [m, cg, kh, kw] = ws;
        let [_, _, oh, ow] = ys;
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

    /// Index of output `(b, oc, oy, t0)` in `y`.
    #[inline(always)]
    fn out(&self, b: usize, oc: usize, oy: usize, t0: usize) -> usize {
        ((b * self.m + oc) * self.oh + oy) * self.ow + t0
    }
}

/// Same contract as [`ri::conv2d`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn int8_conv2d<L: Lanes>(
    l: L,
    x: &[i8],
    xs: [usize; 4],
    x_zp: i32,
    w: &[i8],
    ws: [usize; 4],
    bias: Option<&[i32]>,
    win: &Window,
    groups: usize,
    rq: &[i32],
    out_zp: i32,
    act_min: i32,
    act_max: i32,
    y: &mut [i8],
    ys: [usize; 4],
) {
    let geom = Conv::new(
        xs,
        x.len(),
        ws,
        w.len(),
        bias.map(<[i32]>::len),
        win,
        groups,
        ys,
        y.len(),
    );
    let Some(cv) = geom.filter(|_| (-128..=127).contains(&x_zp)) else {
        return ri::conv2d(
            x, xs, x_zp, w, ws, bias, win, groups, rq, out_zp, act_min, act_max, y, ys,
        );
    };
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
            let pair = ri::rq_pair(rq, oc);
            let b0 = bias.map_or(0, |bias| bias[oc]);
            let out = cv.out(b, oc, oy, t0);
            for (o, &a) in y[out..out + len].iter_mut().zip(&acc[..len]) {
                *o = ri::requant(a.wrapping_add(b0), pair, out_zp, act_min, act_max);
            }
        }
    });
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
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn f32_conv2d<L: Lanes>(
    l: L,
    x: &[f32],
    xs: [usize; 4],
    w: &[f32],
    ws: [usize; 4],
    bias: Option<&[f32]>,
    win: &Window,
    groups: usize,
    act: (f32, f32),
    y: &mut [f32],
    ys: [usize; 4],
) {
    let geom = Conv::new(
        xs,
        x.len(),
        ws,
        w.len(),
        bias.map(<[f32]>::len),
        win,
        groups,
        ys,
        y.len(),
    );
    let Some(cv) = geom else {
        return rf::conv2d(x, xs, w, ws, bias, win, groups, act, y, ys);
    };
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
        let out = cv.out(b, oc, oy, t0);
        for (o, &a) in y[out..out + (t1 - t0)].iter_mut().zip(acc.iter()) {
            let a = match bias {
                Some(bias) => a + bias[oc],
                None => a,
            };
            *o = rf::clamp(a, act);
        }
    });
}

/// Defines the four optimized kernels of a module with the reference signatures.
///
/// `entry_points!(safe $lanes)` calls the drivers with the value `$lanes` (portable
/// code). `entry_points!($tok, $new [, target_feature = "f"])`, in a SIMD module,
/// calls them with the token `$new` (an `Option<$tok>`), or the portable kernel when
/// the token is `None`; with `target_feature` the driver is instantiated inside a
/// `#[target_feature(enable = "f")]` function so that the intrinsics of the (always
/// inlined) primitives are compiled for that feature.
macro_rules! entry_points {
    (@all $kind:ident $args:tt) => {
        $crate::kernels::driver::entry_points!(@one $kind $args,
            int8_fully_connected, int8::fully_connected,
            (x: &[i8], x_zp: i32, w: &[i8], bias: Option<&[i32]>, batch: usize, k: usize,
             n: usize, rq: &[i32], out_zp: i32, act_min: i32, act_max: i32, y: &mut [i8]));
        $crate::kernels::driver::entry_points!(@one $kind $args,
            int8_conv2d, int8::conv2d,
            (x: &[i8], xs: [usize; 4], x_zp: i32, w: &[i8], ws: [usize; 4],
             bias: Option<&[i32]>, win: &$crate::format::types::Window, groups: usize,
             rq: &[i32], out_zp: i32, act_min: i32, act_max: i32, y: &mut [i8],
             ys: [usize; 4]));
        $crate::kernels::driver::entry_points!(@one $kind $args,
            f32_fully_connected, f32::fully_connected,
            (x: &[f32], w: &[f32], bias: Option<&[f32]>, batch: usize, k: usize, n: usize,
             act: (f32, f32), y: &mut [f32]));
        $crate::kernels::driver::entry_points!(@one $kind $args,
            f32_conv2d, f32::conv2d,
            (x: &[f32], xs: [usize; 4], w: &[f32], ws: [usize; 4], bias: Option<&[f32]>,
             win: &$crate::format::types::Window, groups: usize, act: (f32, f32),
             y: &mut [f32], ys: [usize; 4]));
    };
    (@one safe_one ($lanes:expr), $name:ident, $m:ident :: $r:ident, ($($a:ident : $t:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($a: $t),*) {
            $crate::kernels::driver::$name($lanes, $($a),*)
        }
    };
    (@one simd_one ($tok:ty, $new:expr, [$($f:literal)?]), $name:ident, $m:ident :: $r:ident,
     ($($a:ident : $t:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name($($a: $t),*) {
            /// # Safety
            /// `t` proves the CPU supports the target feature enabled here.
            #[allow(clippy::too_many_arguments)]
            $(#[target_feature(enable = $f)])?
            #[inline]
            unsafe fn imp(t: $tok, $($a: $t),*) {
                $crate::kernels::driver::$name(t, $($a),*)
            }
            match $new {
                // SAFETY: a token is only created after checking that the CPU has
                // the feature `imp` enables; the driver checks every length itself.
                Some(t) => unsafe { imp(t, $($a),*) },
                None => $crate::kernels::portable::$name($($a),*),
            }
        }
    };
    (safe $lanes:expr) => {
        $crate::kernels::driver::entry_points!(@all safe_one ($lanes));
    };
    ($tok:ty, $new:expr $(, target_feature = $f:literal)?) => {
        $crate::kernels::driver::entry_points!(@all simd_one ($tok, $new, [$($f)?]));
    };
}
pub(crate) use entry_points;
