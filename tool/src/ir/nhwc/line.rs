//! The NHWC pass's 1-D tensors: a rank-3 `Conv` or pool reads `[N, C, L]`, which is
//! the NCHW tensor `[N, C, 1, L]` (H = 1); its weights `[M, C/groups, k]` are
//! `[M, C/groups, 1, k]`. The IR's window of such an op already is the 2-D one
//! (kernel `[1, k]`, pads `[0, b, 0, e]`), so the engine ops take it as it is and
//! their output, `[N, 1, L', M]`, is viewed as `[N, M, L']` (`Form::Ncw`).

use super::Pass;
use crate::ir::{Data, TId};
use ferrite::format::types::Op;

impl Pass {
    /// The NCHW shape `[N, C, 1, L]` of a 1-D shape `[N, C, L]` (other shapes
    /// unchanged).
    pub(super) fn line_nchw(s: &[usize]) -> Vec<usize> {
        match *s {
            [n, c, l] => vec![n, c, 1, l],
            _ => s.to_vec(),
        }
    }

    /// The 1-D tensor `x` in its own layout as the NCHW tensor `[N, C, 1, L]` (a
    /// `Reshape`, which moves nothing).
    pub(super) fn nchw_of_line(&mut self, x: TId) -> TId {
        let xr = self.real(x);
        let s = Self::line_nchw(self.shape(xr));
        let name = format!("{}.nchw", self.g.tensors[x].name);
        let t = self.add(&name, Op::Reshape, &[xr], &s);
        self.origin.insert(t, x);
        t
    }

    /// The 1-D conv weights `w` (`[M, C/groups, k]`) as a new constant
    /// `[M, C/groups, 1, k]`, the same values (and quantization hint).
    pub(super) fn line_weights(&mut self, w: TId) -> TId {
        let t = &self.g.tensors[w];
        let (name, shape, data, hint) = (
            format!("{}.2d", t.name),
            Self::line_nchw(&t.shape),
            t.data.clone().unwrap_or(Data::F32(Vec::new())),
            t.qhint.clone(),
        );
        let w4 = self.g.add_const(&name, &shape, data);
        self.g.tensors[w4].qhint = hint;
        w4
    }
}
