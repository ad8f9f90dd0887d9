//! The dense int8 1×1 conv of the kernels with [`I8Dot::U8_INPUT`] (AVX-512 VNNI):
//! the input flipped (`x + 128`) once per block of pixels into a stack buffer, so
//! that the dot loop broadcasts each quad from memory ([`I8Dot::a_flipped`]) instead
//! of a load, an xor and a broadcast from a general register per quad. A separate
//! entry ([`i8_conv_flipped`]) so that [`super::conv::i8_conv`]'s code is unchanged,
//! instantiated twice: with the fused residual Add and without it (in one function
//! the residual's code made both slower). Its whole tiles store through
//! [`I8Epi::store_rows_plain`]; 8-output layers requantize two pixels per vector
//! ([`I8Conv::epilogue_pair8`]).

#![allow(unsafe_code)]

use core::mem::MaybeUninit;
use core::ptr;

use super::conv::{i8_conv_operands, i8_zero_point, I8Conv};
use super::geom::{Geom, RowPlan, MAX_TAPS};
use super::i8epi::{I8Epi, Store};
use super::i8tile::{flip, i8_tile, FLIP_BYTES};
use super::lanes::I8Dot;
use crate::kernels::engine::types::{ConvShape, I8Out, NR};
use crate::{Error, Result};

/// Whether [`i8_conv_flipped`] runs this conv: `L` multiplies `x + 128`, one tap,
/// stride 1, no padding, the output the input's size, `C` a multiple of 4, `MR`
/// pixels fit the buffer (with or without a fused residual). Constant `false` for
/// the other ISAs.
#[inline(always)]
pub(crate) fn flipped_applies<L: I8Dot, const MR: usize>(s: &ConvShape, out: &I8Out) -> bool {
    let _ = out;
    L::U8_INPUT
        && Geom::new(s).is_ok_and(|g| {
            g.taps == 1
                && g.sh == 1
                && g.sw == 1
                && g.pt == 0
                && g.pl == 0
                && g.ih == g.oh
                && g.iw == g.ow
                && g.c % 4 == 0
                && g.c * MR <= FLIP_BYTES
        })
}

/// Whether the packed instance of [`i8_conv_flipped`] (`PACK`) serves a conv without
/// a residual Add that [`flipped_applies`] accepts: 16 or 32 outputs (VWW's 1×1
/// convs), each pixel's outputs whole zmm lanes. A separate instance so that the
/// other convs' code is unchanged (in the same function the packed path made the
/// 8-output projections 5–10 % slower). Not for 48 outputs (MobileNetV2's 8→48
/// expansions, 3 panels of 4-pixel tiles): those convs ran 6–7 % faster, but the
/// whole MobileNetV2 run 1.7 % slower, every other op 1–3 % slower while they ran
/// the packed path (and not with the path built but unused). Nor for 64 (four
/// panels of 4-pixel tiles: 6–10 % slower than the pairs of panels of 8 pixels).
#[inline(always)]
pub(crate) fn packed_applies(s: &ConvShape) -> bool {
    s.out_c == NR || s.out_c == 2 * NR
}

/// [`super::conv::i8_conv`] of a conv [`flipped_applies`] accepts (the same bytes);
/// `RES` says whether `out` has a fused residual (`Unsupported` otherwise), so that
/// the instance without one has no residual code.
///
/// # Safety
/// The CPU supports the instructions of `L`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn i8_conv_flipped<
    L: I8Dot,
    const MR: usize,
    const MT: usize,
    const RES: bool,
    const PACK: bool,
>(
    l: L,
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    let g = Geom::new(s)?;
    if !flipped_applies::<L, MR>(s, out) || out.residual.is_some() != RES || (PACK && RES) {
        return Err(Error::Unsupported);
    }
    let (panel_len, zero) = i8_conv_operands(&g, x, x_zp, packed, out, y.len(), scratch)?;
    i8_zero_point(x_zp)?;
    let cx = I8Conv {
        l,
        plan: RowPlan::new(&g),
        g,
        x: x.as_ptr(),
        zero,
        w: packed.as_ptr(),
        panel_len,
        header: out.header,
        epi: I8Epi::new_if(l, out, RES),
        y: y.as_mut_ptr(),
        flat: false,
        row_quads: false,
        offset: !RES,
    };
    let panels = g.n.div_ceil(NR);
    let mut ptrs = [[ptr::null::<i8>(); MR]; MAX_TAPS];
    // Blocks of pixels flipped once into `fb`, long before the dot loop broadcasts
    // their quads; every panel per block. Only the block's bytes are written.
    let mut fb = [const { MaybeUninit::<i8>::uninit() }; FLIP_BYTES];
    let block = FLIP_BYTES / g.c / MR * MR;
    let mut m = 0;
    while m < g.pixels {
        let n = block.min(g.pixels - m);
        flip(
            x.get(m * g.c..(m + n) * g.c).ok_or(Error::Unsupported)?,
            &mut fb,
        );
        let span = (m, n, fb.as_ptr().cast::<i8>());
        let mut p = 0;
        // SAFETY (both blocks): the slices were checked against the shape above;
        // `fb` holds the `n` pixels from `m` (written by `flip`); dense, `C % 4 == 0`.
        // The packed instance: all the panels at once, each tile's outputs one run
        // of bytes ([`I8Conv::panels_packed`]).
        if PACK && packed_applies(s) {
            let ptrs = &mut ptrs;
            let all = unsafe {
                match panels {
                    1 => cx.panels_packed::<MR, 8, 1>(ptrs, span),
                    _ => cx.panels_packed::<MR, 8, 2>(ptrs, span),
                }
            };
            if all {
                p = panels;
            }
        }
        while p < panels {
            unsafe {
                if L::PANEL_PAIRS && p + 1 < panels {
                    cx.panels_1x1::<MR, MT, 2, true>(p, &mut ptrs, span);
                    p += 2;
                } else {
                    cx.panels_1x1::<MR, MT, 1, true>(p, &mut ptrs, span);
                    p += 1;
                }
            }
        }
        m += n;
    }
    Ok(())
}

impl<L: I8Dot> I8Conv<L> {
    /// All the `P` panels of a layer of `16·P` outputs over the dense flipped span
    /// `m_lo..m_lo + count` (pixel `m` at `src + (m − m_lo)·C`) when every panel
    /// stores in the offset form ([`Store::U`]): each whole `R`-pixel tile's `R·P`
    /// vectors of 16 outputs, one run of `R·P·16` bytes in memory, requantized and
    /// stored 64 bytes at a time ([`I8Epi::store_u4`]). The span's last
    /// `count % R` pixels are stored row by row ([`I8Epi::store_rows_u`]). Returns `false`, having
    /// done nothing, when some panel does not store in the offset form (or `R > MR`).
    /// The same arithmetic as [`I8Epi::store_rows_u`]'s: the same bytes.
    ///
    /// # Safety
    /// As [`I8Conv::panels_1x1`] with `FLIP`; no residual Add; `R·P` a multiple of 4.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn panels_packed<const MR: usize, const R: usize, const P: usize>(
        &self,
        ptrs: &mut [[*const i8; MR]; MAX_TAPS],
        (m_lo, count, src): (usize, usize, *const i8),
    ) -> bool {
        let (l, g) = (self.l, &self.g);
        let p = 0;
        if R > MR || P * NR != g.n {
            return false;
        }
        // SAFETY: caller's contract: the panels, pixels, rows and output rows exist.
        unsafe {
            let (b, m, s) = self.consts_raw(p);
            let mut consts = [(b, self.epi.rq(l, m, s)); P];
            for (j, c) in consts.iter_mut().enumerate() {
                if j > 0 {
                    let (b, m, s) = self.consts_raw(p + j);
                    *c = (b, self.epi.rq(l, m, s));
                }
                if self.store_how(c, p + j, false) != Store::U {
                    return false;
                }
            }
            let w: [*const i8; P] = core::array::from_fn(|j| {
                self.w
                    .add((p + j) * self.panel_len + self.header.conv_len())
                    .cast::<i8>()
            });
            let mut t = 0;
            while t < count {
                let rows = R.min(count - t);
                for (r, a) in ptrs[0].iter_mut().enumerate().take(R) {
                    *a = src.add((t + r.min(rows - 1)) * g.c);
                }
                // From the bias rows where the ISA allows (one add fewer per vector).
                let mut acc = [[l.zero(); R]; P];
                for (a, c) in acc.iter_mut().zip(&consts) {
                    *a = [l.acc_from(c.0).unwrap_or(l.zero()); R];
                }
                let bias = |j: usize| match l.acc_from(consts[j].0) {
                    Some(_) => l.splat(0),
                    None => consts[j].0,
                };
                i8_tile::<_, MR, R, P, true>(l, &ptrs[..1], g.c, w, &mut acc);
                if rows < R {
                    // The span's last pixels: row by row, as the other entry's.
                    for (j, acc) in acc.iter().enumerate() {
                        let mut v = [consts[j].0; R];
                        for (v, &a) in v.iter_mut().zip(acc) {
                            *v = l.add(l.finish(a), bias(j));
                        }
                        let at = ((m_lo + t) * g.n + (p + j) * NR, g.n);
                        self.epi
                            .store_rows_u(l, v, rows, &consts[j].1, self.y, at, NR);
                    }
                    break;
                }
                // Vector `i = r·P + j`: pixel `r`, panel `j`, in the order of memory.
                for k in 0..R * P / 4 {
                    let mut v = [consts[0].0; 4];
                    let mut rq = [&consts[0].1; 4];
                    let mut at = [0; 4];
                    for e in 0..4 {
                        let (r, j) = ((4 * k + e) / P, (4 * k + e) % P);
                        v[e] = match l.acc_from(consts[j].0) {
                            Some(_) => l.finish(acc[j][r]),
                            None => l.add(l.finish(acc[j][r]), consts[j].0),
                        };
                        rq[e] = &consts[j].1;
                        at[e] = (m_lo + t + r) * g.n + (p + j) * NR;
                    }
                    self.epi.store_u4(l, v, rq, self.y, at[0]);
                }
                t += R;
            }
        }
        true
    }
}

/// Pixel pairs of [`I8Conv::epilogue_pair8`] requantized together (one
/// [`I8Epi::store_rows`] call): four pairs, eight pixels.
const PAIRS_PER_STORE: usize = 4;

impl<L: I8Dot> I8Conv<L> {
    /// [`I8Conv::consts`] of the only panel of an 8-channel layer, lanes 0–7 repeated
    /// in lanes 8–15 ([`I8Dot::pair8`]): the constants of two pixels per vector.
    ///
    /// # Safety
    /// Panel 0 exists.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn consts_pair8(&self) -> (L::V, L::Rq) {
        let l = self.l;
        // SAFETY: caller's contract.
        let (b, m, s) = unsafe { self.consts_raw(0) };
        (l.pair8(b, b), self.epi.rq(l, l.pair8(m, m), l.pair8(s, s)))
    }

    /// How the flipped entry stores panel `p`'s tiles (`pairs`: two pixels per
    /// vector, [`I8Conv::consts_pair8`]): in the instance without a residual Add
    /// ([`I8Conv::offset`]) and without `pairs`, in the offset form where it applies
    /// ([`super::lanes::I32Lanes::rq_u`]; `bias` then gets `i32::MIN` added), else
    /// [`I8Epi::store_rows_plain`] where [`I8Epi::plain`], else
    /// [`I8Epi::store_rows`].
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) fn store_how(&self, (bias, rq): &mut (L::V, L::Rq), p: usize, pairs: bool) -> Store {
        let (l, g) = (self.l, &self.g);
        let nc = NR.min(g.n - p * NR);
        if self.offset && !pairs && l.rq_u(rq, *bias, nc, g.c) {
            *bias = l.add(*bias, l.splat(i32::MIN));
            Store::U
        } else if self.epi.plain() {
            Store::Plain
        } else {
            Store::Rows
        }
    }

    /// The epilogue of the `rows` accumulators of pixels `m0..` of an 8-channel layer
    /// (one panel): pixels `2i` and `2i + 1` joined in one vector ([`I8Dot::pair8`]),
    /// whose 16 outputs (and residual inputs) are contiguous, so each requantization
    /// and residual Add serves two pixels. `bias` and `rq` from
    /// [`I8Conv::consts_pair8`]. Each lane is the same arithmetic as
    /// [`I8Conv::epilogue`]'s: the same bytes.
    ///
    /// # Safety
    /// Pixels `m0..m0 + rows` exist; the layer has 8 output channels.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn epilogue_pair8<const R: usize>(
        &self,
        acc: [L::Acc; R],
        m0: usize,
        rows: usize,
        (bias, rq): (&L::V, &L::Rq),
        how: Store,
    ) {
        let (l, n) = (self.l, NR / 2);
        let mut v = [*bias; R];
        for i in 0..R / 2 {
            v[i] = l.add(
                l.pair8(l.finish(acc[2 * i]), l.finish(acc[2 * i + 1])),
                *bias,
            );
        }
        if R % 2 == 1 {
            v[R / 2] = l.add(l.finish(acc[R - 1]), *bias);
        }
        // SAFETY: caller's contract: output (and residual) rows `m0..m0 + rows` of 8
        // elements lie inside `y` (and the residual).
        unsafe {
            if rows == R && R % (2 * PAIRS_PER_STORE) == 0 {
                for c in 0..R / (2 * PAIRS_PER_STORE) {
                    let mut w = [v[0]; PAIRS_PER_STORE];
                    for (k, w) in w.iter_mut().enumerate() {
                        *w = v[c * PAIRS_PER_STORE + k];
                    }
                    let at = (m0 + 2 * PAIRS_PER_STORE * c) * n;
                    let (rows, at) = (PAIRS_PER_STORE, (at, NR));
                    match how == Store::Plain {
                        true => self.epi.store_rows_plain(l, w, rows, rq, self.y, at, NR),
                        false => self.epi.store_rows(l, w, rows, rq, self.y, at, NR),
                    }
                }
            } else {
                for (i, &v) in v.iter().enumerate().take(R.div_ceil(2)) {
                    let at = (m0 + 2 * i) * n;
                    if 2 * i + 1 < rows {
                        self.epi.store(l, v, rq, self.y, at, NR);
                    } else if 2 * i < rows {
                        self.epi.store(l, v, rq, self.y, at, n);
                    }
                }
            }
        }
    }
}
