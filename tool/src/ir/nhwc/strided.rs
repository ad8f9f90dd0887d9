//! The NHWC pass's strided slices (tract's stride-2 shortcut): a spatial `Slice` from
//! pixel 0 that feeds a 1×1 convolution becomes that convolution's stride, and the
//! slices nothing reads any more are removed.

use super::{Form, Pass};
use crate::ir::{Graph, Node, TId};
use ferrite::format::types::{Op, Window};

impl Graph {
    /// Removes the `Slice` nodes whose output no node reads and that are not graph
    /// outputs (the slices folded into a strided 1×1 conv; repeatedly, for chains).
    pub(super) fn remove_unread_slices(&mut self) {
        loop {
            let mut read = vec![false; self.tensors.len()];
            for n in &self.nodes {
                for &i in &n.inputs {
                    read[i] = true;
                }
            }
            for &o in &self.outputs {
                read[o] = true;
            }
            let before = self.nodes.len();
            self.nodes
                .retain(|n| read[n.output] || !matches!(n.op, Op::Slice { .. }));
            if self.nodes.len() == before {
                return;
            }
        }
    }
}

impl Pass {
    /// A static slice of an NCHW view: the same slice of the NHWC tensor, axes permuted.
    pub(super) fn slice(&mut self, n: &Node, starts: &[i32], steps: &[i32]) -> bool {
        let x = n.inputs[0];
        let Some(v) = self.view.get(&x).copied() else {
            return false;
        };
        let y = self.shape(n.output).to_vec();
        if v.form != Form::Nchw || starts.len() != 4 || steps.len() != 4 || y.len() != 4 {
            return false;
        }
        let nhwc = |v: &[i32]| heapless::Vec::from_slice(&[v[0], v[2], v[3], v[1]]);
        let (Ok(starts), Ok(steps)) = (nhwc(starts), nhwc(steps)) else {
            return false;
        };
        let ys = [y[0], y[2], y[3], y[1]];
        let spatial = starts.iter().all(|&s| s == 0)
            && steps[0] == 1
            && steps[3] == 1
            && steps[1] >= 1
            && steps[2] >= 1;
        let (sh, sw) = (steps[1] as usize, steps[2] as usize);
        let name = format!("{}.nhwc", self.g.tensors[n.output].name);
        let t = self.add(&name, Op::Slice { starts, steps }, &[v.s], &ys);
        self.new_view(n.output, t, Form::Nchw);
        if spatial {
            let (src, [h, w]) = self.strided.get(&v.s).copied().unwrap_or((v.s, [1, 1]));
            let st = [h * sh, w * sw];
            let ss = self.shape(src);
            // The 1×1 strided conv's floor-mode output size is the slice's.
            let out = |i: usize, s: usize| i.checked_sub(1).map(|r| r / s + 1);
            if ss.len() == 4
                && ss[0] == ys[0]
                && ss[3] == ys[3]
                && out(ss[1], st[0]) == Some(ys[1])
                && out(ss[2], st[1]) == Some(ys[2])
            {
                self.strided.insert(t, (src, st));
            }
        }
        true
    }

    /// The input and window of a 1×1 unpadded, undilated convolution of the NHWC
    /// tensor `s`: the unsliced tensor with the slice's steps as the stride when `s`
    /// is a spatial slice from pixel 0 (see [`Pass::strided`]).
    pub(super) fn one_by_one(&self, s: TId, window: Window) -> (TId, Window) {
        let plain = window.kernel == [1, 1]
            && window.stride == [1, 1]
            && window.dilation == [1, 1]
            && window.pads == [0; 4];
        match self.strided.get(&s) {
            Some(&(src, [sh, sw])) if plain => {
                let (Ok(sh), Ok(sw)) = (u32::try_from(sh), u32::try_from(sw)) else {
                    return (s, window);
                };
                (
                    src,
                    Window {
                        stride: [sh, sw],
                        ..window
                    },
                )
            }
            _ => (s, window),
        }
    }
}
