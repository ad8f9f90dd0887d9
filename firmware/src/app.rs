//! The application: sensor → window → predict → actuate (LED) → log.
//!
//! Generic over embedded-hal 1.0 traits only ([`DelayNs`], [`OutputPin`]) plus the small
//! [`Accelerometer`] trait (implemented by [`Lis3dh`] over any
//! `I2c`) and a [`core::fmt::Write`] log sink, so the same code
//! runs on the QEMU board, a real board and the host tests.

use crate::input::{mg_to_input, CHANNELS};
use crate::lis3dh::{self, Lis3dh};
use crate::window::{BadHop, Window};
use core::fmt::{self, Write};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::i2c::I2c;
use ferrite::{Model, Session};

/// Largest number of model outputs (scores) the application keeps.
pub const MAX_SCORES: usize = 32;

/// A 3-axis accelerometer delivering milli-g samples.
pub trait Accelerometer {
    /// Bus or device error.
    type Error: fmt::Debug;
    /// Whether a new sample is ready.
    fn data_ready(&mut self) -> Result<bool, Self::Error>;
    /// The next sample `[x, y, z]` in milli-g.
    fn read_mg(&mut self) -> Result<[i16; 3], Self::Error>;
}

impl<I2C: I2c> Accelerometer for Lis3dh<I2C> {
    type Error = lis3dh::Error<I2C::Error>;
    fn data_ready(&mut self) -> Result<bool, Self::Error> {
        Lis3dh::data_ready(self)
    }
    fn read_mg(&mut self) -> Result<[i16; 3], Self::Error> {
        Lis3dh::read_mg(self)
    }
}

/// LED wiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedPolarity {
    /// The pin drives the LED's anode: high = on.
    ActiveHigh,
    /// The pin sinks the LED's cathode (e.g. PC13 on the STM32F411 "Black Pill"): low = on.
    ActiveLow,
}

/// Application settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Samples between two windows (`1..=N`).
    pub hop: usize,
    /// The LED is on while the predicted class index is this one.
    pub led_class: usize,
    /// How the LED is wired.
    pub led: LedPolarity,
    /// Pause between two data-ready polls, microseconds.
    pub poll_interval_us: u32,
    /// Polls without data before [`Error::NoData`].
    pub max_polls: u32,
}

impl Config {
    /// The sensor model's schedule: hop 32 (windows of 64 overlap by half); the LED
    /// shows class 3 (`shake`); poll every millisecond, give up after 100 ms without
    /// a sample (five periods at 50 Hz).
    pub const SENSOR_MODEL: Config = Config {
        hop: crate::input::HOP,
        led_class: 3,
        led: LedPolarity::ActiveHigh,
        poll_interval_us: 1000,
        max_polls: 100,
    };
}

/// Why [`App::new`] refused the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupError {
    /// The session could not be created (e.g. [`ferrite::Error::ArenaTooSmall`]: the
    /// static arena is smaller than [`Model::arena_size`]).
    Model(ferrite::Error),
    /// Input 0 of the model does not hold one `CHANNELS × N` window.
    InputLen {
        /// `CHANNELS × N`.
        expected: usize,
        /// The model's input 0 element count.
        actual: usize,
    },
    /// Output 0 of the model is empty or has more than [`MAX_SCORES`] values.
    OutputLen {
        /// The model's output 0 element count.
        actual: usize,
    },
    /// The hop is not in `1..=N`.
    Hop(BadHop),
}

impl From<ferrite::Error> for SetupError {
    fn from(e: ferrite::Error) -> Self {
        SetupError::Model(e)
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Model(e) => write!(f, "model: {e}"),
            SetupError::InputLen { expected, actual } => write!(
                f,
                "model input 0 has {actual} values, the application feeds {expected} ({CHANNELS} channels x window)"
            ),
            SetupError::OutputLen { actual } => {
                write!(f, "model output 0 has {actual} values, supported 1..={MAX_SCORES}")
            }
            SetupError::Hop(h) => write!(f, "hop {} is not in 1..={}", h.hop, h.len),
        }
    }
}

/// Why a step of the application failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<SE, PE> {
    /// The sensor failed.
    Sensor(SE),
    /// No sample after [`Config::max_polls`] polls.
    NoData {
        /// Polls made.
        polls: u32,
    },
    /// Inference failed (only on bad input values; the model was validated at setup).
    Model(ferrite::Error),
    /// Setting the LED pin failed.
    Led(PE),
    /// The log sink returned an error.
    Log,
}

impl<SE: fmt::Debug, PE: fmt::Debug> fmt::Display for Error<SE, PE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sensor(e) => write!(f, "sensor: {e:?}"),
            Error::NoData { polls } => write!(f, "sensor: no data after {polls} polls"),
            Error::Model(e) => write!(f, "inference: {e}"),
            Error::Led(e) => write!(f, "LED pin: {e:?}"),
            Error::Log => f.write_str("log sink failed"),
        }
    }
}

/// One inference result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    /// Window number since start (0-based).
    pub window: u32,
    /// Stream index of the window's first sample.
    pub start: u64,
    /// Index of the largest score (`None` for a single-value output).
    pub label: Option<usize>,
}

/// The application state: a session over the caller's arena, the sample window, the
/// model input buffer (`[CHANNELS][N]` f32, i.e. the `[1, 3, N]` tensor in C order) and
/// the last scores. Allocates nothing.
#[derive(Debug)]
pub struct App<'m, 'a, const N: usize> {
    session: Session<'m, 'a>,
    window: Window<CHANNELS, N>,
    input: [[f32; N]; CHANNELS],
    scores: heapless::Vec<f32, MAX_SCORES>,
    windows: u32,
    config: Config,
}

impl<'m, 'a, const N: usize> App<'m, 'a, N> {
    /// Checks that `model` takes one `[CHANNELS, N]` window and has 1..=[`MAX_SCORES`]
    /// outputs, and opens a session over `arena` (at least [`Model::arena_size`] bytes
    /// when 16-byte aligned, e.g. a static [`ferrite::Arena`]).
    pub fn new(
        model: &'m Model<'a>,
        arena: &'m mut [u8],
        config: Config,
    ) -> Result<Self, SetupError> {
        let window = Window::new(config.hop).map_err(SetupError::Hop)?;
        let expected = CHANNELS * N;
        let actual = model.input_len(0)?;
        if actual != expected {
            return Err(SetupError::InputLen { expected, actual });
        }
        let outputs = model.output_len(0)?;
        if outputs == 0 || outputs > MAX_SCORES {
            return Err(SetupError::OutputLen { actual: outputs });
        }
        let session = Session::new(model, arena)?;
        let mut scores = heapless::Vec::new();
        scores
            .resize(outputs, 0.0)
            .map_err(|_| SetupError::OutputLen { actual: outputs })?;
        Ok(App {
            session,
            window,
            input: [[0.0; N]; CHANNELS],
            scores,
            windows: 0,
            config,
        })
    }

    /// Waits for the sensor's next sample (polling data-ready every
    /// [`Config::poll_interval_us`] through `delay`), reads it and appends it to the
    /// window. Returns `true` when a window is complete.
    pub fn sample<S: Accelerometer, D: DelayNs>(
        &mut self,
        sensor: &mut S,
        delay: &mut D,
    ) -> Result<bool, Error<S::Error, core::convert::Infallible>> {
        let mut polls = 0;
        while !sensor.data_ready().map_err(Error::Sensor)? {
            if polls >= self.config.max_polls {
                return Err(Error::NoData { polls });
            }
            delay.delay_us(self.config.poll_interval_us);
            polls += 1;
        }
        let s = sensor.read_mg().map_err(Error::Sensor)?;
        Ok(self.window.push(s))
    }

    /// Runs the model on the current window ([`mg_to_input`] of every sample,
    /// channel-major). Returns `None` while the window is not full.
    pub fn infer(&mut self) -> Result<Option<Prediction>, ferrite::Error> {
        if !self
            .window
            .write_channel_major(&mut self.input, mg_to_input)
        {
            return Ok(None);
        }
        let label = self
            .session
            .predict(self.input.as_flattened(), &mut self.scores)?;
        let p = Prediction {
            window: self.windows,
            start: self.window.start(),
            label,
        };
        self.windows += 1;
        Ok(Some(p))
    }

    /// Drives the LED: on while `p.label` is [`Config::led_class`], off otherwise.
    pub fn actuate<P: OutputPin>(&self, p: &Prediction, led: &mut P) -> Result<(), P::Error> {
        let on = p.label == Some(self.config.led_class);
        match (on, self.config.led) {
            (true, LedPolarity::ActiveHigh) | (false, LedPolarity::ActiveLow) => led.set_high(),
            (false, LedPolarity::ActiveHigh) | (true, LedPolarity::ActiveLow) => led.set_low(),
        }
    }

    /// Writes the log line of `p`:
    /// `window=<n> start=<sample> out=<hex of output 0's raw bytes> label=<index> <name>\n`
    /// (`label=-` for a single-value output; the name is omitted when the model has no
    /// labels). The hex is the model's output tensor exactly as stored (f32
    /// little-endian, or int8 bytes), so other platforms can compare it byte for byte.
    pub fn log<W: Write>(&self, p: &Prediction, w: &mut W) -> fmt::Result {
        write!(w, "window={} start={} out=", p.window, p.start)?;
        let bytes = self.session.output_bytes(0).unwrap_or(&[]);
        write_hex(w, bytes)?;
        match p.label {
            Some(i) => {
                write!(w, " label={i}")?;
                if let Some(name) = self.session.model().labels().nth(i) {
                    write!(w, " {name}")?;
                }
            }
            None => w.write_str(" label=-")?,
        }
        w.write_char('\n')
    }

    /// One tick: [`sample`](Self::sample); when a window completes, [`infer`](Self::infer),
    /// [`actuate`](Self::actuate) and [`log`](Self::log). Returns the prediction made, if
    /// any.
    pub fn step<S, D, P, W>(
        &mut self,
        sensor: &mut S,
        delay: &mut D,
        led: &mut P,
        log: &mut W,
    ) -> Result<Option<Prediction>, Error<S::Error, P::Error>>
    where
        S: Accelerometer,
        D: DelayNs,
        P: OutputPin,
        W: Write,
    {
        let ready = self.sample(sensor, delay).map_err(|e| match e {
            Error::Sensor(e) => Error::Sensor(e),
            Error::NoData { polls } => Error::NoData { polls },
            Error::Model(e) => Error::Model(e),
            Error::Log => Error::Log,
            Error::Led(never) => match never {},
        })?;
        if !ready {
            return Ok(None);
        }
        let Some(p) = self.infer().map_err(Error::Model)? else {
            return Ok(None);
        };
        self.actuate(&p, led).map_err(Error::Led)?;
        self.log(&p, log).map_err(|_| Error::Log)?;
        Ok(Some(p))
    }

    /// Power-on self-test: runs every golden vector stored in the model (inputs →
    /// expected output bytes, recorded by the host tool) and compares the bytes. Returns
    /// how many passed; [`ferrite::Error::GoldenMismatch`] names the first that did not.
    /// Call it before sampling (it overwrites the arena, not the window).
    pub fn self_test(&mut self) -> Result<u32, ferrite::Error> {
        let n = self.session.model().num_golden();
        for g in 0..n {
            self.session.check_golden(g)?;
        }
        Ok(n)
    }

    /// The scores of the last inference (output 0 as f32).
    pub fn scores(&self) -> &[f32] {
        &self.scores
    }

    /// Raw bytes of output 0 after the last inference.
    pub fn output_bytes(&self) -> &[u8] {
        self.session.output_bytes(0).unwrap_or(&[])
    }

    /// The sample window (e.g. to [`clear`](Window::clear) it after a sensor error).
    pub fn window_mut(&mut self) -> &mut Window<CHANNELS, N> {
        &mut self.window
    }

    /// Windows inferred so far.
    pub fn windows(&self) -> u32 {
        self.windows
    }
}

/// Lower-case hex of `bytes`, two digits per byte.
pub fn write_hex<W: Write>(w: &mut W, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        w.write_char(char::from(DIGITS[usize::from(b >> 4)]))?;
        w.write_char(char::from(DIGITS[usize::from(b & 15)]))?;
    }
    Ok(())
}
