//! int8 reference kernels and fixed-point helpers against integer references written
//! here, compared exactly (identical bytes).
//!
//! The references use i64/i128 arithmetic and their own formulation of gemmlowp's
//! rounding, written from its specification rather than from its C code:
//! - doubling high mul: `a*b / 2^31` rounded to nearest, ties towards +infinity
//!   (that is `floor((a*b + 2^30) / 2^31)`, what gemmlowp's nudge-and-truncate and
//!   ARM `VQRDMULH` compute), saturating `i32::MIN * i32::MIN` to `i32::MAX`;
//! - rounding divide by a power of two: to nearest, ties away from zero.

use ferrite::format::types::{BinaryOp, QBinary, Requant, Window};
use ferrite::kernels::{fixed, int8 as ki, BroadcastShapes};
use proptest::prelude::*;
use support::{
    act_range, axis_lines, broadcast_index, broadcast_shapes, conv_geometry, fixed_geometry, i8s,
    pool_geometry, pool_params, unravel, window, zero_point, ConvI8Case as ConvCase, FcI8Case,
};

mod support;

// ---------------------------------------------------------------- fixed-point references

fn ref_srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i128::from(a) * i128::from(b);
    (ab + (1 << 30)).div_euclid(1 << 31) as i32
}

fn ref_rdbpot(x: i64, e: u32) -> i64 {
    // Magnitude rounded half up, sign restored: ties away from zero.
    let half = if e == 0 { 0 } else { 1i64 << (e - 1) };
    let q = (x.abs() + half) >> e;
    if x < 0 {
        -q
    } else {
        q
    }
}

/// `x * m * 2^(s - 31)`: left shift `x` (must not overflow i32 in the tests), high mul,
/// rounding right shift.
fn ref_mbqm(x: i64, m: i32, s: i32) -> i64 {
    let shifted = x << s.max(0);
    assert!(
        i32::try_from(shifted).is_ok(),
        "test reference input out of i32 range"
    );
    ref_rdbpot(i64::from(ref_srdhm(shifted as i32, m)), (-s).max(0) as u32)
}

fn ref_requant(acc: i64, (m, s): (i32, i32), out_zp: i32, lo: i32, hi: i32) -> i8 {
    let v = ref_mbqm(acc, m, s) + i64::from(out_zp);
    v.clamp(i64::from(lo.max(-128)), i64::from(hi.min(127))) as i8
}

/// TFLite QuantizeMultiplier written with frexp and round (f64), for comparison.
fn ref_quantize_multiplier(d: f64) -> (i32, i32) {
    if d == 0.0 {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(d);
    let mut q_fixed = (q * 2f64.powi(31)).round() as i64;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    if shift > 30 {
        return (i32::MAX, 30);
    }
    (q_fixed as i32, shift)
}

// ---------------------------------------------------------------- fixed-point tests

#[test]
fn srdhm_hand_computed_values() {
    // gemmlowp: the one overflow case saturates.
    assert_eq!(
        fixed::saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
        i32::MAX
    );
    // i32::MIN * i32::MAX / 2^31 = -(2^31 - 1): exact.
    assert_eq!(
        fixed::saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX),
        -i32::MAX
    );
    // 2^30 is 0.5 in Q0.31: halves.
    assert_eq!(
        fixed::saturating_rounding_doubling_high_mul(1000, 1 << 30),
        500
    );
    assert_eq!(
        fixed::saturating_rounding_doubling_high_mul(-1000, 1 << 30),
        -500
    );
    // Ties (x.5): towards +infinity, also for negative values (VQRDMULH behaviour).
    assert_eq!(fixed::saturating_rounding_doubling_high_mul(1, 1 << 30), 1); // 0.5 -> 1
    assert_eq!(fixed::saturating_rounding_doubling_high_mul(-1, 1 << 30), 0); // -0.5 -> 0
    assert_eq!(fixed::saturating_rounding_doubling_high_mul(3, 1 << 30), 2); // 1.5 -> 2
    assert_eq!(
        fixed::saturating_rounding_doubling_high_mul(-3, 1 << 30),
        -1
    ); // -1.5 -> -1
       // Not a tie: -0.500000001 rounds to -1.
    assert_eq!(
        fixed::saturating_rounding_doubling_high_mul(-1, (1 << 30) + 1),
        -1
    );
    assert_eq!(
        fixed::saturating_rounding_doubling_high_mul(i32::MAX, i32::MAX),
        i32::MAX - 1
    );
}

#[test]
fn rounding_divide_by_pot_hand_computed_values() {
    let cases = [
        (5, 1, 3),   // 2.5 -> 3
        (-5, 1, -3), // -2.5 -> -3 (away from zero)
        (3, 1, 2),
        (-3, 1, -2),
        (4, 1, 2),
        (-4, 1, -2),
        (7, 2, 2),   // 1.75
        (-7, 2, -2), // -1.75
        (6, 2, 2),   // 1.5 -> 2
        (-6, 2, -2), // -1.5 -> -2
        (5, 2, 1),   // 1.25
        (-5, 2, -1),
        (12345, 0, 12345),
        (i32::MAX, 31, 1),
        (i32::MIN, 31, -1),
        (i32::MIN, 30, -2),
        (-1, 31, 0),
    ];
    for (x, e, want) in cases {
        assert_eq!(fixed::rounding_divide_by_pot(x, e), want, "{x} / 2^{e}");
    }
}

#[test]
fn quantize_multiplier_tflite_documented_values() {
    // tflite quantization_util_test.cc: QuantizeMultiplierArray / SmallerThanOneExp /
    // GreaterThanOne / Underflow.
    let cases: &[(f64, i32, i32)] = &[
        (-4.0, -1073741824, 3),
        (-2.0, -1073741824, 2),
        (-1.0, -1073741824, 1),
        (-0.5, -1073741824, 0),
        (-0.25, -1073741824, -1),
        (-0.125, -1073741824, -2),
        (0.0, 0, 0),
        (0.125, 1073741824, -2),
        (0.25, 1073741824, -1),
        (0.5, 1073741824, 0),
        (1.0, 1073741824, 1),
        (2.0, 1073741824, 2),
        (4.0, 1073741824, 3),
        (0.50 - 5e-9, 2147483627, -1),
        (0.50 - 1e-10, 1073741824, 0),
        (0.75, 1610612736, 0),
        (1.0 - 1e-9, 2147483646, 0),
        (1.0 + 1e-11, 1073741824, 1),
        (1.25, 1342177280, 1),
        (1.50, 1610612736, 1),
        (1.75, 1879048192, 1),
        (2.0 - 1e-9, 2147483647, 1),
        (2.0 - 1e-11, 1073741824, 2),
        (1.0 / 2147483648.0, 1073741824, -30), // 2^-31
        (1.0 / 4294967296.0, 1073741824, -31), // 2^-32
        (0.99f32 as f64 / 4294967296.0, 0, 0), // 0.99 * 2^-32 flushes
        (1.0 / 8589934592.0, 0, 0),            // 2^-33 flushes
    ];
    for &(d, m, s) in cases {
        assert_eq!(
            fixed::quantize_multiplier(d),
            (m, s),
            "quantize_multiplier({d:e})"
        );
    }
    assert_eq!(fixed::quantize_multiplier(-0.0), (0, 0));
    assert_eq!(
        fixed::quantize_multiplier(1e300),
        (i32::MAX, 30),
        "saturates"
    );
    assert_eq!(fixed::quantize_multiplier(f64::NAN), (0, 0));
    assert_eq!(fixed::quantize_multiplier(f64::INFINITY), (0, 0));
    assert_eq!(
        fixed::quantize_multiplier(f64::MIN_POSITIVE / 4.0),
        (0, 0),
        "subnormal"
    );
}

#[test]
fn multiply_by_quantized_multiplier_tflite_documented_values() {
    // tflite quantization_util_test.cc: MultiplyByQuantizedMultiplierInt32.
    let qm = |x: i32, d: f64| {
        let (m, s) = fixed::quantize_multiplier(d);
        fixed::multiply_by_quantized_multiplier(x, m, s)
    };
    assert_eq!(qm(0, 0.1), 0);
    assert_eq!(qm(1, 0.0), 0);
    assert_eq!(qm(10000, 0.00097656), 10);
    assert_eq!(qm(-10000, 0.00097656), -10);
    assert_eq!(qm(i32::MIN, 0.00001), -21475);
    assert_eq!(qm(i32::MAX, 0.00001), 21475);
    assert_eq!(qm(10000, -0.00097656), -10);
    assert_eq!(qm(-10000, -0.00097656), 10);
    assert_eq!(qm(i32::MIN, -0.00001), 21475);
    assert_eq!(qm(i32::MAX, -0.00001), -21475);
    // Maximum x and multiplier, shift -3: round((2^31-1)^2 / 2^34) = 268435456.
    assert_eq!(
        fixed::multiply_by_quantized_multiplier(i32::MAX, i32::MAX, -3),
        268435456
    );
    assert_eq!(
        fixed::multiply_by_quantized_multiplier(-i32::MAX, i32::MAX, -3),
        -268435456
    );
    // Left shift: 3 * 0.5 * 2^2 = 6.
    assert_eq!(fixed::multiply_by_quantized_multiplier(3, 1 << 30, 2), 6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fixed_point_helpers_match_reference(a in any::<i32>(), b in any::<i32>(), e in 0i32..=31) {
        prop_assert_eq!(fixed::saturating_rounding_doubling_high_mul(a, b), ref_srdhm(a, b));
        // b = 0.5 in Q0.31 makes every odd `a` an exact tie.
        prop_assert_eq!(fixed::saturating_rounding_doubling_high_mul(a, 1 << 30), ref_srdhm(a, 1 << 30));
        prop_assert_eq!(i64::from(fixed::rounding_divide_by_pot(a, e)), ref_rdbpot(i64::from(a), e as u32));
    }

    #[test]
    fn mbqm_matches_reference(x in -(1i32 << 20)..(1 << 20), m in (1i32 << 30)..i32::MAX, s in -31i32..=10) {
        prop_assert_eq!(i64::from(fixed::multiply_by_quantized_multiplier(x, m, s)), ref_mbqm(i64::from(x), m, s));
    }

    #[test]
    fn quantize_multiplier_is_frexp_rounded(log2 in -40.0f64..40.0, neg in any::<bool>()) {
        let d = if neg { -(2f64.powf(log2)) } else { 2f64.powf(log2) };
        let (m, s) = fixed::quantize_multiplier(d);
        prop_assert_eq!((m, s), ref_quantize_multiplier(d));
        if (m, s) != (0, 0) && (-31..=30).contains(&s) && d.abs() < 2f64.powi(30) {
            prop_assert!((1 << 30..=i32::MAX).contains(&m.abs()), "normalized multiplier {}", m);
            // m * 2^(s-31) is within one unit of the 31-bit mantissa of d.
            let ulp = 2f64.powi(s - 31);
            let back = f64::from(m) * ulp;
            prop_assert!((back - d).abs() <= ulp, "{} -> ({}, {}) = {}", d, m, s, back);
        }
    }
}

// ---------------------------------------------------------------- kernel references

fn rq_at(rq: &[i32], ch: usize) -> (i32, i32) {
    if rq.len() == 2 {
        (rq[0], rq[1])
    } else {
        (rq[2 * ch], rq[2 * ch + 1])
    }
}

fn ref_fc(c: &FcI8Case) -> Vec<i8> {
    let (x, x_zp, w, bias) = (&c.x, c.x_zp, &c.w, c.bias.as_deref());
    let (batch, k, n, rq, out_zp, (lo, hi)) = (c.batch, c.k, c.n, &c.rq, c.out_zp, c.act);
    let mut out = Vec::new();
    for b in 0..batch {
        for j in 0..n {
            let mut acc: i64 = 0;
            for p in 0..k {
                acc += (i64::from(x[b * k + p]) - i64::from(x_zp)) * i64::from(w[j * k + p]);
            }
            acc += bias.map_or(0, |bias| i64::from(bias[j]));
            out.push(ref_requant(acc, rq_at(rq, j), out_zp, lo, hi));
        }
    }
    out
}

fn ref_conv(c: &ConvCase) -> Vec<i8> {
    let [n, ch, h, wd] = c.xs.map(|v| v as i64);
    let [m, cg, kh, kw] = c.ws.map(|v| v as i64);
    let [_, _, oh, ow] = c.ys.map(|v| v as i64);
    let [sh, sw] = c.win.stride.map(i64::from);
    let [dh, dw] = c.win.dilation.map(i64::from);
    let (pt, pl) = (i64::from(c.win.pads[0]), i64::from(c.win.pads[1]));
    let per_group = m / c.groups as i64;
    let mut out = Vec::new();
    for b in 0..n {
        for oc in 0..m {
            let g = oc / per_group;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc: i64 = 0;
                    for ci in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = oy * sh - pt + ky * dh;
                                let ix = ox * sw - pl + kx * dw;
                                // Padding holds x_zp: contributes (x_zp - x_zp) * w = 0.
                                let xv = if iy < 0 || iy >= h || ix < 0 || ix >= wd {
                                    i64::from(c.x_zp)
                                } else {
                                    i64::from(
                                        c.x[(((b * ch + g * cg + ci) * h + iy) * wd + ix) as usize],
                                    )
                                };
                                let wv =
                                    i64::from(c.w[(((oc * cg + ci) * kh + ky) * kw + kx) as usize]);
                                acc += (xv - i64::from(c.x_zp)) * wv;
                            }
                        }
                    }
                    acc += c
                        .bias
                        .as_ref()
                        .map_or(0, |bias| i64::from(bias[oc as usize]));
                    out.push(ref_requant(
                        acc,
                        rq_at(&c.rq, oc as usize),
                        c.out_zp,
                        c.act.0,
                        c.act.1,
                    ));
                }
            }
        }
    }
    out
}

fn run_conv(c: &ConvCase) -> Vec<i8> {
    c.run(ki::conv2d, 0x55u8 as i8)
}

/// Rounding of the TFLite average: half away from zero.
fn ref_div_round(sum: i64, count: i64) -> i64 {
    let q = (2 * sum.abs() + count) / (2 * count); // floor(|sum|/count + 1/2)
    if sum < 0 {
        -q
    } else {
        q
    }
}

/// Avg pool reference; padded-but-counted cells hold `x_zp`.
fn ref_avg_pool(
    x: &[i8],
    xs: [usize; 4],
    x_zp: i32,
    win: &Window,
    include: bool,
    ys: [usize; 4],
) -> Vec<i8> {
    let [n, c, h, wd] = xs.map(|v| v as i64);
    let [_, _, oh, ow] = ys.map(|v| v as i64);
    let [kh, kw] = win.kernel.map(i64::from);
    let [sh, sw] = win.stride.map(i64::from);
    let [dh, dw] = win.dilation.map(i64::from);
    let [pt, pl, pb, pr] = win.pads.map(i64::from);
    let mut out = Vec::new();
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut sum, mut count) = (0i64, 0i64);
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = oy * sh - pt + ky * dh;
                        let ix = ox * sw - pl + kx * dw;
                        if iy >= 0 && iy < h && ix >= 0 && ix < wd {
                            sum += i64::from(x[((plane * h + iy) * wd + ix) as usize]);
                            count += 1;
                        } else if include && iy >= -pt && iy < h + pb && ix >= -pl && ix < wd + pr {
                            sum += i64::from(x_zp);
                            count += 1;
                        }
                    }
                }
                out.push(if count == 0 {
                    0
                } else {
                    ref_div_round(sum, count).clamp(-128, 127) as i8
                });
            }
        }
    }
    out
}

fn ref_max_pool(x: &[i8], xs: [usize; 4], win: &Window, ys: [usize; 4]) -> Vec<i8> {
    let [n, c, h, wd] = xs.map(|v| v as i64);
    let [_, _, oh, ow] = ys.map(|v| v as i64);
    let [kh, kw] = win.kernel.map(i64::from);
    let [sh, sw] = win.stride.map(i64::from);
    let [dh, dw] = win.dilation.map(i64::from);
    let (pt, pl) = (i64::from(win.pads[0]), i64::from(win.pads[1]));
    let mut out = Vec::new();
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = i8::MIN;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = oy * sh - pt + ky * dh;
                        let ix = ox * sw - pl + kx * dw;
                        if iy >= 0 && iy < h && ix >= 0 && ix < wd {
                            best = best.max(x[((plane * h + iy) * wd + ix) as usize]);
                        }
                    }
                }
                out.push(best);
            }
        }
    }
    out
}

fn ref_binary_one(op: BinaryOp, q: &QBinary, a: i8, b: i8) -> i8 {
    let av = i64::from(a) - i64::from(q.a_zero_point);
    let bv = i64::from(b) - i64::from(q.b_zero_point);
    let raw = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let sa = ref_mbqm(av << q.left_shift, q.a.multiplier, q.a.shift);
            let sb = ref_mbqm(bv << q.left_shift, q.b.multiplier, q.b.shift);
            let sum = if op == BinaryOp::Add {
                sa + sb
            } else {
                sa - sb
            };
            ref_mbqm(sum, q.out.multiplier, q.out.shift)
        }
        BinaryOp::Mul => ref_mbqm(av * bv, q.out.multiplier, q.out.shift),
        _ => unreachable!(),
    };
    (raw + i64::from(q.out_zero_point)).clamp(i64::from(q.act_min), i64::from(q.act_max)) as i8
}

fn ref_softmax(x: &[i8], outer: usize, axis: usize, inner: usize, table: &[u32]) -> Vec<i8> {
    let mut y = vec![0i8; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let idx = |j: usize| (o * axis + j) * inner + i;
            let m = (0..axis).map(|j| i64::from(x[idx(j)])).max().unwrap();
            let e = |j: usize| u128::from(table[(m - i64::from(x[idx(j)])) as usize]);
            let sum: u128 = (0..axis).map(e).sum();
            for j in 0..axis {
                // round(e * 256 / sum), ties up.
                let q = (2 * e(j) * 256 + sum) / (2 * sum);
                y[idx(j)] = (q as i64 - 128).clamp(-128, 127) as i8;
            }
        }
    }
    y
}

/// Softmax table for `input_scale * beta = s`: `exp(-d s)` in Q0.31, saturated.
fn softmax_table(s: f64) -> Vec<u32> {
    (0..256)
        .map(|d| {
            ((-(d as f64) * s).exp() * 2f64.powi(31))
                .round()
                .min(f64::from(i32::MAX)) as u32
        })
        .collect()
}

// ---------------------------------------------------------------- strategies

fn weights(len: usize) -> impl Strategy<Value = Vec<i8>> {
    proptest::collection::vec(-127i8..=127, len)
}

/// `channels` (multiplier, shift) pairs with effective scales around 2^-12 .. 2^-4,
/// so outputs both saturate and land inside the range.
fn rq_table(channels: usize) -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(((1i32 << 30)..i32::MAX, -12i32..=-4), channels)
        .prop_map(|pairs| pairs.into_iter().flat_map(|(m, s)| [m, s]).collect())
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        conv_geometry(
            (1usize..=2, 1usize..=3, 1usize..=3, 1usize..=2),
            (1usize..=6, 1usize..=6, 1usize..=3, 1usize..=3),
            (1u32..=3, 1u32..=2, 1u32..=2, 1u32..=2),
        ),
        (any::<bool>(), any::<bool>()),
    )
        .prop_flat_map(|(geometry, (has_bias, per_channel))| {
            let (xs, ws, ..) = geometry;
            let m = ws[0];
            let bias = if has_bias {
                proptest::collection::vec(-20000i32..20000, m)
                    .prop_map(Some)
                    .boxed()
            } else {
                Just(None).boxed()
            };
            (
                i8s(xs.iter().product()),
                zero_point(),
                weights(ws.iter().product()),
                bias,
                rq_table(if per_channel { m } else { 1 }),
                zero_point(),
                act_range(),
            )
                .prop_map(move |data| ConvCase::new(geometry, data))
        })
}

fn qbinary(op: BinaryOp) -> impl Strategy<Value = QBinary> {
    let requant = |shifts: core::ops::RangeInclusive<i32>| {
        ((1i32 << 30)..i32::MAX, shifts)
            .prop_map(|(multiplier, shift)| Requant { multiplier, shift })
    };
    // Add/Sub: inputs shifted left by 20 then scaled by < 1, output scaled by ~2^-20
    // (TFLite's layout). Mul: the product scaled by 2^-10 .. 2^-4.
    let (a_shift, out_shift) = if op == BinaryOp::Mul {
        (-1..=0, -11..=-5)
    } else {
        (-3..=0, -22..=-15)
    };
    (
        zero_point(),
        zero_point(),
        zero_point(),
        requant(a_shift.clone()),
        requant(a_shift),
        requant(out_shift),
        act_range(),
    )
        .prop_map(
            |(a_zero_point, b_zero_point, out_zero_point, a, b, out, (act_min, act_max))| QBinary {
                a_zero_point,
                b_zero_point,
                out_zero_point,
                left_shift: 20,
                a,
                b,
                out,
                act_min,
                act_max,
            },
        )
}

// ---------------------------------------------------------------- random kernel tests

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fully_connected_matches_reference(
        (batch, k, n) in (1usize..=3, 1usize..=32, 1usize..=8),
        x in i8s(96),
        w in weights(256),
        bias in proptest::collection::vec(-20000i32..20000, 8),
        has_bias in any::<bool>(),
        per_channel in any::<bool>(),
        rq in rq_table(8),
        (x_zp, out_zp) in (zero_point(), zero_point()),
        (lo, hi) in act_range(),
    ) {
        let case = FcI8Case {
            x: x[..batch * k].to_vec(),
            x_zp,
            w: w[..n * k].to_vec(),
            bias: has_bias.then(|| bias[..n].to_vec()),
            batch,
            k,
            n,
            rq: if per_channel { rq[..2 * n].to_vec() } else { rq[..2].to_vec() },
            out_zp,
            act: (lo, hi),
        };
        prop_assert_eq!(case.run(ki::fully_connected, 0x55u8 as i8), ref_fc(&case));
    }

    #[test]
    fn conv2d_matches_reference(case in conv_case()) {
        prop_assert_eq!(run_conv(&case), ref_conv(&case));
    }

    #[test]
    fn pools_match_reference(
        (xs, ys, win) in pool_geometry(Just(false)),
        x in i8s(216),
        x_zp in zero_point(),
    ) {
        let x = &x[..xs.iter().product::<usize>()];
        let mut y = vec![0x55u8 as i8; ys.iter().product()];
        ki::max_pool2d(&pool_params(xs, ys, win, false), x, &mut y);
        prop_assert_eq!(&y, &ref_max_pool(x, xs, &win, ys));
        for include in [false, true] {
            let p = pool_params(xs, ys, win, include);
            ki::avg_pool2d(&p, x, 0, &mut y);
            prop_assert_eq!(&y, &ref_avg_pool(x, xs, 0, &win, include, ys));
            ki::avg_pool2d(&p, x, x_zp, &mut y);
            prop_assert_eq!(&y, &ref_avg_pool(x, xs, x_zp, &win, include, ys));
        }
    }

    #[test]
    fn global_pools_match_reference((channels, spatial) in (1usize..=6, 1usize..=20), x in i8s(120)) {
        let x = &x[..channels * spatial];
        let mut y = vec![0i8; channels];
        ki::global_avg_pool(x, channels, spatial, &mut y);
        let want: Vec<i8> = x.chunks(spatial).map(|r| ref_div_round(r.iter().map(|&v| i64::from(v)).sum(), spatial as i64) as i8).collect();
        prop_assert_eq!(&y, &want);
        ki::global_max_pool(x, channels, spatial, &mut y);
        let want: Vec<i8> = x.chunks(spatial).map(|r| *r.iter().max().unwrap()).collect();
        prop_assert_eq!(&y, &want);
    }

    #[test]
    fn binary_matches_reference(
        (y_shape, a_shape, b_shape) in broadcast_shapes(),
        (op, q) in prop_oneof![Just(BinaryOp::Add), Just(BinaryOp::Sub), Just(BinaryOp::Mul)].prop_flat_map(|op| (Just(op), qbinary(op))),
        a in i8s(256),
        b in i8s(256),
    ) {
        let len: usize = y_shape.iter().product();
        let mut y = vec![0x55u8 as i8; len];
        let s = BroadcastShapes { a: &a_shape, b: &b_shape, y: &y_shape };
        ki::binary(op, &q, &s, &a, &b, &mut y);
        let want: Vec<i8> = (0..len)
            .map(|i| {
                let idx = unravel(i, &y_shape);
                ref_binary_one(op, &q, a[broadcast_index(&idx, &a_shape)], b[broadcast_index(&idx, &b_shape)])
            })
            .collect();
        prop_assert_eq!(y, want);
    }

    #[test]
    fn lut_matches_reference(x in i8s(64), table in proptest::collection::vec(any::<u8>(), 256)) {
        let mut y = vec![0i8; 64];
        ki::lut(&x, &table, &mut y);
        for (i, &v) in x.iter().enumerate() {
            let index = if v >= 0 { v as usize } else { 256 - v.unsigned_abs() as usize };
            prop_assert_eq!(y[i], table[index] as i8);
        }
    }

    #[test]
    fn softmax_matches_reference(
        (outer, axis, inner) in (1usize..=3, 1usize..=10, 1usize..=3),
        x in i8s(90),
        scale in 0.001f64..0.5,
    ) {
        let x = &x[..outer * axis * inner];
        let table = softmax_table(scale);
        let mut y = vec![0x55u8 as i8; x.len()];
        ki::softmax(x, outer, axis, inner, &table, &mut y);
        prop_assert_eq!(&y, &ref_softmax(x, outer, axis, inner, &table));
        // Sanity: the probabilities (q + 128) / 256 sum to ~1 per line.
        for o in 0..outer {
            for i in 0..inner {
                let s: i64 = (0..axis).map(|j| i64::from(y[(o * axis + j) * inner + i]) + 128).sum();
                prop_assert!((s - 256).abs() <= axis as i64, "sum {}", s);
            }
        }
    }

    #[test]
    fn requantize_matches_reference(
        x in i8s(64),
        (x_zp, out_zp) in (zero_point(), zero_point()),
        (multiplier, shift) in ((1i32 << 30)..i32::MAX, -8i32..=2),
    ) {
        let mut y = vec![0i8; 64];
        ki::requantize(&x, x_zp, Requant { multiplier, shift }, out_zp, &mut y);
        let want: Vec<i8> = x.iter().map(|&v| ref_requant(i64::from(v) - i64::from(x_zp), (multiplier, shift), out_zp, -128, 127)).collect();
        prop_assert_eq!(y, want);
    }

    #[test]
    fn argmax_matches_reference(
        (outer, axis, inner) in (1usize..=3, 1usize..=8, 1usize..=3),
        x in proptest::collection::vec(-2i8..=2, 72),
        select_last in any::<bool>(),
    ) {
        let x = &x[..outer * axis * inner];
        let mut y = vec![-1i64; outer * inner];
        ki::argmax_i8(x, outer, axis, inner, select_last, &mut y);
        for (line, &got) in axis_lines(x, outer, axis, inner).iter().zip(&y) {
            let max = *line.iter().max().unwrap();
            let hits: Vec<usize> = (0..axis).filter(|&j| line[j] == max).collect();
            let want = if select_last { *hits.last().unwrap() } else { hits[0] };
            prop_assert_eq!(got, want as i64);
        }
    }
}

// ---------------------------------------------------------------- named cases

const HALF: (i32, i32) = (1 << 30, 0); // multiplier 0.5

/// A one-row fully connected case of `x` and the `n = w.len() / x.len()` rows of
/// `w`, per-tensor multiplier 0.5, output zero point 0, no clamp.
fn fc_case(x: &[i8], x_zp: i32, w: &[i8], bias: Option<&[i32]>) -> FcI8Case {
    FcI8Case {
        x: x.to_vec(),
        x_zp,
        w: w.to_vec(),
        bias: bias.map(<[i32]>::to_vec),
        batch: 1,
        k: x.len(),
        n: w.len() / x.len(),
        rq: vec![HALF.0, HALF.1],
        out_zp: 0,
        act: (-128, 127),
    }
}

#[test]
fn fc_saturates_at_both_ends() {
    // acc = 127 * 127 * 4 = 64516; * 0.5 = 32258 -> 127; negated -> -128.
    let case = fc_case(
        &[127; 4],
        0,
        &[127, 127, 127, 127, -127, -127, -127, -127],
        None,
    );
    assert_eq!(case.run(ki::fully_connected, 0), [127, -128]);
}

#[test]
fn fc_zero_points_at_the_extremes() {
    // x_zp = -128: x = -128 is real 0, x = 127 is 255.
    let case = FcI8Case {
        rq: vec![1 << 30, -1],
        out_zp: -128,
        ..fc_case(&[-128, 127], -128, &[1, 1], None)
    };
    // acc = 0 + 255 = 255; * 0.5 = 127.5 -> 128 (tie up), / 2 = 64; + out_zp -128 = -64.
    assert_eq!(case.run(ki::fully_connected, 0), [-64]);
    // x_zp = 127: x = -128 is -255. acc = -255; * 0.5 = -127.5 -> -127 (tie up),
    // / 2 = -63.5 -> -64 (tie away from zero); + 127 = 63.
    let case = FcI8Case {
        x_zp: 127,
        out_zp: 127,
        ..case
    };
    let y = case.run(ki::fully_connected, 0);
    assert_eq!(y, [63]);
    assert_eq!(y, ref_fc(&case));
}

#[test]
fn fc_activation_clamp() {
    // Fused relu with out_zp = -20: act_min = -20.
    let case = FcI8Case {
        rq: vec![i32::MAX, 0],
        out_zp: -20,
        act: (-20, 10),
        ..fc_case(&[10, -10, 50], 0, &[1, 1, 1, -1, -1, -1], Some(&[0, 0]))
    };
    // acc 50 -> ~50 -> 30 -> clamp 10; acc -50 -> -70 -> clamp -20.
    assert_eq!(case.run(ki::fully_connected, 0), [10, -20]);
}

#[test]
fn per_channel_and_per_tensor_requant() {
    let w = [10i8, 20, 30, 40, -10, -20, -30, -40, 1, 2, 3, 4];
    let base = FcI8Case {
        out_zp: 2,
        ..fc_case(&[100, -50, 25, 3], 1, &w, Some(&[100, -100, 7]))
    };
    let with = |rq: &[i32]| FcI8Case {
        rq: rq.to_vec(),
        ..base.clone()
    };
    let a = with(&[1 << 30, -6]).run(ki::fully_connected, 0);
    let b = with(&[1 << 30, -6, 1 << 30, -6, 1 << 30, -6]).run(ki::fully_connected, 0);
    assert_eq!(a, b, "equal per-channel pairs give the per-tensor result");
    let distinct = with(&[1 << 30, -6, 1 << 30, -3, 1_500_000_000, -9]);
    let b = distinct.run(ki::fully_connected, 0);
    assert_eq!(b, ref_fc(&distinct));
    assert_ne!(a, b);
}

fn conv_fixed(
    xs: [usize; 4],
    ws: [usize; 4],
    win: Window,
    groups: usize,
    x_zp: i32,
    rq: Vec<i32>,
) -> ConvCase {
    let x = (0..xs.iter().product::<usize>())
        .map(|i| ((i * 37 % 256) as i32 - 128) as i8)
        .collect();
    let w = (0..ws.iter().product::<usize>())
        .map(|i| ((i * 53 % 255) as i32 - 127) as i8)
        .collect();
    let bias = Some(vec![1000; ws[0]]);
    ConvCase::new(
        fixed_geometry(xs, ws, win, groups),
        (x, x_zp, w, bias, rq, -5, (-128, 127)),
    )
}

#[test]
fn conv_padding_contributes_zero_point() {
    // All-(x_zp) input: every cell, padded or not, is real 0, so y = requant(bias).
    for x_zp in [-128, 127, 3] {
        let mut case = conv_fixed(
            [1, 1, 3, 3],
            [1, 1, 3, 3],
            window([3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
            1,
            x_zp,
            vec![1 << 30, 0],
        );
        case.x = vec![x_zp as i8; 9];
        case.w = vec![127; 9];
        case.bias = Some(vec![40]);
        let y = run_conv(&case);
        assert_eq!(y, vec![15i8; 9], "x_zp {x_zp}"); // 40 * 0.5 - 5
        assert_eq!(y, ref_conv(&case));
    }
}

#[test]
fn conv_depthwise_per_channel() {
    let win = window([3, 3], [2, 1], [1, 1], [1, 1, 1, 1]);
    let rq = vec![
        1 << 30,
        -7,
        1_200_000_000,
        -8,
        2_000_000_000,
        -9,
        1 << 30,
        -6,
    ];
    let case = conv_fixed([1, 4, 5, 5], [4, 1, 3, 3], win, 4, -7, rq);
    assert_eq!(run_conv(&case), ref_conv(&case));
    // Channel multiplier 2 with extreme zero point.
    let rq: Vec<i32> = (0..6)
        .flat_map(|c| [1_100_000_000 + c * 10_000_000, -7 - c % 2])
        .collect();
    let case = conv_fixed([2, 3, 4, 4], [6, 1, 3, 3], win, 3, 127, rq);
    assert_eq!(run_conv(&case), ref_conv(&case));
}

#[test]
fn conv_saturates_and_clamps() {
    let win = window([2, 2], [1, 1], [1, 1], [0; 4]);
    let mut case = conv_fixed([1, 2, 3, 3], [2, 2, 2, 2], win, 1, -128, vec![i32::MAX, 0]);
    let y = run_conv(&case);
    assert!(
        y.contains(&127) && y.contains(&-128),
        "scale ~1 saturates: {y:?}"
    );
    assert_eq!(y, ref_conv(&case));
    case.act = (-30, 40);
    let y = run_conv(&case);
    assert!(y.iter().all(|&v| (-30..=40).contains(&v)));
    assert_eq!(y, ref_conv(&case));
}

#[test]
fn conv1d_dilated() {
    let win = window([1, 3], [1, 2], [1, 2], [0, 2, 0, 1]);
    let case = conv_fixed([1, 3, 1, 9], [2, 3, 1, 3], win, 1, 10, vec![1 << 30, -8]);
    assert_eq!(case.ys, [1, 2, 1, 4]);
    assert_eq!(run_conv(&case), ref_conv(&case));
}

#[test]
fn avg_pool_rounds_half_away_from_zero() {
    let win = window([1, 2], [1, 2], [1, 1], [0; 4]);
    let x = [1i8, 2, -1, -2, 127, 127, -128, -128, 0, -1];
    let mut y = [0i8; 5];
    ki::avg_pool2d(
        &pool_params([1, 1, 1, 10], [1, 1, 1, 5], win, false),
        &x,
        0,
        &mut y,
    );
    assert_eq!(y, [2, -2, 127, -128, -1]); // 1.5 -> 2, -1.5 -> -2, -0.5 -> -1
    ki::global_avg_pool(&[1, 2, -1, -2], 2, 2, &mut y[..2]);
    assert_eq!(y[..2], [2, -2]);
}

#[test]
fn avg_pool_count_include_pad_uses_zero_point() {
    // 1x2 input [10, 20] with one padded cell on the left, kernel 3 wide.
    let win = window([1, 3], [1, 1], [1, 1], [0, 1, 0, 0]);
    let mut y = [0i8; 1];
    let p = |include| pool_params([1, 1, 1, 2], [1, 1, 1, 1], win, include);
    ki::avg_pool2d(&p(true), &[10, 20], 0, &mut y);
    assert_eq!(y, [10]); // (0 + 10 + 20) / 3
    ki::avg_pool2d(&p(true), &[10, 20], -128, &mut y);
    assert_eq!(y, [-33]); // (-128 + 10 + 20) / 3 = -32.67
    ki::avg_pool2d(&p(false), &[10, 20], -128, &mut y);
    assert_eq!(y, [15]);
}

#[test]
fn max_pool_extremes() {
    let win = window([2, 2], [2, 2], [1, 1], [1, 1, 1, 1]);
    let x = [-128i8; 9];
    let mut y = [0i8; 4];
    ki::max_pool2d(
        &pool_params([1, 1, 3, 3], [1, 1, 2, 2], win, false),
        &x,
        &mut y,
    );
    assert_eq!(y, [-128; 4], "padding is ignored, not read as 0");
}

#[test]
fn binary_extreme_zero_points_and_broadcast() {
    let q = QBinary {
        a_zero_point: -128,
        b_zero_point: 127,
        out_zero_point: -128,
        left_shift: 20,
        a: Requant {
            multiplier: 1 << 30,
            shift: 0,
        },
        b: Requant {
            multiplier: 1 << 30,
            shift: 0,
        },
        out: Requant {
            multiplier: 1 << 30,
            shift: -19,
        },
        act_min: -128,
        act_max: 127,
    };
    // Rank-0 b broadcast over a [2, 2, 1, 2].
    let a = [-128i8, -100, 0, 127, 50, -50, 1, -1];
    let y_shape = [2, 2, 1, 2];
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul] {
        let mut y = [0i8; 8];
        let q = if op == BinaryOp::Mul {
            QBinary {
                out: Requant {
                    multiplier: 1 << 30,
                    shift: -7,
                },
                ..q
            }
        } else {
            q
        };
        let s = BroadcastShapes {
            a: &y_shape,
            b: &[],
            y: &y_shape,
        };
        ki::binary(op, &q, &s, &a, &[100], &mut y);
        let want: Vec<i8> = a.iter().map(|&v| ref_binary_one(op, &q, v, 100)).collect();
        assert_eq!(y.to_vec(), want, "{op:?}");
    }
    // Add of real values: a' = a + 128, b' = 100 - 127 = -27, out = (a' - 27) / 2 - 128... check two by hand:
    // a = -128: sa = 0, sb = -27 * 2^19, sum * 2^-20 = -13.5 -> -14 (ties away), -128 - 14 = -142 -> -128.
    // a = 127: sa = 255 * 2^19, (255 - 27) / 2 = 114, -128 + 114 = -14.
    let mut y = [0i8; 2];
    let s = BroadcastShapes {
        a: &[2],
        b: &[1],
        y: &[2],
    };
    ki::binary(BinaryOp::Add, &q, &s, &[-128, 127], &[100], &mut y);
    assert_eq!(y, [-128, -14]);
}

#[test]
fn softmax_hand_computed() {
    // Table of a flat distribution (every entry 2^31 - 1): all outputs equal.
    let table = vec![i32::MAX as u32; 256];
    let mut y = [0i8; 4];
    ki::softmax(&[5, -100, 127, -128], 1, 4, 1, &table, &mut y);
    assert_eq!(y, [-64; 4]); // 256 / 4 = 64 -> -128 + 64
                             // Single element: probability 1 = 256/256 saturates to 127.
    let mut y = [0i8; 1];
    ki::softmax(&[42], 1, 1, 1, &softmax_table(0.1), &mut y);
    assert_eq!(y, [127]);
    // Extreme spread: max 127 vs -128 with a steep table: the small one is exactly 0 prob.
    let mut y = [0i8; 2];
    ki::softmax(&[127, -128], 1, 2, 1, &softmax_table(0.5), &mut y);
    assert_eq!(y, [127, -128]);
}

#[test]
fn lut_indexes_by_twos_complement_byte() {
    let table: Vec<u8> = (0..=255u8).map(|v| v.wrapping_mul(3)).collect();
    let mut y = [0i8; 4];
    ki::lut(&[0, 1, -1, -128], &table, &mut y);
    assert_eq!(
        y,
        [
            0,
            3,
            (255u8.wrapping_mul(3)) as i8,
            (128u8.wrapping_mul(3)) as i8
        ]
    );
}

#[test]
fn requantize_extremes() {
    let mut y = [0i8; 4];
    // Identity scale (m = 0.5, shift 1), zero point moves from -128 to 127: saturates.
    ki::requantize(
        &[-128, -127, 0, 127],
        -128,
        Requant {
            multiplier: 1 << 30,
            shift: 1,
        },
        127,
        &mut y,
    );
    assert_eq!(y, [127, 127, 127, 127]);
    ki::requantize(
        &[-128, -127, 0, 127],
        -128,
        Requant {
            multiplier: 1 << 30,
            shift: 1,
        },
        -128,
        &mut y,
    );
    assert_eq!(y, [-128, -127, 0, 127]);
    // x * 0.5 in the high multiply alone: ties go up (-1.5 -> -1, -0.5 -> 0).
    ki::requantize(
        &[-3, -1, 1, 3],
        0,
        Requant {
            multiplier: 1 << 30,
            shift: 0,
        },
        0,
        &mut y,
    );
    assert_eq!(y, [-1, 0, 1, 2]);
    // x * 0.25 = exact high multiply, then a rounding shift: ties away from zero.
    ki::requantize(
        &[-6, -2, 2, 6],
        0,
        Requant {
            multiplier: 1 << 30,
            shift: -1,
        },
        0,
        &mut y,
    );
    assert_eq!(y, [-2, -1, 1, 2]);
}
