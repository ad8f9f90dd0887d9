//! Time of one `engine::i8_conv_nchw` call on a few first-layer shapes (the sensor
//! 1D-CNN's and the 96×96 stems), minimum over batches, ns per call.
//!
//! ```sh
//! taskset -c 1 cargo run --release -p ferrite --example stem_cost -- [--runs N]
//! ```

use ferrite::kernels::engine::{self, ConvShape, I8Header, I8Out};
use std::time::Instant;

fn shape(
    c: usize,
    (h, w): (usize, usize),
    m: usize,
    k: [usize; 2],
    st: [usize; 2],
    pad: [usize; 2],
    end: [usize; 2],
) -> ConvShape {
    let o = |len: usize, a: usize| (len + pad[a] + end[a] - (k[a] - 1) - 1) / st[a] + 1;
    ConvShape {
        in_h: h,
        in_w: w,
        in_c: c,
        out_h: o(h, 0),
        out_w: o(w, 1),
        out_c: m,
        kernel: k,
        stride: st,
        dilation: [1, 1],
        pad,
    }
}

fn main() {
    let mut runs = 2000usize;
    let mut only = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args.next().and_then(|n| n.parse().ok()).expect("--runs N");
        } else {
            only = a;
        }
    }
    let cases = [
        (
            "sensor 3->8 1x5 w64",
            shape(3, (1, 64), 8, [1, 5], [1, 1], [0, 2], [0, 2]),
        ),
        (
            "vww 3->8 3x3/2 96",
            shape(3, (96, 96), 8, [3, 3], [2, 2], [0, 0], [1, 1]),
        ),
        (
            "mnv2 3->16 3x3/2 96",
            shape(3, (96, 96), 16, [3, 3], [2, 2], [1, 1], [1, 1]),
        ),
    ];
    for (name, s) in cases {
        if !name.starts_with(only.as_str()) {
            continue;
        }
        let k = s.in_c * s.kernel[0] * s.kernel[1];
        let w: Vec<i8> = (0..s.out_c * k).map(|i| ((i * 37) % 255) as i8).collect();
        let bias: Vec<i32> = (0..s.out_c).map(|i| i as i32 * 100 - 300).collect();
        let rq: Vec<i32> = (0..s.out_c)
            .flat_map(|i| [(1 << 30) + 12345 * i as i32 + 1, -8])
            .collect();
        let h = I8Header::Compact;
        let mut p = vec![0u8; engine::i8_conv_packed_len_as(h, s.out_c, s.in_c, s.kernel).unwrap()];
        engine::pack_i8_conv_as(
            h,
            &w,
            Some(&bias),
            &rq,
            -3,
            (s.out_c, s.in_c),
            s.kernel,
            &mut p,
        )
        .unwrap();
        let x: Vec<f32> = (0..s.in_c * s.in_h * s.in_w)
            .map(|i| ((i * 13) % 200) as f32 * 0.01 - 1.0)
            .collect();
        let out = I8Out {
            zero_point: -5,
            act_min: -128,
            act_max: 127,
            residual: None,
            header: h,
        };
        let mut y = vec![0i8; s.out_h * s.out_w * s.out_c];
        let mut scratch = vec![0i8; engine::i8_conv_nchw_scratch_len(&s).unwrap()];
        let inner = if s.in_h == 1 { 200 } else { 2 };
        let mut best = f64::MAX;
        for _ in 0..runs {
            let t = Instant::now();
            for _ in 0..inner {
                engine::i8_conv_nchw(&s, &x, 0.01, -3, &p, &out, &mut y, &mut scratch).unwrap();
                core::hint::black_box(&mut y);
            }
            best = best.min(t.elapsed().as_nanos() as f64 / inner as f64);
        }
        let sum: i64 = y.iter().map(|&v| v as i64).sum();
        println!("{name:<22} {best:>10.1} ns  (checksum {sum})");
    }
}
