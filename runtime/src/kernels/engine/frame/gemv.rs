//! The f16-weight matrix-vector product (a FullyConnected row with f16 weights): the
//! 1×1 conv panels of [`crate::kernels::engine::pack_f16_conv`] read by one input row.
//! The conv tile would leave all but one of its rows idle and run one FMA chain per
//! 16 outputs; here [`ACC`] independent chains split the reduction over `k`, so the
//! FMA latency is hidden. The weights are converted as they are loaded.

use super::lanes::{F32Lanes, Packed};
use crate::kernels::engine::types::{F32Out, NR};
use crate::{Error, Result};

/// Independent accumulators per 16 outputs: inputs `i ≡ j (mod ACC)` go to chain `j`.
const ACC: usize = 4;

/// `y[..n] = clamp(bias + Σ_i x[i]·w[·, i])` over the packed 1×1 conv panels of `n`
/// outputs and `k` inputs (bias row, then `k` rows of 16 weights, per panel); the sum
/// is `bias + ((c₀ + c₁) + (c₂ + c₃))` with chain `c_j` over `i ≡ j (mod 4)` in
/// increasing `i`. `Err(Unsupported)` for a residual or slices shorter than the shape.
///
/// # Safety
/// `l` proves the CPU has its ISA's instructions.
#[inline(always)]
pub(crate) unsafe fn f32_gemv<L: F32Lanes, P: Packed>(
    l: L,
    k: usize,
    n: usize,
    x: &[f32],
    packed: &[P],
    out: &F32Out,
    y: &mut [f32],
) -> Result<()> {
    let panel = crate::kernels::engine::pack::f32_conv_panel_len(1, k).ok_or(Error::Unsupported)?;
    let panels = n.div_ceil(NR);
    let need = panels.checked_mul(panel).ok_or(Error::Unsupported)?;
    if out.residual.is_some() || x.len() < k || y.len() < n || packed.len() < need {
        return Err(Error::Unsupported);
    }
    let (lo, hi) = (l.splat(out.min), l.splat(out.max));
    let (xp, wp, yp) = (x.as_ptr(), packed.as_ptr(), y.as_mut_ptr());
    for p in 0..panels {
        // SAFETY: panel `p` lies in `packed` (`need` checked above): its bias row at
        // `p·panel` and weight row `i < k` at `p·panel + 16 + 16·i`, 16 elements each;
        // `x[i]` for `i < k`; outputs `p·16 .. p·16 + nc` with `nc ≤ n − p·16`.
        unsafe {
            let base = wp.add(p * panel);
            let row = |i: usize| P::load16(l, base.add(NR + i * NR));
            let mut acc = [l.splat(0.0); ACC];
            let mut i = 0;
            while i + ACC <= k {
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = l.fma(l.bcast(xp.add(i + j)), row(i + j), *a);
                }
                i += ACC;
            }
            for (j, a) in acc.iter_mut().enumerate().take(k - i) {
                *a = l.fma(l.bcast(xp.add(i + j)), row(i + j), *a);
            }
            let sum = l.add(l.add(acc[0], acc[1]), l.add(acc[2], acc[3]));
            let v = l.clamp(l.add(P::load16(l, base), sum), lo, hi);
            let nc = (n - p * NR).min(NR);
            if nc == NR {
                l.store(yp.add(p * NR), v);
            } else {
                l.store_partial(yp.add(p * NR), v, nc);
            }
        }
    }
    Ok(())
}
