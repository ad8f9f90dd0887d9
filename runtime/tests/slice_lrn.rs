//! The strided Slice (`kernels::generic::slice`) and LRN (`kernels::f32::lrn`) kernels
//! against naive references written here, and the loader's checks of `Op::Slice` /
//! `Op::Lrn`.

use ferrite::format::types::{Op, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::generic::{slice, SliceParams};
use ferrite::kernels::{f32 as kf, LrnParams};
use ferrite::{AlignedModel, DType, OwnedSession};
use support::{ravel, unravel};

mod support;

/// Input shape, starts, steps and output shape of one slice case.
type SliceCase<'a> = (&'a [usize], &'a [isize], &'a [isize], &'a [usize]);

/// Naive strided slice: output index `o` reads input index `start + o * step` per axis.
fn ref_slice(
    x: &[f32],
    shape: &[usize],
    starts: &[isize],
    steps: &[isize],
    out: &[usize],
) -> Vec<f32> {
    let n: usize = out.iter().product();
    (0..n)
        .map(|o| {
            let oi = unravel(o, out);
            let ii: Vec<usize> = (0..shape.len())
                .map(|d| (starts[d] + oi[d] as isize * steps[d]) as usize)
                .collect();
            x[ravel(&ii, shape)]
        })
        .collect()
}

/// Naive LRN straight from the ONNX operator definition, in f64.
fn ref_lrn(x: &[f32], shape: &[usize], size: usize, alpha: f64, beta: f64, bias: f64) -> Vec<f32> {
    let c = shape[1] as isize;
    (0..x.len())
        .map(|i| {
            let idx = unravel(i, shape);
            let ch = idx[1] as isize;
            let lo = (ch - ((size as isize - 1) / 2)).max(0);
            let hi = (ch + (size as isize) / 2).min(c - 1);
            let mut sq = 0f64;
            for k in lo..=hi {
                let mut j = idx.clone();
                j[1] = k as usize;
                let v = x[ravel(&j, shape)] as f64;
                sq += v * v;
            }
            (x[i] as f64 / (bias + alpha / size as f64 * sq).powf(beta)) as f32
        })
        .collect()
}

fn values(n: usize, salt: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f32 + salt) * 0.731).sin() * 3.0)
        .collect()
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn slice_matches_naive_reference() {
    let cases: &[SliceCase] = &[
        (&[10], &[2], &[3], &[3]),
        (&[10], &[9], &[-2], &[5]),
        (&[4, 6], &[1, 0], &[1, 2], &[3, 3]),
        (&[2, 3, 8, 8], &[0, 1, 1, 7], &[1, 1, 2, -3], &[2, 2, 4, 3]),
        (&[3, 5, 7], &[2, 4, 0], &[-1, -2, 3], &[3, 3, 3]),
        (&[], &[], &[], &[]),
    ];
    for (shape, starts, steps, out) in cases {
        let n: usize = shape.iter().product();
        let x = values(n, 0.5);
        let want = ref_slice(&x, shape, starts, steps, out);
        let m: usize = out.iter().product();
        let mut y = vec![0u8; m * 4];
        let p = |elem| SliceParams {
            x: shape,
            starts,
            steps,
            y: out,
            elem,
        };
        slice(&p(4), &bytes(&x), &mut y);
        assert_eq!(
            from_bytes(&y),
            want,
            "shape {shape:?} starts {starts:?} steps {steps:?}"
        );
        // Byte-generic: the same indices for 1-byte elements.
        let xb: Vec<u8> = (0..n).map(|i| (i * 37 % 251) as u8).collect();
        let mut yb = vec![0u8; m];
        slice(&p(1), &xb, &mut yb);
        let xf: Vec<f32> = xb.iter().map(|&b| b as f32).collect();
        let wb: Vec<u8> = ref_slice(&xf, shape, starts, steps, out)
            .iter()
            .map(|&f| f as u8)
            .collect();
        assert_eq!(yb, wb);
    }
}

#[test]
fn lrn_matches_naive_reference() {
    for (shape, size) in [
        (vec![1usize, 5, 3, 3], 3usize),
        (vec![2, 7, 4], 5),
        (vec![1, 3, 2, 2], 4),
        (vec![1, 2], 1),
        (vec![1, 4, 1, 1], 9),
    ] {
        let x = values(shape.iter().product(), 1.25);
        let (alpha, beta, bias) = (0.3f32, 0.75f32, 2.0f32);
        let want = ref_lrn(&x, &shape, size, alpha as f64, beta as f64, bias as f64);
        let mut y = vec![0f32; x.len()];
        let inner: usize = shape[2..].iter().product();
        let p = LrnParams {
            n: shape[0],
            c: shape[1],
            inner,
            size,
            alpha,
            beta,
            bias,
        };
        kf::lrn(&p, &x, &mut y);
        for (i, (g, w)) in y.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{shape:?} size {size} [{i}]: {g} vs {w}"
            );
        }
    }
}

fn try_model(op: Op, xs: &[u32], ys: &[u32]) -> Option<Vec<u8>> {
    let mut m = ModelBuilder::new("extra");
    let x = m.add_tensor("x", DType::F32, xs, Quant::None).ok()?;
    let y = m.add_tensor("y", DType::F32, ys, Quant::None).ok()?;
    m.add_op(op, &[x], &[y]).ok()?;
    m.set_io(&[x], &[y]).ok()?;
    m.finish().ok()
}

fn model(op: Op, xs: &[u32], ys: &[u32]) -> Vec<u8> {
    try_model(op, xs, ys).expect("valid model")
}

fn hv(v: &[i32]) -> heapless::Vec<i32, 8> {
    heapless::Vec::from_slice(v).unwrap()
}

#[test]
fn slice_and_lrn_run_through_a_model() {
    let x = values(2 * 3 * 8, 0.0);
    let op = Op::Slice {
        starts: hv(&[1, 0, 7]),
        steps: hv(&[1, 2, -3]),
    };
    let bytes_ = model(op, &[2, 3, 8], &[1, 2, 3]);
    let a = AlignedModel::new(&bytes_);
    let m = a.model().unwrap();
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    s.set_input_f32(0, &x).unwrap();
    s.run().unwrap();
    let mut got = vec![0f32; 6];
    s.output_f32(0, &mut got).unwrap();
    assert_eq!(
        got,
        ref_slice(&x, &[2, 3, 8], &[1, 0, 7], &[1, 2, -3], &[1, 2, 3])
    );

    let op = Op::Lrn {
        size: 3,
        alpha: 1e-2,
        beta: 0.5,
        bias: 1.0,
    };
    let bytes_ = model(op, &[2, 3, 8], &[2, 3, 8]);
    let a = AlignedModel::new(&bytes_);
    let m = a.model().unwrap();
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    s.set_input_f32(0, &x).unwrap();
    s.run().unwrap();
    let mut got = vec![0f32; x.len()];
    s.output_f32(0, &mut got).unwrap();
    let want = ref_lrn(&x, &[2, 3, 8], 3, 1e-2, 0.5, 1.0);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0));
    }
}

#[test]
fn loader_rejects_out_of_bounds_slices_and_bad_lrn() {
    let bad = |op: Op, xs: &[u32], ys: &[u32]| {
        // The writer may refuse it already; otherwise the loader must.
        try_model(op, xs, ys).is_none_or(|b| AlignedModel::new(&b).model().is_err())
    };
    // Last index 2 + 3*3 = 11 is outside 10.
    assert!(bad(
        Op::Slice {
            starts: hv(&[2]),
            steps: hv(&[3])
        },
        &[10],
        &[4]
    ));
    // Negative step walking below 0.
    assert!(bad(
        Op::Slice {
            starts: hv(&[1]),
            steps: hv(&[-1])
        },
        &[10],
        &[3]
    ));
    // Start out of range, step 0, rank mismatch.
    assert!(bad(
        Op::Slice {
            starts: hv(&[10]),
            steps: hv(&[1])
        },
        &[10],
        &[1]
    ));
    assert!(bad(
        Op::Slice {
            starts: hv(&[0]),
            steps: hv(&[0])
        },
        &[10],
        &[1]
    ));
    assert!(bad(
        Op::Slice {
            starts: hv(&[0, 0]),
            steps: hv(&[1, 1])
        },
        &[10],
        &[1]
    ));
    assert!(bad(
        Op::Slice {
            starts: hv(&[-1]),
            steps: hv(&[1])
        },
        &[10],
        &[1]
    ));
    // In bounds: accepted.
    assert!(!bad(
        Op::Slice {
            starts: hv(&[2]),
            steps: hv(&[3])
        },
        &[10],
        &[3]
    ));
    assert!(!bad(
        Op::Slice {
            starts: hv(&[9]),
            steps: hv(&[-3])
        },
        &[10],
        &[4]
    ));
    // LRN: size 0, non-finite parameters, rank 1, shape change.
    assert!(bad(
        Op::Lrn {
            size: 0,
            alpha: 1.0,
            beta: 1.0,
            bias: 1.0
        },
        &[1, 3, 2],
        &[1, 3, 2]
    ));
    assert!(bad(
        Op::Lrn {
            size: 3,
            alpha: f32::NAN,
            beta: 1.0,
            bias: 1.0
        },
        &[1, 3, 2],
        &[1, 3, 2]
    ));
    assert!(bad(
        Op::Lrn {
            size: 3,
            alpha: 1.0,
            beta: 1.0,
            bias: 1.0
        },
        &[3],
        &[3]
    ));
    assert!(bad(
        Op::Lrn {
            size: 3,
            alpha: 1.0,
            beta: 1.0,
            bias: 1.0
        },
        &[1, 3, 2],
        &[1, 3, 1]
    ));
    assert!(!bad(
        Op::Lrn {
            size: 3,
            alpha: 1.0,
            beta: 1.0,
            bias: 1.0
        },
        &[1, 3, 2],
        &[1, 3, 2]
    ));
}
