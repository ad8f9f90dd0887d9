//! The executor's trusted reader of postcard records (see [`Wire`]).

/// A cursor over postcard bytes that `Model::load` has already decoded in full, for the
/// executor's per-step reads (see `types::TensorRef`). It follows postcard's encoding
/// (see `docs/format.md`) without re-checking what validation checked (UTF-8 of names,
/// trailing bytes, varint overflow), so on a validated record it reads exactly the values
/// postcard does; on anything else it returns `None`, never panics.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wire<'a>(pub(crate) &'a [u8]);

impl<'a> Wire<'a> {
    /// One raw byte (`u8`, `bool`, `Option` tag).
    #[inline]
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let (&v, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(v)
    }

    /// A LEB128 varint of at most `max` bytes. Almost every varint of a model record
    /// (indices, dims, enum tags) is one byte: that case is inlined, the loop is not
    /// (inlining it at every field cost 6.5 KB of the .wasm).
    #[inline]
    fn varint(&mut self, max: u32) -> Option<u64> {
        match self.0.split_first() {
            Some((&v, rest)) if v < 0x80 => {
                self.0 = rest;
                Some(u64::from(v))
            }
            _ => self.varint_long(max),
        }
    }

    #[inline(never)]
    fn varint_long(&mut self, max: u32) -> Option<u64> {
        let mut out = 0u64;
        for i in 0..max {
            let v = self.byte()?;
            out |= u64::from(v & 0x7F) << (7 * i);
            if v & 0x80 == 0 {
                return Some(out);
            }
        }
        None
    }

    /// A `u32` (also enum variant indices).
    #[inline]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        // Postcard reads at most 5 bytes and rejects values above u32::MAX.
        self.varint(5).map(|v| v as u32)
    }

    /// A `usize` (lengths of strings, byte strings and lists).
    #[inline]
    pub(crate) fn usize(&mut self) -> Option<usize> {
        let max = if usize::BITS > 32 { 10 } else { 5 };
        usize::try_from(self.varint(max)?).ok()
    }

    /// An `i32` (zig-zag varint).
    #[inline]
    pub(crate) fn i32(&mut self) -> Option<i32> {
        let v = self.u32()?;
        Some((v >> 1) as i32 ^ -((v & 1) as i32))
    }

    /// An `f32` (4 little-endian bytes).
    #[inline]
    pub(crate) fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    /// The next `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::types::*;
    use heapless::Vec as HVec;

    fn enc<T: serde::Serialize>(v: &T) -> HVec<u8, 512> {
        let mut buf = [0u8; 512];
        let n = postcard::to_slice(v, &mut buf).unwrap().len();
        HVec::from_slice(&buf[..n]).unwrap()
    }

    /// A window whose fields take one- to five-byte varints (shared with the
    /// decoder's tests, `format/decode/tests.rs`).
    pub(in crate::format) fn window(k: u32) -> Window {
        Window {
            kernel: [k, k + 1],
            stride: [1, 300],
            dilation: [2, 1],
            pads: [0, 1, 200_000, u32::MAX],
        }
    }

    /// Quantization parameters with extreme and multi-byte values: a conv's, a
    /// requantization and a binary op's (shared with the decoder's tests).
    pub(in crate::format) fn quant_samples() -> (QParams, Requant, QBinary) {
        let q = QParams {
            requant: 4096,
            channels: 64,
            act_min: -128,
            act_max: 127,
        };
        let rq = Requant {
            multiplier: i32::MAX,
            shift: -31,
        };
        let qb = QBinary {
            a_zero_point: -3,
            b_zero_point: 7,
            out_zero_point: i32::MIN,
            left_shift: 20,
            a: rq,
            b: Requant {
                multiplier: 1 << 30,
                shift: 30,
            },
            out: rq,
            act_min: -128,
            act_max: 127,
        };
        (q, rq, qb)
    }

    /// Op records (every `Op` variant, multi-byte indices) read back as postcard wrote them.
    #[test]
    fn ops_match_postcard() {
        let (q, rq, qb) = quant_samples();
        let acts = [
            Activation::None,
            Activation::Relu,
            Activation::Clip {
                min: -1.5,
                max: 6.0,
            },
        ];
        let unary = [
            UnaryOp::Relu,
            UnaryOp::Clip { min: 0.0, max: 1.0 },
            UnaryOp::LeakyRelu { alpha: 0.1 },
            UnaryOp::Elu { alpha: 1.0 },
            UnaryOp::Sigmoid,
            UnaryOp::Tanh,
            UnaryOp::HardSigmoid {
                alpha: 0.2,
                beta: 0.5,
            },
            UnaryOp::HardSwish,
            UnaryOp::Exp,
            UnaryOp::Log,
            UnaryOp::Sqrt,
            UnaryOp::Neg,
            UnaryOp::Abs,
            UnaryOp::Reciprocal,
            UnaryOp::Floor,
            UnaryOp::Ceil,
            UnaryOp::Erf,
            UnaryOp::Softplus,
            UnaryOp::Gelu,
            UnaryOp::Sin,
            UnaryOp::Cos,
            UnaryOp::Tan,
            UnaryOp::Asin,
            UnaryOp::Acos,
            UnaryOp::Atan,
            UnaryOp::Sinh,
            UnaryOp::Cosh,
            UnaryOp::Asinh,
            UnaryOp::Acosh,
            UnaryOp::Atanh,
            UnaryOp::Round,
            UnaryOp::Sign,
            UnaryOp::Shrink {
                lambd: 0.5,
                bias: -1.5,
            },
        ];
        let bins = [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Max,
            BinaryOp::Min,
            BinaryOp::Pow,
            BinaryOp::Fmod,
            BinaryOp::Mod,
        ];
        let posts = [
            PostTransform::None,
            PostTransform::Softmax,
            PostTransform::Logistic,
            PostTransform::SoftmaxZero,
        ];
        let aggs = [
            Aggregate::Sum,
            Aggregate::Average,
            Aggregate::Min,
            Aggregate::Max,
        ];
        let mut ops: HVec<Op, 256> = HVec::new();
        let mut add = |o: Op| ops.push(o).unwrap();
        for (i, act) in acts.into_iter().enumerate() {
            for q in [None, Some(q)] {
                add(Op::FullyConnected { act, q });
                add(Op::Conv {
                    window: window(i as u32),
                    groups: 300,
                    act,
                    q,
                });
            }
            for (b, op) in bins.into_iter().enumerate() {
                let q = (b % 2 == 1).then_some(qb);
                add(Op::Binary { op, act, q });
            }
            for residual in [None, Some(qb)] {
                let q = Some(QNhwc {
                    act_min: -128,
                    act_max: i as i32,
                    residual,
                });
                for q in [None, q] {
                    add(Op::ConvNhwc {
                        window: window(i as u32),
                        act,
                        q,
                    });
                    add(Op::DepthwiseNhwc {
                        window: window(i as u32 + 1),
                        act,
                        q,
                    });
                }
                add(Op::ConvNchw {
                    window: window(i as u32 + 2),
                    act,
                });
            }
        }
        for op in unary {
            add(Op::Unary { op });
        }
        for (i, post) in posts.into_iter().enumerate() {
            add(Op::Linear { post });
            add(Op::TreeEnsemble {
                aggregate: aggs[i],
                post,
            });
        }
        for norm in [Norm::L1, Norm::L2, Norm::Max] {
            add(Op::Normalize { norm });
        }
        for c in [false, true] {
            add(Op::AvgPool {
                window: window(3),
                count_include_pad: c,
            });
            add(Op::Softmax { axis: 200, log: c });
            add(Op::ArgMax {
                axis: 1,
                keepdims: c,
                select_last: !c,
            });
        }
        for op in [
            Op::MatMul,
            Op::MaxPool { window: window(2) },
            Op::GlobalAvgPool,
            Op::GlobalMaxPool,
            Op::GlobalProd,
            Op::Lut,
            Op::Reshape,
            Op::Transpose {
                perm: HVec::from_slice(&[0, 3, 1, 2, 255]).unwrap(),
            },
            Op::Transpose { perm: HVec::new() },
            Op::Concat { axis: 3 },
            Op::Pad {
                pads: HVec::from_slice(&[1; 16]).unwrap(),
                value: -0.0,
            },
            Op::Quantize,
            Op::Dequantize,
            Op::Requantize { rq },
            Op::Cast,
            Op::Slice {
                starts: HVec::from_slice(&[0, -1, i32::MIN, i32::MAX]).unwrap(),
                steps: HVec::from_slice(&[1, -1, 2, -300]).unwrap(),
            },
            Op::Lrn {
                size: 5,
                alpha: 1e-4,
                beta: 0.75,
                bias: 1.0,
            },
        ] {
            add(op);
        }
        for op in ops {
            let def = OpDef {
                op: op.clone(),
                inputs: HVec::from_slice(&[0, 127, 128, u32::MAX, 5, 6, 7, 8]).unwrap(),
                outputs: HVec::from_slice(&[300]).unwrap(),
            };
            let r = super::super::decode::op_ref(&enc(&def)).unwrap();
            assert_eq!((&r.op, r.inputs(), r.output), (&op, &def.inputs[..], 300));
        }
    }

    /// Tensor records read back as postcard wrote them (names, every dtype, location
    /// and quantization, ranks 0 to 8, multi-byte varints).
    #[test]
    fn tensors_match_postcard() {
        let long = "a-name-longer-than-127-bytes-so-its-length-takes-two-varint-bytes-\
                    a-name-longer-than-127-bytes-so-its-length-takes-two-varint-bytes";
        let dtypes = [
            DType::F32,
            DType::F16,
            DType::I8,
            DType::U8,
            DType::I32,
            DType::I64,
        ];
        let quants = [
            Quant::None,
            Quant::PerTensor {
                scale: 0.25,
                zero_point: -128,
            },
            Quant::PerTensor {
                scale: 1e-9,
                zero_point: 255,
            },
            Quant::PerChannel {
                axis: 3,
                scales: 1 << 20,
            },
        ];
        let locs = [
            Location::Arena {
                offset: 16,
                first: 0,
                last: 300,
            },
            Location::Weights { offset: u32::MAX },
        ];
        for rank in 0..=MAX_RANK {
            for (i, &dtype) in dtypes.iter().enumerate() {
                for quant in quants {
                    for location in locs {
                        let dims = [1u32, 200, 3, 70_000, 1, 2, 1, 1];
                        let t = TensorDef {
                            name: if i % 2 == 0 { long } else { "" },
                            dtype,
                            shape: Shape::from_slice(&dims[..rank]).unwrap(),
                            location,
                            quant,
                        };
                        let r = TensorRef::decode(&enc(&t)).unwrap();
                        assert_eq!(r, TensorRef::of(&t));
                        assert_eq!(r.shape(), &t.shape[..]);
                        assert_eq!(r.byte_len(), t.byte_len().unwrap());
                    }
                }
            }
        }
    }
}
