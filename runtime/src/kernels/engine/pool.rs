//! Max and average pools of NHWC activations, vectorised across channels.
//!
//! The geometry is the reference pools' ([`PoolParams`], with `p.x` / `p.y` the
//! *logical* `[N, C, H, W]` shapes of tensors stored `[N, H, W, C]`): every output pixel
//! visits its taps in the reference's order (ky, then kx), skipping the padding, and
//! applies each tap to a whole row of `C` channels. Each channel therefore sees the same
//! operations in the same order as in the NCHW reference kernels, so the results are
//! identical bit for bit, f32 included. The inner loops are plain slices zipped
//! together, which the compiler vectorises for the target (SSE2 on x86-64, NEON,
//! simd128, scalar on Cortex-M).
//!
//! A global pool is the window `[H, W]` with stride 1 and no padding (output 1×1):
//! the reference global pools sum each plane in the same order.

use crate::kernels::fixed::saturate;
use crate::kernels::params::PoolParams;
use crate::kernels::reference::int8::div_round;
use crate::kernels::reference::window::{axes, Axis};
use crate::{Error, Result};

#[cfg(all(target_arch = "x86_64", feature = "std"))]
use super::pool_x86;

/// Channels of the int8 average's i32 accumulators on the stack.
const I8_BLOCK: usize = 64;

/// The checked geometry of one NHWC pool call (`Error::Unsupported` when the shapes
/// do not describe the slices).
struct Geo {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
    ah: Axis,
    aw: Axis,
    /// Strides and dilations `(sh, sw, dh, dw)` when no tap of any output pixel lies
    /// in the padding (see [`Geo::plain`]), else `None`.
    plain: Option<[usize; 4]>,
}

impl Geo {
    /// The geometry of `p` over slices of `xl` and `yl` elements; an error when the
    /// shapes do not describe the slices.
    fn new(p: &PoolParams, xl: usize, yl: usize) -> Result<Geo> {
        let [n, c, h, w] = p.x;
        let [yn, yc, oh, ow] = p.y;
        let elems = |d: [usize; 4]| d.iter().try_fold(1usize, |a, &v| a.checked_mul(v));
        if yn != n || yc != c || elems(p.x) != Some(xl) || elems(p.y) != Some(yl) {
            return Err(Error::Unsupported);
        }
        let (ah, aw) = axes(&p.window, h, w);
        let [kh, kw] = p.window.kernel.map(|k| k as usize);
        let [sh, sw] = p.window.stride.map(|v| v as usize);
        let [dh, dw] = p.window.dilation.map(|v| v as usize);
        // The input coordinate of the last tap of the last output, when it exists.
        let last = |o: usize, s: usize, k: usize, d: usize| {
            let a = o.checked_sub(1)?.checked_mul(s)?;
            a.checked_add(k.checked_sub(1)?.checked_mul(d)?)
        };
        let plain = PLAIN
            && p.window.pads[..2] == [0, 0]
            && last(oh, sh, kh, dh).is_some_and(|l| l < h)
            && last(ow, sw, kw, dw).is_some_and(|l| l < w);
        Ok(Geo {
            n,
            c,
            h,
            w,
            oh,
            ow,
            kh,
            kw,
            ah,
            aw,
            plain: plain.then_some([sh, sw, dh, dw]),
        })
    }

    /// Calls `fin` on each output pixel's row of `c` channels after `step` has folded
    /// every tap of its window into accumulators starting at `init`, for a window
    /// without padding (`plain`; nothing is done otherwise — the caller checks): the
    /// taps in the reference's (ky, kx) order, each channel in its own accumulator.
    ///
    /// Channels go by blocks of `L` (or 16, 8, 4, 1 when `c` is smaller) in an array the
    /// compiler keeps in registers, the last block overlapping the one before when
    /// `c` is not a multiple (its channels are computed twice, alike). A pixel costs its
    /// taps' loads and `step`s: no iterator, one slice check per tap.
    #[inline(always)]
    fn plain<T: Copy, A: Copy, const L: usize>(
        &self,
        x: &[T],
        y: &mut [T],
        init: A,
        step: impl Fn(A, T) -> A,
        fin: impl Fn(A) -> T,
    ) {
        match self.c {
            c if c >= L => self.plain_blocks::<T, A, L>(x, y, init, &step, &fin),
            c if c >= 16 => self.plain_blocks::<T, A, 16>(x, y, init, &step, &fin),
            c if c >= 8 => self.plain_blocks::<T, A, 8>(x, y, init, &step, &fin),
            c if c >= 4 => self.plain_blocks::<T, A, 4>(x, y, init, &step, &fin),
            _ => self.plain_blocks::<T, A, 1>(x, y, init, &step, &fin),
        }
    }

    /// [`Geo::plain`] by blocks of `L <= c` channels.
    #[inline(always)]
    fn plain_blocks<T: Copy, A: Copy, const L: usize>(
        &self,
        x: &[T],
        y: &mut [T],
        init: A,
        step: &impl Fn(A, T) -> A,
        fin: &impl Fn(A) -> T,
    ) {
        let (c, Some([sh, sw, dh, dw])) = (self.c, self.plain) else {
            return;
        };
        if c < L || L == 0 {
            return;
        }
        // Element steps between the taps of a window row, and between its rows.
        // (Wrapping: a step past the last tap, pixel or row is never used, and the
        // stride or dilation of a 1-long axis is unbounded.)
        let steps = [dw.wrapping_mul(c), dh.wrapping_mul(self.w * c)];
        let next = sw.wrapping_mul(c);
        if c == L {
            // One block per pixel: no block loop.
            for b in 0..self.n {
                for oy in 0..self.oh {
                    let mut i = (b * self.h + oy * sh) * self.w * c;
                    let o0 = (b * self.oh + oy) * self.ow;
                    let outs = y.get_mut(o0 * L..(o0 + self.ow) * L).unwrap_or(&mut []);
                    for out in outs.chunks_exact_mut(L) {
                        let acc: [A; L] = self.fold(x, i, steps, init, step);
                        for (o, a) in out.iter_mut().zip(acc) {
                            *o = fin(a);
                        }
                        i = i.wrapping_add(next);
                    }
                }
            }
            return;
        }
        let mut outs = y.chunks_exact_mut(c);
        for b in 0..self.n {
            for oy in 0..self.oh {
                let mut i0 = (b * self.h + oy * sh) * self.w * c;
                for _ in 0..self.ow {
                    let Some(out) = outs.next() else { return };
                    let mut c0 = 0;
                    while c0 < c {
                        // The last block ends at `c`.
                        let cb = c0.min(c - L);
                        let acc: [A; L] = self.fold(x, i0 + cb, steps, init, step);
                        let o = out.get_mut(cb..cb + L);
                        if let Some(o) = o.and_then(|o| <&mut [T; L]>::try_from(o).ok()) {
                            for (o, a) in o.iter_mut().zip(acc) {
                                *o = fin(a);
                            }
                        }
                        c0 += L;
                    }
                    i0 = i0.wrapping_add(next);
                }
            }
        }
    }

    /// The `L` elements from `i0` (the first tap's) of every tap of a window, `steps`
    /// elements apart along a window row and between rows, folded with `step` from
    /// `init` in (ky, kx) order ([`Geo::plain`]).
    #[inline(always)]
    fn fold<T: Copy, A: Copy, const L: usize>(
        &self,
        x: &[T],
        i0: usize,
        [col, row]: [usize; 2],
        init: A,
        step: &impl Fn(A, T) -> A,
    ) -> [A; L] {
        let mut acc = [init; L];
        let mut r = i0;
        for _ in 0..self.kh {
            let mut i = r;
            for _ in 0..self.kw {
                let v = x.get(i..i + L).and_then(|v| <&[T; L]>::try_from(v).ok());
                if let Some(v) = v {
                    for (a, &v) in acc.iter_mut().zip(v) {
                        *a = step(*a, v);
                    }
                }
                i = i.wrapping_add(col);
            }
            r = r.wrapping_add(row);
        }
        acc
    }

    /// Calls `f(out, oy, ox, taps)` for every output pixel: `out` its index among the
    /// output pixels, `(oy, ox)` its position, `taps` the indices of the input pixels
    /// under its window in (ky, kx) order, padding skipped.
    fn each(&self, mut f: impl FnMut(usize, usize, usize, &mut dyn Iterator<Item = usize>)) {
        self.pixels(|o, b, oy, ox| f(o, oy, ox, &mut self.taps(b, oy, ox)));
    }

    /// Calls `f(out, b, oy, ox)` for every output pixel `(oy, ox)` of image `b`, `out`
    /// its index among the output pixels.
    #[inline(always)]
    fn pixels(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        for b in 0..self.n {
            for oy in 0..self.oh {
                for ox in 0..self.ow {
                    f((b * self.oh + oy) * self.ow + ox, b, oy, ox);
                }
            }
        }
    }

    /// The indices of the input pixels under the window of output pixel `(oy, ox)` of
    /// image `b`, in (ky, kx) order, padding skipped.
    #[inline(always)]
    fn taps(&self, b: usize, oy: usize, ox: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.kh)
            .filter_map(move |ky| self.ah.tap(oy, ky))
            .flat_map(move |iy| {
                (0..self.kw)
                    .filter_map(move |kx| self.aw.tap(ox, kx))
                    .map(move |ix| (b * self.h + iy) * self.w + ix)
            })
    }

    /// The divisor of an average at output `(oy, ox)` and the taps it counts in the
    /// padding (the reference's `valid` / `padded` counts).
    fn count(&self, oy: usize, ox: usize, include_pad: bool) -> (usize, usize) {
        let valid = self.ah.valid_taps(oy, self.kh) * self.aw.valid_taps(ox, self.kw);
        if include_pad {
            let all = self.ah.padded_taps(oy, self.kh) * self.aw.padded_taps(ox, self.kw);
            (all, all.saturating_sub(valid))
        } else {
            (valid, 0)
        }
    }
}

/// A row of `c` elements starting at element `pixel * c`.
fn row<T>(v: &[T], pixel: usize, c: usize) -> &[T] {
    v.get(pixel * c..(pixel + 1) * c).unwrap_or(&[])
}

/// [`row`], mutable.
fn row_mut<T>(v: &mut [T], pixel: usize, c: usize) -> &mut [T] {
    v.get_mut(pixel * c..(pixel + 1) * c).unwrap_or(&mut [])
}

/// `fast!(f, T)`: a function running `f(g, x, y)` (an `#[inline(always)]` fn over
/// `&[T]`) compiled for AVX2 when the CPU has it (x86-64 with `std`), else as it is.
macro_rules! fast {
    ($f:ident, $t:ty) => {{
        #[inline(always)]
        fn run(g: &Geo, x: &[$t], y: &mut [$t]) {
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            if std::is_x86_feature_detected!("avx2") {
                /// `f` compiled for AVX2.
                ///
                /// # Safety
                /// The CPU has AVX2.
                #[target_feature(enable = "avx2")]
                #[allow(unsafe_code)]
                unsafe fn avx2(g: &Geo, x: &[$t], y: &mut [$t]) {
                    $f(g, x, y);
                }
                // SAFETY: the CPU has AVX2.
                #[allow(unsafe_code)]
                unsafe {
                    avx2(g, x, y);
                }
                return;
            }
            $f(g, x, y);
        }
        run
    }};
}

/// Max pool of NHWC f32 activations: the reference [`max_pool2d`]'s values
/// (`crate::kernels::f32::max_pool2d`; NaN ignored, -inf for a window in the padding).
///
/// [`max_pool2d`]: crate::kernels::f32::max_pool2d
pub fn f32_max_pool_nhwc(p: &PoolParams, x: &[f32], y: &mut [f32]) -> Result<()> {
    max_pool(
        &Geo::new(p, x.len(), y.len())?,
        x,
        y,
        f32::NEG_INFINITY,
        f32_max,
        fast!(f32_max_plain, f32),
    )
}

/// The reference's f32 max step (NaN taps ignored, the first of equal values kept).
#[inline(always)]
fn f32_max(o: f32, v: f32) -> f32 {
    if v > o {
        v
    } else {
        o
    }
}

/// [`Geo::plain`] of the f32 max pool.
#[inline(always)]
fn f32_max_plain(g: &Geo, x: &[f32], y: &mut [f32]) {
    g.plain::<f32, f32, 32>(x, y, f32::NEG_INFINITY, f32_max, |a| a);
}

/// [`Geo::plain`] of the int8 max pool.
#[inline(always)]
fn i8_max_plain(g: &Geo, x: &[i8], y: &mut [i8]) {
    g.plain::<i8, i8, 32>(x, y, i8::MIN, Ord::max, |a| a);
}

/// [`Geo::plain`] of the f32 average: every tap is valid, so the count is the
/// window's, with or without `count_include_pad`.
#[inline(always)]
fn f32_avg_plain(g: &Geo, x: &[f32], y: &mut [f32]) {
    let d = (g.kh * g.kw) as f32;
    g.plain::<f32, f32, 32>(x, y, 0.0, |a, v| a + v, |a| a / d);
}

/// Max pool of NHWC int8 activations (raw values; input and output share their
/// quantization): the reference [`max_pool2d`](crate::kernels::int8::max_pool2d)'s bytes.
///
/// On x86-64 with `std`, a window of width 2, stride 2 along W without padding and
/// 1, 2, 4, …, 32 channels runs on AVX-512 VBMI when the CPU has it
/// (`pool_x86::max_pairs`).
pub fn i8_max_pool_nhwc(p: &PoolParams, x: &[i8], y: &mut [i8]) -> Result<()> {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    if pool_x86::i8_max(p, x, y) {
        return Ok(());
    }
    let g = Geo::new(p, x.len(), y.len())?;
    max_pool(&g, x, y, i8::MIN, Ord::max, fast!(i8_max_plain, i8))
}

/// Every output row starts at `init` and takes `max(out, tap)` for each tap in order.
#[inline(always)]
fn max_pool<T: Copy>(
    g: &Geo,
    x: &[T],
    y: &mut [T],
    init: T,
    max: impl Fn(T, T) -> T,
    plain: impl Fn(&Geo, &[T], &mut [T]),
) -> Result<()> {
    if PLAIN && g.plain.is_some() {
        plain(g, x, y);
        return Ok(());
    }
    g.each(|o, _, _, taps| {
        let out = row_mut(y, o, g.c);
        out.fill(init);
        for t in taps {
            for (o, &v) in out.iter_mut().zip(row(x, t, g.c)) {
                *o = max(*o, v);
            }
        }
    });
    Ok(())
}

/// Average pool of NHWC f32 activations: the reference
/// [`avg_pool2d`](crate::kernels::f32::avg_pool2d)'s values (the taps summed in window
/// order from 0, then divided by the count; a zero count gives 0).
pub fn f32_avg_pool_nhwc(p: &PoolParams, x: &[f32], y: &mut [f32]) -> Result<()> {
    let g = Geo::new(p, x.len(), y.len())?;
    if PLAIN && g.plain.is_some() {
        fast!(f32_avg_plain, f32)(&g, x, y);
        return Ok(());
    }
    g.each(|o, oy, ox, taps| {
        let out = row_mut(y, o, g.c);
        out.fill(0.0);
        for t in taps {
            for (o, &v) in out.iter_mut().zip(row(x, t, g.c)) {
                *o += v;
            }
        }
        let (count, _) = g.count(oy, ox, p.count_include_pad);
        if count == 0 {
            out.fill(0.0);
        } else {
            let d = count as f32;
            out.iter_mut().for_each(|o| *o /= d);
        }
    });
    Ok(())
}

/// Average pool of NHWC int8 activations (input and output share scale and zero point
/// `x_zp`): the reference [`avg_pool2d`](crate::kernels::int8::avg_pool2d)'s bytes (i32
/// sums, with `count_include_pad` each counted padded cell adds `x_zp`; rounding half
/// away from zero; clamped to i8).
///
/// On x86-64 with `std` the same code runs compiled for AVX2 when the CPU has it
/// (the loops below are written for the compiler to vectorise: without it they are
/// SSE2, whose i8 → i32 widening and 64-bit products cost several instructions each).
pub fn i8_avg_pool_nhwc(p: &PoolParams, x: &[i8], x_zp: i32, y: &mut [i8]) -> Result<()> {
    // A global average without padding in one pass of exact i16 sums (as `i8_avg`'s),
    // divided in vectors (`pool_x86::div_avg`: the reference's `div_round`).
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    if let Some(count) = pool_x86::global_count(p).filter(|&n| n <= I16_TAPS) {
        if pool_x86::global_avg(x, y, [p.x[0], count, p.x[1]]) {
            return Ok(());
        }
    }
    let g = Geo::new(p, x.len(), y.len())?;
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        #[allow(unsafe_code)]
        unsafe {
            i8_avg_avx2(&g, p.count_include_pad, x, x_zp, y)
        };
        return Ok(());
    }
    i8_avg(&g, p.count_include_pad, x, x_zp, y);
    Ok(())
}

/// [`i8_avg`] compiled for AVX2.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(all(target_arch = "x86_64", feature = "std"))]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn i8_avg_avx2(g: &Geo, include_pad: bool, x: &[i8], x_zp: i32, y: &mut [i8]) {
    i8_avg(g, include_pad, x, x_zp, y);
}

/// The portable body of [`i8_avg_pool_nhwc`], for a checked geometry.
///
/// Every output pixel runs over blocks of channels; each block sums its taps in i16
/// lanes when the divisor is at most [`I16_TAPS`] (the reference's i32 sum of at most
/// that many valid taps of `|v| <= 128` lies in `-32768..=32512`: exact in i16),
/// else in i32 lanes, then divides with [`Divisor`] (or the reference's
/// [`div_round`] outside its bounds).
#[inline(always)]
fn i8_avg(g: &Geo, include_pad: bool, x: &[i8], x_zp: i32, y: &mut [i8]) {
    if PLAIN && g.plain.is_some() {
        // Every tap is valid, nothing of the padding is counted: the divisor is the
        // window's and the sums are bounded by `128·count` whatever `x_zp` is.
        let count = g.kh * g.kw;
        if let Some(d) = Divisor::new(count, 0) {
            let fin = |a: i32| saturate(d.div_round(a), -128, 127);
            if I16_SUMS && count <= I16_TAPS {
                let step = |a: i16, v: i8| a.wrapping_add(i16::from(v));
                g.plain::<i8, i16, 32>(x, y, 0, step, |a| fin(i32::from(a)));
            } else {
                let step = |a: i32, v: i8| a.wrapping_add(i32::from(v));
                g.plain::<i8, i32, 16>(x, y, 0, step, fin);
            }
            return;
        }
    }
    let mut a16 = [0i16; I16_BLOCK];
    let mut a32 = [0i32; I8_BLOCK];
    // (Loops, not `Geo::pixels`: a closure would not inherit the target features.)
    for b in 0..g.n {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let o = (b * g.oh + oy) * g.ow + ox;
                let (count, padded) = g.count(oy, ox, include_pad);
                let extra = (padded as i32).wrapping_mul(x_zp);
                let d = Divisor::new(count, x_zp);
                let narrow = I16_SUMS && d.is_some() && count <= I16_TAPS;
                let block = if narrow { I16_BLOCK } else { I8_BLOCK };
                for c0 in (0..g.c).step_by(block) {
                    let c1 = (c0 + block).min(g.c);
                    let out = row_mut(y, o, g.c).get_mut(c0..c1).unwrap_or(&mut []);
                    let taps = g.taps(b, oy, ox);
                    match d {
                        Some(d) if narrow => {
                            let acc = &mut a16[..c1 - c0];
                            acc.fill(0);
                            for t in taps {
                                let xr = row(x, t, g.c).get(c0..c1).unwrap_or(&[]);
                                for (a, &v) in acc.iter_mut().zip(xr) {
                                    *a = a.wrapping_add(i16::from(v));
                                }
                            }
                            for (o, &a) in out.iter_mut().zip(acc.iter()) {
                                *o = saturate(d.div_round(i32::from(a) + extra), -128, 127);
                            }
                        }
                        _ => {
                            let acc = &mut a32[..c1 - c0];
                            acc.fill(0);
                            for t in taps {
                                let xr = row(x, t, g.c).get(c0..c1).unwrap_or(&[]);
                                for (a, &v) in acc.iter_mut().zip(xr) {
                                    *a = a.wrapping_add(i32::from(v));
                                }
                            }
                            let out = out.iter_mut().zip(acc.iter());
                            match d {
                                Some(d) => {
                                    for (o, &a) in out {
                                        *o = saturate(d.div_round(a + extra), -128, 127);
                                    }
                                }
                                None => {
                                    for (o, &a) in out {
                                        let q = div_round(a.wrapping_add(extra), count as i32);
                                        *o = saturate(q, -128, 127);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether the pools take [`Geo::plain`] for windows without padding: not on
/// microcontrollers (`target_os = "none"`), whose flash keeps the one generic path,
/// nor on wasm32, where the plain paths' instances added 39 KiB to the npm package's
/// `.wasm` (629,216 B against its 600 KiB budget; 589,810 B without them).
const PLAIN: bool = cfg!(not(any(target_os = "none", target_arch = "wasm32")));

/// Whether [`i8_avg`] sums in i16 where it can: on 64-bit targets (the SIMD ones);
/// 32-bit targets (Cortex-M) keep one i32 path, its code size and stack.
const I16_SUMS: bool = cfg!(target_pointer_width = "64");

/// Channels of the int8 average's i16 accumulators on the stack.
const I16_BLOCK: usize = if I16_SUMS { 256 } else { 1 };

/// The largest divisor whose sums [`i8_avg`] keeps in i16 (see there).
const I16_TAPS: usize = 256;

/// The largest count [`Divisor`] divides by.
const DIV_MAX: usize = 5000;

/// The reference's [`div_round`] by one count, as a multiply and a shift instead of
/// an integer division per channel (the division was most of a wide pool's time).
///
/// With int8 inputs and `|x_zp| <= 128`, every sum the average divides is bounded:
/// `|s| <= 128·count` (each valid tap adds `|v| <= 128`, each counted padded cell
/// `|x_zp| <= 128`). For such `s` and `1 <= d <= DIV_MAX`, [`Divisor::div_round`]
/// equals `div_round(s, d)`: the reference rounds half away from zero,
/// `sign(s)·floor(u / d)` with `u = |s| + floor(d/2)` (truncating division of a
/// non-negative numerator for `s >= 0`, of `−u` for `s < 0`), and
/// `floor(u / d) = floor(u·m / 2^32)` for `m = ceil(2^32 / d)`: with `m·d = 2^32 + e`,
/// `0 <= e < d`, `u·m / 2^32 = u/d + u·e / (d·2^32)`, the second term below `1/d`
/// because `u·e < u·d < 129·d² <= 129·5000² < 2^32`; writing `u = q·d + r`,
/// `r <= d − 1`, the fraction `r/d + u·e / (d·2^32)` stays below 1, so the floor is
/// `q`. Nothing overflows: `u·m < 2^40`, and `s` needs no wrapping add.
/// `tests` below compare it with `div_round` on every such `s` for `d <= 100` and on
/// the extremes and ties of larger `d`.
#[derive(Clone, Copy, Debug)]
struct Divisor {
    half: u32,
    m: u64,
}

impl Divisor {
    /// The divisor `count` when the bounds above hold (`1 <= count <= DIV_MAX`,
    /// `|x_zp| <= 128`); `None` sends the caller to [`div_round`].
    fn new(count: usize, x_zp: i32) -> Option<Divisor> {
        ((1..=DIV_MAX).contains(&count) && (-128..=128).contains(&x_zp)).then(|| Divisor {
            half: (count / 2) as u32,
            m: (1u64 << 32).div_ceil(count as u64),
        })
    }

    /// `div_round(s, count)` for `|s| <= 128·count`.
    #[inline(always)]
    fn div_round(self, s: i32) -> i32 {
        // Branch-free (it vectorises): `neg` is all ones for `s < 0`, and
        // `(v ^ neg) - neg` negates `v` then.
        let neg = s >> 31;
        let u = ((s ^ neg).wrapping_sub(neg) as u32).wrapping_add(self.half);
        let q = ((u64::from(u) * self.m) >> 32) as i32;
        (q ^ neg).wrapping_sub(neg)
    }
}

#[cfg(test)]
mod tests {
    use super::{div_round, i8_avg, Divisor, Geo, DIV_MAX};
    use crate::format::types::Window;
    use crate::kernels::params::PoolParams;
    use crate::kernels::reference::int8::avg_pool2d;
    use std::vec;
    use std::vec::Vec;

    /// The portable body (here without the AVX2 build) and the public function give
    /// the reference's bytes: i16 sums (9 and 256 taps), i32 sums (288 taps), the
    /// padded counts, channel blocks with a tail (300 channels).
    #[test]
    fn i8_avg_matches_the_reference() {
        let cases = [
            ([1, 300, 3, 3], [3, 3], [1, 1], [0; 4], false),
            ([1, 300, 16, 16], [16, 16], [1, 1], [0; 4], false),
            ([1, 300, 24, 12], [24, 12], [1, 1], [0; 4], false),
            ([2, 17, 7, 6], [3, 3], [2, 2], [1, 1, 1, 1], true),
            ([1, 40, 5, 5], [3, 2], [1, 2], [0, 1, 2, 1], false),
        ];
        let mut s = 12345u32;
        for (xs, k, st, pads, include) in cases {
            let [n, c, h, w] = xs;
            let win = Window {
                kernel: k,
                stride: st,
                dilation: [1, 1],
                pads,
            };
            let oh = (h + (pads[0] + pads[2]) as usize - k[0] as usize) / st[0] as usize + 1;
            let ow = (w + (pads[1] + pads[3]) as usize - k[1] as usize) / st[1] as usize + 1;
            let p = PoolParams {
                x: xs,
                y: [n, c, oh, ow],
                window: win,
                count_include_pad: include,
            };
            // NHWC input, NCHW copy for the reference.
            let x: Vec<i8> = (0..n * h * w * c)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 24) as u8 as i8
                })
                .collect();
            let nchw = |v: &[i8], hw: usize| -> Vec<i8> {
                let mut t = vec![0; v.len()];
                for (i, &e) in v.iter().enumerate() {
                    let (b, r) = (i / (hw * c), i % (hw * c));
                    t[(b * c + r % c) * hw + r / c] = e;
                }
                t
            };
            for zp in [-128, -3, 0, 127] {
                let mut want = vec![0i8; n * c * oh * ow];
                avg_pool2d(&p, &nchw(&x, h * w), zp, &mut want);
                let mut y = vec![0i8; want.len()];
                let g = Geo::new(&p, x.len(), y.len()).unwrap();
                i8_avg(&g, include, &x, zp, &mut y);
                assert_eq!(nchw(&y, oh * ow), want, "{xs:?} zp {zp}");
                let mut y2 = vec![0i8; want.len()];
                super::i8_avg_pool_nhwc(&p, &x, zp, &mut y2).unwrap();
                assert_eq!(y2, y, "{xs:?} zp {zp}");
            }
        }
    }

    /// Every bounded sum `|s| <= 128·d` for `d <= 100`; the extremes, the ties and
    /// their neighbours for larger `d` up to [`DIV_MAX`].
    #[test]
    fn divisor_matches_div_round() {
        let check = |d: usize, s: i32| {
            let got = Divisor::new(d, 0).unwrap().div_round(s);
            assert_eq!(got, div_round(s, d as i32), "s = {s}, d = {d}");
        };
        for d in 1..=100 {
            let b = 128 * d as i32;
            (-b..=b).for_each(|s| check(d, s));
        }
        for d in [127, 128, 255, 256, 1000, 1023, 4095, 4096, 4999, DIV_MAX] {
            let (di, b) = (d as i32, 128 * d as i32);
            for k in -128..=128i32 {
                // Around k·d and around the ties k·d ± d/2.
                for c in [k * di, k * di + di / 2, k * di - di / 2] {
                    for s in c - 2..=c + 2 {
                        if (-b..=b).contains(&s) {
                            check(d, s);
                        }
                    }
                }
            }
        }
        assert!(Divisor::new(0, 0).is_none());
        assert!(Divisor::new(DIV_MAX + 1, 0).is_none());
        assert!(Divisor::new(9, 129).is_none());
        assert!(Divisor::new(9, -129).is_none());
    }
}
