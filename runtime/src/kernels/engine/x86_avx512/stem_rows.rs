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
//! requantizes and stores (for exactly 8 channels [`store16_c8`], for exactly 16 in
//! the offset form [`store16_c16`]: 64-byte stores).

use core::arch::x86_64::*;

use super::super::pack::i8_flat;
use super::super::types::{ConvShape, I8Out, NR};
use super::stem_store::{store16, store16_c16, store16_c8, Store};
use super::{vbmi, Vnni};

/// The most quads (groups of 4 `k`) per output channel.
const MAX_Q: usize = 16;
/// The most windows (kernel rows × channels).
const MAX_W: usize = 64;
/// The bytes before the first row (the first block's loads start `pad[1] <= 16` bytes
/// before a row).
pub(crate) const FRONT: usize = 64;

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
    /// The shape the plan is for.
    s: ConvShape,
}

impl Plan {
    /// The plan of `s`, or `None` when the kernel does not take it: 1–4 channels,
    /// dilation 1, horizontal stride 1 or 2, a 16-pixel block's taps within a 64-byte
    /// window (`15·sx + kw <= 64`), at most [`MAX_Q`] quads, a left padding of at most
    /// 16 columns, and the right padding read by the last block only. Geometry only
    /// (the caller checks the CPU). Inlined: the caller then builds the plan in place
    /// (no copy out of the `Option`).
    #[inline]
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
        Some(Plan {
            rw,
            tail,
            nq,
            s: *s,
        })
    }

    /// Bytes of scratch for `rows` padded rows of each of `c` planes: [`FRONT`] bytes,
    /// the rows, the last loads' tail.
    pub(crate) fn scratch_len(&self, c: usize, rows: usize) -> Option<usize> {
        rows.checked_mul(self.rw)?
            .checked_mul(c)?
            .checked_add(FRONT + self.tail)
    }

    /// The gather steps of every quad into `p` (zeroed): the `k` counted in the order
    /// (ky, c, kx), 4 per quad, without divisions. The window `ky·C + c` does not
    /// decrease along the `k`: a quad's windows are `w0..=w0 + 3` at most, slot `i`
    /// in step `(w − w0) / 2`, source `(w − w0) % 2`.
    fn parts(&self, s: &ConvShape, p: &mut Parts) {
        let ([kh, kw], c) = (s.kernel, s.in_c);
        let len = kh * c * kw;
        // The next `k`'s window, column, channel and kernel row (counted on, no
        // divisions), and the steps so far.
        let (mut w, mut kx, mut ci, mut ky, mut n) = (0usize, 0usize, 0usize, 0usize, 0usize);
        for q in 0..self.nq {
            // A quad's windows are `w0..=w0 + 3`: at most 2 steps, built in registers
            // and written once.
            let w0 = w;
            let (mut kxq, mut steps) = (0u32, 0usize);
            // Per step: its windows, index bytes and byte mask.
            let (mut win, mut off, mut mask) = ([0u32; 2], [0u32; 2], [0u64; 2]);
            for i in 0..4 {
                if 4 * q + i >= len {
                    break;
                }
                let (d, cy) = (w - w0, (ci | ky << 8) as u32);
                let (bits, m) = (
                    ((64 * (d % 2) + kx) as u32 & 0xff) << (8 * i),
                    0x1111_1111_1111_1111 << i,
                );
                // (`d <= 3`: the step is 0 or 1, kept in registers.)
                let (wv, ov, mv) = if d < 2 {
                    (&mut win[0], &mut off[0], &mut mask[0])
                } else {
                    (&mut win[1], &mut off[1], &mut mask[1])
                };
                if d / 2 >= steps {
                    // A step's first window: both sources until a second one comes.
                    steps = d / 2 + 1;
                    *wv = cy | cy << 16;
                } else if d % 2 == 1 {
                    *wv = (*wv & 0xffff) | cy << 16;
                }
                kxq |= (kx as u32) << (8 * i);
                *ov |= bits;
                *mv |= m;
                kx += 1;
                if kx == kw {
                    (kx, w, ci) = (0, w + 1, ci + 1);
                    if ci == c {
                        (ci, ky) = (0, ky + 1);
                    }
                }
            }
            p.kx[q] = kxq;
            for st in 0..steps {
                (p.win[n + st], p.off[n + st], p.mask[n + st]) = (win[st], off[st], mask[st]);
            }
            n += steps;
            p.end[q] = n as u8;
        }
        p.n = n;
    }
}

/// Each quad's vector-building steps for one panel: per step the two windows, the
/// `vpermt2b` index of their bytes as each slot's offset (byte `i`: `64·window + kx`,
/// to which lane `l` adds `l·sx`: [`lane_index`]) and the byte mask they fill.
struct Parts {
    n: usize,
    /// Each step's two windows as (channel, kernel row): bytes 0, 1 and 2, 3.
    win: [u32; 2 * MAX_Q],
    off: [u32; 2 * MAX_Q],
    mask: [u64; 2 * MAX_Q],
    /// The steps of quad `q` end at `end[q]`.
    end: [u8; MAX_Q],
    /// Byte `i`: the column `kx` of quad `q`'s slot `i`.
    kx: [u32; MAX_Q],
}

/// Each quad's 4 weights of channel `j` of the panel at `panel` (its header's
/// `hlen` bytes, then the packed `k` of the flat layout with `cq` slots per tap),
/// re-ordered to the plan's `k` (zero after the last): slot `k` is packed `k`
/// `pk = (ky·kw + kx)·cq + c`, byte `pk % 4` of each channel's word in quad `pk / 4`,
/// moved by one `vpermb` per slot.
///
/// # Safety
/// AVX-512 F/BW and VBMI; `panel` holds the panel.
#[inline(always)]
unsafe fn weights(s: &ConvShape, panel: *const u8, cq: usize, w: &mut [[i32; NR]; MAX_Q]) {
    // SAFETY: each load reads packed quad `pk / 4` of the `taps·cq` the panel holds.
    unsafe {
        let ([kh, kw], c) = (s.kernel, s.in_c);
        // Byte `4j + i`: `4j`, the first byte of channel `j`'s word (`j <= 15`: the
        // 32-bit shift moves no bit across a byte).
        let words = _mm512_slli_epi32::<2>(lane_index(1));
        let mut cur = _mm512_setzero_si512();
        let mut k = 0;
        for ky in 0..kh {
            for ci in 0..c {
                for kx in 0..kw {
                    let pk = (ky * kw + kx) * cq + ci;
                    let src = _mm512_loadu_si512(panel.add((pk >> 2) * 4 * NR).cast());
                    let idx = _mm512_add_epi8(words, _mm512_set1_epi8((pk & 3) as i8));
                    // Each slot's bytes apart (no chain through the merges).
                    let m = 0x1111_1111_1111_1111u64 << (k & 3);
                    cur = _mm512_or_si512(cur, _mm512_maskz_permutexvar_epi8(m, idx, src));
                    k += 1;
                    if k & 3 == 0 {
                        _mm512_storeu_si512(w[(k >> 2) - 1].as_mut_ptr().cast(), cur);
                        cur = _mm512_setzero_si512();
                    }
                }
            }
        }
        if k & 3 != 0 {
            _mm512_storeu_si512(w[k >> 2].as_mut_ptr().cast(), cur);
        }
    }
}

/// Byte `4l + i` of the `vpermt2b` index: lane `l`'s column `l·sx` (`sx` 1 or 2).
///
/// # Safety
/// AVX-512 F/BW (the caller's target features).
#[inline(always)]
pub(crate) unsafe fn lane_index(sx: usize) -> __m512i {
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
    (plan, x_zp): (&Plan, i32),
    xq: &mut [i8],
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    mut fill: impl FnMut(isize, usize, &mut [i8]),
) {
    let s = &plan.s;
    let (taps, c) = (s.taps(), s.in_c);
    let cq = if i8_flat(taps, c) { c } else { 4 };
    let panel_len = out.header.conv_len() + (taps * cq).div_ceil(4) * 4 * NR;
    let rows = band_rows(s, BAND.min(s.out_h));
    let ok = vbmi()
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
            (plan, x_zp as i8),
            xq,
            (packed, panel_len, cq),
            out,
            y,
            &mut fill,
        )
    }
}

/// One panel's re-ordered weights and `bias_u8` row.
struct Panel {
    w: [[i32; NR]; MAX_Q],
    bias: [i32; NR],
}

impl Panel {
    /// Panel `p` of `packed` (`panel_len` bytes each, `cq` slots per tap) into `self`,
    /// and its store constants and channel count.
    ///
    /// # Safety
    /// AVX-512 F/BW/VL, VNNI and VBMI; `packed` holds panel `p`.
    #[inline(always)]
    unsafe fn load(
        &mut self,
        t: Vnni,
        s: &ConvShape,
        (packed, panel_len, cq): (&[u8], usize, usize),
        out: &I8Out,
        p: usize,
    ) -> (Store, usize) {
        // SAFETY: the caller's contract.
        unsafe {
            let panel = packed.as_ptr().add(p * panel_len);
            let mj = (s.out_c - p * NR).min(NR);
            let k = s.taps() * s.in_c;
            let (st, b) = if mj <= 8 {
                Store::load::<8>(t, panel, out.header, out, (mj, s.out_c, k))
            } else {
                Store::load::<16>(t, panel, out.header, out, (mj, s.out_c, k))
            };
            _mm512_storeu_si512(self.bias.as_mut_ptr().cast(), b);
            // (Every quad the kernel reads is written.)
            weights(s, panel.add(out.header.conv_len()), cq, &mut self.w);
            (st, mj)
        }
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
    (plan, x_zp): (&Plan, i8),
    xq: &mut [i8],
    panels: (&[u8], usize, usize),
    out: &I8Out,
    y: &mut [i8],
    fill: &mut dyn FnMut(isize, usize, &mut [i8]),
) {
    let s = &plan.s;
    let (c, sx) = (s.in_c, s.stride[1]);
    let mut parts = Parts {
        n: 0,
        win: [0; 2 * MAX_Q],
        off: [0; 2 * MAX_Q],
        mask: [0; 2 * MAX_Q],
        end: [0; MAX_Q],
        kx: [0; MAX_Q],
    };
    plan.parts(s, &mut parts);
    // The panel's weights and constants: the first one's kept (most stems have one),
    // the others' loaded per band.
    let mut pn = Panel {
        w: [[0; NR]; MAX_Q],
        bias: [0; NR],
    };
    let np = s.out_c.div_ceil(NR);
    // SAFETY: `run` checked that `packed` holds every panel.
    let (mut st, mut mj) = unsafe { pn.load(t, s, panels, out, 0) };
    let row_out = s.out_w * s.out_c;
    // The first and last blocks' bytes that read the padding columns: lane `l`'s slot
    // `i` reads column `ox0·sx − pad + rel`, `rel = l·sx + kx_i` (at most 93), left
    // of the row when `rel < pad − ox0·sx`, right of it from `rw + pad − ox0·sx` on.
    let last = (s.out_w - 1) / 16 * 16;
    let mut edge = [[0u64; MAX_Q]; 2];
    // SAFETY: register-only operations.
    unsafe {
        let lanes = lane_index(sx);
        for (e, ox0) in edge.iter_mut().zip([0, last]) {
            let base = (ox0 * sx) as isize - s.pad[1] as isize;
            let lo = _mm512_set1_epi8((-base).clamp(0, 255) as u8 as i8);
            let hi = _mm512_set1_epi8((plan.rw as isize - base).clamp(0, 255) as u8 as i8);
            for (m, &kx) in e.iter_mut().zip(&parts.kx).take(plan.nq) {
                let rel = _mm512_add_epi8(lanes, _mm512_set1_epi32(kx as i32));
                *m = _mm512_cmplt_epu8_mask(rel, lo) | _mm512_cmpge_epu8_mask(rel, hi);
            }
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
        for p in 0..np {
            if np > 1 {
                // SAFETY: as for the first panel.
                (st, mj) = unsafe { pn.load(t, s, panels, out, p) };
            }
            let k = Band {
                s: &band,
                plan,
                parts: &parts,
                rows,
                x_zp,
                last,
                edge: &edge,
                xq,
                w: &pn.w,
                bias: &pn.bias,
                p,
            };
            // SAFETY: `xq` holds `scratch_len(c, rows)` bytes (the band's rows and the
            // loads' span), `yb` the band's output rows, the panel lies in `packed`.
            unsafe {
                match (mj <= 8, st.u) {
                    (true, false) => panel_run::<8, false>(t, &k, &st, yb),
                    (true, true) => panel_run::<8, true>(t, &k, &st, yb),
                    (false, false) => panel_run::<16, false>(t, &k, &st, yb),
                    (false, true) => panel_run::<16, true>(t, &k, &st, yb),
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
unsafe fn panel_run<const NJ: usize, const U: bool>(
    t: Vnni,
    k: &Band<'_>,
    st: &Store,
    y: &mut [i8],
) {
    let (s, plan, parts) = (k.s, k.plan, k.parts);
    let (sx, sy, rw) = (s.stride[1], s.stride[0], plan.rw);
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
            *o = [*w, *w >> 16].map(|cy| {
                let (ci, ky) = ((cy & 0xff) as usize, (cy >> 8 & 0xff) as usize);
                FRONT - s.pad[1] + (ci * k.rows + ky) * rw
            });
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
                        let first = if q == 0 { 0 } else { parts.end[q - 1].into() };
                        while pi < parts.end[q].into() {
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
                if NJ == 8 && s.out_c == 8 {
                    let acc8 = &*acc.as_ptr().cast::<[__m512i; 8]>();
                    store16_c8::<U>(t, acc8, st, yp.add(at), n);
                } else if U && NJ == 16 && s.out_c == 16 {
                    let acc16 = &*acc.as_ptr().cast::<[__m512i; 16]>();
                    store16_c16::<U>(t, acc16, st, yp.add(at), n);
                } else {
                    store16::<NJ, U>(t, &acc, st, yp.add(at), n);
                }
            }
        }
    }
}
