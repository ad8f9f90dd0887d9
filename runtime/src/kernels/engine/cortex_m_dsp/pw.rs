//! The pointwise conv's fast path: a 1×1 kernel at stride 1 without padding, `C` a
//! multiple of 4, every channel with the short requantization, the clamp to the whole
//! i8 range and no fused residual (the 1×1 layers of MobileNet-style models and of
//! KWS DS-CNN).
//!
//! Output pixel `m` reads the input row `x + m·C`, so the tiles of 2 pixels need no
//! row pointers. Per pair of output channels, their bias, multiplier,
//! rounding-plus-zero-point term and shift are read from the panel header once; then
//! per pair of pixels the `SMLAD` block ([`groups_2x2`]) gives 4 sums and the short
//! epilogue stores 4 bytes. With few input channels (VWW's `8 → 16` and `16 → 32`
//! layers) the per-output work is most of the layer, which is why it is kept short.

use super::super::frame::geom::Geom;
use super::super::frame::i8_conv_operands;
use super::super::types::{ConvShape, I8Header, I8Out, NR};
use super::conv::{self, fast_panel, groups_2x2};
use super::epi::FastRq;
use super::instr::{header, header_rq};
use crate::Result;

/// [`crate::kernels::engine::i8_conv`]: the pointwise path where it applies, else the
/// general 2×2 conv ([`conv::i8_conv`]).
pub(super) fn i8_conv(
    s: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    let g = Geom::new(s)?;
    let bounds = (out.act_min.clamp(-128, 127), out.act_max.clamp(-128, 127));
    if out.residual.is_none()
        && applies(&g, bounds)
        && try_pointwise(&g, x, x_zp, packed, out, y, scratch)?
    {
        return Ok(());
    }
    conv::i8_conv(s, x, x_zp, packed, out, y, scratch)
}

/// The pointwise path ([`pointwise`]) of a layer [`applies`] to, when every
/// channel has the short requantization: `Ok(false)` (nothing written) otherwise.
/// Apart from the general loop (its own frame, not stacked on the loop's row
/// pointers; the loop's code as without it).
#[inline(never)]
fn try_pointwise(
    g: &Geom,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<bool> {
    let (panel_len, _) = i8_conv_operands(g, x, x_zp, packed, out, y.len(), scratch)?;
    // The sums of raw products: `|Σ x·w| <= C·128·128` (`C` a multiple of 4).
    let span = g.c as i64 * 128 * 128;
    let zp = out.zero_point;
    let fast = (0..g.n.div_ceil(NR)).all(|p| {
        // SAFETY: panel `p` lies inside the checked packed slice.
        fast_panel(
            unsafe { packed.as_ptr().add(p * panel_len) },
            out.header,
            NR.min(g.n - p * NR),
            zp,
            span,
        )
    });
    if fast {
        let (xp, w, yp) = (x.as_ptr(), packed.as_ptr(), y.as_mut_ptr());
        // SAFETY: the operands were checked above; every channel takes the short form.
        unsafe { pointwise(g, xp, w, panel_len, out.header, zp, yp) };
    }
    Ok(fast)
}

/// Whether [`pointwise`] computes the layer of geometry `g` and clamp `bounds` (the
/// short requantization and the absence of a residual are the caller's checks). Only
/// the clamp to the whole i8 range (int8 ReLU and ReLU6 fold into the output range) is
/// taken: one instance of the loop, for the runtime's flash budget.
pub(super) fn applies(g: &Geom, bounds: (i32, i32)) -> bool {
    bounds == (-128, 127)
        && g.taps == 1
        && g.sh == 1
        && g.sw == 1
        && !g.padded
        && g.oh == g.ih
        && g.ow == g.iw
        && g.c >= 4
        && g.c % 4 == 0
}

/// One channel's epilogue constants: bias, multiplier, `hz` and right shift of
/// [`FastRq`].
#[derive(Clone, Copy)]
struct Ch {
    b: i32,
    m: i32,
    hz: i32,
    e: u32,
}

impl Ch {
    /// `FastRq::store` of `acc + b`, clamped to the i8 range (one `SSAT`).
    ///
    /// # Safety
    /// `y` is writable.
    #[inline(always)]
    unsafe fn store(self, acc: i32, y: *mut i8) {
        let q = FastRq {
            m: self.m,
            hz: self.hz,
            e: self.e,
        };
        let v = q.apply(acc.wrapping_add(self.b)).clamp(-128, 127);
        // SAFETY: caller's contract.
        unsafe { *y = v as i8 };
    }
}

/// The layer of [`applies`]: `x` the input (`pixels·C` bytes), `packed` the checked
/// panels of `panel_len` bytes with headers of the form `h`, `y` the output
/// (`pixels·n` bytes), `zp` the output zero point.
///
/// # Safety
/// The slices behind the pointers hold what is said above; every channel of every
/// panel has the short requantization ([`FastRq::new`] accepted it).
#[inline(always)]
pub(super) unsafe fn pointwise(
    g: &Geom,
    x: *const i8,
    packed: *const u8,
    panel_len: usize,
    h: I8Header,
    zp: i32,
    y: *mut i8,
) {
    let (c, n, pixels) = (g.c, g.n, g.pixels);
    let rq_at = h.conv_rq_at();
    let ch = |panel: *const u8, j: usize| {
        // SAFETY: caller's contract: the panel's header holds 16 channels, `j < 16`.
        let ((m, s), b) = unsafe { (header_rq(h, panel, rq_at, j), header(panel, j)) };
        let q = FastRq::accepted(m, s, zp);
        Ch {
            b,
            m: q.m,
            hz: q.hz,
            e: q.e,
        }
    };
    for p in 0..n.div_ceil(NR) {
        let (n0, nc) = (p * NR, NR.min(n - p * NR));
        // SAFETY: panel `p` lies inside the checked packed slice; its header holds 16
        // channels, its weights 16 channels' groups (`j + 1 < 16` below).
        unsafe {
            let panel = packed.add(p * panel_len);
            let w0 = panel.add(h.conv_len()).cast::<i8>();
            // Per pair of channels, their constants once, then every pair of pixels.
            let mut j = 0;
            while j < nc {
                let (k0, k1) = (ch(panel, j), ch(panel, j + 1));
                let w = w0.add(4 * j);
                let one = j + 1 == nc;
                let mut m0 = 0;
                while m0 < pixels {
                    let two = m0 + 1 < pixels;
                    let x0 = x.add(m0 * c);
                    // A last single pixel is computed twice, stored once.
                    let x1 = if two { x0.add(c) } else { x0 };
                    let y0 = y.add(m0 * n + n0 + j);
                    // Only written through when `two` (past the output otherwise).
                    let y1 = y0.wrapping_add(n);
                    let (mut a00, mut a01, mut a10, mut a11) = (0, 0, 0, 0);
                    let acc = [&mut a00, &mut a01, &mut a10, &mut a11];
                    groups_2x2([x0, x1], x0.add(c), w, acc);
                    k0.store(a00, y0);
                    if two {
                        k0.store(a10, y1);
                    }
                    if !one {
                        k1.store(a01, y0.add(1));
                        if two {
                            k1.store(a11, y1.add(1));
                        }
                    }
                    m0 += 2;
                }
                j += 2;
            }
        }
    }
}
