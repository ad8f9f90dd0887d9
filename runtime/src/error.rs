//! The one error type of the runtime.

use core::fmt;

/// Which part of a model file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Section {
    /// The fixed 32-byte header.
    Header,
    /// The table of sections after the header.
    SectionTable,
    /// METADATA: name, version, producer, labels, properties.
    Metadata,
    /// GRAPH: tensors, ops, graph inputs and outputs, arena size.
    Graph,
    /// WEIGHTS: the constant tensors and tables.
    Weights,
    /// PREPROCESS: the preprocessing pipeline.
    Preprocess,
    /// FEATURE_STATS: training-set statistics of the input features.
    FeatureStats,
    /// GOLDEN: golden vectors (input and expected output bytes).
    Golden,
    /// SIGNATURE: Ed25519 signature over the file.
    Signature,
    /// STATE: the streaming state pairs (state input, state output).
    State,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Header => "header",
            Section::SectionTable => "section table",
            Section::Metadata => "metadata",
            Section::Graph => "graph",
            Section::Weights => "weights",
            Section::Preprocess => "preprocess",
            Section::FeatureStats => "feature statistics",
            Section::Golden => "golden vectors",
            Section::Signature => "signature",
            Section::State => "state",
        }
    }
}

/// Why an op failed its load-time check (the `reason` of [`Error::BadOp`]).
///
/// [`code`](Self::code) is a stable small integer for C and JS (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum OpReason {
    /// Wrong number of inputs or outputs, or an operand index with no tensor.
    Arity,
    /// An operand's element type is not one the op accepts.
    DType,
    /// The operand shapes disagree with each other or with the attributes.
    Shape,
    /// An attribute is out of range (axis, permutation, window, groups, pads, bounds…).
    Attribute,
    /// Quantization parameters are missing or out of range (scale, zero point,
    /// requantization multiplier and shift, activation range).
    Quantization,
    /// An operand that must be a constant (weights) lives in the arena.
    NotConstant,
    /// The data of a constant operand is unusable (a table of the wrong size, a
    /// non-finite weight, a tree index out of range…).
    ConstantData,
    /// The executor found an op or operand record that disagrees with the validated
    /// model (cannot happen on a model that `Model::load` accepted).
    Inconsistent,
}

impl OpReason {
    /// What is wrong, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            OpReason::Arity => "wrong number of operands",
            OpReason::DType => "operand element type not supported",
            OpReason::Shape => "operand shapes disagree",
            OpReason::Attribute => "attribute out of range",
            OpReason::Quantization => "quantization parameters missing or out of range",
            OpReason::NotConstant => "operand must be a constant",
            OpReason::ConstantData => "constant operand data out of range",
            OpReason::Inconsistent => "record disagrees with the validated model",
        }
    }

    /// A stable small integer for C and JS bindings (never reused).
    pub fn code(self) -> u32 {
        match self {
            OpReason::Arity => 1,
            OpReason::DType => 2,
            OpReason::Shape => 3,
            OpReason::Attribute => 4,
            OpReason::Quantization => 5,
            OpReason::NotConstant => 6,
            OpReason::ConstantData => 7,
            OpReason::Inconsistent => 8,
        }
    }
}

/// Everything that can go wrong when loading or running a model.
///
/// Errors are values: no function of this crate panics on any input bytes.
/// Indices (`tensor`, `op`) refer to the graph as shown by `ferrite inspect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not start with the ferrite magic: not a model file.
    BadMagic,
    /// The file's format major version is not one this runtime reads.
    UnsupportedVersion {
        /// Major version in the file.
        major: u16,
        /// Minor version in the file.
        minor: u16,
    },
    /// The file is shorter than its header says (or than a header).
    Truncated {
        /// Bytes the header (or the header's size) requires.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The CRC-32 of the body does not match the header: the file is corrupted.
    Checksum {
        /// CRC-32 stored in the header.
        expected: u32,
        /// CRC-32 of the bytes given.
        actual: u32,
    },
    /// A section is malformed: out of bounds, misaligned, duplicated, or missing.
    BadSection {
        /// The section.
        section: Section,
    },
    /// A required section kind unknown to this runtime.
    UnknownSection {
        /// The section kind (see `docs/format.md`).
        kind: u16,
    },
    /// A structured record failed to decode.
    Decode {
        /// The section of the record.
        section: Section,
        /// The record's index in its table (0 for a single record).
        index: u32,
    },
    /// A tensor definition is inconsistent (shape, dtype, location or quantization).
    BadTensor {
        /// Tensor index.
        tensor: u32,
    },
    /// An op is malformed: `reason` says which of its checks failed.
    BadOp {
        /// Op index (execution step).
        op: u32,
        /// Which check failed.
        reason: OpReason,
    },
    /// An op this build does not implement (unknown, or its feature is disabled).
    UnsupportedOp {
        /// Op index (execution step).
        op: u32,
    },
    /// The arena plan is invalid: a tensor outside the arena, or two tensors alive
    /// at the same step overlap.
    BadPlan {
        /// The first tensor found misplaced.
        tensor: u32,
    },
    /// The model bytes are not aligned to 16 bytes (see `Model::load`).
    Misaligned,
    /// The caller's arena is smaller than `Model::arena_size()`.
    ArenaTooSmall {
        /// Bytes needed (with the alignment slack of an unaligned arena).
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// An input or output buffer has the wrong number of elements.
    WrongLength {
        /// Elements expected.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
    /// An index (input, output, label…) does not exist.
    NoSuchIndex {
        /// The index asked for.
        index: u32,
    },
    /// A value the model cannot accept (NaN/inf where the input policy forbids it,
    /// an unknown category…); `feature` is the input column.
    InvalidInput {
        /// The input column.
        feature: u32,
    },
    /// A golden vector stored in the model did not reproduce.
    GoldenMismatch {
        /// The golden vector's index.
        index: u32,
    },
    /// The model's signature did not verify with the key its key id names: the file
    /// was changed after signing (any byte but the header's CRC field), or the
    /// signature itself is corrupted.
    BadSignature,
    /// The operation needs a feature that this build was compiled without.
    Unsupported,
    /// The model has no monitoring baseline (FEATURE_STATS section): convert it with
    /// `--baseline` or `--calibration`.
    NoBaseline,
    /// A monitor snapshot does not decode, or belongs to another model.
    BadSnapshot,
    /// Verification was required but the file has no SIGNATURE section.
    Unsigned,
    /// The file is signed by a key that is not among the trusted keys (its key id
    /// matches none of them).
    UnknownKey,
    /// The signed `model_version` is lower than the minimum the device accepts
    /// (anti-rollback; see `VerifyPolicy`).
    VersionTooOld {
        /// The file's signed model version.
        version: u64,
        /// The lowest version accepted.
        min: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::BadMagic => f.write_str("not a ferrite model (bad magic)"),
            Error::UnsupportedVersion { major, minor } => {
                write!(f, "unsupported model format version {major}.{minor}")
            }
            Error::Truncated { expected, actual } => {
                write!(
                    f,
                    "model truncated: expected {expected} bytes, got {actual}"
                )
            }
            Error::Checksum { expected, actual } => write!(
                f,
                "model corrupted: CRC-32 {actual:#010x} does not match header {expected:#010x}"
            ),
            Error::BadSection { section } => write!(f, "malformed {} section", section.name()),
            Error::UnknownSection { kind } => {
                write!(
                    f,
                    "unknown required section kind {kind}: newer model format?"
                )
            }
            Error::Decode { section, index } => {
                write!(
                    f,
                    "cannot decode record {index} of the {} section",
                    section.name()
                )
            }
            Error::BadTensor { tensor } => write!(f, "tensor {tensor} is malformed"),
            Error::BadOp { op, reason } => {
                write!(f, "op {op} is malformed: {}", reason.describe())
            }
            Error::UnsupportedOp { op } => {
                write!(f, "op {op} is not supported by this build of the runtime")
            }
            Error::BadPlan { tensor } => write!(f, "arena plan is invalid at tensor {tensor}"),
            Error::Misaligned => f.write_str("model bytes must be 16-byte aligned"),
            Error::ArenaTooSmall { needed, actual } => {
                write!(f, "arena too small: need {needed} bytes, got {actual}")
            }
            Error::WrongLength { expected, actual } => {
                write!(f, "wrong length: expected {expected} values, got {actual}")
            }
            Error::NoSuchIndex { index } => write!(f, "no such index {index}"),
            Error::InvalidInput { feature } => {
                write!(f, "invalid value in input feature {feature}")
            }
            Error::GoldenMismatch { index } => write!(f, "golden vector {index} did not reproduce"),
            Error::BadSignature => f.write_str("model signature does not verify"),
            Error::Unsupported => f.write_str("not supported by this build"),
            Error::NoBaseline => f.write_str("the model has no monitoring baseline"),
            Error::BadSnapshot => {
                f.write_str("monitor snapshot malformed or taken from another model")
            }
            Error::Unsigned => f.write_str("model is not signed and a signature is required"),
            Error::UnknownKey => f.write_str("model is signed by a key that is not trusted"),
            Error::VersionTooOld { version, min } => write!(
                f,
                "model version {version} is older than the minimum accepted version {min}"
            ),
        }
    }
}

impl core::error::Error for Error {}

impl Error {
    /// A stable small integer for C and JS bindings (never reused).
    pub fn code(&self) -> u32 {
        match self {
            Error::BadMagic => 1,
            Error::UnsupportedVersion { .. } => 2,
            Error::Truncated { .. } => 3,
            Error::Checksum { .. } => 4,
            Error::BadSection { .. } => 5,
            Error::UnknownSection { .. } => 6,
            Error::Decode { .. } => 7,
            Error::BadTensor { .. } => 8,
            Error::BadOp { .. } => 9,
            Error::UnsupportedOp { .. } => 10,
            Error::BadPlan { .. } => 11,
            Error::Misaligned => 12,
            Error::ArenaTooSmall { .. } => 13,
            Error::WrongLength { .. } => 14,
            Error::NoSuchIndex { .. } => 15,
            Error::InvalidInput { .. } => 16,
            Error::GoldenMismatch { .. } => 17,
            Error::BadSignature => 18,
            Error::Unsupported => 19,
            Error::NoBaseline => 20,
            Error::BadSnapshot => 21,
            Error::Unsigned => 22,
            Error::UnknownKey => 23,
            Error::VersionTooOld { .. } => 24,
        }
    }
}

/// Result with the runtime's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
