//! The NHWC pool kernels (`kernels::engine::*_pool_nhwc`) against the NCHW reference
//! pools (`kernels::f32` / `kernels::int8`, themselves tested against naive references
//! in `kernels_f32.rs` / `kernels_int8.rs`) on random geometries — padding, stride,
//! dilation, floor and ceil mode, channel counts across the int8 accumulator block —:
//! int8 bytes equal, f32 bits equal (each channel sums its taps in the reference's
//! order). Global pools are the window `[H, W]`. Then the ops `MaxPoolNhwc` /
//! `AvgPoolNhwc` in whole models against the NCHW ops, and their load-time checks.

mod support;

use ferrite::format::types::{DType, Op, Quant, Window};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::{engine, f32 as kf, int8 as ki, PoolParams};
use ferrite::{AlignedModel, Error, OpReason};
use proptest::prelude::*;
use support::{out_hw, pool_geometry, pool_params, run_model as run, window};

/// NCHW `[n, c, h, w]` data as NHWC.
fn to_nhwc<T: Copy>(x: &[T], [n, c, h, w]: [usize; 4]) -> Vec<T> {
    let mut out = Vec::with_capacity(x.len());
    for b in 0..n {
        for p in 0..h * w {
            for ch in 0..c {
                out.push(x[(b * c + ch) * h * w + p]);
            }
        }
    }
    out
}

/// A geometry of `pool_geometry` with `c` channels instead of its own.
fn geometry() -> impl Strategy<Value = ([usize; 4], [usize; 4], Window)> {
    let channels = prop_oneof![
        1usize..=4,
        Just(16),
        Just(63),
        Just(64),
        Just(65),
        100usize..=140
    ];
    (pool_geometry(any::<bool>()), channels).prop_map(|((mut xs, mut ys, win), c)| {
        xs[1] = c;
        ys[1] = c;
        (xs, ys, win)
    })
}

fn f32s(len: usize) -> impl Strategy<Value = Vec<f32>> {
    let v = prop_oneof![
        20 => -100.0f32..100.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(-0.0f32),
    ];
    proptest::collection::vec(v, len)
}

/// Bits, with every NaN alike.
fn bits(v: &[f32]) -> Vec<u32> {
    v.iter()
        .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
        .collect()
}

fn f32_case() -> impl Strategy<Value = ([usize; 4], [usize; 4], Window, Vec<f32>)> {
    geometry().prop_flat_map(|(xs, ys, win)| {
        f32s(xs.iter().product()).prop_map(move |x| (xs, ys, win, x))
    })
}

fn i8_case() -> impl Strategy<Value = ([usize; 4], [usize; 4], Window, Vec<i8>, i32)> {
    geometry().prop_flat_map(|(xs, ys, win)| {
        let zp = prop_oneof![Just(-128), Just(127), Just(0), -128i32..=127];
        (support::i8s(xs.iter().product()), zp).prop_map(move |(x, zp)| (xs, ys, win, x, zp))
    })
}

/// The NHWC kernel's output for NCHW `x` and params `p`, back in NCHW.
fn nhwc_run<T: Copy + Default>(
    p: &PoolParams,
    x: &[T],
    f: impl Fn(&PoolParams, &[T], &mut [T]) -> Result<(), Error>,
) -> Vec<T> {
    let xn = to_nhwc(x, p.x);
    let [n, c, oh, ow] = p.y;
    let mut y = vec![T::default(); n * c * oh * ow];
    f(p, &xn, &mut y).expect("shapes fit");
    // NHWC → NCHW.
    let mut out = vec![T::default(); y.len()];
    for b in 0..n {
        for pix in 0..oh * ow {
            for ch in 0..c {
                out[(b * c + ch) * oh * ow + pix] = y[(b * oh * ow + pix) * c + ch];
            }
        }
    }
    out
}

/// The global window of `xs`: `[H, W]`, stride 1, no padding.
fn global(xs: [usize; 4]) -> (PoolParams, usize) {
    let win = window([xs[2] as u32, xs[3] as u32], [1, 1], [1, 1], [0; 4]);
    let ys = [xs[0], xs[1], 1, 1];
    (pool_params(xs, ys, win, false), xs[2] * xs[3])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(support::suite::cases(256)))]

    #[test]
    fn f32_pools_equal_reference((xs, ys, win, x) in f32_case()) {
        let len: usize = ys.iter().product();
        let p = pool_params(xs, ys, win, false);
        let mut want = vec![0f32; len];
        kf::max_pool2d(&p, &x, &mut want);
        prop_assert_eq!(bits(&nhwc_run(&p, &x, engine::f32_max_pool_nhwc)), bits(&want));
        for include in [false, true] {
            let p = pool_params(xs, ys, win, include);
            kf::avg_pool2d(&p, &x, &mut want);
            prop_assert_eq!(bits(&nhwc_run(&p, &x, engine::f32_avg_pool_nhwc)), bits(&want));
        }
        let (p, spatial) = global(xs);
        let mut want = vec![0f32; xs[0] * xs[1]];
        kf::global_avg_pool(&x, xs[0] * xs[1], spatial, &mut want);
        prop_assert_eq!(bits(&nhwc_run(&p, &x, engine::f32_avg_pool_nhwc)), bits(&want));
        kf::global_max_pool(&x, xs[0] * xs[1], spatial, &mut want);
        prop_assert_eq!(bits(&nhwc_run(&p, &x, engine::f32_max_pool_nhwc)), bits(&want));
    }

    #[test]
    fn i8_pools_equal_reference((xs, ys, win, x, zp) in i8_case()) {
        let len: usize = ys.iter().product();
        let p = pool_params(xs, ys, win, false);
        let mut want = vec![0i8; len];
        ki::max_pool2d(&p, &x, &mut want);
        prop_assert_eq!(nhwc_run(&p, &x, engine::i8_max_pool_nhwc), want.clone());
        for include in [false, true] {
            let p = pool_params(xs, ys, win, include);
            ki::avg_pool2d(&p, &x, zp, &mut want);
            let avg = |p: &PoolParams, x: &[i8], y: &mut [i8]| engine::i8_avg_pool_nhwc(p, x, zp, y);
            prop_assert_eq!(nhwc_run(&p, &x, avg), want.clone());
        }
        let (p, spatial) = global(xs);
        let mut want = vec![0i8; xs[0] * xs[1]];
        ki::global_avg_pool(&x, xs[0] * xs[1], spatial, &mut want);
        let avg = |p: &PoolParams, x: &[i8], y: &mut [i8]| engine::i8_avg_pool_nhwc(p, x, zp, y);
        prop_assert_eq!(nhwc_run(&p, &x, avg), want.clone());
        ki::global_max_pool(&x, xs[0] * xs[1], spatial, &mut want);
        prop_assert_eq!(nhwc_run(&p, &x, engine::i8_max_pool_nhwc), want);
    }
}

/// Windows without padding — the kernels' direct paths: every tap valid, channels in
/// blocks of 32, 16, 8, 4 or 1, the last block overlapping the one before — and the
/// same windows with padding (the generic path), against the reference: f32 bits
/// (NaN, ±inf, ±0 among the values) and int8 bytes (zero points −128 and 127), for
/// channel counts 1…70, planes 1×1…3×33, kernels 1×2, 2×2, 3×3, 2×3, 1×W, H×1 and
/// global, strides 1–3, dilation 2, floor and ceil mode, both `count_include_pad`.
#[test]
fn direct_windows_equal_reference() {
    let channels = [
        1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 63, 64, 65, 70,
    ];
    let planes = [
        (1, 1),
        (1, 2),
        (1, 33),
        (1, 64),
        (2, 2),
        (3, 5),
        (7, 6),
        (8, 8),
        (33, 1),
        (3, 33),
    ];
    let mut seed = 0x2545_f491u32;
    let mut next = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        seed >> 8
    };
    let mut cases = 0;
    for (h, w) in planes {
        let (h32, w32) = (h as u32, w as u32);
        let kernels = [
            ([1, 2], [1, 2]),
            ([1, 2], [1, 1]),
            ([2, 2], [2, 2]),
            ([2, 2], [1, 1]),
            ([3, 3], [1, 1]),
            ([3, 3], [2, 2]),
            ([2, 3], [3, 2]),
            ([1, w32], [1, 1]),
            ([h32, 1], [1, 1]),
            ([h32, w32], [1, 1]),
        ];
        for (k, st) in kernels {
            for (dil, pads) in [
                ([1, 1], [0; 4]),
                ([2, 2], [0; 4]),
                ([1, 1], [0, 0, 1, 1]),
                ([1, 1], [1, 1, 1, 1]),
            ] {
                if pads[0] >= k[0] || pads[1] >= k[1] || pads[2] >= k[0] || pads[3] >= k[1] {
                    continue;
                }
                for ceil in [false, true] {
                    let win = window(k, st, dil, pads);
                    let ku = [k[0] as usize, k[1] as usize];
                    let Some([oh, ow]) = out_hw(h, w, ku, &win, ceil) else {
                        continue;
                    };
                    // Larger planes with fewer channel counts.
                    let step = match h * w {
                        0..=8 => 1,
                        9..=64 => 3,
                        _ => 7,
                    };
                    for &c in channels.iter().step_by(step) {
                        let (xs, ys) = ([1, c, h, w], [1, c, oh, ow]);
                        let len = c * h * w;
                        let xf: Vec<f32> = (0..len)
                            .map(|_| match next() % 64 {
                                0 => f32::NAN,
                                1 => f32::INFINITY,
                                2 => f32::NEG_INFINITY,
                                3..=6 => 0.0,
                                7..=10 => -0.0,
                                r => (r as f32 - 40.0) * 0.37,
                            })
                            .collect();
                        let xi: Vec<i8> = (0..len).map(|_| next() as u8 as i8).collect();
                        check_both(xs, ys, win, &xf, &xi);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases > 500, "{cases} cases");
}

/// [`direct_windows_equal_reference`]'s comparisons for one geometry.
fn check_both(xs: [usize; 4], ys: [usize; 4], win: Window, xf: &[f32], xi: &[i8]) {
    let len: usize = ys.iter().product();
    let p = pool_params(xs, ys, win, false);
    let mut want = vec![0f32; len];
    kf::max_pool2d(&p, xf, &mut want);
    let got = nhwc_run(&p, xf, engine::f32_max_pool_nhwc);
    assert_eq!(bits(&got), bits(&want), "f32 max {xs:?} {win:?}");
    let mut want_i = vec![0i8; len];
    ki::max_pool2d(&p, xi, &mut want_i);
    let got = nhwc_run(&p, xi, engine::i8_max_pool_nhwc);
    assert_eq!(got, want_i, "i8 max {xs:?} {win:?}");
    for include in [false, true] {
        let p = pool_params(xs, ys, win, include);
        kf::avg_pool2d(&p, xf, &mut want);
        let got = nhwc_run(&p, xf, engine::f32_avg_pool_nhwc);
        assert_eq!(bits(&got), bits(&want), "f32 avg {xs:?} {win:?} {include}");
        for zp in [-128, 127] {
            ki::avg_pool2d(&p, xi, zp, &mut want_i);
            let avg =
                |p: &PoolParams, x: &[i8], y: &mut [i8]| engine::i8_avg_pool_nhwc(p, x, zp, y);
            let got = nhwc_run(&p, xi, avg);
            assert_eq!(got, want_i, "i8 avg {xs:?} {win:?} {include} zp {zp}");
        }
    }
}

/// The int8 AVX-512 paths of issue #14's small pools (on x86-64 CPUs with AVX-512 BW /
/// VBMI; elsewhere the same cases check the portable paths): the max pool of window
/// width 2 and stride 2 along W (1…3 kernel rows, row strides and dilations 1–2, `W`
/// even and odd, outputs of 1…65 pixels — whole 64-byte vectors and tails —, 1…64
/// channels, the powers of two up to 32 on the fast path) and the global average
/// (1…272 pixels, the i16 sums' 256 and past it, 1…96 channels), against the NCHW
/// reference: random bytes and the extremes −128 / 127 everywhere.
#[test]
fn small_pool_paths_equal_reference() {
    let mut seed = 0x9e37_79b9u32;
    let mut next = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 24) as u8 as i8
    };
    let mut fill = |len: usize, kind: usize| -> Vec<i8> {
        (0..len)
            .map(|_| match kind {
                0 => -128,
                1 => 127,
                _ => next(),
            })
            .collect()
    };
    let mut cases = 0;
    for c in [1, 2, 3, 4, 8, 16, 32, 64] {
        for ow in [1, 2, 7, 8, 31, 32, 33, 65] {
            for (kh, sh, dh, h) in [(1, 1, 1, 1), (1, 2, 1, 3), (2, 2, 1, 4), (3, 1, 2, 6)] {
                for (n, w) in [(1, 2 * ow), (2, 2 * ow + 1)] {
                    let oh = (h - (kh - 1) * dh - 1) / sh + 1;
                    let win = window([kh as u32, 2], [sh as u32, 2], [dh as u32, 1], [0; 4]);
                    let (xs, ys) = ([n, c, h, w], [n, c, oh, ow]);
                    let p = pool_params(xs, ys, win, false);
                    let x = fill(n * c * h * w, cases % 5);
                    let mut want = vec![0i8; n * c * oh * ow];
                    ki::max_pool2d(&p, &x, &mut want);
                    let got = nhwc_run(&p, &x, engine::i8_max_pool_nhwc);
                    assert_eq!(got, want, "i8 max {xs:?} {ys:?} {win:?}");
                    cases += 1;
                }
            }
        }
    }
    for c in [1, 2, 3, 4, 8, 16, 32, 64, 96] {
        for (h, w) in [
            (1, 1),
            (1, 3),
            (1, 32),
            (2, 16),
            (8, 8),
            (16, 16),
            (1, 255),
            (17, 16),
        ] {
            for n in [1, 2] {
                let (p, _) = global([n, c, h, w]);
                let x = fill(n * c * h * w, cases % 5);
                for zp in [-128, 0, 127] {
                    let mut want = vec![0i8; n * c];
                    ki::avg_pool2d(&p, &x, zp, &mut want);
                    let avg = |p: &PoolParams, x: &[i8], y: &mut [i8]| {
                        engine::i8_avg_pool_nhwc(p, x, zp, y)
                    };
                    let got = nhwc_run(&p, &x, avg);
                    assert_eq!(got, want, "i8 gavg {:?} zp {zp}", p.x);
                }
                cases += 1;
            }
        }
    }
    assert!(cases > 500, "{cases} cases");
}

/// The largest strides and dilations on axes they do not move along (one output, one
/// tap): the direct paths give the reference's values, no overflow.
#[test]
fn unbounded_strides_of_single_steps() {
    let m = u32::MAX;
    for (xs, k, st, dil) in [
        ([1, 5, 1, 7], [1, 7], [m, m], [m, 1]),
        ([2, 3, 4, 1], [4, 1], [m, m], [1, m]),
        ([1, 33, 1, 1], [1, 1], [m, m], [m, m]),
    ] {
        let ys = [xs[0], xs[1], 1, 1];
        let len: usize = xs.iter().product();
        let xf: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
        let xi: Vec<i8> = (0..len).map(|i| (i * 37 % 256) as u8 as i8).collect();
        check_both(xs, ys, window(k, st, dil, [0; 4]), &xf, &xi);
    }
}

/// Shapes that do not describe the slices are an error, not a panic.
#[test]
fn kernels_reject_mismatched_slices() {
    let p = pool_params(
        [1, 3, 4, 4],
        [1, 3, 2, 2],
        window([2, 2], [2, 2], [1, 1], [0; 4]),
        false,
    );
    let mut y = vec![0f32; 12];
    assert!(engine::f32_avg_pool_nhwc(&p, &[0.0; 47], &mut y).is_err());
    assert!(engine::f32_max_pool_nhwc(&p, &[0.0; 48], &mut y[..11]).is_err());
    let mut yi = vec![0i8; 12];
    assert!(engine::i8_avg_pool_nhwc(&p, &[0; 49], 0, &mut yi).is_err());
    assert!(engine::i8_max_pool_nhwc(&p, &[0; 48], &mut yi).is_ok());
}

/// A one-op model: input `xs`, output `ys`, both of `dtype` with quantization `q`.
fn one_op(op: Op, dtype: DType, q: Quant, xs: &[u32], ys: &[u32]) -> Vec<u8> {
    let mut m = ModelBuilder::new("pool");
    let x = m.add_tensor("x", dtype, xs, q).unwrap();
    let y = m.add_tensor("y", dtype, ys, q).unwrap();
    m.add_op(op, &[x], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m.finish().unwrap()
}

fn nchw_dims(d: [usize; 4]) -> Vec<u32> {
    d.iter().map(|&v| v as u32).collect()
}

fn nhwc_dims([n, c, h, w]: [usize; 4]) -> Vec<u32> {
    vec![n as u32, h as u32, w as u32, c as u32]
}

/// The NHWC ops in models give the NCHW ops' bytes (f32 and int8, every pool kind),
/// and the file is format 1.3.
#[test]
fn models_equal_nchw_ops() {
    let (xs, ys) = ([1usize, 70, 7, 6], [1usize, 70, 4, 3]);
    let win = window([3, 3], [2, 2], [1, 1], [1, 1, 1, 1]);
    let len: usize = xs.iter().product();
    let xf: Vec<f32> = (0..len)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.37)
        .collect();
    let xi: Vec<i8> = (0..len).map(|i| (i * 53 % 256) as u8 as i8).collect();
    let q = Quant::PerTensor {
        scale: 0.1,
        zero_point: -7,
    };
    let cases = [
        (Op::MaxPool { window: win }, Op::MaxPoolNhwc { window: win }),
        (
            Op::AvgPool {
                window: win,
                count_include_pad: true,
            },
            Op::AvgPoolNhwc {
                window: win,
                count_include_pad: true,
            },
        ),
        (
            Op::AvgPool {
                window: win,
                count_include_pad: false,
            },
            Op::AvgPoolNhwc {
                window: win,
                count_include_pad: false,
            },
        ),
    ];
    for (nchw, nhwc) in cases {
        for (dtype, q, x) in [
            (
                DType::F32,
                Quant::None,
                bytemuck::cast_slice::<f32, u8>(&xf).to_vec(),
            ),
            (DType::I8, q, bytemuck::cast_slice::<i8, u8>(&xi).to_vec()),
        ] {
            let size = if dtype == DType::F32 { 4 } else { 1 };
            let want = run(
                &one_op(nchw.clone(), dtype, q, &nchw_dims(xs), &nchw_dims(ys)),
                &x,
            )
            .unwrap();
            let file = one_op(nhwc.clone(), dtype, q, &nhwc_dims(xs), &nhwc_dims(ys));
            assert_eq!(u16::from_le_bytes([file[6], file[7]]), 3, "format minor");
            let got = run(&file, &to_nhwc_bytes(&x, xs, size)).unwrap();
            assert_eq!(
                got,
                to_nhwc_bytes(&want, ys, size),
                "{} {dtype:?}",
                nhwc.name()
            );
        }
    }
    // The global pools: the window [H, W].
    let gw = window([7, 6], [1, 1], [1, 1], [0; 4]);
    let g = [1usize, 70, 1, 1];
    for (nchw, nhwc) in [
        (Op::GlobalMaxPool, Op::MaxPoolNhwc { window: gw }),
        (
            Op::GlobalAvgPool,
            Op::AvgPoolNhwc {
                window: gw,
                count_include_pad: false,
            },
        ),
    ] {
        let x = bytemuck::cast_slice::<i8, u8>(&xi).to_vec();
        let want = run(
            &one_op(nchw, DType::I8, q, &nchw_dims(xs), &nchw_dims(g)),
            &x,
        )
        .unwrap();
        let got = run(
            &one_op(nhwc, DType::I8, q, &nhwc_dims(xs), &nhwc_dims(g)),
            &to_nhwc_bytes(&x, xs, 1),
        )
        .unwrap();
        assert_eq!(got, want);
    }
}

/// NCHW bytes of elements of `size` bytes as NHWC.
fn to_nhwc_bytes(x: &[u8], xs: [usize; 4], size: usize) -> Vec<u8> {
    let elems: Vec<&[u8]> = x.chunks(size).collect();
    to_nhwc(&elems, xs).concat()
}

/// Hostile records: typed `BadOp` reasons at load, never a panic.
#[test]
fn load_rejects_bad_pools() {
    let win = window([2, 2], [2, 2], [1, 1], [0; 4]);
    let max = Op::MaxPoolNhwc { window: win };
    let bad_op = |file: Vec<u8>| match AlignedModel::new(&file).model().unwrap_err() {
        Error::BadOp { reason, .. } => reason,
        e => panic!("{e:?}"),
    };
    // Output channels differ from the input's.
    let f = one_op(
        max.clone(),
        DType::F32,
        Quant::None,
        &[1, 4, 4, 3],
        &[1, 2, 2, 4],
    );
    assert_eq!(bad_op(f), OpReason::Shape);
    // The output size is not the window's.
    let f = one_op(
        max.clone(),
        DType::F32,
        Quant::None,
        &[1, 4, 4, 3],
        &[1, 3, 2, 3],
    );
    assert_eq!(bad_op(f), OpReason::Shape);
    // Rank 3.
    let f = one_op(max.clone(), DType::F32, Quant::None, &[4, 4, 3], &[2, 2, 3]);
    assert_eq!(bad_op(f), OpReason::Shape);
    // A zero stride.
    let zero = Op::MaxPoolNhwc {
        window: window([2, 2], [0, 2], [1, 1], [0; 4]),
    };
    let f = one_op(zero, DType::F32, Quant::None, &[1, 4, 4, 3], &[1, 2, 2, 3]);
    assert_eq!(bad_op(f), OpReason::Shape);
    // An int8 average without a per-tensor zero point.
    let avg = Op::AvgPoolNhwc {
        window: win,
        count_include_pad: false,
    };
    let f = one_op(avg, DType::I8, Quant::None, &[1, 4, 4, 3], &[1, 2, 2, 3]);
    assert!(matches!(
        AlignedModel::new(&f).model(),
        Err(Error::BadOp { .. } | Error::BadTensor { .. })
    ));
}
