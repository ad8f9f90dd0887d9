//! The f32 FullyConnected op over a batch (`[M, K]` input): from
//! `kernels::engine::FC_GEMM_MIN_BATCH` rows it packs its weights into arena scratch
//! and runs the engine's GEMM, below that one dot product per output. Both paths
//! against a naive f64 FC computed here, within `γ(K + 2)·(|b| + Σ|x·w|)` (the bound
//! of `kernels::engine`'s f32 results); the arena grows by exactly the packed weights
//! on the GEMM path and not at all below it.

use ferrite::format::types::{Activation, DType, Op, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::kernels::engine::{
    f32_fc_scratch_len, f32_fully_connected, F32Out, FC_GEMM_MIN_BATCH,
};
use ferrite::{AlignedModel, OwnedSession};

/// splitmix64 values in [-1, 1).
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// FC `[m, k] × [n, k]ᵀ + bias` with `act`, through a built `.fer` file; checks the
/// arena size and every output.
fn check(m: usize, k: usize, n: usize, act: Activation) {
    let (x, w, b) = (values(1, m * k), values(2, n * k), values(3, n));
    let mut mb = ModelBuilder::new("fc");
    let dims = |a: usize, c: usize| [a as u32, c as u32];
    let xt = mb
        .add_tensor("x", DType::F32, &dims(m, k), Quant::None)
        .unwrap();
    let wt = mb.add_const_f32("w", &dims(n, k), &w).unwrap();
    let bt = mb.add_const_f32("b", &[n as u32], &b).unwrap();
    let yt = mb
        .add_tensor("y", DType::F32, &dims(m, n), Quant::None)
        .unwrap();
    mb.add_op(Op::FullyConnected { act, q: None }, &[xt, wt, bt], &[yt])
        .unwrap();
    mb.set_io(&[xt], &[yt]).unwrap();
    let bytes = mb.finish().unwrap();
    let a = AlignedModel::new(&bytes);
    let model = a.model().unwrap();

    // The planned arena: the larger of x and y at 0, the other after it (at a 64-byte
    // offset when it has at least 256 bytes, else 16), then the packed weights if any.
    let (big, small) = ((m * k * 4).max(m * n * 4), (m * k * 4).min(m * n * 4));
    let at = big.next_multiple_of(if small >= 256 { 64 } else { 16 });
    let planned = (at + small).next_multiple_of(16);
    let scratch = if m >= FC_GEMM_MIN_BATCH {
        f32_fc_scratch_len(n, k).unwrap() * 4
    } else {
        0
    };
    assert!(
        model.arena_size() >= planned + scratch && model.arena_size() < planned + scratch + 16,
        "m={m} k={k} n={n}: arena {} for {planned} planned + {scratch} scratch",
        model.arena_size()
    );

    let mut os = OwnedSession::new(&model);
    let mut s = os.session();
    s.set_input_f32(0, &x).unwrap();
    s.run().unwrap();
    let mut y = vec![0f32; m * n];
    s.output_f32(0, &mut y).unwrap();

    if m >= FC_GEMM_MIN_BATCH {
        // The GEMM path: the bits of engine::f32_fully_connected on the same operands.
        let (min, max) = match act {
            Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
            Activation::Relu => (0.0, f32::INFINITY),
            Activation::Clip { min, max } => (min, max),
        };
        let out = F32Out {
            min,
            max,
            residual: None,
        };
        let mut scratch = vec![0f32; f32_fc_scratch_len(n, k).unwrap()];
        let mut want = vec![0f32; m * n];
        f32_fully_connected(m, k, n, &x, &w, Some(&b), &out, &mut want, &mut scratch).unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&y),
            bits(&want),
            "m={m} k={k} n={n}: not the GEMM's bits"
        );
    }

    let (lo, hi) = match act {
        Activation::None => (f64::NEG_INFINITY, f64::INFINITY),
        Activation::Relu => (0.0, f64::INFINITY),
        Activation::Clip { min, max } => (f64::from(min), f64::from(max)),
    };
    let t = (k + 2) as f64;
    let gamma = t * 2f64.powi(-24) / (1.0 - t * 2f64.powi(-24)) + t * 2f64.powi(-52);
    for r in 0..m {
        for j in 0..n {
            let (mut e, mut mag) = (f64::from(b[j]), f64::from(b[j]).abs());
            for i in 0..k {
                let p = f64::from(x[r * k + i]) * f64::from(w[j * k + i]);
                e += p;
                mag += p.abs();
            }
            let want = e.clamp(lo, hi);
            let got = f64::from(y[r * n + j]);
            assert!(
                (got - want).abs() <= gamma * mag + 1e-40,
                "m={m} k={k} n={n}: y[{r}][{j}] = {got}, exact {want}"
            );
        }
    }
}

#[test]
fn batched_fully_connected_matches_the_naive_fc() {
    for (m, k, n) in [
        (1, 64, 64),
        (3, 64, 10),
        (4, 64, 64),
        (37, 64, 32),
        (256, 64, 10),
        (50, 130, 17),
        (9, 1, 1),
    ] {
        for act in [
            Activation::None,
            Activation::Relu,
            Activation::Clip {
                min: -0.5,
                max: 0.5,
            },
        ] {
            check(m, k, n, act);
        }
    }
}
