//! The loops every ISA shares: shape checks, indirection, tiling, tails and
//! epilogues, generic over the vector primitives of [`F32Lanes`], [`I32Lanes`] and
//! [`I8Dot`] that each ISA module implements with its intrinsics.
//!
//! The public kernels of an ISA module are instantiated by [`engine_kernels!`] inside
//! a `#[target_feature]` function; everything here is `#[inline(always)]` so that it
//! is compiled for those features.
//!
//! Except at opt-level 0 (cargo's `dev` profile; `cfg(ferrite_unoptimized)`, set by
//! the build script): the tile, panel, epilogue and walk helpers (and the larger
//! requantization primitives of the ISA modules) are
//! `#[cfg_attr(not(ferrite_unoptimized), inline(always))]`. Unoptimized, LLVM gives
//! every temporary of every inlined call its own stack slot: with them inlined the
//! AVX-512 VNNI int8 conv's frame was 1.5 MB, enough to overflow a 1 MB thread; out of
//! line no kernel frame is above 55 KB (`tests/debug_stack.rs` runs every kernel on a
//! 128 KiB stack). Those helpers then run without the entry's target features and
//! call the intrinsics out of line, which unoptimized code does anyway; a primitive
//! that needs a feature to assemble (NEON's `sdot`) carries it itself there.
//! Optimized builds (any other opt-level, with or without debug assertions) are
//! unchanged.
//!
//! # Safety
//! The drivers ([`f32_conv`], [`i8_conv`], [`f32_dwconv`], [`i8_dwconv`]) check every
//! slice against the shape before touching memory ([`Geom`] and the `need` checks);
//! after that, every pointer they build or pass to a primitive is in bounds:
//! input rows hold `C` elements (an input pixel, or the padding row of the scratch),
//! panels and tiles lie inside the packed slice, output rows inside `y`. Primitives
//! reading 16 lanes are given 16 readable elements; tails use the `_partial`
//! primitives with the exact count.
//!
//! The primitives, geometry and indirection are here; the drivers are in `conv`
//! (f32/f16 and int8 conv), `dwconv` (the depthwise walk and int8) and `dwf32`
//! (f32/f16 depthwise), the int8 microkernel and the
//! rows it reads in `i8tile`, the int8 epilogue in `i8epi`, the macro in `entry`.

#![allow(unsafe_code)]

pub(crate) mod conv;
pub(crate) mod conv1x1;
pub(crate) mod dwconv;
pub(crate) mod dwf32;
mod entry;
pub(crate) mod gemv;
pub(crate) mod geom;
pub(crate) mod i8epi;
pub(crate) mod i8tile;
pub(crate) mod lanes;

// The Cortex-M DSP kernels' own drivers reuse the flat gather and the checks.
#[cfg(any(ferrite_arm_dsp, test))]
pub(crate) use conv::{i8_conv_operands, i8_zero_point};
pub(crate) use entry::engine_kernels;
#[cfg(any(ferrite_arm_dsp, test))]
pub(crate) use i8tile::{gather, quad, FLAT_K};
pub(crate) use lanes::{F32Lanes, I32Lanes, I8Dot};
