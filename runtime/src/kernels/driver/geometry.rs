//! The checked geometry of the convolutions and pools: one spatial axis in the
//! reference's terms, the convolution's shapes, its output tiles and taps, and the
//! interior of a row where the blocked kernels apply.

use super::lanes::{holds, mul};
use crate::kernels::params::ConvParams;

/// Accumulator tile length (output columns per pass) of the convolutions.
pub(super) const TILE: usize = 64;

/// Whether the blocked convolution kernels are compiled in: on 64-bit CPUs with vector
/// units, where the compiler keeps their accumulators in SIMD registers. On
/// microcontrollers they would spill and cost ~8 KiB of flash, and in the browser they
/// would push the .wasm past its size budget, so the tiled path (simd128 there) serves
/// every convolution on those targets (same bytes either way).
pub(super) const BLOCKED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Output columns per pass of the blocked convolution kernels (accumulators held in
/// registers: four output channels of 16 columns).
pub(super) const BLOCK: usize = 16;

/// Input columns a pass copies beyond its [`BLOCK`]: the passes that touch the
/// padding need `(kw - 1) * dilation <= EXTRA`.
pub(super) const EXTRA: usize = 16;

/// One spatial axis of a convolution, in the reference's terms: output position `o`,
/// tap `k` reads input `o * stride + k * dilation - pad`, if inside `0..len`.
#[derive(Clone, Copy)]
pub(super) struct Axis {
    pub(super) len: usize,
    pub(super) stride: usize,
    pub(super) dilation: usize,
    pub(super) pad: usize,
}

impl Axis {
    /// The axis, if every position `o * stride + k * dilation + len` for `o < out`,
    /// `k < kernel` fits in usize (the reference computes `o * stride + k * dilation`
    /// in usize; this keeps both computations identical and overflow-free).
    pub(super) fn new(
        len: usize,
        stride: u32,
        dilation: u32,
        pad: u32,
        out: usize,
        kernel: usize,
    ) -> Option<Self> {
        let (stride, dilation, pad) = (stride as usize, dilation as usize, pad as usize);
        let last = mul(out.saturating_sub(1), stride)?
            .checked_add(mul(kernel.saturating_sub(1), dilation)?)?;
        last.checked_add(len)?.checked_add(pad)?;
        Some(Axis {
            len,
            stride,
            dilation,
            pad,
        })
    }

    /// Input index of tap `k` at output `o`, `None` in the padding.
    #[inline(always)]
    pub(super) fn tap(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride + k * self.dilation)
            .checked_sub(self.pad)
            .filter(|&i| i < self.len)
    }

    /// The taps `k0..k1` of output `o` that read the input (an interval: the input
    /// index grows with the tap), `(0, 0)` when none does.
    #[inline(always)]
    pub(super) fn valid(&self, o: usize, kernel: usize) -> (usize, usize) {
        let Some(k0) = (0..kernel).find(|&k| self.tap(o, k).is_some()) else {
            return (0, 0);
        };
        let k1 = (k0 + 1..kernel)
            .find(|&k| self.tap(o, k).is_none())
            .unwrap_or(kernel);
        (k0, k1)
    }

    /// The outputs `lo..hi` (within `t0..t1`) whose tap `k` reads the input, and the
    /// input index read by output `lo`.
    #[inline(always)]
    pub(super) fn span(&self, k: usize, t0: usize, t1: usize) -> (usize, usize, usize) {
        let off = k * self.dilation;
        // Valid when pad - off <= o * stride < len + pad - off.
        let end = self.len + self.pad;
        if off >= end {
            return (t0, t0, 0);
        }
        let (lo, hi) = if self.stride == 1 {
            // The common case, without the divisions.
            (self.pad.saturating_sub(off).max(t0), (end - off).min(t1))
        } else if self.stride == 0 {
            if off >= self.pad {
                (t0, t1)
            } else {
                (t0, t0)
            }
        } else {
            let lo = (self.pad.saturating_sub(off)).div_ceil(self.stride);
            let hi = (end - off).div_ceil(self.stride);
            (lo.max(t0), hi.min(t1))
        };
        if lo >= hi {
            return (t0, t0, 0);
        }
        (lo, hi, lo * self.stride + off - self.pad)
    }
}

/// Checked geometry of a convolution: `None` sends the call to the reference.
#[derive(Clone, Copy)]
pub(super) struct Conv {
    pub(super) n: usize,
    pub(super) c: usize,
    pub(super) plane: usize,
    pub(super) wd: usize,
    pub(super) m: usize,
    pub(super) cg: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) m_per_group: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) ah: Axis,
    pub(super) aw: Axis,
}

impl Conv {
    /// The geometry of `p` over slices of `x_len`, `w_len` and `y_len` elements and a
    /// bias of `bias_len`.
    pub(super) fn new(
        p: &ConvParams,
        x_len: usize,
        w_len: usize,
        bias_len: Option<usize>,
        y_len: usize,
    ) -> Option<Self> {
        let (win, groups) = (&p.window, p.groups);
        let [n, c, h, wd] = p.x;
        let [m, cg, kh, kw] = p.w;
        let [_, _, oh, ow] = p.y;
        let plane = mul(h, wd)?;
        let m_per_group = (m / groups.max(1)).max(1);
        // Every input channel read (group g = oc / m_per_group) lies inside `c`.
        let groups_read = if m == 0 { 0 } else { (m - 1) / m_per_group + 1 };
        let ok = mul(groups_read, cg)? <= c
            && holds(x_len, mul(n, c)?, plane)
            && holds(w_len, mul(m, cg)?, mul(kh, kw)?)
            && holds(y_len, mul(n, m)?, mul(oh, ow)?)
            && bias_len.is_none_or(|b| b >= m);
        if !ok {
            return None;
        }
        let ah = Axis::new(h, win.stride[0], win.dilation[0], win.pads[0], oh, kh)?;
        let aw = Axis::new(wd, win.stride[1], win.dilation[1], win.pads[1], ow, kw)?;
        Some(Conv {
            n,
            c,
            plane,
            wd,
            m,
            cg,
            kh,
            kw,
            m_per_group,
            oh,
            ow,
            ah,
            aw,
        })
    }

    /// Calls `f(b, oc, count, oy, t0, t1)` for every tile `t0..t1` (at most [`TILE`]
    /// long) of every output row, in output order, for `count` output channels
    /// `oc..oc + count` at once: 4 when `block` is set and the four channels belong to
    /// the same group (they read the same input), else 1.
    #[inline(always)]
    pub(super) fn for_each_tile(
        &self,
        block: bool,
        mut f: impl FnMut(usize, usize, usize, usize, usize, usize),
    ) {
        for b in 0..self.n {
            let mut oc = 0;
            while oc < self.m {
                let four = block
                    && oc + 4 <= self.m
                    && (oc + 3) / self.m_per_group == oc / self.m_per_group;
                let count = if four { 4 } else { 1 };
                for oy in 0..self.oh {
                    let mut t0 = 0;
                    while t0 < self.ow {
                        let t1 = (t0 + TILE).min(self.ow);
                        f(b, oc, count, oy, t0, t1);
                        t0 = t1;
                    }
                }
                oc += count;
            }
        }
    }

    /// Calls `f(x_offset, w_index, lo, hi)` for every tap of output row `oy` of
    /// channel `oc` in image `b` that reads the input for some column of `t0..t1`, in
    /// the reference's order (input channel, ky, kx): tile entries `lo..hi` read
    /// `x[x_offset + (i - lo) * stride_w]`. All indices are in bounds ([`Conv::new`]).
    #[inline(always)]
    pub(super) fn taps(
        &self,
        b: usize,
        oc: usize,
        oy: usize,
        t0: usize,
        t1: usize,
        mut f: impl FnMut(usize, usize, usize, usize),
    ) {
        let g = oc / self.m_per_group;
        for ci in 0..self.cg {
            let plane = (b * self.c + g * self.cg + ci) * self.plane;
            let kernel = (oc * self.cg + ci) * self.kh;
            for ky in 0..self.kh {
                let Some(iy) = self.ah.tap(oy, ky) else {
                    continue;
                };
                let row = plane + iy * self.wd;
                for kx in 0..self.kw {
                    let (lo, hi, ix) = self.aw.span(kx, t0, t1);
                    if lo < hi {
                        f(row + ix, (kernel + ky) * self.kw + kx, lo - t0, hi - t0);
                    }
                }
            }
        }
    }

    /// Output channels computed together from `oc`: 4 when they exist and belong to
    /// the same group (they read the same input), else 1.
    #[inline(always)]
    pub(super) fn block_count(&self, oc: usize) -> usize {
        if oc + 4 <= self.m && (oc + 3) / self.m_per_group == oc / self.m_per_group {
            4
        } else {
            1
        }
    }

    /// The interior columns `c0..c1` of every output row (where every tap `kx` reads
    /// the input; possibly empty), when the blocked kernels apply: horizontal stride
    /// 1, rows of at least [`BLOCK`] outputs and `(kw - 1) * dilation <= EXTRA`.
    pub(super) fn interior(&self) -> Option<(usize, usize)> {
        let a = &self.aw;
        if !BLOCKED || a.stride != 1 || self.kw == 0 || self.ow < BLOCK {
            return None;
        }
        let reach = mul(self.kw - 1, a.dilation)?;
        if reach > EXTRA {
            return None;
        }
        // Tap kx of output o reads o + kx * dilation - pad: inside the input for
        // every kx when pad <= o and o + reach < len + pad.
        let c0 = a.pad;
        let c1 = (a.len + a.pad).saturating_sub(reach).min(self.ow);
        Some((c0, c1.max(c0)))
    }

    /// For output row `oy` of channel `oc` (image `b`) and a valid tap row `ky`
    /// (see [`Axis::valid`]) of input channel `ci` of the group: the offset in `x` of
    /// the input row read and the index of tap `(ci, ky, 0)` in channel `oc`'s kernel.
    #[inline(always)]
    pub(super) fn row(
        &self,
        b: usize,
        oc: usize,
        oy: usize,
        ci: usize,
        ky: usize,
    ) -> (usize, usize) {
        let iy = oy * self.ah.stride + ky * self.ah.dilation - self.ah.pad;
        let ch = b * self.c + (oc / self.m_per_group) * self.cg + ci;
        (
            ch * self.plane + iy * self.wd,
            (ci * self.kh + ky) * self.kw,
        )
    }

    /// Index of output `(b, oc, oy, t0)` in `y`.
    #[inline(always)]
    pub(super) fn out(&self, b: usize, oc: usize, oy: usize, t0: usize) -> usize {
        ((b * self.m + oc) * self.oh + oy) * self.ow + t0
    }
}
