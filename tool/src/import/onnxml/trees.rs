//! TreeEnsembleClassifier / TreeEnsembleRegressor become the `TreeEnsemble` op: every
//! tree renumbered breadth-first into one flat node array (a child always after its
//! parent), leaves pointing into one array of (target, weight) entries.
//!
//! The semantics are onnxruntime's (`tree_ensemble_aggregator.h`, `ml_common.h`), and
//! any shape onnxruntime answers in a way the op cannot reproduce is refused:
//! - a binary classifier with one score column (class ids all 0: skl2onnx boosters and
//!   forests, XGBoost, LightGBM) gets the second column onnxruntime derives: LOGISTIC
//!   gives `[σ(-s), σ(s)]` (refused when no weight is negative: the label would be
//!   `s > 0.5`); otherwise `[1 - s, s]` when no weight is negative, else `[-s, s]`
//!   (post_transform ignored); `s` includes `base_values[0]`;
//! - a binary classifier with two columns (CatBoost) must hold opposite leaf values and
//!   no base_values (onnxruntime's label is `score1 > 0`);
//! - a classifier always sums its trees (TreeEnsembleClassifier has no
//!   `aggregate_function`);
//! - a single-target regressor ignores post_transform (PROBIT is refused).

use super::graph::{GOp, TreeParts};
use super::lowering::{node_err, post_transform, Lowering, Val};
use crate::error::Result;
use crate::import::proto::{attr, attr_i, attr_ints, attr_s, attr_strings, data_type, values_f64};
use ferrite::classic::{Node, NodeMode};
use ferrite::format::types::{Aggregate, PostTransform};
use std::collections::HashMap;
use tract_onnx::pb::NodeProto;

/// The tree attributes of either ONNX-ML form, one entry per node / leaf entry.
struct Flat {
    tree_ids: Vec<i64>,
    node_ids: Vec<i64>,
    feats: Vec<i64>,
    /// `None` for a leaf.
    modes: Vec<Option<NodeMode>>,
    values: Vec<f32>,
    trues: Vec<i64>,
    falses: Vec<i64>,
    missing: Vec<i64>,
    l_tree: Vec<i64>,
    l_node: Vec<i64>,
    l_id: Vec<i64>,
    l_w: Vec<f32>,
}

/// A branch mode by its ONNX-ML name.
fn mode_of(name: &str) -> Option<Option<NodeMode>> {
    Some(match name {
        "LEAF" => None,
        "BRANCH_LEQ" => Some(NodeMode::BranchLeq),
        "BRANCH_LT" => Some(NodeMode::BranchLt),
        "BRANCH_GTE" => Some(NodeMode::BranchGte),
        "BRANCH_GT" => Some(NodeMode::BranchGt),
        "BRANCH_EQ" => Some(NodeMode::BranchEq),
        "BRANCH_NEQ" => Some(NodeMode::BranchNeq),
        _ => return None,
    })
}

/// The f32 threshold that compares with every f32 input as the f64 threshold `t` does
/// (onnxruntime compares in double when the thresholds are doubles): round down for
/// `<=` / `>`, up for `<` / `>=`; `None` for `==` / `!=` with a `t` no f32 equals.
fn threshold_f32(mode: NodeMode, t: f64) -> Option<f32> {
    let r = t as f32;
    if r as f64 == t || t.is_nan() {
        return Some(r);
    }
    let down = if (r as f64) < t {
        r
    } else {
        adjacent(r, false)
    };
    let up = if (r as f64) > t { r } else { adjacent(r, true) };
    match mode {
        NodeMode::BranchLeq | NodeMode::BranchGt => Some(down),
        NodeMode::BranchLt | NodeMode::BranchGte => Some(up),
        _ => None,
    }
}

/// The f32 next to finite `r`, above (`up`) or below.
fn adjacent(r: f32, up: bool) -> f32 {
    if r == 0.0 {
        let tiny = f32::from_bits(1);
        return if up { tiny } else { -tiny };
    }
    let b = r.to_bits();
    f32::from_bits(if (r > 0.0) == up { b + 1 } else { b - 1 })
}

/// Float list attribute `name` or its `_as_tensor` form, as f64, and whether it was
/// given as doubles.
fn floats64(node: &NodeProto, name: &str) -> (Vec<f64>, bool) {
    if let Some(a) = attr(node, name).filter(|a| !a.floats.is_empty()) {
        return (a.floats.iter().map(|&v| v as f64).collect(), false);
    }
    for n in [format!("{name}_as_tensor"), name.to_string()] {
        if let Some(t) = attr(node, &n).and_then(|a| a.t.as_ref()) {
            if let Some(v) = values_f64(t) {
                return (v, t.data_type == data_type::DOUBLE);
            }
        }
    }
    (Vec::new(), false)
}

/// Thresholds as f32 (see [`threshold_f32`]).
fn thresholds(
    err: &dyn Fn(&str) -> crate::error::Error,
    modes: &[Option<NodeMode>],
    values: &[f64],
    double: bool,
) -> Result<Vec<f32>> {
    modes
        .iter()
        .zip(values)
        .map(|(m, &v)| match m {
            Some(m) if double => threshold_f32(*m, v).ok_or_else(|| {
                err(&format!(
                    "double threshold {v} of an EQ / NEQ node has no f32 equal"
                ))
            }),
            _ => Ok(v as f32),
        })
        .collect()
}

/// TreeEnsembleClassifier / TreeEnsembleRegressor: the `TreeEnsemble` op.
pub(super) fn trees(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let classifier = node.op_type == "TreeEnsembleClassifier";
    let tree_ids = attr_ints(node, "nodes_treeids");
    let modes = attr_strings(node, "nodes_modes")
        .iter()
        .map(|m| mode_of(m).ok_or_else(|| err(&format!("node mode {m} is not supported"))))
        .collect::<Result<Vec<_>>>()?;
    let (values, double) = floats64(node, "nodes_values");
    let values = thresholds(&err, &modes, &values, double)?;
    let mut missing = attr_ints(node, "nodes_missing_value_tracks_true");
    if missing.is_empty() {
        missing = vec![0; tree_ids.len()];
    }
    let pre = if classifier { "class_" } else { "target_" };
    let flat = Flat {
        node_ids: attr_ints(node, "nodes_nodeids"),
        feats: attr_ints(node, "nodes_featureids"),
        modes,
        values,
        trues: attr_ints(node, "nodes_truenodeids"),
        falses: attr_ints(node, "nodes_falsenodeids"),
        missing,
        tree_ids,
        l_tree: attr_ints(node, &format!("{pre}treeids")),
        l_node: attr_ints(node, &format!("{pre}nodeids")),
        l_id: attr_ints(node, &format!("{pre}ids")),
        l_w: floats64(node, &format!("{pre}weights"))
            .0
            .iter()
            .map(|&v| v as f32)
            .collect(),
    };
    let n_targets = if classifier {
        cx.set_labels(node);
        cx.labels.len()
    } else {
        attr_i(node, "n_targets").unwrap_or(1) as usize
    };
    if classifier && n_targets < 2 {
        return Err(err("a classifier with fewer than two classes"));
    }
    let aggregate = match attr_s(node, "aggregate_function")
        .as_deref()
        .unwrap_or("SUM")
    {
        // TreeEnsembleClassifier has no aggregate_function: onnxruntime sums.
        _ if classifier => Aggregate::Sum,
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        o => return Err(err(&format!("aggregate_function {o}"))),
    };
    let base = floats64(node, "base_values")
        .0
        .iter()
        .map(|&v| v as f32)
        .collect();
    let post = post_transform(node)?;
    build(cx, node, flat, classifier, n_targets, base, aggregate, post)
}

/// ai.onnx.ml opset-5 `TreeEnsemble`: branch nodes and leaves in separate arrays, the
/// trees given by their roots. Becomes the same op as the older forms; BRANCH_MEMBER
/// and any post_transform are refused (onnxruntime numbers post_transform differently
/// from the specification).
pub(super) fn tree_ensemble(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    match attr_i(node, "post_transform").unwrap_or(0) {
        0 => {}
        p => {
            return Err(err(&format!(
                "post_transform {p} (onnxruntime reads 1 as LOGISTIC and 2 as SOFTMAX, \
                 the specification the other way round; apply Softmax / Sigmoid as nodes)"
            )))
        }
    }
    let aggregate = match attr_i(node, "aggregate_function").unwrap_or(1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        o => return Err(err(&format!("aggregate_function {o}"))),
    };
    let n_targets = attr_i(node, "n_targets").unwrap_or(1).max(0) as usize;
    let code_modes: Vec<f64> = attr(node, "nodes_modes")
        .and_then(|a| a.t.as_ref())
        .and_then(values_f64)
        .unwrap_or_default();
    let modes = code_modes
        .iter()
        .map(|&c| match c as i64 {
            0 => Ok(NodeMode::BranchLeq),
            1 => Ok(NodeMode::BranchLt),
            2 => Ok(NodeMode::BranchGte),
            3 => Ok(NodeMode::BranchGt),
            4 => Ok(NodeMode::BranchEq),
            5 => Ok(NodeMode::BranchNeq),
            6 => Err(err("BRANCH_MEMBER (set membership) is not supported")),
            c => Err(err(&format!("node mode {c}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let (splits, double) = floats64(node, "nodes_splits");
    let feats = attr_ints(node, "nodes_featureids");
    let (trues, falses) = (
        attr_ints(node, "nodes_truenodeids"),
        attr_ints(node, "nodes_falsenodeids"),
    );
    let (t_leaf, f_leaf) = (
        attr_ints(node, "nodes_trueleafs"),
        attr_ints(node, "nodes_falseleafs"),
    );
    let mut missing = attr_ints(node, "nodes_missing_value_tracks_true");
    let n = modes.len();
    if missing.is_empty() {
        missing = vec![0; n];
    }
    if [
        splits.len(),
        feats.len(),
        trues.len(),
        falses.len(),
        t_leaf.len(),
        f_leaf.len(),
    ]
    .iter()
    .chain([&missing.len()])
    .any(|&l| l != n)
    {
        return Err(err("node attribute arrays differ in length"));
    }
    let splits = thresholds(
        &err,
        &modes.iter().map(|&m| Some(m)).collect::<Vec<_>>(),
        &splits,
        double,
    )?;
    let l_targets = attr_ints(node, "leaf_targetids");
    let l_weights: Vec<f32> = floats64(node, "leaf_weights")
        .0
        .iter()
        .map(|&v| v as f32)
        .collect();
    if l_targets.len() != l_weights.len() {
        return Err(err("leaf attribute arrays differ in length"));
    }
    // Older form: branch node i keeps id i, leaf k gets id n + k; tree = root position.
    let mut flat = Flat {
        tree_ids: vec![],
        node_ids: vec![],
        feats: vec![],
        modes: vec![],
        values: vec![],
        trues: vec![],
        falses: vec![],
        missing: vec![],
        l_tree: vec![],
        l_node: vec![],
        l_id: vec![],
        l_w: vec![],
    };
    let id_of = |c: i64, leaf: bool| if leaf { n as i64 + c } else { c };
    for (tree, &root) in attr_ints(node, "tree_roots").iter().enumerate() {
        let tree = tree as i64;
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![(root, false)];
        while let Some((i, leaf)) = stack.pop() {
            if !seen.insert((i, leaf)) {
                continue;
            }
            let u = usize::try_from(i).ok();
            if leaf {
                let (Some(&t), Some(&w)) = (
                    u.and_then(|k| l_targets.get(k)),
                    u.and_then(|k| l_weights.get(k)),
                ) else {
                    return Err(err(&format!("tree {tree}: leaf {i} out of range")));
                };
                flat.tree_ids.push(tree);
                flat.node_ids.push(id_of(i, true));
                flat.feats.push(0);
                flat.modes.push(None);
                flat.values.push(0.0);
                flat.trues.push(0);
                flat.falses.push(0);
                flat.missing.push(0);
                flat.l_tree.push(tree);
                flat.l_node.push(id_of(i, true));
                flat.l_id.push(t);
                flat.l_w.push(w);
                continue;
            }
            let Some(k) = u.filter(|&k| k < n) else {
                return Err(err(&format!("tree {tree}: node {i} out of range")));
            };
            flat.tree_ids.push(tree);
            flat.node_ids.push(i);
            flat.feats.push(feats[k]);
            flat.modes.push(Some(modes[k]));
            flat.values.push(splits[k]);
            flat.trues.push(id_of(trues[k], t_leaf[k] != 0));
            flat.falses.push(id_of(falses[k], f_leaf[k] != 0));
            flat.missing.push(missing[k]);
            stack.push((trues[k], t_leaf[k] != 0));
            stack.push((falses[k], f_leaf[k] != 0));
        }
    }
    build(
        cx,
        node,
        flat,
        false,
        n_targets,
        vec![],
        aggregate,
        PostTransform::None,
    )
}

/// The `TreeEnsemble` op of `flat` (onnxruntime's semantics, see the module docs).
#[allow(clippy::too_many_arguments)]
fn build(
    cx: &mut Lowering<'_>,
    node: &NodeProto,
    flat: Flat,
    classifier: bool,
    n_targets: usize,
    mut base: Vec<f32>,
    aggregate: Aggregate,
    mut post: PostTransform,
) -> Result<Vec<Option<Val>>> {
    let err = node_err(node);
    let x = cx.input(node, 0)?;
    let t = cx.tensor_of(x)?;
    let f = cx.widths[t];
    let Flat {
        tree_ids,
        node_ids,
        feats,
        modes,
        values,
        trues,
        falses,
        missing,
        l_tree,
        l_node,
        l_id,
        mut l_w,
    } = flat;
    let m = tree_ids.len();
    if [
        node_ids.len(),
        feats.len(),
        modes.len(),
        values.len(),
        trues.len(),
        falses.len(),
        missing.len(),
    ]
    .iter()
    .any(|&l| l != m)
    {
        return Err(err("node attribute arrays differ in length"));
    }
    if [l_node.len(), l_id.len(), l_w.len()]
        .iter()
        .any(|&l| l != l_tree.len())
    {
        return Err(err("leaf attribute arrays differ in length"));
    }
    if n_targets == 0 || n_targets > 1 << 20 {
        return Err(err("no (or too many) classes / targets"));
    }
    let mut l_id = l_id;
    let mut l_tree = l_tree;
    let mut l_node = l_node;
    if !classifier && n_targets == 1 {
        // onnxruntime applies no post_transform but PROBIT to a single target.
        post = PostTransform::None;
    }
    if !base.is_empty() && base.len() != n_targets && !(n_targets == 2 && base.len() == 1) {
        return Err(err(&format!(
            "{} base_values for {n_targets} classes / targets",
            base.len()
        )));
    }
    if classifier && n_targets == 2 {
        let mut ids: Vec<i64> = l_id.clone();
        ids.sort_unstable();
        ids.dedup();
        if ids == [0] {
            // onnxruntime's binary case: one score column s (+ base_values[0]) is the
            // positive class's. LOGISTIC gives [σ(-s), σ(s)]; otherwise the output is
            // [1 - s, s] when no weight is negative, else [-s, s] (post_transform
            // ignored). The label is s > 0.5 when no weight is negative, else s > 0.
            if base.len() > 1 {
                return Err(err(
                    "a binary classifier with one score column and two base_values \
                     (onnxruntime ignores the tree scores there)",
                ));
            }
            let b = base.first().copied().unwrap_or(0.0);
            let all_positive = l_w.iter().all(|&w| w >= 0.0);
            if all_positive && post == PostTransform::Logistic {
                return Err(err(
                    "a binary classifier with one score column, no negative weight and \
                     LOGISTIC (onnxruntime's label there is s > 0.5, not the larger \
                     probability σ(s))",
                ));
            }
            let b0 = if all_positive { 1.0 - b } else { -b };
            if post != PostTransform::Logistic {
                post = PostTransform::None;
            }
            let k = l_id.len();
            for i in 0..k {
                l_tree.push(l_tree[i]);
                l_node.push(l_node[i]);
                l_id.push(1);
                l_w.push(l_w[i]);
                l_w[i] = -l_w[i];
            }
            base = vec![b0, b];
        } else if ids == [0, 1] {
            // Two score columns: onnxruntime's label is class 1 when the class-1 score
            // is > 0, the largest score only when every leaf holds (-v, +v).
            if !base.is_empty() {
                return Err(err(
                    "a binary classifier with two score columns and base_values \
                     (onnxruntime replaces the class-0 score there)",
                ));
            }
            let mut pairs: HashMap<(i64, i64), [Option<f32>; 2]> = HashMap::new();
            for i in 0..l_id.len() {
                let e = pairs.entry((l_tree[i], l_node[i])).or_default();
                let slot = &mut e[l_id[i] as usize];
                *slot = Some(slot.unwrap_or(0.0) + l_w[i]);
            }
            if pairs.values().any(|[a, b]| match (a, b) {
                (Some(a), Some(b)) => *a != -*b,
                _ => true,
            }) {
                return Err(err(
                    "a binary classifier whose leaves do not hold opposite scores for \
                     the two classes (onnxruntime's label there is not the larger score)",
                ));
            }
        } else {
            return Err(err(&format!(
                "a binary classifier with scores for class ids {ids:?} only \
                 (onnxruntime does not treat it as one score column)"
            )));
        }
    } else if classifier && base.is_empty() {
        // onnxruntime's label skips classes that no leaf scored.
        let mut seen = vec![false; n_targets];
        for &c in &l_id {
            if let Some(s) = usize::try_from(c).ok().and_then(|c| seen.get_mut(c)) {
                *s = true;
            }
        }
        if seen.iter().any(|s| !s) {
            return Err(err("a class that no leaf scores (and no base_values)"));
        }
    }
    if base.is_empty() {
        base = vec![0.0; n_targets];
    }
    if base.len() != n_targets {
        return Err(err("base_values do not match the classes / targets"));
    }
    // (tree, node id) -> attribute index; leaves' entries in order.
    let mut at: HashMap<(i64, i64), usize> = HashMap::new();
    for i in 0..m {
        if at.insert((tree_ids[i], node_ids[i]), i).is_some() {
            return Err(err("duplicate node id"));
        }
    }
    let mut entries: HashMap<(i64, i64), Vec<(i32, f32)>> = HashMap::new();
    for i in 0..l_tree.len() {
        let id = l_id[i];
        if id < 0 || id as usize >= n_targets {
            return Err(err("class / target id out of range"));
        }
        entries
            .entry((l_tree[i], l_node[i]))
            .or_default()
            .push((id as i32, l_w[i]));
    }
    let mut trees: Vec<i64> = tree_ids.clone();
    trees.sort_unstable();
    trees.dedup();
    let mut parts = TreeParts {
        nodes: vec![],
        roots: vec![],
        ids: vec![],
        ws: vec![],
        base,
        aggregate,
        post,
    };
    for &tree in &trees {
        // Root: the node of this tree that is nobody's child.
        let mut children = std::collections::HashSet::new();
        for i in 0..m {
            if tree_ids[i] == tree && modes[i].is_some() {
                children.insert(trues[i]);
                children.insert(falses[i]);
            }
        }
        let roots: Vec<usize> = (0..m)
            .filter(|&i| tree_ids[i] == tree && !children.contains(&node_ids[i]))
            .collect();
        if roots.len() != 1 {
            return Err(err(&format!("tree {tree} does not have exactly one root")));
        }
        // Breadth-first numbering: every child gets a larger index than its parent.
        let base_idx = parts.nodes.len() / 4;
        let mut order: Vec<usize> = vec![roots[0]];
        let mut index: HashMap<usize, usize> = HashMap::from([(roots[0], 0)]);
        let mut q = 0;
        while q < order.len() {
            let i = order[q];
            q += 1;
            if modes[i].is_none() {
                continue;
            }
            for c in [trues[i], falses[i]] {
                let ci = *at
                    .get(&(tree, c))
                    .ok_or_else(|| err(&format!("tree {tree}: missing node {c}")))?;
                if index.contains_key(&ci) {
                    return Err(err(&format!(
                        "tree {tree}: node {c} is reached twice (cycle or shared node)"
                    )));
                }
                index.insert(ci, order.len());
                order.push(ci);
            }
        }
        parts.roots.push(base_idx as i32);
        for &i in &order {
            let mode = modes[i].unwrap_or(NodeMode::Leaf);
            let node = if mode == NodeMode::Leaf {
                let e = entries
                    .get(&(tree, node_ids[i]))
                    .cloned()
                    .unwrap_or_default();
                let first = parts.ids.len() as u32;
                for (id, w) in &e {
                    parts.ids.push(*id);
                    parts.ws.push(*w);
                }
                Node {
                    mode,
                    feature: 0,
                    threshold: 0.0,
                    missing_true: false,
                    a: first,
                    b: e.len() as u32,
                }
            } else {
                let fi = feats[i];
                if fi < 0 || fi as usize >= f {
                    return Err(err(&format!("feature {fi} out of range")));
                }
                let child = |c: i64| (base_idx + index[&at[&(tree, c)]]) as u32;
                Node {
                    mode,
                    feature: fi as u32,
                    threshold: values[i],
                    missing_true: missing[i] != 0,
                    a: child(trues[i]),
                    b: child(falses[i]),
                }
            };
            parts.nodes.extend(node.encode());
        }
    }
    if parts.ids.is_empty() {
        parts.ids.push(0);
        parts.ws.push(0.0);
    }
    let out = cx.push(GOp::Tree(Box::new(parts)), vec![t], n_targets);
    let mut outs = vec![None; node.output.len()];
    let idx = if classifier { 1 } else { 0 };
    if idx < outs.len() {
        outs[idx] = Some(Val::Tensor(out));
    }
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f32 near a double threshold compares with the f32 threshold exactly as
    /// with the double one (checked in f64, not through `threshold_f32`'s rounding).
    #[test]
    fn double_thresholds_compare_as_onnxruntime_does() {
        let modes = [
            NodeMode::BranchLeq,
            NodeMode::BranchLt,
            NodeMode::BranchGte,
            NodeMode::BranchGt,
        ];
        for t in [2.9000000000000004f64, -0.1, 1e-30, 3.0, -7.25e10, 0.0] {
            for mode in modes {
                let r = threshold_f32(mode, t).unwrap();
                let near = t as f32;
                // The f32 values within three steps of t (by bit pattern), and zero.
                let mut xs: Vec<f32> = (-3i32..=3)
                    .map(|d| f32::from_bits((near.to_bits() as i32 + d) as u32))
                    .collect();
                xs.push(0.0);
                xs.retain(|x| x.is_finite());
                for x in xs {
                    let want = match mode {
                        NodeMode::BranchLeq => (x as f64) <= t,
                        NodeMode::BranchLt => (x as f64) < t,
                        NodeMode::BranchGte => (x as f64) >= t,
                        _ => (x as f64) > t,
                    };
                    let node = Node {
                        mode,
                        feature: 0,
                        threshold: r,
                        missing_true: false,
                        a: 0,
                        b: 0,
                    };
                    assert_eq!(node.goes_true(x), want, "{mode:?} {t} at {x}");
                }
            }
        }
        assert_eq!(threshold_f32(NodeMode::BranchEq, 0.1), None);
        assert_eq!(threshold_f32(NodeMode::BranchEq, 0.5), Some(0.5));
    }
}
