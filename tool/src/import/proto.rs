//! Reading and writing ONNX protobuf messages (tract-onnx's prost types, `tract_onnx::pb`):
//! the one set of attribute readers, tensor readers and node / tensor builders that the
//! protobuf-level passes ([`super::qdq`], [`super::batchnorm`]) and the ONNX-ML importer
//! ([`super::onnxml`]) share.

use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, NodeProto, TensorProto};

/// `TensorProto.DataType` values read here.
pub mod data_type {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const DOUBLE: i32 = 11;
}
use data_type::*;

/// The attribute `name` of `n`.
pub fn attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

/// An integer attribute.
pub fn attr_i(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).map(|a| a.i)
}

/// A float attribute.
pub fn attr_f(n: &NodeProto, name: &str) -> Option<f32> {
    attr(n, name).map(|a| a.f)
}

/// A string attribute (lossy UTF-8).
pub fn attr_s(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// A list-of-integers attribute (empty when absent).
pub fn attr_ints(n: &NodeProto, name: &str) -> Vec<i64> {
    attr(n, name).map(|a| a.ints.clone()).unwrap_or_default()
}

/// A list-of-floats attribute, or the values of a tensor attribute of that name
/// (ONNX-ML `*_as_tensor` forms); empty when absent.
pub fn attr_floats(n: &NodeProto, name: &str) -> Vec<f32> {
    match attr(n, name) {
        Some(a) if !a.floats.is_empty() => a.floats.clone(),
        Some(a) => {
            a.t.as_ref()
                .and_then(values_f64)
                .map(|v| v.iter().map(|&x| x as f32).collect())
                .unwrap_or_default()
        }
        None => Vec::new(),
    }
}

/// A list-of-strings attribute (lossy UTF-8; empty when absent).
pub fn attr_strings(n: &NodeProto, name: &str) -> Vec<String> {
    attr(n, name)
        .map(|a| {
            a.strings
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The name a node is known by: its own, else its first output's.
pub fn node_name(n: &NodeProto) -> String {
    if n.name.is_empty() {
        n.output.first().cloned().unwrap_or_default()
    } else {
        n.name.clone()
    }
}

/// The values of a tensor as f64: float, double, int8, uint8, int32 and int64, stored
/// raw or typed; `None` for other types.
pub fn values_f64(t: &TensorProto) -> Option<Vec<f64>> {
    let raw = &t.raw_data;
    fn le<const N: usize>(raw: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        raw.chunks_exact(N)
            .map(|c| f(c.try_into().unwrap_or([0; N])))
            .collect()
    }
    Some(match t.data_type {
        FLOAT if !raw.is_empty() => le(raw, |b| f32::from_le_bytes(b) as f64),
        FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
        DOUBLE if !raw.is_empty() => le(raw, f64::from_le_bytes),
        DOUBLE => t.double_data.clone(),
        UINT8 if !raw.is_empty() => raw.iter().map(|&v| v as f64).collect(),
        INT8 if !raw.is_empty() => raw.iter().map(|&v| v as i8 as f64).collect(),
        INT32 if !raw.is_empty() => le(raw, |b| i32::from_le_bytes(b) as f64),
        UINT8 | INT8 | INT32 => t.int32_data.iter().map(|&v| v as f64).collect(),
        INT64 if !raw.is_empty() => le(raw, |b| i64::from_le_bytes(b) as f64),
        INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
        _ => return None,
    })
}

/// A node of the default domain.
pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

/// An integer attribute.
pub fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: AttributeType::Int as i32,
        ..Default::default()
    }
}

/// A tensor attribute.
pub fn tensor_attr(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        t: Some(t),
        r#type: AttributeType::Tensor as i32,
        ..Default::default()
    }
}

/// A float tensor (typed storage).
pub fn f32_tensor(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: FLOAT,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

/// An int64 tensor (typed storage).
pub fn i64_tensor(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: INT64,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}
