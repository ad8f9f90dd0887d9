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
        })
    }

    /// Calls `f(out, oy, ox, taps)` for every output pixel: `out` its index among the
    /// output pixels, `(oy, ox)` its position, `taps` the indices of the input pixels
    /// under its window in (ky, kx) order, padding skipped.
    fn each(&self, mut f: impl FnMut(usize, usize, usize, &mut dyn Iterator<Item = usize>)) {
        for b in 0..self.n {
            for oy in 0..self.oh {
                for ox in 0..self.ow {
                    let mut taps =
                        (0..self.kh)
                            .filter_map(|ky| self.ah.tap(oy, ky))
                            .flat_map(|iy| {
                                (0..self.kw)
                                    .filter_map(move |kx| self.aw.tap(ox, kx))
                                    .map(move |ix| (b * self.h + iy) * self.w + ix)
                            });
                    f((b * self.oh + oy) * self.ow + ox, oy, ox, &mut taps);
                }
            }
        }
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

/// Max pool of NHWC f32 activations: the reference [`max_pool2d`]'s values
/// (`crate::kernels::f32::max_pool2d`; NaN ignored, -inf for a window in the padding).
///
/// [`max_pool2d`]: crate::kernels::f32::max_pool2d
pub fn f32_max_pool_nhwc(p: &PoolParams, x: &[f32], y: &mut [f32]) -> Result<()> {
    max_pool(p, x, y, f32::NEG_INFINITY, |o, v| if v > o { v } else { o })
}

/// Max pool of NHWC int8 activations (raw values; input and output share their
/// quantization): the reference [`max_pool2d`](crate::kernels::int8::max_pool2d)'s bytes.
pub fn i8_max_pool_nhwc(p: &PoolParams, x: &[i8], y: &mut [i8]) -> Result<()> {
    max_pool(p, x, y, i8::MIN, Ord::max)
}

/// Every output row starts at `init` and takes `max(out, tap)` for each tap in order.
#[inline(always)]
fn max_pool<T: Copy>(
    p: &PoolParams,
    x: &[T],
    y: &mut [T],
    init: T,
    max: impl Fn(T, T) -> T,
) -> Result<()> {
    let g = Geo::new(p, x.len(), y.len())?;
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
pub fn i8_avg_pool_nhwc(p: &PoolParams, x: &[i8], x_zp: i32, y: &mut [i8]) -> Result<()> {
    let g = Geo::new(p, x.len(), y.len())?;
    let mut acc = [0i32; I8_BLOCK];
    // Blocks of channels, each over every output pixel (the sums stay on the stack).
    for c0 in (0..g.c).step_by(I8_BLOCK) {
        let c1 = (c0 + I8_BLOCK).min(g.c);
        let acc = &mut acc[..c1 - c0];
        g.each(|o, oy, ox, taps| {
            acc.fill(0);
            for t in taps {
                let xr = row(x, t, g.c).get(c0..c1).unwrap_or(&[]);
                for (a, &v) in acc.iter_mut().zip(xr) {
                    *a = a.wrapping_add(i32::from(v));
                }
            }
            let (count, padded) = g.count(oy, ox, p.count_include_pad);
            let extra = (padded as i32).wrapping_mul(x_zp);
            let out = row_mut(y, o, g.c).get_mut(c0..c1).unwrap_or(&mut []);
            match Divisor::new(count, x_zp) {
                Some(d) => {
                    for (o, &a) in out.iter_mut().zip(acc.iter()) {
                        *o = saturate(d.div_round(a + extra), -128, 127);
                    }
                }
                None => {
                    for (o, &a) in out.iter_mut().zip(acc.iter()) {
                        *o = saturate(div_round(a.wrapping_add(extra), count as i32), -128, 127);
                    }
                }
            }
        });
    }
    Ok(())
}

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
        let u = s.unsigned_abs() + self.half;
        let q = ((u64::from(u) * self.m) >> 32) as i32;
        if s < 0 {
            -q
        } else {
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{div_round, Divisor, DIV_MAX};

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
