//! Optimized kernels, chosen for the target: the functions the executor calls.
//!
//! [`int8_fully_connected`], [`int8_conv2d`], [`f32_fully_connected`] and
//! [`f32_conv2d`] have exactly the signatures of the reference kernels
//! ([`super::int8::fully_connected`], [`super::int8::conv2d`],
//! [`super::f32::fully_connected`], [`super::f32::conv2d`]; the parameter structs are
//! in [`super::params`]) and pick, on each call:
//!
//! | target | implementation |
//! |---|---|
//! | x86-64 | `avx2` if the CPU has AVX2 (run-time `is_x86_feature_detected!` with the `std` feature, else `cfg(target_feature = "avx2")`), else `portable` |
//! | AArch64 | `neon` (NEON is baseline) |
//! | wasm32 built with `+simd128` | `simd128` |
//! | others (Cortex-M, RISC-V, wasm without SIMD) | `portable`: unrolled scalar loops |
//!
//! [`implementation`] returns any implementation by name, for tests and benchmarks.
//!
//! # Results
//! - **int8**: identical bytes to the reference for every input. The i32 accumulation
//!   wraps like the reference's; since wrapping addition is arithmetic modulo 2^32, the
//!   summation order does not change the result, and every product is exact. Each
//!   output is requantized by the reference's own code. Inputs the vector code does not
//!   cover (an input zero point outside `-128..=127`, shapes inconsistent with the
//!   slice lengths) are passed to the reference kernel.
//! - **f32 conv2d**: identical bits to the reference: each output is accumulated in
//!   the reference's order (input channel, ky, kx), multiply then add, no FMA; only
//!   the loop nest differs (vectors run along the output row).
//! - **f32 fully connected**: sums in 8 interleaved partial sums (lane `i % 8`),
//!   combined as `((s0+s4)+(s2+s6))+((s1+s5)+(s3+s7))`, then the tail in order. For
//!   `K` terms, both this and the reference's sequential sum are within
//!   `γ(K) · Σ|x_k·w_k|` of the exact sum (`γ(K) = K·u/(1 − K·u)`, `u = 2^-24`), so
//!   they differ by at most `2·γ(K) · Σ|x_k·w_k|` before the bias; adding the bias and
//!   clamping adds at most one rounding of the result each (`tests/kernels_opt.rs`
//!   checks `|opt − ref| <= 2·γ(K+1)·(Σ|x_k·w_k| + |bias|)`). The bound covers
//!   finite sums: where a partial sum overflows, one order may give ±inf and the
//!   other a finite value or NaN.
//!
//! All implementations (portable, AVX2, NEON, SIMD128) use this same grouping, so
//! they agree with each other bit for bit; only the reference's order differs.
//!
//! # Cost
//! No allocation. Convolutions with horizontal stride 1 and rows of at least 16
//! outputs run blocked kernels: four output channels of one group x 16 columns of
//! accumulators (256 bytes, in vector registers where the target has enough), every
//! tap of the block summed before the block is stored; the int8 passes that touch
//! the padding read a 32-entry copy of the input row padded with `x_zp` (adds exactly
//! 0), the f32 edge columns are summed one by one (skipping the padding, as the
//! reference). int8 requantization of a row is written to vectorize (same results as
//! the reference's `requant`). Other convolutions keep four 64-entry i32 accumulator
//! tiles on the stack (int8, 1 KiB) or one 64-entry f32 tile (256 bytes). On x86-64
//! CPUs with AVX-512 VNNI and VBMI2 the `avx2` int8 fully connected runs layers of at
//! most 64 inputs and 16 outputs in registers (`vpdpbusd`, one vector requantization
//! of the outputs; `x86_64/fc_small.rs`), same bytes.
//!
//! [`f32_quantize_i8`], [`f32_quantize_u8`] (ONNX `QuantizeLinear`) and
//! [`f32_dequantize_i8`], [`f32_dequantize_u8`] give the reference's bytes and bits for
//! every input (NaN, infinities, ties and out-of-range zero points included): AVX2
//! does the reference's operations in its order on 8 lanes (`vdivps`, `vroundps` to
//! nearest-even, add, clamp); the division bounds the speed, so 16-lane AVX-512 would
//! not be faster. Other targets run the reference loop.
//!
//! [`int8_max_pool2d`] and [`f32_max_pool2d`] are portable loops (tap by tap over
//! output rows), the same on every target.

use super::params::PoolParams;

/// The kernel families that have an optimized implementation per target, each
/// signature written once: `families!(cb! {args})` calls `cb! { {args} name: Alias =
/// reference_module::function(params); … }` with every family. The reference kernel
/// defines the signature; the driver (`driver/`) takes the same arguments after a
/// [`Lanes`](super::driver::Lanes) token. A new family is an entry here, its reference
/// kernel and its driver.
macro_rules! families {
    ($cb:ident! $args:tt) => {
        $cb! { $args
            int8_fully_connected: Int8FullyConnected = int8::fully_connected(
                p: &$crate::kernels::FullyConnectedParams, x: &[i8], x_zp: i32, w: &[i8],
                out: &$crate::kernels::QuantOut<'_>, y: &mut [i8]);
            int8_conv2d: Int8Conv2d = int8::conv2d(
                p: &$crate::kernels::ConvParams, x: &[i8], x_zp: i32, w: &[i8],
                out: &$crate::kernels::QuantOut<'_>, y: &mut [i8]);
            f32_fully_connected: F32FullyConnected = f32::fully_connected(
                p: &$crate::kernels::FullyConnectedParams, x: &[f32], w: &[f32],
                out: &$crate::kernels::F32Out<'_>, y: &mut [f32]);
            f32_conv2d: F32Conv2d = f32::conv2d(
                p: &$crate::kernels::ConvParams, x: &[f32], w: &[f32],
                out: &$crate::kernels::F32Out<'_>, y: &mut [f32]);
            f32_quantize_i8: F32QuantizeI8 = f32::quantize_i8(
                x: &[f32], scale: f32, zero_point: i32, y: &mut [i8]);
            f32_quantize_u8: F32QuantizeU8 = f32::quantize_u8(
                x: &[f32], scale: f32, zero_point: i32, y: &mut [u8]);
            f32_dequantize_i8: F32DequantizeI8 = f32::dequantize_i8(
                x: &[i8], scale: f32, zero_point: i32, y: &mut [f32]);
            f32_dequantize_u8: F32DequantizeU8 = f32::dequantize_u8(
                x: &[u8], scale: f32, zero_point: i32, y: &mut [f32]);
        }
    };
}

/// The function-pointer type of every family, the [`Implementation`] table and the
/// dispatching functions.
macro_rules! declare {
    ({} $($name:ident: $alias:ident = $m:ident :: $r:ident ($($a:ident : $t:ty),*);)*) => {
        $(
            #[doc = concat!("Signature of [`super::", stringify!($m), "::", stringify!($r), "`].")]
            pub type $alias = fn($($t),*);
        )*

        /// One set of kernels (see [`implementation`]).
        #[derive(Clone, Copy, Debug)]
        pub struct Implementation {
            /// One of [`NAMES`].
            pub name: &'static str,
            $(
                #[doc = concat!("[`super::", stringify!($m), "::", stringify!($r), "`].")]
                pub $name: $alias,
            )*
        }

        impl Implementation {
            /// The reference kernels.
            const REFERENCE: Implementation = Implementation {
                name: "reference",
                $($name: super::$m::$r,)*
            };
        }

        $(
            #[doc = concat!(
                "[`super::", stringify!($m), "::", stringify!($r), "`], optimized for the ",
                "target (see the module docs for how its results relate to the reference's)."
            )]
            #[inline]
            pub fn $name($($a: $t),*) {
                target::$name($($a),*)
            }
        )*
    };
}
families!(declare! {});

/// Defines, in a module `$module`, the kernels of one implementation (one per family,
/// with the reference's signature) and its `IMPLEMENTATION` table named `$label`.
///
/// `safe ($lanes)` calls the drivers with the value `$lanes` (portable code).
/// `simd ($tok, $new, [$feature])` calls them with the token `$new` (an
/// `Option<$tok>`), or the portable kernel when the token is `None`; with a
/// `$feature` the driver is instantiated inside a `#[target_feature(enable =
/// "$feature")]` function so that the intrinsics of the (always inlined) primitives
/// are compiled for that feature. The ISA modules themselves hold only their token and
/// its [`Lanes`](super::driver::Lanes) primitives.
macro_rules! entry_points {
    ({$module:ident, $label:literal, $kind:ident $args:tt}
     $($name:ident: $alias:ident = $m:ident :: $r:ident ($($a:ident : $t:ty),*);)*) => {
        #[doc = concat!("The `", $label, "` kernels.")]
        mod $module {
            $(entry_points!(@$kind $args, $name, ($($a: $t),*));)*

            /// This implementation's kernels.
            pub(crate) const IMPLEMENTATION: super::Implementation = super::Implementation {
                name: $label,
                $($name,)*
            };
        }
    };
    (@safe ($lanes:expr), $name:ident, ($($a:ident : $t:ty),*)) => {
        pub(crate) fn $name($($a: $t),*) {
            $crate::kernels::driver::$name($lanes, $($a),*)
        }
    };
    (@simd ($tok:ty, $new:expr, [$($f:literal)?]), $name:ident, ($($a:ident : $t:ty),*)) => {
        // The one `unsafe` outside the ISA modules: calling the driver compiled with the
        // target feature that the token proves.
        #[allow(unsafe_code)]
        pub(crate) fn $name($($a: $t),*) {
            /// # Safety
            /// `t` proves the CPU supports the target feature enabled here.
            $(#[target_feature(enable = $f)])?
            #[inline]
            unsafe fn imp(t: $tok, $($a: $t),*) {
                $crate::kernels::driver::$name(t, $($a),*)
            }
            match $new {
                // SAFETY: a token is only created after checking that the CPU has
                // the feature `imp` enables; the driver checks every length itself.
                Some(t) => unsafe { imp(t, $($a),*) },
                None => super::portable::$name($($a),*),
            }
        }
    };
}

families!(entry_points! {portable, "portable", safe (crate::kernels::portable::Portable)});
#[cfg(target_arch = "x86_64")]
families!(entry_points! {avx2, "avx2", simd (
    crate::kernels::x86_64::Avx2, crate::kernels::x86_64::Avx2::new(), ["avx2"]
)});
#[cfg(target_arch = "aarch64")]
families!(entry_points! {neon, "neon", simd (
    crate::kernels::aarch64::Neon, crate::kernels::aarch64::Neon::new(), []
)});
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
families!(entry_points! {simd128, "simd128", simd (
    crate::kernels::wasm32::Simd128, crate::kernels::wasm32::Simd128::new(), []
)});

/// Every implementation name, available on this CPU or not.
pub const NAMES: &[&str] = &["reference", "portable", "avx2", "neon", "simd128"];

/// The implementation called `name` (one of [`NAMES`]), or `None` when it is unknown,
/// not compiled for this target, or not supported by this CPU.
pub fn implementation(name: &str) -> Option<Implementation> {
    match name {
        "reference" => Some(Implementation::REFERENCE),
        "portable" => Some(portable::IMPLEMENTATION),
        #[cfg(target_arch = "x86_64")]
        "avx2" => super::x86_64::Avx2::new().map(|_| avx2::IMPLEMENTATION),
        #[cfg(target_arch = "aarch64")]
        "neon" => super::aarch64::Neon::new().map(|_| neon::IMPLEMENTATION),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        "simd128" => Some(simd128::IMPLEMENTATION),
        _ => None,
    }
}

/// The implementation the dispatching functions of this module use here.
pub fn best() -> Implementation {
    NAMES
        .iter()
        .rev()
        .find_map(|n| implementation(n))
        .unwrap_or(portable::IMPLEMENTATION)
}

#[cfg(target_arch = "x86_64")]
use avx2 as target;
#[cfg(target_arch = "aarch64")]
use neon as target;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
use portable as target;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd128 as target;

/// [`super::int8::max_pool2d`], optimized (identical bytes): portable code, the same
/// on every target.
pub fn int8_max_pool2d(p: &PoolParams, x: &[i8], y: &mut [i8]) {
    if super::driver::max_pool2d(p, x, y, i8::MIN, i8::max).is_none() {
        super::int8::max_pool2d(p, x, y);
    }
}

/// [`super::f32::max_pool2d`], optimized (identical bits: the same comparison,
/// `v > max`, over the taps in the same order, so NaN and signed zeros come out the
/// same): portable code, the same on every target.
pub fn f32_max_pool2d(p: &PoolParams, x: &[f32], y: &mut [f32]) {
    let max = |m: f32, v: f32| if v > m { v } else { m };
    if super::driver::max_pool2d(p, x, y, f32::NEG_INFINITY, max).is_none() {
        super::f32::max_pool2d(p, x, y);
    }
}
