//! Byte-level data movement kernels against naive index arithmetic written here.
//!
//! Elements carry varied byte patterns (each byte depends on the element index, the
//! byte position and a per-input salt), so a misplaced or torn element shows up in the
//! comparison.

use ferrite::kernels::generic as kg;
use proptest::prelude::*;
use support::{ravel, unravel};

mod support;

/// `count` elements of `elem` bytes with varied byte patterns (distinct for small counts).
fn elements(count: usize, elem: usize, salt: u8) -> Vec<u8> {
    (0..count)
        .flat_map(|i| {
            (0..elem).map(move |b| {
                ((i * 7 + b * 131) as u8) ^ salt ^ ((i >> 8) as u8).wrapping_mul(b as u8 + 1)
            })
        })
        .collect()
}

fn ref_transpose(x: &[u8], shape: &[usize], perm: &[usize], elem: usize) -> Vec<u8> {
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let count: usize = shape.iter().product();
    let mut y = vec![0u8; count * elem];
    for o in 0..count {
        let oi = unravel(o, &out_shape);
        let mut ii = vec![0; shape.len()];
        for (k, &p) in perm.iter().enumerate() {
            ii[p] = oi[k];
        }
        let i = ravel(&ii, shape);
        y[o * elem..(o + 1) * elem].copy_from_slice(&x[i * elem..(i + 1) * elem]);
    }
    y
}

fn ref_pad(x: &[u8], shape: &[usize], pads: &[usize], elem: usize, fill: &[u8]) -> Vec<u8> {
    let r = shape.len();
    let out_shape: Vec<usize> = (0..r).map(|d| shape[d] + pads[d] + pads[r + d]).collect();
    let count: usize = out_shape.iter().product();
    let mut y = Vec::with_capacity(count * elem);
    for o in 0..count {
        let oi = unravel(o, &out_shape);
        let inside = (0..r).all(|d| oi[d] >= pads[d] && oi[d] - pads[d] < shape[d]);
        if inside {
            let ii: Vec<usize> = (0..r).map(|d| oi[d] - pads[d]).collect();
            let i = ravel(&ii, shape);
            y.extend_from_slice(&x[i * elem..(i + 1) * elem]);
        } else {
            y.extend_from_slice(fill);
        }
    }
    y
}

fn elem_size() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(4), Just(8)]
}

fn shape_and_perm(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    proptest::collection::vec(1usize..=4, 0..=max_rank).prop_flat_map(|shape| {
        let perm: Vec<usize> = (0..shape.len()).collect();
        (Just(shape), Just(perm).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn transpose_matches_index_arithmetic((shape, perm) in shape_and_perm(5), elem in elem_size()) {
        let count: usize = shape.iter().product();
        let x = elements(count, elem, 0x5a);
        let mut y = vec![0xeeu8; x.len()];
        kg::transpose(&x, &shape, &perm, elem, &mut y);
        prop_assert_eq!(y, ref_transpose(&x, &shape, &perm, elem));
    }

    #[test]
    fn concat_matches_index_arithmetic(
        dims in proptest::collection::vec(0usize..=3, 1..=4),
        (outer, inner) in (1usize..=3, 1usize..=4),
        elem in elem_size(),
    ) {
        let inner_bytes = inner * elem;
        let parts: Vec<Vec<u8>> = dims.iter().enumerate().map(|(p, &d)| elements(outer * d * inner, elem, p as u8 * 40)).collect();
        let total: usize = dims.iter().sum();
        let mut y = vec![0xeeu8; outer * total * inner_bytes];
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        kg::concat(&refs, &dims, outer, inner_bytes, &mut y);
        // y[o, a, i] with a in part p at a - start(p).
        let mut want = Vec::new();
        for o in 0..outer {
            for a in 0..total {
                let (mut p, mut start) = (0, 0);
                while a >= start + dims[p] {
                    start += dims[p];
                    p += 1;
                }
                for i in 0..inner {
                    let src = ((o * dims[p] + (a - start)) * inner + i) * elem;
                    want.extend_from_slice(&parts[p][src..src + elem]);
                }
            }
        }
        prop_assert_eq!(y, want);
    }

    #[test]
    fn pad_matches_index_arithmetic(
        shape in proptest::collection::vec(1usize..=4, 0..=4),
        pads in proptest::collection::vec(0usize..=2, 8),
        elem in elem_size(),
    ) {
        let r = shape.len();
        let pads: Vec<usize> = pads[..r].iter().chain(&pads[4..4 + r]).copied().collect();
        let count: usize = shape.iter().product();
        let x = elements(count, elem, 0x33);
        let fill: Vec<u8> = (0..elem).map(|b| 0xf0 | b as u8).collect();
        let want = ref_pad(&x, &shape, &pads, elem, &fill);
        let mut y = vec![0xeeu8; want.len()];
        kg::pad(&x, &shape, &pads, elem, &fill, &mut y);
        prop_assert_eq!(y, want);
    }

    #[test]
    fn broadcast_strides_match_numpy_rules(out in proptest::collection::vec(1usize..=4, 0..=6), drop in 0usize..=6, ones in proptest::collection::vec(any::<bool>(), 6)) {
        let r = out.len();
        let drop = drop.min(r);
        let input: Vec<usize> = (drop..r).map(|d| if ones[d] { 1 } else { out[d] }).collect();
        let mut strides = [usize::MAX; 8];
        prop_assert_eq!(kg::broadcast_strides(&input, &out, &mut strides), r);
        // Reading input through the strides gives the numpy broadcast element.
        let count: usize = out.iter().product();
        for o in 0..count {
            let oi = unravel(o, &out);
            let via_strides: usize = (0..r).map(|d| oi[d] * strides[d]).sum();
            let ii: Vec<usize> = (drop..r).map(|d| if input[d - drop] == 1 { 0 } else { oi[d] }).collect();
            prop_assert_eq!(via_strides, ravel(&ii, &input));
        }
        prop_assert!(strides[r..].iter().all(|&s| s == 0));
    }
}

#[test]
fn transpose_2d_by_hand() {
    // [[1, 2, 3], [4, 5, 6]] -> [[1, 4], [2, 5], [3, 6]] with 2-byte elements.
    let x: Vec<u8> = [1u16, 2, 3, 4, 5, 6]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut y = vec![0u8; 12];
    kg::transpose(&x, &[2, 3], &[1, 0], 2, &mut y);
    let y: Vec<u16> = y
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(y, [1, 4, 2, 5, 3, 6]);
}

/// NCHW → NHWC of images with 1–5 channels (the graph input's transpose: up to 4
/// channels each output pixel gathers from every plane at once; 3 channels of 4 bytes
/// four pixels at a time, so pixel counts of every remainder mod 4), 1-, 2- and 4-byte
/// elements, against the index arithmetic.
#[test]
fn transpose_nchw_to_nhwc_few_channels() {
    for c in 1..=5 {
        for (n, h, w) in [
            (1, 5, 7),
            (2, 3, 1),
            (1, 96, 96),
            (1, 1, 1),
            (2, 2, 5),
            (1, 1, 4),
        ] {
            for elem in [1, 2, 4] {
                let shape = [n, c, h, w];
                let x = elements(n * c * h * w, elem, 3);
                let mut y = vec![0u8; x.len()];
                kg::transpose(&x, &shape, &[0, 2, 3, 1], elem, &mut y);
                assert_eq!(
                    y,
                    ref_transpose(&x, &shape, &[0, 2, 3, 1], elem),
                    "{shape:?} {elem}"
                );
            }
        }
    }
}

#[test]
fn transpose_rank8_and_rank0() {
    let shape = [2, 1, 2, 1, 2, 1, 2, 2];
    let perm = [7, 6, 5, 4, 3, 2, 1, 0];
    let x = elements(32, 4, 1);
    let mut y = vec![0u8; x.len()];
    kg::transpose(&x, &shape, &perm, 4, &mut y);
    assert_eq!(y, ref_transpose(&x, &shape, &perm, 4));
    let mut y = [0u8; 8];
    kg::transpose(&[1, 2, 3, 4, 5, 6, 7, 8], &[], &[], 8, &mut y);
    assert_eq!(y, [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn transpose_keeps_trailing_axes_as_blocks() {
    // perm [1, 0, 2]: the last axis stays, rows of 3 move as a whole.
    let x: Vec<u8> = (0..12).collect();
    let mut y = vec![0u8; 12];
    kg::transpose(&x, &[2, 2, 3], &[1, 0, 2], 1, &mut y);
    assert_eq!(y, [0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11]);
}

#[test]
fn pad_by_hand() {
    // [1, 2] padded 1 before and 2 after with 9.
    let mut y = [0u8; 5];
    kg::pad(&[1, 2], &[2], &[1, 2], 1, &[9], &mut y);
    assert_eq!(y, [9, 1, 2, 9, 9]);
    // 2D: [[1]] with pads (top 1, left 0, bottom 0, right 1).
    let mut y = [0u8; 4];
    kg::pad(&[1], &[1, 1], &[1, 0, 0, 1], 1, &[7], &mut y);
    assert_eq!(y, [7, 7, 1, 7]);
}

#[test]
fn concat_by_hand() {
    // [2, 1] ++ [2, 2] along axis 1 -> [[a, b, c], [d, e, f]].
    let mut y = [0u8; 6];
    kg::concat(&[b"ad", b"bcef"], &[1, 2], 2, 1, &mut y);
    assert_eq!(&y, b"abcdef");
}

#[test]
fn nchw_nhwc_transposes_match_index_arithmetic() {
    // The layout changes around channels-last convolutions take the blocked 2-D path:
    // sizes around and across its 8 × 8 tiles, 1- and 4-byte elements, a batch of 2,
    // and rotations of three axes after a leading one.
    let cases: [(&[usize], &[usize]); 6] = [
        (&[1, 3, 96, 96], &[0, 2, 3, 1]),
        (&[2, 17, 9, 5], &[0, 2, 3, 1]),
        (&[1, 9, 5, 17], &[0, 3, 1, 2]),
        (&[2, 7, 8, 9], &[0, 3, 1, 2]),
        (&[33, 4, 5], &[2, 0, 1]),
        (&[3, 10, 11, 2], &[0, 2, 1, 3]),
    ];
    for (shape, perm) in cases {
        for elem in [1, 4] {
            let n: usize = shape.iter().product();
            let x = elements(n, elem, 7);
            let mut y = vec![0u8; x.len()];
            kg::transpose(&x, shape, perm, elem, &mut y);
            assert_eq!(
                y,
                ref_transpose(&x, shape, perm, elem),
                "{shape:?} {perm:?}"
            );
        }
    }
}
