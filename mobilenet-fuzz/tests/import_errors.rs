//! The TF-graph importer's messages for broken graphs: what is wrong, which node, what to do.

use mobilenet_compiler::import::{tf_graph, GraphDef};
use mobilenet_fuzz::seeds::tf_graph_for_tiny;
use mobilenet_fuzz::tiny_net;
use prost::Message;

fn graph() -> GraphDef {
    let weights = mobilenet_compiler::weights::random(tiny_net(), 5);
    GraphDef::decode(&tf_graph_for_tiny(&weights)[..]).unwrap()
}

fn import(g: &GraphDef) -> Result<Vec<u8>, String> {
    tf_graph(tiny_net(), &g.encode_to_vec()).map(|(b, _)| b)
}

#[test]
fn a_good_graph_imports() {
    assert!(import(&graph()).is_ok());
}

#[test]
fn not_a_graph() {
    let e = tf_graph(tiny_net(), b"\x0a\xff\xff\xff\xff\x0f").unwrap_err();
    assert!(
        e.starts_with("not a TensorFlow GraphDef (protobuf decoding failed: "),
        "{e}"
    );
    assert_eq!(
        tf_graph(tiny_net(), b"").unwrap_err(),
        "the graph has no nodes"
    );
}

#[test]
fn a_missing_constant_and_a_wrong_shape() {
    let mut g = graph();
    g.node.retain(|n| n.name != "MobilenetV1/Conv2d_0/weights");
    let e = import(&g).unwrap_err();
    assert_eq!(
        e,
        "the graph does not fit the spec `specs/tiny_tfslim.toml` (1 problem):\n  - layer `MobilenetV1/Conv2d_0`: the graph has no node `MobilenetV1/Conv2d_0/weights`"
    );
    let mut g = graph();
    let n = g
        .node
        .iter_mut()
        .find(|n| n.name == "MobilenetV1/Conv2d_1_depthwise/depthwise_weights")
        .unwrap();
    let t = n.attr.get_mut("value").unwrap().tensor.as_mut().unwrap();
    t.tensor_shape.as_mut().unwrap().dim[0].size = 5;
    let e = import(&g).unwrap_err();
    assert!(e.ends_with(
        "layer `MobilenetV1/Conv2d_1_depthwise`: constant `MobilenetV1/Conv2d_1_depthwise/depthwise_weights` has shape [5, 3, 8, 1], the spec needs [3, 3, 8, 1]"
    ), "{e}");
}

#[test]
fn a_nan_constant() {
    let mut g = graph();
    let n = g
        .node
        .iter_mut()
        .find(|n| n.name == "MobilenetV1/Conv2d_0/weights")
        .unwrap();
    let t = n.attr.get_mut("value").unwrap().tensor.as_mut().unwrap();
    t.tensor_content[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(import(&g).unwrap_err().ends_with(
        "layer `MobilenetV1/Conv2d_0`: constant `MobilenetV1/Conv2d_0/weights` holds NaN at element 2; the graph's weights are corrupt"
    ));
}

/// Found while writing the fuzz targets: a cycle of Identity nodes made the consumer search loop
/// forever.
#[test]
fn an_identity_cycle_terminates() {
    let mut g = graph();
    let read = g
        .node
        .iter()
        .position(|n| n.name == "MobilenetV1/Conv2d_0/weights/read")
        .unwrap();
    g.node[read].input.push("loop".into());
    let mut looped = g.node[read].clone();
    looped.name = "loop".into();
    looped.input = vec!["MobilenetV1/Conv2d_0/weights/read".into()];
    g.node.push(looped);
    assert!(import(&g).is_ok());
}

#[test]
fn a_spec_with_another_naming() {
    let net = mobilenet_compiler::compile_str("p.toml", "[model]\ninput = [8, 8, 3]\nclasses = 2\n[[layer]]\nname = \"c\"\ntype = \"conv\"\nchannels = 4\n[[layer]]\nname = \"p\"\ntype = \"avgpool\"\nglobal = true\n[[layer]]\nname = \"fc\"\ntype = \"fc\"\n").unwrap();
    assert_eq!(
        tf_graph(&net, b"").unwrap_err(),
        "the spec `p.toml` uses `naming = \"pytorch\"`; importing a TensorFlow graph needs a spec with `naming = \"tf-slim\"` (e.g. specs/v1_tfslim_1001.toml)"
    );
}

/// Found by fuzzing: a negative moving variance was imported, and the weights then failed the
/// macro's check. The importer now runs that check itself.
#[test]
fn a_negative_variance_is_an_import_error() {
    let mut g = graph();
    let n = g
        .node
        .iter_mut()
        .find(|n| n.name == "MobilenetV1/Conv2d_0/BatchNorm/moving_variance")
        .unwrap();
    let t = n.attr.get_mut("value").unwrap().tensor.as_mut().unwrap();
    t.tensor_content[20..24].copy_from_slice(&(-3.5f32).to_le_bytes());
    let e = import(&g).unwrap_err();
    assert!(
        e.starts_with("the graph's constants do not make loadable weights for the spec `specs/tiny_tfslim.toml`:\n  - "),
        "{e}"
    );
    assert!(e.ends_with("packing layer `MobilenetV1/Conv2d_0` failed: batch norm cannot be folded: var + eps is not positive for channel 5"), "{e}");
}
