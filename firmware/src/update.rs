//! Safe A/B model updates: two model slots in flash, a persistent state record, and
//! rollback (issue 17; the state machine is described in `docs/security.md`).
//!
//! Flash layout (offsets inside the region a [`Flash`] gives):
//!
//! ```text
//! [state record 0: one erase sector][state record 1: one sector][slot A][slot B]
//! ```
//!
//! - The **state record** (32 bytes: magic, sequence number, active slot, trial flag,
//!   highest accepted `model_version`, the two slots' lengths, CRC-32) is written
//!   alternately to its two sectors with an increasing sequence number; boot takes the
//!   valid copy (magic and CRC right) with the highest sequence number, so a record torn
//!   by a power cut is ignored and the previous state stands.
//! - [`Updater::begin_update`] erases the **inactive** slot; [`Updater::write_chunk`]
//!   writes the new file into it; [`Updater::finish_update`] verifies it (Ed25519
//!   signature against the trusted keys, `model_version` ≥ the highest accepted, every
//!   golden vector of the model run on the device) and only then writes a record that
//!   makes it the active slot **on trial**. Until that record is written the old slot
//!   stays active: any failure or power cut before it leaves the device as it was.
//! - [`Updater::boot`] (at every start): a slot on trial is checked again (signature and
//!   golden vectors); if it passes, it is confirmed and its version becomes the highest
//!   accepted (anti-rollback from then on); if not, the device returns to the previous
//!   slot.
//!
//! The flash is memory-mapped (as internal flash on Cortex-M is): a model is verified
//! and run in place, no copy. [`RamFlash`] is a RAM-backed implementation with NOR
//! semantics (erase sets bytes to `0xFF`, a write can only clear bits) for QEMU and tests.

use ferrite::signature::{PublicKey, VerifyPolicy};
use ferrite::{Model, Session};

/// An error of the flash device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError {
    /// The range is outside the device.
    OutOfBounds,
    /// An erase range does not start and end on sector boundaries.
    Unaligned,
    /// A write would set bits that are not erased (NOR flash can only clear bits).
    NotErased,
    /// The device failed (e.g. power lost during the operation).
    Device,
}

/// A memory-mapped NOR-like flash region: read as a slice, erased by sectors, written
/// by bytes into erased memory.
pub trait Flash {
    /// Bytes of one erase sector.
    fn erase_size(&self) -> usize;
    /// The whole region, memory-mapped. Its start must be 16-byte aligned (models are
    /// read in place).
    fn bytes(&self) -> &[u8];
    /// Erases `offset..offset + len` (sector-aligned) to `0xFF`.
    fn erase(&mut self, offset: usize, len: usize) -> Result<(), FlashError>;
    /// Writes `data` at `offset` into erased memory.
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), FlashError>;
}

impl<F: Flash + ?Sized> Flash for &mut F {
    fn erase_size(&self) -> usize {
        (**self).erase_size()
    }
    fn bytes(&self) -> &[u8] {
        (**self).bytes()
    }
    fn erase(&mut self, offset: usize, len: usize) -> Result<(), FlashError> {
        (**self).erase(offset, len)
    }
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        (**self).write(offset, data)
    }
}

/// A RAM-backed [`Flash`] of `N` bytes with sectors of [`RamFlash::SECTOR`] bytes,
/// 16-byte aligned (on QEMU's mps2-an386 the "flash" is RAM anyway).
#[derive(Debug, Clone)]
#[repr(C, align(16))]
pub struct RamFlash<const N: usize> {
    mem: [u8; N],
}

impl<const N: usize> RamFlash<N> {
    /// Erase sector size.
    pub const SECTOR: usize = 4096;

    /// A fully erased device.
    pub const fn new() -> Self {
        RamFlash { mem: [0xFF; N] }
    }
}

impl<const N: usize> Default for RamFlash<N> {
    fn default() -> Self {
        Self::new()
    }
}

fn range(offset: usize, len: usize, cap: usize) -> Result<core::ops::Range<usize>, FlashError> {
    match offset.checked_add(len) {
        Some(end) if end <= cap => Ok(offset..end),
        _ => Err(FlashError::OutOfBounds),
    }
}

impl<const N: usize> Flash for RamFlash<N> {
    fn erase_size(&self) -> usize {
        Self::SECTOR
    }
    fn bytes(&self) -> &[u8] {
        &self.mem
    }
    fn erase(&mut self, offset: usize, len: usize) -> Result<(), FlashError> {
        let r = range(offset, len, N)?;
        if offset % Self::SECTOR != 0 || len % Self::SECTOR != 0 {
            return Err(FlashError::Unaligned);
        }
        self.mem[r].fill(0xFF);
        Ok(())
    }
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), FlashError> {
        let r = range(offset, data.len(), N)?;
        let dst = &mut self.mem[r];
        if dst.iter().zip(data).any(|(&old, &new)| old & new != new) {
            return Err(FlashError::NotErased);
        }
        dst.copy_from_slice(data);
        Ok(())
    }
}

/// One of the two model slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Slot A (index 0).
    A,
    /// Slot B (index 1).
    B,
}

impl Slot {
    fn index(self) -> usize {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }
    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

/// Why an update (or boot) step failed. The active slot is unchanged by every error of
/// [`Updater::begin_update`], [`Updater::write_chunk`] and [`Updater::finish_update`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateError {
    /// The flash region is too small for two state sectors and two slots of
    /// `slot_size`, or `slot_size` is not a multiple of the sector size and of 16.
    Layout,
    /// The flash device failed.
    Flash(FlashError),
    /// The new file is larger than a slot.
    TooLarge {
        /// Bytes announced.
        len: usize,
        /// Bytes of a slot.
        capacity: usize,
    },
    /// `write_chunk`/`finish_update` without `begin_update`.
    NoUpdate,
    /// `begin_update` while the active slot is still on trial: its fallback (the other
    /// slot) must not be erased; reboot first so that [`Updater::boot`] settles it.
    TrialPending,
    /// More bytes written than announced to `begin_update`.
    Overflow,
    /// `finish_update` before all announced bytes were written.
    Incomplete {
        /// Bytes written.
        written: usize,
        /// Bytes announced.
        len: usize,
    },
    /// The new model was refused by the runtime: `Unsigned`, `UnknownKey`,
    /// `BadSignature`, `VersionTooOld`, any load error, or `GoldenMismatch` (its golden
    /// vectors do not reproduce on this device).
    Model(ferrite::Error),
    /// The model carries no golden vectors, so it cannot be checked on the device.
    NoGoldenVectors,
    /// No slot holds an accepted model.
    NoActiveSlot,
}

impl From<FlashError> for UpdateError {
    fn from(e: FlashError) -> Self {
        UpdateError::Flash(e)
    }
}

impl From<ferrite::Error> for UpdateError {
    fn from(e: ferrite::Error) -> Self {
        UpdateError::Model(e)
    }
}

impl core::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UpdateError::Layout => f.write_str("flash region too small or slot size unaligned"),
            UpdateError::Flash(e) => write!(f, "flash: {e:?}"),
            UpdateError::TooLarge { len, capacity } => {
                write!(
                    f,
                    "update of {len} bytes does not fit a {capacity}-byte slot"
                )
            }
            UpdateError::NoUpdate => f.write_str("no update in progress"),
            UpdateError::TrialPending => {
                f.write_str("the active slot is on trial: reboot before the next update")
            }
            UpdateError::Overflow => f.write_str("more bytes written than announced"),
            UpdateError::Incomplete { written, len } => {
                write!(f, "update incomplete: {written} of {len} bytes written")
            }
            UpdateError::Model(e) => write!(f, "model refused: {e}"),
            UpdateError::NoGoldenVectors => {
                f.write_str("model has no golden vectors to check on the device")
            }
            UpdateError::NoActiveSlot => f.write_str("no slot holds an accepted model"),
        }
    }
}

/// The persistent state (what the record stores).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    /// Sequence number of the record (0: no record was ever written).
    pub seq: u32,
    /// The active slot, `None` before the first model is installed.
    pub active: Option<Slot>,
    /// The active slot was just installed and is not yet confirmed by a boot.
    pub trial: bool,
    /// The highest `model_version` accepted (confirmed) so far.
    pub highest_version: u64,
    /// Bytes of the model file in each slot (0: empty).
    pub len: [u32; 2],
}

const MAGIC: u32 = u32::from_le_bytes(*b"FRAB");
/// Bytes of a state record.
pub const RECORD_LEN: usize = 32;

impl State {
    const EMPTY: State = State {
        seq: 0,
        active: None,
        trial: false,
        highest_version: 0,
        len: [0, 0],
    };

    fn encode(&self) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        r[4..8].copy_from_slice(&self.seq.to_le_bytes());
        r[8] = match self.active {
            None => 0xFF,
            Some(s) => s.index() as u8,
        };
        r[9] = u8::from(self.trial);
        r[12..20].copy_from_slice(&self.highest_version.to_le_bytes());
        r[20..24].copy_from_slice(&self.len[0].to_le_bytes());
        r[24..28].copy_from_slice(&self.len[1].to_le_bytes());
        let crc = crc32(&r[..28]);
        r[28..32].copy_from_slice(&crc.to_le_bytes());
        r
    }

    fn decode(r: &[u8]) -> Option<State> {
        let u32_at = |at: usize| u32::from_le_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
        if r.len() < RECORD_LEN || u32_at(0) != MAGIC || u32_at(28) != crc32(&r[..28]) {
            return None;
        }
        let active = match r[8] {
            0 => Some(Slot::A),
            1 => Some(Slot::B),
            0xFF => None,
            _ => return None,
        };
        let mut v = [0u8; 8];
        v.copy_from_slice(&r[12..20]);
        Some(State {
            seq: u32_at(4),
            active,
            trial: r[9] == 1,
            highest_version: u64::from_le_bytes(v),
            len: [u32_at(20), u32_at(24)],
        })
    }
}

/// CRC-32 (IEEE 802.3, reflected, bitwise: no table in flash).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// What [`Updater::boot`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootOutcome {
    /// No model was ever installed.
    Empty,
    /// The active slot was already confirmed; nothing to do.
    Active(Slot),
    /// The slot on trial passed its checks again and is now confirmed.
    Confirmed(Slot),
    /// The slot on trial failed (the error); the device returned to the previous slot
    /// (`None`: there was none).
    RolledBack {
        /// The slot now active.
        to: Option<Slot>,
        /// Why the trial slot was refused.
        error: UpdateError,
    },
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    slot: Slot,
    len: usize,
    written: usize,
}

/// The A/B updater over a [`Flash`] region.
#[derive(Debug)]
pub struct Updater<'k, F: Flash> {
    flash: F,
    keys: &'k [PublicKey],
    slot_size: usize,
    state: State,
    pending: Option<Pending>,
}

impl<'k, F: Flash> Updater<'k, F> {
    /// Bytes of flash needed for slots of `slot_size` bytes with sectors of `sector`.
    pub const fn region_len(slot_size: usize, sector: usize) -> usize {
        2 * sector + 2 * slot_size
    }

    /// Starts the updater on `flash` (at every boot): reads the state record and, if the
    /// active slot is on trial, checks it again (signature against `keys`, golden vectors
    /// in `arena`), then confirms it or returns to the previous slot.
    pub fn boot(
        flash: F,
        slot_size: usize,
        keys: &'k [PublicKey],
        arena: &mut [u8],
    ) -> Result<(Self, BootOutcome), UpdateError> {
        let sector = flash.erase_size();
        if sector == 0
            || slot_size == 0
            || slot_size % sector != 0
            || slot_size % 16 != 0
            || sector % 16 != 0
            || flash.bytes().len() < Self::region_len(slot_size, sector)
        {
            return Err(UpdateError::Layout);
        }
        let read = |i: usize| State::decode(&flash.bytes()[i * sector..i * sector + RECORD_LEN]);
        let state = match (read(0), read(1)) {
            (Some(a), Some(b)) => {
                // Serial-number order, so the counter may wrap.
                if (b.seq.wrapping_sub(a.seq) as i32) > 0 {
                    b
                } else {
                    a
                }
            }
            (Some(s), None) | (None, Some(s)) => s,
            (None, None) => State::EMPTY,
        };
        let mut up = Updater {
            flash,
            keys,
            slot_size,
            state,
            pending: None,
        };
        let outcome = match (state.active, state.trial) {
            (None, _) => BootOutcome::Empty,
            (Some(s), false) => BootOutcome::Active(s),
            (Some(s), true) => match up.check(s, 0, arena) {
                Ok(version) => {
                    let mut next = state;
                    next.trial = false;
                    next.highest_version = state.highest_version.max(version);
                    up.commit(next)?;
                    BootOutcome::Confirmed(s)
                }
                Err(error) => {
                    let back = s.other();
                    let mut next = state;
                    next.trial = false;
                    next.len[s.index()] = 0;
                    next.active = (state.len[back.index()] != 0).then_some(back);
                    up.commit(next)?;
                    BootOutcome::RolledBack {
                        to: next.active,
                        error,
                    }
                }
            },
        };
        Ok((up, outcome))
    }

    /// The persistent state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The flash device back (e.g. to "reboot" with [`boot`](Self::boot)).
    pub fn into_flash(self) -> F {
        self.flash
    }

    fn slot_offset(&self, s: Slot) -> usize {
        2 * self.flash.erase_size() + s.index() * self.slot_size
    }

    fn slot_bytes(&self, s: Slot) -> &[u8] {
        let at = self.slot_offset(s);
        let len = (self.state.len[s.index()] as usize).min(self.slot_size);
        &self.flash.bytes()[at..at + len]
    }

    /// The model of the active slot, its signature verified against the trusted keys.
    pub fn active_model(&self) -> Result<Model<'_>, UpdateError> {
        let s = self.state.active.ok_or(UpdateError::NoActiveSlot)?;
        let policy = VerifyPolicy {
            keys: self.keys,
            min_version: 0,
        };
        Ok(Model::load_verified_with(self.slot_bytes(s), &policy)?)
    }

    /// Verifies slot `s` (signature, version ≥ `min_version`, every golden vector run
    /// in `arena`); returns its `model_version`.
    fn check(&self, s: Slot, min_version: u64, arena: &mut [u8]) -> Result<u64, UpdateError> {
        let policy = VerifyPolicy {
            keys: self.keys,
            min_version,
        };
        let model = Model::load_verified_with(self.slot_bytes(s), &policy)?;
        let n = model.num_golden();
        if n == 0 {
            return Err(UpdateError::NoGoldenVectors);
        }
        let mut session = Session::new(&model, arena)?;
        for g in 0..n {
            session.check_golden(g)?;
        }
        // load_verified_with succeeded, so the file is signed.
        Ok(model.signature().map_or(0, |i| i.model_version))
    }

    /// Writes `next` as the new state record (sequence number + 1) into the sector not
    /// holding the current one.
    fn commit(&mut self, mut next: State) -> Result<(), UpdateError> {
        next.seq = self.state.seq.wrapping_add(1);
        let sector = self.flash.erase_size();
        let at = (next.seq as usize % 2) * sector;
        self.flash.erase(at, sector)?;
        self.flash.write(at, &next.encode())?;
        self.state = next;
        Ok(())
    }

    /// Starts writing a model file of `len` bytes to the inactive slot (erasing it). The
    /// active slot and the state record are not touched.
    pub fn begin_update(&mut self, len: usize) -> Result<Slot, UpdateError> {
        if self.state.trial {
            return Err(UpdateError::TrialPending);
        }
        if len > self.slot_size {
            return Err(UpdateError::TooLarge {
                len,
                capacity: self.slot_size,
            });
        }
        let slot = self.state.active.map_or(Slot::A, Slot::other);
        self.pending = None;
        let at = self.slot_offset(slot);
        let sector = self.flash.erase_size();
        let erase = len.div_ceil(sector) * sector;
        self.flash.erase(at, erase)?;
        self.pending = Some(Pending {
            slot,
            len,
            written: 0,
        });
        Ok(slot)
    }

    /// Appends `data` to the update in progress.
    pub fn write_chunk(&mut self, data: &[u8]) -> Result<(), UpdateError> {
        let p = self.pending.ok_or(UpdateError::NoUpdate)?;
        let end = p
            .written
            .checked_add(data.len())
            .ok_or(UpdateError::Overflow)?;
        if end > p.len {
            return Err(UpdateError::Overflow);
        }
        let at = self.slot_offset(p.slot) + p.written;
        self.flash.write(at, data)?;
        self.pending = Some(Pending { written: end, ..p });
        Ok(())
    }

    /// Verifies the written file (signature against the trusted keys, `model_version` ≥
    /// the highest accepted, every golden vector run in `arena`) and, if it passes,
    /// makes its slot the active one on trial; the next [`boot`](Self::boot) confirms it
    /// (or returns to the previous slot). Returns the new model's version. On error the
    /// update is abandoned and the active slot stays as it was.
    pub fn finish_update(&mut self, arena: &mut [u8]) -> Result<u64, UpdateError> {
        let p = self.pending.take().ok_or(UpdateError::NoUpdate)?;
        if p.written != p.len {
            return Err(UpdateError::Incomplete {
                written: p.written,
                len: p.len,
            });
        }
        // `check` reads the slot through `state.len`: announce the length on a copy.
        let saved = self.state;
        self.state.len[p.slot.index()] = p.len as u32;
        let checked = self.check(p.slot, saved.highest_version, arena);
        self.state = saved;
        let version = checked?;
        let mut next = saved;
        next.active = Some(p.slot);
        next.trial = true;
        next.len[p.slot.index()] = p.len as u32;
        self.commit(next)?;
        Ok(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32/ISO-HDLC check value of "123456789" (from the CRC catalogue).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn record_round_trips_and_any_flipped_bit_is_rejected() {
        let s = State {
            seq: 7,
            active: Some(Slot::B),
            trial: true,
            highest_version: 42,
            len: [100, 200],
        };
        let r = s.encode();
        assert_eq!(State::decode(&r), Some(s));
        for byte in 0..RECORD_LEN {
            for bit in 0..8 {
                let mut t = r;
                t[byte] ^= 1 << bit;
                assert_eq!(State::decode(&t), None, "byte {byte} bit {bit}");
            }
        }
        assert_eq!(State::decode(&[0xFF; RECORD_LEN]), None);
    }

    #[test]
    fn the_newer_record_wins_across_a_sequence_wrap() {
        let mut f = RamFlash::<{ 2 * 4096 + 2 * 4096 }>::new();
        let rec = |seq, highest_version| State {
            seq,
            highest_version,
            ..State::EMPTY
        };
        f.write(0, &rec(u32::MAX, 1).encode()).unwrap();
        f.write(4096, &rec(0, 2).encode()).unwrap();
        let (up, _) = Updater::boot(&mut f, 4096, &[], &mut []).unwrap();
        assert_eq!(up.state().highest_version, 2);
        let mut f = RamFlash::<{ 2 * 4096 + 2 * 4096 }>::new();
        f.write(0, &rec(10, 1).encode()).unwrap();
        f.write(4096, &rec(9, 2).encode()).unwrap();
        let (up, _) = Updater::boot(&mut f, 4096, &[], &mut []).unwrap();
        assert_eq!(up.state().highest_version, 1);
    }

    #[test]
    fn ram_flash_has_nor_semantics() {
        let mut f = RamFlash::<8192>::new();
        f.write(0, &[0x0F]).unwrap();
        assert_eq!(f.write(0, &[0xF0]), Err(FlashError::NotErased));
        assert_eq!(f.erase(1, 4096), Err(FlashError::Unaligned));
        assert_eq!(f.write(8190, &[0; 3]), Err(FlashError::OutOfBounds));
        f.erase(0, 4096).unwrap();
        f.write(0, &[0xF0]).unwrap();
        assert_eq!(f.bytes()[0], 0xF0);
    }
}
