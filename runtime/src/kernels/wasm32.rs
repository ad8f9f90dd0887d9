//! WebAssembly SIMD128 kernels (compiled when the build enables `simd128`, e.g.
//! `RUSTFLAGS="-C target-feature=+simd128"`; wasm has no run-time detection).
//!
//! int8: `x - x_zp` widened to i16 (exact for `x_zp` in `-128..=127`); dot products
//! with `i32x4.dot_i16x8_s` (exact products and pair sums), convolution rows with an
//! exact i16 multiply widened to i32. f32: 4-lane multiply then add.
#![allow(unsafe_code)]

use core::arch::wasm32::*;

use super::driver::Lanes;
use super::portable::Portable;

/// Proof that the build targets SIMD128.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Simd128(());

impl Simd128 {
    /// The token (the module only exists in builds with `simd128`).
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        Some(Simd128(()))
    }
}

/// 16 bytes at `p`.
///
/// # Safety
/// `p` points to 16 readable bytes.
#[inline(always)]
unsafe fn load(p: *const i8) -> v128 {
    // SAFETY: caller's contract; wasm loads need no alignment.
    unsafe { v128_load(p.cast()) }
}

/// `(x - zp)` of 16 i8 in `v`, as two i16x8.
#[inline(always)]
fn minus(v: v128, zp: v128) -> (v128, v128) {
    (
        i16x8_sub(i16x8_extend_low_i8x16(v), zp),
        i16x8_sub(i16x8_extend_high_i8x16(v), zp),
    )
}

#[inline(always)]
fn hsum_i32(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        .wrapping_add(i32x4_extract_lane::<1>(v))
        .wrapping_add(i32x4_extract_lane::<2>(v))
        .wrapping_add(i32x4_extract_lane::<3>(v))
}

/// `acc + dot(x, w)` of 16 lanes: `x` as two i16x8, `w` 16 i8.
#[inline(always)]
fn mac16(acc: v128, (xl, xh): (v128, v128), w: v128) -> v128 {
    let acc = i32x4_add(acc, i32x4_dot_i16x8(xl, i16x8_extend_low_i8x16(w)));
    i32x4_add(acc, i32x4_dot_i16x8(xh, i16x8_extend_high_i8x16(w)))
}

/// `a[0..8] += p` with the 8 i16 lanes of `p` widened to i32.
///
/// # Safety
/// `a` points to 8 writable i32.
#[inline(always)]
unsafe fn add_widened(a: *mut i32, p: v128) {
    let a = a.cast::<v128>();
    // SAFETY: caller's contract (8 i32 at `a`; wasm loads need no alignment).
    unsafe {
        v128_store(a, i32x4_add(v128_load(a), i32x4_extend_low_i16x8(p)));
        v128_store(
            a.add(1),
            i32x4_add(v128_load(a.add(1)), i32x4_extend_high_i16x8(p)),
        );
    }
}

impl Lanes for Simd128 {
    #[inline(always)]
    fn dot_i8(self, x: &[i8], zp: i32, w: &[i8]) -> i32 {
        self.dot4_i8(x, zp, [w, w, w, w])[0]
    }

    #[inline(always)]
    fn dot4_i8(self, x: &[i8], zp: i32, w: [&[i8]; 4]) -> [i32; 4] {
        let len = w.iter().fold(x.len(), |l, r| l.min(r.len()));
        let body = len - len % 16;
        let zpv = i16x8_splat(zp as i16);
        let mut acc = [i32x4_splat(0); 4];
        let mut i = 0;
        while i < body {
            // SAFETY: bytes `i..i + 16` with `i + 16 <= body <= len` of `x` and rows.
            let xv = minus(unsafe { load(x.as_ptr().add(i)) }, zpv);
            for (a, r) in acc.iter_mut().zip(&w) {
                // SAFETY: as above.
                *a = mac16(*a, xv, unsafe { load(r.as_ptr().add(i)) });
            }
            i += 16;
        }
        let mut out = [0; 4];
        for r in 0..4 {
            let tail = Portable.dot_i8(&x[body..len], zp, &w[r][body..len]);
            out[r] = hsum_i32(acc[r]).wrapping_add(tail);
        }
        out
    }

    #[inline(always)]
    fn axpy_i8(self, acc: &mut [i32], x: &[i8], zp: i32, w: i8) {
        let len = acc.len().min(x.len());
        let (zpv, wv) = (i16x8_splat(zp as i16), i16x8_splat(i16::from(w)));
        let mut i = 0;
        while i + 16 <= len {
            // SAFETY: bytes `i..i + 16` of `x`, `i + 16 <= len`.
            let (xl, xh) = minus(unsafe { load(x.as_ptr().add(i)) }, zpv);
            // |x - zp| <= 255 and |w| <= 128: the i16 products are exact.
            // SAFETY: elements `i..i + 16` of `acc`, `i + 16 <= len`.
            unsafe {
                add_widened(acc.as_mut_ptr().add(i), i16x8_mul(xl, wv));
                add_widened(acc.as_mut_ptr().add(i + 8), i16x8_mul(xh, wv));
            }
            i += 16;
        }
        Portable.axpy_i8(&mut acc[i..len], &x[i..len], zp, w);
    }

    #[inline(always)]
    fn axpy4_i8(self, mut acc: [&mut [i32]; 4], x: &[i8], zp: i32, w: [i8; 4]) {
        let len = acc.iter().fold(x.len(), |l, a| l.min(a.len()));
        let zpv = i16x8_splat(zp as i16);
        let wv = w.map(|w| i16x8_splat(i16::from(w)));
        let ap = acc.each_mut().map(|a| a.as_mut_ptr());
        let mut i = 0;
        while i + 16 <= len {
            // SAFETY: bytes `i..i + 16` of `x`, `i + 16 <= len`.
            let (xl, xh) = minus(unsafe { load(x.as_ptr().add(i)) }, zpv);
            for (a, w) in ap.iter().zip(&wv) {
                // |x - zp| <= 255 and |w| <= 128: the i16 products are exact.
                // SAFETY: elements `i..i + 16` of this row, `i + 16 <= len`.
                unsafe {
                    add_widened(a.add(i), i16x8_mul(xl, *w));
                    add_widened(a.add(i + 8), i16x8_mul(xh, *w));
                }
            }
            i += 16;
        }
        for (a, &w) in acc.into_iter().zip(&w) {
            Portable.axpy_i8(&mut a[i..len], &x[i..len], zp, w);
        }
    }

    #[inline(always)]
    fn dot_f32(self, x: &[f32], w: &[f32]) -> f32 {
        self.dot4_f32(x, [w, w, w, w])[0]
    }

    #[inline(always)]
    fn dot4_f32(self, x: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
        let len = w.iter().fold(x.len(), |l, r| l.min(r.len()));
        let body = len - len % 8;
        let mut lo = [f32x4_splat(0.0); 4];
        let mut hi = [f32x4_splat(0.0); 4];
        let mut i = 0;
        while i < body {
            // SAFETY: elements `i..i + 8` with `i + 8 <= body <= len` of `x` and rows.
            unsafe {
                let xp = x.as_ptr().add(i).cast::<v128>();
                let (x0, x1) = (v128_load(xp), v128_load(xp.add(1)));
                for r in 0..4 {
                    let p = w[r].as_ptr().add(i).cast::<v128>();
                    lo[r] = f32x4_add(lo[r], f32x4_mul(x0, v128_load(p)));
                    hi[r] = f32x4_add(hi[r], f32x4_mul(x1, v128_load(p.add(1))));
                }
            }
            i += 8;
        }
        let mut out = [0f32; 4];
        for r in 0..4 {
            let a = f32x4_add(lo[r], hi[r]);
            let lane = |v| match v {
                0 => f32x4_extract_lane::<0>(a),
                1 => f32x4_extract_lane::<1>(a),
                2 => f32x4_extract_lane::<2>(a),
                _ => f32x4_extract_lane::<3>(a),
            };
            out[r] = (lane(0) + lane(2)) + (lane(1) + lane(3));
            for (xv, wv) in x[body..len].iter().zip(&w[r][body..len]) {
                out[r] += xv * wv;
            }
        }
        out
    }

    #[inline(always)]
    fn axpy_f32(self, acc: &mut [f32], x: &[f32], w: f32) {
        let len = acc.len().min(x.len());
        let wv = f32x4_splat(w);
        let mut i = 0;
        while i + 4 <= len {
            // SAFETY: elements `i..i + 4` of `x` and `acc`, `i + 4 <= len`.
            unsafe {
                let a = acc.as_mut_ptr().add(i).cast::<v128>();
                let p = f32x4_mul(v128_load(x.as_ptr().add(i).cast()), wv);
                v128_store(a, f32x4_add(v128_load(a), p));
            }
            i += 4;
        }
        Portable.axpy_f32(&mut acc[i..len], &x[i..len], w);
    }
}
