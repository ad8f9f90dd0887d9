//! A session's plan: the records of its first ops, decoded once instead of on every
//! run (`Session::run`). Host builds with the `session-plan` feature (a default one);
//! on microcontrollers, and without the feature, [`Plan`] holds nothing.

#[cfg(all(feature = "session-plan", not(target_os = "none")))]
use crate::format::types::{Operands, TensorRef};

/// Where a `Session` keeps its plan: [`Plan`] (the default) or
/// [`NoPlan`]. Sealed: only these two.
pub trait PlanSlot: core::fmt::Debug + sealed::Sealed {
    /// The slot before the first run.
    #[doc(hidden)]
    const EMPTY: Self;
    /// The plan, if this slot has one.
    #[doc(hidden)]
    fn plan(&self) -> Option<&Plan>;
    /// The plan, if this slot has one.
    #[doc(hidden)]
    fn plan_mut(&mut self) -> Option<&mut Plan>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::plan::Plan {}
    impl Sealed for crate::plan::NoPlan {}
}

/// No plan: a session that decodes every op on every run, and is three words
/// (`Session::new_unplanned`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPlan;

impl PlanSlot for NoPlan {
    const EMPTY: Self = NoPlan;
    #[inline(always)]
    fn plan(&self) -> Option<&Plan> {
        None
    }
    #[inline(always)]
    fn plan_mut(&mut self) -> Option<&mut Plan> {
        None
    }
}

impl PlanSlot for Plan {
    const EMPTY: Self = Plan {
        #[cfg(all(feature = "session-plan", not(target_os = "none")))]
        ops: heapless::Vec::new(),
        #[cfg(all(feature = "session-plan", not(target_os = "none")))]
        runs: 0,
    };
    #[inline(always)]
    fn plan(&self) -> Option<&Plan> {
        Some(self)
    }
    #[inline(always)]
    fn plan_mut(&mut self) -> Option<&mut Plan> {
        Some(self)
    }
}

/// Ops whose decoded records a session keeps (`Session::run`).
#[cfg(all(feature = "session-plan", not(target_os = "none")))]
const PLAN_OPS: usize = 8;

/// Operands kept decoded per planned op: input 0, the weights, the bias (an op reads
/// any further one from its record, as without a plan).
#[cfg(all(feature = "session-plan", not(target_os = "none")))]
const PLAN_INPUTS: usize = 3;

/// The ops a session decoded once: its first 8, decoded from the model at the start of
/// its second run (a session that runs once pays nothing). About 3 KiB on a 64-bit
/// host; empty on microcontrollers and without the `session-plan` feature.
#[derive(Debug)]
pub struct Plan {
    #[cfg(all(feature = "session-plan", not(target_os = "none")))]
    pub(crate) ops: heapless::Vec<Planned, PLAN_OPS>,
    /// 0 before the first run, 1 after it, 2 once the plan is built.
    #[cfg(all(feature = "session-plan", not(target_os = "none")))]
    runs: u8,
}

impl Plan {
    /// Counts a run of the session over `g`; builds the plan at the second.
    #[inline(always)]
    #[cfg_attr(
        not(all(feature = "session-plan", not(target_os = "none"))),
        allow(unused_variables)
    )]
    pub(crate) fn count_run(&mut self, g: &crate::graph::Graph<'_>) {
        #[cfg(all(feature = "session-plan", not(target_os = "none")))]
        match self.runs {
            0 => self.runs = 1,
            1 => self.build(g),
            _ => {}
        }
    }

    /// Decodes the first [`PLAN_OPS`] ops of `g` (from the model, whose records
    /// `Model::load` checked: the arena's bytes play no part). An op that does not
    /// decode ends the plan; `run_op` then decodes it, and reports it, as without one.
    #[cfg(all(feature = "session-plan", not(target_os = "none")))]
    #[cold]
    #[inline(never)]
    fn build(&mut self, g: &crate::graph::Graph<'_>) {
        self.runs = 2;
        for s in 0..g.ops.len() {
            if self.ops.push(Planned::EMPTY).is_err() {
                break;
            }
            let planned = self.ops.last_mut().and_then(|p| p.read(g, s));
            if planned.is_none() {
                self.ops.pop();
                break;
            }
        }
    }
}

/// One op as `run_op` decodes it: the op, its operand lists, the output and the first
/// `known` inputs.
#[cfg(all(feature = "session-plan", not(target_os = "none")))]
#[derive(Debug)]
pub(crate) struct Planned {
    pub(crate) op: Option<crate::format::types::Op>,
    pub(crate) io: Operands,
    pub(crate) out: TensorRef,
    pub(crate) ins: [TensorRef; PLAN_INPUTS],
    pub(crate) known: u8,
}

#[cfg(all(feature = "session-plan", not(target_os = "none")))]
impl Planned {
    const EMPTY: Planned = Planned {
        op: None,
        io: Operands::EMPTY,
        out: TensorRef::EMPTY,
        ins: [TensorRef::EMPTY; PLAN_INPUTS],
        known: 0,
    };

    /// Op `s` of `g` with the decoders `run_op` uses; `None` where they fail.
    fn read(&mut self, g: &crate::graph::Graph<'_>, s: u32) -> Option<()> {
        g.read_op(s, &mut self.op, &mut self.io)?;
        self.op.as_ref()?;
        g.read_tensor(self.io.output, &mut self.out)?;
        let ins = self.io.inputs();
        let n = ins.len().min(PLAN_INPUTS);
        if n == 0 {
            return None;
        }
        for (t, &i) in self.ins.iter_mut().zip(&ins[..n]) {
            g.read_tensor(i, t)?;
        }
        self.known = n as u8;
        Some(())
    }
}
