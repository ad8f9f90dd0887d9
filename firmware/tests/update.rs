//! The A/B updater's state machine on the host (`ferrite_firmware::update`): real signed
//! files (the runtime's signer, as `ferrite sign` uses it) of the firmware's dev model
//! with a golden vector, installed into a `RamFlash`, through good, tampered, old,
//! unsigned, wrong-key and golden-failing updates, a trial slot corrupted before its
//! reboot, and power cuts at every step of an update (writes torn byte by byte).

#[path = "support/dev_model.rs"]
mod dev_model;

use ferrite::signature::{sign, PublicKey};
use ferrite::{AlignedModel, Arena, Error, Model, Session};
use ferrite_firmware::update::{
    BootOutcome, Flash, FlashError, RamFlash, Slot, UpdateError, Updater,
};

const SLOT: usize = 8192;
const REGION: usize = 2 * 4096 + 2 * SLOT;
type Dev = RamFlash<REGION>;

const SEED: [u8; 32] = [0x11; 32];
const OTHER_SEED: [u8; 32] = [0x22; 32];

fn keys() -> [PublicKey; 1] {
    [sign::public_key(&SEED)]
}

/// The golden window: a fixed ramp (g), as f32 bytes.
fn golden_input() -> Vec<u8> {
    (0..192)
        .flat_map(|i| (((i % 17) as f32 - 8.0) * 0.125).to_le_bytes())
        .collect()
}

/// The dev model's output on [`golden_input`], run by the host runtime on the unsigned
/// file (the reference the device's golden check must reproduce).
fn golden_output() -> Vec<u8> {
    let file = AlignedModel::new(&dev_model::dev_model());
    let model = Model::load(file.bytes()).unwrap();
    let mut arena = vec![0u8; model.arena_size() + 16];
    let mut s = Session::new(&model, &mut arena).unwrap();
    s.set_input_bytes(0, &golden_input()).unwrap();
    s.run().unwrap();
    s.output_bytes(0).unwrap().to_vec()
}

/// The dev model with one golden vector (`break_golden`: its expected output altered).
fn model_with_golden(break_golden: bool) -> Vec<u8> {
    let mut b = dev_model::dev_model_builder();
    let mut out = golden_output();
    if break_golden {
        out[0] ^= 1;
    }
    b.add_golden(vec![golden_input()], vec![out]);
    b.finish().unwrap()
}

fn signed(version: u64) -> Vec<u8> {
    sign::sign(&model_with_golden(false), &SEED, version).unwrap()
}

fn arena() -> Box<Arena<4096>> {
    Box::new(Arena::new())
}

/// Writes `file` in 100-byte chunks and finishes the update.
fn install<F: Flash>(up: &mut Updater<'_, F>, file: &[u8]) -> Result<u64, UpdateError> {
    up.begin_update(file.len())?;
    for chunk in file.chunks(100) {
        up.write_chunk(chunk)?;
    }
    up.finish_update(&mut arena().0)
}

/// The active model's version, after checking that it reproduces the reference output.
fn active_version<F: Flash>(up: &Updater<'_, F>) -> u64 {
    let model = up.active_model().unwrap();
    let mut a = arena();
    let mut s = Session::new(&model, &mut a.0).unwrap();
    s.set_input_bytes(0, &golden_input()).unwrap();
    s.run().unwrap();
    assert_eq!(s.output_bytes(0).unwrap(), golden_output());
    model.signature().unwrap().model_version
}

fn boot(flash: &mut Dev) -> (Updater<'static, &mut Dev>, BootOutcome) {
    static KEYS: std::sync::OnceLock<[PublicKey; 1]> = std::sync::OnceLock::new();
    Updater::boot(flash, SLOT, KEYS.get_or_init(keys), &mut arena().0).unwrap()
}

/// A device with version 1 installed and confirmed in slot A.
fn provisioned() -> Box<Dev> {
    let mut flash = Box::new(Dev::new());
    let (mut up, out) = boot(&mut flash);
    assert_eq!(out, BootOutcome::Empty);
    assert_eq!(install(&mut up, &signed(1)), Ok(1));
    let (up, out) = boot(&mut flash);
    assert_eq!(out, BootOutcome::Confirmed(Slot::A));
    assert_eq!(up.state().highest_version, 1);
    flash
}

#[test]
fn good_update_goes_to_the_other_slot_on_trial_then_is_confirmed_at_boot() {
    let mut flash = provisioned();
    let (mut up, out) = boot(&mut flash);
    assert_eq!(out, BootOutcome::Active(Slot::A));
    assert_eq!(install(&mut up, &signed(2)), Ok(2));
    let st = up.state();
    assert_eq!(
        (st.active, st.trial, st.highest_version),
        (Some(Slot::B), true, 1)
    );
    let (up, out) = boot(&mut flash);
    assert_eq!(out, BootOutcome::Confirmed(Slot::B));
    assert_eq!(up.state().highest_version, 2);
    assert_eq!(active_version(&up), 2);
    // The next boot has nothing to do.
    assert_eq!(boot(&mut flash).1, BootOutcome::Active(Slot::B));
}

/// Each refused update leaves slot A (version 1) active and working, after a reboot too.
fn refused(file: &[u8], want: UpdateError) {
    let mut flash = provisioned();
    let (mut up, _) = boot(&mut flash);
    assert_eq!(install(&mut up, file), Err(want));
    assert_eq!(up.state().active, Some(Slot::A));
    assert!(!up.state().trial);
    assert_eq!(active_version(&up), 1);
    let (up, out) = boot(&mut flash);
    assert_eq!(out, BootOutcome::Active(Slot::A));
    assert_eq!(active_version(&up), 1);
}

#[test]
fn tampered_update_is_refused_and_the_old_slot_stays() {
    let mut file = signed(2);
    let mid = file.len() / 2;
    file[mid] ^= 0x40;
    refused(&file, UpdateError::Model(Error::BadSignature));
}

#[test]
fn older_version_is_refused_once_a_newer_one_was_confirmed() {
    let mut flash = provisioned();
    let (mut up, _) = boot(&mut flash);
    install(&mut up, &signed(3)).unwrap();
    let (mut up, _) = boot(&mut flash);
    assert_eq!(up.state().highest_version, 3);
    assert_eq!(
        install(&mut up, &signed(2)),
        Err(UpdateError::Model(Error::VersionTooOld {
            version: 2,
            min: 3
        }))
    );
    assert_eq!(up.state().active, Some(Slot::B));
    assert_eq!(active_version(&up), 3);
}

#[test]
fn unsigned_wrong_key_and_failing_golden_updates_are_refused() {
    refused(
        &model_with_golden(false),
        UpdateError::Model(Error::Unsigned),
    );
    let other = sign::sign(&model_with_golden(false), &OTHER_SEED, 2).unwrap();
    refused(&other, UpdateError::Model(Error::UnknownKey));
    let bad_golden = sign::sign(&model_with_golden(true), &SEED, 2).unwrap();
    refused(
        &bad_golden,
        UpdateError::Model(Error::GoldenMismatch { index: 0 }),
    );
    let no_golden = sign::sign(&dev_model::dev_model(), &SEED, 2).unwrap();
    refused(&no_golden, UpdateError::NoGoldenVectors);
}

#[test]
fn misuse_is_a_typed_error() {
    let mut flash = provisioned();
    let (mut up, _) = boot(&mut flash);
    assert_eq!(up.write_chunk(&[1]), Err(UpdateError::NoUpdate));
    assert_eq!(
        up.begin_update(SLOT + 1),
        Err(UpdateError::TooLarge {
            len: SLOT + 1,
            capacity: SLOT
        })
    );
    up.begin_update(4).unwrap();
    assert_eq!(up.write_chunk(&[0; 5]), Err(UpdateError::Overflow));
    up.write_chunk(&[0; 3]).unwrap();
    assert_eq!(
        up.finish_update(&mut arena().0),
        Err(UpdateError::Incomplete { written: 3, len: 4 })
    );
    assert_eq!(up.finish_update(&mut arena().0), Err(UpdateError::NoUpdate));
    assert_eq!(active_version(&up), 1);
    let mut small = RamFlash::<8192>::new();
    assert!(matches!(
        Updater::boot(&mut small, SLOT, &keys(), &mut arena().0),
        Err(UpdateError::Layout)
    ));
}

#[test]
fn a_trial_slot_that_fails_after_the_reboot_returns_to_the_previous_slot() {
    let mut flash = provisioned();
    let (mut up, _) = boot(&mut flash);
    install(&mut up, &signed(2)).unwrap();
    // The new slot's bytes change between activation and reboot (bad flash cell):
    // clear one bit of the model in slot B (a NOR write can clear bits in place).
    let at = 2 * 4096 + SLOT + 600;
    let b = flash.bytes()[at];
    let bit = (0..8).find(|i| b & (1 << i) != 0).unwrap();
    flash.write(at, &[b & !(1 << bit)]).unwrap();
    let (up, out) = boot(&mut flash);
    assert_eq!(
        out,
        BootOutcome::RolledBack {
            to: Some(Slot::A),
            error: UpdateError::Model(Error::BadSignature)
        }
    );
    assert_eq!(up.state().active, Some(Slot::A));
    assert_eq!(up.state().highest_version, 1);
    assert_eq!(active_version(&up), 1);
}

/// A flash that loses power after `budget` units: each byte written is one unit (a
/// write is torn at the byte), each erase one unit (all or nothing).
struct CutFlash<'a> {
    inner: &'a mut Dev,
    budget: usize,
}

impl Flash for CutFlash<'_> {
    fn erase_size(&self) -> usize {
        self.inner.erase_size()
    }
    fn bytes(&self) -> &[u8] {
        self.inner.bytes()
    }
    fn erase(&mut self, offset: usize, len: usize) -> Result<(), FlashError> {
        if self.budget == 0 {
            return Err(FlashError::Device);
        }
        self.budget -= 1;
        self.inner.erase(offset, len)
    }
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        let n = data.len().min(self.budget);
        self.budget -= n;
        self.inner.write(offset, &data[..n])?;
        if n < data.len() {
            return Err(FlashError::Device);
        }
        Ok(())
    }
}

#[test]
fn a_power_cut_at_any_point_of_an_update_leaves_a_working_slot() {
    let file = signed(2);
    let base = provisioned();
    let k = keys();
    // Units of a complete update: erase of the slot's sectors, the file, the state
    // sector's erase and the 32-byte record.
    let total = file.len().div_ceil(4096) + file.len() + 1 + 32;
    let mut cuts: Vec<usize> = (0..40).chain(total - 40..=total).collect();
    cuts.extend((40..total - 40).step_by(97));
    eprintln!("{} cut points over {total} units", cuts.len());
    for cut in cuts {
        let mut flash = base.clone();
        let dev = CutFlash {
            inner: &mut flash,
            budget: cut,
        };
        let (mut up, _) = Updater::boot(dev, SLOT, &k, &mut arena().0).unwrap();
        let result = install(&mut up, &file);
        assert_eq!(
            result.is_ok(),
            cut >= total,
            "cut after {cut} of {total} units"
        );
        // Reboot on the same flash, power back.
        let (up, out) = boot(&mut flash);
        let (want_out, want_version) = if cut >= total {
            (BootOutcome::Confirmed(Slot::B), 2)
        } else {
            (BootOutcome::Active(Slot::A), 1)
        };
        assert_eq!(out, want_out, "cut after {cut} of {total} units");
        assert_eq!(active_version(&up), want_version, "cut {cut}");
        // The device still takes the update after the cut.
        if cut < total {
            let (mut up, _) = boot(&mut flash);
            assert_eq!(install(&mut up, &file), Ok(2), "cut {cut}");
            assert_eq!(boot(&mut flash).1, BootOutcome::Confirmed(Slot::B));
        }
    }
}
