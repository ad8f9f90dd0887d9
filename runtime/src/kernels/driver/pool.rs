//! Max pool over output rows, tap by tap (portable code, the same on every target).

use super::geometry::Axis;
use super::lanes::{holds, mul};
use crate::kernels::params::PoolParams;

/// Max pool over `T` (same contract as [`ri::max_pool2d`] / [`rf::max_pool2d`]):
/// every output starts at `init` and takes `max(out, tap)` for the taps inside the
/// input in the reference's order (ky, kx), row by row and tap by tap. `None` when
/// the shapes do not fit the slices (the caller then runs the reference).
#[inline(always)]
pub(crate) fn max_pool2d<T: Copy>(
    p: &PoolParams,
    x: &[T],
    y: &mut [T],
    init: T,
    max: impl Fn(T, T) -> T,
) -> Option<()> {
    let [n, c, h, wd] = p.x;
    let [_, _, oh, ow] = p.y;
    let win = &p.window;
    let [kh, kw] = [win.kernel[0] as usize, win.kernel[1] as usize];
    let planes = mul(n, c)?;
    let (plane, out_plane) = (mul(h, wd)?, mul(oh, ow)?);
    if !holds(x.len(), planes, plane) || !holds(y.len(), planes, out_plane) {
        return None;
    }
    let ah = Axis::new(h, win.stride[0], win.dilation[0], win.pads[0], oh, kh)?;
    let aw = Axis::new(wd, win.stride[1], win.dilation[1], win.pads[1], ow, kw)?;
    let stride = aw.stride;
    for pl in 0..planes {
        let xp = &x[pl * plane..(pl + 1) * plane];
        for oy in 0..oh {
            let at = (pl * oh + oy) * ow;
            let out = &mut y[at..at + ow];
            out.fill(init);
            let (ky0, ky1) = ah.valid(oy, kh);
            for ky in ky0..ky1 {
                let iy = oy * ah.stride + ky * ah.dilation - ah.pad;
                let row = &xp[iy * wd..(iy + 1) * wd];
                for kx in 0..kw {
                    let (lo, hi, ix) = aw.span(kx, 0, ow);
                    let out = &mut out[lo..hi];
                    match stride {
                        1 => {
                            for (o, &v) in out.iter_mut().zip(&row[ix..ix + (hi - lo)]) {
                                *o = max(*o, v);
                            }
                        }
                        2 => {
                            let taps = row[ix..].chunks(2);
                            for (o, v) in out.iter_mut().zip(taps) {
                                *o = max(*o, v[0]);
                            }
                        }
                        _ => {
                            for (i, o) in out.iter_mut().enumerate() {
                                *o = max(*o, row[ix + i * stride]);
                            }
                        }
                    }
                }
            }
        }
    }
    Some(())
}
