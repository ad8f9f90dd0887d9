//! Hand-written decoders of the postcard records `Model::load` reads ([`Metadata`],
//! [`GraphIo`], [`TensorDef`], [`OpDef`], [`Golden`], [`GoldenDigest`]).
//!
//! They accept exactly the bytes that postcard with serde's derive accepts and return
//! the same values (the encoding is in `docs/format.md`): LEB128 varints of at most 5
//! bytes for `u32` / `i32` (zig-zag) / enum variant indices, 10 for `u64`, the pointer
//! width's for lengths, the last byte limited to the type's remaining bits; `u8` and
//! `bool` / `Option` tags (0 or 1) as one raw byte; `f32` as 4 little-endian bytes;
//! strings and byte strings as a length then the bytes (strings valid UTF-8); lists as a
//! length (at most the list's capacity) then the elements; structs and struct variants as
//! their fields in order. serde's generic decoding of the same records took about 5 KB
//! of flash on Cortex-M; the tests compare both on every variant and on random bytes.

use heapless::Vec as HVec;

use super::op::OpRef;

use super::types::{
    Activation, Aggregate, BinaryOp, Cell, DType, Direction, Golden, GoldenDigest, GraphIo,
    GridMode, GridPadding, Location, Metadata, Norm, Op, OpDef, PostTransform, QBinary, QNhwc,
    QParams, Quant, Requant, TensorDef, UnaryOp, Window,
};

/// A record of a model file: the metadata, the graph's inputs and outputs, an element
/// of a [`RecordTable`](super::RecordTable).
pub trait Record<'a>: Sized {
    /// Decodes one record from the start of `bytes`; the value and the bytes after it,
    /// or `None` where postcard would fail.
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])>;
}

/// A strict cursor over postcard bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&v, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(v)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// A varint of a `bits`-bit unsigned integer, as postcard reads it.
    #[inline(never)]
    fn varint(&mut self, bits: u32) -> Option<u64> {
        let max = bits.div_ceil(7);
        let last = (1u8 << (bits % 7)) - 1;
        let mut out = 0u64;
        for i in 0..max {
            let v = self.byte()?;
            out |= u64::from(v & 0x7F) << (7 * i);
            if v & 0x80 == 0 {
                return (i + 1 < max || v <= last).then_some(out);
            }
        }
        None
    }

    fn u32(&mut self) -> Option<u32> {
        self.varint(32).map(|v| v as u32)
    }

    fn u64(&mut self) -> Option<u64> {
        self.varint(64)
    }

    fn usize(&mut self) -> Option<usize> {
        self.varint(usize::BITS).map(|v| v as usize)
    }

    fn i32(&mut self) -> Option<i32> {
        let v = self.u32()?;
        Some((v >> 1) as i32 ^ -((v & 1) as i32))
    }

    fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    /// A `bool`, or the tag of an `Option` (`true`: `Some`).
    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// An enum's variant index below `n`.
    fn tag(&mut self, n: u32) -> Option<u32> {
        self.u32().filter(|&t| t < n)
    }

    /// One of the unit variants `all` by its index.
    fn unit<T: Copy>(&mut self, all: &[T]) -> Option<T> {
        all.get(self.u32()? as usize).copied()
    }

    fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        Some(if self.flag()? { Some(f(self)?) } else { None })
    }

    fn list<T, const N: usize>(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<HVec<T, N>> {
        let n = self.usize()?;
        if n > N {
            return None;
        }
        let mut v = HVec::new();
        for _ in 0..n {
            v.push(f(self)?).ok()?;
        }
        Some(v)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.usize()?;
        self.take(n)
    }

    fn str(&mut self) -> Option<&'a str> {
        core::str::from_utf8(self.bytes()?).ok()
    }

    fn u32s<const N: usize>(&mut self) -> Option<[u32; N]> {
        let mut a = [0; N];
        for v in &mut a {
            *v = self.u32()?;
        }
        Some(a)
    }

    fn activation(&mut self) -> Option<Activation> {
        Some(match self.tag(3)? {
            0 => Activation::None,
            1 => Activation::Relu,
            _ => Activation::Clip {
                min: self.f32()?,
                max: self.f32()?,
            },
        })
    }

    fn requant(&mut self) -> Option<Requant> {
        Some(Requant {
            multiplier: self.i32()?,
            shift: self.i32()?,
        })
    }

    fn qparams(&mut self) -> Option<Option<QParams>> {
        self.option(|r| {
            Some(QParams {
                requant: r.u32()?,
                channels: r.u32()?,
                act_min: r.i32()?,
                act_max: r.i32()?,
            })
        })
    }

    fn qbinary(&mut self) -> Option<Option<QBinary>> {
        self.option(|r| {
            Some(QBinary {
                a_zero_point: r.i32()?,
                b_zero_point: r.i32()?,
                out_zero_point: r.i32()?,
                left_shift: r.i32()?,
                a: r.requant()?,
                b: r.requant()?,
                out: r.requant()?,
                act_min: r.i32()?,
                act_max: r.i32()?,
            })
        })
    }

    fn qnhwc(&mut self) -> Option<Option<QNhwc>> {
        self.option(|r| {
            Some(QNhwc {
                act_min: r.i32()?,
                act_max: r.i32()?,
                residual: r.qbinary()?,
            })
        })
    }

    fn window(&mut self) -> Option<Window> {
        Some(Window {
            kernel: self.u32s()?,
            stride: self.u32s()?,
            dilation: self.u32s()?,
            pads: self.u32s()?,
        })
    }

    fn unary(&mut self) -> Option<UnaryOp> {
        use UnaryOp as U;
        Some(match self.tag(34)? {
            0 => U::Relu,
            1 => U::Clip {
                min: self.f32()?,
                max: self.f32()?,
            },
            2 => U::LeakyRelu { alpha: self.f32()? },
            3 => U::Elu { alpha: self.f32()? },
            4 => U::Sigmoid,
            5 => U::Tanh,
            6 => U::HardSigmoid {
                alpha: self.f32()?,
                beta: self.f32()?,
            },
            32 => U::Shrink {
                lambd: self.f32()?,
                bias: self.f32()?,
            },
            t => [
                U::HardSwish,
                U::Exp,
                U::Log,
                U::Sqrt,
                U::Neg,
                U::Abs,
                U::Reciprocal,
                U::Floor,
                U::Ceil,
                U::Erf,
                U::Softplus,
                U::Gelu,
                U::Sin,
                U::Cos,
                U::Tan,
                U::Asin,
                U::Acos,
                U::Atan,
                U::Sinh,
                U::Cosh,
                U::Asinh,
                U::Acosh,
                U::Atanh,
                U::Round,
                U::Sign,
            ]
            .get(t as usize - 7)
            .copied()?,
        })
    }

    fn post(&mut self) -> Option<PostTransform> {
        use PostTransform as P;
        self.unit(&[P::None, P::Softmax, P::Logistic, P::SoftmaxZero])
    }

    fn op(&mut self) -> Option<Op> {
        Some(match self.tag(34)? {
            0 => Op::FullyConnected {
                act: self.activation()?,
                q: self.qparams()?,
            },
            1 => Op::MatMul,
            2 => Op::Conv {
                window: self.window()?,
                groups: self.u32()?,
                act: self.activation()?,
                q: self.qparams()?,
            },
            3 => Op::MaxPool {
                window: self.window()?,
            },
            4 => Op::AvgPool {
                window: self.window()?,
                count_include_pad: self.flag()?,
            },
            5 => Op::GlobalAvgPool,
            6 => Op::GlobalMaxPool,
            7 => {
                use BinaryOp as B;
                let all = [
                    B::Add,
                    B::Sub,
                    B::Mul,
                    B::Div,
                    B::Max,
                    B::Min,
                    B::Pow,
                    B::Fmod,
                    B::Mod,
                ];
                Op::Binary {
                    op: self.unit(&all)?,
                    act: self.activation()?,
                    q: self.qbinary()?,
                }
            }
            8 => Op::Unary { op: self.unary()? },
            9 => Op::Lut,
            10 => Op::Softmax {
                axis: self.byte()?,
                log: self.flag()?,
            },
            11 => Op::Reshape,
            12 => Op::Transpose {
                perm: self.list(Self::byte)?,
            },
            13 => Op::Concat { axis: self.byte()? },
            14 => Op::Pad {
                pads: self.list(Self::u32)?,
                value: self.f32()?,
            },
            15 => Op::ArgMax {
                axis: self.byte()?,
                keepdims: self.flag()?,
                select_last: self.flag()?,
            },
            16 => Op::Quantize,
            17 => Op::Dequantize,
            18 => Op::Requantize {
                rq: self.requant()?,
            },
            19 => Op::Cast,
            20 => Op::Linear { post: self.post()? },
            21 => {
                use Aggregate as A;
                Op::TreeEnsemble {
                    aggregate: self.unit(&[A::Sum, A::Average, A::Min, A::Max])?,
                    post: self.post()?,
                }
            }
            22 => Op::Normalize {
                norm: self.unit(&[Norm::L1, Norm::L2, Norm::Max])?,
            },
            23 => Op::Slice {
                starts: self.list(Self::i32)?,
                steps: self.list(Self::i32)?,
            },
            24 => Op::Lrn {
                size: self.u32()?,
                alpha: self.f32()?,
                beta: self.f32()?,
                bias: self.f32()?,
            },
            25 => Op::ConvNhwc {
                window: self.window()?,
                act: self.activation()?,
                q: self.qnhwc()?,
            },
            26 => Op::DepthwiseNhwc {
                window: self.window()?,
                act: self.activation()?,
                q: self.qnhwc()?,
            },
            27 => {
                use Direction as D;
                Op::Recurrent {
                    cell: match self.tag(3)? {
                        0 => Cell::Lstm,
                        1 => Cell::Gru {
                            linear_before_reset: self.flag()?,
                        },
                        _ => Cell::Rnn,
                    },
                    direction: self.unit(&[D::Forward, D::Reverse, D::Bidirectional])?,
                    acts: self.list(Self::unary)?,
                    clip: self.option(Self::f32)?,
                }
            }
            28 => {
                use GridMode as M;
                use GridPadding as P;
                Op::GridSample {
                    mode: self.unit(&[M::Nearest, M::Linear, M::Cubic])?,
                    padding: self.unit(&[P::Zeros, P::Border, P::Reflection])?,
                    align_corners: self.flag()?,
                }
            }
            29 => Op::MaxPoolNhwc {
                window: self.window()?,
            },
            30 => Op::AvgPoolNhwc {
                window: self.window()?,
                count_include_pad: self.flag()?,
            },
            31 => Op::GlobalProd,
            32 => Op::ConvNchw {
                window: self.window()?,
                act: self.activation()?,
            },
            _ => Op::ConvNchwI8 {
                window: self.window()?,
                act: self.activation()?,
                x_scale: self.f32()?,
                x_zero_point: self.i32()?,
                act_min: self.i32()?,
                act_max: self.i32()?,
            },
        })
    }
}

/// The executor's view of an [`OpDef`] record that `Model::load` validated.
#[inline]
pub(crate) fn op_ref(rec: &[u8]) -> Option<OpRef> {
    let (op, rest) = read(rec, Reader::op)?;
    OpRef::with_operands(op, rest)
}

/// Runs `f` on a reader over `bytes`: the value and the bytes left.
fn read<'a, T>(
    bytes: &'a [u8],
    f: impl FnOnce(&mut Reader<'a>) -> Option<T>,
) -> Option<(T, &'a [u8])> {
    let mut r = Reader(bytes);
    let v = f(&mut r)?;
    Some((v, r.0))
}

impl<'a> Record<'a> for OpDef {
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        read(bytes, |r| {
            Some(OpDef {
                op: r.op()?,
                inputs: r.list(Reader::u32)?,
                outputs: r.list(Reader::u32)?,
            })
        })
    }
}

impl<'a> Record<'a> for TensorDef<'a> {
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        read(bytes, |r| {
            use DType as D;
            Some(TensorDef {
                name: r.str()?,
                dtype: r.unit(&[D::F32, D::F16, D::I8, D::U8, D::I32, D::I64])?,
                shape: r.list(Reader::u32)?,
                location: match r.tag(2)? {
                    0 => Location::Arena {
                        offset: r.u32()?,
                        first: r.u32()?,
                        last: r.u32()?,
                    },
                    _ => Location::Weights { offset: r.u32()? },
                },
                quant: match r.tag(3)? {
                    0 => Quant::None,
                    1 => Quant::PerTensor {
                        scale: r.f32()?,
                        zero_point: r.i32()?,
                    },
                    _ => Quant::PerChannel {
                        axis: r.byte()?,
                        scales: r.u32()?,
                    },
                },
            })
        })
    }
}

impl<'a> Record<'a> for Golden<'a> {
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        read(bytes, |r| {
            Some(Golden {
                inputs: r.list(Reader::bytes)?,
                outputs: r.list(Reader::bytes)?,
            })
        })
    }
}

impl<'a> Record<'a> for GoldenDigest {
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        read(bytes, |r| {
            Some(GoldenDigest {
                seed: r.u64()?,
                outputs: r.list(Reader::u64)?,
            })
        })
    }
}

impl<'a> Record<'a> for Metadata<'a> {
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        read(bytes, |r| {
            Some(Metadata {
                name: r.str()?,
                version: r.str()?,
                description: r.str()?,
                producer: r.str()?,
                labels: r.str()?,
                properties: r.str()?,
            })
        })
    }
}

impl<'a> Record<'a> for GraphIo {
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        read(bytes, |r| {
            Some(GraphIo {
                inputs: r.list(Reader::u32)?,
                outputs: r.list(Reader::u32)?,
                arena_size: r.u32()?,
            })
        })
    }
}

#[cfg(test)]
pub(in crate::format) mod tests;
