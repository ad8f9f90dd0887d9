//! Packing of weights into the engine's layouts (see the module docs of
//! [`super`]): plain `no_std` functions over caller buffers, called by the host tool
//! at conversion and by tests. Each `*_packed_len` gives the exact length its packer
//! writes (`None` when it overflows usize); a packer writes every element of that
//! prefix (zeros in the padding) and nothing after it.
//!
//! Weights are in ONNX layout: conv `[out_c][in_c][kh][kw]`, depthwise
//! `[c][1][kh][kw]`. int8 requantization tables `rq` are interleaved
//! `(multiplier, shift)` pairs, one pair (per tensor) or one per output channel, as
//! the reference kernels take them ([`crate::kernels::int8`]).

use super::frame::geom::{need, MAX_TAPS};
use super::types::{I8Header, NR};
use crate::kernels::params::rq_pair;
use crate::{Error, Result};

/// f32 elements of one conv panel: `bias[16]` + `w[taps][c][16]`.
pub(crate) fn f32_conv_panel_len(taps: usize, c: usize) -> Option<usize> {
    taps.checked_mul(c)?.checked_mul(NR)?.checked_add(NR)
}

/// Whether an int8 conv of `c` input channels and `taps` taps uses the flat layout
/// (`k = tap·c + channel` without per-tap padding; see the module docs of [`super`]).
pub(crate) fn i8_flat(taps: usize, c: usize) -> bool {
    c < 4 && taps <= MAX_TAPS
}

/// Groups of 4 `k` per output channel in an int8 conv panel.
pub(crate) fn i8_conv_groups(taps: usize, c: usize) -> Option<usize> {
    if i8_flat(taps, c) {
        Some((taps * c).div_ceil(4))
    } else {
        taps.checked_mul(c.div_ceil(4))
    }
}

/// Bytes of one int8 conv panel: the header + `w[groups][16][4]`.
pub(crate) fn i8_conv_panel_len(header: I8Header, taps: usize, c: usize) -> Option<usize> {
    i8_conv_groups(taps, c)?
        .checked_mul(4 * NR)?
        .checked_add(header.conv_len())
}

/// f32 elements of one depthwise tile: `bias[16]` + `w[taps][16]`.
pub(crate) fn f32_dw_tile_len(taps: usize) -> Option<usize> {
    taps.checked_mul(NR)?.checked_add(NR)
}

/// Bytes of one int8 depthwise tile: the header + `w[taps][16]`.
pub(crate) fn i8_dw_tile_len(header: I8Header, taps: usize) -> Option<usize> {
    taps.checked_mul(NR)?.checked_add(header.dw_len())
}

fn taps(kernel: [usize; 2]) -> Option<usize> {
    kernel[0].checked_mul(kernel[1])
}

/// f32 elements [`pack_f32_conv`] writes.
pub fn f32_conv_packed_len(out_c: usize, in_c: usize, kernel: [usize; 2]) -> Option<usize> {
    out_c
        .div_ceil(NR)
        .checked_mul(f32_conv_panel_len(taps(kernel)?, in_c)?)
}

/// Bytes [`pack_i8_conv`] writes (the wide headers of [`I8Header::Wide`]).
pub fn i8_conv_packed_len(out_c: usize, in_c: usize, kernel: [usize; 2]) -> Option<usize> {
    i8_conv_packed_len_as(I8Header::Wide, out_c, in_c, kernel)
}

/// Bytes [`pack_i8_conv_as`] writes with headers of the form `header`.
pub fn i8_conv_packed_len_as(
    header: I8Header,
    out_c: usize,
    in_c: usize,
    kernel: [usize; 2],
) -> Option<usize> {
    out_c
        .div_ceil(NR)
        .checked_mul(i8_conv_panel_len(header, taps(kernel)?, in_c)?)
}

/// f32 elements [`pack_f32_dwconv`] writes.
pub fn f32_dwconv_packed_len(c: usize, kernel: [usize; 2]) -> Option<usize> {
    c.div_ceil(NR).checked_mul(f32_dw_tile_len(taps(kernel)?)?)
}

/// Bytes [`pack_i8_dwconv`] writes (the wide headers of [`I8Header::Wide`]).
pub fn i8_dwconv_packed_len(c: usize, kernel: [usize; 2]) -> Option<usize> {
    i8_dwconv_packed_len_as(I8Header::Wide, c, kernel)
}

/// Bytes [`pack_i8_dwconv_as`] writes with headers of the form `header`.
pub fn i8_dwconv_packed_len_as(header: I8Header, c: usize, kernel: [usize; 2]) -> Option<usize> {
    c.div_ceil(NR)
        .checked_mul(i8_dw_tile_len(header, taps(kernel)?)?)
}

/// Checks the weight and bias lengths of a `[rows][per_row]` weight tensor.
fn check_weights<T, B>(w: &[T], bias: Option<&[B]>, rows: usize, per_row: usize) -> Result<()> {
    need(
        rows.checked_mul(per_row).ok_or(Error::Unsupported)?,
        w.len(),
    )?;
    if let Some(b) = bias {
        need(rows, b.len())?;
    }
    Ok(())
}

/// Packs conv / fully connected weights `w` (`[out_c][in_c][kh][kw]`) and the
/// optional bias into the f32 conv layout: `packed[..f32_conv_packed_len]`.
///
/// Errors: [`Error::WrongLength`] when a slice is too short, [`Error::Unsupported`]
/// when the sizes overflow.
pub fn pack_f32_conv(
    w: &[f32],
    bias: Option<&[f32]>,
    out_c: usize,
    in_c: usize,
    kernel: [usize; 2],
    packed: &mut [f32],
) -> Result<()> {
    pack_conv(w, bias, 0.0, out_c, in_c, kernel, packed)
}

/// Packs f16 conv / fully connected weights (IEEE binary16 bits, `[out_c][in_c][kh][kw]`)
/// and the optional f16 bias into the f16 conv layout (the f32 layout with f16
/// elements): `packed[..f32_conv_packed_len]` (elements). Errors as
/// [`pack_f32_conv`].
pub fn pack_f16_conv(
    w: &[u16],
    bias: Option<&[u16]>,
    out_c: usize,
    in_c: usize,
    kernel: [usize; 2],
    packed: &mut [u16],
) -> Result<()> {
    pack_conv(w, bias, 0, out_c, in_c, kernel, packed)
}

/// The f32 / f16 conv packer; `zero` pads.
fn pack_conv<T: Copy>(
    w: &[T],
    bias: Option<&[T]>,
    zero: T,
    out_c: usize,
    in_c: usize,
    kernel: [usize; 2],
    packed: &mut [T],
) -> Result<()> {
    let len = f32_conv_packed_len(out_c, in_c, kernel).ok_or(Error::Unsupported)?;
    let taps = kernel[0] * kernel[1];
    check_weights(w, bias, out_c, taps * in_c)?;
    need(len, packed.len())?;
    let mut out = packed[..len].iter_mut();
    let mut put = |v: T| {
        if let Some(o) = out.next() {
            *o = v;
        }
    };
    for n0 in (0..out_c).step_by(NR) {
        let chans = n0..n0 + NR;
        for j in chans.clone() {
            put(if j < out_c {
                bias.map_or(zero, |b| b[j])
            } else {
                zero
            });
        }
        for t in 0..taps {
            for ci in 0..in_c {
                for j in chans.clone() {
                    put(if j < out_c {
                        w[(j * in_c + ci) * taps + t]
                    } else {
                        zero
                    });
                }
            }
        }
    }
    Ok(())
}

/// Writes `v` little-endian at `out[4·i..]`.
fn put_i32(out: &mut [u8], i: usize, v: i32) {
    out[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes channel `i`'s shift into the shift row `row` of a `header` (`i32` wide,
/// `i8` compact: [`Error::Unsupported`] outside `-128..=127`).
fn put_shift(header: I8Header, row: &mut [u8], i: usize, shift: i32) -> Result<()> {
    match header {
        I8Header::Wide => put_i32(row, i, shift),
        I8Header::Compact => row[i] = i8::try_from(shift).map_err(|_| Error::Unsupported)? as u8,
    }
    Ok(())
}

/// Packs int8 conv / fully connected weights `w` (`[out_c][in_c][kh][kw]`,
/// symmetric), the optional i32 bias and the requantization pairs `rq` into the
/// int8 conv layout with wide headers ([`I8Header::Wide`]), folding the input zero
/// point `x_zp` into the two bias rows (see the module docs of [`super`]):
/// `packed[..i8_conv_packed_len]`.
///
/// The kernels must be called with the same `x_zp`. Errors: [`Error::WrongLength`]
/// when a slice is too short, [`Error::Unsupported`] when the sizes overflow or
/// `x_zp` is outside `-128..=127`.
#[allow(clippy::too_many_arguments)]
pub fn pack_i8_conv(
    w: &[i8],
    bias: Option<&[i32]>,
    rq: &[i32],
    x_zp: i32,
    out_c: usize,
    in_c: usize,
    kernel: [usize; 2],
    packed: &mut [u8],
) -> Result<()> {
    pack_i8_conv_as(
        I8Header::Wide,
        w,
        bias,
        rq,
        x_zp,
        (out_c, in_c),
        kernel,
        packed,
    )
}

/// [`pack_i8_conv`] with headers of the form `header`: `packed[..i8_conv_packed_len_as]`.
/// The compact form also fails with [`Error::Unsupported`] when a channel's `Σw` is
/// outside `i16` or a shift outside `i8` (then pack the wide form).
#[allow(clippy::too_many_arguments)]
pub fn pack_i8_conv_as(
    header: I8Header,
    w: &[i8],
    bias: Option<&[i32]>,
    rq: &[i32],
    x_zp: i32,
    (out_c, in_c): (usize, usize),
    kernel: [usize; 2],
    packed: &mut [u8],
) -> Result<()> {
    let len = i8_conv_packed_len_as(header, out_c, in_c, kernel).ok_or(Error::Unsupported)?;
    if i8::try_from(x_zp).is_err() {
        return Err(Error::Unsupported);
    }
    let taps = kernel[0] * kernel[1];
    let k = taps * in_c;
    check_weights(w, bias, out_c, k)?;
    need(len, packed.len())?;
    let panel_len = len / out_c.div_ceil(NR).max(1);
    for (p, panel) in packed[..len].chunks_exact_mut(panel_len.max(1)).enumerate() {
        let (head, body) = panel.split_at_mut(header.conv_len());
        let (m_at, s_at) = header.conv_rq_at();
        for i in 0..NR {
            let j = p * NR + i;
            let (bs, sum, (m, s)) = if j < out_c {
                let sum = w[j * k..(j + 1) * k]
                    .iter()
                    .fold(0i32, |s, &v| s.wrapping_add(i32::from(v)));
                let b = bias.map_or(0, |b| b[j]);
                (b.wrapping_sub(x_zp.wrapping_mul(sum)), sum, rq_pair(rq, j))
            } else {
                (0, 0, (0, 0))
            };
            put_i32(head, i, bs);
            match header {
                I8Header::Wide => put_i32(
                    &mut head[4 * NR..],
                    i,
                    bs.wrapping_sub(sum.wrapping_mul(128)),
                ),
                I8Header::Compact => {
                    let at = I8Header::SUM_W_AT + 2 * i;
                    let sum = i16::try_from(sum).map_err(|_| Error::Unsupported)?;
                    head[at..at + 2].copy_from_slice(&sum.to_le_bytes());
                }
            }
            put_i32(&mut head[m_at..], i, m);
            put_shift(header, &mut head[s_at..], i, s)?;
        }
        // Group `g`, byte `q` of output channel `j`: input channel `ci` of tap `t`.
        let flat = i8_flat(taps, in_c);
        let groups = if flat {
            (taps * in_c).div_ceil(4)
        } else {
            taps * in_c.div_ceil(4)
        };
        let per_tap = in_c.div_ceil(4);
        let mut at = 0;
        for g in 0..groups {
            for i in 0..NR {
                let j = p * NR + i;
                for q in 0..4 {
                    let (t, ci) = if flat {
                        ((4 * g + q) / in_c.max(1), (4 * g + q) % in_c.max(1))
                    } else {
                        (g / per_tap, 4 * (g % per_tap) + q)
                    };
                    let v = if j < out_c && t < taps && ci < in_c {
                        w[(j * in_c + ci) * taps + t]
                    } else {
                        0
                    };
                    body[at] = v as u8;
                    at += 1;
                }
            }
        }
    }
    Ok(())
}

/// Packs depthwise weights `w` (`[c][1][kh][kw]`) and the optional bias into the f32
/// depthwise layout: `packed[..f32_dwconv_packed_len]`. Errors as [`pack_f32_conv`].
pub fn pack_f32_dwconv(
    w: &[f32],
    bias: Option<&[f32]>,
    c: usize,
    kernel: [usize; 2],
    packed: &mut [f32],
) -> Result<()> {
    pack_dwconv(w, bias, 0.0, c, kernel, packed)
}

/// Packs f16 depthwise weights (IEEE binary16 bits, `[c][1][kh][kw]`) and the
/// optional f16 bias into the f16 depthwise layout (the f32 layout with f16
/// elements): `packed[..f32_dwconv_packed_len]` (elements). Errors as
/// [`pack_f32_conv`].
pub fn pack_f16_dwconv(
    w: &[u16],
    bias: Option<&[u16]>,
    c: usize,
    kernel: [usize; 2],
    packed: &mut [u16],
) -> Result<()> {
    pack_dwconv(w, bias, 0, c, kernel, packed)
}

/// The f32 / f16 depthwise packer; `zero` pads.
fn pack_dwconv<T: Copy>(
    w: &[T],
    bias: Option<&[T]>,
    zero: T,
    c: usize,
    kernel: [usize; 2],
    packed: &mut [T],
) -> Result<()> {
    let len = f32_dwconv_packed_len(c, kernel).ok_or(Error::Unsupported)?;
    let taps = kernel[0] * kernel[1];
    check_weights(w, bias, c, taps)?;
    need(len, packed.len())?;
    let mut out = packed[..len].iter_mut();
    let mut put = |v: T| {
        if let Some(o) = out.next() {
            *o = v;
        }
    };
    for c0 in (0..c).step_by(NR) {
        for j in c0..c0 + NR {
            put(if j < c {
                bias.map_or(zero, |b| b[j])
            } else {
                zero
            });
        }
        for t in 0..taps {
            for j in c0..c0 + NR {
                put(if j < c { w[j * taps + t] } else { zero });
            }
        }
    }
    Ok(())
}

/// Packs int8 depthwise weights `w` (`[c][1][kh][kw]`), the optional i32 bias and
/// the requantization pairs `rq` into the int8 depthwise layout with wide headers
/// ([`I8Header::Wide`]): `packed[..i8_dwconv_packed_len]`. The input zero point is
/// not folded (the depthwise kernels subtract it). Errors as [`pack_f32_conv`].
pub fn pack_i8_dwconv(
    w: &[i8],
    bias: Option<&[i32]>,
    rq: &[i32],
    c: usize,
    kernel: [usize; 2],
    packed: &mut [u8],
) -> Result<()> {
    pack_i8_dwconv_as(I8Header::Wide, w, bias, rq, c, kernel, packed)
}

/// [`pack_i8_dwconv`] with headers of the form `header`:
/// `packed[..i8_dwconv_packed_len_as]`. The compact form also fails with
/// [`Error::Unsupported`] when a shift is outside `i8`.
pub fn pack_i8_dwconv_as(
    header: I8Header,
    w: &[i8],
    bias: Option<&[i32]>,
    rq: &[i32],
    c: usize,
    kernel: [usize; 2],
    packed: &mut [u8],
) -> Result<()> {
    let len = i8_dwconv_packed_len_as(header, c, kernel).ok_or(Error::Unsupported)?;
    let taps = kernel[0] * kernel[1];
    check_weights(w, bias, c, taps)?;
    need(len, packed.len())?;
    let tile_len = len / c.div_ceil(NR).max(1);
    for (ct, tile) in packed[..len].chunks_exact_mut(tile_len.max(1)).enumerate() {
        let (head, body) = tile.split_at_mut(header.dw_len());
        let (m_at, s_at) = header.dw_rq_at();
        for i in 0..NR {
            let j = ct * NR + i;
            let (b, (m, s)) = if j < c {
                (bias.map_or(0, |b| b[j]), rq_pair(rq, j))
            } else {
                (0, (0, 0))
            };
            put_i32(head, i, b);
            put_i32(&mut head[m_at..], i, m);
            put_shift(header, &mut head[s_at..], i, s)?;
        }
        for t in 0..taps {
            for i in 0..NR {
                let j = ct * NR + i;
                body[t * NR + i] = if j < c { w[j * taps + t] as u8 } else { 0 };
            }
        }
    }
    Ok(())
}
