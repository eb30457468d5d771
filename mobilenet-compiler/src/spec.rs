//! The TOML spec language: parsing into a typed, spanned AST, with every key and type checked.
//!
//! This stage only checks what can be checked key by key (unknown keys, types, ranges, required
//! keys). Everything that needs the whole network (shapes, classes, names, budgets) is checked by
//! [`crate::analyze`]. Both stages collect all errors rather than stopping at the first.

use std::ops::Range;

/// The largest size a spec may give (channels, an input side, a kernel, a stride, a padding, a
/// repeat count, classes): far above any MobileNet, and small enough that every shape, cost and
/// memory computation the compiler makes on them stays exact in 64 bits.
pub const MAX_SIZE: usize = 1 << 16;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics, SourceFile};

/// A value with the byte span of its text in the spec file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Self { value, span }
    }
}

/// Activation after a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    None,
    Relu,
    Relu6,
}

impl Activation {
    /// The runtime's code of this activation (`mobilenet_runtime::ACT_*`).
    pub fn code(self) -> u8 {
        match self {
            Activation::None => mobilenet_runtime::ACT_NONE,
            Activation::Relu => mobilenet_runtime::ACT_RELU,
            Activation::Relu6 => mobilenet_runtime::ACT_RELU6,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Activation::None => "none",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
        }
    }
}

/// How spatial padding is given in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaddingSpec {
    /// TensorFlow "SAME": output = ceil(input / stride); the total padding is split with the
    /// smaller half on top/left (so a stride-2 layer on an even input pads 0 top/left, 1 bottom/right).
    Same,
    /// No padding.
    Valid,
    /// Symmetric `kernel / 2` on every side (PyTorch `padding=k//2`).
    Half,
    /// Explicit `[top, bottom, left, right]`.
    Explicit([usize; 4]),
}

pub use crate::ir::ElemType;

/// How `alpha * channels` is rounded to an integer channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Rounding {
    /// TF-slim `mobilenet_v1`: `max(floor(c * alpha), min_channels)` with `min_channels = 8`.
    TfSlim,
    /// `max(floor(c * alpha), min_channels)`, `min_channels` defaults to 1.
    Floor,
    /// `max(round_half_up(c * alpha), min_channels)`, `min_channels` defaults to 1.
    Round,
    /// Keras/TF `_make_divisible(c * alpha, 8)`: nearest multiple of 8, at least 8, and never
    /// more than 10% below `c * alpha`.
    DivisibleBy8,
}

impl Rounding {
    pub const NAMES: [&'static str; 4] = ["tf-slim", "floor", "round", "divisible-by-8"];

    pub fn apply(self, channels: usize, alpha: f64, min_channels: Option<usize>) -> usize {
        let v = channels as f64 * alpha;
        // A tiny tolerance keeps e.g. 0.75 * 32 = 24 exact even when alpha is not exactly
        // representable (TF-slim evaluates `int(d * depth_multiplier)` the same way in binary,
        // and for the alphas in use the products are exact).
        match self {
            Rounding::TfSlim => ((v + 1e-9).floor() as usize).max(min_channels.unwrap_or(8)),
            Rounding::Floor => ((v + 1e-9).floor() as usize).max(min_channels.unwrap_or(1)),
            Rounding::Round => ((v + 0.5).floor() as usize).max(min_channels.unwrap_or(1)),
            Rounding::DivisibleBy8 => {
                let d = 8.0;
                let min = min_channels.unwrap_or(8) as f64;
                let mut n = min.max(((v + d / 2.0) / d).floor() * d);
                if n < 0.9 * v {
                    n += d;
                }
                n as usize
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::TfSlim => "tf-slim",
            Rounding::Floor => "floor",
            Rounding::Round => "round",
            Rounding::DivisibleBy8 => "divisible-by-8",
        }
    }
}

/// Naming and layout convention of the weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Naming {
    /// PyTorch `state_dict` names (`conv1.weight`, `separable_conv2.depthwise.1.running_mean`,
    /// `fc.weight`), OIHW conv weights, `[out, in]` linear weights.
    Pytorch,
    /// TF-slim names (`MobilenetV1/Conv2d_1_depthwise/depthwise_weights`,
    /// `.../BatchNorm/moving_mean`), HWIO conv weights, HWC1 depthwise weights.
    TfSlim,
}

impl Naming {
    pub fn as_str(self) -> &'static str {
        match self {
            Naming::Pytorch => "pytorch",
            Naming::TfSlim => "tf-slim",
        }
    }
}

/// The `[model]` table.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: Option<Sp<String>>,
    pub input: Option<Sp<[usize; 3]>>,
    pub resolution: Option<Sp<[usize; 2]>>,
    pub rho: Option<Sp<f64>>,
    pub alpha: Option<Sp<f64>>,
    pub channel_rounding: Option<Sp<Rounding>>,
    pub min_channels: Option<Sp<usize>>,
    pub classes: Option<Sp<usize>>,
    pub naming: Option<Sp<Naming>>,
    pub labels_offset: Option<Sp<usize>>,
    /// The activations' element type (`f32`, or quantized `u8` / `i8`).
    pub element: Option<Sp<ElemType>>,
    /// The type of the network's input and output arrays (quantized networks; default: the
    /// element type).
    pub io: Option<Sp<ElemType>>,
    /// Keys present in `[model]` (valid or not), so that analysis does not report a key as
    /// missing when it was given but invalid.
    pub present: Vec<String>,
    /// Span of the `[model]` header (or of the document start when absent).
    pub span: Range<usize>,
}

/// The `[defaults]` table: values every conv-like layer inherits unless it overrides them.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub bias: Option<Sp<bool>>,
    pub batch_norm: Option<Sp<bool>>,
    pub activation: Option<Sp<Activation>>,
    pub bn_epsilon: Option<Sp<f64>>,
    pub padding: Option<Sp<PaddingSpec>>,
}

/// The `[budget]` table.
#[derive(Debug, Clone, Default)]
pub struct BudgetSpec {
    pub max_mult_adds: Option<Sp<u64>>,
    pub max_params: Option<Sp<u64>>,
    pub max_arena_bytes: Option<Sp<u64>>,
}

/// Kinds of `[[layer]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    Conv,
    Separable,
    Depthwise,
    Pointwise,
    AvgPool,
    Fc,
    Softmax,
    /// MobileNet v2's inverted residual block with a linear bottleneck.
    InvertedResidual,
}

/// Whether the width multiplier applies to a layer's channels (`scale_channels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleChannels {
    /// `true` (the default): `channels * alpha`, rounded.
    Yes,
    /// `false`: the channels as written.
    No,
    /// `"up"`: only a multiplier above 1 applies (MobileNet v2 keeps its last 1x1 conv at 1280
    /// channels for alpha < 1, as the reference implementations do).
    Up,
}

impl LayerKind {
    pub const NAMES: [&'static str; 8] = [
        "conv",
        "separable",
        "depthwise",
        "pointwise",
        "avgpool",
        "fc",
        "softmax",
        "inverted_residual",
    ];

    fn from_str(s: &str) -> Option<Self> {
        Some(match s {
            "conv" => LayerKind::Conv,
            "separable" => LayerKind::Separable,
            "depthwise" => LayerKind::Depthwise,
            "pointwise" => LayerKind::Pointwise,
            "avgpool" => LayerKind::AvgPool,
            "fc" => LayerKind::Fc,
            "softmax" => LayerKind::Softmax,
            "inverted_residual" => LayerKind::InvertedResidual,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Keys a layer of this kind accepts (besides `name` and `type`).
    pub fn keys(self) -> &'static [&'static str] {
        const CONV_LIKE: &[&str] = &[
            "name",
            "type",
            "channels",
            "kernel",
            "stride",
            "padding",
            "bias",
            "batch_norm",
            "bn_epsilon",
            "activation",
            "repeat",
            "scale_channels",
        ];
        const DEPTHWISE: &[&str] = &[
            "name",
            "type",
            "kernel",
            "stride",
            "padding",
            "bias",
            "batch_norm",
            "bn_epsilon",
            "activation",
            "repeat",
        ];
        const POINTWISE: &[&str] = &[
            "name",
            "type",
            "channels",
            "bias",
            "batch_norm",
            "bn_epsilon",
            "activation",
            "repeat",
            "scale_channels",
        ];
        const INVERTED_RESIDUAL: &[&str] = &[
            "name",
            "type",
            "channels",
            "expansion",
            "kernel",
            "stride",
            "padding",
            "bn_epsilon",
            "activation",
            "repeat",
            "scale_channels",
            "residual",
        ];
        match self {
            LayerKind::InvertedResidual => INVERTED_RESIDUAL,
            LayerKind::Conv | LayerKind::Separable => CONV_LIKE,
            LayerKind::Depthwise => DEPTHWISE,
            LayerKind::Pointwise => POINTWISE,
            LayerKind::AvgPool => &["name", "type", "global", "kernel", "stride"],
            LayerKind::Fc => &["name", "type", "outputs", "inputs", "bias", "activation"],
            LayerKind::Softmax => &["name", "type"],
        }
    }
}

/// One `[[layer]]` table.
#[derive(Debug, Clone)]
pub struct LayerSpec {
    /// 0-based position among the `[[layer]]` tables.
    pub index: usize,
    pub kind: Sp<LayerKind>,
    pub name: Option<Sp<String>>,
    pub channels: Option<Sp<usize>>,
    pub kernel: Option<Sp<[usize; 2]>>,
    pub stride: Option<Sp<[usize; 2]>>,
    pub padding: Option<Sp<PaddingSpec>>,
    pub bias: Option<Sp<bool>>,
    pub batch_norm: Option<Sp<bool>>,
    pub bn_epsilon: Option<Sp<f64>>,
    pub activation: Option<Sp<Activation>>,
    pub repeat: Option<Sp<usize>>,
    pub scale_channels: Option<Sp<ScaleChannels>>,
    pub global: Option<Sp<bool>>,
    /// `inverted_residual`: expansion factor t.
    pub expansion: Option<Sp<usize>>,
    /// `inverted_residual`: `true` requires the skip connection (an error when the block's
    /// input and output cannot match), `false` omits it; absent: whenever stride is 1 and the
    /// channels agree.
    pub residual: Option<Sp<bool>>,
    pub outputs: Option<Sp<usize>>,
    pub inputs: Option<Sp<usize>>,
    /// Span of the whole table (used for errors about the layer as a whole).
    pub span: Range<usize>,
    /// True when a key of this layer had an error; analysis stops inferring shapes here so
    /// that one mistake does not cascade into many.
    pub broken: bool,
}

/// A parsed spec file.
#[derive(Debug, Clone)]
pub struct Spec {
    pub source: SourceFile,
    pub model: ModelSpec,
    pub defaults: Defaults,
    pub budget: BudgetSpec,
    pub layers: Vec<LayerSpec>,
    /// Span of the `layer` key (first `[[layer]]` header), for "no layers" style errors.
    pub layers_span: Range<usize>,
}

const TOP_KEYS: &[&str] = &["model", "defaults", "budget", "layer"];
const MODEL_KEYS: &[&str] = &[
    "name",
    "description",
    "input",
    "resolution",
    "rho",
    "alpha",
    "channel_rounding",
    "min_channels",
    "classes",
    "naming",
    "labels_offset",
    "element",
    "io",
];
const DEFAULT_KEYS: &[&str] = &["bias", "batch_norm", "activation", "bn_epsilon", "padding"];
const BUDGET_KEYS: &[&str] = &["max_mult_adds", "max_params", "max_arena_bytes"];

type Val<'i> = Spanned<DeValue<'i>>;

struct Ctx<'d> {
    file: String,
    diags: &'d mut Diagnostics,
    /// Set whenever an error is pushed; callers reset it to detect errors per layer.
    dirty: bool,
}

impl Ctx<'_> {
    fn err(
        &mut self,
        span: Range<usize>,
        msg: impl Into<String>,
        label: &str,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::error(&self.file, span, msg).with_label(label);
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.diags.push(d);
        self.dirty = true;
    }

    /// Report every key of `table` not in `allowed`.
    fn check_keys(&mut self, table: &DeTable<'_>, allowed: &[&str], what: &str) {
        for (k, _) in table.iter() {
            let key: &str = k.get_ref();
            if !allowed.contains(&key) {
                let help = match did_you_mean(key, allowed) {
                    Some(s) => format!(
                        "did you mean `{s}`? valid keys of {what}: {}",
                        allowed.join(", ")
                    ),
                    None => format!("valid keys of {what}: {}", allowed.join(", ")),
                };
                self.err(
                    k.span(),
                    format!("unknown key `{key}` in {what}"),
                    "unknown key",
                    Some(help),
                );
            }
        }
    }

    fn type_err(&mut self, key: &str, v: &Val<'_>, expected: &str, example: &str) {
        self.err(
            v.span(),
            format!(
                "`{key}` must be {expected}, found {}",
                describe(v.get_ref())
            ),
            &format!("expected {expected}"),
            Some(format!("for example `{key} = {example}`")),
        );
    }

    fn uint(&mut self, key: &str, v: &Val<'_>, min: u64, example: &str) -> Option<Sp<u64>> {
        match v.get_ref() {
            DeValue::Integer(i) => {
                let parsed = i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok();
                match parsed {
                    Some(n) if n >= 0 && n as u64 >= min => Some(Sp::new(n as u64, v.span())),
                    Some(n) => {
                        self.err(
                            v.span(),
                            format!("`{key}` must be at least {min}, found {n}"),
                            &format!("must be >= {min}"),
                            Some(format!("for example `{key} = {example}`")),
                        );
                        None
                    }
                    None => {
                        self.err(
                            v.span(),
                            format!("`{key}` is out of range"),
                            "too large",
                            None,
                        );
                        None
                    }
                }
            }
            _ => {
                let expected = if min > 0 {
                    "a positive integer"
                } else {
                    "a non-negative integer"
                };
                self.type_err(key, v, expected, example);
                None
            }
        }
    }

    /// A size (channels, a side, a kernel, a stride, a padding, a count): at most [`MAX_SIZE`].
    fn usize(&mut self, key: &str, v: &Val<'_>, min: u64, example: &str) -> Option<Sp<usize>> {
        let s = self.uint(key, v, min, example)?;
        if s.value > MAX_SIZE as u64 {
            self.err(
                s.span.clone(),
                format!("`{key}` must be at most {MAX_SIZE}, found {}", s.value),
                &format!("must be <= {MAX_SIZE}"),
                Some(format!("for example `{key} = {example}`")),
            );
            return None;
        }
        Some(Sp::new(s.value as usize, s.span))
    }

    fn float(&mut self, key: &str, v: &Val<'_>, example: &str) -> Option<Sp<f64>> {
        let f = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) if i.radix() == 10 => {
                i.as_str().replace('_', "").parse::<f64>().ok()
            }
            _ => None,
        };
        match f {
            Some(f) if f.is_finite() => Some(Sp::new(f, v.span())),
            _ => {
                self.type_err(key, v, "a finite number", example);
                None
            }
        }
    }

    fn boolean(&mut self, key: &str, v: &Val<'_>) -> Option<Sp<bool>> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
            _ => {
                self.type_err(key, v, "`true` or `false`", "true");
                None
            }
        }
    }

    fn string(&mut self, key: &str, v: &Val<'_>, example: &str) -> Option<Sp<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
            _ => {
                self.type_err(key, v, "a string", example);
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, key: &str, v: &Val<'_>, options: &[(&str, T)]) -> Option<Sp<T>> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        match v.get_ref() {
            DeValue::String(s) => {
                if let Some((_, t)) = options.iter().find(|(n, _)| *n == s.as_ref()) {
                    return Some(Sp::new(*t, v.span()));
                }
                let help = match did_you_mean(s, &names) {
                    Some(m) => format!("did you mean \"{m}\"? valid values: {list}"),
                    None => format!("valid values: {list}"),
                };
                self.err(
                    v.span(),
                    format!("unknown {key} \"{s}\""),
                    &format!("not a valid `{key}`"),
                    Some(help),
                );
                None
            }
            _ => {
                self.err(
                    v.span(),
                    format!("`{key}` must be a string, found {}", describe(v.get_ref())),
                    "expected a string",
                    Some(format!("valid values: {list}")),
                );
                None
            }
        }
    }

    /// An integer, or an array of `n` integers.
    fn uint_or_array<const N: usize>(
        &mut self,
        key: &str,
        v: &Val<'_>,
        min: u64,
        example: &str,
    ) -> Option<Sp<[usize; N]>> {
        match v.get_ref() {
            DeValue::Integer(_) => {
                let x = self.usize(key, v, min, example)?;
                Some(Sp::new([x.value; N], x.span))
            }
            DeValue::Array(items) if items.len() == N => {
                let mut out = [0usize; N];
                let mut ok = true;
                for (slot, item) in out.iter_mut().zip(items.iter()) {
                    match self.usize(key, item, min, example) {
                        Some(x) => *slot = x.value,
                        None => ok = false,
                    }
                }
                ok.then(|| Sp::new(out, v.span()))
            }
            DeValue::Array(items) => {
                self.err(
                    v.span(),
                    format!("`{key}` must be an integer or an array of {N} integers, found an array of {}", items.len()),
                    &format!("expected {N} values"),
                    Some(format!("for example `{key} = {example}`")),
                );
                None
            }
            _ => {
                self.type_err(
                    key,
                    v,
                    &format!("an integer or an array of {N} integers"),
                    example,
                );
                None
            }
        }
    }

    fn padding(&mut self, v: &Val<'_>) -> Option<Sp<PaddingSpec>> {
        const HELP: &str = "padding is \"same\" (TensorFlow), \"valid\", \"half\" (kernel/2 on every side), an integer for every side, [vertical, horizontal] or [top, bottom, left, right]";
        match v.get_ref() {
            DeValue::String(_) => self.choice(
                "padding",
                v,
                &[
                    ("same", PaddingSpec::Same),
                    ("valid", PaddingSpec::Valid),
                    ("half", PaddingSpec::Half),
                ],
            ),
            DeValue::Integer(_) => {
                let p = self.usize("padding", v, 0, "1")?;
                Some(Sp::new(PaddingSpec::Explicit([p.value; 4]), p.span))
            }
            DeValue::Array(items) if items.len() == 2 || items.len() == 4 => {
                let mut vals = Vec::new();
                for item in items.iter() {
                    vals.push(self.usize("padding", item, 0, "[0, 1, 0, 1]")?.value);
                }
                let p = if vals.len() == 2 {
                    [vals[0], vals[0], vals[1], vals[1]]
                } else {
                    [vals[0], vals[1], vals[2], vals[3]]
                };
                Some(Sp::new(PaddingSpec::Explicit(p), v.span()))
            }
            _ => {
                self.err(
                    v.span(),
                    format!("invalid padding: {}", describe(v.get_ref())),
                    "not a padding",
                    Some(HELP.to_string()),
                );
                None
            }
        }
    }

    fn scale_channels(&mut self, v: &Val<'_>) -> Option<Sp<ScaleChannels>> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(
                if *b {
                    ScaleChannels::Yes
                } else {
                    ScaleChannels::No
                },
                v.span(),
            )),
            DeValue::String(_) => self.choice("scale_channels", v, &[("up", ScaleChannels::Up)]),
            _ => {
                self.type_err("scale_channels", v, "`true`, `false` or \"up\"", "\"up\"");
                None
            }
        }
    }

    fn activation(&mut self, v: &Val<'_>) -> Option<Sp<Activation>> {
        self.choice(
            "activation",
            v,
            &[
                ("none", Activation::None),
                ("relu", Activation::Relu),
                ("relu6", Activation::Relu6),
            ],
        )
    }

    fn epsilon(&mut self, v: &Val<'_>) -> Option<Sp<f64>> {
        let e = self.float("bn_epsilon", v, "1e-3")?;
        // The runtime folds batch norm with an f32 epsilon: it must stay positive and finite
        // there (found by fuzzing: `1e53` became an infinite literal in the generated code).
        if e.value <= 0.0 || e.value > 1.0 || (e.value as f32) <= 0.0 {
            self.err(
                v.span(),
                format!("`bn_epsilon` must be in (1e-38, 1], found {:e}", e.value),
                "must be a small positive number",
                Some("PyTorch uses 1e-5, TF-slim 1e-3".into()),
            );
            return None;
        }
        Some(e)
    }
}

fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("the string \"{s}\""),
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(f) => format!("the number {f}"),
        DeValue::Boolean(b) => format!("`{b}`"),
        DeValue::Datetime(_) => "a date".into(),
        DeValue::Array(_) => "an array".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

/// Parse a spec file's text. Returns the spec (as far as it could be read) and all diagnostics.
/// `None` only when the TOML itself could not be parsed.
pub fn parse(path: &str, text: &str) -> (Option<Spec>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let source = SourceFile::new(path, text);
    diags.add_source(source.clone());
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            diags.push(
                Diagnostic::error(path, span, format!("invalid TOML: {}", e.message().trim()))
                    .with_label("TOML syntax error")
                    .with_help("see https://toml.io for the syntax; the spec language is described in the README"),
            );
            return (None, diags);
        }
    };
    let mut cx = Ctx {
        file: path.to_string(),
        diags: &mut diags,
        dirty: false,
    };
    let root = doc.get_ref();
    cx.check_keys(root, TOP_KEYS, "the spec (top level)");

    let find = |t: &'_ DeTable<'_>, key: &str| -> Option<Range<usize>> {
        t.iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span())
    };

    // [model]
    let mut model = ModelSpec {
        name: None,
        input: None,
        resolution: None,
        rho: None,
        alpha: None,
        channel_rounding: None,
        min_channels: None,
        classes: None,
        naming: None,
        labels_offset: None,
        element: None,
        io: None,
        present: Vec::new(),
        span: find(root, "model").unwrap_or(0..0),
    };
    if let Some(v) = root.get("model") {
        match v.get_ref() {
            DeValue::Table(t) => {
                cx.check_keys(t, MODEL_KEYS, "[model]");
                model.present = t.iter().map(|(k, _)| k.get_ref().to_string()).collect();
                for (k, v) in t.iter() {
                    match k.get_ref().as_ref() {
                        "name" => model.name = cx.string("name", v, "\"mobilenet_v1\""),
                        "description" => {
                            cx.string("description", v, "\"...\"");
                        }
                        "input" => {
                            model.input = match v.get_ref() {
                                DeValue::Array(a) if a.len() == 3 => {
                                    cx.uint_or_array::<3>("input", v, 1, "[224, 224, 3]")
                                }
                                _ => {
                                    cx.type_err(
                                        "input",
                                        v,
                                        "an array [height, width, channels]",
                                        "[224, 224, 3]",
                                    );
                                    None
                                }
                            }
                        }
                        "resolution" => {
                            model.resolution = cx.uint_or_array::<2>("resolution", v, 1, "160")
                        }
                        "rho" => {
                            model.rho = cx.float("rho", v, "0.714").and_then(|r| {
                                if r.value > 0.0 {
                                    Some(r)
                                } else {
                                    cx.err(
                                        r.span.clone(),
                                        format!("`rho` must be positive, found {}", r.value),
                                        "must be > 0",
                                        Some("the paper uses rho in (0, 1], e.g. 192/224".into()),
                                    );
                                    None
                                }
                            })
                        }
                        "alpha" => {
                            model.alpha = cx.float("alpha", v, "0.75").and_then(|a| {
                                if a.value > 0.0 && a.value <= 4.0 {
                                    Some(a)
                                } else {
                                    cx.err(
                                        a.span.clone(),
                                        format!(
                                            "width multiplier `alpha` must be in (0, 4], found {}",
                                            a.value
                                        ),
                                        "out of range",
                                        Some("MobileNet v1 uses alpha = 1, 0.75, 0.5 or 0.25; v2 also 1.4 and 0.35".into()),
                                    );
                                    None
                                }
                            })
                        }
                        "channel_rounding" => {
                            model.channel_rounding = cx.choice(
                                "channel_rounding",
                                v,
                                &[
                                    ("tf-slim", Rounding::TfSlim),
                                    ("floor", Rounding::Floor),
                                    ("round", Rounding::Round),
                                    ("divisible-by-8", Rounding::DivisibleBy8),
                                ],
                            )
                        }
                        "min_channels" => model.min_channels = cx.usize("min_channels", v, 1, "8"),
                        "classes" => model.classes = cx.usize("classes", v, 1, "1000"),
                        "naming" => {
                            model.naming = cx.choice(
                                "naming",
                                v,
                                &[("pytorch", Naming::Pytorch), ("tf-slim", Naming::TfSlim)],
                            )
                        }
                        "labels_offset" => {
                            model.labels_offset = cx.usize("labels_offset", v, 0, "1");
                        }
                        "element" => {
                            model.element = cx.choice(
                                "element",
                                v,
                                &[("f32", ElemType::F32), ("u8", ElemType::U8), ("i8", ElemType::I8)],
                            )
                        }
                        "io" => {
                            model.io = cx.choice(
                                "io",
                                v,
                                &[("u8", ElemType::U8), ("i8", ElemType::I8)],
                            )
                        }
                        _ => {}
                    }
                }
            }
            _ => cx.type_err("model", v, "a table", "{ input = [224, 224, 3] }"),
        }
    }
    if model.resolution.is_some() && model.rho.is_some() {
        let span = model
            .rho
            .as_ref()
            .map(|r| r.span.clone())
            .unwrap_or_default();
        cx.err(
            span,
            "`rho` and `resolution` both set",
            "conflicts with `resolution`",
            Some(
                "give the input size either as `resolution = 192` or as `rho = 0.857`, not both"
                    .into(),
            ),
        );
    }

    // [defaults]
    let mut defaults = Defaults::default();
    if let Some(v) = root.get("defaults") {
        match v.get_ref() {
            DeValue::Table(t) => {
                cx.check_keys(t, DEFAULT_KEYS, "[defaults]");
                for (k, v) in t.iter() {
                    match k.get_ref().as_ref() {
                        "bias" => defaults.bias = cx.boolean("bias", v),
                        "batch_norm" => defaults.batch_norm = cx.boolean("batch_norm", v),
                        "activation" => defaults.activation = cx.activation(v),
                        "bn_epsilon" => defaults.bn_epsilon = cx.epsilon(v),
                        "padding" => defaults.padding = cx.padding(v),
                        _ => {}
                    }
                }
            }
            _ => cx.type_err("defaults", v, "a table", "{ activation = \"relu\" }"),
        }
    }

    // [budget]
    let mut budget = BudgetSpec::default();
    if let Some(v) = root.get("budget") {
        match v.get_ref() {
            DeValue::Table(t) => {
                cx.check_keys(t, BUDGET_KEYS, "[budget]");
                for (k, v) in t.iter() {
                    match k.get_ref().as_ref() {
                        "max_mult_adds" => {
                            budget.max_mult_adds = cx.uint("max_mult_adds", v, 1, "600_000_000")
                        }
                        "max_params" => {
                            budget.max_params = cx.uint("max_params", v, 1, "5_000_000")
                        }
                        "max_arena_bytes" => {
                            budget.max_arena_bytes = cx.uint("max_arena_bytes", v, 1, "8_000_000")
                        }
                        _ => {}
                    }
                }
            }
            _ => cx.type_err("budget", v, "a table", "{ max_mult_adds = 600_000_000 }"),
        }
    }

    // [[layer]]
    let mut layers = Vec::new();
    let layers_span = find(root, "layer").unwrap_or(0..0);
    match root.get("layer") {
        None => cx.err(
            0..0,
            "the spec has no layers",
            "expected at least one `[[layer]]` table",
            Some("add layers as `[[layer]]` tables, e.g.\n[[layer]]\ntype = \"conv\"\nchannels = 32\nkernel = 3\nstride = 2".into()),
        ),
        Some(v) => match v.get_ref() {
            DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    match item.get_ref() {
                        DeValue::Table(t) => {
                            if let Some(l) = parse_layer(&mut cx, index, t, item.span()) {
                                layers.push(l);
                            }
                        }
                        _ => cx.type_err("layer", item, "a table", "{ type = \"conv\", channels = 32 }"),
                    }
                }
            }
            _ => cx.type_err("layer", v, "an array of tables (`[[layer]]`)", "[{ type = \"conv\" }]"),
        },
    }

    let spec = Spec {
        source,
        model,
        defaults,
        budget,
        layers,
        layers_span,
    };
    (Some(spec), diags)
}

fn parse_layer(
    cx: &mut Ctx<'_>,
    index: usize,
    t: &DeTable<'_>,
    span: Range<usize>,
) -> Option<LayerSpec> {
    cx.dirty = false;
    let what_n = index + 1;
    let kind = match t.get("type") {
        None => {
            // Point at the first key of the table, which is where the user will look.
            let at = t
                .iter()
                .next()
                .map(|(k, _)| k.span())
                .unwrap_or(span.clone());
            cx.err(
                at,
                format!("layer #{what_n} has no `type`"),
                "this layer needs `type = ...`",
                Some(format!("valid types: {}", LayerKind::NAMES.join(", "))),
            );
            return None;
        }
        Some(v) => {
            let opts: Vec<(&str, LayerKind)> = LayerKind::NAMES
                .iter()
                .map(|n| (*n, LayerKind::from_str(n).unwrap()))
                .collect();
            cx.choice("type", v, &opts)?
        }
    };
    let article = if kind.value.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let what = format!("{article} `{}` layer", kind.value.as_str());
    cx.check_keys(t, kind.value.keys(), &what);
    let mut l = LayerSpec {
        index,
        kind: kind.clone(),
        name: None,
        channels: None,
        kernel: None,
        stride: None,
        padding: None,
        bias: None,
        batch_norm: None,
        bn_epsilon: None,
        activation: None,
        repeat: None,
        scale_channels: None,
        global: None,
        expansion: None,
        residual: None,
        outputs: None,
        inputs: None,
        span,
        broken: false,
    };
    let allowed = kind.value.keys();
    for (k, v) in t.iter() {
        let key: &str = k.get_ref();
        if !allowed.contains(&key) {
            continue;
        }
        match key {
            "name" => {
                l.name = cx.string("name", v, "\"conv1\"").and_then(|n| {
                    if n.value.is_empty() {
                        cx.err(
                            n.span.clone(),
                            "layer name is empty",
                            "empty name",
                            Some("names bind weights, e.g. `name = \"conv1\"`".into()),
                        );
                        None
                    } else {
                        Some(n)
                    }
                })
            }
            "channels" => l.channels = cx.usize("channels", v, 1, "64"),
            "kernel" => l.kernel = cx.uint_or_array::<2>("kernel", v, 1, "3"),
            "stride" => l.stride = cx.uint_or_array::<2>("stride", v, 1, "2"),
            "padding" => l.padding = cx.padding(v),
            "bias" => l.bias = cx.boolean("bias", v),
            "batch_norm" => l.batch_norm = cx.boolean("batch_norm", v),
            "bn_epsilon" => l.bn_epsilon = cx.epsilon(v),
            "activation" => l.activation = cx.activation(v),
            "repeat" => l.repeat = cx.usize("repeat", v, 1, "5"),
            "scale_channels" => l.scale_channels = cx.scale_channels(v),
            "expansion" => l.expansion = cx.usize("expansion", v, 1, "6"),
            "residual" => l.residual = cx.boolean("residual", v),
            "global" => l.global = cx.boolean("global", v),
            "outputs" => l.outputs = cx.usize("outputs", v, 1, "1000"),
            "inputs" => l.inputs = cx.usize("inputs", v, 1, "1024"),
            _ => {}
        }
    }
    // Required keys.
    let needs_channels = matches!(
        kind.value,
        LayerKind::Conv | LayerKind::Separable | LayerKind::Pointwise | LayerKind::InvertedResidual
    );
    if needs_channels && l.channels.is_none() && t.get("channels").is_none() {
        cx.err(
            kind.span.clone(),
            format!("layer #{what_n} (`{}`) has no `channels`", kind.value.as_str()),
            "missing `channels`",
            Some("give the number of output channels before the width multiplier, e.g. `channels = 64`".into()),
        );
    }
    if kind.value == LayerKind::AvgPool {
        let global = l.global.as_ref().is_some_and(|g| g.value);
        if !global && t.get("global").is_none() && t.get("kernel").is_none() {
            cx.err(
                kind.span.clone(),
                format!("layer #{what_n} (`avgpool`) needs `global = true` or a `kernel`"),
                "missing `kernel`",
                Some("`global = true` averages the whole feature map; `kernel = 2` is PyTorch's AvgPool2d(2)".into()),
            );
        }
        if let (true, Some(k)) = (global, &l.kernel) {
            cx.err(
                k.span.clone(),
                "a global pool takes no `kernel`",
                "conflicts with `global = true`",
                Some("remove `kernel` (and `stride`), or set `global = false`".into()),
            );
        }
    }
    l.broken = cx.dirty;
    Some(l)
}
