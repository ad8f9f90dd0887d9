//! The int8 NCHW-input conv on AVX-512 VNNI + VBMI for one row (a 1D first layer, see
//! [`row1`]): the `stem_rows.rs` kernel without its gather steps, weight re-order
//! and edge masks.

use core::arch::x86_64::*;

use super::super::pack::i8_flat;
use super::super::types::{ConvShape, I8Out, NR};
use super::stem_rows::lane_index;
use super::stem_store::{store16, store16_c8, store16_c8_cm, Chan8, Store};
use super::{bytes64, vbmi, Vnni};

/// Byte `o` of tables `c − 1` (`c` 1 to 3): `(o / c, o % c)`.
const COLS: [[[u8; 256]; 2]; 3] = {
    let mut t = [[[0u8; 256]; 2]; 3];
    let mut c = 1;
    while c <= 3 {
        let mut o = 0;
        while o < 256 {
            t[c - 1][0][o] = (o / c) as u8;
            t[c - 1][1][o] = (o % c) as u8;
            o += 1;
        }
        c += 1;
    }
    t
};

/// The one-row form of `stem_rows.rs`' kernel (a 1D first layer: one
/// input and output row, kernel height 1, 1–3 channels of at most 64 samples): each
/// plane quantized into a register ([`quantize_plane`]), the planes held there and
/// interleaved into one padded NHWC row over the scratch (`x_zp` in the padding
/// columns), so that pixel `ox`'s `k = kx·C + c` (the packed flat order) is byte
/// `ox·sx·C + k`: per block of 16 pixels one 64-byte load, per quad one `vpermb`, the
/// weights broadcast from the packed panel as they are — no re-order, gather steps or
/// edge masks. `None` (nothing written) when the shape is not of this form or the row
/// does not fit `xq`; the caller checked the lengths of `x`, `packed` and `y`.
pub(crate) fn row1(
    t: Vnni,
    s: &ConvShape,
    (x, x_scale, x_zp): (&[f32], f32, i32),
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    xq: &mut [i8],
) -> Option<()> {
    let (c, w, sx, [kh, kw]) = (s.in_c, s.in_w, s.stride[1], s.kernel);
    let nq = (kw * c).div_ceil(4);
    let ok = (1..=3).contains(&c)
        && s.in_h == 1
        && s.out_h == 1
        && kh == 1
        && s.pad[0] == 0
        && s.dilation == [1, 1]
        && (1..=2).contains(&sx)
        && (1..=64).contains(&w)
        && s.pad[1] <= 64
        && s.out_w >= 1
        && i8_flat(kw, c)
        && 15 * sx * c + 4 * nq <= 64;
    if !ok {
        return None;
    }
    // The padded row: the image's columns after `pad[1]` padding ones, then up to the
    // last block's 64 bytes.
    let last = (s.out_w - 1) / 16 * 16;
    let len = ((s.pad[1] + w) * c).max(last * sx * c + 64);
    let panel_len = out.header.conv_len() + nq * 4 * NR;
    let ok = vbmi()
        && len <= 256
        && len <= xq.len()
        && x.len() >= c * w
        && y.len() >= s.out_w * s.out_c
        && packed.len() >= s.out_c.div_ceil(NR) * panel_len;
    if !ok {
        return None;
    }
    // SAFETY: `t` and `vbmi()`; the lengths checked above.
    unsafe {
        row1_vnni(
            t,
            s,
            (&x[..c * w], x_scale, x_zp, len),
            xq,
            (packed, panel_len),
            out,
            y,
        )
    };
    Some(())
}

/// [`row1`] after its checks.
///
/// # Safety
/// VNNI and VBMI; the lengths [`row1`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma")]
unsafe fn row1_vnni(
    t: Vnni,
    s: &ConvShape,
    (x, x_scale, x_zp, len): (&[f32], f32, i32, usize),
    xq: &mut [i8],
    (packed, panel_len): (&[u8], usize),
    out: &I8Out,
    y: &mut [i8],
) {
    let (c, w, sx) = (s.in_c, s.in_w, s.stride[1]);
    // SAFETY: the plane loads read the `c·w` floats of `x` (masked), the row stores
    // write `len <= xq.len()` bytes, the block loads bytes `< last·sx·c + 64 <= len`;
    // the weight and header reads stay in panel `p`, the stores write the output row.
    unsafe {
        let xp = xq.as_mut_ptr();
        let mut planes = [_mm512_setzero_si512(); 3];
        for (ci, v) in planes.iter_mut().enumerate().take(c) {
            *v = quantize_plane(x.as_ptr().add(ci * w), w, x_scale, x_zp);
        }
        let zpv = _mm512_set1_epi8(x_zp as i8);
        let (wv, padl) = (_mm512_set1_epi8(w as i8), _mm512_set1_epi8(s.pad[1] as i8));
        let tab = &COLS[c - 1];
        for v in 0..len.div_ceil(64) {
            let col = _mm512_loadu_si512(tab[0].as_ptr().add(64 * v).cast());
            let ci = _mm512_loadu_si512(tab[1].as_ptr().add(64 * v).cast());
            // The image column (wrapping: left of the row is above `w` too).
            let p = _mm512_sub_epi8(col, padl);
            let one = _mm512_cmpeq_epi8_mask(ci, _mm512_set1_epi8(1));
            let two = _mm512_cmpeq_epi8_mask(ci, _mm512_set1_epi8(2));
            let idx = _mm512_mask_add_epi8(p, one, p, _mm512_set1_epi8(64));
            let g = _mm512_permutex2var_epi8(planes[0], idx, planes[1]);
            let g = _mm512_mask_permutexvar_epi8(g, two, p, planes[2]);
            let g = _mm512_mask_mov_epi8(g, _mm512_cmpge_epu8_mask(p, wv), zpv);
            _mm512_mask_storeu_epi8(xp.add(64 * v).cast(), bytes64(len - 64 * v), g);
        }
        let nq = (s.kernel[1] * c).div_ceil(4);
        // Byte `4l + i` of quad `q`'s index: lane `l`'s pixel's `k = 4q + i`.
        let base = _mm512_add_epi8(
            _mm512_mullo_epi16(lane_index(1), _mm512_set1_epi16((sx * c) as i16)),
            _mm512_set1_epi32(0x0302_0100),
        );
        let flip = _mm512_set1_epi8(-128);
        let k = s.kernel[1] * c;
        for p in 0..s.out_c.div_ceil(NR) {
            let panel = packed.as_ptr().add(p * panel_len);
            let wp = panel.add(out.header.conv_len());
            let mj = (s.out_c - p * NR).min(NR);
            let yp = y.as_mut_ptr().add(p * NR);
            if mj <= 8 {
                let (st, b) = Store::load::<8>(t, panel, out.header, out, (mj, s.out_c, k));
                row1_panel::<8>(t, s, (xp, base, flip, nq), (wp, b), &st, yp);
            } else {
                let (st, b) = Store::load::<16>(t, panel, out.header, out, (mj, s.out_c, k));
                row1_panel::<16>(t, s, (xp, base, flip, nq), (wp, b), &st, yp);
            }
        }
    }
}

/// The reference's Quantize (`f32::quantize_i8`) of the `w <= 64` floats at `x` into
/// bytes `0..w` of a vector (the others hold the quantized 0.0, which no reader
/// uses), with the reference's operations in its order on 16 lanes, as the AVX2
/// `quantize32` does on 8: `x / scale`, rounded half to even (`vrndscaleps`,
/// nearest), a NaN quotient replaced by 0 (the reference gives the clamped zero
/// point: adding the zero point to 0 and clamping gives the same), `+ zero_point as
/// f32`, clamped to `-128..=127` (the reference's `q < lo`, `q > hi`: the same for
/// every non-NaN `q`), truncated to i32 (exact: an integer in range), packed with
/// saturation (nothing saturates) and put back in order.
///
/// The quotient: `q0 = RN(x · RN(1/scale))` when no lane of a vector is near a
/// rounding boundary (below), else `vdivps` as the reference. With `scale` in
/// `[2^-100, 2^100]` (normal, `1/scale` too) and `u = 2^-24`, `|q0 − x/scale| <=
/// 2.0001u·|x/scale| + 2^-150` and `|RN(x/scale) − x/scale| <= u·|x/scale| + 2^-150`.
/// If `|q0| <= 512`, then `|q0 − RN(x/scale)| < 3.0001·2^-24·512.001 + 2^-149 <
/// 2^-13`; with `r = rint(q0)` and `|q0 − r| < 0.5 − 2^-12` (exact: `r` and `q0` within
/// a factor 2, Sterbenz, or `r = 0`), `RN(x/scale)` lies strictly inside `(r − ½, r +
/// ½)`, so its rint is `r`. If `|q0| > 512`, `|RN(x/scale)| > 511` with the same sign,
/// and both clamp to the same bound (`|zero_point| <= 128` is checked). A NaN `q0`
/// is a NaN `x` (`1/scale` is finite and nonzero), as the NaN quotient; `±∞` the same
/// on both. A vector with a lane `|q0| <= 512` at `|q0 − r| >= 0.5 − 2^-12` divides.
///
/// # Safety
/// AVX-512 F/BW; `x` points to `w` readable floats.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn quantize_plane(x: *const f32, w: usize, scale: f32, zp: i32) -> __m512i {
    // SAFETY: the caller's contract; each load reads floats `< w` (masked-off lanes
    // are not accessed, so the pointer may lie past them).
    unsafe {
        let (sv, z) = (_mm512_set1_ps(scale), _mm512_set1_ps(zp as f32));
        let (lo, hi) = (_mm512_set1_ps(-128.0), _mm512_set1_ps(127.0));
        let recip = (f32::from_bits(0x0d80_0000)..=f32::from_bits(0x7180_0000)).contains(&scale)
            && (-128..=128).contains(&zp);
        let (y, near, big) = (
            _mm512_set1_ps(1.0 / scale),
            _mm512_set1_ps(0.5 - 1.0 / 4096.0),
            _mm512_set1_ps(512.0),
        );
        let mut q = [_mm512_setzero_si512(); 4];
        for (b, q) in q.iter_mut().enumerate() {
            let n = w.saturating_sub(16 * b).min(16);
            let m = ((1u32 << n) - 1) as __mmask16;
            let v = _mm512_maskz_loadu_ps(m, x.wrapping_add(16 * b));
            let q0 = _mm512_mul_ps(v, y);
            let r0 = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(q0);
            let dist = _mm512_abs_ps(_mm512_sub_ps(q0, r0));
            let unsure = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(dist, near)
                & _mm512_cmp_ps_mask::<_CMP_LE_OQ>(_mm512_abs_ps(q0), big);
            let r = if recip && unsure == 0 {
                r0
            } else {
                let d = _mm512_div_ps(v, sv);
                _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(d)
            };
            let r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_ORD_Q>(r, r), r);
            let v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, z), lo), hi);
            *q = _mm512_cvttps_epi32(v);
        }
        let ab = _mm512_packs_epi32(q[0], q[1]);
        let cd = _mm512_packs_epi32(q[2], q[3]);
        // 128-bit lane `L` holds 4 bytes of each `q[k]`'s lane `L`, k = 0..4.
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        _mm512_permutexvar_epi32(order, _mm512_packs_epi16(ab, cd))
    }
}

/// One panel of [`row1_vnni`]: `NJ` channels from the weights at `wp` and the bias
/// row `b`, every block of 16 pixels of the row.
///
/// # Safety
/// As [`row1_vnni`].
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn row1_panel<const NJ: usize>(
    t: Vnni,
    s: &ConvShape,
    (xp, base, flip, nq): (*const i8, __m512i, __m512i, usize),
    (wp, b): (*const u8, __m512i),
    st: &Store,
    yp: *mut i8,
) {
    // SAFETY: the caller's contract.
    unsafe {
        let mut bias = [0i32; NR];
        _mm512_storeu_si512(bias.as_mut_ptr().cast(), b);
        let step = s.stride[1] * s.in_c;
        // The per-channel constants of the channel-major store (unused otherwise).
        let ch = Chan8::new(st);
        for ox0 in (0..s.out_w).step_by(16) {
            let n = (s.out_w - ox0).min(16);
            let v0 = _mm512_loadu_si512(xp.add(ox0 * step).cast());
            let mut acc = [_mm512_setzero_si512(); NJ];
            for (j, a) in acc.iter_mut().enumerate() {
                *a = _mm512_set1_epi32(bias[j]);
            }
            for q in 0..nq {
                let idx = _mm512_add_epi8(base, _mm512_set1_epi8((4 * q) as i8));
                let v = _mm512_xor_si512(_mm512_permutexvar_epi8(idx, v0), flip);
                let wq = wp.add(q * 4 * NR).cast::<i32>();
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_dpbusd_epi32(*a, v, _mm512_set1_epi32(wq.add(j).read_unaligned()));
                }
            }
            let at = yp.add(ox0 * s.out_c);
            match (NJ == 8 && s.out_c == 8, st.u) {
                (true, false) => store16_c8::<false>(t, &*acc.as_ptr().cast(), st, at, n),
                (true, true) => store16_c8_cm(&*acc.as_ptr().cast(), &ch, st, at, n),
                (false, false) => store16::<NJ, false>(t, &acc, st, at, n),
                (false, true) => store16::<NJ, true>(t, &acc, st, at, n),
            }
        }
    }
}
