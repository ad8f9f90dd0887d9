//! x86-64 AVX-512 primitives: F, BW and VL (Skylake-SP and later, Zen 4), and VNNI
//! (Cascade Lake, Ice Lake and later, Zen 4) for the int8 conv. Selected at run time
//! with `is_x86_feature_detected!` under `std`, else at compile time.
//!
//! f32: one register per 16 lanes, `vfmadd231ps`; the conv tile is 8 pixels × two
//! 16-channel panels (`F32Lanes::PANEL_PAIRS`), 16 of the 32 registers as
//! accumulators; tails with masked loads and stores. int8 conv: with VNNI
//! (`Avx512<true>`) one `vpdpbusd` per pixel and group of 4 channels, the input
//! bytes flipped to `x + 128` (`U8_INPUT`, the packed `bias_u8` row), 8 pixels × two
//! 16-channel panels per tile (`I8Dot::PANEL_PAIRS`: each broadcast input quad feeds
//! two `vpdpbusd`); without it (`Avx512<false>`) widening to i16 and `vpmaddwd` as in
//! the AVX2 module, one panel. Requantization in one rounding step per lane
//! ([`I32Lanes::mbqm`]) on 16 lanes, with mask registers.
//!
//! The AVX-512 intrinsics and target features are stable since Rust 1.89, above the
//! workspace's declared `rust-version` (1.85): this module needs 1.89.
#![allow(unsafe_code)]
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::frame::{engine_kernels, F32Lanes, I32Lanes};
use super::types::{Isa, Kernels};

mod conv16;
mod dot;
pub(crate) mod dw;
mod rqu;
pub(crate) mod stem;
pub(crate) mod stem_quant;
pub(crate) mod stem_row1;
pub(crate) mod stem_rows;
mod stem_store;

/// Proof that the CPU has AVX-512 F, BW, VL (and AVX2, FMA), plus VNNI when `VNNI`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512<const VNNI: bool>(());

/// The AVX-512 token without VNNI.
pub(crate) type Avx512Bw = Avx512<false>;
/// The AVX-512 token with VNNI.
pub(crate) type Vnni = Avx512<true>;

impl<const VNNI: bool> Avx512<VNNI> {
    /// The token, if this CPU has the features.
    #[inline]
    pub(crate) fn new() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && (!VNNI || std::is_x86_feature_detected!("avx512vnni"));
        #[cfg(not(feature = "std"))]
        let ok = cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vl",
            target_feature = "avx2",
            target_feature = "fma"
        )) && (!VNNI || cfg!(target_feature = "avx512vnni"));
        ok.then_some(Avx512(()))
    }
}

engine_kernels! {
    kernels: KERNELS, isa: Isa::Avx512, features: ["avx512f,avx512bw,avx512vl,avx2,fma"],
    f32: (Avx512Bw, Avx512Bw::new(), 8, 4, "f32_igemm_8x32_avx512"),
    f32_dw: "f32_dwconv_16c_avx512",
    f16: ("f16_igemm_8x32_avx512", "f16_dwconv_16c_avx512", "f16_gemv_16x4_avx512"),
    i8: (Avx512Bw, Avx512Bw::new(), 4, 2, "i8_igemm_4x16c4_avx512bw"),
    i8_dw: (Avx512Bw, Avx512Bw::new(), "i8_dwconv_16c_avx512"),
}

/// The VNNI int8 kernels (its table's f32 kernels are the parent module's).
mod vnni {
    use crate::kernels::engine::frame::engine_kernels;
    use crate::kernels::engine::types::Isa;
    use crate::kernels::engine::x86_avx512::Vnni;

    engine_kernels! {
        kernels: KERNELS, isa: Isa::Avx512Vnni,
        features: ["avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma"],
        f32: (Vnni, Vnni::new(), 8, 4, "f32_igemm_8x32_avx512"),
        f32_dw: "f32_dwconv_16c_avx512",
        f16: ("f16_igemm_8x32_avx512", "f16_dwconv_16c_avx512", "f16_gemv_16x4_avx512"),
        i8: (Vnni, Vnni::new(), 8, 4, "i8_igemm_8x32c4_avx512vnni"),
        i8_dw: (Vnni, Vnni::new(), "i8_dwconv_16c_avx512vnni"),
    }
}

/// [`Isa::Avx512Vnni`]: the VNNI int8 conv and depthwise, the f32 kernels of [`KERNELS`].
pub(crate) const KERNELS_VNNI: Kernels = Kernels {
    isa: Isa::Avx512Vnni,
    i8_conv: vnni::KERNELS.i8_conv,
    i8_dwconv: vnni::KERNELS.i8_dwconv,
    ..KERNELS
};

/// Whether this CPU has AVX-512 VBMI (`vpermb`, `vpermt2b`: Ice Lake and later, Zen 4;
/// not Cascade Lake), besides an AVX-512 token (the depthwise, stem and pool kernels).
pub(super) fn vbmi() -> bool {
    #[cfg(feature = "std")]
    let ok = std::is_x86_feature_detected!("avx512vbmi");
    #[cfg(not(feature = "std"))]
    let ok = cfg!(target_feature = "avx512vbmi");
    ok
}

/// The mask of lanes `0..n`.
#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    ((1u32 << n.min(16)) - 1) as __mmask16
}

/// The mask of the first `min(n, 64)` bytes.
#[inline(always)]
pub(super) fn bytes64(n: usize) -> __mmask64 {
    if n >= 64 {
        !0
    } else {
        (1u64 << n) - 1
    }
}

/// Copies the `n` bytes at `src` to `dst`, each XORed with the same byte of `flip`,
/// 64 bytes at a time (the int8 kernels' stack bands: `i8::MIN` turns int8 into the
/// `vpdpbusd` u8 operand, 0 copies as it is).
///
/// # Safety
/// AVX-512 F/BW; `src` is readable and `dst` writable for `n` bytes.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn copy_xor(src: *const i8, dst: *mut u8, n: usize, flip: __m512i) {
    let mut i = 0;
    while i < n {
        let k = bytes64(n - i);
        // SAFETY: caller's contract; the mask keeps both inside `n` bytes.
        unsafe {
            let v = _mm512_maskz_loadu_epi8(k, src.add(i));
            _mm512_mask_storeu_epi8(dst.add(i).cast(), k, _mm512_xor_si512(v, flip));
        }
        i += 64;
    }
}

impl<const VNNI: bool> F32Lanes for Avx512<VNNI> {
    type V = __m512;
    const PANEL_PAIRS: bool = true;

    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_set1_ps(x) }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract (16 readable f32; unaligned load).
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        // SAFETY: caller's contract (16 writable f32; unaligned store).
        unsafe { _mm512_storeu_ps(p, v) }
    }

    #[inline(always)]
    unsafe fn load_f16(self, p: *const u16) -> Self::V {
        // SAFETY: caller's contract (16 readable u16; unaligned load); `vcvtph2ps`
        // is exact.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }

    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_add_ps(a, b) }
    }

    #[inline(always)]
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V {
        // As in the AVX2 module: the bound first, so a NaN `v` comes out unchanged.
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_min_ps(hi, _mm512_max_ps(lo, v)) }
    }

    #[inline(always)]
    unsafe fn load_partial(self, p: *const f32, n: usize) -> Self::V {
        // SAFETY: caller's contract (`n` readable f32); masked-off lanes are not read.
        unsafe { _mm512_maskz_loadu_ps(mask16(n), p) }
    }

    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: caller's contract (`n` writable f32); masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, mask16(n), v) }
    }
}

/// Prepared per-lane requantization: the double rounding of
/// `MultiplyByQuantizedMultiplier` folded into one 64-bit add and one arithmetic
/// shift per lane (see [`mbqm`](I32Lanes::mbqm)), with the constants of the even and
/// odd channels in 64-bit lanes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rq {
    /// The multipliers (even channels in the low halves of the 64-bit lanes) and the
    /// odd channels' moved down.
    m: __m512i,
    m_odd: __m512i,
    /// Left shifts `clamp(shift, 0, 31)`; `shl` is false when every one is 0.
    l: __m512i,
    shl: bool,
    /// Per 64-bit lane, even then odd channels: `2^30 + h·2^31` with
    /// `h = 2^(e−1)` (0 when `e = 0`), `2^31` when `e > 0` (else 0), `31 + e`.
    c: [__m512i; 2],
    neg: [__m512i; 2],
    sh: [__m512i; 2],
    /// Some multiplier is `i32::MIN` (only then can the doubling high multiply
    /// saturate): the two-step form below is used.
    sat: bool,
    /// The two-step form's constants: right shifts, their masks and half masks.
    e: __m512i,
    mask: __m512i,
    half: __m512i,
    /// [`I32Lanes::mbqm_zp`]'s shorter form applies (see [`FAST_E`]): per 64-bit
    /// lane, even then odd channels, `c + zp·2^(31 + e)`, and `e − 1` per lane.
    fast: bool,
    cz: [__m512i; 2],
    e1: __m512i,
}

/// The right shifts `e` and output zero points `zp` of the short form of
/// [`I32Lanes::mbqm_zp`]: `e` in `1..=FAST_E.1`, `|zp| <= FAST_ZP` in every lane (and
/// no multiplier `i32::MIN`). Then `|X| <= 2^62` and the constant
/// `|c + zp·2^(31 + e)| < 2^61`, so the 64-bit sum cannot overflow, and the result
/// `|mbqm| <= 2^30` plus `zp` cannot wrap.
const FAST_E: (i32, i32) = (1, 22);
const FAST_ZP: i32 = 255;

impl<const VNNI: bool> I32Lanes for Avx512<VNNI> {
    type V = __m512i;
    /// 16 weights in the low halves of i32 lanes, zero high halves: `vpmaddwd` of
    /// sign-extended inputs by them is one exact product per lane.
    type W = __m512i;
    type Rq = Rq;

    #[inline(always)]
    fn splat(self, x: i32) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_set1_epi32(x) }
    }

    #[inline(always)]
    unsafe fn load(self, p: *const u8) -> Self::V {
        // SAFETY: caller's contract (64 readable bytes; unaligned load).
        unsafe { _mm512_loadu_si512(p.cast()) }
    }

    #[inline(always)]
    unsafe fn load_i8(self, p: *const i8) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe { _mm512_cvtepi8_epi32(_mm_loadu_si128(p.cast())) }
    }

    #[inline(always)]
    unsafe fn load_i16(self, p: *const u8) -> Self::V {
        // SAFETY: caller's contract (32 readable bytes).
        unsafe { _mm512_cvtepi16_epi32(_mm256_loadu_si256(p.cast())) }
    }

    #[inline(always)]
    unsafe fn load_i8_partial(self, p: *const i8, n: usize) -> Self::V {
        // SAFETY: caller's contract (`n` readable bytes); masked-off bytes are not read.
        unsafe { _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask16(n), p)) }
    }

    #[inline(always)]
    unsafe fn store_i8(self, p: *mut i8, v: Self::V) {
        // SAFETY: caller's contract (16 writable bytes); `vpmovsdb` saturates.
        unsafe { _mm_storeu_si128(p.cast(), _mm512_cvtsepi32_epi8(v)) }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn store_i8_clamp(self, p: *mut i8, v: Self::V, _: [Self::V; 2], b: [Self::V; 2]) {
        // Narrowed first, clamped as 16 bytes (xmm: half the work of two zmm ops).
        // SAFETY: caller's contract (16 writable bytes); `self` proves AVX-512BW.
        unsafe {
            let q = _mm512_cvtsepi32_epi8(v);
            let (lo, hi) = (_mm512_castsi512_si128(b[0]), _mm512_castsi512_si128(b[1]));
            _mm_storeu_si128(p.cast(), _mm_min_epi8(_mm_max_epi8(q, lo), hi));
        }
    }

    #[inline(always)]
    unsafe fn store_i8_partial(self, p: *mut i8, v: Self::V, n: usize) {
        // SAFETY: caller's contract (`n` writable bytes); masked-off bytes are not written.
        unsafe { _mm512_mask_cvtsepi32_storeu_epi8(p, mask16(n), v) }
    }

    /// Two `vpackssdw`, one `vpacksswb` (saturating: the same as `vpmovsdb`) and one
    /// `vpermd` back to row order narrow the four rows into one zmm, clamped as
    /// bytes, one store: 6 instructions instead of four `vpmovsdb` (two each) and
    /// eight xmm clamps.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn store_i8x4_clamp(
        self,
        y: *mut i8,
        v: [Self::V; 4],
        _: [Self::V; 2],
        b: [Self::V; 2],
    ) {
        // SAFETY: caller's contract (64 writable bytes); `self` proves AVX-512BW.
        unsafe {
            // Per 128-bit lane `l`: the dwords of lanes 4l..4l + 4 of v[0], .., v[3].
            let w = _mm512_packs_epi16(
                _mm512_packs_epi32(v[0], v[1]),
                _mm512_packs_epi32(v[2], v[3]),
            );
            let idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
            let q = _mm512_permutexvar_epi32(idx, w);
            _mm512_storeu_si512(y.cast(), _mm512_min_epi8(_mm512_max_epi8(q, b[0]), b[1]));
        }
    }

    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_add_epi32(a, b) }
    }

    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_sub_epi32(a, b) }
    }

    #[inline(always)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_max_epi32(a, b) }
    }

    #[inline(always)]
    fn min(self, a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_min_epi32(a, b) }
    }

    #[inline(always)]
    fn shl(self, v: Self::V, n: u32) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe { _mm512_sll_epi32(v, _mm_cvtsi32_si128(n as i32)) }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Rq {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let (zero, one) = (_mm512_setzero_si512(), _mm512_set1_epi32(1));
            let s = _mm512_min_epi32(
                _mm512_max_epi32(shift, _mm512_set1_epi32(-31)),
                _mm512_set1_epi32(31),
            );
            let e = _mm512_max_epi32(_mm512_sub_epi32(zero, s), zero);
            let l = _mm512_max_epi32(s, zero);
            let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, e), one);
            // 64-bit lanes of the even channels' `e`, then of the odd channels'.
            let e64 = [
                _mm512_srli_epi64::<32>(_mm512_slli_epi64::<32>(e)),
                _mm512_srli_epi64::<32>(e),
            ];
            // (No closures here: they would not inherit the caller's target features.)
            let mut c = [zero; 2];
            let mut neg = [zero; 2];
            let mut sh = [zero; 2];
            for i in 0..2 {
                let pos = _mm512_cmpgt_epi64_mask(e64[i], zero);
                // h·2^31 = 2^(30 + e) for e > 0.
                let h = _mm512_maskz_sllv_epi64(pos, _mm512_set1_epi64(1 << 30), e64[i]);
                c[i] = _mm512_add_epi64(h, _mm512_set1_epi64(1 << 30));
                neg[i] = _mm512_maskz_mov_epi64(pos, _mm512_set1_epi64(1 << 31));
                sh[i] = _mm512_add_epi64(e64[i], _mm512_set1_epi64(31));
            }
            let min = _mm512_set1_epi32(i32::MIN);
            let e1 = _mm512_max_epi32(_mm512_sub_epi32(e, one), zero);
            Rq {
                m: multiplier,
                m_odd: _mm512_shuffle_epi32::<0xF5>(multiplier),
                l,
                shl: _mm512_test_epi32_mask(l, l) != 0,
                c,
                neg,
                sh,
                sat: _mm512_cmpeq_epi32_mask(multiplier, min) != 0,
                e,
                mask,
                half: _mm512_srli_epi32::<1>(mask),
                fast: false,
                cz: c,
                e1,
            }
        }
    }

    /// [`I32Lanes::rq`], and the short form's constants when every lane's shift and
    /// `zp` allow it ([`FAST_E`], [`FAST_ZP`]).
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn rq_zp(self, multiplier: Self::V, shift: Self::V, zp: Self::V) -> Rq {
        let mut rq = self.rq(multiplier, shift);
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            rq.fast =
                !rq.sat && inside(shift, -FAST_E.1, -FAST_E.0) && inside(zp, -FAST_ZP, FAST_ZP);
            if rq.fast {
                // The 64-bit lanes of the even channels' `zp` and `e`, then the odd ones'.
                let zp64 = [
                    _mm512_srai_epi64::<32>(_mm512_slli_epi64::<32>(zp)),
                    _mm512_srai_epi64::<32>(zp),
                ];
                for (i, zp) in zp64.into_iter().enumerate() {
                    // sh = 31 + e; a left shift of a negative `zp` multiplies by 2^sh.
                    rq.cz[i] = _mm512_add_epi64(rq.c[i], _mm512_sllv_epi64(zp, rq.sh[i]));
                }
            }
        }
        rq
    }

    /// With every `e >= 1` (and `l = 0`), the one-rounding-step value of
    /// [`I32Lanes::mbqm`] is `floor(T / 2^(31 + e))`, `T = X + c − s·2^31`; adding
    /// `zp` is adding `zp·2^(31 + e)` to `T` (an integer inside the floor), and
    /// `floor(T / 2^(31 + e)) = floor(floor(T / 2^32) / 2^(e − 1))` (nested floors of
    /// powers of two): the high halves of the 64-bit `T`, gathered by one permute,
    /// then one arithmetic 32-bit shift by `e − 1` per lane — instead of two 64-bit
    /// shifts, the permute and the zero point's add. The bounds of [`FAST_E`] keep
    /// every step exact, so the result is the reference's `mbqm + zp` for every `v`.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn mbqm_zp(self, v: Self::V, rq: &Rq, zp: Self::V) -> Self::V {
        if !rq.fast {
            return I32Lanes::add(self, self.mbqm(v, rq), zp);
        }
        self.mbqm_zp_plain(v, rq, zp)
    }

    /// `(no left shift and no two-step form, the short form)`.
    #[inline(always)]
    fn plain(self, rq: &Rq) -> (bool, bool) {
        (!rq.shl && !rq.sat, rq.fast)
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn rq_u(self, rq: &mut Rq, bias: Self::V, nc: usize, k: usize) -> bool {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let u = rqu::U {
                m: &mut rq.m,
                m_odd: &mut rq.m_odd,
                cz: &mut rq.cz,
            };
            rqu::rq_u(rq.fast, u, bias, nc, k)
        }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn mbqm_zp_u(self, v: Self::V, rq: &Rq, _zp: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F; `rq_u` prepared `rq` (the trait's contract).
        unsafe { rqu::mbqm_zp_u(v, (rq.m, rq.m_odd, &rq.cz, rq.e)) }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn mbqm_zp_plain(self, v: Self::V, rq: &Rq, _zp: Self::V) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let t = rounded(v, rq, &rq.cz);
            // The high halves: lane 2j from the even sums, 2j + 1 from the odd.
            let idx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
            _mm512_srav_epi32(_mm512_permutex2var_epi32(t[0], idx, t[1]), rq.e1)
        }
    }

    /// With `X = a·m` (64-bit, exact; `a` the left-shifted input), the reference
    /// computes `q = floor((X + 2^30) / 2^31)` (the rounding doubling high multiply)
    /// and then, for `e > 0`, rounds `q / 2^e` half away from zero:
    /// `(q >> e) + [q mod 2^e > 2^(e−1) − 1 + [q < 0]]`. Writing `q = 2^e·k + r`,
    /// `0 <= r < 2^e`, that is `k + [r >= 2^(e−1) + s]` with `s = [q < 0]`, which is
    /// `floor((q + 2^(e−1) − s) / 2^e)` (the numerator's remainder part
    /// `r + 2^(e−1) − s` lies in `[0, 2^(e+1))`). Adding an integer inside a floor and
    /// nesting floors of powers of two give
    /// `floor((X + 2^30 + (2^(e−1) − s)·2^31) / 2^(31 + e))`, with
    /// `s = [X + 2^30 < 0] = [X < −2^30]`; for `e = 0` the result is `q` itself,
    /// the same expression without the `(2^(e−1) − s)` term. So: one 64-bit add of
    /// the per-lane constant `c`, a masked subtraction of `2^31` where `X < −2^30`
    /// and `e > 0`, one arithmetic shift by `31 + e` — the same value as the
    /// reference for every input, except where `q` itself would overflow
    /// (`a = m = i32::MIN`), which takes the two-step path when a multiplier is
    /// `i32::MIN`. No intermediate overflows: `|X| <= 2^62`, `c < 2^62`. The
    /// identity is checked exhaustively over the residues in `tests` below.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn mbqm(self, v: Self::V, rq: &Rq) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let a = if rq.shl {
                _mm512_sllv_epi32(v, rq.l)
            } else {
                v
            };
            if rq.sat {
                return mbqm_two_step(a, rq);
            }
            self.mbqm_plain(a, rq)
        }
    }

    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn mbqm_plain(self, a: Self::V, rq: &Rq) -> Self::V {
        // SAFETY: `self` proves AVX-512F.
        unsafe {
            let t = rounded(a, rq, &rq.c);
            let r = [
                _mm512_srav_epi64(t[0], rq.sh[0]),
                _mm512_srav_epi64(t[1], rq.sh[1]),
            ];
            // The low halves: lane 2j from the even result, 2j + 1 from the odd.
            let idx = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
            _mm512_permutex2var_epi32(r[0], idx, r[1])
        }
    }

    const DW_ROWS: bool = true;

    #[inline(always)]
    unsafe fn load_w(self, p: *const i8) -> Self::W {
        // SAFETY: caller's contract (16 readable bytes).
        unsafe { _mm512_cvtepu16_epi32(_mm256_cvtepi8_epi16(_mm_loadu_si128(p.cast()))) }
    }

    #[inline(always)]
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes at `x`).
        unsafe {
            let xv = _mm512_cvtepi8_epi32(_mm_loadu_si128(x.cast()));
            madd::<VNNI>(acc, _mm512_sub_epi32(xv, zp), w)
        }
    }

    #[inline(always)]
    unsafe fn mac_w_partial(
        self,
        acc: Self::V,
        x: *const i8,
        n: usize,
        zp: Self::V,
        w: Self::W,
    ) -> Self::V {
        // SAFETY: caller's contract (`n` readable bytes); masked-off bytes are not read.
        unsafe {
            let xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask16(n), x));
            madd::<VNNI>(acc, _mm512_sub_epi32(xv, zp), w)
        }
    }

    #[inline(always)]
    unsafe fn mac_w0(self, acc: Self::V, x: *const i8, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (16 readable bytes at `x`).
        unsafe { madd::<VNNI>(acc, _mm512_cvtepi8_epi32(_mm_loadu_si128(x.cast())), w) }
    }

    #[inline(always)]
    unsafe fn mac_w0_partial(self, acc: Self::V, x: *const i8, n: usize, w: Self::W) -> Self::V {
        // SAFETY: caller's contract (`n` readable bytes); masked-off bytes are not read.
        unsafe {
            let xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask16(n), x));
            madd::<VNNI>(acc, xv, w)
        }
    }
}

/// `acc + x·w` per i32 lane, where `x` lanes hold values in `[−255, 255]`
/// (sign-extended) and `w` lanes an i8 weight in the low half and zero in the high
/// half: `vpmaddwd` multiplies the low halves (the i16 value of `x`) and adds the
/// high halves' product, `x_hi·0`; exact. With VNNI, `vpdpwssd` does the add too.
///
/// # Safety
/// AVX-512F and BW, and VNNI when `VNNI`.
#[inline(always)]
unsafe fn madd<const VNNI: bool>(acc: __m512i, x: __m512i, w: __m512i) -> __m512i {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        if VNNI {
            _mm512_dpwssd_epi32(acc, x, w)
        } else {
            _mm512_add_epi32(acc, _mm512_madd_epi16(x, w))
        }
    }
}

/// The one-step form's numerators `X + c − s·2^31` ([`I32Lanes::mbqm`]) of the even
/// and the odd lanes of `a`, 64 bits each, with the rounding constants `c`.
///
/// # Safety
/// AVX-512F.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn rounded(a: __m512i, rq: &Rq, c: &[__m512i; 2]) -> [__m512i; 2] {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        let lim = _mm512_set1_epi64(-(1 << 30));
        let x = [
            _mm512_mul_epi32(a, rq.m),
            _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(a), rq.m_odd),
        ];
        let mut t = x;
        for i in 0..2 {
            let neg = _mm512_cmplt_epi64_mask(x[i], lim);
            let u = _mm512_add_epi64(x[i], c[i]);
            t[i] = _mm512_mask_sub_epi64(u, neg, u, rq.neg[i]);
        }
        t
    }
}

/// Every lane of `v` lies in `lo..=hi`.
///
/// # Safety
/// AVX-512F.
#[inline(always)]
unsafe fn inside(v: __m512i, lo: i32, hi: i32) -> bool {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        _mm512_cmplt_epi32_mask(v, _mm512_set1_epi32(lo)) == 0
            && _mm512_cmpgt_epi32_mask(v, _mm512_set1_epi32(hi)) == 0
    }
}

/// `MultiplyByQuantizedMultiplier` of the left-shifted `a` in two steps, as the
/// reference: the rounding doubling high multiply (saturating `i32::MIN·i32::MIN`),
/// then the rounding right shift.
///
/// # Safety
/// AVX-512F.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn mbqm_two_step(a: __m512i, rq: &Rq) -> __m512i {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        // Doubling high multiply: see `x86_avx2::srdhm`.
        let nudge = _mm512_set1_epi64(1 << 30);
        let even = _mm512_add_epi64(_mm512_mul_epi32(a, rq.m), nudge);
        let odd = _mm512_mul_epi32(_mm512_srli_epi64::<32>(a), rq.m_odd);
        let odd = _mm512_add_epi64(odd, nudge);
        let q = _mm512_mask_blend_epi32(
            0xAAAA,
            _mm512_srli_epi64::<31>(even),
            _mm512_slli_epi64::<1>(odd),
        );
        let min = _mm512_set1_epi32(i32::MIN);
        let q = _mm512_mask_mov_epi32(
            q,
            _mm512_cmpeq_epi32_mask(q, min),
            _mm512_set1_epi32(i32::MAX),
        );
        // Rounding right shift, ties away from zero.
        let rem = _mm512_and_si512(q, rq.mask);
        let threshold = _mm512_add_epi32(rq.half, _mm512_srli_epi32::<31>(q));
        let up = _mm512_cmpgt_epi32_mask(rem, threshold);
        let r = _mm512_srav_epi32(q, rq.e);
        _mm512_mask_add_epi32(r, up, r, _mm512_set1_epi32(1))
    }
}

#[cfg(test)]
mod tests;
