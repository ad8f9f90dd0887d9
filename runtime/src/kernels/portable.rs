//! Portable optimized kernels: the shared drivers over plain loops written so that
//! LLVM can unroll and auto-vectorize them (independent accumulators, no bounds checks
//! in the inner loops, no per-tap padding test). Used on targets without a SIMD
//! module (e.g. Cortex-M, where the unrolled integer loops map to single-cycle MACs)
//! and as the fallback everywhere.

use super::driver::Lanes;

/// The portable primitives (always available).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

/// f32 lanes of the portable dot products (the same grouping as 8-wide vectors).
const F32_LANES: usize = 8;

#[inline(always)]
fn sum_lanes(acc: [f32; F32_LANES]) -> f32 {
    let a = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (a[0] + a[2]) + (a[1] + a[3])
}

impl Lanes for Portable {
    #[inline(always)]
    fn dot_i8(self, x: &[i8], zp: i32, w: &[i8]) -> i32 {
        x.iter().zip(w).fold(0i32, |acc, (&xv, &wv)| {
            acc.wrapping_add((i32::from(xv) - zp) * i32::from(wv))
        })
    }

    #[inline(always)]
    fn dot4_i8(self, x: &[i8], zp: i32, w: [&[i8]; 4]) -> [i32; 4] {
        let len = w.iter().fold(x.len(), |l, r| l.min(r.len()));
        let (x, [w0, w1, w2, w3]) = (&x[..len], w.map(|r| &r[..len]));
        let mut acc = [0i32; 4];
        for i in 0..len {
            let xv = i32::from(x[i]) - zp;
            acc[0] = acc[0].wrapping_add(xv * i32::from(w0[i]));
            acc[1] = acc[1].wrapping_add(xv * i32::from(w1[i]));
            acc[2] = acc[2].wrapping_add(xv * i32::from(w2[i]));
            acc[3] = acc[3].wrapping_add(xv * i32::from(w3[i]));
        }
        acc
    }

    #[inline(always)]
    fn axpy_i8(self, acc: &mut [i32], x: &[i8], zp: i32, w: i8) {
        let w = i32::from(w);
        for (a, &xv) in acc.iter_mut().zip(x) {
            *a = a.wrapping_add((i32::from(xv) - zp) * w);
        }
    }

    #[inline(always)]
    fn axpy4_i8(self, acc: [&mut [i32]; 4], x: &[i8], zp: i32, w: [i8; 4]) {
        let len = acc.iter().fold(x.len(), |l, a| l.min(a.len()));
        let [a0, a1, a2, a3] = acc.map(|a| &mut a[..len]);
        let [w0, w1, w2, w3] = w.map(i32::from);
        for (i, &xv) in x[..len].iter().enumerate() {
            let xv = i32::from(xv) - zp;
            a0[i] = a0[i].wrapping_add(xv * w0);
            a1[i] = a1[i].wrapping_add(xv * w1);
            a2[i] = a2[i].wrapping_add(xv * w2);
            a3[i] = a3[i].wrapping_add(xv * w3);
        }
    }

    #[inline(always)]
    fn dot_f32(self, x: &[f32], w: &[f32]) -> f32 {
        dot_f32(x, w)
    }

    #[inline(always)]
    fn dot4_f32(self, x: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
        w.map(|r| dot_f32(x, r))
    }

    #[inline(always)]
    fn axpy_f32(self, acc: &mut [f32], x: &[f32], w: f32) {
        for (a, &xv) in acc.iter_mut().zip(x) {
            *a += xv * w;
        }
    }
}

/// `Σ x·w` in [`F32_LANES`] lanes, then the tail. Not inlined: the portable targets
/// (microcontrollers) keep one copy instead of one per row of `dot4_f32` (-0.7 KB of
/// flash on thumbv7em), for one call per output.
#[inline(never)]
fn dot_f32(x: &[f32], w: &[f32]) -> f32 {
    let len = x.len().min(w.len());
    let (x, w) = (&x[..len], &w[..len]);
    let mut acc = [0f32; F32_LANES];
    let (xc, xt) = x.split_at(len - len % F32_LANES);
    for (xs, ws) in xc.chunks_exact(F32_LANES).zip(w.chunks_exact(F32_LANES)) {
        for l in 0..F32_LANES {
            acc[l] += xs[l] * ws[l];
        }
    }
    let mut s = sum_lanes(acc);
    for (xv, wv) in xt.iter().zip(&w[xc.len()..]) {
        s += xv * wv;
    }
    s
}
