//! The analysed network: every layer with its shapes, padding, tensors, costs, and the memory
//! plan. Produced by [`analyze`] from a parsed [`Spec`]; consumed by reports, code generation
//! and weight import.

use std::ops::Range;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::{Activation, LayerKind, LayerSpec, Naming, PaddingSpec, Rounding, Sp, Spec};

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
    /// The padding as written (or inherited): "same", "valid", "half" or "explicit".
    pub padding_mode: &'static str,
    pub cin: usize,
    pub cout: usize,
    pub bias: bool,
    /// Batch norm epsilon, if the conv is followed by batch norm.
    pub batch_norm: Option<f64>,
    pub activation: Activation,
}

impl Conv {
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

/// What a layer computes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Conv(Conv),
    AvgPool {
        kh: usize,
        kw: usize,
        sh: usize,
        sw: usize,
    },
    GlobalAvgPool,
    Fc {
        inputs: usize,
        outputs: usize,
        bias: bool,
        activation: Activation,
    },
    Softmax,
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
}

/// Memory layout of a weight tensor in the weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// PyTorch conv weight `[out, in, kh, kw]`.
    Oihw,
    /// PyTorch depthwise weight `[channels, 1, kh, kw]`.
    Ochw1,
    /// TF conv weight `[kh, kw, in, out]` (also TF-slim's 1x1-conv logits).
    Hwio,
    /// TF depthwise weight `[kh, kw, channels, 1]`.
    Hwc1,
    /// PyTorch linear weight `[out, in]`.
    OutIn,
    /// A vector (bias or batch norm parameter).
    Vector,
}

/// One tensor the weights file must provide for a layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorBinding {
    pub role: Role,
    pub name: String,
    pub shape: Vec<usize>,
    pub layout: Layout,
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
    pub op: Op,
    pub input: Shape,
    pub output: Shape,
    pub tensors: Vec<TensorBinding>,
    pub cost: Cost,
    /// The paper's Table 2 category, e.g. "Conv 1x1", "Conv DW 3x3", "Conv 3x3", "FC".
    pub category: String,
    /// True when the layer computes in place on its input buffer (softmax).
    pub in_place: bool,
}

/// Where a layer's output lives while the forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "buffer", rename_all = "snake_case")]
pub enum Loc {
    /// In the scratch arena at `offset` (in f32 elements).
    Arena { offset: usize, len: usize },
    /// The caller's output array.
    Output,
}

/// The memory plan: where every activation lives.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPlan {
    /// Per analysed layer, where its output is written.
    pub outputs: Vec<Loc>,
    /// Scratch arena size in f32 elements (what the generated code asks the caller for).
    pub arena_len: usize,
    /// What the arena would be with two fixed ping-pong buffers (max even + max odd output).
    pub pingpong_len: usize,
    /// The naive plan: every activation (input included) in its own buffer.
    pub naive_len: usize,
    /// Offsets are aligned to this many f32 elements (64 bytes).
    pub align: usize,
}

impl MemoryPlan {
    pub fn arena_bytes(&self) -> u64 {
        self.arena_len as u64 * 4
    }
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
    pub layers: Vec<Layer>,
    pub plan: MemoryPlan,
    pub budget: Budget,
}

impl Network {
    pub fn output_len(&self) -> usize {
        self.layers.last().map_or(0, |l| l.output.len())
    }

    pub fn total(&self) -> Cost {
        let mut t = Cost::default();
        for l in &self.layers {
            t.mult_adds += l.cost.mult_adds;
            t.weights += l.cost.weights;
            t.biases += l.cost.biases;
            t.batch_norm += l.cost.batch_norm;
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

fn padding_mode(p: PaddingSpec) -> &'static str {
    match p {
        PaddingSpec::Same => "same",
        PaddingSpec::Valid => "valid",
        PaddingSpec::Half => "half",
        PaddingSpec::Explicit(_) => "explicit",
    }
}

struct Analyzer<'a> {
    spec: &'a Spec,
    diags: Diagnostics,
    naming: Naming,
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
fn expand_name(pattern: &str, position: usize) -> String {
    pattern
        .replace("{n}", &(position + 1).to_string())
        .replace("{i}", &position.to_string())
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
        naming,
    };
    let m = &spec.model;

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
    let mut layers: Vec<Layer> = Vec::new();
    let mut names: FxHashMap<String, Range<usize>> = FxHashMap::default();
    let mut cur: Option<Shape> = input;
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
                Some(n) => expand_name(&n.value, position),
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
            match a.layer(ls, &name, inp, alpha, rounding, min_channels, d) {
                Some(mut new_layers) => {
                    cur = new_layers.last().map(|l| l.output);
                    layers.append(&mut new_layers);
                }
                None => cur = None,
            }
        }
        if matches!(kind, LayerKind::Fc) {
            seen_fc_or_softmax = Some(ls.kind.span.clone());
        }
    }

    // Classes and final layer.
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
    let plan = plan_memory(&layers);
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
        layers,
        plan,
        budget,
    };
    check_budget(&mut a, &net);
    if a.diags.has_errors() {
        return Err(a.diags);
    }
    Ok(net)
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
    /// Analyse one (expanded) spec layer at input shape `inp`. Returns the 1 or 2 layers it
    /// becomes, or `None` after reporting an error.
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &mut self,
        ls: &LayerSpec,
        name: &str,
        inp: Shape,
        alpha: f64,
        rounding: Rounding,
        min_channels: Option<usize>,
        d: &crate::spec::Defaults,
    ) -> Option<Vec<Layer>> {
        let kind = ls.kind.value;
        let span = ls.span.clone();
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
        let eps = ls.bn_epsilon.as_ref().or(d.bn_epsilon.as_ref()).map_or(
            match self.naming {
                Naming::Pytorch => 1e-5,
                Naming::TfSlim => 1e-3,
            },
            |e| e.value,
        );
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
        let kernel = ls.kernel.as_ref().map_or([3, 3], |k| k.value);
        let stride = ls.stride.as_ref().map_or([1, 1], |s| s.value);
        let scale = ls.scale_channels.as_ref().is_none_or(|s| s.value);
        let channels = |c: usize| {
            if scale {
                rounding.apply(c, alpha, min_channels)
            } else {
                c
            }
        };
        let batch_norm = bn.then_some(eps);

        let mk = |kind: ConvKind,
                  k: [usize; 2],
                  s: [usize; 2],
                  p: PaddingSpec,
                  cin: usize,
                  cout: usize| Conv {
            kind,
            kh: k[0],
            kw: k[1],
            sh: s[0],
            sw: s[1],
            pad: resolve_padding(p, inp.h, inp.w, k[0], k[1], s[0], s[1]),
            padding_mode: padding_mode(p),
            cin,
            cout,
            bias,
            batch_norm,
            activation: act,
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
                let dw_name = match self.naming {
                    Naming::Pytorch => format!("{name}.depthwise"),
                    Naming::TfSlim => format!("{name}_depthwise"),
                };
                let l1 = self.conv_layer(ls, dw_name, name, inp, dw, Part::Depthwise)?;
                let mid = l1.output;
                let pw = Conv {
                    pad: Pad::default(),
                    padding_mode: "valid",
                    ..mk(
                        ConvKind::Full,
                        [1, 1],
                        [1, 1],
                        PaddingSpec::Valid,
                        mid.c,
                        cout,
                    )
                };
                let pw_name = match self.naming {
                    Naming::Pytorch => format!("{name}.pointwise"),
                    Naming::TfSlim => format!("{name}_pointwise"),
                };
                let l2 = self.conv_layer(ls, pw_name, name, mid, pw, Part::Pointwise)?;
                Some(vec![l1, l2])
            }
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
                Some(vec![Layer {
                    name: name.to_string(),
                    block: name.to_string(),
                    spec_index: ls.index,
                    span,
                    name_span: name_span(ls),
                    op,
                    input: inp,
                    output: out,
                    tensors: vec![],
                    cost: Cost::default(),
                    category: "Pool".into(),
                    in_place: false,
                }])
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
                let tensors = self.fc_tensors(name, inputs, outputs, bias);
                Some(vec![Layer {
                    name: name.to_string(),
                    block: name.to_string(),
                    spec_index: ls.index,
                    span,
                    name_span: name_span(ls),
                    op: Op::Fc {
                        inputs,
                        outputs,
                        bias,
                        activation: act,
                    },
                    input: inp,
                    output: Shape {
                        h: 1,
                        w: 1,
                        c: outputs,
                    },
                    tensors,
                    cost: Cost {
                        mult_adds: (inputs * outputs) as u64,
                        weights: (inputs * outputs) as u64,
                        biases: if bias { outputs as u64 } else { 0 },
                        batch_norm: 0,
                    },
                    category: "FC".into(),
                    in_place: false,
                }])
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
                Some(vec![Layer {
                    name: name.to_string(),
                    block: name.to_string(),
                    spec_index: ls.index,
                    span,
                    name_span: name_span(ls),
                    op: Op::Softmax,
                    input: inp,
                    output: inp,
                    tensors: vec![],
                    cost: Cost::default(),
                    category: "Softmax".into(),
                    in_place: true,
                }])
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
        let hw = (oh * ow) as u64;
        let (mult_adds, weights, category) = match conv.kind {
            ConvKind::Full => (
                (conv.kh * conv.kw * conv.cin * conv.cout) as u64 * hw,
                (conv.kh * conv.kw * conv.cin * conv.cout) as u64,
                format!("Conv {}x{}", conv.kh, conv.kw),
            ),
            ConvKind::Depthwise => (
                (conv.kh * conv.kw * conv.cin) as u64 * hw,
                (conv.kh * conv.kw * conv.cin) as u64,
                format!("Conv DW {}x{}", conv.kh, conv.kw),
            ),
        };
        let cost = Cost {
            mult_adds,
            weights,
            biases: if conv.bias { conv.cout as u64 } else { 0 },
            batch_norm: if conv.batch_norm.is_some() {
                4 * conv.cout as u64
            } else {
                0
            },
        };
        let tensors = self.conv_tensors(block, &name, &conv, part);
        Some(Layer {
            name,
            block: block.to_string(),
            spec_index: ls.index,
            span: ls.span.clone(),
            name_span: name_span(ls),
            op: Op::Conv(conv),
            input: inp,
            output: out,
            tensors,
            cost,
            category,
            in_place: false,
        })
    }

    fn conv_tensors(&self, block: &str, name: &str, conv: &Conv, part: Part) -> Vec<TensorBinding> {
        let mut t = Vec::new();
        let c = conv.cout;
        let vector = |role, name: String| TensorBinding {
            role,
            name,
            shape: vec![c],
            layout: Layout::Vector,
        };
        match self.naming {
            Naming::Pytorch => {
                // A conv followed by BN is an nn.Sequential(conv, bn, act): `.0` and `.1`.
                // Separable halves are always Sequentials (the seed's SeparableConv2d).
                let sequential = conv.batch_norm.is_some() || part != Part::Whole;
                let (conv_p, bn_p) = if sequential {
                    (format!("{name}.0"), format!("{name}.1"))
                } else {
                    (name.to_string(), String::new())
                };
                let (shape, layout) = match conv.kind {
                    ConvKind::Full => (vec![c, conv.cin, conv.kh, conv.kw], Layout::Oihw),
                    ConvKind::Depthwise => (vec![c, 1, conv.kh, conv.kw], Layout::Ochw1),
                };
                t.push(TensorBinding {
                    role: Role::Weight,
                    name: format!("{conv_p}.weight"),
                    shape,
                    layout,
                });
                if conv.bias {
                    t.push(vector(Role::Bias, format!("{conv_p}.bias")));
                }
                if conv.batch_norm.is_some() {
                    t.push(vector(Role::BnGamma, format!("{bn_p}.weight")));
                    t.push(vector(Role::BnBeta, format!("{bn_p}.bias")));
                    t.push(vector(Role::BnMean, format!("{bn_p}.running_mean")));
                    t.push(vector(Role::BnVar, format!("{bn_p}.running_var")));
                }
            }
            Naming::TfSlim => {
                let _ = block;
                let (wname, shape, layout) = match conv.kind {
                    ConvKind::Full => (
                        format!("{name}/weights"),
                        vec![conv.kh, conv.kw, conv.cin, c],
                        Layout::Hwio,
                    ),
                    ConvKind::Depthwise => (
                        format!("{name}/depthwise_weights"),
                        vec![conv.kh, conv.kw, c, 1],
                        Layout::Hwc1,
                    ),
                };
                t.push(TensorBinding {
                    role: Role::Weight,
                    name: wname,
                    shape,
                    layout,
                });
                if conv.bias {
                    t.push(vector(Role::Bias, format!("{name}/biases")));
                }
                if conv.batch_norm.is_some() {
                    t.push(vector(Role::BnGamma, format!("{name}/BatchNorm/gamma")));
                    t.push(vector(Role::BnBeta, format!("{name}/BatchNorm/beta")));
                    t.push(vector(
                        Role::BnMean,
                        format!("{name}/BatchNorm/moving_mean"),
                    ));
                    t.push(vector(
                        Role::BnVar,
                        format!("{name}/BatchNorm/moving_variance"),
                    ));
                }
            }
        }
        t
    }

    fn fc_tensors(
        &self,
        name: &str,
        inputs: usize,
        outputs: usize,
        bias: bool,
    ) -> Vec<TensorBinding> {
        let (w, b, shape, layout) = match self.naming {
            Naming::Pytorch => (
                format!("{name}.weight"),
                format!("{name}.bias"),
                vec![outputs, inputs],
                Layout::OutIn,
            ),
            Naming::TfSlim => (
                format!("{name}/weights"),
                format!("{name}/biases"),
                vec![1, 1, inputs, outputs],
                Layout::Hwio,
            ),
        };
        let mut t = vec![TensorBinding {
            role: Role::Weight,
            name: w,
            shape,
            layout,
        }];
        if bias {
            t.push(TensorBinding {
                role: Role::Bias,
                name: b,
                shape: vec![outputs],
                layout: Layout::Vector,
            });
        }
        t
    }
}

fn name_span(ls: &LayerSpec) -> Range<usize> {
    ls.name
        .as_ref()
        .map_or(ls.kind.span.clone(), |n| n.span.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Whole,
    Depthwise,
    Pointwise,
}

/// Plan activation memory for a chain of layers.
///
/// The network input is the caller's array and the last value-producing layer writes straight
/// into the caller's output array (softmax then runs in place there). Every other output lives
/// in one scratch arena, alternately at its start and at its end ("two-ended" placement): a
/// layer's input and output never overlap, and the arena only needs to hold the largest
/// *adjacent pair* of activations, which is never more than two ping-pong buffers (max of even
/// outputs + max of odd outputs) and far less than the sum of all activations.
pub fn plan_memory(layers: &[Layer]) -> MemoryPlan {
    const ALIGN: usize = 16; // f32 elements = 64 bytes
    let round = |n: usize| n.div_ceil(ALIGN) * ALIGN;
    // The last layer that is not in place writes to the output.
    let last_producer = layers.iter().rposition(|l| !l.in_place);
    let mut outputs = Vec::with_capacity(layers.len());
    // Sizes of arena-resident outputs, in order.
    let mut arena_sizes: Vec<usize> = Vec::new();
    let mut arena_of_layer: Vec<Option<usize>> = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        if Some(i) == last_producer || (l.in_place && last_producer.is_some_and(|p| i > p)) {
            arena_of_layer.push(None);
        } else if l.in_place {
            // In place on the previous arena buffer.
            arena_of_layer.push(arena_sizes.len().checked_sub(1));
        } else {
            arena_sizes.push(round(l.output.len()));
            arena_of_layer.push(Some(arena_sizes.len() - 1));
        }
    }
    let mut arena_len = arena_sizes.iter().copied().max().unwrap_or(0);
    for pair in arena_sizes.windows(2) {
        arena_len = arena_len.max(pair[0] + pair[1]);
    }
    for (i, l) in layers.iter().enumerate() {
        let _ = l;
        outputs.push(match arena_of_layer[i] {
            None => Loc::Output,
            Some(k) => {
                let len = arena_sizes[k];
                let offset = if k.is_multiple_of(2) {
                    0
                } else {
                    arena_len - len
                };
                Loc::Arena {
                    offset,
                    len: layers[i].output.len(),
                }
            }
        });
    }
    let max_even = arena_sizes.iter().step_by(2).copied().max().unwrap_or(0);
    let max_odd = arena_sizes
        .iter()
        .skip(1)
        .step_by(2)
        .copied()
        .max()
        .unwrap_or(0);
    let naive_len = layers.first().map_or(0, |l| l.input.len())
        + layers
            .iter()
            .filter(|l| !l.in_place)
            .map(|l| l.output.len())
            .sum::<usize>();
    MemoryPlan {
        outputs,
        arena_len,
        pingpong_len: max_even + max_odd,
        naive_len,
        align: ALIGN,
    }
}
