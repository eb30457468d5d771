//! The flatbuffer, through the generated bindings, into [`Graph`]: every access is checked by
//! planus (offsets, lengths, UTF-8, enum tags), so a truncated or foreign file is an error
//! naming what could not be read, never a panic.

use planus::ReadAsRoot;

use super::schema::tflite as fb;
use super::{Graph, OpKind, Padding, TType, Tensor, TfOp};

/// `CamelCase` (a generated enum variant) as TFLite's `SCREAMING_CASE` name.
fn screaming(debug: &str) -> String {
    let mut out = String::new();
    for (i, ch) in debug.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

fn ttype(t: fb::TensorType) -> TType {
    match t {
        fb::TensorType::Float32 => TType::F32,
        fb::TensorType::Uint8 => TType::U8,
        fb::TensorType::Int8 => TType::I8,
        fb::TensorType::Int32 => TType::I32,
        fb::TensorType::Int64 => TType::I64,
        other => TType::Other(other as i8),
    }
}

fn padding(p: fb::Padding) -> Padding {
    match p {
        fb::Padding::Same => Padding::Same,
        _ => Padding::Valid,
    }
}

fn act(a: fb::ActivationFunctionType) -> i8 {
    a as i8
}

fn positive(v: i32, what: &str, at: &str) -> Result<usize, String> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("{at}: {what} is {v}, expected a positive number"))
}

/// Read `bytes` (the file `name`) as a TFLite model: its first subgraph.
pub fn read<'a>(name: &str, bytes: &'a [u8]) -> Result<Graph<'a>, String> {
    let bad = |e: planus::Error| format!("`{name}` is not a TFLite model or is corrupt: {e}");
    if bytes.len() < 8 || &bytes[4..8] != b"TFL3" {
        return Err(format!(
            "`{name}` is not a TFLite model: {} (a .tflite file is a flatbuffer with the identifier \"TFL3\" at byte 4)",
            if bytes.len() < 8 {
                format!("it has {} bytes", bytes.len())
            } else {
                format!("its identifier is {:?}", String::from_utf8_lossy(&bytes[4..8]))
            }
        ));
    }
    let model = fb::ModelRef::read_as_root(bytes).map_err(bad)?;
    let version = model.version().map_err(bad)?;
    if version != 3 {
        return Err(format!("`{name}` has schema version {version}; only version 3 (every TFLite converter since 2018) is supported"));
    }
    let codes: Vec<i32> = match model.operator_codes().map_err(bad)? {
        Some(v) => v
            .iter()
            .map(|c| {
                let c = c.map_err(bad)?;
                // Codes above 127 live in `builtin_code`; older files only set the deprecated one.
                let new = c.builtin_code().map_or(-1, |b| b as i32);
                Ok(new.max(c.deprecated_builtin_code().map_err(bad)? as i32))
            })
            .collect::<Result<_, String>>()?,
        None => Vec::new(),
    };
    let buffers: Vec<Option<&'a [u8]>> = match model.buffers().map_err(bad)? {
        Some(v) => v
            .iter()
            .map(|b| b.map_err(bad)?.data().map_err(bad))
            .collect::<Result<_, String>>()?,
        None => Vec::new(),
    };
    let subgraphs = model
        .subgraphs()
        .map_err(bad)?
        .ok_or_else(|| format!("`{name}` has no subgraph"))?;
    if subgraphs.len() != 1 {
        return Err(format!(
            "`{name}` has {} subgraphs; a MobileNet has one",
            subgraphs.len()
        ));
    }
    let g = subgraphs
        .get(0)
        .ok_or_else(|| format!("`{name}` has no subgraph"))?
        .map_err(bad)?;
    let mut tensors = Vec::new();
    for (i, t) in g.tensors().map_err(bad)?.into_iter().flatten().enumerate() {
        let t = t.map_err(bad)?;
        let tname = t.name().map_err(bad)?.unwrap_or("").to_string();
        let at = format!("`{name}`: tensor {i} (`{tname}`)");
        let shape = match t.shape().map_err(bad)? {
            Some(s) => s
                .iter()
                .map(|d| usize::try_from(d).map_err(|_| format!("{at}: dimension {d}")))
                .collect::<Result<Vec<usize>, String>>()?,
            None => Vec::new(),
        };
        if shape.iter().any(|&d| d > crate::spec::MAX_SIZE) {
            return Err(format!(
                "{at} has shape {shape:?}: a dimension exceeds {}",
                crate::spec::MAX_SIZE
            ));
        }
        let buffer = t.buffer().map_err(bad)? as usize;
        let data = match buffer {
            0 => None,
            b => Some(
                buffers
                    .get(b)
                    .ok_or_else(|| {
                        format!(
                            "{at} refers to buffer {b}, but the file has {}",
                            buffers.len()
                        )
                    })?
                    .unwrap_or(&[]),
            ),
        };
        let data = data.filter(|d| !d.is_empty());
        let (mut scale, mut zero_point, mut qdim) = (Vec::new(), Vec::new(), 0);
        if let Some(q) = t.quantization().map_err(bad)? {
            scale = q
                .scale()
                .map_err(bad)?
                .map_or(Vec::new(), |v| v.iter().collect());
            zero_point = q
                .zero_point()
                .map_err(bad)?
                .map_or(Vec::new(), |v| v.iter().collect());
            qdim = q.quantized_dimension().map_err(bad)?;
        }
        if let Some(s) = scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(format!(
                "{at} has scale {s}: quantization scales must be finite and positive"
            ));
        }
        tensors.push(Tensor {
            name: tname,
            shape,
            ty: ttype(t.type_().map_err(bad)?),
            data,
            scale,
            zero_point,
            quantized_dimension: qdim,
        });
    }
    let index_list = |v: Option<planus::Vector<'a, i32>>, at: &str| -> Result<Vec<i32>, String> {
        let v: Vec<i32> = v.map_or(Vec::new(), |v| v.iter().collect());
        if let Some(&t) = v.iter().find(|&&t| t < -1 || t >= tensors.len() as i32) {
            return Err(format!(
                "{at} refers to tensor {t}, but the subgraph has {}",
                tensors.len()
            ));
        }
        Ok(v)
    };
    let mut ops = Vec::new();
    for (i, op) in g
        .operators()
        .map_err(bad)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let op = op.map_err(bad)?;
        let idx = op.opcode_index().map_err(bad)? as usize;
        let code = *codes.get(idx).ok_or_else(|| {
            format!(
                "`{name}`: operator {i} has opcode index {idx}, but the file has {} opcodes",
                codes.len()
            )
        })?;
        let builtin = fb::BuiltinOperator::try_from(code).ok();
        let opname = builtin.map_or(format!("opcode {code}"), |b| screaming(&format!("{b:?}")));
        let at = format!("`{name}`: operator {i} ({opname})");
        let options = op.builtin_options().map_err(bad)?;
        use fb::BuiltinOptionsRef as O;
        let kind = match (builtin, options) {
            (Some(fb::BuiltinOperator::Conv2d), Some(O::Conv2DOptions(o))) => OpKind::Conv2d {
                padding: padding(o.padding().map_err(bad)?),
                stride: [
                    positive(o.stride_h().map_err(bad)?, "stride", &at)?,
                    positive(o.stride_w().map_err(bad)?, "stride", &at)?,
                ],
                dilation: [
                    positive(o.dilation_h_factor().map_err(bad)?, "dilation", &at)?,
                    positive(o.dilation_w_factor().map_err(bad)?, "dilation", &at)?,
                ],
                act: act(o.fused_activation_function().map_err(bad)?),
            },
            (Some(fb::BuiltinOperator::DepthwiseConv2d), Some(O::DepthwiseConv2DOptions(o))) => {
                OpKind::Depthwise {
                    padding: padding(o.padding().map_err(bad)?),
                    stride: [
                        positive(o.stride_h().map_err(bad)?, "stride", &at)?,
                        positive(o.stride_w().map_err(bad)?, "stride", &at)?,
                    ],
                    dilation: [
                        positive(o.dilation_h_factor().map_err(bad)?, "dilation", &at)?,
                        positive(o.dilation_w_factor().map_err(bad)?, "dilation", &at)?,
                    ],
                    multiplier: o.depth_multiplier().map_err(bad)?,
                    act: act(o.fused_activation_function().map_err(bad)?),
                }
            }
            (Some(fb::BuiltinOperator::AveragePool2d), Some(O::Pool2DOptions(o))) => {
                OpKind::AvgPool {
                    padding: padding(o.padding().map_err(bad)?),
                    stride: [
                        positive(o.stride_h().map_err(bad)?, "stride", &at)?,
                        positive(o.stride_w().map_err(bad)?, "stride", &at)?,
                    ],
                    filter: [
                        positive(o.filter_height().map_err(bad)?, "filter height", &at)?,
                        positive(o.filter_width().map_err(bad)?, "filter width", &at)?,
                    ],
                    act: act(o.fused_activation_function().map_err(bad)?),
                }
            }
            (Some(fb::BuiltinOperator::Add), Some(O::AddOptions(o))) => OpKind::Add {
                act: act(o.fused_activation_function().map_err(bad)?),
            },
            (Some(fb::BuiltinOperator::Add), None) => OpKind::Add { act: 0 },
            (Some(fb::BuiltinOperator::FullyConnected), Some(O::FullyConnectedOptions(o))) => {
                OpKind::FullyConnected {
                    act: act(o.fused_activation_function().map_err(bad)?),
                }
            }
            (Some(fb::BuiltinOperator::Softmax), Some(O::SoftmaxOptions(o))) => OpKind::Softmax {
                beta: o.beta().map_err(bad)?,
            },
            (Some(fb::BuiltinOperator::Mean), _) => OpKind::Mean,
            (Some(fb::BuiltinOperator::Reshape), _) => OpKind::Reshape,
            (Some(fb::BuiltinOperator::Squeeze), _) => OpKind::Squeeze,
            (Some(fb::BuiltinOperator::Quantize), _) => OpKind::Quantize,
            (Some(fb::BuiltinOperator::Dequantize), _) => OpKind::Dequantize,
            (
                Some(
                    b @ (fb::BuiltinOperator::Conv2d
                    | fb::BuiltinOperator::DepthwiseConv2d
                    | fb::BuiltinOperator::AveragePool2d
                    | fb::BuiltinOperator::FullyConnected
                    | fb::BuiltinOperator::Softmax),
                ),
                _,
            ) => {
                return Err(format!("{at} has no {b:?} options: the file is corrupt"));
            }
            _ => OpKind::Other(opname.clone()),
        };
        ops.push(TfOp {
            kind,
            inputs: index_list(op.inputs().map_err(bad)?, &at)?,
            outputs: index_list(op.outputs().map_err(bad)?, &at)?,
        });
        match ops.last().map(|o| &o.outputs[..]) {
            Some([]) => return Err(format!("{at} has no output")),
            Some(outs) if outs.iter().any(|&t| t < 0) => {
                return Err(format!("{at} has an output of index -1"))
            }
            _ => {}
        }
    }
    let gi = index_list(
        g.inputs().map_err(bad)?,
        &format!("`{name}`'s subgraph inputs"),
    )?;
    let go = index_list(
        g.outputs().map_err(bad)?,
        &format!("`{name}`'s subgraph outputs"),
    )?;
    Ok(Graph {
        file: name.to_string(),
        tensors,
        ops,
        inputs: gi,
        outputs: go,
    })
}
