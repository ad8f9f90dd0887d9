//! Recurrent: ONNX LSTM, GRU and RNN over a whole sequence (f32), see
//! [`Op::Recurrent`](crate::Op::Recurrent) for the operands and the packed output.

use super::common::{cast, cast_mut, ensure, f32s, gate, Check, Checked, Cx};
use crate::error::{OpReason, Result};
use crate::format::types::{Cell, Direction, OpGroup, UnaryOp};
use crate::kernels::{recurrent::recurrent, RecurrentParams, RecurrentWeights};

/// The op group (Cargo feature) of this module's ops: [`Op::group`](crate::Op::group)
/// reads it, and every function here returns early without it.
pub(super) const GROUP: OpGroup = OpGroup::Recurrent;

/// An activation ONNX allows for a recurrent op that this build computes, with finite
/// parameters (LeakyRelu, HardSigmoid, Elu and Softplus are `ops-math` functions).
fn act_ok(op: &UnaryOp) -> bool {
    match *op {
        UnaryOp::Sigmoid | UnaryOp::Tanh | UnaryOp::Relu => true,
        UnaryOp::LeakyRelu { alpha } => alpha.is_finite(),
        UnaryOp::HardSigmoid { alpha, beta } => {
            OpGroup::Math.enabled() && alpha.is_finite() && beta.is_finite()
        }
        UnaryOp::Elu { alpha } => OpGroup::Math.enabled() && alpha.is_finite(),
        UnaryOp::Softplus => OpGroup::Math.enabled(),
        _ => false,
    }
}

/// Inputs x `[S, B, I]`, w `[D, G·H, I]`, r `[D, G·H, H]`, b `[D, 2·G·H]`, initial_h
/// `[D, B, H]` and for LSTM initial_c `[D, B, H]` and optionally p `[D, 3·H]`, all f32;
/// w, r, b, p constant with finite values or (format 1.4) computed at run time; output
/// `[S + K, D, B, H]` f32; `n · D` allowed activations; `clip` positive (not NaN).
pub(super) fn check(
    c: &Check<'_, '_>,
    cell: Cell,
    direction: Direction,
    acts: &[UnaryOp],
    clip: Option<f32>,
) -> Checked {
    gate(GROUP)?;
    let n = c.ins.len();
    ensure(
        match cell {
            Cell::Lstm => n == 6 || n == 7,
            Cell::Gru { .. } | Cell::Rnn => n == 5,
        },
        OpReason::Arity,
    )?;
    let all: [_; 8] = core::array::from_fn(|k| c.ins.get(k).unwrap_or(c.out));
    f32s(&all)?;
    let (d, g) = (direction.count() as u64, cell.gates() as u64);
    ensure(
        acts.len() == cell.activations() * direction.count() && acts.iter().all(act_ok),
        OpReason::Attribute,
    )?;
    ensure(clip.is_none_or(|v| v > 0.0), OpReason::Attribute)?;
    let u = |s: &[u32]| -> heapless::Vec<u64, 4> { s.iter().map(|&v| v as u64).collect() };
    let x = u(&c.x.shape);
    let r = u(&c.ins[2].shape);
    ensure(x.len() == 3 && r.len() == 3, OpReason::Shape)?;
    let (s, b, i, h) = (x[0], x[1], x[2], r[2]);
    let state = [d, b, h];
    let rows = s + cell.state_rows() as u64;
    ensure(
        r.as_slice() == [d, g * h, h]
            && u(&c.ins[1].shape).as_slice() == [d, g * h, i]
            && u(&c.ins[3].shape).as_slice() == [d, 2 * g * h]
            && u(&c.ins[4].shape).as_slice() == state
            && c.ins.get(5).is_none_or(|t| u(&t.shape).as_slice() == state)
            && c.ins
                .get(6)
                .is_none_or(|t| u(&t.shape).as_slice() == [d, 3 * h])
            && u(&c.out.shape).as_slice() == [rows, d, b, h]
            && rows <= u32::MAX as u64,
        OpReason::Shape,
    )?;
    // Constant weights must be finite; weights computed at run time (format 1.4, e.g.
    // ONNX graph inputs) are used as they come, like any activation.
    for k in [1, 2, 3, 6] {
        let Some(t) = c.ins.get(k) else { continue };
        if let Some(v) = c.const_f32(t) {
            ensure(v.iter().all(|v| v.is_finite()), OpReason::ConstantData)?;
        }
    }
    Ok(())
}

pub(super) fn run(
    cx: &Cx<'_, '_>,
    y: &mut [u8],
    cell: Cell,
    direction: Direction,
    acts: &[UnaryOp],
    clip: Option<f32>,
) -> Result<()> {
    cx.gate(GROUP)?;
    let (xs, _) = cx.x.udims();
    let r = cx.operand(2)?;
    let p = RecurrentParams {
        cell,
        direction,
        seq: xs[0],
        batch: xs[1],
        input: xs[2],
        hidden: *r.shape().get(2).ok_or(cx.internal())? as usize,
        acts,
        clip: clip.unwrap_or(f32::INFINITY),
    };
    let wt = RecurrentWeights {
        w: cx.input(1)?,
        r: cx.slice(&r)?,
        b: cx.input(3)?,
        p: cx.optional(6)?,
    };
    let c0 = cx.optional(5)?.unwrap_or(&[]);
    let x = cast(cx.bytes(&cx.x)?)?;
    recurrent(&p, &wt, x, cx.input(4)?, c0, cast_mut(y)?);
    Ok(())
}
