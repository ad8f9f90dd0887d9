//! The `ferrite monitor` command and `ferrite convert`'s baseline flags (clap
//! arguments; `main.rs` dispatches here).

use super::baseline::{attach_baseline, BaselineOptions, BaselineSummary, DEFAULT_BINS};
use super::plot::plot_png;
use super::report::{monitor_rows, monitor_snapshot};
use crate::data::Dataset;
use crate::error::{read_file, write_file, Error, Result};
use std::path::PathBuf;

/// `ferrite convert`'s monitoring baseline flags.
#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// Rows to store the monitoring baseline from (raw rows, as `predict` takes them;
    /// default: the calibration rows): per-feature quantile histograms and the
    /// output distribution, for `ferrite::Monitor` and `ferrite monitor`
    /// (docs/monitoring.md).
    #[arg(long, value_name = "DATA")]
    pub baseline: Option<PathBuf>,
    /// Bins per feature of the baseline histograms (2..=64).
    #[arg(long, default_value_t = DEFAULT_BINS)]
    pub baseline_bins: u32,
    /// Store no baseline, even with --calibration.
    #[arg(long, conflicts_with = "baseline")]
    pub no_baseline: bool,
}

impl BaselineArgs {
    /// The rows to build the baseline from: `--baseline`, else the calibration rows,
    /// none with `--no-baseline`.
    pub fn data(&self, calibration: Option<&Dataset>) -> Result<Option<Dataset>> {
        match (&self.baseline, self.no_baseline) {
            (Some(p), _) => Ok(Some(Dataset::load(p)?)),
            (None, false) => Ok(calibration.cloned()),
            (None, true) => Ok(None),
        }
    }

    /// Adds the baseline built from `data` to the model `bytes` (nothing without data).
    pub fn attach(
        &self,
        bytes: &mut Vec<u8>,
        data: Option<&Dataset>,
    ) -> Result<Option<BaselineSummary>> {
        let Some(d) = data else { return Ok(None) };
        // Calibration rows are in the source's layout (`--input-layout nhwc`).
        let laid = match self.baseline {
            None => Some(crate::ir::input_layout::rows_for(bytes, d)?),
            Some(_) => None,
        };
        let d = laid.as_ref().unwrap_or(d);
        let opts = BaselineOptions {
            bins: self.baseline_bins,
            source: None,
        };
        let (out, summary) = attach_baseline(bytes, d, &opts)?;
        *bytes = out;
        Ok(Some(summary))
    }
}

/// `ferrite monitor`'s arguments.
#[derive(clap::Args, Debug)]
pub struct MonitorArgs {
    /// The .fer model (converted with a baseline).
    pub model: PathBuf,
    /// Raw rows to run through the model and its monitor (CSV, .npy or JSON; NaN or
    /// empty for missing values).
    #[arg(
        short,
        long,
        required_unless_present = "snapshot",
        conflicts_with = "snapshot"
    )]
    pub input: Option<PathBuf>,
    /// A snapshot written by a device's `Monitor::snapshot` (or --save-snapshot).
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Decay window in rows (counts halve every N rows; 0: never).
    #[arg(long, default_value_t = 0)]
    pub window: u32,
    /// Print JSON: `features` in input order (index, name, psi, p_value, level,
    /// flagged, counts, bin edges), `output`, `latency`.
    #[arg(long, conflicts_with = "prometheus")]
    pub json: bool,
    /// Print the Prometheus text exposition format.
    #[arg(long)]
    pub prometheus: bool,
    /// Extra label on every Prometheus sample (repeatable), e.g. device=unit-7.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Write a PNG of the baseline vs observed histograms of the most drifted features.
    #[arg(long, value_name = "PNG")]
    pub plot: Option<PathBuf>,
    /// Features in the plot.
    #[arg(long, default_value_t = 4)]
    pub plot_features: usize,
    /// Write the monitor's snapshot (what a device would send) to this file.
    #[arg(long, value_name = "FILE")]
    pub save_snapshot: Option<PathBuf>,
}

/// Runs `ferrite monitor`: writes the snapshot and plot files asked for and returns
/// what to print (table, JSON or Prometheus text).
pub fn run_command(a: &MonitorArgs) -> Result<String> {
    let fer = read_file(&a.model)?;
    let r = match (&a.input, &a.snapshot) {
        (Some(p), _) => monitor_rows(&fer, &Dataset::load(p)?, a.window)?,
        (None, Some(p)) => monitor_snapshot(&fer, &read_file(p)?)?,
        (None, None) => return Err(Error::Usage("give --input or --snapshot".into())),
    };
    let labels = a
        .labels
        .iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| Error::Usage(format!("--label {l}: expected KEY=VALUE")))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(p) = &a.save_snapshot {
        write_file(p, &r.snapshot)?;
    }
    if let Some(p) = &a.plot {
        plot_png(&r, p, a.plot_features)?;
    }
    Ok(if a.json {
        let mut s = serde_json::to_string_pretty(&r.to_json()).unwrap_or_default();
        s.push('\n');
        s
    } else if a.prometheus {
        r.to_prometheus(&labels)
    } else {
        r.to_text()
    })
}
