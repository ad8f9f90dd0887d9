//! `Op::Recurrent` (ONNX LSTM, GRU, RNN): the kernel through a model against a naive
//! f64 reference written from the ONNX equations in matrix form (whole gate vectors per
//! step), and the loader's checks, one hostile model per check.

use ferrite::format::types::{Cell, DType, Direction, Op, Quant, UnaryOp};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OpReason, OwnedSession};

/// Deterministic values in about `[-scale, scale]`.
fn values(n: usize, salt: u32, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v = (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(salt.wrapping_mul(40503));
            ((v >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn f(op: UnaryOp, v: f64) -> f64 {
    match op {
        UnaryOp::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        UnaryOp::Tanh => v.tanh(),
        UnaryOp::Relu => v.max(0.0),
        UnaryOp::LeakyRelu { alpha } => {
            if v < 0.0 {
                alpha as f64 * v
            } else {
                v
            }
        }
        UnaryOp::HardSigmoid { alpha, beta } => (alpha as f64 * v + beta as f64).clamp(0.0, 1.0),
        other => panic!("no reference for {other:?}"),
    }
}

/// One recurrent case: sizes, attributes and operands.
struct Case {
    cell: Cell,
    direction: Direction,
    acts: Vec<UnaryOp>,
    clip: Option<f32>,
    s: usize,
    b: usize,
    i: usize,
    h: usize,
    peepholes: bool,
    /// W, R, B and P are graph inputs (format 1.4) instead of constants.
    arena_weights: bool,
}

struct Operands {
    x: Vec<f32>,
    w: Vec<f32>,
    r: Vec<f32>,
    bias: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    p: Vec<f32>,
}

impl Case {
    fn dirs(&self) -> usize {
        self.direction.count()
    }

    fn operands(&self) -> Operands {
        let (d, g, h) = (self.dirs(), self.cell.gates(), self.h);
        Operands {
            x: values(self.s * self.b * self.i, 1, 1.5),
            w: values(d * g * h * self.i, 2, 0.6),
            r: values(d * g * h * h, 3, 0.6),
            bias: values(d * 2 * g * h, 4, 0.3),
            h0: values(d * self.b * h, 5, 0.8),
            c0: values(d * self.b * h, 6, 0.8),
            p: values(d * 3 * h, 7, 0.5),
        }
    }

    /// `[Y; Y_h; Y_c]` from the ONNX equations, gate vectors as matrix products in f64.
    fn reference(&self, o: &Operands) -> Vec<f32> {
        let (dirs, g, h, b_n, i_n, s_n) = (
            self.dirs(),
            self.cell.gates(),
            self.h,
            self.b,
            self.i,
            self.s,
        );
        let na = self.cell.activations();
        let rows = s_n + self.cell.state_rows();
        let mut y = vec![0f64; rows * dirs * b_n * h];
        let at = |t: usize, d: usize, b: usize| ((t * dirs + d) * b_n + b) * h;
        let clip = |v: f64| match self.clip {
            Some(c) => v.clamp(-c as f64, c as f64),
            None => v,
        };
        for d in 0..dirs {
            let a = &self.acts[d * na..(d + 1) * na];
            let reverse = self.direction == Direction::Reverse || d == 1;
            // matvec of gate block `gi`: W x + Wb, R v + Rb.
            let wx = |gi: usize, x: &[f64]| -> Vec<f64> {
                (0..h)
                    .map(|j| {
                        let row = (d * g + gi) * h + j;
                        (0..i_n)
                            .map(|k| o.w[row * i_n + k] as f64 * x[k])
                            .sum::<f64>()
                            + o.bias[d * 2 * g * h + gi * h + j] as f64
                    })
                    .collect()
            };
            let rv = |gi: usize, v: &[f64]| -> Vec<f64> {
                (0..h)
                    .map(|j| {
                        let row = (d * g + gi) * h + j;
                        (0..h).map(|k| o.r[row * h + k] as f64 * v[k]).sum::<f64>()
                            + o.bias[d * 2 * g * h + g * h + gi * h + j] as f64
                    })
                    .collect()
            };
            for b in 0..b_n {
                let s0 = (d * b_n + b) * h;
                let mut hp: Vec<f64> = o.h0[s0..s0 + h].iter().map(|&v| v as f64).collect();
                let mut cp: Vec<f64> = o.c0[s0..s0 + h].iter().map(|&v| v as f64).collect();
                for k in 0..s_n {
                    let t = if reverse { s_n - 1 - k } else { k };
                    let x: Vec<f64> = o.x[(t * b_n + b) * i_n..][..i_n]
                        .iter()
                        .map(|&v| v as f64)
                        .collect();
                    let hn: Vec<f64> = match self.cell {
                        Cell::Rnn => {
                            let (p, q) = (wx(0, &x), rv(0, &hp));
                            (0..h).map(|j| f(a[0], clip(p[j] + q[j]))).collect()
                        }
                        Cell::Gru {
                            linear_before_reset,
                        } => {
                            let (xz, hz) = (wx(0, &x), rv(0, &hp));
                            let (xr, hr) = (wx(1, &x), rv(1, &hp));
                            let z: Vec<f64> =
                                (0..h).map(|j| f(a[0], clip(xz[j] + hz[j]))).collect();
                            let r: Vec<f64> =
                                (0..h).map(|j| f(a[0], clip(xr[j] + hr[j]))).collect();
                            let xn = wx(2, &x);
                            let n: Vec<f64> = if linear_before_reset {
                                let hn = rv(2, &hp);
                                (0..h)
                                    .map(|j| f(a[1], clip(xn[j] + r[j] * hn[j])))
                                    .collect()
                            } else {
                                let rh: Vec<f64> = (0..h).map(|j| r[j] * hp[j]).collect();
                                let hn = rv(2, &rh);
                                (0..h).map(|j| f(a[1], clip(xn[j] + hn[j]))).collect()
                            };
                            (0..h).map(|j| (1.0 - z[j]) * n[j] + z[j] * hp[j]).collect()
                        }
                        Cell::Lstm => {
                            let pre = |gi: usize| -> Vec<f64> {
                                let (p, q) = (wx(gi, &x), rv(gi, &hp));
                                (0..h).map(|j| p[j] + q[j]).collect()
                            };
                            let pk = |q: usize, j: usize| {
                                if self.peepholes {
                                    o.p[d * 3 * h + q * h + j] as f64
                                } else {
                                    0.0
                                }
                            };
                            let (pi, po, pf, pc) = (pre(0), pre(1), pre(2), pre(3));
                            let mut hn = vec![0.0; h];
                            for j in 0..h {
                                let ig = f(a[0], clip(pi[j] + pk(0, j) * cp[j]));
                                let fg = f(a[0], clip(pf[j] + pk(2, j) * cp[j]));
                                let cg = f(a[1], clip(pc[j]));
                                let c = fg * cp[j] + ig * cg;
                                let og = f(a[0], clip(po[j] + pk(1, j) * c));
                                cp[j] = c;
                                hn[j] = og * f(a[2], c);
                            }
                            hn
                        }
                    };
                    y[at(t, d, b)..][..h].copy_from_slice(&hn);
                    hp = hn;
                }
                y[at(s_n, d, b)..][..h].copy_from_slice(&hp);
                if self.cell == Cell::Lstm {
                    y[at(s_n + 1, d, b)..][..h].copy_from_slice(&cp);
                }
            }
        }
        y.into_iter().map(|v| v as f32).collect()
    }

    fn op(&self) -> Op {
        Op::Recurrent {
            cell: self.cell,
            direction: self.direction,
            acts: heapless::Vec::from_slice(&self.acts).unwrap(),
            clip: self.clip,
        }
    }

    fn out_shape(&self) -> Vec<u32> {
        let rows = self.s + self.cell.state_rows();
        [rows, self.dirs(), self.b, self.h]
            .map(|v| v as u32)
            .to_vec()
    }
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The operand list `(name, shape, values, constant)` of a case, in ONNX order.
type Spec = Vec<(&'static str, Vec<u32>, Vec<f32>, bool)>;

fn spec(c: &Case, o: &Operands) -> Spec {
    let (d, g, h) = (c.dirs() as u32, c.cell.gates() as u32, c.h as u32);
    let (s, b, i) = (c.s as u32, c.b as u32, c.i as u32);
    let k = !c.arena_weights;
    let mut v: Spec = vec![
        ("x", vec![s, b, i], o.x.clone(), false),
        ("w", vec![d, g * h, i], o.w.clone(), k),
        ("r", vec![d, g * h, h], o.r.clone(), k),
        ("b", vec![d, 2 * g * h], o.bias.clone(), k),
        ("h0", vec![d, b, h], o.h0.clone(), false),
    ];
    if c.cell == Cell::Lstm {
        v.push(("c0", vec![d, b, h], o.c0.clone(), false));
        if c.peepholes {
            v.push(("p", vec![d, 3 * h], o.p.clone(), k));
        }
    }
    v
}

fn build(op: Op, spec: &Spec, out: &[u32]) -> Vec<u8> {
    let mut m = ModelBuilder::new("recurrent");
    let (mut ids, mut inputs) = (Vec::new(), Vec::new());
    for (name, shape, vals, konst) in spec {
        let id = if *konst {
            m.add_const(name, DType::F32, shape, &bytes(vals), Quant::None)
                .unwrap()
        } else {
            let id = m.add_tensor(name, DType::F32, shape, Quant::None).unwrap();
            inputs.push(id);
            id
        };
        ids.push(id);
    }
    let y = m.add_tensor("y", DType::F32, out, Quant::None).unwrap();
    m.add_op(op, &ids, &[y]).unwrap();
    m.set_io(&inputs, &[y]).unwrap();
    m.finish().unwrap()
}

fn run(c: &Case, o: &Operands) -> Vec<f32> {
    let sp = spec(c, o);
    let file = build(c.op(), &sp, &c.out_shape());
    // The header's minor: 1 (Recurrent) with constant weights, 4 with arena weights.
    let minor = u16::from_le_bytes([file[6], file[7]]);
    assert_eq!(minor, if c.arena_weights { 4 } else { 1 });
    let a = AlignedModel::new(&file);
    let m = a.model().unwrap();
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    for (k, (_, _, vals, _)) in sp.iter().filter(|t| !t.3).enumerate() {
        s.set_input_f32(k, vals).unwrap();
    }
    s.run().unwrap();
    let mut y = vec![0f32; m.output_len(0).unwrap()];
    s.output_f32(0, &mut y).unwrap();
    y
}

fn case(cell: Cell, direction: Direction, acts: &[UnaryOp]) -> Case {
    let acts: Vec<UnaryOp> = (0..direction.count())
        .flat_map(|_| acts.iter().copied())
        .collect();
    Case {
        cell,
        direction,
        acts,
        clip: None,
        s: 4,
        b: 2,
        i: 3,
        h: 5,
        peepholes: false,
        arena_weights: false,
    }
}

const LSTM: Cell = Cell::Lstm;
const GRU1: Cell = Cell::Gru {
    linear_before_reset: true,
};
const GRU0: Cell = Cell::Gru {
    linear_before_reset: false,
};
const SIG: UnaryOp = UnaryOp::Sigmoid;
const TANH: UnaryOp = UnaryOp::Tanh;
const RELU: UnaryOp = UnaryOp::Relu;

#[test]
fn recurrent_ops_match_the_onnx_equations() {
    let dirs = [
        Direction::Forward,
        Direction::Reverse,
        Direction::Bidirectional,
    ];
    let mut cases = Vec::new();
    for d in dirs {
        cases.push(case(LSTM, d, &[SIG, TANH, TANH]));
        cases.push(case(GRU1, d, &[SIG, TANH]));
        cases.push(case(GRU0, d, &[SIG, TANH]));
        cases.push(case(Cell::Rnn, d, &[TANH]));
        cases.push(case(Cell::Rnn, d, &[RELU]));
    }
    // Peepholes, clip, other activations, one step, batch 1.
    let mut c = case(LSTM, Direction::Bidirectional, &[SIG, TANH, TANH]);
    c.peepholes = true;
    c.clip = Some(0.7);
    cases.push(c);
    let mut c = case(
        GRU0,
        Direction::Forward,
        &[
            UnaryOp::HardSigmoid {
                alpha: 0.2,
                beta: 0.5,
            },
            UnaryOp::LeakyRelu { alpha: 0.1 },
        ],
    );
    c.clip = Some(1.2);
    cases.push(c);
    let mut c = case(LSTM, Direction::Reverse, &[SIG, RELU, TANH]);
    c.s = 1;
    c.b = 1;
    cases.push(c);
    let mut c = case(GRU1, Direction::Bidirectional, &[SIG, TANH]);
    c.s = 1;
    cases.push(c);
    // Every case again with W, R, B (and P) fed at run time (ONNX graph inputs).
    let arena: Vec<Case> = cases
        .iter()
        .map(|c| Case {
            acts: c.acts.clone(),
            arena_weights: true,
            ..*c
        })
        .collect();
    for c in cases.iter().chain(&arena) {
        let o = c.operands();
        let (got, want) = (run(c, &o), c.reference(&o));
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5,
                "{:?} {:?} {:?} clip {:?} arena weights {} [{k}]: {g} vs {w}",
                c.cell,
                c.direction,
                c.acts,
                c.clip,
                c.arena_weights
            );
        }
    }
}

/// Each edit of a valid LSTM / GRU model is a `BadOp` with the reason of the check.
#[test]
fn loader_rejects_malformed_recurrent_ops() {
    let good = {
        let mut c = case(LSTM, Direction::Bidirectional, &[SIG, TANH, TANH]);
        c.peepholes = true;
        c
    };
    let o = good.operands();
    let sp = spec(&good, &o);
    let load = |op: Op, sp: &Spec, out: &[u32]| {
        let file = build(op, sp, out);
        AlignedModel::new(&file).model().map(|_| ())
    };
    assert_eq!(load(good.op(), &sp, &good.out_shape()), Ok(()));
    let with_op = |edit: fn(&mut Op)| {
        let mut op = good.op();
        edit(&mut op);
        load(op, &sp, &good.out_shape())
    };
    let with_spec = |edit: &dyn Fn(&mut Spec)| {
        let mut s = sp.clone();
        edit(&mut s);
        for t in &mut s {
            let n = t.1.iter().product::<u32>() as usize;
            t.2.resize(n, 0.25);
        }
        load(good.op(), &s, &good.out_shape())
    };
    let bad = |reason| Err(Error::BadOp { op: 0, reason });
    fn acts(op: &mut Op) -> &mut heapless::Vec<UnaryOp, 6> {
        match op {
            Op::Recurrent { acts, .. } => acts,
            _ => unreachable!(),
        }
    }
    let cases: Vec<(&str, Result<(), Error>, OpReason)> = vec![
        (
            "GRU cell with LSTM operands",
            with_op(|op| {
                if let Op::Recurrent { cell, acts, .. } = op {
                    *cell = GRU1;
                    acts.truncate(4);
                }
            }),
            OpReason::Arity,
        ),
        (
            "too few activations",
            with_op(|op| {
                acts(op).pop();
            }),
            OpReason::Attribute,
        ),
        (
            "an activation ONNX does not allow",
            with_op(|op| acts(op)[1] = UnaryOp::Exp),
            OpReason::Attribute,
        ),
        (
            "LeakyRelu with a NaN slope",
            with_op(|op| acts(op)[0] = UnaryOp::LeakyRelu { alpha: f32::NAN }),
            OpReason::Attribute,
        ),
        (
            "zero clip",
            with_op(|op| {
                if let Op::Recurrent { clip, .. } = op {
                    *clip = Some(0.0);
                }
            }),
            OpReason::Attribute,
        ),
        (
            "NaN clip",
            with_op(|op| {
                if let Op::Recurrent { clip, .. } = op {
                    *clip = Some(f32::NAN);
                }
            }),
            OpReason::Attribute,
        ),
        (
            "forward op with two directions of weights",
            with_op(|op| {
                if let Op::Recurrent {
                    direction, acts, ..
                } = op
                {
                    *direction = Direction::Forward;
                    acts.truncate(3);
                }
            }),
            OpReason::Shape,
        ),
        (
            "W of the wrong input size",
            with_spec(&|s| s[1].1[2] += 1),
            OpReason::Shape,
        ),
        (
            "R not square in H",
            with_spec(&|s| s[2].1[2] += 1),
            OpReason::Shape,
        ),
        (
            "B too short",
            with_spec(&|s| s[3].1[1] -= 1),
            OpReason::Shape,
        ),
        (
            "initial_h of another batch",
            with_spec(&|s| s[4].1[1] += 1),
            OpReason::Shape,
        ),
        (
            "initial_c of another hidden size",
            with_spec(&|s| s[5].1[2] += 1),
            OpReason::Shape,
        ),
        (
            "P of the wrong length",
            with_spec(&|s| s[6].1[1] += 1),
            OpReason::Shape,
        ),
        (
            "a NaN in R",
            with_spec(&|s| s[2].2[7] = f32::NAN),
            OpReason::ConstantData,
        ),
        (
            "an infinite peephole",
            with_spec(&|s| s[6].2[0] = f32::INFINITY),
            OpReason::ConstantData,
        ),
    ];
    for (what, got, reason) in cases {
        assert_eq!(got, bad(reason), "{what}");
    }
    // The output must hold Y, Y_h and Y_c.
    let mut short = good.out_shape();
    short[0] -= 1;
    assert_eq!(
        load(good.op(), &sp, &short),
        bad(OpReason::Shape),
        "output without Y_c"
    );
    // x must be rank 3.
    let mut s = sp.clone();
    s[0].1 = vec![4, 2, 3, 1];
    assert_eq!(
        load(good.op(), &s, &good.out_shape()),
        bad(OpReason::Shape),
        "rank-4 x"
    );
    // Every operand is f32.
    let mut m = ModelBuilder::new("recurrent");
    let (mut ids, mut inputs) = (Vec::new(), Vec::new());
    for (k, (name, shape, vals, konst)) in sp.iter().enumerate() {
        let id = if *konst {
            m.add_const(name, DType::F32, shape, &bytes(vals), Quant::None)
                .unwrap()
        } else {
            let dt = if k == 4 { DType::I32 } else { DType::F32 };
            let id = m.add_tensor(name, dt, shape, Quant::None).unwrap();
            inputs.push(id);
            id
        };
        ids.push(id);
    }
    let y = m
        .add_tensor("y", DType::F32, &good.out_shape(), Quant::None)
        .unwrap();
    m.add_op(good.op(), &ids, &[y]).unwrap();
    m.set_io(&inputs, &[y]).unwrap();
    let file = m.finish().unwrap();
    assert_eq!(
        AlignedModel::new(&file).model().map(|_| ()),
        bad(OpReason::DType)
    );
}

// ---------------------------------------------------------------- streaming

/// A one-step LSTM (or a whole sequence of `seq` steps) of `c`'s weights: inputs x
/// `[seq, B, I]`, initial_h, initial_c; outputs the last step's `Y` `[B, H]`, `h_n`,
/// `c_n`; with `stream`, `h_n` → initial_h and `c_n` → initial_c are its state pairs
/// (or the raw STATE section `raw` instead).
fn lstm_model(c: &Case, o: &Operands, seq: usize, stream: bool, raw: Option<Vec<u8>>) -> Vec<u8> {
    let (d, g, h, b, i) = (1u32, 4u32, c.h as u32, c.b as u32, c.i as u32);
    let s = seq as u32;
    let mut m = ModelBuilder::new("stream");
    let x = m
        .add_tensor("x", DType::F32, &[s, b, i], Quant::None)
        .unwrap();
    let w = m
        .add_const(
            "w",
            DType::F32,
            &[d, g * h, i],
            &bytes(&o.w[..(g * h * i) as usize]),
            Quant::None,
        )
        .unwrap();
    let r = m
        .add_const(
            "r",
            DType::F32,
            &[d, g * h, h],
            &bytes(&o.r[..(g * h * h) as usize]),
            Quant::None,
        )
        .unwrap();
    let bb = m
        .add_const(
            "b",
            DType::F32,
            &[d, 2 * g * h],
            &bytes(&o.bias[..(2 * g * h) as usize]),
            Quant::None,
        )
        .unwrap();
    let h0 = m
        .add_tensor("initial_h", DType::F32, &[d, b, h], Quant::None)
        .unwrap();
    let c0 = m
        .add_tensor("initial_c", DType::F32, &[d, b, h], Quant::None)
        .unwrap();
    let packed = m
        .add_tensor("packed", DType::F32, &[s + 2, d, b, h], Quant::None)
        .unwrap();
    let op = Op::Recurrent {
        cell: Cell::Lstm,
        direction: Direction::Forward,
        acts: heapless::Vec::from_slice(&[SIG, TANH, TANH]).unwrap(),
        clip: None,
    };
    m.add_op(op, &[x, w, r, bb, h0, c0], &[packed]).unwrap();
    let hv = |v: &[i32]| heapless::Vec::from_slice(v).unwrap();
    let mut outs = Vec::new();
    for (name, row) in [("y_last", s - 1), ("h_n", s), ("c_n", s + 1)] {
        let sl = m
            .add_tensor(
                &format!("{name}_rows"),
                DType::F32,
                &[1, d, b, h],
                Quant::None,
            )
            .unwrap();
        let op = Op::Slice {
            starts: hv(&[row as i32, 0, 0, 0]),
            steps: hv(&[1, 1, 1, 1]),
        };
        m.add_op(op, &[packed], &[sl]).unwrap();
        let shape: &[u32] = if name == "y_last" {
            &[b, h]
        } else {
            &[d, b, h]
        };
        let t = m.add_tensor(name, DType::F32, shape, Quant::None).unwrap();
        m.add_op(Op::Reshape, &[sl], &[t]).unwrap();
        outs.push(t);
    }
    m.set_io(&[x, h0, c0], &outs).unwrap();
    if stream {
        m.set_state(&[(1, 1), (2, 2)]).unwrap();
    }
    if let Some(raw) = raw {
        m.add_section(ferrite::format::kind::STATE, false, raw);
    }
    m.finish().unwrap()
}

/// `N` calls of `Session::step` on a one-step streaming LSTM give, bit for bit, the
/// last step and final state of the whole-sequence model on the same `N` frames; `reset`
/// starts over.
#[test]
fn streaming_steps_equal_the_whole_sequence() {
    let mut c = case(LSTM, Direction::Forward, &[SIG, TANH, TANH]);
    c.s = 7;
    let o = c.operands();
    let (b, i, h) = (c.b, c.i, c.h);
    let whole = lstm_model(&c, &o, c.s, false, None);
    let a = AlignedModel::new(&whole);
    let m = a.model().unwrap();
    assert!(!m.is_streaming());
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    s.set_input_f32(0, &o.x).unwrap();
    s.set_input_f32(1, &vec![0.0; b * h]).unwrap();
    s.set_input_f32(2, &vec![0.0; b * h]).unwrap();
    s.run().unwrap();
    let mut want = [vec![0f32; b * h], vec![0f32; b * h], vec![0f32; b * h]];
    for (k, w) in want.iter_mut().enumerate() {
        s.output_f32(k, w).unwrap();
    }

    let stream = lstm_model(&c, &o, 1, true, None);
    let a = AlignedModel::new(&stream);
    let m = a.model().unwrap();
    assert_eq!(m.state_pairs().collect::<Vec<_>>(), [(1, 1), (2, 2)]);
    let mut os = OwnedSession::new(&m);
    let mut s = os.session();
    for round in 0..2 {
        let mut y = vec![0f32; b * h];
        for t in 0..c.s {
            s.step(&o.x[t * b * i..(t + 1) * b * i], &mut y).unwrap();
        }
        assert_eq!(y, want[0], "round {round}: last step");
        for (k, w) in want.iter().enumerate().skip(1) {
            let mut st = vec![0f32; b * h];
            s.output_f32(k, &mut st).unwrap();
            assert_eq!(&st, w, "round {round}: state {k}");
        }
        s.reset().unwrap();
    }
    // Without reset the stream continues: a different result.
    let mut y1 = vec![0f32; b * h];
    s.step(&o.x[..b * i], &mut y1).unwrap();
    let mut y2 = vec![0f32; b * h];
    s.step(&o.x[..b * i], &mut y2).unwrap();
    assert_ne!(y1, y2);
}

#[test]
fn loader_rejects_malformed_state_sections() {
    let c = case(LSTM, Direction::Forward, &[SIG, TANH, TANH]);
    let o = c.operands();
    let pairs = |p: &[(u32, u32)]| {
        let mut b = (p.len() as u32).to_le_bytes().to_vec();
        for &(i, o) in p {
            b.extend_from_slice(&i.to_le_bytes());
            b.extend_from_slice(&o.to_le_bytes());
        }
        b
    };
    let load = |raw: Vec<u8>| {
        let f = lstm_model(&c, &o, 1, false, Some(raw));
        AlignedModel::new(&f).model().map(|_| ())
    };
    let bad = Err(Error::BadSection {
        section: ferrite::Section::State,
    });
    // The builder keeps state inputs alive to the end; a hand-written section does not.
    assert_eq!(
        load(pairs(&[(1, 1)])),
        bad,
        "state input not alive to the end"
    );
    let f = lstm_model(&c, &o, 1, true, None);
    assert!(AlignedModel::new(&f).model().is_ok());
    let with = |raw: Vec<u8>| {
        let f = lstm_model(&c, &o, 1, true, Some(raw));
        AlignedModel::new(&f).model().map(|_| ())
    };
    assert_eq!(with(pairs(&[(1, 1), (2, 2)])), Ok(()));
    assert_eq!(with(pairs(&[(0, 1)])), bad, "input 0");
    assert_eq!(with(pairs(&[(1, 0)])), bad, "output 0");
    assert_eq!(with(pairs(&[(1, 3)])), bad, "no output 3");
    assert_eq!(with(pairs(&[(3, 1)])), bad, "no input 3");
    assert_eq!(with(pairs(&[(1, 1), (1, 2)])), bad, "input used twice");
    let mut short = pairs(&[(1, 1)]);
    short.pop();
    assert_eq!(with(short), bad, "truncated");
    let mut count = pairs(&[(1, 1)]);
    count[0] = 2;
    assert_eq!(with(count), bad, "count beyond the data");
}
