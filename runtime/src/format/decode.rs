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
//!
//! One exception to "the same values": in a build without an op's group (Cargo
//! feature), [`OpDef`]'s decoder checks that op's attributes against a table of their
//! encodings ([`SKIP`]) instead of building them, and gives a stand-in op of the same
//! group; `Model::load` refuses it with `Error::UnsupportedOp` as before. The bytes
//! accepted are the same (tested against the full decoding), and the MLP-only build
//! saves about 2.1 KB of flash on Cortex-M.

use heapless::Vec as HVec;

use super::op::{OpGroup, OpRef, Operands};

use super::types::{
    Activation, Aggregate, BinaryOp, Cell, Direction, Golden, GoldenDigest, GraphIo, GridMode,
    GridPadding, Location, Metadata, Norm, Op, OpDef, PostTransform, QBinary, QNhwc, QParams,
    Quant, Requant, TensorDef, TensorRef, UnaryOp, Window,
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

    /// A varint: one byte inline (every tag and almost every field of an op record,
    /// which the executor decodes with this reader at each run), longer ones through
    /// the shared strict loop; the same values and failures as the loop alone. Not on
    /// microcontrollers (`target_os = "none"`), whose flash keeps the loop alone.
    #[inline]
    fn varint(&mut self, bits: u32) -> Option<u64> {
        if cfg!(target_os = "none") {
            super::wire::varint(&mut self.0, bits)
        } else {
            super::wire::varint_short(&mut self.0, bits)
        }
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
        use OpGroup as G;
        Some(match self.tag(34)? {
            0 => Op::FullyConnected {
                act: self.activation()?,
                q: self.qparams()?,
            },
            1 if G::Math.enabled() => Op::MatMul,
            2 if G::Conv.enabled() => Op::Conv {
                window: self.window()?,
                groups: self.u32()?,
                act: self.activation()?,
                q: self.qparams()?,
            },
            3 if G::Pool.enabled() => Op::MaxPool {
                window: self.window()?,
            },
            4 if G::Pool.enabled() => Op::AvgPool {
                window: self.window()?,
                count_include_pad: self.flag()?,
            },
            5 if G::Pool.enabled() => Op::GlobalAvgPool,
            6 if G::Pool.enabled() => Op::GlobalMaxPool,
            7 if G::Math.enabled() => {
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
            12 if G::Shape.enabled() => Op::Transpose {
                perm: self.list(Self::byte)?,
            },
            13 if G::Shape.enabled() => Op::Concat { axis: self.byte()? },
            14 if G::Shape.enabled() => Op::Pad {
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
            19 if G::Shape.enabled() => Op::Cast,
            20 if G::Classic.enabled() => Op::Linear { post: self.post()? },
            21 if G::Classic.enabled() => {
                use Aggregate as A;
                Op::TreeEnsemble {
                    aggregate: self.unit(&[A::Sum, A::Average, A::Min, A::Max])?,
                    post: self.post()?,
                }
            }
            22 if G::Classic.enabled() => Op::Normalize {
                norm: self.unit(&[Norm::L1, Norm::L2, Norm::Max])?,
            },
            23 if G::Shape.enabled() => Op::Slice {
                starts: self.list(Self::i32)?,
                steps: self.list(Self::i32)?,
            },
            24 if G::Math.enabled() => Op::Lrn {
                size: self.u32()?,
                alpha: self.f32()?,
                beta: self.f32()?,
                bias: self.f32()?,
            },
            25 if G::Conv.enabled() => Op::ConvNhwc {
                window: self.window()?,
                act: self.activation()?,
                q: self.qnhwc()?,
            },
            26 if G::Conv.enabled() => Op::DepthwiseNhwc {
                window: self.window()?,
                act: self.activation()?,
                q: self.qnhwc()?,
            },
            27 if G::Recurrent.enabled() => {
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
            28 if G::Math.enabled() => {
                use GridMode as M;
                use GridPadding as P;
                Op::GridSample {
                    mode: self.unit(&[M::Nearest, M::Linear, M::Cubic])?,
                    padding: self.unit(&[P::Zeros, P::Border, P::Reflection])?,
                    align_corners: self.flag()?,
                }
            }
            29 if G::Pool.enabled() => Op::MaxPoolNhwc {
                window: self.window()?,
            },
            30 if G::Pool.enabled() => Op::AvgPoolNhwc {
                window: self.window()?,
                count_include_pad: self.flag()?,
            },
            31 if G::Math.enabled() => Op::GlobalProd,
            32 if G::Conv.enabled() => Op::ConvNchw {
                window: self.window()?,
                act: self.activation()?,
            },
            33 if G::Conv.enabled() => Op::ConvNchwI8 {
                window: self.window()?,
                act: self.activation()?,
                x_scale: self.f32()?,
                x_zero_point: self.i32()?,
                act_min: self.i32()?,
                act_max: self.i32()?,
            },
            // An op of a group this build lacks: its attributes checked, not built.
            t => {
                self.skip_op(t)?;
                stand_in(t)
            }
        })
    }

    /// Reads the attributes of op `tag` as [`op`](Self::op) decodes them, accepting
    /// exactly the same bytes, without building the value: the ops of a disabled group
    /// must still be read (to find their operands and refuse them with
    /// `UnsupportedOp`), but need not cost the flash of their decoding. Driven by the
    /// table [`SKIP`].
    pub(super) fn skip_op(&mut self, tag: u32) -> Option<()> {
        let t = tag as usize;
        let (from, to) = (*SKIP_AT.get(t)?, *SKIP_AT.get(t + 1)?);
        self.skip(SKIP.get(from as usize..to as usize)?)
    }

    /// Reads the fields `codes` describe (see [`SKIP`]).
    fn skip(&mut self, mut codes: &[u8]) -> Option<()> {
        while let Some((&c, rest)) = codes.split_first() {
            codes = rest;
            let n = usize::from(c & 15);
            match c >> 4 {
                0 => {
                    for _ in 0..n {
                        self.u32()?;
                    }
                }
                1 => {
                    self.take(4 * n)?;
                }
                2 => {
                    self.take(n)?;
                }
                3 => {
                    self.flag()?;
                }
                4 => {
                    self.tag(n as u32)?;
                }
                5 => {
                    self.activation()?;
                }
                6 => {
                    if !self.flag()? {
                        codes = codes.get(n..)?;
                    }
                }
                7 => {
                    let (elem, rest) = codes.split_at_checked(1)?;
                    codes = rest;
                    let len = self.usize()?;
                    if len > if n == 0 { 16 } else { n } {
                        return None;
                    }
                    for _ in 0..len {
                        self.skip(elem)?;
                    }
                }
                8 => {
                    self.unary()?;
                }
                _ => {
                    if self.tag(3)? == 1 {
                        self.flag()?;
                    }
                }
            }
        }
        Some(())
    }
}

/// The attributes of each op variant, by wire index, as codes for [`Reader::skip_op`]
/// (`SKIP[SKIP_AT[tag]..SKIP_AT[tag + 1]]`): a code's high nibble is the field kind,
/// its low nibble `n`: `0n` n `u32` / `i32` varints (a `Window` is 10), `1n` n `f32`,
/// `2n` n raw bytes (`u8`), `31` a `bool`, `4n` an enum tag below n (a unit enum),
/// `50` an `Activation`, `6n` an `Option` whose value is the next n codes, `7n` a list
/// of at most n elements (`70`: 16) each of the next code, `80` a `UnaryOp`, `90` a
/// recurrent `Cell`. The core ops have none (they are always decoded); the tests
/// compare every variant with [`Reader::op`].
#[rustfmt::skip]
const SKIP: [u8; 57] = [
    0x0B, 0x50, 0x61, 0x04,             // 2 Conv: window, groups, act, QParams
    0x0A,                               // 3 MaxPool
    0x0A, 0x31,                         // 4 AvgPool
    0x49, 0x50, 0x61, 0x0C,             // 7 Binary: op, act, QBinary
    0x78, 0x21,                         // 12 Transpose
    0x21,                               // 13 Concat
    0x70, 0x01, 0x11,                   // 14 Pad
    0x44,                               // 20 Linear
    0x44, 0x44,                         // 21 TreeEnsemble
    0x43,                               // 22 Normalize
    0x78, 0x01, 0x78, 0x01,             // 23 Slice
    0x01, 0x13,                         // 24 Lrn
    0x0A, 0x50, 0x63, 0x02, 0x61, 0x0C, // 25 ConvNhwc: window, act, QNhwc
    0x0A, 0x50, 0x63, 0x02, 0x61, 0x0C, // 26 DepthwiseNhwc
    0x90, 0x43, 0x76, 0x80, 0x61, 0x11, // 27 Recurrent
    0x43, 0x43, 0x31,                   // 28 GridSample
    0x0A,                               // 29 MaxPoolNhwc
    0x0A, 0x31,                         // 30 AvgPoolNhwc
    0x0A, 0x50,                         // 32 ConvNchw
    0x0A, 0x50, 0x11, 0x03,             // 33 ConvNchwI8: window, act, x_scale, zp, min, max
];

/// Where each variant's codes start in [`SKIP`] (and, for 34, where the last ends).
#[rustfmt::skip]
const SKIP_AT: [u8; 35] = [
    0, 0, 0, 4, 5, 7, 7, 7, 11, 11, 11, 11, 11, 13, 14, 17, 17, 17, 17, 17,
    17, 18, 20, 21, 25, 27, 33, 39, 45, 48, 49, 51, 51, 53, 57,
];

/// A value of op `tag`'s group (not an op `tag` has: its attributes were skipped)
/// for an op of a group this build lacks, which `Model::load` refuses with
/// `UnsupportedOp` by its group before anything else reads it.
pub(super) fn stand_in(tag: u32) -> Op {
    match tag {
        2 | 25 | 26 | 32 | 33 => Op::ConvNchw {
            window: Window {
                kernel: [1; 2],
                stride: [1; 2],
                dilation: [1; 2],
                pads: [0; 4],
            },
            act: Activation::None,
        },
        3..=6 | 29 | 30 => Op::GlobalMaxPool,
        12..=14 | 19 | 23 => Op::Cast,
        20..=22 => Op::Normalize { norm: Norm::L1 },
        27 => Op::Recurrent {
            cell: Cell::Rnn,
            direction: Direction::Forward,
            acts: HVec::new(),
            clip: None,
        },
        // 1, 7, 24, 28, 31: ops-math.
        _ => Op::MatMul,
    }
}

/// The executor's view of an [`OpDef`] record that `Model::load` validated: the op
/// by [`read_op`], its operand lists by [`Operands::read`] (the run's in-place path),
/// `None` where `OpDef` would not decode or has no output.
#[inline]
pub(crate) fn op_ref(rec: &[u8]) -> Option<OpRef> {
    let mut rest: &[u8] = &[];
    let op = read_op(rec, &mut rest)?;
    let mut io = Operands::EMPTY;
    io.read(rest)?;
    Some(OpRef { op, io })
}

/// The op of an [`OpDef`] record that `Model::load` validated, for the executor's
/// per-step read; `rest` is set to the bytes after it (the operand lists). The op is
/// returned straight from the decoder, so that the caller keeps it where the decoder
/// wrote it (a copy right after the decoder's field stores stalls, see
/// `TensorRef::read`).
#[inline(always)]
pub(crate) fn read_op<'a>(rec: &'a [u8], rest: &mut &'a [u8]) -> Option<Op> {
    let mut r = Reader(rec);
    let op = r.op();
    *rest = r.0;
    op
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
        let mut r = Reader(bytes);
        let name = r.str()?;
        // The other fields with the executor's reader, which is as strict (one decoder
        // of them in the binary).
        let mut w = super::wire::Wire(r.0);
        let mut t = TensorRef::EMPTY;
        let rest = t.decode_fields(&mut w)?;
        let def = TensorDef {
            name,
            dtype: t.dtype,
            shape: HVec::from_slice(t.shape()).ok()?,
            location: if t.weights {
                Location::Weights { offset: t.offset }
            } else {
                Location::Arena {
                    offset: t.offset,
                    first: rest.first,
                    last: rest.last,
                }
            },
            quant: match rest.quant {
                0 => Quant::None,
                1 => Quant::PerTensor {
                    scale: t.scale,
                    zero_point: t.zero_point,
                },
                _ => Quant::PerChannel {
                    axis: rest.axis,
                    scales: rest.scales,
                },
            },
        };
        Some((def, w.0))
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
