//! TreeEnsembleClassifier / TreeEnsembleRegressor become the `TreeEnsemble` op: every
//! tree renumbered breadth-first into one flat node array (a child always after its
//! parent), leaves pointing into one array of (target, weight) entries. A binary
//! classifier with weights for one class only gets the other class's entries as
//! onnxruntime computes them.

use super::graph::{GOp, TreeParts};
use super::lowering::{node_err, post_transform, Lowering, Val};
use crate::error::Result;
use crate::import::proto::{attr_floats, attr_i, attr_ints, attr_s, attr_strings};
use ferrite::format::types::{Aggregate, PostTransform};
use std::collections::HashMap;
use tract_onnx::pb::NodeProto;

/// TreeEnsembleClassifier / TreeEnsembleRegressor: the `TreeEnsemble` op.
pub(super) fn trees(cx: &mut Lowering<'_>, node: &NodeProto) -> Result<Vec<Option<Val>>> {
    let op = node.op_type.as_str();
    let err = node_err(node);
    let x = cx.input(node, 0)?;
    let t = cx.tensor_of(x)?;
    let f = cx.widths[t];
    let post = post_transform(node)?;
    let classifier = op == "TreeEnsembleClassifier";
    let tree_ids = attr_ints(node, "nodes_treeids");
    let node_ids = attr_ints(node, "nodes_nodeids");
    let feats = attr_ints(node, "nodes_featureids");
    let modes = attr_strings(node, "nodes_modes");
    let mut values = attr_floats(node, "nodes_values");
    if values.is_empty() {
        values = attr_floats(node, "nodes_values_as_tensor");
    }
    let trues = attr_ints(node, "nodes_truenodeids");
    let falses = attr_ints(node, "nodes_falsenodeids");
    let mut missing = attr_ints(node, "nodes_missing_value_tracks_true");
    let m = tree_ids.len();
    if missing.is_empty() {
        missing = vec![0; m];
    }
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
    let pre = if classifier { "class_" } else { "target_" };
    let l_tree = attr_ints(node, &format!("{pre}treeids"));
    let l_node = attr_ints(node, &format!("{pre}nodeids"));
    let l_id = attr_ints(node, &format!("{pre}ids"));
    let mut l_w = attr_floats(node, &format!("{pre}weights"));
    if l_w.is_empty() {
        l_w = attr_floats(node, &format!("{pre}weights_as_tensor"));
    }
    if [l_node.len(), l_id.len(), l_w.len()]
        .iter()
        .any(|&l| l != l_tree.len())
    {
        return Err(err("leaf attribute arrays differ in length"));
    }
    let n_targets = if classifier {
        cx.set_labels(node);
        cx.labels.len()
    } else {
        attr_i(node, "n_targets").unwrap_or(1) as usize
    };
    if n_targets == 0 || n_targets > 1 << 20 {
        return Err(err("no (or too many) classes / targets"));
    }
    let mut base = attr_floats(node, "base_values");
    if base.is_empty() {
        base = attr_floats(node, "base_values_as_tensor");
    }
    let mut l_id = l_id;
    let mut l_tree = l_tree;
    let mut l_node = l_node;
    // ONNX-ML binary classifier with weights for one class only (as onnxruntime):
    // class 0 gets -s (LOGISTIC: 1 - p), or 1 - s with NONE and positive weights.
    let binary =
        classifier && n_targets == 2 && !l_id.is_empty() && l_id.iter().all(|&c| c == l_id[0]);
    if binary {
        let c1 = l_id[0];
        let c0 = 1 - c1;
        let positive = l_w.iter().all(|&w| w >= 0.0);
        let b1 = if base.len() == 2 {
            base[c1 as usize]
        } else {
            base.first().copied().unwrap_or(0.0)
        };
        let b0 = if post == PostTransform::None && positive {
            1.0 - b1
        } else {
            -b1
        };
        let k = l_id.len();
        for i in 0..k {
            l_tree.push(l_tree[i]);
            l_node.push(l_node[i]);
            l_id.push(c0);
            l_w.push(-l_w[i]);
        }
        base = if c1 == 1 { vec![b0, b1] } else { vec![b1, b0] };
    }
    if base.is_empty() {
        base = vec![0.0; n_targets];
    }
    if base.len() != n_targets {
        return Err(err("base_values do not match the classes / targets"));
    }
    let aggregate = match attr_s(node, "aggregate_function")
        .as_deref()
        .unwrap_or("SUM")
    {
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        o => return Err(err(&format!("aggregate_function {o}"))),
    };
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
            if tree_ids[i] == tree && modes[i] != "LEAF" {
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
            if modes[i] == "LEAF" {
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
            let mode = match modes[i].as_str() {
                "LEAF" => ferrite::classic::NodeMode::Leaf,
                "BRANCH_LEQ" => ferrite::classic::NodeMode::BranchLeq,
                "BRANCH_LT" => ferrite::classic::NodeMode::BranchLt,
                "BRANCH_GTE" => ferrite::classic::NodeMode::BranchGte,
                "BRANCH_GT" => ferrite::classic::NodeMode::BranchGt,
                "BRANCH_EQ" => ferrite::classic::NodeMode::BranchEq,
                "BRANCH_NEQ" => ferrite::classic::NodeMode::BranchNeq,
                o => return Err(err(&format!("node mode {o} is not supported"))),
            };
            let node = if mode == ferrite::classic::NodeMode::Leaf {
                let e = entries
                    .get(&(tree, node_ids[i]))
                    .cloned()
                    .unwrap_or_default();
                let first = parts.ids.len() as u32;
                for (id, w) in &e {
                    parts.ids.push(*id);
                    parts.ws.push(*w);
                }
                ferrite::classic::Node {
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
                ferrite::classic::Node {
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
