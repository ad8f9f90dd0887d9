//! The SIMD primitives every ISA implements for the frame's kernels.

#![allow(unsafe_code)]

use core::ptr;

use crate::kernels::engine::types::NR;

/// 16 f32 lanes of one ISA. A value of the implementing type proves that the CPU has
/// the instructions used (a token created after the feature check).
pub(crate) trait F32Lanes: Copy {
    type V: Copy;
    /// The f32 conv computes two 16-channel panels per tile (each broadcast input
    /// feeds two multiply-adds): for ISAs with registers for `2·MR` accumulators.
    const PANEL_PAIRS: bool = false;
    fn splat(self, x: f32) -> Self::V;
    /// # Safety
    /// `p` points to 16 readable f32 (any alignment).
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// # Safety
    /// `p` points to 16 writable f32 (any alignment).
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// `*p` in every lane.
    ///
    /// # Safety
    /// `p` is readable.
    #[inline(always)]
    unsafe fn bcast(self, p: *const f32) -> Self::V {
        // SAFETY: caller's contract.
        self.splat(unsafe { *p })
    }
    /// `c + a·b` (fused or not, per ISA).
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `clamp(v, lo, hi)` with the reference's comparisons: `v < lo → lo`,
    /// `v > hi → hi`, else `v` (NaN passes through).
    fn clamp(self, v: Self::V, lo: Self::V, hi: Self::V) -> Self::V;
    /// 16 f16 values (IEEE binary16 bits, little-endian) at `p`, converted exactly
    /// to f32. The default converts through a stack buffer (`half`'s conversion);
    /// ISAs with a conversion instruction override it.
    ///
    /// # Safety
    /// `p` points to 16 readable u16 (any alignment).
    #[inline(always)]
    unsafe fn load_f16(self, p: *const u16) -> Self::V {
        let mut t = [0f32; NR];
        for (i, v) in t.iter_mut().enumerate() {
            // SAFETY: caller's contract.
            *v = half::f16::from_bits(unsafe { ptr::read_unaligned(p.add(i)) }).to_f32();
        }
        // SAFETY: `t` holds 16 f32.
        unsafe { self.load(t.as_ptr()) }
    }
    /// The first `n < 16` lanes from `p`, zeros above.
    ///
    /// # Safety
    /// `p` points to `n` readable f32.
    #[inline(always)]
    unsafe fn load_partial(self, p: *const f32, n: usize) -> Self::V {
        let mut t = [0f32; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n.min(NR));
            self.load(t.as_ptr())
        }
    }
    /// Stores the first `n < 16` lanes.
    ///
    /// # Safety
    /// `p` points to `n` writable f32.
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, v: Self::V, n: usize) {
        let mut t = [0f32; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            self.store(t.as_mut_ptr(), v);
            ptr::copy_nonoverlapping(t.as_ptr(), p, n.min(NR));
        }
    }
}

/// An element of the packed weights of the f32 kernels: `f32`, or the bits of an
/// f16 (`u16`) converted to f32 as it is loaded (the f16 kernels). The layouts are
/// the same, element for element.
pub(crate) trait Packed: Copy {
    /// 16 elements at `p` as f32 lanes.
    ///
    /// # Safety
    /// `p` points to 16 readable elements (any alignment).
    unsafe fn load16<L: F32Lanes>(l: L, p: *const Self) -> L::V;
}

impl Packed for f32 {
    #[inline(always)]
    unsafe fn load16<L: F32Lanes>(l: L, p: *const f32) -> L::V {
        // SAFETY: caller's contract.
        unsafe { l.load(p) }
    }
}

impl Packed for u16 {
    #[inline(always)]
    unsafe fn load16<L: F32Lanes>(l: L, p: *const u16) -> L::V {
        // SAFETY: caller's contract.
        unsafe { l.load_f16(p) }
    }
}

/// 16 i32 lanes of one ISA, with the exact requantization arithmetic.
pub(crate) trait I32Lanes: Copy {
    type V: Copy;
    /// Depthwise weights widened once per tap ([`I32Lanes::load_w`]).
    type W: Copy;
    /// A prepared `(multiplier, shift)` per lane (see [`I32Lanes::rq`]).
    type Rq: Copy;
    fn splat(self, x: i32) -> Self::V;
    /// 16 little-endian i32 at `p`.
    ///
    /// # Safety
    /// `p` points to 64 readable bytes (any alignment).
    unsafe fn load(self, p: *const u8) -> Self::V;
    /// 16 i8 at `p`, sign-extended.
    ///
    /// # Safety
    /// `p` points to 16 readable bytes.
    unsafe fn load_i8(self, p: *const i8) -> Self::V;
    /// 16 little-endian i16 at `p`, sign-extended (the compact conv header's `sum_w`,
    /// read once per panel and tile by the kernels with [`I8Dot::U8_INPUT`]).
    ///
    /// # Safety
    /// `p` points to 32 readable bytes (any alignment).
    #[inline(always)]
    unsafe fn load_i16(self, p: *const u8) -> Self::V {
        let mut t = [0u8; 4 * NR];
        for (j, v) in t.chunks_exact_mut(4).enumerate() {
            // SAFETY: caller's contract; `j < 16`.
            let h = unsafe { ptr::read_unaligned(p.add(2 * j).cast::<i16>()) };
            v.copy_from_slice(&i32::from(i16::from_le(h)).to_le_bytes());
        }
        // SAFETY: `t` holds 64 bytes.
        unsafe { self.load(t.as_ptr()) }
    }
    /// Saturates each lane to i8 and stores the 16 bytes.
    ///
    /// # Safety
    /// `p` points to 16 writable bytes.
    unsafe fn store_i8(self, p: *mut i8, v: Self::V);
    /// Wrapping.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// Wrapping.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// `v << n` in every lane, wrapping, `n <= 31`.
    fn shl(self, v: Self::V, n: u32) -> Self::V;
    /// Prepares per-lane TFLite `(multiplier, shift)` pairs: the left shift is
    /// `clamp(shift, 0, 31)`, the right shift `clamp(-shift, 0, 31)`.
    fn rq(self, multiplier: Self::V, shift: Self::V) -> Self::Rq;
    /// `MultiplyByQuantizedMultiplier` in every lane (identical to
    /// [`fixed::multiply_by_quantized_multiplier`]).
    fn mbqm(self, v: Self::V, rq: &Self::Rq) -> Self::V;
    /// [`I32Lanes::rq`] for an output requantization followed by the zero point
    /// `zp` (every lane), used with [`I32Lanes::mbqm_zp`]: an ISA may fold `zp` into
    /// its constants.
    #[inline(always)]
    fn rq_zp(self, multiplier: Self::V, shift: Self::V, zp: Self::V) -> Self::Rq {
        let _ = zp;
        self.rq(multiplier, shift)
    }
    /// `mbqm(v) + zp` (wrapping) for `rq` from [`I32Lanes::rq_zp`] with this `zp`.
    #[inline(always)]
    fn mbqm_zp(self, v: Self::V, rq: &Self::Rq, zp: Self::V) -> Self::V {
        self.add(self.mbqm(v, rq), zp)
    }
    /// Whether [`I32Lanes::mbqm_plain`] of `rq` is [`I32Lanes::mbqm`]'s value, and
    /// [`I32Lanes::mbqm_zp_plain`] of `rq` (from [`I32Lanes::rq_zp`])
    /// [`I32Lanes::mbqm_zp`]'s: an ISA's forms without a per-call branch on `rq`.
    #[inline(always)]
    fn plain(self, rq: &Self::Rq) -> (bool, bool) {
        let _ = rq;
        (false, false)
    }
    /// [`I32Lanes::mbqm`] where [`I32Lanes::plain`] allows it.
    #[inline(always)]
    fn mbqm_plain(self, v: Self::V, rq: &Self::Rq) -> Self::V {
        self.mbqm(v, rq)
    }
    /// [`I32Lanes::mbqm_zp`] where [`I32Lanes::plain`] allows it.
    #[inline(always)]
    fn mbqm_zp_plain(self, v: Self::V, rq: &Self::Rq, zp: Self::V) -> Self::V {
        self.mbqm_zp(v, rq, zp)
    }
    /// Whether the first `nc` lanes of `rq` (from [`I32Lanes::rq_zp`]) with the bias
    /// row `bias` of a sum over `k` products of `u8 × i8` have an ISA's offset form
    /// [`I32Lanes::mbqm_zp_u`]; if so, prepares `rq` for it (and for it only).
    #[inline(always)]
    fn rq_u(self, rq: &mut Self::Rq, bias: Self::V, nc: usize, k: usize) -> bool {
        let _ = (rq, bias, nc, k);
        false
    }
    /// [`I32Lanes::mbqm_zp`] of `v + 2^31` (wrapping: `v` is the sum with its bias
    /// row plus `i32::MIN`), for `rq` where [`I32Lanes::rq_u`] returned true.
    #[inline(always)]
    fn mbqm_zp_u(self, v: Self::V, rq: &Self::Rq, zp: Self::V) -> Self::V {
        self.mbqm_zp(self.add(v, self.splat(i32::MIN)), rq, zp)
    }
    /// [`I32Lanes::store_i8`] of `min(max(v, lo), hi)`; `lo8`, `hi8` hold `lo`, `hi`
    /// saturated to i8 in every byte. Saturating and clamping are monotone, so an ISA
    /// may clamp the 16 bytes after narrowing instead (the same bytes, also for
    /// `lo > hi`).
    ///
    /// # Safety
    /// `p` points to 16 writable bytes.
    #[inline(always)]
    unsafe fn store_i8_clamp(
        self,
        p: *mut i8,
        v: Self::V,
        lo_hi: [Self::V; 2],
        lo8_hi8: [Self::V; 2],
    ) {
        let _ = lo8_hi8;
        // SAFETY: caller's contract.
        unsafe { self.store_i8(p, self.min(self.max(v, lo_hi[0]), lo_hi[1])) }
    }
    /// [`I32Lanes::store_i8_clamp`] of four rows `v[i]` at `y + 16·i` (64 bytes): an
    /// ISA may narrow the four together and store them at once (the same bytes).
    ///
    /// # Safety
    /// `y` points to 64 writable bytes.
    #[inline(always)]
    unsafe fn store_i8x4_clamp(
        self,
        y: *mut i8,
        v: [Self::V; 4],
        lo_hi: [Self::V; 2],
        lo8_hi8: [Self::V; 2],
    ) {
        for (i, &v) in v.iter().enumerate() {
            // SAFETY: caller's contract.
            unsafe { self.store_i8_clamp(y.add(16 * i), v, lo_hi, lo8_hi8) };
        }
    }
    /// The first `n < 16` bytes from `p`, sign-extended, zeros above.
    ///
    /// # Safety
    /// `p` points to `n` readable bytes.
    #[inline(always)]
    unsafe fn load_i8_partial(self, p: *const i8, n: usize) -> Self::V {
        let mut t = [0i8; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n.min(NR));
            self.load_i8(t.as_ptr())
        }
    }
    /// Stores the first `n < 16` lanes, saturated to i8.
    ///
    /// # Safety
    /// `p` points to `n` writable bytes.
    #[inline(always)]
    unsafe fn store_i8_partial(self, p: *mut i8, v: Self::V, n: usize) {
        let mut t = [0i8; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            self.store_i8(t.as_mut_ptr(), v);
            ptr::copy_nonoverlapping(t.as_ptr(), p, n.min(NR));
        }
    }
    /// The int8 depthwise kernel requantizes the `P` pixel pairs of an 8-channel
    /// interior run together before storing them (`I8Epi::store_rows`: independent
    /// chains overlap, no branch between pairs): for ISAs with registers for `P`
    /// requantizations (AVX-512's 32; with AVX2's 16 it spills and is slower). The
    /// one-pixel runs store pixel by pixel (batched, they made the whole KWS int8
    /// model slower on AVX-512).
    const DW_ROWS: bool = false;
    /// 16 depthwise weights prepared for [`I32Lanes::mac_w`].
    ///
    /// # Safety
    /// `p` points to 16 readable bytes.
    unsafe fn load_w(self, p: *const i8) -> Self::W;
    /// `acc + (x − zp)·w` for the 16 i8 inputs at `x` (exact: `|x − zp| <= 255`,
    /// `|w| <= 128`); `zp` is the input zero point in every lane.
    ///
    /// # Safety
    /// `x` points to 16 readable bytes.
    unsafe fn mac_w(self, acc: Self::V, x: *const i8, zp: Self::V, w: Self::W) -> Self::V;
    /// `acc + x·w` ([`I32Lanes::mac_w`] with a zero point of 0).
    ///
    /// # Safety
    /// `x` points to 16 readable bytes.
    #[inline(always)]
    unsafe fn mac_w0(self, acc: Self::V, x: *const i8, w: Self::W) -> Self::V {
        // SAFETY: caller's contract.
        unsafe { self.mac_w(acc, x, self.splat(0), w) }
    }
    /// [`I32Lanes::mac_w0`] reading only the first `n < 16` inputs.
    ///
    /// # Safety
    /// `x` points to `n` readable bytes.
    #[inline(always)]
    unsafe fn mac_w0_partial(self, acc: Self::V, x: *const i8, n: usize, w: Self::W) -> Self::V {
        // SAFETY: caller's contract.
        unsafe { self.mac_w_partial(acc, x, n, self.splat(0), w) }
    }
    /// [`I32Lanes::mac_w`] reading only the first `n < 16` inputs.
    ///
    /// # Safety
    /// `x` points to `n` readable bytes.
    #[inline(always)]
    unsafe fn mac_w_partial(
        self,
        acc: Self::V,
        x: *const i8,
        n: usize,
        zp: Self::V,
        w: Self::W,
    ) -> Self::V {
        let mut t = [0i8; NR];
        // SAFETY: caller's contract; `n <= 16`.
        unsafe {
            ptr::copy_nonoverlapping(x, t.as_mut_ptr(), n.min(NR));
            self.mac_w(acc, t.as_ptr(), zp, w)
        }
    }
}

/// The int8 conv microkernel's inner product: per k-group of 4, the 4 input bytes
/// of one pixel (`A`) times the 64 packed bytes of a panel (`B`: 16 channels × 4).
pub(crate) trait I8Dot: I32Lanes {
    /// The kernel multiplies `x + 128` (unsigned) and starts from `bias_u8`.
    const U8_INPUT: bool;
    /// The int8 conv computes two 16-channel panels per tile (each broadcast input
    /// quad feeds two dot products): for ISAs with registers for `2·MR`
    /// accumulators.
    const PANEL_PAIRS: bool = false;
    /// A 1×1 conv of 8 output channels requantizes (and adds the residual of) two
    /// pixels per vector, joined by [`I8Dot::pair8`]: for ISAs where that is one
    /// instruction.
    const PAIR8: bool = false;
    /// Per-pixel accumulators (possibly partial sums reduced by [`I8Dot::finish`]).
    type Acc: Copy;
    type A: Copy;
    type B: Copy;
    fn zero(self) -> Self::Acc;
    /// Accumulators holding `v` (`finish` of them is `v`), where the ISA's
    /// accumulators are its 16 lanes: a kernel may start the sums from the bias row.
    #[inline(always)]
    fn acc_from(self, v: Self::V) -> Option<Self::Acc> {
        let _ = v;
        None
    }
    /// The 4 input bytes `quad` (little-endian: byte `j` is channel `4q + j`).
    fn a(self, quad: u32) -> Self::A;
    /// [`I8Dot::a`] of the quad at `p` stored flipped (`x ^ 0x80` per byte; see
    /// [`I8Dot::U8_INPUT`]). AVX-512 VNNI broadcasts it from memory as it is.
    ///
    /// # Safety
    /// `p` points to 4 readable bytes.
    #[inline(always)]
    unsafe fn a_flipped(self, p: *const i8) -> Self::A {
        // SAFETY: caller's contract.
        self.a(unsafe { ptr::read_unaligned(p.cast::<u32>()) } ^ 0x8080_8080)
    }
    /// # Safety
    /// `p` points to 64 readable bytes.
    unsafe fn b(self, p: *const i8) -> Self::B;
    /// Adds `Σ_j a[j]·b[ch][j]` to channel `ch`'s accumulator, for the 16 channels.
    fn dot(self, acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc;
    /// The 16 channel sums.
    fn finish(self, acc: Self::Acc) -> Self::V;
    /// Lanes 0–7 of `a`, then lanes 0–7 of `b` ([`I8Dot::PAIR8`]; unused without it).
    #[inline(always)]
    fn pair8(self, a: Self::V, b: Self::V) -> Self::V {
        let _ = b;
        a
    }
}

/// `n` bytes at `p` twice, then zeros: a tile row's first 8 lanes repeated.
///
/// # Safety
/// `p` points to `n <= 32` readable bytes.
#[inline(always)]
pub(super) unsafe fn doubled<const B: usize>(p: *const u8, n: usize) -> [u8; B] {
    let mut b = [0u8; B];
    // SAFETY: caller's contract; `2·n <= B`.
    unsafe {
        ptr::copy_nonoverlapping(p, b.as_mut_ptr(), n);
        ptr::copy_nonoverlapping(p, b.as_mut_ptr().add(n), n);
    }
    b
}
