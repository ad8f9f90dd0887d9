//! `ferrite inspect`: what is inside a `.fer` file.

use crate::error::Result;
use ferrite::format::types::{Location, Op};
use ferrite::{AlignedModel, Model, Quant, TensorDef};
use serde_json::{json, Value};

fn tensor_json(t: &TensorDef<'_>) -> Value {
    let quant = match t.quant {
        Quant::None => Value::Null,
        Quant::PerTensor { scale, zero_point } => json!({"scale": scale, "zero_point": zero_point}),
        Quant::PerChannel { axis, .. } => json!({"per_channel_axis": axis}),
    };
    json!({
        "name": t.name,
        "dtype": t.dtype.name(),
        "shape": t.shape.iter().collect::<Vec<_>>(),
        "constant": matches!(t.location, Location::Weights { .. }),
        "quant": quant,
    })
}

/// Multiply-accumulates of op `def` (0 for data movement and element-wise ops).
pub fn macs(model: &Model<'_>, def: &ferrite::OpDef) -> Result<u64> {
    let out = model.tensor(def.outputs[0])?;
    let n_out = out.elements().unwrap_or(0) as u64;
    Ok(match &def.op {
        // K from x: f16 weights are packed (1-D), not `[N, K]`.
        Op::FullyConnected { .. } => {
            let x = model.tensor(def.inputs[0])?;
            n_out * *x.shape.last().unwrap_or(&1) as u64
        }
        Op::Conv { .. } => {
            let w = model.tensor(def.inputs[1])?;
            n_out * w.shape[1..].iter().map(|&d| d as u64).product::<u64>()
        }
        Op::MatMul => {
            let a = model.tensor(def.inputs[0])?;
            n_out * *a.shape.last().unwrap_or(&1) as u64
        }
        // Packed weights: the taps from the window, the input channels from x (NHWC).
        Op::ConvNhwc { window, .. } => {
            let x = model.tensor(def.inputs[0])?;
            let c = *x.shape.last().unwrap_or(&1) as u64;
            n_out * c * u64::from(window.kernel[0]) * u64::from(window.kernel[1])
        }
        Op::DepthwiseNhwc { window, .. } => {
            n_out * u64::from(window.kernel[0]) * u64::from(window.kernel[1])
        }
        // The input channels from x (NCHW).
        Op::ConvNchw { window, .. } | Op::ConvNchwI8 { window, .. } => {
            let x = model.tensor(def.inputs[0])?;
            let c = u64::from(x.shape.get(1).copied().unwrap_or(1));
            n_out * c * u64::from(window.kernel[0]) * u64::from(window.kernel[1])
        }
        _ => 0,
    })
}

/// Attributes worth showing next to the op name (activation, function, axis…).
pub fn detail(op: &Op) -> String {
    use ferrite::format::types::Activation;
    let act = |a: &Activation| match a {
        Activation::None => String::new(),
        Activation::Relu => "relu".into(),
        Activation::Clip { min, max } => format!("clip {min}..{max}"),
    };
    match op {
        Op::FullyConnected { act: a, .. } => act(a),
        Op::Conv {
            window,
            groups,
            act: a,
            ..
        } => {
            let mut s = format!(
                "k{}x{} s{}x{}",
                window.kernel[0], window.kernel[1], window.stride[0], window.stride[1]
            );
            if window.dilation != [1, 1] {
                s += &format!(" d{}x{}", window.dilation[0], window.dilation[1]);
            }
            if window.pads.iter().any(|&p| p > 0) {
                s += &format!(" p{:?}", window.pads);
            }
            if *groups > 1 {
                s += &format!(" g{groups}");
            }
            if !act(a).is_empty() {
                s += &format!(" {}", act(a));
            }
            s
        }
        Op::ConvNhwc { window, act: a, .. }
        | Op::DepthwiseNhwc { window, act: a, .. }
        | Op::ConvNchw { window, act: a }
        | Op::ConvNchwI8 { window, act: a, .. } => {
            let mut s = format!(
                "k{}x{} s{}x{}",
                window.kernel[0], window.kernel[1], window.stride[0], window.stride[1]
            );
            if window.pads.iter().any(|&p| p > 0) {
                s += &format!(" p{:?}", window.pads);
            }
            if !act(a).is_empty() {
                s += &format!(" {}", act(a));
            }
            s
        }
        Op::MaxPool { window }
        | Op::AvgPool { window, .. }
        | Op::MaxPoolNhwc { window }
        | Op::AvgPoolNhwc { window, .. } => format!(
            "k{}x{} s{}x{}",
            window.kernel[0], window.kernel[1], window.stride[0], window.stride[1]
        ),
        Op::Binary { op, act: a, .. } => format!("{op:?} {}", act(a)).trim().to_string(),
        Op::Unary { op } => format!("{op:?}"),
        Op::Softmax { axis, log } => format!("{}axis {axis}", if *log { "log, " } else { "" }),
        Op::Transpose { perm } => format!("{:?}", perm.as_slice()),
        Op::Concat { axis } => format!("axis {axis}"),
        Op::ArgMax { axis, .. } => format!("axis {axis}"),
        _ => String::new(),
    }
}

/// The inspection report as stable JSON (keys sorted).
pub fn inspect(fer: &[u8]) -> Result<Value> {
    let aligned = AlignedModel::new(fer);
    let model = aligned.model()?;
    let meta = model.metadata();
    let mut ops = Vec::new();
    let mut total_macs = 0u64;
    for i in 0..model.num_ops() {
        let def = model.op(i)?;
        let mut inputs = Vec::new();
        let mut params = 0usize;
        for &t in def.inputs.iter() {
            let td = model.tensor(t)?;
            if matches!(td.location, Location::Weights { .. }) {
                params += td.byte_len().unwrap_or(0);
            }
            inputs.push(tensor_json(&td));
        }
        let out = model.tensor(def.outputs[0])?;
        let m = macs(&model, &def)?;
        total_macs += m;
        let mut detail = detail(&def.op);
        // Classical ops: their size is in their constant inputs (nodes, roots / weights).
        let dim0 = |k: usize| -> Result<usize> {
            Ok(match def.inputs.get(k) {
                Some(&t) => model.tensor(t)?.shape.first().map_or(0, |&d| d as usize),
                None => 0,
            })
        };
        let mut classical = Value::Null;
        match &def.op {
            Op::TreeEnsemble { .. } => {
                let (nodes, trees) = (dim0(1)?, dim0(2)?);
                detail = format!("{trees} trees, {nodes} nodes {detail}")
                    .trim()
                    .to_string();
                classical = json!({"nodes": nodes, "trees": trees});
            }
            Op::Linear { .. } => {
                let outputs = dim0(1)?;
                detail = format!("{outputs} outputs {detail}").trim().to_string();
                classical = json!({"outputs": outputs});
            }
            _ => {}
        }
        let int8 = matches!(
            &def.op,
            Op::FullyConnected { q: Some(_), .. }
                | Op::Conv { q: Some(_), .. }
                | Op::Binary { q: Some(_), .. }
        );
        ops.push(json!({
            "index": i,
            "op": def.op.name(),
            "detail": detail,
            "classical": classical,
            "int8": int8,
            "inputs": inputs,
            "output": tensor_json(&out),
            "parameter_bytes": params,
            "macs": m,
        }));
    }
    let io = |outputs: bool| -> Result<Vec<Value>> {
        let n = if outputs {
            model.num_outputs()
        } else {
            model.num_inputs()
        };
        (0..n)
            .map(|i| {
                Ok(tensor_json(&if outputs {
                    model.output(i)?
                } else {
                    model.input(i)?
                }))
            })
            .collect()
    };
    let props: serde_json::Map<String, Value> = meta
        .properties()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let preprocess = match model.preprocess() {
        None => Value::Null,
        Some(p) => {
            let steps = (0..p.num_steps())
                .map(|i| {
                    let st = p.step(i)?;
                    Ok(json!({"index": i, "op": st.op.name(), "start": st.start, "len": st.len}))
                })
                .collect::<Result<Vec<Value>>>()?;
            json!({
                "raw_inputs": p.raw_len(),
                "output_len": p.out_len(),
                "input_names": p.names().filter(|n| !n.is_empty()).collect::<Vec<_>>(),
                "steps": steps,
            })
        }
    };
    // Where the file's bytes go (flash budgets): each section present, and the rest
    // (header, section table, alignment padding).
    let mut sections = serde_json::Map::new();
    let mut in_sections = 0;
    for (kind, name) in SECTIONS {
        if let Some(b) = model.section(kind) {
            sections.insert(name.into(), json!(b.len()));
            in_sections += b.len();
        }
    }
    sections.insert(
        "header_and_padding".into(),
        json!(fer.len().saturating_sub(in_sections)),
    );
    let monitor = model.monitor_baseline()?.map(|b| {
        json!({
            "features": b.features,
            "bins": b.bins,
            "baseline_rows": b.rows,
            "storage_bytes": 4 * model.monitor_words(),
        })
    });
    Ok(json!({
        "sections": sections,
        "preprocess": preprocess,
        "monitor": monitor,
        "name": meta.name,
        "version": meta.version,
        "description": meta.description,
        "producer": meta.producer,
        "labels": model.labels().collect::<Vec<_>>(),
        "properties": props,
        "inputs": io(false)?,
        "outputs": io(true)?,
        "ops": ops,
        "num_ops": model.num_ops(),
        "num_tensors": model.num_tensors(),
        "arena_bytes": model.arena_size(),
        "parameter_bytes": model.parameter_bytes(),
        "weights_section_bytes": model.weights().len(),
        "total_macs": total_macs,
        "golden_vectors": model.num_golden(),
        "file_bytes": fer.len(),
    }))
}

/// Section kinds of `docs/format.md`, in file order, with their report names.
const SECTIONS: [(u16, &str); 8] = [
    (1, "metadata"),
    (2, "graph"),
    (3, "weights"),
    (4, "preprocess"),
    (5, "feature_statistics"),
    (6, "golden"),
    (7, "signature"),
    (8, "golden_digest"),
];

fn shape_str(v: &Value) -> String {
    let dims: Vec<String> = v["shape"]
        .as_array()
        .map(|a| a.iter().map(|d| d.to_string()).collect())
        .unwrap_or_default();
    format!("{}[{}]", v["dtype"].as_str().unwrap_or("?"), dims.join("x"))
}

/// Human-readable form of [`inspect`]'s report.
pub fn to_text(r: &Value) -> String {
    let mut s = String::new();
    let get = |k: &str| r[k].as_str().unwrap_or("").to_string();
    s += &format!(
        "model      {} {} ({})\n",
        get("name"),
        get("version"),
        get("producer")
    );
    if !get("description").is_empty() {
        s += &format!("           {}\n", get("description"));
    }
    s += &format!(
        "file       {} bytes; parameters {} bytes; arena {} bytes\n",
        r["file_bytes"], r["parameter_bytes"], r["arena_bytes"]
    );
    if let Some(secs) = r["sections"].as_object() {
        let parts: Vec<String> = SECTIONS
            .iter()
            .map(|(_, n)| *n)
            .chain(["header_and_padding"])
            .filter_map(|n| {
                let b = secs.get(n)?.as_u64()?;
                Some(if n == "weights" {
                    let params = r["parameter_bytes"].as_u64().unwrap_or(0);
                    format!(
                        "weights {b} (constants {params}, quantization tables and alignment {})",
                        b.saturating_sub(params)
                    )
                } else {
                    format!("{} {b}", n.replace('_', " "))
                })
            })
            .collect();
        s += &format!("sections   {}\n", parts.join(", "));
    }
    if let Some(m) = r["monitor"].as_object() {
        s += &format!(
            "monitor    baseline of {} rows, {} features × {} bins; Monitor storage {} bytes\n",
            m["baseline_rows"], m["features"], m["bins"], m["storage_bytes"]
        );
    }
    s += &format!(
        "ops        {}; MACs {}; golden vectors {}\n",
        r["num_ops"], r["total_macs"], r["golden_vectors"]
    );
    if let Some(p) = r["properties"].as_object() {
        s += "provenance\n";
        for (k, v) in p {
            s += &format!("  {k:<24} {}\n", v.as_str().unwrap_or(""));
        }
    }
    for (k, label) in [("inputs", "input "), ("outputs", "output")] {
        for t in r[k].as_array().into_iter().flatten() {
            s += &format!(
                "{label}     {} {}\n",
                t["name"].as_str().unwrap_or(""),
                shape_str(t)
            );
        }
    }
    if let Some(l) = r["labels"].as_array() {
        if !l.is_empty() {
            let l: Vec<&str> = l.iter().filter_map(|v| v.as_str()).collect();
            s += &format!("labels     {}\n", l.join(", "));
        }
    }
    if let Some(p) = r["preprocess"].as_object() {
        s += &format!(
            "preprocess {} raw inputs -> {} values; {} steps\n",
            p["raw_inputs"],
            p["output_len"],
            p["steps"].as_array().map_or(0, |a| a.len())
        );
        for st in p["steps"].as_array().into_iter().flatten() {
            s += &format!(
                "  {:>2}  {:<14} columns {}..{} (len {})\n",
                st["index"].to_string(),
                st["op"].as_str().unwrap_or(""),
                st["start"],
                st["start"].as_u64().unwrap_or(0) + st["len"].as_u64().unwrap_or(0),
                st["len"]
            );
        }
    }
    // The op table: each column as wide as its widest cell, so long details (a Conv's
    // strides and pads) keep the columns aligned.
    let mut table: Vec<[String; 6]> = vec![[
        "#".into(),
        "op".into(),
        "inputs".into(),
        "output".into(),
        "params B".into(),
        "MACs".into(),
    ]];
    for op in r["ops"].as_array().into_iter().flatten() {
        let ins: Vec<String> = op["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(shape_str)
            .collect();
        let detail = op["detail"].as_str().unwrap_or("");
        let name = format!(
            "{}{}{}",
            op["op"].as_str().unwrap_or(""),
            if op["int8"].as_bool() == Some(true) {
                " i8"
            } else {
                ""
            },
            if detail.is_empty() {
                String::new()
            } else {
                format!(" [{detail}]")
            }
        );
        table.push([
            op["index"].to_string(),
            name,
            ins.join(" "),
            shape_str(&op["output"]),
            op["parameter_bytes"].to_string(),
            op["macs"].to_string(),
        ]);
    }
    let mut w = [4, 34, 34, 16, 9, 10];
    for row in &table {
        for (c, cell) in row.iter().enumerate() {
            w[c] = w[c].max(cell.chars().count());
        }
    }
    for [i, op, ins, out, params, macs] in &table {
        s += &format!(
            "{i:>w0$}  {op:<w1$} {ins:<w2$} {out:<w3$} {params:>w4$} {macs:>w5$}\n",
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5]
        );
    }
    s
}
