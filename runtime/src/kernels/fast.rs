//! Optimized kernels, chosen for the target: the functions the executor calls.
//!
//! [`int8_fully_connected`], [`int8_conv2d`], [`f32_fully_connected`] and
//! [`f32_conv2d`] have exactly the signatures of the reference kernels
//! ([`super::int8::fully_connected`], [`super::int8::conv2d`],
//! [`super::f32::fully_connected`], [`super::f32::conv2d`]) and pick, on each call:
//!
//! | target | implementation |
//! |---|---|
//! | x86-64 | `avx2` if the CPU has AVX2 (run-time `is_x86_feature_detected!` with the `std` feature, else `cfg(target_feature = "avx2")`), else `portable` |
//! | AArch64 | `neon` (NEON is baseline) |
//! | wasm32 built with `+simd128` | `simd128` |
//! | others (Cortex-M, RISC-V, wasm without SIMD) | `portable`: unrolled scalar loops |
//!
//! [`implementation`] returns any implementation by name, for tests and benchmarks.
//!
//! # Results
//! - **int8**: identical bytes to the reference for every input. The i32 accumulation
//!   wraps like the reference's; since wrapping addition is arithmetic modulo 2^32, the
//!   summation order does not change the result, and every product is exact. Each
//!   output is requantized by the reference's own code. Inputs the vector code does not
//!   cover (an input zero point outside `-128..=127`, shapes inconsistent with the
//!   slice lengths) are passed to the reference kernel.
//! - **f32 conv2d**: identical bits to the reference: each output is accumulated in
//!   the reference's order (input channel, ky, kx), multiply then add, no FMA; only
//!   the loop nest differs (vectors run along the output row).
//! - **f32 fully connected**: sums in 8 interleaved partial sums (lane `i % 8`),
//!   combined as `((s0+s4)+(s2+s6))+((s1+s5)+(s3+s7))`, then the tail in order. For
//!   `K` terms, both this and the reference's sequential sum are within
//!   `γ(K) · Σ|x_k·w_k|` of the exact sum (`γ(K) = K·u/(1 − K·u)`, `u = 2^-24`), so
//!   they differ by at most `2·γ(K) · Σ|x_k·w_k|` before the bias; adding the bias and
//!   clamping adds at most one rounding of the result each (`tests/kernels_opt.rs`
//!   checks `|opt − ref| <= 2·γ(K+1)·(Σ|x_k·w_k| + |bias|)`). The bound covers
//!   finite sums: where a partial sum overflows, one order may give ±inf and the
//!   other a finite value or NaN.
//!
//! All implementations (portable, AVX2, NEON, SIMD128) use this same grouping, so
//! they agree with each other bit for bit; only the reference's order differs.
//!
//! # Cost
//! No allocation. Convolutions with horizontal stride 1 and rows of at least 16
//! outputs run blocked kernels: four output channels of one group x 16 columns of
//! accumulators (256 bytes, in vector registers where the target has enough), every
//! tap of the block summed before the block is stored; the int8 passes that touch
//! the padding read a 32-entry copy of the input row padded with `x_zp` (adds exactly
//! 0), the f32 edge columns are summed one by one (skipping the padding, as the
//! reference). int8 requantization of a row is written to vectorize (same results as
//! the reference's `requant`). Other convolutions keep four 64-entry i32 accumulator
//! tiles on the stack (int8, 1 KiB) or one 64-entry f32 tile (256 bytes).
//!
//! [`int8_max_pool2d`] and [`f32_max_pool2d`] are portable loops (tap by tap over
//! output rows), the same on every target.

use crate::format::types::Window;

#[cfg(target_arch = "aarch64")]
use super::aarch64;
use super::portable;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::wasm32;
#[cfg(target_arch = "x86_64")]
use super::x86_64;

/// Signature of [`super::int8::fully_connected`].
pub type Int8FullyConnected =
    fn(&[i8], i32, &[i8], Option<&[i32]>, usize, usize, usize, &[i32], i32, i32, i32, &mut [i8]);
/// Signature of [`super::int8::conv2d`].
pub type Int8Conv2d = fn(
    &[i8],
    [usize; 4],
    i32,
    &[i8],
    [usize; 4],
    Option<&[i32]>,
    &Window,
    usize,
    &[i32],
    i32,
    i32,
    i32,
    &mut [i8],
    [usize; 4],
);
/// Signature of [`super::f32::fully_connected`].
pub type F32FullyConnected =
    fn(&[f32], &[f32], Option<&[f32]>, usize, usize, usize, (f32, f32), &mut [f32]);
/// Signature of [`super::f32::conv2d`].
pub type F32Conv2d = fn(
    &[f32],
    [usize; 4],
    &[f32],
    [usize; 4],
    Option<&[f32]>,
    &Window,
    usize,
    (f32, f32),
    &mut [f32],
    [usize; 4],
);

/// One set of kernels (see [`implementation`]).
#[derive(Clone, Copy, Debug)]
pub struct Implementation {
    /// One of [`NAMES`].
    pub name: &'static str,
    pub int8_fully_connected: Int8FullyConnected,
    pub int8_conv2d: Int8Conv2d,
    pub f32_fully_connected: F32FullyConnected,
    pub f32_conv2d: F32Conv2d,
}

/// Every implementation name, available on this CPU or not.
pub const NAMES: &[&str] = &["reference", "portable", "avx2", "neon", "simd128"];

/// The implementation called `name` (one of [`NAMES`]), or `None` when it is unknown,
/// not compiled for this target, or not supported by this CPU.
pub fn implementation(name: &str) -> Option<Implementation> {
    macro_rules! from {
        ($name:expr, $m:path) => {{
            use $m as m;
            Implementation {
                name: $name,
                int8_fully_connected: m::int8_fully_connected,
                int8_conv2d: m::int8_conv2d,
                f32_fully_connected: m::f32_fully_connected,
                f32_conv2d: m::f32_conv2d,
            }
        }};
    }
    match name {
        "reference" => Some(Implementation {
            name: "reference",
            int8_fully_connected: super::int8::fully_connected,
            int8_conv2d: super::int8::conv2d,
            f32_fully_connected: super::f32::fully_connected,
            f32_conv2d: super::f32::conv2d,
        }),
        "portable" => Some(from!("portable", portable)),
        #[cfg(target_arch = "x86_64")]
        "avx2" => x86_64::Avx2::new().map(|_| from!("avx2", x86_64)),
        #[cfg(target_arch = "aarch64")]
        "neon" => aarch64::Neon::new().map(|_| from!("neon", aarch64)),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        "simd128" => Some(from!("simd128", wasm32)),
        _ => None,
    }
}

/// The implementation the dispatching functions of this module use here.
pub fn best() -> Implementation {
    NAMES
        .iter()
        .rev()
        .find_map(|n| implementation(n))
        .unwrap_or_else(from_portable)
}

fn from_portable() -> Implementation {
    Implementation {
        name: "portable",
        int8_fully_connected: portable::int8_fully_connected,
        int8_conv2d: portable::int8_conv2d,
        f32_fully_connected: portable::f32_fully_connected,
        f32_conv2d: portable::f32_conv2d,
    }
}

#[cfg(target_arch = "aarch64")]
use aarch64 as target;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use portable as target;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use wasm32 as target;
#[cfg(target_arch = "x86_64")]
use x86_64 as target;

/// [`super::int8::fully_connected`], optimized for the target (identical bytes).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn int8_fully_connected(
    x: &[i8],
    x_zp: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    batch: usize,
    k: usize,
    n: usize,
    rq: &[i32],
    out_zp: i32,
    act_min: i32,
    act_max: i32,
    y: &mut [i8],
) {
    target::int8_fully_connected(
        x, x_zp, w, bias, batch, k, n, rq, out_zp, act_min, act_max, y,
    )
}

/// [`super::int8::conv2d`], optimized for the target (identical bytes).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn int8_conv2d(
    x: &[i8],
    xs: [usize; 4],
    x_zp: i32,
    w: &[i8],
    ws: [usize; 4],
    bias: Option<&[i32]>,
    win: &Window,
    groups: usize,
    rq: &[i32],
    out_zp: i32,
    act_min: i32,
    act_max: i32,
    y: &mut [i8],
    ys: [usize; 4],
) {
    target::int8_conv2d(
        x, xs, x_zp, w, ws, bias, win, groups, rq, out_zp, act_min, act_max, y, ys,
    )
}

/// [`super::f32::fully_connected`], optimized for the target (summation reordered;
/// see the module docs for the bound).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn f32_fully_connected(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    batch: usize,
    k: usize,
    n: usize,
    act: (f32, f32),
    y: &mut [f32],
) {
    target::f32_fully_connected(x, w, bias, batch, k, n, act, y)
}

/// [`super::f32::conv2d`], optimized for the target (identical bits).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn f32_conv2d(
    x: &[f32],
    xs: [usize; 4],
    w: &[f32],
    ws: [usize; 4],
    bias: Option<&[f32]>,
    win: &Window,
    groups: usize,
    act: (f32, f32),
    y: &mut [f32],
    ys: [usize; 4],
) {
    target::f32_conv2d(x, xs, w, ws, bias, win, groups, act, y, ys)
}

/// [`super::int8::max_pool2d`], optimized (identical bytes): portable code, the same
/// on every target.
pub fn int8_max_pool2d(x: &[i8], xs: [usize; 4], win: &Window, y: &mut [i8], ys: [usize; 4]) {
    if super::driver::max_pool2d(x, xs, win, y, ys, i8::MIN, i8::max).is_none() {
        super::int8::max_pool2d(x, xs, win, y, ys);
    }
}

/// [`super::f32::max_pool2d`], optimized (identical bits: the same comparison,
/// `v > max`, over the taps in the same order, so NaN and signed zeros come out the
/// same): portable code, the same on every target.
pub fn f32_max_pool2d(x: &[f32], xs: [usize; 4], win: &Window, y: &mut [f32], ys: [usize; 4]) {
    let max = |m: f32, v: f32| if v > m { v } else { m };
    if super::driver::max_pool2d(x, xs, win, y, ys, f32::NEG_INFINITY, max).is_none() {
        super::f32::max_pool2d(x, xs, win, y, ys);
    }
}
