//! The hand-written decoders against postcard with serde's derive (the reference
//! they replace): on every `Op` variant, on records of every type, and on those
//! records mutated, truncated and extended at random (proptest).

use super::super::types::DType;
use super::super::wire::tests::{quant_samples, window};
use super::*;
use proptest::prelude::*;
use std::vec::Vec;

/// The wire index of `op`'s variant. Exhaustive: a new variant fails to compile
/// here until it has a sample below and an arm in [`Reader::op`].
fn index(op: &Op) -> usize {
    match op {
        Op::FullyConnected { .. } => 0,
        Op::MatMul => 1,
        Op::Conv { .. } => 2,
        Op::MaxPool { .. } => 3,
        Op::AvgPool { .. } => 4,
        Op::GlobalAvgPool => 5,
        Op::GlobalMaxPool => 6,
        Op::Binary { .. } => 7,
        Op::Unary { .. } => 8,
        Op::Lut => 9,
        Op::Softmax { .. } => 10,
        Op::Reshape => 11,
        Op::Transpose { .. } => 12,
        Op::Concat { .. } => 13,
        Op::Pad { .. } => 14,
        Op::ArgMax { .. } => 15,
        Op::Quantize => 16,
        Op::Dequantize => 17,
        Op::Requantize { .. } => 18,
        Op::Cast => 19,
        Op::Linear { .. } => 20,
        Op::TreeEnsemble { .. } => 21,
        Op::Normalize { .. } => 22,
        Op::Slice { .. } => 23,
        Op::Lrn { .. } => 24,
        Op::ConvNhwc { .. } => 25,
        Op::DepthwiseNhwc { .. } => 26,
        Op::Recurrent { .. } => 27,
        Op::GridSample { .. } => 28,
        Op::MaxPoolNhwc { .. } => 29,
        Op::AvgPoolNhwc { .. } => 30,
        Op::GlobalProd => 31,
        Op::ConvNchw { .. } => 32,
        Op::ConvNchwI8 { .. } => 33,
    }
}
const VARIANTS: usize = 34;

/// At least one sample of every `Op` variant (and of every `UnaryOp` variant), and the
/// field combinations of [`combinations`]; also `format/wire.rs`'s `ops_match_postcard`
/// samples.
pub(in crate::format) fn ops() -> Vec<Op> {
    let (qp, rq, qb) = quant_samples();
    let clip = Activation::Clip {
        min: -1.5,
        max: f32::NAN,
    };
    let mut v = std::vec![
        Op::FullyConnected {
            act: Activation::None,
            q: Some(qp),
        },
        Op::FullyConnected { act: clip, q: None },
        Op::MatMul,
        Op::Conv {
            window: window(3),
            groups: 300,
            act: Activation::Relu,
            q: Some(qp),
        },
        Op::MaxPool { window: window(2) },
        Op::AvgPool {
            window: window(1),
            count_include_pad: true,
        },
        Op::GlobalAvgPool,
        Op::GlobalMaxPool,
        Op::Binary {
            op: BinaryOp::Fmod,
            act: clip,
            q: Some(qb),
        },
        Op::Binary {
            op: BinaryOp::Add,
            act: Activation::None,
            q: None,
        },
        Op::Lut,
        Op::Softmax {
            axis: 200,
            log: true,
        },
        Op::Reshape,
        Op::Transpose {
            perm: HVec::from_slice(&[0, 3, 1, 2, 255]).unwrap(),
        },
        Op::Concat { axis: 3 },
        Op::Pad {
            pads: HVec::from_slice(&[1, 0, 300, u32::MAX]).unwrap(),
            value: -0.0,
        },
        Op::ArgMax {
            axis: 1,
            keepdims: false,
            select_last: true,
        },
        Op::Quantize,
        Op::Dequantize,
        Op::Requantize { rq },
        Op::Cast,
        Op::Linear {
            post: PostTransform::SoftmaxZero,
        },
        Op::TreeEnsemble {
            aggregate: Aggregate::Max,
            post: PostTransform::Logistic,
        },
        Op::Normalize { norm: Norm::L2 },
        Op::Slice {
            starts: HVec::from_slice(&[0, -1, i32::MIN, i32::MAX]).unwrap(),
            steps: HVec::from_slice(&[1, -1, 2, -300]).unwrap(),
        },
        Op::Lrn {
            size: 5,
            alpha: 1e-4,
            beta: 0.75,
            bias: 1.0,
        },
        Op::ConvNhwc {
            window: window(3),
            act: Activation::Relu,
            q: Some(QNhwc {
                act_min: -128,
                act_max: 5,
                residual: Some(qb),
            }),
        },
        Op::DepthwiseNhwc {
            window: window(5),
            act: clip,
            q: None,
        },
        Op::Recurrent {
            cell: Cell::Gru {
                linear_before_reset: true,
            },
            direction: Direction::Bidirectional,
            acts: HVec::from_slice(&[
                UnaryOp::Sigmoid,
                UnaryOp::HardSigmoid {
                    alpha: 0.2,
                    beta: 0.5,
                }
            ])
            .unwrap(),
            clip: Some(3.0),
        },
        Op::Recurrent {
            cell: Cell::Rnn,
            direction: Direction::Forward,
            acts: HVec::new(),
            clip: None,
        },
        Op::GridSample {
            mode: GridMode::Cubic,
            padding: GridPadding::Reflection,
            align_corners: true,
        },
        Op::MaxPoolNhwc { window: window(2) },
        Op::AvgPoolNhwc {
            window: window(7),
            count_include_pad: false,
        },
        Op::Binary {
            op: BinaryOp::Mod,
            act: Activation::None,
            q: None,
        },
        Op::GlobalProd,
        Op::ConvNchw {
            window: window(3),
            act: Activation::Relu,
        },
        Op::ConvNchwI8 {
            window: window(3),
            act: Activation::Relu,
            x_scale: 0.0078125,
            x_zero_point: -3,
            act_min: -128,
            act_max: 127,
        },
    ];
    // Every UnaryOp, by its wire index (a one-field struct variant: index, fields).
    for t in 0u8..33 {
        let f = [0u8, 0, 0x80, 0x3F, 0, 0, 0, 0x40];
        let rec = [&[8, t][..], &f].concat();
        if let Ok((op, _)) = postcard::take_from_bytes::<Op>(&rec) {
            v.push(op);
        }
    }
    combinations(&mut v);
    v
}

/// The ops whose fields combine: every activation with and without quantization
/// parameters, windows whose fields take one- to five-byte varints, both flag values.
fn combinations(v: &mut Vec<Op>) {
    let (q, _, qb) = quant_samples();
    let acts = [
        Activation::None,
        Activation::Relu,
        Activation::Clip {
            min: -1.5,
            max: 6.0,
        },
    ];
    let bins = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Pow,
        BinaryOp::Fmod,
        BinaryOp::Mod,
    ];
    let posts = [
        PostTransform::None,
        PostTransform::Softmax,
        PostTransform::Logistic,
        PostTransform::SoftmaxZero,
    ];
    let aggs = [
        Aggregate::Sum,
        Aggregate::Average,
        Aggregate::Min,
        Aggregate::Max,
    ];
    let mut add = |o: Op| v.push(o);
    for (i, act) in acts.into_iter().enumerate() {
        for q in [None, Some(q)] {
            add(Op::FullyConnected { act, q });
            add(Op::Conv {
                window: window(i as u32),
                groups: 300,
                act,
                q,
            });
        }
        for (b, op) in bins.into_iter().enumerate() {
            let q = (b % 2 == 1).then_some(qb);
            add(Op::Binary { op, act, q });
        }
        for residual in [None, Some(qb)] {
            let q = Some(QNhwc {
                act_min: -128,
                act_max: i as i32,
                residual,
            });
            for q in [None, q] {
                add(Op::ConvNhwc {
                    window: window(i as u32),
                    act,
                    q,
                });
                add(Op::DepthwiseNhwc {
                    window: window(i as u32 + 1),
                    act,
                    q,
                });
            }
        }
        add(Op::ConvNchwI8 {
            window: window(i as u32 + 2),
            act,
            x_scale: [0.5, f32::MIN_POSITIVE, 3.0e7][i],
            x_zero_point: [-128, 0, 127][i],
            act_min: -(1 << (8 * i)),
            act_max: i32::MAX >> (8 * i),
        });
    }
    for (i, post) in posts.into_iter().enumerate() {
        add(Op::Linear { post });
        add(Op::TreeEnsemble {
            aggregate: aggs[i],
            post,
        });
    }
    for norm in [Norm::L1, Norm::L2, Norm::Max] {
        add(Op::Normalize { norm });
    }
    for c in [false, true] {
        add(Op::AvgPool {
            window: window(3),
            count_include_pad: c,
        });
        add(Op::Softmax { axis: 200, log: c });
        add(Op::ArgMax {
            axis: 1,
            keepdims: c,
            select_last: !c,
        });
    }
    // The list limits: an empty permutation, 16 pads.
    add(Op::Transpose { perm: HVec::new() });
    add(Op::Pad {
        pads: HVec::from_slice(&[1; 16]).unwrap(),
        value: -0.0,
    });
}

/// Both decoders on `bytes`: the same outcome, the same value (compared by its
/// encoding, which NaN fields do not spoil) and the same bytes left. `Ok(true)`:
/// both decoded, `Ok(false)`: both refused, `Err`: they differ.
fn same<'a, T>(bytes: &'a [u8]) -> Result<bool, ()>
where
    T: Record<'a> + serde::Deserialize<'a> + serde::Serialize,
{
    let ours = T::decode(bytes);
    let theirs = postcard::take_from_bytes::<T>(bytes).ok();
    match (ours, theirs) {
        (None, None) => Ok(false),
        (Some((a, ra)), Some((b, rb)))
            if postcard::to_allocvec(&a).unwrap() == postcard::to_allocvec(&b).unwrap()
                && ra.len() == rb.len() =>
        {
            Ok(true)
        }
        _ => Err(()),
    }
}

fn defs() -> Vec<OpDef> {
    ops()
        .into_iter()
        .enumerate()
        .map(|(i, op)| OpDef {
            op,
            inputs: HVec::from_slice(&[0, 127, 128, u32::MAX, 5, 6, 7, 8][..i % 9]).unwrap(),
            outputs: HVec::from_slice(&[300, 1][..i % 3]).unwrap(),
        })
        .collect()
}

/// Records of every type, encoded by postcard.
fn records() -> Vec<(u8, Vec<u8>)> {
    let enc = |v: &dyn erased::Enc| v.enc();
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    for d in defs() {
        out.push((0, enc(&d)));
    }
    let long = "a-name-longer-than-127-bytes-so-its-length-takes-two-varint-bytes-\
                a-name-longer-than-127-bytes-so-its-length-takes-two-varint-bytes";
    let quants = [
        Quant::None,
        Quant::PerTensor {
            scale: 0.25,
            zero_point: -128,
        },
        Quant::PerChannel {
            axis: 3,
            scales: 1 << 20,
        },
    ];
    let dtypes = [
        DType::F32,
        DType::F16,
        DType::I8,
        DType::U8,
        DType::I32,
        DType::I64,
    ];
    for (i, dtype) in dtypes.into_iter().enumerate() {
        let t = TensorDef {
            name: if i % 2 == 0 { long } else { "é" },
            dtype,
            shape: HVec::from_slice(&[1, 200, 3, 70_000, 1, 2, 1, 1][..i + 2]).unwrap(),
            location: if i % 2 == 0 {
                Location::Arena {
                    offset: 16,
                    first: 0,
                    last: 300,
                }
            } else {
                Location::Weights { offset: u32::MAX }
            },
            quant: quants[i % 3],
        };
        out.push((1, enc(&t)));
    }
    let bytes: [&[u8]; 3] = [&[1, 2, 3], &[], &[0xFF; 200]];
    out.push((
        2,
        enc(&Golden {
            inputs: HVec::from_slice(&bytes).unwrap(),
            outputs: HVec::from_slice(&bytes[..1]).unwrap(),
        }),
    ));
    out.push((
        3,
        enc(&GoldenDigest {
            seed: u64::MAX,
            outputs: HVec::from_slice(&[0, 1 << 63, 300]).unwrap(),
        }),
    ));
    out.push((
        4,
        enc(&Metadata {
            name: "m",
            version: "1.0",
            description: long,
            producer: "",
            labels: "a\nb",
            properties: "k=v",
        }),
    ));
    out.push((
        5,
        enc(&GraphIo {
            inputs: HVec::from_slice(&[0, 300]).unwrap(),
            outputs: HVec::from_slice(&[u32::MAX]).unwrap(),
            arena_size: 1 << 20,
        }),
    ));
    out
}

mod erased {
    pub trait Enc {
        fn enc(&self) -> std::vec::Vec<u8>;
    }
    impl<T: serde::Serialize> Enc for T {
        fn enc(&self) -> std::vec::Vec<u8> {
            postcard::to_allocvec(self).unwrap()
        }
    }
}

fn same_as(kind: u8, bytes: &[u8]) -> Result<bool, ()> {
    match kind {
        0 => same::<OpDef>(bytes),
        1 => same::<TensorDef>(bytes),
        2 => same::<Golden>(bytes),
        3 => same::<GoldenDigest>(bytes),
        4 => same::<Metadata>(bytes),
        _ => same::<GraphIo>(bytes),
    }
}

#[test]
fn every_variant_decodes_as_postcard() {
    let ops = ops();
    let mut seen = [false; VARIANTS];
    for op in &ops {
        seen[index(op)] = true;
    }
    assert!(seen.iter().all(|&s| s), "a variant has no sample: {seen:?}");
    let unary = ops.iter().filter(|o| matches!(o, Op::Unary { .. })).count();
    assert_eq!(unary, 33, "every UnaryOp");
    for (kind, rec) in records() {
        assert_eq!(same_as(kind, &rec), Ok(true), "{kind}: {rec:?}");
    }
}

#[test]
fn varints_decode_as_postcard() {
    // u32 varints of 1 to 6 bytes, non-minimal ones, the fifth byte's limit.
    let cases: [&[u8]; 10] = [
        &[0x7F],
        &[0x80, 0x00],
        &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
        &[0xFF, 0xFF, 0xFF, 0xFF, 0x10],
        &[0x80, 0x80, 0x80, 0x80, 0x00],
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        &[0x80],
        &[],
        &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02],
    ];
    for c in cases {
        // A GraphIo whose arena size is the varint; a digest whose seed is.
        let io = [&[0, 0][..], c].concat();
        assert!(same::<GraphIo>(&io).is_ok(), "{c:?}");
        let digest = [c, &[0]].concat();
        assert!(same::<GoldenDigest>(&digest).is_ok(), "{c:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Valid records with a byte replaced, cut short or followed by bytes.
    #[test]
    fn mutated_records_decode_as_postcard(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..4),
    ) {
        let recs = records();
        let (kind, rec) = &recs[pick.index(recs.len())];
        let mut m = rec.clone();
        let i = at.index(m.len());
        m[i] = byte;
        prop_assert!(same_as(*kind, &m).is_ok());
        let n = cut.index(rec.len() + 1);
        prop_assert!(same_as(*kind, &rec[..n]).is_ok());
        let mut t = rec.clone();
        t.extend_from_slice(&tail);
        prop_assert!(same_as(*kind, &t).is_ok());
    }

    /// Random bytes, mostly refused by both.
    #[test]
    fn random_bytes_decode_as_postcard(
        kind in 0u8..6,
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assert!(same_as(kind, &bytes).is_ok());
    }
}

/// [`Reader::skip_op`] (the path of an op whose group a build lacks) on `bytes`, an
/// `OpDef` record: it accepts the op's attributes exactly when [`Reader::op`] does,
/// leaves the same bytes, and [`stand_in`] is an op of the same group. The test build
/// has every group, so `op` decodes every variant here.
fn skip_agrees(bytes: &[u8]) -> bool {
    // The core ops (and Unary, core or ops-math by its function) are always decoded.
    const DECODED: [u8; 9] = [0, 8, 9, 10, 11, 15, 16, 17, 18];
    if Reader(bytes)
        .tag(34)
        .is_some_and(|t| DECODED.contains(&(t as u8)))
    {
        return true;
    }
    let full = read(bytes, Reader::op);
    let skip = read(bytes, |r| {
        let t = r.tag(34)?;
        r.skip_op(t)?;
        Some(t)
    });
    match (full, skip) {
        (None, None) => true,
        (Some((op, a)), Some((t, b))) => {
            a.len() == b.len() && op.group() != OpGroup::Core && stand_in(t).group() == op.group()
        }
        _ => false,
    }
}

#[test]
fn a_skipped_op_reads_the_bytes_its_decoding_reads() {
    for (kind, rec) in records() {
        if kind == 0 {
            assert!(skip_agrees(&rec), "{rec:?}");
            for n in 0..rec.len() {
                assert!(skip_agrees(&rec[..n]), "{:?}", &rec[..n]);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// [`skip_agrees`] on op records with a byte replaced, and on random bytes after
    /// each variant's tag.
    #[test]
    fn a_skipped_op_reads_the_bytes_its_decoding_reads_on_mutations(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        tag in 0u8..35,
        bytes in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        let recs: Vec<Vec<u8>> = records()
            .into_iter()
            .filter(|(k, _)| *k == 0)
            .map(|(_, r)| r)
            .collect();
        let mut m = recs[pick.index(recs.len())].clone();
        let i = at.index(m.len());
        m[i] = byte;
        prop_assert!(skip_agrees(&m), "{:?}", m);
        let mut r = std::vec![tag];
        r.extend_from_slice(&bytes);
        prop_assert!(skip_agrees(&r), "{:?}", r);
    }
}
