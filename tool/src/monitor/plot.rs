//! `ferrite monitor --plot`: baseline vs observed histograms of the most drifted
//! features, as a PNG (plotters' bitmap backend; text in an embedded DejaVu Sans).

use super::report::{FeatureReport, MonitorReport};
use crate::error::{Error, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;

fn err(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("cannot draw the plot: {e}"))
}

fn shares(c: &[u32]) -> Vec<f64> {
    let n: u64 = c.iter().map(|&x| x as u64).sum();
    c.iter()
        .map(|&x| if n == 0 { 0.0 } else { x as f64 / n as f64 })
        .collect()
}

/// Bin labels: the lower edge of each bin, `−∞` for the first, `NaN` for missing.
fn bin_label(f: &FeatureReport, i: usize) -> String {
    if i == 0 {
        "<".to_string() + &short(f.edges.first().copied().unwrap_or(0.0))
    } else if i <= f.edges.len() {
        short(f.edges[i - 1])
    } else {
        "NaN".to_string()
    }
}

fn short(v: f32) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

pub(super) fn plot(report: &MonitorReport, path: &Path, top: usize) -> Result<()> {
    // Registering twice in one process is harmless (the map keeps one entry).
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| err("bad embedded font"))?;
    let mut feats: Vec<&FeatureReport> = report.features.iter().collect();
    feats.sort_by(|a, b| b.drift.psi.total_cmp(&a.drift.psi));
    feats.truncate(top.max(1));
    let cols = feats.len().min(2);
    let rows = feats.len().div_ceil(cols.max(1));
    let (w, h) = (560 * cols as u32, 340 * rows as u32 + 40);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (title, body) = root.split_vertically(40);
    title
        .titled(
            &format!(
                "{}: {} rows vs a baseline of {} rows (PSI > 0.25: shifted)",
                report.model, report.rows, report.baseline_rows
            ),
            ("sans-serif", 20),
        )
        .map_err(err)?;
    let base_color = RGBColor(70, 110, 190);
    let obs_color = RGBColor(220, 90, 60);
    for (area, f) in body.split_evenly((rows, cols)).iter().zip(&feats) {
        let b = shares(&f.baseline);
        let o = shares(&f.observed);
        // The missing bar only when either side has missing values.
        let n = if f.baseline.last() == Some(&0) && f.observed.last() == Some(&0) {
            b.len() - 1
        } else {
            b.len()
        };
        let ymax = b[..n].iter().chain(&o[..n]).fold(0.0f64, |a, &x| a.max(x)) * 1.15 + 1e-9;
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!(
                    "{} (#{}): PSI {:.3}, {}",
                    f.name,
                    f.index,
                    f.drift.psi,
                    f.drift.level().name()
                ),
                ("sans-serif", 16),
            )
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - x.floor()).abs() < 1e-9 && i < n {
                    bin_label(f, i)
                } else {
                    String::new()
                }
            })
            .y_desc("share of rows")
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        chart
            .draw_series((0..n).map(|i| {
                let x = i as f64;
                Rectangle::new([(x + 0.08, 0.0), (x + 0.48, b[i])], base_color.filled())
            }))
            .map_err(err)?
            .label("baseline")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], base_color.filled())
            });
        chart
            .draw_series((0..n).map(|i| {
                let x = i as f64;
                Rectangle::new([(x + 0.52, 0.0), (x + 0.92, o[i])], obs_color.filled())
            }))
            .map_err(err)?
            .label("observed")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], obs_color.filled())
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 12))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Draws the baseline and observed histograms (shares per bin, missing as the last
/// bar) of the `top` most drifted features into a PNG.
pub fn plot_png(report: &MonitorReport, path: &Path, top: usize) -> Result<()> {
    plot(report, path, top)
}
