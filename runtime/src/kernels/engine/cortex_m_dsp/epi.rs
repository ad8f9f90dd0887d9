//! The kernels' epilogue: requantization, the fused residual Add, the output clamp.

use super::super::frame::geom::{mbqm_lane, shifts};
use super::super::types::I8Out;

/// One requantization `(multiplier, left shift, right shift)`, prepared for
/// [`Rq::apply`].
#[derive(Clone, Copy)]
pub(super) struct Rq {
    pub(super) m: i32,
    pub(super) l: u32,
    pub(super) e: u32,
    /// `2^(e + 30)` when `e > 0`.
    pub(super) k: i64,
}

impl Rq {
    #[inline(always)]
    pub(super) fn new(m: i32, shift: i32) -> Self {
        let (l, e) = shifts(shift);
        let k = if e > 0 { 1i64 << (e + 30) } else { 0 };
        Rq { m, l, e, k }
    }

    /// [`mbqm_lane`] with the two roundings in one 64-bit sum (as the AVX-512 kernel
    /// does): with `Y = (a << l)·m + 2^30` and `s = [Y < 0]`, the rounding doubling
    /// high multiply is `q = floor(Y / 2^31)` (`q < 0` exactly when `Y < 0`), and the
    /// rounding right shift by `e > 0`, `floor((q + 2^(e−1) − s) / 2^e)`, equals
    /// `floor((Y + 2^(e+30) − s·2^31) / 2^(31+e))` (an integer added inside nested
    /// floors), the high word of that sum shifted right by `e − 1`. No term overflows
    /// i64 (`|Y| <= 2^62 + 2^30`). The saturating corner `a << l = m = i32::MIN`
    /// (`q = 2^31` saturated to `i32::MAX`) rounds to the same `2^(31−e)` both ways.
    /// `e = 0` takes [`mbqm_lane`]. Checked against it in the unit tests.
    #[inline(always)]
    pub(super) fn apply(self, v: i32) -> i32 {
        if self.e == 0 {
            return mbqm_lane(v, self.m, self.l, 0);
        }
        let y = i64::from(v.wrapping_shl(self.l)) * i64::from(self.m) + (1 << 30);
        let s = y >> 63;
        let z = y + self.k + (s << 31);
        ((z >> 32) as i32) >> (self.e - 1)
    }
}

/// One channel's requantization, output zero point and clamp in the short form:
/// `q = SMMULR(2a, m)` is the rounding doubling high multiply (`2a` is exact: the
/// accumulator is below 2^30 in magnitude, see [`FastRq::new`]), and the rounding
/// right shift by `e >= 1` plus the zero point is `(q + hz − [q < 0]) >> e` with
/// `hz = 2^(e−1) + zp·2^e` (the zero point added below the shift is exact:
/// `floor((v + zp·2^e) / 2^e) = floor(v / 2^e) + zp`).
#[derive(Clone, Copy)]
pub(super) struct FastRq {
    pub(super) m: i32,
    pub(super) hz: i32,
    pub(super) e: u32,
}

impl FastRq {
    /// The short form of `(multiplier, shift)` with output zero point `zp`, when it
    /// equals the frame's `mbqm_lane` + `zp` for every accumulator `bias + s` with
    /// `|s| <= span`: no left shift, a right shift `e >= 1`, `|acc| < 2^30`, and
    /// `|hz| < 2^30` (then `q + hz − 1` and `q + hz` fit an i32, as `|q| <= |acc|`).
    pub(super) fn new(m: i32, shift: i32, zp: i32, bias: i32, span: i64) -> Option<Self> {
        let (l, e) = shifts(shift);
        let reach = i64::from(bias).abs() + span;
        let hz = (1i64 << e >> 1) + (i64::from(zp) << e);
        (l == 0 && e >= 1 && reach < 1 << 30 && hz.abs() < 1 << 30).then_some(FastRq {
            m,
            hz: hz as i32,
            e,
        })
    }

    /// [`FastRq::new`]'s result for a `(multiplier, shift)` and `zp` it accepted (for
    /// some bias and span), recomputed without the checks.
    #[inline(always)]
    pub(super) fn accepted(m: i32, shift: i32, zp: i32) -> Self {
        let e = shift.wrapping_neg() as u32 & 31;
        FastRq {
            m,
            hz: (1i32 << e >> 1).wrapping_add(zp.wrapping_shl(e)),
            e,
        }
    }

    /// The requantized accumulator plus the output zero point (before the clamp).
    #[inline(always)]
    pub(super) fn apply(self, acc: i32) -> i32 {
        let q = smmulr(acc << 1, self.m);
        (q + self.hz + (q >> 31)) >> self.e
    }

    /// Requantizes `acc`, clamps it to `lo..=hi` (see [`Epi::bounds`]) and stores it.
    ///
    /// # Safety
    /// `y` is writable.
    #[inline(always)]
    pub(super) unsafe fn store(self, acc: i32, (lo, hi): (i32, i32), y: *mut i8) {
        // `v` is in `lo..=hi`, or `hi` when `lo > hi`: an i8 either way.
        let v = self.apply(acc).max(lo).min(hi);
        // SAFETY: caller's contract.
        unsafe { *y = v as i8 };
    }
}

/// `SMMULR a, b`: `(a·b + 2^31) >> 32`, the rounded high word of the product.
#[cfg(ferrite_arm_dsp)]
#[inline(always)]
fn smmulr(a: i32, b: i32) -> i32 {
    let r: i32;
    // SAFETY: register arithmetic only.
    unsafe {
        core::arch::asm!("smmulr {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b,
                         options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// [`smmulr`]'s model (host unit tests).
#[cfg(not(ferrite_arm_dsp))]
fn smmulr(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b) + (1 << 31)) >> 32) as i32
}

/// The residual Add's constants (see the frame's `I8Epi`).
#[derive(Clone, Copy)]
pub(super) struct Residual {
    pub(super) r: *const i8,
    pub(super) a_zp: i32,
    pub(super) b_zp: i32,
    pub(super) shift: u32,
    pub(super) a: Rq,
    pub(super) b: Rq,
    pub(super) out: Rq,
    pub(super) out_zp: i32,
    pub(super) lo: i32,
    pub(super) hi: i32,
}

/// The per-call epilogue constants.
#[derive(Clone, Copy)]
pub(super) struct Epi {
    pub(super) zp: i32,
    pub(super) lo: i32,
    pub(super) hi: i32,
    pub(super) residual: Option<Residual>,
}

impl Epi {
    pub(super) fn new(out: &I8Out) -> Self {
        Epi {
            zp: out.zero_point,
            lo: out.act_min,
            hi: out.act_max,
            residual: out.residual.as_ref().map(|r| Residual {
                r: r.input.as_ptr(),
                a_zp: r.add.a_zero_point,
                b_zp: r.add.b_zero_point,
                shift: r.add.left_shift.clamp(0, 31) as u32,
                a: Rq::new(r.add.a.multiplier, r.add.a.shift),
                b: Rq::new(r.add.b.multiplier, r.add.b.shift),
                out: Rq::new(r.add.out.multiplier, r.add.out.shift),
                out_zp: r.add.out_zero_point,
                lo: r.add.act_min,
                hi: r.add.act_max,
            }),
        }
    }

    /// The activation clamp within `-128..=127`: clamping to it equals the clamp to
    /// `act_min..=act_max` and then to i8 (the clamps are monotone).
    pub(super) fn bounds(&self) -> (i32, i32) {
        (self.lo.clamp(-128, 127), self.hi.clamp(-128, 127))
    }

    /// Requantizes the sum `v` (bias included) of output element `at` and stores it.
    ///
    /// # Safety
    /// `y.add(at)` (and the residual's element `at`) are in bounds.
    #[inline(always)]
    pub(super) unsafe fn store(&self, v: i32, rq: Rq, y: *mut i8, at: usize) {
        let mut v = rq.apply(v).wrapping_add(self.zp).max(self.lo).min(self.hi);
        if let Some(r) = &self.residual {
            let t = v.clamp(-128, 127);
            // SAFETY: caller's contract.
            let rv = i32::from(unsafe { *r.r.add(at) });
            let sa = r.a.apply(t.wrapping_sub(r.a_zp).wrapping_shl(r.shift));
            let sb = r.b.apply(rv.wrapping_sub(r.b_zp).wrapping_shl(r.shift));
            let raw = r.out.apply(sa.wrapping_add(sb));
            v = raw.wrapping_add(r.out_zp).max(r.lo).min(r.hi);
        }
        // SAFETY: caller's contract.
        unsafe { *y.add(at) = v.clamp(-128, 127) as i8 };
    }
}
