//! Classical-model ops (Linear, TreeEnsemble, Normalize) against references written
//! here: f64 formulas and a recursive tree walker over a plain tree description,
//! with the node words packed by hand from `docs/format.md`.

use ferrite::format::kind;
use ferrite::format::types::{Activation, Aggregate, DType, Norm, Op, PostTransform, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::preprocess::{encode_section, f32_bytes, Pipeline, Step, StepOp};
use ferrite::{AlignedModel, Error, OpReason, OwnedSession};

const NAN: f32 = f32::NAN;

fn post_ref(post: PostTransform, s: &[f64]) -> Vec<f64> {
    match post {
        PostTransform::None => s.to_vec(),
        PostTransform::Logistic => s.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
        PostTransform::Softmax => {
            let e: Vec<f64> = s.iter().map(|v| v.exp()).collect();
            let t: f64 = e.iter().sum();
            e.iter().map(|v| v / t).collect()
        }
        PostTransform::SoftmaxZero => {
            let e: Vec<f64> = s
                .iter()
                .map(|&v| if v == 0.0 { 0.0 } else { v.exp() })
                .collect();
            let t: f64 = e.iter().sum();
            e.iter().map(|v| v / t).collect()
        }
    }
}

fn close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{what}: [{i}] got {g} want {w}"
        );
    }
}

/// Runs a one-output model on `x` (graph input 0) and returns output 0.
fn run_model(bytes: &[u8], x: &[f32], out_len: usize) -> Result<Vec<f32>, Error> {
    let a = AlignedModel::new(bytes);
    let model = a.model()?;
    let mut os = OwnedSession::new(&model);
    let mut s = os.session();
    s.set_input_f32(0, x)?;
    s.run()?;
    let mut y = vec![0f32; out_len];
    s.output_f32(0, &mut y)?;
    Ok(y)
}

#[test]
fn linear_with_every_post_transform() {
    let (b, k, n) = (3usize, 4usize, 3usize);
    let x: Vec<f32> = (0..b * k).map(|i| (i as f32 * 0.37).sin() * 2.0).collect();
    let w: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.91).cos()).collect();
    let bias = [0.5f32, -1.0, 0.0];
    for post in [
        PostTransform::None,
        PostTransform::Logistic,
        PostTransform::Softmax,
        PostTransform::SoftmaxZero,
    ] {
        let mut m = ModelBuilder::new("lin");
        let xt = m
            .add_tensor("x", DType::F32, &[b as u32, k as u32], Quant::None)
            .unwrap();
        let wt = m.add_const_f32("w", &[n as u32, k as u32], &w).unwrap();
        let bt = m.add_const_f32("b", &[n as u32], &bias).unwrap();
        let yt = m
            .add_tensor("y", DType::F32, &[b as u32, n as u32], Quant::None)
            .unwrap();
        m.add_op(Op::Linear { post }, &[xt, wt, bt], &[yt]).unwrap();
        m.set_io(&[xt], &[yt]).unwrap();
        let got = run_model(&m.finish().unwrap(), &x, b * n).unwrap();
        for r in 0..b {
            let s: Vec<f64> = (0..n)
                .map(|j| {
                    (0..k)
                        .map(|c| x[r * k + c] as f64 * w[j * k + c] as f64)
                        .sum::<f64>()
                        + bias[j] as f64
                })
                .collect();
            close(
                &got[r * n..(r + 1) * n],
                &post_ref(post, &s),
                &format!("{post:?} row {r}"),
            );
        }
    }
}

#[test]
fn softmax_zero_keeps_zero_scores_at_zero() {
    let mut m = ModelBuilder::new("lin");
    let xt = m.add_tensor("x", DType::F32, &[1, 1], Quant::None).unwrap();
    let wt = m.add_const_f32("w", &[3, 1], &[1.0, 0.0, 2.0]).unwrap();
    let bt = m.add_const_f32("b", &[3], &[0.0, 0.0, 0.0]).unwrap();
    let yt = m.add_tensor("y", DType::F32, &[1, 3], Quant::None).unwrap();
    m.add_op(
        Op::Linear {
            post: PostTransform::SoftmaxZero,
        },
        &[xt, wt, bt],
        &[yt],
    )
    .unwrap();
    m.set_io(&[xt], &[yt]).unwrap();
    let got = run_model(&m.finish().unwrap(), &[1.0], 3).unwrap();
    close(
        &got,
        &post_ref(PostTransform::SoftmaxZero, &[1.0, 0.0, 2.0]),
        "softmax_zero",
    );
    assert_eq!(got[1], 0.0);
}

// ---- trees ------------------------------------------------------------------------

/// A tree as a test describes it; `nodes[0]` is the root.
#[derive(Clone, Debug)]
enum T {
    /// (mode code, feature, threshold, missing goes true, true child, false child)
    Branch(u32, u32, f32, bool, usize, usize),
    /// (target, weight) entries
    Leaf(Vec<(u32, f32)>),
}

fn goes_true(mode: u32, x: f32, t: f32, missing_true: bool) -> bool {
    if x.is_nan() && missing_true {
        return true;
    }
    match mode {
        1 => x <= t,
        2 => x < t,
        3 => x >= t,
        4 => x > t,
        5 => x == t,
        6 => x != t,
        _ => unreachable!(),
    }
}

fn walk<'a>(tree: &'a [T], x: &[f32]) -> &'a [(u32, f32)] {
    let mut i = 0;
    loop {
        match &tree[i] {
            T::Leaf(e) => return e,
            T::Branch(mode, f, t, mt, a, b) => {
                i = if goes_true(*mode, x[*f as usize], *t, *mt) {
                    *a
                } else {
                    *b
                }
            }
        }
    }
}

fn ensemble_ref(
    trees: &[Vec<T>],
    base: &[f32],
    agg: Aggregate,
    post: PostTransform,
    x: &[f32],
) -> Vec<f64> {
    let mut acc: Vec<Option<f64>> = vec![None; base.len()];
    for t in trees {
        for &(id, w) in walk(t, x) {
            let a = &mut acc[id as usize];
            let w = w as f64;
            *a = Some(match (agg, *a) {
                (_, None) => w,
                (Aggregate::Sum | Aggregate::Average, Some(v)) => v + w,
                (Aggregate::Min, Some(v)) => v.min(w),
                (Aggregate::Max, Some(v)) => v.max(w),
            });
        }
    }
    let s: Vec<f64> = acc
        .iter()
        .zip(base)
        .map(|(a, &b)| {
            let v = a.unwrap_or(0.0);
            let v = if agg == Aggregate::Average {
                v / trees.len() as f64
            } else {
                v
            };
            v + b as f64
        })
        .collect();
    post_ref(post, &s)
}

/// The stored arrays, packed by hand: word0 = feature | mode << 28 | missing << 31.
struct Packed {
    nodes: Vec<i32>,
    roots: Vec<i32>,
    ids: Vec<i32>,
    ws: Vec<f32>,
}

fn pack(trees: &[Vec<T>]) -> Packed {
    let mut p = Packed {
        nodes: vec![],
        roots: vec![],
        ids: vec![],
        ws: vec![],
    };
    for t in trees {
        let off = p.nodes.len() / 4;
        p.roots.push(off as i32);
        for n in t {
            match n {
                T::Branch(mode, f, th, mt, a, b) => {
                    let w0 = f | (mode << 28) | if *mt { 1 << 31 } else { 0 };
                    p.nodes.extend([
                        w0 as i32,
                        th.to_bits() as i32,
                        (off + a) as i32,
                        (off + b) as i32,
                    ]);
                }
                T::Leaf(e) => {
                    p.nodes.extend([0, 0, p.ids.len() as i32, e.len() as i32]);
                    for &(id, w) in e {
                        p.ids.push(id as i32);
                        p.ws.push(w);
                    }
                }
            }
        }
    }
    p
}

fn tree_model(
    p: &Packed,
    features: u32,
    base: &[f32],
    agg: Aggregate,
    post: PostTransform,
    batch: u32,
) -> Vec<u8> {
    let mut m = ModelBuilder::new("trees");
    let x = m
        .add_tensor("x", DType::F32, &[batch, features], Quant::None)
        .unwrap();
    let i32s = |v: &[i32]| v.iter().flat_map(|a| a.to_le_bytes()).collect::<Vec<u8>>();
    let n = (p.nodes.len() / 4) as u32;
    let nodes = m
        .add_const("nodes", DType::I32, &[n, 4], &i32s(&p.nodes), Quant::None)
        .unwrap();
    let roots = m
        .add_const(
            "roots",
            DType::I32,
            &[p.roots.len() as u32],
            &i32s(&p.roots),
            Quant::None,
        )
        .unwrap();
    let ids = m
        .add_const(
            "ids",
            DType::I32,
            &[p.ids.len() as u32],
            &i32s(&p.ids),
            Quant::None,
        )
        .unwrap();
    let ws = m.add_const_f32("ws", &[p.ws.len() as u32], &p.ws).unwrap();
    let b = m.add_const_f32("base", &[base.len() as u32], base).unwrap();
    let y = m
        .add_tensor("y", DType::F32, &[batch, base.len() as u32], Quant::None)
        .unwrap();
    m.add_op(
        Op::TreeEnsemble {
            aggregate: agg,
            post,
        },
        &[x, nodes, roots, ids, ws, b],
        &[y],
    )
    .unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m.finish().unwrap()
}

/// Two trees over 3 features using every branch mode and both missing policies.
fn sample_trees() -> Vec<Vec<T>> {
    vec![
        vec![
            T::Branch(1, 0, 0.5, false, 1, 2), // x0 <= 0.5
            T::Branch(2, 1, -1.0, true, 3, 4), // x1 < -1 (NaN -> true)
            T::Branch(3, 2, 2.0, false, 5, 6), // x2 >= 2
            T::Leaf(vec![(0, 1.0), (1, 0.25)]),
            T::Leaf(vec![(1, 2.0)]),
            T::Branch(5, 0, 3.0, false, 7, 8), // x0 == 3
            T::Leaf(vec![(2, -0.5)]),
            T::Leaf(vec![(0, 0.75), (2, 1.5)]),
            T::Leaf(vec![(1, -1.25)]),
        ],
        vec![
            T::Branch(4, 2, 0.0, false, 1, 2), // x2 > 0 (NaN -> false)
            T::Branch(6, 1, 1.0, true, 3, 4),  // x1 != 1 (NaN -> true)
            T::Leaf(vec![(2, 3.0)]),
            T::Leaf(vec![(0, -2.0), (1, 0.5)]),
            T::Leaf(vec![(0, 4.0)]),
        ],
    ]
}

fn sample_rows() -> Vec<[f32; 3]> {
    let mut rows = vec![
        [0.0, -2.0, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 2.0],
        [3.0, 1.0, 0.0],
        [4.0, 1.0, 5.0],
        [NAN, NAN, NAN],
        [0.5, -1.0, 2.0],
        [3.0, NAN, -1.0],
    ];
    for i in 0..40 {
        let f = i as f32;
        rows.push([
            (f * 0.7).sin() * 4.0,
            (f * 1.3).cos() * 3.0,
            (f * 0.4).sin() * 3.0,
        ]);
    }
    rows
}

#[test]
fn tree_ensemble_matches_recursive_walker_for_every_aggregate_and_post() {
    let trees = sample_trees();
    let p = pack(&trees);
    let base = [0.1f32, -0.2, 0.3];
    let rows = sample_rows();
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    for agg in [
        Aggregate::Sum,
        Aggregate::Average,
        Aggregate::Min,
        Aggregate::Max,
    ] {
        for post in [
            PostTransform::None,
            PostTransform::Logistic,
            PostTransform::Softmax,
        ] {
            let bytes = tree_model(&p, 3, &base, agg, post, rows.len() as u32);
            let got = run_model(&bytes, &x, rows.len() * 3).unwrap();
            for (r, row) in rows.iter().enumerate() {
                let want = ensemble_ref(&trees, &base, agg, post, row);
                close(
                    &got[r * 3..r * 3 + 3],
                    &want,
                    &format!("{agg:?} {post:?} row {r} {row:?}"),
                );
            }
        }
    }
}

#[test]
fn random_forests_match_the_walker() {
    // Deterministic pseudo-random complete-ish trees (LCG), 8 features, 4 classes.
    let mut seed = 12345u64;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let mut trees = Vec::new();
    for _ in 0..25 {
        let mut t: Vec<T> = Vec::new();
        fn grow(t: &mut Vec<T>, depth: u32, rnd: &mut dyn FnMut() -> u32) -> usize {
            let at = t.len();
            if depth == 0 || rnd() % 5 == 0 {
                t.push(T::Leaf(vec![(
                    rnd() % 4,
                    (rnd() % 1000) as f32 / 100.0 - 5.0,
                )]));
                return at;
            }
            t.push(T::Leaf(vec![]));
            let mode = 1 + rnd() % 4;
            let (f, th, mt) = (rnd() % 8, (rnd() % 200) as f32 / 50.0 - 2.0, rnd() % 2 == 0);
            let a = grow(t, depth - 1, rnd);
            let b = grow(t, depth - 1, rnd);
            t[at] = T::Branch(mode, f, th, mt, a, b);
            at
        }
        grow(&mut t, 6, &mut rnd);
        trees.push(t);
    }
    let p = pack(&trees);
    let base = [0.0f32; 4];
    let rows: Vec<Vec<f32>> = (0..200)
        .map(|_| {
            (0..8)
                .map(|_| {
                    if rnd() % 20 == 0 {
                        NAN
                    } else {
                        (rnd() % 400) as f32 / 100.0 - 2.0
                    }
                })
                .collect()
        })
        .collect();
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let bytes = tree_model(
        &p,
        8,
        &base,
        Aggregate::Sum,
        PostTransform::Softmax,
        rows.len() as u32,
    );
    let got = run_model(&bytes, &x, rows.len() * 4).unwrap();
    for (r, row) in rows.iter().enumerate() {
        let want = ensemble_ref(&trees, &base, Aggregate::Sum, PostTransform::Softmax, row);
        close(&got[r * 4..r * 4 + 4], &want, &format!("row {r}"));
    }
    let n_nodes = p.nodes.len() / 4;
    // Storage: 16 bytes per node + 8 per leaf entry (see docs/format.md).
    assert_eq!(ferrite::classic::NODE_BYTES, 16);
    assert!(
        AlignedModel::new(&bytes).model().unwrap().parameter_bytes()
            >= 16 * n_nodes + 8 * p.ids.len()
    );
}

#[test]
fn load_rejects_cycles_and_out_of_range_tree_indices() {
    let base = [0.0f32; 3];
    let good = pack(&sample_trees());
    assert!(AlignedModel::new(&tree_model(
        &good,
        3,
        &base,
        Aggregate::Sum,
        PostTransform::None,
        1
    ))
    .model()
    .is_ok());
    type Edit = Box<dyn Fn(&mut Packed)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("child points to itself", Box::new(|p| p.nodes[2] = 0)),
        (
            "child points back to an ancestor (cycle)",
            Box::new(|p| p.nodes[4 + 3] = 0),
        ),
        (
            "child before its parent",
            Box::new(|p| p.nodes[4 * 2 + 2] = 1),
        ),
        ("child out of range", Box::new(|p| p.nodes[3] = 1000)),
        ("negative child", Box::new(|p| p.nodes[3] = -1)),
        (
            "feature out of range",
            Box::new(|p| p.nodes[0] = (1 << 28) | 3),
        ),
        ("unknown mode", Box::new(|p| p.nodes[0] = 7 << 28)),
        (
            "NaN threshold",
            Box::new(|p| p.nodes[1] = f32::NAN.to_bits() as i32),
        ),
        (
            "leaf entries out of range",
            Box::new(|p| p.nodes[4 * 3 + 3] = 100),
        ),
        ("leaf target out of range", Box::new(|p| p.ids[0] = 3)),
        ("negative leaf target", Box::new(|p| p.ids[0] = -1)),
        (
            "infinite leaf weight",
            Box::new(|p| p.ws[0] = f32::INFINITY),
        ),
        ("root out of range", Box::new(|p| p.roots[1] = 14)),
    ];
    for (what, edit) in cases {
        let mut p = Packed {
            nodes: good.nodes.clone(),
            roots: good.roots.clone(),
            ids: good.ids.clone(),
            ws: good.ws.clone(),
        };
        edit(&mut p);
        let bytes = tree_model(&p, 3, &base, Aggregate::Sum, PostTransform::None, 1);
        let err = AlignedModel::new(&bytes).model().expect_err(what);
        assert_eq!(
            err,
            Error::BadOp {
                op: 0,
                reason: OpReason::ConstantData
            },
            "{what}"
        );
    }
    // Infinite base values and a wrong output width are rejected too.
    let bytes = tree_model(
        &good,
        3,
        &[0.0, f32::NAN, 0.0],
        Aggregate::Sum,
        PostTransform::None,
        1,
    );
    assert_eq!(
        AlignedModel::new(&bytes).model().unwrap_err(),
        Error::BadOp {
            op: 0,
            reason: OpReason::ConstantData
        }
    );
}

#[test]
fn load_rejects_malformed_linear_ops() {
    let build = |wdims: &[u32], w: &[f32], bias: &[f32], out: u32| {
        let mut m = ModelBuilder::new("lin");
        let xt = m.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
        let wt = m.add_const_f32("w", wdims, w).unwrap();
        let bt = m.add_const_f32("b", &[bias.len() as u32], bias).unwrap();
        let yt = m
            .add_tensor("y", DType::F32, &[1, out], Quant::None)
            .unwrap();
        m.add_op(
            Op::Linear {
                post: PostTransform::None,
            },
            &[xt, wt, bt],
            &[yt],
        )
        .unwrap();
        m.set_io(&[xt], &[yt]).unwrap();
        AlignedModel::new(&m.finish().unwrap()).model().map(|_| ())
    };
    assert!(build(&[2, 2], &[1.0; 4], &[0.0; 2], 2).is_ok());
    let bad = |reason| Err(Error::BadOp { op: 0, reason });
    let shape = bad(OpReason::Shape);
    assert_eq!(build(&[2, 2], &[1.0; 4], &[0.0; 3], 2), shape);
    assert_eq!(build(&[2, 2], &[1.0; 4], &[0.0; 2], 3), shape);
    assert_eq!(build(&[2, 1], &[1.0; 2], &[0.0; 2], 2), shape);
    assert_eq!(
        build(&[2, 2], &[1.0, f32::NAN, 0.0, 0.0], &[0.0; 2], 2),
        bad(OpReason::ConstantData)
    );
}

#[test]
fn normalize_op_rows() {
    let x = [3.0f32, -4.0, 0.0, 0.0, 1.0, 1.0];
    for norm in [Norm::L1, Norm::L2, Norm::Max] {
        let mut m = ModelBuilder::new("norm");
        let xt = m.add_tensor("x", DType::F32, &[3, 2], Quant::None).unwrap();
        let yt = m.add_tensor("y", DType::F32, &[3, 2], Quant::None).unwrap();
        m.add_op(Op::Normalize { norm }, &[xt], &[yt]).unwrap();
        m.set_io(&[xt], &[yt]).unwrap();
        let got = run_model(&m.finish().unwrap(), &x, 6).unwrap();
        let mut want = Vec::new();
        for r in x.chunks(2) {
            let (a, b) = (r[0] as f64, r[1] as f64);
            let n = match norm {
                Norm::L1 => a.abs() + b.abs(),
                Norm::L2 => (a * a + b * b).sqrt(),
                Norm::Max => a.abs().max(b.abs()),
            };
            let n = if n == 0.0 { 1.0 } else { n };
            want.extend([a / n, b / n]);
        }
        close(&got, &want, &format!("{norm:?}"));
    }
}

#[test]
fn neural_and_classical_parts_mix_behind_a_pipeline() {
    // raw [2] -> impute -> FullyConnected+Relu [3] -> TreeEnsemble (1 tree) -> Linear softmax [2]
    let mut m = ModelBuilder::new("mixed");
    m.labels = vec!["cat".into(), "dog".into()];
    let x = m.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let w = m
        .add_const_f32("w", &[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
        .unwrap();
    let h = m.add_tensor("h", DType::F32, &[1, 3], Quant::None).unwrap();
    m.add_op(
        Op::FullyConnected {
            act: Activation::Relu,
            q: None,
        },
        &[x, w],
        &[h],
    )
    .unwrap();
    let tree = vec![vec![
        T::Branch(1, 2, 1.0, false, 1, 2),
        T::Leaf(vec![(0, 2.0)]),
        T::Leaf(vec![(1, 2.0)]),
    ]];
    let p = pack(&tree);
    let i32s = |v: &[i32]| v.iter().flat_map(|a| a.to_le_bytes()).collect::<Vec<u8>>();
    let nodes = m
        .add_const("nodes", DType::I32, &[3, 4], &i32s(&p.nodes), Quant::None)
        .unwrap();
    let roots = m
        .add_const("roots", DType::I32, &[1], &i32s(&p.roots), Quant::None)
        .unwrap();
    let ids = m
        .add_const("ids", DType::I32, &[2], &i32s(&p.ids), Quant::None)
        .unwrap();
    let ws = m.add_const_f32("ws", &[2], &p.ws).unwrap();
    let base = m.add_const_f32("base", &[2], &[0.0, 0.0]).unwrap();
    let t = m.add_tensor("t", DType::F32, &[1, 2], Quant::None).unwrap();
    m.add_op(
        Op::TreeEnsemble {
            aggregate: Aggregate::Sum,
            post: PostTransform::None,
        },
        &[h, nodes, roots, ids, ws, base],
        &[t],
    )
    .unwrap();
    let lw = m
        .add_const_f32("lw", &[2, 2], &[1.0, 0.0, 0.0, 1.0])
        .unwrap();
    let lb = m.add_const_f32("lb", &[2], &[0.0, 0.0]).unwrap();
    let y = m.add_tensor("y", DType::F32, &[1, 2], Quant::None).unwrap();
    m.add_op(
        Op::Linear {
            post: PostTransform::Softmax,
        },
        &[t, lw, lb],
        &[y],
    )
    .unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let fill = f32_bytes(&[0.0, 0.75]);
    let steps = [Step {
        start: 0,
        len: 2,
        op: StepOp::Impute {
            sentinel: None,
            values: &fill,
        },
    }];
    m.add_section(
        kind::PREPROCESS,
        true,
        encode_section(
            &Pipeline {
                raw_len: 2,
                names: "",
            },
            &steps,
        )
        .unwrap(),
    );
    let a = AlignedModel::new(&m.finish().unwrap());
    let model = a.model().unwrap();
    assert_eq!(model.labels().collect::<Vec<_>>(), ["cat", "dog"]);
    let mut os = OwnedSession::new(&model);
    let mut s = os.session();
    let mut p = [0f32; 2];
    let e2 = (2f64).exp();
    // x0 + x1 = 0.25 + 0.75 <= 1 -> class 0 gets 2.
    assert_eq!(s.predict(&[0.25, NAN], &mut p).unwrap(), Some(0));
    close(&p, &[e2 / (e2 + 1.0), 1.0 / (e2 + 1.0)], "imputed row");
    assert_eq!(s.predict(&[0.5, 0.75], &mut p).unwrap(), Some(1));
}
