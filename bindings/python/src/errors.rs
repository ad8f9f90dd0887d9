//! Failures and the Python exceptions they become.
//!
//! The exception classes live in `ferrite/_errors.py` (a readable hierarchy with
//! docstrings and `ValueError` where it fits); this module looks them up when it
//! raises one. The grouping of the runtime's error codes is the UniFFI binding's
//! (`bindings/uniffi`), so every foreign surface of ferrite sorts errors alike.

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

/// Why a call failed, before it becomes a Python exception (`Send`, so it can leave
/// a closure that ran without the GIL).
#[derive(Debug)]
pub enum Failure {
    /// A runtime error; `row` is the input row it happened on, when there is one.
    Runtime {
        error: ferrite::Error,
        row: Option<usize>,
    },
    /// A host-tool error (conversion, validation).
    Tool(ferrite_tool::Error),
    /// A call the model cannot serve (e.g. labels of a one-value output).
    Unsupported(String),
}

impl From<ferrite::Error> for Failure {
    fn from(error: ferrite::Error) -> Self {
        Failure::Runtime { error, row: None }
    }
}

impl From<ferrite_tool::Error> for Failure {
    fn from(e: ferrite_tool::Error) -> Self {
        match e {
            ferrite_tool::Error::Runtime(error) => Failure::Runtime { error, row: None },
            e => Failure::Tool(e),
        }
    }
}

impl Failure {
    /// The same failure, on input row `row`.
    pub fn at_row(self, row: usize) -> Self {
        match self {
            Failure::Runtime { error, .. } => Failure::Runtime {
                error,
                row: Some(row),
            },
            f => f,
        }
    }

    /// The Python exception.
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        match self.raise(py) {
            Ok(e) | Err(e) => e,
        }
    }

    fn raise(self, py: Python<'_>) -> PyResult<PyErr> {
        let kw = PyDict::new(py);
        let (class, message) = match self {
            Failure::Runtime { error, row } => {
                use ferrite::Error as E;
                kw.set_item("code", error.code())?;
                kw.set_item("row", row)?;
                let class = match error {
                    E::BadMagic
                    | E::UnsupportedVersion { .. }
                    | E::Truncated { .. }
                    | E::Checksum { .. }
                    | E::BadSection { .. }
                    | E::UnknownSection { .. }
                    | E::Decode { .. }
                    | E::BadTensor { .. }
                    | E::BadOp { .. }
                    | E::UnsupportedOp { .. }
                    | E::BadPlan { .. } => "InvalidModelError",
                    E::BadSignature => "BadSignatureError",
                    E::Unsigned => "UnsignedModelError",
                    E::UnknownKey => "UnknownKeyError",
                    E::VersionTooOld { version, min } => {
                        kw.set_item("version", version)?;
                        kw.set_item("min_version", min)?;
                        "VersionTooOldError"
                    }
                    E::WrongLength { expected, actual } => {
                        kw.set_item("expected", expected)?;
                        kw.set_item("actual", actual)?;
                        "WrongLengthError"
                    }
                    E::InvalidInput { feature } => {
                        kw.set_item("feature", feature)?;
                        "InvalidInputError"
                    }
                    E::GoldenMismatch { index } => {
                        kw.set_item("index", index)?;
                        "GoldenMismatchError"
                    }
                    E::Unsupported => "UnsupportedError",
                    E::NoBaseline => "NoBaselineError",
                    E::BadSnapshot => "BadSnapshotError",
                    // Misaligned, ArenaTooSmall, NoSuchIndex and variants added later.
                    _ => "InternalError",
                };
                let message = match row {
                    Some(r) => format!("row {r}: {error}"),
                    None => error.to_string(),
                };
                (class, message)
            }
            Failure::Tool(e) => {
                use ferrite_tool::Error as T;
                let kind = match &e {
                    T::Io { source, .. } => {
                        return Ok(PyOSError::new_err((
                            source.raw_os_error().unwrap_or(0),
                            e.to_string(),
                        )))
                    }
                    T::Data { .. } => "data",
                    T::Unsupported { ops } => {
                        kw.set_item("ops", ops.clone())?;
                        "unsupported_ops"
                    }
                    T::DynamicShape { input, .. } => {
                        kw.set_item("input", input.clone())?;
                        "dynamic_shape"
                    }
                    T::Import(_) => "import",
                    T::Write(_) => "write",
                    T::Usage(_) => "usage",
                    _ => "other",
                };
                kw.set_item("kind", kind)?;
                ("ConversionError", e.to_string())
            }
            Failure::Unsupported(m) => {
                kw.set_item("code", ferrite::Error::Unsupported.code())?;
                ("UnsupportedError", m)
            }
        };
        let class = error_class(py, class)?;
        let instance = class.call((message,), Some(&kw))?;
        Ok(PyErr::from_value(instance))
    }
}

/// The exception class `name` of `ferrite._errors`.
fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import("ferrite._errors").map(Bound::unbind))?;
    Ok(module.bind(py).getattr(name)?.cast_into::<PyType>()?)
}
