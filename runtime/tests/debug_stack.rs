//! Stack use of the engine kernels: every kernel of every ISA this CPU has (int8 k×k,
//! 1×1 and its flipped path with and without a fused residual, the flat gather of 1–3
//! channels, more than 64 taps, depthwise lean and walked, f32 and f16 conv and
//! depthwise, the NCHW first layers) runs on shapes that take the big tiles, on a
//! thread with a [`STACK`]-byte stack, and gives the same bytes as on the test's own
//! thread.
//!
//! The real check is the debug build (`cargo test`, opt-level 0): there LLVM gives
//! every temporary of every inlined call its own stack slot, and before the frame's
//! tile and epilogue helpers were kept out of line at opt-level 0
//! (`#[cfg_attr(not(ferrite_unoptimized), inline(always))]`, the cfg set by the build
//! script) the AVX-512 VNNI int8 conv had a 1.5 MB frame and this test overflowed.
//! Optimized frames are small anyway. An overflow aborts the test binary ("has
//! overflowed its stack"). Not on wasm (no threads there).
#![cfg(not(target_family = "wasm"))]

use ferrite::format::types::{QBinary, Requant};
use ferrite::kernels::engine::{self, ConvShape, F32Out, I8Header, I8Out, I8Residual, Isa};

/// The stack of the thread the kernels run on.
const STACK: usize = 128 * 1024;

/// `f()` on a thread with a [`STACK`]-byte stack.
fn small<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the kernel's thread panicked")
}

/// Deterministic bytes.
fn bytes(n: usize, seed: u64) -> Vec<i8> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as i8
        })
        .collect()
}

fn conv(
    (h, w, c): (usize, usize, usize),
    n: usize,
    k: [usize; 2],
    stride: usize,
    pad: usize,
) -> ConvShape {
    let o = |len: usize, k: usize| (len + 2 * pad - k) / stride + 1;
    ConvShape {
        in_h: h,
        in_w: w,
        in_c: c,
        out_h: o(h, k[0]),
        out_w: o(w, k[1]),
        out_c: n,
        kernel: k,
        stride: [stride; 2],
        dilation: [1, 1],
        pad: [pad, pad],
    }
}

fn out_len(s: &ConvShape) -> usize {
    s.out_h * s.out_w * s.out_c
}

fn add() -> QBinary {
    let rq = |shift| Requant {
        multiplier: 1 << 30,
        shift,
    };
    QBinary {
        a_zero_point: 3,
        b_zero_point: -5,
        out_zero_point: 1,
        left_shift: 20,
        a: rq(-1),
        b: rq(-1),
        out: rq(-20),
        act_min: -128,
        act_max: 127,
    }
}

/// An int8 conv (`dw`: depthwise) case with or without a residual.
#[derive(Clone)]
struct I8 {
    s: ConvShape,
    dw: bool,
    residual: bool,
}

impl I8 {
    /// `isa`'s output (`None`: the ISA is not available) with headers `h`.
    fn run(&self, isa: Isa, h: I8Header) -> Option<Vec<i8>> {
        let k = isa.kernels()?;
        let s = &self.s;
        let taps = s.kernel[0] * s.kernel[1];
        let n = s.out_c;
        let x = bytes(s.in_h * s.in_w * s.in_c, 1);
        let w = bytes(n * taps * if self.dw { 1 } else { s.in_c }, 2);
        let bias: Vec<i32> = (0..n as i32).map(|i| 37 * i - 500).collect();
        let rq: Vec<i32> = (0..n).flat_map(|i| [(1 << 30) + i as i32, -8]).collect();
        let r = bytes(out_len(s), 3);
        let out = I8Out {
            zero_point: -3,
            act_min: -128,
            act_max: 127,
            residual: self.residual.then(|| I8Residual {
                input: &r,
                add: add(),
            }),
            header: h,
        };
        let mut y = vec![0i8; out_len(s)];
        let b = Some(&bias[..]);
        if self.dw {
            let mut p = vec![0u8; engine::i8_dwconv_packed_len_as(h, n, s.kernel)?];
            engine::pack_i8_dwconv_as(h, &w, b, &rq, n, s.kernel, &mut p).ok()?;
            (k.i8_dwconv.run)(s, &x, 5, &p, &out, &mut y).unwrap();
        } else {
            let mut p = vec![0u8; engine::i8_conv_packed_len_as(h, n, s.in_c, s.kernel)?];
            let m = (n, s.in_c);
            engine::pack_i8_conv_as(h, &w, b, &rq, 5, m, s.kernel, &mut p).ok()?;
            let mut scratch = vec![0i8; engine::conv_scratch_len(s)?];
            (k.i8_conv.run)(s, &x, 5, &p, &out, &mut y, &mut scratch).unwrap();
        }
        Some(y)
    }
}

/// The int8 cases: the shapes of the big tiles and of each path.
fn i8_cases() -> Vec<I8> {
    let c = |s, residual| I8 {
        s,
        dw: false,
        residual,
    };
    let d = |s, residual| I8 {
        s,
        dw: true,
        residual,
    };
    vec![
        c(conv((12, 12, 16), 32, [3, 3], 1, 1), false),
        c(conv((12, 12, 16), 48, [3, 3], 1, 1), true),
        c(conv((10, 10, 32), 64, [3, 3], 2, 1), false),
        c(conv((12, 12, 64), 64, [1, 1], 1, 0), false),
        c(conv((12, 12, 64), 64, [1, 1], 1, 0), true),
        c(conv((12, 12, 24), 40, [1, 1], 1, 0), false),
        c(conv((12, 12, 64), 32, [1, 1], 2, 0), false),
        c(conv((16, 16, 3), 16, [3, 3], 2, 1), false),
        c(conv((49, 10, 1), 64, [10, 4], 2, 1), false),
        c(conv((12, 12, 4), 16, [9, 9], 1, 4), false),
        // At most 16 output channels (ResNet-8's, the sensor CNN's).
        c(conv((16, 16, 16), 16, [3, 3], 1, 1), true),
        c(conv((16, 16, 8), 12, [3, 3], 2, 1), false),
        c(conv((1, 64, 8), 16, [1, 5], 1, 2), false),
        d(conv((12, 12, 8), 8, [3, 3], 1, 1), false),
        d(conv((12, 12, 32), 32, [3, 3], 1, 1), false),
        d(conv((12, 12, 48), 48, [5, 5], 2, 2), false),
        d(conv((12, 12, 32), 32, [3, 3], 1, 1), true),
        d(conv((12, 12, 24), 24, [7, 7], 1, 3), false),
    ]
}

/// The ISAs of this build (an unavailable one is skipped in the runs).
fn isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.available()).collect()
}

#[test]
fn int8_kernels_run_on_a_small_stack() {
    for isa in isas() {
        for case in i8_cases() {
            for h in [I8Header::Wide, I8Header::Compact] {
                let want = case.run(isa, h);
                let c = case.clone();
                let got = small(move || c.run(isa, h));
                assert_eq!(got, want, "{} {:?} {h:?}", isa.name(), case.s);
            }
        }
    }
}

/// `isa`'s f32 (`f16`: f16 weights) conv or depthwise output.
fn float_run(isa: Isa, s: &ConvShape, dw: bool, f16: bool) -> Option<Vec<f32>> {
    let k = isa.kernels()?;
    let taps = s.kernel[0] * s.kernel[1];
    let n = s.out_c;
    let x: Vec<f32> = bytes(s.in_h * s.in_w * s.in_c, 4)
        .iter()
        .map(|&v| f32::from(v) / 64.0)
        .collect();
    let wi = bytes(n * taps * if dw { 1 } else { s.in_c }, 5);
    // Small integers: exact in f16 (sign and a 7-bit significand).
    let w32: Vec<f32> = wi.iter().map(|&v| f32::from(v) / 128.0).collect();
    let w16: Vec<u16> = wi.iter().map(|&v| f16_bits(f32::from(v) / 128.0)).collect();
    let mut y = vec![0f32; out_len(s)];
    let out = F32Out::LINEAR;
    match (dw, f16) {
        (false, false) => {
            let mut p = vec![0f32; engine::f32_conv_packed_len(n, s.in_c, s.kernel)?];
            engine::pack_f32_conv(&w32, None, n, s.in_c, s.kernel, &mut p).unwrap();
            let mut scratch = vec![0f32; engine::conv_scratch_len(s)?];
            (k.f32_conv.run)(s, &x, &p, &out, &mut y, &mut scratch).unwrap();
        }
        (false, true) => {
            let mut p = vec![0u16; engine::f32_conv_packed_len(n, s.in_c, s.kernel)?];
            engine::pack_f16_conv(&w16, None, n, s.in_c, s.kernel, &mut p).unwrap();
            let mut scratch = vec![0f32; engine::conv_scratch_len(s)?];
            (k.f16_conv.run)(s, &x, &p, &out, &mut y, &mut scratch).unwrap();
        }
        (true, false) => {
            let mut p = vec![0f32; engine::f32_dwconv_packed_len(n, s.kernel)?];
            engine::pack_f32_dwconv(&w32, None, n, s.kernel, &mut p).unwrap();
            (k.f32_dwconv.run)(s, &x, &p, &out, &mut y).unwrap();
        }
        (true, true) => {
            let mut p = vec![0u16; engine::f32_dwconv_packed_len(n, s.kernel)?];
            engine::pack_f16_dwconv(&w16, None, n, s.kernel, &mut p).unwrap();
            (k.f16_dwconv.run)(s, &x, &p, &out, &mut y).unwrap();
        }
    }
    Some(y)
}

/// The same f32 bits.
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.iter()
        .map(|v| v.to_bits())
        .eq(b.iter().map(|v| v.to_bits()))
}

/// The f16 bits of `v = m / 128`, `|m| <= 128` (a normal number or zero).
fn f16_bits(v: f32) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    let man = ((b >> 13) & 0x3ff) as u16;
    sign | ((exp as u16) << 10) | man
}

#[test]
fn float_kernels_run_on_a_small_stack() {
    let shapes = [
        (conv((12, 12, 16), 48, [3, 3], 1, 1), false),
        (conv((12, 12, 64), 64, [1, 1], 1, 0), false),
        (conv((12, 12, 32), 32, [3, 3], 1, 1), true),
        (conv((12, 12, 48), 48, [5, 5], 2, 2), true),
    ];
    for isa in isas() {
        for (s, dw) in shapes {
            for f16 in [false, true] {
                let want = float_run(isa, &s, dw, f16);
                let got = small(move || float_run(isa, &s, dw, f16));
                let ok = match (&got, &want) {
                    (Some(a), Some(b)) => same_bits(a, b),
                    (a, b) => a.is_none() && b.is_none(),
                };
                assert!(ok, "{} {s:?} dw {dw} f16 {f16}", isa.name());
            }
        }
    }
}

/// The NCHW first layers (f32 and int8): the dispatching functions and each ISA's.
fn nchw_run(isa: Option<Isa>, s: &ConvShape) -> Option<(Vec<i8>, Vec<f32>)> {
    let n = s.out_c;
    let k = s.in_c * s.kernel[0] * s.kernel[1];
    let x: Vec<f32> = bytes(s.in_c * s.in_h * s.in_w, 6)
        .iter()
        .map(|&v| f32::from(v) / 50.0)
        .collect();
    let w = bytes(n * k, 7);
    let rq: Vec<i32> = (0..n).flat_map(|_| [1 << 30, -9]).collect();
    let mut p = vec![0u8; engine::i8_conv_packed_len(n, s.in_c, s.kernel)?];
    engine::pack_i8_conv(&w, None, &rq, -7, n, s.in_c, s.kernel, &mut p).unwrap();
    let out = I8Out {
        zero_point: 2,
        act_min: -128,
        act_max: 127,
        residual: None,
        header: I8Header::Wide,
    };
    let mut y = vec![0i8; out_len(s)];
    let mut scratch = vec![0i8; engine::i8_conv_nchw_scratch_len(s)?];
    let (sc, ys) = (&mut scratch, &mut y);
    let r = match isa {
        None => engine::i8_conv_nchw(s, &x, 1.0 / 50.0, -7, &p, &out, ys, sc),
        Some(i) => engine::i8_conv_nchw_on(i, s, &x, 1.0 / 50.0, -7, &p, &out, ys, sc)?,
    };
    r.unwrap();
    let w32: Vec<f32> = w.iter().map(|&v| f32::from(v) / 128.0).collect();
    let mut pf = vec![0f32; engine::f32_conv_packed_len(n, s.in_c, s.kernel)?];
    engine::pack_f32_conv(&w32, None, n, s.in_c, s.kernel, &mut pf).unwrap();
    let mut yf = vec![0f32; out_len(s)];
    let mut sf = vec![0f32; engine::f32_conv_nchw_scratch_len(s)?];
    let lin = F32Out::LINEAR;
    let r = match isa {
        None => engine::f32_conv_nchw(s, &x, &pf, &lin, &mut yf, &mut sf),
        Some(i) => engine::f32_conv_nchw_on(i, s, &x, &pf, &lin, &mut yf, &mut sf)?,
    };
    r.unwrap();
    Some((y, yf))
}

#[test]
fn nchw_first_layers_run_on_a_small_stack() {
    let shapes = [
        conv((40, 40, 3), 16, [3, 3], 2, 1),
        conv((24, 24, 3), 8, [3, 3], 1, 1),
        conv((1, 64, 3), 8, [1, 5], 1, 0),
        conv((20, 20, 1), 32, [5, 5], 1, 2),
    ];
    let isas = isas().into_iter().map(Some).chain([None]);
    for isa in isas {
        for s in shapes {
            let want = nchw_run(isa, &s);
            let got = small(move || nchw_run(isa, &s));
            let same = match (&got, &want) {
                (Some((a, af)), Some((b, bf))) => a == b && same_bits(af, bf),
                (a, b) => a.is_none() && b.is_none(),
            };
            assert!(same, "{isa:?} {s:?}");
        }
    }
}
