//! The benchmark's input files: the first row of a `.npy` or CSV file, and a one-row
//! `.npy` for the host tool.

use std::path::Path;

use crate::Result;

/// The first data row of a `.npy` (float32, C order: the values of index 0 of the first
/// axis) or a CSV file (a header line is skipped).
pub(super) fn first_row(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => npy_first_row(&bytes).map_err(|e| format!("{}: {e}", path.display()).into()),
        Some("csv") => {
            let text = String::from_utf8_lossy(&bytes);
            let parse = |line: &str| -> Option<Vec<f32>> {
                line.split(',')
                    .map(|v| v.trim().parse::<f32>().ok())
                    .collect()
            };
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .find_map(parse)
                .ok_or_else(|| format!("{}: no row of numbers", path.display()).into())
        }
        _ => Err(format!("{}: expected .npy or .csv", path.display()).into()),
    }
}

/// Row 0 of a little-endian float32 `.npy` array (format versions 1–3).
fn npy_first_row(bytes: &[u8]) -> std::result::Result<Vec<f32>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!(".npy format version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .map(String::from_utf8_lossy)
        .ok_or("truncated header")?;
    if !header.contains("'descr': '<f4'") {
        return Err(format!(
            "only little-endian float32 ('<f4') is read: {header}"
        ));
    }
    if !header.contains("'fortran_order': False") {
        return Err("only C order is read".into());
    }
    let shape = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or("no shape")?;
    let dims: Vec<usize> = shape
        .trim()
        .trim_start_matches('(')
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<usize>()
                .map_err(|e| format!("shape {shape}: {e}"))
        })
        .collect::<std::result::Result<_, _>>()?;
    if dims.is_empty() || dims[0] == 0 {
        return Err(format!("shape ({shape}): no rows"));
    }
    let row: usize = dims[1..].iter().product();
    let data = &bytes[start + header_len..];
    if data.len() < row * 4 {
        return Err("truncated data".into());
    }
    Ok(data[..row * 4]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A `[1, c, h, w]` image as `[1, h, w, c]`.
pub(super) fn nchw_to_nhwc(x: &[f32], c: usize, h: usize, w: usize) -> Result<Vec<f32>> {
    if x.len() != c * h * w {
        return Err(format!("{} values for a {c}×{h}×{w} image", x.len()).into());
    }
    Ok((0..h * w)
        .flat_map(|p| (0..c).map(move |ch| x[ch * h * w + p]))
        .collect())
}

/// `values` as a `[1, n]` float32 `.npy` (format 1.0), the host tool's input file.
pub(super) fn npy_row(values: &[f32]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': (1, {}), }}",
        values.len()
    );
    // magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of `numpy.save(f, numpy.arange(12, dtype='<f4').reshape(2, 1, 2, 3))`
    /// (numpy 2.4: format 1.0, header padded to 128 bytes).
    fn numpy_arange_2x1x2x3() -> Vec<u8> {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 3), }";
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend(118u16.to_le_bytes());
        v.extend(header.as_bytes());
        v.extend(std::iter::repeat_n(b' ', 117 - header.len()));
        v.push(b'\n');
        v.extend((0..12).flat_map(|i| (i as f32).to_le_bytes()));
        assert_eq!(v.len(), 176, "numpy's file size");
        v
    }

    #[test]
    fn npy_first_row_is_index_0_of_the_first_axis() {
        let row = npy_first_row(&numpy_arange_2x1x2x3()).unwrap();
        assert_eq!(row, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let mut f64_file = numpy_arange_2x1x2x3();
        f64_file[12..25].copy_from_slice(b"'descr': '<f8");
        assert!(npy_first_row(&f64_file).unwrap_err().contains("'<f4'"));
        assert!(npy_first_row(&numpy_arange_2x1x2x3()[..150]).is_err());
        assert!(npy_first_row(b"not numpy at all").is_err());
    }

    #[test]
    fn nchw_to_nhwc_interleaves_the_channels() {
        // Channels 0..3 of a 1×2 image: [0, 1], [10, 11], [20, 21].
        let x = [0., 1., 10., 11., 20., 21.];
        let y = nchw_to_nhwc(&x, 3, 1, 2).unwrap();
        assert_eq!(y, vec![0., 10., 20., 1., 11., 21.]);
        assert!(nchw_to_nhwc(&x, 3, 2, 2).is_err());
    }

    #[test]
    fn npy_row_writes_what_numpy_writes() {
        // numpy.save(f, numpy.array([[1.0, -2.5, 0.25]], dtype='<f4')): 140 bytes.
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }";
        let mut want = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
        want.extend(header.as_bytes());
        want.extend(std::iter::repeat_n(b' ', 117 - header.len()));
        want.push(b'\n');
        want.extend([
            0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0, 0x00, 0x00, 0x80, 0x3e,
        ]);
        assert_eq!(npy_row(&[1.0, -2.5, 0.25]), want);
        // Longer rows keep the 64-byte alignment of the data.
        let long = npy_row(&vec![0.5; 27648]);
        let header_len = u16::from_le_bytes([long[8], long[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(npy_first_row(&long).unwrap().len(), 27648);
    }

    #[test]
    fn csv_first_row_skips_the_header() {
        let dir = std::env::temp_dir().join(format!("xtask-mcu-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("rows.csv");
        std::fs::write(&p, "a,b,c\n0.5,-1,3e2\n7,8,9\n").unwrap();
        assert_eq!(first_row(&p).unwrap(), [0.5, -1.0, 300.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
