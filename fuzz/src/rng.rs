//! The mutators' shared parts: a seeded generator, interesting f32 values and
//! libFuzzer's byte mutations of a buffer. No dependency but `libfuzzer-sys`, so the
//! workspace's `onnx_import` harness (`fuzz/onnx-harness`) includes this file and
//! `onnx.rs` as they are (`#[path]`).

/// Deterministic generator for the mutator's choices (xorshift64*), seeded by libFuzzer.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u32) -> Self {
        Rng(u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }
}

/// f32 values that break arithmetic: signed zeros, extremes, subnormals, NaN, infinities.
pub const INTERESTING_F32: [f32; 18] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    127.0,
    -128.0,
    255.0,
    65504.0,
    1e30,
    -1e30,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-45,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
];

/// Mutates `v` in place with libFuzzer's byte mutations, letting it grow by up to
/// `grow` bytes.
pub fn mutate_bytes(v: &mut Vec<u8>, grow: usize) {
    let len = v.len();
    let cap = len + grow.max(8);
    v.resize(cap, 0);
    let n = libfuzzer_sys::fuzzer_mutate(v, len, cap);
    v.truncate(n);
}
