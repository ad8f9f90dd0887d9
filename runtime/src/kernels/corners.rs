//! Corner values of the fixed-point requantization's arguments, shared by the tests that
//! compare an optimized requantization (the `fast` driver's rows, the engine's lanes)
//! with the reference `multiply_by_quantized_multiplier`.

/// Accumulators: small values of both signs, large powers of two, and the i32 extremes.
pub(crate) const ACC_CORNERS: [i32; 19] = [
    0,
    1,
    -1,
    2,
    -2,
    3,
    -3,
    100,
    -100,
    12_345,
    -12_345,
    1 << 20,
    -(1 << 20),
    i32::MAX,
    i32::MIN,
    i32::MAX - 1,
    i32::MIN + 1,
    0x4000_0000,
    -0x4000_0000,
];

/// Multipliers: zero, ±1, the Q31 half and near it, the i32 extremes, a typical value.
pub(crate) const MULTIPLIER_CORNERS: [i32; 9] = [
    0,
    1,
    -1,
    1 << 30,
    (1 << 30) + 12_345,
    i32::MAX,
    i32::MIN,
    -(1 << 30),
    1_518_500_250,
];
