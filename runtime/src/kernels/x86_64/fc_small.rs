//! The int8 FullyConnected of small layers (`K <= 64` inputs, `N <= 16` outputs, any
//! number of rows) with AVX-512 VNNI and VBMI2, the whole op in registers: the weights
//! loaded once per call, per input row one `vpdpbusd` per weight register, the `N`
//! sums gathered into one vector, one vectorised requantization of the `N` lanes and
//! plain stores of the `N` bytes. Selected by the AVX2 kernels' driver when the CPU
//! has the features (run-time detection under `std`, else `cfg(target_feature)`);
//! other shapes and CPUs take the general loop.
//!
//! Bytes: identical to the reference for every input. `vpdpbusd` multiplies unsigned
//! by signed bytes, so the input is flipped to `u = x + 128` and the dot product is
//! `Σ (x − zp)·w = Σ u·w − Σ (128 + zp)·w`; the second sum is a `vpdpbusd` of the
//! constant byte `128 + zp` (in `0..=255` for `zp` in `-128..=127`) by the same
//! weights (none when `zp = -128`). Every product and partial sum is exact (at most
//! 64 products of `255·128`), the rest wraps like the reference's i32 sum (addition
//! modulo 2^32 does not depend on the order). The requantization is
//! `driver::lanes::requant_row`'s formulation, lane by lane.
//!
//! Layout: with `K <= 16` four weight rows share a register, one per 128-bit lane
//! (`vpexpandb` spreads the `4·K` contiguous bytes to 16-byte lanes, zeros between);
//! the input row is broadcast to the four lanes; the weight registers are set up once
//! per call. With `16 < K <= 64` each weight row is one register, loaded per input
//! row; its 16 partial sums are folded to one 128-bit lane and blended into the same
//! four-rows-per-register layout. Bytes past `K` are zero in the weights, so the
//! input's padding adds nothing.
//!
//! The AVX-512 intrinsics are stable since Rust 1.89, above the workspace's declared
//! `rust-version` (1.85), as in the conv engine's `x86_avx512` module.
#![allow(unsafe_code)]
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use crate::kernels::params::{FullyConnectedParams, QuantOut};

/// The largest `K` and `N` of this path.
const MAX_K: usize = 64;
const MAX_N: usize = 16;

/// Whether this CPU runs [`kernel`].
#[inline(always)]
fn supported() -> bool {
    #[cfg(feature = "std")]
    let ok = std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512vnni")
        && std::is_x86_feature_detected!("avx512vbmi2");
    #[cfg(not(feature = "std"))]
    let ok = cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vl",
        target_feature = "avx512vnni",
        target_feature = "avx512vbmi2"
    ));
    ok
}

/// `true` when `len` holds `rows x cols` values.
#[inline(always)]
fn holds(len: usize, rows: usize, cols: usize) -> bool {
    rows.checked_mul(cols).is_some_and(|need| len >= need)
}

/// Runs the FullyConnected ([`crate::kernels::int8::fully_connected`]'s contract) if
/// its shape and this CPU fit this path; `false` (nothing written) otherwise.
#[inline]
pub(crate) fn run(
    p: &FullyConnectedParams,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) -> bool {
    let FullyConnectedParams { batch, k, n } = *p;
    let rq = out.requant;
    let fits = (1..=MAX_K).contains(&k)
        && (1..=MAX_N).contains(&n)
        && (-128..=127).contains(&x_zp)
        && holds(x.len(), batch, k)
        && holds(w.len(), n, k)
        && holds(y.len(), batch, n)
        && out.bias.is_none_or(|b| b.len() >= n)
        // Per-channel tables hold a pair per output (a shorter one is the reference's
        // "missing pair reads (0, 0)" case, left to the general loop).
        && (rq.len() <= 2 || rq.len() >= 2 * n);
    if !fits || !supported() {
        return false;
    }
    // SAFETY: `supported()` checked the features; the lengths were checked above.
    unsafe { kernel(batch, k, n, x, x_zp, w, out, y) };
    true
}

/// The mask of lanes `0..n`, `n <= 16`.
#[inline(always)]
fn lanes(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// The mask of bytes `0..n`, `n <= 64`.
#[inline(always)]
fn bytes(n: usize) -> __mmask64 {
    if n >= 64 {
        !0
    } else {
        (1u64 << n) - 1
    }
}

/// # Safety
/// The CPU has the features of [`supported`]; `1 <= k <= 64`, `1 <= n <= 16`, `x`
/// holds `batch·k` values, `w` `n·k`, `y` `batch·n`, the bias (if any) `n`, the
/// requantization table 0, 1 or 2 values or at least `2·n`; `x_zp` in `-128..=127`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi2")]
unsafe fn kernel(
    batch: usize,
    k: usize,
    n: usize,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    let zero = _mm512_setzero_si512();
    let flip = _mm512_set1_epi8(i8::MIN);
    // The byte 128 + zp, as u8.
    let c = _mm512_set1_epi8((x_zp + 128) as u8 as i8);
    // With `zp = -128` the flipped input is `x − zp` itself: no correction.
    let shifted = x_zp != -128;
    let packed = k <= 16;
    let wp = w.as_ptr();
    // Packed: the weight registers of the four-row groups (zero past `n` rows) and
    // their corrections Σ (128 + zp)·w per 32-bit lane. (Fixed-size arrays indexed
    // by constants after unrolling: they stay in registers.)
    let mut wv = [zero; 4];
    let mut corr = [zero; 4];
    if packed {
        // K bytes at the start of each 16-byte lane.
        let spread = ((1u64 << k) - 1) * 0x0001_0001_0001_0001;
        for g in 0..4 {
            if 4 * g < n {
                let rows = (n - 4 * g).min(4);
                // SAFETY: bytes `4g·k..(4g + rows)·k` of `w` (rows `< n`); masked-off
                // bytes are not read.
                let flat = unsafe { _mm512_maskz_loadu_epi8(bytes(rows * k), wp.add(4 * g * k)) };
                wv[g] = if k == 16 {
                    flat
                } else {
                    _mm512_maskz_expand_epi8(spread & bytes(16 * rows), flat)
                };
                corr[g] = _mm512_dpbusd_epi32(zero, c, wv[g]);
            }
        }
    }

    // The requantization constants (`requant_row`'s, per lane).
    let rq = out.requant;
    let (m, shift) = if rq.len() > 2 {
        let idx_m = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let idx_s = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        let p = rq.as_ptr();
        // SAFETY: `rq` holds at least `2n` values; masked-off lanes are not read.
        let lo = unsafe { _mm512_maskz_loadu_epi32(lanes((2 * n).min(16)), p) };
        let hi = unsafe { _mm512_maskz_loadu_epi32(lanes((2 * n).saturating_sub(16)), p.add(16)) };
        (
            _mm512_permutex2var_epi32(lo, idx_m, hi),
            _mm512_permutex2var_epi32(lo, idx_s, hi),
        )
    } else {
        let (m, s) = out.pair(0);
        (_mm512_set1_epi32(m), _mm512_set1_epi32(s))
    };
    let bias = match out.bias {
        // SAFETY: the bias holds at least `n` values; masked-off lanes are not read.
        Some(b) => unsafe { _mm512_maskz_loadu_epi32(lanes(n), b.as_ptr()) },
        None => zero,
    };
    let one = _mm512_set1_epi32(1);
    let shift = _mm512_min_epi32(
        _mm512_max_epi32(shift, _mm512_set1_epi32(-31)),
        _mm512_set1_epi32(31),
    );
    let left = _mm512_max_epi32(shift, zero);
    let shl = _mm512_test_epi32_mask(left, left) != 0;
    let right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
    let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
    let half = _mm512_srli_epi32::<1>(mask);
    let m_odd = _mm512_shuffle_epi32::<0xF5>(m);
    let min = _mm512_set1_epi32(i32::MIN);
    let m_min = _mm512_cmpeq_epi32_mask(m, min);
    let nudge = _mm512_set1_epi64(1 << 30);
    let zp = _mm512_set1_epi32(out.zero_point);
    let (lo, hi) = (
        _mm512_set1_epi32(out.act_min),
        _mm512_set1_epi32(out.act_max),
    );
    // Output j sits in element 4·(j % 4) + j / 4 of the gathered sums.
    let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    let xp = x.as_ptr();
    let yp = y.as_mut_ptr();

    for b in 0..batch {
        // SAFETY: bytes `b·k..b·k + k` of `x`; masked-off bytes are not read.
        let xr = unsafe { xp.add(b * k) };
        // The four-rows-per-register sums: register g, 128-bit lane r holds the four
        // partial sums of row 4g + r.
        let mut grp = [zero; 4];
        if packed {
            // SAFETY: bytes `b·k..b·k + k` of `x`; masked-off bytes are not read.
            let xv = _mm512_broadcast_i32x4(unsafe {
                if k == 16 {
                    _mm_loadu_si128(xr.cast())
                } else {
                    _mm_maskz_loadu_epi8(lanes(k), xr)
                }
            });
            let u = _mm512_xor_si512(xv, flip);
            for g in 0..4 {
                if 4 * g < n {
                    let d = _mm512_dpbusd_epi32(zero, u, wv[g]);
                    grp[g] = if shifted {
                        _mm512_sub_epi32(d, corr[g])
                    } else {
                        d
                    };
                }
            }
        } else {
            // SAFETY: masked-off bytes are not read.
            let u = _mm512_xor_si512(unsafe { _mm512_maskz_loadu_epi8(bytes(k), xr) }, flip);
            // (Constant indices after unrolling: `grp` stays in registers.)
            for (g, acc) in grp.iter_mut().enumerate() {
                for r in 0..4 {
                    let j = 4 * g + r;
                    if j < n {
                        // SAFETY: bytes `j·k..j·k + k` of `w`; masked-off bytes are
                        // not read.
                        let wr = unsafe { _mm512_maskz_loadu_epi8(bytes(k), wp.add(j * k)) };
                        let d = _mm512_dpbusd_epi32(zero, u, wr);
                        let d = if shifted {
                            _mm512_sub_epi32(d, _mm512_dpbusd_epi32(zero, c, wr))
                        } else {
                            d
                        };
                        // Fold the four 128-bit lanes: every lane then holds the row's
                        // four partial sums.
                        let d = _mm512_add_epi32(d, _mm512_shuffle_i32x4::<0x4E>(d, d));
                        let d = _mm512_add_epi32(d, _mm512_shuffle_i32x4::<0xB1>(d, d));
                        *acc = _mm512_mask_mov_epi32(*acc, 0xF << (4 * r), d);
                    }
                }
            }
        }
        // Per 128-bit lane r: [a0+a2, b0+b2, a1+a3, b1+b3] for rows a = r, b = 4 + r,
        // then the same for rows 8 + r and 12 + r, then the four rows' totals.
        let u01 = _mm512_add_epi32(
            _mm512_unpacklo_epi32(grp[0], grp[1]),
            _mm512_unpackhi_epi32(grp[0], grp[1]),
        );
        let u23 = _mm512_add_epi32(
            _mm512_unpacklo_epi32(grp[2], grp[3]),
            _mm512_unpackhi_epi32(grp[2], grp[3]),
        );
        let s = _mm512_add_epi32(
            _mm512_unpacklo_epi64(u01, u23),
            _mm512_unpackhi_epi64(u01, u23),
        );
        let acc = _mm512_permutexvar_epi32(order, s);

        // requant_row, lane by lane.
        let a = _mm512_add_epi32(acc, bias);
        let a = if shl { _mm512_sllv_epi32(a, left) } else { a };
        let even = _mm512_srai_epi64::<31>(_mm512_add_epi64(_mm512_mul_epi32(a, m), nudge));
        let odd = _mm512_mul_epi32(_mm512_shuffle_epi32::<0xF5>(a), m_odd);
        let odd = _mm512_srai_epi64::<31>(_mm512_add_epi64(odd, nudge));
        let q = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd));
        let q = if m_min != 0 {
            let sat = m_min & _mm512_cmpeq_epi32_mask(a, min);
            _mm512_mask_mov_epi32(q, sat, _mm512_set1_epi32(i32::MAX))
        } else {
            q
        };
        let rem = _mm512_and_si512(q, mask);
        let threshold = _mm512_mask_add_epi32(half, _mm512_cmplt_epi32_mask(q, zero), half, one);
        let v = _mm512_srav_epi32(q, right);
        let v = _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(rem, threshold), v, one);
        let v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, zp), lo), hi);
        // SAFETY: bytes `b·n..b·n + n` of `y`.
        unsafe { store(yp.add(b * n), n, _mm512_cvtsepi32_epi8(v)) };
    }
}

/// Writes the first `n <= 16` bytes of `v` to `dst` with plain stores (8, 4, 2, 1
/// bytes): Zen 4's masked stores cost several times a plain one, and the next op
/// reads these bytes at once.
///
/// # Safety
/// `dst..dst + n` is writable; the CPU has SSE4.1 (implied by [`kernel`]'s features).
#[inline(always)]
unsafe fn store(dst: *mut i8, n: usize, v: __m128i) {
    // SAFETY: SSE4.1 (caller's contract); every write's `d..d + size` lies in
    // `dst..dst + n` (`rest` bytes are left from `d`).
    unsafe {
        let mut lo = _mm_cvtsi128_si64(v) as u64;
        let hi = _mm_extract_epi64::<1>(v) as u64;
        let (mut d, mut rest) = (dst, n);
        if rest >= 8 {
            d.cast::<u64>().write_unaligned(lo);
            (d, rest, lo) = (d.add(8), rest - 8, hi);
        }
        if rest >= 8 {
            d.cast::<u64>().write_unaligned(lo);
            return;
        }
        if rest >= 4 {
            d.cast::<u32>().write_unaligned(lo as u32);
            (d, rest, lo) = (d.add(4), rest - 4, lo >> 32);
        }
        if rest >= 2 {
            d.cast::<u16>().write_unaligned(lo as u16);
            (d, rest, lo) = (d.add(2), rest - 2, lo >> 16);
        }
        if rest >= 1 {
            d.write(lo as i8);
        }
    }
}
