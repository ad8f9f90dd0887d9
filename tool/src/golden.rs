//! Golden vectors written by `ferrite convert`: compact ones (a seed and a digest of
//! each output, `docs/format.md` section 8) where every input can be generated on the
//! device, else full vectors of real (or synthetic) rows.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::ir::Graph;
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, DType, OwnedSession};

/// Deterministic pseudo-random inputs in [-1, 1) when no data was given.
fn synthetic_rows(n: usize, width: usize) -> Vec<Vec<f32>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            (0..width)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                })
                .collect()
        })
        .collect()
}

/// Seed of compact golden vector `g` (any fixed value works; the runtime reads it from
/// the file).
fn golden_seed(g: usize) -> u64 {
    0x6665_7272_6974_6531 ^ (g as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

/// Stores `n` golden vectors. When every graph input is f32, int8 or uint8 they are
/// compact (section 8: a seed from which every target regenerates the inputs, and the
/// FNV-1a 64 digest of each output's bytes — ~30 bytes each); otherwise, or when a
/// generated input gives a NaN output, the model's own output bytes for the first rows,
/// stored in full (section 6).
pub(crate) fn add_golden(
    b: &mut ModelBuilder,
    graph: &Graph,
    data: Option<&Dataset>,
    n: usize,
) -> Result<usize> {
    b.clear_golden();
    if n == 0 {
        return Ok(0);
    }
    {
        let bytes = b.finish()?;
        let aligned = AlignedModel::new(&bytes);
        let model = aligned.model()?;
        let compact = (0..model.num_inputs()).all(|i| {
            model
                .input(i)
                .is_ok_and(|t| matches!(t.dtype, DType::F32 | DType::I8 | DType::U8))
        });
        if compact && model.num_inputs() > 0 {
            let mut owned = OwnedSession::new(&model);
            let mut s = owned.session();
            let mut vectors = Vec::new();
            for g in 0..n {
                let seed = golden_seed(g);
                for i in 0..model.num_inputs() {
                    let mut x = vec![0u8; model.input(i)?.byte_len().unwrap_or(0)];
                    if !ferrite::format::golden_input(seed, i, model.input(i)?.dtype, &mut x) {
                        return Err(Error::Other("golden input generation failed".into()));
                    }
                    s.set_input_bytes(i, &x)?;
                }
                s.run()?;
                // A NaN's bits may differ between targets (x86 and Arm make different
                // default NaNs): such a model keeps full vectors of real rows.
                let nan = (0..model.num_outputs()).any(|i| {
                    model.output(i).is_ok_and(|t| t.dtype == DType::F32)
                        && s.output_bytes(i).is_ok_and(|o| {
                            o.chunks_exact(4)
                                .any(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_nan())
                        })
                });
                if nan {
                    vectors.clear();
                    break;
                }
                let digests = (0..model.num_outputs())
                    .map(|i| s.output_bytes(i).map(ferrite::format::fnv1a64))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                vectors.push((seed, digests));
            }
            if !vectors.is_empty() {
                for (seed, digests) in vectors {
                    b.add_golden_digest(seed, digests);
                }
                return Ok(n);
            }
        }
    }
    if graph.inputs.is_empty() {
        return Ok(0);
    }
    let widths: Vec<usize> = graph
        .inputs
        .iter()
        .map(|&i| graph.tensors[i].elements())
        .collect();
    let rows: Vec<Vec<f32>> = match data {
        Some(d) => d.iter_rows().take(n).map(|r| r.to_vec()).collect(),
        None => synthetic_rows(n, widths.iter().sum()),
    };
    let bytes = b.finish()?;
    let aligned = AlignedModel::new(&bytes);
    let model = aligned.model()?;
    let mut owned = OwnedSession::new(&model);
    let mut s = owned.session();
    let mut vectors = Vec::new();
    for row in &rows {
        let mut inputs = Vec::new();
        for (k, x) in crate::feed::split(row, &widths).into_iter().enumerate() {
            s.set_input_f32(k, x)?;
            let def = model.input(k)?;
            inputs.push(match (def.dtype, def.quant) {
                (DType::I8, ferrite::Quant::PerTensor { scale, zero_point }) => {
                    let mut q = vec![0i8; x.len()];
                    ferrite::kernels::f32::quantize_i8(x, scale, zero_point, &mut q);
                    q.iter().map(|&v| v as u8).collect::<Vec<u8>>()
                }
                _ => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
            });
        }
        s.run()?;
        let outputs = (0..model.num_outputs())
            .map(|i| s.output_bytes(i).map(|o| o.to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        vectors.push((inputs, outputs));
    }
    let count = vectors.len();
    for (i, o) in vectors {
        b.add_golden(i, o);
    }
    Ok(count)
}
