//! Checks of calibration rows before a conversion uses them.

use crate::data::Dataset;

/// What looks wrong with calibration rows: too few rows, every (or most) column
/// constant, rows with missing values. Empty when nothing does.
pub fn calibration_problems(data: &Dataset) -> Vec<String> {
    let mut p = Vec::new();
    if data.rows < 10 {
        p.push(format!(
            "only {} calibration row{}: ranges from so few rows rarely cover real inputs \
             (use a few hundred representative rows)",
            data.rows,
            if data.rows == 1 { "" } else { "s" }
        ));
    }
    if data.rows > 1 && data.cols > 0 {
        let constant = (0..data.cols)
            .filter(|&c| {
                let first = data.values[c];
                (1..data.rows).all(|r| data.values[r * data.cols + c].to_bits() == first.to_bits())
            })
            .count();
        if constant == data.cols {
            p.push(format!(
                "every column is constant (each of the {} columns holds one value in all {} rows): \
                 the rows carry no signal to calibrate on",
                data.cols, data.rows
            ));
        } else if constant * 2 > data.cols {
            p.push(format!(
                "{constant} of {} columns are constant over the {} rows",
                data.cols, data.rows
            ));
        }
    }
    let nan_rows = data
        .iter_rows()
        .filter(|r| r.iter().any(|v| v.is_nan()))
        .count();
    if nan_rows > 0 {
        p.push(format!(
            "{nan_rows} of {} rows have missing (NaN) values",
            data.rows
        ));
    }
    p
}
