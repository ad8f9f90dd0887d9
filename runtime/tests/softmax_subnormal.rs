//! Softmax lines whose exponentials or quotients are subnormal: the contiguous-axis path
//! (which computes those without a subnormal floating-point operation) gives the bits
//! of the plain operations — `exp(x - max)`, the sum in order, `e / sum` — computed here
//! one value at a time by the hardware, for f32 logits and int8 ones.

use ferrite::kernels::f32 as kf;
use kf::Logits;

/// The plain computation of one line (the definition the kernel documents).
fn plain(x: &[f32]) -> Vec<f32> {
    let m = x
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let e: Vec<f32> = x.iter().map(|&v| kf::exp(v - m)).collect();
    let sum = e.iter().fold(0.0f32, |s, &v| s + v);
    e.iter().map(|&v| v / sum).collect()
}

fn check(x: &[f32], axis: usize) {
    let mut y = vec![0.0f32; x.len()];
    kf::softmax(x, x.len() / axis, axis, 1, false, &mut y);
    for (l, line) in x.chunks(axis).enumerate() {
        let want = plain(line);
        for (j, w) in want.iter().enumerate() {
            let got = y[l * axis + j];
            assert_eq!(
                got.to_bits(),
                w.to_bits(),
                "line {line:?}, element {j}: {got:e} vs {w:e}"
            );
        }
    }
}

/// Every difference from the max in [-106, -80] in steps of 2^-10 (the exponential's
/// whole subnormal range and its edges, and -104's clamp), alone with the max and beside
/// values that make the sum larger (quotients of normal exponentials that are subnormal).
#[test]
fn subnormal_exponentials_and_quotients_are_the_plain_bits() {
    let mut n = 0;
    let mut d = -106.0f32;
    while d <= -80.0 {
        check(&[0.0, d], 2);
        check(&[d, 0.0, -0.5, -1e-3, 0.0, -2.0, d + 0.25, -0.75], 8);
        d += 1.0 / 1024.0;
        n += 1;
    }
    assert!(n > 26_000);
    // Sums of many near-max values push normal exponentials below sum·2^-126.
    for k in 0..4000 {
        let d = -87.5 + k as f32 * 0.001;
        let mut line = vec![-1e-6f32; 300];
        line[7] = d;
        line[150] = d - 1.0;
        check(&line, 300);
    }
}

/// Lines with NaN, -inf and +inf keep the plain results (NaN where it propagates).
#[test]
fn special_values_beside_subnormal_ones() {
    for special in [f32::NAN, f32::NEG_INFINITY, f32::INFINITY, -1e30, 1e30] {
        let x = [0.0, -95.0, special, -88.0];
        let mut y = [0.0f32; 4];
        kf::softmax(&x, 1, 4, 1, false, &mut y);
        let want = plain(&x);
        for j in 0..4 {
            assert!(
                y[j].to_bits() == want[j].to_bits() || (y[j].is_nan() && want[j].is_nan()),
                "{x:?}: {:?} vs {want:?}",
                y
            );
        }
    }
}

/// int8 logits with a large scale (differences of up to 255 steps of 0.5): the fused
/// Softmax of int8 logits gives the plain softmax of the dequantized values.
#[test]
fn int8_logits_with_subnormal_results() {
    let mut state = 0x2545_f491u32;
    for scale in [0.35f32, 0.4, 0.5, 0.6123, 0.75] {
        for zp in [-128, -3, 0, 77] {
            for _ in 0..200 {
                let q: Vec<i8> = (0..10)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        state as i8
                    })
                    .collect();
                let deq: Vec<f32> = q
                    .iter()
                    .map(|&v| (i32::from(v) - zp) as f32 * scale)
                    .collect();
                let mut y = [0.0f32; 10];
                kf::softmax_of(Logits::I8(&q, scale, zp), 1, 10, 1, false, &mut y);
                let want = plain(&deq);
                for j in 0..10 {
                    assert_eq!(y[j].to_bits(), want[j].to_bits(), "{q:?} {scale} {zp}");
                }
            }
        }
    }
}
