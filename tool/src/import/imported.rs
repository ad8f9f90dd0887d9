//! What an importer produces.

use crate::ir::Graph;

/// An imported model: the graph as converter IR and what the `.fer` file carries
/// besides it.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// The ops, in execution order.
    pub graph: Graph,
    /// A PREPROCESS section (`ferrite::preprocess` wire format) whose output feeds graph
    /// input 0: the model then takes raw rows, and so do `--calibration` rows.
    pub preprocess: Option<Vec<u8>>,
    /// Class labels of output 0 found in the source (used when none are given).
    pub labels: Vec<String>,
    /// Provenance properties written before the converter's own (e.g. `importer`).
    pub properties: Vec<(String, String)>,
    /// What the user should know about the import (e.g. a source output the model
    /// does not compute); `convert` reports them as notes.
    pub notes: Vec<String>,
}
