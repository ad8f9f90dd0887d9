//! Reference kernels added for the ONNX conformance suite: strided slice (any dtype,
//! raw bytes) and local response normalization (f32).
//!
//! Same contract as the other reference kernels: plain loops, preconditions checked by
//! the loader (`validate.rs`), transcendental functions from `libm`.

use crate::format::types::MAX_RANK;
use crate::kernels::params::LrnParams;

/// Strided slice on raw bytes (`elem` bytes per element).
///
/// Output element `(i_0, .., i_{r-1})` of shape `out_shape` is input element
/// `(starts[d] + i_d * steps[d])_d` of shape `in_shape`. Preconditions (checked by the
/// loader): equal ranks `<= MAX_RANK`, every such index inside `in_shape`,
/// `x.len() == prod(in_shape) * elem`, `y.len() == prod(out_shape) * elem`.
pub fn slice(
    x: &[u8],
    in_shape: &[usize],
    starts: &[isize],
    steps: &[isize],
    out_shape: &[usize],
    elem: usize,
    y: &mut [u8],
) {
    let r = out_shape.len().min(MAX_RANK);
    let n: usize = out_shape[..r].iter().product();
    if n == 0 || elem == 0 {
        return;
    }
    let mut in_strides = [0isize; MAX_RANK];
    let mut s = 1isize;
    for d in (0..r).rev() {
        in_strides[d] = s;
        s *= in_shape[d] as isize;
    }
    let mut idx = [0usize; MAX_RANK];
    for out in y.chunks_exact_mut(elem).take(n) {
        let mut off = 0isize;
        for d in 0..r {
            off += (starts[d] + idx[d] as isize * steps[d]) * in_strides[d];
        }
        let o = off as usize * elem;
        out.copy_from_slice(&x[o..o + elem]);
        for d in (0..r).rev() {
            idx[d] += 1;
            if idx[d] < out_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Local response normalization across channels (ONNX LRN), see [`LrnParams`]: `x`
/// and `y` are `[p.n, p.c, p.inner]`.
pub fn lrn(p: &LrnParams, x: &[f32], y: &mut [f32]) {
    let LrnParams {
        n,
        c,
        inner,
        size,
        alpha,
        beta,
        bias,
    } = *p;
    let lo_span = (size.saturating_sub(1)) / 2;
    let hi_span = size / 2;
    let scale = alpha / size as f32;
    for b in 0..n {
        let base = b * c * inner;
        for ch in 0..c {
            let lo = ch.saturating_sub(lo_span);
            let hi = (ch + hi_span).min(c - 1);
            for i in 0..inner {
                let mut sq = 0f32;
                for k in lo..=hi {
                    let v = x[base + k * inner + i];
                    sq += v * v;
                }
                let at = base + ch * inner + i;
                y[at] = x[at] / libm::powf(bias + scale * sq, beta);
            }
        }
    }
}
