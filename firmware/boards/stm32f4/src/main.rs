//! ferrite firmware for an STM32F411 "Black Pill".
//!
//! The same application as the QEMU board (`ferrite-firmware`'s `App`), on real
//! peripherals from `stm32f4xx-hal` (embedded-hal 1.0):
//! - LIS3DH on I2C1 at 400 kHz (PB8 = SCL, PB9 = SDA, SDO/SA0 high = address 0x19),
//!   50 Hz, ±4 g, high resolution;
//! - SysTick as the sampling loop's `DelayNs`;
//! - the LED on PC13 (active low) lights while the model says `shake` (class 3);
//! - one line per window on USART1 TX (PA9, 115200 8N1):
//!   `window=N start=S out=<hex of the output bytes> label=L name`.
//!
//! The model is the file named by `FERRITE_MODEL` at build time, in flash; the arena is
//! a static of exactly the model's `arena_size()` (computed by `build.rs`). On a setup
//! error the LED blinks fast forever after printing the error; a sensor error clears
//! the window and sampling resumes.
#![no_std]
#![no_main]

use core::fmt::Write;
use cortex_m_rt::entry;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use ferrite::{Arena, Model};
use ferrite_firmware::lis3dh::{self, Lis3dh, ADDR_SA0_HIGH};
use ferrite_firmware::{App, Config, LedPolarity, WINDOW};
use stm32f4xx_hal::{i2c, pac, prelude::*, rcc};

#[allow(dead_code)]
mod bundled {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
use bundled::ARENA_SIZE;

/// The model file, 16-byte aligned in flash.
static MODEL: &[u8] = ferrite::include_model!(env!("FERRITE_MODEL_FILE"));

/// Blinks `led` fast forever: the visible error state.
fn halt<P: OutputPin, D: DelayNs>(led: &mut P, delay: &mut D) -> ! {
    loop {
        let _ = led.set_low();
        delay.delay_ms(100);
        let _ = led.set_high();
        delay.delay_ms(100);
    }
}

#[entry]
fn main() -> ! {
    static mut ARENA: Arena<ARENA_SIZE> = Arena::new();

    // Peripherals are taken exactly once, here.
    let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        panic!("peripherals already taken");
    };
    // 25 MHz crystal on the Black Pill, 100 MHz system clock.
    let mut rcc = dp.RCC.freeze(rcc::Config::hse(25.MHz()).sysclk(100.MHz()));
    let gpioa = dp.GPIOA.split(&mut rcc);
    let gpiob = dp.GPIOB.split(&mut rcc);
    let gpioc = dp.GPIOC.split(&mut rcc);

    let mut led = gpioc.pc13.into_push_pull_output();
    let _ = led.set_high(); // off (active low)
    let mut delay = cp.SYST.delay(&rcc.clocks);
    let mut log = match dp.USART1.tx(gpioa.pa9, 115_200.bps(), &mut rcc) {
        Ok(tx) => tx,
        Err(_) => halt(&mut led, &mut delay),
    };

    let model = match Model::load(MODEL) {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(log, "error: model: {e}\r");
            halt(&mut led, &mut delay)
        }
    };
    let _ = writeln!(
        log,
        "ferrite stm32f4: model \"{}\" ({} bytes), arena {} bytes\r",
        model.metadata().name,
        MODEL.len(),
        ARENA_SIZE
    );
    let config = Config {
        led: LedPolarity::ActiveLow,
        ..Config::SENSOR_MODEL
    };
    let mut app = match App::<WINDOW>::new(&model, &mut ARENA.0, config) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(log, "error: setup: {e}\r");
            halt(&mut led, &mut delay)
        }
    };

    match app.self_test() {
        Ok(n) => {
            let _ = writeln!(log, "self-test: {n} golden vectors reproduced\r");
        }
        Err(e) => {
            let _ = writeln!(log, "error: self-test: {e}\r");
            halt(&mut led, &mut delay)
        }
    }

    let bus = i2c::I2c::new(
        dp.I2C1,
        (gpiob.pb8, gpiob.pb9),
        i2c::Mode::fast(400.kHz(), i2c::DutyCycle::Ratio2to1),
        &mut rcc,
    );
    let mut sensor = match Lis3dh::new(bus, ADDR_SA0_HIGH, lis3dh::Config::SENSOR_MODEL) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(log, "error: {e}\r");
            halt(&mut led, &mut delay)
        }
    };

    loop {
        if let Err(e) = app.step(&mut sensor, &mut delay, &mut led, &mut log) {
            let _ = writeln!(log, "error: {e}\r");
            app.window_mut().clear();
            delay.delay_ms(100);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    loop {
        cortex_m::asm::bkpt();
    }
}
