//! The preprocessing row of an ONNX-ML model as it is lowered: ONNX values that are
//! columns of the raw row become steps of the PREPROCESS section; a [`Pipe`] tracks the
//! row's width and where each step writes.

use crate::preprocess::steps::{sop_width, SOp, SStep};

/// The preprocessing row being built: its width and the steps so far.
#[derive(Debug, Default)]
pub(super) struct Pipe {
    pub width: usize,
    pub steps: Vec<SStep>,
}

impl Pipe {
    /// Applies `op` to the columns `cols`. In place when they are owned and contiguous;
    /// otherwise the columns are first copied to the end of the row. Returns the
    /// output columns.
    pub fn apply(&mut self, cols: &[usize], owned: bool, op: SOp) -> Vec<usize> {
        let n = cols.len();
        let contiguous = n > 0 && cols.windows(2).all(|w| w[1] == w[0] + 1);
        let start = if owned && contiguous {
            cols[0]
        } else {
            let w = self.width;
            let mut idx: Vec<u32> = (0..w as u32).collect();
            idx.extend(cols.iter().map(|&c| c as u32));
            self.steps.push(SStep {
                start: 0,
                len: w as u32,
                op: SOp::Select(idx),
            });
            self.width = w + n;
            w
        };
        let k = sop_width(&op, n);
        self.steps.push(SStep {
            start: start as u32,
            len: n as u32,
            op,
        });
        self.width = self.width - n + k;
        (start..start + k).collect()
    }

    /// Columns after `at` moved by `delta` when a step at `at` changed width: callers
    /// track values by column, so in-place width changes shift later columns.
    pub fn shifted(cols: &[usize], at: usize, old: usize, new: usize) -> Vec<usize> {
        cols.iter()
            .map(|&c| if c >= at + old { c + new - old } else { c })
            .collect()
    }
}
