//! Fully connected drivers (int8 and f32).

use super::lanes::{holds, Lanes};
use crate::kernels::params::{F32Out, FullyConnectedParams, QuantOut};
use crate::kernels::reference::{f32 as rf, int8 as ri};

/// Same contract as [`ri::fully_connected`].
#[inline(always)]
pub(crate) fn int8_fully_connected<L: Lanes>(
    l: L,
    p: &FullyConnectedParams,
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    out: &QuantOut<'_>,
    y: &mut [i8],
) {
    // (Before this driver's own checks: the small-shape path checks everything it
    // needs itself.)
    if l.int8_fc_small(p, x, x_zp, w, out, y) {
        return;
    }
    let FullyConnectedParams { batch, k, n } = *p;
    let fits = (-128..=127).contains(&x_zp)
        && holds(x.len(), batch, k)
        && holds(w.len(), n, k)
        && holds(y.len(), batch, n)
        && out.bias.is_none_or(|b| b.len() >= n);
    if !fits {
        return ri::fully_connected(p, x, x_zp, w, out, y);
    }
    let row = |j: usize| &w[j * k..(j + 1) * k];
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        let yr = &mut y[b * n..(b + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let acc = l.dot4_i8(xr, x_zp, [row(j), row(j + 1), row(j + 2), row(j + 3)]);
            for (r, &a) in acc.iter().enumerate() {
                yr[j + r] = out.apply(a, j + r);
            }
            j += 4;
        }
        while j < n {
            yr[j] = out.apply(l.dot_i8(xr, x_zp, row(j)), j);
            j += 1;
        }
    }
}

/// Same contract as [`rf::fully_connected`], summing in vector lanes.
#[inline(always)]
pub(crate) fn f32_fully_connected<L: Lanes>(
    l: L,
    p: &FullyConnectedParams,
    x: &[f32],
    w: &[f32],
    out: &F32Out<'_>,
    y: &mut [f32],
) {
    let FullyConnectedParams { batch, k, n } = *p;
    let fits = holds(x.len(), batch, k)
        && holds(w.len(), n, k)
        && holds(y.len(), batch, n)
        && out.bias.is_none_or(|b| b.len() >= n);
    if !fits {
        return rf::fully_connected(p, x, w, out, y);
    }
    let row = |j: usize| &w[j * k..(j + 1) * k];
    for b in 0..batch {
        let xr = &x[b * k..(b + 1) * k];
        let yr = &mut y[b * n..(b + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let acc = l.dot4_f32(xr, [row(j), row(j + 1), row(j + 2), row(j + 3)]);
            for (r, &a) in acc.iter().enumerate() {
                yr[j + r] = out.apply(a, j + r);
            }
            j += 4;
        }
        while j < n {
            yr[j] = out.apply(l.dot_f32(xr, row(j)), j);
            j += 1;
        }
    }
}
