//! The NHWC engine's kernels (`ferrite::kernels::engine`) against independent
//! references, for every ISA implementation this CPU has.
//!
//! One macro, [`engine_suite!`], generates the same tests for each ISA
//! (`Isa::Portable`, `Avx2`, `Avx512`, `Avx512Vnni`, `Neon`, `NeonDot`, `Simd128`)
//! and for the dispatching family functions; an ISA this CPU or build lacks prints a
//! note and passes (run the suite under `qemu-aarch64 -cpu max` and `-cpu cortex-a57`
//! to cover both NEON paths, and on wasm32 with `+simd128`).
//!
//! - **int8**: identical bytes to the reference kernels `ferrite::kernels::int8::conv2d`
//!   (NCHW; the inputs are transposed here) followed, for a fused residual, by
//!   `ferrite::kernels::int8::binary(Add)`. Those are tested against integer
//!   references in `kernels_int8.rs`. The whole output buffer is compared, with a
//!   sentinel tail after the output that must stay untouched.
//! - **f16 weights**: the f16 kernels give the same bits as the f32 kernels of the same
//!   ISA run on the weights and bias rounded to f16 (`half`'s conversion), which are
//!   themselves checked against the f64 reference below.
//! - **f32**: against an f64 reference computed here (products of f32 are exact in
//!   f64): `|y − clamp(exact)| <= γ(K + 2)·(|bias| + Σ|x·w| + |r|)`, the bound
//!   documented in `kernels::engine` (`γ(n) = n·u/(1 − n·u)`, `u = 2^-24`).
//!
//! # Running every implementation
//!
//! - x86-64 (AVX2, AVX-512, AVX-512 VNNI, portable): `cargo test -p ferrite --test
//!   engine_kernels` on a CPU with AVX-512 VNNI runs all four.
//! - AArch64 under QEMU, with and without the dot-product extension (the Debian
//!   toolchain and build-std route of `TOOLCHAIN.md`; `QEMU_CPU` selects the CPU):
//!
//!   ```sh
//!   export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
//!   export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
//!   export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
//!   for cpu in max cortex-a57; do
//!     QEMU_CPU=$cpu ENGINE_CASES=60 /usr/bin/cargo test -p ferrite --target-dir target/cross \
//!       --target aarch64-unknown-linux-gnu -Zbuild-std=std,panic_abort --test engine_kernels
//!   done
//!   ```
//!
//!   `-cpu max` runs `neon` and `neondot`, `-cpu cortex-a57` (Armv8.0) `neon` only.
//! - wasm32 with SIMD128, in Node's WASI (`rustup target add wasm32-wasip1`; from the
//!   workspace root; the runner path must be absolute, tests run on one thread):
//!
//!   ```sh
//!   RUSTFLAGS="-C target-feature=+simd128" \
//!   CARGO_TARGET_WASM32_WASIP1_RUNNER="node $PWD/runtime/tests/engine_wasi.cjs" \
//!   cargo test -p ferrite --target wasm32-wasip1 --test engine_kernels -- --test-threads=1
//!   ```
//!
//! Random cases come from a seeded generator (`ENGINE_CASES` sets their number per
//! test, e.g. fewer under QEMU; `ENGINE_SEED` the seed); the named cases pin the
//! corners: K not a multiple of 4, N not a multiple of 16, 1-pixel images, padding on
//! every side, stride 2, dilation, 1–3 input channels, more than 64 taps, large K
//! (sums `vpmaddubsw` would saturate), wrapping accumulators, zero points at −128 and
//! 127, extreme multipliers and shifts, empty activation ranges.

use ferrite::format::types::{BinaryOp, QBinary, Requant, Window};
use ferrite::kernels::engine::{
    self, conv_scratch_len, ConvShape, F32Out, I8Header, I8Out, I8Residual, Isa, Kernels,
};
use ferrite::kernels::{
    f32 as kf, int8 as ki, BroadcastShapes, ConvParams, F32Out as RefF32Out, QuantOut,
};
use ferrite::Error;

// ---------------------------------------------------------------- random numbers

/// splitmix64: small, seeded, the same on every target.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Self {
        let seed = std::env::var("ENGINE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_f00d);
        Rng(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }

    fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn f32(&mut self) -> f32 {
        (self.range(-1 << 20, 1 << 20) as f32) / (1 << 20) as f32
    }

    fn i8s(&mut self, len: usize, extreme: bool) -> Vec<i8> {
        (0..len)
            .map(|_| {
                if extreme && self.chance(50) {
                    [-128, 127, -127, 0][self.usize(0, 3)]
                } else {
                    self.range(-128, 127) as i8
                }
            })
            .collect()
    }
}

fn cases(default: usize) -> usize {
    std::env::var("ENGINE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------- shapes

/// A shape whose output size follows from `[top, left, bottom, right]` pads.
fn shape(
    (in_h, in_w, in_c): (usize, usize, usize),
    out_c: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
) -> Option<ConvShape> {
    let out = |len: usize, p0: usize, p1: usize, k: usize, s: usize, d: usize| {
        let span = (k - 1) * d + 1;
        (len + p0 + p1).checked_sub(span).map(|r| r / s + 1)
    };
    Some(ConvShape {
        in_h,
        in_w,
        in_c,
        out_h: out(in_h, pads[0], pads[2], kernel[0], stride[0], dilation[0])?,
        out_w: out(in_w, pads[1], pads[3], kernel[1], stride[1], dilation[1])?,
        out_c,
        kernel,
        stride,
        dilation,
        pad: [pads[0], pads[1]],
    })
}

fn random_shape(rng: &mut Rng, depthwise: bool) -> ConvShape {
    loop {
        let kernel = if rng.chance(15) {
            [[1, 1], [3, 3], [5, 5], [10, 4], [1, 7], [9, 8]][rng.usize(0, 5)]
        } else {
            [rng.usize(1, 5), rng.usize(1, 5)]
        };
        let stride = [rng.usize(1, 3), rng.usize(1, 3)];
        let dilation = if rng.chance(25) {
            [rng.usize(1, 3), rng.usize(1, 3)]
        } else {
            [1, 1]
        };
        let pads = [0, 1, 2, 3].map(|i| rng.usize(0, kernel[i % 2] - 1));
        let c = if rng.chance(30) {
            rng.usize(1, 3)
        } else {
            rng.usize(1, 40)
        };
        let n = if depthwise { c } else { rng.usize(1, 40) };
        let size = (rng.usize(1, 12), rng.usize(1, 12), c);
        if let Some(s) = shape(size, n, kernel, stride, dilation, pads) {
            if s.out_h * s.out_w > 0 {
                return s;
            }
        }
    }
}

fn window(s: &ConvShape) -> Window {
    // Bottom/right pads as the reference needs them: enough for the output size.
    let pad_end = |len: usize, out: usize, p0: usize, k: usize, st: usize, d: usize| {
        ((out - 1) * st + (k - 1) * d + 1).saturating_sub(len + p0)
    };
    Window {
        kernel: s.kernel.map(|k| k as u32),
        stride: s.stride.map(|v| v as u32),
        dilation: s.dilation.map(|v| v as u32),
        pads: [
            s.pad[0] as u32,
            s.pad[1] as u32,
            pad_end(
                s.in_h,
                s.out_h,
                s.pad[0],
                s.kernel[0],
                s.stride[0],
                s.dilation[0],
            ) as u32,
            pad_end(
                s.in_w,
                s.out_w,
                s.pad[1],
                s.kernel[1],
                s.stride[1],
                s.dilation[1],
            ) as u32,
        ],
    }
}

fn nhwc_to_nchw<T: Copy + Default>(x: &[T], h: usize, w: usize, c: usize) -> Vec<T> {
    let mut out = vec![T::default(); h * w * c];
    for y in 0..h {
        for xx in 0..w {
            for ch in 0..c {
                out[(ch * h + y) * w + xx] = x[(y * w + xx) * c + ch];
            }
        }
    }
    out
}

fn nchw_to_nhwc<T: Copy + Default>(x: &[T], h: usize, w: usize, c: usize) -> Vec<T> {
    let mut out = vec![T::default(); h * w * c];
    for ch in 0..c {
        for y in 0..h {
            for xx in 0..w {
                out[(y * w + xx) * c + ch] = x[(ch * h + y) * w + xx];
            }
        }
    }
    out
}

fn out_len(s: &ConvShape) -> usize {
    s.out_h * s.out_w * s.out_c
}

/// Extra elements after the output that no kernel may write.
const TAIL: usize = 37;
const SENTINEL_I8: i8 = 0x55;
const SENTINEL_F32: f32 = -1234.5;

// ---------------------------------------------------------------- int8 cases

#[derive(Clone, Debug)]
struct I8Case {
    shape: ConvShape,
    depthwise: bool,
    x: Vec<i8>,
    x_zp: i32,
    w: Vec<i8>,
    bias: Option<Vec<i32>>,
    rq: Vec<i32>,
    out_zp: i32,
    act: (i32, i32),
    residual: Option<(Vec<i8>, QBinary)>,
}

fn random_requant(rng: &mut Rng, k: usize) -> Requant {
    let log_k = usize::BITS - k.max(1).leading_zeros();
    let multiplier = rng.range(1 << 30, i32::MAX as i64) as i32;
    let shift = -(rng.range(2, 14) as i32) - log_k as i32;
    Requant { multiplier, shift }
}

fn random_i8_case(rng: &mut Rng, depthwise: bool) -> I8Case {
    let s = random_shape(rng, depthwise);
    let k = s.taps() * if depthwise { 1 } else { s.in_c };
    let n = s.out_c;
    let extreme = rng.chance(20);
    let x = rng.i8s(s.in_h * s.in_w * s.in_c, extreme);
    let w = rng.i8s(n * k, extreme);
    let bias = rng.chance(85).then(|| {
        (0..n)
            .map(|_| rng.range(-(1 << 20), 1 << 20) as i32)
            .collect()
    });
    let per_channel = rng.chance(70);
    let rq = (0..if per_channel { n } else { 1 })
        .flat_map(|_| {
            let r = random_requant(rng, k);
            [r.multiplier, r.shift]
        })
        .collect();
    let x_zp = if rng.chance(20) {
        [-128, 127, 0][rng.usize(0, 2)]
    } else {
        rng.range(-128, 127) as i32
    };
    let out_zp = rng.range(-128, 127) as i32;
    let act = match rng.usize(0, 3) {
        0 => (-128, 127),
        1 => (out_zp.max(-128), 127),
        2 => (out_zp, (out_zp + 40).min(127)),
        _ => (rng.range(-140, 140) as i32, rng.range(-140, 140) as i32),
    };
    let residual = rng.chance(30).then(|| random_residual(rng, out_len(&s)));
    I8Case {
        shape: s,
        depthwise,
        x,
        x_zp,
        w,
        bias,
        rq,
        out_zp,
        act,
        residual,
    }
}

/// A random fused residual Add of `len` values.
fn random_residual(rng: &mut Rng, len: usize) -> (Vec<i8>, QBinary) {
    let r = rng.i8s(len, false);
    let q = QBinary {
        a_zero_point: rng.range(-128, 127) as i32,
        b_zero_point: rng.range(-128, 127) as i32,
        out_zero_point: rng.range(-128, 127) as i32,
        left_shift: if rng.chance(80) {
            20
        } else {
            rng.range(0, 31) as i32
        },
        a: random_requant(rng, 1 << 20),
        b: random_requant(rng, 1 << 20),
        out: Requant {
            multiplier: rng.range(1 << 30, i32::MAX as i64) as i32,
            shift: rng.range(-3, 1) as i32,
        },
        act_min: if rng.chance(50) {
            -128
        } else {
            rng.range(-128, 0) as i32
        },
        act_max: 127,
    };
    (r, q)
}

impl I8Case {
    /// The reference's bytes (NHWC), plus the sentinel tail.
    fn reference(&self) -> Vec<i8> {
        let s = &self.shape;
        let x = nhwc_to_nchw(&self.x, s.in_h, s.in_w, s.in_c);
        let cg = if self.depthwise { 1 } else { s.in_c };
        let groups = if self.depthwise { s.in_c } else { 1 };
        let mut y = vec![0i8; out_len(s)];
        let cp = ConvParams {
            x: [1, s.in_c, s.in_h, s.in_w],
            w: [s.out_c, cg, s.kernel[0], s.kernel[1]],
            y: [1, s.out_c, s.out_h, s.out_w],
            window: window(s),
            groups,
        };
        let out = QuantOut {
            bias: self.bias.as_deref(),
            requant: &self.rq,
            zero_point: self.out_zp,
            act_min: self.act.0,
            act_max: self.act.1,
        };
        ki::conv2d(&cp, &x, self.x_zp, &self.w, &out, &mut y);
        let mut y = nchw_to_nhwc(&y, s.out_h, s.out_w, s.out_c);
        if let Some((r, q)) = &self.residual {
            let shape = [y.len()];
            let mut sum = vec![0i8; y.len()];
            let bs = BroadcastShapes {
                a: &shape,
                b: &shape,
                y: &shape,
            };
            ki::binary(BinaryOp::Add, q, &bs, &y, r, &mut sum);
            y = sum;
        }
        y.extend([SENTINEL_I8; TAIL]);
        y
    }

    /// The weights packed with headers of the form `h`; `None` when the compact form
    /// cannot hold them (a channel's `Σw` outside i16, checked here).
    fn packed(&self, h: I8Header) -> Option<Vec<u8>> {
        let s = &self.shape;
        let mut packed;
        let res = if self.depthwise {
            packed = vec![0xAAu8; engine::i8_dwconv_packed_len_as(h, s.in_c, s.kernel).unwrap()];
            engine::pack_i8_dwconv_as(
                h,
                &self.w,
                self.bias.as_deref(),
                &self.rq,
                s.in_c,
                s.kernel,
                &mut packed,
            )
        } else {
            let len = engine::i8_conv_packed_len_as(h, s.out_c, s.in_c, s.kernel).unwrap();
            packed = vec![0xAAu8; len];
            engine::pack_i8_conv_as(
                h,
                &self.w,
                self.bias.as_deref(),
                &self.rq,
                self.x_zp,
                (s.out_c, s.in_c),
                s.kernel,
                &mut packed,
            )
        };
        if res.is_err() && h == I8Header::Compact && !self.depthwise {
            let k = self.w.len() / s.out_c;
            let sum = |c: &[i8]| c.iter().map(|&v| i32::from(v)).sum::<i32>();
            assert!(self.w.chunks(k).any(|c| i16::try_from(sum(c)).is_err()));
            return None;
        }
        res.unwrap();
        Some(packed)
    }

    /// Runs `k`'s kernel on weights packed with headers of the form `h` (from a
    /// packed copy at an odd address, to exercise unaligned loads) and returns the
    /// output with its tail, `None` when that form cannot hold the weights.
    fn run(&self, k: &Kernels, header: I8Header) -> Option<Vec<i8>> {
        let s = &self.shape;
        let packed = self.packed(header)?;
        let mut shifted = vec![0u8; packed.len() + 1];
        shifted[1..].copy_from_slice(&packed);
        let packed = &shifted[1..];
        let mut y = vec![SENTINEL_I8; out_len(s) + TAIL];
        let out = I8Out {
            zero_point: self.out_zp,
            act_min: self.act.0,
            act_max: self.act.1,
            residual: self
                .residual
                .as_ref()
                .map(|(r, q)| I8Residual { input: r, add: *q }),
            header,
        };
        let res = if self.depthwise {
            (k.i8_dwconv.run)(s, &self.x, self.x_zp, packed, &out, &mut y)
        } else {
            let mut scratch = vec![0x11i8; conv_scratch_len(s).unwrap()];
            (k.i8_conv.run)(s, &self.x, self.x_zp, packed, &out, &mut y, &mut scratch)
        };
        res.unwrap_or_else(|e| panic!("{}: {e:?} on {s:?}", k.isa.name()));
        Some(y)
    }

    /// `k`'s bytes equal the reference's with both header forms.
    fn check(&self, k: &Kernels) {
        let want = self.reference();
        for h in [I8Header::Wide, I8Header::Compact] {
            let Some(got) = self.run(k, h) else { continue };
            if got == want {
                continue;
            }
            let first = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{} ({}, {h:?} headers): output differs from the reference at {first} (got {}, want {}): {:?}",
                k.isa.name(),
                if self.depthwise {
                    k.i8_dwconv.name
                } else {
                    k.i8_conv.name
                },
                got[first],
                want[first],
                self.summary()
            );
        }
    }

    fn summary(&self) -> String {
        format!(
            "shape {:?} x_zp {} out_zp {} act {:?} rq {:?} residual {:?}",
            self.shape,
            self.x_zp,
            self.out_zp,
            self.act,
            &self.rq[..self.rq.len().min(4)],
            self.residual.as_ref().map(|r| r.1)
        )
    }
}

/// A named int8 case: `shape` with patterned data from `seed`.
fn i8_case(s: ConvShape, depthwise: bool, seed: u64) -> I8Case {
    let mut rng = Rng::new(seed);
    let mut c = random_i8_case(&mut rng, depthwise);
    let k = s.taps() * if depthwise { 1 } else { s.in_c };
    c.x = rng.i8s(s.in_h * s.in_w * s.in_c, false);
    c.w = rng.i8s(s.out_c * k, false);
    c.bias = Some(
        (0..s.out_c)
            .map(|_| rng.range(-5000, 5000) as i32)
            .collect(),
    );
    c.rq = (0..s.out_c)
        .flat_map(|_| {
            let r = random_requant(&mut rng, k);
            [r.multiplier, r.shift]
        })
        .collect();
    c.residual = None;
    c.shape = s;
    c
}

/// The named int8 shapes: (label, shape, depthwise).
fn named_i8_shapes() -> Vec<(&'static str, ConvShape, bool)> {
    let sh = |size, n, k, st, d, p| shape(size, n, k, st, d, p).unwrap();
    vec![
        ("fc k=5 n=3", ConvShape::gemm(3, 5, 3), false),
        ("fc k=64 n=17", ConvShape::gemm(1, 64, 17), false),
        ("fc m=9 k=7 n=33", ConvShape::gemm(9, 7, 33), false),
        (
            "1x1 k=16 n=16 7x3",
            sh((7, 3, 16), 16, [1, 1], [1, 1], [1, 1], [0; 4]),
            false,
        ),
        (
            "1x1 c=8 n=40 48x48 (VNNI flipped input: 4 KiB blocks of 512 pixels, then 256)",
            sh((48, 48, 8), 40, [1, 1], [1, 1], [1, 1], [0; 4]),
            false,
        ),
        (
            "1x1 c=256 n=48 5x7 (VNNI flipped input: blocks of 16 pixels, then 3)",
            sh((5, 7, 256), 48, [1, 1], [1, 1], [1, 1], [0; 4]),
            false,
        ),
        (
            "1x1 c=5 n=40 5x7 (panel pair, odd panel, quad tail, last tile of 3)",
            sh((5, 7, 5), 40, [1, 1], [1, 1], [1, 1], [0; 4]),
            false,
        ),
        (
            "3x3 c=9 n=48 (panel pair and one more, quad tail)",
            sh((6, 5, 9), 48, [3, 3], [1, 1], [1, 1], [1; 4]),
            false,
        ),
        (
            "1x1 s2",
            sh((9, 9, 8), 24, [1, 1], [2, 2], [1, 1], [0; 4]),
            false,
        ),
        (
            "3x3 pad all sides",
            sh((5, 6, 5), 20, [3, 3], [1, 1], [1, 1], [1, 2, 2, 1]),
            false,
        ),
        (
            "3x3 s2",
            sh((9, 8, 16), 32, [3, 3], [2, 2], [1, 1], [1, 1, 1, 1]),
            false,
        ),
        (
            "3x3 dilation 2",
            sh((9, 9, 6), 8, [3, 3], [1, 1], [2, 2], [2, 2, 2, 2]),
            false,
        ),
        (
            "1-pixel image 3x3 pad 1",
            sh((1, 1, 7), 9, [3, 3], [1, 1], [1, 1], [1; 4]),
            false,
        ),
        (
            "rgb first layer 3x3 s2",
            sh((12, 12, 3), 16, [3, 3], [2, 2], [1, 1], [0, 0, 1, 1]),
            false,
        ),
        (
            "kws first layer 10x4 s2 c=1",
            sh((49, 10, 1), 64, [10, 4], [2, 2], [1, 1], [4, 1, 5, 1]),
            false,
        ),
        (
            "flat kernel rows c=1 kw=8, pads on all sides, 2 panels + tail",
            sh((7, 11, 1), 40, [3, 8], [1, 1], [1, 1], [1, 3, 2, 4]),
            false,
        ),
        (
            "flat kernel rows c=2 kw=2 s1 pad all sides",
            sh((6, 5, 2), 17, [4, 2], [1, 1], [1, 1], [2, 1, 1, 1]),
            false,
        ),
        (
            "flat kernel rows c=3 kw=4 s2x3, image narrower than the kernel",
            sh((5, 3, 3), 16, [2, 4], [2, 3], [1, 1], [0, 1, 1, 2]),
            false,
        ),
        (
            "flat c=1 kw=4 dilation 2 across (gathered, not kernel rows)",
            sh((9, 12, 1), 16, [3, 4], [1, 1], [1, 2], [1, 2, 1, 2]),
            false,
        ),
        (
            "c=2 5x5",
            sh((7, 7, 2), 5, [5, 5], [1, 1], [1, 1], [2; 4]),
            false,
        ),
        (
            "c=2, 72 taps (not flat, chunked)",
            sh((10, 9, 2), 6, [9, 8], [1, 1], [1, 1], [4, 3, 4, 4]),
            false,
        ),
        (
            "c=3, 64 taps (flat, largest)",
            sh((9, 9, 3), 17, [8, 8], [1, 1], [1, 1], [3, 4, 4, 3]),
            false,
        ),
        (
            "72 taps (chunked)",
            sh((10, 9, 5), 18, [9, 8], [1, 1], [1, 1], [4, 3, 4, 4]),
            false,
        ),
        (
            "all padding",
            sh((2, 2, 4), 4, [3, 3], [1, 1], [1, 1], [3, 3, 3, 3]),
            false,
        ),
        (
            "3x3 c=113 (taps·⌈C/4⌉·4 = 1044: rows read in place, not copied)",
            sh((4, 5, 113), 20, [3, 3], [1, 1], [1, 1], [1; 4]),
            false,
        ),
        (
            "3x3 c=112 s2 (taps·C = 1008: copied rows, padding)",
            sh((5, 17, 112), 18, [3, 3], [2, 2], [1, 1], [1; 4]),
            false,
        ),
        (
            "1x1 c=1027 (above the copied rows' limit)",
            sh((3, 4, 1027), 17, [1, 1], [1, 1], [1, 1], [0; 4]),
            false,
        ),
        (
            "1x1 c=1021 n=33 (copied rows, quad tail, last tile of 4)",
            sh((3, 4, 1021), 33, [1, 1], [1, 1], [1, 1], [0; 4]),
            false,
        ),
        (
            "1d conv k5",
            sh((1, 64, 3), 8, [1, 5], [1, 1], [1, 1], [0, 2, 0, 2]),
            false,
        ),
        (
            "dw 3x3 s1 c=64",
            sh((6, 5, 64), 64, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 s2 c=48",
            sh((9, 9, 48), 48, [3, 3], [2, 2], [1, 1], [0, 0, 1, 1]),
            true,
        ),
        (
            "dw 5x5 s1 c=20",
            sh((8, 8, 20), 20, [5, 5], [1, 1], [1, 1], [2; 4]),
            true,
        ),
        (
            "dw 5x5 s2 c=33",
            sh((11, 10, 33), 33, [5, 5], [2, 2], [1, 1], [2; 4]),
            true,
        ),
        (
            "dw 3x3 dilation 2",
            sh((9, 9, 16), 16, [3, 3], [1, 1], [2, 2], [2; 4]),
            true,
        ),
        (
            "dw 2x4 generic c=1",
            sh((6, 7, 1), 1, [2, 4], [1, 2], [1, 1], [1, 1, 0, 2]),
            true,
        ),
        (
            "dw 7x7 c=17",
            sh((9, 9, 17), 17, [7, 7], [1, 1], [1, 1], [3; 4]),
            true,
        ),
        (
            "dw 1-pixel",
            sh((1, 1, 5), 5, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 no pad",
            sh((4, 4, 32), 32, [3, 3], [1, 1], [1, 1], [0; 4]),
            true,
        ),
        // Border-heavy maps: the unrolled kernels' zero-point-padded border pixels.
        (
            "dw 3x3 kws 25x5 c=64",
            sh((25, 5, 64), 64, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 s2 c=24 odd map, uneven pads",
            sh((7, 5, 24), 24, [3, 3], [2, 2], [1, 1], [0, 1, 1, 0]),
            true,
        ),
        (
            "dw 3x3 c=8 2x3 map",
            sh((2, 3, 8), 8, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 5x5 s2 c=7 3x4 map",
            sh((3, 4, 7), 7, [5, 5], [2, 2], [1, 1], [2, 2, 1, 2]),
            true,
        ),
        (
            "dw 5x5 c=40 all border",
            sh((4, 4, 40), 40, [5, 5], [1, 1], [1, 1], [2; 4]),
            true,
        ),
        (
            "dw 3x3 all padding",
            sh((2, 2, 16), 16, [3, 3], [1, 1], [1, 1], [3; 4]),
            true,
        ),
        // 8 channels, stride 1: interior pixels in pairs (runs of 1 to 9 pixels).
        (
            "dw 3x3 c=8 pairs 12x11",
            sh((12, 11, 8), 8, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 c=8 pairs, no pad, odd runs",
            sh((5, 10, 8), 8, [3, 3], [1, 1], [1, 1], [0; 4]),
            true,
        ),
        (
            "dw 5x5 c=8 pairs 9x14",
            sh((9, 14, 8), 8, [5, 5], [1, 1], [1, 1], [2, 1, 2, 2]),
            true,
        ),
        (
            "dw 3x3 c=8 pairs, dilation 2",
            sh((8, 13, 8), 8, [3, 3], [1, 1], [2, 2], [2; 4]),
            true,
        ),
        (
            "dw 3x3 c=8 stride 2 (no pairs)",
            sh((9, 9, 8), 8, [3, 3], [2, 2], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 c=64 25x5 (KWS; AVX-512: the padded band)",
            sh((25, 5, 64), 64, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 c=8 47x47 pairs, odd width (AVX-512: 8-byte pixels)",
            sh((47, 47, 8), 8, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 stride 2 c=48 24x24, pads 0/1 (MobileNetV2)",
            sh((24, 24, 48), 48, [3, 3], [2, 2], [1, 1], [0, 0, 1, 1]),
            true,
        ),
        (
            "dw 3x3 c=336 3x3 (all border)",
            sh((3, 3, 336), 336, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 5x5 stride 2 c=24 11x9, pads 2/1",
            sh((11, 9, 24), 24, [5, 5], [2, 2], [1, 1], [2, 2, 1, 1]),
            true,
        ),
        (
            "dw 3x3 c=16 40x100 (AVX-512: several bands)",
            sh((40, 100, 16), 16, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 stride 2/1 c=24 41x100 (AVX-512: several bands)",
            sh((41, 100, 24), 24, [3, 3], [2, 1], [1, 1], [1, 1, 0, 0]),
            true,
        ),
        (
            "dw 3x3 c=16 2x400 (AVX-512: rows wider than the band buffer)",
            sh((2, 400, 16), 16, [3, 3], [1, 1], [1, 1], [1; 4]),
            true,
        ),
        (
            "dw 3x3 dilation 2 c=9 small map",
            sh((4, 5, 9), 9, [3, 3], [1, 1], [2, 2], [2; 4]),
            true,
        ),
    ]
}

/// A depthwise case of the common shapes (the AVX-512 kernel of
/// `x86_avx512/dw.rs`): 3×3 or 5×5, dilation 1, strides 1 and 2, the channel
/// counts of the models (8: pixel pairs; tails of 1..15), maps from 1×1 to 25×9,
/// asymmetric pads, extreme input zero points and data, every fifth case the
/// extreme requantization (shifts 0 and −31, multipliers `i32::MIN`, wrapping
/// biases), both header forms (`check`).
fn dw_common_case(rng: &mut Rng, i: usize) -> I8Case {
    let s = loop {
        let k = [3, 5][rng.usize(0, 1)];
        let c = [1, 3, 8, 9, 16, 24, 40, 48, 64, 144][rng.usize(0, 9)];
        let stride = [rng.usize(1, 2), rng.usize(1, 2)];
        let pads = [0; 4].map(|_| rng.usize(0, k - 1));
        let size = (rng.usize(1, 25), rng.usize(1, 9), c);
        if let Some(s) = shape(size, c, [k, k], stride, [1, 1], pads) {
            if s.out_h * s.out_w > 0 {
                break s;
            }
        }
    };
    let mut c = i8_case(s, true, 500 + i as u64);
    let extreme = rng.chance(25);
    c.x = rng.i8s(s.in_h * s.in_w * s.in_c, extreme);
    c.w = rng.i8s(s.in_c * s.taps(), extreme);
    c.x_zp = match i % 4 {
        0 => -128,
        1 => 127,
        _ => rng.range(-128, 127) as i32,
    };
    if i % 5 == 4 {
        let rq = [(i32::MIN, 0), (i32::MAX, -31), (1 << 30, 5), (i32::MIN, -1)];
        c.rq = (0..s.in_c)
            .flat_map(|j| {
                let (m, e) = rq[(j + i) % 4];
                [m, e]
            })
            .collect();
        c.bias = Some(
            (0..s.in_c)
                .map(|j| [i32::MAX, i32::MIN, 7, -7][j % 4])
                .collect(),
        );
    }
    c
}

/// A depthwise case of the AVX-512 kernel's requantization forms and bands
/// (`x86_avx512/dw.rs`): the offset form with four vectors narrowed together (`C`
/// a multiple of 16, the 8-channel pairs, rows of 4+ vectors) and its fallbacks
/// (a multiplier of exactly `2^30`, biases just past `±2^29`, channel tails);
/// `C` 1..70, widths 1..33, strides 1 and 2, asymmetric pads, maps tall enough
/// that several channel tiles split into bands (24 KiB of input rows), input zero
/// points −128 and 127, output zero points and clamps at the ends of the range.
fn dw_rq_band_case(rng: &mut Rng, i: usize) -> I8Case {
    let s = loop {
        let k = if i % 8 == 7 { 5 } else { 3 };
        let c = [1, 2, 7, 8, 15, 16, 17, 24, 32, 33, 47, 48, 49, 64, 70, 96][i % 16];
        let stride = [rng.usize(1, 2), rng.usize(1, 2)];
        let pads = [0; 4].map(|_| rng.usize(0, k - 1));
        let h = if i % 3 == 0 {
            rng.usize(30, 60)
        } else {
            rng.usize(1, 20)
        };
        if let Some(s) = shape((h, rng.usize(1, 33), c), c, [k, k], stride, [1, 1], pads) {
            if s.out_h * s.out_w > 0 {
                break s;
            }
        }
    };
    let mut c = i8_case(s, true, 700 + i as u64);
    let extreme = rng.chance(25);
    c.x = rng.i8s(s.in_h * s.in_w * s.in_c, extreme);
    c.w = rng.i8s(s.in_c * s.taps(), extreme);
    c.x_zp = [-128, 127, rng.range(-128, 127) as i32][i % 3];
    c.out_zp = [-128, 127, rng.range(-128, 127) as i32][(i / 3) % 3];
    c.act = match i % 5 {
        0 => (-128, 127),
        1 => (c.out_zp, 127),
        2 => (-140, 140),
        3 => (5, 5),
        _ => (rng.range(-140, 140) as i32, rng.range(-140, 140) as i32),
    };
    let b = 1 << 29;
    let odd = i % 6 == 5;
    c.rq = (0..s.in_c)
        .flat_map(|j| {
            let m = match (odd && j % 7 == 3, j % 5) {
                (true, _) => 1 << 30,
                (_, 0) => (1 << 30) + 1,
                (_, 1) => i32::MAX,
                _ => rng.range((1 << 30) + 1, i32::MAX as i64) as i32,
            };
            [m, -(rng.range(1, 16) as i32)]
        })
        .collect();
    c.bias = Some(
        (0..s.in_c)
            .map(|j| match (i % 4, j % 4) {
                (3, 0) => b,
                (3, 1) => -b,
                (3, 2) if odd => b + 1,
                (3, 3) if odd => -b - 1,
                _ => rng.range(-(1 << 20), 1 << 20) as i32,
            })
            .collect(),
    );
    c
}

/// A k×k conv (the AVX-512 VNNI kernel of `x86_avx512/conv16.rs`): ResNet-8's
/// 16→16 3×3 over 32×32 (every eighth case, with and without the residual Add) and
/// over 48×40 (two input bands), its 16→32 stride-2 and 32→32 3×3 over 16×16, the
/// sensor 1D-CNN's 8→16 1×5, and random kernels up to 5×5 with `C` 1..24 (tails of
/// quads), `N` 1..40 (one to three panels, channel tails), strides 1 and 2,
/// asymmetric pads, extreme input zero points and data, a residual Add in a third,
/// every fifth case the extreme requantization; both header forms (`check`).
fn conv16_case(rng: &mut Rng, i: usize) -> I8Case {
    let s = match i % 8 {
        0 if i % 16 == 0 => shape((32, 32, 16), 16, [3, 3], [1, 1], [1, 1], [1; 4]),
        0 => shape((48, 40, 16), 16, [3, 3], [1, 1], [1, 1], [1; 4]),
        1 => shape((1, 32, 8), 16, [1, 5], [1, 1], [1, 1], [0, 2, 0, 2]),
        2 if i % 16 == 2 => shape((32, 32, 16), 32, [3, 3], [2, 2], [1, 1], [0, 0, 1, 1]),
        2 => shape((16, 16, 32), 32, [3, 3], [1, 1], [1, 1], [1; 4]),
        _ => loop {
            let k = [[3, 3], [1, 5], [5, 5], [2, 3], [3, 1], [1, 3]][rng.usize(0, 5)];
            let c = [rng.usize(1, 24), 4, 8, 16][rng.usize(0, 3)];
            let n = [rng.usize(1, 16), 8, 16, rng.usize(17, 40), 32][rng.usize(0, 4)];
            let stride = [rng.usize(1, 2), rng.usize(1, 2)];
            let pads = [0, 1, 0, 1].map(|j| rng.usize(0, k[j] - 1));
            let size = (rng.usize(1, 12), rng.usize(1, 20), c);
            if let Some(s) = shape(size, n, k, stride, [1, 1], pads) {
                if s.out_h * s.out_w > 0 {
                    break Some(s);
                }
            }
        },
    }
    .unwrap();
    conv16_operands(rng, s, i)
}

/// The x86 conv16 kernel's small stack band: its bytes (`SMALL` in
/// `x86_avx512/conv16.rs`), and the bytes of a shape's whole padded input band
/// (`(oh − 1)·sh + kh` rows of `(ow − 1)·sw + kw` pixels of `⌈C/4⌉·4` bytes).
const CONV16_SMALL: usize = 2048;

fn conv16_band(s: &ConvShape) -> usize {
    let rows = (s.out_h - 1) * s.stride[0] + s.kernel[0];
    let cols = (s.out_w - 1) * s.stride[1] + s.kernel[1];
    rows * cols * s.in_c.div_ceil(4) * 4
}

/// Shapes whose whole padded band is just under, at and just over
/// [`CONV16_SMALL`] (the small band's bound), and small ones: 1-row convs (the
/// sensor's 1×5) over widths around the bound, 3×3 and 2×3 ones over heights; pads
/// `0..k`, strides 1 and 2, `C` a multiple of 4 or not.
fn conv16_small_band_shapes() -> Vec<ConvShape> {
    let mut v = Vec::new();
    for (c, stride, pl) in [(8, 1, 2), (8, 2, 0), (6, 1, 1), (4, 1, 4), (13, 2, 3)] {
        let c4 = usize::div_ceil(c, 4) * 4;
        // `cols·c4` bytes: widths with `cols` around `SMALL / c4`.
        let bound = CONV16_SMALL / c4;
        for cols in [5, 36, bound - 1, bound, bound + 1, bound + 2] {
            // Padded to `cols` pixels (the band's, for stride 1).
            let iw = cols - pl - 1;
            if let Some(s) = shape((1, iw, c), 16, [1, 5], [1, stride], [1, 1], [0, pl, 0, 1]) {
                v.push(s);
            }
        }
    }
    for (k, c, stride, p) in [([3, 3], 16, 1, 1), ([3, 3], 5, 2, 0), ([2, 3], 8, 1, 2)] {
        for ih in 1..12 {
            for iw in [5, 7, 9] {
                let pads = [p.min(k[0] - 1), p, 0, p.min(2)];
                if let Some(s) = shape((ih, iw, c), 24, k, [stride; 2], [1, 1], pads) {
                    v.push(s);
                }
            }
        }
    }
    v.retain(|s| s.out_h * s.out_w > 0);
    v
}

/// [`conv16_case`]'s operands for shape `s` (case `i`: the zero point's extremes, a
/// residual Add in every third case, extreme requantizations in every fifth).
fn conv16_operands(rng: &mut Rng, s: ConvShape, i: usize) -> I8Case {
    let mut c = i8_case(s, false, 900 + i as u64);
    let extreme = rng.chance(25);
    c.x = rng.i8s(s.in_h * s.in_w * s.in_c, extreme);
    c.w = rng.i8s(s.out_c * s.in_c * s.taps(), extreme);
    c.x_zp = match i % 4 {
        0 => -128,
        1 => 127,
        _ => rng.range(-128, 127) as i32,
    };
    if i % 3 == 0 {
        c.residual = Some(random_residual(rng, out_len(&s)));
    }
    if i % 5 == 4 {
        let rq = [(i32::MIN, 0), (i32::MAX, -31), (1 << 30, 5), (i32::MIN, -1)];
        c.rq = (0..s.out_c)
            .flat_map(|j| {
                let (m, e) = rq[(j + i) % 4];
                [m, e]
            })
            .collect();
        c.bias = Some(
            (0..s.out_c)
                .map(|j| [i32::MAX, i32::MIN, 7, -7][j % 4])
                .collect(),
        );
    }
    c
}

/// Named int8 cases beyond the shapes: the arithmetic corners.
fn named_i8_cases() -> Vec<(&'static str, I8Case)> {
    let mut v = Vec::new();
    let base = |s: ConvShape, dw: bool, seed: u64| i8_case(s, dw, seed);
    // Sums that vpmaddubsw (u8·s8 pairs in i16) would saturate: x = 127 (u8 255)
    // against weights 127 and −128, K = 9·512.
    let s = shape((3, 3, 512), 16, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
    let mut c = base(s, false, 11);
    c.x.iter_mut().for_each(|x| *x = 127);
    c.w.iter_mut()
        .enumerate()
        .for_each(|(i, w)| *w = if i % 3 == 0 { -128 } else { 127 });
    c.x_zp = -128;
    v.push(("saturating pairs, K = 4608, x_zp = -128", c));
    // Accumulators that wrap: K = 70 000 products of 255·(−128).
    let s = ConvShape::gemm(2, 70_000, 3);
    let mut c = base(s, false, 12);
    c.x.iter_mut().for_each(|x| *x = 127);
    c.w.iter_mut().for_each(|w| *w = -128);
    c.x_zp = -128;
    c.bias = Some(vec![i32::MAX, i32::MIN, 12345]);
    v.push(("wrapping accumulators", c));
    // Zero points at the ends, every activation range.
    for (i, zp) in [-128, 127].into_iter().enumerate() {
        let s = shape((5, 5, 7), 19, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
        let mut c = base(s, false, 13 + i as u64);
        c.x_zp = zp;
        c.out_zp = -zp - 1;
        v.push(("zero points at -128 / 127", c.clone()));
        c.shape = shape((5, 5, 19), 19, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
        c.depthwise = true;
        c.x = Rng::new(99).i8s(5 * 5 * 19, true);
        c.w = Rng::new(98).i8s(19 * 9, true);
        v.push(("dw zero points at -128 / 127", c.clone()));
        // Padding taps weigh x_zp·w on the folded bias: extreme zero points, weights
        // and wrapping biases on a map that is all border.
        c.shape = shape((3, 2, 19), 19, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
        c.x = Rng::new(97).i8s(3 * 2 * 19, true);
        c.w.iter_mut()
            .enumerate()
            .for_each(|(i, w)| *w = if i % 2 == 0 { -128 } else { 127 });
        c.bias = Some(
            (0..19)
                .map(|j| [i32::MAX, i32::MIN, i32::MAX - 100, 7][j % 4])
                .collect(),
        );
        v.push(("dw border, extreme zero points, wrapping bias", c));
    }
    // 8-channel pixel pairs storing through the fused residual Add.
    let s = shape((6, 9, 8), 8, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
    let mut c = base(s, true, 60);
    let q = (0..)
        .find_map(|seed| random_i8_case(&mut Rng::new(seed), true).residual)
        .map(|(_, q)| q)
        .unwrap();
    c.residual = Some((Rng::new(61).i8s(out_len(&s), false), q));
    v.push(("dw c=8 pairs with a residual Add", c));
    // Extreme multipliers and shifts, per channel (every corner of MBQM).
    let multipliers = [
        0,
        1,
        -1,
        1 << 30,
        i32::MAX,
        i32::MIN,
        -(1 << 30),
        1_518_500_250,
    ];
    let shifts = [-40, -31, -30, -16, -1, 0, 1, 7, 30, 31, 40];
    for (i, dw) in [false, true].into_iter().enumerate() {
        let n = multipliers.len() * shifts.len();
        let s = if dw {
            shape((3, 3, n), n, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap()
        } else {
            shape((3, 3, 6), n, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap()
        };
        let mut c = base(s, dw, 20 + i as u64);
        c.rq = multipliers
            .iter()
            .flat_map(|&m| shifts.iter().flat_map(move |&s| [m, s]))
            .collect();
        c.bias = Some(
            (0..n)
                .map(|j| [0, i32::MAX, i32::MIN, -77][j % 4])
                .collect(),
        );
        v.push(("extreme multipliers and shifts", c));
    }
    // The one saturating doubling high multiply, a = m = i32::MIN: zero weights and
    // bias i32::MIN make acc + bias = i32::MIN exactly; with a right shift the
    // saturated MAX and the unsaturated MIN give different bytes.
    for (i, dw) in [false, true].into_iter().enumerate() {
        let s = shape((3, 3, 16), 16, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
        let mut c = base(s, dw, 50 + i as u64);
        c.w.iter_mut().for_each(|w| *w = 0);
        c.bias = Some(vec![i32::MIN; 16]);
        c.rq = (0..16)
            .flat_map(|j| [i32::MIN, [0, -1, -5, -31][j % 4]])
            .collect();
        c.out_zp = 0;
        c.act = (-128, 127);
        v.push(("srdhm saturation (a = m = i32::MIN)", c));
    }
    // ... and inside the residual Add: (t - a_zp) << 31 is i32::MIN for odd
    // differences, times a multiplier i32::MIN.
    let s = shape((4, 4, 16), 16, [1, 1], [1, 1], [1, 1], [0; 4]).unwrap();
    let mut c = base(s, false, 52);
    c.residual = Some((
        Rng::new(53).i8s(out_len(&s), false),
        QBinary {
            a_zero_point: 0,
            b_zero_point: 0,
            out_zero_point: 0,
            left_shift: 31,
            a: Requant {
                multiplier: i32::MIN,
                shift: 0,
            },
            b: Requant {
                multiplier: 1 << 30,
                shift: -31,
            },
            out: Requant {
                multiplier: 1 << 30,
                shift: -25,
            },
            act_min: -128,
            act_max: 127,
        },
    ));
    v.push(("srdhm saturation in the residual add", c));
    // Per-tensor requantization; empty and inverted activation ranges.
    for (i, act) in [(-128, 127), (5, 5), (10, -10), (-300, -200), (200, 300)]
        .into_iter()
        .enumerate()
    {
        let s = shape((4, 4, 9), 21, [2, 2], [1, 1], [1, 1], [0, 0, 1, 1]).unwrap();
        let mut c = base(s, false, 30 + i as u64);
        c.rq.truncate(2);
        c.act = act;
        v.push(("per-tensor rq, activation ranges", c));
    }
    // Fused residual Add, including extreme Add parameters.
    for (i, dw) in [false, true, false].into_iter().enumerate() {
        let s = shape((6, 6, 16), 16, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
        let mut c = base(s, dw, 40 + i as u64);
        let r = Rng::new(41).i8s(out_len(&s), true);
        let mut q = QBinary {
            a_zero_point: -3,
            b_zero_point: 7,
            out_zero_point: -1,
            left_shift: 20,
            a: Requant {
                multiplier: 1_518_500_250,
                shift: -21,
            },
            b: Requant {
                multiplier: 1 << 30,
                shift: -20,
            },
            out: Requant {
                multiplier: 1_900_000_000,
                shift: 0,
            },
            act_min: -1,
            act_max: 127,
        };
        if i == 2 {
            q.left_shift = 40;
            q.a = Requant {
                multiplier: i32::MIN,
                shift: 35,
            };
            q.b = Requant {
                multiplier: i32::MAX,
                shift: -40,
            };
            q.a_zero_point = 127;
            q.b_zero_point = -128;
            q.act_min = 10;
            q.act_max = -10;
        }
        c.residual = Some((r, q));
        v.push(("fused residual add", c));
    }
    // 8-output 1×1 convs (AVX-512 VNNI: two pixels per vector in the epilogue): K 5
    // to 48, pixel counts odd and not multiples of the tile, with and without a
    // residual Add (random Add parameters), Wide and Compact headers.
    let shapes = [
        ((7, 5), 8),
        ((1, 1), 16),
        ((3, 3), 24),
        ((24, 24), 48),
        ((6, 7), 12),
        ((5, 3), 5),
        ((4, 4), 16),
        ((2, 3), 32),
        ((13, 3), 48),
    ];
    for (i, ((h, w), k)) in shapes.into_iter().enumerate() {
        let s = shape((h, w, k), 8, [1, 1], [1, 1], [1, 1], [0; 4]).unwrap();
        let mut c = base(s, false, 70 + i as u64);
        v.push(("1x1 n=8", c.clone()));
        let q = (100 * i as u64..)
            .find_map(|seed| random_i8_case(&mut Rng::new(seed), false).residual)
            .map(|(_, q)| q)
            .unwrap();
        c.residual = Some((Rng::new(80 + i as u64).i8s(out_len(&s), i % 2 == 0), q));
        v.push(("1x1 n=8 with a residual Add", c));
    }
    // 1×1 convs with a residual Add whose requantizations have AVX-512's forms
    // without branches (no left shift, an output right shift of 1 to 22): whole
    // tiles, a last partial tile, one panel, a pair, a pair and one more.
    for (i, n) in [8, 16, 24, 40, 48].into_iter().enumerate() {
        let s = shape((5, 6, 48), n, [1, 1], [1, 1], [1, 1], [0; 4]).unwrap();
        let mut c = base(s, false, 90 + i as u64);
        c.x = Rng::new(91).i8s(5 * 6 * 48, true);
        let q = QBinary {
            a_zero_point: [-3, 127, -128][i % 3],
            b_zero_point: [7, -128, 127][i % 3],
            out_zero_point: [-1, 100, -128][i % 3],
            left_shift: 20,
            a: Requant {
                multiplier: 1_518_500_250,
                shift: [-1, -12, 0][i % 3],
            },
            b: Requant {
                multiplier: 1 << 30,
                shift: [-2, 0, -9][i % 3],
            },
            out: Requant {
                multiplier: 1_900_000_000,
                shift: [-18, -1, -22][i % 3],
            },
            act_min: -128,
            act_max: [127, 90, 127][i % 3],
        };
        c.residual = Some((Rng::new(92).i8s(out_len(&s), true), q));
        v.push(("1x1 with a residual Add (short forms)", c));
    }
    // Dense 1×1 convs in AVX-512 VNNI's offset form (every multiplier of a panel
    // above 2^30, |bias_u8| <= 2^29, the output shift's short form): K = 8 to 48,
    // 16 to 48 outputs (a last half panel), biases and multipliers at the form's
    // bounds and beyond them (the other form), shifts −1 and −22 (and −23: not the
    // short form), extreme inputs and zero points, pixel counts off the tile.
    for (i, ((h, w), k, n)) in [
        ((7, 5), 8, 48),
        ((4, 4), 8, 16),
        ((3, 5), 16, 24),
        ((5, 6), 48, 40),
        ((2, 9), 12, 32),
        ((6, 4), 24, 48),
    ]
    .into_iter()
    .enumerate()
    {
        let s = shape((h, w, k), n, [1, 1], [1, 1], [1, 1], [0; 4]).unwrap();
        let mut c = base(s, false, 130 + i as u64);
        c.x = Rng::new(131 + i as u64).i8s(h * w * k, i % 2 == 0);
        c.w = Rng::new(137 + i as u64).i8s(n * k, i % 3 == 0);
        c.x_zp = [-128, 127, 5][i % 3];
        c.out_zp = [127, -128, -7][i % 3];
        c.act = [(-128, 127), (-140, 140), (0, 127)][i % 3];
        let b = 1 << 29;
        let biases = [b, -b, b - 77_000, -b + 90_000, b + 1, 3, -b - 1, 0];
        c.bias = Some(
            (0..n)
                .map(|j| biases[(j + i) % biases.len()] / [1, 2][(j / 16 + i) % 2])
                .collect(),
        );
        let multipliers = [(1 << 30) + 1, i32::MAX, 1 << 30, 1_518_500_250];
        let shifts = [-1, -22, -9, -23];
        c.rq = (0..n)
            .flat_map(|j| {
                // Panel 0 inside the form for every lane, the others mixed.
                let (mi, si) = if j < 16 {
                    ((j + i) % 2 * 3, (j + i) % 3)
                } else {
                    (j + i, j / 3 + i)
                };
                [multipliers[mi % 4], shifts[si % 4]]
            })
            .collect();
        v.push(("1x1 offset form (bounds of the bias, multiplier, shift)", c));
    }
    // Activation ranges beyond i8, inverted, ReLU6-like, on whole tiles of a dense
    // 1×1 conv (AVX-512 VNNI clamps after narrowing to bytes).
    for (i, act) in [(-140, 140), (10, -10), (-128, 127), (-20, 60), (130, 200)]
        .into_iter()
        .enumerate()
    {
        let s = shape((4, 5, 16), 40, [1, 1], [1, 1], [1, 1], [0; 4]).unwrap();
        let mut c = base(s, false, 110 + i as u64);
        c.x = Rng::new(111).i8s(4 * 5 * 16, true);
        c.act = act;
        v.push(("1x1 activation ranges (clamp after narrowing)", c));
    }
    // Dense 1×1 convs of 16, 32, 48 or 64 outputs whose panels are all in the offset
    // form (AVX-512 VNNI: every panel at once, four vectors narrowed together, 64-byte
    // stores): K = 4 to 64, one pixel to 48×48 (flip blocks of 512 pixels for K = 8,
    // one more, one fewer), tiles' last pixels, the form's bounds (bias ±2^29,
    // multipliers 2^30 + 1 and i32::MAX, shifts −1 and −22), zero points −128 and
    // 127, activation ranges beyond i8, inverted and narrow; with a residual Add (the
    // other instance), and with one lane outside the form (every panel the short form).
    for (i, ((h, w), k, n)) in [
        ((48, 48), 8, 48),
        ((1, 1), 8, 48),
        ((1, 5), 4, 16),
        ((3, 3), 16, 32),
        ((17, 31), 24, 64),
        ((8, 64), 8, 48),
        ((1, 513), 8, 48),
        ((1, 511), 8, 16),
        ((7, 7), 12, 48),
        ((2, 3), 32, 64),
        ((5, 5), 64, 16),
        ((3, 1), 16, 48),
        ((1, 7), 8, 32),
        ((24, 24), 8, 48),
    ]
    .into_iter()
    .enumerate()
    {
        let s = shape((h, w, k), n, [1, 1], [1, 1], [1, 1], [0; 4]).unwrap();
        let mut c = base(s, false, 150 + i as u64);
        c.x = Rng::new(151 + i as u64).i8s(h * w * k, i % 2 == 0);
        c.w = Rng::new(152 + i as u64).i8s(n * k, i % 3 == 0);
        c.x_zp = [-128, 127, 3][i % 3];
        c.out_zp = [127, -128, -5, 0][i % 4];
        c.act = [(-128, 127), (-140, 140), (0, 127), (10, -10), (-20, 60)][i % 5];
        let b = 1 << 29;
        let biases = [b, -b, 1234, -b + 1, b - 1, 0, -77];
        c.bias = Some((0..n).map(|j| biases[(j + i) % biases.len()]).collect());
        let multipliers = [(1 << 30) + 1, i32::MAX, 1_518_500_250, 1_900_000_000];
        let shifts = [-1, -22, -9, -5, -14];
        c.rq = (0..n)
            .flat_map(|j| [multipliers[(j + i) % 4], shifts[(j / 3 + i) % 5]])
            .collect();
        v.push((
            "1x1 packed stores (all panels in the offset form)",
            c.clone(),
        ));
        if i % 3 == 0 {
            let mut c = c.clone();
            // The last output's shift outside the short form.
            let last = c.rq.len() - 1;
            c.rq[last] = -23;
            v.push(("1x1 packed stores' shape, one lane outside the form", c));
        }
        if i % 4 == 1 {
            let q = (200 * i as u64..)
                .find_map(|seed| random_i8_case(&mut Rng::new(seed), false).residual)
                .map(|(_, q)| q)
                .unwrap();
            c.residual = Some((Rng::new(153 + i as u64).i8s(out_len(&s), true), q));
            v.push(("1x1 packed stores' shape with a residual Add", c));
        }
    }
    v
}

// ---------------------------------------------------------------- f32 cases

#[derive(Clone, Debug)]
struct F32Case {
    shape: ConvShape,
    depthwise: bool,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Option<Vec<f32>>,
    act: (f32, f32),
    residual: Option<Vec<f32>>,
}

fn random_f32_case(rng: &mut Rng, depthwise: bool) -> F32Case {
    let s = random_shape(rng, depthwise);
    f32_case_for(rng, s, depthwise)
}

fn f32_case_for(rng: &mut Rng, s: ConvShape, depthwise: bool) -> F32Case {
    let k = s.taps() * if depthwise { 1 } else { s.in_c };
    F32Case {
        shape: s,
        depthwise,
        x: (0..s.in_h * s.in_w * s.in_c).map(|_| rng.f32()).collect(),
        w: (0..s.out_c * k).map(|_| rng.f32()).collect(),
        bias: rng
            .chance(80)
            .then(|| (0..s.out_c).map(|_| rng.f32()).collect()),
        act: [
            (f32::NEG_INFINITY, f32::INFINITY),
            (0.0, f32::INFINITY),
            (0.0, 6.0),
            (-0.25, 0.25),
        ][rng.usize(0, 3)],
        residual: rng
            .chance(30)
            .then(|| (0..out_len(&s)).map(|_| rng.f32()).collect()),
    }
}

impl F32Case {
    /// Per output (NHWC): the exact value (f64) and `S = |b| + Σ|x·w| + |r|`.
    fn exact(&self) -> Vec<(f64, f64)> {
        let s = &self.shape;
        let mut out = Vec::with_capacity(out_len(s));
        let taps = s.taps();
        for oy in 0..s.out_h {
            for ox in 0..s.out_w {
                for m in 0..s.out_c {
                    let b = self.bias.as_ref().map_or(0.0, |b| f64::from(b[m]));
                    let (mut e, mut mag) = (b, b.abs());
                    for ky in 0..s.kernel[0] {
                        for kx in 0..s.kernel[1] {
                            let iy = (oy * s.stride[0] + ky * s.dilation[0]).checked_sub(s.pad[0]);
                            let ix = (ox * s.stride[1] + kx * s.dilation[1]).checked_sub(s.pad[1]);
                            let (Some(iy), Some(ix)) = (iy, ix) else {
                                continue;
                            };
                            if iy >= s.in_h || ix >= s.in_w {
                                continue;
                            }
                            let channels = if self.depthwise { m..m + 1 } else { 0..s.in_c };
                            for c in channels {
                                let xv = f64::from(self.x[(iy * s.in_w + ix) * s.in_c + c]);
                                let wi = if self.depthwise { m } else { m * s.in_c + c };
                                let wv = f64::from(self.w[wi * taps + ky * s.kernel[1] + kx]);
                                e += xv * wv;
                                mag += (xv * wv).abs();
                            }
                        }
                    }
                    if let Some(r) = &self.residual {
                        let rv = f64::from(r[(oy * s.out_w + ox) * s.out_c + m]);
                        e += rv;
                        mag += rv.abs();
                    }
                    out.push((e, mag));
                }
            }
        }
        out
    }

    fn run(&self, k: &Kernels) -> Vec<f32> {
        let s = &self.shape;
        let mut packed;
        if self.depthwise {
            packed = vec![f32::NAN; engine::f32_dwconv_packed_len(s.in_c, s.kernel).unwrap()];
            engine::pack_f32_dwconv(&self.w, self.bias.as_deref(), s.in_c, s.kernel, &mut packed)
                .unwrap();
        } else {
            packed =
                vec![f32::NAN; engine::f32_conv_packed_len(s.out_c, s.in_c, s.kernel).unwrap()];
            engine::pack_f32_conv(
                &self.w,
                self.bias.as_deref(),
                s.out_c,
                s.in_c,
                s.kernel,
                &mut packed,
            )
            .unwrap();
        }
        let mut y = vec![SENTINEL_F32; out_len(s) + TAIL];
        let out = F32Out {
            min: self.act.0,
            max: self.act.1,
            residual: self.residual.as_deref(),
        };
        let res = if self.depthwise {
            (k.f32_dwconv.run)(s, &self.x, &packed, &out, &mut y)
        } else {
            let mut scratch = vec![f32::NAN; conv_scratch_len(s).unwrap()];
            (k.f32_conv.run)(s, &self.x, &packed, &out, &mut y, &mut scratch)
        };
        res.unwrap_or_else(|e| panic!("{}: {e:?} on {s:?}", k.isa.name()));
        y
    }

    fn check(&self, k: &Kernels) {
        let got = self.run(k);
        let name = if self.depthwise {
            k.f32_dwconv.name
        } else {
            k.f32_conv.name
        };
        self.check_output(k, name, &got);
    }

    /// `got` (the output and its sentinel tail) against the f64 reference.
    fn check_output(&self, k: &Kernels, name: &str, got: &[f32]) {
        let s = &self.shape;
        let terms = s.taps() * if self.depthwise { 1 } else { s.in_c } + 2;
        let u = 2f64.powi(-24);
        let gamma = terms as f64 * u / (1.0 - terms as f64 * u);
        // The f64 reference's own rounding (terms additions at 2^-53).
        let gamma64 = terms as f64 * 2f64.powi(-53) * 1.01;
        let (lo, hi) = (f64::from(self.act.0), f64::from(self.act.1));
        for (i, ((e, mag), &g)) in self.exact().into_iter().zip(got).enumerate() {
            let want = if e < lo {
                lo
            } else if e > hi {
                hi
            } else {
                e
            };
            let bound = (gamma + gamma64) * mag + 1e-40;
            assert!(
                (f64::from(g) - want).abs() <= bound,
                "{} ({name}): output {i} = {g}, exact {want}, bound {bound:e}; shape {s:?}",
                k.isa.name(),
            );
        }
        assert!(
            got[out_len(s)..]
                .iter()
                .all(|&v| v.to_bits() == SENTINEL_F32.to_bits()),
            "{}: wrote past the output",
            k.isa.name()
        );
    }
}

// ------------------------------------------------- the NCHW-input conv (the stem)

impl F32Case {
    /// `engine::f32_conv_nchw` (on `isa`, or the dispatching function for `None`) on
    /// the NCHW image of `x`, checked against the f64 reference within the bound;
    /// `false` when `isa` is unavailable here.
    fn check_nchw(&self, isa: Option<Isa>) -> bool {
        let s = &self.shape;
        assert!(self.residual.is_none() && !self.depthwise);
        let x = nhwc_to_nchw(&self.x, s.in_h, s.in_w, s.in_c);
        let len = engine::f32_conv_packed_len(s.out_c, s.in_c, s.kernel).unwrap();
        let mut packed = vec![f32::NAN; len];
        let b = self.bias.as_deref();
        engine::pack_f32_conv(&self.w, b, s.out_c, s.in_c, s.kernel, &mut packed).unwrap();
        let mut y = vec![SENTINEL_F32; out_len(s) + TAIL];
        let out = F32Out {
            min: self.act.0,
            max: self.act.1,
            residual: None,
        };
        let mut scratch = vec![f32::NAN; engine::f32_conv_nchw_scratch_len(s).unwrap()];
        let (p, sc) = (&packed, &mut scratch);
        let res = match isa {
            Some(isa) => match engine::f32_conv_nchw_on(isa, s, &x, p, &out, &mut y, sc) {
                Some(r) => r,
                None => return false,
            },
            None => engine::f32_conv_nchw(s, &x, p, &out, &mut y, sc),
        };
        res.unwrap_or_else(|e| panic!("{e:?} on {s:?}"));
        let k = Kernels {
            isa: isa.unwrap_or(Isa::Portable),
            ..engine::kernels()
        };
        self.check_output(&k, "f32_conv_nchw", &y);
        // The ISAs without a kernel of their own transpose and run their NHWC conv:
        // the same bits as that conv on the NHWC image.
        if let Some(i) = isa.filter(|i| !matches!(i, Isa::Avx512 | Isa::Avx512Vnni)) {
            let nhwc = self.run(&i.kernels().unwrap());
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&y),
                bits(&nhwc),
                "{}: not the NHWC conv's bits on {s:?}",
                i.name()
            );
        }
        true
    }
}

/// First-layer shapes: the VWW, ResNet-8 and MobileNetV2 stems, then corners (7×7 and
/// 5×5 kernels, 1–4 channels, two panels, widths that are no multiple of 16).
fn nchw_shapes() -> Vec<ConvShape> {
    let s = |size, m, k: usize, st: usize, pads| {
        shape(size, m, [k, k], [st, st], [1, 1], pads).unwrap()
    };
    vec![
        s((96, 96, 3), 8, 3, 2, [0, 0, 1, 1]),
        s((96, 96, 3), 8, 3, 2, [1, 1, 1, 1]),
        s((32, 32, 3), 16, 3, 1, [1, 1, 1, 1]),
        s((96, 96, 3), 16, 3, 2, [1, 1, 1, 1]),
        s((19, 37, 4), 24, 7, 2, [3, 3, 3, 3]),
        s((9, 17, 1), 5, 5, 1, [2, 2, 2, 2]),
        s((5, 33, 2), 40, 5, 2, [0, 2, 1, 0]),
        s((3, 3, 3), 3, 3, 3, [1, 1, 1, 1]),
        s((1, 1, 1), 1, 1, 1, [0, 0, 0, 0]),
    ]
}

/// A random first-layer case: 1–4 channels, strides 1–3, dilation sometimes.
fn random_nchw_shape(rng: &mut Rng) -> ConvShape {
    loop {
        let k = [rng.usize(1, 7), rng.usize(1, 7)];
        let stride = [rng.usize(1, 3), rng.usize(1, 3)];
        let dilation = [
            1 + usize::from(rng.chance(15)),
            1 + usize::from(rng.chance(15)),
        ];
        let pads = [0, 1, 2, 3].map(|i| rng.usize(0, k[i % 2] - 1));
        let size = (rng.usize(1, 20), rng.usize(1, 70), rng.usize(1, 4));
        if let Some(s) = shape(size, rng.usize(1, 40), k, stride, dilation, pads) {
            if s.out_h * s.out_w > 0 {
                return s;
            }
        }
    }
}

fn check_nchw_suite(isa: Option<Isa>) {
    let mut rng = Rng::new(9);
    let shapes = nchw_shapes();
    let random = (0..cases(100))
        .map(|_| random_nchw_shape(&mut rng))
        .collect::<Vec<_>>();
    for s in shapes.into_iter().chain(random) {
        let mut c = f32_case_for(&mut rng, s, false);
        c.residual = None;
        if !c.check_nchw(isa) {
            eprintln!("note: engine ISA not available here: NCHW conv skipped");
            return;
        }
    }
    // Bad input: 5 channels, short slices.
    let s = shape((4, 4, 5), 8, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
    let p = vec![0.0; engine::f32_conv_packed_len(8, 5, [3, 3]).unwrap()];
    let mut y = vec![0.0; out_len(&s)];
    let x = vec![0.0; 80];
    let mut scratch = vec![0.0; 200];
    let mut run = |s: &ConvShape, x: &[f32], p: &[f32], y: &mut [f32]| {
        let sc = &mut scratch;
        match isa {
            Some(i) => engine::f32_conv_nchw_on(i, s, x, p, &F32Out::LINEAR, y, sc).unwrap(),
            None => engine::f32_conv_nchw(s, x, p, &F32Out::LINEAR, y, sc),
        }
    };
    assert!(matches!(run(&s, &x, &p, &mut y), Err(Error::Unsupported)));
    let s = ConvShape { in_c: 4, ..s };
    let p = vec![0.0; engine::f32_conv_packed_len(8, 4, [3, 3]).unwrap()];
    assert!(matches!(
        run(&s, &x[..63], &p, &mut y),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        run(&s, &x[..64], &p[1..], &mut y),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        run(&s, &x[..64], &p, &mut y[1..]),
        Err(Error::WrongLength { .. })
    ));
    assert!(run(&s, &x[..64], &p, &mut y).is_ok());
    // Scratch one element short (the ISAs that transpose need it).
    let len = engine::f32_conv_nchw_scratch_len(&s).unwrap();
    assert_eq!(len, 4 * 4 * 4 + 4);
    let mut short = vec![0.0; len - 1];
    let r = match isa {
        Some(i) => {
            engine::f32_conv_nchw_on(i, &s, &x[..64], &p, &F32Out::LINEAR, &mut y, &mut short)
                .unwrap()
        }
        None => engine::f32_conv_nchw(&s, &x[..64], &p, &F32Out::LINEAR, &mut y, &mut short),
    };
    let direct =
        isa.is_none_or(|i| matches!(i, Isa::Avx512 | Isa::Avx512Vnni)) && Isa::Avx512.available();
    assert_eq!(r.is_ok(), direct, "{r:?}");
}

/// f16 bits of `v` (round to nearest even) and their f32 value.
fn to_f16(v: &[f32]) -> (Vec<u16>, Vec<f32>) {
    v.iter()
        .map(|&x| {
            let h = half::f16::from_f32(x);
            (h.to_bits(), h.to_f32())
        })
        .unzip()
}

impl F32Case {
    /// The f16 kernel of `k` on the case's weights and bias rounded to f16 gives the
    /// same bits as the f32 kernel on those rounded values (the same operations in
    /// the same order; the conversion is exact), and a short packed slice is an
    /// error.
    fn check_f16(&self, k: &Kernels) {
        let s = &self.shape;
        let (w16, w) = to_f16(&self.w);
        let (b16, bias) = match &self.bias {
            Some(b) => {
                let (h, f) = to_f16(b);
                (Some(h), Some(f))
            }
            None => (None, None),
        };
        let rounded = F32Case {
            w,
            bias,
            ..self.clone()
        };
        let want = rounded.run(k);
        let len = if self.depthwise {
            engine::f32_dwconv_packed_len(s.in_c, s.kernel)
        } else {
            engine::f32_conv_packed_len(s.out_c, s.in_c, s.kernel)
        }
        .unwrap();
        // NaN bits: an element the packer did not write would show.
        let mut packed = vec![0x7e00u16; len];
        if self.depthwise {
            engine::pack_f16_dwconv(&w16, b16.as_deref(), s.in_c, s.kernel, &mut packed)
        } else {
            engine::pack_f16_conv(&w16, b16.as_deref(), s.out_c, s.in_c, s.kernel, &mut packed)
        }
        .unwrap();
        let out = F32Out {
            min: self.act.0,
            max: self.act.1,
            residual: self.residual.as_deref(),
        };
        let mut scratch = vec![f32::NAN; conv_scratch_len(s).unwrap()];
        let mut run = |packed: &[u16], y: &mut [f32]| {
            if self.depthwise {
                (k.f16_dwconv.run)(s, &self.x, packed, &out, y)
            } else {
                (k.f16_conv.run)(s, &self.x, packed, &out, y, &mut scratch)
            }
        };
        let mut got = vec![SENTINEL_F32; out_len(s) + TAIL];
        run(&packed, &mut got).unwrap_or_else(|e| panic!("{}: {e:?} on {s:?}", k.isa.name()));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&got),
            bits(&want),
            "{} ({}): f16 weights differ from f32 on the rounded weights; shape {s:?}",
            k.isa.name(),
            if self.depthwise {
                k.f16_dwconv.name
            } else {
                k.f16_conv.name
            },
        );
        assert!(matches!(
            run(&packed[..len - 1], &mut got),
            Err(Error::WrongLength { .. })
        ));
    }
}

/// Weights at the ends of the f16 range: the largest finite, the smallest normal
/// and subnormals, negative zero.
fn f16_extreme_cases() -> Vec<F32Case> {
    let mut rng = Rng::new(8);
    let specials = [
        65504.0, -65504.0, 6.104e-5, -5.96e-8, 1.2e-7, -0.0, 0.5, 1e-3,
    ];
    [false, true]
        .into_iter()
        .map(|dw| {
            let s = shape((5, 6, 19), 19, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
            let mut c = f32_case_for(&mut rng, s, dw);
            for (i, w) in c.w.iter_mut().enumerate() {
                *w = specials[i % specials.len()];
            }
            c.bias = Some((0..s.out_c).map(|i| specials[(i + 3) % 8]).collect());
            c
        })
        .collect()
}

fn named_f32_cases() -> Vec<(&'static str, F32Case)> {
    let mut rng = Rng::new(7);
    let mut v: Vec<(&'static str, F32Case)> = named_i8_shapes()
        .into_iter()
        .map(|(name, s, dw)| (name, f32_case_for(&mut rng, s, dw)))
        .collect();
    // Every activation and a residual on a padded conv and a depthwise conv.
    for dw in [false, true] {
        let s = shape((6, 7, 16), 16, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
        for act in [(f32::NEG_INFINITY, f32::INFINITY), (0.0, 6.0), (-0.1, 0.1)] {
            let mut c = f32_case_for(&mut rng, s, dw);
            c.act = act;
            c.residual = Some((0..out_len(&s)).map(|_| rng.f32()).collect());
            v.push(("residual + activation", c));
        }
    }
    // Large K.
    let s = shape((3, 3, 300), 20, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
    v.push(("large K", f32_case_for(&mut rng, s, false)));
    v
}

// ---------------------------------------------------------------- f32 fully connected

/// `engine::f32_fully_connected_with` (weights `[n][k]` packed per call into scratch,
/// then the conv GEMM) on `m` rows against a naive f64 FC computed here, within the
/// f32 bound of the module docs; the tail after the output and the scratch beyond its
/// length stay untouched.
fn check_fc(k: &Kernels, rng: &mut Rng, (m, kk, n): (usize, usize, usize)) {
    let x: Vec<f32> = (0..m * kk).map(|_| rng.f32()).collect();
    let w: Vec<f32> = (0..n * kk).map(|_| rng.f32()).collect();
    let bias: Option<Vec<f32>> = rng.chance(80).then(|| (0..n).map(|_| rng.f32()).collect());
    let act = [
        (f32::NEG_INFINITY, f32::INFINITY),
        (0.0, f32::INFINITY),
        (-0.25, 0.25),
    ][rng.usize(0, 2)];
    let len = engine::f32_fc_scratch_len(n, kk).unwrap();
    let mut scratch = vec![SENTINEL_F32; len + TAIL];
    let mut y = vec![SENTINEL_F32; m * n + TAIL];
    let out = F32Out {
        min: act.0,
        max: act.1,
        residual: None,
    };
    engine::f32_fully_connected_with(
        k,
        m,
        kk,
        n,
        &x,
        &w,
        bias.as_deref(),
        &out,
        &mut y,
        &mut scratch,
    )
    .unwrap_or_else(|e| panic!("{}: {e:?} on m={m} k={kk} n={n}", k.isa.name()));
    let terms = kk + 2;
    let u = 2f64.powi(-24);
    let gamma = terms as f64 * u / (1.0 - terms as f64 * u) + terms as f64 * 2f64.powi(-53) * 1.01;
    for r in 0..m {
        for j in 0..n {
            let b = bias.as_ref().map_or(0.0, |b| f64::from(b[j]));
            let (mut e, mut mag) = (b, b.abs());
            for i in 0..kk {
                let p = f64::from(x[r * kk + i]) * f64::from(w[j * kk + i]);
                e += p;
                mag += p.abs();
            }
            let want = e.clamp(f64::from(act.0), f64::from(act.1));
            let got = f64::from(y[r * n + j]);
            let bound = gamma * mag + 1e-40;
            assert!(
                (got - want).abs() <= bound,
                "{}: y[{r}][{j}] = {got}, exact {want}, bound {bound:e}; m={m} k={kk} n={n}",
                k.isa.name()
            );
        }
    }
    assert!(
        y[m * n..]
            .iter()
            .chain(&scratch[len..])
            .all(|v| v.to_bits() == SENTINEL_F32.to_bits()),
        "{}: wrote past the output or the scratch; m={m} k={kk} n={n}",
        k.isa.name()
    );
}

/// FC shapes at and around the micro-tiles (MR up to 8 rows, NR = 16 outputs).
const FC_SHAPES: [(usize, usize, usize); 9] = [
    (1, 1, 1),
    (4, 64, 64),
    (7, 5, 3),
    (9, 7, 33),
    (16, 16, 16),
    (17, 31, 15),
    (256, 64, 10),
    (5, 300, 47),
    (25, 64, 32),
];

/// A scratch shorter than `f32_fc_scratch_len` and short inputs are typed errors.
fn check_fc_errors(k: &Kernels) {
    let (m, kk, n) = (5, 7, 18);
    let (x, w) = (vec![0f32; m * kk], vec![0f32; n * kk]);
    let mut y = vec![0f32; m * n];
    let len = engine::f32_fc_scratch_len(n, kk).unwrap();
    let run = |x: &[f32], w: &[f32], y: &mut [f32], s: usize| {
        let mut scratch = vec![0f32; s];
        engine::f32_fully_connected_with(k, m, kk, n, x, w, None, &F32Out::LINEAR, y, &mut scratch)
    };
    assert!(matches!(
        run(&x, &w, &mut y, len - 1),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        run(&x, &w[1..], &mut y, len),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        run(&x[1..], &w, &mut y, len),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        run(&x, &w, &mut y[1..], len),
        Err(Error::WrongLength { .. })
    ));
    assert!(run(&x, &w, &mut y, len).is_ok());
}

// ---------------------------------------------------------------- the suite

/// The kernels under test, or `None` (with a note) when unavailable here.
fn kernels(isa: Option<Isa>) -> Option<Kernels> {
    let Some(isa) = isa else {
        return Some(engine::kernels());
    };
    let k = isa.kernels();
    if k.is_none() {
        eprintln!(
            "note: engine ISA `{}` is not available on this CPU/target: skipped",
            isa.name()
        );
    }
    k
}

macro_rules! engine_suite {
    ($($module:ident: $isa:expr;)*) => {$(
        mod $module {
            use super::*;

            fn k() -> Option<Kernels> {
                kernels($isa)
            }

            #[test]
            fn i8_conv_matches_the_reference_random() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(1);
                for _ in 0..cases(150) {
                    random_i8_case(&mut rng, false).check(&k);
                }
            }

            #[test]
            fn i8_dwconv_matches_the_reference_random() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(2);
                for _ in 0..cases(150) {
                    random_i8_case(&mut rng, true).check(&k);
                }
            }

            #[test]
            fn i8_named_shapes_match_the_reference() {
                let Some(k) = k() else { return };
                for (i, (name, s, dw)) in named_i8_shapes().into_iter().enumerate() {
                    eprintln!("{name}");
                    i8_case(s, dw, 100 + i as u64).check(&k);
                }
            }

            #[test]
            fn i8_dwconv_common_shapes_match_the_reference() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(9);
                for i in 0..cases(300) {
                    dw_common_case(&mut rng, i).check(&k);
                }
            }

            #[test]
            fn i8_dwconv_rq_forms_and_bands_match_the_reference() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(19);
                for i in 0..cases(400) {
                    dw_rq_band_case(&mut rng, i).check(&k);
                }
            }

            #[test]
            fn i8_conv_kxk_lean_shapes_match_the_reference() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(16);
                for i in 0..cases(200) {
                    conv16_case(&mut rng, i).check(&k);
                }
            }

            #[test]
            fn i8_conv_kxk_small_band_edges_match_the_reference() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(17);
                let shapes = conv16_small_band_shapes();
                let bands: Vec<usize> = shapes.iter().map(conv16_band).collect();
                // Both sides of the bound and the bound itself are reached.
                assert!(bands.contains(&CONV16_SMALL));
                assert!(bands.iter().any(|&b| b < CONV16_SMALL));
                assert!(bands.iter().any(|&b| b > CONV16_SMALL));
                for (i, s) in shapes.into_iter().enumerate() {
                    // Each shape with and without a residual Add.
                    for j in [i, i + 1] {
                        conv16_operands(&mut rng, s, 3 * j).check(&k);
                        conv16_operands(&mut rng, s, 3 * j + 1).check(&k);
                    }
                }
            }

            #[test]
            fn i8_named_arithmetic_corners_match_the_reference() {
                let Some(k) = k() else { return };
                for (name, c) in named_i8_cases() {
                    eprintln!("{name}");
                    c.check(&k);
                }
            }

            #[test]
            fn f32_conv_within_the_bound_random() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(3);
                for _ in 0..cases(150) {
                    random_f32_case(&mut rng, false).check(&k);
                }
            }

            #[test]
            fn f32_dwconv_within_the_bound_random() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(4);
                for _ in 0..cases(150) {
                    random_f32_case(&mut rng, true).check(&k);
                }
            }

            #[test]
            fn f32_named_cases_within_the_bound() {
                let Some(k) = k() else { return };
                for (name, c) in named_f32_cases() {
                    eprintln!("{name}");
                    c.check(&k);
                }
            }

            #[test]
            fn f16_conv_equals_f32_on_rounded_weights_random() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(5);
                for _ in 0..cases(100) {
                    random_f32_case(&mut rng, false).check_f16(&k);
                }
            }

            #[test]
            fn f16_dwconv_equals_f32_on_rounded_weights_random() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(6);
                for _ in 0..cases(100) {
                    random_f32_case(&mut rng, true).check_f16(&k);
                }
            }

            #[test]
            fn f16_named_and_extreme_cases_equal_f32() {
                let Some(k) = k() else { return };
                for (name, c) in named_f32_cases() {
                    eprintln!("{name}");
                    c.check_f16(&k);
                }
                for c in f16_extreme_cases() {
                    c.check_f16(&k);
                }
            }

            #[test]
            fn f32_fully_connected_within_the_bound() {
                let Some(k) = k() else { return };
                let mut rng = Rng::new(8);
                for shape in FC_SHAPES {
                    check_fc(&k, &mut rng, shape);
                }
                for _ in 0..cases(100) {
                    let shape = (rng.usize(1, 40), rng.usize(1, 150), rng.usize(1, 50));
                    check_fc(&k, &mut rng, shape);
                }
                check_fc_errors(&k);
            }

            #[test]
            fn f32_conv_nchw_within_the_bound() {
                check_nchw_suite($isa);
            }

            #[test]
            fn bad_input_is_an_error() {
                let Some(k) = k() else { return };
                check_errors(&k);
            }
        }
    )*};
}

engine_suite! {
    portable: Some(Isa::Portable);
    avx2: Some(Isa::Avx2);
    avx512: Some(Isa::Avx512);
    avx512vnni: Some(Isa::Avx512Vnni);
    neon: Some(Isa::Neon);
    neondot: Some(Isa::NeonDot);
    simd128: Some(Isa::Simd128);
    dispatch: None;
}

/// Short slices, bad geometry and an out-of-range zero point give typed errors.
fn check_errors(k: &Kernels) {
    let s = shape((4, 4, 8), 16, [3, 3], [1, 1], [1, 1], [1; 4]).unwrap();
    let x = vec![0i8; 4 * 4 * 8];
    let packed = vec![0u8; engine::i8_conv_packed_len(16, 8, [3, 3]).unwrap()];
    let mut y = vec![0i8; out_len(&s)];
    let mut scratch = vec![0i8; 8];
    let out = I8Out {
        zero_point: 0,
        act_min: -128,
        act_max: 127,
        residual: None,
        header: I8Header::Wide,
    };
    let run = |s: &ConvShape, x: &[i8], zp, packed: &[u8], y: &mut [i8], scratch: &mut [i8]| {
        (k.i8_conv.run)(s, x, zp, packed, &out, y, scratch)
    };
    assert_eq!(run(&s, &x, 0, &packed, &mut y, &mut scratch), Ok(()));
    let wrong = |expected, actual| Err(Error::WrongLength { expected, actual });
    assert_eq!(
        run(&s, &x[1..], 0, &packed, &mut y, &mut scratch),
        wrong(128, 127)
    );
    assert_eq!(
        run(&s, &x, 0, &packed[1..], &mut y, &mut scratch),
        wrong(packed.len(), packed.len() - 1)
    );
    let n = y.len();
    assert_eq!(
        run(&s, &x, 0, &packed, &mut y[1..], &mut scratch),
        wrong(n, n - 1)
    );
    assert_eq!(
        run(&s, &x, 0, &packed, &mut y, &mut scratch[1..]),
        wrong(8, 7)
    );
    assert_eq!(
        run(&s, &x, 128, &packed, &mut y, &mut scratch),
        Err(Error::Unsupported)
    );
    for bad in [
        ConvShape {
            stride: [0, 1],
            ..s
        },
        ConvShape {
            dilation: [1, 0],
            ..s
        },
        ConvShape {
            kernel: [0, 3],
            ..s
        },
        ConvShape {
            in_h: usize::MAX,
            ..s
        },
        ConvShape {
            out_w: usize::MAX / 2,
            ..s
        },
    ] {
        assert_eq!(
            run(&bad, &x, 0, &packed, &mut y, &mut scratch),
            Err(Error::Unsupported),
            "{bad:?}"
        );
    }
    let res = I8Out {
        residual: Some(I8Residual {
            input: &x[..3],
            add: QBinary {
                a_zero_point: 0,
                b_zero_point: 0,
                out_zero_point: 0,
                left_shift: 0,
                a: Requant {
                    multiplier: 0,
                    shift: 0,
                },
                b: Requant {
                    multiplier: 0,
                    shift: 0,
                },
                out: Requant {
                    multiplier: 0,
                    shift: 0,
                },
                act_min: -128,
                act_max: 127,
            },
        }),
        ..out
    };
    assert_eq!(
        (k.i8_conv.run)(&s, &x, 0, &packed, &res, &mut y, &mut scratch),
        wrong(n, 3)
    );
    // Depthwise: out_c must equal in_c.
    let dw_packed = vec![0u8; engine::i8_dwconv_packed_len(8, [3, 3]).unwrap()];
    assert_eq!(
        (k.i8_dwconv.run)(&s, &x, 0, &dw_packed, &out, &mut y),
        Err(Error::Unsupported)
    );
    let dw = ConvShape { out_c: 8, ..s };
    assert_eq!(
        (k.i8_dwconv.run)(&dw, &x, 0, &dw_packed, &out, &mut y),
        Ok(())
    );
    assert_eq!(
        (k.i8_dwconv.run)(&dw, &x, 0, &dw_packed[..10], &out, &mut y),
        wrong(dw_packed.len(), 10)
    );
    // f32.
    let xf = vec![0f32; 4 * 4 * 8];
    let pf = vec![0f32; engine::f32_conv_packed_len(16, 8, [3, 3]).unwrap()];
    let mut yf = vec![0f32; out_len(&s)];
    let mut sf = vec![0f32; 8];
    let o = F32Out::LINEAR;
    assert_eq!((k.f32_conv.run)(&s, &xf, &pf, &o, &mut yf, &mut sf), Ok(()));
    assert_eq!(
        (k.f32_conv.run)(&s, &xf, &pf[2..], &o, &mut yf, &mut sf),
        wrong(pf.len(), pf.len() - 2)
    );
    assert_eq!(
        (k.f32_conv.run)(&s, &xf, &pf, &o, &mut yf, &mut sf[..0]),
        wrong(8, 0)
    );
    let bad = ConvShape {
        stride: [1, 0],
        ..s
    };
    assert_eq!(
        (k.f32_conv.run)(&bad, &xf, &pf, &o, &mut yf, &mut sf),
        Err(Error::Unsupported)
    );
    let pd = vec![0f32; engine::f32_dwconv_packed_len(8, [3, 3]).unwrap()];
    assert_eq!((k.f32_dwconv.run)(&dw, &xf, &pd, &o, &mut yf), Ok(()));
    assert_eq!(
        (k.f32_dwconv.run)(&dw, &xf[..5], &pd, &o, &mut yf),
        wrong(128, 5)
    );
    // No padding reached: no scratch needed.
    let tight = shape((4, 4, 8), 16, [3, 3], [1, 1], [1, 1], [0; 4]).unwrap();
    assert_eq!(conv_scratch_len(&tight), Some(0));
    let mut y2 = vec![0i8; out_len(&tight)];
    assert_eq!(run(&tight, &x, 0, &packed, &mut y2, &mut []), Ok(()));
}

/// The reference f32 kernel agrees with this file's f64 reference (so the f32 bound
/// check's reference is the ONNX semantics the runtime implements).
#[test]
fn the_f64_reference_agrees_with_the_f32_reference_kernel() {
    let mut rng = Rng::new(5);
    for dw in [false, true] {
        for _ in 0..40 {
            let c = random_f32_case(&mut rng, dw);
            let s = &c.shape;
            let x = nhwc_to_nchw(&c.x, s.in_h, s.in_w, s.in_c);
            let mut y = vec![0f32; out_len(s)];
            let (cg, groups) = if dw { (1, s.in_c) } else { (s.in_c, 1) };
            let cp = ConvParams {
                x: [1, s.in_c, s.in_h, s.in_w],
                w: [s.out_c, cg, s.kernel[0], s.kernel[1]],
                y: [1, s.out_c, s.out_h, s.out_w],
                window: window(s),
                groups,
            };
            let out = RefF32Out {
                bias: c.bias.as_deref(),
                act_min: f32::NEG_INFINITY,
                act_max: f32::INFINITY,
            };
            kf::conv2d(&cp, &x, &c.w, &out, &mut y);
            let y = nchw_to_nhwc(&y, s.out_h, s.out_w, s.out_c);
            let no_residual = F32Case {
                residual: None,
                ..c.clone()
            };
            for ((e, mag), g) in no_residual.exact().into_iter().zip(y) {
                assert!((f64::from(g) - e).abs() <= 1e-5 * (mag + 1.0), "{g} vs {e}");
            }
        }
    }
}

/// The f32 conv computes each output channel alone: the same sum in the same order
/// whether its 16-channel panel runs by itself or paired with the next one (the
/// AVX-512 kernel pairs panels, the last odd one runs alone). So each 16 of 48
/// output channels (the two panels of a pair and the unpaired last one) are
/// bit-identical to a conv with only those 16 filters, on every ISA; a paired kernel
/// that mixed up its two panels' weights, bias or outputs would differ. The 16-filter
/// conv has one panel, which AVX-512 runs two 8-pixel tiles at a time (16 pixels,
/// then 8- and 4-pixel tiles for the rest: 42, 20 and 55 pixels here), so this also
/// checks that path's rows, bias and stores against the paired panels.
#[test]
fn f32_conv_channels_do_not_depend_on_the_panel_pairing() {
    let mut rng = Rng::new(48);
    for (size, kernel, stride, pads) in [
        ((7, 6, 5), [3, 3], [1, 1], [1; 4]),
        ((9, 8, 3), [3, 3], [2, 2], [1; 4]),
        ((5, 11, 24), [1, 1], [1, 1], [0; 4]),
    ] {
        let s48 = shape(size, 48, kernel, stride, [1, 1], pads).unwrap();
        let s16 = ConvShape { out_c: 16, ..s48 };
        let k = s48.in_c * s48.taps();
        let x: Vec<f32> = (0..s48.in_h * s48.in_w * s48.in_c)
            .map(|_| rng.f32())
            .collect();
        let w: Vec<f32> = (0..48 * k).map(|_| rng.f32()).collect();
        let bias: Vec<f32> = (0..48).map(|_| rng.f32()).collect();
        let pack = |n: usize, w: &[f32], b: &[f32]| {
            let mut p = vec![0f32; engine::f32_conv_packed_len(n, s48.in_c, kernel).unwrap()];
            engine::pack_f32_conv(w, Some(b), n, s48.in_c, kernel, &mut p).unwrap();
            p
        };
        let p48 = pack(48, &w, &bias);
        let mut scratch = vec![0f32; conv_scratch_len(&s48).unwrap()];
        let pixels = s48.out_h * s48.out_w;
        for isa in Isa::ALL {
            let Some(kernels) = isa.kernels() else {
                continue;
            };
            let run = kernels.f32_conv.run;
            let mut y48 = vec![0f32; pixels * 48];
            run(&s48, &x, &p48, &F32Out::LINEAR, &mut y48, &mut scratch).unwrap();
            for first in [0, 16, 32] {
                let p16 = pack(
                    16,
                    &w[first * k..(first + 16) * k],
                    &bias[first..first + 16],
                );
                let mut y16 = vec![0f32; pixels * 16];
                run(&s16, &x, &p16, &F32Out::LINEAR, &mut y16, &mut scratch).unwrap();
                for px in 0..pixels {
                    let got = &y48[px * 48 + first..px * 48 + first + 16];
                    let want = &y16[px * 16..px * 16 + 16];
                    assert!(
                        got.iter()
                            .zip(want)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{isa:?} {s48:?} channels {first}.. pixel {px}: {got:?} vs {want:?}"
                    );
                }
            }
        }
    }
}

/// An 8-channel depthwise conv with horizontal stride 1 runs its interior pixels two
/// per 16-lane vector (the constants repeated in lanes 8..16); each pixel's sum keeps
/// the order of the one-pixel path. So its outputs are bit-identical to channels
/// 0..8 of a 9-channel conv on the same data (9 channels never pair), on every ISA
/// (and within the f32 bound; the f16-weight kernel gives the f32 kernel's bits on
/// the rounded weights); a pair that mixed up its two pixels' inputs, lanes,
/// outputs or residuals, or summed in another order, would differ. Interior runs of
/// 1 to 12 pixels (the pair runs of 4, 2 and 1 pairs and a lone last pixel), 3×3 and
/// 5×5, dilation, vertical stride 2, residuals and activations.
#[test]
fn dwconv_8_channel_pairs_equal_the_one_pixel_path() {
    let mut rng = Rng::new(88);
    let mut shapes: Vec<ConvShape> = named_i8_shapes()
        .into_iter()
        .filter(|(_, s, dw)| *dw && s.in_c == 8)
        .map(|(_, s, _)| s)
        .collect();
    for w in 3..=14 {
        shapes.extend(shape((4, w, 8), 8, [3, 3], [1, 1], [1, 1], [1; 4]));
    }
    shapes.extend(shape((9, 11, 8), 8, [5, 5], [2, 1], [1, 1], [2; 4]));
    for s8 in shapes {
        let mut c8 = f32_case_for(&mut rng, s8, true);
        if c8.residual.is_none() && rng.chance(50) {
            c8.residual = Some((0..out_len(&s8)).map(|_| rng.f32()).collect());
        }
        // The same data with a ninth channel of its own after every pixel's eight.
        let widen = |v: &[f32], rng: &mut Rng| -> Vec<f32> {
            v.chunks(8)
                .flat_map(|px| px.iter().copied().chain([rng.f32()]))
                .collect()
        };
        let s9 = ConvShape {
            in_c: 9,
            out_c: 9,
            ..s8
        };
        let c9 = F32Case {
            shape: s9,
            x: widen(&c8.x, &mut rng),
            w: [c8.w.clone(), (0..s8.taps()).map(|_| rng.f32()).collect()].concat(),
            bias: c8.bias.as_ref().map(|b| widen(b, &mut rng)),
            residual: c8.residual.as_ref().map(|r| widen(r, &mut rng)),
            ..c8.clone()
        };
        for isa in Isa::ALL {
            let Some(k) = isa.kernels() else {
                continue;
            };
            let (y8, y9) = (c8.run(&k), c9.run(&k));
            for px in 0..out_len(&s8) / 8 {
                let got = &y8[px * 8..px * 8 + 8];
                let want = &y9[px * 9..px * 9 + 8];
                assert!(
                    got.iter()
                        .zip(want)
                        .all(|(g, w)| g.to_bits() == w.to_bits()),
                    "{isa:?} {s8:?} pixel {px}: {got:?} vs {want:?}"
                );
            }
            c8.check(&k);
            c8.check_f16(&k);
        }
    }
}
