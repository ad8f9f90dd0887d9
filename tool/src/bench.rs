//! `ferrite bench`: batch-1 latency of ferrite and, in the same process on the same
//! inputs, of tract running the ONNX reference.

use crate::data::Dataset;
use crate::error::Result;
use crate::reference::Reference;
use crate::validate::shapes_of;
use ferrite::{AlignedModel, DType, OwnedSession};
use serde_json::json;
use std::time::{Duration, Instant};

/// How long to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Timed runs per engine (after `warmup` untimed ones).
    pub iterations: usize,
    pub warmup: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            iterations: 1000,
            warmup: 50,
        }
    }
}

/// Latency statistics in microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    pub median_us: f64,
    pub p90_us: f64,
    pub iterations: usize,
}

/// Result of a benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    pub model: String,
    pub precision: String,
    pub ferrite: Latency,
    pub reference: Option<Latency>,
    /// tract median / ferrite median (> 1: ferrite is faster).
    pub speedup: Option<f64>,
}

impl BenchReport {
    pub fn to_json(&self) -> serde_json::Value {
        let lat = |l: &Latency| json!({"median_us": l.median_us, "p90_us": l.p90_us, "iterations": l.iterations});
        json!({
            "model": self.model,
            "precision": self.precision,
            "ferrite": lat(&self.ferrite),
            "tract": self.reference.as_ref().map(lat),
            "speedup_vs_tract": self.speedup,
        })
    }

    pub fn to_text(&self) -> String {
        let mut s = format!("{} ({}) batch 1\n", self.model, self.precision);
        s += &format!("{:<8} {:>12} {:>12}\n", "engine", "median µs", "p90 µs");
        s += &format!(
            "{:<8} {:>12.2} {:>12.2}\n",
            "ferrite", self.ferrite.median_us, self.ferrite.p90_us
        );
        if let Some(r) = &self.reference {
            s += &format!("{:<8} {:>12.2} {:>12.2}\n", "tract", r.median_us, r.p90_us);
        }
        if let Some(x) = self.speedup {
            s += &format!(
                "ferrite is {x:.2}x {} than tract\n",
                if x >= 1.0 { "faster" } else { "slower (1/x)" }
            );
        }
        s
    }
}

fn stats(mut d: Vec<Duration>) -> Latency {
    d.sort();
    let at = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    Latency {
        median_us: at(0.5),
        p90_us: at(0.9),
        iterations: d.len(),
    }
}

/// Benchmarks `fer` (and `onnx` with tract when given) on the rows of `data`, or on the
/// model's golden inputs when no data is given.
pub fn bench(
    fer: &[u8],
    onnx: Option<&[u8]>,
    data: Option<&Dataset>,
    opts: &BenchOptions,
) -> Result<BenchReport> {
    if opts.iterations == 0 {
        return Err(crate::Error::Usage(
            "--iterations must be at least 1".into(),
        ));
    }
    let aligned = AlignedModel::new(fer);
    let model = aligned.model()?;
    let widths = crate::feed::input_widths(&model)?;
    let mut inputs: Vec<Vec<f32>> = match data {
        Some(d) => {
            crate::run::check_joined(&model, d, &widths)?;
            d.iter_rows().take(64).map(|r| r.to_vec()).collect()
        }
        None => Vec::new(),
    };
    let all_f32 =
        (0..model.num_inputs()).all(|i| model.input(i).is_ok_and(|t| t.dtype == DType::F32));
    if inputs.is_empty() && all_f32 && model.preprocess().is_none() {
        for g in 0..model.num_golden() {
            let mut row: Vec<f32> = Vec::new();
            for i in 0..model.num_inputs() {
                let mut b = vec![0u8; model.input(i)?.byte_len().unwrap_or(0)];
                model.golden_input(g, i, &mut b)?;
                row.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
            }
            inputs.push(row);
        }
    }
    if inputs.is_empty() {
        inputs.push(vec![0.5; widths.iter().sum()]);
    }
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    let mut out = vec![0f32; model.output_len(0)?];
    crate::reference::clear_avx_upper();
    let mut times = Vec::with_capacity(opts.iterations);
    for i in 0..opts.warmup + opts.iterations {
        let x = &inputs[i % inputs.len()];
        let t0 = Instant::now();
        if widths.len() == 1 {
            s.predict(x, &mut out)?;
        } else {
            for (k, v) in crate::feed::split(x, &widths).into_iter().enumerate() {
                s.set_input_f32(k, v)?;
            }
            s.run()?;
            s.output_f32(0, &mut out)?;
        }
        let dt = t0.elapsed();
        std::hint::black_box(&out);
        if i >= opts.warmup {
            times.push(dt);
        }
    }
    let ferrite = stats(times);
    let reference = match onnx {
        Some(o) => {
            let r = Reference::load(o, &shapes_of(&model)?)?;
            let tensors = inputs
                .iter()
                .map(|x| {
                    let ins = crate::validate::reference_inputs(&model, &mut s, x, &widths)?;
                    let refs: Vec<&[f32]> = ins.iter().map(Vec::as_slice).collect();
                    r.tensors(&refs)
                })
                .collect::<Result<Vec<_>>>()?;
            let mut times = Vec::with_capacity(opts.iterations);
            for i in 0..opts.warmup + opts.iterations {
                let t0 = Instant::now();
                let y = r.run_raw(&tensors[i % tensors.len()])?;
                let dt = t0.elapsed();
                std::hint::black_box(&y);
                crate::reference::clear_avx_upper();
                if i >= opts.warmup {
                    times.push(dt);
                }
            }
            Some(stats(times))
        }
        None => None,
    };
    let speedup = reference
        .as_ref()
        .map(|r| r.median_us / ferrite.median_us.max(1e-9));
    Ok(BenchReport {
        model: model.metadata().name.to_string(),
        precision: model
            .metadata()
            .property("precision")
            .unwrap_or("?")
            .to_string(),
        ferrite,
        reference,
        speedup,
    })
}
