//! The model's input convention, shared by the firmware and the host-side parity test.
//!
//! The sensor model (`examples/sensor/sensor_cnn.onnx`) takes a `[1, 3, 64]` window in
//! **g**, channel-major (`x0..x63, y0..y63, z0..z63`), computed from the sensor's integer
//! milli-g as `float32(mg / 1000)` (see `examples/sensor/README.md`). Windows of the
//! recorded trace start every 32 samples.

/// Accelerometer axes.
pub const CHANNELS: usize = 3;
/// Samples per window (1.28 s at 50 Hz).
pub const WINDOW: usize = 64;
/// Samples between the starts of two windows.
pub const HOP: usize = 32;
/// Elements of the model input (`CHANNELS × WINDOW`).
pub const INPUT_LEN: usize = CHANNELS * WINDOW;

/// Milli-g to the model's input unit (g): `mg / 1000` rounded once to f32, exactly as
/// the training data was made (`float32(mg / 1000)`; an f32 division of an integer that
/// f32 represents exactly gives the same value as numpy's f64 division then cast).
#[inline]
pub fn mg_to_input(mg: i16) -> f32 {
    f32::from(mg) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_matches_float64_then_float32() {
        for mg in -4096i16..=4096 {
            let reference = (f64::from(mg) / 1000.0) as f32;
            assert_eq!(mg_to_input(mg).to_bits(), reference.to_bits(), "mg = {mg}");
        }
        assert_eq!(mg_to_input(968), 0.968);
        assert_eq!(INPUT_LEN, 192);
    }
}
