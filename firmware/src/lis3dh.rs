//! Register-level driver for the ST **LIS3DH** 3-axis accelerometer over
//! [`embedded_hal::i2c::I2c`].
//!
//! Only what the application needs: identify the chip (`WHO_AM_I` = `0x33`), configure
//! the output data rate with X/Y/Z enabled (`CTRL_REG1`), the full scale in
//! high-resolution mode with block data update (`CTRL_REG4`), poll data-ready
//! (`STATUS_REG`) and read the three axes in one auto-incremented burst from `OUT_X_L`.
//!
//! In high-resolution mode each axis is a 12-bit two's complement value, left-justified
//! in 16 bits (low byte first); [`Lis3dh::read_mg`] shifts it down and multiplies by the
//! sensitivity of the full scale (1, 2, 4 or 12 mg/digit) to get milli-g.
//!
//! Every I2C transaction is spelled out in the register constants below, so the unit
//! tests check the exact bytes on the bus.

use embedded_hal::i2c::I2c;

/// 7-bit address with the SDO/SA0 pin low.
pub const ADDR_SA0_LOW: u8 = 0x18;
/// 7-bit address with the SDO/SA0 pin high (the default on most breakout boards).
pub const ADDR_SA0_HIGH: u8 = 0x19;
/// What `WHO_AM_I` reads on a LIS3DH.
pub const DEVICE_ID: u8 = 0x33;
/// Set in the register address byte to auto-increment it during a burst.
pub const AUTO_INCREMENT: u8 = 0x80;

/// Register addresses.
pub mod reg {
    /// Device identification, reads [`DEVICE_ID`](super::DEVICE_ID).
    pub const WHO_AM_I: u8 = 0x0F;
    /// `ODR[7:4] LPen[3] Zen[2] Yen[1] Xen[0]`.
    pub const CTRL_REG1: u8 = 0x20;
    /// `BDU[7] BLE[6] FS[5:4] HR[3] ST[2:1] SIM[0]`.
    pub const CTRL_REG4: u8 = 0x23;
    /// `ZYXOR[7] … ZYXDA[3]` (ZYXDA: new X, Y and Z data available).
    pub const STATUS_REG: u8 = 0x27;
    /// First of the six output registers `OUT_X_L, OUT_X_H, … OUT_Z_H`.
    pub const OUT_X_L: u8 = 0x28;
}

/// `CTRL_REG1`: X, Y and Z enabled, normal (not low-power) mode.
pub const CTRL1_XYZ_EN: u8 = 0x07;
/// `CTRL_REG4`: block data update (the six output bytes come from one sample).
pub const CTRL4_BDU: u8 = 0x80;
/// `CTRL_REG4`: high-resolution (12-bit) output.
pub const CTRL4_HR: u8 = 0x08;
/// `STATUS_REG`: a new X, Y, Z sample is available.
pub const STATUS_ZYXDA: u8 = 0x08;

/// Output data rate (`CTRL_REG1` ODR bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRate {
    /// 1 Hz.
    Hz1 = 1,
    /// 10 Hz.
    Hz10 = 2,
    /// 25 Hz.
    Hz25 = 3,
    /// 50 Hz (the rate the sensor model was trained at).
    Hz50 = 4,
    /// 100 Hz.
    Hz100 = 5,
    /// 200 Hz.
    Hz200 = 6,
    /// 400 Hz.
    Hz400 = 7,
}

impl DataRate {
    /// Samples per second.
    pub const fn hz(self) -> u32 {
        match self {
            DataRate::Hz1 => 1,
            DataRate::Hz10 => 10,
            DataRate::Hz25 => 25,
            DataRate::Hz50 => 50,
            DataRate::Hz100 => 100,
            DataRate::Hz200 => 200,
            DataRate::Hz400 => 400,
        }
    }

    /// Decodes the ODR field of `CTRL_REG1` (`None` for power-down and the low-power
    /// only rates).
    pub const fn from_bits(odr: u8) -> Option<Self> {
        Some(match odr {
            1 => DataRate::Hz1,
            2 => DataRate::Hz10,
            3 => DataRate::Hz25,
            4 => DataRate::Hz50,
            5 => DataRate::Hz100,
            6 => DataRate::Hz200,
            7 => DataRate::Hz400,
            _ => return None,
        })
    }
}

/// Full scale (`CTRL_REG4` FS bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullScale {
    /// ±2 g, 1 mg/digit in high-resolution mode.
    G2 = 0,
    /// ±4 g, 2 mg/digit (the range of the recorded training data).
    G4 = 1,
    /// ±8 g, 4 mg/digit.
    G8 = 2,
    /// ±16 g, 12 mg/digit.
    G16 = 3,
}

impl FullScale {
    /// Milli-g per digit of the 12-bit high-resolution output (datasheet table 4).
    pub const fn mg_per_digit(self) -> i16 {
        match self {
            FullScale::G2 => 1,
            FullScale::G4 => 2,
            FullScale::G8 => 4,
            FullScale::G16 => 12,
        }
    }

    /// Decodes the FS field of `CTRL_REG4` (bits 5:4, already shifted down).
    pub const fn from_bits(fs: u8) -> Self {
        match fs & 3 {
            0 => FullScale::G2,
            1 => FullScale::G4,
            2 => FullScale::G8,
            _ => FullScale::G16,
        }
    }
}

/// Sensor configuration written by [`Lis3dh::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Output data rate.
    pub rate: DataRate,
    /// Full scale (high-resolution mode is always on).
    pub scale: FullScale,
}

impl Config {
    /// The configuration the sensor model was trained with: 50 Hz, ±4 g, 12-bit.
    pub const SENSOR_MODEL: Config = Config {
        rate: DataRate::Hz50,
        scale: FullScale::G4,
    };

    /// The `CTRL_REG1` value: ODR, normal mode, X/Y/Z enabled.
    pub const fn ctrl_reg1(self) -> u8 {
        ((self.rate as u8) << 4) | CTRL1_XYZ_EN
    }

    /// The `CTRL_REG4` value: block data update, full scale, high resolution.
    pub const fn ctrl_reg4(self) -> u8 {
        CTRL4_BDU | ((self.scale as u8) << 4) | CTRL4_HR
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::SENSOR_MODEL
    }
}

/// Driver errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The bus transaction failed (NACK, arbitration loss, bus error …).
    I2c(E),
    /// `WHO_AM_I` did not read [`DEVICE_ID`]: no LIS3DH at this address.
    WrongDevice {
        /// The value read.
        found: u8,
    },
}

impl<E> From<E> for Error<E> {
    fn from(e: E) -> Self {
        Error::I2c(e)
    }
}

impl<E: core::fmt::Debug> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "LIS3DH: I2C error {e:?}"),
            Error::WrongDevice { found } => {
                write!(
                    f,
                    "LIS3DH: WHO_AM_I reads {found:#04x}, expected {DEVICE_ID:#04x}"
                )
            }
        }
    }
}

/// A LIS3DH on an I2C bus.
#[derive(Debug)]
pub struct Lis3dh<I2C> {
    i2c: I2C,
    addr: u8,
    config: Config,
}

impl<I2C: I2c> Lis3dh<I2C> {
    /// Checks `WHO_AM_I`, then writes `CTRL_REG1` and `CTRL_REG4` from `config`.
    ///
    /// Bus traffic: `write_read(addr, [0x0F], 1 byte)`, `write(addr, [0x20, ctrl1])`,
    /// `write(addr, [0x23, ctrl4])`. Errors: [`Error::WrongDevice`] (nothing is written
    /// then), [`Error::I2c`].
    pub fn new(i2c: I2C, addr: u8, config: Config) -> Result<Self, Error<I2C::Error>> {
        let mut dev = Lis3dh { i2c, addr, config };
        let id = dev.who_am_i()?;
        if id != DEVICE_ID {
            return Err(Error::WrongDevice { found: id });
        }
        dev.write_reg(reg::CTRL_REG1, config.ctrl_reg1())?;
        dev.write_reg(reg::CTRL_REG4, config.ctrl_reg4())?;
        Ok(dev)
    }

    /// Reads `WHO_AM_I`.
    pub fn who_am_i(&mut self) -> Result<u8, Error<I2C::Error>> {
        self.read_reg(reg::WHO_AM_I)
    }

    /// Whether a new X/Y/Z sample is ready (`STATUS_REG` ZYXDA).
    pub fn data_ready(&mut self) -> Result<bool, Error<I2C::Error>> {
        Ok(self.read_reg(reg::STATUS_REG)? & STATUS_ZYXDA != 0)
    }

    /// The six output registers in one burst (`OUT_X_L | 0x80`), as the raw
    /// left-justified 16-bit values `[x, y, z]`.
    pub fn read_raw(&mut self) -> Result<[i16; 3], Error<I2C::Error>> {
        let mut b = [0u8; 6];
        self.i2c
            .write_read(self.addr, &[reg::OUT_X_L | AUTO_INCREMENT], &mut b)?;
        Ok([
            i16::from_le_bytes([b[0], b[1]]),
            i16::from_le_bytes([b[2], b[3]]),
            i16::from_le_bytes([b[4], b[5]]),
        ])
    }

    /// One sample in milli-g: [`raw_to_mg`] of [`read_raw`](Self::read_raw).
    pub fn read_mg(&mut self) -> Result<[i16; 3], Error<I2C::Error>> {
        let raw = self.read_raw()?;
        Ok(raw.map(|r| raw_to_mg(r, self.config.scale)))
    }

    /// The configuration written at initialisation.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    fn read_reg(&mut self, r: u8) -> Result<u8, Error<I2C::Error>> {
        let mut v = [0u8];
        self.i2c.write_read(self.addr, &[r], &mut v)?;
        Ok(v[0])
    }

    fn write_reg(&mut self, r: u8, v: u8) -> Result<(), Error<I2C::Error>> {
        self.i2c.write(self.addr, &[r, v])?;
        Ok(())
    }
}

/// A left-justified 12-bit high-resolution reading to milli-g
/// (`(raw >> 4) × mg/digit`; at ±16 g the result saturates at ±24 564 mg).
pub const fn raw_to_mg(raw: i16, scale: FullScale) -> i16 {
    (raw >> 4).saturating_mul(scale.mg_per_digit())
}

/// The inverse of [`raw_to_mg`], for sensor emulators: milli-g to the left-justified
/// 12-bit register value, rounded toward zero to the sensitivity and clipped to the
/// full scale like the real sensor.
pub const fn mg_to_raw(mg: i16, scale: FullScale) -> i16 {
    let digits = mg / scale.mg_per_digit();
    let digits = if digits > 2047 {
        2047
    } else if digits < -2048 {
        -2048
    } else {
        digits
    };
    digits << 4
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};
    use std::vec;

    const A: u8 = ADDR_SA0_HIGH;

    fn init_transactions(config: Config) -> std::vec::Vec<T> {
        vec![
            T::write_read(A, vec![0x0F], vec![0x33]),
            T::write(A, vec![0x20, config.ctrl_reg1()]),
            T::write(A, vec![0x23, config.ctrl_reg4()]),
        ]
    }

    #[test]
    fn register_values_match_the_datasheet() {
        // 50 Hz = ODR 0100, normal mode, XYZ enabled.
        assert_eq!(Config::SENSOR_MODEL.ctrl_reg1(), 0x47);
        // BDU | FS=01 (±4 g) | HR.
        assert_eq!(Config::SENSOR_MODEL.ctrl_reg4(), 0x98);
        // ±2 g high resolution.
        assert_eq!(
            Config {
                rate: DataRate::Hz50,
                scale: FullScale::G2
            }
            .ctrl_reg4(),
            0x88
        );
        assert_eq!(
            Config {
                rate: DataRate::Hz400,
                scale: FullScale::G16
            }
            .ctrl_reg1(),
            0x77
        );
    }

    #[test]
    fn init_checks_who_am_i_then_writes_ctrl_reg1_and_ctrl_reg4() {
        let mut i2c = Mock::new(&[
            T::write_read(A, vec![0x0F], vec![0x33]),
            T::write(A, vec![0x20, 0x47]),
            T::write(A, vec![0x23, 0x98]),
        ]);
        let dev = Lis3dh::new(i2c.clone(), A, Config::SENSOR_MODEL).unwrap();
        assert_eq!(dev.config(), Config::SENSOR_MODEL);
        i2c.done();
    }

    #[test]
    fn init_rejects_another_chip_without_writing() {
        let mut i2c = Mock::new(&[T::write_read(A, vec![0x0F], vec![0x44])]);
        let err = Lis3dh::new(i2c.clone(), A, Config::default()).unwrap_err();
        assert_eq!(err, Error::WrongDevice { found: 0x44 });
        assert_eq!(
            std::format!("{err}"),
            "LIS3DH: WHO_AM_I reads 0x44, expected 0x33"
        );
        i2c.done();
    }

    #[test]
    fn init_reports_a_bus_error() {
        let mut i2c =
            Mock::new(&[T::write_read(A, vec![0x0F], vec![0x00]).with_error(ErrorKind::Other)]);
        let err = Lis3dh::new(i2c.clone(), A, Config::default()).unwrap_err();
        assert_eq!(err, Error::I2c(ErrorKind::Other));
        i2c.done();
    }

    #[test]
    fn read_is_one_auto_incremented_burst_from_out_x_l() {
        let config = Config::SENSOR_MODEL;
        let mut t = init_transactions(config);
        // x = +1000 mg -> 500 digits -> 0x1F40; y = -2 mg -> -1 digit -> 0xFFF0;
        // z = -4096 mg -> -2048 digits -> 0x8000.
        t.push(T::write_read(
            A,
            vec![0xA8],
            vec![0x40, 0x1F, 0xF0, 0xFF, 0x00, 0x80],
        ));
        t.push(T::write_read(
            A,
            vec![0xA8],
            vec![0x40, 0x1F, 0xF0, 0xFF, 0x00, 0x80],
        ));
        let mut i2c = Mock::new(&t);
        let mut dev = Lis3dh::new(i2c.clone(), A, config).unwrap();
        assert_eq!(dev.read_raw().unwrap(), [0x1F40, -16, i16::MIN]);
        assert_eq!(dev.read_mg().unwrap(), [1000, -2, -4096]);
        i2c.done();
    }

    #[test]
    fn data_ready_reads_the_zyxda_bit_of_status_reg() {
        let mut t = init_transactions(Config::default());
        t.push(T::write_read(A, vec![0x27], vec![0x07]));
        t.push(T::write_read(A, vec![0x27], vec![0xFF]));
        t.push(T::write_read(A, vec![0x27], vec![0x08]));
        let mut i2c = Mock::new(&t);
        let mut dev = Lis3dh::new(i2c.clone(), A, Config::default()).unwrap();
        assert!(!dev.data_ready().unwrap());
        assert!(dev.data_ready().unwrap());
        assert!(dev.data_ready().unwrap());
        let _ = dev.release();
        i2c.done();
    }

    #[test]
    fn sensitivity_per_full_scale() {
        let raw = 100 << 4;
        assert_eq!(raw_to_mg(raw, FullScale::G2), 100);
        assert_eq!(raw_to_mg(raw, FullScale::G4), 200);
        assert_eq!(raw_to_mg(raw, FullScale::G8), 400);
        assert_eq!(raw_to_mg(raw, FullScale::G16), 1200);
        // The low nibble of a left-justified value is not data.
        assert_eq!(raw_to_mg(raw | 0xF, FullScale::G2), 100);
        assert_eq!(raw_to_mg(i16::MAX, FullScale::G16), 2047 * 12);
    }

    #[test]
    fn emulator_inverse_round_trips_and_clips() {
        for mg in (-4096..=4094).step_by(2) {
            assert_eq!(raw_to_mg(mg_to_raw(mg, FullScale::G4), FullScale::G4), mg);
        }
        assert_eq!(
            raw_to_mg(mg_to_raw(3000, FullScale::G2), FullScale::G2),
            2047
        );
        assert_eq!(
            raw_to_mg(mg_to_raw(-3000, FullScale::G2), FullScale::G2),
            -2048
        );
        assert_eq!(DataRate::from_bits(4), Some(DataRate::Hz50));
        assert_eq!(DataRate::from_bits(0), None);
        assert_eq!(FullScale::from_bits(1), FullScale::G4);
    }
}
