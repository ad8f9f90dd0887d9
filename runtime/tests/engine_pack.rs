//! The engine's packed weight layouts, pinned by bytes computed by hand here (they
//! are what phase 2 writes into model files), and the packers' errors.

use ferrite::kernels::engine::{
    f32_conv_packed_len, f32_dwconv_packed_len, i8_conv_packed_len, i8_conv_packed_len_as,
    i8_dwconv_packed_len, i8_dwconv_packed_len_as, pack_f32_conv, pack_f32_dwconv, pack_i8_conv,
    pack_i8_conv_as, pack_i8_dwconv, pack_i8_dwconv_as, I8Header, I8_CONV_HEADER, I8_DW_HEADER, NR,
};
use ferrite::Error;

/// The little-endian i32 at index `i` of `bytes`.
fn i32_at(bytes: &[u8], i: usize) -> i32 {
    i32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap())
}

fn i8s(bytes: &[u8]) -> Vec<i8> {
    bytes.iter().map(|&b| b as i8).collect()
}

#[test]
fn int8_conv_panel_header_and_groups() {
    // 2 output channels, 5 input channels, 1x1: two groups of 4 per tap.
    let w: [i8; 10] = [1, 2, 3, 4, 5, -1, -2, -3, -4, -128];
    let rq = [1_500_000_000, -7, 1 << 30, 2];
    let len = i8_conv_packed_len(2, 5, [1, 1]).unwrap();
    assert_eq!(len, I8_CONV_HEADER + 2 * 64);
    let mut p = vec![0xEE; len + 8];
    pack_i8_conv(&w, Some(&[10, -20]), &rq, 3, 2, 5, [1, 1], &mut p).unwrap();
    // Σw = 15 and -138; bias_s8 = bias − 3·Σw; bias_u8 = bias_s8 − 128·Σw.
    let rows: [[i32; 2]; 4] = [
        [-35, 394],
        [-1955, 18058],
        [1_500_000_000, 1 << 30],
        [-7, 2],
    ];
    for (r, row) in rows.iter().enumerate() {
        for ch in 0..NR {
            let want = row.get(ch).copied().unwrap_or(0);
            assert_eq!(i32_at(&p, r * NR + ch), want, "header row {r} channel {ch}");
        }
    }
    let body = i8s(&p[I8_CONV_HEADER..len]);
    let mut want = vec![0i8; 128];
    want[..8].copy_from_slice(&[1, 2, 3, 4, -1, -2, -3, -4]);
    want[64..72].copy_from_slice(&[5, 0, 0, 0, -128, 0, 0, 0]);
    assert_eq!(body, want);
    assert!(p[len..].iter().all(|&b| b == 0xEE), "wrote past its length");
}

/// The compact headers (format 1.4) of the case above: `bias_s8` `i32[16]`,
/// `multiplier` `i32[16]`, `sum_w` `i16[16]`, `shift` `i8[16]` (176 bytes), then the
/// same weight groups as the wide form.
#[test]
fn int8_conv_compact_panel_header() {
    let w: [i8; 10] = [1, 2, 3, 4, 5, -1, -2, -3, -4, -128];
    let rq = [1_500_000_000, -7, 1 << 30, 2];
    let h = I8Header::Compact;
    let len = i8_conv_packed_len_as(h, 2, 5, [1, 1]).unwrap();
    assert_eq!((h.conv_len(), len), (176, 176 + 2 * 64));
    let mut p = vec![0xEE; len + 8];
    pack_i8_conv_as(h, &w, Some(&[10, -20]), &rq, 3, (2, 5), [1, 1], &mut p).unwrap();
    let i16_at = |i: usize| i16::from_le_bytes([p[128 + 2 * i], p[129 + 2 * i]]);
    for ch in 0..NR {
        let pick = |v: [i32; 2]| v.get(ch).copied().unwrap_or(0);
        assert_eq!(i32_at(&p, ch), pick([-35, 394]), "bias_s8 {ch}");
        assert_eq!(
            i32_at(&p, NR + ch),
            pick([1_500_000_000, 1 << 30]),
            "multiplier"
        );
        assert_eq!(i32::from(i16_at(ch)), pick([15, -138]), "sum_w {ch}");
        assert_eq!(i32::from(p[160 + ch] as i8), pick([-7, 2]), "shift {ch}");
    }
    let mut wide = vec![0; i8_conv_packed_len(2, 5, [1, 1]).unwrap()];
    pack_i8_conv(&w, Some(&[10, -20]), &rq, 3, 2, 5, [1, 1], &mut wide).unwrap();
    assert_eq!(&p[176..len], &wide[I8_CONV_HEADER..]);
    assert!(p[len..].iter().all(|&b| b == 0xEE), "wrote past its length");
    // A Σw outside i16 (here 300·127) or a shift outside i8 has no compact form.
    let big = vec![127i8; 300];
    let mut p = vec![0; i8_conv_packed_len_as(h, 1, 300, [1, 1]).unwrap()];
    let r = pack_i8_conv_as(h, &big, None, &[1 << 30, 0], 0, (1, 300), [1, 1], &mut p);
    assert_eq!(r, Err(Error::Unsupported));
    let r = pack_i8_conv_as(
        h,
        &big[..5],
        None,
        &[1 << 30, 200],
        0,
        (1, 5),
        [1, 1],
        &mut p,
    );
    assert_eq!(r, Err(Error::Unsupported));
    let mut d = vec![0; i8_dwconv_packed_len_as(h, 1, [1, 1]).unwrap()];
    let r = pack_i8_dwconv_as(h, &[1], None, &[1 << 30, -200], 1, [1, 1], &mut d);
    assert_eq!(r, Err(Error::Unsupported));
}

/// The compact depthwise headers: `bias`, `multiplier` as `i32[16]`, `shift` `i8[16]`
/// (144 bytes), then the wide form's weights.
#[test]
fn depthwise_compact_tiles() {
    let c = 17;
    let w: Vec<i8> = (0..c * 2).map(|i| i as i8 - 20).collect();
    let bias: Vec<i32> = (0..c as i32).map(|j| j * 1000).collect();
    let rq: Vec<i32> = (0..c as i32).flat_map(|j| [j + 1, -j]).collect();
    let h = I8Header::Compact;
    let len = i8_dwconv_packed_len_as(h, c, [1, 2]).unwrap();
    assert_eq!(len, 2 * (144 + 2 * NR));
    let mut p = vec![0xEE; len];
    pack_i8_dwconv_as(h, &w, Some(&bias), &rq, c, [1, 2], &mut p).unwrap();
    let mut wide = vec![0; i8_dwconv_packed_len(c, [1, 2]).unwrap()];
    pack_i8_dwconv(&w, Some(&bias), &rq, c, [1, 2], &mut wide).unwrap();
    let (tile, wide_tile) = (len / 2, wide.len() / 2);
    for j in 0..32 {
        let (t, ch, real) = (j / NR, j % NR, j < c);
        let hdr = &p[t * tile..];
        assert_eq!(i32_at(hdr, ch), if real { j as i32 * 1000 } else { 0 });
        assert_eq!(i32_at(hdr, NR + ch), if real { j as i32 + 1 } else { 0 });
        assert_eq!(hdr[8 * NR + ch] as i8, if real { -(j as i8) } else { 0 });
    }
    for t in 0..2 {
        let body = &p[t * tile + 144..(t + 1) * tile];
        assert_eq!(
            body,
            &wide[t * wide_tile + I8_DW_HEADER..(t + 1) * wide_tile]
        );
    }
}

#[test]
fn int8_conv_taps_are_padded_to_groups_of_four_channels() {
    // 1 output channel, 5 input channels, 1x2: per tap two groups (the second holds
    // channel 4 and three zeros).
    let w: Vec<i8> = (1..=10).collect(); // [c][kx]: c0 = (1, 2), c1 = (3, 4), …
    let len = i8_conv_packed_len(1, 5, [1, 2]).unwrap();
    assert_eq!(len, I8_CONV_HEADER + 4 * 64);
    let mut p = vec![0; len];
    pack_i8_conv(&w, None, &[1 << 30, 0], 0, 1, 5, [1, 2], &mut p).unwrap();
    let body = i8s(&p[I8_CONV_HEADER..]);
    let group = |g: usize| &body[64 * g..64 * g + 4];
    assert_eq!(group(0), [1, 3, 5, 7]); // tap 0, channels 0..4
    assert_eq!(group(1), [9, 0, 0, 0]); // tap 0, channel 4
    assert_eq!(group(2), [2, 4, 6, 8]); // tap 1
    assert_eq!(group(3), [10, 0, 0, 0]);
    // The per-tensor (multiplier, shift) in the real channel, zeros in the padding;
    // no bias and x_zp = 0: both bias rows are 0 − 0·Σw and −128·Σw.
    for ch in 0..NR {
        let real = ch == 0;
        assert_eq!(i32_at(&p, 2 * NR + ch), if real { 1 << 30 } else { 0 });
        assert_eq!(i32_at(&p, ch), 0);
        assert_eq!(i32_at(&p, NR + ch), if real { -128 * 55 } else { 0 });
    }
}

#[test]
fn int8_first_layers_use_the_flat_layout() {
    // 2 input channels, 1x3 kernel: k = tap·2 + channel, not padded per tap.
    let w: [i8; 6] = [1, 2, 3, 4, 5, 6]; // c0 taps (1, 2, 3), c1 taps (4, 5, 6)
    let len = i8_conv_packed_len(1, 2, [1, 3]).unwrap();
    assert_eq!(len, I8_CONV_HEADER + 2 * 64);
    let mut p = vec![0; len];
    pack_i8_conv(&w, None, &[1 << 30, 0], 0, 1, 2, [1, 3], &mut p).unwrap();
    let body = i8s(&p[I8_CONV_HEADER..]);
    assert_eq!(&body[..4], [1, 4, 2, 5]);
    assert_eq!(&body[64..68], [3, 6, 0, 0]);
    // KWS first layer: 1 channel, 10x4 = 40 taps in 10 groups (not 40).
    assert_eq!(
        i8_conv_packed_len(64, 1, [10, 4]),
        Some(4 * (I8_CONV_HEADER + 10 * 64))
    );
    // 3 channels, 3x3: 27 k in 7 groups.
    assert_eq!(
        i8_conv_packed_len(16, 3, [3, 3]),
        Some(I8_CONV_HEADER + 7 * 64)
    );
    // More than 64 taps: per-tap groups again.
    assert_eq!(
        i8_conv_packed_len(16, 2, [9, 8]),
        Some(I8_CONV_HEADER + 72 * 64)
    );
    // 4 channels: never flat.
    assert_eq!(
        i8_conv_packed_len(16, 4, [3, 3]),
        Some(I8_CONV_HEADER + 9 * 64)
    );
}

#[test]
fn f32_conv_panels() {
    // 17 output channels (two panels), 2 input channels, 1x2.
    let (n, c) = (17, 2);
    let w: Vec<f32> = (0..n * c * 2).map(|i| i as f32).collect();
    let bias: Vec<f32> = (0..n).map(|j| -(j as f32)).collect();
    let len = f32_conv_packed_len(n, c, [1, 2]).unwrap();
    assert_eq!(len, 2 * (NR + 2 * c * NR));
    let mut p = vec![f32::NAN; len + 3];
    pack_f32_conv(&w, Some(&bias), n, c, [1, 2], &mut p).unwrap();
    let panel = NR + 2 * c * NR;
    for j in 0..32 {
        let (pi, ch) = (j / NR, j % NR);
        let at = pi * panel;
        let real = j < n;
        assert_eq!(p[at + ch], if real { -(j as f32) } else { 0.0 }, "bias {j}");
        for t in 0..2 {
            for ci in 0..c {
                let got = p[at + NR + (t * c + ci) * NR + ch];
                let want = if real { w[(j * c + ci) * 2 + t] } else { 0.0 };
                assert_eq!(got, want, "channel {j} tap {t} input {ci}");
            }
        }
    }
    assert!(p[len..].iter().all(|v| v.is_nan()), "wrote past its length");
}

#[test]
fn depthwise_tiles() {
    // 17 channels (two tiles), 1x2.
    let c = 17;
    let w: Vec<i8> = (0..c * 2).map(|i| i as i8 - 20).collect();
    let bias: Vec<i32> = (0..c as i32).map(|j| j * 1000).collect();
    let rq: Vec<i32> = (0..c as i32).flat_map(|j| [j + 1, -j]).collect();
    let len = i8_dwconv_packed_len(c, [1, 2]).unwrap();
    assert_eq!(len, 2 * (I8_DW_HEADER + 2 * NR));
    let mut p = vec![0xEE; len];
    pack_i8_dwconv(&w, Some(&bias), &rq, c, [1, 2], &mut p).unwrap();
    let tile = len / 2;
    for j in 0..32 {
        let (at, ch, real) = ((j / NR) * tile, j % NR, j < c);
        let hdr = &p[at..];
        assert_eq!(i32_at(hdr, ch), if real { j as i32 * 1000 } else { 0 });
        assert_eq!(i32_at(hdr, NR + ch), if real { j as i32 + 1 } else { 0 });
        assert_eq!(i32_at(hdr, 2 * NR + ch), if real { -(j as i32) } else { 0 });
        for t in 0..2 {
            let got = p[at + I8_DW_HEADER + t * NR + ch] as i8;
            assert_eq!(
                got,
                if real { w[j * 2 + t] } else { 0 },
                "channel {j} tap {t}"
            );
        }
    }
    let wf: Vec<f32> = w.iter().map(|&v| f32::from(v)).collect();
    let bf: Vec<f32> = bias.iter().map(|&v| v as f32).collect();
    let len = f32_dwconv_packed_len(c, [1, 2]).unwrap();
    let mut p = vec![f32::NAN; len];
    pack_f32_dwconv(&wf, Some(&bf), c, [1, 2], &mut p).unwrap();
    let tile = NR + 2 * NR;
    for j in 0..32 {
        let (at, ch, real) = ((j / NR) * tile, j % NR, j < c);
        assert_eq!(p[at + ch], if real { bf[j] } else { 0.0 });
        for t in 0..2 {
            assert_eq!(
                p[at + NR + t * NR + ch],
                if real { wf[j * 2 + t] } else { 0.0 }
            );
        }
    }
}

#[test]
fn packers_reject_bad_input() {
    let wrong = |expected, actual| Err(Error::WrongLength { expected, actual });
    let len = i8_conv_packed_len(2, 3, [1, 1]).unwrap();
    let mut p = vec![0u8; len];
    assert_eq!(
        pack_i8_conv(&[0; 5], None, &[0, 0], 0, 2, 3, [1, 1], &mut p),
        wrong(6, 5)
    );
    assert_eq!(
        pack_i8_conv(&[0; 6], Some(&[0]), &[0, 0], 0, 2, 3, [1, 1], &mut p),
        wrong(2, 1)
    );
    assert_eq!(
        pack_i8_conv(&[0; 6], None, &[0, 0], 0, 2, 3, [1, 1], &mut p[1..]),
        wrong(len, len - 1)
    );
    for zp in [128, -129] {
        assert_eq!(
            pack_i8_conv(&[0; 6], None, &[0, 0], zp, 2, 3, [1, 1], &mut p),
            Err(Error::Unsupported)
        );
    }
    assert_eq!(i8_conv_packed_len(usize::MAX, 3, [3, 3]), None);
    assert_eq!(f32_conv_packed_len(16, usize::MAX / 2, [3, 3]), None);
    assert_eq!(f32_dwconv_packed_len(16, [usize::MAX, 2]), None);
    assert_eq!(i8_dwconv_packed_len(usize::MAX, [3, 3]), None);
    let mut f = vec![0f32; f32_conv_packed_len(2, 3, [1, 1]).unwrap()];
    assert_eq!(
        pack_f32_conv(&[0.0; 6], None, 2, 3, [1, 1], &mut f[..3]),
        wrong(f.len(), 3)
    );
    assert_eq!(
        pack_f32_conv(&[0.0; 6], None, usize::MAX, 3, [1, 1], &mut f),
        Err(Error::Unsupported)
    );
    let mut d = vec![0f32; f32_dwconv_packed_len(2, [3, 3]).unwrap()];
    assert_eq!(
        pack_f32_dwconv(&[0.0; 17], None, 2, [3, 3], &mut d),
        wrong(18, 17)
    );
    let mut d8 = vec![0u8; i8_dwconv_packed_len(2, [3, 3]).unwrap()];
    assert_eq!(
        pack_i8_dwconv(&[0; 18], None, &[0, 0], 2, [3, 3], &mut d8[..9]),
        wrong(d8.len(), 9)
    );
}
