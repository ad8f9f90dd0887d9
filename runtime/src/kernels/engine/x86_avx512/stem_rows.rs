//! The int8 NCHW-input conv on AVX-512 VNNI + VBMI (see `engine/stem.rs`), over a band
//! of the image quantized once.
//!
//! The caller quantizes the band's rows into scratch, plane by plane (the `Quantize`
//! op's kernel, one call per plane: the reference's bytes), a padding row (above or
//! below the image) holding `x_zp`; the padding columns are not stored. Output pixel
//! `ox`'s taps of kernel row `ky` and channel `c` are then the `kw` consecutive bytes
//! from column `ox·sx − pad` of row `oy·sy + ky` of plane `c` (a "window" of a
//! 16-pixel block: 64 bytes from the block's first column), and the bytes that the
//! first and last blocks read from outside the row are set to `x_zp` (per-quad byte
//! masks computed once per call). The packed weights are re-ordered (per call, on the
//! stack) to the order (ky, c, kx), 4 per quad (zero weights after the last: 7 quads
//! for 3×3×3, as the packed panel). 16 output pixels per vector: a quad's vector of 16
//! pixel quads is one `vpermt2b` of the two windows its 4 bytes come from (more
//! windows: one more `vpermt2b` and a byte blend per pair), flipped to `x + 128`, and
//! each output channel takes one `vpdpbusd` per quad with its 4 weights broadcast,
//! from `bias_u8`. The i32 sums are those of every int8 kernel (exact), so the bytes
//! are the reference's; then [`store16`] (shared with `stem.rs`) transposes,
//! requantizes and stores.

use core::arch::x86_64::*;

use super::super::pack::i8_flat;
use super::super::types::{ConvShape, I8Header, I8Out, NR};
use super::{I32Lanes, Rq, Vnni};

/// The most quads (groups of 4 `k`) per output channel.
const MAX_Q: usize = 16;
/// The most windows (kernel rows × channels).
const MAX_W: usize = 64;
/// The bytes before the first row (the first block's loads start `pad[1] <= 16` bytes
/// before a row).
pub(crate) const FRONT: usize = 64;

/// Whether this CPU has AVX-512 VBMI (`vpermt2b`), besides the VNNI token.
pub(crate) fn vbmi() -> bool {
    #[cfg(feature = "std")]
    let ok = std::is_x86_feature_detected!("avx512vbmi");
    #[cfg(not(feature = "std"))]
    let ok = cfg!(target_feature = "avx512vbmi");
    ok
}

/// The layout of a band's quantized rows and the re-ordered `k` of a shape that
/// [`Plan::new`] takes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Bytes per row: the image's width (the padding columns are not stored: the
    /// first and last blocks set the bytes that read them to `x_zp`).
    pub(crate) rw: usize,
    /// Bytes after the last row that the last block's window loads may read.
    tail: usize,
    /// Quads per output channel.
    nq: usize,
    /// The number of `k` (`kh·C·kw`, 4 per quad), in the order (ky, c, kx): `k`'s
    /// window is `ky·C + c` ([`Plan::slot`]).
    len: usize,
}

impl Plan {
    /// The plan of `s`, or `None` when the kernel does not take it: 1–4 channels,
    /// dilation 1, horizontal stride 1 or 2, a 16-pixel block's taps within a 64-byte
    /// window (`15·sx + kw <= 64`), at most [`MAX_Q`] quads, a left padding of at most
    /// 16 columns, and the right padding read by the last block only. Geometry only
    /// (the caller checks the CPU).
    pub(crate) fn new(s: &ConvShape) -> Option<Plan> {
        let (c, [kh, kw], sx) = (s.in_c, s.kernel, s.stride[1]);
        let ok = (1..=4).contains(&c)
            && s.dilation == [1, 1]
            && (1..=2).contains(&sx)
            && kh >= 1
            && (1..=64).contains(&kw)
            && 15 * sx + kw <= 64
            && s.out_w >= 1
            && s.out_h >= 1;
        if !ok {
            return None;
        }
        let len = kh.checked_mul(c)?.checked_mul(kw)?;
        let nq = len.div_ceil(4);
        if nq > MAX_Q || kh * c > MAX_W {
            return None;
        }
        // Only the first block reads the left padding, only the last the right one.
        let (rw, pad_l) = (s.in_w, s.pad[1]);
        let last = (s.out_w - 1) / 16 * 16;
        let inner = last == 0 || (last - 1) * sx + kw <= rw + pad_l;
        if pad_l > 16 || rw == 0 || !inner {
            return None;
        }
        let tail = ((s.out_w - 1).checked_mul(sx)? + 64).saturating_sub(rw);
        Some(Plan { rw, tail, nq, len })
    }

    /// Each `k`'s window, column and packed `k` (`(ky·kw + kx)·cq + c`), counted
    /// without divisions.
    fn slots(&self, s: &ConvShape) -> Slots {
        let ([kh, kw], c) = (s.kernel, s.in_c);
        let cq = if i8_flat(s.taps(), c) { c } else { 4 };
        let mut sl = [[0u16; 3]; 4 * MAX_Q];
        let mut k = 0;
        for ky in 0..kh {
            for ci in 0..c {
                for kx in 0..kw {
                    if let Some(e) = sl.get_mut(k) {
                        *e = [
                            (ky * c + ci) as u16,
                            kx as u16,
                            ((ky * kw + kx) * cq + ci) as u16,
                        ];
                    }
                    k += 1;
                }
            }
        }
        sl
    }

    /// Bytes of scratch for `rows` padded rows of each of `c` planes: [`FRONT`] bytes,
    /// the rows, the last loads' tail.
    pub(crate) fn scratch_len(&self, c: usize, rows: usize) -> Option<usize> {
        rows.checked_mul(self.rw)?
            .checked_mul(c)?
            .checked_add(FRONT + self.tail)
    }

    /// The bytes of quad `q` (lane `l`, slot `i`: bit `4l + i`) that read a padding
    /// column in the block from output pixel `ox0`.
    fn pad_mask(&self, s: &ConvShape, sl: &Slots, ox0: usize, q: usize) -> u64 {
        let (sx, pad, rw) = (s.stride[1] as isize, s.pad[1] as isize, self.rw as isize);
        let mut m = 0;
        for k in 4 * q..(4 * q + 4).min(self.len) {
            // Lane `l` reads column `(ox0 + l)·sx + kx − pad`: the lanes below `lo` are
            // left of the row, those from `hi` on right of it.
            let first = (ox0 as isize) * sx + slot(sl, k).1 as isize - pad;
            // `⌈a / sx⌉` for a stride of 1 or 2.
            let ceil = |a: isize| if sx == 1 { a } else { (a + 1) >> 1 };
            let lo = ceil(-first).clamp(0, 16) as u32;
            let hi = ceil(rw - first).clamp(0, 16) as u32;
            let lanes = lane_bits(lo) | (0xffff & !lane_bits(hi));
            m |= spread_nibbles(lanes) << (k - 4 * q);
        }
        m
    }
}

/// The mask of lanes `0..n` (`n <= 16`).
fn lane_bits(n: u32) -> u64 {
    (1u64 << n) - 1
}

/// Bit `l` of a 16-bit mask moved to bit `4l`.
fn spread_nibbles(m: u64) -> u64 {
    let m = (m | (m << 24)) & 0x0000_00ff_0000_00ff;
    let m = (m | (m << 12)) & 0x000f_000f_000f_000f;
    let m = (m | (m << 6)) & 0x0303_0303_0303_0303;
    (m | (m << 3)) & 0x1111_1111_1111_1111
}

/// Each `k`'s window, column and packed `k` ([`Plan::slots`]).
type Slots = [[u16; 3]; 4 * MAX_Q];

/// `k`'s window and column (`k < len`).
fn slot(sl: &Slots, k: usize) -> (usize, usize) {
    let [w, kx, _] = sl[k];
    (usize::from(w), usize::from(kx))
}

/// The per-channel constants of one int8 panel: `bias_u8`, multiplier, shift.
#[allow(clippy::needless_range_loop)]
pub(crate) fn panel_consts(panel: &[u8], header: I8Header) -> [[i32; NR]; 3] {
    let word =
        |at: usize| i32::from_le_bytes([panel[at], panel[at + 1], panel[at + 2], panel[at + 3]]);
    let (m_at, s_at) = header.conv_rq_at();
    let mut c = [[0i32; NR]; 3];
    for j in 0..NR {
        c[0][j] = match header {
            I8Header::Wide => word(4 * NR + 4 * j),
            I8Header::Compact => {
                let at = I8Header::SUM_W_AT + 2 * j;
                let sum_w = i16::from_le_bytes([panel[at], panel[at + 1]]);
                word(4 * j).wrapping_sub(128 * i32::from(sum_w))
            }
        };
        c[1][j] = word(m_at + 4 * j);
        c[2][j] = header.shift(&panel[s_at..], j).unwrap_or(0);
    }
    c
}

/// The requantization and store of one block (shared with `stem.rs`).
pub(crate) struct Store {
    pub(crate) rq: Rq,
    pub(crate) zp: __m512i,
    pub(crate) lo: __m512i,
    pub(crate) hi: __m512i,
    /// The panel's channels `0..mj` as a byte mask.
    pub(crate) cmask: u16,
    pub(crate) out_c: usize,
}

impl Store {
    /// The constants of a panel of `mj <= NJ` channels (`consts` of [`panel_consts`]).
    ///
    /// # Safety
    /// AVX-512 F/BW/VL (the caller's target features).
    #[inline(always)]
    pub(crate) unsafe fn new<const NJ: usize>(
        t: Vnni,
        consts: &[[i32; NR]; 3],
        out: &I8Out,
        mj: usize,
        out_c: usize,
    ) -> Store {
        // SAFETY: the caller's contract.
        unsafe {
            // The requantization lanes: channel `l % NJ` in lane `l`.
            let lanes = |v: &[i32; NR]| {
                let mut a = [0i32; NR];
                for (l, x) in a.iter_mut().enumerate() {
                    *x = v[l % NJ];
                }
                _mm512_loadu_si512(a.as_ptr().cast())
            };
            let zp = _mm512_set1_epi32(out.zero_point);
            Store {
                rq: I32Lanes::rq_zp(t, lanes(&consts[1]), lanes(&consts[2]), zp),
                zp,
                lo: _mm512_set1_epi32(out.act_min),
                hi: _mm512_set1_epi32(out.act_max),
                cmask: ((1u32 << mj) - 1) as u16,
                out_c,
            }
        }
    }
}

/// Transposes the `NJ` channel vectors of 16 pixels (`acc[j]` lane `l`: channel `j` of
/// pixel `l`) into pixel-major vectors (two pixels of 8 channels, or one of 16),
/// requantizes them, clamps and stores pixels `< n` from `yp` on (pixel stride
/// `out_c`, the panel's channels masked).
///
/// # Safety
/// AVX-512 F/BW/VL and VNNI; `yp` + pixel `l < n`'s `out_c`-byte stride holds the
/// panel's `mj` channels.
#[inline(always)]
pub(crate) unsafe fn store16<const NJ: usize>(
    t: Vnni,
    acc: &[__m512i; NJ],
    st: &Store,
    yp: *mut i8,
    n: usize,
) {
    // SAFETY: the caller's contract; stores write pixels `< n`, channels `< mj`.
    unsafe {
        // q[g][kq] 128-bit lane L: channels 4g..4g + 4 of pixel 4L + kq.
        let mut qv = [[_mm512_setzero_si512(); 4]; 4];
        for g in 0..NJ / 4 {
            let [a0, a1, a2, a3] = [acc[4 * g], acc[4 * g + 1], acc[4 * g + 2], acc[4 * g + 3]];
            let (t0, t1) = (_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
            let (t2, t3) = (_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
            qv[g] = [
                _mm512_unpacklo_epi64(t0, t2),
                _mm512_unpackhi_epi64(t0, t2),
                _mm512_unpacklo_epi64(t1, t3),
                _mm512_unpackhi_epi64(t1, t3),
            ];
        }
        let out_c = st.out_c;
        #[allow(clippy::needless_range_loop)]
        for kq in 0..4 {
            // (vector, first pixel of each NJ-lane group)
            let mut v = [(_mm512_setzero_si512(), [0usize; 2]); 4];
            let nv = if NJ == 8 {
                let (a, b) = (qv[0][kq], qv[1][kq]);
                let i0 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
                let i1 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
                v[0] = (_mm512_permutex2var_epi64(a, i0, b), [kq, 4 + kq]);
                v[1] = (_mm512_permutex2var_epi64(a, i1, b), [8 + kq, 12 + kq]);
                2
            } else {
                let [q0, q1, q2, q3] = [qv[0][kq], qv[1][kq], qv[2][kq], qv[3][kq]];
                let t0 = _mm512_shuffle_i32x4::<0x44>(q0, q1);
                let t1 = _mm512_shuffle_i32x4::<0xEE>(q0, q1);
                let t2 = _mm512_shuffle_i32x4::<0x44>(q2, q3);
                let t3 = _mm512_shuffle_i32x4::<0xEE>(q2, q3);
                v[0] = (_mm512_shuffle_i32x4::<0x88>(t0, t2), [kq, 0]);
                v[1] = (_mm512_shuffle_i32x4::<0xDD>(t0, t2), [4 + kq, 0]);
                v[2] = (_mm512_shuffle_i32x4::<0x88>(t1, t3), [8 + kq, 0]);
                v[3] = (_mm512_shuffle_i32x4::<0xDD>(t1, t3), [12 + kq, 0]);
                4
            };
            for &(a, px) in &v[..nv] {
                let r = I32Lanes::mbqm_zp(t, a, &st.rq, st.zp);
                let r = _mm512_min_epi32(st.hi, _mm512_max_epi32(st.lo, r));
                let b = _mm512_cvtsepi32_epi8(r);
                if px[0] < n {
                    _mm_mask_storeu_epi8(yp.add(px[0] * out_c), st.cmask, b);
                }
                if NJ == 8 && px[1] < n {
                    // Bytes 8..16 hold the second pixel: the store's base lies 8
                    // bytes before it, where only masked-off lanes would be.
                    let at = yp.add(px[1] * out_c).wrapping_sub(8);
                    _mm_mask_storeu_epi8(at, st.cmask << 8, b);
                }
            }
        }
    }
}

/// Each quad's vector-building steps for one panel: per step the two windows, the
/// `vpermt2b` index of their bytes as each slot's offset (byte `i`: `64·window + kx`,
/// to which lane `l` adds `l·sx`: [`lane_index`]) and the byte mask they fill.
struct Parts {
    n: usize,
    win: [[usize; 2]; 2 * MAX_Q],
    off: [u32; 2 * MAX_Q],
    mask: [u64; 2 * MAX_Q],
    /// The steps of quad `q` end at `end[q]`.
    end: [usize; MAX_Q],
}

impl Plan {
    fn parts(&self, sl: &Slots) -> Parts {
        let mut p = Parts {
            n: 0,
            win: [[0; 2]; 2 * MAX_Q],
            off: [0; 2 * MAX_Q],
            mask: [0; 2 * MAX_Q],
            end: [0; MAX_Q],
        };
        for q in 0..self.nq {
            // The quad's distinct windows, in order.
            let mut wins = [usize::MAX; 4];
            let mut nw = 0;
            for k in 4 * q..(4 * q + 4).min(self.len) {
                let w = slot(sl, k).0;
                if !wins[..nw].contains(&w) {
                    wins[nw] = w;
                    nw += 1;
                }
            }
            for pair in wins[..nw].chunks(2) {
                let at = p.n;
                p.win[at] = [pair[0], *pair.last().unwrap_or(&pair[0])];
                for k in 4 * q..(4 * q + 4).min(self.len) {
                    let (w, kx) = slot(sl, k);
                    let Some(src) = pair.iter().position(|&v| v == w) else {
                        continue;
                    };
                    let i = (k - 4 * q) & 3;
                    p.off[at] |= ((64 * src + kx) as u32 & 0xff) << (8 * i);
                    p.mask[at] |= 0x1111_1111_1111_1111 << i;
                }
                p.n += 1;
            }
            p.end[q] = p.n;
        }
        p
    }

    /// Each quad's 4 weights of channel `j` of `panel`, re-ordered to the plan's `k`.
    fn weights(&self, sl: &Slots, panel: &[u8], hlen: usize) -> [[i32; NR]; MAX_Q] {
        let mut w = [[0i32; NR]; MAX_Q];
        for (k, &[_, _, pk]) in sl.iter().enumerate().take(self.len) {
            let pk = usize::from(pk);
            let at = hlen + (pk / 4) * 4 * NR + pk % 4;
            let Some(bytes) = panel.get(at..at + 4 * (NR - 1) + 1) else {
                continue;
            };
            for (j, v) in w[k / 4].iter_mut().enumerate() {
                *v |= i32::from(bytes[4 * j]) << (8 * (k % 4));
            }
        }
        w
    }
}

/// Byte `4l + i` of the `vpermt2b` index: lane `l`'s column `l·sx` (`sx` 1 or 2).
///
/// # Safety
/// AVX-512 F/BW (the caller's target features).
#[inline(always)]
unsafe fn lane_index(sx: usize) -> __m512i {
    const L: [u8; 64] = {
        let mut a = [0u8; 64];
        let mut b = 0;
        while b < 64 {
            a[b] = (b / 4) as u8;
            b += 1;
        }
        a
    };
    // SAFETY: `L` holds 64 bytes; the caller's target features.
    unsafe {
        let v = _mm512_loadu_si512(L.as_ptr().cast());
        if sx == 2 {
            _mm512_add_epi8(v, v)
        } else {
            v
        }
    }
}

/// Output rows per band.
pub(crate) const BAND: usize = 8;

/// Padded rows per plane of a band of `n` output rows.
pub(crate) fn band_rows(s: &ConvShape, n: usize) -> usize {
    (n.max(1) - 1) * s.stride[0] + s.kernel[0]
}

/// The whole conv, per band of [`BAND`] output rows: `fill(top, rows, xq)` writes the
/// band's quantized rows into `xq` (plane `c`'s row `r`, image row `top + r`, at
/// `FRONT + (c·rows + r)·in_w`: int8 bytes, `x_zp` for a row outside the image), then the
/// kernel reads them. Does nothing when a length is short (the caller checked them).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    t: Vnni,
    s: &ConvShape,
    (plan, x_zp): (&Plan, i32),
    xq: &mut [i8],
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    mut fill: impl FnMut(isize, usize, &mut [i8]),
) {
    let (taps, c) = (s.taps(), s.in_c);
    let cq = if i8_flat(taps, c) { c } else { 4 };
    let hlen = out.header.conv_len();
    let panel_len = hlen + (taps * cq).div_ceil(4) * 4 * NR;
    let rows = band_rows(s, BAND.min(s.out_h));
    let ok = vbmi()
        && Plan::new(s).is_some_and(|p| p.rw == plan.rw && p.len == plan.len)
        && plan.scratch_len(c, rows).is_some_and(|n| n <= xq.len())
        && y.len() >= s.out_h * s.out_w * s.out_c
        && packed.len() >= s.out_c.div_ceil(NR) * panel_len;
    if !ok {
        return;
    }
    // SAFETY: `t` and `vbmi()`; the lengths checked above.
    unsafe {
        run_vnni(
            t,
            s,
            (plan, x_zp as i8),
            xq,
            (packed, panel_len),
            out,
            y,
            &mut fill,
        )
    }
}

/// [`run`] after its checks.
///
/// # Safety
/// VNNI and VBMI; the lengths [`run`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn run_vnni(
    t: Vnni,
    s: &ConvShape,
    (plan, x_zp): (&Plan, i8),
    xq: &mut [i8],
    (packed, panel_len): (&[u8], usize),
    out: &I8Out,
    y: &mut [i8],
    fill: &mut dyn FnMut(isize, usize, &mut [i8]),
) {
    let (hlen, c) = (out.header.conv_len(), s.in_c);
    let sl = plan.slots(s);
    let parts = plan.parts(&sl);
    // Each panel's weights and constants, the first one's kept (most stems have one).
    let consts = |p: usize| {
        let panel = &packed[p * panel_len..][..panel_len];
        let mj = (s.out_c - p * NR).min(NR);
        let k = panel_consts(panel, out.header);
        // SAFETY: AVX-512 is enabled.
        let st = unsafe {
            if mj <= 8 {
                Store::new::<8>(t, &k, out, mj, s.out_c)
            } else {
                Store::new::<16>(t, &k, out, mj, s.out_c)
            }
        };
        (plan.weights(&sl, panel, hlen), k[0], st, mj)
    };
    let first = consts(0);
    let row_out = s.out_w * s.out_c;
    // The first and last blocks' bytes that read the padding columns.
    let last = (s.out_w - 1) / 16 * 16;
    let mut edge = [[0u64; MAX_Q]; 2];
    for (e, ox0) in edge.iter_mut().zip([0, last]) {
        for (q, m) in e.iter_mut().enumerate().take(plan.nq) {
            *m = plan.pad_mask(s, &sl, ox0, q);
        }
    }
    for r0 in (0..s.out_h).step_by(BAND) {
        let r1 = (r0 + BAND).min(s.out_h);
        let band = ConvShape {
            out_h: r1 - r0,
            ..*s
        };
        let rows = band_rows(s, r1 - r0);
        let top = (r0 * s.stride[0]) as isize - s.pad[0] as isize;
        fill(top, rows, &mut xq[..FRONT + rows * plan.rw * c]);
        let yb = &mut y[r0 * row_out..r1 * row_out];
        for p in 0..s.out_c.div_ceil(NR) {
            let other;
            let (w, bias, st, mj) = match p {
                0 => &first,
                _ => {
                    other = consts(p);
                    &other
                }
            };
            let k = Band {
                s: &band,
                plan,
                parts: &parts,
                rows,
                x_zp,
                last,
                edge: &edge,
                xq,
                w,
                bias,
                p,
            };
            // SAFETY: `xq` holds `scratch_len(c, rows)` bytes (the band's rows and the
            // loads' span), `yb` the band's output rows, the panel lies in `packed`.
            unsafe {
                if *mj <= 8 {
                    panel_run::<8>(t, &k, st, yb);
                } else {
                    panel_run::<16>(t, &k, st, yb);
                }
            }
        }
    }
}

/// One panel's inputs of [`panel_run`].
struct Band<'a> {
    s: &'a ConvShape,
    plan: &'a Plan,
    parts: &'a Parts,
    rows: usize,
    x_zp: i8,
    /// The last block's first pixel, and the first and last blocks' bytes (per quad)
    /// that read a padding column.
    last: usize,
    edge: &'a [[u64; MAX_Q]; 2],
    xq: &'a [i8],
    w: &'a [[i32; NR]; MAX_Q],
    bias: &'a [i32; NR],
    p: usize,
}

/// The band's channels of panel `k.p` (see the module docs).
///
/// # Safety
/// As [`run`] checked: VNNI and VBMI, `k.xq` of the band's rows plus [`FRONT`] and the tail, `y`
/// the band's output rows.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma")]
unsafe fn panel_run<const NJ: usize>(t: Vnni, k: &Band<'_>, st: &Store, y: &mut [i8]) {
    let (s, plan, parts) = (k.s, k.plan, k.parts);
    let (c, sx, sy, rw) = (s.in_c, s.stride[1], s.stride[0], plan.rw);
    // SAFETY (block): the caller's contract: each window load reads bytes
    // `base..base + 64` from `FRONT − pad[1] >= 0` plus a row's start plus `ox0·sx`
    // (`xq` has the plan's tail after its last row); the stores write the band's
    // pixels `< n`.
    unsafe {
        let lanes = lane_index(sx);
        let xp = k.xq.as_ptr();
        let flip = _mm512_set1_epi8(-128);
        let yp = y.as_mut_ptr();
        // Each step's two windows as byte offsets from output row `oy`'s first row.
        let mut offs = [[0usize; 2]; 2 * MAX_Q];
        for (o, w) in offs.iter_mut().zip(&parts.win).take(parts.n) {
            *o = w.map(|wi| FRONT - s.pad[1] + ((wi % c) * k.rows + wi / c) * rw);
        }
        let (last, edge) = (k.last, k.edge);
        let zpv = _mm512_set1_epi8(k.x_zp);
        // One step per quad (a kernel row of 3 or more taps): no blends.
        let single = parts.n == plan.nq;
        for oy in 0..s.out_h {
            let rp = xp.add(oy * sy * rw);
            for ox0 in (0..s.out_w).step_by(16) {
                let n = (s.out_w - ox0).min(16);
                let row = rp.add(ox0 * sx);
                let mut acc = [_mm512_setzero_si512(); NJ];
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_set1_epi32(k.bias[j]);
                }
                let mut pi = 0;
                for (q, wq) in k.w.iter().enumerate().take(plan.nq) {
                    let v = if single {
                        let [oa, ob] = offs[q];
                        let a = _mm512_loadu_si512(row.add(oa).cast());
                        let b = _mm512_loadu_si512(row.add(ob).cast());
                        let iq = _mm512_add_epi8(lanes, _mm512_set1_epi32(parts.off[q] as i32));
                        _mm512_permutex2var_epi8(a, iq, b)
                    } else {
                        let mut v = _mm512_setzero_si512();
                        let first = if q == 0 { 0 } else { parts.end[q - 1] };
                        while pi < parts.end[q] {
                            let [oa, ob] = offs[pi];
                            let a = _mm512_loadu_si512(row.add(oa).cast());
                            let b = _mm512_loadu_si512(row.add(ob).cast());
                            let ip =
                                _mm512_add_epi8(lanes, _mm512_set1_epi32(parts.off[pi] as i32));
                            let g = _mm512_permutex2var_epi8(a, ip, b);
                            v = if pi == first {
                                g
                            } else {
                                _mm512_mask_blend_epi8(parts.mask[pi], v, g)
                            };
                            pi += 1;
                        }
                        v
                    };
                    let v = match (ox0 == 0, ox0 == last) {
                        (false, false) => v,
                        (true, false) => _mm512_mask_mov_epi8(v, edge[0][q], zpv),
                        (false, true) => _mm512_mask_mov_epi8(v, edge[1][q], zpv),
                        (true, true) => _mm512_mask_mov_epi8(v, edge[0][q] | edge[1][q], zpv),
                    };
                    // The int8 bytes as `x + 128`.
                    let v = _mm512_xor_si512(v, flip);
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_dpbusd_epi32(*a, v, _mm512_set1_epi32(wq[j]));
                    }
                }
                let at = (oy * s.out_w + ox0) * s.out_c + k.p * NR;
                store16::<NJ>(t, &acc, st, yp.add(at), n);
            }
        }
    }
}
