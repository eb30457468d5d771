//! One module per op kind, each owning everything about its op: the report description and
//! Table 2 category, the cost (the paper's conventions), the weight tensors (through the
//! naming scheme), the runtime's load/pack entry, and the kernel call generated code makes.
//! [`crate::model`] builds layers from the spec and asks the op for the rest; codegen, reports,
//! weights files and the tests' kernel-shape list all go through [`OpDef`].
//!
//! Adding an op kind: a variant of [`Op`], a module here implementing [`OpDef`], its arm in
//! [`Op::def`], and (for a new kernel) the kernel in `mobilenet-runtime` with its scalar twin.

mod add;
mod conv2d;
mod convert;
mod depthwise;
mod fc;
mod pointwise;
mod pool;
pub mod quant;
mod softmax;

use proc_macro2::TokenStream;
use quote::quote;
use serde::Serialize;

use crate::model::{Cost, Layer, Pad, Shape, TensorBinding};
use crate::naming::{NamingScheme, Site};
use crate::spec::Activation;

pub use crate::model::{Conv, ConvKind};

/// What a layer computes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A convolution: full (`conv2d`, or `pointwise` when 1x1) or depthwise.
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
    /// Elementwise sum of two values, then the activation (a residual connection).
    Add {
        activation: Activation,
    },
    /// A quantized network's conversion between the caller's `u8` arrays and its `i8` storage
    /// (`to_storage`: the input; else the output).
    Convert {
        to_storage: bool,
    },
}

impl Op {
    /// The definition of this op's kind.
    pub fn def(&self) -> &'static dyn OpDef {
        match self {
            Op::Conv(c) => match c.kind {
                ConvKind::Depthwise => &depthwise::Depthwise,
                ConvKind::Full if c.is_pointwise() => &pointwise::Pointwise,
                ConvKind::Full => &conv2d::Conv2d,
            },
            Op::AvgPool { .. } => &pool::AvgPool,
            Op::GlobalAvgPool => &pool::GlobalAvgPool,
            Op::Fc { .. } => &fc::Fc,
            Op::Softmax => &softmax::Softmax,
            Op::Add { .. } => &add::Add,
            Op::Convert { .. } => &convert::Convert,
        }
    }

    /// The convolution, for conv ops.
    pub fn conv(&self) -> Option<&Conv> {
        match self {
            Op::Conv(c) => Some(c),
            _ => None,
        }
    }
}

/// A const generic argument of a kernel call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generic {
    Dim(usize),
    Act(Activation),
    /// A `bool` const generic (e.g. a fused pair's residual).
    Flag(bool),
}

/// How a kernel takes its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `kernel(x, weights, bias, y)`.
    Params,
    /// `kernel(x, y)`.
    Plain,
    /// `kernel(a, b, y)`.
    Binary,
    /// `kernel(a, b, weights, params, y)` (a quantized add).
    BinaryParams,
    /// `kernel(y)`: `y` holds input 0 on entry.
    InPlace,
    /// `kernel(x, weights, bias, y)` where `y` holds input 1 (the residual) on entry and `x` is
    /// input 0.
    ParamsAccumulate,
}

impl Form {
    /// The input whose value the output buffer must hold when the kernel starts.
    pub fn preloaded_input(self) -> Option<usize> {
        match self {
            Form::InPlace => Some(0),
            Form::ParamsAccumulate => Some(1),
            _ => None,
        }
    }
    /// The kernel reads packed parameters.
    pub fn has_params(self) -> bool {
        matches!(
            self,
            Form::Params | Form::ParamsAccumulate | Form::BinaryParams
        )
    }
}

/// One kernel call: `rt::kernels::<kernel>::<generics>(operands)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCall {
    /// The runtime kernel's name in `mobilenet_runtime::kernels`.
    pub kernel: &'static str,
    pub generics: Vec<Generic>,
    pub form: Form,
    /// The kernel dispatches to per-ISA variants (false: scalar only, nothing to compare).
    pub per_isa: bool,
}

impl KernelCall {
    /// For a quantized layer: the same dimensions through quantized kernel `kernel`, which
    /// reads packed parameters (and has no activation generic: its clamp is a parameter).
    pub(crate) fn quantized(mut self, l: &Layer, kernel: &'static str) -> KernelCall {
        if l.quantized {
            self.kernel = kernel;
            self.generics.retain(|g| matches!(g, Generic::Dim(_)));
            self.form = Form::Params;
            self.per_isa = false;
        }
        self
    }

    /// The const generics as Rust tokens (`{ rt::ACT_RELU }` for activations).
    pub fn generic_tokens(&self) -> Vec<TokenStream> {
        self.generics
            .iter()
            .map(|g| match *g {
                Generic::Dim(n) => {
                    let l = proc_macro2::Literal::usize_unsuffixed(n);
                    quote!(#l)
                }
                Generic::Act(a) => {
                    let c = match a {
                        Activation::None => quote!(rt::ACT_NONE),
                        Activation::Relu => quote!(rt::ACT_RELU),
                        Activation::Relu6 => quote!(rt::ACT_RELU6),
                    };
                    quote!({ #c })
                }
                Generic::Flag(b) => quote!(#b),
            })
            .collect()
    }

    /// The const generics as a comma-separated list of numbers (activation codes as the runtime
    /// defines them), e.g. for generated test code: `"12544, 32, 64, 1"`.
    pub fn generic_list(&self) -> String {
        self.generics
            .iter()
            .map(|g| match *g {
                Generic::Dim(n) => n.to_string(),
                Generic::Act(a) => a.code().to_string(),
                Generic::Flag(b) => b.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Everything about one op kind. The methods take the whole layer (its op, shapes and values).
pub trait OpDef: Sync {
    /// One-line description for reports, e.g. `Conv DW 3x3 s2`.
    fn describe(&self, l: &Layer) -> String;
    /// The paper's Table 2 category, e.g. `Conv 1x1`, `Conv DW 3x3`, `FC`.
    fn category(&self, l: &Layer) -> String;
    /// Mult-Adds (the paper's convention: conv `K·K·M·N·H·W`, depthwise `K·K·M·H·W`, fc `M·N`,
    /// pools, softmax and adds free) and parameter counts.
    fn cost(&self, l: &Layer) -> Cost;
    /// The tensors the weights file must hold for this layer.
    fn tensors(
        &self,
        _l: &Layer,
        _at: &Site<'_>,
        _scheme: &dyn NamingScheme,
    ) -> Vec<TensorBinding> {
        Vec::new()
    }
    /// How the runtime packs this layer's weights (none: the layer has no parameters).
    fn load_kind(&self, _l: &Layer) -> Option<mobilenet_runtime::load::Kind> {
        None
    }
    /// Fan-in of one output (for random weight initialization).
    fn fan_in(&self, _l: &Layer) -> usize {
        1
    }
    /// The spatial padding, for ops that pad.
    fn pad(&self, _l: &Layer) -> Option<Pad> {
        None
    }
    /// The kernel call of this layer.
    fn kernel(&self, l: &Layer) -> KernelCall;
    /// Whether the runtime's `kernels::par` has this layer's kernel split across threads (same
    /// name, generics and operands, the pool first): the threaded forward calls it.
    fn parallel(&self, _l: &Layer) -> bool {
        false
    }
}

/// `HxW` as used in several descriptions.
pub(crate) fn hw(s: Shape) -> usize {
    s.h * s.w
}

/// The `rt::load::Kind` value as tokens.
pub fn load_kind_tokens(k: mobilenet_runtime::load::Kind) -> TokenStream {
    use mobilenet_runtime::load::Kind;
    let l = proc_macro2::Literal::usize_unsuffixed;
    match k {
        Kind::Conv { kh, kw, ci, co } => {
            let (kh, kw, ci, co) = (l(kh), l(kw), l(ci), l(co));
            quote!(rt::load::Kind::Conv { kh: #kh, kw: #kw, ci: #ci, co: #co })
        }
        Kind::Pointwise { ci, co } => {
            let (ci, co) = (l(ci), l(co));
            quote!(rt::load::Kind::Pointwise { ci: #ci, co: #co })
        }
        Kind::Depthwise { kh, kw, c } => {
            let (kh, kw, c) = (l(kh), l(kw), l(c));
            quote!(rt::load::Kind::Depthwise { kh: #kh, kw: #kw, c: #c })
        }
        Kind::Fc { inputs, outputs } => {
            let (a, b) = (l(inputs), l(outputs));
            quote!(rt::load::Kind::Fc { inputs: #a, outputs: #b })
        }
        Kind::QConv { kh, kw, ci, co } => {
            let (kh, kw, ci, co) = (l(kh), l(kw), l(ci), l(co));
            quote!(rt::load::Kind::QConv { kh: #kh, kw: #kw, ci: #ci, co: #co })
        }
        Kind::QPointwise { ci, co } => {
            let (ci, co) = (l(ci), l(co));
            quote!(rt::load::Kind::QPointwise { ci: #ci, co: #co })
        }
        Kind::QDepthwise { kh, kw, c } => {
            let (kh, kw, c) = (l(kh), l(kw), l(c));
            quote!(rt::load::Kind::QDepthwise { kh: #kh, kw: #kw, c: #c })
        }
        Kind::QAdd => quote!(rt::load::Kind::QAdd),
        Kind::QAvgPool => quote!(rt::load::Kind::QAvgPool),
        Kind::QMean { count } => {
            let c = l(count);
            quote!(rt::load::Kind::QMean { count: #c })
        }
        Kind::QSoftmax => quote!(rt::load::Kind::QSoftmax),
    }
}

/// Every distinct kernel call of `net`, in layer order: the shapes the generated code
/// instantiates, which the tests compare per ISA and the benchmarks time.
pub fn kernel_calls(net: &crate::model::Network) -> Vec<KernelCall> {
    kernel_uses(net).into_iter().map(|u| u.call).collect()
}

/// A distinct kernel call of a network with the layers that make it.
#[derive(Debug, Clone)]
pub struct KernelUse {
    pub call: KernelCall,
    /// The first layer making this call.
    pub layer: String,
    /// Its description (`Conv DW 3x3 s2`) and shapes (`112x112x32 -> 56x56x32`).
    pub what: String,
    /// How many layers make it.
    pub count: usize,
    /// Mult-Adds of one call.
    pub mult_adds: u64,
}

/// Every distinct kernel call of `net` with its first layer and use count, in layer order.
pub fn kernel_uses(net: &crate::model::Network) -> Vec<KernelUse> {
    let mut out: Vec<KernelUse> = Vec::new();
    for l in &net.layers {
        let call = l.op.def().kernel(l);
        match out.iter_mut().find(|u| u.call == call) {
            Some(u) => u.count += 1,
            None => out.push(KernelUse {
                call,
                layer: l.name.clone(),
                what: format!("{} {} -> {}", l.op.def().describe(l), l.input, l.output),
                count: 1,
                mult_adds: l.cost.mult_adds,
            }),
        }
    }
    out
}
