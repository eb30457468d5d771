//! The seed corpora, generated: `cargo test -p mobilenet-fuzz -- --ignored write_seed_corpus`
//! rewrites `corpus/<target>/` from this list (the files are committed; CI only replays them).

use std::collections::HashMap;

use mobilenet_compiler::import::{
    AttrValue, Dim, GraphDef, ListValue, NodeDef, TensorProto, TensorShapeProto,
};
use mobilenet_compiler::model::{ConvKind, Op, Role};
use prost::Message;

use crate::tiny_net;

/// One seed file: target, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

/// A safetensors file from a header and a data section.
pub fn safetensors_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Every seed.
pub fn seeds(repo: &std::path::Path) -> Vec<Seed> {
    let mut out: Vec<Seed> = Vec::new();
    // Specs: every spec in the repo, and the compile-fail test specs.
    for dir in [
        "specs",
        "mobilenet-tests/tests/ui",
        "mobilenet-tests/specs",
        "mobilenet-fuzz/specs",
    ] {
        let Ok(entries) = std::fs::read_dir(repo.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|e| e == "toml") {
                let name = format!(
                    "{}_{}",
                    dir.replace('/', "_"),
                    p.file_name().unwrap().to_string_lossy()
                );
                out.push(("spec", name, std::fs::read(&p).unwrap()));
            }
        }
    }
    // Weights for the fuzz network: valid, and with one defect each.
    let net = tiny_net();
    let good = mobilenet_compiler::weights::random(net, 7);
    out.push(("weights", "valid.safetensors".into(), good.clone()));
    out.push((
        "safetensors",
        "tiny_weights.safetensors".into(),
        good.clone(),
    ));
    let mut nan = good.clone();
    let n = nan.len();
    nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    out.push(("weights", "nan.safetensors".into(), nan));
    out.push((
        "weights",
        "truncated.safetensors".into(),
        good[..good.len() - 9].to_vec(),
    ));
    let other = mobilenet_compiler::compile_str(
        "s.toml",
        "[model]\ninput = [8, 8, 3]\nclasses = 5\n[[layer]]\nname = \"conv1\"\ntype = \"conv\"\nchannels = 4\n[[layer]]\nname = \"p\"\ntype = \"avgpool\"\nglobal = true\n[[layer]]\nname = \"fc\"\ntype = \"fc\"\n",
    )
    .map(|n| mobilenet_compiler::weights::random(&n, 1))
    .expect("the other network compiles");
    out.push(("weights", "other_network.safetensors".into(), other));
    // Hand-written safetensors files covering the format's corners.
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let st = [
        ("basic", r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[1,2],"data_offsets":[8,10]}}"#, [f32s(&[1.0, 2.0]), vec![3, 4]].concat()),
        ("metadata", r#"{"__metadata__":{"format":"pt","k":"v"},"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, vec![0, 60, 0, 188]),
        ("escaped_names", r#"{"a\"b\u00e9\ud83d\ude00":{"dtype":"I8","shape":[],"data_offsets":[0,1]}}"#, vec![9]),
        ("empty_tensors", r#"{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"f":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}"#, vec![1]),
        ("out_of_order", r#"{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, vec![5, 6]),
        ("subbyte", r#"{"q":{"dtype":"F4","shape":[4],"data_offsets":[0,2]},"s":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[2,3]}}"#, vec![0x12, 0x34, 0x7f]),
        ("duplicate", r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, vec![1]),
        ("overlap", r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, vec![1, 2, 3]),
        ("gap", r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, vec![1, 2]),
        ("empty", "{}", vec![]),
        ("whitespace", " {\n \"a\" : { \"shape\" : [ 1 ] , \"dtype\" : \"I32\" , \"data_offsets\" : [ 0 , 4 ] } } ", vec![1, 0, 0, 0]),
    ];
    for (name, header, data) in st {
        out.push((
            "safetensors",
            format!("{name}.safetensors"),
            safetensors_file(header, &data),
        ));
    }
    // A frozen graph for the fuzz network, as TF-slim exports it.
    let graph = tf_graph_for_tiny(&good);
    out.push(("tf_graph", "tiny_frozen.pb".into(), graph.clone()));
    out.push((
        "tf_graph",
        "truncated.pb".into(),
        graph[..graph.len() / 2].to_vec(),
    ));
    // .npy inputs.
    let npy = |dict: &str, data: &[u8]| {
        let mut header = dict.to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    };
    out.push((
        "npy",
        "input.npy".into(),
        npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2, 3), }",
            &f32s(&[0.5; 12]),
        ),
    ));
    out.push((
        "npy",
        "big_endian.npy".into(),
        npy(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2, 3), }",
            &[0x3f, 0, 0, 0].repeat(12),
        ),
    ));
    out.push((
        "npy",
        "float64.npy".into(),
        npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            &[0; 24],
        ),
    ));
    out.push((
        "npy",
        "fortran.npy".into(),
        npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
            &[0; 16],
        ),
    ));
    // Images: a small PNG and JPEG of each color type the decoder sees most.
    for (fmt, ext) in [
        (image::ImageFormat::Png, "png"),
        (image::ImageFormat::Jpeg, "jpg"),
    ] {
        let img =
            image::RgbImage::from_fn(6, 5, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 128]));
        let mut bytes = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut bytes), fmt)
            .unwrap();
        out.push(("image", format!("rgb.{ext}"), bytes));
    }
    let gray = image::GrayImage::from_fn(3, 7, |x, y| image::Luma([(x * 60 + y * 10) as u8]));
    let mut bytes = Vec::new();
    gray.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    out.push(("image", "gray.png".into(), bytes));
    out
}

/// A frozen GraphDef holding `weights` (a safetensors file for [`tiny_net`]) as constants, each
/// read through an Identity into the conv op the spec says, with strides and padding.
pub fn tf_graph_for_tiny(weights: &[u8]) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(weights).unwrap();
    let net = tiny_net();
    let mut nodes = vec![NodeDef {
        name: "input".into(),
        op: "Placeholder".into(),
        input: vec![],
        attr: HashMap::from([(
            "shape".to_string(),
            AttrValue {
                shape: Some(TensorShapeProto {
                    dim: [1, 8, 8, 3].iter().map(|&size| Dim { size }).collect(),
                    unknown_rank: false,
                }),
                ..Default::default()
            },
        )]),
    }];
    for layer in &net.layers {
        for t in &layer.tensors {
            let view = st.tensor(&t.name).unwrap();
            nodes.push(NodeDef {
                name: t.name.clone(),
                op: "Const".into(),
                input: vec![],
                attr: HashMap::from([(
                    "value".to_string(),
                    AttrValue {
                        tensor: Some(TensorProto {
                            dtype: 1,
                            tensor_shape: Some(TensorShapeProto {
                                dim: t.shape.iter().map(|&d| Dim { size: d as i64 }).collect(),
                                unknown_rank: false,
                            }),
                            tensor_content: view.data().to_vec(),
                            float_val: vec![],
                        }),
                        ..Default::default()
                    },
                )]),
            });
            nodes.push(NodeDef {
                name: format!("{}/read", t.name),
                op: "Identity".into(),
                input: vec![t.name.clone()],
                attr: HashMap::new(),
            });
        }
        if let (Op::Conv(c), Some(w)) = (
            &layer.op,
            layer.tensors.iter().find(|t| t.role == Role::Weight),
        ) {
            let op = match c.kind {
                ConvKind::Full => "Conv2D",
                ConvKind::Depthwise => "DepthwiseConv2dNative",
            };
            nodes.push(NodeDef {
                name: format!("{}/{op}", layer.name),
                op: op.into(),
                input: vec!["input".into(), format!("{}/read", w.name)],
                attr: HashMap::from([
                    (
                        "strides".to_string(),
                        AttrValue {
                            list: Some(ListValue {
                                s: vec![],
                                i: vec![1, c.sh as i64, c.sw as i64, 1],
                            }),
                            ..Default::default()
                        },
                    ),
                    (
                        "padding".to_string(),
                        AttrValue {
                            s: Some(b"SAME".to_vec()),
                            ..Default::default()
                        },
                    ),
                ]),
            });
        }
    }
    GraphDef { node: nodes }.encode_to_vec()
}
