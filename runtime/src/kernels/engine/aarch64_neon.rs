//! AArch64 NEON primitives (NEON is baseline on AArch64), and the dot-product
//! extension for the int8 conv (`NeonDot`: run-time `is_aarch64_feature_detected!`
//! under `std`, else `cfg(target_feature = "dotprod")`).
//!
//! f32: four 4-lane registers per 16 lanes, `fmla`. int8 conv: without dotprod,
//! `smull` (exact i16 products, |x·w| <= 2^14) and `sadalp` (pairs added into i32),
//! which leaves two partial sums per channel that `finish` adds with `addp`; with
//! dotprod one `sdot` per 4 channels (written with `asm!`: the `vdotq_s32` intrinsic
//! is not stable). Requantization: `sqrdmulh` is gemmlowp's doubling high multiply
//! (saturation included) and `srshl` with gemmlowp's fix-up for negative values is
//! its rounding right shift (TFLite's NEON kernels use the same pair).
#![allow(unsafe_code)]

use core::arch::aarch64::*;
use core::arch::asm;

use super::frame::{engine_kernels, F32Lanes, I32Lanes, I8Dot};
use super::types::{Isa, Kernels};

/// Proof that the CPU has NEON, plus the dot-product extension when `DOT`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon<const DOT: bool>(());

/// The NEON token.
pub(crate) type NeonBase = Neon<false>;
/// The NEON + dotprod token.
pub(crate) type NeonDot = Neon<true>;

impl<const DOT: bool> Neon<DOT> {
    /// The token, if this CPU has the features.
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        let neon = cfg!(target_feature = "neon");
        #[cfg(feature = "std")]
        let dot = std::arch::is_aarch64_feature_detected!("dotprod");
        #[cfg(not(feature = "std"))]
        let dot = cfg!(target_feature = "dotprod");
        (neon && (!DOT || dot)).then_some(Neon(()))
    }
}

engine_kernels! {
    kernels: KERNELS, isa: Isa::Neon, features: [],
    f32: (NeonBase, NeonBase::new(), 6, 3, "f32_igemm_6x16_neon"),
    f32_dw: "f32_dwconv_16c_neon",
    f16: ("f16_igemm_6x16_neon", "f16_dwconv_16c_neon", "f16_gemv_16x4_neon"),
    i8: (NeonBase, NeonBase::new(), 2, 1, "i8_igemm_2x16c4_neon"),
    i8_dw: (NeonBase, NeonBase::new(), "i8_dwconv_16c_neon"),
}

/// The dotprod int8 conv (its table's other kernels are the parent module's).
mod dot {
    use crate::kernels::engine::aarch64_neon::NeonDot;
    use crate::kernels::engine::frame::engine_kernels;
    use crate::kernels::engine::types::Isa;

    engine_kernels! {
        kernels: KERNELS, isa: Isa::NeonDot, features: ["neon,dotprod"],
        f32: (NeonDot, NeonDot::new(), 6, 3, "f32_igemm_6x16_neon"),
        f32_dw: "f32_dwconv_16c_neon",
        f16: ("f16_igemm_6x16_neon", "f16_dwconv_16c_neon", "f16_gemv_16x4_neon"),
        i8: (NeonDot, NeonDot::new(), 4, 2, "i8_igemm_4x16c4_neondot"),
        i8_dw: (NeonDot, NeonDot::new(), "i8_dwconv_16c_neon"),
    }
}

/// [`Isa::NeonDot`]: the `sdot` int8 conv, the other kernels of [`KERNELS`].
pub(crate) const KERNELS_DOT: Kernels = Kernels {
    isa: Isa::NeonDot,
    i8_conv: dot::KERNELS.i8_conv,
    ..KERNELS
};

impl<const DOT: bool> F32Lanes for Neon<DOT> {
    type V = [float32x4_t; 4];

    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe { [vdupq_n_f32(x); 4] }
    }

    #[inline(always)]
    unsafe fn load_f16(self, p: *const u16) -> Self::V {
        // SAFETY: caller's contract (16 readable u16); `fcvtl` is exact.
        unsafe {
            let (a, b) = fcvtl(vld1q_u16(p));
            let (c, d) = fcvtl(vld1q_u16(p.add(8)));
            [a, b, c, d]
        }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract (16 readable f32).
        unsafe {
            [
                vld1q_f32(p),
                vld1q_f32(p.add(4)),
                vld1q_f32(p.add(8)),
                vld1q_f32(p.add(12)),
            ]
        }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        // SAFETY: caller's contract (16 writable f32).
        unsafe {
            vst1q_f32(p, v[0]);
            vst1q_f32(p.add(4), v[1]);
            vst1q_f32(p.add(8), v[2]);
            vst1q_f32(p.add(12), v[3]);
        }
    }

    #[inline(always)]
    unsafe fn bcast(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract (`p` readable).
        unsafe { [vld1q_dup_f32(p); 4] }
    }

    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                vfmaq_f32(c[0], a[0], b[0]),
                vfmaq_f32(c[1], a[1], b[1]),
                vfmaq_f32(c[2], a[2], b[2]),
                vfmaq_f32(c[3], a[3], b[3]),
            ]
        }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                vaddq_f32(a[0], b[0]),
                vaddq_f32(a[1], b[1]),
                vaddq_f32(a[2], b[2]),
                vaddq_f32(a[3], b[3]),
            ]
        }
    }

    #[inline(always)]
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V {
        // Compare and select, as the reference: `fmax`/`fmin` would turn −0 into +0
        // against a bound of 0.
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                clamp4(v[0], lo[0], hi[0]),
                clamp4(v[1], lo[1], hi[1]),
                clamp4(v[2], lo[2], hi[2]),
                clamp4(v[3], lo[3], hi[3]),
            ]
        }
    }
}

/// `v < lo ? lo : v > hi ? hi : v` per lane.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn clamp4(v: float32x4_t, lo: float32x4_t, hi: float32x4_t) -> float32x4_t {
    // SAFETY: NEON (caller's contract); register-only operations.
    unsafe {
        let v = vbslq_f32(vcltq_f32(v, lo), lo, v);
        vbslq_f32(vcgtq_f32(v, hi), hi, v)
    }
}

/// Prepared per-lane requantization: multiplier, left shift, minus the right shift.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rq {
    m: [int32x4_t; 4],
    l: [int32x4_t; 4],
    neg_e: [int32x4_t; 4],
}

/// `MultiplyByQuantizedMultiplier` of 4 lanes.
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn mbqm4(v: int32x4_t, m: int32x4_t, l: int32x4_t, neg_e: int32x4_t) -> int32x4_t {
    // SAFETY: NEON (caller's contract); register-only operations.
    unsafe {
        let q = vqrdmulhq_s32(vshlq_s32(v, l), m);
        // Rounding right shift, ties away from zero: `srshl` rounds ties up, so
        // negative values are moved down by one first (saturating at i32::MIN,
        // which does not change the result).
        let fixup = vshrq_n_s32::<31>(vandq_s32(q, neg_e));
        vrshlq_s32(vqaddq_s32(q, fixup), neg_e)
    }
}

impl<const DOT: bool> I32Lanes for Neon<DOT> {
    type V = [int32x4_t; 4];
    /// 16 weights as i16.
    type W = [int16x8_t; 2];
    type Rq = Rq;

    #[inline(always)]
    fn splat(self, x: i32) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe { [vdupq_n_s32(x); 4] }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const u8) -> Self::V {
        // Byte loads: `p` may have any alignment.
        // SAFETY: caller's contract (64 readable bytes).
        unsafe {
            [
                vreinterpretq_s32_u8(vld1q_u8(p)),
                vreinterpretq_s32_u8(vld1q_u8(p.add(16))),
                vreinterpretq_s32_u8(vld1q_u8(p.add(32))),
                vreinterpretq_s32_u8(vld1q_u8(p.add(48))),
            ]
        }
    }

    #[inline(always)]
    unsafe fn load_i8(self, p: *const i8) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe {
            let v = vld1q_s8(p);
            let (lo, hi) = (vmovl_s8(vget_low_s8(v)), vmovl_high_s8(v));
            [
                vmovl_s16(vget_low_s16(lo)),
                vmovl_high_s16(lo),
                vmovl_s16(vget_low_s16(hi)),
                vmovl_high_s16(hi),
            ]
        }
    }

    #[inline(always)]
    unsafe fn store_i8(self, p: *mut i8, v: Self::V) {
        // SAFETY: caller's contract (16 writable bytes); `sqxtn` saturates.
        unsafe {
            let a = vqmovn_high_s32(vqmovn_s32(v[0]), v[1]);
            let b = vqmovn_high_s32(vqmovn_s32(v[2]), v[3]);
            vst1q_s8(p, vqmovn_high_s16(vqmovn_s16(a), b));
        }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                vaddq_s32(a[0], b[0]),
                vaddq_s32(a[1], b[1]),
                vaddq_s32(a[2], b[2]),
                vaddq_s32(a[3], b[3]),
            ]
        }
    }

    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                vsubq_s32(a[0], b[0]),
                vsubq_s32(a[1], b[1]),
                vsubq_s32(a[2], b[2]),
                vsubq_s32(a[3], b[3]),
            ]
        }
    }

    #[inline(always)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                vmaxq_s32(a[0], b[0]),
                vmaxq_s32(a[1], b[1]),
                vmaxq_s32(a[2], b[2]),
                vmaxq_s32(a[3], b[3]),
            ]
        }
    }

    #[inline(always)]
    fn min(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                vminq_s32(a[0], b[0]),
                vminq_s32(a[1], b[1]),
                vminq_s32(a[2], b[2]),
                vminq_s32(a[3], b[3]),
            ]
        }
    }

    #[inline(always)]
    fn shl(self, v: Self::V, n: u32) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            let n = vdupq_n_s32(n as i32);
            [
                vshlq_s32(v[0], n),
                vshlq_s32(v[1], n),
                vshlq_s32(v[2], n),
                vshlq_s32(v[3], n),
            ]
        }
    }

    #[inline(always)]
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Rq {
        // SAFETY: `self` proves NEON.
        unsafe {
            let (lo, hi, zero) = (vdupq_n_s32(-31), vdupq_n_s32(31), vdupq_n_s32(0));
            let s = [
                vminq_s32(vmaxq_s32(shift[0], lo), hi),
                vminq_s32(vmaxq_s32(shift[1], lo), hi),
                vminq_s32(vmaxq_s32(shift[2], lo), hi),
                vminq_s32(vmaxq_s32(shift[3], lo), hi),
            ];
            Rq {
                m: multiplier,
                l: [
                    vmaxq_s32(s[0], zero),
                    vmaxq_s32(s[1], zero),
                    vmaxq_s32(s[2], zero),
                    vmaxq_s32(s[3], zero),
                ],
                neg_e: [
                    vminq_s32(s[0], zero),
                    vminq_s32(s[1], zero),
                    vminq_s32(s[2], zero),
                    vminq_s32(s[3], zero),
                ],
            }
        }
    }

    #[inline(always)]
    fn mbqm(self, v: Self::V, rq: &Rq) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                mbqm4(v[0], rq.m[0], rq.l[0], rq.neg_e[0]),
                mbqm4(v[1], rq.m[1], rq.l[1], rq.neg_e[1]),
                mbqm4(v[2], rq.m[2], rq.l[2], rq.neg_e[2]),
                mbqm4(v[3], rq.m[3], rq.l[3], rq.neg_e[3]),
            ]
        }
    }

    #[inline(always)]
    unsafe fn load_w(self, p: *const i8) -> Self::W {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe {
            let w = vld1q_s8(p);
            [vmovl_s8(vget_low_s8(w)), vmovl_high_s8(w)]
        }
    }

    #[inline(always)]
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes at `x`).
        unsafe {
            // |x − zp| <= 255 fits i16; `smlal` multiplies into i32 exactly.
            let zp16 = vqmovn_high_s32(vqmovn_s32(zp[0]), zp[0]);
            let xv = vld1q_s8(x);
            let xl = vsubq_s16(vmovl_s8(vget_low_s8(xv)), zp16);
            let xh = vsubq_s16(vmovl_high_s8(xv), zp16);
            [
                vmlal_s16(acc[0], vget_low_s16(xl), vget_low_s16(w[0])),
                vmlal_high_s16(acc[1], xl, w[0]),
                vmlal_s16(acc[2], vget_low_s16(xh), vget_low_s16(w[1])),
                vmlal_high_s16(acc[3], xh, w[1]),
            ]
        }
    }
}

impl I8Dot for Neon<false> {
    const U8_INPUT: bool = false;
    /// Per pair of channels, `(k0·x0 + k1·x1, k2·x2 + k3·x3)` of each.
    type Acc = [int32x4_t; 8];
    /// The 4 input bytes in every 32-bit lane.
    type A = int8x16_t;
    type B = [int8x16_t; 4];

    #[inline(always)]
    fn zero(self) -> Self::Acc {
        // SAFETY: `self` proves NEON.
        unsafe { [vdupq_n_s32(0); 8] }
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        // SAFETY: `self` proves NEON.
        unsafe { vreinterpretq_s8_u32(vdupq_n_u32(quad)) }
    }

    #[inline(always)]
    unsafe fn b(self, p: *const i8) -> Self::B {
        // SAFETY: caller's contract (64 readable bytes).
        unsafe {
            [
                vld1q_s8(p),
                vld1q_s8(p.add(16)),
                vld1q_s8(p.add(32)),
                vld1q_s8(p.add(48)),
            ]
        }
    }

    #[inline(always)]
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc {
        // SAFETY: `self` proves NEON.
        unsafe {
            let al = vget_low_s8(a);
            let mut o = acc;
            for j in 0..4 {
                // i8 × i8 products are exact in i16 (|x·w| <= 2^14).
                o[2 * j] = vpadalq_s16(o[2 * j], vmull_s8(vget_low_s8(b[j]), al));
                o[2 * j + 1] = vpadalq_s16(o[2 * j + 1], vmull_high_s8(b[j], a));
            }
            o
        }
    }

    #[inline(always)]
    fn finish(self, acc: Self::Acc) -> Self::V {
        // SAFETY: `self` proves NEON.
        unsafe {
            [
                vpaddq_s32(acc[0], acc[1]),
                vpaddq_s32(acc[2], acc[3]),
                vpaddq_s32(acc[4], acc[5]),
                vpaddq_s32(acc[6], acc[7]),
            ]
        }
    }
}

/// The 8 f16 values (bits) of `h` as f32: `fcvtl` and `fcvtl2` (base Armv8 SIMD; the
/// intrinsics take `float16x4_t`, an unstable type, hence `asm!`).
///
/// # Safety
/// NEON.
#[inline(always)]
unsafe fn fcvtl(h: uint16x8_t) -> (float32x4_t, float32x4_t) {
    let (lo, hi): (float32x4_t, float32x4_t);
    // SAFETY: caller's contract; register-only instructions.
    unsafe {
        asm!(
            "fcvtl {lo:v}.4s, {h:v}.4h",
            "fcvtl2 {hi:v}.4s, {h:v}.8h",
            h = in(vreg) h,
            lo = out(vreg) lo,
            hi = out(vreg) hi,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    (lo, hi)
}

/// `acc + sdot(b, a)`: per 32-bit lane, the dot product of 4 bytes of `b` and `a`.
///
/// # Safety
/// The CPU has the dot-product extension.
///
/// At opt-level 0, where the frame's tile helpers are not inlined into the
/// `dotprod` entry (see `frame`), a function of its own with the feature (the
/// assembler needs it for `sdot`).
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
#[cfg_attr(ferrite_unoptimized, target_feature(enable = "dotprod"))]
unsafe fn sdot(acc: int32x4_t, b: int8x16_t, a: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: caller's contract; register-only instruction.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {b:v}.16b, {a:v}.16b",
            acc = inout(vreg) acc,
            b = in(vreg) b,
            a = in(vreg) a,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    acc
}

impl I8Dot for Neon<true> {
    const U8_INPUT: bool = false;
    type Acc = [int32x4_t; 4];
    /// The 4 input bytes in every 32-bit lane.
    type A = int8x16_t;
    type B = [int8x16_t; 4];

    #[inline(always)]
    fn zero(self) -> Self::Acc {
        // SAFETY: `self` proves NEON.
        unsafe { [vdupq_n_s32(0); 4] }
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        // SAFETY: `self` proves NEON.
        unsafe { vreinterpretq_s8_u32(vdupq_n_u32(quad)) }
    }

    #[inline(always)]
    unsafe fn b(self, p: *const i8) -> Self::B {
        // SAFETY: caller's contract (64 readable bytes).
        unsafe {
            [
                vld1q_s8(p),
                vld1q_s8(p.add(16)),
                vld1q_s8(p.add(32)),
                vld1q_s8(p.add(48)),
            ]
        }
    }

    #[inline(always)]
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc {
        // SAFETY: `self` proves the dot-product extension.
        unsafe {
            [
                sdot(acc[0], b[0], a),
                sdot(acc[1], b[1], a),
                sdot(acc[2], b[2], a),
                sdot(acc[3], b[3], a),
            ]
        }
    }

    #[inline(always)]
    fn finish(self, acc: Self::Acc) -> Self::V {
        acc
    }
}
