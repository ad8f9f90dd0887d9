//! Signed models: an Ed25519 signature over the whole file, a key id and a monotonic
//! `model_version` (anti-rollback). Layout in `docs/format.md` (SIGNATURE section),
//! threat model in `docs/security.md`.
//!
//! The SIGNATURE section (kind 7, required) holds 96 bytes:
//!
//! ```text
//! 0  u32      scheme: 1 = Ed25519
//! 4  u32      reserved, zero
//! 8  u64      model_version
//! 16 [u8; 8]  key id: the first 8 bytes of the signer's public key
//! 24 [u8; 8]  reserved, zero
//! 32 [u8; 64] Ed25519 signature
//! ```
//!
//! The signed message is the file (`0..total_len`) with two fields read as zeros: the
//! header's CRC (bytes 16..20, computed after signing) and the 64 signature bytes.
//! Everything else — header, section table, every section, the version and the key id —
//! is covered.
//!
//! Verification ([`Model::load_verified`](crate::Model::load_verified), feature
//! `verify`) streams the file through SHA-512 in place: no copy, no allocation.

use crate::error::{Error, Result, Section};
use crate::format::{kind, Container};

/// Bytes of the SIGNATURE section.
pub const SIGNATURE_SECTION_LEN: usize = 96;
/// Signature scheme id of Ed25519 (the only one in format 1.0).
pub const SCHEME_ED25519: u32 = 1;
/// Offset of the 64 signature bytes inside the SIGNATURE section.
pub const SIGNATURE_OFFSET: usize = 32;

/// An Ed25519 public key (32 bytes, as written by `ferrite keygen` in `key.pub`).
///
/// `#[repr(transparent)]`: an array of keys has the layout of `n * 32` bytes, so the
/// bindings can lend a caller's key buffer to [`VerifyPolicy`] without copying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The key id a file signed with this key carries: the key's first 8 bytes.
    pub fn key_id(&self) -> [u8; 8] {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[..8]);
        id
    }
}

/// The signed header of a model's SIGNATURE section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// Which key signed the file (first 8 bytes of its public key).
    pub key_id: [u8; 8],
    /// The model's version, chosen by the signer; devices refuse versions below the
    /// highest they have accepted (see [`VerifyPolicy::min_version`]).
    pub model_version: u64,
}

/// What [`Model::load_verified_with`](crate::Model::load_verified_with) requires.
#[derive(Clone, Copy, Debug)]
pub struct VerifyPolicy<'k> {
    /// Trusted keys: a file signed by any of them is accepted (key rotation).
    pub keys: &'k [PublicKey],
    /// Lowest `model_version` accepted ([`Error::VersionTooOld`] below it). The
    /// device stores the highest version it has accepted in its own persistent
    /// storage and passes it here.
    pub min_version: u64,
}

/// Parses a SIGNATURE section: its signed header and the 64 signature bytes.
pub(crate) fn parse(section: &[u8]) -> Result<(SignatureInfo, &[u8])> {
    let bad = Error::BadSection {
        section: Section::Signature,
    };
    if section.len() != SIGNATURE_SECTION_LEN {
        return Err(bad);
    }
    let u32_at = |at: usize| {
        u32::from_le_bytes([
            section[at],
            section[at + 1],
            section[at + 2],
            section[at + 3],
        ])
    };
    if u32_at(0) != SCHEME_ED25519 || u32_at(4) != 0 || section[24..32].iter().any(|&b| b != 0) {
        return Err(bad);
    }
    let mut version = [0u8; 8];
    version.copy_from_slice(&section[8..16]);
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&section[16..24]);
    Ok((
        SignatureInfo {
            key_id,
            model_version: u64::from_le_bytes(version),
        },
        &section[SIGNATURE_OFFSET..],
    ))
}

/// The file offset of the SIGNATURE section, if the container has one.
#[cfg(feature = "verify")]
fn section_offset(c: &Container<'_>) -> Option<usize> {
    c.sections()
        .find(|e| e.kind == kind::SIGNATURE)
        .map(|e| e.offset as usize)
}

/// Checks the signature of `bytes` against `policy` without validating the model.
#[cfg(feature = "verify")]
pub(crate) fn verify(bytes: &[u8], policy: &VerifyPolicy<'_>) -> Result<SignatureInfo> {
    // Header and section table only: the CRC is excluded from the signature, and a
    // flipped byte must be reported as a bad signature, not as a checksum error.
    let c = Container::parse_with(bytes, false)?;
    let at = section_offset(&c).ok_or(Error::Unsigned)?;
    let section = c.section(kind::SIGNATURE).ok_or(Error::Unsigned)?;
    let (info, sig) = parse(section)?;
    let sig = ed25519_compact::Signature::from_slice(sig).map_err(|_| Error::BadSignature)?;
    let file = c.bytes();
    let sig_at = at + SIGNATURE_OFFSET;
    let mut trusted = false;
    let mut ok = false;
    for key in policy.keys.iter().filter(|k| k.key_id() == info.key_id) {
        trusted = true;
        let Ok(pk) = ed25519_compact::PublicKey::from_slice(&key.0) else {
            continue;
        };
        let Ok(mut state) = pk.verify_incremental(&sig) else {
            continue;
        };
        state.absorb(&file[..16]);
        state.absorb([0u8; 4]);
        state.absorb(&file[20..sig_at]);
        state.absorb([0u8; 64]);
        state.absorb(&file[sig_at + 64..]);
        if state.verify().is_ok() {
            ok = true;
            break;
        }
    }
    if !trusted {
        return Err(Error::UnknownKey);
    }
    if !ok {
        return Err(Error::BadSignature);
    }
    if info.model_version < policy.min_version {
        return Err(Error::VersionTooOld {
            version: info.model_version,
            min: policy.min_version,
        });
    }
    Ok(info)
}

/// The signed header of a loaded model, `None` when it is unsigned.
pub(crate) fn info(c: &Container<'_>) -> Option<SignatureInfo> {
    parse(c.section(kind::SIGNATURE)?).ok().map(|(i, _)| i)
}

/// Signing (host side: `ferrite sign`): uses [`Model::load`](crate::Model::load), which
/// uses this module's verification, so it is a module of its own.
#[cfg(all(feature = "verify", feature = "write"))]
pub mod sign;
