//! The NHWC pass's pools: a `MaxPool` / `AvgPool` (any padding, stride, dilation,
//! floor or ceil mode) over an NCHW view or a 1-D `[N, C, L]` one (H = 1, the IR's
//! window `[1, k]`), and a `GlobalAvgPool` / `GlobalMaxPool` over an NCHW / CHW / 1-D
//! view, become the runtime's `MaxPoolNhwc` / `AvgPoolNhwc` on the NHWC
//! tensor (a global pool as the window `[H, W]`). Those ops compute the NCHW pools'
//! values exactly, in f32 and int8, so the rewrite changes no output.

use super::{Form, Pass};
use crate::ir::Node;
use ferrite::format::types::{Op, Window};

impl Pass {
    /// A windowed pool (`op` is `MaxPool` or `AvgPool`) over an NCHW view.
    pub(super) fn pool(&mut self, n: &Node) -> bool {
        let op = match n.op {
            Op::MaxPool { window } => Op::MaxPoolNhwc { window },
            Op::AvgPool {
                window,
                count_include_pad,
            } => Op::AvgPoolNhwc {
                window,
                count_include_pad,
            },
            _ => return false,
        };
        let Some(v) = self.view.get(&n.inputs[0]).copied() else {
            return false;
        };
        let ys = match (v.form, self.shape(n.output)) {
            (Form::Nchw, &[b, c, oh, ow]) => [b, oh, ow, c],
            (Form::Ncw, &[b, c, ow]) if self.shape(v.s)[1] == 1 => [b, 1, ow, c],
            _ => return false,
        };
        self.nhwc_pool(n, v.s, v.form, op, ys)
    }

    /// A global pool over an NCHW / CHW view.
    pub(super) fn global_pool(&mut self, n: &Node) -> bool {
        let Some(v) = self.view.get(&n.inputs[0]).copied() else {
            return false;
        };
        let s = self.shape(v.s).to_vec();
        let ys = [s[0], 1, 1, s[3]];
        if !matches!(v.form, Form::Nchw | Form::Chw | Form::Ncw)
            || v.form.shape(&ys).as_deref() != Some(self.shape(n.output))
        {
            return false;
        }
        let (Ok(h), Ok(w)) = (u32::try_from(s[1]), u32::try_from(s[2])) else {
            return false;
        };
        let window = Window {
            kernel: [h, w],
            stride: [1, 1],
            dilation: [1, 1],
            pads: [0; 4],
        };
        let op = match n.op {
            Op::GlobalAvgPool => Op::AvgPoolNhwc {
                window,
                count_include_pad: false,
            },
            Op::GlobalMaxPool => Op::MaxPoolNhwc { window },
            _ => return false,
        };
        self.nhwc_pool(n, v.s, v.form, op, ys)
    }

    /// `op` on NHWC tensor `s`, output `ys` (NHWC), viewed as `form`.
    fn nhwc_pool(&mut self, n: &Node, s: usize, form: Form, op: Op, ys: [usize; 4]) -> bool {
        let name = format!("{}.nhwc", self.g.tensors[n.output].name);
        let t = self.add(&name, op, &[s], &ys);
        self.new_view(n.output, t, form);
        true
    }
}
