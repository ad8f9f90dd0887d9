//! Prints the typed, decluttered tract graph of an ONNX model (what `import::tract`
//! lowers): `cargo run -p ferrite-tool --example dump_tract -- model.onnx [1,64]`.
use tract_onnx::prelude::*;
fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let mut m = tract_onnx::onnx().model_for_path(&args[1])?;
    if args.len() > 2 {
        let dims: Vec<usize> = args[2].split(',').map(|s| s.parse().unwrap()).collect();
        m = m.with_input_fact(0, f32::fact(&dims).into())?;
    }
    let m = m.into_typed()?.into_decluttered()?;
    for id in m.eval_order()? {
        let n = m.node(id);
        let facts: Vec<String> = n.outputs.iter().map(|o| format!("{:?}", o.fact)).collect();
        println!(
            "#{} {:?} op={} {:?} in={:?} out={:?}",
            id,
            n.name,
            n.op.name(),
            n.op,
            n.inputs,
            facts
        );
    }
    Ok(())
}
