//! Optimized kernels (`ferrite::kernels::fast`) against the reference kernels.
//!
//! The shared suite ([`support::suite`], macro `kernel_tests!`) runs for every
//! implementation (`portable`, `avx2`, `neon`, `simd128`) and for the dispatching
//! functions `fast::*` themselves; an implementation this CPU or build lacks prints a
//! note and passes. The references are the reference kernels
//! (`ferrite::kernels::{int8, f32}`), themselves tested against independent naive
//! references in `kernels_int8.rs` / `kernels_f32.rs`.
//!
//! - int8: identical bytes (`assert_eq!` on the whole output buffer, which starts
//!   filled with a sentinel so unwritten bytes are compared too).
//! - f32 conv2d: identical bits (same summation order, see `kernels::fast`).
//! - f32 fully connected: within `2·γ(K+1)·(Σ|x_k·w_k| + |bias|)`,
//!   `γ(n) = n·u/(1 − n·u)`, `u = 2^-24` (the documented bound), and bit-identical
//!   to the portable implementation (all share its summation grouping).
//!
//! The max pools, portable code on every target, are tested here directly.

use ferrite::kernels::fast;
use ferrite::kernels::{f32 as kf, int8 as ki};
use proptest::prelude::*;
use support::suite::{
    bits, f32s, geometry, i8s_extreme, kernel_tests, pattern, pattern_f32, run, SENTINEL_F32,
    SENTINEL_I8,
};
use support::{pool_params, window};

mod support;

kernel_tests! {
    portable => "portable",
    avx2 => "avx2",
    neon => "neon",
    simd128 => "simd128",
    dispatch => "dispatch",
}

/// `fast::{int8,f32}_max_pool2d` against the reference pools: identical bytes/bits
/// (NaN and signed zeros included) on random windows, strides, dilations and pads.
#[test]
fn max_pool_matches_reference_on_random_cases() {
    // The convolution's output plane is the pool's: same window, same input plane.
    let case = geometry().prop_flat_map(|(xs, _, conv_ys, win, _)| {
        let len: usize = xs.iter().product();
        let ys = [xs[0], xs[1], conv_ys[2], conv_ys[3]];
        (
            Just((xs, ys, win)),
            i8s_extreme(len),
            proptest::collection::vec(
                prop_oneof![f32s(1).prop_map(|v| v[0]), Just(f32::NAN), Just(-0.0)],
                len,
            ),
        )
    });
    run(256, case, |((xs, ys, win), xi, xf)| {
        let len = ys.iter().product();
        let p = pool_params(xs, ys, win, false);
        let (mut want, mut got) = (vec![SENTINEL_I8; len], vec![SENTINEL_I8; len]);
        ki::max_pool2d(&p, &xi, &mut want);
        fast::int8_max_pool2d(&p, &xi, &mut got);
        prop_assert_eq!(got, want, "int8 max pool");
        let (mut want, mut got) = (vec![SENTINEL_F32; len], vec![SENTINEL_F32; len]);
        kf::max_pool2d(&p, &xf, &mut want);
        fast::f32_max_pool2d(&p, &xf, &mut got);
        prop_assert_eq!(bits(&got), bits(&want), "f32 max pool bits");
        Ok(())
    });
}

/// The sensor CNN's pool (kernel 1 x 2, stride 2) and padded windows, named.
#[test]
fn max_pool_named_cases() {
    let cases = [
        (
            [1, 8, 1, 64],
            window([1, 2], [1, 2], [1, 1], [0; 4]),
            [1, 8, 1, 32],
        ),
        (
            [1, 3, 7, 9],
            window([3, 3], [2, 2], [1, 1], [1, 1, 1, 1]),
            [1, 3, 4, 5],
        ),
        (
            [2, 2, 5, 17],
            window([2, 3], [1, 3], [2, 1], [1, 2, 0, 2]),
            [2, 2, 5, 7],
        ),
        (
            [1, 1, 4, 4],
            window([1, 1], [1, 1], [1, 1], [0; 4]),
            [1, 1, 4, 4],
        ),
    ];
    for (xs, win, ys) in cases {
        let p = pool_params(xs, ys, win, false);
        let x = pattern(xs.iter().product(), 77);
        let len = ys.iter().product();
        let (mut want, mut got) = (vec![SENTINEL_I8; len], vec![SENTINEL_I8; len]);
        ki::max_pool2d(&p, &x, &mut want);
        fast::int8_max_pool2d(&p, &x, &mut got);
        assert_eq!(got, want, "{xs:?} {win:?}");
        let xf = pattern_f32(xs.iter().product(), 78);
        let (mut want, mut got) = (vec![SENTINEL_F32; len], vec![SENTINEL_F32; len]);
        kf::max_pool2d(&p, &xf, &mut want);
        fast::f32_max_pool2d(&p, &xf, &mut got);
        assert_eq!(got, want, "{xs:?} {win:?}");
    }
    // Inconsistent shapes fall back to the reference (here: no write past `y`).
    let p = pool_params(
        [1, 1, 1, 4],
        [1, 1, 1, 4],
        window([1, 1], [1, 1], [1, 1], [0; 4]),
        false,
    );
    let mut y = [SENTINEL_I8; 3];
    fast::int8_max_pool2d(&p, &[1, 2, 3, 4], &mut y);
    let mut want = [SENTINEL_I8; 3];
    ki::max_pool2d(&p, &[1, 2, 3, 4], &mut want);
    assert_eq!(y, want);
}

/// The dispatcher picks the best implementation compiled for this target.
#[test]
fn best_implementation_matches_the_target() {
    let best = fast::best();
    let expected = if cfg!(target_arch = "aarch64") {
        "neon"
    } else if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        "simd128"
    } else if cfg!(target_arch = "x86_64") && fast::implementation("avx2").is_some() {
        "avx2"
    } else {
        "portable"
    };
    assert_eq!(best.name, expected);
    for name in fast::NAMES {
        println!(
            "{name}: {}",
            if fast::implementation(name).is_some() {
                "available"
            } else {
                "not available"
            }
        );
    }
    assert!(fast::implementation("no-such-kernels").is_none());
}
