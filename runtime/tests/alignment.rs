//! Cache-line (64-byte) alignment: the planner's and the writer's offsets for large
//! blocks, the owned buffers (`AlignedModel`, `OwnedSession`) and `Session::new`'s choice
//! inside a roomy slice — and the same output bytes at every alignment.

use ferrite::format::plan::{plan, Request};
use ferrite::format::types::{Activation, DType, Location, Op, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::format::{kind, ALIGN, FILE_WIDE_MIN, WIDE_ALIGN, WIDE_MIN};
use ferrite::{AlignedModel, Model, OwnedSession, Session};

const K: usize = 64;
const N: usize = 80;

/// x f32 [1, K] (256 B) → FullyConnected (W [N, K], bias [N]) + ReLU → y f32 [1, N]
/// (320 B), after a 20-byte constant that leaves the weights section's end misaligned.
fn fc_model() -> (Vec<u8>, Vec<f32>, Vec<f32>) {
    let w: Vec<f32> = (0..N * K)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0)
        .collect();
    let bias: Vec<f32> = (0..N).map(|i| (i as f32 - 40.0) / 8.0).collect();
    let mut b = ModelBuilder::new("fc");
    b.add_const_f32("pad", &[5], &[0.0; 5]).unwrap();
    let x = b
        .add_tensor("x", DType::F32, &[1, K as u32], Quant::None)
        .unwrap();
    let wt = b.add_const_f32("w", &[N as u32, K as u32], &w).unwrap();
    let bt = b.add_const_f32("b", &[N as u32], &bias).unwrap();
    let y = b
        .add_tensor("y", DType::F32, &[1, N as u32], Quant::None)
        .unwrap();
    let op = Op::FullyConnected {
        act: Activation::Relu,
        q: None,
    };
    b.add_op(op, &[x, wt, bt], &[y]).unwrap();
    b.set_io(&[x], &[y]).unwrap();
    (b.finish().unwrap(), w, bias)
}

fn input() -> Vec<f32> {
    (0..K).map(|i| ((i * 13 % 17) as f32 - 8.0) / 4.0).collect()
}

/// ReLU(W x + b) summed in f64: the independent reference.
fn naive(w: &[f32], bias: &[f32], x: &[f32]) -> Vec<f32> {
    (0..N)
        .map(|n| {
            let s: f64 = (0..K).map(|k| w[n * K + k] as f64 * x[k] as f64).sum();
            (s + bias[n] as f64).max(0.0) as f32
        })
        .collect()
}

fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

#[test]
fn planner_puts_large_tensors_on_cache_lines() {
    // Sizes around WIDE_MIN with overlapping lifetimes, so that small tensors push the
    // large ones off 64-byte boundaries unless the planner aligns them.
    let sizes = [
        20usize,
        300,
        17,
        1024,
        WIDE_MIN,
        WIDE_MIN - 1,
        64,
        4000,
        48,
        700,
    ];
    let reqs: Vec<Request> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| Request {
            size,
            first: (i / 2) as u32,
            last: (i / 2 + 2) as u32,
        })
        .collect();
    let p = plan(&reqs);
    let mut end = 0;
    for (i, r) in reqs.iter().enumerate() {
        let want = if r.size >= WIDE_MIN {
            WIDE_ALIGN
        } else {
            ALIGN
        };
        assert_eq!(p.offsets[i] % want, 0, "request {i} ({} B)", r.size);
        end = end.max(p.offsets[i] + r.size);
        for (j, q) in reqs.iter().enumerate().skip(i + 1) {
            let alive_together = r.first <= q.last && q.first <= r.last;
            let apart =
                p.offsets[i] + r.size <= p.offsets[j] || p.offsets[j] + q.size <= p.offsets[i];
            assert!(!alive_together || apart, "requests {i} and {j} overlap");
        }
    }
    assert!(p.arena_size >= end && p.arena_size % ALIGN == 0);
}

#[test]
fn writer_puts_large_weights_and_sections_on_cache_lines() {
    let (file, _, _) = fc_model();
    let a = AlignedModel::new(&file);
    let m = Model::load(a.bytes()).unwrap();
    let weights = m.section(kind::WEIGHTS).unwrap();
    assert_eq!(
        offset_in(a.bytes(), weights) % WIDE_ALIGN,
        0,
        "weights section"
    );
    let mut checked = 0;
    for i in 0..5 {
        let t = m.tensor(i).unwrap();
        let bytes = t.elements().unwrap() * 4;
        // Arena tensors from WIDE_MIN bytes, weight constants from FILE_WIDE_MIN.
        let (offset, min) = match t.location {
            Location::Weights { offset } => (offset as usize, FILE_WIDE_MIN),
            Location::Arena { offset, .. } => (offset as usize, WIDE_MIN),
        };
        let want = if bytes >= min { WIDE_ALIGN } else { ALIGN };
        assert_eq!(offset % want, 0, "tensor {} ({bytes} B)", t.name);
        checked += usize::from(bytes >= min);
    }
    // x (256 B) and y (320 B) are large arena tensors, w (20,480 B) a large constant;
    // the bias (320 B) and `pad` (20 B) are small constants.
    assert_eq!(checked, 3);
}

#[test]
fn owned_buffers_and_roomy_arenas_start_on_cache_lines_with_the_same_results() {
    let (file, w, bias) = fc_model();
    let x = input();
    let expected = naive(&w, &bias, &x);
    // AlignedModel copies from every misalignment of the source onto a cache line.
    let mut src = vec![0u8; file.len() + WIDE_ALIGN];
    let mut outputs: Vec<Vec<u8>> = Vec::new();
    for shift in [0usize, 1, 16, 33, 48] {
        src[shift..shift + file.len()].copy_from_slice(&file);
        let a = AlignedModel::new(&src[shift..shift + file.len()]);
        assert_eq!(a.bytes().as_ptr() as usize % WIDE_ALIGN, 0);
        assert_eq!(a.clone().bytes().as_ptr() as usize % WIDE_ALIGN, 0);
        let m = a.model().unwrap();
        // OwnedSession: y's planned offset is a multiple of 64, so its address is too.
        let mut owned = OwnedSession::new(&m);
        let mut s = owned.session();
        s.set_input_f32(0, &x).unwrap();
        s.run().unwrap();
        assert_eq!(s.output_bytes(0).unwrap().as_ptr() as usize % WIDE_ALIGN, 0);
        outputs.push(s.output_bytes(0).unwrap().to_vec());
    }
    let a = AlignedModel::new(&file);
    let m = Model::load(a.bytes()).unwrap();
    let need = m.arena_size();
    let mut buf = vec![0u8; need + 3 * WIDE_ALIGN];
    let base = buf.as_ptr().align_offset(WIDE_ALIGN);
    for shift in [0usize, 1, 16, 40, 63] {
        // A slice with 63 spare bytes gets a cache-line start wherever it begins.
        let roomy = &mut buf[base + shift..base + shift + need + WIDE_ALIGN - 1];
        let mut s = Session::new(&m, roomy).unwrap();
        s.set_input_f32(0, &x).unwrap();
        s.run().unwrap();
        assert_eq!(s.output_bytes(0).unwrap().as_ptr() as usize % WIDE_ALIGN, 0);
        outputs.push(s.output_bytes(0).unwrap().to_vec());
    }
    for shift in [16usize, 32, 48] {
        // An exactly sized 16-aligned slice still works, off the cache line.
        let exact = &mut buf[base + shift..base + shift + need];
        let mut s = Session::new(&m, exact).unwrap();
        s.set_input_f32(0, &x).unwrap();
        s.run().unwrap();
        assert_eq!(
            s.output_bytes(0).unwrap().as_ptr() as usize % WIDE_ALIGN,
            shift
        );
        outputs.push(s.output_bytes(0).unwrap().to_vec());
    }
    for o in &outputs {
        assert_eq!(o, &outputs[0], "same bytes at every alignment");
    }
    let got: Vec<f32> = outputs[0]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()), "{g} vs {e}");
    }
}
