//! The optimized int8 FullyConnected kernels (`kernels::fast`, every implementation
//! this CPU runs) against the reference kernel, byte for byte: per-tensor and
//! per-channel requantization tables, with and without a bias, row counts and output
//! counts that cross the drivers' blocks (4 rows, 16 accumulators), extreme
//! multipliers and shifts.

use ferrite::kernels::{fast, int8 as ri, FullyConnectedParams, QuantOut};

/// A deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 32) as u32
    }
    fn i8(&mut self) -> i8 {
        self.next() as i8
    }
}

const SHIFTS: [i32; 12] = [-40, -31, -20, -12, -8, -5, -1, 0, 1, 3, 31, 40];
const MULTIPLIERS: [i32; 7] = [0, 1, 1 << 30, 1_518_500_250, i32::MAX, -1 << 30, i32::MIN];

#[test]
fn int8_fully_connected_matches_the_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let impls: Vec<_> = fast::NAMES
        .iter()
        .filter_map(|n| fast::implementation(n))
        .collect();
    assert!(impls.len() >= 2, "only the reference runs here");
    let mut cases = 0;
    for &(batch, k, n) in &[
        (1, 16, 4),
        (1, 16, 37),
        (2, 33, 16),
        (3, 7, 5),
        (1, 64, 10),
        (2, 1, 18),
        // At and around the bounds of the x86 small-layer path (K <= 64, N <= 16;
        // K <= 16 packs four rows per register).
        (1, 1, 1),
        (1, 15, 16),
        (1, 16, 16),
        (1, 17, 16),
        (3, 12, 7),
        (2, 32, 13),
        (1, 63, 1),
        (1, 64, 16),
        (1, 65, 16),
        (1, 16, 17),
        (2, 64, 17),
    ] {
        let x: Vec<i8> = (0..batch * k).map(|_| rng.i8()).collect();
        let w: Vec<i8> = (0..n * k).map(|_| rng.i8()).collect();
        let bias: Vec<i32> = (0..n)
            .map(|i| match i % 5 {
                0 => i32::MAX - i as i32,
                1 => i32::MIN + i as i32,
                _ => rng.next() as i32 >> 12,
            })
            .collect();
        for round in 0..24 {
            let per_channel: Vec<i32> = (0..n)
                .flat_map(|_| {
                    let m = if rng.next() % 3 == 0 {
                        MULTIPLIERS[rng.next() as usize % MULTIPLIERS.len()]
                    } else {
                        (1 << 30) + (rng.next() >> 2) as i32
                    };
                    [m, SHIFTS[rng.next() as usize % SHIFTS.len()]]
                })
                .collect();
            let per_tensor = [per_channel[0], per_channel[1]];
            let requant: &[i32] = if round % 2 == 0 {
                &per_channel
            } else {
                &per_tensor
            };
            let bias = (round % 4 < 2).then_some(&bias[..]);
            let (zero_point, act_min, act_max) =
                [(0, -128, 127), (-7, -128, 127), (5, 0, 100)][round % 3];
            let x_zp = [0, -128, 127, 9][round % 4];
            let out = QuantOut {
                bias,
                requant,
                zero_point,
                act_min,
                act_max,
            };
            let p = FullyConnectedParams { batch, k, n };
            let mut want = vec![0i8; batch * n];
            ri::fully_connected(&p, &x, x_zp, &w, &out, &mut want);
            for imp in &impls {
                let mut got = vec![0x55i8; batch * n];
                (imp.int8_fully_connected)(&p, &x, x_zp, &w, &out, &mut got);
                assert_eq!(got, want, "{} {batch}x{k}x{n} round {round}", imp.name);
            }
            let mut got = vec![0x55i8; batch * n];
            fast::int8_fully_connected(&p, &x, x_zp, &w, &out, &mut got);
            assert_eq!(got, want, "fast {batch}x{k}x{n} round {round}");
            cases += 1;
        }
    }
    assert_eq!(cases, 17 * 24);
}
