//! Geometry of the sliding-window ops (Conv and the pools), shared by f32 and int8.

use crate::format::types::Window;

/// One spatial axis of a window op: where each tap of an output position reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Axis {
    /// Input length along the axis (unpadded).
    len: usize,
    stride: usize,
    dilation: usize,
    pad_begin: usize,
    pad_end: usize,
}

impl Axis {
    /// Input coordinate read by tap `k` of output position `o`, `None` in the padding.
    #[inline]
    pub(crate) fn tap(&self, o: usize, k: usize) -> Option<usize> {
        // Position in padded coordinates; the input starts at `pad_begin`.
        let p = o * self.stride + k * self.dilation;
        p.checked_sub(self.pad_begin).filter(|&i| i < self.len)
    }

    /// Number of the `kernel` taps of output position `o` that lie inside the padded
    /// extent `[0, pad_begin + len + pad_end)` (the `count_include_pad` divisor).
    #[inline]
    pub(crate) fn padded_taps(&self, o: usize, kernel: usize) -> usize {
        let end = self.pad_begin + self.len + self.pad_end;
        (0..kernel)
            .filter(|&k| o * self.stride + k * self.dilation < end)
            .count()
    }

    /// Number of the `kernel` taps of output position `o` that read the input.
    #[inline]
    pub(crate) fn valid_taps(&self, o: usize, kernel: usize) -> usize {
        (0..kernel).filter(|&k| self.tap(o, k).is_some()).count()
    }
}

/// The (height, width) axes of `win` over an input of `h` x `w`.
pub(crate) fn axes(win: &Window, h: usize, w: usize) -> (Axis, Axis) {
    let axis = |i: usize, len: usize| Axis {
        len,
        stride: win.stride[i] as usize,
        dilation: win.dilation[i] as usize,
        pad_begin: win.pads[i] as usize,
        pad_end: win.pads[i + 2] as usize,
    };
    (axis(0, h), axis(1, w))
}
