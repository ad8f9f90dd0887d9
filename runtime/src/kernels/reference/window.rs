//! Geometry of the sliding-window ops (Conv and the pools), shared by f32 and int8.

use crate::format::types::Window;
use crate::kernels::params::PoolParams;

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

/// Shared loop of the reference pools (f32 and int8): calls `f(taps, oy, ox)` for every output position of
/// every plane, where `taps` iterates the input values under the window (padding
/// skipped). `f` is a trait object so the loop is compiled once per element type.
pub(crate) fn pool2d<T: Copy>(
    p: &PoolParams,
    x: &[T],
    y: &mut [T],
    f: &dyn Fn(&mut dyn Iterator<Item = T>, usize, usize) -> T,
) {
    let [n, c, h, wd] = p.x;
    let [_, _, oh, ow] = p.y;
    let win = &p.window;
    let [kh, kw] = [win.kernel[0] as usize, win.kernel[1] as usize];
    let (ah, aw) = axes(win, h, wd);
    let mut out = y.iter_mut();
    for plane in 0..n * c {
        let xp = &x[plane * h * wd..(plane + 1) * h * wd];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut taps = (0..kh)
                    .filter_map(|ky| ah.tap(oy, ky))
                    .flat_map(|iy| {
                        (0..kw)
                            .filter_map(move |kx| aw.tap(ox, kx))
                            .map(move |ix| (iy, ix))
                    })
                    .map(|(iy, ix)| xp[iy * wd + ix]);
                let v = f(&mut taps, oy, ox);
                if let Some(o) = out.next() {
                    *o = v;
                }
            }
        }
    }
}
