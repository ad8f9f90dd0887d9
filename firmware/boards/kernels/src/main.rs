//! The engine's int8 conv and depthwise kernels on a QEMU Cortex-M board
//! (`firmware/tests/qemu_kernels.rs` builds and runs it).
//!
//! 1. Checks that this build runs the Cortex-M DSP kernels (`Isa::CortexMDsp` is the
//!    engine's choice).
//! 2. Random cases: shapes (k×k, 1×1, 10×4, depthwise 3×3 and 5×5, strides 1 and 2,
//!    dilation 2, padding, odd channel counts, the flat layout of `C < 4`), weights,
//!    zero points, requantization (also left shifts and large biases, which the DSP
//!    kernels' short epilogue refuses), activation clamps and fused residual Adds; each
//!    is packed on the board and run through the DSP kernels and the portable engine
//!    kernels, and compared byte for byte with the reference kernels
//!    (`ferrite::kernels::int8::conv2d` on NCHW copies, then `int8::binary(Add)`),
//!    computed on the board.
//!    Then 120 cases of the DSP conv's pointwise path (1×1, stride 1, no padding, `C`
//!    from 4 to 64, odd pixel and channel counts) against the reference.
//! 3. Layers shaped like those of the MLPerf Tiny models (KWS DS-CNN, ResNet-8,
//!    MobileNetV1-0.25 VWW): instructions of the DSP and portable kernels, read from a
//!    CMSDK timer while QEMU runs with `-icount shift=0` (1 virtual ns per executed
//!    instruction), and instructions per MAC. QEMU counts instructions, not cycles.
//!
//! Output on semihosting stdout, one `key=value` record per line; exit status 0 after
//! `done`, 1 on any mismatch or error (printed as `error: …`).
#![no_std]
#![no_main]

use core::fmt::Write;
use cortex_m_rt::entry;

#[path = "../../common/qemu_exit.rs"]
mod qemu_exit;
use cortex_m_semihosting::hio;
use ferrite::format::types::{BinaryOp, QBinary, Requant, Window};
use ferrite::kernels::engine::{self, ConvShape, I8Out, I8Residual, Isa, Kernels};
use ferrite::kernels::{int8 as ki, BroadcastShapes, ConvParams, QuantOut};

/// The board's timer 0 (CMSDK APB timer), as in the mcu-bench firmware.
#[path = "../../common/cmsdk_timer.rs"]
mod timer;

/// Semihosting stdout, a line at a time.
struct Out {
    host: hio::HostStream,
    buf: [u8; 256],
    len: usize,
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                let _ = self.host.write_all(&self.buf[..self.len]);
                self.len = 0;
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                let _ = self.host.write_all(&self.buf[..self.len]);
                self.len = 0;
            }
        }
        Ok(())
    }
}

/// xorshift64*: seeded, the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u32) as i32
    }
    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 < percent
    }
    fn fill(&mut self, v: &mut [i8]) {
        for x in v {
            *x = self.next() as i8;
        }
    }
}

// Buffer sizes: the largest case below (VWW's first layer: 96×96×3 in, 48×48×8 out;
// its 48×48 depthwise and pointwise layers).
const X_MAX: usize = 48 * 48 * 16;
const Y_MAX: usize = 48 * 48 * 16;
const W_MAX: usize = 96 * 1024;
const C_MAX: usize = 256;
const PACKED_MAX: usize = 128 * 1024;

/// One case: shape, data and parameters.
struct Case<'a> {
    s: ConvShape,
    depthwise: bool,
    x: &'a [i8],
    x_zp: i32,
    w: &'a [i8],
    bias: &'a [i32],
    rq: &'a [i32],
    out_zp: i32,
    act: (i32, i32),
    residual: Option<(&'a [i8], QBinary)>,
}

/// A case's inputs (in RAM, outside the stack).
struct Inputs {
    x: [i8; X_MAX],
    w: [i8; W_MAX],
    bias: [i32; C_MAX],
    rq: [i32; 2 * C_MAX],
    residual: [i8; Y_MAX],
}

/// The buffers the reference and the kernels write.
struct Work {
    x_nchw: [i8; X_MAX],
    y_nchw: [i8; Y_MAX],
    y_ref: [i8; Y_MAX],
    y: [i8; Y_MAX + 16],
    scratch: [i8; C_MAX],
    packed: [u8; PACKED_MAX + 1],
}

static mut INPUTS: Inputs = Inputs {
    x: [0; X_MAX],
    w: [0; W_MAX],
    bias: [0; C_MAX],
    rq: [0; 2 * C_MAX],
    residual: [0; Y_MAX],
};

static mut WORK: Work = Work {
    x_nchw: [0; X_MAX],
    y_nchw: [0; Y_MAX],
    y_ref: [0; Y_MAX],
    y: [0; Y_MAX + 16],
    scratch: [0; C_MAX],
    packed: [0; PACKED_MAX + 1],
};

/// `(out_len, macs)` of a shape.
fn sizes(s: &ConvShape, depthwise: bool) -> (usize, u64) {
    let out = s.out_h * s.out_w * s.out_c;
    let k = s.kernel[0] * s.kernel[1] * if depthwise { 1 } else { s.in_c };
    (out, (out * k) as u64)
}

fn window(s: &ConvShape) -> Window {
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

/// The reference bytes (NHWC) into `y`: `int8::conv2d` on NCHW copies, then the
/// residual `int8::binary(Add)`.
fn reference(c: &Case, x_nchw: &mut [i8], y_nchw: &mut [i8], y: &mut [i8]) {
    let s = &c.s;
    let (ih, iw, ic) = (s.in_h, s.in_w, s.in_c);
    for h in 0..ih {
        for w in 0..iw {
            for ch in 0..ic {
                x_nchw[(ch * ih + h) * iw + w] = c.x[(h * iw + w) * ic + ch];
            }
        }
    }
    let (n, _) = sizes(s, c.depthwise);
    let cp = ConvParams {
        x: [1, ic, ih, iw],
        w: [
            s.out_c,
            if c.depthwise { 1 } else { ic },
            s.kernel[0],
            s.kernel[1],
        ],
        y: [1, s.out_c, s.out_h, s.out_w],
        window: window(s),
        groups: if c.depthwise { ic } else { 1 },
    };
    let out = QuantOut {
        bias: Some(c.bias),
        requant: c.rq,
        zero_point: c.out_zp,
        act_min: c.act.0,
        act_max: c.act.1,
    };
    ki::conv2d(
        &cp,
        &x_nchw[..ih * iw * ic],
        c.x_zp,
        c.w,
        &out,
        &mut y_nchw[..n],
    );
    let (oh, ow, oc) = (s.out_h, s.out_w, s.out_c);
    for h in 0..oh {
        for w in 0..ow {
            for ch in 0..oc {
                y[(h * ow + w) * oc + ch] = y_nchw[(ch * oh + h) * ow + w];
            }
        }
    }
    if let Some((r, q)) = &c.residual {
        let shape = [n];
        let bs = BroadcastShapes {
            a: &shape,
            b: &shape,
            y: &shape,
        };
        y_nchw[..n].copy_from_slice(&y[..n]);
        ki::binary(BinaryOp::Add, q, &bs, &y_nchw[..n], r, &mut y[..n]);
    }
}

/// Packs the case's weights into `packed` (from byte 1: an odd address, so the
/// kernels' loads are unaligned) and returns the packed slice.
fn pack<'p>(c: &Case, packed: &'p mut [u8]) -> Result<&'p [u8], ferrite::Error> {
    let s = &c.s;
    let len = if c.depthwise {
        engine::i8_dwconv_packed_len(s.in_c, s.kernel)
    } else {
        engine::i8_conv_packed_len(s.out_c, s.in_c, s.kernel)
    }
    .ok_or(ferrite::Error::Unsupported)?;
    let actual = packed.len();
    let p = packed
        .get_mut(1..1 + len)
        .ok_or(ferrite::Error::WrongLength {
            expected: len + 1,
            actual,
        })?;
    if c.depthwise {
        engine::pack_i8_dwconv(c.w, Some(c.bias), c.rq, s.in_c, s.kernel, p)?;
    } else {
        engine::pack_i8_conv(
            c.w,
            Some(c.bias),
            c.rq,
            c.x_zp,
            s.out_c,
            s.in_c,
            s.kernel,
            p,
        )?;
    }
    Ok(p)
}

/// Runs `k`'s kernel on the case into `y` (a sentinel past the output must survive);
/// returns the virtual nanoseconds (instructions) it took.
fn run(
    k: &Kernels,
    c: &Case,
    packed: &[u8],
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<u64, ferrite::Error> {
    let (n, _) = sizes(&c.s, c.depthwise);
    y[..n + 16].fill(0x5A);
    let out = I8Out {
        zero_point: c.out_zp,
        act_min: c.act.0,
        act_max: c.act.1,
        residual: c
            .residual
            .as_ref()
            .map(|(r, q)| I8Residual { input: r, add: *q }),
        // `pack` writes the wide headers (`pack_i8_conv`, `pack_i8_dwconv`).
        header: engine::I8Header::Wide,
    };
    let t0 = timer::now();
    if c.depthwise {
        (k.i8_dwconv.run)(&c.s, c.x, c.x_zp, packed, &out, &mut y[..n])?;
    } else {
        (k.i8_conv.run)(&c.s, c.x, c.x_zp, packed, &out, &mut y[..n], scratch)?;
    }
    let t1 = timer::now();
    if y[n..n + 16].iter().any(|&b| b != 0x5A) {
        return Err(ferrite::Error::Unsupported);
    }
    Ok(timer::ns(t0, t1))
}

fn out_size(i: usize, k: usize, s: usize, d: usize, p: usize, p_end: usize) -> usize {
    (i + p + p_end - (k - 1) * d - 1) / s + 1
}

/// A random shape (within the buffers).
fn random_shape(rng: &mut Rng, depthwise: bool) -> ConvShape {
    let kernel = if depthwise {
        [[3, 3], [3, 3], [5, 5], [3, 1]][rng.below(4)]
    } else {
        [[1, 1], [1, 1], [3, 3], [3, 3], [10, 4], [2, 2], [1, 3]][rng.below(7)]
    };
    let stride = [1 + rng.below(2), 1 + rng.below(2)];
    let dilation = if rng.chance(15) { [2, 2] } else { [1, 1] };
    let in_c = if rng.chance(25) {
        1 + rng.below(3)
    } else {
        1 + rng.below(if depthwise { 70 } else { 48 })
    };
    let out_c = if depthwise { in_c } else { 1 + rng.below(40) };
    let reach = |k: usize, d: usize| (k - 1) * d + 1;
    let in_h = reach(kernel[0], dilation[0]) + rng.below(9);
    let in_w = reach(kernel[1], dilation[1]) + rng.below(9);
    let pad = if rng.chance(60) {
        [rng.below(kernel[0]), rng.below(kernel[1])]
    } else {
        [0, 0]
    };
    let pad_end = [rng.below(kernel[0]), rng.below(kernel[1])];
    ConvShape {
        in_h,
        in_w,
        in_c,
        out_h: out_size(in_h, kernel[0], stride[0], dilation[0], pad[0], pad_end[0]),
        out_w: out_size(in_w, kernel[1], stride[1], dilation[1], pad[1], pad_end[1]),
        out_c,
        kernel,
        stride,
        dilation,
        pad,
    }
}

/// Fills the buffers with random data for `s` and returns the case.
fn random_case<'a>(
    rng: &mut Rng,
    s: ConvShape,
    depthwise: bool,
    residual_chance: u32,
    b: &'a mut Inputs,
) -> Case<'a> {
    let k = s.kernel[0] * s.kernel[1] * if depthwise { 1 } else { s.in_c };
    let (n, _) = sizes(&s, depthwise);
    let xs = &mut b.x[..s.in_h * s.in_w * s.in_c];
    rng.fill(xs);
    let ws = &mut b.w[..s.out_c * k];
    rng.fill(ws);
    let log_k = (usize::BITS - k.leading_zeros()) as i32;
    for i in 0..s.out_c {
        // Mostly the requantizations of real layers (right shifts, small biases), which
        // the DSP kernels' short epilogue takes; sometimes a channel it refuses (a
        // left shift, no shift, a bias near 2^30), which sends its group or panel to
        // the general epilogue, or a right shift of 1 (its smallest).
        b.bias[i] = if rng.chance(3) {
            rng.range(-(1 << 30), 1 << 30)
        } else {
            rng.range(-20_000, 20_000)
        };
        b.rq[2 * i] = rng.range(1 << 30, i32::MAX);
        b.rq[2 * i + 1] = if rng.chance(3) {
            rng.range(-1, 2)
        } else {
            -rng.range(2, 9) - log_k
        };
    }
    let residual = rng.chance(residual_chance).then(|| {
        rng.fill(&mut b.residual[..n]);
        let q = QBinary {
            a_zero_point: rng.range(-128, 127),
            b_zero_point: rng.range(-128, 127),
            out_zero_point: rng.range(-128, 127),
            left_shift: 20,
            a: Requant {
                multiplier: rng.range(1 << 30, i32::MAX),
                shift: -rng.range(1, 3),
            },
            b: Requant {
                multiplier: rng.range(1 << 30, i32::MAX),
                shift: -rng.range(1, 3),
            },
            out: Requant {
                multiplier: rng.range(1 << 30, i32::MAX),
                shift: -rng.range(18, 21),
            },
            act_min: if rng.chance(50) {
                -128
            } else {
                rng.range(-128, 0)
            },
            act_max: 127,
        };
        (&b.residual[..n], q)
    });
    let act = match rng.below(3) {
        0 => (-128, 127),
        1 => (rng.range(-128, 0), 127),
        _ => (rng.range(-128, -100), rng.range(0, 127)),
    };
    Case {
        s,
        depthwise,
        x: &b.x[..s.in_h * s.in_w * s.in_c],
        x_zp: rng.range(-128, 127),
        w: &b.w[..s.out_c * k],
        bias: &b.bias[..s.out_c],
        rq: &b.rq[..2 * s.out_c],
        out_zp: rng.range(-128, 127),
        act,
        residual,
    }
}

/// Layers shaped like the MLPerf Tiny models' (name, depthwise, shape).
fn layers() -> [(&'static str, bool, ConvShape); 12] {
    let sh = |hw: [usize; 2],
              c: usize,
              out: [usize; 2],
              n: usize,
              k: [usize; 2],
              st: usize,
              pad: [usize; 2]| ConvShape {
        in_h: hw[0],
        in_w: hw[1],
        in_c: c,
        out_h: out[0],
        out_w: out[1],
        out_c: n,
        kernel: k,
        stride: [st, st],
        dilation: [1, 1],
        pad,
    };
    [
        (
            "kws_conv1_10x4_s2_1to64",
            false,
            sh([49, 10], 1, [25, 5], 64, [10, 4], 2, [4, 1]),
        ),
        (
            "kws_dw3x3_64",
            true,
            sh([25, 5], 64, [25, 5], 64, [3, 3], 1, [1, 1]),
        ),
        (
            "kws_pw1x1_64to64",
            false,
            sh([25, 5], 64, [25, 5], 64, [1, 1], 1, [0, 0]),
        ),
        (
            "resnet_conv3x3_16to16_32x32",
            false,
            sh([32, 32], 16, [32, 32], 16, [3, 3], 1, [1, 1]),
        ),
        (
            "resnet_conv3x3_s2_32to64_16x16",
            false,
            sh([16, 16], 32, [8, 8], 64, [3, 3], 2, [0, 0]),
        ),
        (
            "resnet_conv3x3_64to64_8x8",
            false,
            sh([8, 8], 64, [8, 8], 64, [3, 3], 1, [1, 1]),
        ),
        (
            "vww_conv1_3x3_s2_3to8_96x96",
            false,
            sh([96, 96], 3, [48, 48], 8, [3, 3], 2, [0, 0]),
        ),
        (
            "vww_dw3x3_8_48x48",
            true,
            sh([48, 48], 8, [48, 48], 8, [3, 3], 1, [1, 1]),
        ),
        (
            "vww_pw1x1_8to16_48x48",
            false,
            sh([48, 48], 8, [48, 48], 16, [1, 1], 1, [0, 0]),
        ),
        (
            "vww_pw1x1_16to32_24x24",
            false,
            sh([24, 24], 16, [24, 24], 32, [1, 1], 1, [0, 0]),
        ),
        (
            "vww_pw1x1_32to64_12x12",
            false,
            sh([12, 12], 32, [12, 12], 64, [1, 1], 1, [0, 0]),
        ),
        (
            "vww_dw3x3_s2_64_12x12",
            true,
            sh([12, 12], 64, [6, 6], 64, [3, 3], 2, [0, 0]),
        ),
    ]
}

/// Compares a kernel's bytes with the reference; prints the first difference.
fn same(out: &mut Out, what: &str, kernel: &str, y: &[i8], want: &[i8]) -> bool {
    match y.iter().zip(want).position(|(a, b)| a != b) {
        None => true,
        Some(i) => {
            let _ = writeln!(
                out,
                "error: {what}: {kernel} differs from the reference at byte {i}: {} != {}",
                y[i], want[i]
            );
            false
        }
    }
}

fn main_result(out: &mut Out) -> Result<bool, ferrite::Error> {
    timer::start();
    let dsp = Isa::CortexMDsp
        .kernels()
        .ok_or(ferrite::Error::Unsupported)?;
    let portable = Isa::Portable.kernels().ok_or(ferrite::Error::Unsupported)?;
    let chosen = engine::kernels();
    let _ = writeln!(
        out,
        "isa={} i8_conv={} i8_dwconv={}",
        chosen.isa.name(),
        chosen.i8_conv.name,
        chosen.i8_dwconv.name
    );
    if chosen.isa != Isa::CortexMDsp {
        let _ = writeln!(out, "error: the engine does not use the DSP kernels here");
        return Ok(false);
    }
    // SAFETY: the only references to the buffers, taken once in a single-threaded
    // program without interrupts.
    let (inputs, w): (&mut Inputs, &mut Work) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(INPUTS),
            &mut *core::ptr::addr_of_mut!(WORK),
        )
    };
    let mut ok = true;
    let mut rng = Rng(0x0DDB_1A5E_5BAD_5EED);
    let cases = 400;
    let mut checked = [0usize; 2];
    for i in 0..cases {
        let depthwise = i % 3 == 2;
        let s = random_shape(&mut rng, depthwise);
        let (n, _) = sizes(&s, depthwise);
        let c = random_case(&mut rng, s, depthwise, 25, inputs);
        reference(&c, &mut w.x_nchw, &mut w.y_nchw, &mut w.y_ref);
        let p = pack(&c, &mut w.packed)?;
        for k in [&dsp, &portable] {
            run(k, &c, p, &mut w.y, &mut w.scratch)?;
            let name = if depthwise {
                k.i8_dwconv.name
            } else {
                k.i8_conv.name
            };
            if !same(out, "random case", name, &w.y[..n], &w.y_ref[..n]) {
                let _ = writeln!(
                    out,
                    "error: case {i}: {:?} residual={}",
                    c.s,
                    c.residual.is_some()
                );
                ok = false;
            }
        }
        checked[usize::from(depthwise)] += 1;
    }
    let _ = writeln!(
        out,
        "random_cases conv={} dwconv={} ok={ok}",
        checked[0], checked[1]
    );

    // The DSP conv's pointwise path (1×1, stride 1, no padding, C a multiple of 4, the
    // whole i8 range as clamp): C = 4..64, odd pixel and channel counts; a narrower
    // clamp or a channel the short requantization refuses sends the layer to the
    // general path.
    let mut pointwise = 0;
    for i in 0..120 {
        let in_c = [4, 8, 12, 16, 20, 32, 64][rng.below(7)];
        let (h, w_) = (1 + rng.below(9), 1 + rng.below(9));
        let s = ConvShape {
            in_h: h,
            in_w: w_,
            in_c,
            out_h: h,
            out_w: w_,
            out_c: 1 + rng.below(40),
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 0],
        };
        let (n, _) = sizes(&s, false);
        let mut c = random_case(&mut rng, s, false, 0, inputs);
        // The path takes the clamp to the whole i8 range (int8 ReLU / ReLU6) only.
        if i % 3 != 0 {
            c.act = (-128, 127);
        }
        reference(&c, &mut w.x_nchw, &mut w.y_nchw, &mut w.y_ref);
        let p = pack(&c, &mut w.packed)?;
        run(&dsp, &c, p, &mut w.y, &mut w.scratch)?;
        if !same(out, "pointwise case", dsp.i8_conv.name, &w.y[..n], &w.y_ref[..n]) {
            let _ = writeln!(out, "error: pointwise case {i}: {:?}", c.s);
            ok = false;
        }
        pointwise += 1;
    }
    let _ = writeln!(out, "pointwise_cases={pointwise} ok={ok}");

    for (name, depthwise, s) in layers() {
        let mut c = random_case(&mut rng, s, depthwise, 0, inputs);
        // The models' int8 ReLU / ReLU6 clamp (the pointwise path's condition).
        if name.contains("_pw1x1_") {
            c.act = (-128, 127);
        }
        let (n, macs) = sizes(&s, depthwise);
        reference(&c, &mut w.x_nchw, &mut w.y_nchw, &mut w.y_ref);
        let p = pack(&c, &mut w.packed)?;
        let t_dsp = run(&dsp, &c, p, &mut w.y, &mut w.scratch)?;
        ok &= same(out, name, "dsp", &w.y[..n], &w.y_ref[..n]);
        let t_portable = run(&portable, &c, p, &mut w.y, &mut w.scratch)?;
        ok &= same(out, name, "portable", &w.y[..n], &w.y_ref[..n]);
        let per_mac = |t: u64| (t * 100 / macs.max(1)) as u32;
        let (d, q) = (per_mac(t_dsp), per_mac(t_portable));
        let _ = writeln!(
            out,
            "layer={name} macs={macs} dsp_ns={t_dsp} dsp_per_mac={}.{:02} portable_ns={t_portable} portable_per_mac={}.{:02}",
            d / 100,
            d % 100,
            q / 100,
            q % 100
        );
    }
    Ok(ok)
}

#[entry]
fn main() -> ! {
    let Ok(host) = hio::hstdout() else {
        qemu_exit::finish(false)
    };
    let mut out = Out {
        host,
        buf: [0; 256],
        len: 0,
    };
    let ok = match main_result(&mut out) {
        Ok(ok) => ok,
        Err(e) => {
            let _ = writeln!(out, "error: {e:?}");
            false
        }
    };
    if ok {
        let _ = writeln!(out, "done");
    }
    qemu_exit::finish(ok)
}
