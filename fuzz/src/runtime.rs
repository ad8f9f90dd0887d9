//! Harnesses over the Rust API of the runtime: load, inspect, run, predict, preprocess.
//!
//! Besides "no panic, no UB" they check what the runtime documents:
//! - every record of a loaded model decodes (`tensor`, `op`, `golden` are `Ok` in range);
//! - `Session::new` accepts an arena of `arena_size()` bytes (aligned, or 15 bytes more
//!   unaligned) and refuses one byte less;
//! - `run` on a loaded model cannot fail (it "can only fail on the caller's own
//!   arguments", and takes none);
//! - outputs depend on the inputs only: two sessions whose arenas start with different
//!   garbage give the same output bytes (nothing reads a tensor before it is written);
//! - `predict` with a pipeline rejects exactly the rows whose pipeline output holds a
//!   non-finite value, naming the first such column, and otherwise runs.

use crate::fer;
use ferrite::{AlignedModel, Error, Model, OwnedModel, Session};

/// Largest arena the harnesses allocate. A file may declare up to 4 GiB; the caller
/// supplies (and bounds) the arena, so larger models are only checked up to the
/// session's refusal of a too-small arena.
pub const MAX_ARENA: usize = 16 << 20;

/// Most values the harnesses feed to one input or pipeline row.
pub const MAX_VALUES: usize = 1 << 20;

/// A zeroed buffer of `len` bytes at a 16-byte aligned address, plus `extra` bytes.
pub struct Buf {
    v: Vec<u8>,
    at: usize,
    len: usize,
}

impl Buf {
    pub fn new(len: usize) -> Buf {
        let v = vec![0u8; len + 16];
        let at = v.as_ptr().align_offset(16);
        Buf { v, at, len }
    }

    /// The aligned bytes.
    pub fn bytes(&mut self) -> &mut [u8] {
        &mut self.v[self.at..self.at + self.len]
    }

    /// `len - 1` bytes starting one byte past an aligned address (never aligned).
    pub fn unaligned(&mut self) -> &mut [u8] {
        let n = self.len.saturating_sub(1);
        &mut self.v[self.at + 1..self.at + 1 + n]
    }
}

/// `n` bytes cycled from `src` (zeros when `src` is empty), starting at `from`.
pub fn cycled(src: &[u8], from: usize, n: usize) -> Vec<u8> {
    if src.is_empty() {
        return vec![0; n];
    }
    (0..n).map(|i| src[(from + i) % src.len()]).collect()
}

/// `n` f32 values read from `src` (little-endian, cycled).
pub fn f32s(src: &[u8], from: usize, n: usize) -> Vec<f32> {
    cycled(src, from * 4, n * 4)
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The first trailer byte selects optional checks (so that each run stays cheap):
/// bit 0 an unaligned arena, bit 1 the owned model's re-parse, bit 2 the observed run.
pub fn flags(trailer: &[u8]) -> u8 {
    trailer.first().copied().unwrap_or(0)
}

/// Loads `data` (a `.fer` file and its trailer) from an aligned copy.
pub fn with_model(data: &[u8], f: impl FnOnce(&Model<'_>, &[u8])) {
    let (_, trailer) = fer::split(data);
    let aligned = AlignedModel::new(data);
    let Ok(model) = Model::load(aligned.bytes()) else {
        return;
    };
    if flags(trailer) & 2 != 0 {
        // The owned form re-parses without checks: it must see the same model.
        let owned = OwnedModel::new(data).expect("Model::load accepted these bytes");
        let m2 = owned.model();
        assert_eq!(m2.num_ops(), model.num_ops());
        assert_eq!(m2.num_tensors(), model.num_tensors());
        assert_eq!(m2.arena_size(), model.arena_size());
        assert_eq!(
            m2.preprocess().map(|p| p.out_len()),
            model.preprocess().map(|p| p.out_len())
        );
    }
    f(&model, trailer)
}

/// Every accessor of a loaded model; records in range must decode.
pub fn inspect(m: &Model<'_>) {
    let meta = m.metadata();
    let _ = (meta.name.len(), meta.producer.len(), m.labels().count());
    for i in 0..=m.num_inputs() {
        let _ = (m.input(i), m.input_len(i));
    }
    for i in 0..=m.num_outputs() {
        let _ = (m.output(i), m.output_len(i));
    }
    for i in 0..m.num_tensors().min(1 << 14) {
        let t = m.tensor(i).expect("a validated tensor record decodes");
        let _ = m.constant_bytes(&t);
    }
    for i in 0..m.num_ops().min(1 << 14) {
        m.op(i).expect("a validated op record decodes");
    }
    for i in 0..m.num_golden().min(64) {
        // Full vectors decode; every vector (full or compact) yields its input 0.
        let _ = m.golden(i);
        if let Ok(n) = m.input(0).map(|t| t.byte_len().unwrap_or(0)) {
            let mut x = vec![0u8; n.min(1 << 20)];
            if x.len() == n {
                m.golden_input(i, 0, &mut x)
                    .expect("a validated golden vector yields its input");
            }
        }
    }
    let _ = (m.tensor(m.num_tensors()), m.op(m.num_ops()));
    let _ = (m.parameter_bytes(), m.raw_input_len(), m.weights().len());
    for k in 0..9 {
        let _ = m.section(k);
    }
    if let Some(p) = m.preprocess() {
        let _ = (p.names().count(), p.raw_len(), p.out_len());
        for i in 0..p.num_steps() {
            p.step(i).expect("a validated step record decodes");
        }
    }
}

/// Sets every input from `trailer` (raw bytes, cycled), runs, and returns the output
/// bytes; `None` when an input is too large to feed.
fn run_raw(s: &mut Session<'_, '_>, m: &Model<'_>, trailer: &[u8]) -> Option<Vec<Vec<u8>>> {
    for i in 0..m.num_inputs() {
        let t = m.input(i).ok()?;
        let n = t.byte_len()?;
        if n > MAX_ARENA {
            return None;
        }
        s.set_input_bytes(i, &cycled(trailer, 1 + 7 * i, n))
            .expect("input bytes of the input's byte length are accepted");
    }
    s.run().expect("run on a loaded model cannot fail");
    let mut outs = Vec::new();
    for i in 0..m.num_outputs() {
        outs.push(s.output_bytes(i).expect("outputs exist").to_vec());
        let n = m.output_len(i).expect("outputs have a length");
        let mut f = vec![0f32; n];
        let _ = s.output_f32(i, &mut f);
    }
    Some(outs)
}

/// The `load_run` target: load, inspect, sessions, golden vectors, raw run, predict,
/// preprocess, observed run.
pub fn load_run(data: &[u8]) {
    with_model(data, |m, trailer| {
        inspect(m);
        run_model(m, trailer);
    });
}

/// Runs a loaded model in every way the API offers.
pub fn run_model(m: &Model<'_>, trailer: &[u8]) {
    let need = m.arena_size();
    if need > MAX_ARENA {
        let mut small = Buf::new(4096);
        assert!(matches!(
            Session::new(m, small.bytes()),
            Err(Error::ArenaTooSmall { .. })
        ));
        return;
    }
    if need > 0 {
        let mut short = Buf::new(need - 1);
        assert!(
            matches!(
                Session::new(m, short.bytes()),
                Err(Error::ArenaTooSmall { .. })
            ),
            "an arena one byte short of arena_size() is refused"
        );
    }
    let flags = flags(trailer);
    // Unaligned arenas need 15 bytes more.
    let mut buf = Buf::new(need + 16);
    let arena: &mut [u8] = if flags & 1 != 0 {
        &mut buf.unaligned()[..need + 15]
    } else {
        &mut buf.bytes()[..need]
    };
    arena.fill(0xA5);
    let mut s = Session::new(m, arena).expect("an arena of arena_size() bytes is accepted");

    for g in 0..m.num_golden().min(4) {
        let _ = s.check_golden(g);
    }
    let first = run_raw(&mut s, m, trailer);

    // Same inputs over an arena holding other garbage: the same outputs.
    let mut other = Buf::new(need);
    other.bytes().fill(0x3C);
    let mut s2 = Session::new(m, other.bytes()).expect("an aligned arena is accepted");
    let second = run_raw(&mut s2, m, trailer);
    assert_eq!(first, second, "outputs depend on stale arena contents");

    if let Ok(n) = m.raw_input_len() {
        if n <= MAX_VALUES {
            let features = f32s(trailer, 1, n);
            let mut scores = vec![0f32; m.output_len(0).unwrap_or(0).min(MAX_VALUES)];
            let _ = s.predict(&features, &mut scores);
            let mut row = vec![0f32; m.input_len(0).unwrap_or(0).min(MAX_VALUES)];
            let _ = s.preprocess(&features, &mut row);
        }
    }
    if flags & 4 != 0 {
        let mut seen = 0u32;
        let r = s.run_observed(|i, _, _| {
            assert_eq!(i, seen);
            seen += 1;
        });
        if r.is_ok() {
            assert_eq!(seen, m.num_ops());
        }
    }
}

/// Rows every pipeline must survive, besides those of the trailer.
fn special_rows(n: usize) -> Vec<Vec<f32>> {
    let mut rows: Vec<Vec<f32>> = crate::rng::INTERESTING_F32
        .iter()
        .map(|&v| vec![v; n])
        .collect();
    rows.push((0..n).map(|i| i as f32).collect());
    rows.push(
        (0..n)
            .map(|i| if i % 2 == 0 { f32::NAN } else { -1.5 })
            .collect(),
    );
    rows
}

/// The `preprocess` target: a model with a PREPROCESS section, rows from the trailer
/// (f32, `raw_len` per row) and the special rows, through `Session::preprocess`,
/// `Preprocess::run` and `Session::predict`.
pub fn preprocess(data: &[u8]) {
    with_model(data, |m, trailer| {
        let Some(p) = m.preprocess() else {
            return;
        };
        let (raw, out) = (p.raw_len(), p.out_len());
        let need = m.arena_size();
        if raw > MAX_VALUES || need > MAX_ARENA {
            return;
        }
        let mut arena = Buf::new(need);
        let mut s = Session::new(m, arena.bytes()).expect("an aligned arena is accepted");
        let mut rows = special_rows(raw);
        let given = (trailer.len() / 4 / raw.max(1)).clamp(1, 8);
        rows.extend((0..given).map(|r| f32s(trailer, r * raw, raw)));
        let mut scratch = vec![0f32; p.scratch_bytes() / 4];
        let scores_len = m.output_len(0).unwrap_or(0).min(MAX_VALUES);
        for row in &rows {
            let mut a = vec![0f32; out];
            let ra = s.preprocess(row, &mut a);
            let mut b = vec![0f32; out];
            let rb = p.run(row, &mut b, &mut scratch);
            assert_eq!(ra, rb, "session and standalone pipeline agree");
            if ra.is_ok() {
                assert_eq!(bits(&a), bits(&b));
            }
            let mut scores = vec![0f32; scores_len];
            let pr = s.predict(row, &mut scores);
            match ra {
                Err(e) => assert_eq!(pr, Err(e), "predict fails as the pipeline does"),
                // NaN is a missing value for a model that reads its input only in
                // tree ensembles (Model::input_accepts_nan); inf never is.
                Ok(()) => match a
                    .iter()
                    .position(|v| !(v.is_finite() || m.input_accepts_nan() && v.is_nan()))
                {
                    Some(i) => assert_eq!(
                        pr,
                        Err(Error::InvalidInput { feature: i as u32 }),
                        "a non-finite pipeline output is rejected, naming its column"
                    ),
                    None => assert!(
                        matches!(pr, Ok(_) | Err(Error::Unsupported)),
                        "a finite pipeline output runs: {pr:?}"
                    ),
                },
            }
        }
    });
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
