//! `ferrite convert --input-layout nhwc`: image inputs taken channels-last.
//!
//! An ONNX image model (PyTorch's export) takes `[N, C, H, W]`; a camera delivers
//! height × width × channels, and TFLite / TFLM models take `[N, H, W, C]`. This pass
//! gives every rank-4 graph input the NHWC shape and puts a `Transpose` NHWC → NCHW
//! behind it, so the graph computes what it computed before. The NHWC pass
//! ([`Graph::to_nhwc`]) then reads the input directly where it would have inserted the
//! opposite `Transpose` in front of the first convolution: the two cancel, and the
//! converted model moves no data for its input.
//!
//! Inputs keep their names. Data in the source's layout (the calibration rows given
//! to `convert`) is laid out for the converted model with [`rows_to_nhwc`]; the file
//! records the layout in the provenance property [`LAYOUT_PROPERTY`], which tells
//! `ferrite validate` to transpose the inputs back for the ONNX reference.

use super::{permute, Graph, Node};
use crate::data::Dataset;
use crate::error::{Error, Result};
use ferrite::format::types::Op;

/// Provenance property of a file converted with `--input-layout nhwc` (value `nhwc`):
/// its rank-4 inputs are channels-last.
pub const LAYOUT_PROPERTY: &str = "input_layout";

/// The layout of a model's image inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputLayout {
    /// As the source model takes them (`[N, C, H, W]` for an ONNX CNN).
    #[default]
    Nchw,
    /// Channels-last: `[N, H, W, C]`.
    Nhwc,
}

impl std::str::FromStr for InputLayout {
    type Err = Error;

    fn from_str(s: &str) -> Result<InputLayout> {
        match s {
            "nchw" => Ok(InputLayout::Nchw),
            "nhwc" => Ok(InputLayout::Nhwc),
            _ => Err(Error::Usage(format!(
                "unknown --input-layout \"{s}\" (nchw, nhwc)"
            ))),
        }
    }
}

/// `[N, C, H, W]` → `[N, H, W, C]`.
const TO_NHWC: [usize; 4] = [0, 2, 3, 1];

/// The NHWC shape of an NCHW shape.
fn nhwc_shape(s: &[usize]) -> Vec<usize> {
    TO_NHWC.iter().map(|&p| s[p]).collect()
}

impl Graph {
    /// Makes every rank-4 graph input channels-last (see the module docs); returns the
    /// positions (in [`Graph::inputs`]) of the inputs it changed. A graph without a
    /// rank-4 input is refused with [`Error::Usage`].
    pub fn nhwc_inputs(&mut self) -> Result<Vec<usize>> {
        let images: Vec<usize> = (0..self.inputs.len())
            .filter(|&k| self.tensors[self.inputs[k]].shape.len() == 4)
            .collect();
        if images.is_empty() {
            let shapes: Vec<String> = self
                .inputs
                .iter()
                .map(|&t| format!("\"{}\" {:?}", self.tensors[t].name, self.tensors[t].shape))
                .collect();
            return Err(Error::Usage(format!(
                "--input-layout nhwc applies to image inputs (rank 4, N×C×H×W); this model's inputs are {}",
                shapes.join(", ")
            )));
        }
        let mut front = Vec::new();
        for &k in &images {
            let x = self.inputs[k];
            let nchw = self.tensors[x].clone();
            let name = format!("{}.nchw", nchw.name);
            let t = self.add_tensor(&name, &nchw.shape, nchw.dtype);
            self.tensors[t].qhint = nchw.qhint.clone();
            self.replace_uses(x, t);
            self.tensors[x].shape = nhwc_shape(&nchw.shape);
            let perm = heapless::Vec::from_slice(&[0, 3, 1, 2]).unwrap_or_default();
            front.push(Node {
                name,
                op: Op::Transpose { perm },
                inputs: vec![x],
                output: t,
            });
        }
        front.append(&mut self.nodes);
        self.nodes = front;
        Ok(images)
    }
}

/// [`Graph::nhwc_inputs`] on `g`, and `data` (rows of the source's inputs) laid out
/// for the new graph; `raw` (a model that takes raw rows through a preprocessing
/// pipeline) is refused.
pub fn nhwc_graph(g: &mut Graph, raw: bool, data: Option<&Dataset>) -> Result<Option<Dataset>> {
    if raw {
        return Err(Error::Usage(
            "--input-layout nhwc applies to image models; this model takes raw rows through a preprocessing pipeline".into(),
        ));
    }
    let widths: Vec<usize> = g.inputs.iter().map(|&t| g.tensors[t].elements()).collect();
    let before: Vec<Vec<usize>> = g
        .inputs
        .iter()
        .map(|&t| g.tensors[t].shape.clone())
        .collect();
    let changed = g.nhwc_inputs()?;
    let shapes: Vec<Option<Vec<usize>>> = (0..before.len())
        .map(|k| changed.contains(&k).then(|| before[k].clone()))
        .collect();
    Ok(data.map(|d| rows_to_nhwc(d, &widths, &shapes)))
}

/// Rows in the source's layout (`convert`'s calibration rows, for the monitoring
/// baseline) as the `.fer` model `fer` takes them.
pub fn rows_for(fer: &[u8], data: &Dataset) -> Result<Dataset> {
    let aligned = ferrite::AlignedModel::new(fer);
    let m = aligned.model()?;
    let widths = crate::feed::input_widths(&m)?;
    Ok(rows_to_nhwc(data, &widths, &nchw_input_shapes(&m)?))
}

/// `data` (each row every input side by side, as [`crate::feed::split`] reads it)
/// with the inputs whose entry in `nchw_shapes` is `Some(shape)` permuted from that
/// NCHW shape to NHWC; `widths` are the inputs' element counts.
pub fn rows_to_nhwc(
    data: &Dataset,
    widths: &[usize],
    nchw_shapes: &[Option<Vec<usize>>],
) -> Dataset {
    let mut values = Vec::with_capacity(data.values.len());
    for row in data.iter_rows() {
        for (x, shape) in crate::feed::split(row, widths).into_iter().zip(nchw_shapes) {
            match shape {
                Some(s) if s.iter().product::<usize>() == x.len() => {
                    values.extend(permute(x, s, &TO_NHWC))
                }
                _ => values.extend_from_slice(x),
            }
        }
    }
    Dataset {
        values,
        header: None,
        ..data.clone()
    }
}

/// The NCHW shape of each input of a `.fer` model converted with `--input-layout
/// nhwc` (`None` for the inputs it left as they were; all `None` for other files).
pub fn nchw_input_shapes(model: &ferrite::Model<'_>) -> Result<Vec<Option<Vec<usize>>>> {
    let nhwc = model.metadata().property(LAYOUT_PROPERTY) == Some("nhwc");
    (0..model.num_inputs())
        .map(|i| {
            let s: Vec<usize> = model.input(i)?.shape.iter().map(|&d| d as usize).collect();
            Ok(match s.as_slice() {
                &[n, h, w, c] if nhwc => Some(vec![n, c, h, w]),
                _ => None,
            })
        })
        .collect()
}

/// An NHWC input's values in NCHW order (`nchw` is its NCHW shape).
pub fn nhwc_to_nchw(x: &[f32], nchw: &[usize]) -> Vec<f32> {
    permute(x, &nhwc_shape(nchw), &[0, 3, 1, 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite::DType;

    #[test]
    fn an_image_input_becomes_nhwc_behind_a_transpose() {
        let mut g = Graph::default();
        let x = g.add_tensor("image", &[1, 3, 4, 5], DType::F32);
        let v = g.add_tensor("vector", &[1, 7], DType::F32);
        g.inputs = vec![x, v];
        let y = g.add_node("relu", Op::Reshape, &[x], &[1, 60], DType::F32);
        g.outputs = vec![y];
        assert_eq!(g.nhwc_inputs().unwrap(), vec![0]);
        assert_eq!(g.tensors[x].shape, vec![1, 4, 5, 3]);
        assert_eq!(g.tensors[x].name, "image");
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[0].inputs, vec![x]);
        let t = g.nodes[0].output;
        assert_eq!(g.tensors[t].shape, vec![1, 3, 4, 5]);
        assert_eq!(g.nodes[1].inputs, vec![t]);
    }

    #[test]
    fn a_graph_without_an_image_input_is_refused() {
        let mut g = Graph::default();
        let v = g.add_tensor("features", &[1, 7], DType::F32);
        g.inputs = vec![v];
        let e = g.nhwc_inputs().unwrap_err().to_string();
        assert!(
            e.contains("rank 4") && e.contains("\"features\" [1, 7]"),
            "{e}"
        );
    }

    #[test]
    fn rows_are_permuted_per_input() {
        // Row: a 1×2×1×3 image (channel 0: 0 1 2, channel 1: 10 11 12), then 2 values.
        let d = Dataset {
            rows: 1,
            cols: 8,
            values: vec![0., 1., 2., 10., 11., 12., 7., 8.],
            header: None,
            lines: vec![1],
            origin: "t".into(),
        };
        let r = rows_to_nhwc(&d, &[6, 2], &[Some(vec![1, 2, 1, 3]), None]);
        assert_eq!(r.values, vec![0., 10., 1., 11., 2., 12., 7., 8.]);
        assert_eq!(nhwc_to_nchw(&r.values[..6], &[1, 2, 1, 3]), d.values[..6]);
    }
}
