//! The NHWC convolution engine: packed weights, register-tiled microkernels, fused
//! epilogues, one implementation per ISA (issue #14, phase 1: the kernels).
//!
//! Activations are channels-last (NHWC, batch 1: the caller loops over images), so a
//! 1×1 convolution and a fully connected layer are one GEMM over pixels, and a k×k
//! convolution is an *indirect* GEMM (IGEMM, as in XNNPACK): for a tile of output
//! pixels the kernel reads, tap by tap, a pointer to each pixel's input row (its `C`
//! channels) or to a row of padding, instead of copying an im2col matrix. Depthwise
//! convolutions are vectorised across channels. Weights are packed once, at
//! conversion, in the layouts below; every ISA's microkernel reads the same bytes.
//!
//! # Kernel families
//!
//! | family | function | op |
//! |---|---|---|
//! | f32 conv | [`f32_conv`] | k×k conv (any stride, dilation, padding), 1×1 conv, fully connected ([`ConvShape::gemm`]) |
//! | f32 NCHW-input conv | [`f32_conv_nchw`] | a first layer of 1–4 input channels reading the NCHW image, writing NHWC (`stem.rs`: AVX-512 over 16 output pixels; elsewhere a transpose per band of rows and the f32 conv) |
//! | f32 fully connected | [`f32_fully_connected`] | `[n][k]` weights packed per call into scratch, then the f32 conv GEMM (the FullyConnected op at batch ≥ [`crate::kernels::engine::FC_GEMM_MIN_BATCH`]) |
//! | f32 depthwise | [`f32_dwconv`] | depthwise k×k (multiplier 1); 3×3 and 5×5 fully unrolled on interior pixels |
//! | f16 conv | [`f16_conv`] | as f32 conv, f16 weights converted per load |
//! | f16 depthwise | [`f16_dwconv`] | as f32 depthwise, f16 weights converted per load |
//! | f16 matrix-vector | [`f16_gemv`] | one fully connected row over the f16 1×1 conv panels, four FMA chains over k |
//! | int8 conv | [`i8_conv`] | as f32 conv, TFLite int8 arithmetic |
//! | int8 NCHW-input conv | [`i8_conv_nchw`] | a first layer of 1–4 channels reading the f32 NCHW image: per band of rows quantized into scratch, then (AVX-512 VNNI) `vpdpbusd` over 16 output pixels, or (elsewhere) a transpose and the int8 conv |
//! | int8 depthwise | [`i8_dwconv`] | as f32 depthwise |
//!
//! Each family function calls the best implementation for this CPU ([`Isa::best`]:
//! run-time detection with the `std` feature, cached; `cfg(target_feature)` without
//! it). [`Isa::kernels`] returns any implementation by ISA, `None` when this target or
//! CPU lacks it, for tests and benchmarks ([`Isa::ALL`] enumerates them):
//!
//! | ISA | f32 conv | int8 conv | depthwise (f32, int8) |
//! |---|---|---|---|
//! | [`Isa::Portable`] (every target) | `f32_igemm_4x16_portable` | `i8_igemm_2x16c4_portable` | `*_dwconv_16c_portable` |
//! | [`Isa::Avx2`] (x86-64 AVX2 + FMA + F16C) | `f32_igemm_6x16_avx2` (FMA) | `i8_igemm_2x16c4_avx2` (widen to i16, `vpmaddwd`) | `*_dwconv_16c_avx2` |
//! | [`Isa::Avx512`] (AVX-512 F/BW/VL) | `f32_igemm_8x32_avx512` | `i8_igemm_4x16c4_avx512bw` (widen, `vpmaddwd`) | `*_dwconv_16c_avx512` |
//! | [`Isa::Avx512Vnni`] (+ VNNI) | `f32_igemm_8x32_avx512` | `i8_igemm_8x32c4_avx512vnni` (`vpdpbusd`, two 16-channel panels per tile) | `f32_dwconv_16c_avx512`, `i8_dwconv_16c_avx512vnni` (`x86_avx512/dw.rs`: with VBMI `vpermb` + `vpdpbusd`, 4 taps per lane; else `vpdpwssd`) |
//! | [`Isa::Neon`] (AArch64) | `f32_igemm_6x16_neon` (FMA) | `i8_igemm_2x16c4_neon` (`smull` + `sadalp`) | `*_dwconv_16c_neon` |
//! | [`Isa::NeonDot`] (+ dotprod) | `f32_igemm_6x16_neon` | `i8_igemm_4x16c4_neondot` (`sdot`) | `*_dwconv_16c_neon` |
//! | [`Isa::Simd128`] (wasm32 `+simd128`) | `f32_igemm_3x16_simd128` | `i8_igemm_2x16c4_simd128` (`i32x4.dot_i16x8_s`) | `*_dwconv_16c_simd128` |
//! | [`Isa::CortexMDsp`] (Arm DSP extension: Cortex-M4/M7/M33…) | portable | `i8_igemm_2x2c4_dsp` (`SXTB16` + `SMLAD`, 2 pixels × 2 channels) | portable, `i8_dwconv_4c_dsp` (`SXTAB16` + `SMLABB`/`SMLATT`) |
//!
//! `MRxNR` is the register tile: `MR` output pixels × `NR` = 16 output channels
//! (`c4`: four consecutive input channels per output channel, see the int8 layout); a
//! last tile of at most `MR/2` pixels runs an `MR/2`-row variant. The AVX-512 f32
//! (and f16-weight) conv computes two panels per tile (`8x32`: 16 accumulator
//! registers, each broadcast input feeding two multiply-adds, two weight loads per
//! 16 multiply-adds instead of one per 8); a layer with an odd panel count runs its
//! last panel alone; a layer with one panel (at most 16 output channels: ResNet-8's
//! first block, VWW's stem and first pointwise conv) runs two 8-pixel tiles at once
//! instead (`16x16`, the same 16 accumulators). The pairing does not change any
//! output's sum or its order. Depthwise kernels
//! (`16c`: 16 channels per vector) compute 4, 2 or 1 interior pixels at a time.
//! The code is split as in tract's linalg: `frame/` holds the loops shared by every
//! ISA (tiling, indirection, tails, epilogues), generic over a few vector primitives
//! (`frame/lanes.rs`: the primitives, `frame/geom.rs`: the geometry, `conv.rs`,
//! `dwconv.rs` and `gemv.rs`: the drivers, `entry.rs`: the `engine_kernels!` macro);
//! `types.rs` holds what every engine module shares (the tile constants,
//! [`ConvShape`], the epilogues, the kernel table types) and uses none of them;
//! `portable.rs`, `x86_avx2.rs`, `x86_avx512/`, `aarch64_neon.rs` and
//! `wasm_simd128.rs` implement those primitives with intrinsics, nothing else
//! (`x86_avx512/dw.rs`, the int8 depthwise of the common shapes over a
//! zero-point-padded band, has its own loops; the engine selects its tables
//! `dw::KERNELS` / `dw::KERNELS_VNNI`).
//! `cortex_m_dsp/` is the exception: a Cortex-M has 13 usable registers, not 16-lane
//! vectors, so its int8 kernels have their own small-tile drivers (reusing the frame's
//! geometry, indirection rows and flat gather) and take the rest of the table from
//! the portable kernels; they are compiled in by `cfg(ferrite_arm_dsp)`, which
//! `build.rs` sets for targets with the DSP extension.
//!
//! # Packed layouts (the same bytes for every ISA)
//!
//! `NR = 16` output channels per panel for every ISA: one AVX-512 register, two AVX2
//! registers, four NEON / SIMD128 registers. A layer whose channel count is not a
//! multiple of 16 has a last panel padded with zero weights (and zero bias); the
//! kernels compute the padded channels and do not store them. `taps = KH·KW`, taps in
//! row-major order `(ky, kx)`; weights come from ONNX's `[M][C][KH][KW]` (fully
//! connected `[N][K]` is `KH = KW = 1`; depthwise `[C][1][KH][KW]`).
//!
//! - **f32 conv** (`[ceil(M/16)]` panels of `16 + taps·C·16` f32, [`pack_f32_conv`]):
//!   `bias[16]`, then `w[taps][C][16]`: for each tap and input channel, the 16 output
//!   channels' weights. The microkernel broadcasts one input value per pixel and does
//!   one 16-wide multiply-add per pixel per `(tap, c)`.
//! - **int8 conv** (`[ceil(M/16)]` panels of `H + taps·ceil(C/4)·64` bytes,
//!   [`pack_i8_conv_as`]): a header of `H` bytes, the per-channel constants in one
//!   of two forms ([`I8Header`], the kernels take it in [`I8Out::header`]):
//!   *wide* (format 1.1, [`pack_i8_conv`], `H = 256`), four `i32[16]` rows
//!   (little-endian) — `bias_s8`, `bias_u8`, `multiplier`, `shift`; *compact*
//!   (format 1.4, `H = 176`), `bias_s8` `i32[16]`, `multiplier` `i32[16]`,
//!   `sum_w` `i16[16]` (each channel's `Σw`; the packer refuses a layer whose `Σw`
//!   leaves i16, possible only past 258 weights per channel), `shift` `i8[16]`. Then
//!   `w[taps][ceil(C/4)][16][4]` i8: for each tap and group of 4 input channels, the 4
//!   consecutive weights of each of the 16 output channels (zero beyond `C`). Four
//!   consecutive `k` per output channel is what `vpdpbusd` and `sdot` consume in one
//!   instruction, and pairs of them (`vpmaddwd`, `i32x4.dot_i16x8_s`, and Cortex-M
//!   `SMLAD` for issue #15) are consecutive too. `C` is padded to a multiple of 4 *per
//!   tap*, so a tap's input row is read with 4-byte loads without crossing into the
//!   next tap (only the last group of a row with `C % 4 != 0` is read byte by byte).
//!   **Flat variant** for first layers, `C < 4` and at most 64 taps: the taps are not
//!   padded, `w[ceil(taps·C/4)][16][4]` with `k = tap·C + c` (a 1-channel 10×4
//!   kernel takes 10 groups instead of 40); the kernel gathers each output pixel's
//!   `taps·C` inputs into a small buffer per tile of `MR` pixels (an im2col of `MR`
//!   rows, padding taps holding `x_zp`) and runs the same microkernel over it.
//! - **f16 conv and depthwise** ([`pack_f16_conv`], [`pack_f16_dwconv`]): the f32
//!   layouts element for element, with f16 bits (`u16`) instead of f32 — the bias
//!   too — so the lengths are [`f32_conv_packed_len`] and [`f32_dwconv_packed_len`]
//!   elements (half the bytes). The f16 kernels are the f32 kernels loading 16
//!   weights at a time through a conversion (x86: `vcvtph2ps`, F16C / AVX-512F;
//!   AArch64: `fcvtl`; SIMD128 and portable: an exact software conversion into a
//!   16-element stack buffer), so an f16 model's weights are never expanded into
//!   the arena.
//! - **f32 depthwise** (`[ceil(C/16)]` tiles of `16 + taps·16` f32,
//!   [`pack_f32_dwconv`]): `bias[16]`, then `w[taps][16]`, channel-innermost.
//! - **int8 depthwise** (`[ceil(C/16)]` tiles of `H + taps·16` bytes,
//!   [`pack_i8_dwconv_as`]): wide headers (`H = 192`, [`pack_i8_dwconv`]) `bias`,
//!   `multiplier`, `shift` as `i32[16]`; compact ones (`H = 144`) `bias` and
//!   `multiplier` as `i32[16]`, `shift` `i8[16]`. Then `w[taps][16]` i8.
//!
//! Every panel and tile size is a multiple of 16 bytes. The kernels use unaligned
//! loads only: a packed tensor may start at any address.
//!
//! # int8 numerics (bit-exact with [`crate::kernels::int8`])
//!
//! The reference computes `acc = Σ (x − x_zp)·w + bias` over the taps inside the input
//! (padding contributes nothing), then
//! `y = clamp(out_zp + MultiplyByQuantizedMultiplier(acc, m, s), act_min, act_max)`.
//! The engine computes the same i32 sum (arithmetic modulo 2^32 like the reference's
//! wrapping sum, so the order does not matter and every product is exact):
//!
//! - **conv**: the packer folds the input zero point into the bias:
//!   `bias_s8 = bias − x_zp·Σw` (Σ over all taps and channels of the output channel),
//!   and padding rows hold the value `x_zp` (read from the caller's scratch), so a
//!   padded tap adds `x_zp·w`, which the fold cancels: the kernel sums raw `x·w`.
//!   Kernels that read `u = x + 128` as unsigned bytes (`vpdpbusd` multiplies u8 by
//!   s8; `x ^ 0x80` is `x + 128`) sum `x·w + 128·w` and start from
//!   `bias_u8 = bias_s8 − 128·Σw` instead. The wide header stores both rows; the
//!   compact one stores `Σw` as i16 and those kernels compute `bias_u8` per panel
//!   and tile (one widening load, a shift and a subtraction, as XNNPACK does), so
//!   the file stays ISA-independent.
//! - No product saturates on any ISA: `vpdpbusd` accumulates in i32; the AVX2,
//!   AVX-512BW and SIMD128 paths widen both operands to i16 and use `vpmaddwd` /
//!   `i32x4.dot_i16x8_s` (|pair sum| ≤ 2·128·128 = 2^15, exact in i32; the
//!   u8×s8 `vpmaddubsw`, whose i16 pair sum saturates at 2·255·127, is not used);
//!   NEON `smull` gives exact i16 products (|x·w| ≤ 2^14) that `sadalp` adds in
//!   pairs into i32; `sdot` accumulates in i32.
//! - **depthwise**: `(x − x_zp)·w` in i32 lanes, taps in the padding skipped, so no
//!   padding rows. For the interior pixels of 3×3 and 5×5 kernels (every tap inside)
//!   the kernel starts from `bias − x_zp·Σw` (computed per call and tile, exactly,
//!   modulo 2^32 as the sum) and multiplies raw `x`; border pixels subtract `x_zp`
//!   per tap. The x86 kernels multiply sign-extended i32 lanes by weights held in
//!   the low halves of i32 lanes (zero high halves) with `vpmaddwd` (`vpdpwssd` with
//!   VNNI): one exact product per lane, no widening of the products. With 8
//!   channels and horizontal stride 1 (MobileNetV1 0.25's 48×48 layer), interior
//!   pixels go two to a 16-lane vector (a tap of neighbouring pixels is 16
//!   consecutive bytes; the tile's constants are repeated in lanes 8..16).
//! - **epilogue**: the per-channel `(multiplier, shift)` of the panel header, vectorised
//!   exactly: a left shift by `clamp(shift, 0, 31)`, the rounding doubling high
//!   multiply (`floor((a·m + 2^30) / 2^31)`, saturating `i32::MIN·i32::MIN`; NEON
//!   `sqrdmulh` is this instruction), the rounding right shift by
//!   `clamp(−shift, 0, 31)` (ties away from zero), `+ out_zp`, clamp to
//!   `[act_min, act_max]`, saturate to i8. ReLU / ReLU6 / clip are that clamp.
//!   AVX-512 folds the two roundings into one: with `X = a·m` in 64 bits, the result
//!   is `floor((X + 2^30 + (2^(e−1) − [X < −2^30])·2^31) / 2^(31+e))` for `e > 0`
//!   (and `floor((X + 2^30) / 2^31)` for `e = 0`), an identity of floors proved in
//!   `x86_avx512/mod.rs` and checked there against the reference over every residue
//!   class that decides the rounding; a panel with a multiplier `i32::MIN` (the
//!   only one for which the doubling multiply saturates) takes the two-step form.
//! - **residual add** ([`I8Out::residual`]): the conv's int8 output `t` (saturated to
//!   i8) and the residual `r` go through exactly the reference int8 `Add`
//!   ([`crate::kernels::int8::binary`]): `sa = MBQM((t − a_zp) << left_shift, a)`,
//!   `sb = MBQM((r − b_zp) << left_shift, b)`, `y = clamp(out_zp + MBQM(sa + sb, out),
//!   act_min, act_max)`. The conv output is the Add's first input (`a`); an Add whose
//!   conv operand is the second input is the same Add with `a` and `b` swapped
//!   (`sa + sb` is commutative).
//!
//! # f32 results
//!
//! Each output is `clamp(bias + Σ_k x_k·w_k [+ r], min, max)` with the sum taken
//! starting from the bias, in the order (tap, input channel), with a fused multiply-add
//! (AVX2, AVX-512, NEON) or a multiply then an add (SIMD128, portable). The reference
//! ([`crate::kernels::f32::conv2d`]) sums in another order. For `K` products (taps in
//! the padding count as zero products on the conv path and are skipped on the
//! depthwise path), both are within `γ(K + 2)·S` of the exact value, where
//! `S = |bias| + Σ|x_k·w_k| + |r|`, `γ(n) = n·u / (1 − n·u)`, `u = 2^-24` (recursive
//! summation of `K + 2` terms, Higham §3.1; an FMA only removes roundings). The
//! clamp is 1-Lipschitz, so `|engine − exact| <= γ(K + 2)·S`: `tests/engine_*.rs` check
//! that against an f64 reference (products of f32 are exact in f64). The bound covers
//! finite results without underflow; NaN propagates through the clamp as in the
//! reference. Implementations of different ISAs may differ from each other by the
//! same bound.
//!
//! # Cost and memory
//!
//! No allocation, no `std`. Stack: the conv kernels keep an indirection tile of
//! `MR × 64` pointers (4 KiB for AVX-512; kernels with more than 64 taps rebuild it per
//! chunk of 64 taps) and 64 tap offsets; the int8 conv also a gather buffer of
//! `MR × 196` bytes for the flat layout. Scratch (caller-provided): [`conv_scratch_len`]
//! elements — one row of `C` padding values — for a conv whose taps reach the padding,
//! else none. Loop order: tiles of `MR` output pixels outside, the 16-channel panels
//! inside, so a tile's input rows (and its gathered flat rows) serve every panel.
//!
//! Depthwise kernels walk the output once per 16-channel tile, so a tile's bias,
//! requantization constants and (3×3, 5×5) weights are loaded once per call.
//!
//! Every kernel checks its slices against the shape first (O(1)) and returns
//! [`crate::Error::WrongLength`] when one is too short, [`crate::Error::Unsupported`] for parameters
//! it does not take (zero kernel, stride or dilation; sizes that overflow; an input
//! zero point outside `-128..=127`; a depthwise shape with `out_c != in_c`). It never
//! reads or writes out of bounds and never panics.

mod frame;
mod pack;
mod pool;
#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod pool_x86;
mod portable;
mod stem;
mod types;

#[cfg(target_arch = "aarch64")]
mod aarch64_neon;
#[cfg(any(ferrite_arm_dsp, test))]
mod cortex_m_dsp;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_simd128;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

use core::sync::atomic::{AtomicU8, Ordering};

pub use pack::{
    f32_conv_packed_len, f32_dwconv_packed_len, i8_conv_packed_len, i8_conv_packed_len_as,
    i8_dwconv_packed_len, i8_dwconv_packed_len_as, pack_f16_conv, pack_f16_dwconv, pack_f32_conv,
    pack_f32_dwconv, pack_i8_conv, pack_i8_conv_as, pack_i8_dwconv, pack_i8_dwconv_as,
};

use crate::Result;
pub use pool::{f32_avg_pool_nhwc, f32_max_pool_nhwc, i8_avg_pool_nhwc, i8_max_pool_nhwc};
pub use stem::{i8_conv_nchw_scratch_len, NCHW_MAX_C};
pub use types::{
    ConvShape, F16ConvFn, F16DwFn, F16GemvFn, F32ConvFn, F32DwFn, F32Out, I8ConvFn, I8DwFn,
    I8Header, I8Out, I8Residual, Isa, Kernel, Kernels, FC_GEMM_MIN_BATCH, I8_CONV_HEADER,
    I8_DW_HEADER, KR, NR,
};

impl Isa {
    /// Every ISA, from the most portable to the most specific.
    pub const ALL: [Isa; 8] = [
        Isa::Portable,
        Isa::Avx2,
        Isa::Avx512,
        Isa::Avx512Vnni,
        Isa::Neon,
        Isa::NeonDot,
        Isa::Simd128,
        Isa::CortexMDsp,
    ];

    /// Lower-case name (`"avx512vnni"`).
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Neon => "neon",
            Isa::NeonDot => "neondot",
            Isa::Simd128 => "simd128",
            Isa::CortexMDsp => "dsp",
        }
    }

    /// Whether this target and CPU run the ISA's kernels (run-time detection with
    /// `std`, else the compile-time target features).
    pub fn available(self) -> bool {
        self.kernels().is_some()
    }

    /// The ISA's kernels, `None` when this target or CPU lacks the ISA.
    pub fn kernels(self) -> Option<Kernels> {
        match self {
            Isa::Portable => Some(portable::KERNELS),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86_avx2::Avx2::new().map(|_| x86_avx2::KERNELS),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86_avx512::Avx512Bw::new().map(|_| x86_avx512::dw::KERNELS),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => x86_avx512::Vnni::new().map(|_| x86_avx512::dw::KERNELS_VNNI),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => aarch64_neon::NeonBase::new().map(|_| aarch64_neon::KERNELS),
            #[cfg(target_arch = "aarch64")]
            Isa::NeonDot => aarch64_neon::NeonDot::new().map(|_| aarch64_neon::KERNELS_DOT),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => Some(wasm_simd128::KERNELS),
            #[cfg(ferrite_arm_dsp)]
            Isa::CortexMDsp => Some(cortex_m_dsp::KERNELS),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The ISA the family functions use here: the last available one of
    /// [`Isa::ALL`], detected once and cached.
    pub fn best() -> Isa {
        static BEST: AtomicU8 = AtomicU8::new(u8::MAX);
        let cached = BEST.load(Ordering::Relaxed);
        if let Some(&isa) = Isa::ALL.get(usize::from(cached)) {
            return isa;
        }
        let (i, isa) = Isa::ALL
            .iter()
            .enumerate()
            .rev()
            .find(|(_, isa)| isa.available())
            .map_or((0, Isa::Portable), |(i, &isa)| (i, isa));
        BEST.store(i as u8, Ordering::Relaxed);
        isa
    }
}

/// The kernels of [`Isa::best`].
pub fn kernels() -> Kernels {
    // A wasm32 module built with `+simd128` only instantiates on engines that have it,
    // so the best ISA is known at compile time, and the portable kernels (reachable
    // from the run-time choice) are not linked into the `.wasm`.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm_simd128::KERNELS
    }
    // Likewise a build for an Arm DSP target runs only on cores with the extension.
    #[cfg(ferrite_arm_dsp)]
    {
        cortex_m_dsp::KERNELS
    }
    // Targets with the portable kernels only (thumbv6m, riscv32, wasm32 without
    // simd128, Arm without DSP) choose at compile time too: through the run-time
    // choice, a build for size may keep the whole table and so link every kernel,
    // including those of op groups it leaves out.
    #[cfg(not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        ferrite_arm_dsp,
        target_arch = "x86_64",
        target_arch = "aarch64"
    )))]
    {
        portable::KERNELS
    }
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        Isa::best().kernels().unwrap_or(portable::KERNELS)
    }
}

/// f32 convolution (k×k, 1×1 or fully connected) of the NHWC image `x` with weights
/// packed by [`pack_f32_conv`], into the NHWC `y`, fused epilogue `out`.
///
/// `scratch` holds at least [`conv_scratch_len`] elements (overwritten). Errors: see
/// the module docs. Cost: `out_h·out_w·out_c·taps·in_c` multiply-adds, no allocation.
pub fn f32_conv(
    shape: &ConvShape,
    x: &[f32],
    packed: &[f32],
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    (kernels().f32_conv.run)(shape, x, packed, out, y, scratch)
}

/// f32 depthwise convolution (`out_c == in_c`, one filter per channel) with weights
/// packed by [`pack_f32_dwconv`].
pub fn f32_dwconv(
    shape: &ConvShape,
    x: &[f32],
    packed: &[f32],
    out: &F32Out,
    y: &mut [f32],
) -> Result<()> {
    (kernels().f32_dwconv.run)(shape, x, packed, out, y)
}

/// [`f32_conv`] with f16 weights packed by [`pack_f16_conv`]: the same layout with
/// f16 elements (IEEE binary16 bits), converted to f32 as the microkernel loads
/// them (`vcvtph2ps` on x86, `fcvtl` on AArch64, through a 16-element stack buffer
/// elsewhere), never
/// expanded into memory. The result is bit-identical to [`f32_conv`] on the same
/// weights and bias converted to f32 (the same operations in the same order).
pub fn f16_conv(
    shape: &ConvShape,
    x: &[f32],
    packed: &[u16],
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    (kernels().f16_conv.run)(shape, x, packed, out, y, scratch)
}

/// [`f32_dwconv`] with f16 weights packed by [`pack_f16_dwconv`] (see [`f16_conv`]).
pub fn f16_dwconv(
    shape: &ConvShape,
    x: &[f32],
    packed: &[u16],
    out: &F32Out,
    y: &mut [f32],
) -> Result<()> {
    (kernels().f16_dwconv.run)(shape, x, packed, out, y)
}

/// One row of a fully connected layer with f16 weights: `y[..n] = clamp(bias +
/// x[..k] · w)` over the 1×1 conv panels [`pack_f16_conv`] writes for `n` outputs and
/// `k` inputs (`out.residual` must be `None`). Four independent FMA chains over `k`
/// (inputs `i ≡ j mod 4`), summed pairwise and added to the bias, so the result is
/// within the conv's bound `γ(k + 2)·S` of the exact value but not bit-identical to
/// [`f16_conv`]. `Err(Unsupported)` for a residual or slices shorter than the shape.
pub fn f16_gemv(
    k: usize,
    n: usize,
    x: &[f32],
    packed: &[u16],
    out: &F32Out,
    y: &mut [f32],
) -> Result<()> {
    (kernels().f16_gemv.run)(k, n, x, packed, out, y)
}

/// int8 convolution with weights packed by [`pack_i8_conv`] for the same `x_zp`;
/// identical bytes to [`crate::kernels::int8::conv2d`] (+ [`crate::kernels::int8::binary`]
/// for a residual). `scratch` holds at least [`conv_scratch_len`] bytes.
#[allow(clippy::too_many_arguments)]
pub fn i8_conv(
    shape: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    (kernels().i8_conv.run)(shape, x, x_zp, packed, out, y, scratch)
}

/// int8 depthwise convolution with weights packed by [`pack_i8_dwconv`]; identical
/// bytes to [`crate::kernels::int8::conv2d`] with `groups = C`.
pub fn i8_dwconv(
    shape: &ConvShape,
    x: &[i8],
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
) -> Result<()> {
    (kernels().i8_dwconv.run)(shape, x, x_zp, packed, out, y)
}

/// f32 convolution of the **NCHW** image `x` (`[C, H, W]`, `1 <= C <= 4`: a first
/// layer reading the graph input) with weights packed by [`pack_f32_conv`], into the
/// NHWC `y`, clamped to `[min, max]`: the [`f32_conv`] of the transposed image without
/// a transpose where the CPU has AVX-512 (see `stem.rs`), else exactly that transpose
/// and conv. `scratch` holds at least [`f32_conv_nchw_scratch_len`] elements
/// (overwritten). Errors as [`f32_conv`], and [`crate::Error::Unsupported`] for other
/// channel counts.
pub fn f32_conv_nchw(
    shape: &ConvShape,
    x: &[f32],
    packed: &[f32],
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    stem::check(shape, x, packed, y)?;
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = x86_avx512::Avx512Bw::new().filter(|_| shape.stride[1] <= 2) {
        if out.residual.is_none() {
            x86_avx512::stem::run(t, shape, x, packed, out.min, out.max, y);
            return Ok(());
        }
    }
    stem::transposed(shape, x, packed, out, y, scratch, kernels().f32_conv.run)
}

/// [`f32_conv_nchw`] on `isa`'s kernel (for tests and benchmarks): `None` when this
/// target or CPU lacks `isa`. The ISAs without a kernel of their own (all but AVX-512)
/// transpose into `scratch` and run their [`f32_conv`].
pub fn f32_conv_nchw_on(
    isa: Isa,
    shape: &ConvShape,
    x: &[f32],
    packed: &[f32],
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Option<Result<()>> {
    let k = isa.kernels()?;
    // With AVX-512 available, the dispatching function takes its kernel.
    if matches!(isa, Isa::Avx512 | Isa::Avx512Vnni) {
        return Some(f32_conv_nchw(shape, x, packed, out, y, scratch));
    }
    let checked = stem::check(shape, x, packed, y);
    Some(checked.and_then(|()| stem::transposed(shape, x, packed, out, y, scratch, k.f32_conv.run)))
}

/// Elements of scratch [`f32_conv_nchw`] needs for `shape`: the image's `C·H·W` (its
/// NHWC copy on the ISAs that transpose) plus [`conv_scratch_len`]. `None` when the
/// shape is invalid.
pub fn f32_conv_nchw_scratch_len(shape: &ConvShape) -> Option<usize> {
    stem::scratch_len(shape)
}

/// int8 convolution of the **f32 NCHW** image `x` (`[C, H, W]`, `1 <= C <= 4`: a first
/// layer reading the graph input), quantized as it is read with `x_scale` and `x_zp`
/// (exactly [`crate::kernels::f32::quantize_i8`], the `Quantize` op's arithmetic),
/// with weights packed by [`pack_i8_conv`] for `x_zp`, into the NHWC `y`: the
/// same bytes as `Quantize`, the NCHW → NHWC `Transpose` and [`i8_conv`]. Per
/// band of 8 output rows, the input rows the band reads are quantized into `scratch`
/// (at least [`i8_conv_nchw_scratch_len`] bytes, overwritten); with AVX-512 VNNI
/// (horizontal stride 1 or 2; with VBMI, padded rows and `vpermt2b` gathers,
/// `stem_rows.rs`) a kernel over 16 output pixels reads them (`stem.rs`),
/// on every other CPU they are transposed to NHWC and the CPU's int8 conv runs on them. Errors as [`i8_conv`],
/// and [`crate::Error::Unsupported`] for other channel counts or a residual.
#[allow(clippy::too_many_arguments)]
pub fn i8_conv_nchw(
    s: &ConvShape,
    x: &[f32],
    x_scale: f32,
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = x86_avx512::Vnni::new().filter(|_| x86_avx512::stem::i8_fits(s)) {
        if let Some(r) = stem::i8_rows(t, s, (x, x_scale, x_zp), packed, out, y, scratch) {
            return r;
        }
        return stem::i8_direct(t, s, (x, x_scale, x_zp), packed, out, y, scratch);
    }
    let conv = kernels().i8_conv.run;
    stem::i8_transposed(s, (x, x_scale, x_zp), packed, out, y, scratch, conv)
}

/// [`i8_conv_nchw`] on `isa`'s int8 conv (for tests and benchmarks): `None` when this
/// target or CPU lacks `isa`.
#[allow(clippy::too_many_arguments)]
pub fn i8_conv_nchw_on(
    isa: Isa,
    s: &ConvShape,
    x: &[f32],
    x_scale: f32,
    x_zp: i32,
    packed: &[u8],
    out: &I8Out,
    y: &mut [i8],
    scratch: &mut [i8],
) -> Option<Result<()>> {
    let conv = isa.kernels()?.i8_conv.run;
    // With VNNI, the dispatching function takes the direct kernel.
    if isa == Isa::Avx512Vnni {
        return Some(i8_conv_nchw(s, x, x_scale, x_zp, packed, out, y, scratch));
    }
    Some(stem::i8_transposed(
        s,
        (x, x_scale, x_zp),
        packed,
        out,
        y,
        scratch,
        conv,
    ))
}

/// Elements of scratch [`f32_conv`] / [`i8_conv`] need for `shape`: `in_c` when some
/// tap reads the padding (a row of padding values), else 0. `None` when the shape is
/// invalid (see the module docs).
pub fn conv_scratch_len(shape: &ConvShape) -> Option<usize> {
    frame::geom::Geom::new(shape)
        .ok()
        .map(|g| if g.padded { g.c } else { 0 })
}

/// Elements of scratch [`f32_fully_connected`] needs for `n` outputs of `k` inputs:
/// the weights and bias packed per call ([`f32_conv_packed_len`] of a 1×1 conv).
/// `None` when the size overflows.
pub fn f32_fc_scratch_len(n: usize, k: usize) -> Option<usize> {
    f32_conv_packed_len(n, k, [1, 1])
}

/// f32 fully connected layer `y[m][n] = clamp(bias[n] + Σ_k x[m][k]·w[n][k], min, max)`
/// (`w` row-major `[n][k]`, as ONNX `Gemm` with `transB` and the `.fer` FullyConnected
/// op store it) on the GEMM of [`f32_conv`]: the weights and bias are packed into
/// `scratch` (at least [`f32_fc_scratch_len`] elements, overwritten) with
/// [`pack_f32_conv`], then the `m` rows run as a 1×1 convolution over `m` pixels
/// ([`ConvShape::gemm`]). Results: within the bound of the module docs (f32 results)
/// with `K = k` products. Cost: `n·k` element copies for the packing, then `m·n·k`
/// multiply-adds; no allocation. Errors as [`pack_f32_conv`] and [`f32_conv`].
#[allow(clippy::too_many_arguments)]
pub fn f32_fully_connected(
    m: usize,
    k: usize,
    n: usize,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    f32_fully_connected_with(&kernels(), m, k, n, x, w, bias, out, y, scratch)
}

/// [`f32_fully_connected`] on the kernels of a given ISA (tests and benchmarks).
#[allow(clippy::too_many_arguments)]
pub fn f32_fully_connected_with(
    kernels: &Kernels,
    m: usize,
    k: usize,
    n: usize,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &F32Out,
    y: &mut [f32],
    scratch: &mut [f32],
) -> Result<()> {
    let len = f32_fc_scratch_len(n, k).ok_or(crate::Error::Unsupported)?;
    let actual = scratch.len();
    let packed = scratch.get_mut(..len).ok_or(crate::Error::WrongLength {
        expected: len,
        actual,
    })?;
    pack_f32_conv(w, bias, n, k, [1, 1], packed)?;
    (kernels.f32_conv.run)(&ConvShape::gemm(m, k, n), x, packed, out, y, &mut [])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_is_available_and_cached() {
        let best = Isa::best();
        assert!(best.available());
        assert_eq!(Isa::best(), best);
        assert_eq!(kernels().isa, best);
    }

    #[test]
    fn names_say_the_isa() {
        for isa in Isa::ALL {
            if let Some(k) = isa.kernels() {
                assert_eq!(k.isa, isa);
                for name in [
                    k.f32_conv.name,
                    k.f32_dwconv.name,
                    k.f16_conv.name,
                    k.f16_dwconv.name,
                    k.f16_gemv.name,
                    k.i8_conv.name,
                    k.i8_dwconv.name,
                ] {
                    let suffix = name.rsplit('_').next().unwrap_or_default();
                    assert!(
                        isa.name().starts_with(suffix)
                            || suffix.starts_with(isa.name())
                            // Its f32 and f16 families are the portable kernels.
                            || (isa == Isa::CortexMDsp && suffix == "portable"),
                        "{name} for {isa:?}"
                    );
                }
            }
        }
    }
}
