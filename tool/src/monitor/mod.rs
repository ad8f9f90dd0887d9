//! Monitoring on the host: building a model's baseline (`convert --baseline`) and
//! `ferrite monitor` (the runtime's own [`ferrite::Monitor`] over a data file, or a
//! device's snapshot decoded against the model), printed as a table, JSON, the
//! Prometheus text exposition format, or a PNG of the most drifted features.

mod baseline;
mod cli;
mod plot;
mod prometheus;
mod report;

pub use baseline::{
    attach_baseline, baseline_section, default_source, BaselineOptions, BaselineSummary,
    DEFAULT_BINS,
};
pub use cli::{run_command, BaselineArgs, MonitorArgs};
pub use plot::plot_png;
pub use report::{
    monitor_rows, monitor_snapshot, FeatureReport, LatencyReport, MonitorReport, OutputReport,
};
