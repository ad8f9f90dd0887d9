//! The trigonometric, hyperbolic, Round and Sign unary ops: each f32 kernel against
//! f64 std functions on a grid and against hand-computed special values (NaN, ±inf,
//! ±0, domain edges), their wire indices pinned, and a model using them run end to end.
//! The format 1.4 math (ONNX Shrink, Mod with `fmod = 0`, ReduceProd as `GlobalProd`):
//! hand-computed values, the ONNX test cases' edge values, pinned encodings, a model.

use ferrite::format::types::{Activation, BinaryOp, DType, Op, Quant, UnaryOp};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::f32 as kf;
use ferrite::OwnedModel;

fn one(op: UnaryOp, v: f32) -> f32 {
    let mut y = [f32::NAN];
    kf::unary(op, &[v], &mut y);
    y[0]
}

/// An op, its f64 std counterpart and an input range inside their domain.
type MathCase = (UnaryOp, fn(f64) -> f64, f32, f32);

fn math_ops() -> Vec<MathCase> {
    vec![
        (UnaryOp::Sin, f64::sin, -20.0, 20.0),
        (UnaryOp::Cos, f64::cos, -20.0, 20.0),
        (UnaryOp::Tan, f64::tan, -1.5, 1.5),
        (UnaryOp::Asin, f64::asin, -1.0, 1.0),
        (UnaryOp::Acos, f64::acos, -1.0, 1.0),
        (UnaryOp::Atan, f64::atan, -50.0, 50.0),
        (UnaryOp::Sinh, f64::sinh, -20.0, 20.0),
        (UnaryOp::Cosh, f64::cosh, -20.0, 20.0),
        (UnaryOp::Asinh, f64::asinh, -100.0, 100.0),
        (UnaryOp::Acosh, f64::acosh, 1.0, 100.0),
        (UnaryOp::Atanh, f64::atanh, -0.999, 0.999),
    ]
}

/// Within 4 ulp of the f64 value (of the same f32 input).
fn assert_close(op: UnaryOp, x: f32, got: f32, want: f64) {
    let tol = 4.0 * f64::from(f32::EPSILON) * want.abs().max(f64::from(f32::MIN_POSITIVE));
    assert!(
        (f64::from(got) - want).abs() <= tol,
        "{op:?}({x}) = {got}, want {want}"
    );
}

#[test]
fn math_functions_match_f64_on_a_grid() {
    for (op, f, lo, hi) in math_ops() {
        let n = 2001;
        let x: Vec<f32> = (0..n)
            .map(|i| lo + (hi - lo) * i as f32 / (n - 1) as f32)
            .collect();
        let mut y = vec![f32::NAN; n];
        kf::unary(op, &x, &mut y);
        for (&x, &g) in x.iter().zip(&y) {
            assert_close(op, x, g, f(f64::from(x)));
        }
    }
}

#[test]
fn math_functions_pass_nan_through() {
    for (op, ..) in math_ops() {
        assert!(one(op, f32::NAN).is_nan(), "{op:?}(NaN)");
    }
    assert!(one(UnaryOp::Round, f32::NAN).is_nan());
    assert!(one(UnaryOp::Sign, f32::NAN).is_nan());
}

#[test]
fn odd_functions_keep_the_sign_of_zero() {
    for op in [
        UnaryOp::Sin,
        UnaryOp::Tan,
        UnaryOp::Asin,
        UnaryOp::Atan,
        UnaryOp::Sinh,
        UnaryOp::Asinh,
        UnaryOp::Atanh,
        UnaryOp::Round,
    ] {
        for z in [0.0f32, -0.0] {
            let y = one(op, z);
            assert_eq!(y.to_bits(), z.to_bits(), "{op:?}({z}) = {y}");
        }
    }
    assert_eq!(one(UnaryOp::Cos, -0.0), 1.0);
    assert_eq!(one(UnaryOp::Cosh, -0.0), 1.0);
    assert_eq!(one(UnaryOp::Acosh, 1.0), 0.0);
}

#[test]
fn special_values_and_domain_edges() {
    let pi = core::f64::consts::PI;
    let half_pi = core::f64::consts::FRAC_PI_2;
    let inf = f32::INFINITY;
    // libm's atanf(inf) is pi/2 rounded down: within an ulp, not exact.
    let near = [
        (UnaryOp::Atan, inf, half_pi),
        (UnaryOp::Atan, -inf, -half_pi),
        (UnaryOp::Asin, 1.0, half_pi),
        (UnaryOp::Asin, -1.0, -half_pi),
        (UnaryOp::Acos, -1.0, pi),
    ];
    for (op, x, want) in near {
        assert_close(op, x, one(op, x), want);
    }
    let eq = [
        (UnaryOp::Acos, 1.0, 0.0),
        (UnaryOp::Sinh, inf, inf),
        (UnaryOp::Sinh, -inf, -inf),
        (UnaryOp::Cosh, inf, inf),
        (UnaryOp::Cosh, -inf, inf),
        (UnaryOp::Asinh, inf, inf),
        (UnaryOp::Asinh, -inf, -inf),
        (UnaryOp::Acosh, inf, inf),
        (UnaryOp::Atanh, 1.0, inf),
        (UnaryOp::Atanh, -1.0, -inf),
        // Overflow of the f32 result.
        (UnaryOp::Sinh, 100.0, inf),
        (UnaryOp::Cosh, -100.0, inf),
    ];
    for (op, x, want) in eq {
        assert_eq!(one(op, x), want, "{op:?}({x})");
    }
    let nan = [
        (UnaryOp::Sin, inf),
        (UnaryOp::Sin, -inf),
        (UnaryOp::Cos, inf),
        (UnaryOp::Tan, -inf),
        (UnaryOp::Asin, 1.5),
        (UnaryOp::Asin, -inf),
        (UnaryOp::Acos, -1.0001),
        (UnaryOp::Acosh, 0.5),
        (UnaryOp::Acosh, -inf),
        (UnaryOp::Atanh, 2.0),
        (UnaryOp::Atanh, -inf),
    ];
    for (op, x) in nan {
        assert!(one(op, x).is_nan(), "{op:?}({x}) = {}", one(op, x));
    }
}

#[test]
fn round_is_half_to_even() {
    let below_half = f32::from_bits(0.5f32.to_bits() - 1);
    let cases = [
        (0.5f32, 0.0f32),
        (1.5, 2.0),
        (2.5, 2.0),
        (3.5, 4.0),
        (-0.5, -0.0),
        (-1.5, -2.0),
        (-2.5, -2.0),
        (0.4, 0.0),
        (-0.4, -0.0),
        (0.6, 1.0),
        (-2.6, -3.0),
        (below_half, 0.0),
        (-below_half, -0.0),
        // The largest odd half-integer f32 and the integers past 2^23 stay as they are.
        (8_388_607.5, 8_388_608.0),
        (8_388_609.0, 8_388_609.0),
        (1e30, 1e30),
        (-1e30, -1e30),
        (f32::INFINITY, f32::INFINITY),
        (f32::NEG_INFINITY, f32::NEG_INFINITY),
    ];
    for (x, want) in cases {
        let y = one(UnaryOp::Round, x);
        assert_eq!(y.to_bits(), want.to_bits(), "round({x}) = {y}, want {want}");
    }
    for i in -4000..=4000 {
        let x = i as f32 * 0.25;
        let want = f64::from(x).round_ties_even() as f32;
        assert_eq!(
            one(UnaryOp::Round, x).to_bits(),
            want.to_bits(),
            "round({x})"
        );
    }
}

#[test]
fn sign_is_minus_one_zero_or_one() {
    let tiny = f32::from_bits(1);
    let cases = [
        (3.0f32, 1.0f32),
        (-2.0, -1.0),
        (tiny, 1.0),
        (-tiny, -1.0),
        (f32::INFINITY, 1.0),
        (f32::NEG_INFINITY, -1.0),
        (f32::MAX, 1.0),
        (0.0, 0.0),
        (-0.0, 0.0),
    ];
    for (x, want) in cases {
        let y = one(UnaryOp::Sign, x);
        assert_eq!(y.to_bits(), want.to_bits(), "sign({x}) = {y}");
    }
}

/// Existing files keep their meaning: the new variants come after `Gelu` (18).
#[test]
fn new_variants_have_pinned_wire_indices() {
    let ops = [
        (UnaryOp::Gelu, 18u8),
        (UnaryOp::Sin, 19),
        (UnaryOp::Cos, 20),
        (UnaryOp::Tan, 21),
        (UnaryOp::Asin, 22),
        (UnaryOp::Acos, 23),
        (UnaryOp::Atan, 24),
        (UnaryOp::Sinh, 25),
        (UnaryOp::Cosh, 26),
        (UnaryOp::Asinh, 27),
        (UnaryOp::Acosh, 28),
        (UnaryOp::Atanh, 29),
        (UnaryOp::Round, 30),
        (UnaryOp::Sign, 31),
        (
            UnaryOp::Shrink {
                lambd: 0.0,
                bias: 0.0,
            },
            32,
        ),
    ];
    for (op, idx) in ops {
        let mut buf = [0u8; 16];
        let bytes = postcard::to_slice(&op, &mut buf).unwrap();
        assert_eq!(bytes[0], idx, "{op:?}");
    }
}

#[test]
fn model_with_new_unary_ops_loads_and_runs() {
    let ops = [UnaryOp::Sin, UnaryOp::Atanh, UnaryOp::Round, UnaryOp::Sign];
    let mut b = ModelBuilder::new("unary");
    let x = b.add_tensor("x", DType::F32, &[1, 4], Quant::None).unwrap();
    let mut t = x;
    for (i, op) in ops.into_iter().enumerate() {
        let y = b
            .add_tensor(&format!("y{i}"), DType::F32, &[1, 4], Quant::None)
            .unwrap();
        b.add_op(Op::Unary { op }, &[t], &[y]).unwrap();
        t = y;
    }
    b.set_io(&[x], &[t]).unwrap();
    let m = OwnedModel::new(&b.finish().unwrap()).unwrap();
    let model = m.model();
    let mut s = ferrite::OwnedSession::new(&model);
    let mut s = s.session();
    let input = [0.3f32, -1.2, 0.0, 2.0];
    let mut y = [0f32; 4];
    s.predict(&input, &mut y).unwrap();
    let want: Vec<f32> = input
        .iter()
        .map(|&v| {
            let mut v = v;
            for op in ops {
                v = one(op, v);
            }
            v
        })
        .collect();
    assert_eq!(y.to_vec(), want);
    // sign(round(atanh(sin(x)))): atanh(sin 2) = 1.52 rounds to 2, atanh(sin -1.2) =
    // -1.67 to -2, atanh(sin 0.3) = 0.30 to 0.
    assert_eq!(y, [0.0, -1.0, 0.0, 1.0]);
}

fn shrink(lambd: f32, bias: f32) -> UnaryOp {
    UnaryOp::Shrink { lambd, bias }
}

#[test]
fn shrink_zeroes_the_band_and_moves_the_rest_by_bias() {
    // ONNX's test_shrink_hard (lambd 1.5) and test_shrink_soft (lambd 1.5, bias 1.5).
    let x = [-2.0f32, -1.0, 0.0, 1.0, 2.0];
    for (op, want) in [
        (shrink(1.5, 0.0), [-2.0f32, 0.0, 0.0, 0.0, 2.0]),
        (shrink(1.5, 1.5), [-0.5, 0.0, 0.0, 0.0, 0.5]),
    ] {
        let mut y = [f32::NAN; 5];
        kf::unary(op, &x, &mut y);
        assert_eq!(y, want, "{op:?}");
    }
    // The band's edges are inside it; ±inf keep their sign (inf - bias), NaN passes.
    let op = shrink(0.5, 0.25);
    assert_eq!(one(op, 0.5), 0.0);
    assert_eq!(one(op, -0.5), 0.0);
    assert_eq!(one(op, 0.75), 0.5);
    assert_eq!(one(op, -0.75), -0.5);
    assert_eq!(one(op, f32::INFINITY), f32::INFINITY);
    assert_eq!(one(op, f32::NEG_INFINITY), f32::NEG_INFINITY);
    assert!(one(op, f32::NAN).is_nan());
}

fn modulo(a: &[f32], b: &[f32]) -> Vec<f32> {
    let n = a.len();
    let mut y = vec![f32::NAN; n];
    let s = ferrite::kernels::BroadcastShapes {
        a: &[n],
        b: &[n],
        y: &[n],
    };
    kf::binary(
        BinaryOp::Mod,
        &s,
        a,
        b,
        (f32::NEG_INFINITY, f32::INFINITY),
        &mut y,
    );
    y
}

#[test]
fn mod_takes_the_sign_of_the_divisor() {
    // ONNX's test_mod_float32_mixed_sign_fmod_0: -4.3 mod 2.1 = -4.3 + 3 · 2.1 = 2, ...
    let a = [-4.3f32, 7.2, 5.0, 4.3, -7.2, 8.0];
    let b = [2.1f32, -3.4, 8.0, -2.1, 3.4, 5.0];
    let y = modulo(&a, &b);
    // By hand: fmod then + b where the signs differ (computed in f32 like numpy).
    let want = [
        -4.3f32 % 2.1 + 2.1,
        7.2f32 % -3.4 + -3.4,
        5.0,
        4.3f32 % -2.1 + -2.1,
        -7.2f32 % 3.4 + 3.4,
        3.0,
    ];
    assert_eq!(y, want);
    for (got, approx) in y.iter().zip([2.0f32, -3.0, 5.0, -2.0, 3.0, 3.0]) {
        assert!((got - approx).abs() < 1e-5, "{got} vs {approx}");
    }
}

#[test]
fn mod_edge_values_are_numpys() {
    // ONNX's test_mod_float_edge_cases_fmod_0_float32, expected values from numpy.
    let inf = f32::INFINITY;
    let nan = f32::NAN;
    let a = [
        0.0f32, -0.0, 0.0, -0.0, -3.0, 3.0, -1.0, 1.0, inf, -inf, 1.0, 1.0, nan, 1.0,
    ];
    let b = [
        -2.0f32, 2.0, 2.0, -2.0, inf, inf, -inf, -inf, 2.0, 2.0, 0.0, -0.0, 2.0, nan,
    ];
    let want = [
        -0.0f32, 0.0, 0.0, -0.0, inf, 3.0, -1.0, -inf, nan, nan, nan, nan, nan, nan,
    ];
    let y = modulo(&a, &b);
    for (i, (g, w)) in y.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "case {i}: {g}");
        } else {
            assert_eq!(g.to_bits(), w.to_bits(), "case {i}: {g} vs {w}");
        }
    }
}

#[test]
fn global_prod_multiplies_each_row() {
    let x = [1.0f32, 2.0, 3.0, -0.5, 4.0, 0.25, 7.0, 0.0, 2.0];
    let mut y = [f32::NAN; 3];
    kf::global_prod(&x, 3, 3, &mut y);
    assert_eq!(y, [6.0, -0.5, 0.0]);
    // An empty row is the empty product.
    let mut y = [f32::NAN; 2];
    kf::global_prod(&[], 2, 0, &mut y);
    assert_eq!(y, [1.0, 1.0]);
}

/// Format 1.4's additions are at the ends of their enums, and only they make a file 1.4.
#[test]
fn format_1_4_encodings_are_pinned() {
    let bin = |op| Op::Binary {
        op,
        act: Activation::None,
        q: None,
    };
    // Op::Binary is variant 7, BinaryOp::Mod variant 8 (after Fmod).
    assert_eq!(
        postcard::to_allocvec(&bin(BinaryOp::Mod)).unwrap(),
        [7, 8, 0, 0]
    );
    // Op::Unary is variant 8, Shrink variant 32, then lambd and bias as f32 LE.
    let mut want = vec![8u8, 32];
    want.extend(1.5f32.to_le_bytes());
    want.extend(0.25f32.to_le_bytes());
    let op = Op::Unary {
        op: shrink(1.5, 0.25),
    };
    assert_eq!(postcard::to_allocvec(&op).unwrap(), want);
    // GlobalProd is Op variant 31, after AvgPoolNhwc (30).
    assert_eq!(postcard::to_allocvec(&Op::GlobalProd).unwrap(), [31]);
    for op in [bin(BinaryOp::Mod), op, Op::GlobalProd] {
        assert_eq!(op.since_minor(), 4, "{op:?}");
    }
    assert_eq!(bin(BinaryOp::Fmod).since_minor(), 3);
    assert_eq!(Op::Unary { op: UnaryOp::Sign }.since_minor(), 0);
}

#[test]
fn model_with_format_1_4_ops_loads_and_runs() {
    // y = prod over the last two axes of mod(shrink(x), d): x [1, 2, 2, 2].
    let mut b = ModelBuilder::new("math14");
    let sh = [1u32, 2, 2, 2];
    let x = b.add_tensor("x", DType::F32, &sh, Quant::None).unwrap();
    let s = b.add_tensor("s", DType::F32, &sh, Quant::None).unwrap();
    let d = b.add_const_f32("d", &[1], &[-3.0]).unwrap();
    let m = b.add_tensor("m", DType::F32, &sh, Quant::None).unwrap();
    let y = b
        .add_tensor("y", DType::F32, &[1, 2, 1, 1], Quant::None)
        .unwrap();
    b.add_op(
        Op::Unary {
            op: shrink(1.0, 0.5),
        },
        &[x],
        &[s],
    )
    .unwrap();
    b.add_op(bin14(), &[s, d], &[m]).unwrap();
    b.add_op(Op::GlobalProd, &[m], &[y]).unwrap();
    b.set_io(&[x], &[y]).unwrap();
    let file = b.finish().unwrap();
    assert_eq!(u16::from_le_bytes([file[6], file[7]]), 4, "format minor");
    let m = OwnedModel::new(&file).unwrap();
    let model = m.model();
    let mut s = ferrite::OwnedSession::new(&model);
    let mut s = s.session();
    let input = [2.5f32, -4.0, 5.5, -2.0, 1.0, 8.5, -1.25, 3.0];
    let mut out = [0f32; 2];
    s.predict(&input, &mut out).unwrap();
    // shrink: [2, -3.5, 5, -1.5 | 0, 8, -0.75, 2.5]; mod -3: [-1, -0.5, -1, -1.5 |
    // -0, -1, -0.75, -0.5]; products: 0.75 and 0 (-0 · ... = 0 up to sign).
    assert_eq!(out[0], 0.75);
    assert_eq!(out[1], 0.0);
}

fn bin14() -> Op {
    Op::Binary {
        op: BinaryOp::Mod,
        act: Activation::None,
        q: None,
    }
}
