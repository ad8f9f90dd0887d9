//! What the guard knows of a graph's values: ranks and constants.

use super::consts::Const;
use std::collections::HashMap;

/// What the guard knows of a graph's values.
#[derive(Default)]
pub(super) struct Facts<'g> {
    /// Ranks from graph inputs, initializers and the ops followed.
    pub(super) ranks: HashMap<&'g str, usize>,
    /// Ranks stated by `value_info`.
    pub(super) declared: HashMap<&'g str, usize>,
    /// Constant values.
    pub(super) consts: HashMap<&'g str, Const>,
}

impl Facts<'_> {
    /// The rank of a value: followed, else declared.
    pub(super) fn rank(&self, name: &str) -> Option<usize> {
        self.ranks
            .get(name)
            .or_else(|| self.declared.get(name))
            .copied()
    }

    /// Every rank known for a value (followed and declared, when they differ).
    pub(super) fn ranks(&self, name: &str) -> Vec<usize> {
        let mut v: Vec<usize> = [self.ranks.get(name), self.declared.get(name)]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        v.dedup();
        v
    }

    /// The constant value of a value.
    pub(super) fn konst(&self, name: &str) -> Option<&Const> {
        self.consts.get(name)
    }
}
