//! Reshapes in place (format 1.7): the writer puts a Reshape's output on its input's
//! arena bytes when the input is not read after it, and the Reshape then copies
//! nothing. These tests pin that such a file gives the same bytes as the copying form
//! (the one every earlier writer made), that the loader admits shared bytes only in
//! that exact form, and that every other overlap stays a typed `BadPlan`.

use ferrite::format::types::{DType, Op, Quant, UnaryOp};
use ferrite::format::write::ModelBuilder;
use ferrite::{AlignedModel, Error, OwnedSession};

mod patch;
use patch::{patch_graph, patch_location, u32_at};

/// `bytes` with the arena size (the last byte of the IO record; every value here fits
/// one varint byte) set to `size`.
fn with_arena(bytes: &[u8], size: u8) -> Vec<u8> {
    patch_graph(bytes, |g| {
        let io_len = u32_at(g, 0);
        assert!(g[16 + io_len - 1] < 128);
        g[16 + io_len - 1] = size;
    })
}

fn location(bytes: &[u8], t: usize) -> [u8; 3] {
    let mut l = [0; 3];
    patch_location(bytes, t, |r| l.copy_from_slice(r));
    l
}

fn minor(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[6], bytes[7]])
}

fn load(bytes: &[u8]) -> Result<(), Error> {
    AlignedModel::new(bytes).model().map(|_| ())
}

/// Runs the model on `x` (f32) and returns its output bytes.
fn run(bytes: &[u8], x: &[f32]) -> Vec<u8> {
    let a = AlignedModel::new(bytes);
    let m = a.model().expect("load");
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    s.set_input_f32(0, x).unwrap();
    s.run().unwrap();
    s.output_bytes(0).unwrap().to_vec()
}

const RELU: Op = Op::Unary { op: UnaryOp::Relu };

/// x [1,2,4] → Reshape → a [1,2,1,4] → Relu → b → Reshape → c [8] → Relu → y [8]:
/// every tensor 32 bytes; tensors 0..=4 are x, a, b, c, y.
fn model() -> Vec<u8> {
    let mut m = ModelBuilder::new("in_place");
    let t = |m: &mut ModelBuilder, name: &str, shape: &[u32]| {
        m.add_tensor(name, DType::F32, shape, Quant::None).unwrap()
    };
    let x = t(&mut m, "x", &[1, 2, 4]);
    let a = t(&mut m, "a", &[1, 2, 1, 4]);
    let b = t(&mut m, "b", &[1, 2, 1, 4]);
    let c = t(&mut m, "c", &[8]);
    let y = t(&mut m, "y", &[8]);
    m.add_op(Op::Reshape, &[x], &[a]).unwrap();
    m.add_op(RELU, &[a], &[b]).unwrap();
    m.add_op(Op::Reshape, &[b], &[c]).unwrap();
    m.add_op(RELU, &[c], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    m.finish().unwrap()
}

const X: [f32; 8] = [-1.5, 2.25, 0.0, 3.0, 7.0, -3.0, 0.5, 1e-3];

fn relu(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.max(0.0).to_le_bytes()).collect()
}

#[test]
fn a_reshape_whose_input_dies_gets_its_inputs_bytes_and_gives_the_same_output() {
    let good = model();
    assert_eq!(
        minor(&good),
        7,
        "a file with a Reshape in place is format 1.7"
    );
    let [x, a, b, c, y] = [0, 1, 2, 3, 4].map(|t| location(&good, t));
    // x and a at 0 (steps 0..=1), b and c at 32 (steps 1..=3), y at 0 (step 3).
    assert_eq!(
        [x, a, b, c, y],
        [[0, 0, 0], [0, 0, 1], [32, 1, 2], [32, 2, 3], [0, 3, 3]]
    );
    assert_eq!(run(&good, &X), relu(&X));

    // The copying form (as earlier writers placed it): a and c on bytes of their own
    // past the planned arena (64 bytes; a and c are never alive together). Same output bytes.
    let copying = patch_location(&with_arena(&good, 112), 1, |l| l[0] = 64);
    let copying = patch_location(&copying, 3, |l| l[0] = 80);
    assert_eq!(run(&copying, &X), relu(&X));
    // Several runs in one session: the Reshape in place reads each new input.
    let am = AlignedModel::new(&good);
    let m = am.model().unwrap();
    let mut o = OwnedSession::new(&m);
    let mut s = o.session();
    for k in 0..3 {
        let x: Vec<f32> = X.iter().map(|v| v * (1.0 - k as f32) + 0.25).collect();
        s.set_input_f32(0, &x).unwrap();
        s.run().unwrap();
        assert_eq!(s.output_bytes(0).unwrap(), relu(&x));
    }
}

#[test]
fn shared_bytes_other_than_a_reshape_in_place_are_a_plan_error() {
    let good = model();
    let roomy = with_arena(&good, 112);
    assert_eq!(load(&roomy), Ok(()));
    // a half on x's bytes (and half on b's).
    let half = patch_location(&roomy, 1, |l| l[0] = 16);
    assert!(matches!(load(&half), Err(Error::BadPlan { .. })));
    // b (a Relu's output) on its input a's bytes.
    let relu_in_place = patch_location(&roomy, 2, |l| l[0] = 0);
    assert!(matches!(load(&relu_in_place), Err(Error::BadPlan { .. })));
    // y on c's bytes: the Relu at step 3 reads c, which holds b's bytes.
    let on_chain = patch_location(&roomy, 4, |l| l[0] = 32);
    assert!(matches!(load(&on_chain), Err(Error::BadPlan { .. })));
    // b alive as long as c, which shares its bytes: both are only read, so the file
    // loads and gives the same bytes.
    let b_longer = patch_location(&roomy, 2, |l| l[2] = 3);
    assert_eq!(run(&b_longer, &X), relu(&X));
}

/// x → Reshape → a, and x also read after it (by a Relu at step 1): the writer keeps
/// a apart (its bytes go to y once x is dead); a moved onto x then shares bytes with
/// y, written while a is alive.
#[test]
fn a_reshape_on_an_input_read_later_is_a_plan_error() {
    let mut m = ModelBuilder::new("read_later");
    let t = |m: &mut ModelBuilder, name: &str, shape: &[u32]| {
        m.add_tensor(name, DType::F32, shape, Quant::None).unwrap()
    };
    let x = t(&mut m, "x", &[4]);
    let a = t(&mut m, "a", &[2, 2]);
    let b = t(&mut m, "b", &[4]);
    let y = t(&mut m, "y", &[2, 2]);
    let add = Op::Binary {
        op: ferrite::format::types::BinaryOp::Add,
        act: ferrite::format::types::Activation::None,
        q: None,
    };
    m.add_op(Op::Reshape, &[x], &[a]).unwrap();
    m.add_op(RELU, &[x], &[b]).unwrap();
    let b2 = t(&mut m, "b2", &[2, 2]);
    m.add_op(Op::Reshape, &[b], &[b2]).unwrap();
    m.add_op(add, &[a, b2], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let good = m.finish().unwrap();
    assert_ne!(location(&good, 1)[0], location(&good, 0)[0], "x read later");
    assert_eq!(location(&good, 4)[0], location(&good, 2)[0], "b2 on b");
    let want: Vec<u8> = X[..4]
        .iter()
        .flat_map(|v| (v + v.max(0.0)).to_le_bytes())
        .collect();
    assert_eq!(run(&good, &X[..4]), want);
    let x_at = location(&good, 0)[0];
    assert_eq!(location(&good, 3)[0], x_at, "y on x's bytes");
    let bad = patch_location(&good, 1, |l| l[0] = x_at);
    assert!(matches!(load(&bad), Err(Error::BadPlan { .. })));
}

#[test]
fn a_file_without_a_reshape_keeps_its_minor() {
    let mut m = ModelBuilder::new("relu");
    let x = m.add_tensor("x", DType::F32, &[4], Quant::None).unwrap();
    let y = m.add_tensor("y", DType::F32, &[4], Quant::None).unwrap();
    m.add_op(RELU, &[x], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    assert_eq!(minor(&m.finish().unwrap()), 0);
    // A Reshape from a graph input straight to a graph output copies: the next input
    // must not change the last output.
    let mut m = ModelBuilder::new("copy");
    let x = m.add_tensor("x", DType::F32, &[4], Quant::None).unwrap();
    let y = m.add_tensor("y", DType::F32, &[2, 2], Quant::None).unwrap();
    m.add_op(Op::Reshape, &[x], &[y]).unwrap();
    m.set_io(&[x], &[y]).unwrap();
    let b = m.finish().unwrap();
    assert_eq!(minor(&b), 0);
    assert_ne!(location(&b, 0)[0], location(&b, 1)[0]);
}
