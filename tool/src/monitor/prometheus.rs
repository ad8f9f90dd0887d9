//! `ferrite monitor --prometheus`: the report in the Prometheus text exposition format.

use super::report::*;
use std::fmt::Write as _;

impl MonitorReport {
    /// The report in the Prometheus text exposition format (version 0.0.4), every
    /// sample labelled with `model` and the given `labels` (e.g. a device id).
    pub fn to_prometheus(&self, labels: &[(String, String)]) -> String {
        let mut base = vec![("model".to_string(), self.model.clone())];
        base.extend(labels.iter().cloned());
        let fmt_labels = |extra: &[(&str, String)]| {
            let all: Vec<String> = base
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .chain(extra.iter().map(|(k, v)| (*k, v.clone())))
                .map(|(k, v)| format!("{k}=\"{}\"", escape(&v)))
                .collect();
            format!("{{{}}}", all.join(","))
        };
        let mut s = String::new();
        let mut lines = Vec::new();
        let n = family(
            &mut s,
            "ferrite_monitor_rows_total",
            "counter",
            "Rows observed by the monitor since it was created or reset.",
        );
        lines.push((n, fmt_labels(&[]), self.rows as f64));
        flush(&mut s, &mut lines);
        type Metric = (&'static str, &'static str, fn(&FeatureReport) -> f64);
        let per_feature: [Metric; 5] = [
            (
                "ferrite_feature_psi",
                "Population Stability Index of an input feature against the training baseline (< 0.1 stable, > 0.25 shifted).",
                |f| f.drift.psi,
            ),
            (
                "ferrite_feature_drift_p_value",
                "p-value of a G-test of homogeneity between the feature's observed and baseline histograms.",
                |f| f.drift.p_value,
            ),
            (
                "ferrite_feature_shifted",
                "1 when the feature's PSI exceeds 0.25.",
                |f| f.drift.flagged() as u8 as f64,
            ),
            (
                "ferrite_feature_missing",
                "Missing (NaN) values of the feature in the monitor's window.",
                |f| f.missing as f64,
            ),
            (
                "ferrite_feature_out_of_range",
                "Values of the feature outside the baseline's range in the monitor's window.",
                |f| f.out_of_range as f64,
            ),
        ];
        for (name, help, get) in per_feature {
            let n = family(&mut s, name, "gauge", help);
            for f in &self.features {
                let l = fmt_labels(&[("index", f.index.to_string()), ("feature", f.name.clone())]);
                lines.push((n.clone(), l, get(f)));
            }
            flush(&mut s, &mut lines);
        }
        if let Some(o) = &self.output {
            for (name, help, v) in [
                (
                    "ferrite_output_psi",
                    "Population Stability Index of the predictions (class or value histogram) against the training baseline.",
                    o.drift.psi,
                ),
                (
                    "ferrite_output_drift_p_value",
                    "p-value of a G-test of homogeneity between the observed and baseline prediction histograms.",
                    o.drift.p_value,
                ),
                (
                    "ferrite_output_shifted",
                    "1 when the predictions' PSI exceeds 0.25.",
                    o.drift.flagged() as u8 as f64,
                ),
            ] {
                let n = family(&mut s, name, "gauge", help);
                lines.push((n, fmt_labels(&[]), v));
                flush(&mut s, &mut lines);
            }
        }
        let l = &self.latency.stats;
        let (name, scale) = match l.clock_hz {
            0 => ("ferrite_predict_latency_ticks", 1.0),
            hz => ("ferrite_predict_latency_seconds", 1.0 / hz as f64),
        };
        let n = family(
            &mut s,
            name,
            "histogram",
            "Latency of monitored predictions.",
        );
        let total = self.latency.buckets.last().map_or(0, |b| b.1);
        for &(upper, cum) in &self.latency.buckets {
            let le = format!("{}", upper as f64 * scale);
            lines.push((format!("{n}_bucket"), fmt_labels(&[("le", le)]), cum as f64));
        }
        lines.push((
            format!("{n}_bucket"),
            fmt_labels(&[("le", "+Inf".into())]),
            total as f64,
        ));
        lines.push((
            format!("{n}_sum"),
            fmt_labels(&[]),
            self.latency.sum_ticks * scale,
        ));
        lines.push((format!("{n}_count"), fmt_labels(&[]), total as f64));
        flush(&mut s, &mut lines);
        s
    }
}

fn family(s: &mut String, name: &str, kind: &str, help: &str) -> String {
    let _ = writeln!(s, "# HELP {name} {help}");
    let _ = writeln!(s, "# TYPE {name} {kind}");
    name.to_string()
}

fn flush(s: &mut String, lines: &mut Vec<(String, String, f64)>) {
    for (n, l, v) in lines.drain(..) {
        let v = if v.is_nan() {
            "NaN".to_string()
        } else {
            format!("{v}")
        };
        let _ = writeln!(s, "{n}{l} {v}");
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
