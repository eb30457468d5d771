//! Importing weights from a TensorFlow frozen GraphDef (`.pb`): the graph's constants are
//! mapped by name onto the spec's tensors (TF-slim naming), every mapping is checked (shape,
//! dtype), the consuming conv ops are checked against the spec (stride, padding), batch norm
//! epsilons are compared, and the result is written as safetensors.
//!
//! Only the few protobuf messages needed are declared here, with prost's derive; field numbers
//! follow TensorFlow's `graph.proto`, `node_def.proto`, `attr_value.proto`, `tensor.proto` and
//! `tensor_shape.proto`. Unknown fields are skipped by the decoder.

use std::collections::HashMap;

use prost::Message;
use safetensors::tensor::{Dtype, TensorView};

use crate::model::{ConvKind, Network, Op, Role};
use crate::spec::Naming;

#[derive(Clone, PartialEq, Message)]
pub struct GraphDef {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeDef>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub op: String,
    #[prost(string, repeated, tag = "3")]
    pub input: Vec<String>,
    #[prost(map = "string, message", tag = "5")]
    pub attr: HashMap<String, AttrValue>,
}

/// `AttrValue`'s oneof, declared as independent optional fields (at most one is present).
#[derive(Clone, PartialEq, Message)]
pub struct AttrValue {
    #[prost(message, optional, tag = "1")]
    pub list: Option<ListValue>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub s: Option<Vec<u8>>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(float, optional, tag = "4")]
    pub f: Option<f32>,
    #[prost(bool, optional, tag = "5")]
    pub b: Option<bool>,
    #[prost(int32, optional, tag = "6")]
    pub r#type: Option<i32>,
    #[prost(message, optional, tag = "7")]
    pub shape: Option<TensorShapeProto>,
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ListValue {
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub s: Vec<Vec<u8>>,
    #[prost(int64, repeated, tag = "3")]
    pub i: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<Dim>,
    #[prost(bool, tag = "3")]
    pub unknown_rank: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Dim {
    #[prost(int64, tag = "1")]
    pub size: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
}

const DT_FLOAT: i32 = 1;

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// `(tensor name, graph node, shape)` for every tensor written.
    pub used: Vec<(String, String, Vec<usize>)>,
    /// Other checks that passed, as sentences (strides, padding, epsilons, input).
    pub checks: Vec<String>,
    /// Float constants of the graph that the spec does not use (e.g. a retrained head).
    pub ignored: Vec<String>,
}

fn shape_of(t: &TensorProto) -> Vec<usize> {
    t.tensor_shape
        .as_ref()
        .map(|s| s.dim.iter().map(|d| d.size.max(0) as usize).collect())
        .unwrap_or_default()
}

/// The values of a float constant, little-endian bytes.
fn float_bytes(t: &TensorProto, n: usize) -> Result<Vec<u8>, String> {
    if !t.tensor_content.is_empty() {
        if t.tensor_content.len() != n * 4 {
            return Err(format!(
                "holds {} bytes for {n} floats",
                t.tensor_content.len()
            ));
        }
        return Ok(t.tensor_content.clone());
    }
    let vals: Vec<f32> = match t.float_val.len() {
        l if l == n => t.float_val.clone(),
        1 => vec![t.float_val[0]; n], // TF broadcasts a single value over the shape
        l => return Err(format!("holds {l} float_val entries for {n} floats")),
    };
    Ok(vals.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn strip_input(s: &str) -> &str {
    let s = s.trim_start_matches('^');
    s.split(':').next().unwrap_or(s)
}

/// Map the constants of a frozen TF graph onto `net`'s tensors and return safetensors bytes.
/// Fails with a message naming every tensor that is missing or does not fit.
pub fn tf_graph(net: &Network, graph_bytes: &[u8]) -> Result<(Vec<u8>, ImportReport), String> {
    if net.naming != Naming::TfSlim {
        return Err(format!(
            "the spec `{}` uses `naming = \"{}\"`; importing a TensorFlow graph needs a spec with `naming = \"tf-slim\"` (e.g. specs/v1_tfslim_1001.toml)",
            net.spec_path,
            net.naming.as_str()
        ));
    }
    let graph = GraphDef::decode(graph_bytes)
        .map_err(|e| format!("not a TensorFlow GraphDef (protobuf decoding failed: {e})"))?;
    if graph.node.is_empty() {
        return Err("the graph has no nodes".into());
    }
    let by_name: HashMap<&str, &NodeDef> =
        graph.node.iter().map(|n| (n.name.as_str(), n)).collect();
    // consumers[name] = nodes that take `name` as an input.
    let mut consumers: HashMap<&str, Vec<&NodeDef>> = HashMap::new();
    for n in &graph.node {
        for i in &n.input {
            consumers.entry(strip_input(i)).or_default().push(n);
        }
    }
    // Consumers looking through Identity nodes (`weights/read`).
    // Each node is visited once, so a cycle of Identity nodes (a corrupt graph) terminates.
    let ops_using = |name: &str| -> Vec<&NodeDef> {
        let mut out = Vec::new();
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut stack = vec![name];
        while let Some(cur) = stack.pop() {
            for c in consumers.get(cur).into_iter().flatten() {
                if !seen.insert(c.name.as_str()) {
                    continue;
                }
                if c.op == "Identity" {
                    stack.push(c.name.as_str());
                } else {
                    out.push(*c);
                }
            }
        }
        out
    };

    let mut report = ImportReport::default();
    let mut errors: Vec<String> = Vec::new();
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for layer in &net.layers {
        for t in &layer.tensors {
            let Some(node) = by_name.get(t.name.as_str()) else {
                errors.push(format!(
                    "layer `{}`: the graph has no node `{}`",
                    layer.name, t.name
                ));
                continue;
            };
            let Some(tensor) = node
                .attr
                .get("value")
                .and_then(|v| v.tensor.as_ref())
                .filter(|_| node.op == "Const")
            else {
                errors.push(format!(
                    "layer `{}`: node `{}` is a `{}`, not a constant (is the graph frozen?)",
                    layer.name, t.name, node.op
                ));
                continue;
            };
            if tensor.dtype != DT_FLOAT {
                errors.push(format!(
                    "layer `{}`: constant `{}` has TF dtype {}, expected float32 (1)",
                    layer.name, t.name, tensor.dtype
                ));
                continue;
            }
            let shape = shape_of(tensor);
            if shape != t.shape {
                errors.push(format!(
                    "layer `{}`: constant `{}` has shape {shape:?}, the spec needs {:?}",
                    layer.name, t.name, t.shape
                ));
                continue;
            }
            let bytes = float_bytes(tensor, t.numel()).and_then(|b| {
                match mobilenet_runtime::load::first_non_finite(&b) {
                    Some((i, v)) => Err(format!(
                        "holds {v} at element {i}; the graph's weights are corrupt"
                    )),
                    None => Ok(b),
                }
            });
            match bytes {
                Ok(bytes) => {
                    report
                        .used
                        .push((t.name.clone(), node.name.clone(), shape.clone()));
                    data.push((t.name.clone(), shape, bytes));
                }
                Err(e) => errors.push(format!("layer `{}`: constant `{}` {e}", layer.name, t.name)),
            }
        }
        // The op consuming the weights must agree with the spec on stride and padding.
        if let (Op::Conv(c), Some(w)) = (
            &layer.op,
            layer.tensors.iter().find(|t| t.role == Role::Weight),
        ) {
            let expected_op = match c.kind {
                ConvKind::Full => "Conv2D",
                ConvKind::Depthwise => "DepthwiseConv2dNative",
            };
            for op in ops_using(&w.name) {
                if op.op != expected_op {
                    errors.push(format!(
                        "layer `{}`: its weights feed a `{}` (`{}`), the spec says {expected_op}",
                        layer.name, op.op, op.name
                    ));
                    continue;
                }
                if let Some(strides) = op.attr.get("strides").and_then(|a| a.list.as_ref()) {
                    if strides.i.len() == 4
                        && (strides.i[1] as usize, strides.i[2] as usize) != (c.sh, c.sw)
                    {
                        errors.push(format!(
                            "layer `{}`: `{}` has strides {:?}, the spec says {}x{}",
                            layer.name, op.name, strides.i, c.sh, c.sw
                        ));
                    }
                }
                if let Some(p) = op.attr.get("padding").and_then(|a| a.s.as_ref()) {
                    let p = String::from_utf8_lossy(p).to_ascii_lowercase();
                    let ok = p == c.padding_mode.as_str()
                        || (p == "valid" && c.pad == Default::default())
                        || (c.kh == 1 && c.kw == 1 && c.pad == Default::default());
                    if !ok {
                        errors.push(format!(
                            "layer `{}`: `{}` pads `{}`, the spec says `{}`",
                            layer.name,
                            op.name,
                            p.to_uppercase(),
                            c.padding_mode
                        ));
                    }
                }
                report.checks.push(format!(
                    "`{}`: {} stride {}x{} padding {} matches",
                    op.name, op.op, c.sh, c.sw, c.padding_mode
                ));
            }
            // Batch norm epsilon: TF-slim's unfused batch norm adds a constant `.../batchnorm/add/y`.
            if let (Some(eps), Some(var)) = (
                c.batch_norm,
                layer.tensors.iter().find(|t| t.role == Role::BnVar),
            ) {
                for op in ops_using(&var.name) {
                    let eps_found = if op.op == "Add" || op.op == "AddV2" {
                        op.input
                            .iter()
                            .filter_map(|i| by_name.get(strip_input(i)))
                            .find_map(|n| {
                                let t = n.attr.get("value")?.tensor.as_ref()?;
                                if n.op == "Const" && t.dtype == DT_FLOAT {
                                    float_bytes(t, 1)
                                        .ok()
                                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                                } else {
                                    None
                                }
                            })
                    } else if op.op.starts_with("FusedBatchNorm") {
                        op.attr.get("epsilon").and_then(|a| a.f)
                    } else {
                        None
                    };
                    if let Some(found) = eps_found {
                        if ((found as f64) - eps).abs() > 1e-9 + eps * 1e-4 {
                            errors.push(format!("layer `{}`: the graph's batch norm epsilon is {found}, the spec says {eps}", layer.name));
                        } else {
                            report
                                .checks
                                .push(format!("`{}`: batch norm epsilon {found} matches", op.name));
                        }
                    }
                }
            }
        }
    }
    // The input placeholder.
    let placeholders: Vec<&NodeDef> = graph
        .node
        .iter()
        .filter(|n| n.op == "Placeholder")
        .collect();
    for p in &placeholders {
        if let Some(shape) = p.attr.get("shape").and_then(|a| a.shape.as_ref()) {
            let dims: Vec<i64> = shape.dim.iter().map(|d| d.size).collect();
            let expected = [net.input.h as i64, net.input.w as i64, net.input.c as i64];
            if dims.len() == 4 && dims[1..] != expected {
                errors.push(format!(
                    "the graph's input `{}` has shape {dims:?}, the spec's input is {}",
                    p.name, net.input
                ));
            } else {
                report
                    .checks
                    .push(format!("input placeholder `{}` has shape {dims:?}", p.name));
            }
        }
    }
    if !errors.is_empty() {
        return Err(format!(
            "the graph does not fit the spec `{}` ({} problem{}):\n  - {}",
            net.spec_path,
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors.join("\n  - ")
        ));
    }
    let used: Vec<&str> = report.used.iter().map(|u| u.1.as_str()).collect();
    for n in &graph.node {
        if n.op == "Const" && !used.contains(&n.name.as_str()) {
            if let Some(t) = n.attr.get("value").and_then(|v| v.tensor.as_ref()) {
                let numel = shape_of(t)
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d));
                if t.dtype == DT_FLOAT && numel.is_none_or(|n| n > 1) {
                    report.ignored.push(n.name.clone());
                }
            }
        }
    }
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(name, shape, bytes)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).expect("sizes checked"),
            )
        })
        .collect();
    let mut meta = HashMap::new();
    meta.insert(
        "source".to_string(),
        format!("mobilenet import tf-graph, spec {}", net.spec_path),
    );
    let bytes =
        safetensors::serialize(views, Some(meta)).map_err(|e| format!("cannot serialize: {e}"))?;
    // What the macro will check (and the runtime load): e.g. batch norm folds only with
    // positive variances. A graph whose constants fail it is reported here, not at build time.
    if let Err(d) = crate::weights::check(net, "the imported weights", &bytes) {
        return Err(format!(
            "the graph's constants do not make loadable weights for the spec `{}`:\n  - {}",
            net.spec_path,
            d.short().join("\n  - ")
        ));
    }
    Ok((bytes, report))
}
