//! AArch64 NEON kernels (NEON is part of the AArch64 baseline: always selected).
//!
//! int8: `x - x_zp` widened to i16 (exact for `x_zp` in `-128..=127`); dot products
//! with `smlal` (i16 x i16 -> i32 multiply-accumulate, exact products), convolution
//! rows with an exact i16 multiply (`|x - x_zp| * |w| <= 255 * 128`) widened into i32
//! with `saddw`. f32: 4-lane multiply then add (`fmul` + `fadd`, no FMA).
#![allow(unsafe_code)]

use core::arch::aarch64::*;

use super::driver::Lanes;
use super::portable::Portable;

/// Proof that the CPU supports NEON (always true on AArch64).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon(());

impl Neon {
    /// The token (NEON is mandatory on AArch64).
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        cfg!(target_feature = "neon").then_some(Neon(()))
    }
}

/// `(x - zp)` of 16 i8 at `p`, widened to two i16x8.
///
/// # Safety
/// `p` points to 16 readable bytes.
#[inline(always)]
unsafe fn load16_minus(p: *const i8, zp: int16x8_t) -> (int16x8_t, int16x8_t) {
    // SAFETY: caller's contract (16 readable bytes).
    unsafe {
        let v = vld1q_s8(p);
        (
            vsubq_s16(vmovl_s8(vget_low_s8(v)), zp),
            vsubq_s16(vmovl_high_s8(v), zp),
        )
    }
}

/// `acc + (x - zp) * w` over 16 lanes, i16 inputs, i32 accumulation.
///
/// # Safety
/// `p` points to 16 readable bytes.
#[inline(always)]
unsafe fn mac16(acc: int32x4_t, xl: int16x8_t, xh: int16x8_t, p: *const i8) -> int32x4_t {
    // SAFETY: caller's contract (16 readable bytes).
    unsafe {
        let w = vld1q_s8(p);
        let (wl, wh) = (vmovl_s8(vget_low_s8(w)), vmovl_high_s8(w));
        let acc = vmlal_s16(acc, vget_low_s16(xl), vget_low_s16(wl));
        let acc = vmlal_high_s16(acc, xl, wl);
        let acc = vmlal_s16(acc, vget_low_s16(xh), vget_low_s16(wh));
        vmlal_high_s16(acc, xh, wh)
    }
}

/// `a[0..8] += p` with the 8 i16 lanes of `p` widened to i32.
///
/// # Safety
/// `a` points to 8 writable i32.
#[inline(always)]
unsafe fn add_widened(a: *mut i32, p: int16x8_t) {
    // SAFETY: caller's contract (8 i32 at `a`).
    unsafe {
        vst1q_s32(a, vaddw_s16(vld1q_s32(a), vget_low_s16(p)));
        vst1q_s32(a.add(4), vaddw_high_s16(vld1q_s32(a.add(4)), p));
    }
}

impl Lanes for Neon {
    #[inline(always)]
    fn dot_i8(self, x: &[i8], zp: i32, w: &[i8]) -> i32 {
        let len = x.len().min(w.len());
        let body = len - len % 16;
        // SAFETY: NEON is baseline; each load reads bytes `i..i + 16` with
        // `i + 16 <= body <= len` of both slices.
        let acc = unsafe {
            let zpv = vdupq_n_s16(zp as i16);
            let mut acc = vdupq_n_s32(0);
            let mut i = 0;
            while i < body {
                let (xl, xh) = load16_minus(x.as_ptr().add(i), zpv);
                acc = mac16(acc, xl, xh, w.as_ptr().add(i));
                i += 16;
            }
            vaddvq_s32(acc)
        };
        acc.wrapping_add(Portable.dot_i8(&x[body..len], zp, &w[body..len]))
    }

    #[inline(always)]
    fn dot4_i8(self, x: &[i8], zp: i32, w: [&[i8]; 4]) -> [i32; 4] {
        let len = w.iter().fold(x.len(), |l, r| l.min(r.len()));
        let body = len - len % 16;
        // SAFETY: NEON is baseline; each load reads bytes `i..i + 16` with
        // `i + 16 <= body <= len` of `x` and of every row.
        let acc = unsafe {
            let zpv = vdupq_n_s16(zp as i16);
            let mut acc = [vdupq_n_s32(0); 4];
            let mut i = 0;
            while i < body {
                let (xl, xh) = load16_minus(x.as_ptr().add(i), zpv);
                for (a, r) in acc.iter_mut().zip(&w) {
                    *a = mac16(*a, xl, xh, r.as_ptr().add(i));
                }
                i += 16;
            }
            acc.map(|a| vaddvq_s32(a))
        };
        let mut out = [0; 4];
        for r in 0..4 {
            out[r] = acc[r].wrapping_add(Portable.dot_i8(&x[body..len], zp, &w[r][body..len]));
        }
        out
    }

    #[inline(always)]
    fn axpy_i8(self, acc: &mut [i32], x: &[i8], zp: i32, w: i8) {
        let len = acc.len().min(x.len());
        let mut i = 0;
        // SAFETY: NEON is baseline; loads of `x` read `i..i + 16` (or `i..i + 8`) and
        // loads/stores of `acc` touch the same range, all `<= len`.
        unsafe {
            let zpv = vdupq_n_s16(zp as i16);
            let wv = i16::from(w);
            let (xp, ap) = (x.as_ptr(), acc.as_mut_ptr());
            while i + 16 <= len {
                let (xl, xh) = load16_minus(xp.add(i), zpv);
                // |x - zp| <= 255 and |w| <= 128: the i16 products are exact.
                add_widened(ap.add(i), vmulq_n_s16(xl, wv));
                add_widened(ap.add(i + 8), vmulq_n_s16(xh, wv));
                i += 16;
            }
            if i + 8 <= len {
                let xl = vsubq_s16(vmovl_s8(vld1_s8(xp.add(i))), zpv);
                add_widened(ap.add(i), vmulq_n_s16(xl, wv));
                i += 8;
            }
        }
        Portable.axpy_i8(&mut acc[i..len], &x[i..len], zp, w);
    }

    #[inline(always)]
    fn axpy4_i8(self, mut acc: [&mut [i32]; 4], x: &[i8], zp: i32, w: [i8; 4]) {
        let len = acc.iter().fold(x.len(), |l, a| l.min(a.len()));
        let mut i = 0;
        // SAFETY: NEON is baseline; loads of `x` read `i..i + 16` (or `i..i + 8`) and
        // loads/stores of each accumulator row touch the same range, all `<= len`.
        unsafe {
            let zpv = vdupq_n_s16(zp as i16);
            let ap = acc.each_mut().map(|a| a.as_mut_ptr());
            let xp = x.as_ptr();
            while i + 16 <= len {
                let (xl, xh) = load16_minus(xp.add(i), zpv);
                for (a, &w) in ap.iter().zip(&w) {
                    // |x - zp| <= 255 and |w| <= 128: the i16 products are exact.
                    add_widened(a.add(i), vmulq_n_s16(xl, i16::from(w)));
                    add_widened(a.add(i + 8), vmulq_n_s16(xh, i16::from(w)));
                }
                i += 16;
            }
            if i + 8 <= len {
                let xl = vsubq_s16(vmovl_s8(vld1_s8(xp.add(i))), zpv);
                for (a, &w) in ap.iter().zip(&w) {
                    add_widened(a.add(i), vmulq_n_s16(xl, i16::from(w)));
                }
                i += 8;
            }
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
        // SAFETY: NEON is baseline; each load reads elements `i..i + 8` with
        // `i + 8 <= body <= len` of `x` and of every row.
        let mut out = unsafe {
            // Two 4-lane halves: lanes 0..4 and 4..8 of the portable 8-lane grouping.
            let mut lo = [vdupq_n_f32(0.0); 4];
            let mut hi = [vdupq_n_f32(0.0); 4];
            let mut i = 0;
            while i < body {
                let (x0, x1) = (
                    vld1q_f32(x.as_ptr().add(i)),
                    vld1q_f32(x.as_ptr().add(i + 4)),
                );
                for r in 0..4 {
                    let p = w[r].as_ptr().add(i);
                    lo[r] = vaddq_f32(lo[r], vmulq_f32(x0, vld1q_f32(p)));
                    hi[r] = vaddq_f32(hi[r], vmulq_f32(x1, vld1q_f32(p.add(4))));
                }
                i += 8;
            }
            let mut out = [0f32; 4];
            for r in 0..4 {
                let a = vaddq_f32(lo[r], hi[r]);
                let (a0, a1, a2, a3) = (
                    vgetq_lane_f32::<0>(a),
                    vgetq_lane_f32::<1>(a),
                    vgetq_lane_f32::<2>(a),
                    vgetq_lane_f32::<3>(a),
                );
                out[r] = (a0 + a2) + (a1 + a3);
            }
            out
        };
        for (o, r) in out.iter_mut().zip(&w) {
            for (xv, wv) in x[body..len].iter().zip(&r[body..len]) {
                *o += xv * wv;
            }
        }
        out
    }

    #[inline(always)]
    fn axpy_f32(self, acc: &mut [f32], x: &[f32], w: f32) {
        let len = acc.len().min(x.len());
        let mut i = 0;
        // SAFETY: NEON is baseline; loads of `x` and loads/stores of `acc` touch
        // elements `i..i + 4` with `i + 4 <= len`.
        unsafe {
            let (xp, ap) = (x.as_ptr(), acc.as_mut_ptr());
            while i + 4 <= len {
                let p = vmulq_n_f32(vld1q_f32(xp.add(i)), w);
                vst1q_f32(ap.add(i), vaddq_f32(vld1q_f32(ap.add(i)), p));
                i += 4;
            }
        }
        Portable.axpy_f32(&mut acc[i..len], &x[i..len], w);
    }
}
