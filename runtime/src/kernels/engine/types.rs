//! The engine's shared types: tile constants, [`ConvShape`], the epilogues, the kernel
//! function types and the [`Kernels`] of an [`Isa`]. Every other engine module uses
//! them; this module uses none of them.

use crate::format::types::QBinary;
use crate::Result;

/// Output channels per packed panel (and channels per depthwise tile), on every ISA.
pub const NR: usize = 16;
/// Rows from which the f32 FullyConnected op runs [`f32_fully_connected`](super::f32_fully_connected) (the GEMM,
/// weights packed per call into arena scratch) instead of one dot product per output
/// (`crate::kernels::fast`): below it, packing the `n·k` weights costs about as much
/// as the rows themselves, and batch-1 models (the device case) need no scratch.
pub const FC_GEMM_MIN_BATCH: usize = 4;
/// int8 conv: consecutive input channels stored together per output channel.
pub const KR: usize = 4;
/// Bytes of the wide int8 conv panel header (`bias_s8`, `bias_u8`, `multiplier`,
/// `shift`, four `i32[16]` rows): [`I8Header::Wide`].
pub const I8_CONV_HEADER: usize = 4 * 4 * NR;
/// Bytes of the wide int8 depthwise tile header (`bias`, `multiplier`, `shift`, three
/// `i32[16]` rows): [`I8Header::Wide`].
pub const I8_DW_HEADER: usize = 3 * 4 * NR;

/// The form of the per-channel constants at the head of every int8 conv panel and
/// depthwise tile (see the module docs of [`super`]). The weights after the header are
/// the same in both forms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum I8Header {
    /// Format 1.1: every row `i32[16]`. Conv: `bias_s8`, `bias_u8`, `multiplier`,
    /// `shift` ([`I8_CONV_HEADER`] bytes); depthwise: `bias`, `multiplier`, `shift`
    /// ([`I8_DW_HEADER`] bytes).
    #[default]
    Wide,
    /// Format 1.4: the shift as `i8[16]`, and the conv's `bias_u8` row replaced by
    /// `sum_w: i16[16]` (`Σw` of each output channel; `bias_u8 = bias_s8 − 128·Σw`).
    /// Conv: `bias_s8` `i32[16]`, `multiplier` `i32[16]`, `sum_w` `i16[16]`, `shift`
    /// `i8[16]` (176 bytes); depthwise: `bias` `i32[16]`, `multiplier` `i32[16]`,
    /// `shift` `i8[16]` (144 bytes).
    Compact,
}

impl I8Header {
    /// Bytes of a conv panel's header.
    pub const fn conv_len(self) -> usize {
        match self {
            I8Header::Wide => I8_CONV_HEADER,
            I8Header::Compact => 11 * NR,
        }
    }

    /// Bytes of a depthwise tile's header.
    pub const fn dw_len(self) -> usize {
        match self {
            I8Header::Wide => I8_DW_HEADER,
            I8Header::Compact => 9 * NR,
        }
    }

    /// Offsets in a conv panel's header of the `multiplier` and `shift` rows.
    pub(crate) const fn conv_rq_at(self) -> (usize, usize) {
        match self {
            I8Header::Wide => (8 * NR, 12 * NR),
            I8Header::Compact => (4 * NR, 10 * NR),
        }
    }

    /// Offsets in a depthwise tile's header of the `multiplier` and `shift` rows.
    pub(crate) const fn dw_rq_at(self) -> (usize, usize) {
        (4 * NR, 8 * NR)
    }

    /// Offset of the compact conv header's `sum_w` row.
    pub(crate) const SUM_W_AT: usize = 8 * NR;

    /// Channel `j`'s shift in the shift row `row` (`i32` wide, `i8` compact), or
    /// `None` past the end of `row`.
    pub(crate) fn shift(self, row: &[u8], j: usize) -> Option<i32> {
        match self {
            I8Header::Wide => row
                .get(4 * j..4 * j + 4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            I8Header::Compact => row.get(j).map(|&b| i32::from(b as i8)),
        }
    }
}

/// Geometry of a 2D convolution over one NHWC image.
///
/// Input `[in_h][in_w][in_c]`, output `[out_h][out_w][out_c]`. Output pixel `(oy, ox)`,
/// tap `(ky, kx)` reads input pixel `(oy·stride[0] + ky·dilation[0] − pad[0],
/// ox·stride[1] + kx·dilation[1] − pad[1])`, or the padding when that is outside the
/// input. `pad` is `[top, left]`: the bottom and right padding follow from the output
/// size, which the caller computes (as ONNX does). 1D convolutions use `in_h = out_h =
/// 1`, `kernel[0] = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub in_c: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Output channels.
    pub out_c: usize,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[vertical, horizontal]` stride.
    pub stride: [usize; 2],
    /// `[vertical, horizontal]` dilation.
    pub dilation: [usize; 2],
    /// `[top, left]`.
    pub pad: [usize; 2],
}

impl ConvShape {
    /// A fully connected layer (or a 1×1 convolution over `m` pixels): `y[m][n] =
    /// x[m][k] · wᵀ`, i.e. a 1×1 convolution of a `1 × m` image with `k` channels.
    pub const fn gemm(m: usize, k: usize, n: usize) -> Self {
        ConvShape {
            in_h: 1,
            in_w: m,
            in_c: k,
            out_h: 1,
            out_w: m,
            out_c: n,
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 0],
        }
    }

    /// `kernel[0] · kernel[1]` (saturating).
    pub const fn taps(&self) -> usize {
        self.kernel[0].saturating_mul(self.kernel[1])
    }
}

/// Epilogue of an f32 kernel: `y = clamp(acc + bias [+ residual], min, max)`.
#[derive(Clone, Copy, Debug)]
pub struct F32Out<'a> {
    /// Lower clamp (fused activation).
    pub min: f32,
    /// Upper clamp (fused activation).
    pub max: f32,
    /// A tensor of the output's shape added before the clamp (a fused residual `Add`).
    pub residual: Option<&'a [f32]>,
}

impl F32Out<'_> {
    /// No activation, no residual.
    pub const LINEAR: F32Out<'static> = F32Out {
        min: f32::NEG_INFINITY,
        max: f32::INFINITY,
        residual: None,
    };
}

/// Epilogue of an int8 kernel (per-channel multipliers and shifts are in the packed
/// weights): `y = clamp(zero_point + MBQM(acc), act_min, act_max)`, then the optional
/// residual add.
#[derive(Clone, Copy, Debug)]
pub struct I8Out<'a> {
    /// Zero point of the output tensor.
    pub zero_point: i32,
    /// Lower clamp of the quantized output.
    pub act_min: i32,
    /// Upper clamp of the quantized output.
    pub act_max: i32,
    /// A fused residual `Add`, applied after the clamp.
    pub residual: Option<I8Residual<'a>>,
    /// The form of the packed weights' headers.
    pub header: I8Header,
}

/// A fused int8 residual `Add`: the kernel's output is the Add's first input `a`,
/// `input` (the output's shape) its second input `b`; `add` holds the Add's
/// parameters exactly as the reference [`crate::kernels::int8::binary`] takes them.
#[derive(Clone, Copy, Debug)]
pub struct I8Residual<'a> {
    /// The Add's second input, in the output's shape.
    pub input: &'a [i8],
    /// The Add's quantization parameters.
    pub add: QBinary,
}

/// f32 conv: `(shape, x, packed, out, y, scratch)`; see [`f32_conv`](super::f32_conv).
pub type F32ConvFn = fn(&ConvShape, &[f32], &[f32], &F32Out, &mut [f32], &mut [f32]) -> Result<()>;
/// f32 depthwise: `(shape, x, packed, out, y)`; see [`f32_dwconv`](super::f32_dwconv).
pub type F32DwFn = fn(&ConvShape, &[f32], &[f32], &F32Out, &mut [f32]) -> Result<()>;
/// f16-weight conv: `(shape, x, packed, out, y, scratch)`; see [`f16_conv`](super::f16_conv).
pub type F16ConvFn = fn(&ConvShape, &[f32], &[u16], &F32Out, &mut [f32], &mut [f32]) -> Result<()>;
/// f16-weight depthwise: `(shape, x, packed, out, y)`; see [`f16_dwconv`](super::f16_dwconv).
pub type F16DwFn = fn(&ConvShape, &[f32], &[u16], &F32Out, &mut [f32]) -> Result<()>;
/// f16-weight matrix-vector product: `(k, n, x, packed, out, y)`; see [`f16_gemv`](super::f16_gemv).
pub type F16GemvFn = fn(usize, usize, &[f32], &[u16], &F32Out, &mut [f32]) -> Result<()>;
/// int8 conv: `(shape, x, x_zp, packed, out, y, scratch)`; see [`i8_conv`](super::i8_conv).
pub type I8ConvFn = fn(&ConvShape, &[i8], i32, &[u8], &I8Out, &mut [i8], &mut [i8]) -> Result<()>;
/// int8 depthwise: `(shape, x, x_zp, packed, out, y)`; see [`i8_dwconv`](super::i8_dwconv).
pub type I8DwFn = fn(&ConvShape, &[i8], i32, &[u8], &I8Out, &mut [i8]) -> Result<()>;

/// A kernel with the name that says what it is (dtype, op, tile, ISA).
#[derive(Clone, Copy, Debug)]
pub struct Kernel<F> {
    /// Kernel name: dtype, op, tile, ISA.
    pub name: &'static str,
    /// The kernel function.
    pub run: F,
}

/// The kernel families of one ISA.
#[derive(Clone, Copy, Debug)]
pub struct Kernels {
    /// The instruction set.
    pub isa: Isa,
    /// f32 convolution (also 1×1 and fully connected).
    pub f32_conv: Kernel<F32ConvFn>,
    /// f32 depthwise convolution.
    pub f32_dwconv: Kernel<F32DwFn>,
    /// f32 convolution with f16 weights (also 1×1 and fully connected).
    pub f16_conv: Kernel<F16ConvFn>,
    /// f32 depthwise convolution with f16 weights.
    pub f16_dwconv: Kernel<F16DwFn>,
    /// One fully connected row with f16 weights (1×1 conv panels).
    pub f16_gemv: Kernel<F16GemvFn>,
    /// int8 convolution (also 1×1 and fully connected).
    pub i8_conv: Kernel<I8ConvFn>,
    /// int8 depthwise convolution.
    pub i8_dwconv: Kernel<I8DwFn>,
}

/// An instruction set the engine has kernels for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Plain Rust loops (every target; auto-vectorised where the target allows).
    Portable,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512 F, BW and VL (int8 by widening to i16).
    Avx512,
    /// [`Isa::Avx512`] + AVX-512 VNNI (int8 with `vpdpbusd`).
    Avx512Vnni,
    /// AArch64 NEON (int8 with `smull` + `sadalp`).
    Neon,
    /// AArch64 NEON + the dot-product extension (int8 with `sdot`).
    NeonDot,
    /// wasm32 built with `+simd128`.
    Simd128,
    /// Arm M-profile DSP extension (Cortex-M4/M7/M33…: int8 with `SMLAD`), chosen at
    /// compile time (`cfg(ferrite_arm_dsp)`, set by the build script); f32 kernels
    /// are the portable ones.
    CortexMDsp,
}
