//! Code generation: the analysed [`Network`] becomes a Rust module of fixed-size, straight-line
//! forward code over `mobilenet-runtime`'s kernels.
//!
//! Shape of the output (for a spec whose module is `net`):
//!
//! ```text
//! pub mod net {
//!     pub const INPUT_SHAPE, INPUT_LEN, OUTPUT_LEN, CLASSES, MULT_ADDS, PARAMS, ARENA_LEN, ...
//!     pub const LAYERS: &[LayerInfo]          // the cost table
//!     pub struct Model { params: Box<[f32]> } // packed weights, BN folded
//!     impl Model { from_safetensors, load_into, embedded, forward, ... }
//!     #[inline(never)] fn l01_conv1(p, x, y) { kernels::conv2d::<32, 32, 3, 34, 34, 32, ...>(..) }
//!     ...
//! }
//! ```
//!
//! Every layer is one `#[inline(never)]` function whose kernel call carries all dimensions as
//! const generics; `forward` is a list of those calls over a caller-owned scratch arena laid
//! out by the memory plan. No allocation, no loops, no interpretation in generated code.

use std::path::Path;

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::{ConvKind, Layout, Loc, Network, Op, Role};
use crate::spec::{Activation, Naming};

/// Options for [`generate`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Name of the generated module.
    pub module: String,
    /// Absolute path of the spec file, emitted as `include_bytes!` so edits rebuild.
    pub spec_path: Option<String>,
    /// Absolute path of a weights file to embed (already checked against the spec).
    pub weights_path: Option<String>,
    /// Extra files to track for rebuilds.
    pub tracked: Vec<String>,
}

/// Turn a spec file name or model name into a module identifier: `v1_alpha075.toml` ->
/// `v1_alpha075`, `MobileNet-v1` -> `mobilenet_v1`.
pub fn module_name(s: &str) -> String {
    let stem = Path::new(s)
        .file_stem()
        .map_or(s.to_string(), |x| x.to_string_lossy().into_owned());
    let mut out: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "m_");
    }
    out
}

const PACK_ALIGN: usize = 16;

fn align(n: usize) -> usize {
    n.div_ceil(PACK_ALIGN) * PACK_ALIGN
}

/// Where a layer's packed weight and bias live in the parameter buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    w_off: usize,
    w_len: usize,
    b_off: usize,
    b_len: usize,
}

fn act_const(a: Activation) -> TokenStream {
    match a {
        Activation::None => quote!(rt::ACT_NONE),
        Activation::Relu => quote!(rt::ACT_RELU),
        Activation::Relu6 => quote!(rt::ACT_RELU6),
    }
}

fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

fn ident_for(i: usize, name: &str) -> Ident {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_matches('_');
    let clean: String = clean
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    format_ident!("l{:02}_{}", i + 1, clean)
}

fn src_layout(l: Layout) -> TokenStream {
    match l {
        Layout::Oihw => quote!(rt::pack::SrcLayout::Oihw),
        Layout::Ochw1 => quote!(rt::pack::SrcLayout::Ochw1),
        Layout::Hwio => quote!(rt::pack::SrcLayout::Hwio),
        Layout::Hwc1 => quote!(rt::pack::SrcLayout::Hwc1),
        Layout::OutIn => quote!(rt::pack::SrcLayout::OutIn),
        Layout::Vector => quote!(rt::pack::SrcLayout::InOut),
    }
}

/// Generate the module for `net`.
pub fn generate(net: &Network, opts: &Options) -> TokenStream {
    let module = format_ident!("{}", opts.module);
    let report = crate::report::markdown(net);
    let total = net.total();

    // Parameter slots.
    let mut slots: Vec<Option<Slot>> = Vec::new();
    let mut packed = 0usize;
    for l in &net.layers {
        let (w_len, b_len) = match &l.op {
            Op::Conv(c) => match c.kind {
                ConvKind::Full if c.is_pointwise() => (
                    mobilenet_runtime::pack::pointwise_len(c.cin, c.cout),
                    c.cout,
                ),
                ConvKind::Full => (c.kh * c.kw * c.cin * c.cout, c.cout),
                ConvKind::Depthwise => (c.kh * c.kw * c.cin, c.cout),
            },
            Op::Fc {
                inputs, outputs, ..
            } => (inputs * outputs, *outputs),
            _ => {
                slots.push(None);
                continue;
            }
        };
        let w_off = packed;
        let b_off = align(w_off + w_len);
        packed = align(b_off + b_len);
        slots.push(Some(Slot {
            w_off,
            w_len,
            b_off,
            b_len,
        }));
    }

    // Layer functions and forward calls.
    let mut fns = Vec::new();
    let mut calls = Vec::new();
    let mut infos = Vec::new();
    let mut entries = Vec::new();
    let plan = &net.plan;
    // Location of the current activation: None = the caller's input.
    let mut cur: Option<Loc> = None;
    for (i, l) in net.layers.iter().enumerate() {
        let f = ident_for(i, &l.name);
        let (ih, iw, ic) = (lit(l.input.h), lit(l.input.w), lit(l.input.c));
        let (oh, ow, oc) = (lit(l.output.h), lit(l.output.w), lit(l.output.c));
        let doc = format!(
            "Layer {}: `{}` ({}), {} -> {}, {} Mult-Adds.",
            i + 1,
            l.name,
            crate::report::describe_op(&l.op),
            l.input,
            l.output,
            l.cost.mult_adds
        );
        let slot = slots[i];
        let wb = slot.map(|s| {
            let (w0, w1, b0, b1) = (
                lit(s.w_off),
                lit(s.w_off + s.w_len),
                lit(s.b_off),
                lit(s.b_off + s.b_len),
            );
            quote!(&p[#w0..#w1], &p[#b0..#b1])
        });
        let body = match &l.op {
            Op::Conv(c) => {
                let act = act_const(c.activation);
                let (kh, kw, sh, sw, pt, pl) = (
                    lit(c.kh),
                    lit(c.kw),
                    lit(c.sh),
                    lit(c.sw),
                    lit(c.pad.top),
                    lit(c.pad.left),
                );
                match c.kind {
                    ConvKind::Depthwise => quote! {
                        rt::kernels::depthwise::<#ih, #iw, #ic, #oh, #ow, #kh, #kw, #sh, #sw, #pt, #pl, { #act }>(x, #wb, y)
                    },
                    ConvKind::Full if c.is_pointwise() => {
                        let hw = lit(l.input.h * l.input.w);
                        quote! {
                            rt::kernels::pointwise::<#hw, #ic, #oc, { #act }>(x, #wb, y)
                        }
                    }
                    ConvKind::Full => quote! {
                        rt::kernels::conv2d::<#ih, #iw, #ic, #oh, #ow, #oc, #kh, #kw, #sh, #sw, #pt, #pl, { #act }>(x, #wb, y)
                    },
                }
            }
            Op::AvgPool { kh, kw, sh, sw } => {
                let (kh, kw, sh, sw) = (lit(*kh), lit(*kw), lit(*sh), lit(*sw));
                quote!(rt::kernels::avgpool::<#ih, #iw, #ic, #oh, #ow, #kh, #kw, #sh, #sw>(x, y))
            }
            Op::GlobalAvgPool => {
                let hw = lit(l.input.h * l.input.w);
                quote!(rt::kernels::global_avgpool::<#hw, #ic>(x, y))
            }
            Op::Fc {
                inputs,
                outputs,
                activation,
                ..
            } => {
                let act = act_const(*activation);
                let (n_in, n_out) = (lit(*inputs), lit(*outputs));
                quote!(rt::kernels::fully_connected::<#n_in, #n_out, { #act }>(x, #wb, y))
            }
            Op::Softmax => {
                let n = lit(l.output.len());
                quote!(rt::kernels::softmax::<#n>(y))
            }
        };
        if l.in_place {
            fns.push(quote! {
                #[doc = #doc]
                #[inline(never)]
                fn #f(y: &mut [f32]) { #body }
            });
        } else if slot.is_some() {
            fns.push(quote! {
                #[doc = #doc]
                #[inline(never)]
                fn #f(p: &[f32], x: &[f32], y: &mut [f32]) { #body }
            });
        } else {
            fns.push(quote! {
                #[doc = #doc]
                #[inline(never)]
                fn #f(x: &[f32], y: &mut [f32]) { #body }
            });
        }

        // The call in forward().
        let out_loc = plan.outputs[i];
        let p_arg = if slot.is_some() { quote!(p,) } else { quote!() };
        let call = if l.in_place {
            match out_loc {
                Loc::Output => quote!(#f(&mut output[..]);),
                Loc::Arena { offset, len } => {
                    let (a, b) = (lit(offset), lit(offset + len));
                    quote!(#f(&mut scratch[#a..#b]);)
                }
            }
        } else {
            match (cur, out_loc) {
                (None, Loc::Output) => quote!(#f(#p_arg &input[..], &mut output[..]);),
                (None, Loc::Arena { offset, len }) => {
                    let (a, b) = (lit(offset), lit(offset + len));
                    quote!(#f(#p_arg &input[..], &mut scratch[#a..#b]);)
                }
                (Some(Loc::Arena { offset, len }), Loc::Output) => {
                    let (a, b) = (lit(offset), lit(offset + len));
                    quote!(#f(#p_arg &scratch[#a..#b], &mut output[..]);)
                }
                (
                    Some(Loc::Arena {
                        offset: io,
                        len: il,
                    }),
                    Loc::Arena {
                        offset: oo,
                        len: ol,
                    },
                ) => {
                    let (io, il, oo, ol) = (lit(io), lit(il), lit(oo), lit(ol));
                    quote! {
                        {
                            let (x, y) = rt::arena::split(&mut scratch[..], #io, #il, #oo, #ol);
                            #f(#p_arg x, y);
                        }
                    }
                }
                (Some(Loc::Output), _) => {
                    unreachable!("the output buffer is only written by the last layers")
                }
            }
        };
        calls.push(call);
        if !l.in_place {
            cur = Some(out_loc);
        }

        // Cost table entry.
        let name = &l.name;
        let kind = crate::report::describe_op(&l.op);
        let (ma, pw) = (l.cost.mult_adds, l.cost.weights);
        infos.push(quote! {
            rt::LayerInfo { name: #name, op: #kind, input: [#ih, #iw, #ic], output: [#oh, #ow, #oc], mult_adds: #ma, params: #pw }
        });

        // Weight loading entry.
        if let Some(s) = slot {
            let find = |role: Role| l.tensors.iter().find(|t| t.role == role);
            let w = find(Role::Weight).expect("layers with slots have weights");
            let (wname, wlayout) = (&w.name, src_layout(w.layout));
            let wshape = w.shape.iter().map(|&d| lit(d));
            let opt = |role: Role| match find(role) {
                Some(t) => {
                    let n = &t.name;
                    quote!(Some(#n))
                }
                None => quote!(None),
            };
            let bias = opt(Role::Bias);
            let (kind, bn) = match &l.op {
                Op::Conv(c) => {
                    let (kh, kw, ci, co) = (lit(c.kh), lit(c.kw), lit(c.cin), lit(c.cout));
                    let kind = match c.kind {
                        ConvKind::Full if c.is_pointwise() => {
                            quote!(rt::load::Kind::Pointwise { ci: #ci, co: #co })
                        }
                        ConvKind::Full => {
                            quote!(rt::load::Kind::Conv { kh: #kh, kw: #kw, ci: #ci, co: #co })
                        }
                        ConvKind::Depthwise => {
                            quote!(rt::load::Kind::Depthwise { kh: #kh, kw: #kw, c: #co })
                        }
                    };
                    let bn = match c.batch_norm {
                        Some(eps) => {
                            let eps = eps as f32;
                            let (g, b, m, v) = (
                                opt(Role::BnGamma),
                                opt(Role::BnBeta),
                                opt(Role::BnMean),
                                opt(Role::BnVar),
                            );
                            quote!(Some(rt::load::BnNames { gamma: #g, beta: #b, mean: #m, var: #v, eps: #eps }))
                        }
                        None => quote!(None),
                    };
                    (kind, bn)
                }
                Op::Fc {
                    inputs, outputs, ..
                } => {
                    let (a, b) = (lit(*inputs), lit(*outputs));
                    (
                        quote!(rt::load::Kind::Fc { inputs: #a, outputs: #b }),
                        quote!(None),
                    )
                }
                _ => unreachable!(),
            };
            let (w0, wl, b0, bl) = (lit(s.w_off), lit(s.w_len), lit(s.b_off), lit(s.b_len));
            entries.push(quote! {
                rt::load::Entry {
                    layer: #name,
                    kind: #kind,
                    weight: #wname,
                    weight_layout: #wlayout,
                    weight_shape: &[#(#wshape),*],
                    bias: #bias,
                    bn: #bn,
                    w_off: #w0, w_len: #wl, b_off: #b0, b_len: #bl,
                }
            });
        }
    }

    // A network ending in softmax also gets `forward_logits`: the same calls without the
    // trailing in-place softmax.
    let trailing = net.layers.iter().rev().take_while(|l| l.in_place).count();
    let logit_calls = &calls[..calls.len() - trailing];
    let (logits_free, logits_method) = if trailing > 0 {
        (
            quote! {
                /// [`forward`] without the final softmax: `output` receives the logits.
                pub fn forward_logits(p: &[f32], input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN], scratch: &mut [f32; ARENA_LEN]) {
                    assert_eq!(p.len(), PACKED_LEN, "packed parameters must have PACKED_LEN values");
                    #(#logit_calls)*
                }
            },
            quote! {
                /// [`Model::forward`] without the final softmax: `output` receives the logits.
                pub fn forward_logits(&self, input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN], scratch: &mut [f32; ARENA_LEN]) {
                    forward_logits(self.params.as_slice(), input, output, scratch)
                }
            },
        )
    } else {
        (quote!(), quote!())
    };
    let (h, w, c) = (lit(net.input.h), lit(net.input.w), lit(net.input.c));
    let input_len = lit(net.input.len());
    let output_len = lit(net.output_len());
    let classes = lit(net.classes);
    let labels_offset = lit(net.labels_offset);
    let arena_len = lit(plan.arena_len);
    let packed_len = lit(packed);
    let (ma, pw, pt) = (total.mult_adds, total.weights, total.total_params());
    let name = &net.name;
    let ignore = match net.naming {
        Naming::Pytorch => quote!(Some(".num_batches_tracked")),
        Naming::TfSlim => quote!(None),
    };
    let tracked = opts.spec_path.iter().chain(opts.tracked.iter()).map(|p| {
        quote!(
            const _: &[u8] = include_bytes!(#p);
        )
    });
    let (embedded_static, embedded_impl) = match &opts.weights_path {
        Some(p) => (
            quote! {
                /// The weights file named in the macro call, embedded in the binary (64-byte
                /// aligned), as raw safetensors bytes (pack them with [`load_into`] or
                /// `Model::embedded`). It was checked against the spec when this code was compiled.
                pub static EMBEDDED_WEIGHTS: &rt::Aligned<[u8]> = &rt::Aligned(*include_bytes!(#p));
            },
            quote! {
                impl Model {
                    /// The model with the weights embedded at compile time, packed once (BN folded).
                    ///
                    /// The file was checked against the spec at compile time, so this cannot fail
                    /// unless the binary itself is corrupted.
                    pub fn embedded() -> Model {
                        match Model::from_safetensors(&EMBEDDED_WEIGHTS.0) {
                            Ok(m) => m,
                            Err(e) => panic!("embedded weights failed to load although they were checked at compile time: {}", e),
                        }
                    }
                }
            },
        ),
        None => (quote!(), quote!()),
    };
    let module_doc = format!(
        "MobileNet `{name}`, compiled ahead of time from `{}`.\n\nInput {} (NHWC f32), {} outputs. Every dimension below is a compile-time constant; \
         [`Model::forward`] runs one kernel call per layer and allocates nothing.\n\n{report}",
        net.spec_path,
        net.input,
        net.output_len()
    );

    quote! {
        #[doc = #module_doc]
        #[allow(dead_code, clippy::all, clippy::pedantic)]
        pub mod #module {
            use ::mobilenet_runtime as rt;
            #(#tracked)*

            /// Network name from the spec.
            pub const NAME: &str = #name;
            /// Input shape `[height, width, channels]` (NHWC, batch 1).
            pub const INPUT_SHAPE: [usize; 3] = [#h, #w, #c];
            /// Number of input values.
            pub const INPUT_LEN: usize = #input_len;
            /// Number of output values (class scores).
            pub const OUTPUT_LEN: usize = #output_len;
            /// Number of classes.
            pub const CLASSES: usize = #classes;
            /// Index of the first real class (1 when index 0 is TF-slim's "background").
            pub const LABELS_OFFSET: usize = #labels_offset;
            /// Total Mult-Adds (the paper's convention).
            pub const MULT_ADDS: u64 = #ma;
            /// Total weights (the paper's parameter count).
            pub const PARAMS: u64 = #pw;
            /// Every stored parameter: weights, biases and batch norm.
            pub const PARAMS_TOTAL: u64 = #pt;
            /// Scratch arena size in f32 values (see [`Model::forward`]).
            pub const ARENA_LEN: usize = #arena_len;
            /// Scratch arena size in bytes.
            pub const ARENA_BYTES: usize = #arena_len * 4;
            /// Packed parameter count (f32 values, BN folded, aligned per layer).
            pub const PACKED_LEN: usize = #packed_len;
            /// The compile-time cost report (markdown).
            pub const REPORT: &str = #report;
            /// Per-layer costs and shapes.
            pub const LAYERS: &[rt::LayerInfo] = &[#(#infos),*];

            const ENTRIES: &[rt::load::Entry] = &[#(#entries),*];
            const IGNORED_SUFFIX: Option<&str> = #ignore;

            /// Pack weights from a safetensors file into `params` (exactly [`PACKED_LEN`]
            /// values), folding batch norm. Allocation-free: usable without `alloc`.
            pub fn load_into(safetensors: &[u8], params: &mut [f32]) -> Result<(), rt::load::LoadError> {
                rt::load::load(safetensors, ENTRIES, IGNORED_SUFFIX, params)
            }

            /// Run the network on packed parameters (from [`load_into`]): `input` is NHWC f32,
            /// `output` receives the class scores, `scratch` holds the intermediate activations
            /// (see the memory plan in the module docs). Straight-line code, one call per layer,
            /// no allocation. This free function works without `alloc`; [`Model::forward`] wraps it.
            pub fn forward(p: &[f32], input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN], scratch: &mut [f32; ARENA_LEN]) {
                assert_eq!(p.len(), PACKED_LEN, "packed parameters must have PACKED_LEN values");
                #(#calls)*
            }

            #logits_free

            rt::__with_alloc! {
            /// The compiled network with its packed weights (BN folded), on the heap.
            pub struct Model {
                params: rt::load::Params,
            }

            impl Model {
                /// Load weights from the bytes of a safetensors file (checked tensor by tensor:
                /// a missing, unexpected, wrong-shape or wrong-dtype tensor is an error naming it).
                pub fn from_safetensors(bytes: &[u8]) -> Result<Model, rt::load::LoadError> {
                    let mut params = rt::load::Params::zeroed(PACKED_LEN);
                    load_into(bytes, params.as_mut_slice())?;
                    Ok(Model { params })
                }

                /// A scratch arena of [`ARENA_LEN`] values for [`Model::forward`], on the heap.
                pub fn new_scratch() -> rt::load::Scratch<#arena_len> {
                    rt::load::Scratch::new()
                }

                /// Run the network: `input` is NHWC f32, `output` receives the class scores.
                /// `scratch` holds the intermediate activations (see the memory plan in the
                /// module docs). Straight-line code, one call per layer, no allocation.
                pub fn forward(&self, input: &[f32; INPUT_LEN], output: &mut [f32; OUTPUT_LEN], scratch: &mut [f32; ARENA_LEN]) {
                    forward(self.params.as_slice(), input, output, scratch)
                }

                #logits_method

                /// The packed parameters ([`PACKED_LEN`] values).
                pub fn params(&self) -> &[f32] {
                    self.params.as_slice()
                }
            }

            #embedded_impl
            }

            #embedded_static

            #(#fns)*
        }
    }
}
