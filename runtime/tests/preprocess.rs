//! The PREPROCESS section: every step against a direct reference written here (f64
//! formulas, plain loops), NaN handling, load-time rejections, and the window features
//! against the numpy reference of `examples/sensor/features.py`.

use ferrite::format::kind;
use ferrite::format::types::{DType, Norm, Op, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::preprocess::{
    encode_section, f32_bytes, u32_bytes, window, Pipeline, ScaleKind, Step, StepOp, Unknown,
    WindowBuffer, WindowFeature,
};
use ferrite::{AlignedModel, Error, Section, Session};
use heapless::Vec as HVec;

/// A model whose graph copies its input [1, out_len] to its output, behind `steps`.
fn model_bytes(raw_len: u32, steps: &[Step<'_>], out_len: u32) -> Vec<u8> {
    let mut m = ModelBuilder::new("pre");
    let x = m
        .add_tensor("x", DType::F32, &[1, out_len], Quant::None)
        .unwrap();
    let y = m
        .add_tensor("y", DType::F32, &[1, out_len], Quant::None)
        .unwrap();
    m.add_op(Op::Reshape, &[x], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let sec = encode_section(&Pipeline { raw_len, names: "" }, steps).unwrap();
    m.add_section(kind::PREPROCESS, true, sec);
    m.finish().unwrap()
}

/// Runs `steps` on each row with `Session::preprocess`.
fn run(
    raw_len: u32,
    steps: &[Step<'_>],
    out_len: u32,
    rows: &[&[f32]],
) -> Vec<Result<Vec<f32>, Error>> {
    let bytes = AlignedModel::new(&model_bytes(raw_len, steps, out_len));
    let model = bytes.model().expect("model loads");
    assert_eq!(model.raw_input_len().unwrap(), raw_len as usize);
    let mut arena = vec![0u8; model.arena_size() + 15];
    let mut s = Session::new(&model, &mut arena).unwrap();
    rows.iter()
        .map(|r| {
            let mut out = vec![0f32; out_len as usize];
            s.preprocess(r, &mut out).map(|_| out)
        })
        .collect()
}

fn run1(raw_len: u32, steps: &[Step<'_>], out_len: u32, row: &[f32]) -> Vec<f32> {
    run(raw_len, steps, out_len, &[row])
        .pop()
        .unwrap()
        .expect("preprocess runs")
}

fn load_err(raw_len: u32, steps: &[Step<'_>], out_len: u32) -> Error {
    let bytes = AlignedModel::new(&model_bytes(raw_len, steps, out_len));
    bytes.model().expect_err("model must be rejected")
}

fn step(start: u32, len: u32, op: StepOp<'_>) -> Step<'_> {
    Step { start, len, op }
}

/// Same value, NaN matching NaN.
fn same(a: f32, b: f64) -> bool {
    if b.is_nan() {
        a.is_nan()
    } else {
        (a as f64 - b).abs() <= 1e-6 * b.abs().max(1.0)
    }
}

fn assert_row(got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "length: got {got:?} want {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(same(g, w), "column {i}: got {g} want {w} (row {got:?})");
    }
}

const NAN: f32 = f32::NAN;

#[test]
fn impute_replaces_nan_and_sentinel_per_feature() {
    let vals = f32_bytes(&[10.0, 20.0, 30.0]);
    let steps = [step(
        0,
        3,
        StepOp::Impute {
            sentinel: Some(-999.0),
            values: &vals,
        },
    )];
    let rows: [&[f32]; 3] = [
        &[NAN, 2.0, -999.0],
        &[1.0, NAN, 3.0],
        &[-999.0, -999.0, NAN],
    ];
    let out = run(3, &steps, 3, &rows);
    let fill = [10.0, 20.0, 30.0];
    for (r, got) in rows.iter().zip(out) {
        let want: Vec<f64> = r
            .iter()
            .zip(fill)
            .map(|(&v, f)| {
                if v.is_nan() || v == -999.0 {
                    f
                } else {
                    v as f64
                }
            })
            .collect();
        assert_row(&got.unwrap(), &want);
    }
}

#[test]
fn impute_without_sentinel_keeps_other_values() {
    let vals = f32_bytes(&[1.5]);
    let steps = [step(
        1,
        1,
        StepOp::Impute {
            sentinel: None,
            values: &vals,
        },
    )];
    assert_row(&run1(2, &steps, 2, &[NAN, -999.0]), &[f64::NAN, -999.0]);
    assert_row(&run1(2, &steps, 2, &[NAN, NAN]), &[f64::NAN, 1.5]);
}

#[test]
fn clip_bounds_each_feature_and_keeps_nan() {
    let lo = f32_bytes(&[0.0, f32::NEG_INFINITY]);
    let hi = f32_bytes(&[1.0, 5.0]);
    let steps = [step(0, 2, StepOp::Clip { lo: &lo, hi: &hi })];
    for (row, want) in [
        ([-3.0, 7.0], [0.0, 5.0]),
        ([0.5, -1e30], [0.5, -1e30]),
        ([2.0, 5.0], [1.0, 5.0]),
        ([NAN, NAN], [f64::NAN, f64::NAN]),
    ] {
        let want: Vec<f64> = want
            .iter()
            .map(|&v: &f64| if v == -1e30 { -1e30f32 as f64 } else { v })
            .collect();
        assert_row(&run1(2, &steps, 2, &row), &want);
    }
}

#[test]
fn scale_kinds_match_their_formulas() {
    let a = [1.5f32, -2.0, 0.25];
    let b = [4.0f32, 0.5, -3.0];
    let (ab, bb) = (f32_bytes(&a), f32_bytes(&b));
    let x = [3.0f32, 7.5, NAN];
    for kind in [ScaleKind::SubMul, ScaleKind::MulAdd, ScaleKind::SubDiv] {
        let steps = [step(
            0,
            3,
            StepOp::Scale {
                kind,
                a: &ab,
                b: &bb,
            },
        )];
        let want: Vec<f64> = (0..3)
            .map(|j| {
                let (v, p, q) = (x[j] as f64, a[j] as f64, b[j] as f64);
                match kind {
                    ScaleKind::SubMul => (v - p) * q,
                    ScaleKind::MulAdd => v * p + q,
                    ScaleKind::SubDiv => (v - p) / q,
                }
            })
            .collect();
        assert_row(&run1(3, &steps, 3, &x), &want);
    }
}

#[test]
fn normalize_norms_of_the_range() {
    let x = [3.0f32, -4.0, 12.0];
    for norm in [Norm::L1, Norm::L2, Norm::Max] {
        let steps = [step(1, 2, StepOp::Normalize { norm })];
        let (p, q) = (-4.0f64, 12.0f64);
        let n = match norm {
            Norm::L1 => p.abs() + q.abs(),
            Norm::L2 => (p * p + q * q).sqrt(),
            Norm::Max => 12.0,
        };
        assert_row(&run1(3, &steps, 3, &x), &[3.0, p / n, q / n]);
        // A zero vector is unchanged; a NaN poisons the whole range.
        assert_row(&run1(3, &steps, 3, &[1.0, 0.0, 0.0]), &[1.0, 0.0, 0.0]);
        assert_row(
            &run1(3, &steps, 3, &[1.0, NAN, 2.0]),
            &[1.0, f64::NAN, f64::NAN],
        );
    }
}

#[test]
fn binarize_is_strictly_greater_than_threshold() {
    let t = f32_bytes(&[0.5, 0.5, 0.5, -1.0]);
    let steps = [step(0, 4, StepOp::Binarize { threshold: &t })];
    assert_row(
        &run1(4, &steps, 4, &[0.5, 0.6, NAN, -0.5]),
        &[0.0, 1.0, f64::NAN, 1.0],
    );
}

#[test]
fn bin_counts_edges_at_or_below_value() {
    let edges = [-1.0f32, 0.0, 2.5];
    let eb = f32_bytes(&edges);
    let steps = [step(0, 1, StepOp::Bin { edges: &eb })];
    for v in [-5.0f32, -1.0, -0.5, 0.0, 2.4, 2.5, 100.0] {
        let want = edges.iter().filter(|&&e| e <= v).count() as f64;
        assert_row(&run1(2, &steps, 2, &[v, 9.0]), &[want, 9.0]);
    }
    assert_row(&run1(2, &steps, 2, &[NAN, 9.0]), &[f64::NAN, 9.0]);
}

#[test]
fn one_hot_policies_for_unknown_and_nan() {
    let cats = f32_bytes(&[0.0, 1.0, 4.0]);
    let mk = |unknown| {
        [step(
            1,
            1,
            StepOp::OneHot {
                categories: &cats,
                unknown,
            },
        )]
    };
    // Known categories, ignore policy: the block is [c == 0, c == 1, c == 4].
    for c in [0.0f32, 1.0, 4.0, 2.0, NAN] {
        let want: Vec<f64> = [0.0f32, 1.0, 4.0]
            .iter()
            .map(|&k| if c == k { 1.0 } else { 0.0 })
            .collect();
        let mut w = vec![7.0];
        w.extend(want);
        w.push(8.0);
        assert_row(&run1(3, &mk(Unknown::Ignore), 5, &[7.0, c, 8.0]), &w);
        // Bucket: one more column, set for unknown values.
        let known = [0.0, 1.0, 4.0].contains(&c);
        let mut wb = w.clone();
        wb.insert(4, if known { 0.0 } else { 1.0 });
        assert_row(&run1(3, &mk(Unknown::Bucket), 6, &[7.0, c, 8.0]), &wb);
    }
    let err = run(
        3,
        &mk(Unknown::Error),
        5,
        &[&[7.0, 2.0, 8.0], &[7.0, NAN, 8.0], &[7.0, 4.0, 8.0]],
    );
    assert_eq!(err[0], Err(Error::InvalidInput { feature: 1 }));
    assert_eq!(err[1], Err(Error::InvalidInput { feature: 1 }));
    assert_eq!(err[2].as_ref().unwrap(), &vec![7.0, 0.0, 0.0, 1.0, 8.0]);
}

#[test]
fn label_encode_maps_keys_default_or_error() {
    let keys = f32_bytes(&[10.0, 20.0, 30.0]);
    let vals = f32_bytes(&[0.0, 1.0, 2.0]);
    let with_default = [step(
        0,
        1,
        StepOp::LabelEncode {
            keys: &keys,
            values: &vals,
            default: Some(-1.0),
        },
    )];
    for (v, want) in [(10.0, 0.0), (30.0, 2.0), (25.0, -1.0), (NAN, -1.0)] {
        assert_row(&run1(1, &with_default, 1, &[v]), &[want]);
    }
    let strict = [step(
        0,
        1,
        StepOp::LabelEncode {
            keys: &keys,
            values: &vals,
            default: None,
        },
    )];
    let r = run(1, &strict, 1, &[&[20.0], &[21.0]]);
    assert_eq!(r[0].as_ref().unwrap(), &vec![1.0]);
    assert_eq!(r[1], Err(Error::InvalidInput { feature: 0 }));
}

/// FNV-1a written out independently.
fn fnv(bytes: &[u8]) -> u32 {
    let mut h = 2166136261u32;
    for &b in bytes {
        h = (h ^ b as u32).wrapping_mul(16777619);
    }
    h
}

#[test]
fn hashing_buckets_match_fnv1a_of_column_and_value() {
    let x = [3.0f32, -0.0, 3.0, NAN, 1e6];
    for signed in [false, true] {
        let steps = [step(0, 5, StepOp::Hash { buckets: 7, signed })];
        let mut want = [0f64; 7];
        for (j, &v) in x.iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let v = if v == 0.0 { 0.0f32 } else { v };
            let mut key = (j as u32).to_le_bytes().to_vec();
            key.extend(v.to_bits().to_le_bytes());
            let h = fnv(&key);
            want[(h % 7) as usize] += if signed && h & 0x8000_0000 != 0 {
                -1.0
            } else {
                1.0
            };
        }
        assert_row(&run1(5, &steps, 7, &x), &want);
    }
}

#[test]
fn select_and_ranged_steps_compose_like_a_column_transformer() {
    // raw [a, cat, b]: select [cat, a, b, a] -> one-hot(cat over {1,2}) then scale [a, b, a].
    let idx = u32_bytes(&[1, 0, 2, 0]);
    let cats = f32_bytes(&[1.0, 2.0]);
    let (sa, sb) = (f32_bytes(&[1.0, 2.0, 3.0]), f32_bytes(&[2.0, 4.0, 8.0]));
    let steps = [
        step(0, 3, StepOp::Select { indices: &idx }),
        step(
            0,
            1,
            StepOp::OneHot {
                categories: &cats,
                unknown: Unknown::Ignore,
            },
        ),
        step(
            2,
            3,
            StepOp::Scale {
                kind: ScaleKind::SubDiv,
                a: &sa,
                b: &sb,
            },
        ),
    ];
    let raw = [5.0f32, 2.0, -3.0];
    let want = [
        0.0,
        1.0,
        (5.0 - 1.0) / 2.0,
        (-3.0 - 2.0) / 4.0,
        (5.0 - 3.0) / 8.0,
    ];
    assert_row(&run1(3, &steps, 5, &raw), &want);
}

#[test]
fn predict_accepts_nan_that_the_pipeline_imputes_and_rejects_the_rest() {
    let vals = f32_bytes(&[1.0, 2.0]);
    let steps = [step(
        0,
        2,
        StepOp::Impute {
            sentinel: None,
            values: &vals,
        },
    )];
    let bytes = AlignedModel::new(&model_bytes(3, &steps, 3));
    let model = bytes.model().unwrap();
    let mut arena = ferrite::Arena::<4096>::new();
    assert!(model.arena_size() <= 4096);
    let mut s = Session::new(&model, &mut arena.0).unwrap();
    let mut out = [0f32; 3];
    s.predict(&[NAN, 5.0, 6.0], &mut out).unwrap();
    assert_eq!(out, [1.0, 5.0, 6.0]);
    // Column 2 is not imputed: its NaN reaches the graph input and is rejected.
    assert_eq!(
        s.predict(&[NAN, NAN, NAN], &mut out),
        Err(Error::InvalidInput { feature: 2 })
    );
    assert_eq!(
        s.predict(&[0.0, 0.0], &mut out),
        Err(Error::WrongLength {
            expected: 3,
            actual: 2
        })
    );
}

#[test]
fn predict_without_pipeline_still_rejects_nan() {
    let mut m = ModelBuilder::new("plain");
    let x = m.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let y = m.add_tensor("y", DType::F32, &[1, 2], Quant::None).unwrap();
    m.add_op(Op::Reshape, &[x], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let bytes = AlignedModel::new(&m.finish().unwrap());
    let model = bytes.model().unwrap();
    assert!(model.preprocess().is_none());
    assert_eq!(model.raw_input_len().unwrap(), 2);
    let mut arena = vec![0u8; model.arena_size() + 15];
    let mut s = Session::new(&model, &mut arena).unwrap();
    let mut out = [0f32; 2];
    assert_eq!(
        s.predict(&[1.0, NAN], &mut out),
        Err(Error::InvalidInput { feature: 1 })
    );
    // preprocess() is the identity without a pipeline.
    s.preprocess(&[1.0, NAN], &mut out).unwrap();
    assert!(out[0] == 1.0 && out[1].is_nan());
}

#[test]
fn arena_size_counts_the_pipeline_scratch() {
    let idx = u32_bytes(&(0..40).map(|i| i % 3).collect::<Vec<_>>());
    let steps = [step(0, 3, StepOp::Select { indices: &idx })];
    let bytes = AlignedModel::new(&model_bytes(3, &steps, 40));
    let model = bytes.model().unwrap();
    // Graph: x and y of 160 bytes each; scratch: two rows of the widest width (40).
    assert!(
        model.arena_size() >= 320 + 2 * 40 * 4,
        "{}",
        model.arena_size()
    );
    let p = model.preprocess().unwrap();
    assert_eq!((p.raw_len(), p.out_len(), p.num_steps()), (3, 40, 1));
    // An aligned arena of exactly arena_size() bytes is enough.
    let mut words = vec![0u128; model.arena_size().div_ceil(16)];
    let arena: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    let mut s = Session::new(&model, &mut arena[..model.arena_size()]).unwrap();
    let mut out = [0f32; 40];
    s.predict(&[1.0, 2.0, 3.0], &mut out).unwrap();
    assert_eq!(out[..4], [1.0, 2.0, 3.0, 1.0]);
}

#[test]
fn load_rejects_malformed_pipelines() {
    let pre = Error::BadSection {
        section: Section::Preprocess,
    };
    let dec = |index| Error::Decode {
        section: Section::Preprocess,
        index,
    };
    let two = f32_bytes(&[1.0, 2.0]);
    let one = f32_bytes(&[1.0]);
    let inf = f32_bytes(&[1.0, f32::INFINITY]);
    let nan = f32_bytes(&[f32::NAN, 1.0]);
    let zero = f32_bytes(&[1.0, 0.0]);
    let bad_idx = u32_bytes(&[0, 2]);
    let unsorted = f32_bytes(&[1.0, 1.0]);
    let hi_lo = (f32_bytes(&[2.0, 0.0]), f32_bytes(&[1.0, 1.0]));
    let empty: &[u8] = &[];
    // Table lengths that do not match the range.
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                2,
                StepOp::Impute {
                    sentinel: None,
                    values: &one
                }
            )],
            2
        ),
        dec(0)
    );
    // Non-finite parameters.
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                2,
                StepOp::Impute {
                    sentinel: None,
                    values: &inf
                }
            )],
            2
        ),
        dec(0)
    );
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                2,
                StepOp::Impute {
                    sentinel: Some(f32::NAN),
                    values: &two
                }
            )],
            2
        ),
        dec(0)
    );
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                2,
                StepOp::Scale {
                    kind: ScaleKind::SubMul,
                    a: &two,
                    b: &nan
                }
            )],
            2
        ),
        dec(0)
    );
    assert_eq!(
        load_err(2, &[step(0, 2, StepOp::Clip { lo: &nan, hi: &two })], 2),
        dec(0)
    );
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                2,
                StepOp::Clip {
                    lo: &hi_lo.0,
                    hi: &hi_lo.1
                }
            )],
            2
        ),
        dec(0)
    );
    // Division by zero.
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                2,
                StepOp::Scale {
                    kind: ScaleKind::SubDiv,
                    a: &two,
                    b: &zero
                }
            )],
            2
        ),
        dec(0)
    );
    // Ranges and indices out of bounds; the second step is the bad one.
    let ok = step(0, 2, StepOp::Normalize { norm: Norm::L2 });
    assert_eq!(
        load_err(
            2,
            &[ok.clone(), step(1, 2, StepOp::Normalize { norm: Norm::L1 })],
            2
        ),
        dec(1)
    );
    assert_eq!(
        load_err(2, &[step(0, 0, StepOp::Normalize { norm: Norm::L1 })], 2),
        dec(0)
    );
    assert_eq!(
        load_err(2, &[step(0, 2, StepOp::Select { indices: &bad_idx })], 2),
        dec(0)
    );
    assert_eq!(
        load_err(2, &[step(0, 2, StepOp::Select { indices: empty })], 2),
        dec(0)
    );
    // Category steps take exactly one column; edges strictly increasing; categories non-empty.
    assert_eq!(
        load_err(2, &[step(0, 2, StepOp::Bin { edges: &two })], 2),
        dec(0)
    );
    assert_eq!(
        load_err(2, &[step(0, 1, StepOp::Bin { edges: &unsorted })], 2),
        dec(0)
    );
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                1,
                StepOp::OneHot {
                    categories: empty,
                    unknown: Unknown::Ignore
                }
            )],
            1
        ),
        dec(0)
    );
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                1,
                StepOp::LabelEncode {
                    keys: &two,
                    values: &one,
                    default: None
                }
            )],
            2
        ),
        dec(0)
    );
    assert_eq!(
        load_err(
            2,
            &[step(
                0,
                2,
                StepOp::Hash {
                    buckets: 0,
                    signed: false
                }
            )],
            2
        ),
        dec(0)
    );
    // Window shape and features.
    let feats = |f: &[WindowFeature]| HVec::<WindowFeature, 16>::from_slice(f).unwrap();
    let w = |ch, n, f| {
        step(
            0,
            6,
            StepOp::Window {
                channels: ch,
                samples: n,
                features: f,
            },
        )
    };
    assert_eq!(
        load_err(6, &[w(4, 2, feats(&[WindowFeature::Mean]))], 4),
        dec(0)
    );
    assert_eq!(
        load_err(
            6,
            &[w(
                2,
                3,
                feats(&[WindowFeature::BandEnergy { lo: 0, hi: 1 }])
            )],
            2
        ),
        dec(0)
    );
    assert_eq!(load_err(6, &[w(2, 3, feats(&[]))], 2), dec(0));
    // The final width must be the graph's input width.
    assert_eq!(load_err(2, core::slice::from_ref(&ok), 3), pre);
    assert_eq!(load_err(0, &[], 1), pre);
}

#[test]
fn load_rejects_truncated_or_garbage_sections() {
    let good = encode_section(
        &Pipeline {
            raw_len: 2,
            names: "a\nb",
        },
        &[step(0, 2, StepOp::Normalize { norm: Norm::L1 })],
    )
    .unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![1, 0, 0],
        good[..good.len() - 1].to_vec(),
        vec![0xff; 12],
    ];
    let mut tail = good.clone();
    tail.push(0);
    cases.push(tail);
    let mut bad_variant = good.clone();
    let n = bad_variant.len();
    bad_variant[n - 1] = 0x7f; // the Norm variant index
    cases.push(bad_variant);
    for sec in cases {
        let mut m = ModelBuilder::new("pre");
        let x = m.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
        let y = m.add_tensor("y", DType::F32, &[1, 2], Quant::None).unwrap();
        m.add_op(Op::Reshape, &[x], &[y]).unwrap();
        m.set_io(&[x], &[y]).unwrap();
        m.add_section(kind::PREPROCESS, true, sec.clone());
        let bytes = AlignedModel::new(&m.finish().unwrap());
        let e = bytes.model().expect_err("garbage section must be rejected");
        assert!(
            matches!(
                e,
                Error::BadSection {
                    section: Section::Preprocess
                } | Error::Decode {
                    section: Section::Preprocess,
                    ..
                }
            ),
            "{sec:?}: {e:?}"
        );
    }
    // The good one loads and keeps its names.
    let bytes = AlignedModel::new(&model_bytes_with(&good));
    let model = bytes.model().unwrap();
    assert_eq!(
        model.preprocess().unwrap().names().collect::<Vec<_>>(),
        ["a", "b"]
    );
}

fn model_bytes_with(sec: &[u8]) -> Vec<u8> {
    let mut m = ModelBuilder::new("pre");
    let x = m.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let y = m.add_tensor("y", DType::F32, &[1, 2], Quant::None).unwrap();
    m.add_op(Op::Reshape, &[x], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m.add_section(kind::PREPROCESS, true, sec.to_vec());
    m.finish().unwrap()
}

// ---- window features ------------------------------------------------------------

fn sensor_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sensor")
}

fn read_csv(name: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(sensor_dir().join(name)).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()).collect())
        .collect()
}

const SENSOR_FEATURES: [WindowFeature; 7] = [
    WindowFeature::Mean,
    WindowFeature::Std,
    WindowFeature::Min,
    WindowFeature::Max,
    WindowFeature::Rms,
    WindowFeature::Ptp,
    WindowFeature::ZeroCrossings,
];

/// Relative 1e-5 (exact for min/max/ptp/zc, which are integers here).
fn assert_features(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = if i % 7 == 1 || i % 7 == 0 || i % 7 == 4 {
            1e-5 * w.abs().max(1.0)
        } else {
            0.0
        };
        assert!(
            (g as f64 - w).abs() <= tol,
            "{what}: feature {i}: got {g} want {w}"
        );
    }
}

#[test]
fn window_step_matches_numpy_features_reference() {
    let windows = read_csv("test.csv");
    let reference = read_csv("features_reference.csv");
    assert_eq!(reference.len(), 50);
    let steps = [step(
        0,
        192,
        StepOp::Window {
            channels: 3,
            samples: 64,
            features: HVec::from_slice(&SENSOR_FEATURES).unwrap(),
        },
    )];
    let rows: Vec<Vec<f32>> = windows[..50]
        .iter()
        .map(|w| w.iter().map(|&g| (g * 1000.0).round() as f32).collect())
        .collect();
    let refs: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
    let out = run(192, &steps, 21, &refs);
    for (k, (got, want)) in out.into_iter().zip(&reference).enumerate() {
        assert_features(&got.unwrap(), want, &format!("window {k}"));
    }
}

#[test]
fn streaming_buffer_matches_trace_reference() {
    // trace.csv: integer milli-g samples; the reference has windows of 64, hop 32.
    let trace = read_csv("trace.csv");
    let reference = read_csv("trace_features_reference.csv");
    let mut buf = WindowBuffer::<3, 64>::new(32);
    let mut got = Vec::new();
    for (i, s) in trace.iter().enumerate() {
        if buf.push([s[0] as f32, s[1] as f32, s[2] as f32]) {
            let mut f = [0f32; 21];
            assert!(buf.features(&SENSOR_FEATURES, &mut f));
            let mut w = [0f32; 192];
            assert!(buf.window(&mut w));
            assert_eq!(w[63], s[0] as f32);
            got.push((i + 1 - 64, f));
        }
    }
    assert_eq!(got.len(), reference.len());
    for ((start, f), want) in got.iter().zip(&reference) {
        assert_eq!(*start as f64, want[0]);
        assert_features(f, &want[2..], &format!("trace window at {start}"));
    }
}

#[test]
fn window_features_against_direct_formulas_with_offset_and_nan() {
    // Large offset, tiny variance: a one-pass f32 variance would lose every digit.
    let v: Vec<f32> = (0..64)
        .map(|i| 1000.0 + if i % 3 == 0 { 0.5 } else { -0.25 })
        .collect();
    let x: Vec<f64> = v.iter().map(|&a| a as f64).collect();
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / n).sqrt();
    assert!(same(WindowFeature::Std.compute(&v), sd));
    assert!(same(WindowFeature::Mean.compute(&v), m));
    let zc = x
        .windows(2)
        .filter(|w| (w[0] - m < 0.0) != (w[1] - m < 0.0))
        .count();
    assert_eq!(window::zero_crossings(&v) as usize, zc);
    let mut with_nan = v.clone();
    with_nan[5] = NAN;
    for f in SENSOR_FEATURES {
        assert!(f.compute(&with_nan).is_nan(), "{f:?}");
    }
}

#[test]
fn band_energy_matches_a_direct_dft() {
    for n in [8usize, 64, 256] {
        let v: Vec<f32> = (0..n)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.5 + (i as f32 * 0.3).sin())
            .collect();
        let dft = |k: usize| {
            let (mut re, mut im) = (0f64, 0f64);
            for (t, &x) in v.iter().enumerate() {
                let a = -2.0 * core::f64::consts::PI * (k * t) as f64 / n as f64;
                re += x as f64 * a.cos();
                im += x as f64 * a.sin();
            }
            re * re + im * im
        };
        let total: f64 = v.iter().map(|&x| x as f64 * x as f64).sum();
        for (lo, hi) in [(0usize, 0usize), (1, 3), (2, n / 2)] {
            let want: f64 = (lo..=hi).map(dft).sum::<f64>() / n as f64;
            let got = window::band_energy(&v, lo, hi);
            assert!(
                (got as f64 - want).abs() <= 1e-4 * total.max(1.0),
                "n {n} bins {lo}..={hi}: got {got} want {want}"
            );
        }
    }
    assert!(window::band_energy(&[1.0; 6], 0, 1).is_nan());
}

#[test]
fn window_buffer_emits_after_capacity_then_every_hop() {
    let mut b = WindowBuffer::<2, 4>::new(2);
    let ready: Vec<bool> = (0..10).map(|i| b.push([i as f32, -(i as f32)])).collect();
    assert_eq!(
        ready,
        [false, false, false, true, false, true, false, true, false, true]
    );
    let mut w = [0f32; 8];
    assert!(b.window(&mut w));
    assert_eq!(w, [6.0, 7.0, 8.0, 9.0, -6.0, -7.0, -8.0, -9.0]);
    assert!(!b.window(&mut [0f32; 7]));
    b.clear();
    assert!(b.is_empty() && !b.window(&mut w));
}
