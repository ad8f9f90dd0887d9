//! The trigonometric, hyperbolic, Round and Sign unary ops: each f32 kernel against
//! f64 std functions on a grid and against hand-computed special values (NaN, ±inf,
//! ±0, domain edges), their wire indices pinned, and a model using them run end to end.

use ferrite::format::types::{DType, Op, Quant, UnaryOp};
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
    ];
    for (op, idx) in ops {
        let mut buf = [0u8; 8];
        let bytes = postcard::to_slice(&op, &mut buf).unwrap();
        assert_eq!(bytes, &[idx], "{op:?}");
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
