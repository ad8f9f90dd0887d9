//! Scaffolding shared by the kernel tests (`kernels_*.rs`): window geometry and the
//! proptest strategies that draw it, index arithmetic for the naive references,
//! data strategies, the fully connected and conv cases the tests build and run, and
//! ([`suite`]) the suite every optimized implementation runs against the reference.
//!
//! Outside the suite nothing here calls a kernel: the naive references in the test
//! files stay independent of the code under test, and a kernel enters a case only as
//! the function pointer a test passes to `run`.

// Every test file is its own crate and includes this module with `mod support;`;
// each uses only part of it, and the rest would warn as dead code in that crate.
#![allow(dead_code)]

use ferrite::format::types::Window;
use ferrite::kernels::fast::{F32Conv2d, F32FullyConnected, Int8Conv2d, Int8FullyConnected};
use ferrite::kernels::{ConvParams, F32Out, FullyConnectedParams, PoolParams, QuantOut};
use proptest::prelude::*;

pub mod suite;

/// No fused activation: the f32 clamp `(min, max)` that keeps every value.
pub const NONE: (f32, f32) = (f32::NEG_INFINITY, f32::INFINITY);

// ---------------------------------------------------------------- geometry

pub fn window(kernel: [u32; 2], stride: [u32; 2], dilation: [u32; 2], pads: [u32; 4]) -> Window {
    Window {
        kernel,
        stride,
        dilation,
        pads,
    }
}

/// Output length of a window axis (floor mode, or ceil mode for pools), `None` when
/// the window does not fit.
pub fn out_len(
    len: usize,
    k: usize,
    s: usize,
    d: usize,
    p0: usize,
    p1: usize,
    ceil: bool,
) -> Option<usize> {
    let eff = d * (k - 1) + 1;
    let padded = len + p0 + p1;
    if padded < eff {
        return None;
    }
    let span = padded - eff;
    let mut o = if ceil { span.div_ceil(s) } else { span / s } + 1;
    // ONNX ceil mode: the last window must start inside the input or the begin padding.
    if ceil && (o - 1) * s >= len + p0 {
        o -= 1;
    }
    Some(o)
}

/// Output height and width of `win` (strides, dilations, pads) with a `kernel`
/// (height, width) over an `h` x `w` plane, `None` when the window does not fit.
pub fn out_hw(
    h: usize,
    w: usize,
    kernel: [usize; 2],
    win: &Window,
    ceil: bool,
) -> Option<[usize; 2]> {
    let axis = |len: usize, a: usize| {
        out_len(
            len,
            kernel[a],
            win.stride[a] as usize,
            win.dilation[a] as usize,
            win.pads[a] as usize,
            win.pads[a + 2] as usize,
            ceil,
        )
    };
    Some([axis(h, 0)?, axis(w, 1)?])
}

/// Geometry of a convolution: `(xs, ws, ys, win, groups)`.
pub type Geometry = ([usize; 4], [usize; 4], [usize; 4], Window, usize);

/// The geometry of a named convolution case of input shape `xs` and weight shape
/// `ws`; panics when the window does not fit.
pub fn fixed_geometry(xs: [usize; 4], ws: [usize; 4], win: Window, groups: usize) -> Geometry {
    let [oh, ow] = out_hw(xs[2], xs[3], [ws[2], ws[3]], &win, false).expect("window fits");
    (xs, ws, [xs[0], ws[0], oh, ow], win, groups)
}

/// Convolution geometries from the given ranges of `(batch, groups, input channels
/// per group, output channels per group)`, `(height, width, kernel height, kernel
/// width)` and `(stride h, stride w, dilation h, dilation w)`, pads 0..=2 on every
/// side; geometries with an empty output are rejected.
pub fn conv_geometry(
    channels: impl Strategy<Value = (usize, usize, usize, usize)>,
    plane: impl Strategy<Value = (usize, usize, usize, usize)>,
    steps: impl Strategy<Value = (u32, u32, u32, u32)>,
) -> impl Strategy<Value = Geometry> {
    (
        channels,
        plane,
        steps,
        [0u32..=2, 0u32..=2, 0u32..=2, 0u32..=2],
    )
        .prop_filter_map(
            "empty output",
            |((n, groups, cg, mg), (h, w, kh, kw), (sh, sw, dh, dw), pads)| {
                let win = window([kh as u32, kw as u32], [sh, sw], [dh, dw], pads);
                let [oh, ow] = out_hw(h, w, [kh, kw], &win, false)?;
                let (c, m) = (groups * cg, groups * mg);
                Some(([n, c, h, w], [m, cg, kh, kw], [n, m, oh, ow], win, groups))
            },
        )
}

/// Pool geometries `(xs, ys, win)`: up to 2 x 3 x 6 x 6 inputs, kernels and strides
/// up to 3, dilations up to 2, pads smaller than the kernel (ONNX requires that of
/// pools), floor or ceil mode as `ceil` draws; empty outputs are rejected.
pub fn pool_geometry(
    ceil: impl Strategy<Value = bool>,
) -> impl Strategy<Value = ([usize; 4], [usize; 4], Window)> {
    (
        (1usize..=2, 1usize..=3, 1usize..=6, 1usize..=6),
        (
            1usize..=3,
            1usize..=3,
            1u32..=3,
            1u32..=3,
            1u32..=2,
            1u32..=2,
        ),
        [0u32..=2, 0u32..=2, 0u32..=2, 0u32..=2],
        ceil,
    )
        .prop_filter_map(
            "empty output",
            |((n, c, h, w), (kh, kw, sh, sw, dh, dw), pads, ceil)| {
                let pads = [
                    pads[0].min(kh as u32 - 1),
                    pads[1].min(kw as u32 - 1),
                    pads[2].min(kh as u32 - 1),
                    pads[3].min(kw as u32 - 1),
                ];
                let win = window([kh as u32, kw as u32], [sh, sw], [dh, dw], pads);
                let [oh, ow] = out_hw(h, w, [kh, kw], &win, ceil)?;
                Some(([n, c, h, w], [n, c, oh, ow], win))
            },
        )
}

// ---------------------------------------------------------------- whole models

/// Runs a one-input model; returns output 0's bytes.
pub fn run_model(model: &[u8], x: &[u8]) -> Result<Vec<u8>, ferrite::Error> {
    let a = ferrite::AlignedModel::new(model);
    let m = a.model()?;
    let mut os = ferrite::OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_bytes(0, x)?;
    s.run()?;
    Ok(s.output_bytes(0)?.to_vec())
}

// ---------------------------------------------------------------- index arithmetic

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Multi-index of linear index `i` in `shape`.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

/// Linear index of multi-index `idx` in `shape`.
pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// Linear index in `shape` of the output multi-index `out_idx` (right-aligned numpy
/// broadcasting: missing leading axes and size-1 axes read index 0).
pub fn broadcast_index(out_idx: &[usize], shape: &[usize]) -> usize {
    let off = out_idx.len() - shape.len();
    let st = strides(shape);
    (0..shape.len())
        .map(|d| {
            if shape[d] == 1 {
                0
            } else {
                out_idx[off + d] * st[d]
            }
        })
        .sum()
}

/// The lines of `x` (shape `[outer, axis, inner]`) along its middle axis, line
/// `o * inner + i` holding `x[o, .., i]`.
pub fn axis_lines<T: Copy>(x: &[T], outer: usize, axis: usize, inner: usize) -> Vec<Vec<T>> {
    (0..outer * inner)
        .map(|line| {
            let (o, i) = (line / inner, line % inner);
            (0..axis).map(|j| x[(o * axis + j) * inner + i]).collect()
        })
        .collect()
}

/// An output shape of rank 0..=4 and two operand shapes that broadcast to it.
pub fn broadcast_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    proptest::collection::vec(1usize..=4, 0..=4).prop_flat_map(|out| {
        let r = out.len();
        let operand = {
            let out = out.clone();
            (0..=r, proptest::collection::vec(any::<bool>(), r)).prop_map(move |(drop, ones)| {
                (drop..r)
                    .map(|d| if ones[d] { 1 } else { out[d] })
                    .collect::<Vec<_>>()
            })
        };
        (Just(out), operand.clone(), operand)
    })
}

// ---------------------------------------------------------------- data

/// Fused f32 activations: none, relu, relu6 and a symmetric clamp.
pub fn f32_act() -> impl Strategy<Value = (f32, f32)> {
    prop_oneof![
        Just(NONE),
        Just((0.0, f32::INFINITY)),
        Just((0.0, 6.0)),
        Just((-1.0, 1.0))
    ]
}

pub fn i8s(len: usize) -> impl Strategy<Value = Vec<i8>> {
    proptest::collection::vec(any::<i8>(), len)
}

/// int8 zero points, the extremes and 0 over-represented.
pub fn zero_point() -> impl Strategy<Value = i32> {
    prop_oneof![Just(-128), Just(127), Just(0), -128i32..=127]
}

/// int8 activation ranges: the full range, or a clamp around 0.
pub fn act_range() -> impl Strategy<Value = (i32, i32)> {
    prop_oneof![Just((-128, 127)), (-128i32..=0, 0i32..=127)]
}

// ---------------------------------------------------------------- kernel parameters

/// The [`ConvParams`] of a geometry.
pub fn conv_params(
    xs: [usize; 4],
    ws: [usize; 4],
    ys: [usize; 4],
    window: Window,
    groups: usize,
) -> ConvParams {
    ConvParams {
        x: xs,
        w: ws,
        y: ys,
        window,
        groups,
    }
}

/// The [`PoolParams`] of a pool geometry.
pub fn pool_params(xs: [usize; 4], ys: [usize; 4], window: Window, include: bool) -> PoolParams {
    PoolParams {
        x: xs,
        y: ys,
        window,
        count_include_pad: include,
    }
}

/// The f32 output stage: `bias`, then the clamp `act = (min, max)`.
pub fn f32_out(bias: Option<&[f32]>, (act_min, act_max): (f32, f32)) -> F32Out<'_> {
    F32Out {
        bias,
        act_min,
        act_max,
    }
}

/// The int8 output stage: `bias`, requantization table `rq`, output zero point and
/// the clamp `act = (min, max)`.
pub fn quant_out<'a>(
    bias: Option<&'a [i32]>,
    rq: &'a [i32],
    out_zp: i32,
    (act_min, act_max): (i32, i32),
) -> QuantOut<'a> {
    QuantOut {
        bias,
        requant: rq,
        zero_point: out_zp,
        act_min,
        act_max,
    }
}

// ---------------------------------------------------------------- fully connected cases

/// The arguments of one int8 fully connected call.
#[derive(Clone, Debug)]
pub struct FcI8Case {
    pub x: Vec<i8>,
    pub x_zp: i32,
    pub w: Vec<i8>,
    pub bias: Option<Vec<i32>>,
    pub batch: usize,
    pub k: usize,
    pub n: usize,
    pub rq: Vec<i32>,
    pub out_zp: i32,
    pub act: (i32, i32),
}

impl FcI8Case {
    /// The output of `kernel` on this case, into a buffer that starts filled with `fill`.
    pub fn run(&self, kernel: Int8FullyConnected, fill: i8) -> Vec<i8> {
        let mut y = vec![fill; self.batch * self.n];
        let p = FullyConnectedParams {
            batch: self.batch,
            k: self.k,
            n: self.n,
        };
        let out = quant_out(self.bias.as_deref(), &self.rq, self.out_zp, self.act);
        kernel(&p, &self.x, self.x_zp, &self.w, &out, &mut y);
        y
    }
}

/// The arguments of one f32 fully connected call.
#[derive(Clone, Debug)]
pub struct FcF32Case {
    pub x: Vec<f32>,
    pub w: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub batch: usize,
    pub k: usize,
    pub n: usize,
    pub act: (f32, f32),
}

impl FcF32Case {
    /// The output of `kernel` on this case, into a buffer that starts filled with `fill`.
    pub fn run(&self, kernel: F32FullyConnected, fill: f32) -> Vec<f32> {
        let mut y = vec![fill; self.batch * self.n];
        let p = FullyConnectedParams {
            batch: self.batch,
            k: self.k,
            n: self.n,
        };
        kernel(
            &p,
            &self.x,
            &self.w,
            &f32_out(self.bias.as_deref(), self.act),
            &mut y,
        );
        y
    }
}

// ---------------------------------------------------------------- conv cases

/// The arguments of one f32 conv2d call.
#[derive(Clone, Debug)]
pub struct ConvF32Case {
    pub x: Vec<f32>,
    pub xs: [usize; 4],
    pub w: Vec<f32>,
    pub ws: [usize; 4],
    pub bias: Option<Vec<f32>>,
    pub win: Window,
    pub groups: usize,
    pub act: (f32, f32),
    pub ys: [usize; 4],
}

impl ConvF32Case {
    /// The case of `geometry` with input `x`, weights `w`, `bias` and activation `act`.
    pub fn new(
        (xs, ws, ys, win, groups): Geometry,
        x: Vec<f32>,
        w: Vec<f32>,
        bias: Option<Vec<f32>>,
        act: (f32, f32),
    ) -> Self {
        Self {
            x,
            xs,
            w,
            ws,
            bias,
            win,
            groups,
            act,
            ys,
        }
    }

    /// The geometry of the case.
    pub fn params(&self) -> ConvParams {
        conv_params(self.xs, self.ws, self.ys, self.win, self.groups)
    }

    /// The output of `kernel` on this case, into a buffer that starts filled with `fill`.
    pub fn run(&self, kernel: F32Conv2d, fill: f32) -> Vec<f32> {
        let mut y = vec![fill; self.ys.iter().product()];
        let out = f32_out(self.bias.as_deref(), self.act);
        kernel(&self.params(), &self.x, &self.w, &out, &mut y);
        y
    }
}

/// The arguments of one int8 conv2d call.
#[derive(Clone, Debug)]
pub struct ConvI8Case {
    pub x: Vec<i8>,
    pub xs: [usize; 4],
    pub x_zp: i32,
    pub w: Vec<i8>,
    pub ws: [usize; 4],
    pub bias: Option<Vec<i32>>,
    pub win: Window,
    pub groups: usize,
    pub rq: Vec<i32>,
    pub out_zp: i32,
    pub act: (i32, i32),
    pub ys: [usize; 4],
    /// Output buffer length (normally `ys` product).
    pub y_len: usize,
}

/// The data of an int8 conv case: `(x, x_zp, w, bias, rq, out_zp, act)`.
pub type ConvI8Data = (
    Vec<i8>,
    i32,
    Vec<i8>,
    Option<Vec<i32>>,
    Vec<i32>,
    i32,
    (i32, i32),
);

impl ConvI8Case {
    /// The case of `geometry` with `data`, writing a whole output buffer.
    pub fn new(
        (xs, ws, ys, win, groups): Geometry,
        (x, x_zp, w, bias, rq, out_zp, act): ConvI8Data,
    ) -> Self {
        Self {
            x,
            xs,
            x_zp,
            w,
            ws,
            bias,
            win,
            groups,
            rq,
            out_zp,
            act,
            ys,
            y_len: ys.iter().product(),
        }
    }

    /// The output of `kernel` on this case, into a buffer of `y_len` bytes that starts
    /// filled with `fill`.
    pub fn run(&self, kernel: Int8Conv2d, fill: i8) -> Vec<i8> {
        let mut y = vec![fill; self.y_len];
        let out = quant_out(self.bias.as_deref(), &self.rq, self.out_zp, self.act);
        let p = conv_params(self.xs, self.ws, self.ys, self.win, self.groups);
        kernel(&p, &self.x, self.x_zp, &self.w, &out, &mut y);
        y
    }
}

/// xorshift64 (13, 7, 17): deterministic test values.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.next() as usize % v.len()]
    }
}
