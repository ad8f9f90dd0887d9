//! The requantization forms of the AVX-512 module against the reference.

extern crate std;
use std::vec;
use std::vec::Vec;

use super::super::frame::geom::mbqm_reference;
use super::super::frame::I32Lanes;
use super::*;

/// The one-rounding-step form of [`I32Lanes::mbqm`] in scalar 64-bit arithmetic.
fn fused(a: i32, m: i32, shift: i32) -> i32 {
    let s = shift.clamp(-31, 31);
    let (l, e) = (s.max(0) as u32, (-s).max(0) as u32);
    let x = i64::from(a.wrapping_shl(l)) * i64::from(m);
    let mut t = x + (1 << 30);
    if e > 0 {
        t += 1 << (30 + e);
        if x < -(1 << 30) {
            t -= 1 << 31;
        }
    }
    (t >> (31 + e)) as i32
}

/// The rounding identity behind the fused form, exhaustively over the residues
/// `q mod 2^e` (all of them for `e <= 14`, the ones around 0, the half and the
/// divisor above), for both signs and quotients near the ends of i32.
#[test]
fn rounding_identity_over_residues() {
    let rdbpot = |q: i64, e: u32| {
        let mask = (1i64 << e) - 1;
        let threshold = (mask >> 1) + i64::from(q < 0);
        (q >> e) + i64::from((q & mask) > threshold)
    };
    for e in 1..=31u32 {
        let d = 1i64 << e;
        let h = d / 2;
        let residues: Vec<i64> = if e <= 14 {
            (0..d).collect()
        } else {
            [0, 1, 2, h - 2, h - 1, h, h + 1, h + 2, d - 2, d - 1].to_vec()
        };
        let lo = i64::from(i32::MIN) + 1;
        let hi = i64::from(i32::MAX);
        for k in [lo / d - 1, lo / d, -3, -2, -1, 0, 1, 2, hi / d - 1, hi / d] {
            for &r in &residues {
                let q = k * d + r;
                if !(lo..=hi).contains(&q) {
                    continue;
                }
                let s = i64::from(q < 0);
                assert_eq!((q + h - s).div_euclid(d), rdbpot(q, e), "q {q} e {e}");
            }
        }
    }
}

fn samples() -> (Vec<i32>, Vec<i32>) {
    let mut accs = vec![
        0,
        1,
        -1,
        2,
        -2,
        3,
        -3,
        i32::MAX,
        i32::MIN,
        i32::MAX - 1,
        i32::MIN + 1,
        1 << 30,
        -(1 << 30),
        (1 << 30) - 1,
        -(1 << 30) + 1,
    ];
    let mut s = 12_345u32;
    for _ in 0..800 {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let v = s as i32;
        accs.push(v);
        accs.push(v >> (s % 31));
    }
    let mut multipliers = vec![
        0,
        1,
        -1,
        1 << 30,
        (1 << 30) + 1,
        i32::MAX,
        i32::MAX - 1,
        -(1 << 30),
        i32::MIN + 1,
        1_518_500_250,
    ];
    for _ in 0..60 {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        multipliers.push((s >> 1) as i32 | (1 << 30));
        multipliers.push(s as i32);
    }
    (accs, multipliers)
}

#[test]
fn fused_form_matches_the_reference() {
    let (accs, multipliers) = samples();
    for &m in &multipliers {
        for shift in -33..=33 {
            for &a in &accs {
                assert_eq!(
                    fused(a, m, shift),
                    mbqm_reference(a, m, shift),
                    "{a} {m} {shift}"
                );
            }
        }
    }
}

/// The vector primitive, both paths (a multiplier `i32::MIN` in the lanes takes
/// the two-step one), against the reference, lane by lane.
#[test]
fn vector_mbqm_matches_the_reference() {
    let Some(t) = Avx512Bw::new() else {
        return;
    };
    let (accs, mut multipliers) = samples();
    multipliers.push(i32::MIN);
    let shifts: Vec<i32> = (-33..=33).collect();
    let mut lane = 0usize;
    let mut a = [0i32; 16];
    let mut m = [0i32; 16];
    let mut sh = [0i32; 16];
    for (i, &acc) in accs.iter().enumerate() {
        for j in 0..multipliers.len() / 8 {
            a[lane] = acc;
            m[lane] = multipliers[(i + j * 7 + lane) % multipliers.len()];
            sh[lane] = shifts[(i + j * 3 + lane * 5) % shifts.len()];
            lane += 1;
            if lane == 16 {
                lane = 0;
                let mut got = [0i32; 16];
                // SAFETY: the token proves the features; 64-byte arrays.
                unsafe {
                    let rq = t.rq(
                        I32Lanes::load(t, m.as_ptr().cast()),
                        I32Lanes::load(t, sh.as_ptr().cast()),
                    );
                    let v = t.mbqm(I32Lanes::load(t, a.as_ptr().cast()), &rq);
                    _mm512_storeu_si512(got.as_mut_ptr().cast(), v);
                }
                for k in 0..16 {
                    assert_eq!(
                        got[k],
                        mbqm_reference(a[k], m[k], sh[k]),
                        "{} {} {}",
                        a[k],
                        m[k],
                        sh[k]
                    );
                }
            }
        }
    }
}

/// [`I32Lanes::mbqm_zp`] against the reference's `mbqm + zp`, lane by lane: shifts
/// inside the short form's range and around its ends, zero points at and beyond
/// [`FAST_ZP`], and a multiplier `i32::MIN` in some vectors (the general path).
#[test]
fn mbqm_zp_matches_the_reference() {
    let Some(t) = Avx512Bw::new() else {
        return;
    };
    let (accs, mut multipliers) = samples();
    multipliers.push(i32::MIN);
    let shifts: Vec<i32> = (-25..=2).collect();
    let zps = [0, 1, -1, 127, -128, 255, -255, 256, -256, 100_000];
    let (mut fast, mut general) = (0usize, 0usize);
    let mut lane = 0usize;
    let mut a = [0i32; 16];
    let mut m = [0i32; 16];
    let mut sh = [0i32; 16];
    let mut vectors = 0usize;
    for (i, &acc) in accs.iter().enumerate() {
        for j in 0..multipliers.len() / 4 {
            a[lane] = acc;
            m[lane] = multipliers[(i * 3 + j * 7 + lane) % multipliers.len()];
            // Whole vectors with one shift (most of them inside the short form's
            // range), and some with a shift per lane.
            sh[lane] = if vectors % 5 == 4 {
                shifts[(i + j * 3 + lane * 5) % shifts.len()]
            } else {
                shifts[(vectors * 7) % shifts.len()]
            };
            lane += 1;
            if lane < 16 {
                continue;
            }
            lane = 0;
            let zp = zps[vectors % zps.len()];
            vectors += 1;
            let mut got = [0i32; 16];
            // SAFETY: the token proves the features; 64-byte arrays.
            unsafe {
                let rq = t.rq_zp(
                    I32Lanes::load(t, m.as_ptr().cast()),
                    I32Lanes::load(t, sh.as_ptr().cast()),
                    I32Lanes::splat(t, zp),
                );
                if rq.fast {
                    fast += 1;
                } else {
                    general += 1;
                }
                let v = t.mbqm_zp(
                    I32Lanes::load(t, a.as_ptr().cast()),
                    &rq,
                    I32Lanes::splat(t, zp),
                );
                _mm512_storeu_si512(got.as_mut_ptr().cast(), v);
            }
            for k in 0..16 {
                let want = mbqm_reference(a[k], m[k], sh[k]).wrapping_add(zp);
                assert_eq!(got[k], want, "{} {} {} {zp}", a[k], m[k], sh[k]);
            }
        }
    }
    assert!(fast > 500 && general > 500, "{fast} {general}");
}

/// The offset form ([`I32Lanes::mbqm_zp_u`]) against the reference's `mbqm + zp`:
/// sums `acc + bias` with `|acc| < 2^29` and `|bias| <= 2^29` (the bounds `rq_u`
/// checks, and beyond them: not applied), multipliers above `2^30` (and `2^30`
/// itself: not applied), shifts of the short form and around it, zero points to
/// `±255`.
#[test]
fn mbqm_zp_u_matches_the_reference() {
    let Some(t) = Vnni::new() else {
        return;
    };
    let (mut accs, multipliers) = samples();
    accs.extend([
        (1 << 29) - 1,
        -(1 << 29) + 1,
        255 * 128 * 16_000,
        -255 * 128 * 16_000,
    ]);
    let biases = [
        0,
        1,
        -1,
        1 << 29,
        -(1 << 29),
        12_345,
        -99_999,
        (1 << 29) + 1,
    ];
    let shifts: Vec<i32> = (-24..=1).collect();
    let zps = [0, 1, -1, 127, -128, 255, -255, 256];
    let (mut applied, mut not) = (0usize, 0usize);
    let mut lane = 0usize;
    let (mut acc, mut bias, mut m, mut sh) = ([0i32; 16], [0i32; 16], [0i32; 16], [0i32; 16]);
    let mut vectors = 0usize;
    for (i, &a) in accs.iter().enumerate() {
        for j in 0..multipliers.len() / 4 {
            acc[lane] = a % (1 << 29);
            bias[lane] = biases[(i + j + lane * 3 + vectors) % biases.len()];
            let mm = multipliers[(i * 3 + j * 7 + lane) % multipliers.len()];
            m[lane] = if vectors % 9 == 8 {
                1 << 30
            } else {
                mm | (1 << 30)
            };
            sh[lane] = shifts[(vectors * 7 + (vectors % 4 / 3) * lane) % shifts.len()];
            lane += 1;
            if lane < 16 {
                continue;
            }
            lane = 0;
            let zp = zps[vectors % zps.len()];
            let k = if vectors % 13 == 12 { 16_500 } else { 8 };
            let nc = 1 + vectors % 16;
            vectors += 1;
            let mut got = [0i32; 16];
            // SAFETY: the token proves the features; 64-byte arrays.
            unsafe {
                let ld = |p: &[i32; 16]| I32Lanes::load(t, p.as_ptr().cast());
                let zpv = I32Lanes::splat(t, zp);
                let mut rq = t.rq_zp(ld(&m), ld(&sh), zpv);
                if !t.rq_u(&mut rq, ld(&bias), nc, k) {
                    not += 1;
                    continue;
                }
                applied += 1;
                let off = I32Lanes::add(t, ld(&bias), I32Lanes::splat(t, i32::MIN));
                let v = t.mbqm_zp_u(I32Lanes::add(t, ld(&acc), off), &rq, zpv);
                _mm512_storeu_si512(got.as_mut_ptr().cast(), v);
            }
            for k in 0..nc {
                let a = acc[k] + bias[k];
                let want = mbqm_reference(a, m[k], sh[k]).wrapping_add(zp);
                assert_eq!(got[k], want, "{a} {} {} {zp}", m[k], sh[k]);
            }
        }
    }
    assert!(applied > 500 && not > 100, "{applied} {not}");
}
