//! With the `session-plan` feature (a default one) a session that runs more than once
//! keeps its first ops decoded (off microcontrollers, from the start of its second run:
//! `Session::run`). These tests pin
//! that a session gives the same bytes on its first run (every op decoded as it runs)
//! and on every later one (ops from the kept plan, the rest decoded): against the
//! golden vectors stored in every seed model of the fuzz corpus, and against values
//! computed here for a chain longer than the plan and a Concat with more inputs than
//! the plan keeps.

use ferrite::format::types::{Activation, DType, Op};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OwnedSession, Quant};

/// Output bytes of every output after `check_golden(g)`, and whether it matched.
fn golden_run(s: &mut ferrite::Session<'_, '_>, g: u32, outputs: usize) -> (bool, Vec<Vec<u8>>) {
    let ok = s.check_golden(g).is_ok();
    let out = (0..outputs)
        .map(|i| s.output_bytes(i).unwrap().to_vec())
        .collect();
    (ok, out)
}

/// Every seed model of the fuzz corpus on its golden vectors' inputs, three passes on
/// one session (its first run decodes every op, the second builds the plan, the later
/// ones run from it), against a fresh session's single run (every op decoded as it
/// runs) and the stored golden bytes: the same bytes and the same verdict on every
/// run. (Not every seed's stored vectors match this build's kernels, f16 ones for
/// one; most do, and at least 50 must.)
#[test]
fn seed_models_give_the_same_bytes_on_every_run() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/fer");
    let (mut checked, mut golden_ok) = (0, 0);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fuzz/seeds/fer")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let bytes = AlignedModel::new(&std::fs::read(&f).expect("read"));
        let m = match bytes.model() {
            Ok(m) => m,
            // A build without some op groups (tests/op_groups.rs runs the suite so).
            Err(Error::UnsupportedOp { .. } | Error::Unsupported) => continue,
            Err(e) => panic!("{}: {e:?}", f.display()),
        };
        let n_out = m.num_outputs();
        let want: Vec<_> = (0..m.num_golden())
            .map(|g| golden_run(&mut OwnedSession::new(&m).session(), g, n_out))
            .collect();
        let mut o = OwnedSession::new(&m);
        let mut s = o.session();
        for pass in 0..3 {
            for (g, w) in want.iter().enumerate() {
                let got = golden_run(&mut s, g as u32, n_out);
                assert_eq!(got, *w, "{} pass {pass} vector {g}", f.display());
            }
        }
        checked += 1;
        golden_ok += usize::from(!want.is_empty() && want.iter().all(|w| w.0));
    }
    println!("{checked} seed models, {golden_ok} match all their golden vectors");
    if cfg!(feature = "all-ops") {
        assert!(golden_ok >= 50, "{golden_ok} of {checked}");
    }
}

/// `n` FullyConnected ops on 2 values, op `k` with weights `[[0, 1], [1, 0]]` (a swap)
/// and bias `[k, -2k]`: its first ops planned, the rest not.
fn fc_chain(n: usize) -> Vec<u8> {
    let mut b = ModelBuilder::new("fc_chain");
    let x = b.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let mut cur = x;
    for k in 0..n {
        let w = b
            .add_const_f32(&format!("w{k}"), &[2, 2], &[0.0, 1.0, 1.0, 0.0])
            .unwrap();
        let kf = k as f32;
        let bias = b
            .add_const_f32(&format!("b{k}"), &[2], &[kf, -2.0 * kf])
            .unwrap();
        let y = b
            .add_tensor(&format!("y{k}"), DType::F32, &[1, 2], Quant::None)
            .unwrap();
        let op = Op::FullyConnected {
            act: Activation::None,
            q: None,
        };
        b.add_op(op, &[cur, w, bias], &[y]).unwrap();
        cur = y;
    }
    b.set_io(&[x], &[cur]).unwrap();
    b.finish().unwrap()
}

/// The chain's output, computed step by step.
fn fc_chain_want(n: usize, x: [f32; 2]) -> [f32; 2] {
    (0..n).fold(x, |[a, b], k| [b + k as f32, a - 2.0 * k as f32])
}

/// Runs `bytes` `runs` times on one session (input `x` set before each run) and
/// returns output 0 after each run.
fn runs(bytes: &[u8], x: &[f32], runs: usize) -> Vec<Vec<f32>> {
    let a = AlignedModel::new(bytes);
    let m = a.model().expect("load");
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    let mut y = vec![0.0; m.output_len(0).unwrap()];
    (0..runs)
        .map(|_| {
            s.set_input_f32(0, x).unwrap();
            s.run().unwrap();
            s.output_f32(0, &mut y).unwrap();
            y.clone()
        })
        .collect()
}

#[test]
fn chains_shorter_and_longer_than_the_plan() {
    for n in [1, 7, 8, 9, 20] {
        let bytes = fc_chain(n);
        for x in [[1.5, -4.0], [0.0, 3.25]] {
            let want = fc_chain_want(n, x).to_vec();
            for (r, y) in runs(&bytes, &x, 4).iter().enumerate() {
                assert_eq!(*y, want, "{n} ops, run {r}, x {x:?}");
            }
        }
    }
}

/// `run_observed` after the plan is built sees every op's output.
#[test]
fn run_observed_from_the_plan() {
    let bytes = fc_chain(10);
    let a = AlignedModel::new(&bytes);
    let m = a.model().expect("load");
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    let x = [2.0f32, 5.0];
    for _ in 0..3 {
        s.set_input_f32(0, &x).unwrap();
        s.run().unwrap();
        // (The arena reuses the input's bytes: set it again.)
        s.set_input_f32(0, &x).unwrap();
        let mut seen = Vec::new();
        s.run_observed(|op, _, b| {
            let v: Vec<f32> = b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            seen.push((op, v));
        })
        .unwrap();
        let want: Vec<(u32, Vec<f32>)> = (1..=10)
            .map(|n| (n as u32 - 1, fc_chain_want(n, x).to_vec()))
            .collect();
        assert_eq!(seen, want);
    }
}

/// A Concat of 5 inputs (the plan keeps 3 decoded; the op reads the others from their
/// records), then 7 more ops, run 4 times.
#[cfg(feature = "ops-shape")]
#[test]
fn concat_with_more_inputs_than_the_plan_keeps() {
    let mut b = ModelBuilder::new("concat5");
    let x = b.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let mut ins = vec![x];
    for k in 1..5u32 {
        let v = [10.0 * k as f32, 10.0 * k as f32 + 1.0];
        ins.push(b.add_const_f32(&format!("c{k}"), &[1, 2], &v).unwrap());
    }
    let y = b
        .add_tensor("y", DType::F32, &[1, 10], Quant::None)
        .unwrap();
    b.add_op(Op::Concat { axis: 1 }, &ins, &[y]).unwrap();
    let mut cur = y;
    for k in 0..7 {
        let shape: &[u32] = if k % 2 == 0 { &[10] } else { &[1, 10] };
        let t = b
            .add_tensor(&format!("r{k}"), DType::F32, shape, Quant::None)
            .unwrap();
        b.add_op(Op::Reshape, &[cur], &[t]).unwrap();
        cur = t;
    }
    b.set_io(&[x], &[cur]).unwrap();
    let bytes = b.finish().unwrap();
    let x = [-1.0f32, 0.5];
    let want = vec![-1.0, 0.5, 10.0, 11.0, 20.0, 21.0, 30.0, 31.0, 40.0, 41.0];
    for (r, y) in runs(&bytes, &x, 4).iter().enumerate() {
        assert_eq!(*y, want, "run {r}");
    }
}

/// The plan lives in the `Session` value (off microcontrollers): its size, for the docs.
#[test]
fn session_size() {
    let n = core::mem::size_of::<ferrite::Session<'_, '_>>();
    println!("size_of::<Session>() = {n}");
    assert!(n < 4096, "{n}");
    // The C binding's session keeps no plan: a model reference and the arena slice.
    let unplanned = core::mem::size_of::<ferrite::Session<'_, '_, ferrite::NoPlan>>();
    assert_eq!(unplanned, 3 * core::mem::size_of::<usize>());
}
