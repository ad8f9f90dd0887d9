//! The shared suite of the optimized kernels: for any implementation of the kernel
//! families (`ferrite::kernels::fast::Implementation`: int8 and f32 fully connected and
//! conv2d, Quantize and Dequantize), [`kernel_tests!`] generates random (proptest) and
//! named cases that compare it with the reference kernels: int8 byte for byte, f32
//! conv2d bit for bit, f32 fully connected within the documented bound (and
//! bit-identical to `portable`), Quantize byte for byte and Dequantize bit for bit on
//! edge values.
//!
//! A new implementation (another ISA) is one line `name => "name"` in
//! `kernels_opt.rs`; a new kernel family adds its case type to `support`, its checks,
//! strategies and named cases here and its tests to the macro.
//!
//! Random cases use proptest (`PROPTEST_CASES` overrides the count, e.g. under QEMU);
//! named cases pin the corners: K not a multiple of the vector width, batch > 1,
//! per-tensor and per-channel requantization, zero points at -128 and 127, saturating
//! outputs, wrapping accumulators, rows spanning several accumulator tiles, and the
//! inputs that fall back to the reference.

use ferrite::format::types::Window;
use ferrite::kernels::fast::{self, Implementation};
use ferrite::kernels::{f32 as kf, int8 as ki};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{
    act_range, conv_geometry, f32_act, fixed_geometry, i8s, window, zero_point, ConvF32Case,
    ConvI8Case, FcF32Case, FcI8Case, Geometry, NONE,
};

pub const SENTINEL_I8: i8 = 0x55;
pub const SENTINEL_F32: f32 = -1234.5;

/// The implementation under test, or `None` (with a note) when unavailable here;
/// `dispatch` is the dispatching functions `fast::*` themselves.
pub fn implementation(name: &str) -> Option<Implementation> {
    if name == "dispatch" {
        return Some(Implementation {
            name: "dispatch",
            int8_fully_connected: fast::int8_fully_connected,
            int8_conv2d: fast::int8_conv2d,
            f32_fully_connected: fast::f32_fully_connected,
            f32_conv2d: fast::f32_conv2d,
            f32_quantize_i8: fast::f32_quantize_i8,
            f32_quantize_u8: fast::f32_quantize_u8,
            f32_dequantize_i8: fast::f32_dequantize_i8,
            f32_dequantize_u8: fast::f32_dequantize_u8,
        });
    }
    let found = fast::implementation(name);
    if found.is_none() {
        eprintln!(
            "note: kernel implementation `{name}` is not available on this CPU/target: skipped"
        );
    }
    found
}

pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn run<S: Strategy>(
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config::with_cases(cases(default_cases)));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------- cases

/// `imp`'s int8 fully connected kernel against the reference: identical bytes.
pub fn check_fc(imp: &Implementation, c: &FcI8Case) -> Result<(), TestCaseError> {
    let want = c.run(ki::fully_connected, SENTINEL_I8);
    let got = c.run(imp.int8_fully_connected, SENTINEL_I8);
    prop_assert_eq!(got, want, "{}: int8 fully connected", imp.name);
    Ok(())
}

/// `imp`'s int8 conv2d kernel against the reference: identical bytes.
pub fn check_conv(imp: &Implementation, c: &ConvI8Case) -> Result<(), TestCaseError> {
    let want = c.run(ki::conv2d, SENTINEL_I8);
    let got = c.run(imp.int8_conv2d, SENTINEL_I8);
    prop_assert_eq!(got, want, "{}: int8 conv2d", imp.name);
    Ok(())
}

/// The bit patterns of `v`, to compare f32 outputs bit for bit.
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

/// `2·γ(n)`, `γ(n) = n·u/(1 − n·u)`.
pub fn two_gamma(n: usize) -> f64 {
    let nu = n as f64 * f64::from(f32::EPSILON) / 2.0;
    2.0 * nu / (1.0 - nu)
}

/// `imp`'s f32 fully connected kernel: within the documented bound of the reference,
/// and bit-identical to the portable implementation.
pub fn check_fc_f32(imp: &Implementation, c: &FcF32Case) -> Result<(), TestCaseError> {
    let want = c.run(kf::fully_connected, SENTINEL_F32);
    let got = c.run(imp.f32_fully_connected, SENTINEL_F32);
    let bias = c.bias.as_deref();
    // Every implementation uses the portable kernel's summation grouping: same bits.
    let portable = fast::implementation("portable").expect("portable is always available");
    let same = c.run(portable.f32_fully_connected, SENTINEL_F32);
    prop_assert_eq!(
        bits(&got),
        bits(&same),
        "{}: f32 fully connected vs portable",
        imp.name
    );
    for b in 0..c.batch {
        for j in 0..c.n {
            let i = b * c.n + j;
            let magnitude: f64 = (0..c.k)
                .map(|p| (f64::from(c.x[b * c.k + p]) * f64::from(c.w[j * c.k + p])).abs())
                .sum::<f64>()
                + bias.map_or(0.0, |bias| f64::from(bias[j]).abs());
            // Underflow: each of the 2(K+1) roundings may add a subnormal ulp.
            let bound = two_gamma(c.k + 1) * magnitude + (2 * c.k + 2) as f64 * 1.5e-45;
            let (g, w) = (got[i], want[i]);
            prop_assert!(
                (f64::from(g) - f64::from(w)).abs() <= bound,
                "{}: f32 fully connected [{}]: got {} want {} (bound {})",
                imp.name,
                i,
                g,
                w,
                bound
            );
        }
    }
    Ok(())
}

/// `imp`'s f32 conv2d kernel against the reference: identical bits.
pub fn check_conv_f32(imp: &Implementation, c: &ConvF32Case) -> Result<(), TestCaseError> {
    let want = c.run(kf::conv2d, SENTINEL_F32);
    let got = c.run(imp.f32_conv2d, SENTINEL_F32);
    prop_assert_eq!(bits(&got), bits(&want), "{}: f32 conv2d bits", imp.name);
    Ok(())
}

// ---------------------------------------------------------------- strategies

/// Random values with the extremes over-represented.
pub fn i8s_extreme(len: usize) -> impl Strategy<Value = Vec<i8>> {
    proptest::collection::vec(prop_oneof![Just(-128i8), Just(127), any::<i8>()], len)
}

/// Per-tensor (1 pair) or per-channel (`channels` pairs) requantization, scales from
/// about 2^-14 (outputs in range) to 2^2 (saturating).
pub fn rq_table(channels: usize) -> impl Strategy<Value = Vec<i32>> {
    prop_oneof![Just(1), Just(channels)].prop_flat_map(|count| {
        proptest::collection::vec(((1i32 << 30)..i32::MAX, -14i32..=2), count).prop_map(|pairs| {
            pairs
                .into_iter()
                .flat_map(|(m, s)| [m, s])
                .collect::<Vec<_>>()
        })
    })
}

pub fn bias_i32(n: usize) -> BoxedStrategy<Option<Vec<i32>>> {
    prop_oneof![
        Just(None),
        proptest::collection::vec(-100_000i32..100_000, n).prop_map(Some),
    ]
    .boxed()
}

pub fn fc_case() -> impl Strategy<Value = FcI8Case> {
    // K up to 80: every remainder modulo 8 and 16, and several vector iterations.
    (1usize..=3, 0usize..=80, 1usize..=11).prop_flat_map(|(batch, k, n)| {
        (
            prop_oneof![i8s(batch * k), i8s_extreme(batch * k)],
            zero_point(),
            prop_oneof![i8s(n * k), i8s_extreme(n * k)],
            bias_i32(n),
            rq_table(n),
            zero_point(),
            act_range(),
        )
            .prop_map(move |(x, x_zp, w, bias, rq, out_zp, act)| FcI8Case {
                x,
                x_zp,
                w,
                bias,
                batch,
                k,
                n,
                rq,
                out_zp,
                act,
            })
    })
}

/// Convolution geometries of these tests: one group and width stride 1 over-represented,
/// half the rows up to 90 wide (several accumulator tiles), up to 9 output channels a group.
pub fn geometry() -> impl Strategy<Value = Geometry> {
    conv_geometry(
        (
            1usize..=2,
            prop_oneof![Just(1usize), 1usize..=4],
            1usize..=3,
            prop_oneof![1usize..=3, 4usize..=9],
        ),
        (
            1usize..=6,
            prop_oneof![1usize..=20, 20usize..=90],
            1usize..=4,
            1usize..=4,
        ),
        (
            1u32..=3,
            prop_oneof![Just(1u32), 1u32..=3],
            1u32..=2,
            1u32..=2,
        ),
    )
}

pub fn conv_case() -> impl Strategy<Value = ConvI8Case> {
    geometry().prop_flat_map(|geometry| {
        let (xs, ws, ..) = geometry;
        let m = ws[0];
        (
            prop_oneof![i8s(xs.iter().product()), i8s_extreme(xs.iter().product())],
            zero_point(),
            prop_oneof![i8s(ws.iter().product()), i8s_extreme(ws.iter().product())],
            bias_i32(m),
            rq_table(m),
            zero_point(),
            act_range(),
        )
            .prop_map(move |data| ConvI8Case::new(geometry, data))
    })
}

pub fn f32s(len: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(
        prop_oneof![
            -4.0f32..4.0,
            Just(0.0),
            Just(-0.0),
            -1e-3f32..1e-3,
            -1e6f32..1e6
        ],
        len,
    )
}

pub fn fc_f32_case() -> impl Strategy<Value = FcF32Case> {
    (1usize..=3, 0usize..=80, 1usize..=11).prop_flat_map(|(batch, k, n)| {
        (
            f32s(batch * k),
            f32s(n * k),
            prop_oneof![Just(None), f32s(n).prop_map(Some)],
            f32_act(),
        )
            .prop_map(move |(x, w, bias, act)| FcF32Case {
                x,
                w,
                bias,
                batch,
                k,
                n,
                act,
            })
    })
}

pub fn conv_f32_case() -> impl Strategy<Value = ConvF32Case> {
    geometry().prop_flat_map(|geometry| {
        let (xs, ws, ..) = geometry;
        (
            f32s(xs.iter().product()),
            f32s(ws.iter().product()),
            prop_oneof![Just(None), f32s(ws[0]).prop_map(Some)],
            f32_act(),
        )
            .prop_map(move |(x, w, bias, act)| ConvF32Case::new(geometry, x, w, bias, act))
    })
}

// ---------------------------------------------------------------- quantize

/// Values that pin Quantize's corners for a scale of 1 (and scaled by the others):
/// ties (±0.5, ±1.5, 2.5, the saturation bounds ±127.5, -128.5, 254.5, 255.5), values
/// one ulp beside a tie, signed zeros, subnormals, huge and infinite values, NaN.
fn quantize_edges() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        126.5,
        127.5,
        -127.5,
        -128.5,
        -129.5,
        254.5,
        255.5,
        256.5,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        f32::MAX,
        f32::MIN,
        1e30,
        -1e30,
        16_777_217.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7fc0_0001),
    ];
    for t in [0.5f32, 1.5, 2.5, 100.5, -0.5, -3.5, -99.5] {
        v.push(f32::from_bits(t.to_bits() + 1));
        v.push(f32::from_bits(t.to_bits() - 1));
    }
    v
}

/// `want` and `got` fill `len` elements of buffers that start as `fill`: the same.
fn same<T: Copy + PartialEq + core::fmt::Debug>(
    fill: T,
    want: impl FnOnce(&mut [T]),
    got: impl FnOnce(&mut [T]),
    len: usize,
    what: &str,
) {
    let (mut w, mut g) = (vec![fill; len], vec![fill; len]);
    want(&mut w);
    got(&mut g);
    assert_eq!(g, w, "{what}");
}

/// Quantize (int8 and uint8) and Dequantize against the reference, identical bytes
/// and bits, on the edge values (at every offset in the vector body and the tail:
/// lengths 0..=80 of the edges rotated, and 1,000 pseudo-random values) for several
/// scales and zero points (inside and outside the output range).
pub fn check_quantize(imp: &Implementation) {
    let edges = quantize_edges();
    let mut inputs: Vec<Vec<f32>> = (0..=80)
        .map(|n| (0..n).map(|i| edges[(i * 7 + n) % edges.len()]).collect())
        .collect();
    inputs.push(
        pattern(1000, 9)
            .iter()
            .zip(pattern(1000, 10))
            .map(|(&a, b)| f32::from(a) * 1.37 + f32::from(b) / 64.0)
            .collect(),
    );
    for scale in [1.0f32, 0.5, 0.1, 0.007_843_137, 3.0, -0.25, 1e-40, 0.0] {
        for zp in [-128, -3, 0, 127, 128, 255, 300, -70_000] {
            for x in &inputs {
                let what = format!("{}: quantize s {scale} zp {zp} {x:?}", imp.name);
                same(
                    0x55i8,
                    |y| kf::quantize_i8(x, scale, zp, y),
                    |y| (imp.f32_quantize_i8)(x, scale, zp, y),
                    x.len(),
                    &what,
                );
                same(
                    0x55u8,
                    |y| kf::quantize_u8(x, scale, zp, y),
                    |y| (imp.f32_quantize_u8)(x, scale, zp, y),
                    x.len(),
                    &what,
                );
            }
            for n in [0, 1, 7, 8, 9, 31, 33, 256, 1000] {
                let xi = pattern(n, n as u32 + 3);
                let (mut want, mut got) = (vec![SENTINEL_F32; n], vec![SENTINEL_F32; n]);
                kf::dequantize_i8(&xi, scale, zp, &mut want);
                (imp.f32_dequantize_i8)(&xi, scale, zp, &mut got);
                assert_eq!(bits(&got), bits(&want), "{}: dequantize_i8", imp.name);
                let xu: Vec<u8> = xi.iter().map(|&v| v as u8).collect();
                kf::dequantize_u8(&xu, scale, zp, &mut want);
                (imp.f32_dequantize_u8)(&xu, scale, zp, &mut got);
                assert_eq!(bits(&got), bits(&want), "{}: dequantize_u8", imp.name);
            }
        }
    }
}

// ---------------------------------------------------------------- named cases

/// Deterministic filler: `len` values from a linear congruential sequence.
pub fn pattern(len: usize, seed: u32) -> Vec<i8> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8 as i8
        })
        .collect()
}

pub fn pattern_f32(len: usize, seed: u32) -> Vec<f32> {
    pattern(len, seed)
        .into_iter()
        .map(|v| f32::from(v) / 37.0)
        .collect()
}

pub fn per_channel(n: usize, shift: i32) -> Vec<i32> {
    (0..n)
        .flat_map(|j| [(1 << 30) + (j as i32) * 7_654_321, shift - (j % 3) as i32])
        .collect()
}

pub fn fc(batch: usize, k: usize, n: usize, x_zp: i32, seed: u32) -> FcI8Case {
    FcI8Case {
        x: pattern(batch * k, seed),
        x_zp,
        w: pattern(n * k, seed + 1),
        bias: Some((0..n).map(|j| (j as i32 - 3) * 1000).collect()),
        batch,
        k,
        n,
        rq: per_channel(n, -8),
        out_zp: 3,
        act: (-128, 127),
    }
}

/// Named fully connected cases.
pub fn fc_regressions() -> Vec<(&'static str, FcI8Case)> {
    let mut cases = Vec::new();
    for k in [1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 784] {
        cases.push((
            "k_not_a_multiple_of_the_vector_width",
            fc(1, k, 6, -5, k as u32),
        ));
    }
    cases.push((
        "batch_of_three_with_n_not_a_multiple_of_four",
        fc(3, 40, 7, 11, 1),
    ));
    cases.push(("k_zero_gives_bias_only", fc(2, 0, 5, 0, 2)));
    for x_zp in [-128, 127] {
        let mut c = fc(2, 37, 9, x_zp, 3);
        c.x = pattern(2 * 37, 9)
            .into_iter()
            .map(|v| if v >= 0 { 127 } else { -128 })
            .collect();
        c.w = (0..9 * 37)
            .map(|i| if i % 2 == 0 { -128 } else { 127 })
            .collect();
        cases.push(("zero_points_at_the_extremes_with_extreme_values", c));
    }
    let mut c = fc(1, 50, 8, -128, 4);
    c.rq = vec![i32::MAX, 2]; // per tensor, scale ~4: everything saturates
    cases.push(("per_tensor_saturating_outputs", c));
    let mut c = fc(1, 50, 8, 0, 5);
    c.act = (-10, 10);
    cases.push(("activation_clamp", c));
    let mut c = fc(1, 20, 6, 0, 6);
    c.rq = vec![1 << 30, -3, 0, 0, 1 << 30]; // pair 1 is (0, 0); pairs 2.. are missing
    cases.push(("zero_and_missing_requant_pairs", c));
    // 70 000 products of (-128 - 127) * -128 = 32640 overflow i32: the sum wraps.
    let k = 70_000;
    cases.push((
        "wrapping_accumulator",
        FcI8Case {
            x: vec![-128; k],
            x_zp: 127,
            w: vec![-128; 4 * k],
            bias: Some(vec![i32::MAX, i32::MIN, 1, -1]),
            batch: 1,
            k,
            n: 4,
            rq: vec![1 << 30, -20],
            out_zp: 0,
            act: (-128, 127),
        },
    ));
    for x_zp in [128, -129, 100_000, i32::MIN] {
        cases.push((
            "zero_point_outside_i8_uses_the_reference",
            fc(2, 19, 5, x_zp, 7),
        ));
    }
    cases
}

pub fn conv(xs: [usize; 4], ws: [usize; 4], win: Window, groups: usize, seed: u32) -> ConvI8Case {
    let m = ws[0];
    ConvI8Case::new(
        fixed_geometry(xs, ws, win, groups),
        (
            pattern(xs.iter().product(), seed),
            -7,
            pattern(ws.iter().product(), seed + 1),
            Some((0..m).map(|j| (j as i32 - 2) * 500).collect()),
            per_channel(m, -8),
            -2,
            (-128, 127),
        ),
    )
}

/// Named convolution cases.
pub fn conv_regressions() -> Vec<(&'static str, ConvI8Case)> {
    let same3 = window([3, 3], [1, 1], [1, 1], [1, 1, 1, 1]);
    let mut cases = vec![
        ("same_3x3", conv([1, 4, 9, 13], [5, 4, 3, 3], same3, 1, 1)),
        (
            "rows_spanning_several_tiles",
            conv([1, 2, 3, 150], [3, 2, 3, 3], same3, 1, 2),
        ),
        (
            "stride_two",
            conv(
                [2, 3, 11, 37],
                [4, 3, 3, 3],
                window([3, 3], [2, 2], [1, 1], [1, 1, 1, 1]),
                1,
                3,
            ),
        ),
        (
            "dilation_and_asymmetric_pads",
            conv(
                [1, 2, 8, 40],
                [3, 2, 2, 3],
                window([2, 3], [1, 1], [2, 3], [0, 2, 1, 0]),
                1,
                4,
            ),
        ),
        ("depthwise", conv([1, 6, 7, 33], [6, 1, 3, 3], same3, 6, 5)),
        (
            "grouped",
            conv(
                [2, 6, 5, 19],
                [4, 3, 1, 3],
                window([1, 3], [1, 1], [1, 1], [0, 1, 0, 1]),
                2,
                6,
            ),
        ),
        (
            "conv1d",
            conv(
                [1, 3, 1, 100],
                [4, 3, 1, 5],
                window([1, 5], [1, 1], [1, 1], [0, 2, 0, 2]),
                1,
                7,
            ),
        ),
        (
            "kernel_wider_than_the_input",
            conv(
                [1, 1, 2, 3],
                [2, 1, 3, 7],
                window([3, 7], [1, 1], [1, 1], [2, 4, 2, 4]),
                1,
                8,
            ),
        ),
        (
            "pointwise",
            conv(
                [1, 16, 4, 4],
                [8, 16, 1, 1],
                window([1, 1], [1, 1], [1, 1], [0; 4]),
                1,
                9,
            ),
        ),
    ];
    // The blocked kernels (stride 1, rows of at least 16 outputs): the sensor CNN's
    // layers, passes in and out of the padding, a reach beyond the padded copy, and
    // the neighbours that keep the tiled kernels.
    let conv1d = |c: usize, w: usize, m: usize, k: u32, s: u32, d: u32, p: [u32; 2], seed| {
        let ws = [m, c, 1, k as usize];
        conv(
            [1, c, 1, w],
            ws,
            window([1, k], [1, s], [1, d], [0, p[0], 0, p[1]]),
            1,
            seed,
        )
    };
    cases.extend([
        (
            "sensor_conv1d_3x64_to_8",
            conv1d(3, 64, 8, 5, 1, 1, [2, 2], 20),
        ),
        (
            "sensor_conv1d_8x32_to_16",
            conv1d(8, 32, 16, 5, 1, 1, [2, 2], 21),
        ),
        (
            "conv1d_one_input_channel",
            conv1d(1, 40, 5, 3, 1, 1, [1, 1], 22),
        ),
        ("conv1d_stride_two", conv1d(3, 64, 8, 5, 2, 1, [2, 2], 23)),
        ("conv1d_dilation_two", conv1d(2, 50, 6, 3, 1, 2, [2, 2], 24)),
        (
            "conv1d_asymmetric_pads",
            conv1d(3, 33, 4, 5, 1, 1, [4, 0], 25),
        ),
        (
            "conv1d_row_of_exactly_16",
            conv1d(3, 16, 4, 5, 1, 1, [2, 2], 26),
        ),
        ("conv1d_row_of_15", conv1d(3, 15, 4, 5, 1, 1, [2, 2], 27)),
        (
            "conv1d_reach_beyond_the_copy",
            conv1d(2, 60, 4, 9, 1, 3, [12, 12], 28),
        ),
        (
            "conv1d_pads_wider_than_the_kernel",
            conv1d(2, 20, 4, 3, 1, 1, [5, 6], 29),
        ),
        ("conv1d_no_padding", conv1d(4, 37, 9, 5, 1, 1, [0, 0], 30)),
        (
            "conv2d_rows_with_blocks_and_height_padding",
            conv(
                [2, 3, 5, 40],
                [6, 3, 3, 5],
                window([3, 5], [2, 1], [1, 1], [2, 2, 1, 2]),
                1,
                31,
            ),
        ),
        (
            "grouped_blocks",
            conv(
                [1, 6, 1, 48],
                [6, 2, 1, 5],
                window([1, 5], [1, 1], [1, 1], [0, 2, 0, 2]),
                3,
                32,
            ),
        ),
    ]);
    for x_zp in [-128, 127] {
        let mut c = conv([1, 3, 6, 21], [4, 3, 3, 3], same3, 1, 10);
        c.x_zp = x_zp;
        c.x =
            c.x.iter()
                .map(|&v| if v >= 0 { 127 } else { -128 })
                .collect();
        c.w =
            c.w.iter()
                .map(|&v| if v >= 0 { 127 } else { -128 })
                .collect();
        c.rq = vec![i32::MAX, 0];
        cases.push(("zero_points_at_the_extremes_saturating", c));
    }
    for x_zp in [128, -1000] {
        let mut c = conv([1, 2, 5, 17], [3, 2, 3, 3], same3, 1, 11);
        c.x_zp = x_zp;
        cases.push(("zero_point_outside_i8_uses_the_reference", c));
    }
    let mut c = conv([1, 2, 5, 17], [3, 2, 3, 3], same3, 1, 12);
    c.y_len -= 7;
    cases.push(("short_output_buffer_writes_the_prefix", c));
    let mut c = conv([1, 2, 5, 17], [3, 2, 3, 3], same3, 1, 13);
    c.win.stride = [0, 0];
    c.ys = [1, 3, 4, 9];
    c.y_len = 3 * 4 * 9;
    cases.push(("stride_zero", c));
    cases
}

pub fn to_f32(c: &ConvI8Case) -> ConvF32Case {
    ConvF32Case {
        x: c.x.iter().map(|&v| f32::from(v) / 13.0).collect(),
        xs: c.xs,
        w: c.w.iter().map(|&v| f32::from(v) / 29.0).collect(),
        ws: c.ws,
        bias: c
            .bias
            .as_ref()
            .map(|b| b.iter().map(|&v| v as f32 / 1000.0).collect()),
        win: c.win,
        groups: c.groups,
        act: (-3.0, 3.0),
        ys: c.ys,
    }
}

pub fn fc_f32_regressions() -> Vec<(&'static str, FcF32Case)> {
    let mut cases = Vec::new();
    for (k, n) in [(1, 1), (7, 4), (8, 5), (9, 9), (17, 3), (784, 16)] {
        cases.push((
            "k_not_a_multiple_of_the_vector_width",
            FcF32Case {
                x: pattern_f32(2 * k, k as u32),
                w: pattern_f32(n * k, 99),
                bias: Some(pattern_f32(n, 5)),
                batch: 2,
                k,
                n,
                act: NONE,
            },
        ));
    }
    cases
}

// ---------------------------------------------------------------- the suite

/// `kernel_tests! { module => "name", … }`: a test module per implementation name (see
/// [`implementation`]) with the suite of every kernel family.
// Each test file is its own crate: in those that do not run the suite it is unused.
#[allow(unused_macros)]
macro_rules! kernel_tests {
    ($($module:ident => $name:literal),* $(,)?) => {$(
        mod $module {
            use $crate::support::suite::*;
            use ferrite::kernels::fast::Implementation;

            fn imp() -> Option<Implementation> {
                implementation($name)
            }

            #[test]
            fn int8_fully_connected_matches_reference_on_random_cases() {
                let Some(imp) = imp() else { return };
                run(256, fc_case(), |c| check_fc(&imp, &c));
            }

            #[test]
            fn int8_fully_connected_named_cases() {
                let Some(imp) = imp() else { return };
                for (name, c) in fc_regressions() {
                    check_fc(&imp, &c).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }

            #[test]
            fn int8_conv2d_matches_reference_on_random_cases() {
                let Some(imp) = imp() else { return };
                run(192, conv_case(), |c| check_conv(&imp, &c));
            }

            #[test]
            fn int8_conv2d_named_cases() {
                let Some(imp) = imp() else { return };
                for (name, c) in conv_regressions() {
                    check_conv(&imp, &c).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }

            #[test]
            fn f32_fully_connected_within_bound_on_random_cases() {
                let Some(imp) = imp() else { return };
                run(256, fc_f32_case(), |c| check_fc_f32(&imp, &c));
            }

            #[test]
            fn f32_fully_connected_named_cases() {
                let Some(imp) = imp() else { return };
                for (name, c) in fc_f32_regressions() {
                    check_fc_f32(&imp, &c).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }

            #[test]
            fn f32_conv2d_bit_identical_on_random_cases() {
                let Some(imp) = imp() else { return };
                run(192, conv_f32_case(), |c| check_conv_f32(&imp, &c));
            }

            #[test]
            fn quantize_dequantize_identical_on_edge_values() {
                let Some(imp) = imp() else { return };
                check_quantize(&imp);
            }

            #[test]
            fn f32_conv2d_named_cases() {
                let Some(imp) = imp() else { return };
                for (name, c) in conv_regressions() {
                    check_conv_f32(&imp, &to_f32(&c)).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use kernel_tests;
