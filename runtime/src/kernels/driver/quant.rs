//! Quantize (f32 → int8/uint8) and Dequantize (int8/uint8 → f32): elementwise, so the
//! whole work is one primitive of [`Lanes`] per direction and type, whose default is
//! the reference loop (identical results by construction); a target overrides it with
//! vector code that gives the same bits.

use super::lanes::Lanes;

/// [`crate::kernels::f32::quantize_i8`] on the target's lanes.
#[inline(always)]
pub(crate) fn f32_quantize_i8<L: Lanes>(l: L, x: &[f32], scale: f32, zp: i32, y: &mut [i8]) {
    l.quantize_i8(x, scale, zp, y);
}

/// [`crate::kernels::f32::quantize_u8`] on the target's lanes.
#[inline(always)]
pub(crate) fn f32_quantize_u8<L: Lanes>(l: L, x: &[f32], scale: f32, zp: i32, y: &mut [u8]) {
    l.quantize_u8(x, scale, zp, y);
}

/// [`crate::kernels::f32::dequantize_i8`] on the target's lanes.
#[inline(always)]
pub(crate) fn f32_dequantize_i8<L: Lanes>(l: L, x: &[i8], scale: f32, zp: i32, y: &mut [f32]) {
    l.dequantize_i8(x, scale, zp, y);
}

/// [`crate::kernels::f32::dequantize_u8`] on the target's lanes.
#[inline(always)]
pub(crate) fn f32_dequantize_u8<L: Lanes>(l: L, x: &[u8], scale: f32, zp: i32, y: &mut [f32]) {
    l.dequantize_u8(x, scale, zp, y);
}
