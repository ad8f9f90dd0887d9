//! Reference vs optimized kernels: `cargo bench -p ferrite --bench kernels`.
//!
//! Plain `main` (no harness): for each kernel and shape, every implementation
//! available on this CPU (`ferrite::kernels::fast::implementation`) runs on the same
//! inputs; the output must equal the reference's (int8: identical bytes; f32 conv:
//! identical bits; f32 FC: printed max difference), then the median of 9 timed
//! batches is printed in ns per call with the speedup over the reference. The
//! implementations are timed interleaved, so load from other processes hits all alike.
//! `FERRITE_BENCH_MS` sets the time per measurement (default 300 ms);
//! `FERRITE_BENCH_FILTER` runs only the benchmarks whose label contains it.

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use ferrite::format::types::Window;
use ferrite::kernels::fast::{self, Implementation};
use ferrite::kernels::{ConvParams, F32Out, FullyConnectedParams, QuantOut};

fn pattern(len: usize, seed: u32) -> Vec<i8> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8 as i8
        })
        .collect()
}

fn budget() -> Duration {
    let ms = std::env::var("FERRITE_BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    Duration::from_millis(ms)
}

/// Median ns per call of each closure: 9 rounds, each timing one batch of every
/// closure in turn (interleaved, so load from other processes hits all alike); batch
/// sizes fill about `FERRITE_BENCH_MS / 10` per closure and round.
fn time_all(fs: &mut [Box<dyn FnMut() + '_>]) -> Vec<f64> {
    let batches: Vec<u64> = fs
        .iter_mut()
        .map(|f| {
            let start = Instant::now();
            let mut calls = 0u64;
            while start.elapsed() < budget() / 20 || calls == 0 {
                f();
                calls += 1;
            }
            (calls * 2).max(1)
        })
        .collect();
    let mut samples = vec![Vec::new(); fs.len()];
    for _ in 0..9 {
        for ((f, &n), s) in fs.iter_mut().zip(&batches).zip(&mut samples) {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            s.push(t.elapsed().as_nanos() as f64 / n as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

/// False when `FERRITE_BENCH_FILTER` is set and `label` does not contain it.
fn wanted(label: &str) -> bool {
    std::env::var("FERRITE_BENCH_FILTER").map_or(true, |f| label.contains(&f))
}

fn implementations() -> Vec<Implementation> {
    fast::NAMES
        .iter()
        .filter_map(|n| fast::implementation(n))
        .collect()
}

fn report(label: &str, names: &[&str], ns: &[f64]) {
    let reference = ns[0];
    for (name, ns) in names.iter().zip(ns) {
        println!(
            "{label:<34} {name:<10} {ns:>14.0} ns/iter   x{:.2}",
            reference / ns
        );
    }
}

type Bench<'a> = Box<dyn FnMut() + 'a>;

fn bench_int8_fc(batch: usize, k: usize, n: usize) {
    let label = format!("int8 fc {batch}x{k}x{n}");
    if !wanted(&label) {
        return;
    }
    let x = pattern(batch * k, 1);
    let w = pattern(n * k, 2);
    let bias: Vec<i32> = (0..n as i32).map(|j| j * 100 - 3000).collect();
    let rq: Vec<i32> = (0..n)
        .flat_map(|j| [(1 << 30) + j as i32 * 1000, -9])
        .collect();
    let (x, w) = (&x[..], &w[..]);
    let p = &FullyConnectedParams { batch, k, n };
    let out = &QuantOut {
        bias: Some(&bias),
        requant: &rq,
        zero_point: 5,
        act_min: -128,
        act_max: 127,
    };
    let mut want = vec![0i8; batch * n];
    ferrite::kernels::int8::fully_connected(p, x, -3, w, out, &mut want);
    let imps = implementations();
    let mut outs: Vec<Vec<i8>> = imps.iter().map(|_| vec![0i8; batch * n]).collect();
    let mut fs: Vec<Bench> = Vec::new();
    for (&imp, y) in imps.iter().zip(&mut outs) {
        (imp.int8_fully_connected)(p, x, -3, w, out, y);
        assert_eq!(*y, want, "{}: output differs from the reference", imp.name);
        fs.push(Box::new(move || {
            (imp.int8_fully_connected)(p, black_box(x), -3, black_box(w), out, y);
            black_box(&y);
        }));
    }
    let names: Vec<_> = imps.iter().map(|i| i.name).collect();
    report(&label, &names, &time_all(&mut fs));
}

fn conv_shape(c: usize, h: usize, w: usize, m: usize, k: usize, stride: u32) -> Geometry {
    let pad = (k / 2) as u32;
    let win = Window {
        kernel: [k as u32; 2],
        stride: [stride; 2],
        dilation: [1, 1],
        pads: [pad; 4],
    };
    let out = |len: usize| (len + 2 * pad as usize - k) / stride as usize + 1;
    ([1, c, h, w], [m, c, k, k], [1, m, out(h), out(w)], win)
}

/// A 1D convolution as ONNX imports it (`[1, C, 1, W]`, kernel `1 x k`, stride 1,
/// "same" padding): the sensor CNN's layers.
fn conv1d_shape(c: usize, w: usize, m: usize, k: usize) -> Geometry {
    let pad = (k / 2) as u32;
    let win = Window {
        kernel: [1, k as u32],
        stride: [1, 1],
        dilation: [1, 1],
        pads: [0, pad, 0, pad],
    };
    let ow = w + 2 * pad as usize - k + 1;
    ([1, c, 1, w], [m, c, 1, k], [1, m, 1, ow], win)
}

type Geometry = ([usize; 4], [usize; 4], [usize; 4], Window);

/// One group of a geometry.
fn conv_params(xs: [usize; 4], ws: [usize; 4], ys: [usize; 4], window: Window) -> ConvParams {
    ConvParams {
        x: xs,
        w: ws,
        y: ys,
        window,
        groups: 1,
    }
}

fn bench_int8_conv(c: usize, h: usize, w: usize, m: usize, k: usize, stride: u32) {
    let label = format!("int8 conv {c}x{h}x{w}->{m} {k}x{k}/s{stride}");
    bench_int8_conv_geometry(&label, conv_shape(c, h, w, m, k, stride));
}

fn bench_int8_conv_geometry(label: &str, (xs, ws, ys, win): Geometry) {
    if !wanted(label) {
        return;
    }
    let m = ws[0];
    let x = pattern(xs.iter().product(), 3);
    let wt = pattern(ws.iter().product(), 4);
    let bias: Vec<i32> = (0..m as i32).map(|j| j * 50 - 800).collect();
    let rq: Vec<i32> = (0..m)
        .flat_map(|j| [(1 << 30) + j as i32 * 1000, -10])
        .collect();
    let (x, wt) = (&x[..], &wt[..]);
    let p = &conv_params(xs, ws, ys, win);
    let out = &QuantOut {
        bias: Some(&bias),
        requant: &rq,
        zero_point: -4,
        act_min: -128,
        act_max: 127,
    };
    let len = ys.iter().product();
    let mut want = vec![0i8; len];
    ferrite::kernels::int8::conv2d(p, x, 7, wt, out, &mut want);
    let imps = implementations();
    let mut outs: Vec<Vec<i8>> = imps.iter().map(|_| vec![0i8; len]).collect();
    let mut fs: Vec<Bench> = Vec::new();
    for (&imp, y) in imps.iter().zip(&mut outs) {
        (imp.int8_conv2d)(p, x, 7, wt, out, y);
        assert_eq!(*y, want, "{}: output differs from the reference", imp.name);
        fs.push(Box::new(move || {
            (imp.int8_conv2d)(p, black_box(x), 7, black_box(wt), out, y);
            black_box(&y);
        }));
    }
    let names: Vec<_> = imps.iter().map(|i| i.name).collect();
    report(label, &names, &time_all(&mut fs));
}

fn to_f32(v: &[i8]) -> Vec<f32> {
    v.iter().map(|&b| f32::from(b) / 64.0).collect()
}

fn bench_f32_fc(batch: usize, k: usize, n: usize) {
    let label = format!("f32 fc {batch}x{k}x{n}");
    if !wanted(&label) {
        return;
    }
    let x = to_f32(&pattern(batch * k, 5));
    let w = to_f32(&pattern(n * k, 6));
    let bias = to_f32(&pattern(n, 7));
    let (x, w) = (&x[..], &w[..]);
    let p = &FullyConnectedParams { batch, k, n };
    let out = &F32Out {
        bias: Some(&bias),
        act_min: f32::NEG_INFINITY,
        act_max: f32::INFINITY,
    };
    let mut want = vec![0f32; batch * n];
    ferrite::kernels::f32::fully_connected(p, x, w, out, &mut want);
    let imps = implementations();
    let mut outs: Vec<Vec<f32>> = imps.iter().map(|_| vec![0f32; batch * n]).collect();
    let mut fs: Vec<Bench> = Vec::new();
    for (&imp, y) in imps.iter().zip(&mut outs) {
        (imp.f32_fully_connected)(p, x, w, out, y);
        let diff = y
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        if diff > 0.0 {
            println!("  ({}: max |opt - ref| = {diff:e})", imp.name);
        }
        fs.push(Box::new(move || {
            (imp.f32_fully_connected)(p, black_box(x), black_box(w), out, y);
            black_box(&y);
        }));
    }
    let names: Vec<_> = imps.iter().map(|i| i.name).collect();
    report(&label, &names, &time_all(&mut fs));
}

fn bench_f32_conv(c: usize, h: usize, w: usize, m: usize, k: usize) {
    let label = format!("f32 conv {c}x{h}x{w}->{m} {k}x{k}");
    bench_f32_conv_geometry(&label, conv_shape(c, h, w, m, k, 1));
}

fn bench_f32_conv_geometry(label: &str, (xs, ws, ys, win): Geometry) {
    if !wanted(label) {
        return;
    }
    let m = ws[0];
    let x = to_f32(&pattern(xs.iter().product(), 8));
    let wt = to_f32(&pattern(ws.iter().product(), 9));
    let bias = to_f32(&pattern(m, 10));
    let (x, wt) = (&x[..], &wt[..]);
    let p = &conv_params(xs, ws, ys, win);
    let out = &F32Out {
        bias: Some(&bias),
        act_min: 0.0,
        act_max: 6.0,
    };
    let len = ys.iter().product();
    let mut want = vec![0f32; len];
    ferrite::kernels::f32::conv2d(p, x, wt, out, &mut want);
    let imps = implementations();
    let mut outs: Vec<Vec<f32>> = imps.iter().map(|_| vec![0f32; len]).collect();
    let mut fs: Vec<Bench> = Vec::new();
    for (&imp, y) in imps.iter().zip(&mut outs) {
        (imp.f32_conv2d)(p, x, wt, out, y);
        assert!(
            y.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{}: bits differ",
            imp.name
        );
        fs.push(Box::new(move || {
            (imp.f32_conv2d)(p, black_box(x), black_box(wt), out, y);
            black_box(&y);
        }));
    }
    let names: Vec<_> = imps.iter().map(|i| i.name).collect();
    report(label, &names, &time_all(&mut fs));
}

fn main() {
    println!("best implementation here: {}", fast::best().name);
    bench_int8_fc(1, 784, 128);
    bench_int8_fc(1, 64, 64);
    bench_int8_fc(8, 256, 64);
    bench_int8_conv(16, 32, 32, 32, 3, 1);
    bench_int8_conv(16, 32, 32, 32, 3, 2);
    bench_int8_conv(1, 28, 28, 8, 5, 1);
    bench_f32_fc(1, 784, 128);
    bench_f32_conv(16, 32, 32, 32, 3);
    // The sensor CNN's two layers (examples/sensor): small C_in, kernel 1 x 5.
    for (c, w, m) in [(3, 64, 8), (8, 32, 16)] {
        let g = conv1d_shape(c, w, m, 5);
        bench_int8_conv_geometry(&format!("int8 conv1d {c}x{w}->{m} k5"), g);
        bench_f32_conv_geometry(&format!("f32 conv1d {c}x{w}->{m} k5"), g);
    }
}
