//! The FEATURE_STATS section pinned by bytes, and the `Monitor` against hand-computed
//! counts and drift scores.

use ferrite::format::kind;
use ferrite::format::monitor::{encode_section, Baseline, FeatureSource, OutputBaseline};
use ferrite::format::types::{Activation, DType, Op, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::monitor::{latency, stats::PSI_EPSILON};
use ferrite::{DriftLevel, Error, Model, Monitor, Section, Session};

/// 16-byte aligned copy of some bytes (Model::load requires alignment).
struct Aligned(Vec<u128>, usize);
impl Aligned {
    fn new(b: &[u8]) -> Self {
        let mut w = vec![0u128; b.len().div_ceil(16) + 1];
        bytemuck::cast_slice_mut::<u128, u8>(&mut w)[..b.len()].copy_from_slice(b);
        Aligned(w, b.len())
    }
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u128, u8>(&self.0)[..self.1]
    }
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// y = x · [0.5, -2]ᵀ for x [1, 2] (a regressor with 2 raw features), or with
/// `classes` outputs y[k] = x · w_k (a classifier).
fn builder(outputs: u32) -> ModelBuilder {
    let mut m = ModelBuilder::new("m");
    let x = m.add_tensor("x", DType::F32, &[1, 2], Quant::None).unwrap();
    let w: Vec<f32> = (0..outputs)
        .flat_map(|k| [1.0 - k as f32, k as f32])
        .collect();
    let w = m.add_const_f32("w", &[outputs, 2], &w).unwrap();
    let y = m
        .add_tensor("y", DType::F32, &[1, outputs], Quant::None)
        .unwrap();
    let op = Op::FullyConnected {
        act: Activation::None,
        q: None,
    };
    m.add_op(op, &[x, w], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m
}

/// Two features, 2 bins (edge 0.0 for feature a, 10.0 for b), ranges [-1, 1] and
/// [0, 20], 3 baseline rows: a = (-1, 0.5, 1) → bins (1, 2), missing 0;
/// b = (0, NaN, 20) → bins (1, 1), missing 1. Output: 2 bins at 0.0, counts (1, 1).
fn baseline_bytes() -> Vec<u8> {
    let edges = f32s(&[0.0, 10.0]);
    let range = f32s(&[-1.0, 1.0, 0.0, 20.0]);
    let counts = u32s(&[1, 2, 0, 1, 1, 1]);
    let oe = f32s(&[0.0]);
    let oc = u32s(&[1, 1]);
    let b = Baseline {
        source: FeatureSource::Raw,
        features: 2,
        bins: 2,
        rows: 3,
        names: "a\nb",
        edges: &edges,
        range: &range,
        counts: &counts,
        output: OutputBaseline::Values {
            edges: &oe,
            counts: &oc,
        },
    };
    encode_section(&b).unwrap()
}

/// The same section assembled by hand from docs/format.md (postcard: varints,
/// byte strings as length + bytes, enums as a variant index).
fn baseline_expected() -> Vec<u8> {
    let mut s = vec![
        0, // source: Raw
        2, // features
        2, // bins
        3, // rows
        3, b'a', b'\n', b'b', // names
    ];
    s.push(8);
    s.extend(0f32.to_le_bytes());
    s.extend(10f32.to_le_bytes());
    s.push(16);
    for v in [-1f32, 1.0, 0.0, 20.0] {
        s.extend(v.to_le_bytes());
    }
    s.push(24);
    for v in [1u32, 2, 0, 1, 1, 1] {
        s.extend(v.to_le_bytes());
    }
    s.push(2); // output: Values
    s.push(4);
    s.extend(0f32.to_le_bytes());
    s.push(8);
    s.extend(1u32.to_le_bytes());
    s.extend(1u32.to_le_bytes());
    s
}

fn model_with(section: Option<Vec<u8>>, outputs: u32) -> Vec<u8> {
    let mut b = builder(outputs);
    if let Some(s) = section {
        b.add_section(kind::FEATURE_STATS, false, s);
    }
    b.finish().unwrap()
}

#[test]
fn feature_stats_section_bytes_are_pinned() {
    assert_eq!(baseline_bytes(), baseline_expected());
    let file = model_with(Some(baseline_expected()), 1);
    // Format 1.1: the section is optional (flags 0).
    assert_eq!(&file[4..8], &[1, 0, 1, 0]);
    let a = Aligned::new(&file);
    let m = Model::load(a.bytes()).unwrap();
    let b = m.monitor_baseline().unwrap().unwrap();
    assert_eq!(b.feature_name(1), "b");
    assert_eq!(b.feature_range(1), (0.0, 20.0));
    // 2 features × (2 bins + missing + out of range) + 2 output bins + latency.
    assert_eq!(m.monitor_words(), 2 * 4 + 2 + latency::BUCKETS);
}

#[test]
fn a_model_without_the_section_has_no_baseline() {
    let a = Aligned::new(&model_with(None, 1));
    let m = Model::load(a.bytes()).unwrap();
    assert_eq!(m.monitor_baseline().unwrap(), None);
    assert_eq!(m.monitor_words(), 0);
    let mut w = [0u32; 256];
    assert_eq!(Monitor::new(&m, &mut w).unwrap_err(), Error::NoBaseline);
}

#[test]
fn a_format_1_0_file_ignores_kind_5() {
    // Kind 5 had no layout in 1.0: a 1.0 file carrying bytes there still loads.
    let mut f = model_with(Some(vec![0xFF; 5]), 1);
    f[6..8].copy_from_slice(&0u16.to_le_bytes());
    let crc = ferrite::format::file_crc(&f);
    f[16..20].copy_from_slice(&crc.to_le_bytes());
    let a = Aligned::new(&f);
    let m = Model::load(a.bytes()).unwrap();
    assert_eq!(m.monitor_baseline().unwrap(), None);
}

/// `Baseline::parse` decodes with its own small reader: it must accept exactly what
/// postcard's serde decoder accepts (as a whole section), with the same fields.
#[test]
fn the_section_reader_agrees_with_postcard() {
    let edges = f32s(&[0.5; 9]);
    let range = f32s(&[0.0, 1.0, 0.0, 1.0]);
    let counts = u32s(&[300, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let classes = u32s(&[100, 200]);
    let windowed = Baseline {
        source: FeatureSource::ChannelStats {
            channels: 1,
            samples: 2,
        },
        features: 2,
        bins: 10,
        rows: 300,
        names: "x_mean\nx_std",
        edges: &[edges.clone(), edges].concat(),
        range: &range,
        counts: &[counts.clone(), counts].concat(),
        output: OutputBaseline::Classes { counts: &classes },
    };
    let plain = Baseline {
        output: OutputBaseline::None,
        names: "",
        ..windowed
    };
    let mut cases = 0;
    for valid in [
        baseline_bytes(),
        encode_section(&windowed).unwrap(),
        encode_section(&plain).unwrap(),
    ] {
        let mut variants = vec![valid.clone(), [&valid[..], &[0]].concat()];
        variants.extend((0..valid.len()).map(|n| valid[..n].to_vec()));
        for i in 0..valid.len() {
            for x in [0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0xff] {
                let mut v = valid.clone();
                v[i] = x;
                variants.push(v);
            }
        }
        for v in variants {
            let serde = match postcard::take_from_bytes::<Baseline>(&v) {
                Ok((b, [])) => Some(b),
                _ => None,
            };
            match (Baseline::parse(&v, 2, 2), serde) {
                (Ok(ours), Some(theirs)) => assert_eq!(ours, theirs, "{v:?}"),
                (Err(Error::Decode { .. }), None) => {}
                (Err(Error::BadSection { .. }), Some(_)) => {}
                (ours, theirs) => panic!("{v:?}: ours {ours:?}, postcard {theirs:?}"),
            }
            cases += 1;
        }
    }
    assert!(cases > 1000, "{cases}");
}

#[test]
fn malformed_sections_are_rejected_at_load() {
    let bad_section = |s: Vec<u8>| {
        let a = Aligned::new(&model_with(Some(s), 1));
        Model::load(a.bytes()).unwrap_err()
    };
    let decode = Error::Decode {
        section: Section::FeatureStats,
        index: 0,
    };
    let bad = Error::BadSection {
        section: Section::FeatureStats,
    };
    assert_eq!(bad_section(vec![0xFF; 5]), decode);
    let mut s = baseline_expected();
    s.push(0); // trailing byte
    assert_eq!(bad_section(s), decode);
    let mut s = baseline_expected();
    s[1] = 3; // three features for a two-value input
    assert_eq!(bad_section(s), bad);
    let mut s = baseline_expected();
    s[3] = 4; // counts no longer add up to rows
    assert_eq!(bad_section(s), bad);
    let mut s = baseline_expected();
    s[2] = 1; // one bin
    assert_eq!(bad_section(s), bad);
    // Decreasing edges: a NaN edge for feature a.
    let mut s = baseline_expected();
    s[9..13].copy_from_slice(&f32::NAN.to_le_bytes());
    assert_eq!(bad_section(s), bad);
}

/// Counts of feature `i` as (bins..., missing, out of range).
fn counts(m: &Monitor<'_>, i: usize) -> Vec<u32> {
    m.feature_counts(i).unwrap().to_vec()
}

#[test]
fn monitor_counts_bins_missing_and_out_of_range() {
    let a = Aligned::new(&model_with(Some(baseline_bytes()), 1));
    let model = Model::load(a.bytes()).unwrap();
    let mut w = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut w).unwrap();
    for row in [[-2.0, 10.0], [0.0, 25.0], [0.5, f32::NAN], [f32::NAN, -0.0]] {
        mon.observe_input(&row).unwrap();
    }
    assert_eq!(counts(&mon, 0), [1, 2, 1, 1]); // -2 is below the range
    assert_eq!(counts(&mon, 1), [1, 2, 1, 1]); // 10 sits on the edge → bin 1; 25 > 20
    assert_eq!(mon.rows(), 4);
    assert_eq!(
        mon.observe_input(&[1.0]).unwrap_err(),
        Error::WrongLength {
            expected: 2,
            actual: 1
        }
    );
    mon.observe_output(&[-1.0]).unwrap();
    mon.observe_output(&[f32::NAN]).unwrap();
    mon.observe_output(&[3.0]).unwrap();
    mon.observe_output(&[0.0]).unwrap();
    assert_eq!(mon.output_counts(), [1, 2]);

    // Feature b by hand: baseline (1, 1, missing 1) of 3, observed (1, 2, missing 1) of 4.
    let e = [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];
    let o = [0.25, 0.5, 0.25];
    let psi: f64 = e
        .iter()
        .zip(&o)
        .map(|(e, a)| (a - e) * ((a + PSI_EPSILON) / (e + PSI_EPSILON)).ln())
        .sum();
    let d = mon.feature(1).unwrap();
    assert!(
        (d.drift.psi - psi).abs() < 1e-12,
        "{} vs {psi}",
        d.drift.psi
    );
    assert_eq!((d.missing, d.out_of_range, d.drift.rows), (1, 1, 4));
    // G-test by hand: 2 × 3 table [[1,1,1],[1,2,1]], expected row share 3/7 and 4/7.
    let table: [[f64; 3]; 2] = [[1.0, 1.0, 1.0], [1.0, 2.0, 1.0]];
    let cols = [2.0, 3.0, 2.0];
    let rows = [3.0, 4.0];
    let mut g = 0f64;
    for r in 0..2 {
        for c in 0..3 {
            let exp = rows[r] * cols[c] / 7.0;
            g += 2.0 * table[r][c] * (table[r][c] / exp).ln();
        }
    }
    assert!((d.drift.g - g).abs() < 1e-12);
    assert_eq!(d.drift.dof, 2);
    // χ² with 2 degrees of freedom: P = exp(-g/2).
    assert!((d.drift.p_value - (-g / 2.0).exp()).abs() < 1e-12);
    let out = mon.output_drift().unwrap();
    assert_eq!(out.rows, 3);
}

#[test]
fn decay_halves_every_window_and_reset_clears() {
    let a = Aligned::new(&model_with(Some(baseline_bytes()), 1));
    let model = Model::load(a.bytes()).unwrap();
    let mut w = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut w).unwrap();
    mon.set_window(4);
    for _ in 0..3 {
        mon.observe_input(&[0.5, 1.0]).unwrap();
        mon.observe_latency(100);
    }
    assert_eq!(counts(&mon, 0), [0, 3, 0, 0]);
    mon.observe_input(&[0.5, 1.0]).unwrap(); // the 4th row: 4 → 2
    assert_eq!(counts(&mon, 0), [0, 2, 0, 0]);
    assert_eq!(mon.latency().count, 1); // 3 → 1
    for _ in 0..4 {
        mon.observe_input(&[-0.5, 1.0]).unwrap();
    }
    // (0 + 4, 2) halved → (2, 1): the older rows weigh half.
    assert_eq!(counts(&mon, 0), [2, 1, 0, 0]);
    assert_eq!(mon.rows(), 8);
    mon.reset();
    assert_eq!(counts(&mon, 0), [0, 0, 0, 0]);
    assert_eq!(mon.rows(), 0);
    assert_eq!(mon.latency().count, 0);
    assert_eq!(mon.window(), 4);
}

#[test]
fn latency_statistics_from_the_histogram() {
    let a = Aligned::new(&model_with(Some(baseline_bytes()), 1));
    let model = Model::load(a.bytes()).unwrap();
    let mut w = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut w).unwrap();
    // 1..=1000 ticks: mean 500.5, max 1000, p50 = 500, p95 = 950.
    for t in 1..=1000u32 {
        mon.observe_latency(t);
    }
    let l = mon.latency();
    assert_eq!((l.count, l.max), (1000, 1000));
    assert!((l.mean - 500.5).abs() < 1e-9);
    // Within the width of the bucket holding the true value: 500 in [448, 512), which
    // the data fills evenly (so interpolation is exact); 950 in [896, 1024), which
    // the data fills only up to 1000.
    assert!((l.p50 - 500.0).abs() <= 1.0, "{}", l.p50);
    assert!((l.p95 - 950.0).abs() <= 128.0, "{}", l.p95);
    // 100 calls of 12,159 ticks: every percentile is 12,159 at most (the bucket
    // [10240, 12288) interpolates past it), and p50 within the bucket's width.
    mon.reset();
    for _ in 0..100 {
        mon.observe_latency(12_159);
    }
    let l = mon.latency();
    assert_eq!((l.count, l.max), (100, 12_159));
    assert_eq!(l.p95, 12_159.0);
    assert!((10_240.0..=12_159.0).contains(&l.p50), "{}", l.p50);
}

#[test]
fn predict_observes_input_output_and_latency() {
    let edges = f32s(&[0.0]);
    let range = f32s(&[-1.0, 1.0, -1.0, 1.0]);
    let counts_b = u32s(&[5, 5, 0, 5, 5, 0]);
    let classes = u32s(&[6, 4]);
    let b = Baseline {
        source: FeatureSource::Raw,
        features: 2,
        bins: 2,
        rows: 10,
        names: "",
        edges: &[edges.clone(), edges].concat(),
        range: &range,
        counts: &counts_b,
        output: OutputBaseline::Classes { counts: &classes },
    };
    let a = Aligned::new(&model_with(Some(encode_section(&b).unwrap()), 2));
    let model = Model::load(a.bytes()).unwrap();
    let mut arena = vec![0u8; model.arena_size() + 16];
    let mut s = Session::new(&model, &mut arena).unwrap();
    let mut w = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut w).unwrap();
    let mut t = 0u32;
    let mut clock = || {
        t = t.wrapping_add(7);
        t
    };
    let mut scores = [0f32; 2];
    // y0 = x0, y1 = x1: class 1 when x1 > x0.
    assert_eq!(
        mon.predict(&mut s, &[0.5, 0.7], &mut scores, &mut clock)
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        mon.predict(&mut s, &[0.5, -0.7], &mut scores, &mut clock)
            .unwrap(),
        Some(0)
    );
    // NaN without a pipeline: predict fails, the input is still counted (missing).
    assert_eq!(
        mon.predict(&mut s, &[f32::NAN, 0.0], &mut scores, &mut clock)
            .unwrap_err(),
        Error::InvalidInput { feature: 0 }
    );
    assert_eq!(mon.rows(), 3);
    assert_eq!(counts(&mon, 0), [0, 2, 1, 0]);
    assert_eq!(mon.output_counts(), [1, 1]);
    let l = mon.latency();
    assert_eq!((l.count, l.max), (2, 7));
    assert_eq!(mon.feature(0).unwrap().drift.level(), DriftLevel::Shifted);
}

#[test]
fn channel_stats_features_summarise_each_channel() {
    // Raw row: 2 channels × 4 samples; features: mean/std per channel.
    let mut b = ModelBuilder::new("w");
    let x = b
        .add_tensor("x", DType::F32, &[1, 2, 4], Quant::None)
        .unwrap();
    let y = b
        .add_tensor("y", DType::F32, &[1, 2, 1], Quant::None)
        .unwrap();
    b.add_op(Op::GlobalAvgPool, &[x], &[y]).unwrap();
    b.set_io(&[x], &[y]).unwrap();
    let edges = f32s(&[0.0, 1.0, 0.0, 1.0]);
    let range = f32s(&[-1.0, 1.0, 0.0, 1.0, -1.0, 1.0, 0.0, 1.0]);
    let c = u32s(&[1, 0, 0]);
    let all: Vec<u8> = [c.clone(), c.clone(), c.clone(), c].concat();
    let base = Baseline {
        source: FeatureSource::ChannelStats {
            channels: 2,
            samples: 4,
        },
        features: 4,
        bins: 2,
        rows: 1,
        names: "",
        edges: &edges,
        range: &range,
        counts: &all,
        output: OutputBaseline::None,
    };
    b.add_section(kind::FEATURE_STATS, false, encode_section(&base).unwrap());
    let a = Aligned::new(&b.finish().unwrap());
    let model = Model::load(a.bytes()).unwrap();
    let mut w = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut w).unwrap();
    // Channel 0: 1, 3, 1, 3 → mean 2 (bin 1, out of range), std 1 (bin 1);
    // channel 1: -1, -1, -1, NaN → both missing.
    mon.observe_input(&[1.0, 3.0, 1.0, 3.0, -1.0, -1.0, -1.0, f32::NAN])
        .unwrap();
    assert_eq!(counts(&mon, 0), [0, 1, 0, 1]);
    assert_eq!(counts(&mon, 1), [0, 1, 0, 0]);
    assert_eq!(counts(&mon, 2), [0, 0, 1, 0]);
    assert_eq!(counts(&mon, 3), [0, 0, 1, 0]);
    assert!(mon.output_drift().is_none());
    let mut out = [0f32; 4];
    ferrite::monitor::feature_values(
        base.source,
        &[1.0, 3.0, 1.0, 3.0, 0.0, 0.0, 0.0, 4.0],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [2.0, 1.0, 1.0, 3f32.sqrt()]);
}

#[test]
fn snapshot_round_trips_and_rejects_another_model() {
    let file = model_with(Some(baseline_bytes()), 1);
    let a = Aligned::new(&file);
    let model = Model::load(a.bytes()).unwrap();
    let mut w = vec![0u32; model.monitor_words()];
    let mut mon = Monitor::new(&model, &mut w).unwrap();
    mon.set_window(1000);
    mon.set_clock_hz(1_000_000);
    for i in 0..300 {
        let x = i as f32 / 100.0 - 1.5;
        mon.observe(&[x, 30.0 - x], Some(&[x])).unwrap();
        mon.observe_latency(i * 3);
    }
    let mut buf = vec![0u8; mon.snapshot_max_len()];
    let snap = mon.snapshot(&mut buf).unwrap().to_vec();
    // Small counts are one-byte varints: well under 5 bytes per counter.
    assert!(snap.len() < 2 * model.monitor_words(), "{}", snap.len());
    let mut w2 = vec![0u32; model.monitor_words()];
    let mut back = Monitor::new(&model, &mut w2).unwrap();
    back.restore(&snap).unwrap();
    assert_eq!(back.rows(), 300);
    assert_eq!(back.window(), 1000);
    for i in 0..2 {
        assert_eq!(
            back.feature_counts(i).unwrap(),
            mon.feature_counts(i).unwrap()
        );
        assert_eq!(back.feature(i).unwrap(), mon.feature(i).unwrap());
    }
    assert_eq!(back.latency(), mon.latency());
    assert_eq!(back.output_counts(), mon.output_counts());
    // Resuming from the saved words and state is the same monitor.
    let state = back.state();
    let resumed = Monitor::resume(&model, &mut w2, state).unwrap();
    assert_eq!(resumed.feature(1).unwrap(), mon.feature(1).unwrap());
    assert_eq!(resumed.rows(), 300);
    let mut back = Monitor::new(&model, &mut w2).unwrap();
    assert_eq!(back.rows(), 0);
    // Truncated, or with a trailing byte: rejected, and nothing changes.
    assert_eq!(
        back.restore(&snap[..snap.len() - 1]),
        Err(Error::BadSnapshot)
    );
    let mut long = snap.clone();
    long.push(0);
    assert_eq!(back.restore(&long), Err(Error::BadSnapshot));
    assert_eq!(back.rows(), 0);
    assert!(back.feature_counts(0).unwrap().iter().all(|&c| c == 0));
    // Another model (different weights → different CRC) with the same baseline shape.
    let mut other = builder(1);
    other.add_section(kind::FEATURE_STATS, false, baseline_bytes());
    other.name = "other".into();
    let o = Aligned::new(&other.finish().unwrap());
    let om = Model::load(o.bytes()).unwrap();
    let mut w3 = vec![0u32; om.monitor_words()];
    let mut third = Monitor::new(&om, &mut w3).unwrap();
    assert_eq!(third.restore(&snap), Err(Error::BadSnapshot));
    // Too small a buffer is an error, not a panic.
    assert!(mon.snapshot(&mut [0u8; 8]).is_err());
}

#[test]
fn storage_too_small_is_an_error() {
    let a = Aligned::new(&model_with(Some(baseline_bytes()), 1));
    let model = Model::load(a.bytes()).unwrap();
    let mut w = vec![0u32; model.monitor_words() - 1];
    assert!(matches!(
        Monitor::new(&model, &mut w),
        Err(Error::ArenaTooSmall { .. })
    ));
}
