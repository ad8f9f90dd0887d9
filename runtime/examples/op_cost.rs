//! The executor's cost per op: `Session::run` of chains of `n` tiny ops (a 4-value
//! Reshape or Relu, f32, and an int8 Reshape), alternately in one process, and of any
//! `.fer` files given. The per-op cost is the slope between the short and the long
//! chain; a model's time is the minimum over rounds of the mean of a batch of runs.
//!
//! ```sh
//! taskset -c 1 cargo run --release -p ferrite --example op_cost -- [A.fer ...] [--rounds N]
//! ```
//!
//! With `--predict` the files are timed through `Session::predict` (input 0 from f32
//! zeros, output 0 read back as f32) instead of `run`.
//!
//! With `--spin MODEL SECONDS` it only runs `MODEL` (a file, or `reshape65` for the
//! 65-op Reshape chain) in a loop, for `perf record`.

use ferrite::format::types::{Op, UnaryOp};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, DType, Model, OwnedSession, Quant};
use std::time::Instant;

/// A chain of `n` ops on 4 values: Reshape between `[1, 4]` and `[4]`, or Relu.
fn chain(n: usize, relu: bool, dtype: DType) -> Vec<u8> {
    let mut b = ModelBuilder::new("chain");
    let q = match dtype {
        DType::I8 => Quant::PerTensor {
            scale: 0.5,
            zero_point: 0,
        },
        _ => Quant::None,
    };
    let mut x = b.add_tensor("x", dtype, &[1, 4], q).unwrap();
    let first = x;
    for i in 0..n {
        let shape: &[u32] = if relu || i % 2 == 1 { &[1, 4] } else { &[4] };
        let y = b.add_tensor(&format!("t{i}"), dtype, shape, q).unwrap();
        let op = if relu {
            Op::Unary { op: UnaryOp::Relu }
        } else {
            Op::Reshape
        };
        b.add_op(op, &[x], &[y]).unwrap();
        x = y;
    }
    b.set_io(&[first], &[x]).unwrap();
    b.finish().unwrap()
}

fn main() {
    let mut files = Vec::new();
    let mut rounds = 400usize;
    let mut spin: Option<(String, f64)> = None;
    let mut predict = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--predict" => predict = true,
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).expect("N"),
            "--spin" => {
                let f = args.next().expect("MODEL");
                let s = args.next().and_then(|n| n.parse().ok()).expect("SECONDS");
                spin = Some((f, s));
            }
            _ => files.push(a),
        }
    }
    if let Some((f, secs)) = spin {
        let bytes = match f.as_str() {
            "reshape65" => AlignedModel::new(&chain(65, false, DType::F32)),
            _ => AlignedModel::new(&std::fs::read(&f).expect("read")),
        };
        let m = bytes.model().expect("load");
        let mut o = OwnedSession::new(&m);
        let mut s = o.session();
        let t0 = Instant::now();
        let mut n = 0u64;
        while t0.elapsed().as_secs_f64() < secs {
            for _ in 0..1000 {
                s.run().expect("run");
            }
            n += 1000;
        }
        println!(
            "{n} runs, {:.3} µs each",
            t0.elapsed().as_secs_f64() * 1e6 / n as f64
        );
        return;
    }
    let mut names: Vec<String> = Vec::new();
    let mut bytes: Vec<AlignedModel> = Vec::new();
    for (name, relu, dtype) in [
        ("reshape f32", false, DType::F32),
        ("relu f32", true, DType::F32),
        ("reshape i8", false, DType::I8),
    ] {
        for n in [1usize, 65] {
            names.push(format!("{name} x{n}"));
            bytes.push(AlignedModel::new(&chain(n, relu, dtype)));
        }
    }
    for f in &files {
        names.push(f.clone());
        bytes.push(AlignedModel::new(&std::fs::read(f).expect("read")));
    }
    let models: Vec<Model> = bytes.iter().map(|b| b.model().expect("load")).collect();
    let mut owned: Vec<OwnedSession> = models.iter().map(OwnedSession::new).collect();
    for (m, o) in models.iter().zip(&mut owned) {
        let mut s = o.session();
        for g in 0..m.num_golden() {
            s.check_golden(g).expect("golden vector");
        }
    }
    let feats: Vec<Vec<f32>> = models
        .iter()
        .map(|m| vec![0.0; m.input_len(0).unwrap_or(0)])
        .collect();
    let mut scores: Vec<Vec<f32>> = models
        .iter()
        .map(|m| vec![0.0; m.output_len(0).unwrap_or(0)])
        .collect();
    let batch = 50;
    let mut best = vec![f64::MAX; models.len()];
    let mut all: Vec<Vec<f64>> = vec![Vec::new(); models.len()];
    for r in 0..rounds {
        for k in 0..models.len() {
            let k = if r % 2 == 0 { k } else { models.len() - 1 - k };
            let mut s = owned[k].session();
            let file = k >= 6;
            let t0 = Instant::now();
            if predict && file {
                let (x, y) = (&feats[k], &mut scores[k]);
                for _ in 0..batch {
                    s.predict(x, y).expect("predict");
                }
            } else {
                for _ in 0..batch {
                    s.run().expect("run");
                }
            }
            let us = t0.elapsed().as_secs_f64() * 1e6 / batch as f64;
            if r >= rounds / 10 {
                best[k] = best[k].min(us);
                all[k].push(us);
            }
        }
    }
    for k in 0..models.len() {
        all[k].sort_by(f64::total_cmp);
        let med = all[k][all[k].len() / 2];
        println!(
            "{:<40} {:>3} ops  min {:>8.3}  median {:>8.3} µs",
            names[k],
            models[k].num_ops(),
            best[k],
            med
        );
    }
    for (c, name) in ["reshape f32", "relu f32", "reshape i8"].iter().enumerate() {
        let slope = (best[2 * c + 1] - best[2 * c]) / 64.0;
        println!("per op, {name}: {:.1} ns", slope * 1e3);
    }
}
