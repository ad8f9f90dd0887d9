//! The application over embedded-hal-mock devices and the software LIS3DH: the sampling
//! loop's bus and delay traffic, the LED, the log line, setup and runtime errors, and a
//! whole trace compared with the host runtime.

#[path = "support/dev_model.rs"]
mod dev_model;
#[path = "support/reference.rs"]
mod reference;

use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as D};
use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as P};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as T};
use embedded_hal_mock::eh1::MockError;
use ferrite::{AlignedModel, Arena};
use ferrite_firmware::app::{Error, SetupError};
use ferrite_firmware::emu::{Lis3dhEmulator, VirtualClock, VirtualDelay};
use ferrite_firmware::lis3dh::{self, Config as SensorConfig, Lis3dh, ADDR_SA0_HIGH as A};
use ferrite_firmware::{Accelerometer, App, Config, LedPolarity, Prediction, WINDOW};

/// A sensor that always has data: the samples of a slice.
struct Replay<'t>(core::slice::Iter<'t, [i16; 3]>);

impl Accelerometer for Replay<'_> {
    type Error = &'static str;
    fn data_ready(&mut self) -> Result<bool, &'static str> {
        Ok(self.0.len() > 0)
    }
    fn read_mg(&mut self) -> Result<[i16; 3], &'static str> {
        self.0.next().copied().ok_or("empty")
    }
}

fn init() -> Vec<T> {
    vec![
        T::write_read(A, vec![0x0F], vec![0x33]),
        T::write(A, vec![0x20, 0x47]),
        T::write(A, vec![0x23, 0x98]),
    ]
}

#[test]
fn sampling_polls_status_with_the_delay_then_reads_one_burst() {
    let bytes = dev_model::dev_model();
    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let mut arena = Arena::<4096>::new();
    let mut app = App::<WINDOW>::new(&model, &mut arena.0, Config::SENSOR_MODEL).unwrap();

    let mut t = init();
    t.push(T::write_read(A, vec![0x27], vec![0x00]));
    t.push(T::write_read(A, vec![0x27], vec![0x00]));
    t.push(T::write_read(A, vec![0x27], vec![0x08]));
    t.push(T::write_read(
        A,
        vec![0xA8],
        vec![0x40, 0x1F, 0xF0, 0xFF, 0x00, 0x80],
    ));
    let mut i2c = I2cMock::new(&t);
    let mut sensor = Lis3dh::new(i2c.clone(), A, SensorConfig::SENSOR_MODEL).unwrap();
    let mut delay = CheckedDelay::new(&[D::delay_us(1000), D::delay_us(1000)]);

    assert_eq!(
        app.sample(&mut sensor, &mut delay),
        Ok(false),
        "one sample is not a window"
    );
    i2c.done();
    delay.done();
}

#[test]
fn no_data_after_max_polls_is_an_error() {
    let bytes = dev_model::dev_model();
    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let mut arena = Arena::<4096>::new();
    let config = Config {
        max_polls: 2,
        poll_interval_us: 500,
        ..Config::SENSOR_MODEL
    };
    let mut app = App::<WINDOW>::new(&model, &mut arena.0, config).unwrap();
    let mut t = init();
    t.extend((0..3).map(|_| T::write_read(A, vec![0x27], vec![0x00])));
    let mut i2c = I2cMock::new(&t);
    let mut sensor = Lis3dh::new(i2c.clone(), A, SensorConfig::SENSOR_MODEL).unwrap();
    let mut delay = CheckedDelay::new(&[D::delay_us(500), D::delay_us(500)]);
    assert_eq!(
        app.sample(&mut sensor, &mut delay),
        Err(Error::NoData { polls: 2 })
    );
    i2c.done();
    delay.done();
}

#[test]
fn a_bus_error_while_sampling_is_reported() {
    let bytes = dev_model::dev_model();
    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let mut arena = Arena::<4096>::new();
    let mut app = App::<WINDOW>::new(&model, &mut arena.0, Config::SENSOR_MODEL).unwrap();
    let mut t = init();
    t.push(T::write_read(A, vec![0x27], vec![0x08]));
    t.push(T::write_read(A, vec![0xA8], vec![0; 6]).with_error(ErrorKind::Bus));
    let mut i2c = I2cMock::new(&t);
    let mut sensor = Lis3dh::new(i2c.clone(), A, SensorConfig::SENSOR_MODEL).unwrap();
    let mut led = PinMock::new(&[]);
    let mut log = String::new();
    let err = app
        .step(&mut sensor, &mut NoopDelay::new(), &mut led, &mut log)
        .unwrap_err();
    assert_eq!(err, Error::Sensor(lis3dh::Error::I2c(ErrorKind::Bus)));
    assert_eq!(err.to_string(), "sensor: I2c(Bus)");
    assert!(log.is_empty());
    i2c.done();
    led.done();
}

#[test]
fn led_follows_the_chosen_class_with_either_polarity() {
    let bytes = dev_model::dev_model();
    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let mut arena = Arena::<4096>::new();
    let p = |label| Prediction {
        window: 0,
        start: 0,
        label,
    };

    let high = App::<WINDOW>::new(
        &model,
        &mut arena.0,
        Config {
            led_class: 3,
            ..Config::SENSOR_MODEL
        },
    )
    .unwrap();
    let mut led = PinMock::new(&[P::set(State::High), P::set(State::Low), P::set(State::Low)]);
    high.actuate(&p(Some(3)), &mut led).unwrap();
    high.actuate(&p(Some(1)), &mut led).unwrap();
    high.actuate(&p(None), &mut led).unwrap();
    led.done();
    drop(high);

    let config = Config {
        led_class: 1,
        led: LedPolarity::ActiveLow,
        ..Config::SENSOR_MODEL
    };
    let low = App::<WINDOW>::new(&model, &mut arena.0, config).unwrap();
    let mut led = PinMock::new(&[P::set(State::Low), P::set(State::High)]);
    low.actuate(&p(Some(1)), &mut led).unwrap();
    low.actuate(&p(Some(3)), &mut led).unwrap();
    led.done();
}

#[test]
fn whole_trace_led_and_log_match_the_host_runtime() {
    let bytes = dev_model::dev_model();
    let trace = reference::trace();
    let expected = reference::expected(&bytes, &trace);
    assert_eq!(expected.len(), 30, "1000 samples, windows of 64, hop 32");
    let labels: std::collections::BTreeSet<_> = expected.iter().map(|e| e.label).collect();
    assert!(
        labels.len() > 1,
        "the dev model should not predict one class everywhere: {labels:?}"
    );

    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let mut arena = Arena::<4096>::new();
    let config = Config {
        led_class: expected[0].label.unwrap(),
        ..Config::SENSOR_MODEL
    };
    let mut app = App::<WINDOW>::new(&model, &mut arena.0, config).unwrap();
    let led_states: Vec<P> = expected
        .iter()
        .map(|e| {
            P::set(if e.label == Some(config.led_class) {
                State::High
            } else {
                State::Low
            })
        })
        .collect();
    let mut led = PinMock::new(&led_states);
    let mut sensor = Replay(trace.iter());
    let mut log = String::new();
    let mut made = Vec::new();
    for _ in 0..trace.len() {
        if let Some(p) = app
            .step(&mut sensor, &mut NoopDelay::new(), &mut led, &mut log)
            .unwrap()
        {
            made.push(p);
        }
    }
    led.done();
    assert_eq!(made.len(), expected.len());
    let names = ["idle", "walk", "run", "shake"];
    for (line, e) in log.lines().zip(&expected) {
        assert_eq!(reference::parse_line(line).as_ref(), Some(e), "{line}");
        assert!(line.ends_with(names[e.label.unwrap()]), "{line}");
    }
    assert_eq!(log.lines().count(), expected.len());
    assert_eq!(app.windows(), 30);
}

#[test]
fn the_emulated_sensor_on_a_virtual_clock_gives_the_same_windows() {
    let bytes = dev_model::dev_model();
    let trace = reference::trace();
    let expected = reference::expected(&bytes, &trace);
    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let mut arena = Arena::<4096>::new();
    let mut app = App::<WINDOW>::new(&model, &mut arena.0, Config::SENSOR_MODEL).unwrap();
    let clock = VirtualClock::new();
    let mut sensor = Lis3dh::new(
        Lis3dhEmulator::new(&trace, &clock, A),
        A,
        SensorConfig::SENSOR_MODEL,
    )
    .unwrap();
    let mut delay = VirtualDelay(&clock);
    let mut log = String::new();
    let mut n = 0;
    for _ in 0..trace.len() {
        if let Some(p) = app
            .sample(&mut sensor, &mut delay)
            .unwrap()
            .then(|| app.infer().unwrap())
            .flatten()
        {
            app.log(&p, &mut log).unwrap();
            n += 1;
        }
    }
    assert_eq!(n, 30);
    // 999 sample periods of 20 ms, polled every millisecond.
    assert_eq!(clock.now_ns(), 999 * 20_000_000);
    assert!(sensor.release().finished());
    let got: Vec<_> = log
        .lines()
        .map(|l| reference::parse_line(l).unwrap())
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn setup_rejects_a_small_arena_a_wrong_window_and_a_bad_hop() {
    let bytes = dev_model::dev_model();
    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let need = model.arena_size();
    let mut arena = Arena::<4096>::new();
    let err =
        App::<WINDOW>::new(&model, &mut arena.0[..need - 1], Config::SENSOR_MODEL).unwrap_err();
    assert!(
        matches!(err, SetupError::Model(ferrite::Error::ArenaTooSmall { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("model: arena too small"),
        "{err}"
    );
    assert!(App::<WINDOW>::new(&model, &mut arena.0[..need], Config::SENSOR_MODEL).is_ok());

    let err = App::<32>::new(
        &model,
        &mut arena.0,
        Config {
            hop: 16,
            ..Config::SENSOR_MODEL
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        SetupError::InputLen {
            expected: 96,
            actual: 192
        }
    );
    let err = App::<WINDOW>::new(
        &model,
        &mut arena.0,
        Config {
            hop: 0,
            ..Config::SENSOR_MODEL
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "hop 0 is not in 1..=64");
}

#[test]
fn led_and_log_failures_are_errors_not_panics() {
    struct Broken;
    impl core::fmt::Write for Broken {
        fn write_str(&mut self, _: &str) -> core::fmt::Result {
            Err(core::fmt::Error)
        }
    }
    let bytes = dev_model::dev_model();
    let trace = reference::trace();
    let am = AlignedModel::new(&bytes);
    let model = am.model().unwrap();
    let mut arena = Arena::<4096>::new();
    let mut app = App::<WINDOW>::new(&model, &mut arena.0, Config::SENSOR_MODEL).unwrap();
    let mut sensor = Replay(trace.iter());
    let mut delay = NoopDelay::new();
    for _ in 0..WINDOW - 1 {
        assert!(!app.sample(&mut sensor, &mut delay).unwrap());
    }
    let mut led =
        PinMock::new(&[P::set(State::Low).with_error(MockError::Io(std::io::ErrorKind::Other))]);
    let err = app
        .step(&mut sensor, &mut delay, &mut led, &mut String::new())
        .unwrap_err();
    assert!(matches!(err, Error::Led(_)), "{err:?}");
    led.done();
    for _ in 0..31 {
        app.sample(&mut sensor, &mut delay).unwrap();
    }
    let mut led = PinMock::new(&[P::set(State::Low), P::set(State::High)]);
    let p = app.infer().unwrap().unwrap();
    app.actuate(
        &Prediction {
            label: Some(0),
            ..p
        },
        &mut led,
    )
    .unwrap();
    assert_eq!(app.log(&p, &mut Broken), Err(core::fmt::Error));
    app.actuate(
        &Prediction {
            label: Some(3),
            ..p
        },
        &mut led,
    )
    .unwrap();
    led.done();
}

#[test]
fn self_test_reproduces_the_golden_vectors_and_names_a_bad_one() {
    let input: Vec<u8> = (0..192)
        .flat_map(|i| ((i as f32 - 96.0) / 50.0).to_le_bytes())
        .collect();
    let out = {
        let bytes = dev_model::dev_model();
        let owned = ferrite::OwnedModel::new(&bytes).unwrap();
        let m = owned.model();
        let mut s = ferrite::OwnedSession::new(&m);
        let mut s = s.session();
        s.set_input_bytes(0, &input).unwrap();
        s.run().unwrap();
        s.output_bytes(0).unwrap().to_vec()
    };
    let mut wrong = out.clone();
    wrong[0] ^= 1;
    for (outputs, expected) in [
        (out.clone(), Ok(2)),
        (wrong, Err(ferrite::Error::GoldenMismatch { index: 1 })),
    ] {
        let mut b = dev_model::dev_model_builder();
        b.add_golden(vec![input.clone()], vec![out.clone()]);
        b.add_golden(vec![input.clone()], vec![outputs]);
        let bytes = b.finish().unwrap();
        let am = AlignedModel::new(&bytes);
        let model = am.model().unwrap();
        let mut arena = Arena::<4096>::new();
        let mut app = App::<WINDOW>::new(&model, &mut arena.0, Config::SENSOR_MODEL).unwrap();
        let got = app.self_test();
        // The first golden vector is right in both models; the second is corrupted in one.
        match expected {
            Ok(n) => assert_eq!(got, Ok(n)),
            Err(e) => assert_eq!(got, Err(e)),
        }
    }
}
