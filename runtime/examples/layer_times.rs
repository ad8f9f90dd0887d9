//! Per-op and whole-model times of one or more `.fer` models, measured alternately in
//! one process (so that a change of load on the machine hits them all alike).
//!
//! ```sh
//! taskset -c 1 cargo run --release -p ferrite --example layer_times -- A.fer B.fer [--runs N]
//! ```
//!
//! Each of the `N` rounds (default 600) runs every model once with
//! `Session::run_observed` (a clock read after every op) and once with `Session::run`
//! (the whole model, one clock read before and after). The model's golden vectors are
//! checked first (the outputs must be the file's bytes); the input is the first one,
//! set once. Printed per model: each op's minimum over the rounds (its
//! kind and output shape), the sum of those minima, the whole model's minimum and
//! median, and the observed runs' minimum and median (the sum of the ops in one run).

use core::time::Duration;
use ferrite::{AlignedModel, Model, OwnedSession};
use std::time::Instant;

fn main() {
    let mut files = Vec::new();
    let mut runs = 600usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N");
        } else {
            files.push(a);
        }
    }
    assert!(
        !files.is_empty(),
        "usage: layer_times A.fer [B.fer ...] [--runs N]"
    );
    let bytes: Vec<AlignedModel> = files
        .iter()
        .map(|f| AlignedModel::new(&std::fs::read(f).expect("read the model")))
        .collect();
    let models: Vec<Model> = bytes.iter().map(|b| b.model().expect("load")).collect();
    let mut owned: Vec<OwnedSession> = models.iter().map(OwnedSession::new).collect();
    for ((m, o), f) in models.iter().zip(&mut owned).zip(&files) {
        let mut s = o.session();
        // The stored golden vectors first: the kernels must give the file's bytes.
        for g in 0..m.num_golden() {
            s.check_golden(g).expect("golden vector");
        }
        println!("{f}: {} golden vectors match", m.num_golden());
        for i in 0..m.num_inputs() {
            let mut b = vec![0u8; m.input(i).expect("input").byte_len().unwrap_or(0)];
            if m.num_golden() > 0 {
                m.golden_input(0, i, &mut b).expect("golden input");
            }
            s.set_input_bytes(i, &b).expect("set input");
        }
    }
    let n = models.len();
    let mut op_min: Vec<Vec<Duration>> = models
        .iter()
        .map(|m| vec![Duration::MAX; m.num_ops() as usize])
        .collect();
    let mut whole: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); n];
    let mut observed: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); n];
    // One session per model for every round, as an application keeps one (a session
    // decodes its ops once, from its second run on: `Session::run`).
    let mut sessions: Vec<_> = owned.iter_mut().map(|o| o.session()).collect();
    for round in 0..runs + runs / 10 {
        let warm = round < runs / 10;
        for k in 0..n {
            // Reversed order every other round.
            let k = if round % 2 == 0 { k } else { n - 1 - k };
            let s = &mut sessions[k];
            let t0 = Instant::now();
            s.run().expect("run");
            let dt = t0.elapsed();
            let mut last = Instant::now();
            let start = last;
            let mins = &mut op_min[k];
            s.run_observed(|op, _, _| {
                let now = Instant::now();
                let d = now - last;
                if !warm && d < mins[op as usize] {
                    mins[op as usize] = d;
                }
                last = Instant::now();
            })
            .expect("run_observed");
            let ot = start.elapsed();
            if !warm {
                whole[k].push(dt);
                observed[k].push(ot);
            }
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        (us(v[0]), us(v[v.len() / 2]), us(v[v.len() * 9 / 10]))
    };
    for k in 0..n {
        let m = &models[k];
        println!("== {} ({} ops)", files[k], m.num_ops());
        let mut sum = 0.0;
        for (i, d) in op_min[k].iter().enumerate() {
            let def = m.op(i as u32).expect("op");
            let kind = format!("{:?}", def.op);
            let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
            let shape = def
                .outputs
                .first()
                .and_then(|&t| m.tensor(t).ok())
                .map(|t| format!("{:?}", &t.shape[..]))
                .unwrap_or_default();
            println!("{i:>3} {kind:<16} {shape:<20} {:>9.2}", us(*d));
            sum += us(*d);
        }
        let (wmin, wmed, wp90) = stats(&mut whole[k]);
        let (omin, omed, op90) = stats(&mut observed[k]);
        println!("sum of op minima {sum:.2} µs");
        println!("run():          min {wmin:.2}  median {wmed:.2}  p90 {wp90:.2} µs");
        println!("run_observed(): min {omin:.2}  median {omed:.2}  p90 {op90:.2} µs");
    }
}
