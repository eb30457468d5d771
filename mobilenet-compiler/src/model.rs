//! The analysed network: a graph of values ([`crate::ir`]) and layers (ops reading values and
//! writing one), each with its shapes, padding, tensors and costs, plus the memory plan.
//! Produced by [`analyze`] from a parsed [`Spec`] (spec blocks lowered to ops here; what each op
//! means is in [`crate::ops`]); consumed by reports, code generation and weight import.

use std::ops::Range;

use mobilenet_runtime::pack::SrcLayout;
use rustc_hash::FxHashMap;
use serde::{Serialize, Serializer};

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{ElemType, Value, ValueId};
use crate::naming::{NamingScheme, Part, Site};
pub use crate::ops::Op;
pub use crate::plan::{plan_memory, Loc, MemoryPlan};
use crate::spec::{
    Activation, LayerKind, LayerSpec, Naming, PaddingSpec, Rounding, ScaleChannels, Sp, Spec,
};

/// A feature map shape, NHWC with batch 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Shape {
    pub fn len(&self) -> usize {
        self.h * self.w * self.c
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.h, self.w, self.c)
    }
}

/// Padding in pixels on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Pad {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

/// Which flavour of convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvKind {
    /// Dense convolution (every output channel sees every input channel).
    Full,
    /// One filter per input channel.
    Depthwise,
}

/// A convolution with everything resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conv {
    pub kind: ConvKind,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pad: Pad,
    /// The padding as written (or inherited).
    pub padding_mode: PaddingMode,
    pub cin: usize,
    pub cout: usize,
    pub bias: bool,
    /// Batch norm epsilon, if the conv is followed by batch norm.
    pub batch_norm: Option<f64>,
    /// Applied after the residual add when `residual`.
    pub activation: Activation,
    /// A pointwise conv with a fused residual add: the layer reads a second value (the skip)
    /// and computes `act(conv(x) + skip)`.
    pub residual: bool,
}

/// How a conv's padding was given in the spec (the resolved pixels are [`Conv::pad`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaddingMode {
    /// TensorFlow "SAME".
    Same,
    Valid,
    /// `kernel / 2` on every side.
    Half,
    Explicit,
}

impl PaddingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PaddingMode::Same => "same",
            PaddingMode::Valid => "valid",
            PaddingMode::Half => "half",
            PaddingMode::Explicit => "explicit",
        }
    }
}

impl std::fmt::Display for PaddingMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Conv {
    /// A convolution of an `input`-shaped map with its padding resolved; no bias, batch norm,
    /// activation or residual (set them with struct update syntax).
    pub fn new(
        kind: ConvKind,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: PaddingSpec,
        input: Shape,
        cin: usize,
        cout: usize,
    ) -> Conv {
        let ([kh, kw], [sh, sw]) = (kernel, stride);
        Conv {
            kind,
            kh,
            kw,
            sh,
            sw,
            pad: resolve_padding(padding, input.h, input.w, kh, kw, sh, sw),
            padding_mode: padding_mode(padding),
            cin,
            cout,
            bias: false,
            batch_norm: None,
            activation: Activation::None,
            residual: false,
        }
    }

    /// A 1x1, stride-1, unpadded full convolution: run by the runtime's pointwise (GEMM)
    /// kernel, with weights packed in 16-channel panels.
    pub fn is_pointwise(&self) -> bool {
        self.kind == ConvKind::Full
            && self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.pad == Pad::default()
    }
}

/// What a tensor of the weights file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Weight,
    Bias,
    BnGamma,
    BnBeta,
    BnMean,
    BnVar,
    /// A quantized weight's scales (`F32`, one or one per output channel).
    WeightScale,
    /// A quantized weight's zero points (the weight's type).
    WeightZeroPoint,
    /// A quantized value's scale (`F32 [1]`).
    Scale,
    /// A quantized value's zero point (`U8` or `I8` `[1]`: the value's type).
    ZeroPoint,
}

/// One tensor the weights file must provide for a layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorBinding {
    pub role: Role,
    pub name: String,
    pub shape: Vec<usize>,
    /// The source layout of a weight tensor (`None`: a vector, bias or batch norm).
    #[serde(serialize_with = "layout_key")]
    pub layout: Option<SrcLayout>,
}

fn layout_key<S: Serializer>(l: &Option<SrcLayout>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(l.map_or("vector", |l| l.key()))
}

impl TensorBinding {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Costs of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Cost {
    /// Multiply-adds in the paper's convention.
    pub mult_adds: u64,
    /// Weights only (the paper's parameter count).
    pub weights: u64,
    /// Bias values.
    pub biases: u64,
    /// Batch norm values (gamma, beta, mean, variance: 4 per channel).
    pub batch_norm: u64,
}

impl Cost {
    /// Every stored parameter: weights + biases + batch norm.
    pub fn total_params(&self) -> u64 {
        self.weights + self.biases + self.batch_norm
    }
}

/// One layer of the analysed network. A `separable` block of the spec becomes two layers
/// (depthwise and pointwise), a `repeat = n` layer becomes n (or 2n) layers.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    /// Unique name, e.g. `conv1` or `separable_conv2.depthwise`.
    pub name: String,
    /// Name of the spec-level block (for a separable block, shared by its two halves).
    pub block: String,
    /// 0-based index of the `[[layer]]` table this came from.
    pub spec_index: usize,
    /// Byte span of that table in the spec, for diagnostics.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Byte span of the layer's `name` value (or its `type` when unnamed), where errors about
    /// this layer's weights point.
    #[serde(skip)]
    pub name_span: Range<usize>,
    /// Which part of its spec block this layer is (names its tensors).
    #[serde(skip)]
    pub part: Part,
    pub op: Op,
    /// Shape of the first value read.
    pub input: Shape,
    pub output: Shape,
    /// The values read, in the kernel's operand order.
    #[serde(rename = "input_values")]
    pub inputs: Vec<ValueId>,
    /// The value written.
    pub output_value: ValueId,
    pub tensors: Vec<TensorBinding>,
    pub cost: Cost,
    /// The paper's Table 2 category, e.g. "Conv 1x1", "Conv DW 3x3", "Conv 3x3", "FC".
    pub category: String,
    /// True when the layer's kernel computes in place (its output buffer holds its input on
    /// entry: softmax).
    pub in_place: bool,
    /// The layer computes on quantized (`i8`-stored) activations.
    pub quantized: bool,
}

/// Budgets declared by the spec.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Budget {
    pub max_mult_adds: Option<u64>,
    pub max_params: Option<u64>,
    pub max_arena_bytes: Option<u64>,
}

/// The analysed network.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub name: String,
    pub spec_path: String,
    pub input: Shape,
    pub classes: usize,
    pub labels_offset: usize,
    pub naming: Naming,
    pub alpha: f64,
    pub channel_rounding: Rounding,
    /// Every value of the graph; value 0 is the network input.
    pub values: Vec<Value>,
    pub input_value: ValueId,
    pub output_value: ValueId,
    /// The ops, in execution order.
    pub layers: Vec<Layer>,
    /// Per layer, `Some(rows)` when the generated code runs it fused with the next layer
    /// ([`crate::fuse`]), in bands of `rows` output rows.
    pub fused: Vec<Option<usize>>,
    pub plan: MemoryPlan,
    pub budget: Budget,
    /// The activations' element type (`[model] element`).
    pub elem: ElemType,
    /// The type of the input and output arrays (the element type unless `[model] io` says).
    pub io: ElemType,
}

impl Network {
    pub fn output_len(&self) -> usize {
        self.values[self.output_value].len()
    }

    /// True when every layer reads just the previous layer's output (a v1-style chain).
    pub fn is_chain(&self) -> bool {
        crate::plan::is_chain(&self.layers, self.input_value)
    }

    pub fn total(&self) -> Cost {
        // Saturating: a network of many huge layers is reported as over any budget, not wrapped.
        let mut t = Cost::default();
        for l in &self.layers {
            t.mult_adds = t.mult_adds.saturating_add(l.cost.mult_adds);
            t.weights = t.weights.saturating_add(l.cost.weights);
            t.biases = t.biases.saturating_add(l.cost.biases);
            t.batch_norm = t.batch_norm.saturating_add(l.cost.batch_norm);
        }
        t
    }

    /// Mult-Adds and weights per Table 2 category, in order of first appearance.
    pub fn by_category(&self) -> Vec<(String, Cost)> {
        let mut out: Vec<(String, Cost)> = Vec::new();
        for l in &self.layers {
            if l.cost == Cost::default() {
                continue;
            }
            match out.iter_mut().find(|(c, _)| *c == l.category) {
                Some((_, c)) => {
                    c.mult_adds += l.cost.mult_adds;
                    c.weights += l.cost.weights;
                    c.biases += l.cost.biases;
                    c.batch_norm += l.cost.batch_norm;
                }
                None => out.push((l.category.clone(), l.cost)),
            }
        }
        out
    }

    /// Every tensor the weights file must hold, in layer order.
    pub fn tensors(&self) -> impl Iterator<Item = (&Layer, &TensorBinding)> {
        self.layers
            .iter()
            .flat_map(|l| l.tensors.iter().map(move |t| (l, t)))
    }
}

/// Output size of a convolution or pool along one axis, or `None` if it collapses.
fn out_dim(input: usize, k: usize, s: usize, pad_a: usize, pad_b: usize) -> Option<usize> {
    let padded = input + pad_a + pad_b;
    if padded < k {
        return None;
    }
    Some((padded - k) / s + 1)
}

/// Resolve a padding spec to per-side pixels. TF "SAME": out = ceil(in / s), total =
/// max((out - 1) * s + k - in, 0), top = total / 2, bottom = total - top.
pub fn resolve_padding(
    p: PaddingSpec,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
) -> Pad {
    let same = |i: usize, k: usize, s: usize| {
        let out = i.div_ceil(s);
        let total = ((out.saturating_sub(1)) * s + k).saturating_sub(i);
        (total / 2, total - total / 2)
    };
    match p {
        PaddingSpec::Valid => Pad::default(),
        PaddingSpec::Half => Pad {
            top: kh / 2,
            bottom: kh / 2,
            left: kw / 2,
            right: kw / 2,
        },
        PaddingSpec::Explicit([t, b, l, r]) => Pad {
            top: t,
            bottom: b,
            left: l,
            right: r,
        },
        PaddingSpec::Same => {
            let (top, bottom) = same(h, kh, sh);
            let (left, right) = same(w, kw, sw);
            Pad {
                top,
                bottom,
                left,
                right,
            }
        }
    }
}

fn padding_mode(p: PaddingSpec) -> PaddingMode {
    match p {
        PaddingSpec::Same => PaddingMode::Same,
        PaddingSpec::Valid => PaddingMode::Valid,
        PaddingSpec::Half => PaddingMode::Half,
        PaddingSpec::Explicit(_) => PaddingMode::Explicit,
    }
}

struct Analyzer<'a> {
    spec: &'a Spec,
    diags: Diagnostics,
    scheme: &'static dyn NamingScheme,
    /// The graph so far.
    values: Vec<Value>,
    layers: Vec<Layer>,
    /// The activations' element type.
    elem: ElemType,
}

impl Analyzer<'_> {
    fn err(
        &mut self,
        span: Range<usize>,
        msg: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::error(&self.spec.source.path, span, msg).with_label(label);
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.diags.push(d);
    }
}

/// Expand a name pattern: `{n}` is the 1-based position of the (expanded) spec layer in the
/// network, `{i}` the 0-based one.
/// `{n+K}`, `{n-K}`, `{i+K}` and `{i-K}` offset them (TF-slim's v2 calls the block at 0-based
/// position 2 `expanded_conv_1`: `expanded_conv_{i-1}`). `Err` names a placeholder that comes
/// out negative.
fn expand_name(pattern: &str, position: usize) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            break;
        };
        let inner = &after[1..close];
        let (base, offset) = match inner.find(['+', '-']) {
            Some(k) => (&inner[..k], inner[k..].parse::<i64>().ok()),
            None => (inner, Some(0)),
        };
        let value = match (base, offset) {
            ("n", Some(o)) => Some(position as i64 + 1 + o),
            ("i", Some(o)) => Some(position as i64 + o),
            _ => None,
        };
        match value {
            Some(v) if v < 0 => return Err(after[..=close].to_string()),
            Some(v) => out.push_str(&v.to_string()),
            None => out.push_str(&after[..=close]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Analyse a parsed spec: shapes, padding, tensors, costs, memory plan, budgets. Collects every
/// error; returns the network only when there were none (parse errors included).
pub fn analyze(spec: &Spec, parse_diags: Diagnostics) -> Result<Network, Diagnostics> {
    let naming = spec
        .model
        .naming
        .as_ref()
        .map_or(Naming::Pytorch, |n| n.value);
    let mut a = Analyzer {
        spec,
        diags: parse_diags,
        scheme: crate::naming::scheme(naming),
        values: Vec::new(),
        layers: Vec::new(),
        elem: spec
            .model
            .element
            .as_ref()
            .map_or(ElemType::F32, |e| e.value),
    };
    let m = &spec.model;
    let elem = a.elem;
    let io = match (&m.io, elem) {
        (Some(io), ElemType::F32) => {
            a.err(
                io.span.clone(),
                "`io` is for quantized networks",
                "the network is f32",
                Some("set `element = \"u8\"` or `\"i8\"`, or remove `io`".into()),
            );
            ElemType::F32
        }
        (Some(io), _) => io.value,
        (None, e) => e,
    };

    // Input shape.
    let base = m.input.as_ref().map(|i| i.value);
    let given = |k: &str| m.present.iter().any(|p| p == k);
    if base.is_none() && m.resolution.is_none() && !given("input") && !given("resolution") {
        a.err(
            m.span.clone(),
            "the model has no input size",
            "`[model]` needs `input`",
            Some("add `input = [224, 224, 3]` (height, width, channels) to `[model]`".into()),
        );
    }
    let mut input = base.map(|[h, w, c]| Shape { h, w, c });
    if let (Some(inp), Some(r)) = (input.as_mut(), &m.resolution) {
        inp.h = r.value[0];
        inp.w = r.value[1];
    } else if let (None, Some(r)) = (input, &m.resolution) {
        input = Some(Shape {
            h: r.value[0],
            w: r.value[1],
            c: 3,
        });
    }
    if let (Some(inp), Some(rho)) = (input.as_mut(), &m.rho) {
        inp.h = (inp.h as f64 * rho.value).round() as usize;
        inp.w = (inp.w as f64 * rho.value).round() as usize;
        if inp.h == 0 || inp.w == 0 {
            a.err(
                rho.span.clone(),
                format!(
                    "`rho` = {} shrinks the input to {}x{}",
                    rho.value, inp.h, inp.w
                ),
                "input collapses to nothing",
                Some("use a larger `rho`".into()),
            );
        }
    }
    let alpha = m.alpha.as_ref().map_or(1.0, |a| a.value);
    let rounding = m
        .channel_rounding
        .as_ref()
        .map_or(Rounding::TfSlim, |r| r.value);
    let min_channels = m.min_channels.as_ref().map(|c| c.value);

    // Walk the layers.
    let d = &spec.defaults;
    let mut names: FxHashMap<String, Range<usize>> = FxHashMap::default();
    // The network input is value 0.
    let mut cur: Option<ValueId> = input.map(|shape| a.value("input", shape));
    if let Some(v) = cur {
        a.values[v].elem = io;
        if io == ElemType::U8 {
            cur = Some(a.push_convert(true, v, m.span.clone(), 0));
        }
    }
    let mut position = 0usize; // expanded spec-layer position, for {n}/{i}
    let mut expected_index = 0usize;
    let mut seen_fc_or_softmax: Option<Range<usize>> = None;
    for ls in &spec.layers {
        if ls.index != expected_index || ls.broken {
            // A layer that failed to parse: stop inferring shapes to avoid cascading errors.
            cur = None;
        }
        expected_index = ls.index + 1;
        let repeat = ls.repeat.as_ref().map_or(1, |r| r.value);
        let kind = ls.kind.value;
        if let Some(prev) = &seen_fc_or_softmax {
            if kind != LayerKind::Softmax && kind != LayerKind::Fc {
                let _ = prev;
                a.err(
                    ls.kind.span.clone(),
                    format!(
                        "a `{}` layer cannot follow a fully connected layer",
                        kind.as_str()
                    ),
                    "after `fc` the feature map is a vector",
                    Some("only `fc` and `softmax` may follow `fc`".into()),
                );
                cur = None;
            }
        }
        for r in 0..repeat {
            let default_name = format!("{}{}", kind.as_str(), position + 1);
            let name = match &ls.name {
                Some(n) => match expand_name(&n.value, position) {
                    Ok(name) => name,
                    Err(placeholder) => {
                        a.err(
                            n.span.clone(),
                            format!("`{placeholder}` in the name is negative for this layer (0-based position {position})"),
                            "negative position",
                            Some("use a smaller offset, or name the first layers explicitly".into()),
                        );
                        cur = None;
                        default_name
                    }
                },
                None => default_name,
            };
            let name_span = ls
                .name
                .as_ref()
                .map_or(ls.kind.span.clone(), |n| n.span.clone());
            if let Some(first) = names.get(&name) {
                let (line, _) = spec.source.line_col(first.start);
                let help = if repeat > 1 && r > 0 {
                    format!("a repeated layer needs `{{n}}` (1-based position) or `{{i}}` (0-based) in its name, e.g. `name = \"{}{{n}}\"`", ls.name.as_ref().map_or("block", |n| n.value.as_str()))
                } else {
                    format!("the first `{name}` is on line {line}; rename one of them")
                };
                a.err(
                    name_span.clone(),
                    format!("duplicate layer name `{name}`"),
                    "name already used",
                    Some(help),
                );
                cur = None;
            } else {
                names.insert(name.clone(), name_span.clone());
            }
            position += 1;
            let Some(inp) = cur else {
                // Still check names of later layers, but no shapes.
                continue;
            };
            let widths = Widths {
                alpha,
                rounding,
                min_channels,
            };
            if r > 0 && kind == LayerKind::InvertedResidual && ls.stride.is_some() {
                // MobileNet v2's repeated blocks: only the first of a sequence has stride s.
                let rest = LayerSpec {
                    stride: None,
                    ..ls.clone()
                };
                cur = a.lower(&rest, &name, inp, widths, d);
            } else {
                cur = a.lower(ls, &name, inp, widths, d);
            }
        }
        if matches!(kind, LayerKind::Fc) {
            seen_fc_or_softmax = Some(ls.kind.span.clone());
        }
    }

    if let (Some(v), ElemType::U8) = (cur, io) {
        if !a.diags.has_errors() {
            let index = spec.layers.last().map_or(0, |l| l.index);
            a.push_convert(false, v, m.span.clone(), index);
        }
    }

    // Classes and final layer.
    let layers = std::mem::take(&mut a.layers);
    let out_len = layers.last().map(|l| l.output.len());
    let classes = m.classes.as_ref().map(|c| c.value);
    let complete = !a.diags.has_errors() && !spec.layers.is_empty();
    if complete {
        let last = layers.last().expect("complete network has layers");
        match classes {
            Some(c) if Some(c) != out_len => {
                let ls = &spec.layers[last.spec_index];
                a.err(
                    m.classes.as_ref().unwrap().span.clone(),
                    format!("`classes = {c}` disagrees with the last layer `{}`, which outputs {} values ({})", last.name, last.output.len(), last.output),
                    "does not match the network output",
                    Some(match ls.kind.value {
                        LayerKind::Fc | LayerKind::Softmax => format!("set `classes = {}` or make the last `fc` have `outputs = {c}`", last.output.len()),
                        _ => format!("end the network with a global `avgpool` and an `fc` with `outputs = {c}`"),
                    }),
                );
            }
            None if last.output.h * last.output.w != 1 => {
                let span = spec
                    .layers
                    .last()
                    .map(|l| l.kind.span.clone())
                    .unwrap_or_default();
                a.err(
                    span,
                    format!(
                        "the network ends in a {} feature map, not a vector of class scores",
                        last.output
                    ),
                    "last layer",
                    Some(
                        "end with a global `avgpool` and an `fc`, or set `[model] classes`".into(),
                    ),
                );
            }
            _ => {}
        }
    }
    let classes = classes.or(out_len).unwrap_or(0);
    let labels_offset = m.labels_offset.as_ref().map_or(0, |l| l.value);
    if let Some(lo) = &m.labels_offset {
        if lo.value >= classes.max(1) {
            a.err(
                lo.span.clone(),
                format!("`labels_offset = {}` leaves no class", lo.value),
                "too large",
                Some(
                    "TF-slim's 1001-class models use `labels_offset = 1` (index 0 is background)"
                        .into(),
                ),
            );
        }
    }

    if a.diags.has_errors() {
        return Err(a.diags);
    }
    let mut values = std::mem::take(&mut a.values);
    let mut layers = layers;
    if !elem.is_quantized() {
        // A quantized add requantizes both operands: it stays its own layer.
        fuse_residual_adds(&mut layers, &mut values);
    }
    let input_value = 0;
    let output_value = layers.last().map_or(input_value, |l| l.output_value);
    let fused = crate::fuse::fused_pairs(&layers, output_value);
    let plan = plan_memory(&layers, &values, input_value, output_value, &fused);
    let budget = Budget {
        max_mult_adds: spec.budget.max_mult_adds.as_ref().map(|b| b.value),
        max_params: spec.budget.max_params.as_ref().map(|b| b.value),
        max_arena_bytes: spec.budget.max_arena_bytes.as_ref().map(|b| b.value),
    };
    let name = m.name.as_ref().map(|n| n.value.clone()).unwrap_or_else(|| {
        std::path::Path::new(&spec.source.path)
            .file_stem()
            .map_or("mobilenet".into(), |s| s.to_string_lossy().into_owned())
    });
    let net = Network {
        name,
        spec_path: spec.source.path.clone(),
        input: input.expect("checked above"),
        classes,
        labels_offset,
        naming,
        alpha,
        channel_rounding: rounding,
        values,
        input_value,
        output_value,
        layers,
        plan,
        fused,
        budget,
        elem,
        io,
    };
    check_budget(&mut a, &net);
    if a.diags.has_errors() {
        return Err(a.diags);
    }
    Ok(net)
}

/// The most values one activation or weight tensor may have (2^31: every index fits an `i32`,
/// and with sides and channels at most [`crate::spec::MAX_SIZE`] every cost fits a `u64`).
pub const MAX_TENSOR: u64 = 1 << 31;

/// Why a layer's output or weights exceed [`MAX_TENSOR`] values, if they do. `cost` is the
/// op's (saturating) cost.
fn too_large(l: &Layer, cost: &Cost) -> Option<String> {
    let out = [l.output.h, l.output.w, l.output.c]
        .iter()
        .fold(1u64, |a, &d| a.saturating_mul(d as u64));
    if out > MAX_TENSOR {
        return Some(format!("its output {} has {out} values", l.output));
    }
    (cost.weights > MAX_TENSOR).then(|| format!("its weights have {} values", cost.weights))
}

fn check_budget(a: &mut Analyzer<'_>, net: &Network) {
    let total = net.total();
    let b = &a.spec.budget;
    let checks: [(&Option<Sp<u64>>, u64, &str, &str); 3] = [
        (
            &b.max_mult_adds,
            total.mult_adds,
            "max_mult_adds",
            "Mult-Adds",
        ),
        (
            &b.max_params,
            total.weights,
            "max_params",
            "parameters (weights)",
        ),
        (
            &b.max_arena_bytes,
            net.plan.arena_bytes(),
            "max_arena_bytes",
            "scratch arena bytes",
        ),
    ];
    for (limit, actual, key, what) in checks {
        if let Some(limit) = limit {
            if actual > limit.value {
                let over = actual - limit.value;
                a.err(
                    limit.span.clone(),
                    format!(
                        "budget exceeded: the network needs {} {what}, {} over `{key} = {}` (+{:.2}%)",
                        group(actual),
                        group(over),
                        group(limit.value),
                        over as f64 * 100.0 / limit.value as f64
                    ),
                    format!("budget of {}", group(limit.value)),
                    Some(format!("raise `{key}` to at least {}, or shrink the network (smaller `alpha` or input)", group(actual))),
                );
            }
        }
    }
}

/// 1234567 -> "1_234_567" (TOML-friendly digit grouping).
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(ch);
    }
    out
}

impl Analyzer<'_> {
    /// A new value of the graph.
    fn value(&mut self, name: &str, shape: Shape) -> ValueId {
        let id = self.values.len();
        self.values.push(Value {
            id,
            name: name.to_string(),
            shape,
            elem: self.elem,
        });
        id
    }

    /// Add a layer reading `inputs` to the graph: its output value, cost, category and tensors
    /// (named by the scheme) are filled in here. Returns the output value.
    fn push(&mut self, mut layer: Layer, inputs: Vec<ValueId>) -> ValueId {
        let out = self.value(&layer.name, layer.output);
        layer.inputs = inputs;
        layer.output_value = out;
        layer.quantized = self.elem.is_quantized();
        if layer.quantized {
            self.check_quantizable(&layer);
        }
        let def = layer.op.def();
        let cost = def.cost(&layer);
        if let Some(what) = too_large(&layer, &cost) {
            let span = layer.name_span.clone();
            self.err(
                span,
                format!("layer `{}` is too large: {what}, more than the {MAX_TENSOR} values a tensor may have", layer.name),
                "this layer",
                Some("check the input size, `channels`, `kernel` and `alpha`; no MobileNet comes close to this".into()),
            );
            // The analysis fails; the layer stays so that later layers still get checked.
            self.layers.push(layer);
            return out;
        }
        layer.cost = cost;
        layer.category = def.category(&layer);
        let site = Site {
            layer: &layer.name,
            block: &layer.block,
            part: layer.part,
            batch_norm: layer.op.conv().is_some_and(|c| c.batch_norm.is_some()),
        };
        layer.tensors = def.tensors(&layer, &site, self.scheme);
        self.layers.push(layer);
        out
    }

    /// A quantized layer's parameters come from the model it was quantized from: batch norm
    /// folded, a bias (the `i32` accumulator's offset) always present.
    fn check_quantizable(&mut self, layer: &Layer) {
        let Some(c) = layer.op.conv() else { return };
        let span = layer.span.clone();
        if c.batch_norm.is_some() {
            self.err(
                span.clone(),
                format!("quantized layer `{}` has a batch norm", layer.name),
                "quantized layers have no batch norm",
                Some("a quantized model's batch norms are folded into its weights: set `batch_norm = false` (in `[defaults]`)".into()),
            );
        } else if !c.bias {
            self.err(
                span,
                format!("quantized layer `{}` has no bias", layer.name),
                "quantized convolutions carry an i32 bias",
                Some("set `bias = true` (in `[defaults]`); a model without one gets zeros".into()),
            );
        }
    }

    /// The conversion between the caller's `u8` arrays and the `i8` storage of a quantized
    /// network (exact: `q - 128` and back), as a layer.
    fn push_convert(
        &mut self,
        to_storage: bool,
        inp: ValueId,
        span: Range<usize>,
        spec_index: usize,
    ) -> ValueId {
        let shape = self.values[inp].shape;
        let name = if to_storage {
            "input_to_i8"
        } else {
            "output_to_u8"
        };
        let layer = Layer {
            name: name.into(),
            block: name.into(),
            spec_index,
            span: span.clone(),
            name_span: span,
            part: Part::Whole,
            op: Op::Convert { to_storage },
            input: shape,
            output: shape,
            inputs: Vec::new(),
            output_value: 0,
            tensors: Vec::new(),
            cost: Cost::default(),
            category: String::new(),
            in_place: false,
            quantized: true,
        };
        let out = self.push(layer, vec![inp]);
        if !to_storage {
            self.values[out].elem = ElemType::U8;
        }
        out
    }

    /// Lower one (expanded) spec layer reading value `inp` into the graph. Returns its output
    /// value, or `None` after reporting an error.
    fn lower(
        &mut self,
        ls: &LayerSpec,
        name: &str,
        inp: ValueId,
        w: Widths,
        d: &crate::spec::Defaults,
    ) -> Option<ValueId> {
        if ls.kind.value == LayerKind::InvertedResidual {
            return self.inverted_residual(ls, name, inp, w, d);
        }
        let shape = self.values[inp].shape;
        let mut cur = inp;
        for l in self.layer(ls, name, shape, w, d)? {
            cur = self.push(l, vec![cur]);
        }
        Some(cur)
    }

    /// The settings a conv-like layer inherits from `[defaults]` and the scheme.
    fn conv_settings(&self, ls: &LayerSpec, d: &crate::spec::Defaults) -> ConvSettings {
        let bias = ls
            .bias
            .as_ref()
            .or(d.bias.as_ref())
            .is_some_and(|b| b.value);
        let bn = ls
            .batch_norm
            .as_ref()
            .or(d.batch_norm.as_ref())
            .is_none_or(|b| b.value);
        let eps = ls
            .bn_epsilon
            .as_ref()
            .or(d.bn_epsilon.as_ref())
            .map_or(self.scheme.default_bn_epsilon(), |e| e.value);
        let act = ls
            .activation
            .as_ref()
            .or(d.activation.as_ref())
            .map_or(Activation::Relu, |a| a.value);
        let padding = ls
            .padding
            .as_ref()
            .or(d.padding.as_ref())
            .map_or(PaddingSpec::Same, |p| p.value);
        ConvSettings {
            bias,
            batch_norm: bn.then_some(eps),
            activation: act,
            padding,
            kernel: ls.kernel.as_ref().map_or([3, 3], |k| k.value),
            stride: ls.stride.as_ref().map_or([1, 1], |s| s.value),
        }
    }

    /// MobileNet v2's inverted residual block (Sandler et al. 2018, Table 1): a 1x1 expansion
    /// to `t * cin` channels (skipped when t = 1) with BN and activation, a depthwise conv with
    /// BN and activation, a linear 1x1 projection with BN, and a residual add when the stride
    /// is 1 and the input and output channels agree.
    fn inverted_residual(
        &mut self,
        ls: &LayerSpec,
        name: &str,
        inp: ValueId,
        w: Widths,
        d: &crate::spec::Defaults,
    ) -> Option<ValueId> {
        let x = self.values[inp].shape;
        let st = self.conv_settings(ls, d);
        let t = ls.expansion.as_ref().map_or(1, |e| e.value);
        let cout = w.channels(ls, ls.channels.as_ref()?.value);
        let expanded = t != 1;
        // The block's convolutions always have batch norm, unless `[defaults]` turns it off
        // (an imported model whose batch norms are folded, with biases instead).
        let folded = d.batch_norm.as_ref().is_some_and(|b| !b.value);
        let bn = if folded {
            None
        } else {
            st.batch_norm.or(Some(self.scheme.default_bn_epsilon()))
        };
        let bias = folded && st.bias;
        let conv = |kind, k, s, p, inp, cin, cout, activation| Conv {
            batch_norm: bn,
            bias,
            activation,
            ..Conv::new(kind, k, s, p, inp, cin, cout)
        };
        let mut cur = inp;
        let mut shape = x;
        if expanded {
            let hidden = x.c * t;
            let c = conv(
                ConvKind::Full,
                [1, 1],
                [1, 1],
                PaddingSpec::Valid,
                shape,
                x.c,
                hidden,
                st.activation,
            );
            let n = self.scheme.part_name(name, Part::Expand);
            let l = self.conv_layer(ls, n, name, shape, c, Part::Expand)?;
            shape = l.output;
            cur = self.push(l, vec![cur]);
        }
        let c = conv(
            ConvKind::Depthwise,
            st.kernel,
            st.stride,
            st.padding,
            shape,
            shape.c,
            shape.c,
            st.activation,
        );
        let part = Part::BottleneckDepthwise { expanded };
        let n = self.scheme.part_name(name, part);
        let l = self.conv_layer(ls, n, name, shape, c, part)?;
        shape = l.output;
        cur = self.push(l, vec![cur]);
        let c = conv(
            ConvKind::Full,
            [1, 1],
            [1, 1],
            PaddingSpec::Valid,
            shape,
            shape.c,
            cout,
            Activation::None,
        );
        let part = Part::Project { expanded };
        let n = self.scheme.part_name(name, part);
        let l = self.conv_layer(ls, n, name, shape, c, part)?;
        shape = l.output;
        cur = self.push(l, vec![cur]);
        // The skip connection needs the block's output to have its input's shape: stride 1,
        // the same channels, and padding that keeps the spatial size.
        let residual = match &ls.residual {
            Some(r) if r.value && shape != x => {
                let why = if st.stride != [1, 1] {
                    format!(
                        "its stride is {}x{}, so its output is smaller than its input",
                        st.stride[0], st.stride[1]
                    )
                } else if shape.c != x.c {
                    format!("its input has {} channels and its output {}", x.c, shape.c)
                } else {
                    format!(
                        "its padding changes the spatial size ({}x{} -> {}x{})",
                        x.h, x.w, shape.h, shape.w
                    )
                };
                self.err(
                    r.span.clone(),
                    format!("block `{name}`: `residual = true` needs the block's input and output to have the same shape, but {why}"),
                    "the skip connection cannot match",
                    Some(format!("remove `residual` (it is added whenever the shapes agree), or make the block keep its {x} input: stride 1, `channels` giving {}, padding \"same\"", x.c)),
                );
                return None;
            }
            Some(r) => r.value,
            None => shape == x,
        };
        if residual {
            let n = self.scheme.part_name(name, Part::ResidualAdd);
            let op = Op::Add {
                activation: Activation::None,
            };
            let l = node(ls, n, name, Part::ResidualAdd, op, x, shape);
            cur = self.push(l, vec![inp, cur]);
        }
        Some(cur)
    }

    /// Analyse one (expanded) chain-like spec layer at input shape `inp`. Returns the 1 or 2
    /// layers it becomes, or `None` after reporting an error.
    fn layer(
        &mut self,
        ls: &LayerSpec,
        name: &str,
        inp: Shape,
        w: Widths,
        d: &crate::spec::Defaults,
    ) -> Option<Vec<Layer>> {
        let kind = ls.kind.value;
        let span = ls.span.clone();
        let ConvSettings {
            bias,
            batch_norm,
            activation: act,
            padding,
            kernel,
            stride,
        } = self.conv_settings(ls, d);
        let channels = |c: usize| w.channels(ls, c);

        let mk = |kind, k, s, p, cin, cout| Conv {
            bias,
            batch_norm,
            activation: act,
            ..Conv::new(kind, k, s, p, inp, cin, cout)
        };
        match kind {
            LayerKind::Conv => {
                let cout = channels(ls.channels.as_ref()?.value);
                let conv = mk(ConvKind::Full, kernel, stride, padding, inp.c, cout);
                let l = self.conv_layer(ls, name.to_string(), name, inp, conv, Part::Whole)?;
                Some(vec![l])
            }
            LayerKind::Depthwise => {
                let conv = mk(ConvKind::Depthwise, kernel, stride, padding, inp.c, inp.c);
                Some(vec![self.conv_layer(
                    ls,
                    name.to_string(),
                    name,
                    inp,
                    conv,
                    Part::Whole,
                )?])
            }
            LayerKind::Pointwise => {
                let cout = channels(ls.channels.as_ref()?.value);
                let conv = mk(
                    ConvKind::Full,
                    [1, 1],
                    [1, 1],
                    PaddingSpec::Valid,
                    inp.c,
                    cout,
                );
                Some(vec![self.conv_layer(
                    ls,
                    name.to_string(),
                    name,
                    inp,
                    conv,
                    Part::Whole,
                )?])
            }
            LayerKind::Separable => {
                let cout = channels(ls.channels.as_ref()?.value);
                let dw = mk(ConvKind::Depthwise, kernel, stride, padding, inp.c, inp.c);
                let dw_name = self.scheme.part_name(name, Part::SepDepthwise);
                let l1 = self.conv_layer(ls, dw_name, name, inp, dw, Part::SepDepthwise)?;
                let mid = l1.output;
                let pw = Conv {
                    pad: Pad::default(),
                    padding_mode: PaddingMode::Valid,
                    ..mk(
                        ConvKind::Full,
                        [1, 1],
                        [1, 1],
                        PaddingSpec::Valid,
                        mid.c,
                        cout,
                    )
                };
                let pw_name = self.scheme.part_name(name, Part::SepPointwise);
                let l2 = self.conv_layer(ls, pw_name, name, mid, pw, Part::SepPointwise)?;
                Some(vec![l1, l2])
            }
            LayerKind::InvertedResidual => unreachable!("lowered by `inverted_residual`"),
            LayerKind::AvgPool => {
                let global = ls.global.as_ref().is_some_and(|g| g.value);
                let (op, out) = if global {
                    (
                        Op::GlobalAvgPool,
                        Shape {
                            h: 1,
                            w: 1,
                            c: inp.c,
                        },
                    )
                } else {
                    let k = ls.kernel.as_ref()?.value;
                    let s = ls.stride.as_ref().map_or(k, |s| s.value);
                    if k[0] > inp.h || k[1] > inp.w {
                        let kspan = ls.kernel.as_ref().map_or(span.clone(), |k| k.span.clone());
                        self.err(
                            kspan,
                            format!("pool `{name}` has a {}x{} window but its input is only {}x{}", k[0], k[1], inp.h, inp.w),
                            "pool larger than its input",
                            Some(format!("use `kernel = [{}, {}]` or `global = true` to average the whole {}x{} map", inp.h, inp.w, inp.h, inp.w)),
                        );
                        return None;
                    }
                    let oh = (inp.h - k[0]) / s[0] + 1;
                    let ow = (inp.w - k[1]) / s[1] + 1;
                    (
                        Op::AvgPool {
                            kh: k[0],
                            kw: k[1],
                            sh: s[0],
                            sw: s[1],
                        },
                        Shape {
                            h: oh,
                            w: ow,
                            c: inp.c,
                        },
                    )
                };
                Some(vec![node(
                    ls,
                    name.to_string(),
                    name,
                    Part::Whole,
                    op,
                    inp,
                    out,
                )])
            }
            LayerKind::Fc => {
                let inputs = inp.len();
                if inp.h * inp.w != 1 {
                    self.err(
                        ls.kind.span.clone(),
                        format!("`fc` layer `{name}` gets a {inp} feature map; it needs a 1x1 map (a vector)"),
                        "input is not a vector",
                        Some(format!("put an `avgpool` with `global = true` (or `kernel = [{}, {}]`) before it", inp.h, inp.w)),
                    );
                    return None;
                }
                if let Some(decl) = &ls.inputs {
                    if decl.value != inputs {
                        self.err(
                            decl.span.clone(),
                            format!("`fc` layer `{name}` declares `inputs = {}` but the previous layer gives {inputs} values ({inp})", decl.value),
                            "input size does not match",
                            Some(format!("set `inputs = {inputs}` or remove `inputs` (it is inferred); with a width multiplier the input shrinks too")),
                        );
                        return None;
                    }
                }
                let outputs = match (&ls.outputs, &self.spec.model.classes) {
                    (Some(o), _) => o.value,
                    (None, Some(c)) => c.value,
                    (None, None) => {
                        self.err(
                            ls.kind.span.clone(),
                            format!("`fc` layer `{name}` has no `outputs` and `[model]` has no `classes`"),
                            "output size unknown",
                            Some("add `outputs = 1000` here or `classes = 1000` to `[model]`".into()),
                        );
                        return None;
                    }
                };
                // FC bias and activation: the layer's own keys; defaults are for conv layers.
                let bias = ls.bias.as_ref().is_none_or(|b| b.value);
                let act = ls.activation.as_ref().map_or(Activation::None, |a| a.value);
                let op = Op::Fc {
                    inputs,
                    outputs,
                    bias,
                    activation: act,
                };
                let out = Shape {
                    h: 1,
                    w: 1,
                    c: outputs,
                };
                Some(vec![node(
                    ls,
                    name.to_string(),
                    name,
                    Part::Whole,
                    op,
                    inp,
                    out,
                )])
            }
            LayerKind::Softmax => {
                if inp.h * inp.w != 1 {
                    self.err(
                        ls.kind.span.clone(),
                        format!("`softmax` gets a {inp} feature map; it needs a vector"),
                        "input is not a vector",
                        Some("put `softmax` after the `fc` layer".into()),
                    );
                    return None;
                }
                let mut l = node(
                    ls,
                    name.to_string(),
                    name,
                    Part::Whole,
                    Op::Softmax,
                    inp,
                    inp,
                );
                l.in_place = true;
                Some(vec![l])
            }
        }
    }

    fn conv_layer(
        &mut self,
        ls: &LayerSpec,
        name: String,
        block: &str,
        inp: Shape,
        conv: Conv,
        part: Part,
    ) -> Option<Layer> {
        let oh = out_dim(inp.h, conv.kh, conv.sh, conv.pad.top, conv.pad.bottom);
        let ow = out_dim(inp.w, conv.kw, conv.sw, conv.pad.left, conv.pad.right);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            let kspan = ls
                .kernel
                .as_ref()
                .map_or(ls.kind.span.clone(), |k| k.span.clone());
            self.err(
                kspan,
                format!(
                    "layer `{name}`: a {}x{} kernel does not fit its {}x{} input (padding {}/{}/{}/{}): the output collapses to nothing",
                    conv.kh, conv.kw, inp.h, inp.w, conv.pad.top, conv.pad.bottom, conv.pad.left, conv.pad.right
                ),
                "output collapses to nothing",
                Some("use a smaller kernel or stride, padding = \"same\", or a larger input".into()),
            );
            return None;
        };
        let pad = conv.pad;
        if pad.top >= conv.kh
            || pad.bottom >= conv.kh
            || pad.left >= conv.kw
            || pad.right >= conv.kw
        {
            let pspan = ls
                .padding
                .as_ref()
                .map_or(ls.kind.span.clone(), |p| p.span.clone());
            // Allowed (PyTorch accepts it: the seed's conv1 pads 2 with a 3x3 kernel), but an
            // output row made only of padding is a sign of a mistake when it is larger still.
            if pad.top > conv.kh
                || pad.bottom > conv.kh
                || pad.left > conv.kw
                || pad.right > conv.kw
            {
                self.err(
                    pspan,
                    format!(
                        "layer `{name}`: padding {}/{}/{}/{} exceeds the {}x{} kernel",
                        pad.top, pad.bottom, pad.left, pad.right, conv.kh, conv.kw
                    ),
                    "padding larger than the kernel",
                    Some("border outputs would see only zeros; use at most the kernel size".into()),
                );
                return None;
            }
        }
        let out = Shape {
            h: oh,
            w: ow,
            c: conv.cout,
        };
        Some(node(ls, name, block, part, Op::Conv(conv), inp, out))
    }
}

fn name_span(ls: &LayerSpec) -> Range<usize> {
    ls.name
        .as_ref()
        .map_or(ls.kind.span.clone(), |n| n.span.clone())
}

/// A layer before it joins the graph ([`Analyzer::push`] fills in values, cost and tensors).
fn node(
    ls: &LayerSpec,
    name: String,
    block: &str,
    part: Part,
    op: Op,
    input: Shape,
    output: Shape,
) -> Layer {
    Layer {
        name,
        block: block.to_string(),
        spec_index: ls.index,
        span: ls.span.clone(),
        name_span: name_span(ls),
        part,
        op,
        input,
        output,
        inputs: Vec::new(),
        output_value: 0,
        tensors: Vec::new(),
        cost: Cost::default(),
        category: String::new(),
        in_place: false,
        quantized: false,
    }
}

/// The width multiplier and its rounding.
#[derive(Debug, Clone, Copy)]
struct Widths {
    alpha: f64,
    rounding: Rounding,
    min_channels: Option<usize>,
}

impl Widths {
    /// A layer's `channels` after the width multiplier (as its `scale_channels` says).
    fn channels(&self, ls: &LayerSpec, c: usize) -> usize {
        let scale = ls
            .scale_channels
            .as_ref()
            .map_or(ScaleChannels::Yes, |s| s.value);
        let apply = || self.rounding.apply(c, self.alpha, self.min_channels);
        match scale {
            ScaleChannels::Yes => apply(),
            ScaleChannels::No => c,
            ScaleChannels::Up if self.alpha > 1.0 => apply(),
            ScaleChannels::Up => c,
        }
    }
}

/// What a conv-like layer inherits from `[defaults]`.
struct ConvSettings {
    bias: bool,
    batch_norm: Option<f64>,
    activation: Activation,
    padding: PaddingSpec,
    kernel: [usize; 2],
    stride: [usize; 2],
}

/// Fuse every residual add into the pointwise conv producing one of its operands, when that
/// conv has no activation of its own, its output feeds only the add, and the other operand is
/// computed before it: the conv then reads the skip as a second input and computes
/// `act(conv(x) + skip)` in its epilogue (`kernels::pointwise_add`), with no extra pass.
/// Values are renumbered afterwards so that ids stay dense.
pub fn fuse_residual_adds(layers: &mut Vec<Layer>, values: &mut Vec<Value>) {
    let producer = |layers: &[Layer], v: ValueId| layers.iter().position(|l| l.output_value == v);
    let mut j = 0;
    while j < layers.len() {
        let Op::Add { activation } = layers[j].op else {
            j += 1;
            continue;
        };
        let (a, b) = (layers[j].inputs[0], layers[j].inputs[1]);
        let mut fused = false;
        for (v, other) in [(b, a), (a, b)] {
            let Some(p) = producer(layers, v) else {
                continue;
            };
            let other_before = producer(layers, other).is_none_or(|q| q < p);
            let single_use = layers.iter().filter(|l| l.inputs.contains(&v)).count() == 1;
            let fusable = layers[p].op.conv().is_some_and(|c| {
                c.is_pointwise() && !c.residual && c.activation == Activation::None
            });
            if v == other || !other_before || !single_use || !fusable {
                continue;
            }
            let add = layers.remove(j);
            let l = &mut layers[p];
            if let Op::Conv(c) = &mut l.op {
                c.residual = true;
                c.activation = activation;
            }
            l.inputs.push(other);
            l.output_value = add.output_value;
            values[add.output_value].name = l.name.clone();
            fused = true;
            break;
        }
        if !fused {
            j += 1;
        }
    }
    // Renumber: the input, then every layer's output in order.
    let mut remap = vec![usize::MAX; values.len()];
    let mut order = vec![0];
    order.extend(layers.iter().map(|l| l.output_value));
    let old = std::mem::take(values);
    for (new, &v) in order.iter().enumerate() {
        remap[v] = new;
        let mut val = old[v].clone();
        val.id = new;
        values.push(val);
    }
    for l in layers.iter_mut() {
        for i in l.inputs.iter_mut() {
            *i = remap[*i];
        }
        l.output_value = remap[l.output_value];
    }
}
