//! Portable primitives: plain loops over 16-lane arrays, written so that LLVM can
//! vectorize them where the target has vectors (x86-64 SSE2, wasm without
//! `simd128` is scalar). Every target has them; they are also the fallback.
//!
//! f32 multiply-add is a multiply then an add (two roundings, as Rust computes
//! `a * b + c`). int8: `a(quad)` sign-extends the 4 input bytes; the products and
//! sums are plain wrapping i32 arithmetic.

#![allow(unsafe_code)]

use core::ptr;

use super::frame::geom::{mbqm_lane, shifts};
use super::frame::{engine_kernels, F32Lanes, I32Lanes, I8Dot};
use super::types::{Isa, NR};

/// The portable primitives (always available).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

impl Portable {
    #[inline]
    fn new() -> Option<Self> {
        Some(Portable)
    }
}

engine_kernels! {
    kernels: KERNELS, isa: Isa::Portable, features: [],
    f32: (Portable, Portable::new(), 4, 2, "f32_igemm_4x16_portable"),
    f32_dw: "f32_dwconv_16c_portable",
    f16: ("f16_igemm_4x16_portable", "f16_dwconv_16c_portable", "f16_gemv_16x4_portable"),
    i8: (Portable, Portable::new(), 2, 1, "i8_igemm_2x16c4_portable"),
    i8_dw: (Portable, Portable::new(), "i8_dwconv_16c_portable"),
}

#[inline(always)]
fn map2<T: Copy>(a: [T; NR], b: [T; NR], f: impl Fn(T, T) -> T) -> [T; NR] {
    let mut o = a;
    for i in 0..NR {
        o[i] = f(a[i], b[i]);
    }
    o
}

impl F32Lanes for Portable {
    type V = [f32; NR];

    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        [x; NR]
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract (16 readable f32, any alignment).
        unsafe { ptr::read_unaligned(p.cast()) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        // SAFETY: caller's contract (16 writable f32, any alignment).
        unsafe { ptr::write_unaligned(p.cast(), v) }
    }

    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        let mut o = c;
        for i in 0..NR {
            o[i] = c[i] + a[i] * b[i];
        }
        o
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        map2(a, b, |a, b| a + b)
    }

    #[inline(always)]
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V {
        let mut o = v;
        for i in 0..NR {
            o[i] = if v[i] < lo[i] {
                lo[i]
            } else if v[i] > hi[i] {
                hi[i]
            } else {
                v[i]
            };
        }
        o
    }
}

/// Prepared `(multiplier, left shift, right shift)` per lane.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rq {
    m: [i32; NR],
    l: [u32; NR],
    e: [u32; NR],
}

impl I32Lanes for Portable {
    type V = [i32; NR];
    type W = [i32; NR];
    type Rq = Rq;

    #[inline(always)]
    fn splat(self, x: i32) -> Self::V {
        [x; NR]
    }

    #[inline(always)]
    unsafe fn load(self, p: *const u8) -> Self::V {
        // SAFETY: caller's contract (64 readable bytes).
        let b: [u8; 4 * NR] = unsafe { ptr::read_unaligned(p.cast()) };
        core::array::from_fn(|i| {
            i32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        })
    }

    #[inline(always)]
    unsafe fn load_i8(self, p: *const i8) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes).
        let b: [i8; NR] = unsafe { ptr::read_unaligned(p.cast()) };
        b.map(i32::from)
    }

    #[inline(always)]
    unsafe fn store_i8(self, p: *mut i8, v: Self::V) {
        let b = v.map(|v| v.clamp(-128, 127) as i8);
        // SAFETY: caller's contract (16 writable bytes).
        unsafe { ptr::write_unaligned(p.cast(), b) }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        map2(a, b, i32::wrapping_add)
    }

    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        map2(a, b, i32::wrapping_sub)
    }

    #[inline(always)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        map2(a, b, i32::max)
    }

    #[inline(always)]
    fn min(self, a: Self::V, b: Self::V) -> Self::V {
        map2(a, b, i32::min)
    }

    #[inline(always)]
    fn shl(self, v: Self::V, n: u32) -> Self::V {
        v.map(|v| v.wrapping_shl(n))
    }

    #[inline(always)]
    unsafe fn load_w(self, p: *const i8) -> Self::W {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe { self.load_i8(p) }
    }

    #[inline(always)]
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes).
        let xv = unsafe { self.load_i8(x) };
        let mut o = acc;
        for i in 0..NR {
            o[i] = acc[i].wrapping_add((xv[i] - zp[i]).wrapping_mul(w[i]));
        }
        o
    }

    #[inline(always)]
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Rq {
        Rq {
            m: multiplier,
            l: shift.map(|s| shifts(s).0),
            e: shift.map(|s| shifts(s).1),
        }
    }

    #[inline(always)]
    fn mbqm(self, v: Self::V, rq: &Rq) -> Self::V {
        let mut o = v;
        for i in 0..NR {
            o[i] = mbqm_lane(v[i], rq.m[i], rq.l[i], rq.e[i]);
        }
        o
    }
}

impl I8Dot for Portable {
    const U8_INPUT: bool = false;
    type Acc = [i32; NR];
    type A = [i32; 4];
    type B = [i8; 4 * NR];

    #[inline(always)]
    fn zero(self) -> Self::Acc {
        [0; NR]
    }

    #[inline(always)]
    fn a(self, quad: u32) -> Self::A {
        quad.to_le_bytes().map(|b| i32::from(b as i8))
    }

    #[inline(always)]
    unsafe fn b(self, p: *const i8) -> Self::B {
        // SAFETY: caller's contract (64 readable bytes).
        unsafe { ptr::read_unaligned(p.cast()) }
    }

    #[inline(always)]
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc {
        let mut o = acc;
        for ch in 0..NR {
            let mut s = 0i32;
            for j in 0..4 {
                s = s.wrapping_add(a[j] * i32::from(b[4 * ch + j]));
            }
            o[ch] = o[ch].wrapping_add(s);
        }
        o
    }

    #[inline(always)]
    fn finish(self, acc: Self::Acc) -> Self::V {
        acc
    }
}
