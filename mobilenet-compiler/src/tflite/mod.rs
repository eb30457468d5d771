//! Import of TensorFlow Lite models: a `.tflite` flatbuffer (read through bindings generated
//! from TFLite's schema, [`schema`]) becomes a spec in our language and a safetensors file
//! with its weights and quantization parameters.
//!
//! The graph is read into a small model of its own ([`Graph`]), in which MobileNet's blocks
//! are recognised op by op: a full convolution, a depthwise + 1x1 pair (v1's separable block),
//! an optional 1x1 expansion + depthwise + linear 1x1 projection with an optional residual
//! `ADD` (v2's inverted residual), a 1x1 convolution, an average over all pixels
//! (`AVERAGE_POOL_2D` or `MEAN`), a fully connected layer, a softmax; reshapes that only flatten
//! are dropped, as are the exact `u8` <-> `i8` `QUANTIZE` ops at the boundary (the network's
//! I/O type). Anything else is an error naming the op, its index and why. The spec is then
//! compiled, and its layers must match the graph's ops one to one (kind, shape, stride,
//! padding, activation) before any tensor is written.

mod read;
#[allow(clippy::all, clippy::pedantic, dead_code, unused_imports, missing_docs)]
#[rustfmt::skip]
mod schema;

use std::fmt::Write as _;

use safetensors::tensor::{Dtype, TensorView};

use crate::model::{ConvKind, Layer, Network, Op, Role, TensorBinding};
use crate::spec::Activation;

/// A tensor's element type (the ones MobileNets use; others are kept by code for errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TType {
    F32,
    U8,
    I8,
    I32,
    I64,
    Other(i8),
}

/// A tensor of the graph.
#[derive(Clone, Debug)]
pub struct Tensor<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub ty: TType,
    /// Constant data (weights, biases, shapes).
    pub data: Option<&'a [u8]>,
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub quantized_dimension: i32,
}

/// TFLite's padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}

/// The ops a MobileNet is made of, with the options that matter; everything else is
/// `Other` (its builtin name), reported as unsupported.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    Conv2d {
        padding: Padding,
        stride: [usize; 2],
        dilation: [usize; 2],
        act: i8,
    },
    Depthwise {
        padding: Padding,
        stride: [usize; 2],
        dilation: [usize; 2],
        multiplier: i32,
        act: i8,
    },
    AvgPool {
        padding: Padding,
        stride: [usize; 2],
        filter: [usize; 2],
        act: i8,
    },
    Add {
        act: i8,
    },
    Mean,
    Reshape,
    Squeeze,
    Softmax {
        beta: f32,
    },
    Quantize,
    FullyConnected {
        act: i8,
    },
    Other(String),
}

/// One operator.
#[derive(Clone, Debug)]
pub struct TfOp {
    pub kind: OpKind,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
}

/// A model's first subgraph, as read from the flatbuffer.
#[derive(Clone, Debug)]
pub struct Graph<'a> {
    pub file: String,
    pub tensors: Vec<Tensor<'a>>,
    pub ops: Vec<TfOp>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
}

pub use read::read;

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// The spec (TOML).
    pub spec: String,
    /// The safetensors file for it.
    pub weights: Vec<u8>,
    /// One line per block: which ops became which spec layer.
    pub log: Vec<String>,
}

/// Import options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The network's name in the spec (default: the first file's stem).
    pub name: Option<String>,
    /// Import a quantized model as a float network (`w = scale * (q - zero_point)`).
    pub dequantize: bool,
}

const ACT_NONE: i8 = 0;
const ACT_RELU: i8 = 1;
const ACT_RELU6: i8 = 3;

fn act_name(a: i8) -> &'static str {
    match a {
        ACT_RELU => "relu",
        ACT_RELU6 => "relu6",
        _ => "none",
    }
}

/// Where in which file: `` `m.tflite`: operator 12 (CONV_2D) ``.
struct At<'g> {
    g: &'g Graph<'g>,
}

impl At<'_> {
    fn op(&self, i: usize) -> String {
        format!("`{}`: operator {i} ({})", self.g.file, op_name(&self.g.ops[i].kind))
    }
}

/// The builtin name of an op kind.
pub fn op_name(k: &OpKind) -> String {
    match k {
        OpKind::Conv2d { .. } => "CONV_2D".into(),
        OpKind::Depthwise { .. } => "DEPTHWISE_CONV_2D".into(),
        OpKind::AvgPool { .. } => "AVERAGE_POOL_2D".into(),
        OpKind::Add { .. } => "ADD".into(),
        OpKind::Mean => "MEAN".into(),
        OpKind::Reshape => "RESHAPE".into(),
        OpKind::Squeeze => "SQUEEZE".into(),
        OpKind::Softmax { .. } => "SOFTMAX".into(),
        OpKind::Quantize => "QUANTIZE".into(),
        OpKind::FullyConnected { .. } => "FULLY_CONNECTED".into(),
        OpKind::Other(n) => n.clone(),
    }
}

/// A recognised block: the spec layer it becomes and the ops it covers (in the order the
/// compiled spec's layers come).
#[derive(Debug, Clone)]
struct Block {
    /// The `[[layer]]` table (without its header).
    toml: String,
    /// Per compiled layer, the op it comes from.
    ops: Vec<usize>,
}

impl Graph<'_> {
    fn tensor(&self, t: i32) -> Option<&Tensor<'_>> {
        usize::try_from(t).ok().and_then(|i| self.tensors.get(i))
    }
    fn input(&self, op: usize, k: usize) -> Option<&Tensor<'_>> {
        self.ops[op].inputs.get(k).and_then(|&t| self.tensor(t))
    }
    fn output(&self, op: usize) -> Option<&Tensor<'_>> {
        self.ops[op].outputs.first().and_then(|&t| self.tensor(t))
    }
    /// The ops reading tensor `t`.
    fn readers(&self, t: i32) -> Vec<usize> {
        (0..self.ops.len())
            .filter(|&i| self.ops[i].inputs.contains(&t))
            .collect()
    }
}

/// Chain several graphs (a model split in two: each one's output feeds the next one's input,
/// which must have the same shape, type and quantization).
fn chain<'a>(mut graphs: Vec<Graph<'a>>) -> Result<Graph<'a>, String> {
    let mut g = graphs.remove(0);
    for next in graphs {
        let (Some(&out), Some(&inp)) = (g.outputs.first(), next.inputs.first()) else {
            return Err(format!("`{}` has no input or output to chain", next.file));
        };
        let (o, i) = (&g.tensors[out as usize], &next.tensors[inp as usize]);
        let elems = |s: &[usize]| s.iter().product::<usize>();
        if elems(&o.shape) != elems(&i.shape) || o.ty != i.ty || o.scale != i.scale || o.zero_point != i.zero_point {
            return Err(format!(
                "`{}`'s input `{}` ({:?} {:?}, scale {:?}, zero point {:?}) does not continue `{}`'s output `{}` ({:?} {:?}, scale {:?}, zero point {:?}): the files are not parts of one model",
                next.file, i.name, i.ty, i.shape, i.scale, i.zero_point, g.file, o.name, o.ty, o.shape, o.scale, o.zero_point
            ));
        }
        let base = g.tensors.len() as i32;
        let remap = |t: i32| if t == inp { out } else if t < 0 { t } else { t + base };
        g.tensors.extend(next.tensors.into_iter());
        for op in next.ops {
            g.ops.push(TfOp {
                kind: op.kind,
                inputs: op.inputs.iter().map(|&t| remap(t)).collect(),
                outputs: op.outputs.iter().map(|&t| remap(t)).collect(),
            });
        }
        g.outputs = next.outputs.iter().map(|&t| remap(t)).collect();
        g.file = format!("{} + {}", g.file, next.file);
    }
    Ok(g)
}

/// The spatial shape of an NHWC activation tensor.
fn nhwc(t: &Tensor<'_>) -> Option<[usize; 3]> {
    match t.shape.as_slice() {
        [1, h, w, c] => Some([*h, *w, *c]),
        _ => None,
    }
}

/// Import `files` (one model, or the parts of one model in order).
pub fn import(files: &[(String, Vec<u8>)], opts: &Options) -> Result<Imported, String> {
    let mut graphs = Vec::new();
    for (name, bytes) in files {
        graphs.push(read(name, bytes)?);
    }
    if graphs.is_empty() {
        return Err("no .tflite file given".into());
    }
    let g = chain(graphs)?;
    let stem = std::path::Path::new(&files[0].0)
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().replace(['.', '-'], "_"));
    let name = opts.name.clone().unwrap_or(stem);
    let (blocks, io) = recognise(&g)?;
    let input = g
        .tensor(io.input)
        .expect("recognise checked the input");
    let [h, w, c] = nhwc(input).ok_or_else(|| {
        format!("`{}`: the input `{}` has shape {:?}, expected [1, height, width, channels]", g.file, input.name, input.shape)
    })?;
    let quantized = input.ty != TType::F32 && !opts.dequantize;
    let elem = match io.storage {
        TType::U8 => "u8",
        _ => "i8",
    };
    let classes = g.output(*blocks.last().and_then(|b| b.ops.last()).expect("blocks")).map_or(0, |t| t.shape.iter().product::<usize>());
    let mut spec = String::new();
    let _ = writeln!(spec, "# Imported by `mobilenet import tflite` from {}.", g.file);
    let _ = writeln!(spec, "# One [[layer]] per block of the graph; channels as in the file (alpha 1).");
    if quantized {
        let _ = writeln!(spec, "# Quantized: every tensor's scale and zero point are in the weights file; the integer");
        let _ = writeln!(spec, "# arithmetic follows TFLite's reference kernels.");
    }
    let _ = writeln!(spec, "\n[model]\nname = \"{name}\"\ninput = [{h}, {w}, {c}]\nclasses = {classes}\nnaming = \"tf-slim\"");
    if classes == 1001 {
        let _ = writeln!(spec, "labels_offset = 1");
    }
    if quantized {
        let io_ty = if input.ty == TType::U8 { "u8" } else { "i8" };
        let _ = writeln!(spec, "element = \"{elem}\"\nio = \"{io_ty}\"");
    }
    let _ = writeln!(spec, "\n[defaults]\nbias = true\nbatch_norm = false");
    for b in &blocks {
        let _ = write!(spec, "\n[[layer]]\n{}", b.toml);
    }
    let path = format!("{name}.toml");
    let net = crate::compile_str(&path, &spec).map_err(|d| {
        format!("the spec made from `{}` does not compile (a bug of the importer):\n{d}\n{spec}", g.file)
    })?;
    // Per compiled layer (quantized conversions excluded), its op.
    let ops: Vec<usize> = blocks.iter().flat_map(|b| b.ops.iter().copied()).collect();
    let layers: Vec<&Layer> = net
        .layers
        .iter()
        .filter(|l| !matches!(l.op, Op::Convert { .. }))
        .collect();
    // A float network fuses each residual add into the projection before it: that layer
    // stands for two operators.
    let mut layer_ops = Vec::new();
    let mut k = 0;
    for l in &layers {
        layer_ops.push(ops.get(k).copied());
        k += if l.op.conv().is_some_and(|c| c.residual) { 2 } else { 1 };
    }
    if k != ops.len() || layer_ops.iter().any(Option::is_none) {
        return Err(format!(
            "`{}`: the spec made from the graph has {} layers for {} operators (a bug of the importer)",
            g.file,
            layers.len(),
            ops.len()
        ));
    }
    let at = At { g: &g };
    let mut tensors: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    let mut log = Vec::new();
    for (l, op) in layers.iter().zip(layer_ops) {
        let op = op.expect("checked");
        check_layer(&g, &at, l, op)?;
        log.push(format!("operator {op} ({}) -> layer `{}` ({})", op_name(&g.ops[op].kind), l.name, l.op.def().describe(l)));
        for t in &l.tensors {
            tensors.push(write_tensor(&g, &at, &net, l, op, t, quantized, io.input)?);
        }
    }
    // The input conversion layer owns the input's quantization.
    for l in net.layers.iter().filter(|l| matches!(l.op, Op::Convert { .. })) {
        for t in &l.tensors {
            tensors.push(activation_tensor(input, t, &at, 0)?);
        }
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, s, d, b)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("sizes match by construction")))
        .collect();
    let mut meta = std::collections::HashMap::new();
    meta.insert("source".to_string(), format!("mobilenet import tflite {}", g.file));
    let weights = safetensors::serialize(views, Some(meta)).map_err(|e| format!("cannot write safetensors: {e}"))?;
    crate::weights::check(&net, "imported", &weights).map_err(|d| format!("the imported weights do not load:\n{d}"))?;
    Ok(Imported { spec, weights, log })
}

/// The graph's boundary: its input tensor (before any `QUANTIZE`) and the storage type.
#[derive(Debug)]
struct Io {
    input: i32,
    storage: TType,
}

/// Recognise the graph's blocks, in order.
fn recognise(g: &Graph<'_>) -> Result<(Vec<Block>, Io), String> {
    let at = At { g };
    let Some(&input) = g.inputs.first() else {
        return Err(format!("`{}` has no input", g.file));
    };
    if g.inputs.len() != 1 || g.outputs.len() != 1 {
        return Err(format!("`{}` has {} inputs and {} outputs; a MobileNet has one of each", g.file, g.inputs.len(), g.outputs.len()));
    }
    let in_t = g.tensor(input).ok_or_else(|| format!("`{}`: the input tensor index {input} is out of range", g.file))?;
    let mut cur = input;
    let mut storage = in_t.ty;
    let mut blocks: Vec<Block> = Vec::new();
    let mut i = 0;
    let n = g.ops.len();
    let mut used = vec![false; n];
    let reads_cur = |i: usize, cur: i32| g.ops[i].inputs.first() == Some(&cur);
    while i < n {
        if used[i] {
            i += 1;
            continue;
        }
        let op = &g.ops[i];
        if !reads_cur(i, cur) && !matches!(op.kind, OpKind::Add { .. }) {
            return Err(format!("{} does not read the previous layer's output: a MobileNet is a chain of blocks (with residual adds)", at.op(i)));
        }
        let out = *op.outputs.first().ok_or_else(|| format!("{} has no output", at.op(i)))?;
        match &op.kind {
            OpKind::Quantize => {
                let (a, b) = (g.input(i, 0).expect("quantize input"), g.output(i).expect("quantize output"));
                let flip = a.scale == b.scale
                    && a.scale.len() == 1
                    && matches!((a.ty, b.ty), (TType::U8, TType::I8) | (TType::I8, TType::U8))
                    && (a.zero_point[0] - b.zero_point[0]).abs() == 128;
                if !flip {
                    return Err(format!("{} requantizes from {:?} (scale {:?}, zero point {:?}) to {:?} (scale {:?}, zero point {:?}): only the exact u8 <-> i8 conversion (same scale, zero points 128 apart) at the network's input or output is supported", at.op(i), a.ty, a.scale, a.zero_point, b.ty, b.scale, b.zero_point));
                }
                if i == 0 {
                    storage = b.ty;
                } else if i + 1 != n {
                    return Err(format!("{} converts between u8 and i8 inside the network: supported only at its input and output", at.op(i)));
                }
                cur = out;
            }
            OpKind::Reshape | OpKind::Squeeze => {
                let (a, b) = (g.input(i, 0).expect("input"), g.output(i).expect("output"));
                let flat = a.shape.iter().product::<usize>() == b.shape.iter().product::<usize>()
                    && a.shape.iter().filter(|&&d| d != 1).count() <= 1;
                if !flat || a.scale != b.scale || a.zero_point != b.zero_point {
                    return Err(format!("{} reshapes {:?} to {:?}: only flattening a 1x1 feature map (same quantization) is supported", at.op(i), a.shape, b.shape));
                }
                cur = out;
            }
            OpKind::Conv2d { padding, stride, dilation, act } => {
                check_dilation(&at, i, *dilation)?;
                let w = g.input(i, 1).ok_or_else(|| format!("{} has no filter", at.op(i)))?;
                let [co, kh, kw, _ci] = w.shape[..] else {
                    return Err(format!("{} has a filter of shape {:?}, expected [out, kh, kw, in]", at.op(i), w.shape));
                };
                let o = g.output(i).expect("output");
                let hw1 = nhwc(o).is_some_and(|[h, w, _]| h == 1 && w == 1);
                if kh == 1 && kw == 1 && *stride == [1, 1] {
                    // An inverted residual's expansion?
                    let next = g.readers(out);
                    if let [dw] = next[..] {
                        if matches!(g.ops[dw].kind, OpKind::Depthwise { .. }) && dw == i + 1 {
                            let b = inverted_residual(g, &at, Some(i), cur, &mut used)?;
                            cur = *g.ops[*b.ops.last().unwrap()].outputs.first().unwrap();
                            blocks.push(b);
                            i += 1;
                            continue;
                        }
                    }
                    let mut toml = format!("name = \"{}\"\ntype = \"pointwise\"\nchannels = {co}\nscale_channels = false\nactivation = \"{}\"\n", layer_name(&blocks, "pointwise"), act_name(*act));
                    if hw1 && *act == ACT_NONE {
                        toml.insert_str(0, "# The logits: a 1x1 convolution over the pooled features.\n");
                    }
                    blocks.push(Block { toml, ops: vec![i] });
                } else {
                    let toml = format!(
                        "name = \"{}\"\ntype = \"conv\"\nchannels = {co}\nscale_channels = false\nkernel = {}\nstride = {}\npadding = \"{}\"\nactivation = \"{}\"\n",
                        layer_name(&blocks, "conv"),
                        pair(kh, kw),
                        pair(stride[0], stride[1]),
                        pad_name(*padding),
                        act_name(*act)
                    );
                    blocks.push(Block { toml, ops: vec![i] });
                }
                cur = out;
            }
            OpKind::Depthwise { .. } => {
                let next = g.readers(out);
                let pw = match next[..] {
                    [p] if p == i + 1 && is_1x1(g, p) => Some(p),
                    _ => None,
                };
                match pw.map(|p| (p, conv_act(g, p))) {
                    Some((_, ACT_NONE)) => {
                        let b = inverted_residual(g, &at, None, cur, &mut used)?;
                        cur = *g.ops[*b.ops.last().unwrap()].outputs.first().unwrap();
                        blocks.push(b);
                        i += 1;
                        continue;
                    }
                    Some((p, _)) => {
                        let b = separable(g, &at, i, p, &blocks)?;
                        used[p] = true;
                        cur = *g.ops[p].outputs.first().unwrap();
                        blocks.push(b);
                    }
                    None => {
                        return Err(format!("{} is not followed by a 1x1 convolution: only depthwise + pointwise pairs (MobileNet v1) and inverted residual blocks (v2) are supported", at.op(i)));
                    }
                }
            }
            OpKind::AvgPool { padding, filter, act, .. } => {
                let a = g.input(i, 0).expect("input");
                let [h, w, _] = nhwc(a).ok_or_else(|| format!("{} reads a {:?} tensor", at.op(i), a.shape))?;
                if *filter != [h, w] || (*padding != Padding::Valid && (h, w) != (1, 1)) || *act != ACT_NONE {
                    return Err(format!("{} pools {}x{} windows of a {h}x{w} input: only a global average (the window covers the input, no padding, no activation) is supported", at.op(i), filter[0], filter[1]));
                }
                blocks.push(Block { toml: format!("name = \"{}\"\ntype = \"avgpool\"\nglobal = true\n", layer_name(&blocks, "pool")), ops: vec![i] });
                cur = out;
            }
            OpKind::Mean => {
                let axes = g.input(i, 1).and_then(|t| t.data).map(|d| d.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>());
                if axes.as_deref() != Some(&[1, 2]) {
                    return Err(format!("{} averages over axes {:?}: only the mean over height and width ([1, 2]) is supported", at.op(i), axes));
                }
                blocks.push(Block { toml: format!("name = \"{}\"\ntype = \"avgpool\"\nglobal = true\n", layer_name(&blocks, "pool")), ops: vec![i] });
                cur = out;
            }
            OpKind::FullyConnected { act } => {
                let w = g.input(i, 1).ok_or_else(|| format!("{} has no weights", at.op(i)))?;
                let outputs = w.shape.first().copied().unwrap_or(0);
                blocks.push(Block { toml: format!("name = \"{}\"\ntype = \"fc\"\noutputs = {outputs}\nactivation = \"{}\"\n", layer_name(&blocks, "fc"), act_name(*act)), ops: vec![i] });
                cur = out;
            }
            OpKind::Softmax { beta } => {
                if *beta != 1.0 {
                    return Err(format!("{} has beta = {beta}: only beta = 1 is supported", at.op(i)));
                }
                blocks.push(Block { toml: format!("name = \"{}\"\ntype = \"softmax\"\n", layer_name(&blocks, "softmax")), ops: vec![i] });
                cur = out;
            }
            OpKind::Add { .. } => {
                return Err(format!("{} is not the residual connection of an inverted residual block (expansion 1x1, depthwise, linear 1x1 projection, add)", at.op(i)));
            }
            OpKind::Other(name) => {
                return Err(format!("{}: the op {name} is not supported (MobileNet import knows CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, MEAN, FULLY_CONNECTED, RESHAPE, SQUEEZE, SOFTMAX and the u8/i8 QUANTIZE at the boundary)", at.op(i)));
            }
        }
        used[i] = true;
        i += 1;
    }
    if g.outputs.first() != Some(&cur) {
        return Err(format!("`{}`: the graph's output is not the end of its chain of blocks", g.file));
    }
    if blocks.is_empty() {
        return Err(format!("`{}` has no layers", g.file));
    }
    Ok((blocks, Io { input, storage }))
}

fn pair(a: usize, b: usize) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("[{a}, {b}]")
    }
}

fn pad_name(p: Padding) -> &'static str {
    match p {
        Padding::Same => "same",
        Padding::Valid => "valid",
    }
}

fn layer_name(blocks: &[Block], kind: &str) -> String {
    format!("{kind}_{}", blocks.len())
}

fn check_dilation(at: &At<'_>, i: usize, d: [usize; 2]) -> Result<(), String> {
    if d != [1, 1] {
        return Err(format!("{} is dilated ({}x{}): only undilated convolutions are supported", at.op(i), d[0], d[1]));
    }
    Ok(())
}

fn is_1x1(g: &Graph<'_>, i: usize) -> bool {
    matches!(g.ops[i].kind, OpKind::Conv2d { stride: [1, 1], .. })
        && g.input(i, 1).is_some_and(|w| w.shape.len() == 4 && w.shape[1] == 1 && w.shape[2] == 1)
}

fn conv_act(g: &Graph<'_>, i: usize) -> i8 {
    match g.ops[i].kind {
        OpKind::Conv2d { act, .. } | OpKind::Depthwise { act, .. } => act,
        _ => ACT_NONE,
    }
}

fn depthwise_toml(g: &Graph<'_>, at: &At<'_>, dw: usize) -> Result<(String, i8, [usize; 2]), String> {
    let OpKind::Depthwise { padding, stride, dilation, multiplier, act } = g.ops[dw].kind else {
        unreachable!("a depthwise op")
    };
    check_dilation(at, dw, dilation)?;
    if multiplier != 1 {
        return Err(format!("{} has depth multiplier {multiplier}: only 1 is supported", at.op(dw)));
    }
    let w = g.input(dw, 1).ok_or_else(|| format!("{} has no filter", at.op(dw)))?;
    let [1, kh, kw, _] = w.shape[..] else {
        return Err(format!("{} has a filter of shape {:?}, expected [1, kh, kw, channels]", at.op(dw), w.shape));
    };
    Ok((format!("kernel = {}\nstride = {}\npadding = \"{}\"\n", pair(kh, kw), pair(stride[0], stride[1]), pad_name(padding)), act, [kh, kw]))
}

/// A depthwise op `dw` and the 1x1 `pw` after it: a separable block.
fn separable(g: &Graph<'_>, at: &At<'_>, dw: usize, pw: usize, blocks: &[Block]) -> Result<Block, String> {
    let (geom, act, _) = depthwise_toml(g, at, dw)?;
    let pact = conv_act(g, pw);
    if act != pact {
        return Err(format!("{} and {} have different activations ({} and {}): a separable block has one", at.op(dw), at.op(pw), act_name(act), act_name(pact)));
    }
    let co = g.input(pw, 1).map_or(0, |w| w.shape[0]);
    Ok(Block {
        toml: format!("name = \"{}\"\ntype = \"separable\"\nchannels = {co}\nscale_channels = false\n{geom}activation = \"{}\"\n", layer_name(blocks, "separable"), act_name(act)),
        ops: vec![dw, pw],
    })
}

/// An inverted residual block starting at its expansion `expand` (or at the depthwise op right
/// after `block_input`'s producer when the expansion is 1).
fn inverted_residual(g: &Graph<'_>, at: &At<'_>, expand: Option<usize>, block_input: i32, used: &mut [bool]) -> Result<Block, String> {
    let start = expand.unwrap_or_else(|| g.readers(block_input).into_iter().find(|&r| matches!(g.ops[r].kind, OpKind::Depthwise { .. })).expect("a depthwise reader"));
    let dw = if expand.is_some() { start + 1 } else { start };
    let project = dw + 1;
    if project >= g.ops.len() || !is_1x1(g, project) || conv_act(g, project) != ACT_NONE {
        return Err(format!("{} is not followed by a linear 1x1 projection: not an inverted residual block", at.op(dw)));
    }
    let (geom, act, _) = depthwise_toml(g, at, dw)?;
    if let Some(e) = expand {
        if conv_act(g, e) != act {
            return Err(format!("{} and {} have different activations: an inverted residual block has one", at.op(e), at.op(dw)));
        }
    }
    let cin = g.tensor(block_input).and_then(nhwc).map_or(0, |s| s[2]);
    let expanded = g.input(dw, 1).map_or(0, |w| w.shape[3]);
    let co = g.input(project, 1).map_or(0, |w| w.shape[0]);
    if expanded % cin.max(1) != 0 {
        return Err(format!("{} expands {cin} channels to {expanded}: not a whole expansion factor", at.op(start)));
    }
    let t = expanded / cin.max(1);
    if expand.is_none() && t != 1 {
        return Err(format!("{} has {expanded} channels for a {cin}-channel input without an expansion", at.op(dw)));
    }
    let proj_out = *g.ops[project].outputs.first().unwrap();
    let add = g.readers(proj_out).into_iter().find(|&a| matches!(g.ops[a].kind, OpKind::Add { .. }) && g.ops[a].inputs.contains(&block_input));
    let OpKind::Depthwise { stride, .. } = g.ops[dw].kind else { unreachable!() };
    let residual_by_rule = stride == [1, 1] && cin == co;
    let residual = match (add, residual_by_rule) {
        (Some(_), true) => "",
        (None, true) => "residual = false\n",
        (None, false) => "",
        (Some(a), false) => {
            return Err(format!("{} adds the block input to a block that changes its shape", at.op(a)));
        }
    };
    if let Some(a) = add {
        if let OpKind::Add { act: aact } = g.ops[a].kind {
            if aact != ACT_NONE {
                return Err(format!("{} has a fused activation: the residual add of an inverted residual block is linear", at.op(a)));
            }
        }
    }
    let mut ops: Vec<usize> = expand.into_iter().collect();
    ops.extend([dw, project]);
    ops.extend(add);
    for &o in &ops {
        used[o] = true;
    }
    let name = format!("block_{}", ops[0]);
    Ok(Block {
        toml: format!("name = \"{name}\"\ntype = \"inverted_residual\"\nexpansion = {t}\nchannels = {co}\nscale_channels = false\n{geom}activation = \"{}\"\n{residual}", act_name(act)),
        ops,
    })
}

/// The compiled layer matches its op: kind, output shape, kernel, stride, activation.
fn check_layer(g: &Graph<'_>, at: &At<'_>, l: &Layer, op: usize) -> Result<(), String> {
    let o = g.output(op).ok_or_else(|| format!("{} has no output", at.op(op)))?;
    let n: usize = o.shape.iter().product();
    if n != l.output.len() {
        return Err(format!("{} outputs {:?} but the spec's layer `{}` computes {} (a bug of the importer)", at.op(op), o.shape, l.name, l.output));
    }
    let ok = match (&g.ops[op].kind, &l.op) {
        (OpKind::Conv2d { stride, act, .. }, Op::Conv(c)) => c.kind == ConvKind::Full && [c.sh, c.sw] == *stride && act_matches(*act, c.activation),
        (OpKind::Depthwise { stride, act, .. }, Op::Conv(c)) => c.kind == ConvKind::Depthwise && [c.sh, c.sw] == *stride && act_matches(*act, c.activation),
        (OpKind::AvgPool { .. } | OpKind::Mean, Op::GlobalAvgPool) => true,
        (OpKind::Add { act }, Op::Add { activation }) => act_matches(*act, *activation),
        (OpKind::Softmax { .. }, Op::Softmax) => true,
        (OpKind::FullyConnected { act }, Op::Fc { activation, .. }) => act_matches(*act, *activation),
        _ => false,
    };
    if !ok {
        return Err(format!("{} became layer `{}` ({}), which computes something else (a bug of the importer)", at.op(op), l.name, l.op.def().describe(l)));
    }
    // Our SAME padding is TFLite's: both put the extra row and column at the bottom right.
    Ok(())
}

fn act_matches(a: i8, b: Activation) -> bool {
    matches!((a, b), (ACT_NONE, Activation::None) | (ACT_RELU, Activation::Relu) | (ACT_RELU6, Activation::Relu6))
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// An activation quantization tensor (`Scale` or `ZeroPoint`) of tensor `t`.
fn activation_tensor(t: &Tensor<'_>, b: &TensorBinding, at: &At<'_>, op: usize) -> Result<(String, Vec<usize>, Dtype, Vec<u8>), String> {
    if t.scale.len() != 1 || t.zero_point.len() != 1 {
        return Err(format!("{}: tensor `{}` has {} scales and {} zero points: an activation is quantized per tensor", at.op(op), t.name, t.scale.len(), t.zero_point.len()));
    }
    Ok(match b.role {
        Role::Scale => (b.name.clone(), vec![1], Dtype::F32, le_f32(&t.scale)),
        Role::ZeroPoint => match t.ty {
            TType::U8 => (b.name.clone(), vec![1], Dtype::U8, vec![zp_byte(t, at, op, 0, 255)?]),
            TType::I8 => (b.name.clone(), vec![1], Dtype::I8, vec![zp_byte(t, at, op, -128, 127)?]),
            other => return Err(format!("{}: tensor `{}` is {other:?}: quantized activations are u8 or i8", at.op(op), t.name)),
        },
        _ => unreachable!("an activation quantization role"),
    })
}

fn zp_byte(t: &Tensor<'_>, at: &At<'_>, op: usize, lo: i64, hi: i64) -> Result<u8, String> {
    let z = t.zero_point[0];
    if !(lo..=hi).contains(&z) {
        return Err(format!("{}: tensor `{}` has zero point {z}, outside [{lo}, {hi}]", at.op(op), t.name));
    }
    Ok(z as u8)
}

/// The bytes of one tensor binding of layer `l` (from op `op`).
#[allow(clippy::too_many_arguments)]
fn write_tensor(g: &Graph<'_>, at: &At<'_>, net: &Network, l: &Layer, op: usize, b: &TensorBinding, quantized: bool, input: i32) -> Result<(String, Vec<usize>, Dtype, Vec<u8>), String> {
    let out = g.output(op).expect("checked");
    match b.role {
        Role::Scale | Role::ZeroPoint => {
            // The layer's output, or the network input when the binding is the input's.
            let t = if b.name.starts_with("input/") { g.tensor(input).expect("input") } else { out };
            activation_tensor(t, b, at, op)
        }
        Role::Weight | Role::WeightScale | Role::WeightZeroPoint | Role::Bias => {
            let w = g.input(op, 1).ok_or_else(|| format!("{} has no weights", at.op(op)))?;
            let data = w.data.ok_or_else(|| format!("{}: the weights `{}` are not constant", at.op(op), w.name))?;
            // [co, kh, kw, ci] (conv), [1, kh, kw, c] (depthwise), [out, in] (fc).
            let (kh, kw, ci, co, depthwise) = match (&g.ops[op].kind, w.shape.as_slice()) {
                (OpKind::Depthwise { .. }, [1, kh, kw, c]) => (*kh, *kw, 1, *c, true),
                (OpKind::Conv2d { .. }, [co, kh, kw, ci]) => (*kh, *kw, *ci, *co, false),
                (OpKind::FullyConnected { .. }, [o, i]) => (1, 1, *i, *o, false),
                _ => return Err(format!("{}: weights `{}` of shape {:?}", at.op(op), w.name, w.shape)),
            };
            let elem = match w.ty {
                TType::F32 => 4,
                TType::U8 | TType::I8 => 1,
                other => return Err(format!("{}: weights `{}` are {other:?}", at.op(op), w.name)),
            };
            if data.len() != kh * kw * ci * co * elem {
                return Err(format!("{}: weights `{}` hold {} bytes for shape {:?}: the file is corrupt", at.op(op), w.name, data.len(), w.shape));
            }
            let src = |ky: usize, kx: usize, i: usize, o: usize| -> usize {
                if depthwise {
                    (ky * kw + kx) * co + o
                } else {
                    ((o * kh + ky) * kw + kx) * ci + i
                }
            };
            let per_channel = w.scale.len() > 1;
            if w.ty != TType::F32 && (w.scale.is_empty() || (per_channel && w.scale.len() != co) || w.zero_point.len() != w.scale.len()) {
                return Err(format!("{}: weights `{}` have {} scales and {} zero points for {co} output channels: inconsistent quantization", at.op(op), w.name, w.scale.len(), w.zero_point.len()));
            }
            if per_channel {
                let dim = if depthwise { 3 } else { 0 };
                if w.quantized_dimension != dim {
                    return Err(format!("{}: weights `{}` are quantized along dimension {}, expected {dim} (the output channels)", at.op(op), w.name, w.quantized_dimension));
                }
            }
            let deq = |v: usize, o: usize| -> f32 {
                match w.ty {
                    TType::F32 => f32::from_le_bytes([data[4 * v], data[4 * v + 1], data[4 * v + 2], data[4 * v + 3]]),
                    TType::U8 | TType::I8 => {
                        let q = if w.ty == TType::U8 { data[v] as i64 } else { data[v] as i8 as i64 };
                        let c = if per_channel { o } else { 0 };
                        w.scale[c] * (q - w.zero_point[c]) as f32
                    }
                    _ => unreachable!(),
                }
            };
            match b.role {
                Role::Weight => {
                    let layout = b.layout.expect("weights have a layout");
                    let n = kh * kw * ci * co;
                    let mut idx = vec![0usize; n];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            for i in 0..ci {
                                for o in 0..co {
                                    idx[dst_index(layout, [kh, kw, ci, co], ky, kx, i, o)] = src(ky, kx, i, o);
                                }
                            }
                        }
                    }
                    if quantized {
                        let dt = if w.ty == TType::U8 { Dtype::U8 } else { Dtype::I8 };
                        Ok((b.name.clone(), b.shape.clone(), dt, idx.iter().map(|&v| data[v]).collect()))
                    } else {
                        let mut bytes = Vec::with_capacity(n * 4);
                        for (pos, &v) in idx.iter().enumerate() {
                            let o = out_channel(layout, [kh, kw, ci, co], pos);
                            bytes.extend_from_slice(&deq(v, o).to_le_bytes());
                        }
                        Ok((b.name.clone(), b.shape.clone(), Dtype::F32, bytes))
                    }
                }
                Role::WeightScale => Ok((b.name.clone(), vec![w.scale.len()], Dtype::F32, le_f32(&w.scale))),
                Role::WeightZeroPoint => {
                    let (dt, lo, hi) = if w.ty == TType::U8 { (Dtype::U8, 0, 255) } else { (Dtype::I8, -128, 127) };
                    let bytes: Result<Vec<u8>, String> = w.zero_point.iter().map(|&z| if (lo..=hi).contains(&z) { Ok(z as u8) } else { Err(format!("{}: weights `{}` have zero point {z}", at.op(op), w.name)) }).collect();
                    Ok((b.name.clone(), vec![w.zero_point.len()], dt, bytes?))
                }
                Role::Bias => {
                    let bias = g.input(op, 2);
                    let bdata = bias.and_then(|t| t.data);
                    match (bias, bdata) {
                        (Some(t), Some(d)) => {
                            let want = if quantized || t.ty == TType::F32 { 4 * co } else { 0 };
                            if d.len() != want && !(t.ty == TType::I32 && d.len() == 4 * co) {
                                return Err(format!("{}: bias `{}` holds {} bytes for {co} channels", at.op(op), t.name, d.len()));
                            }
                            match (t.ty, quantized) {
                                (TType::I32, true) => Ok((b.name.clone(), vec![co], Dtype::I32, d.to_vec())),
                                (TType::F32, false) => Ok((b.name.clone(), vec![co], Dtype::F32, d.to_vec())),
                                (TType::I32, false) => {
                                    // Dequantized: bias scale (per channel or per tensor).
                                    let v: Vec<f32> = (0..co).map(|o| {
                                        let q = i32::from_le_bytes([d[4 * o], d[4 * o + 1], d[4 * o + 2], d[4 * o + 3]]);
                                        let s = if t.scale.len() > 1 { t.scale[o] } else { t.scale.first().copied().unwrap_or(0.0) };
                                        s * q as f32
                                    }).collect();
                                    Ok((b.name.clone(), vec![co], Dtype::F32, le_f32(&v)))
                                }
                                (ty, _) => Err(format!("{}: bias `{}` is {ty:?}, expected I32 (quantized) or F32", at.op(op), t.name)),
                            }
                        }
                        _ => {
                            // No bias in the graph: zeros.
                            let _ = net;
                            let dt = if quantized { Dtype::I32 } else { Dtype::F32 };
                            Ok((b.name.clone(), vec![co], dt, vec![0; 4 * co]))
                        }
                    }
                }
                _ => unreachable!(),
            }
        }
        other => Err(format!("{}: the spec's layer `{}` needs a {other:?} tensor, which a TFLite model has no counterpart for (a bug of the importer)", at.op(op), l.name)),
    }
}

/// Flat index of `(ky, kx, i, o)` of a `[kh, kw, ci, co]` weight in `layout`.
fn dst_index(layout: mobilenet_runtime::pack::SrcLayout, [kh, kw, ci, co]: [usize; 4], ky: usize, kx: usize, i: usize, o: usize) -> usize {
    use mobilenet_runtime::pack::SrcLayout::*;
    match layout {
        Oihw | Ochw1 | OutIn => ((o * ci + i) * kh + ky) * kw + kx,
        Hwio | Hwc1 | InOut => ((ky * kw + kx) * ci + i) * co + o,
    }
}

/// The output channel of flat position `pos` in `layout`.
fn out_channel(layout: mobilenet_runtime::pack::SrcLayout, [kh, kw, ci, co]: [usize; 4], pos: usize) -> usize {
    use mobilenet_runtime::pack::SrcLayout::*;
    match layout {
        Oihw | Ochw1 | OutIn => pos / (ci * kh * kw),
        Hwio | Hwc1 | InOut => pos % co,
    }
}

#[cfg(test)]
mod tests;
