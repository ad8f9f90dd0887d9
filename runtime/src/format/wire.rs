//! The executor's trusted reader of postcard records (see [`Wire`]).

/// A cursor over postcard bytes that `Model::load` has already decoded in full, for the
/// executor's per-step reads (see `types::TensorRef`). It follows postcard's encoding
/// (see `docs/format.md`) without re-checking what validation checked (UTF-8 of names,
/// trailing bytes; its long varints share the loader's strict loop), so on a validated
/// record it reads exactly the values postcard does; on anything else it returns `None`,
/// never panics.
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

    /// A LEB128 varint of a `bits`-bit integer. Almost every varint of a model record
    /// (indices, dims, enum tags) is one byte: that case is inlined, the loop (the
    /// loader's strict one, which reads a validated record the same way) is not
    /// (inlining it at every field cost 6.5 KB of the .wasm).
    #[inline]
    fn varint(&mut self, bits: u32) -> Option<u64> {
        varint_short(&mut self.0, bits)
    }

    /// A `u32` (also enum variant indices).
    #[inline]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.varint(32).map(|v| v as u32)
    }

    /// A `usize` (lengths of strings, byte strings and lists).
    #[inline]
    pub(crate) fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.varint(usize::BITS)?).ok()
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

/// [`varint`] with its one-byte case inline (the rest through the loop): the same
/// values and failures. [`Wire`] and the op-record reader (`decode.rs`) read with it.
#[inline]
pub(super) fn varint_short(bytes: &mut &[u8], bits: u32) -> Option<u64> {
    match bytes.split_first() {
        Some((&v, rest)) if v < 0x80 => {
            *bytes = rest;
            Some(u64::from(v))
        }
        _ => varint(bytes, bits),
    }
}

/// A varint of a `bits`-bit unsigned integer at the start of `bytes`, as postcard
/// reads it; `bytes` moves past it. The loader's decoders (`decode.rs`) and [`Wire`]'s
/// long varints: one loop in the binary.
#[inline(never)]
pub(super) fn varint(bytes: &mut &[u8], bits: u32) -> Option<u64> {
    // Two bytes (arena offsets, small weights offsets) without the loop: valid for every
    // width above 14 bits, as in the loop. Not on microcontrollers (flash).
    if cfg!(not(target_os = "none")) && bits > 14 {
        if let [a, b, ref rest @ ..] = **bytes {
            if a >= 0x80 && b < 0x80 {
                *bytes = rest;
                return Some(u64::from(a & 0x7F) | u64::from(b) << 7);
            }
        }
    }
    let max = bits.div_ceil(7);
    let last = (1u8 << (bits % 7)) - 1;
    let mut out = 0u64;
    for i in 0..max {
        let (&v, rest) = bytes.split_first()?;
        *bytes = rest;
        out |= u64::from(v & 0x7F) << (7 * i);
        if v & 0x80 == 0 {
            return (i + 1 < max || v <= last).then_some(out);
        }
    }
    None
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

    /// Every two-byte varint (the loop's shortcut) and the bytes after it, as postcard
    /// reads a `u32` and a `u64`, overlong encodings (a zero second byte) included.
    #[test]
    fn two_byte_varints_match_postcard() {
        for a in 0x80u8..=0xFF {
            for b in 0u8..0x80 {
                let rec = [a, b, 0xAA];
                let want32: u32 = postcard::take_from_bytes(&rec).unwrap().0;
                let want64: u64 = postcard::take_from_bytes(&rec).unwrap().0;
                for (bits, want) in [(32, u64::from(want32)), (64, want64)] {
                    let mut rest = &rec[..];
                    assert_eq!(super::varint(&mut rest, bits), Some(want));
                    assert_eq!(rest, &[0xAA]);
                }
                let mut w = super::Wire(&rec);
                assert_eq!((w.u32(), w.0), (Some(want32), &[0xAA][..]));
            }
        }
    }

    /// Op records (the decoder tests' samples: every `Op` variant in the combinations
    /// of its fields, multi-byte indices) read back as postcard wrote them.
    #[test]
    fn ops_match_postcard() {
        for op in super::super::decode::tests::ops() {
            let def = OpDef {
                op: op.clone(),
                inputs: HVec::from_slice(&[0, 127, 128, u32::MAX, 5, 6, 7, 8]).unwrap(),
                outputs: HVec::from_slice(&[300]).unwrap(),
            };
            let r = super::super::decode::op_ref(&enc(&def)).unwrap();
            // Compared by encoding: some samples have NaN fields.
            assert_eq!(
                (enc(&r.op), r.inputs(), r.io.output),
                (enc(&op), &def.inputs[..], 300)
            );
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
