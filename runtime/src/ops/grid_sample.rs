//! GridSample (ONNX, f32): samples x `[N, C, D1..Dr]` at the normalized coordinates of
//! grid `[N, O1..Or, r]`, output `[N, C, O1..Or]`, for r = 1, 2 or 3 spatial axes.
//!
//! The kernel follows the ONNX reference: each grid point is denormalized per axis
//! (`((g + 1)·d − 1) / 2`, or `(g + 1)·(d − 1) / 2` with `align_corners`); `nearest`
//! rounds it half to even; a coordinate outside `[lo, hi]` (the corner pixels' outer
//! edges `[-0.5, d − 0.5]`, or their centres `[0, d − 1]` with `align_corners`) is
//! clamped to `[0, d − 1]` (`border`) or reflected at `lo`/`hi` (`reflection`); then
//! the taps (1, 2 or 4 per axis) read the input through the padding (`zeros`: 0
//! outside; `border`: the clamped index; `reflection`: the reflected index) and are
//! combined one axis at a time, innermost first.

use super::common::{cast, cast_mut, ensure, f32s, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{GridMode, GridPadding, OpGroup};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Math;

/// The largest number of spatial axes.
const MAX_AXES: usize = 3;

/// x `[N, C, D1..Dr]`, grid `[N, O1..Or, r]`, output `[N, C, O1..Or]`, all f32, with
/// `1 <= r <= 3` and every `Di >= 1`.
pub(super) fn check(c: &Check<'_, '_>) -> Checked {
    gate(GROUP)?;
    c.inputs(2)?;
    let g = &c.ins[1];
    f32s(&[c.x, g, c.out])?;
    let (xs, gs, os) = (&c.x.shape, &g.shape, &c.out.shape);
    let r = xs.len().wrapping_sub(2);
    ensure((1..=MAX_AXES).contains(&r), OpReason::Shape)?;
    ensure(
        gs.len() == r + 2 && os.len() == r + 2 && gs[r + 1] as usize == r,
        OpReason::Shape,
    )?;
    ensure(
        gs[0] == xs[0] && os[0] == xs[0] && os[1] == xs[1],
        OpReason::Shape,
    )?;
    ensure(os[2..] == gs[1..=r], OpReason::Shape)?;
    // The loader refuses empty tensors already; the taps' clamp needs `d >= 1`.
    ensure(xs[2..].iter().all(|&d| d >= 1), OpReason::Shape)
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    mode: GridMode,
    padding: GridPadding,
    align_corners: bool,
) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, xr) = cx.x.udims();
    let r = xr - 2;
    let mut dims = [1usize; MAX_AXES];
    dims[..r].copy_from_slice(&xs[2..xr]);
    let p = GridSampleParams {
        n: xs[0],
        c: xs[1],
        axes: r,
        dims,
        mode,
        padding,
        align_corners,
    };
    grid_sample(&p, cast(cx.bytes(&cx.x)?)?, cx.input(1)?, cast_mut(y)?);
    Ok(())
}

/// The shape and attributes of one [`grid_sample`].
pub(crate) struct GridSampleParams {
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Spatial axes (1..=3).
    pub axes: usize,
    /// The input's spatial sizes, outermost first (`dims[..axes]`).
    pub dims: [usize; MAX_AXES],
    pub mode: GridMode,
    pub padding: GridPadding,
    pub align_corners: bool,
}

/// The taps of one axis: up to four input indices (already through the padding;
/// `None` reads 0) and their weights.
#[derive(Clone, Copy)]
struct Taps {
    idx: [Option<usize>; 4],
    w: [f32; 4],
    len: usize,
}

/// `x` reflected at `lo` and `hi` until inside (the ONNX reference's `_gs_reflect`).
fn reflect(x: f32, lo: f32, hi: f32) -> f32 {
    let range = hi - lo;
    if range <= 0.0 {
        return lo;
    }
    let (d, from_lo) = if x < lo {
        (lo - x, true)
    } else if x > hi {
        (x - hi, false)
    } else {
        return x;
    };
    let k = libm::truncf(d / range);
    let rem = d - k * range;
    let even = libm::fmodf(k, 2.0) == 0.0;
    if even == from_lo {
        lo + rem
    } else {
        hi - rem
    }
}

/// The input index tap `i` of an axis of size `d` reads, through the padding.
fn pad_index(i: i64, d: usize, padding: GridPadding, lo: f32, hi: f32) -> Option<usize> {
    let last = d as i64 - 1;
    let j = match padding {
        GridPadding::Zeros => return (0..=last).contains(&i).then_some(i as usize),
        GridPadding::Border => i,
        // Truncation toward zero, as the reference's int().
        GridPadding::Reflection => reflect(i as f32, lo, hi) as i64,
    };
    Some(j.clamp(0, last) as usize)
}

/// The cubic convolution weights (Keys, a = -0.75) of the four taps around `t` in [0, 1).
fn cubic(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let far = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let near = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// The taps of normalized coordinate `g` on an axis of size `d`.
fn taps(p: &GridSampleParams, g: f32, d: usize) -> Taps {
    let df = d as f32;
    let (lo, hi, mut x) = if p.align_corners {
        (0.0, df - 1.0, (g + 1.0) / 2.0 * (df - 1.0))
    } else {
        (-0.5, df - 0.5, ((g + 1.0) * df - 1.0) / 2.0)
    };
    if p.mode == GridMode::Nearest {
        x = libm::rintf(x);
    }
    if x < lo || x > hi {
        x = match p.padding {
            GridPadding::Border => x.clamp(0.0, df - 1.0),
            GridPadding::Reflection => reflect(x, lo, hi),
            GridPadding::Zeros => x,
        };
    }
    let mut t = Taps {
        idx: [None; 4],
        w: [0.0; 4],
        len: 0,
    };
    let (first, w): (i64, &[f32]) = match p.mode {
        // Truncation toward zero, as the reference's astype(int32).
        GridMode::Nearest => (x as i64, &[1.0]),
        GridMode::Linear => {
            let f = libm::floorf(x);
            (f as i64, &[1.0 - (x - f), x - f])
        }
        GridMode::Cubic => {
            let f = libm::floorf(x);
            (f as i64 - 1, &cubic(x - f))
        }
    };
    for (k, &wk) in w.iter().enumerate() {
        t.idx[k] = pad_index(first + k as i64, d, p.padding, lo, hi);
        t.w[k] = wk;
    }
    t.len = w.len();
    t
}

/// `x` at `p`'s grid points (see the module docs); `x` `[N, C, D..]`, `grid`
/// `[N, O.., axes]`, `y` `[N, C, O..]` with the sizes the op's check accepted.
pub(crate) fn grid_sample(p: &GridSampleParams, x: &[f32], grid: &[f32], y: &mut [f32]) {
    let r = p.axes;
    let plane: usize = p.dims[..r].iter().product();
    let points = grid.len() / (p.n.max(1) * r);
    for b in 0..p.n {
        for o in 0..points {
            // Grid coordinates are innermost axis first: (x, y[, z]).
            let gp = &grid[(b * points + o) * r..][..r];
            let mut ax = [Taps {
                idx: [None; 4],
                w: [0.0; 4],
                len: 1,
            }; MAX_AXES];
            for (a, t) in ax.iter_mut().enumerate().take(r) {
                *t = taps(p, gp[r - 1 - a], p.dims[a]);
            }
            for ch in 0..p.c {
                let xp = &x[(b * p.c + ch) * plane..][..plane];
                y[(b * p.c + ch) * points + o] = sample(&ax[..r], &p.dims[..r], xp);
            }
        }
    }
}

/// The weighted sum over the taps of `ax` (outermost axis first) of `x` (one plane of
/// sizes `dims`), innermost axis summed first.
fn sample(ax: &[Taps], dims: &[usize], x: &[f32]) -> f32 {
    let Some((t, rest)) = ax.split_first() else {
        return x[0];
    };
    let inner: usize = dims[1..].iter().product();
    let mut acc = 0.0;
    for k in 0..t.len {
        let v = match t.idx[k] {
            Some(i) => sample(rest, &dims[1..], &x[i * inner..][..inner]),
            None => 0.0,
        };
        acc += t.w[k] * v;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One batch, one channel: the `N` samples of `x` (spatial sizes `dims`) at `g`.
    fn run<const N: usize>(
        mode: GridMode,
        padding: GridPadding,
        ac: bool,
        dims: &[usize],
        x: &[f32],
        g: &[f32],
    ) -> [f32; N] {
        let mut d = [1; MAX_AXES];
        d[..dims.len()].copy_from_slice(dims);
        let p = GridSampleParams {
            n: 1,
            c: 1,
            axes: dims.len(),
            dims: d,
            mode,
            padding,
            align_corners: ac,
        };
        assert_eq!(g.len(), N * dims.len());
        let mut y = [0.0; N];
        grid_sample(&p, x, g, &mut y);
        y
    }

    // Hand-computed values on x = [[0, 1, 2], [3, 4, 5]] (H 2, W 3).
    const X: [f32; 6] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];

    #[test]
    fn linear_align_corners_interpolates_between_pixel_centres() {
        // (x, y) = (0, 0) is pixel (0.5, 1): (1 + 4) / 2; (1, 1) is the last pixel;
        // (-0.5, -1) is column 0.5 of row 0: 0.5.
        let y = run::<3>(
            GridMode::Linear,
            GridPadding::Zeros,
            true,
            &[2, 3],
            &X,
            &[0.0, 0.0, 1.0, 1.0, -0.5, -1.0],
        );
        assert_eq!(y, [2.5, 5.0, 0.5]);
    }

    #[test]
    fn zeros_padding_reads_zero_outside_and_border_clamps() {
        // Without align_corners, x = -1 is column -0.5: half of pixel 0 and half of 0.
        // Row y = -1 is row -0.5. Point (-1, -1): taps (-1,-1),(−1,0),(0,−1),(0,0),
        // each weight 1/4, only (0, 0) = 0 inside. Point (1, 1): column 2.5, row 1.5:
        // only (1, 2) = 5 inside, weight 1/4.
        let g = [-1.0, -1.0, 1.0, 1.0];
        let y = run::<2>(GridMode::Linear, GridPadding::Zeros, false, &[2, 3], &X, &g);
        assert_eq!(y, [0.0, 1.25]);
        // Border: the taps outside clamp to the edge pixels: x[0][0] = 0, x[1][2] = 5.
        let y = run::<2>(
            GridMode::Linear,
            GridPadding::Border,
            false,
            &[2, 3],
            &X,
            &g,
        );
        assert_eq!(y, [0.0, 5.0]);
    }

    #[test]
    fn nearest_rounds_half_to_even_and_reflection_mirrors() {
        // 1-D x = [10, 20, 30, 40], align_corners: g = -1/3 is 1.0 → 20; g = 0 is 1.5
        // → rounds to 2 → 30; g = 1/3 is 2.0 → 30.
        let x = [10.0, 20.0, 30.0, 40.0];
        let y = run::<3>(
            GridMode::Nearest,
            GridPadding::Zeros,
            true,
            &[4],
            &x,
            &[-1.0 / 3.0, 0.0, 1.0 / 3.0],
        );
        assert_eq!(y, [20.0, 30.0, 30.0]);
        // Reflection with align_corners, bounds [0, 3]: g = 1.5 is 3.75 → 2.25,
        // linear between 30 and 40: 32.5; g = -1.5 is -0.75 → 0.75: 17.5.
        let y = run::<2>(
            GridMode::Linear,
            GridPadding::Reflection,
            true,
            &[4],
            &x,
            &[1.5, -1.5],
        );
        assert_eq!(y, [32.5, 17.5]);
    }

    #[test]
    fn cubic_weighs_four_taps_with_keys_kernel() {
        // x[i] = 10 i, align_corners, d = 5: g = 1.25 / 2 - 1 is coordinate 1.25, taps
        // 0..=3 at t = 0.25 with Keys' weights (a = -0.75), by hand:
        // [-0.10546875, 0.87890625, 0.26171875, -0.03515625] → 12.96875.
        let x = [0.0, 10.0, 20.0, 30.0, 40.0];
        let y = run::<1>(
            GridMode::Cubic,
            GridPadding::Border,
            true,
            &[5],
            &x,
            &[1.25 / 2.0 - 1.0],
        );
        assert!((y[0] - 12.96875).abs() < 1e-5, "{y:?}");
        // The four weights sum to 1: a constant plane stays constant.
        let y = run::<1>(
            GridMode::Cubic,
            GridPadding::Border,
            false,
            &[2, 2],
            &[7.0; 4],
            &[0.3, -0.2],
        );
        assert!((y[0] - 7.0).abs() < 1e-5, "{y:?}");
    }

    #[test]
    fn three_axes_read_x_y_z_innermost_first() {
        // x [D 2, H 1, W 2] = [[[0, 1]], [[10, 11]]], align_corners: (x, y, z) = (1, 0, -1)
        // is w 1, h 0, d 0 → 1; (0, 0, 0) is the mean of all four: 5.5.
        let x = [0.0, 1.0, 10.0, 11.0];
        let y = run::<2>(
            GridMode::Linear,
            GridPadding::Zeros,
            true,
            &[2, 1, 2],
            &x,
            &[1.0, 0.0, -1.0, 0.0, 0.0, 0.0],
        );
        assert_eq!(y, [1.0, 5.5]);
    }
}
