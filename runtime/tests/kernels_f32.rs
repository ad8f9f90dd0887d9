//! f32 reference kernels against naive f64 references written here.
//!
//! Every reference loops over output coordinates in f64 with explicit bounds checks
//! and shares no code with the kernels.
//!
//! # Tolerance
//! A kernel value `got` matches the reference `want` when
//! `|got - want| <= RTOL * scale + ATOL`, with `RTOL = 1e-5` (about 84 f32 ulps) and
//! `ATOL = 1e-6`. For element-wise ops `scale = |want|`; for sums (dot products,
//! convolutions, pools, means) `scale` is the sum of the magnitudes of the summed
//! terms, which bounds f32 accumulation error independently of cancellation. Max
//! pools, argmax and quantization are compared exactly.

use ferrite::format::types::{BinaryOp, UnaryOp, Window};
use ferrite::kernels::{f32 as kf, BroadcastShapes};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use support::{
    axis_lines, broadcast_index, broadcast_shapes, conv_geometry, f32_act, fixed_geometry,
    pool_geometry, pool_params, unravel, window, ConvF32Case, FcF32Case, NONE,
};

mod support;

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-6;

/// A reference value and the magnitude its error bound scales with.
#[derive(Clone, Copy, Debug)]
struct Want {
    v: f64,
    scale: f64,
}

fn elementwise(v: f64) -> Want {
    Want { v, scale: v.abs() }
}

fn close(got: f32, want: Want) -> bool {
    let g = f64::from(got);
    if want.v.is_nan() {
        return g.is_nan();
    }
    if want.v.is_infinite() || g.is_infinite() {
        return g == want.v;
    }
    (g - want.v).abs() <= RTOL * want.scale + ATOL
}

fn check(name: &str, got: &[f32], want: &[Want]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: length", name);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            close(g, w),
            "{}: element {}: got {} want {:?}",
            name,
            i,
            g,
            w
        );
    }
    Ok(())
}

fn check_plain(name: &str, got: &[f32], want: &[Want]) {
    check(name, got, want).unwrap_or_else(|e| panic!("{e}"));
}

/// Clamp of the reference (activation applied last).
fn act_ref(w: Want, act: (f32, f32)) -> Want {
    let (lo, hi) = (f64::from(act.0), f64::from(act.1));
    if w.v < lo {
        Want {
            v: lo,
            scale: w.scale,
        }
    } else if w.v > hi {
        Want {
            v: hi,
            scale: w.scale,
        }
    } else {
        w
    }
}

fn data(len: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(-4.0f32..4.0, len)
}

// ---------------------------------------------------------------- references

fn ref_fc(c: &FcF32Case) -> Vec<Want> {
    let (x, w, bias, act) = (&c.x, &c.w, c.bias.as_deref(), c.act);
    let (batch, k, n) = (c.batch, c.k, c.n);
    let mut out = Vec::new();
    for b in 0..batch {
        for j in 0..n {
            let (mut v, mut scale) = (0.0f64, 0.0f64);
            for p in 0..k {
                let t = f64::from(x[b * k + p]) * f64::from(w[j * k + p]);
                v += t;
                scale += t.abs();
            }
            if let Some(bias) = bias {
                v += f64::from(bias[j]);
                scale += f64::from(bias[j]).abs();
            }
            out.push(act_ref(Want { v, scale }, act));
        }
    }
    out
}

fn ref_matmul(
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
) -> (Vec<Want>, Vec<usize>) {
    // Promote rank-1 operands as numpy does.
    let a2: Vec<usize> = if a_shape.len() == 1 {
        vec![1, a_shape[0]]
    } else {
        a_shape.to_vec()
    };
    let b2: Vec<usize> = if b_shape.len() == 1 {
        vec![b_shape[0], 1]
    } else {
        b_shape.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let n = b2[b2.len() - 1];
    assert_eq!(b2[b2.len() - 2], k);
    let ab = &a2[..a2.len() - 2];
    let bb = &b2[..b2.len() - 2];
    let rank = ab.len().max(bb.len());
    let mut batch = vec![1; rank];
    for d in 0..rank {
        let da = if d + ab.len() >= rank {
            ab[d + ab.len() - rank]
        } else {
            1
        };
        let db = if d + bb.len() >= rank {
            bb[d + bb.len() - rank]
        } else {
            1
        };
        assert!(da == db || da == 1 || db == 1);
        batch[d] = da.max(db);
    }
    let nb: usize = batch.iter().product();
    let mut out = Vec::new();
    for bi in 0..nb {
        let idx = unravel(bi, &batch);
        let a_off = broadcast_index(&idx, ab) * m * k;
        let b_off = broadcast_index(&idx, bb) * k * n;
        for i in 0..m {
            for j in 0..n {
                let (mut v, mut scale) = (0.0, 0.0);
                for p in 0..k {
                    let t = f64::from(a[a_off + i * k + p]) * f64::from(b[b_off + p * n + j]);
                    v += t;
                    scale += f64::abs(t);
                }
                out.push(Want { v, scale });
            }
        }
    }
    let mut y_shape = batch;
    if a_shape.len() >= 2 {
        y_shape.push(m);
    }
    if b_shape.len() >= 2 {
        y_shape.push(n);
    }
    (out, y_shape)
}

fn ref_conv(case: &ConvF32Case) -> Vec<Want> {
    let (x, xs, w, ws, bias) = (&case.x, case.xs, &case.w, case.ws, case.bias.as_deref());
    let (win, groups, act, ys) = (&case.win, case.groups, case.act, case.ys);
    let [n, c, h, wd] = xs.map(|v| v as i64);
    let [m, cg, kh, kw] = ws.map(|v| v as i64);
    let [_, _, oh, ow] = ys.map(|v| v as i64);
    let (sh, sw) = (i64::from(win.stride[0]), i64::from(win.stride[1]));
    let (dh, dw) = (i64::from(win.dilation[0]), i64::from(win.dilation[1]));
    let (pt, pl) = (i64::from(win.pads[0]), i64::from(win.pads[1]));
    let per_group = m / groups as i64;
    let mut out = Vec::new();
    for b in 0..n {
        for oc in 0..m {
            let g = oc / per_group;
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut v, mut scale) = (0.0f64, 0.0f64);
                    for ci in 0..cg {
                        let ic = g * cg + ci;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = oy * sh - pt + ky * dh;
                                let ix = ox * sw - pl + kx * dw;
                                if iy < 0 || iy >= h || ix < 0 || ix >= wd {
                                    continue;
                                }
                                let xv = x[(((b * c + ic) * h + iy) * wd + ix) as usize];
                                let wv = w[(((oc * cg + ci) * kh + ky) * kw + kx) as usize];
                                let t = f64::from(xv) * f64::from(wv);
                                v += t;
                                scale += t.abs();
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        v += f64::from(bias[oc as usize]);
                        scale += f64::from(bias[oc as usize]).abs();
                    }
                    out.push(act_ref(Want { v, scale }, act));
                }
            }
        }
    }
    out
}

/// Pool reference; `mode` 0 = max, 1 = avg excluding pads, 2 = avg including pads.
fn ref_pool(x: &[f32], xs: [usize; 4], win: &Window, mode: u8, ys: [usize; 4]) -> Vec<Want> {
    let [n, c, h, wd] = xs.map(|v| v as i64);
    let [_, _, oh, ow] = ys.map(|v| v as i64);
    let (kh, kw) = (i64::from(win.kernel[0]), i64::from(win.kernel[1]));
    let (sh, sw) = (i64::from(win.stride[0]), i64::from(win.stride[1]));
    let (dh, dw) = (i64::from(win.dilation[0]), i64::from(win.dilation[1]));
    let [pt, pl, pb, pr] = win.pads.map(i64::from);
    let mut out = Vec::new();
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut max, mut sum, mut scale, mut valid, mut padded) =
                    (f64::NEG_INFINITY, 0.0, 0.0, 0, 0);
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = oy * sh - pt + ky * dh;
                        let ix = ox * sw - pl + kx * dw;
                        if iy >= -pt && iy < h + pb && ix >= -pl && ix < wd + pr {
                            padded += 1;
                        }
                        if iy < 0 || iy >= h || ix < 0 || ix >= wd {
                            continue;
                        }
                        let v = f64::from(x[((plane * h + iy) * wd + ix) as usize]);
                        valid += 1;
                        max = max.max(v);
                        sum += v;
                        scale += v.abs();
                    }
                }
                out.push(match mode {
                    0 => Want { v: max, scale: 0.0 },
                    _ => {
                        let count = if mode == 1 { valid } else { padded };
                        if count == 0 {
                            Want { v: 0.0, scale: 0.0 }
                        } else {
                            Want {
                                v: sum / f64::from(count),
                                scale: scale / f64::from(count),
                            }
                        }
                    }
                });
            }
        }
    }
    out
}

fn erf64(x: f64) -> f64 {
    libm::erf(x)
}

fn ref_unary(op: UnaryOp, x: f32) -> f64 {
    let v = f64::from(x);
    match op {
        UnaryOp::Relu => v.max(0.0),
        UnaryOp::Clip { min, max } => v.max(f64::from(min)).min(f64::from(max)),
        UnaryOp::LeakyRelu { alpha } => {
            if v >= 0.0 {
                v
            } else {
                f64::from(alpha) * v
            }
        }
        UnaryOp::Elu { alpha } => {
            if v >= 0.0 {
                v
            } else {
                f64::from(alpha) * (v.exp() - 1.0)
            }
        }
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        UnaryOp::Tanh => v.tanh(),
        UnaryOp::HardSigmoid { alpha, beta } => {
            (f64::from(alpha) * v + f64::from(beta)).clamp(0.0, 1.0)
        }
        UnaryOp::HardSwish => v * (v / 6.0 + 0.5).clamp(0.0, 1.0),
        UnaryOp::Exp => v.exp(),
        UnaryOp::Log => v.ln(),
        UnaryOp::Sqrt => v.sqrt(),
        UnaryOp::Neg => -v,
        UnaryOp::Abs => v.abs(),
        UnaryOp::Reciprocal => 1.0 / v,
        UnaryOp::Floor => v.floor(),
        UnaryOp::Ceil => v.ceil(),
        UnaryOp::Erf => erf64(v),
        UnaryOp::Softplus => (1.0 + v.exp()).ln(),
        UnaryOp::Gelu => 0.5 * v * (1.0 + erf64(v / core::f64::consts::SQRT_2)),
        // Checked against hand-picked values in `unary_math.rs`.
        UnaryOp::Sin => v.sin(),
        UnaryOp::Cos => v.cos(),
        UnaryOp::Tan => v.tan(),
        UnaryOp::Asin => v.asin(),
        UnaryOp::Acos => v.acos(),
        UnaryOp::Atan => v.atan(),
        UnaryOp::Sinh => v.sinh(),
        UnaryOp::Cosh => v.cosh(),
        UnaryOp::Asinh => v.asinh(),
        UnaryOp::Acosh => v.acosh(),
        UnaryOp::Atanh => v.atanh(),
        UnaryOp::Round => v.round_ties_even(),
        UnaryOp::Sign => {
            if v == 0.0 {
                0.0
            } else {
                v.signum()
            }
        }
        // Also checked against hand-computed values in `unary_math.rs`.
        UnaryOp::Shrink { lambd, bias } => {
            let (l, b) = (f64::from(lambd), f64::from(bias));
            if v < -l {
                v + b
            } else if v > l {
                v - b
            } else {
                0.0
            }
        }
    }
}

fn ref_softmax(x: &[f32], outer: usize, axis: usize, inner: usize, log: bool) -> Vec<Want> {
    let mut out = vec![Want { v: 0.0, scale: 0.0 }; x.len()];
    for o in 0..outer {
        for i in 0..inner {
            let idx = |j: usize| (o * axis + j) * inner + i;
            let m = (0..axis)
                .map(|j| f64::from(x[idx(j)]))
                .fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = (0..axis).map(|j| (f64::from(x[idx(j)]) - m).exp()).sum();
            for j in 0..axis {
                let d = f64::from(x[idx(j)]) - m;
                out[idx(j)] = if log {
                    // Error of (x - m) - ln s scales with the magnitudes of both terms.
                    Want {
                        v: d - s.ln(),
                        scale: d.abs() + s.ln().abs(),
                    }
                } else {
                    elementwise(d.exp() / s)
                };
            }
        }
    }
    out
}

/// Round half to even, written with floor (independent of libm::rintf).
fn round_half_even(v: f32) -> f64 {
    let v = f64::from(v);
    let f = v.floor();
    let diff = v - f;
    let up = diff > 0.5 || (diff == 0.5 && f % 2.0 != 0.0);
    if up {
        f + 1.0
    } else {
        f
    }
}

fn ref_quantize(x: f32, scale: f32, zp: i32, lo: i32, hi: i32) -> i32 {
    let q = x / scale; // the spec divides in f32
    if q.is_nan() {
        return zp;
    }
    let r = round_half_even(q) + f64::from(zp);
    r.clamp(f64::from(lo), f64::from(hi)) as i32
}

// ---------------------------------------------------------------- strategies

fn conv_case() -> impl Strategy<Value = ConvF32Case> {
    (
        conv_geometry(
            (1usize..=2, 1usize..=3, 1usize..=3, 1usize..=3),
            (1usize..=7, 1usize..=7, 1usize..=3, 1usize..=3),
            (1u32..=3, 1u32..=3, 1u32..=2, 1u32..=2),
        ),
        any::<bool>(),
        f32_act(),
    )
        .prop_flat_map(|(geometry, has_bias, act)| {
            let (xs, ws, ..) = geometry;
            let bias = if has_bias {
                data(ws[0]).prop_map(Some).boxed()
            } else {
                Just(None).boxed()
            };
            (data(xs.iter().product()), data(ws.iter().product()), bias)
                .prop_map(move |(x, w, bias)| ConvF32Case::new(geometry, x, w, bias, act))
        })
}

fn run_conv(case: &ConvF32Case) -> Vec<f32> {
    case.run(kf::conv2d, f32::NAN)
}

#[derive(Debug, Clone)]
struct PoolCase {
    xs: [usize; 4],
    ys: [usize; 4],
    win: Window,
    x: Vec<f32>,
}

fn pool_case() -> impl Strategy<Value = PoolCase> {
    pool_geometry(any::<bool>()).prop_flat_map(|(xs, ys, win)| {
        data(xs.iter().product()).prop_map(move |x| PoolCase { xs, ys, win, x })
    })
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop_oneof![
        Just(BinaryOp::Add),
        Just(BinaryOp::Sub),
        Just(BinaryOp::Mul),
        Just(BinaryOp::Div),
        Just(BinaryOp::Max),
        Just(BinaryOp::Min),
        Just(BinaryOp::Pow),
        Just(BinaryOp::Fmod),
        Just(BinaryOp::Mod),
    ]
}

fn ref_binary_one(op: BinaryOp, a: f32, b: f32) -> Want {
    let (a, b) = (f64::from(a), f64::from(b));
    match op {
        BinaryOp::Add => Want {
            v: a + b,
            scale: a.abs() + b.abs(),
        },
        BinaryOp::Sub => Want {
            v: a - b,
            scale: a.abs() + b.abs(),
        },
        BinaryOp::Mul => elementwise(a * b),
        BinaryOp::Div => elementwise(a / b),
        BinaryOp::Max => elementwise(a.max(b)),
        BinaryOp::Min => elementwise(a.min(b)),
        BinaryOp::Pow => elementwise(a.powf(b)),
        // f64 `%` is the C fmod, exact in either precision.
        BinaryOp::Fmod => elementwise(a % b),
        // numpy's mod: the C fmod, plus b when it is non-zero and of b's other sign.
        BinaryOp::Mod => {
            let r = a % b;
            elementwise(if r != 0.0 && (r < 0.0) != (b < 0.0) {
                r + b
            } else {
                r
            })
        }
    }
}

/// [`kf::binary`] on `(a, a_shape)` and `(b, b_shape)` into `y_shape`, against the
/// reference.
fn check_binary(
    op: BinaryOp,
    (a, a_shape): (&[f32], &[usize]),
    (b, b_shape): (&[f32], &[usize]),
    act: (f32, f32),
    y_shape: &[usize],
) -> Result<(), TestCaseError> {
    let len: usize = y_shape.iter().product();
    let mut y = vec![f32::NAN; len];
    binary(op, (a, a_shape), (b, b_shape), act, &mut y, y_shape);
    let want: Vec<Want> = (0..len)
        .map(|i| {
            let idx = unravel(i, y_shape);
            act_ref(
                ref_binary_one(
                    op,
                    a[broadcast_index(&idx, a_shape)],
                    b[broadcast_index(&idx, b_shape)],
                ),
                act,
            )
        })
        .collect();
    check("binary", &y, &want)
}

/// [`kf::binary`] with the shapes beside the operands.
fn binary(
    op: BinaryOp,
    (a, a_shape): (&[f32], &[usize]),
    (b, b_shape): (&[f32], &[usize]),
    act: (f32, f32),
    y: &mut [f32],
    y_shape: &[usize],
) {
    let s = BroadcastShapes {
        a: a_shape,
        b: b_shape,
        y: y_shape,
    };
    kf::binary(op, &s, a, b, act, y);
}

/// [`kf::matmul`] with the shapes beside the operands.
fn matmul(
    (a, a_shape): (&[f32], &[usize]),
    (b, b_shape): (&[f32], &[usize]),
    y: &mut [f32],
    y_shape: &[usize],
) {
    let s = BroadcastShapes {
        a: a_shape,
        b: b_shape,
        y: y_shape,
    };
    kf::matmul(&s, a, b, y);
}

fn all_unary() -> Vec<(UnaryOp, core::ops::Range<f32>)> {
    vec![
        (UnaryOp::Relu, -5.0..5.0),
        (
            UnaryOp::Clip {
                min: -1.0,
                max: 2.5,
            },
            -5.0..5.0,
        ),
        (UnaryOp::LeakyRelu { alpha: 0.1 }, -5.0..5.0),
        (UnaryOp::Elu { alpha: 1.5 }, -8.0..5.0),
        (UnaryOp::Sigmoid, -30.0..30.0),
        (UnaryOp::Tanh, -10.0..10.0),
        (
            UnaryOp::HardSigmoid {
                alpha: 0.2,
                beta: 0.5,
            },
            -5.0..5.0,
        ),
        (UnaryOp::HardSwish, -5.0..5.0),
        (UnaryOp::Exp, -20.0..20.0),
        (UnaryOp::Log, 0.001..1000.0),
        (UnaryOp::Sqrt, 0.0..1000.0),
        (UnaryOp::Neg, -5.0..5.0),
        (UnaryOp::Abs, -5.0..5.0),
        (UnaryOp::Reciprocal, 0.01..100.0),
        (UnaryOp::Floor, -5.0..5.0),
        (UnaryOp::Ceil, -5.0..5.0),
        (UnaryOp::Erf, -4.0..4.0),
        (UnaryOp::Softplus, -20.0..20.0),
        (UnaryOp::Gelu, -10.0..10.0),
        (
            UnaryOp::Shrink {
                lambd: 1.5,
                bias: 0.5,
            },
            -5.0..5.0,
        ),
    ]
}

// ---------------------------------------------------------------- random tests

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fully_connected_matches_reference(
        (batch, k, n) in (1usize..=3, 1usize..=24, 1usize..=8),
        seed in proptest::collection::vec(-4.0f32..4.0, 3 * 24 + 8 * 24 + 8),
        has_bias in any::<bool>(),
        act in f32_act(),
    ) {
        let case = FcF32Case {
            x: seed[..batch * k].to_vec(),
            w: seed[72..72 + n * k].to_vec(),
            bias: has_bias.then(|| seed[72 + 192..72 + 192 + n].to_vec()),
            batch,
            k,
            n,
            act,
        };
        let y = case.run(kf::fully_connected, f32::NAN);
        check("fully_connected", &y, &ref_fc(&case))?;
    }

    #[test]
    fn matmul_matches_reference(
        batch in proptest::collection::vec(1usize..=3, 0..=2),
        (m, k, n) in (1usize..=4, 1usize..=5, 1usize..=4),
        (a_kind, b_kind) in (0u8..3, 0u8..3),
        ones in proptest::collection::vec(any::<bool>(), 4),
        seed in proptest::collection::vec(-4.0f32..4.0, 9 * 20 * 2),
    ) {
        // kind 0: rank 1 operand; 1: matrix without batch axes; 2: with (partly broadcast) batch axes.
        let operand = |kind: u8, mat: [usize; 2], flip: usize| -> Vec<usize> {
            match kind {
                0 => vec![if flip == 0 { mat[1] } else { mat[0] }],
                1 => mat.to_vec(),
                _ => batch.iter().enumerate().map(|(d, &v)| if ones[d + 2 * flip] { 1 } else { v }).chain(mat).collect(),
            }
        };
        let a_shape = operand(a_kind, [m, k], 0);
        let b_shape = operand(b_kind, [k, n], 1);
        let a = &seed[..a_shape.iter().product::<usize>()];
        let b = &seed[180..180 + b_shape.iter().product::<usize>()];
        let (want, y_shape) = ref_matmul(a, &a_shape, b, &b_shape);
        let mut y = vec![f32::NAN; want.len()];
        matmul((a, &a_shape), (b, &b_shape), &mut y, &y_shape);
        check("matmul", &y, &want)?;
    }

    #[test]
    fn conv2d_matches_reference(case in conv_case()) {
        check("conv2d", &run_conv(&case), &ref_conv(&case))?;
    }

    #[test]
    fn pools_match_reference(case in pool_case()) {
        let len: usize = case.ys.iter().product();
        let mut y = vec![f32::NAN; len];
        kf::max_pool2d(&pool_params(case.xs, case.ys, case.win, false), &case.x, &mut y);
        let want = ref_pool(&case.x, case.xs, &case.win, 0, case.ys);
        for (g, w) in y.iter().zip(&want) {
            prop_assert_eq!(f64::from(*g), w.v, "max pool is exact");
        }
        for (mode, include) in [(1u8, false), (2, true)] {
            kf::avg_pool2d(&pool_params(case.xs, case.ys, case.win, include), &case.x, &mut y);
            check("avg_pool2d", &y, &ref_pool(&case.x, case.xs, &case.win, mode, case.ys))?;
        }
    }

    #[test]
    fn global_pools_match_reference(
        (channels, spatial) in (1usize..=6, 1usize..=20),
        x in proptest::collection::vec(-4.0f32..4.0, 120),
    ) {
        let x = &x[..channels * spatial];
        let mut y = vec![f32::NAN; channels];
        kf::global_avg_pool(x, channels, spatial, &mut y);
        let want: Vec<Want> = x.chunks(spatial).map(|r| Want {
            v: r.iter().map(|&v| f64::from(v)).sum::<f64>() / spatial as f64,
            scale: r.iter().map(|&v| f64::from(v).abs()).sum::<f64>() / spatial as f64,
        }).collect();
        check("global_avg_pool", &y, &want)?;
        kf::global_max_pool(x, channels, spatial, &mut y);
        let want: Vec<f32> = x.chunks(spatial).map(|r| r.iter().copied().fold(f32::NEG_INFINITY, f32::max)).collect();
        prop_assert_eq!(y, want);
    }

    #[test]
    fn binary_matches_reference(
        (y_shape, a_shape, b_shape) in broadcast_shapes(),
        op in binary_op(),
        act in f32_act(),
        seed in proptest::collection::vec(0.1f32..4.0, 512),
        signs in proptest::collection::vec(any::<bool>(), 512),
    ) {
        // Pow takes a positive base; other ops get signed operands.
        let signed: Vec<f32> = seed.iter().zip(&signs).map(|(&v, &s)| if s { -v } else { v }).collect();
        let a_len: usize = a_shape.iter().product();
        let b_len: usize = b_shape.iter().product();
        let a = if op == BinaryOp::Pow { &seed[..a_len] } else { &signed[..a_len] };
        let b = &signed[256..256 + b_len];
        check_binary(op, (a, &a_shape), (b, &b_shape), act, &y_shape)?;
    }

    #[test]
    fn unary_matches_reference(which in 0usize..19, unit in proptest::collection::vec(0.0f32..1.0, 1..40)) {
        let (op, range) = all_unary()[which].clone();
        let x: Vec<f32> = unit.iter().map(|u| range.start + u * (range.end - range.start)).collect();
        let mut y = vec![f32::NAN; x.len()];
        kf::unary(op, &x, &mut y);
        let want: Vec<Want> = x.iter().map(|&v| elementwise(ref_unary(op, v))).collect();
        check(&format!("unary {op:?}"), &y, &want)?;
    }

    #[test]
    fn softmax_matches_reference(
        (outer, axis, inner) in (1usize..=3, 1usize..=8, 1usize..=3),
        x in proptest::collection::vec(-10.0f32..10.0, 72),
        log in any::<bool>(),
    ) {
        let x = &x[..outer * axis * inner];
        let mut y = vec![f32::NAN; x.len()];
        kf::softmax(x, outer, axis, inner, log, &mut y);
        check("softmax", &y, &ref_softmax(x, outer, axis, inner, log))?;
    }

    #[test]
    fn argmax_matches_reference(
        (outer, axis, inner) in (1usize..=3, 1usize..=8, 1usize..=3),
        // Few distinct values, so ties are common.
        x in proptest::collection::vec(prop_oneof![Just(-1.0f32), Just(0.0), Just(2.0), Just(f32::NAN)], 72),
        select_last in any::<bool>(),
    ) {
        let x = &x[..outer * axis * inner];
        let mut y = vec![-1i64; outer * inner];
        kf::argmax(x, outer, axis, inner, select_last, &mut y);
        for (line, &got) in axis_lines(x, outer, axis, inner).iter().zip(&y) {
            let numbers: Vec<usize> = (0..axis).filter(|&j| !line[j].is_nan()).collect();
            let want = if numbers.is_empty() {
                if select_last { axis - 1 } else { 0 }
            } else {
                let max = numbers.iter().map(|&j| line[j]).fold(f32::NEG_INFINITY, f32::max);
                let hits: Vec<usize> = numbers.into_iter().filter(|&j| line[j] == max).collect();
                if select_last { *hits.last().unwrap() } else { hits[0] }
            };
            prop_assert_eq!(got, want as i64);
        }
    }

    #[test]
    fn quantize_dequantize_match_reference(
        x in proptest::collection::vec(-300.0f32..300.0, 1..64),
        scale in 0.01f32..4.0,
        zp_i8 in -128i32..=127,
        zp_u8 in 0i32..=255,
    ) {
        let mut qi = vec![0i8; x.len()];
        let mut qu = vec![0u8; x.len()];
        kf::quantize_i8(&x, scale, zp_i8, &mut qi);
        kf::quantize_u8(&x, scale, zp_u8, &mut qu);
        for (i, &v) in x.iter().enumerate() {
            prop_assert_eq!(i32::from(qi[i]), ref_quantize(v, scale, zp_i8, -128, 127), "i8 of {}", v);
            prop_assert_eq!(i32::from(qu[i]), ref_quantize(v, scale, zp_u8, 0, 255), "u8 of {}", v);
        }
        let mut d = vec![f32::NAN; x.len()];
        kf::dequantize_i8(&qi, scale, zp_i8, &mut d);
        let want: Vec<Want> = qi.iter().map(|&q| elementwise(f64::from(i32::from(q) - zp_i8) * f64::from(scale))).collect();
        check("dequantize_i8", &d, &want)?;
        kf::dequantize_u8(&qu, scale, zp_u8, &mut d);
        let want: Vec<Want> = qu.iter().map(|&q| elementwise(f64::from(i32::from(q) - zp_u8) * f64::from(scale))).collect();
        check("dequantize_u8", &d, &want)?;
    }
}

// ---------------------------------------------------------------- named cases

fn conv_case_fixed(
    xs: [usize; 4],
    ws: [usize; 4],
    win: Window,
    groups: usize,
    x: Vec<f32>,
    w: Vec<f32>,
) -> ConvF32Case {
    ConvF32Case::new(fixed_geometry(xs, ws, win, groups), x, w, None, NONE)
}

fn ramp(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25)
        .collect()
}

#[test]
fn conv_padding_at_borders_counts_only_real_cells() {
    // 3x3 ones kernel over a 4x4 ones input with 1 pad all round: each output counts the
    // input cells under the window: 4 in corners, 6 on edges, 9 inside.
    let case = conv_case_fixed(
        [1, 1, 4, 4],
        [1, 1, 3, 3],
        window([3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
        1,
        vec![1.0; 16],
        vec![1.0; 9],
    );
    let y = run_conv(&case);
    #[rustfmt::skip]
    let want = [4.0, 6.0, 6.0, 4.0, 6.0, 9.0, 9.0, 6.0, 6.0, 9.0, 9.0, 6.0, 4.0, 6.0, 6.0, 4.0];
    assert_eq!(y, want);
    check_plain("conv borders", &y, &ref_conv(&case));
}

#[test]
fn conv_asymmetric_padding() {
    let case = conv_case_fixed(
        [1, 2, 5, 4],
        [3, 2, 2, 3],
        window([2, 3], [2, 1], [1, 1], [0, 2, 1, 0]),
        1,
        ramp(40),
        ramp(36),
    );
    assert_eq!(case.ys, [1, 3, 3, 4]);
    check_plain("conv asymmetric pads", &run_conv(&case), &ref_conv(&case));
}

#[test]
fn conv_stride_greater_than_kernel_skips_cells() {
    // 1x1 kernel of weight 2, stride 3 over a 7x7 ramp: picks rows/cols 0, 3, 6.
    let x: Vec<f32> = (0..49).map(|v| v as f32).collect();
    let case = conv_case_fixed(
        [1, 1, 7, 7],
        [1, 1, 1, 1],
        window([1, 1], [3, 3], [1, 1], [0; 4]),
        1,
        x,
        vec![2.0],
    );
    let y = run_conv(&case);
    assert_eq!(y, [0.0, 6.0, 12.0, 42.0, 48.0, 54.0, 84.0, 90.0, 96.0]);
    let case = conv_case_fixed(
        [1, 2, 7, 6],
        [2, 2, 2, 2],
        window([2, 2], [3, 4], [1, 1], [1, 0, 0, 1]),
        1,
        ramp(84),
        ramp(16),
    );
    check_plain("conv stride > kernel", &run_conv(&case), &ref_conv(&case));
}

#[test]
fn conv_dilation_spreads_taps() {
    // 2x2 ones kernel with dilation 2 over a 3x3 ramp: the four corners, 0+2+6+8.
    let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let case = conv_case_fixed(
        [1, 1, 3, 3],
        [1, 1, 2, 2],
        window([2, 2], [1, 1], [2, 2], [0; 4]),
        1,
        x,
        vec![1.0; 4],
    );
    assert_eq!(run_conv(&case), [16.0]);
    let case = conv_case_fixed(
        [1, 2, 6, 7],
        [2, 2, 3, 2],
        window([3, 2], [1, 2], [2, 3], [2, 1, 1, 2]),
        1,
        ramp(84),
        ramp(24),
    );
    check_plain("conv dilation", &run_conv(&case), &ref_conv(&case));
}

#[test]
fn conv_groups_read_their_own_channels() {
    // Two groups, one channel each, kernel 1x1: output c = weight c * input c.
    let case = conv_case_fixed(
        [1, 2, 1, 2],
        [2, 1, 1, 1],
        window([1, 1], [1, 1], [1, 1], [0; 4]),
        2,
        vec![1.0, 2.0, 3.0, 4.0],
        vec![10.0, 100.0],
    );
    assert_eq!(run_conv(&case), [10.0, 20.0, 300.0, 400.0]);
    let case = conv_case_fixed(
        [2, 6, 4, 4],
        [4, 3, 3, 3],
        window([3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
        2,
        ramp(192),
        ramp(108),
    );
    check_plain("conv groups", &run_conv(&case), &ref_conv(&case));
}

#[test]
fn conv_depthwise_and_channel_multiplier() {
    let case = conv_case_fixed(
        [1, 4, 5, 5],
        [4, 1, 3, 3],
        window([3, 3], [2, 2], [1, 1], [1, 1, 1, 1]),
        4,
        ramp(100),
        ramp(36),
    );
    check_plain("depthwise", &run_conv(&case), &ref_conv(&case));
    // Depth multiplier 2: output channels 2c and 2c+1 read input channel c.
    let case = conv_case_fixed(
        [1, 3, 4, 4],
        [6, 1, 3, 3],
        window([3, 3], [1, 1], [1, 1], [1, 1, 1, 1]),
        3,
        ramp(48),
        ramp(54),
    );
    check_plain("depthwise x2", &run_conv(&case), &ref_conv(&case));
}

#[test]
fn conv1d_is_height_one() {
    // [1, 2, 1, 6] input, kernel width 3, pads left/right 1.
    let case = conv_case_fixed(
        [1, 2, 1, 6],
        [3, 2, 1, 3],
        window([1, 3], [1, 2], [1, 1], [0, 1, 0, 1]),
        1,
        ramp(12),
        ramp(18),
    );
    assert_eq!(case.ys, [1, 3, 1, 3]);
    check_plain("conv1d", &run_conv(&case), &ref_conv(&case));
}

#[test]
fn conv_bias_and_activation_apply_last() {
    let mut case = conv_case_fixed(
        [1, 1, 2, 2],
        [2, 1, 1, 1],
        window([1, 1], [1, 1], [1, 1], [0; 4]),
        1,
        vec![1.0, -2.0, 3.0, -4.0],
        vec![1.0, -1.0],
    );
    case.bias = Some(vec![0.5, 0.5]);
    case.act = (0.0, 2.0);
    assert_eq!(run_conv(&case), [1.5, 0.0, 2.0, 0.0, 0.0, 2.0, 0.0, 2.0]);
}

#[test]
fn pools_at_borders() {
    // 3x3 input 1..9, 2x2 window stride 2, pads 1 all round: windows cover
    // {1}, {2,3}, {4,7}, {5,6,8,9}.
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let win = window([2, 2], [2, 2], [1, 1], [1, 1, 1, 1]);
    let mut y = [0.0f32; 4];
    let p = |include| pool_params([1, 1, 3, 3], [1, 1, 2, 2], win, include);
    kf::max_pool2d(&p(false), &x, &mut y);
    assert_eq!(y, [1.0, 3.0, 7.0, 9.0]);
    kf::avg_pool2d(&p(false), &x, &mut y);
    assert_eq!(y, [1.0, 2.5, 5.5, 7.0]);
    kf::avg_pool2d(&p(true), &x, &mut y);
    assert_eq!(y, [0.25, 1.25, 2.75, 7.0]);
}

#[test]
fn avg_pool_ceil_mode_window_past_padding_counts_padded_extent_only() {
    // Width 5, kernel 2, stride 2, no pads, ceil mode: the last window starts at 4 and
    // reads 1 cell; count_include_pad counts only taps inside [0, 5 + 0).
    let x = [1.0f32, 2.0, 3.0, 4.0, 5.0];
    let win = window([1, 2], [1, 2], [1, 1], [0, 0, 0, 0]);
    let mut y = [0.0f32; 3];
    kf::avg_pool2d(
        &pool_params([1, 1, 1, 5], [1, 1, 1, 3], win, true),
        &x,
        &mut y,
    );
    assert_eq!(y, [1.5, 3.5, 5.0]);
}

#[test]
fn broadcast_rank0_and_rank1_against_rank4() {
    let y_shape = [2, 3, 2, 4];
    let a = ramp(48);
    let row = [1.0, 2.0, 3.0, 4.0];
    check_binary(
        BinaryOp::Add,
        (&a, &y_shape),
        (&[10.0], &[]),
        NONE,
        &y_shape,
    )
    .unwrap();
    check_binary(
        BinaryOp::Sub,
        (&[10.0], &[]),
        (&a, &y_shape),
        NONE,
        &y_shape,
    )
    .unwrap();
    check_binary(BinaryOp::Mul, (&a, &y_shape), (&row, &[4]), NONE, &y_shape).unwrap();
    let shifted: Vec<f32> = a.iter().map(|v| v + 9.0).collect();
    check_binary(
        BinaryOp::Div,
        (&row, &[4]),
        (&shifted, &y_shape),
        NONE,
        &y_shape,
    )
    .unwrap();
    // Both operands broadcast: [2, 1, 3] with [4, 1] -> [2, 4, 3].
    let (a6, b4) = (ramp(6), ramp(4));
    check_binary(
        BinaryOp::Max,
        (&a6, &[2, 1, 3]),
        (&b4, &[4, 1]),
        NONE,
        &[2, 4, 3],
    )
    .unwrap();
    // Rank 0 with rank 0.
    let mut y = [0.0f32];
    binary(
        BinaryOp::Add,
        (&[1.5], &[]),
        (&[2.0], &[]),
        NONE,
        &mut y,
        &[],
    );
    assert_eq!(y, [3.5]);
    // Exact values: a [4] row added to every row of a [2, 1, 1, 4] tensor.
    let mut y = [0.0f32; 8];
    let a8 = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0];
    binary(
        BinaryOp::Add,
        (&a8, &[2, 1, 1, 4]),
        (&row, &[4]),
        NONE,
        &mut y,
        &[2, 1, 1, 4],
    );
    assert_eq!(y, [1.0, 12.0, 23.0, 34.0, 41.0, 52.0, 63.0, 74.0]);
}

#[test]
fn binary_activation_clamps_and_max_propagates_nan() {
    let mut y = [0.0f32; 3];
    let relu6 = (0.0, 6.0);
    binary(
        BinaryOp::Add,
        (&[-5.0, 1.0, 9.0], &[3]),
        (&[0.0], &[]),
        relu6,
        &mut y,
        &[3],
    );
    assert_eq!(y, [0.0, 1.0, 6.0]);
    let a = [f32::NAN, 1.0, 2.0];
    binary(
        BinaryOp::Max,
        (&a, &[3]),
        (&[0.0], &[1]),
        NONE,
        &mut y,
        &[3],
    );
    assert!(y[0].is_nan());
    assert_eq!(&y[1..], [1.0, 2.0]);
}

#[test]
fn matmul_rank1_operands() {
    // [3] . [3] -> scalar.
    let mut y = [0.0f32];
    matmul(
        (&[1.0, 2.0, 3.0], &[3]),
        (&[4.0, 5.0, 6.0], &[3]),
        &mut y,
        &[],
    );
    assert_eq!(y, [32.0]);
    // [2] x [2, 3, 2, 1] broadcasting batch: vector-matrix per batch.
    let b: Vec<f32> = (0..24).map(|v| v as f32).collect();
    let (want, y_shape) = ref_matmul(&[1.0, -1.0], &[2], &b, &[2, 3, 2, 2]);
    assert_eq!(y_shape, [2, 3, 2]);
    let mut y = vec![0.0f32; 12];
    matmul((&[1.0, -1.0], &[2]), (&b, &[2, 3, 2, 2]), &mut y, &y_shape);
    check_plain("matmul vec x batch", &y, &want);
    // Rows of b[i] are [4i, 4i+1] and [4i+2, 4i+3]: [1, -1] . b[i] = [-2, -2].
    assert_eq!(y, [-2.0; 12]);
}

#[test]
fn softmax_with_large_values_is_stable() {
    for x in [
        [1000.0f32, 1001.0, 1002.0, 1003.0],
        [88.0, 89.0, 100.0, 120.0],
        [-1000.0, -1001.0, -1002.0, -1e30],
    ] {
        let mut y = [0.0f32; 4];
        kf::softmax(&x, 1, 4, 1, false, &mut y);
        assert!(y.iter().all(|v| v.is_finite()), "{x:?} -> {y:?}");
        check_plain("softmax large", &y, &ref_softmax(&x, 1, 4, 1, false));
        kf::softmax(&x, 1, 4, 1, true, &mut y);
        check_plain("log softmax large", &y, &ref_softmax(&x, 1, 4, 1, true));
    }
    // Equal values give the uniform distribution exactly.
    let mut y = [0.0f32; 4];
    kf::softmax(&[3e38; 4], 1, 4, 1, false, &mut y);
    assert_eq!(y, [0.25; 4]);
}

#[test]
fn softmax_strided_axis() {
    // Axis in the middle: [2, 3, 2], softmax over the 3.
    let x = ramp(12);
    let mut y = [0.0f32; 12];
    kf::softmax(&x, 2, 3, 2, false, &mut y);
    check_plain("softmax strided", &y, &ref_softmax(&x, 2, 3, 2, false));
    for o in 0..2 {
        for i in 0..2 {
            let s: f32 = (0..3).map(|j| y[(o * 3 + j) * 2 + i]).sum();
            assert!((s - 1.0).abs() < 1e-6);
        }
    }
}

#[test]
fn argmax_ties_and_nan() {
    let mut y = [0i64; 1];
    let x = [1.0f32, 3.0, 3.0, 2.0];
    kf::argmax(&x, 1, 4, 1, false, &mut y);
    assert_eq!(y, [1]);
    kf::argmax(&x, 1, 4, 1, true, &mut y);
    assert_eq!(y, [2]);
    kf::argmax(&[f32::NAN, -1.0, f32::NAN], 1, 3, 1, false, &mut y);
    assert_eq!(y, [1]);
    kf::argmax(&[f32::NAN; 3], 1, 3, 1, true, &mut y);
    assert_eq!(y, [2]);
    kf::argmax(&[0.0, -0.0], 1, 2, 1, true, &mut y);
    assert_eq!(y, [1], "-0 == 0 is a tie");
    // Inner stride: [1, 3, 2] along axis 1.
    let mut y = [0i64; 2];
    kf::argmax(&[5.0, 0.0, 5.0, 1.0, 4.0, 1.0], 1, 3, 2, false, &mut y);
    assert_eq!(y, [0, 1]);
}

#[test]
fn quantize_rounds_half_to_even_and_saturates() {
    let x = [
        0.5f32,
        1.5,
        2.5,
        -0.5,
        -1.5,
        -2.5,
        1000.0,
        -1000.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let mut y = [0i8; 11];
    kf::quantize_i8(&x, 1.0, 0, &mut y);
    assert_eq!(y, [0, 2, 2, 0, -2, -2, 127, -128, 0, 127, -128]);
    kf::quantize_i8(&x, 1.0, -128, &mut y);
    assert_eq!(
        y,
        [-128, -126, -126, -128, -128, -128, 127, -128, -128, 127, -128]
    );
    let mut y = [0u8; 11];
    kf::quantize_u8(&x, 1.0, 128, &mut y);
    assert_eq!(y, [128, 130, 130, 128, 126, 126, 255, 0, 128, 255, 0]);
}

/// Same-shape Add / Sub / Mul with a clamp, and Clip, on NaN, infinities, signed
/// zeros and values either side of the bounds: the bytes of IEEE `a op b` then a
/// NaN-keeping clamp, element by element (the hosts' fast loops must give exactly these).
#[test]
fn same_shape_binary_and_clip_are_exact_elementwise() {
    // The documented clamp: NaN stays, a zero keeps its sign inside the range.
    let keep_nan_clamp = |v: f32, lo: f32, hi: f32| {
        if v.is_nan() || (lo..=hi).contains(&v) {
            v
        } else if v < lo {
            lo
        } else {
            hi
        }
    };
    let vals = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1.5,
        -2.25,
        7.0,
        -7.0,
        1e30,
        -1e-30,
        3.0,
    ];
    let n = 67;
    let a: Vec<f32> = (0..n)
        .map(|i| vals[i % vals.len()] * (1.0 + i as f32 / 64.0))
        .collect();
    let b: Vec<f32> = (0..n).map(|i| vals[(i * 5 + 3) % vals.len()]).collect();
    let shape = [1, n];
    for act in [(f32::NEG_INFINITY, f32::INFINITY), (-3.0, 6.0), (0.0, 0.5)] {
        for (op, f) in [
            (BinaryOp::Add, (|p, q| p + q) as fn(f32, f32) -> f32),
            (BinaryOp::Sub, |p, q| p - q),
            (BinaryOp::Mul, |p, q| p * q),
        ] {
            let mut y = vec![0.0f32; n];
            binary(op, (&a, &shape), (&b, &shape), act, &mut y, &shape);
            for i in 0..n {
                let want = keep_nan_clamp(f(a[i], b[i]), act.0, act.1);
                assert_eq!(y[i].to_bits(), want.to_bits(), "{op:?} {act:?} at {i}");
            }
        }
        let mut y = vec![0.0f32; n];
        kf::unary(
            UnaryOp::Clip {
                min: act.0,
                max: act.1,
            },
            &a,
            &mut y,
        );
        for i in 0..n {
            let want = keep_nan_clamp(a[i], act.0, act.1);
            assert_eq!(y[i].to_bits(), want.to_bits(), "Clip {act:?} at {i}");
        }
    }
}

#[test]
fn unary_edge_values() {
    let x = [-100.0f32, -20.0, 0.0, 20.0, 100.0, f32::NAN];
    let mut y = [0.0f32; 6];
    kf::unary(UnaryOp::Softplus, &x, &mut y);
    assert_eq!(y[4], 100.0, "softplus does not overflow");
    assert!(
        y[0] > 0.0 && y[0] < 1e-40,
        "softplus(-100) = e^-100 underflows to a tiny value, got {}",
        y[0]
    );
    assert!(y[5].is_nan());
    kf::unary(UnaryOp::Sigmoid, &x, &mut y);
    assert_eq!(y[4], 1.0);
    assert!(y[0] >= 0.0 && y[0] < 1e-40);
    kf::unary(UnaryOp::Gelu, &x, &mut y);
    assert_eq!(y[3], 20.0);
    assert_eq!(y[2], 0.0);
    assert!(
        y[1] <= 0.0 && y[1] > -1e-30,
        "gelu(-20) is a tiny negative number, got {}",
        y[1]
    );
    kf::unary(UnaryOp::Relu, &x, &mut y);
    assert!(y[5].is_nan(), "relu keeps NaN");
    kf::unary(UnaryOp::HardSwish, &[-3.0, 3.0, 1.0], &mut y[..3]);
    assert_eq!(&y[..3], [0.0, 3.0, 1.0 * (1.0 / 6.0 + 0.5)]);
}

/// Error of `got` against the exact `want` in units of the f32 spacing at `want`
/// (the subnormal spacing 2^-149 below the normal range).
fn ulp_error(got: f32, want: f64) -> f64 {
    let w = want.abs();
    let exp2 = if w < f64::from(f32::MIN_POSITIVE) {
        -149
    } else {
        // Spacing of f32 numbers in [2^e, 2^(e+1)) is 2^(e-23).
        (w.log2().floor() as i32) - 23
    };
    (f64::from(got) - want).abs() / 2f64.powi(exp2)
}

#[test]
fn exp_within_one_ulp_of_f64_over_the_range() {
    // Every 257th f32 in [-88, 88] (8.7 million values, subnormal results below -87.3
    // included) and 200,001 points 1e-8 apart around 0; the reference is f64's exp.
    let mut worst = (0.0f64, 0.0f32);
    let mut check = |v: f32| {
        let e = ulp_error(kf::exp(v), f64::from(v).exp());
        if e > worst.0 {
            worst = (e, v);
        }
    };
    let (lo, hi) = ((-88.0f32).to_bits(), 88.0f32.to_bits());
    // Negative floats: bit patterns from -0 up to -88; positive: from +0 up to 88.
    for bits in (0x8000_0000u32..=lo).step_by(257) {
        check(f32::from_bits(bits));
    }
    for bits in (0u32..=hi).step_by(257) {
        check(f32::from_bits(bits));
    }
    for i in -100_000..=100_000 {
        check(i as f32 * 1e-8);
    }
    eprintln!("exp: max error {} ulp at x = {}", worst.0, worst.1);
    assert!(
        worst.0 <= 1.0,
        "max error {} ulp at x = {}",
        worst.0,
        worst.1
    );
}

#[test]
fn exp_edge_values() {
    assert_eq!(kf::exp(0.0), 1.0);
    assert_eq!(kf::exp(-0.0), 1.0);
    assert_eq!(kf::exp(f32::NEG_INFINITY).to_bits(), 0);
    assert_eq!(kf::exp(f32::INFINITY), f32::INFINITY);
    assert!(kf::exp(f32::NAN).is_nan());
    assert!(kf::exp(-f32::NAN).is_nan());
    // Overflow: e^88.72283 = 3.4028e38 is the last finite value.
    assert!(kf::exp(88.72283).is_finite());
    assert_eq!(kf::exp(88.7229), f32::INFINITY);
    assert_eq!(kf::exp(1e30), f32::INFINITY);
    assert_eq!(kf::exp(f32::MAX), f32::INFINITY);
    // Underflow through the subnormals to +0.
    for v in [-87.5f32, -95.0, -100.0, -103.0] {
        let got = kf::exp(v);
        assert!(got > 0.0 && got < f32::MIN_POSITIVE, "{v} -> {got}");
        assert!(ulp_error(got, f64::from(v).exp()) <= 1.0, "{v} -> {got}");
    }
    for v in [-104.0f32, -110.0, -1e30, f32::MIN] {
        assert_eq!(kf::exp(v).to_bits(), 0, "{v}");
    }
    // Integers are close to the powers of e.
    for n in -80..=80 {
        let v = n as f32;
        assert!(ulp_error(kf::exp(v), f64::from(v).exp()) <= 2.0, "e^{n}");
    }
}

/// Softmax rows over the range of logits a classifier produces against a softmax in f64.
/// Tolerance, relative to each probability: `(width + 4)·2^-24` (the exp's ulp, the f32
/// sum and the division) plus `|x - max|·2^-24` (the rounding of `x - max` in f32, which
/// the exponential turns into a relative error); log-softmax within 1e-6 relative of the
/// f64 terms' magnitudes plus the f32 sum's rounding (width · 2^-24 absolute in `ln s`).
#[test]
fn softmax_rows_close_to_f64_softmax() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let (rows, width) = (2000usize, 10usize);
    for spread in [1.0f32, 10.0, 40.0] {
        let x: Vec<f32> = (0..rows * width)
            .map(|_| (next() * 2.0 - 1.0) * spread)
            .collect();
        let mut y = vec![f32::NAN; x.len()];
        let mut ly = vec![f32::NAN; x.len()];
        kf::softmax(&x, rows, width, 1, false, &mut y);
        kf::softmax(&x, rows, width, 1, true, &mut ly);
        let mut worst = 0.0f64;
        for r in 0..rows {
            let row: Vec<f64> = x[r * width..][..width]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
            for j in 0..width {
                let want = (row[j] - m).exp() / s;
                let got = f64::from(y[r * width + j]);
                let eps = f64::from(f32::EPSILON) / 2.0;
                let bound = ((width + 4) as f64 + (row[j] - m).abs()) * eps;
                let err = (got - want).abs() / want;
                worst = worst.max(err / bound);
                assert!(
                    err <= bound,
                    "spread {spread} row {r} [{j}]: {got} vs {want}"
                );
                let lwant = (row[j] - m) - s.ln();
                let lgot = f64::from(ly[r * width + j]);
                // ln of the f32 sum: its rounding (about width·eps of s) is absolute in ln s.
                assert!(
                    (lgot - lwant).abs()
                        <= 1e-6 * ((row[j] - m).abs() + s.ln().abs()) + width as f64 * 6e-8,
                    "log spread {spread} row {r} [{j}]: {lgot} vs {lwant}"
                );
            }
        }
        eprintln!("softmax spread {spread}: worst error {worst:.3} of the bound");
    }
}

#[test]
fn softmax_edge_lines() {
    // -inf entries give exactly 0 (log: -inf); a NaN poisons its line only; an empty
    // axis writes nothing.
    let inf = f32::INFINITY;
    let x = [0.0, -inf, 0.0, -inf, 1.0, f32::NAN, 2.0, 3.0];
    let mut y = [7.0f32; 8];
    kf::softmax(&x, 2, 4, 1, false, &mut y);
    assert_eq!(&y[..4], &[0.5, 0.0, 0.5, 0.0]);
    assert!(y[4..].iter().all(|v| v.is_nan()), "{y:?}");
    kf::softmax(&x, 2, 4, 1, true, &mut y);
    assert_eq!(y[1], -inf);
    assert_eq!(y[3], -inf);
    assert!((y[0] - -core::f32::consts::LN_2).abs() <= f32::EPSILON);
    let mut empty: [f32; 0] = [];
    kf::softmax(&[], 3, 0, 1, false, &mut empty);
}

#[test]
fn softmax_last_axis_has_the_strided_loops_bits() {
    // Targets without SIMD run a last-axis softmax through the general (strided) loop;
    // it must give the bits of the one-pass form the host runs. The strided loop is
    // reached here with inner = 2 over two copies of each line.
    let (outer, axis) = (3, 7);
    let x: Vec<f32> = (0..outer * axis)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.73 + if i % 5 == 0 { 60.0 } else { 0.0 })
        .collect();
    let twice: Vec<f32> = x.iter().flat_map(|&v| [v, v]).collect();
    for log in [false, true] {
        let mut y = vec![0f32; x.len()];
        kf::softmax(&x, outer, axis, 1, log, &mut y);
        let mut y2 = vec![0f32; twice.len()];
        kf::softmax(&twice, outer, axis, 2, log, &mut y2);
        for (k, v) in y.iter().enumerate() {
            for c in 0..2 {
                assert_eq!(
                    v.to_bits(),
                    y2[2 * k + c].to_bits(),
                    "log={log} k={k} c={c}"
                );
            }
        }
    }
}
