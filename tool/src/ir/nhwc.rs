//! The NHWC layout pass (issue #14): rewrites a float graph so that its convolutions run
//! channels-last on the runtime's engine ops (`ConvNhwc`, `DepthwiseNhwc`).
//!
//! tract hands the importer NCHW convolutions, and turns each 1×1 convolution into
//! `Transpose → FullyConnected → Transpose` (with batch-dropping `Reshape`s between),
//! so an NCHW graph spends a large part of its ops moving data. This pass walks the
//! graph once and keeps, for every tensor it can, a *view*: "this tensor is the NHWC
//! tensor `s`, seen as NCHW / CHW / HWC / NHWC". Then:
//!
//! - a `Conv` (constant weights, groups 1, or depthwise with multiplier 1) becomes a
//!   `ConvNhwc` / `DepthwiseNhwc` on the NHWC form of its input (one `Transpose` is
//!   inserted where that form does not exist yet, e.g. at the graph's NCHW input);
//! - `Transpose`s and batch `Reshape`s between views are dropped (they only change
//!   which view a tensor is);
//! - a `FullyConnected` over the channels of an HWC / NHWC view is a 1×1 `ConvNhwc`;
//! - element-wise `Unary` and same-shape `Binary` ops run on the NHWC tensors; a
//!   ReLU / Clip right after a conv (or after its fused residual) becomes its clamp,
//!   and an `Add` of a conv's output and a tensor computed before that conv becomes
//!   its residual operand (when nothing else reads the conv's output);
//! - a strided `Slice` of an NCHW view (tract's stride-2 shortcut) slices the NHWC
//!   tensor with its axes permuted; a 1×1 convolution (or channel `FullyConnected`)
//!   of a slice that starts at pixel 0 and steps only over the spatial axes reads
//!   the unsliced tensor with the slice's steps as its stride instead (the same
//!   pixels), and the slice, left unread, is removed;
//! - a max or average pool over an NCHW view, and a global pool over an NCHW / CHW
//!   view, is a `MaxPoolNhwc` / `AvgPoolNhwc` on the NHWC tensor (the same values
//!   exactly; a global pool is the window `[H, W]`);
//! - 1-D ops (`line`): a rank-3 `Conv` or pool over `[N, C, L]` is the 2-D one over
//!   `[N, C, 1, L]` (weights `[M, C/groups, 1, k]`; the IR's window already is
//!   `[1, k]`), the input reshaped to `[N, C, 1, L]` before its transpose; tract's
//!   1-D pointwise `Transpose → FullyConnected → Reshape → Transpose → Reshape` is a
//!   1×1 `ConvNhwc` through the views `[N, L, C]`, `[L, C]`, `[C, L]`;
//! - a `Reshape` between two views of one NHWC tensor with the same element order
//!   is dropped; another `Reshape` of a view holding the NHWC tensor's bytes (one
//!   pixel, e.g. after a global pool, or one channel) reshapes the NHWC tensor;
//! - any other op reads the tensor in its own layout: the pass writes the view back
//!   (`Transpose` / `Reshape` of the NHWC tensor; a `Reshape` when one channel or one
//!   pixel makes both layouts the same bytes) once, right before the first such
//!   reader, and the graph outputs likewise.
//!
//! Every rewrite computes the same values in f32 up to the engine's summation order
//! (its documented bound); the model's inputs and outputs keep their shapes. The conv
//! weights stay in ONNX layout here (`[M, C/groups, kh, kw]` plus a bias `[M]`); the
//! emitter packs them (`emit::nhwc` for f32 / f16; for int8, `emit::int8::engine`
//! quantizes them with the calibration of the original graph, which
//! [`Graph::to_nhwc_traced`] maps onto the new tensors).

use super::{Data, Graph, Node, TId};
use ferrite::format::types::{Activation, BinaryOp, Op, UnaryOp, Window};
use ferrite::DType;
use std::collections::HashMap;

mod line;
mod pool;
mod strided;

/// How a tensor of the original graph lays out the elements of an NHWC tensor `s`
/// (`[N, H, W, C]`; the batch-less forms need `N = 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `[N, C, H, W]`.
    Nchw,
    /// `[C, H, W]`.
    Chw,
    /// `[H, W, C]`: `s`'s bytes.
    Hwc,
    /// `[N, H, W, C]`: `s` itself.
    Nhwc,
    /// `[N, C, W]` with `H = 1`: a 1-D signal `[N, C, L]` (rank-3 `Conv` / pools).
    Ncw,
    /// `[N, W, C]` with `H = 1`: `s`'s bytes (tract's 1-D pointwise conv reads this).
    Nwc,
    /// `[C, W]` with `N = H = 1`.
    Cw,
    /// `[W, C]` with `N = H = 1`: `s`'s bytes.
    Wc,
}

/// A tensor of the original graph as a view of the NHWC tensor `s` of the new graph.
#[derive(Clone, Copy, Debug)]
struct View {
    s: TId,
    form: Form,
    /// `s` has no reader but this chain of single-use tensors, so the conv writing it
    /// may take a fused activation or residual.
    exclusive: bool,
}

impl Form {
    /// The shape of this form of an NHWC shape.
    fn shape(self, s: &[usize]) -> Option<Vec<usize>> {
        let &[n, h, w, c] = s else { return None };
        match self {
            Form::Nchw => Some(vec![n, c, h, w]),
            Form::Nhwc => Some(vec![n, h, w, c]),
            Form::Chw if n == 1 => Some(vec![c, h, w]),
            Form::Hwc if n == 1 => Some(vec![h, w, c]),
            Form::Ncw if h == 1 => Some(vec![n, c, w]),
            Form::Nwc if h == 1 => Some(vec![n, w, c]),
            Form::Cw if n == 1 && h == 1 => Some(vec![c, w]),
            Form::Wc if n == 1 && h == 1 => Some(vec![w, c]),
            _ => None,
        }
    }

    /// The form a `Transpose { perm }` of this form gives.
    fn transposed(self, perm: &[u8]) -> Option<Form> {
        match (self, perm) {
            (Form::Nchw, [0, 2, 3, 1]) => Some(Form::Nhwc),
            (Form::Nhwc, [0, 3, 1, 2]) => Some(Form::Nchw),
            (Form::Chw, [1, 2, 0]) => Some(Form::Hwc),
            (Form::Hwc, [2, 0, 1]) => Some(Form::Chw),
            (Form::Ncw, [0, 2, 1]) => Some(Form::Nwc),
            (Form::Nwc, [0, 2, 1]) => Some(Form::Ncw),
            (Form::Cw, [1, 0]) => Some(Form::Wc),
            (Form::Wc, [1, 0]) => Some(Form::Cw),
            _ => None,
        }
    }

    /// The form a `Reshape` that drops or adds the batch axis gives.
    fn reshaped(self) -> Form {
        match self {
            Form::Nchw => Form::Chw,
            Form::Chw => Form::Nchw,
            Form::Hwc => Form::Nhwc,
            Form::Nhwc => Form::Hwc,
            Form::Ncw => Form::Nchw,
            Form::Nwc => Form::Nhwc,
            Form::Cw => Form::Ncw,
            Form::Wc => Form::Nwc,
        }
    }

    /// Whether the form orders the elements channels-first (NCHW with axes of size 1
    /// dropped); the others hold `s`'s bytes. A `Reshape` between two forms of the
    /// same order of one tensor moves nothing.
    fn channels_first(self) -> bool {
        matches!(self, Form::Nchw | Form::Chw | Form::Ncw | Form::Cw)
    }

    /// The forms with this form's element order, most specific first.
    fn same_order(self) -> [Form; 4] {
        match self.channels_first() {
            true => [Form::Ncw, Form::Nchw, Form::Chw, Form::Cw],
            false => [Form::Nwc, Form::Nhwc, Form::Hwc, Form::Wc],
        }
    }
}

/// Where the tensors of an NHWC graph come from, for the int8 emitter: calibration
/// ranges are recorded on the original graph, and each new tensor holds the values
/// (permuted) of one original tensor.
#[derive(Clone, Debug, Default)]
pub struct NhwcTrace {
    /// For every tensor of the new graph, the original tensor whose values it holds
    /// (itself for the original tensors, which keep their ids).
    pub origin: Vec<TId>,
    /// For an engine conv with a fused residual `Add` (keyed by its output tensor),
    /// the original tensor of the conv's own output: the Add's conv-side operand.
    pub residual_input: HashMap<TId, TId>,
}

impl Graph {
    /// This graph with its convolutions on the NHWC engine ops (see the module docs);
    /// the graph itself when it has no `Conv` (files without convolutions stay as
    /// they were).
    pub fn to_nhwc(&self) -> Graph {
        self.to_nhwc_traced().0
    }

    /// [`Graph::to_nhwc`] and the origin of each new tensor. A new tensor takes the
    /// quantization hint (`qhint`) of its origin.
    pub fn to_nhwc_traced(&self) -> (Graph, NhwcTrace) {
        if !self.nodes.iter().any(|n| matches!(n.op, Op::Conv { .. })) {
            let trace = NhwcTrace {
                origin: (0..self.tensors.len()).collect(),
                residual_input: HashMap::new(),
            };
            return (self.clone(), trace);
        }
        let mut p = Pass {
            g: Graph {
                tensors: self.tensors.clone(),
                nodes: Vec::new(),
                inputs: self.inputs.clone(),
                outputs: self.outputs.clone(),
                weight_scales: self.weight_scales.clone(),
            },
            view: HashMap::new(),
            strided: HashMap::new(),
            real: self.inputs.iter().copied().collect(),
            uses: (0..self.tensors.len()).map(|t| self.uses(t)).collect(),
            origin: HashMap::new(),
            residual_input: HashMap::new(),
        };
        for n in &self.nodes {
            p.node(n);
        }
        for &o in &self.outputs {
            p.real(o);
        }
        p.g.remove_unread_slices();
        p.g.fc_reads_rows_as_they_are();
        let origin: Vec<TId> = (0..p.g.tensors.len())
            .map(|t| p.origin.get(&t).copied().unwrap_or(t))
            .collect();
        for (t, &o) in origin.iter().enumerate().skip(self.tensors.len()) {
            if let Some(orig) = self.tensors.get(o) {
                p.g.tensors[t].qhint = orig.qhint.clone();
            }
        }
        let trace = NhwcTrace {
            origin,
            residual_input: p.residual_input,
        };
        (p.g, trace)
    }
}

struct Pass {
    g: Graph,
    view: HashMap<TId, View>,
    /// NHWC tensors written by a spatial `Slice` from pixel 0: the unsliced tensor and
    /// the steps `[sh, sw]` (composed through chains of such slices).
    strided: HashMap<TId, (TId, [usize; 2])>,
    /// Original tensors computed in the new graph in their own layout.
    real: std::collections::HashSet<TId>,
    /// Readers of each original tensor in the original graph.
    uses: Vec<usize>,
    /// New tensor → the original tensor whose values it holds ([`NhwcTrace`]).
    origin: HashMap<TId, TId>,
    /// Engine conv output → its own (pre-residual) original output.
    residual_input: HashMap<TId, TId>,
}

impl Pass {
    fn shape(&self, t: TId) -> &[usize] {
        &self.g.tensors[t].shape
    }

    fn push(&mut self, name: &str, op: Op, inputs: &[TId], output: TId) {
        self.g.nodes.push(Node {
            name: name.into(),
            op,
            inputs: inputs.into(),
            output,
        });
    }

    /// A new f32 tensor computed by a new node.
    fn add(&mut self, name: &str, op: Op, inputs: &[TId], shape: &[usize]) -> TId {
        self.g.add_node(name, op, inputs, shape, DType::F32)
    }

    /// Tensor `t` in its own layout: writes it from its view if needed.
    fn real(&mut self, t: TId) -> TId {
        if self.g.is_const(t) || self.real.contains(&t) {
            return t;
        }
        let Some(v) = self.view.get(&t).copied() else {
            // Not computed yet: cannot happen in execution order.
            return t;
        };
        let name = self.g.tensors[t].name.clone();
        let sh = self.shape(v.s).to_vec();
        // One pixel, or one channel: NCHW and NHWC hold the same bytes.
        let same_bytes = sh[1] * sh[2] == 1 || sh[3] == 1;
        match v.form {
            f if !f.channels_first() => self.push(&name, Op::Reshape, &[v.s], t),
            _ if same_bytes => self.push(&name, Op::Reshape, &[v.s], t),
            Form::Nchw => self.push(&name, to_nchw(), &[v.s], t),
            _ => {
                let s = self.shape(v.s).to_vec();
                let tmp = self.add(
                    &format!("{name}.nchw"),
                    to_nchw(),
                    &[v.s],
                    &[s[0], s[3], s[1], s[2]],
                );
                self.origin.insert(tmp, t);
                self.push(&name, Op::Reshape, &[tmp], t);
            }
        }
        self.real.insert(t);
        t
    }

    /// The NHWC form of the NCHW tensor `x` (or of the 1-D `[N, C, L]` tensor `x`,
    /// with `H = 1`): its view's tensor, or a `Transpose`.
    fn nhwc_of(&mut self, x: TId) -> Option<TId> {
        let form = match self.shape(x).len() {
            4 => Form::Nchw,
            3 => Form::Ncw,
            _ => return None,
        };
        if let Some(v) = self.view.get(&x) {
            if v.form == form {
                return Some(v.s);
            }
        }
        let xr = match form {
            Form::Ncw => self.nchw_of_line(x),
            _ => self.real(x),
        };
        let s = self.shape(xr).to_vec();
        let name = format!("{}.nhwc", self.g.tensors[x].name);
        let op = if s[1] == 1 || s[2] * s[3] == 1 {
            Op::Reshape
        } else {
            to_nhwc()
        };
        let t = self.add(&name, op, &[xr], &[s[0], s[2], s[3], s[1]]);
        self.origin.insert(t, x);
        self.view.insert(
            x,
            View {
                s: t,
                form,
                exclusive: false,
            },
        );
        Some(t)
    }

    fn node(&mut self, n: &Node) {
        let done = match &n.op {
            Op::Conv { .. } => self.conv(n),
            Op::Transpose { perm } => {
                self.view_op(n, |f| f.transposed(perm)) || self.nchw_of_nhwc(n, perm)
            }
            Op::Reshape => self.reshape(n),
            Op::FullyConnected { act, q: None } => self.fully_connected(n, *act),
            Op::Unary { op } => self.unary(n, op),
            Op::Binary { op, act, q: None } => self.binary(n, *op, *act),
            Op::Slice { starts, steps } => self.slice(n, starts, steps),
            Op::MaxPool { .. } | Op::AvgPool { .. } => self.pool(n),
            Op::GlobalAvgPool | Op::GlobalMaxPool => self.global_pool(n),
            _ => false,
        };
        if !done {
            let inputs: Vec<TId> = n.inputs.iter().map(|&i| self.real(i)).collect();
            self.push(&n.name, n.op.clone(), &inputs, n.output);
            self.real.insert(n.output);
        }
    }

    /// A `Transpose` NHWC → NCHW of a tensor in its own layout (an NHWC graph input,
    /// `--input-layout nhwc`): its output is the NCHW view of that tensor, so the
    /// convolutions read the input itself.
    fn nchw_of_nhwc(&mut self, n: &Node, perm: &[u8]) -> bool {
        let x = n.inputs[0];
        if perm != [0, 3, 1, 2]
            || self.view.contains_key(&x)
            || self.g.is_const(x)
            || self.shape(x).len() != 4
        {
            return false;
        }
        let x = self.real(x);
        self.view.insert(
            n.output,
            View {
                s: x,
                form: Form::Nchw,
                exclusive: false,
            },
        );
        true
    }

    /// A new NHWC tensor that `out` is a fresh (exclusive) view of.
    fn new_view(&mut self, out: TId, s: TId, form: Form) {
        self.origin.insert(s, out);
        self.view.insert(
            out,
            View {
                s,
                form,
                exclusive: true,
            },
        );
    }

    fn conv(&mut self, n: &Node) -> bool {
        let Op::Conv {
            window,
            groups,
            act,
            q: None,
        } = n.op
        else {
            return false;
        };
        let (x, w) = (n.inputs[0], n.inputs[1]);
        let (xs, ws, ys) = (
            self.shape(x).to_vec(),
            self.shape(w).to_vec(),
            self.shape(n.output).to_vec(),
        );
        let bias_ok = n.inputs.get(2).is_none_or(|&b| self.g.is_const(b));
        let rank = xs.len();
        if !(rank == 4 || rank == 3) || ws.len() != rank || !self.g.is_const(w) || !bias_ok {
            return false;
        }
        let (m, c) = (ws[0], xs[1]);
        let depthwise = groups as usize == c && m == c && ws[1] == 1 && c > 1;
        if groups != 1 && !depthwise {
            return false;
        }
        // A 1-D conv is the 2-D one with H = 1 (the IR's window already is [1, k]).
        let (w, ys, form) = match rank {
            3 if window.kernel[0] == 1 => (self.line_weights(w), Self::line_nchw(&ys), Form::Ncw),
            3 => return false,
            _ => (w, ys, Form::Nchw),
        };
        let Some(xn) = self.nhwc_of(x) else {
            return false;
        };
        let bias = self.bias(n, m);
        let (xn, window) = match depthwise {
            true => (xn, window),
            false => self.one_by_one(xn, window),
        };
        let op = if depthwise {
            Op::DepthwiseNhwc {
                window,
                act,
                q: None,
            }
        } else {
            Op::ConvNhwc {
                window,
                act,
                q: None,
            }
        };
        let name = format!("{}.nhwc", self.g.tensors[n.output].name);
        let s = self.add(&name, op, &[xn, w, bias], &[ys[0], ys[2], ys[3], ys[1]]);
        self.new_view(n.output, s, form);
        true
    }

    /// The conv's bias, or a zero bias of `m` channels.
    fn bias(&mut self, n: &Node, m: usize) -> TId {
        match n.inputs.get(2) {
            Some(&b) => b,
            None => {
                let name = format!("{}.bias", n.name);
                self.g.add_const(&name, &[m], Data::F32(vec![0.0; m]))
            }
        }
    }

    /// A data-movement op whose output is another view of the same NHWC tensor.
    fn view_op(&mut self, n: &Node, form: impl Fn(Form) -> Option<Form>) -> bool {
        let x = n.inputs[0];
        let Some(v) = self.view.get(&x).copied() else {
            return false;
        };
        let Some(f) = form(v.form) else {
            return false;
        };
        if f.shape(self.shape(v.s)).as_deref() != Some(self.shape(n.output)) {
            return false;
        }
        let exclusive = v.exclusive && self.uses[x] == 1;
        self.view.insert(
            n.output,
            View {
                s: v.s,
                form: f,
                exclusive,
            },
        );
        true
    }

    fn reshape(&mut self, n: &Node) -> bool {
        if self.view_op(n, |f| Some(f.reshaped())) {
            return true;
        }
        let Some(v) = self.view.get(&n.inputs[0]).copied() else {
            return false;
        };
        // Between forms of the same order (e.g. a 1-D `[N, C, L]` and `[N, C, 1, L]`).
        for to in v.form.same_order() {
            if self.view_op(n, |_| Some(to)) {
                return true;
            }
        }
        let s = self.shape(v.s).to_vec();
        // NCHW / CHW with the spatial axes flattened into one row (before a global
        // pool): the NHWC tensor as `[N, 1, H·W, C]`, the same bytes.
        let flat = [s[0], 1, s[1] * s[2], s[3]];
        if v.form.channels_first() && v.form.shape(&flat).as_deref() == Some(self.shape(n.output)) {
            let name = format!("{}.nhwc", self.g.tensors[n.output].name);
            let t = self.add(&name, Op::Reshape, &[v.s], &flat);
            self.new_view(n.output, t, v.form);
            return true;
        }
        // Any other reshape of a view with the NHWC tensor's bytes (a channels-last
        // form, or one pixel, or one channel; e.g. the `[N, C]` after a global pool):
        // a `Reshape` of the NHWC tensor itself, not of the view written back.
        if !v.form.channels_first() || s[1] * s[2] == 1 || s[3] == 1 {
            self.push(&n.name, Op::Reshape, &[v.s], n.output);
            self.real.insert(n.output);
            return true;
        }
        false
    }

    /// FullyConnected over the channels of a channels-last view (HWC, NHWC, and the
    /// 1-D WC, NWC): a 1×1 ConvNhwc.
    fn fully_connected(&mut self, n: &Node, act: Activation) -> bool {
        let (x, w) = (n.inputs[0], n.inputs[1]);
        let Some(v) = self.view.get(&x).copied() else {
            return false;
        };
        let s = self.shape(v.s).to_vec();
        let ws = self.shape(w).to_vec();
        let bias_ok = n.inputs.get(2).is_none_or(|&b| self.g.is_const(b));
        if v.form.channels_first()
            || !self.g.is_const(w)
            || !bias_ok
            || ws.len() != 2
            || ws[1] != s[3]
        {
            return false;
        }
        let m = ws[0];
        let ys = [s[0], s[1], s[2], m];
        if v.form.shape(&ys).as_deref() != Some(self.shape(n.output)) {
            return false;
        }
        let Some(Data::F32(wd)) = self.g.tensors[w].data.clone() else {
            return false;
        };
        let w4 = self.g.add_const(
            &format!("{}.1x1", self.g.tensors[w].name),
            &[m, s[3], 1, 1],
            Data::F32(wd),
        );
        let bias = self.bias(n, m);
        let (xs, window) = self.one_by_one(
            v.s,
            Window {
                kernel: [1, 1],
                stride: [1, 1],
                dilation: [1, 1],
                pads: [0; 4],
            },
        );
        let op = Op::ConvNhwc {
            window,
            act,
            q: None,
        };
        let name = format!("{}.nhwc", self.g.tensors[n.output].name);
        let t = self.add(&name, op, &[xs, w4, bias], &ys);
        self.new_view(n.output, t, v.form);
        true
    }

    /// The node of the new graph computing `s` when it is an engine conv without an
    /// activation that `x` is an exclusive view of (so its epilogue may change), and,
    /// unless `with_residual`, without a residual.
    fn fusable_conv(&self, x: TId, with_residual: bool) -> Option<usize> {
        let v = self.view.get(&x)?;
        if !v.exclusive || self.uses[x] != 1 {
            return None;
        }
        let i = self.g.nodes.iter().rposition(|n| n.output == v.s)?;
        match self.g.nodes[i].op {
            Op::ConvNhwc {
                act: Activation::None,
                ..
            }
            | Op::DepthwiseNhwc {
                act: Activation::None,
                ..
            } if self.g.nodes[i].inputs.len() == 3 || with_residual => Some(i),
            _ => None,
        }
    }

    fn set_act(&mut self, i: usize, a: Activation) {
        if let Op::ConvNhwc { act, .. } | Op::DepthwiseNhwc { act, .. } = &mut self.g.nodes[i].op {
            *act = a;
        }
    }

    fn unary(&mut self, n: &Node, op: &UnaryOp) -> bool {
        let x = n.inputs[0];
        let Some(v) = self.view.get(&x).copied() else {
            return false;
        };
        let act = match *op {
            UnaryOp::Relu => Some(Activation::Relu),
            UnaryOp::Clip { min, max } => Some(Activation::Clip { min, max }),
            _ => None,
        };
        if let (Some(act), Some(i)) = (act, self.fusable_conv(x, true)) {
            self.set_act(i, act);
            self.origin.insert(v.s, n.output);
            self.view.insert(n.output, v);
            return true;
        }
        let s = self.shape(v.s).to_vec();
        let name = format!("{}.nhwc", self.g.tensors[n.output].name);
        let t = self.add(&name, n.op.clone(), &[v.s], &s);
        self.new_view(n.output, t, v.form);
        true
    }

    fn binary(&mut self, n: &Node, op: BinaryOp, act: Activation) -> bool {
        let (a, b) = (n.inputs[0], n.inputs[1]);
        let (Some(va), Some(vb)) = (self.view.get(&a).copied(), self.view.get(&b).copied()) else {
            return false;
        };
        let s = self.shape(va.s).to_vec();
        if va.form != vb.form || self.shape(vb.s) != s.as_slice() {
            return false;
        }
        if op == BinaryOp::Add {
            // The conv computed last takes the other operand as its residual, when that
            // operand exists before it.
            let mut convs: Vec<(usize, TId, TId)> = [(a, vb.s), (b, va.s)]
                .into_iter()
                .filter_map(|(x, other)| self.fusable_conv(x, false).map(|i| (i, other, x)))
                .collect();
            convs.sort_by_key(|&(i, _, _)| std::cmp::Reverse(i));
            if let Some(&(i, other, x)) = convs.first() {
                let before = self.g.is_const(other)
                    || self.g.inputs.contains(&other)
                    || self.g.nodes[..i].iter().any(|m| m.output == other);
                if before {
                    self.g.nodes[i].inputs.push(other);
                    self.set_act(i, act);
                    let s = self.g.nodes[i].output;
                    self.residual_input.insert(s, x);
                    self.new_view(n.output, s, va.form);
                    return true;
                }
            }
        }
        let name = format!("{}.nhwc", self.g.tensors[n.output].name);
        let op = Op::Binary { op, act, q: None };
        let t = self.add(&name, op, &[va.s, vb.s], &s);
        self.new_view(n.output, t, va.form);
        true
    }
}

/// NCHW → NHWC.
fn to_nhwc() -> Op {
    Op::Transpose {
        perm: heapless::Vec::from_slice(&[0, 2, 3, 1]).unwrap_or_default(),
    }
}

/// NHWC → NCHW.
fn to_nchw() -> Op {
    Op::Transpose {
        perm: heapless::Vec::from_slice(&[0, 3, 1, 2]).unwrap_or_default(),
    }
}
