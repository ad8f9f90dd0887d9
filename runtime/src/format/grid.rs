//! The attributes of [`Op::GridSample`](super::op::Op::GridSample) (format minor 3),
//! re-exported by [`super::types`]. The variant index of each enum is its encoding, so
//! new variants go at the end (see `docs/format.md`).

use serde::{Deserialize, Serialize};

/// Interpolation of [`Op::GridSample`](super::op::Op::GridSample).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GridMode {
    /// The nearest pixel (ONNX `nearest`).
    Nearest,
    /// Linear in each axis (ONNX `bilinear` / `linear`).
    Linear,
    /// Cubic convolution in each axis (ONNX `bicubic` / `cubic`).
    Cubic,
}

/// Out-of-range handling of [`Op::GridSample`](super::op::Op::GridSample).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GridPadding {
    /// Taps outside the input read 0.
    Zeros,
    /// Coordinates and taps are clamped to the input.
    Border,
    /// Coordinates and taps are reflected at the input's bounds.
    Reflection,
}
