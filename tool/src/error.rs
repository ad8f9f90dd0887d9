//! The error type of the host tool library.
//!
//! Every failure a user can cause (a bad data file, an op ferrite lacks, a dynamic
//! input shape, a model the runtime rejects) is a variant with the facts needed to fix
//! it; the binary prints the `Display` text and exits non-zero.

use std::fmt;

/// Result with the tool's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a tool command failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A data file (CSV, `.npy`, JSON) is malformed. `line`/`column` are 1-based
    /// (`column` counts fields in CSV and characters in JSON); 0 when not applicable.
    Data {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The ONNX model uses ops that ferrite cannot lower: `(op type, node name)` pairs.
    Unsupported { ops: Vec<(String, String)> },
    /// An input has a dimension that is not fixed; `hint` is the flag that fixes it.
    DynamicShape {
        input: String,
        shape: String,
        hint: String,
    },
    /// tract could not load or analyse the ONNX model.
    Import(String),
    /// The runtime rejected a model or failed to run it.
    Runtime(ferrite::Error),
    /// The model writer failed.
    Write(String),
    /// Bad command-line usage or options.
    Usage(String),
    /// Anything else, with a message.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Data {
                path,
                line,
                column,
                message,
            } => match (line, column) {
                (0, _) => write!(f, "{path}: {message}"),
                (l, 0) => write!(f, "{path}: line {l}: {message}"),
                (l, c) => write!(f, "{path}: line {l}, column {c}: {message}"),
            },
            Error::Unsupported { ops } => {
                writeln!(
                    f,
                    "the model uses {} that ferrite does not support:",
                    if ops.len() == 1 {
                        "1 op".to_string()
                    } else {
                        format!("{} ops", ops.len())
                    }
                )?;
                for (i, (op, node)) in ops.iter().enumerate() {
                    write!(f, "  {op} (node \"{node}\")")?;
                    if i + 1 < ops.len() {
                        writeln!(f)?;
                    }
                }
                Ok(())
            }
            Error::DynamicShape { input, shape, hint } => write!(
                f,
                "input \"{input}\" has a dynamic shape {shape}: fix it with {hint}"
            ),
            Error::Import(m) => write!(f, "cannot import the ONNX model: {m}"),
            Error::Runtime(e) => write!(f, "ferrite runtime: {e}"),
            Error::Write(m) => write!(f, "cannot write the model: {m}"),
            Error::Usage(m) | Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<ferrite::Error> for Error {
    fn from(e: ferrite::Error) -> Self {
        Error::Runtime(e)
    }
}

impl From<ferrite::format::write::WriteError> for Error {
    fn from(e: ferrite::format::write::WriteError) -> Self {
        Error::Write(e.to_string())
    }
}

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes a whole file, naming it in the error.
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}
