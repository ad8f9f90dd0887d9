//! The int8 epilogue of the conv and depthwise drivers: requantization, the fused
//! residual Add, the saturating store.

#![allow(unsafe_code)]

use super::lanes::{I32Lanes, I8Dot};
use crate::kernels::engine::types::{I8Header, I8Out, NR};

/// How the flipped 1×1 entry stores a panel's tiles: [`I8Epi::store_rows`],
/// [`I8Epi::store_rows_plain`] or [`I8Epi::store_rows_u`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Store {
    Rows,
    Plain,
    U,
}

/// The per-call int8 epilogue constants.
pub(crate) struct I8Epi<L: I32Lanes> {
    zp: L::V,
    lo: L::V,
    hi: L::V,
    /// `lo`, `hi` saturated to i8, in every byte ([`I32Lanes::store_i8_clamp`]).
    lo8_hi8: [L::V; 2],
    residual: Option<Residual<L>>,
}

/// The residual Add's constants.
struct Residual<L: I32Lanes> {
    r: *const i8,
    a_zp: L::V,
    b_zp: L::V,
    shift: u32,
    a: L::Rq,
    b: L::Rq,
    out: L::Rq,
    out_zp: L::V,
    lo: L::V,
    hi: L::V,
    i8_min: L::V,
    i8_max: L::V,
    /// `out` prepared with the zero point ([`I32Lanes::rq_zp`]), and whether every
    /// requantization has the ISA's forms without a branch ([`I32Lanes::plain`]):
    /// [`I8Epi::store_rows_plain`].
    out_z: L::Rq,
    plain: bool,
}

impl<L: I32Lanes> I8Epi<L> {
    #[inline(always)]
    pub(crate) fn new(l: L, out: &I8Out) -> Self {
        Self::new_if(l, out, true)
    }

    /// [`I8Epi::new`], with the residual Add only if `residual` (a constant: without
    /// it the caller's code has no residual Add at all).
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) fn new_if(l: L, out: &I8Out, residual: bool) -> Self {
        let residual = match out.residual.as_ref().filter(|_| residual) {
            Some(r) => {
                let (a, b, out_zp) = (
                    l.rq(l.splat(r.add.a.multiplier), l.splat(r.add.a.shift)),
                    l.rq(l.splat(r.add.b.multiplier), l.splat(r.add.b.shift)),
                    l.splat(r.add.out_zero_point),
                );
                let (m, s) = (l.splat(r.add.out.multiplier), l.splat(r.add.out.shift));
                let out_z = l.rq_zp(m, s, out_zp);
                Some(Residual {
                    r: r.input.as_ptr(),
                    a_zp: l.splat(r.add.a_zero_point),
                    b_zp: l.splat(r.add.b_zero_point),
                    shift: r.add.left_shift.clamp(0, 31) as u32,
                    plain: l.plain(&a).0 && l.plain(&b).0 && l.plain(&out_z).1,
                    a,
                    b,
                    out: l.rq(m, s),
                    out_zp,
                    lo: l.splat(r.add.act_min),
                    hi: l.splat(r.add.act_max),
                    i8_min: l.splat(-128),
                    i8_max: l.splat(127),
                    out_z,
                })
            }
            None => None,
        };
        let bytes = |x: i32| i32::from_ne_bytes([x.clamp(-128, 127) as i8 as u8; 4]);
        I8Epi {
            zp: l.splat(out.zero_point),
            lo: l.splat(out.act_min),
            hi: l.splat(out.act_max),
            lo8_hi8: [l.splat(bytes(out.act_min)), l.splat(bytes(out.act_max))],
            residual,
        }
    }

    /// Requantizes the 16 sums `v` (bias included) of output row `at` (element index
    /// of channel `n0`), applies the residual Add and stores `nc` bytes.
    ///
    /// # Safety
    /// `y.add(at)` (and the residual's) hold `nc` elements.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn store(&self, l: L, v: L::V, rq: &L::Rq, y: *mut i8, at: usize, nc: usize) {
        let mut v = self.requant(l, v, rq);
        // SAFETY: caller's contract.
        unsafe {
            if let Some(r) = &self.residual {
                v = r.add(l, v, at, nc);
            }
            put(l, y.add(at), v, nc);
        }
    }

    /// [`I8Epi::store`] of the first `rows` of `v`, output rows `at + r·stride`:
    /// every step runs over all the rows before the next (no branch between rows,
    /// so the rows' independent requantizations overlap).
    ///
    /// # Safety
    /// Each of the `rows` output rows (and the residual's) holds `nc` elements.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) unsafe fn store_rows<const R: usize>(
        &self,
        l: L,
        v: [L::V; R],
        rows: usize,
        rq: &L::Rq,
        y: *mut i8,
        (at, stride): (usize, usize),
        nc: usize,
    ) {
        // (Loops, not closures: a closure would not inherit the target features.)
        let mut q = v;
        for q in &mut q {
            *q = self.requant(l, *q, rq);
        }
        // SAFETY: caller's contract.
        unsafe {
            if let Some(res) = &self.residual {
                for (r, q) in q.iter_mut().enumerate().take(rows) {
                    *q = res.add(l, *q, at + r * stride, nc);
                }
            }
            for (r, &q) in q.iter().enumerate().take(rows) {
                put(l, y.add(at + r * stride), q, nc);
            }
        }
    }

    /// Whether [`I8Epi::store_rows_plain`] applies: no residual Add, or one whose
    /// requantizations all have the ISA's forms without a branch.
    #[inline(always)]
    pub(crate) fn plain(&self) -> bool {
        self.residual.as_ref().is_none_or(|r| r.plain)
    }

    /// [`I8Epi::store_rows`] where [`I8Epi::plain`]: a whole tile of 16-lane rows
    /// runs the residual Add unrolled, without the requantizations' branches (the
    /// same arithmetic), or without a residual clamps after narrowing
    /// ([`I32Lanes::store_i8_clamp`]); other tiles go to [`I8Epi::store_rows`]. Kept
    /// apart from [`I8Epi::store_rows`] so that the depthwise driver's code is
    /// unchanged.
    ///
    /// # Safety
    /// As [`I8Epi::store_rows`].
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) unsafe fn store_rows_plain<const R: usize>(
        &self,
        l: L,
        v: [L::V; R],
        rows: usize,
        rq: &L::Rq,
        y: *mut i8,
        (at, stride): (usize, usize),
        nc: usize,
    ) {
        if rows != R || nc != NR {
            // SAFETY: caller's contract.
            return unsafe { self.store_rows(l, v, rows, rq, y, (at, stride), nc) };
        }
        let Some(res) = &self.residual else {
            let mut q = v;
            for q in &mut q {
                *q = l.mbqm_zp(*q, rq, self.zp);
            }
            // SAFETY: caller's contract: `R` rows of 16 elements.
            return unsafe { self.store_clamped(l, q, y, (at, stride)) };
        };
        let mut q = v;
        for q in &mut q {
            *q = self.requant(l, *q, rq);
        }
        // SAFETY: caller's contract: `R` rows of 16 elements (and residual rows).
        unsafe {
            for (r, q) in q.iter_mut().enumerate() {
                let rv = l.load_i8(res.r.add(at + r * stride));
                *q = res.add_plain(l, *q, rv);
            }
            for (r, &q) in q.iter().enumerate() {
                l.store_i8(y.add(at + r * stride), q);
            }
        }
    }

    /// [`I8Epi::store_rows`] the way `how` says.
    ///
    /// # Safety
    /// As [`I8Epi::store_rows`]; for [`Store::U`], as [`I8Epi::store_rows_u`].
    #[allow(clippy::too_many_arguments)]
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn store_as<const R: usize>(
        &self,
        how: Store,
        l: L,
        v: [L::V; R],
        rows: usize,
        rq: &L::Rq,
        y: *mut i8,
        at: (usize, usize),
        nc: usize,
    ) {
        // SAFETY: caller's contract.
        unsafe {
            match how {
                Store::U => self.store_rows_u(l, v, rows, rq, y, at, nc),
                Store::Plain => self.store_rows_plain(l, v, rows, rq, y, at, nc),
                Store::Rows => self.store_rows(l, v, rows, rq, y, at, nc),
            }
        }
    }

    /// [`I8Epi::store_rows`] of sums in the offset form ([`I32Lanes::mbqm_zp_u`]:
    /// `v` holds the sums with their bias row plus `i32::MIN`, `rq` prepared by
    /// [`I32Lanes::rq_u`]); whole tiles without a residual Add as
    /// [`I8Epi::store_rows_plain`]'s (the flipped entry's only use).
    ///
    /// # Safety
    /// As [`I8Epi::store_rows`].
    #[allow(clippy::too_many_arguments)]
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn store_rows_u<const R: usize>(
        &self,
        l: L,
        v: [L::V; R],
        rows: usize,
        rq: &L::Rq,
        y: *mut i8,
        (at, stride): (usize, usize),
        nc: usize,
    ) {
        let mut q = v;
        for q in &mut q {
            *q = l.mbqm_zp_u(*q, rq, self.zp);
        }
        let whole = rows == R && nc == NR;
        // SAFETY: caller's contract: `rows` rows of `nc` elements (and residual rows).
        unsafe {
            match &self.residual {
                None if whole => return self.store_clamped(l, q, y, (at, stride)),
                res => {
                    for (r, q) in q.iter_mut().enumerate().take(rows) {
                        *q = l.min(l.max(*q, self.lo), self.hi);
                        if let Some(res) = res {
                            *q = res.add(l, *q, at + r * stride, nc);
                        }
                    }
                }
            }
            for (r, &q) in q.iter().enumerate().take(rows) {
                put(l, y.add(at + r * stride), q, nc);
            }
        }
    }

    /// Four whole rows of sums in the offset form ([`I8Epi::store_rows_u`] without a
    /// residual Add; `rq[i]` the prepared requantization of row `i`'s panel), stored
    /// as the 64 bytes at `y + at` ([`I32Lanes::store_i8x4_clamp`]).
    ///
    /// # Safety
    /// `y + at` points to 64 writable bytes; no residual Add.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    pub(super) unsafe fn store_u4(
        &self,
        l: L,
        v: [L::V; 4],
        rq: [&L::Rq; 4],
        y: *mut i8,
        at: usize,
    ) {
        let mut q = v;
        for (q, rq) in q.iter_mut().zip(rq) {
            *q = l.mbqm_zp_u(*q, rq, self.zp);
        }
        // SAFETY: caller's contract.
        unsafe { l.store_i8x4_clamp(y.add(at), q, [self.lo, self.hi], self.lo8_hi8) };
    }

    /// Stores `R` whole rows of requantized lanes, clamped to the activation range
    /// after narrowing to bytes ([`I32Lanes::store_i8_clamp`]).
    ///
    /// # Safety
    /// Each of the `R` output rows holds 16 elements.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn store_clamped<const R: usize>(
        &self,
        l: L,
        q: [L::V; R],
        y: *mut i8,
        (at, stride): (usize, usize),
    ) {
        let (lo_hi, b) = ([self.lo, self.hi], self.lo8_hi8);
        for (r, &q) in q.iter().enumerate() {
            // SAFETY: caller's contract.
            unsafe { l.store_i8_clamp(y.add(at + r * stride), q, lo_hi, b) };
        }
    }

    /// The prepared output requantization of per-lane `(multiplier, shift)` pairs
    /// (with this call's output zero point, see [`I32Lanes::rq_zp`]).
    #[inline(always)]
    pub(crate) fn rq(&self, l: L, multiplier: L::V, shift: L::V) -> L::Rq {
        l.rq_zp(multiplier, shift, self.zp)
    }

    /// `MultiplyByQuantizedMultiplier`, the output zero point and the clamp.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn requant(&self, l: L, v: L::V, rq: &L::Rq) -> L::V {
        let v = l.mbqm_zp(v, rq, self.zp);
        l.min(l.max(v, self.lo), self.hi)
    }
}

impl<L: I32Lanes> Residual<L> {
    /// The reference Add of the conv's int8 output `v` and the residual row `at`.
    ///
    /// # Safety
    /// The residual holds `nc` elements at `at`.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    unsafe fn add(&self, l: L, v: L::V, at: usize, nc: usize) -> L::V {
        let t = l.min(l.max(v, self.i8_min), self.i8_max);
        // SAFETY: caller's contract.
        let rv = unsafe {
            let rp = self.r.add(at);
            if nc == NR {
                l.load_i8(rp)
            } else {
                l.load_i8_partial(rp, nc)
            }
        };
        let sa = l.mbqm(l.shl(l.sub(t, self.a_zp), self.shift), &self.a);
        let sb = l.mbqm(l.shl(l.sub(rv, self.b_zp), self.shift), &self.b);
        let raw = l.mbqm(l.add(sa, sb), &self.out);
        l.min(l.max(l.add(raw, self.out_zp), self.lo), self.hi)
    }

    /// [`Residual::add`] of the residual values `rv` when [`Residual::plain`]: the
    /// same arithmetic without the requantizations' branches.
    #[cfg_attr(not(ferrite_unoptimized), inline(always))]
    fn add_plain(&self, l: L, v: L::V, rv: L::V) -> L::V {
        let t = l.min(l.max(v, self.i8_min), self.i8_max);
        let sa = l.mbqm_plain(l.shl(l.sub(t, self.a_zp), self.shift), &self.a);
        let sb = l.mbqm_plain(l.shl(l.sub(rv, self.b_zp), self.shift), &self.b);
        let raw = l.mbqm_zp_plain(l.add(sa, sb), &self.out_z, self.out_zp);
        l.min(l.max(raw, self.lo), self.hi)
    }
}

/// Stores the `nc` first lanes of `v` as saturated bytes at `y`.
///
/// # Safety
/// `y` holds `nc` writable bytes.
#[cfg_attr(not(ferrite_unoptimized), inline(always))]
unsafe fn put<L: I32Lanes>(l: L, y: *mut i8, v: L::V, nc: usize) {
    // SAFETY: caller's contract.
    unsafe {
        if nc == NR {
            l.store_i8(y, v);
        } else {
            l.store_i8_partial(y, v, nc);
        }
    }
}

/// The bias row (the `bias_u8` one for [`I8Dot::U8_INPUT`]), multipliers and shifts
/// of the int8 conv panel at `panel`, whose header has the form `header`.
///
/// # Safety
/// `panel` points to a packed panel (its header's rows are readable).
#[inline(always)]
pub(crate) unsafe fn i8_panel_consts<L: I8Dot>(
    l: L,
    header: I8Header,
    panel: *const u8,
) -> (L::V, L::V, L::V) {
    let (m_at, s_at) = header.conv_rq_at();
    // SAFETY: caller's contract; the header's rows lie inside the panel.
    unsafe {
        match header {
            I8Header::Wide => (
                l.load(panel.add(if L::U8_INPUT { 4 * NR } else { 0 })),
                l.load(panel.add(m_at)),
                l.load(panel.add(s_at)),
            ),
            I8Header::Compact => {
                let bias = l.load(panel);
                (
                    // bias_u8 = bias_s8 − 128·Σw, wrapping as the packer's.
                    if L::U8_INPUT {
                        l.sub(bias, l.shl(l.load_i16(panel.add(I8Header::SUM_W_AT)), 7))
                    } else {
                        bias
                    },
                    l.load(panel.add(m_at)),
                    l.load_i8(panel.add(s_at).cast()),
                )
            }
        }
    }
}
