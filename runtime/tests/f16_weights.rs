//! Ops reading f16 weights directly (format 1.2): FullyConnected with f16 weights
//! packed as a 1×1 engine convolution, ConvNhwc / DepthwiseNhwc with f16 packed
//! weights. References: a naive f64 dot product over the weights and bias rounded to
//! f16 (`half`'s conversion), and the f32 engine ops on those rounded values (the f16
//! kernels promise the same bits, `kernels::engine` module docs). Then the arena (the
//! f32 model's, nothing expanded), the header's minor version, and hostile records.

use ferrite::format::types::{Activation, DType, Op, Quant, Window};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::engine;
use ferrite::{AlignedModel, Error, OpReason, OwnedSession};

/// Deterministic values in `[-1, 1)`.
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// f16 bits of `v` (round to nearest even) and their exact f32 values.
fn to_f16(v: &[f32]) -> (Vec<u16>, Vec<f32>) {
    v.iter()
        .map(|&x| {
            let h = half::f16::from_f32(x);
            (h.to_bits(), h.to_f32())
        })
        .unzip()
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le_u16(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Runs a one-input model; returns output 0's bytes.
fn run(model: &[u8], x: &[f32]) -> Result<Vec<u8>, Error> {
    let a = AlignedModel::new(model);
    let m = a.model()?;
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_bytes(0, &le_f32(x))?;
    s.run()?;
    Ok(s.output_bytes(0)?.to_vec())
}

fn arena(model: &[u8]) -> usize {
    AlignedModel::new(model).model().unwrap().arena_size()
}

/// A model of one op over input `x` and the constant `w` (`dtype`, 1-D unless
/// `w_shape`), plus further constant f32 operands `extra`.
fn one_op(
    op: Op,
    x: &[u32],
    y: &[u32],
    (dtype, w_shape, w): (DType, &[u32], &[u8]),
    extra: &[(&[u32], &[f32])],
) -> Vec<u8> {
    let mut m = ModelBuilder::new("f16");
    let xi = m.add_tensor("x", DType::F32, x, Quant::None).unwrap();
    let wi = m.add_const("w", dtype, w_shape, w, Quant::None).unwrap();
    let mut ins = vec![xi, wi];
    for (k, (s, v)) in extra.iter().enumerate() {
        ins.push(m.add_const_f32(&format!("c{k}"), s, v).unwrap());
    }
    let yi = m.add_tensor("y", DType::F32, y, Quant::None).unwrap();
    m.add_op(op, &ins, &[yi]).unwrap();
    m.set_io(&[xi], &[yi]).unwrap();
    m.finish().unwrap()
}

/// Weights `[n, k]` and bias `[n]` rounded to f16 and packed as a 1×1 conv.
fn fc_packed(w: &[u16], b: &[u16], n: usize, k: usize) -> Vec<u16> {
    let mut p = vec![0u16; engine::f32_conv_packed_len(n, k, [1, 1]).unwrap()];
    engine::pack_f16_conv(w, Some(b), n, k, [1, 1], &mut p).unwrap();
    p
}

fn fc(act: Activation) -> Op {
    Op::FullyConnected { act, q: None }
}

/// `γ(n) = n·u / (1 − n·u)`, u = 2⁻²⁴: the classic bound on the relative error of
/// an n-term f32 sum of products.
fn gamma(n: usize) -> f64 {
    let nu = n as f64 * (2f64).powi(-24);
    nu / (1.0 - nu)
}

/// Up to 3 rows run the engine's f16 matrix-vector kernel, more the f16 1×1 conv.
#[test]
fn f16_fully_connected_matches_a_naive_reference_on_the_rounded_weights() {
    for &(batch, k, n, act) in &[
        (1usize, 37usize, 21usize, Activation::None),
        (3, 64, 16, Activation::Relu),
        (
            5,
            7,
            33,
            Activation::Clip {
                min: -0.5,
                max: 0.5,
            },
        ),
        (2, 300, 10, Activation::None),
        // Rows of K mod 4 = 3 and 2 (the matrix-vector kernel's remainder chains).
        (
            1,
            7,
            33,
            Activation::Clip {
                min: -0.5,
                max: 0.5,
            },
        ),
        (3, 10, 17, Activation::Relu),
        (1, 1, 1, Activation::None),
    ] {
        let x = values(batch * k, 1);
        let (w16, w) = to_f16(&values(n * k, 2));
        let (b16, b) = to_f16(&values(n, 3));
        let packed = fc_packed(&w16, &b16, n, k);
        let shape = [batch as u32, k as u32];
        let out = [batch as u32, n as u32];
        let model = one_op(
            fc(act),
            &shape,
            &out,
            (DType::F16, &[packed.len() as u32], &le_u16(&packed)),
            &[],
        );
        let got = f32s(&run(&model, &x).unwrap());
        let (lo, hi) = match act {
            Activation::None => (f64::NEG_INFINITY, f64::INFINITY),
            Activation::Relu => (0.0, f64::INFINITY),
            Activation::Clip { min, max } => (min as f64, max as f64),
        };
        for r in 0..batch {
            for j in 0..n {
                // Exact (f64) value and its magnitude sum S.
                let (mut exact, mut s) = (b[j] as f64, (b[j] as f64).abs());
                for i in 0..k {
                    let p = x[r * k + i] as f64 * w[j * k + i] as f64;
                    exact += p;
                    s += p.abs();
                }
                let want = exact.clamp(lo, hi);
                let g = got[r * n + j] as f64;
                // The engine's documented bound: within γ(K + 2)·S of the exact value
                // (the clamp does not increase the distance).
                assert!(
                    (g - want).abs() <= gamma(k + 2) * s,
                    "batch {batch} k {k} n {n}: [{r}, {j}] = {g}, want {want} (S {s})"
                );
            }
        }
    }
}

#[test]
fn f16_fully_connected_keeps_the_f32_arena_and_writes_format_1_2() {
    let (batch, k, n) = (2usize, 40usize, 12usize);
    let (w16, w) = to_f16(&values(n * k, 5));
    let (b16, b) = to_f16(&values(n, 6));
    let packed = fc_packed(&w16, &b16, n, k);
    let (xs, ys) = ([batch as u32, k as u32], [batch as u32, n as u32]);
    let h = one_op(
        fc(Activation::None),
        &xs,
        &ys,
        (DType::F16, &[packed.len() as u32], &le_u16(&packed)),
        &[],
    );
    let f = one_op(
        fc(Activation::None),
        &xs,
        &ys,
        (DType::F32, &[n as u32, k as u32], &le_f32(&w)),
        &[(&[n as u32], &b)],
    );
    // Only x and y in the arena, in both.
    assert_eq!(arena(&h), arena(&f));
    assert_eq!(arena(&h), (batch * k + batch * n) * 4);
    // Header minor (offset 6): 2 with f16 weights read directly, 0 for the f32 file.
    assert_eq!(u16::from_le_bytes([h[6], h[7]]), 2);
    assert_eq!(u16::from_le_bytes([f[6], f[7]]), 0);
    // The f32 FullyConnected on the same rounded values agrees within both kernels'
    // bounds (each within γ(K + 2)·S of the exact value).
    let x = values(batch * k, 7);
    let (gh, gf) = (f32s(&run(&h, &x).unwrap()), f32s(&run(&f, &x).unwrap()));
    for (i, (a, c)) in gh.iter().zip(&gf).enumerate() {
        let (r, j) = (i / n, i % n);
        let s: f64 = (b[j] as f64).abs()
            + (0..k)
                .map(|t| (x[r * k + t] as f64 * w[j * k + t] as f64).abs())
                .sum::<f64>();
        assert!(
            ((a - c) as f64).abs() <= 2.0 * gamma(k + 2) * s,
            "{i}: {a} vs {c}"
        );
    }
}

/// One NHWC conv (or depthwise) case: its f16 model and the f32 model on the same
/// rounded weights and bias give the same bytes, and the same arena.
fn nhwc_case(c: usize, m: usize, kern: usize, pad: u32, depthwise: bool) {
    let (h, wd) = (6usize, 5usize);
    let window = Window {
        kernel: [kern as u32; 2],
        stride: [1, 1],
        dilation: [1, 1],
        pads: [pad; 4],
    };
    let (oh, ow) = (
        h + 2 * pad as usize + 1 - kern,
        wd + 2 * pad as usize + 1 - kern,
    );
    let cg = if depthwise { 1 } else { c };
    let (w16, w) = to_f16(&values(m * cg * kern * kern, 11));
    let (b16, b) = to_f16(&values(m, 12));
    let (len, op) = if depthwise {
        let op = Op::DepthwiseNhwc {
            window,
            act: Activation::Relu,
            q: None,
        };
        (engine::f32_dwconv_packed_len(c, [kern; 2]).unwrap(), op)
    } else {
        let op = Op::ConvNhwc {
            window,
            act: Activation::Relu,
            q: None,
        };
        (engine::f32_conv_packed_len(m, c, [kern; 2]).unwrap(), op)
    };
    let (mut p16, mut p32) = (vec![0u16; len], vec![0f32; len]);
    if depthwise {
        engine::pack_f16_dwconv(&w16, Some(&b16), c, [kern; 2], &mut p16).unwrap();
        engine::pack_f32_dwconv(&w, Some(&b), c, [kern; 2], &mut p32).unwrap();
    } else {
        engine::pack_f16_conv(&w16, Some(&b16), m, c, [kern; 2], &mut p16).unwrap();
        engine::pack_f32_conv(&w, Some(&b), m, c, [kern; 2], &mut p32).unwrap();
    }
    let xs = [1, h as u32, wd as u32, c as u32];
    let ys = [1, oh as u32, ow as u32, m as u32];
    let len = [len as u32];
    let half = one_op(op.clone(), &xs, &ys, (DType::F16, &len, &le_u16(&p16)), &[]);
    let full = one_op(op, &xs, &ys, (DType::F32, &len, &le_f32(&p32)), &[]);
    let x = values(h * wd * c, 13);
    assert_eq!(
        run(&half, &x).unwrap(),
        run(&full, &x).unwrap(),
        "c {c} m {m} k {kern} pad {pad} depthwise {depthwise}"
    );
    assert_eq!(arena(&half), arena(&full));
    assert_eq!(u16::from_le_bytes([half[6], half[7]]), 2);
    assert_eq!(u16::from_le_bytes([full[6], full[7]]), 1);
}

#[test]
fn f16_nhwc_convolutions_equal_f32_on_the_rounded_weights() {
    nhwc_case(3, 20, 3, 1, false);
    nhwc_case(17, 33, 1, 0, false);
    nhwc_case(24, 24, 3, 1, true);
    nhwc_case(5, 5, 3, 0, true);
}

fn bad(model: &[u8], reason: OpReason) {
    match AlignedModel::new(model).model().unwrap_err() {
        Error::BadOp { op: 0, reason: r } => assert_eq!(r, reason),
        e => panic!("expected BadOp({reason:?}), got {e:?}"),
    }
}

#[test]
fn hostile_f16_weight_records_are_rejected() {
    let (k, n) = (8usize, 4usize);
    let len = engine::f32_conv_packed_len(n, k, [1, 1]).unwrap();
    let (xs, ys) = ([1, k as u32], [1, n as u32]);
    let fc_model = |w_len: usize, extra: &[(&[u32], &[f32])]| {
        one_op(
            fc(Activation::None),
            &xs,
            &ys,
            (DType::F16, &[w_len as u32], &vec![0u8; 2 * w_len]),
            extra,
        )
    };
    // The well-formed record loads and runs (bias 0, weights 0: output 0).
    assert_eq!(
        f32s(&run(&fc_model(len, &[]), &[1.0; 8]).unwrap()),
        vec![0.0; n]
    );
    // Packed weights one element short or a panel long.
    bad(&fc_model(len - 1, &[]), OpReason::Shape);
    bad(&fc_model(len + 16, &[]), OpReason::Shape);
    // The bias is inside the packed weights: a third operand is refused.
    bad(&fc_model(len, &[(&[n as u32], &[0.0; 4])]), OpReason::Arity);
    // f16 weights `[N, K]` not packed (what a Cast would have widened).
    bad(
        &one_op(
            fc(Activation::None),
            &xs,
            &ys,
            (DType::F16, &[n as u32, k as u32], &vec![0u8; 2 * n * k]),
            &[],
        ),
        OpReason::Shape,
    );
    // A ConvNhwc with f16 weights of the f32 byte length.
    let window = Window {
        kernel: [1, 1],
        stride: [1, 1],
        dilation: [1, 1],
        pads: [0; 4],
    };
    let conv = Op::ConvNhwc {
        window,
        act: Activation::None,
        q: None,
    };
    bad(
        &one_op(
            conv,
            &[1, 2, 2, k as u32],
            &[1, 2, 2, n as u32],
            (DType::F16, &[2 * len as u32], &vec![0u8; 4 * len]),
            &[],
        ),
        OpReason::Shape,
    );
}

/// Every ISA's f16 matrix-vector kernel this CPU runs, against the naive f64 reference
/// on the rounded weights: within `γ(K + 2)·S`; a residual or short slices are errors.
#[test]
fn f16_gemv_of_every_isa_matches_a_naive_reference() {
    let mut ran = 0;
    for isa in engine::Isa::ALL {
        let Some(kernels) = isa.kernels() else {
            continue;
        };
        let gemv = kernels.f16_gemv;
        assert!(gemv.name.starts_with("f16_gemv_16x4_"), "{}", gemv.name);
        for &(k, n) in &[(1usize, 1usize), (3, 17), (8, 16), (13, 40), (129, 5)] {
            let x = values(k, 21);
            let (w16, w) = to_f16(&values(n * k, 22));
            let (b16, b) = to_f16(&values(n, 23));
            let packed = fc_packed(&w16, &b16, n, k);
            let out = engine::F32Out {
                min: -0.75,
                max: f32::INFINITY,
                residual: None,
            };
            // One spare slot after the outputs: the kernel writes only `n`.
            let mut y = vec![7.0f32; n + 1];
            (gemv.run)(k, n, &x, &packed, &out, &mut y).unwrap();
            assert_eq!(y[n], 7.0, "{}: wrote past n", gemv.name);
            for j in 0..n {
                let (mut exact, mut s) = (b[j] as f64, (b[j] as f64).abs());
                for i in 0..k {
                    let p = x[i] as f64 * w[j * k + i] as f64;
                    exact += p;
                    s += p.abs();
                }
                let want = exact.max(-0.75);
                assert!(
                    (y[j] as f64 - want).abs() <= gamma(k + 2) * s,
                    "{} k {k} n {n}: [{j}] = {}, want {want}",
                    gemv.name,
                    y[j]
                );
            }
            // Too short packed weights, x or y; a residual.
            let short = (gemv.run)(k, n, &x, &packed[..packed.len() - 1], &out, &mut y);
            assert!(matches!(short, Err(Error::Unsupported)));
            let short = (gemv.run)(k, n, &x[..k - 1], &packed, &out, &mut y);
            assert!(matches!(short, Err(Error::Unsupported)));
            let short = (gemv.run)(k, n, &x, &packed, &out, &mut y[..n - 1]);
            assert!(matches!(short, Err(Error::Unsupported)));
            let r = vec![0f32; n];
            let with_residual = engine::F32Out {
                residual: Some(&r),
                ..out
            };
            let res = (gemv.run)(k, n, &x, &packed, &with_residual, &mut y);
            assert!(matches!(res, Err(Error::Unsupported)));
        }
        ran += 1;
    }
    assert!(ran >= 2, "the portable kernel and this CPU's best");
}
