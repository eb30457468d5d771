//! Weights naming schemes: how the tensors of a layer are called and laid out in a weights
//! file. Each scheme is one implementation of [`NamingScheme`]; ops describe their tensors in a
//! scheme-neutral form ([`WeightKind`], [`Role`]) and the scheme turns them into names, shapes
//! and source layouts. A new importer's naming is a new scheme, not a new match in the analyser.

use mobilenet_runtime::pack::SrcLayout;

use crate::model::{Role, TensorBinding};
use crate::spec::Naming;

/// Which part of a spec block a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The whole block (`conv`, `depthwise`, `pointwise`, `fc` layers).
    Whole,
    /// A `separable` block's depthwise half.
    SepDepthwise,
    /// A `separable` block's pointwise half.
    SepPointwise,
    /// An `inverted_residual` block's expansion 1x1 conv.
    Expand,
    /// An `inverted_residual` block's depthwise conv (`expanded`: the block has an expansion).
    BottleneckDepthwise { expanded: bool },
    /// An `inverted_residual` block's linear projection 1x1 conv.
    Project { expanded: bool },
    /// An `inverted_residual` block's skip connection (no tensors).
    ResidualAdd,
}

/// A weight tensor in scheme-neutral terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightKind {
    /// A full convolution's `kh x kw x ci x co` weights.
    Conv {
        kh: usize,
        kw: usize,
        ci: usize,
        co: usize,
    },
    /// A depthwise convolution's `kh x kw x c` weights.
    Depthwise { kh: usize, kw: usize, c: usize },
    /// A fully connected layer's `inputs x outputs` weights.
    Fc { inputs: usize, outputs: usize },
}

/// Where a tensor belongs: the layer, its spec block and the part of the block.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    /// The layer's name (`Part::Whole`: the block's name).
    pub layer: &'a str,
    /// The spec block's name.
    pub block: &'a str,
    pub part: Part,
    /// The layer is followed by batch norm.
    pub batch_norm: bool,
}

/// One weights naming convention.
pub trait NamingScheme: Sync {
    /// The spec's `naming` value this scheme implements.
    fn id(&self) -> Naming;
    /// The batch norm epsilon the framework uses by default.
    fn default_bn_epsilon(&self) -> f64;
    /// The name of a part of block `block` (used as the layer's name).
    fn part_name(&self, block: &str, part: Part) -> String;
    /// Name, shape and layout of a layer's weight tensor.
    fn weight(&self, at: &Site<'_>, w: WeightKind) -> (String, Vec<usize>, SrcLayout);
    /// Name of a layer's bias vector.
    fn bias(&self, at: &Site<'_>) -> String;
    /// Name of one of a layer's batch norm vectors.
    fn batch_norm(&self, at: &Site<'_>, role: Role) -> String;
    /// Suffix of tensors a file of this framework holds that no layer uses (skipped on load).
    fn ignored_suffix(&self) -> Option<&'static str>;
}

/// The scheme of a spec's `naming`.
pub fn scheme(n: Naming) -> &'static dyn NamingScheme {
    match n {
        Naming::Pytorch => &Pytorch,
        Naming::TfSlim => &TfSlim,
    }
}

/// Tensor bindings for a layer: weight, then optional bias and batch norm of `c` channels.
pub fn bindings(
    scheme: &dyn NamingScheme,
    at: &Site<'_>,
    w: WeightKind,
    bias: bool,
    c: usize,
) -> Vec<TensorBinding> {
    let (name, shape, layout) = scheme.weight(at, w);
    let mut t = vec![TensorBinding {
        role: Role::Weight,
        name,
        shape,
        layout: Some(layout),
    }];
    let vector = |role, name| TensorBinding {
        role,
        name,
        shape: vec![c],
        layout: None,
    };
    if bias {
        t.push(vector(Role::Bias, scheme.bias(at)));
    }
    if at.batch_norm {
        for role in [Role::BnGamma, Role::BnBeta, Role::BnMean, Role::BnVar] {
            t.push(vector(role, scheme.batch_norm(at, role)));
        }
    }
    t
}

/// PyTorch `state_dict` names: a conv followed by batch norm is an `nn.Sequential(conv, bn,
/// act)` (`<name>.0.weight`, `<name>.1.running_mean`); separable halves are always Sequentials
/// (the seed's `SeparableConv2d`); an inverted residual is torchvision's `InvertedResidual`
/// (`<name>.conv.0.0.weight` ... `<name>.conv.2.weight`, `<name>.conv.3.*` for the projection's
/// BN). OIHW conv weights, `[C, 1, KH, KW]` depthwise, `[out, in]` linear.
pub struct Pytorch;

impl Pytorch {
    /// (conv prefix, batch norm prefix) of a layer.
    fn prefixes(at: &Site<'_>) -> (String, String) {
        let b = at.block;
        match at.part {
            Part::Whole if !at.batch_norm => (at.layer.to_string(), String::new()),
            Part::Whole | Part::SepDepthwise | Part::SepPointwise => {
                (format!("{}.0", at.layer), format!("{}.1", at.layer))
            }
            Part::Expand => (format!("{b}.conv.0.0"), format!("{b}.conv.0.1")),
            Part::BottleneckDepthwise { expanded } => {
                let i = usize::from(expanded);
                (format!("{b}.conv.{i}.0"), format!("{b}.conv.{i}.1"))
            }
            Part::Project { expanded } => {
                let i = 1 + usize::from(expanded);
                (format!("{b}.conv.{i}"), format!("{b}.conv.{}", i + 1))
            }
            Part::ResidualAdd => (String::new(), String::new()),
        }
    }
}

impl NamingScheme for Pytorch {
    fn id(&self) -> Naming {
        Naming::Pytorch
    }
    fn default_bn_epsilon(&self) -> f64 {
        1e-5
    }
    fn part_name(&self, block: &str, part: Part) -> String {
        match part {
            Part::Whole => block.to_string(),
            Part::SepDepthwise => format!("{block}.depthwise"),
            Part::SepPointwise => format!("{block}.pointwise"),
            Part::Expand => format!("{block}.expand"),
            Part::BottleneckDepthwise { .. } => format!("{block}.depthwise"),
            Part::Project { .. } => format!("{block}.project"),
            Part::ResidualAdd => format!("{block}.add"),
        }
    }
    fn weight(&self, at: &Site<'_>, w: WeightKind) -> (String, Vec<usize>, SrcLayout) {
        let p = Self::prefixes(at).0;
        match w {
            WeightKind::Conv { kh, kw, ci, co } => {
                (format!("{p}.weight"), vec![co, ci, kh, kw], SrcLayout::Oihw)
            }
            WeightKind::Depthwise { kh, kw, c } => {
                (format!("{p}.weight"), vec![c, 1, kh, kw], SrcLayout::Ochw1)
            }
            WeightKind::Fc { inputs, outputs } => (
                format!("{}.weight", at.layer),
                vec![outputs, inputs],
                SrcLayout::OutIn,
            ),
        }
    }
    fn bias(&self, at: &Site<'_>) -> String {
        format!("{}.bias", Self::prefixes(at).0)
    }
    fn batch_norm(&self, at: &Site<'_>, role: Role) -> String {
        let p = Self::prefixes(at).1;
        let suffix = match role {
            Role::BnGamma => "weight",
            Role::BnBeta => "bias",
            Role::BnMean => "running_mean",
            Role::BnVar => "running_var",
            _ => unreachable!("not a batch norm tensor"),
        };
        format!("{p}.{suffix}")
    }
    fn ignored_suffix(&self) -> Option<&'static str> {
        Some(mobilenet_runtime::load::PYTORCH_IGNORED_SUFFIX)
    }
}

/// TF-slim names: `<layer>/weights` (HWIO), `<layer>/depthwise_weights` (`[KH, KW, C, 1]`),
/// `<layer>/biases`, `<layer>/BatchNorm/{gamma,beta,moving_mean,moving_variance}`; separable
/// halves are `<block>_depthwise` / `<block>_pointwise` (mobilenet_v1), inverted residual parts
/// `<block>/expand`, `<block>/depthwise`, `<block>/project` (mobilenet_v2); an fc is a 1x1 conv
/// `[1, 1, in, out]`.
pub struct TfSlim;

impl NamingScheme for TfSlim {
    fn id(&self) -> Naming {
        Naming::TfSlim
    }
    fn default_bn_epsilon(&self) -> f64 {
        1e-3
    }
    fn part_name(&self, block: &str, part: Part) -> String {
        match part {
            Part::Whole => block.to_string(),
            Part::SepDepthwise => format!("{block}_depthwise"),
            Part::SepPointwise => format!("{block}_pointwise"),
            Part::Expand => format!("{block}/expand"),
            Part::BottleneckDepthwise { .. } => format!("{block}/depthwise"),
            Part::Project { .. } => format!("{block}/project"),
            Part::ResidualAdd => format!("{block}/add"),
        }
    }
    fn weight(&self, at: &Site<'_>, w: WeightKind) -> (String, Vec<usize>, SrcLayout) {
        let n = at.layer;
        match w {
            WeightKind::Conv { kh, kw, ci, co } => (
                format!("{n}/weights"),
                vec![kh, kw, ci, co],
                SrcLayout::Hwio,
            ),
            WeightKind::Depthwise { kh, kw, c } => (
                format!("{n}/depthwise_weights"),
                vec![kh, kw, c, 1],
                SrcLayout::Hwc1,
            ),
            WeightKind::Fc { inputs, outputs } => (
                format!("{n}/weights"),
                vec![1, 1, inputs, outputs],
                SrcLayout::Hwio,
            ),
        }
    }
    fn bias(&self, at: &Site<'_>) -> String {
        format!("{}/biases", at.layer)
    }
    fn batch_norm(&self, at: &Site<'_>, role: Role) -> String {
        let suffix = match role {
            Role::BnGamma => "gamma",
            Role::BnBeta => "beta",
            Role::BnMean => "moving_mean",
            Role::BnVar => "moving_variance",
            _ => unreachable!("not a batch norm tensor"),
        };
        format!("{}/BatchNorm/{suffix}", at.layer)
    }
    fn ignored_suffix(&self) -> Option<&'static str> {
        None
    }
}
