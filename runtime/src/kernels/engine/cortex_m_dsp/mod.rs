//! Cortex-M DSP extension (Cortex-M4/M7, and M33/M35P/M55/M85 built for their CPU):
//! the int8 conv and depthwise kernels with `SMLAD` (two 16×16 multiply-adds into an
//! i32 accumulator per instruction), `SXTB16` / `SXTAB16` (two bytes sign-extended to
//! two halfwords, optionally plus two halfword offsets), `SMLABB` / `SMLATT`. The f32
//! kernels are the portable ones.
//!
//! Compiled in when the build script sets `cfg(ferrite_arm_dsp)` (stable Rust does not
//! expose `target_feature = "dsp"` to `cfg`; see `build.rs`); the instructions are
//! written with `asm!`. The kernels read the engine's packed layouts as they are
//! (`pack.rs`: the same bytes for every ISA), so a model converted once runs here.
//!
//! # int8 conv: `i8_igemm_2x2c4_dsp`
//!
//! As CMSIS-NN's `arm_nn_mat_mult_kernel_s8_s16`: a block of 2 output pixels × 2 output
//! channels, four i32 accumulators. Per group of 4 input channels, each pixel's 4 input
//! bytes are one word `x`, each channel's 4 weights one word `w` (the packed `c4`
//! layout); `SXTB16 x` and `SXTB16 x, ROR #8` give the even and odd bytes as
//! halfword pairs (the same for `w`), and two `SMLAD`s add the 4 products. The input
//! zero point is folded into the packed bias (`bias_s8`) and the padding rows hold it
//! (see the engine's int8 numerics), so the kernel multiplies raw bytes. Every product
//! is exact (|x·w| ≤ 2^14); `SMLAD` adds modulo 2^32 like the reference's wrapping sum.
//! Tiles of 2 pixels share the indirection rows of the frame (`build_rows`); a layer
//! with `C < 4` reads the frame's gathered flat rows. A kernel with more than 64 taps
//! sums the blocks of chunks of 64 taps, as the frame's chunked path does (this
//! target links no portable int8 conv).
//!
//! A 1×1 conv at stride 1 without padding, `C` a multiple of 4, no fused residual, the
//! clamp to the whole i8 range and the short requantization below on every channel
//! takes the pointwise path (`pw.rs`): pixel `m` reads the input row `x + m·C` (no row
//! pointers), each pair of channels' bias and requantization are read once for all
//! pixels, and the 2×2 block is followed by the short epilogue and one `SSAT`.
//!
//! # int8 depthwise: `i8_dwconv_4c_dsp`
//!
//! Four channels at a time: one word of 4 input channels, sign-extended to the even
//! and odd bytes as halfword pairs, the 4 weights likewise, and `SMLABB` / `SMLATT`
//! add one product each to the 4 channels' accumulators. Per group of 4 channels of a
//! kernel with at most 9 taps (3×3 and smaller), no fused residual and the short
//! requantization below (`dwfast.rs`): the weights are sign-extended once into a
//! stack buffer (one `LDRD` per tap), the input zero point is folded into the bias
//! (`bias − x_zp·Σ w`, so interior pixels multiply raw bytes), and a 3×3 pixel whose
//! taps are all inside is one `asm!` block of 9 × 8 instructions (tap addresses from
//! a row pointer and two registers). Pixels with taps in the padding add
//! `(x − x_zp)·w` (`SXTAB16` with `−x_zp`) over their valid taps to the plain bias:
//! the reference's sum. Other groups (larger kernels such as the average pool run as
//! a depthwise conv, a last group of fewer than 4 channels, residual Adds) take the
//! general loop, with the offset per tap and the full epilogue.
//!
//! # Epilogue
//!
//! Per output, in scalar form: `MultiplyByQuantizedMultiplier` with its two roundings
//! in one 64-bit sum ([`Rq::apply`], one `SMLAL`; equal to the frame's [`mbqm_lane`]),
//! the output zero point, the activation clamp, and the optional residual Add exactly
//! as the frame's epilogue computes it. Where it is exact — no left shift, a right
//! shift `e >= 1`, an accumulator below 2^30 in magnitude (the bias plus the largest
//! sum the kernel's taps can make), `|2^(e−1) + zp·2^e| < 2^30` — the short form
//! [`FastRq`](epi::FastRq) replaces it: `SMMULR(2·acc, m)` is the rounding doubling
//! high multiply, then one add of `2^(e−1) + zp·2^e − [q < 0]` and one arithmetic
//! shift give the rounded shift plus the output zero point, then the clamp (about 12
//! instructions instead of 25). The conv checks every channel of the call once, the
//! depthwise kernel each group of 4; both forms are checked against [`mbqm_lane`] in
//! the unit tests.

#![allow(unsafe_code)]

use super::portable;
use dwconv::i8_dwconv;
use pw::i8_conv;

mod conv;
mod dwconv;
mod dwfast;
mod epi;
mod instr;
mod pw;
use super::types::{Isa, Kernel, Kernels};

/// The DSP int8 kernels; the f32 and f16 kernels of [`portable::KERNELS`].
pub(crate) const KERNELS: Kernels = Kernels {
    isa: Isa::CortexMDsp,
    i8_conv: Kernel {
        name: "i8_igemm_2x2c4_dsp",
        run: i8_conv,
    },
    i8_dwconv: Kernel {
        name: "i8_dwconv_4c_dsp",
        run: i8_dwconv,
    },
    ..portable::KERNELS
};

#[cfg(test)]
mod tests {
    //! The drivers on the host, with the instructions in plain Rust, against the
    //! portable kernels (themselves tested against the reference in
    //! `tests/engine_kernels.rs`). The asm instructions run in the QEMU board test.

    use super::epi::*;
    use super::*;
    use crate::format::types::{QBinary, Requant};
    use crate::kernels::engine::frame::geom::*;
    use crate::kernels::engine::types::*;
    use crate::kernels::engine::{
        i8_conv_packed_len_as, i8_dwconv_packed_len_as, pack_i8_conv_as, pack_i8_dwconv_as,
        I8Header, I8Residual,
    };
    use std::vec;
    use std::vec::Vec;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as u32
        }
        fn below(&mut self, n: usize) -> usize {
            self.next() as usize % n
        }
        fn i8s(&mut self, n: usize) -> Vec<i8> {
            (0..n).map(|_| self.next() as i8).collect()
        }
    }

    fn out_len(i: usize, k: usize, s: usize, p: usize) -> usize {
        (i + 2 * p - k) / s + 1
    }

    #[test]
    fn fused_requantization_is_mbqm() {
        use crate::kernels::corners::{ACC_CORNERS, MULTIPLIER_CORNERS};
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let mut accs: Vec<i32> = ACC_CORNERS.to_vec();
        let mut mults: Vec<i32> = MULTIPLIER_CORNERS.to_vec();
        for _ in 0..200 {
            accs.push(rng.next() as i32);
            accs.push((rng.next() as i32) >> rng.below(31));
            mults.push(rng.next() as i32);
        }
        for &a in &accs {
            for &m in &mults {
                for shift in -40..=40 {
                    let (l, e) = shifts(shift);
                    assert_eq!(
                        Rq::new(m, shift).apply(a),
                        mbqm_lane(a, m, l, e),
                        "{a} {m} {shift}"
                    );
                }
            }
        }
    }

    #[test]
    fn short_requantization_is_mbqm_where_it_applies() {
        use crate::kernels::corners::MULTIPLIER_CORNERS;
        let mut rng = Rng(0x6A09_E667_F3BC_C909);
        let mut mults: Vec<i32> = MULTIPLIER_CORNERS.to_vec();
        for _ in 0..100 {
            mults.push(rng.next() as i32);
        }
        let (mut taken, mut refused) = (0, 0);
        for &m in &mults {
            for shift in -33..=3 {
                for zp in [-300, -128, -1, 0, 5, 127, 40_000] {
                    let bias = (rng.next() as i32) >> rng.below(32);
                    let taps = 1 + rng.below(9);
                    let reach = taps as i32 * 255 * 128;
                    let Some(rq) = FastRq::new(m, shift, zp, bias, reach.into()) else {
                        refused += 1;
                        continue;
                    };
                    taken += 1;
                    let (l, e) = shifts(shift);
                    for d in [-reach, -1, 0, 1, reach, rng.next() as i32 % (reach + 1)] {
                        let a = bias + d;
                        let want = mbqm_lane(a, m, l, e) + zp;
                        assert_eq!(rq.apply(a), want, "{a} {m} {shift} {zp}");
                        let again = FastRq::accepted(m, shift, zp);
                        assert_eq!(again.apply(a), want, "accepted: {a} {m} {shift} {zp}");
                    }
                }
            }
        }
        // Both kinds occur: left shifts, `e = 0` and far zero points are refused.
        assert!(taken > 1000 && refused > 1000, "{taken} {refused}");
    }

    #[test]
    fn the_pointwise_path_matches_the_portable_kernel() {
        // 1×1, stride 1, no padding, C a multiple of 4, the whole i8 range as clamp
        // (`pw.rs`); odd pixel and channel counts, both header forms, and now and then
        // a shift the short requantization refuses (the general path then).
        let mut rng = Rng(0xB7E1_5162_8AED_2A6B);
        for case in 0..200 {
            let c = [4, 8, 12, 16, 20, 32, 64][rng.below(7)];
            let (h, w_) = (1 + rng.below(7), 1 + rng.below(7));
            let n = 1 + rng.below(40);
            let shape = ConvShape {
                in_h: h,
                in_w: w_,
                in_c: c,
                out_h: h,
                out_w: w_,
                out_c: n,
                kernel: [1, 1],
                stride: [1, 1],
                dilation: [1, 1],
                pad: [0, 0],
            };
            let x = rng.i8s(h * w_ * c);
            let x_zp = rng.next() as i8 as i32;
            let w = rng.i8s(n * c);
            let bias: Vec<i32> = (0..n)
                .map(|_| (rng.next() % 40000) as i32 - 20000)
                .collect();
            let rq: Vec<i32> = (0..n)
                .flat_map(|_| {
                    let shift = if rng.below(50) == 0 {
                        1
                    } else {
                        -1 - rng.below(12) as i32
                    };
                    [(1 << 30) + (rng.next() >> 2) as i32 / 2, shift]
                })
                .collect();
            let out = I8Out {
                zero_point: rng.next() as i8 as i32,
                act_min: -128,
                act_max: 127,
                residual: None,
                header: if case % 2 == 0 {
                    I8Header::Wide
                } else {
                    I8Header::Compact
                },
            };
            let h8 = out.header;
            let mut packed = vec![0u8; i8_conv_packed_len_as(h8, n, c, [1, 1]).unwrap()];
            let nc = (n, c);
            pack_i8_conv_as(h8, &w, Some(&bias), &rq, x_zp, nc, [1, 1], &mut packed).unwrap();
            let mut scratch = vec![0i8; c];
            let (mut a, mut b) = (vec![0i8; h * w_ * n], vec![0i8; h * w_ * n]);
            let portable = portable::KERNELS.i8_conv.run;
            portable(&shape, &x, x_zp, &packed, &out, &mut a, &mut scratch).unwrap();
            (KERNELS.i8_conv.run)(&shape, &x, x_zp, &packed, &out, &mut b, &mut scratch).unwrap();
            assert_eq!(a, b, "case {case}: {shape:?}");
        }
    }

    #[test]
    fn conv_and_dwconv_match_the_portable_kernels() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..300 {
            let dw = case % 3 == 2;
            // 9×9 (81 taps) takes the chunked path of more than `MAX_TAPS` taps.
            let k = [1, 3, 3, 5, 2, 9][rng.below(6)];
            let kw = if case % 7 == 0 { 4 } else { k };
            let stride = 1 + rng.below(2);
            let pad = rng.below(k.min(2) + usize::from(k > 1));
            let (ih, iw) = (k + rng.below(6), kw + rng.below(6));
            let c = 1 + rng.below(if dw { 40 } else { 24 });
            let n = if dw { c } else { 1 + rng.below(37) };
            let (oh, ow) = (out_len(ih, k, stride, pad), out_len(iw, kw, stride, pad));
            let shape = ConvShape {
                in_h: ih,
                in_w: iw,
                in_c: c,
                out_h: oh,
                out_w: ow,
                out_c: n,
                kernel: [k, kw],
                stride: [stride, stride],
                dilation: [1, 1],
                pad: [pad, pad],
            };
            let x = rng.i8s(ih * iw * c);
            let x_zp = rng.next() as i8 as i32;
            let taps = k * kw;
            let wlen = if dw { c * taps } else { n * c * taps };
            let w = rng.i8s(wlen);
            let bias: Vec<i32> = (0..n)
                .map(|_| (rng.next() % 20000) as i32 - 10000)
                .collect();
            let rq: Vec<i32> = (0..n)
                .flat_map(|_| {
                    [
                        (1 << 30) + (rng.next() >> 2) as i32 / 2,
                        -(rng.below(10) as i32) - 4,
                    ]
                })
                .collect();
            let residual = rng.i8s(oh * ow * n);
            let add = QBinary {
                a_zero_point: 3,
                b_zero_point: -7,
                left_shift: 20,
                a: Requant {
                    multiplier: 1_500_000_000,
                    shift: -1,
                },
                b: Requant {
                    multiplier: 1_200_000_000,
                    shift: -2,
                },
                out: Requant {
                    multiplier: 1_100_000_000,
                    shift: -19,
                },
                out_zero_point: -5,
                act_min: -128,
                act_max: 127,
            };
            let out = I8Out {
                zero_point: rng.next() as i8 as i32,
                act_min: -128 + rng.below(50) as i32,
                act_max: 127,
                residual: (case % 5 == 0).then_some(I8Residual {
                    input: &residual,
                    add,
                }),
                // Both header forms (format 1.1 and 1.4).
                header: if case % 2 == 0 {
                    I8Header::Wide
                } else {
                    I8Header::Compact
                },
            };
            let mut scratch = vec![0i8; c];
            let (mut a, mut b) = (vec![0i8; oh * ow * n], vec![0i8; oh * ow * n]);
            if dw {
                let h = out.header;
                let mut packed = vec![0u8; i8_dwconv_packed_len_as(h, c, [k, kw]).unwrap()];
                pack_i8_dwconv_as(h, &w, Some(&bias), &rq, c, [k, kw], &mut packed).unwrap();
                (portable::KERNELS.i8_dwconv.run)(&shape, &x, x_zp, &packed, &out, &mut a).unwrap();
                (KERNELS.i8_dwconv.run)(&shape, &x, x_zp, &packed, &out, &mut b).unwrap();
            } else {
                let h = out.header;
                let mut packed = vec![0u8; i8_conv_packed_len_as(h, n, c, [k, kw]).unwrap()];
                let nc = (n, c);
                pack_i8_conv_as(h, &w, Some(&bias), &rq, x_zp, nc, [k, kw], &mut packed).unwrap();
                (portable::KERNELS.i8_conv.run)(
                    &shape,
                    &x,
                    x_zp,
                    &packed,
                    &out,
                    &mut a,
                    &mut scratch,
                )
                .unwrap();
                (KERNELS.i8_conv.run)(&shape, &x, x_zp, &packed, &out, &mut b, &mut scratch)
                    .unwrap();
            }
            assert_eq!(a, b, "case {case}: {shape:?}");
        }
    }
}
