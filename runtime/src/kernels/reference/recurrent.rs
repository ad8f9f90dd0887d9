//! The f32 reference kernel of ONNX LSTM / GRU / RNN ([`recurrent`], re-exported by
//! [`super::f32`], whose conventions it follows).

use super::f32::{clamp, unary_one};
use crate::format::types::{Cell, Direction, UnaryOp};
use crate::kernels::params::{RecurrentParams, RecurrentWeights};

/// Where a recurrent step reads the previous hidden state: the initial state, or the
/// previous step's row of `Y` in the output.
#[derive(Clone, Copy)]
enum Prev<'a> {
    Init(&'a [f32]),
    Row(usize),
}

impl Prev<'_> {
    #[inline]
    fn get(self, y: &[f32], k: usize) -> f32 {
        match self {
            Prev::Init(h) => h[k],
            Prev::Row(o) => y[o + k],
        }
    }
}

/// One gate row of a recurrent cell in one direction: `x·w[row] + wb[row]` and
/// `h·r[row] + rb[row]`, each summed in index order.
struct Gates<'a> {
    w: &'a [f32],
    r: &'a [f32],
    wb: &'a [f32],
    rb: &'a [f32],
    input: usize,
    hidden: usize,
}

impl Gates<'_> {
    #[inline]
    fn xw(&self, x: &[f32], row: usize) -> f32 {
        let w = &self.w[row * self.input..(row + 1) * self.input];
        let mut s = 0f32;
        for (a, b) in x.iter().zip(w) {
            s += a * b;
        }
        s + self.wb[row]
    }

    /// `sum_k h[k] r[row, k] + rb[row]` with `h[k] = h(k)`.
    #[inline]
    fn hr(&self, h: impl Fn(usize) -> f32, row: usize) -> f32 {
        let r = &self.r[row * self.hidden..(row + 1) * self.hidden];
        let mut s = 0f32;
        for (k, b) in r.iter().enumerate() {
            s += h(k) * b;
        }
        s + self.rb[row]
    }
}

/// ONNX LSTM / GRU / RNN over a whole sequence ([`RecurrentParams`],
/// [`RecurrentWeights`]): `x [S, B, I]`, `h0 [D, B, H]`, `c0 [D, B, H]` (LSTM; empty
/// otherwise) and `y [S + K, D, B, H]`: rows `0..S` are `Y`, row `S` is `Y_h`, LSTM row
/// `S + 1` is `Y_c`. Direction 0 runs forward (reverse for `Direction::Reverse`),
/// direction 1 of a bidirectional op in reverse.
///
/// Per step and unit `j`, each gate's pre-activation is `(x·W[j] + Wb[j]) + (h·R[j] +
/// Rb[j])` (dot products summed in index order; LSTM adds the peephole term), clamped to
/// `[-clip, clip]`, then activated (ONNX equations; GRU with `linear_before_reset` puts
/// the reset gate on `(h·R[j] + Rb[j])`, without it on `h` before the product). The
/// hidden state of step `t` is read from row `t ∓ 1` of `Y` (or `h0`); LSTM's cell
/// state lives in the `Y_c` row, and GRU without `linear_before_reset` keeps `r ⊙ h`
/// in the `Y_h` row until the last step writes `Y_h`.
pub fn recurrent(
    p: &RecurrentParams<'_>,
    wt: &RecurrentWeights<'_>,
    x: &[f32],
    h0: &[f32],
    c0: &[f32],
    y: &mut [f32],
) {
    let RecurrentParams {
        cell,
        direction,
        seq,
        batch,
        input,
        hidden: h,
        acts,
        clip,
    } = *p;
    let dirs = direction.count();
    let (g, na) = (cell.gates(), cell.activations());
    let row = |t: usize, d: usize, b: usize| ((t * dirs + d) * batch + b) * h;
    let act = |op: UnaryOp, v: f32| unary_one(op, clamp(v, (-clip, clip)));
    for d in 0..dirs {
        let reverse = direction == Direction::Reverse || d == 1;
        let (wb, rb) = wt.b[d * 2 * g * h..(d + 1) * 2 * g * h].split_at(g * h);
        let gates = Gates {
            w: &wt.w[d * g * h * input..(d + 1) * g * h * input],
            r: &wt.r[d * g * h * h..(d + 1) * g * h * h],
            wb,
            rb,
            input,
            hidden: h,
        };
        let a = &acts[d * na..(d + 1) * na];
        let peep = wt.p.map(|pp| &pp[d * 3 * h..(d + 1) * 3 * h]);
        for b in 0..batch {
            let init = (d * batch + b) * h;
            let hs = row(seq, d, b);
            let cs = row(seq + 1, d, b);
            if cell == Cell::Lstm {
                y[cs..cs + h].copy_from_slice(&c0[init..init + h]);
            }
            let mut prev = Prev::Init(&h0[init..init + h]);
            for k in 0..seq {
                let t = if reverse { seq - 1 - k } else { k };
                let xt = &x[(t * batch + b) * input..(t * batch + b + 1) * input];
                let cur = row(t, d, b);
                match cell {
                    Cell::Lstm => {
                        for j in 0..h {
                            let hr = |gi: usize| gates.hr(|k| prev.get(y, k), gi * h + j);
                            let pre = |gi: usize| gates.xw(xt, gi * h + j) + hr(gi);
                            let pk = |q: usize| peep.map_or(0.0, |pp| pp[q * h + j]);
                            let c_prev = y[cs + j];
                            let i = act(a[0], pre(0) + pk(0) * c_prev);
                            let f = act(a[0], pre(2) + pk(2) * c_prev);
                            let c_in = act(a[1], pre(3));
                            let c = f * c_prev + i * c_in;
                            let o = act(a[0], pre(1) + pk(1) * c);
                            y[cs + j] = c;
                            y[cur + j] = o * unary_one(a[2], c);
                        }
                    }
                    Cell::Gru {
                        linear_before_reset: true,
                    } => {
                        for j in 0..h {
                            let hr = |gi: usize| gates.hr(|k| prev.get(y, k), gi * h + j);
                            let z = act(a[0], gates.xw(xt, j) + hr(0));
                            let r = act(a[0], gates.xw(xt, h + j) + hr(1));
                            let n = act(a[1], gates.xw(xt, 2 * h + j) + r * hr(2));
                            y[cur + j] = (1.0 - z) * n + z * prev.get(y, j);
                        }
                    }
                    Cell::Gru {
                        linear_before_reset: false,
                    } => {
                        for j in 0..h {
                            let hr = gates.hr(|k| prev.get(y, k), h + j);
                            let r = act(a[0], gates.xw(xt, h + j) + hr);
                            y[hs + j] = r * prev.get(y, j);
                        }
                        for j in 0..h {
                            let zr = gates.hr(|k| prev.get(y, k), j);
                            let z = act(a[0], gates.xw(xt, j) + zr);
                            let nr = gates.hr(|k| y[hs + k], 2 * h + j);
                            let n = act(a[1], gates.xw(xt, 2 * h + j) + nr);
                            y[cur + j] = (1.0 - z) * n + z * prev.get(y, j);
                        }
                    }
                    Cell::Rnn => {
                        for j in 0..h {
                            let hr = gates.hr(|k| prev.get(y, k), j);
                            y[cur + j] = act(a[0], gates.xw(xt, j) + hr);
                        }
                    }
                }
                prev = Prev::Row(cur);
            }
            if let Prev::Row(last) = prev {
                y.copy_within(last..last + h, hs);
            }
        }
    }
}
