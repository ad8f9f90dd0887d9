//! The constant values the guard follows: the integer tensors of initializers and
//! `Constant` nodes, read as tract-onnx 0.23 reads them (`raw_data` when it is not empty,
//! else the typed field tract reads for that type) and cast to i64 as tract casts an
//! axes input (`as`: sign or zero extension, an UINT64 wraps), and through the nodes
//! that pass such a value on: Identity, and Cast to an integer type.

use super::super::proto::attr;
use tract_onnx::pb::{NodeProto, TensorProto};

/// A constant value of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Const {
    /// An integer tensor's values, cast to i64 as tract casts them.
    Ints(Vec<i64>),
    /// A constant of another data type (its `TensorProto.DataType` value).
    Other(i32),
}

/// `TensorProto.DataType` values.
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const UINT16: i32 = 4;
const INT16: i32 = 5;
const INT32: i32 = 6;
const INT64: i32 = 7;
const STRING: i32 = 8;
const UINT32: i32 = 12;
const UINT64: i32 = 13;

/// The name of a `TensorProto.DataType` value, for error messages.
pub(super) fn type_name(dt: i32) -> String {
    const NAMES: [&str; 17] = [
        "UNDEFINED",
        "FLOAT",
        "UINT8",
        "INT8",
        "UINT16",
        "INT16",
        "INT32",
        "INT64",
        "STRING",
        "BOOL",
        "FLOAT16",
        "DOUBLE",
        "UINT32",
        "UINT64",
        "COMPLEX64",
        "COMPLEX128",
        "BFLOAT16",
    ];
    usize::try_from(dt)
        .ok()
        .and_then(|k| NAMES.get(k))
        .map_or_else(|| format!("data type {dt}"), |s| s.to_string())
}

/// `v` converted to the integer type `dt` and back to i64 (`as` casts); `None` when
/// `dt` is not an integer type.
fn narrowed(v: i64, dt: i32) -> Option<i64> {
    Some(match dt {
        INT8 => v as i8 as i64,
        UINT8 => v as u8 as i64,
        INT16 => v as i16 as i64,
        UINT16 => v as u16 as i64,
        INT32 => v as i32 as i64,
        UINT32 => v as u32 as i64,
        INT64 | UINT64 => v,
        _ => return None,
    })
}

/// The value of a tensor; `None` when its data is stored outside the file (tract reads
/// it from there or fails).
pub(super) fn of_tensor(t: &TensorProto) -> Option<Const> {
    let dt = t.data_type;
    let width = match dt {
        INT8 | UINT8 => 1,
        INT16 | UINT16 => 2,
        INT32 | UINT32 => 4,
        INT64 | UINT64 => 8,
        _ => return Some(Const::Other(dt)),
    };
    let raw = &t.raw_data;
    if !raw.is_empty() {
        let values = raw.chunks_exact(width).map(|c| {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(c);
            // Little-endian bytes zero-extended, then narrowed to the type: the sign
            // extension of the signed types.
            narrowed(u64::from_le_bytes(b) as i64, dt).unwrap_or(0)
        });
        return Some(Const::Ints(values.collect()));
    }
    const EXTERNAL: i32 = tract_onnx::pb::tensor_proto::DataLocation::External as i32;
    if t.data_location == Some(EXTERNAL) {
        return None;
    }
    Some(Const::Ints(match dt {
        // tract reads UINT32 from int32_data and UINT64 from int64_data, as tensors
        // of i32 and i64 (the ONNX format's uint64_data is not read).
        INT64 | UINT64 => t.int64_data.clone(),
        INT32 | UINT32 => t.int32_data.iter().map(|&v| v as i64).collect(),
        _ => t
            .int32_data
            .iter()
            .map(|&v| narrowed(v as i64, dt).unwrap_or(0))
            .collect(),
    }))
}

/// The value of a `Constant` node, from the attribute tract reads (in its order).
pub(super) fn of_constant(n: &NodeProto) -> Option<Const> {
    if let Some(t) = attr(n, "value") {
        return t.t.as_ref().and_then(of_tensor);
    }
    if let Some(a) = attr(n, "value_int") {
        return Some(Const::Ints(vec![a.i]));
    }
    if attr(n, "value_float").is_some() {
        return Some(Const::Other(FLOAT));
    }
    if let Some(a) = attr(n, "value_ints") {
        return Some(Const::Ints(a.ints.clone()));
    }
    if attr(n, "value_floats").is_some() {
        return Some(Const::Other(FLOAT));
    }
    if attr(n, "value_string").is_some() || attr(n, "value_strings").is_some() {
        return Some(Const::Other(STRING));
    }
    None
}

/// The value of the first output of Identity or Cast when its input's is `input`.
pub(super) fn passed_on(n: &NodeProto, input: &Const) -> Option<Const> {
    match n.op_type.as_str() {
        "Identity" => Some(input.clone()),
        "Cast" => {
            let to = i32::try_from(attr(n, "to")?.i).ok()?;
            match input {
                Const::Ints(v) => Some(match narrowed(0, to) {
                    Some(_) => Const::Ints(v.iter().filter_map(|&x| narrowed(x, to)).collect()),
                    None => Const::Other(to),
                }),
                // Floats cast to integers: not followed (the values are not read).
                Const::Other(_) => narrowed(0, to).is_none().then_some(Const::Other(to)),
            }
        }
        _ => None,
    }
}
