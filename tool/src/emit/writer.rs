//! The state shared by the precisions' emitters: the model builder and, for every IR
//! tensor, the file tensors already written for it (f32, int8, f16 form).

use crate::error::{Error, Result};
use crate::ir::{Graph, Node, TId};
use crate::quant::QParam;
use ferrite::format::types::{Op, Quant};
use ferrite::format::write::ModelBuilder;
use ferrite::DType;
use std::collections::HashMap;

/// The `producer` string written into every model: `ferrite-tool <version>`.
pub fn producer() -> String {
    format!("ferrite-tool {}", env!("CARGO_PKG_VERSION"))
}

/// A graph being written.
pub(super) struct Writer<'g> {
    pub g: &'g Graph,
    pub b: ModelBuilder,
    /// File tensor holding the f32 value of an IR tensor.
    pub f32_of: HashMap<TId, u32>,
    /// File tensor holding the int8 value of an IR tensor, and its quantization.
    pub i8_of: HashMap<TId, (u32, QParam)>,
    /// File constant holding the f16 weights of an IR constant.
    pub f16_of: HashMap<TId, u32>,
}

impl<'g> Writer<'g> {
    pub fn new(g: &'g Graph, name: &str) -> Writer<'g> {
        let mut b = ModelBuilder::new(name);
        b.producer = producer();
        Writer {
            g,
            b,
            f32_of: HashMap::new(),
            i8_of: HashMap::new(),
            f16_of: HashMap::new(),
        }
    }

    /// Writes graph input `i`: int8 with `q` when given, else in its own dtype.
    pub fn input(&mut self, i: TId, q: Option<QParam>) -> Result<u32> {
        let t = &self.g.tensors[i];
        Ok(match q {
            Some(q) => {
                let id = self
                    .b
                    .add_tensor(&t.name, DType::I8, &dims(&t.shape), per_tensor(q))?;
                self.i8_of.insert(i, (id, q));
                id
            }
            None => {
                let id = self
                    .b
                    .add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
                self.f32_of.insert(i, id);
                id
            }
        })
    }

    /// The f32 form of `t`: constants are written on first use, int8 values dequantized.
    pub fn f32(&mut self, t: TId) -> Result<u32> {
        if let Some(&id) = self.f32_of.get(&t) {
            return Ok(id);
        }
        let ten = &self.g.tensors[t];
        let id = if let Some(d) = &ten.data {
            self.b.add_const(
                &ten.name,
                d.dtype(),
                &dims(&ten.shape),
                &d.bytes(),
                Quant::None,
            )?
        } else if let Some(&(q, _)) = self.i8_of.get(&t) {
            let (name, _, _, _) = self
                .b
                .tensor_info(q)
                .ok_or_else(|| Error::Other("internal: tensor".into()))?;
            let name = name.trim_end_matches(".q").to_string();
            let out = self
                .b
                .add_tensor(&name, DType::F32, &dims(&ten.shape), Quant::None)?;
            self.b.add_op(Op::Dequantize, &[q], &[out])?;
            out
        } else {
            return Err(Error::Other(format!(
                "internal: tensor \"{}\" used before it is computed",
                ten.name
            )));
        };
        self.f32_of.insert(t, id);
        Ok(id)
    }

    /// Writes node `n` as in the f32 model, its operands in f32 (int8 values
    /// dequantized first).
    pub fn node_f32(&mut self, n: &Node) -> Result<()> {
        let mut ins = Vec::new();
        for &i in &n.inputs {
            ins.push(self.f32(i)?);
        }
        self.op_f32(n, &ins)
    }

    /// Writes node `n`'s op over the file tensors `ins`, its output in f32.
    pub fn op_f32(&mut self, n: &Node, ins: &[u32]) -> Result<()> {
        self.op_f32_as(n, n.op.clone(), ins)
    }

    /// Writes `op` in place of node `n`'s op over the file tensors `ins`, its output
    /// (`n`'s) in f32.
    pub fn op_f32_as(&mut self, n: &Node, op: Op, ins: &[u32]) -> Result<()> {
        let t = &self.g.tensors[n.output];
        let out = self
            .b
            .add_tensor(&t.name, t.dtype, &dims(&t.shape), Quant::None)?;
        self.b.add_op(op, ins, &[out])?;
        self.f32_of.insert(n.output, out);
        Ok(())
    }
}

/// A shape as the format's `u32` dimensions.
pub(super) fn dims(s: &[usize]) -> Vec<u32> {
    s.iter().map(|&d| d as u32).collect()
}

/// Per-tensor quantization `q` as the format's [`Quant`].
pub(super) fn per_tensor(q: QParam) -> Quant {
    Quant::PerTensor {
        scale: q.scale,
        zero_point: q.zero_point,
    }
}
