//! The importer's errors on graphs it cannot express, and on files that are not TFLite models.
//! (The released models themselves are imported and run against LiteRT in
//! `mobilenet-tests/tests/tflite_models.rs`.)

use super::*;

fn act(name: &str, shape: &[usize], ty: TType) -> Tensor<'static> {
    Tensor {
        name: name.into(),
        shape: shape.to_vec(),
        ty,
        data: None,
        scale: vec![0.02],
        zero_point: vec![0],
        quantized_dimension: 0,
    }
}

fn weights(name: &str, shape: &[usize], data: &'static [u8]) -> Tensor<'static> {
    Tensor {
        data: Some(data),
        ..act(name, shape, TType::I8)
    }
}

/// input -> CONV_2D 3x3 s2 -> `extra` op -> output.
fn graph(extra: OpKind) -> Graph<'static> {
    static W: [u8; 8 * 9 * 3] = [1; 8 * 9 * 3];
    static B: [u8; 32] = [0; 32];
    let mut bias = act("bias", &[8], TType::I32);
    bias.data = Some(&B);
    Graph {
        file: "m.tflite".into(),
        tensors: vec![
            act("input", &[1, 8, 8, 3], TType::I8),
            weights("w", &[8, 3, 3, 3], &W),
            bias,
            act("conv", &[1, 4, 4, 8], TType::I8),
            act("out", &[1, 4, 4, 8], TType::I8),
        ],
        ops: vec![
            TfOp {
                kind: OpKind::Conv2d {
                    padding: Padding::Same,
                    stride: [2, 2],
                    dilation: [1, 1],
                    act: ACT_RELU6,
                },
                inputs: vec![0, 1, 2],
                outputs: vec![3],
            },
            TfOp {
                kind: extra,
                inputs: vec![3],
                outputs: vec![4],
            },
        ],
        inputs: vec![0],
        outputs: vec![4],
    }
}

#[test]
fn unsupported_op_is_named_with_its_index() {
    let e = recognise(&graph(OpKind::Other("TANH".into()))).unwrap_err();
    assert_eq!(
        e,
        "`m.tflite`: operator 1 (TANH): the op TANH is not supported (MobileNet import knows \
         CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, MEAN, FULLY_CONNECTED, RESHAPE, \
         SQUEEZE, SOFTMAX, and QUANTIZE or DEQUANTIZE at the boundary)"
    );
}

#[test]
fn a_reshape_that_is_not_a_flatten_is_an_error() {
    let e = recognise(&graph(OpKind::Reshape)).unwrap_err();
    assert!(e.starts_with("`m.tflite`: operator 1 (RESHAPE) reshapes [1, 4, 4, 8] to [1, 4, 4, 8]: only flattening"), "{e}");
}

#[test]
fn a_lone_depthwise_is_an_error() {
    let e = recognise(&graph(OpKind::Depthwise {
        padding: Padding::Same,
        stride: [1, 1],
        dilation: [1, 1],
        multiplier: 1,
        act: ACT_RELU6,
    }))
    .unwrap_err();
    assert!(
        e.contains("operator 1 (DEPTHWISE_CONV_2D) is not followed by a 1x1 convolution"),
        "{e}"
    );
}

#[test]
fn dilated_convolutions_are_refused() {
    let mut g = graph(OpKind::Softmax { beta: 1.0 });
    g.ops[0].kind = OpKind::Conv2d {
        padding: Padding::Same,
        stride: [2, 2],
        dilation: [2, 2],
        act: ACT_RELU6,
    };
    let e = recognise(&g).unwrap_err();
    assert!(e.contains("operator 0 (CONV_2D) is dilated (2x2)"), "{e}");
}

#[test]
fn a_conv_and_softmax_chain_is_recognised() {
    let mut g = graph(OpKind::Softmax { beta: 1.0 });
    g.tensors[1].scale = vec![0.1, 0.2, 0.3];
    g.tensors[1].zero_point = vec![0, 0, 0];
    g.tensors[4].scale = vec![1.0 / 256.0];
    g.tensors[4].zero_point = vec![-128];
    let (blocks, io) = recognise(&g).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(io.input, 0);
}

#[test]
fn files_that_are_not_tflite_models() {
    let e = read("x.tflite", b"not a flatbuffer at all").unwrap_err();
    assert!(e.starts_with("`x.tflite` is not a TFLite model"), "{e}");
    let e = read("empty.tflite", b"").unwrap_err();
    assert!(e.starts_with("`empty.tflite` is not a TFLite model"), "{e}");
}

const TINY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mobilenet-fuzz/corpus/tflite/tiny_int8.tflite"
);

#[test]
fn the_tiny_model_imports_and_every_truncation_is_an_error() {
    let bytes = std::fs::read(TINY).expect("the tiny model (scripts/make_tflite_seed.py)");
    let files = [("tiny.tflite".to_string(), bytes.clone())];
    let imported = import(&files, &Options::default()).expect("the tiny model imports");
    assert!(
        imported.spec.contains("element = \"i8\"\nio = \"u8\""),
        "{}",
        imported.spec
    );
    // Cut anywhere: an error naming the file, never a panic.
    for cut in (0..bytes.len()).step_by(97) {
        let files = [("cut.tflite".to_string(), bytes[..cut].to_vec())];
        let e = import(&files, &Options::default()).expect_err("a truncated model");
        assert!(e.contains("`cut.tflite`"), "cut at {cut}: {e}");
    }
}

#[test]
fn inconsistent_quantization_is_an_error_naming_the_operator() {
    let bytes = std::fs::read(TINY).expect("the tiny model");
    let mut g = read("tiny.tflite", &bytes).unwrap();
    // The first convolution's filter (input 1 of operator 1): 3 scales for 8 channels.
    let w = g.ops[1].inputs[1] as usize;
    g.tensors[w].scale.truncate(3);
    g.tensors[w].zero_point.truncate(3);
    let e = import_graph(&g, "tiny", &Options::default()).unwrap_err();
    assert!(
        e.starts_with("`tiny.tflite`: operator 1 (CONV_2D): weights ")
            && e.contains(
                "3 scales and 3 zero points for 8 output channels: inconsistent quantization"
            ),
        "{e}"
    );
    // An activation with two zero points.
    let mut g = read("tiny.tflite", &bytes).unwrap();
    let out = g.ops[1].outputs[0] as usize;
    g.tensors[out].zero_point.push(0);
    let e = import_graph(&g, "tiny", &Options::default()).unwrap_err();
    assert!(
        e.contains("operator 1 (CONV_2D)") && e.contains("an activation is quantized per tensor"),
        "{e}"
    );
    // A zero point outside its type.
    let mut g = read("tiny.tflite", &bytes).unwrap();
    g.tensors[out].zero_point = vec![300];
    let e = import_graph(&g, "tiny", &Options::default()).unwrap_err();
    assert!(e.contains("has zero point 300, outside [-128, 127]"), "{e}");
}
