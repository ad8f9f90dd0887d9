//! The NHWC engine's kernels on the layers of the benchmark models:
//! `cargo bench -p ferrite --bench engine`.
//!
//! Plain `main` (no harness). For each layer — KWS DS-CNN (49×10 MFCC), ResNet-8
//! (CIFAR 32×32), MobileNetV2 0.35 (96×96) — and each ISA implementation this CPU
//! has (`ferrite::kernels::engine::Isa`), the f32, f16-weight and int8 kernels run on
//! the same data (the f16 kernels on the f32 weights rounded to f16); the int8 output
//! is checked against the reference kernel (identical bytes) before timing. Printed:
//! µs per call (fastest of many ~1 ms rounds), GMAC/s and the int8/f32 time ratio, next
//! to the current optimized NCHW kernels (`ferrite::kernels::fast`, the executor's
//! kernels today). `FERRITE_BENCH_MS` sets the time per measurement (default 200 ms);
//! `FERRITE_BENCH_FILTER` runs only the layers whose label contains it,
//! `FERRITE_BENCH_ISAS` (comma-separated ISA names) only those ISAs. Last, the
//! models' average pools (`kernels::engine::*_avg_pool_nhwc`, best ISA), f32 and int8.

use core::hint::black_box;
use core::time::Duration;
use std::time::Instant;

use ferrite::format::types::Window;
use ferrite::kernels::engine::{self, ConvShape, F32Out, I8Header, I8Out, Isa, Kernels};
use ferrite::kernels::{fast, int8 as ki, ConvParams, F32Out as FOut, PoolParams, QuantOut};

fn budget() -> Duration {
    let ms = std::env::var("FERRITE_BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    Duration::from_millis(ms)
}

/// Seconds per call of `f`: the fastest of many short rounds (about 1 ms each,
/// within `FERRITE_BENCH_MS`). The minimum, not the median: on a shared machine other
/// processes only ever add time, and short rounds are the likeliest to run undisturbed.
fn time(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(1) || calls == 0 {
        f();
        calls += 1;
    }
    let batch = calls.max(1);
    let mut best = f64::INFINITY;
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < 10 || (start.elapsed() < budget() && rounds < 400) {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / batch as f64);
        rounds += 1;
    }
    best
}

fn pattern(len: usize, seed: u32) -> Vec<i8> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8 as i8
        })
        .collect()
}

/// A layer: NHWC input `(h, w, c)`, `n` outputs, kernel, stride, "same" padding as
/// TensorFlow/PyTorch export it (`[top, left, bottom, right]` from the output size).
#[derive(Clone, Copy)]
struct Layer {
    label: &'static str,
    shape: ConvShape,
    depthwise: bool,
}

fn layer(
    label: &'static str,
    (h, w, c): (usize, usize, usize),
    n: usize,
    kernel: [usize; 2],
    stride: usize,
    depthwise: bool,
) -> Layer {
    let out = |len: usize| len.div_ceil(stride);
    let pad = |len: usize, k: usize| ((out(len) - 1) * stride + k).saturating_sub(len) / 2;
    Layer {
        label,
        shape: ConvShape {
            in_h: h,
            in_w: w,
            in_c: c,
            out_h: out(h),
            out_w: out(w),
            out_c: n,
            kernel,
            stride: [stride; 2],
            dilation: [1, 1],
            pad: [pad(h, kernel[0]), pad(w, kernel[1])],
        },
        depthwise,
    }
}

fn layers() -> Vec<Layer> {
    vec![
        layer(
            "kws conv1 10x4/s2 1->64 49x10",
            (49, 10, 1),
            64,
            [10, 4],
            2,
            false,
        ),
        layer("kws dw3x3 64 25x5", (25, 5, 64), 64, [3, 3], 1, true),
        layer("kws pw 64->64 25x5", (25, 5, 64), 64, [1, 1], 1, false),
        layer(
            "sensor conv 1x5 8->16 1x32",
            (1, 32, 8),
            16,
            [1, 5],
            1,
            false,
        ),
        layer(
            "resnet8 conv 3x3 3->16 32x32",
            (32, 32, 3),
            16,
            [3, 3],
            1,
            false,
        ),
        layer(
            "resnet8 conv 3x3 16->16 32x32",
            (32, 32, 16),
            16,
            [3, 3],
            1,
            false,
        ),
        layer(
            "resnet8 conv 3x3/s2 16->32 32x32",
            (32, 32, 16),
            32,
            [3, 3],
            2,
            false,
        ),
        layer(
            "resnet8 conv 3x3 32->32 16x16",
            (16, 16, 32),
            32,
            [3, 3],
            1,
            false,
        ),
        layer(
            "resnet8 conv 1x1/s2 16->32 32x32",
            (32, 32, 16),
            32,
            [1, 1],
            2,
            false,
        ),
        layer(
            "resnet8 conv 3x3/s2 32->64 16x16",
            (16, 16, 32),
            64,
            [3, 3],
            2,
            false,
        ),
        layer(
            "resnet8 conv 3x3 64->64 8x8",
            (8, 8, 64),
            64,
            [3, 3],
            1,
            false,
        ),
        layer(
            "mnv2 conv 3x3/s2 3->16 96x96",
            (96, 96, 3),
            16,
            [3, 3],
            2,
            false,
        ),
        layer(
            "vww conv 3x3/s2 3->8 96x96",
            (96, 96, 3),
            8,
            [3, 3],
            2,
            false,
        ),
        layer("vww dw3x3 8 48x48", (48, 48, 8), 8, [3, 3], 1, true),
        layer("vww pw 8->16 48x48", (48, 48, 8), 16, [1, 1], 1, false),
        layer("vww dw3x3/s2 16 48x48", (48, 48, 16), 16, [3, 3], 2, true),
        layer("vww dw3x3 32 24x24", (24, 24, 32), 32, [3, 3], 1, true),
        layer("vww pw 32->32 24x24", (24, 24, 32), 32, [1, 1], 1, false),
        layer("mnv2 dw3x3 16 48x48", (48, 48, 16), 16, [3, 3], 1, true),
        layer("mnv2 pw 16->8 48x48", (48, 48, 16), 8, [1, 1], 1, false),
        layer("mnv2 pw 8->48 48x48", (48, 48, 8), 48, [1, 1], 1, false),
        layer("mnv2 dw3x3/s2 48 48x48", (48, 48, 48), 48, [3, 3], 2, true),
        layer("mnv2 pw 48->8 24x24", (24, 24, 48), 8, [1, 1], 1, false),
        layer("mnv2 pw 16->96 12x12", (12, 12, 16), 96, [1, 1], 1, false),
        layer("mnv2 dw3x3 96 12x12", (12, 12, 96), 96, [3, 3], 1, true),
        layer("mnv2 pw 96->24 6x6", (6, 6, 96), 24, [1, 1], 1, false),
        layer("mnv2 pw 112->1280 3x3", (3, 3, 112), 1280, [1, 1], 1, false),
    ]
}

fn macs(l: &Layer) -> f64 {
    let s = &l.shape;
    let per = s.kernel[0] * s.kernel[1] * if l.depthwise { 1 } else { s.in_c };
    (s.out_h * s.out_w * s.out_c * per) as f64
}

fn window(s: &ConvShape) -> Window {
    let end = |len: usize, out: usize, p: usize, k: usize, st: usize| {
        ((out - 1) * st + k).saturating_sub(len + p)
    };
    Window {
        kernel: s.kernel.map(|k| k as u32),
        stride: s.stride.map(|v| v as u32),
        dilation: [1, 1],
        pads: [
            s.pad[0] as u32,
            s.pad[1] as u32,
            end(s.in_h, s.out_h, s.pad[0], s.kernel[0], s.stride[0]) as u32,
            end(s.in_w, s.out_w, s.pad[1], s.kernel[1], s.stride[1]) as u32,
        ],
    }
}

fn nhwc_to_nchw<T: Copy + Default>(x: &[T], h: usize, w: usize, c: usize) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    for i in 0..h * w {
        for ch in 0..c {
            out[ch * h * w + i] = x[i * c + ch];
        }
    }
    out
}

/// The layer's data: NHWC inputs, ONNX weights, packed weights, NCHW copies.
struct Data {
    x8: Vec<i8>,
    xf: Vec<f32>,
    p8: Vec<u8>,
    pf: Vec<f32>,
    /// The f32 weights and bias as f16, packed.
    p16: Vec<u16>,
    w8: Vec<i8>,
    wf: Vec<f32>,
    bias8: Vec<i32>,
    biasf: Vec<f32>,
    rq: Vec<i32>,
}

const X_ZP: i32 = -3;
const OUT: I8Out = I8Out {
    zero_point: 5,
    act_min: 5,
    act_max: 127,
    residual: None,
    header: I8Header::Compact,
};

fn data(l: &Layer) -> Data {
    let s = &l.shape;
    let taps = s.kernel[0] * s.kernel[1];
    let wlen = s.out_c * taps * if l.depthwise { 1 } else { s.in_c };
    let x8 = pattern(s.in_h * s.in_w * s.in_c, 1);
    let w8: Vec<i8> = pattern(wlen, 2).iter().map(|&v| v.max(-127)).collect();
    let bias8: Vec<i32> = (0..s.out_c as i32).map(|j| j * 37 - 500).collect();
    let shift = -(8 + (wlen / s.out_c).ilog2() as i32);
    let rq: Vec<i32> = (0..s.out_c as i32)
        .flat_map(|j| [(1 << 30) + j * 4099, shift])
        .collect();
    let to_f = |v: &[i8]| v.iter().map(|&b| f32::from(b) / 128.0).collect::<Vec<_>>();
    let (xf, wf) = (to_f(&x8), to_f(&w8));
    let biasf: Vec<f32> = bias8.iter().map(|&b| b as f32 / 1e4).collect();
    let (mut p8, mut pf, mut p16);
    let f16 = |v: &[f32]| {
        v.iter()
            .map(|&x| half::f16::from_f32(x).to_bits())
            .collect::<Vec<_>>()
    };
    let (w16, b16) = (f16(&wf), f16(&biasf));
    if l.depthwise {
        let h = OUT.header;
        p8 = vec![0; engine::i8_dwconv_packed_len_as(h, s.in_c, s.kernel).unwrap()];
        engine::pack_i8_dwconv_as(h, &w8, Some(&bias8), &rq, s.in_c, s.kernel, &mut p8).unwrap();
        pf = vec![0.0; engine::f32_dwconv_packed_len(s.in_c, s.kernel).unwrap()];
        engine::pack_f32_dwconv(&wf, Some(&biasf), s.in_c, s.kernel, &mut pf).unwrap();
        p16 = vec![0; pf.len()];
        engine::pack_f16_dwconv(&w16, Some(&b16), s.in_c, s.kernel, &mut p16).unwrap();
    } else {
        let h = OUT.header;
        p8 = vec![0; engine::i8_conv_packed_len_as(h, s.out_c, s.in_c, s.kernel).unwrap()];
        engine::pack_i8_conv_as(
            h,
            &w8,
            Some(&bias8),
            &rq,
            X_ZP,
            (s.out_c, s.in_c),
            s.kernel,
            &mut p8,
        )
        .unwrap();
        pf = vec![0.0; engine::f32_conv_packed_len(s.out_c, s.in_c, s.kernel).unwrap()];
        engine::pack_f32_conv(&wf, Some(&biasf), s.out_c, s.in_c, s.kernel, &mut pf).unwrap();
        p16 = vec![0; pf.len()];
        engine::pack_f16_conv(&w16, Some(&b16), s.out_c, s.in_c, s.kernel, &mut p16).unwrap();
    }
    Data {
        x8,
        xf,
        p8,
        pf,
        p16,
        w8,
        wf,
        bias8,
        biasf,
        rq,
    }
}

/// Seconds per call of the engine's f32, f16-weight and int8 kernels of `k`.
fn run_engine(l: &Layer, d: &Data, k: &Kernels, want8: &[i8]) -> (f64, f64, f64) {
    let s = &l.shape;
    let len = s.out_h * s.out_w * s.out_c;
    let mut yf = vec![0f32; len];
    let mut y8 = vec![0i8; len];
    let scratch_len = engine::conv_scratch_len(s).unwrap();
    let mut sf = vec![0f32; scratch_len];
    let mut s8 = vec![0i8; scratch_len];
    let out = F32Out {
        min: 0.0,
        max: 6.0,
        residual: None,
    };
    let mut f32_call = || {
        let r = if l.depthwise {
            (k.f32_dwconv.run)(s, black_box(&d.xf), &d.pf, &out, &mut yf)
        } else {
            (k.f32_conv.run)(s, black_box(&d.xf), &d.pf, &out, &mut yf, &mut sf)
        };
        r.unwrap();
        black_box(&yf);
    };
    let tf = time(&mut f32_call);
    let mut f16_call = || {
        let r = if l.depthwise {
            (k.f16_dwconv.run)(s, black_box(&d.xf), &d.p16, &out, &mut yf)
        } else {
            (k.f16_conv.run)(s, black_box(&d.xf), &d.p16, &out, &mut yf, &mut sf)
        };
        r.unwrap();
        black_box(&yf);
    };
    let t16 = time(&mut f16_call);
    let i8_call = |y8: &mut [i8], s8: &mut [i8]| {
        let r = if l.depthwise {
            (k.i8_dwconv.run)(s, black_box(&d.x8), X_ZP, &d.p8, &OUT, y8)
        } else {
            (k.i8_conv.run)(s, black_box(&d.x8), X_ZP, &d.p8, &OUT, y8, s8)
        };
        r.unwrap();
        black_box(&y8);
    };
    i8_call(&mut y8, &mut s8);
    let y_nchw = nhwc_to_nchw(&y8, s.out_h, s.out_w, s.out_c);
    assert_eq!(
        y_nchw,
        want8,
        "{}: {} int8 differs from the reference",
        l.label,
        k.isa.name()
    );
    let t8 = time(|| i8_call(&mut y8, &mut s8));
    (tf, t16, t8)
}

/// Seconds per call of the current NCHW kernels (`kernels::fast`), and the int8
/// reference output (NCHW).
fn run_current(l: &Layer, d: &Data) -> (f64, f64, Vec<i8>) {
    let s = &l.shape;
    let xs = [1, s.in_c, s.in_h, s.in_w];
    let (cg, groups) = if l.depthwise {
        (1, s.in_c)
    } else {
        (s.in_c, 1)
    };
    let ws = [s.out_c, cg, s.kernel[0], s.kernel[1]];
    let ys = [1, s.out_c, s.out_h, s.out_w];
    let win = window(s);
    let x8 = nhwc_to_nchw(&d.x8, s.in_h, s.in_w, s.in_c);
    let xf = nhwc_to_nchw(&d.xf, s.in_h, s.in_w, s.in_c);
    let len = s.out_h * s.out_w * s.out_c;
    let mut want = vec![0i8; len];
    let cp = ConvParams {
        x: xs,
        w: ws,
        y: ys,
        window: win,
        groups,
    };
    let qout = QuantOut {
        bias: Some(&d.bias8),
        requant: &d.rq,
        zero_point: OUT.zero_point,
        act_min: OUT.act_min,
        act_max: OUT.act_max,
    };
    let fout = FOut {
        bias: Some(&d.biasf),
        act_min: 0.0,
        act_max: 6.0,
    };
    ki::conv2d(&cp, &x8, X_ZP, &d.w8, &qout, &mut want);
    let mut yf = vec![0f32; len];
    let tf = time(|| {
        fast::f32_conv2d(&cp, black_box(&xf), &d.wf, &fout, &mut yf);
        black_box(&yf);
    });
    let mut y8 = vec![0i8; len];
    let t8 = time(|| {
        fast::int8_conv2d(&cp, black_box(&x8), X_ZP, &d.w8, &qout, &mut y8);
        black_box(&y8);
    });
    assert_eq!(
        y8, want,
        "{}: fast::int8_conv2d differs from the reference",
        l.label
    );
    (tf, t8, want)
}

fn main() {
    let filter = std::env::var("FERRITE_BENCH_FILTER").unwrap_or_default();
    let chosen = std::env::var("FERRITE_BENCH_ISAS").ok();
    let wanted = |isa: &Isa| {
        chosen
            .as_ref()
            .is_none_or(|c| c.split(',').any(|n| n == isa.name()))
    };
    let isas: Vec<Kernels> = Isa::ALL
        .iter()
        .filter(|i| wanted(i))
        .filter_map(|i| i.kernels())
        .collect();
    println!(
        "engine ISAs here: {} (best: {}); current kernels: {}",
        isas.iter()
            .map(|k| k.isa.name())
            .collect::<Vec<_>>()
            .join(", "),
        Isa::best().name(),
        fast::best().name
    );
    println!(
        "{:<36} {:>8} {:<18} {:>10} {:>7} {:>10} {:>7} {:>10} {:>7} {:>6}",
        "layer",
        "MMAC",
        "kernels",
        "f32 µs",
        "GMAC/s",
        "f16 µs",
        "GMAC/s",
        "int8 µs",
        "GMAC/s",
        "i8/f32"
    );
    let mut totals = vec![(0f64, 0f64, 0f64); isas.len() + 1];
    for l in layers().iter().filter(|l| l.label.contains(&filter)) {
        let d = data(l);
        let m = macs(l);
        let row = |name: &str, tf: f64, t16: Option<f64>, t8: f64| {
            let (a, b) = t16.map_or((String::from("-"), String::from("-")), |t| {
                (format!("{:.1}", t * 1e6), format!("{:.2}", m / t / 1e9))
            });
            println!(
                "{:<36} {:>8.3} {:<18} {:>10.1} {:>7.2} {:>10} {:>7} {:>10.1} {:>7.2} {:>6.2}",
                l.label,
                m / 1e6,
                name,
                tf * 1e6,
                m / tf / 1e9,
                a,
                b,
                t8 * 1e6,
                m / t8 / 1e9,
                t8 / tf
            );
        };
        let (tf, t8, want) = run_current(l, &d);
        row(&format!("nchw {}", fast::best().name), tf, None, t8);
        totals[0].0 += tf;
        totals[0].2 += t8;
        for (i, k) in isas.iter().enumerate() {
            let (tf, t16, t8) = run_engine(l, &d, k, &want);
            row(k.isa.name(), tf, Some(t16), t8);
            totals[i + 1].0 += tf;
            totals[i + 1].1 += t16;
            totals[i + 1].2 += t8;
        }
    }
    println!("sum of the layers' times (µs), f32 / f16 weights / int8:");
    println!(
        "  nchw {:<12} {:>10.1} {:>10} {:>10.1}",
        fast::best().name,
        totals[0].0 * 1e6,
        "-",
        totals[0].2 * 1e6
    );
    for (k, t) in isas.iter().zip(&totals[1..]) {
        println!(
            "  engine {:<10} {:>10.1} {:>10.1} {:>10.1}",
            k.isa.name(),
            t.0 * 1e6,
            t.1 * 1e6,
            t.2 * 1e6
        );
    }
    pools(&filter);
}

/// The average pools of the models (NHWC input `(h, w, c)`, window, stride), f32 and
/// int8, the int8 bytes checked against the reference first.
fn pools(filter: &str) {
    let all = [
        ("kws avg pool 24x5/s2 64", (25, 5, 64), [24, 5], 2),
        ("vww avg pool 3x3 256", (3, 3, 256), [3, 3], 3),
        ("mnv2 avg pool 3x3 1280", (3, 3, 1280), [3, 3], 1),
    ];
    for (label, (h, w, c), k, st) in all.into_iter().filter(|l| l.0.contains(filter)) {
        let (oh, ow) = ((h - k[0]) / st + 1, (w - k[1]) / st + 1);
        let p = PoolParams {
            x: [1, c, h, w],
            y: [1, c, oh, ow],
            window: Window {
                kernel: k.map(|v| v as u32),
                stride: [st as u32; 2],
                dilation: [1, 1],
                pads: [0; 4],
            },
            count_include_pad: false,
        };
        let x8 = pattern(h * w * c, 7);
        let xf: Vec<f32> = x8.iter().map(|&v| f32::from(v) * 0.05).collect();
        let (mut y8, mut yf) = (vec![0i8; oh * ow * c], vec![0f32; oh * ow * c]);
        let mut want = vec![0i8; y8.len()];
        ki::avg_pool2d(&p, &nhwc_to_nchw(&x8, h, w, c), X_ZP, &mut want);
        engine::i8_avg_pool_nhwc(&p, &x8, X_ZP, &mut y8).unwrap();
        assert_eq!(nhwc_to_nchw(&y8, oh, ow, c), want, "{label}: int8 differs");
        let tf = time(|| {
            engine::f32_avg_pool_nhwc(&p, black_box(&xf), &mut yf).unwrap();
            black_box(&yf);
        });
        let t8 = time(|| {
            engine::i8_avg_pool_nhwc(&p, black_box(&x8), X_ZP, &mut y8).unwrap();
            black_box(&y8);
        });
        println!(
            "{:<36} f32 {:>8.2} µs  int8 {:>8.2} µs  i8/f32 {:>5.2}",
            label,
            tf * 1e6,
            t8 * 1e6,
            t8 / tf
        );
    }
}
