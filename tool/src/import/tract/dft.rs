//! Discrete Fourier transforms as a product by a constant matrix:
//!
//! | ONNX op | decluttered tract op | ferrite ops |
//! |---|---|---|
//! | DFT (opset 17–19 with the axis as an attribute, opset 20 with a constant axis; forward, inverse, `onesided`; real or complex input) | `Fft` (with tract's `Pad`, `Slice`, `Gather`, `Mul`/`Div` around it) | `Transpose` (transform axis and the complex pair last), `Reshape [outer, 2n]`, `FullyConnected` by the `[2n, 2n]` real form of the DFT matrix, `Reshape`, `Transpose` back |
//!
//! Output bin `k` is `sum_j exp(∓2πi·jk/n) x_j` (tract's `Fft`: unnormalized; tract
//! divides the inverse by `n` after it). The matrix entries are `cos` and `sin` of
//! `2π·(jk mod n)/n` computed in f64 and rounded once to f32, so the transform is a
//! dot product of `2n` terms in f32: its error grows like that of a naive DFT
//! (≈ n·ε·|x|), against the FFT's log n — for the transform lengths of sensor models
//! (tens to hundreds) within the ONNX test tolerances. Its cost is `4n²` multiply-adds
//! per transform.

use super::lower::{Lower, Outcome};
use crate::error::Result;
use crate::ir::Data;
use ferrite::format::types::{Activation, Op};
use ferrite::DType;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::fft::Fft;

/// Longest transform lowered (the matrix has `4n²` f32 entries: 4 MiB at 512).
const MAX_LEN: usize = 512;

/// `Fft`.
pub(super) fn lower(l: &mut Lower<'_>, node: &TypedNode) -> Result<Outcome> {
    let Some(fft) = node.op_as::<Fft>() else {
        return Ok(Outcome::NotMine);
    };
    let o = l.out(node);
    if l.dtype(node.inputs[0])? != DType::F32 || l.dtype(o)? != DType::F32 {
        return Ok(Outcome::Unsupported);
    }
    let x = l.value(node.inputs[0])?;
    let xs = l.g.tensors[x].shape.clone();
    let rank = xs.len();
    let axis = fft.axis;
    if rank < 2 || axis + 1 >= rank || xs[rank - 1] != 2 || xs[axis] > MAX_LEN {
        return Ok(Outcome::Unsupported);
    }
    let n = xs[axis];
    let name = node.name.clone();
    // [others.., n, 2]
    let mut perm: Vec<usize> = (0..rank - 1).filter(|&d| d != axis).collect();
    perm.extend([axis, rank - 1]);
    let outer: usize = perm[..rank - 2].iter().map(|&d| xs[d]).product();
    let identity = perm.iter().enumerate().all(|(i, &p)| i == p);
    let t = if identity {
        x
    } else {
        l.transpose(x, &perm, &format!("{name}.to_last"))?
    };
    let t = l.reshape(t, &[outer, 2 * n], &format!("{name}.rows"));
    let w = l.g.add_const(
        &format!("{name}.matrix"),
        &[2 * n, 2 * n],
        Data::F32(matrix(n, fft.inverse)),
    );
    let y = l.g.add_node(
        &format!("{name}.dft"),
        Op::FullyConnected {
            act: Activation::None,
            q: None,
        },
        &[t, w],
        &[outer, 2 * n],
        DType::F32,
    );
    let moved: Vec<usize> = perm.iter().map(|&d| xs[d]).collect();
    let y = l.reshape(y, &moved, &format!("{name}.unrows"));
    let y = if identity {
        y
    } else {
        let mut back = vec![0; rank];
        for (i, &p) in perm.iter().enumerate() {
            back[p] = i;
        }
        l.transpose(y, &back, &format!("{name}.from_last"))?
    };
    let y = l.reshape(y, &xs, &name);
    l.map.insert(o, y);
    Ok(Outcome::Lowered)
}

/// The `[2n, 2n]` FullyConnected weights (`[N, K]`, row `2k + c'`, column `2j + c`,
/// `c = 0` the real part) of the DFT of length `n`: `y_k = sum_j w^(jk) x_j` with
/// `w = exp(-2πi/n)` (forward) or `exp(2πi/n)` (inverse, unnormalized).
fn matrix(n: usize, inverse: bool) -> Vec<f32> {
    let sigma = if inverse { 1.0 } else { -1.0 };
    let mut w = vec![0f32; 4 * n * n];
    for k in 0..n {
        for j in 0..n {
            let theta = 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
            let (s, c) = theta.sin_cos();
            let (c, s) = (c as f32, (sigma * s) as f32);
            let at = |row: usize, col: usize| row * 2 * n + col;
            w[at(2 * k, 2 * j)] = c;
            w[at(2 * k, 2 * j + 1)] = -s;
            w[at(2 * k + 1, 2 * j)] = s;
            w[at(2 * k + 1, 2 * j + 1)] = c;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::matrix;

    /// The matrix against a DFT written out by hand for n = 4: bins of
    /// x = [1, 2i, -1, 0] are X_k = sum_j x_j (-i)^(jk).
    #[test]
    fn matrix_is_the_dft() {
        let x = [1.0f32, 0.0, 0.0, 2.0, -1.0, 0.0, 0.0, 0.0];
        // X0 = 1 + 2i - 1 = 2i; X1 = 1 + 2i·(-i) - 1·(-1) = 4; X2 = 1 + 2i·(-1) - 1 = -2i;
        // X3 = 1 + 2i·(i) - 1·(-1) = 0.
        let want = [0.0f32, 2.0, 4.0, 0.0, 0.0, -2.0, 0.0, 0.0];
        for (inverse, want) in [
            (false, want),
            (true, [0.0, 2.0, 0.0, 0.0, 0.0, -2.0, 4.0, 0.0]),
        ] {
            let w = matrix(4, inverse);
            for (r, &want) in want.iter().enumerate() {
                let got: f32 = (0..8).map(|c| w[r * 8 + c] * x[c]).sum();
                assert!(
                    (got - want).abs() < 1e-6,
                    "inverse {inverse}, row {r}: {got} vs {want}"
                );
            }
        }
    }
}
