//! What every quantized layer shares: the tensors holding its quantization (named after the
//! layer, so any naming scheme gets them), and where the runtime's loader finds the
//! quantization of the values a layer reads and writes. Each op module asks these helpers for
//! its quantized bindings and kind; the runtime ([`mobilenet_runtime::quant`]) defines the
//! arithmetic and the packing.

use mobilenet_runtime::load::{QuantNames, QuantTensors};

use crate::ir::ValueId;
use crate::model::{Layer, Network, Op, Role, TensorBinding};
use crate::spec::Activation;

/// Name of the network input's scale tensor.
pub const INPUT_SCALE: &str = "input/scale";
/// Name of the network input's zero point tensor.
pub const INPUT_ZERO_POINT: &str = "input/zero_point";

fn vector(role: Role, name: String, n: usize) -> TensorBinding {
    TensorBinding {
        role,
        name,
        shape: vec![n],
        layout: None,
    }
}

/// The network input's quantization (`F32 [1]` scale, `U8`/`I8 [1]` zero point).
pub fn input_bindings() -> Vec<TensorBinding> {
    vec![
        vector(Role::Scale, INPUT_SCALE.into(), 1),
        vector(Role::ZeroPoint, INPUT_ZERO_POINT.into(), 1),
    ]
}

/// `<layer>/output_scale`, `<layer>/output_zero_point`.
fn output_names(layer: &str) -> (String, String) {
    (
        format!("{layer}/output_scale"),
        format!("{layer}/output_zero_point"),
    )
}

/// `<layer>/weight_scale`, `<layer>/weight_zero_point`.
fn weight_names(layer: &str) -> (String, String) {
    (
        format!("{layer}/weight_scale"),
        format!("{layer}/weight_zero_point"),
    )
}

/// A quantized layer's tensors: `base` (its weight and bias, for conv-like layers), the
/// weight's quantization (per tensor or per output channel: `[1]` or `[co]`; listed as
/// `[co]`), its output's quantization, and the network input's when it reads it directly.
pub fn bindings(
    l: &Layer,
    mut base: Vec<TensorBinding>,
    weight_channels: Option<usize>,
) -> Vec<TensorBinding> {
    if l.inputs.contains(&0) {
        base.extend(input_bindings());
    }
    if let Some(co) = weight_channels {
        let (s, z) = weight_names(&l.name);
        base.push(vector(Role::WeightScale, s, co));
        base.push(vector(Role::WeightZeroPoint, z, co));
    }
    let (s, z) = output_names(&l.name);
    base.push(vector(Role::Scale, s, 1));
    base.push(vector(Role::ZeroPoint, z, 1));
    base
}

/// The tensors holding the quantization of value `v`: the network input's, a conversion's
/// input's, or its producer's output tensors.
fn value_quant(net: &Network, v: ValueId) -> QuantTensors {
    let input = QuantTensors {
        scale: INPUT_SCALE,
        zero_point: INPUT_ZERO_POINT,
    };
    if v == net.input_value {
        return input;
    }
    let Some(p) = net.layers.iter().find(|l| l.output_value == v) else {
        return input;
    };
    match p.op {
        Op::Convert { .. } => value_quant(net, p.inputs[0]),
        _ => {
            let (s, z) = output_names(&p.name);
            QuantTensors {
                scale: leak(&s),
                zero_point: leak(&z),
            }
        }
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// The fused activation of a layer.
fn activation(op: &Op) -> Activation {
    match op {
        Op::Conv(c) => c.activation,
        Op::Fc { activation, .. } | Op::Add { activation } => *activation,
        _ => Activation::None,
    }
}

/// The quantization names of a quantized layer's load-table entry.
pub fn names(net: &Network, l: &Layer) -> QuantNames {
    let weight = l
        .tensors
        .iter()
        .any(|t| t.role == Role::WeightScale)
        .then(|| {
            let (s, z) = weight_names(&l.name);
            QuantTensors {
                scale: leak(&s),
                zero_point: leak(&z),
            }
        });
    let (s, z) = output_names(&l.name);
    QuantNames {
        input: value_quant(net, l.inputs[0]),
        input2: l.inputs.get(1).map(|&v| value_quant(net, v)),
        output: QuantTensors {
            scale: leak(&s),
            zero_point: leak(&z),
        },
        weight,
        act: activation(&l.op).code(),
    }
}
