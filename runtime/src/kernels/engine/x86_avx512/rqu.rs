//! The offset form of the output requantization
//! ([`I32Lanes::rq_u`](super::I32Lanes::rq_u),
//! [`I32Lanes::mbqm_zp_u`](super::I32Lanes::mbqm_zp_u)): the sums offset by `2^31`,
//! multiplied unsigned by `2m`, so that the short form's sign correction is one
//! 32-bit shift and subtract instead of a compare and a masked subtraction per
//! 64-bit half, and the bias row's add gives the offset for free.

use core::arch::x86_64::*;

/// The largest inner length `K` of [`rq_u`]: `|Σ (x + 128)·w| <= 255·128·K < 2^29`.
pub(super) const U_MAX_K: usize = (1 << 29) / (255 * 128);

/// A prepared requantization's multipliers (even lanes, odd lanes moved down) and
/// short-form constants (even, odd 64-bit lanes), which [`rq_u`] replaces with the
/// offset form's `2m` and `C`.
pub(super) struct U<'a> {
    pub(super) m: &'a mut __m512i,
    pub(super) m_odd: &'a mut __m512i,
    pub(super) cz: &'a mut [__m512i; 2],
}

/// [`I32Lanes::rq_u`](super::I32Lanes::rq_u): whether the offset form applies to the
/// first `nc` lanes of a prepared requantization (`fast`: its short form applies;
/// `u` its multipliers `m` and short-form constants `cz`) with bias row `bias` and
/// inner length `k`, and if so its constants in place of `u`'s (which then serve
/// [`mbqm_zp_u`] only).
///
/// # Safety
/// AVX-512F.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) unsafe fn rq_u(fast: bool, u: U<'_>, bias: __m512i, nc: usize, k: usize) -> bool {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        let valid = ((1u32 << nc.min(16)) - 1) as __mmask16;
        let b = 1 << 29;
        let ok = fast
            && k <= U_MAX_K
            && _mm512_mask_cmple_epi32_mask(valid, *u.m, _mm512_set1_epi32(1 << 30)) == 0
            && _mm512_mask_cmplt_epi32_mask(valid, bias, _mm512_set1_epi32(-b)) == 0
            && _mm512_mask_cmpgt_epi32_mask(valid, bias, _mm512_set1_epi32(b)) == 0;
        if ok {
            // In place of the other forms' `m`, `m_odd` and `cz` (no larger `Rq` for
            // the other drivers): `2m`, and `C = 2·cz − 2^32·(m + 1)` (wrapping).
            let m64 = [
                _mm512_srli_epi64::<32>(_mm512_slli_epi64::<32>(*u.m)),
                _mm512_srli_epi64::<32>(*u.m),
            ];
            for (i, m) in m64.into_iter().enumerate() {
                let t = _mm512_slli_epi64::<32>(_mm512_add_epi64(m, _mm512_set1_epi64(1)));
                u.cz[i] = _mm512_sub_epi64(_mm512_add_epi64(u.cz[i], u.cz[i]), t);
            }
            let m2 = _mm512_slli_epi32::<1>(*u.m);
            (*u.m, *u.m_odd) = (m2, _mm512_srli_epi64::<32>(m2));
        }
        ok
    }
}

/// [`I32Lanes::mbqm_zp_u`](super::I32Lanes::mbqm_zp_u). With `a` the sum and
/// `a' = a + 2^31` (the input, `0 <= a' < 2^32`), the short form's value is
/// `floor((a·m + cz − s·2^31) / 2^(31 + e))`, `s = [a·m < −2^30]`; with every
/// `m > 2^30`, `s = [a < 0]`. Doubling numerator and denominator and nesting the
/// floors, that is `floor(F / 2^e)`, `F = floor((2am + 2cz) / 2^32) − s`, and
/// `2am = a'·2m − 2^32·m` (the unsigned `vpmuludq` of `a'` by `2m < 2^32`), so
/// `F = floor((a'·2m + C) / 2^32) + [a >= 0]`, `C = 2cz − 2^32·(m + 1)`: the high
/// halves of the 64-bit sums, minus `a' >> 31` (arithmetic: `−[a >= 0]`), then one
/// arithmetic shift by `e`. With `|a| < 2^30` (the bounds [`rq_u`] checks) and the
/// short form's `e <= 22`, `|zp| <= 255`, `|F| < 2^30 + 2^21 + 255·2^22 + 1 < 2^31`:
/// the high halves of the wrapping 64-bit sums are exact.
///
/// # Safety
/// AVX-512F; `m`, `m_odd`, `cz` prepared by [`rq_u`], `e` the right shifts.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
pub(super) unsafe fn mbqm_zp_u(
    a: __m512i,
    (m, m_odd, cz, e): (__m512i, __m512i, &[__m512i; 2], __m512i),
) -> __m512i {
    // SAFETY: caller's contract; register-only operations.
    unsafe {
        let te = _mm512_add_epi64(_mm512_mul_epu32(a, m), cz[0]);
        let odd = _mm512_srli_epi64::<32>(a);
        let to = _mm512_add_epi64(_mm512_mul_epu32(odd, m_odd), cz[1]);
        // The high halves: lane 2j from the even sums, 2j + 1 from the odd.
        let idx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
        let f = _mm512_sub_epi32(
            _mm512_permutex2var_epi32(te, idx, to),
            _mm512_srai_epi32::<31>(a),
        );
        _mm512_srav_epi32(f, e)
    }
}
