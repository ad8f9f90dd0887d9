//! [`engine_kernels!`]: the entry points of an ISA module, instantiating the
//! frame's drivers inside `#[target_feature]` functions.

/// Defines an ISA module's seven kernels (`f32_conv`, `f32_dwconv`, `f16_conv`,
/// `f16_dwconv`, `f16_gemv`, `i8_conv`, `i8_dwconv`) and its `Kernels` table: each runs the frame's driver with the token
/// inside a `#[target_feature(enable = ...)]` function (when features are given), or
/// returns `Error::Unsupported` when the CPU lacks them.
macro_rules! engine_kernels {
    (
        kernels: $table:ident, isa: $isa:expr, features: [$($f:literal)?],
        f32: ($ftok:ty, $fnew:expr, $fmr:literal, $fmt:literal, $fname:literal),
        f32_dw: $fdwname:literal,
        f16: ($f16name:literal, $f16dwname:literal, $f16gvname:literal),
        i8: ($itok:ty, $inew:expr, $imr:literal, $imt:literal, $iname:literal),
        i8_dw: ($dtok:ty, $dnew:expr, $idwname:literal) $(,)?
    ) => {
        fn f32_conv(
            s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[f32],
            out: &$crate::kernels::engine::types::F32Out, y: &mut [f32], scratch: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[f32],
                out: &$crate::kernels::engine::types::F32Out, y: &mut [f32], scratch: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::conv::f32_conv::<_, f32, $fmr, $fmt>(t, s, x, packed, out, y, scratch) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y, scratch) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn f32_dwconv(
            s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[f32],
            out: &$crate::kernels::engine::types::F32Out, y: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[f32],
                out: &$crate::kernels::engine::types::F32Out, y: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::dwf32::f32_dwconv::<_, f32>(t, s, x, packed, out, y) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn f16_conv(
            s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[u16],
            out: &$crate::kernels::engine::types::F32Out, y: &mut [f32], scratch: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[u16],
                out: &$crate::kernels::engine::types::F32Out, y: &mut [f32], scratch: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::conv::f32_conv::<_, u16, $fmr, $fmt>(t, s, x, packed, out, y, scratch) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y, scratch) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn f16_dwconv(
            s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[u16],
            out: &$crate::kernels::engine::types::F32Out, y: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, s: &$crate::kernels::engine::types::ConvShape, x: &[f32], packed: &[u16],
                out: &$crate::kernels::engine::types::F32Out, y: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::dwf32::f32_dwconv::<_, u16>(t, s, x, packed, out, y) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, packed, out, y) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn f16_gemv(
            k: usize, n: usize, x: &[f32], packed: &[u16],
            out: &$crate::kernels::engine::types::F32Out, y: &mut [f32],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $ftok, k: usize, n: usize, x: &[f32], packed: &[u16],
                out: &$crate::kernels::engine::types::F32Out, y: &mut [f32],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::gemv::f32_gemv::<_, u16>(t, k, n, x, packed, out, y) }
            }
            match $fnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, k, n, x, packed, out, y) },
                None => Err($crate::Error::Unsupported),
            }
        }

        #[allow(clippy::too_many_arguments)]
        fn i8_conv(
            s: &$crate::kernels::engine::types::ConvShape, x: &[i8], x_zp: i32, packed: &[u8],
            out: &$crate::kernels::engine::types::I8Out, y: &mut [i8], scratch: &mut [i8],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            #[allow(clippy::too_many_arguments)]
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $itok, s: &$crate::kernels::engine::types::ConvShape, x: &[i8], x_zp: i32,
                packed: &[u8], out: &$crate::kernels::engine::types::I8Out, y: &mut [i8],
                scratch: &mut [i8],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::conv::i8_conv::<_, $imr, $imt>(t, s, x, x_zp, packed, out, y, scratch) }
            }
            /// # Safety
            /// As `imp`.
            #[allow(clippy::too_many_arguments)]
            $(#[target_feature(enable = $f)])?
            unsafe fn imp_flipped<const RES: bool, const PACK: bool>(
                t: $itok, s: &$crate::kernels::engine::types::ConvShape, x: &[i8], x_zp: i32,
                packed: &[u8], out: &$crate::kernels::engine::types::I8Out, y: &mut [i8],
                scratch: &mut [i8],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::conv1x1::i8_conv_flipped::<_, $imr, $imt, RES, PACK>(t, s, x, x_zp, packed, out, y, scratch) }
            }
            match $inew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) if $crate::kernels::engine::frame::conv1x1::flipped_applies::<$itok, $imr>(s, out) => unsafe {
                    // One function with the residual Add, one without it.
                    match out.residual {
                        Some(_) => imp_flipped::<true, false>(t, s, x, x_zp, packed, out, y, scratch),
                        // A third instance for 16–64 outputs (its own code).
                        None if $crate::kernels::engine::frame::conv1x1::packed_applies(s) => {
                            imp_flipped::<false, true>(t, s, x, x_zp, packed, out, y, scratch)
                        }
                        None => imp_flipped::<false, false>(t, s, x, x_zp, packed, out, y, scratch),
                    }
                },
                // SAFETY: as above.
                Some(t) => unsafe { imp(t, s, x, x_zp, packed, out, y, scratch) },
                None => Err($crate::Error::Unsupported),
            }
        }

        fn i8_dwconv(
            s: &$crate::kernels::engine::types::ConvShape, x: &[i8], x_zp: i32, packed: &[u8],
            out: &$crate::kernels::engine::types::I8Out, y: &mut [i8],
        ) -> $crate::Result<()> {
            /// # Safety
            /// The CPU supports the enabled features (`t` proves it).
            $(#[target_feature(enable = $f)])?
            unsafe fn imp(
                t: $dtok, s: &$crate::kernels::engine::types::ConvShape, x: &[i8], x_zp: i32,
                packed: &[u8], out: &$crate::kernels::engine::types::I8Out, y: &mut [i8],
            ) -> $crate::Result<()> {
                // SAFETY: caller's contract.
                unsafe { $crate::kernels::engine::frame::dwconv::i8_dwconv(t, s, x, x_zp, packed, out, y) }
            }
            match $dnew {
                // SAFETY: the token exists only when the CPU has the features.
                Some(t) => unsafe { imp(t, s, x, x_zp, packed, out, y) },
                None => Err($crate::Error::Unsupported),
            }
        }

        /// This module's kernels.
        pub(crate) const $table: $crate::kernels::engine::types::Kernels = $crate::kernels::engine::types::Kernels {
            isa: $isa,
            f32_conv: $crate::kernels::engine::types::Kernel { name: $fname, run: f32_conv },
            f32_dwconv: $crate::kernels::engine::types::Kernel { name: $fdwname, run: f32_dwconv },
            f16_conv: $crate::kernels::engine::types::Kernel { name: $f16name, run: f16_conv },
            f16_dwconv: $crate::kernels::engine::types::Kernel { name: $f16dwname, run: f16_dwconv },
            f16_gemv: $crate::kernels::engine::types::Kernel { name: $f16gvname, run: f16_gemv },
            i8_conv: $crate::kernels::engine::types::Kernel { name: $iname, run: i8_conv },
            i8_dwconv: $crate::kernels::engine::types::Kernel { name: $idwname, run: i8_dwconv },
        };
    };
}
pub(crate) use engine_kernels;
