//! A software LIS3DH: an [`embedded_hal::i2c::I2c`] device that answers like the chip
//! and replays a recorded trace of milli-g samples, on a virtual clock.
//!
//! The QEMU board (`boards/mps2-an386`) runs the unmodified driver and application over
//! it; the host tests use it too. What it emulates:
//! - the register file: `WHO_AM_I` (0x33), `CTRL_REG1` (ODR), `CTRL_REG4` (full scale),
//!   `STATUS_REG` (ZYXDA), `OUT_X_L..OUT_Z_H`; writes to other registers are accepted
//!   and read back, reads of unknown registers return 0;
//! - the register pointer and its auto-increment bit (0x80) across a burst;
//! - the sample schedule: sample `k` of the trace becomes available at `k / ODR` seconds
//!   of [`VirtualClock`] time, which only [`VirtualDelay`] advances; reading the last
//!   output register (`OUT_Z_H`) consumes the sample and clears ZYXDA;
//! - the output format: 12-bit high-resolution values at the configured full scale,
//!   left-justified, low byte first ([`lis3dh::mg_to_raw`]);
//! - a NACK for any other 7-bit address.

use crate::lis3dh::{self, reg, DataRate, FullScale, AUTO_INCREMENT, DEVICE_ID, STATUS_ZYXDA};
use core::cell::Cell;
use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};

/// Virtual time in nanoseconds, shared by the emulated sensor and [`VirtualDelay`].
#[derive(Debug, Default)]
pub struct VirtualClock(Cell<u64>);

impl VirtualClock {
    /// Time zero.
    pub const fn new() -> Self {
        VirtualClock(Cell::new(0))
    }

    /// Nanoseconds elapsed.
    pub fn now_ns(&self) -> u64 {
        self.0.get()
    }

    /// Moves time forward.
    pub fn advance_ns(&self, ns: u64) {
        self.0.set(self.0.get().saturating_add(ns));
    }
}

/// A [`DelayNs`] that advances a [`VirtualClock`] instead of waiting.
#[derive(Debug)]
pub struct VirtualDelay<'c>(pub &'c VirtualClock);

impl DelayNs for VirtualDelay<'_> {
    fn delay_ns(&mut self, ns: u32) {
        self.0.advance_ns(u64::from(ns));
    }
}

/// The emulated LIS3DH replaying `trace` (`[x, y, z]` milli-g per sample).
#[derive(Debug)]
pub struct Lis3dhEmulator<'t, 'c> {
    trace: &'t [[i16; 3]],
    clock: &'c VirtualClock,
    addr: u8,
    regs: [u8; 0x40],
    pointer: u8,
    /// Index of the next sample to deliver.
    next: usize,
    /// Time at which sampling started (the write to CTRL_REG1 that set an ODR).
    started_ns: u64,
    /// The sample latched in the output registers (block data update).
    latched: Option<[i16; 3]>,
}

impl<'t, 'c> Lis3dhEmulator<'t, 'c> {
    /// A powered-down sensor at 7-bit address `addr`.
    pub fn new(trace: &'t [[i16; 3]], clock: &'c VirtualClock, addr: u8) -> Self {
        let mut regs = [0u8; 0x40];
        regs[reg::WHO_AM_I as usize] = DEVICE_ID;
        Lis3dhEmulator {
            trace,
            clock,
            addr,
            regs,
            pointer: 0,
            next: 0,
            started_ns: 0,
            latched: None,
        }
    }

    /// Samples delivered so far.
    pub fn consumed(&self) -> usize {
        self.next
    }

    /// Whether every sample of the trace was delivered.
    pub fn finished(&self) -> bool {
        self.next >= self.trace.len()
    }

    /// The current `CTRL_REG1` and `CTRL_REG4` values.
    pub fn ctrl_regs(&self) -> (u8, u8) {
        (
            self.regs[reg::CTRL_REG1 as usize],
            self.regs[reg::CTRL_REG4 as usize],
        )
    }

    fn rate(&self) -> Option<DataRate> {
        let r1 = self.regs[reg::CTRL_REG1 as usize];
        // All three axes must be on for ZYXDA.
        if r1 & 0x07 != 0x07 {
            return None;
        }
        DataRate::from_bits(r1 >> 4)
    }

    fn scale(&self) -> FullScale {
        FullScale::from_bits(self.regs[reg::CTRL_REG4 as usize] >> 4)
    }

    /// Whether sample `next` is due on the virtual clock.
    fn sample_due(&self) -> bool {
        let Some(rate) = self.rate() else {
            return false;
        };
        if self.finished() {
            return false;
        }
        let period = 1_000_000_000 / u64::from(rate.hz());
        let due = self.started_ns + self.next as u64 * period;
        self.clock.now_ns() >= due
    }

    fn read_byte(&mut self, r: u8) -> u8 {
        match r {
            reg::STATUS_REG => {
                if self.latched.is_some() || self.sample_due() {
                    STATUS_ZYXDA
                } else {
                    0
                }
            }
            0x28..=0x2D => {
                if self.latched.is_none() && self.sample_due() {
                    self.latched = Some(self.trace[self.next]);
                }
                let Some(s) = self.latched else { return 0 };
                let axis = usize::from((r - reg::OUT_X_L) / 2);
                let raw = lis3dh::mg_to_raw(s[axis], self.scale()).to_le_bytes();
                if r == 0x2D {
                    self.latched = None;
                    self.next += 1;
                }
                raw[usize::from(r & 1)]
            }
            _ => self.regs.get(usize::from(r)).copied().unwrap_or(0),
        }
    }

    fn write_byte(&mut self, r: u8, v: u8) {
        if r == reg::WHO_AM_I || r == reg::STATUS_REG || (0x28..=0x2D).contains(&r) {
            return; // read-only
        }
        if r == reg::CTRL_REG1 {
            let was_off = self.rate().is_none();
            if let Some(slot) = self.regs.get_mut(usize::from(r)) {
                *slot = v;
            }
            if was_off && self.rate().is_some() {
                self.started_ns = self.clock.now_ns();
            }
            return;
        }
        if let Some(slot) = self.regs.get_mut(usize::from(r)) {
            *slot = v;
        }
    }

    fn advance_pointer(&mut self) {
        if self.pointer & AUTO_INCREMENT != 0 {
            let r = (self.pointer & 0x7F).wrapping_add(1) & 0x7F;
            self.pointer = r | AUTO_INCREMENT;
        }
    }
}

impl ErrorType for Lis3dhEmulator<'_, '_> {
    type Error = ErrorKind;
}

impl I2c for Lis3dhEmulator<'_, '_> {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        if address != self.addr {
            return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        }
        for op in operations {
            match op {
                Operation::Write(bytes) => {
                    let Some((&first, rest)) = bytes.split_first() else {
                        continue;
                    };
                    self.pointer = first;
                    for &v in rest {
                        self.write_byte(self.pointer & 0x7F, v);
                        self.advance_pointer();
                    }
                }
                Operation::Read(buf) => {
                    for b in buf.iter_mut() {
                        *b = self.read_byte(self.pointer & 0x7F);
                        self.advance_pointer();
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lis3dh::{Config, Lis3dh, ADDR_SA0_HIGH, ADDR_SA0_LOW};

    const TRACE: [[i16; 3]; 3] = [[-68, -174, 968], [4094, -4096, 0], [2, -2, 1000]];

    #[test]
    fn the_driver_reads_the_trace_back_on_schedule() {
        let clock = VirtualClock::new();
        let emu = Lis3dhEmulator::new(&TRACE, &clock, ADDR_SA0_HIGH);
        let mut dev = Lis3dh::new(emu, ADDR_SA0_HIGH, Config::SENSOR_MODEL).unwrap();
        let mut delay = VirtualDelay(&clock);
        // Sample 0 is due at once, sample 1 after 20 ms at 50 Hz.
        assert!(dev.data_ready().unwrap());
        assert_eq!(dev.read_mg().unwrap(), TRACE[0]);
        assert!(!dev.data_ready().unwrap());
        delay.delay_ms(19);
        assert!(!dev.data_ready().unwrap());
        delay.delay_ms(1);
        assert!(dev.data_ready().unwrap());
        assert_eq!(dev.read_mg().unwrap(), TRACE[1]);
        delay.delay_ms(20);
        assert_eq!(dev.read_mg().unwrap(), TRACE[2]);
        delay.delay_ms(100);
        assert!(!dev.data_ready().unwrap(), "trace exhausted");
        let emu = dev.release();
        assert!(emu.finished());
        assert_eq!(emu.ctrl_regs(), (0x47, 0x98));
    }

    #[test]
    fn full_scale_clips_like_the_sensor() {
        let clock = VirtualClock::new();
        let emu = Lis3dhEmulator::new(&TRACE[1..], &clock, ADDR_SA0_HIGH);
        let cfg = Config {
            rate: DataRate::Hz400,
            scale: FullScale::G2,
        };
        let mut dev = Lis3dh::new(emu, ADDR_SA0_HIGH, cfg).unwrap();
        assert_eq!(dev.read_mg().unwrap(), [2047, -2048, 0]);
    }

    #[test]
    fn powered_down_sensor_has_no_data_and_other_addresses_nack() {
        let clock = VirtualClock::new();
        let mut emu = Lis3dhEmulator::new(&TRACE, &clock, ADDR_SA0_HIGH);
        let mut status = [0u8];
        emu.write_read(ADDR_SA0_HIGH, &[reg::STATUS_REG], &mut status)
            .unwrap();
        assert_eq!(status[0], 0);
        assert_eq!(
            emu.write_read(ADDR_SA0_LOW, &[reg::WHO_AM_I], &mut status),
            Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))
        );
        let err = Lis3dh::new(emu, ADDR_SA0_LOW, Config::default()).unwrap_err();
        assert!(matches!(
            err,
            lis3dh::Error::I2c(ErrorKind::NoAcknowledge(_))
        ));
    }
}
