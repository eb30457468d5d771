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

use crate::model::{Loc, Network, Role};
use crate::ops::{load_kind_tokens, Form, Generic, KernelCall};

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

fn align(n: usize) -> usize {
    n.div_ceil(mobilenet_runtime::load::PARAM_ALIGN) * mobilenet_runtime::load::PARAM_ALIGN
}

/// Where a layer's packed weight and bias live in the parameter buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    w_off: usize,
    w_len: usize,
    b_off: usize,
    b_len: usize,
}

/// A network's packed parameter layout and its weights table: per layer its slot (if it has
/// weights), and the runtime's own [`Entry`](mobilenet_runtime::load::Entry) values, which the
/// generated code embeds as constants and the compile-time weights check runs the runtime's
/// loader with, so both accept exactly the same files.
pub struct LoadTable {
    slots: Vec<Option<Slot>>,
    /// One entry per layer with weights.
    pub entries: Vec<mobilenet_runtime::load::Entry>,
    /// The packed parameter buffer's length (f32 values).
    pub packed_len: usize,
}

/// The `'static` names an [`Entry`](mobilenet_runtime::load::Entry) holds: leaked, a few bytes
/// per tensor, once per compiled network (the macro and build scripts are short-lived).
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

/// The load table of `net`.
pub fn load_table(net: &Network) -> LoadTable {
    use mobilenet_runtime::load::{BnNames, Entry};
    let mut slots = Vec::new();
    let mut entries = Vec::new();
    let mut packed = 0usize;
    for l in &net.layers {
        let Some(kind) = l.op.def().load_kind(l) else {
            slots.push(None);
            continue;
        };
        let quant = l.quantized.then(|| crate::ops::quant::names(net, l));
        let (w_len, b_len) = kind.packed_len();
        let w_off = packed;
        let b_off = align(w_off + w_len);
        packed = align(b_off + b_len);
        slots.push(Some(Slot {
            w_off,
            w_len,
            b_off,
            b_len,
        }));
        let find = |role: Role| l.tensors.iter().find(|t| t.role == role);
        let name = |role: Role| find(role).map(|t| leak(&t.name));
        let (weight, weight_layout, weight_shape): (&'static str, _, &'static [usize]) =
            match find(Role::Weight) {
                Some(w) => (
                    leak(&w.name),
                    w.layout.expect("a weight tensor has a layout"),
                    Box::leak(w.shape.clone().into_boxed_slice()),
                ),
                // Quantized adds, pools and softmaxes: parameters only.
                None => ("", mobilenet_runtime::pack::SrcLayout::Hwio, &[]),
            };
        let bn = l.op.conv().and_then(|c| c.batch_norm).map(|eps| BnNames {
            gamma: name(Role::BnGamma),
            beta: name(Role::BnBeta),
            mean: name(Role::BnMean),
            var: name(Role::BnVar),
            eps: eps as f32,
        });
        entries.push(Entry {
            layer: leak(&l.name),
            kind,
            weight,
            weight_layout,
            weight_shape,
            bias: name(Role::Bias),
            bn,
            w_off,
            w_len,
            b_off,
            b_len,
            quant,
        });
    }
    LoadTable {
        slots,
        entries,
        packed_len: packed,
    }
}

/// An entry as the constant generated code holds.
fn entry_tokens(e: &mobilenet_runtime::load::Entry) -> TokenStream {
    let opt = |n: Option<&str>| match n {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    };
    let bn = match e.bn {
        Some(b) => {
            let (g, be, m, v, eps) = (opt(b.gamma), opt(b.beta), opt(b.mean), opt(b.var), b.eps);
            quote!(Some(rt::load::BnNames { gamma: #g, beta: #be, mean: #m, var: #v, eps: #eps }))
        }
        None => quote!(None),
    };
    let (layer, weight) = (e.layer, e.weight);
    let kind = load_kind_tokens(e.kind);
    let wlayout = src_layout(e.weight_layout);
    let wshape = e.weight_shape.iter().map(|&d| lit(d));
    let bias = opt(e.bias);
    let (w0, wl, b0, bl) = (lit(e.w_off), lit(e.w_len), lit(e.b_off), lit(e.b_len));
    let qt = |q: mobilenet_runtime::load::QuantTensors| {
        let (s, z) = (q.scale, q.zero_point);
        quote!(rt::load::QuantTensors { scale: #s, zero_point: #z })
    };
    let quant = match e.quant {
        Some(q) => {
            let input = qt(q.input);
            let input2 = match q.input2 {
                Some(t) => {
                    let t = qt(t);
                    quote!(Some(#t))
                }
                None => quote!(None),
            };
            let output = qt(q.output);
            let weight = match q.weight {
                Some(t) => {
                    let t = qt(t);
                    quote!(Some(#t))
                }
                None => quote!(None),
            };
            let act = q.act;
            quote!(Some(rt::load::QuantNames { input: #input, input2: #input2, output: #output, weight: #weight, act: #act }))
        }
        None => quote!(None),
    };
    quote! {
        rt::load::Entry {
            layer: #layer,
            kind: #kind,
            weight: #weight,
            weight_layout: #wlayout,
            weight_shape: &[#(#wshape),*],
            bias: #bias,
            bn: #bn,
            w_off: #w0, w_len: #wl, b_off: #b0, b_len: #bl,
            quant: #quant,
        }
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

fn src_layout(l: mobilenet_runtime::pack::SrcLayout) -> TokenStream {
    use mobilenet_runtime::pack::SrcLayout;
    match l {
        SrcLayout::Oihw => quote!(rt::pack::SrcLayout::Oihw),
        SrcLayout::Ochw1 => quote!(rt::pack::SrcLayout::Ochw1),
        SrcLayout::Hwio => quote!(rt::pack::SrcLayout::Hwio),
        SrcLayout::Hwc1 => quote!(rt::pack::SrcLayout::Hwc1),
        SrcLayout::OutIn => quote!(rt::pack::SrcLayout::OutIn),
        SrcLayout::InOut => quote!(rt::pack::SrcLayout::InOut),
    }
}

/// A value's slice in `forward`: the caller's input or output array, or a range of the arena.
fn region(loc: Loc) -> TokenStream {
    match loc {
        Loc::Input => quote!(&input[..]),
        Loc::Output => quote!(&output[..]),
        Loc::Fused => unreachable!("no call reads a fused pair's intermediate"),
        Loc::Arena { offset, len } => {
            let (a, b) = (lit(offset), lit(offset + len));
            quote!(&scratch[#a..#b])
        }
    }
}

/// The statements that make the output buffer `dst` hold the value at `src` (when the plan
/// could not put them in one buffer).
fn copy_into(src: Loc, dst: Loc) -> TokenStream {
    if src == dst {
        return quote!();
    }
    if let (Loc::Arena { len: a, .. }, Loc::Arena { len: b, .. }) = (src, dst) {
        assert_eq!(
            a, b,
            "an in-place kernel's preloaded input and output differ in size"
        );
    }
    match (src, dst) {
        (Loc::Arena { offset, len }, Loc::Arena { offset: to, .. }) => {
            let (a, b, t) = (lit(offset), lit(offset + len), lit(to));
            quote!(scratch.copy_within(#a..#b, #t);)
        }
        (_, Loc::Arena { offset, len }) => {
            let (a, b) = (lit(offset), lit(offset + len));
            let s = region(src);
            quote!(scratch[#a..#b].copy_from_slice(#s);)
        }
        (_, Loc::Output) => {
            let s = region(src);
            quote!(output.copy_from_slice(#s);)
        }
        (_, Loc::Input) => unreachable!("nothing writes the caller's input"),
        (_, Loc::Fused) => unreachable!("no call writes a fused pair's intermediate"),
    }
}

/// The arguments of a layer function call: the operand slices `reads` (immutable) and the
/// output slice, borrowed from the input, output and scratch arrays as the plan places them.
fn call_with(f: &Ident, p_arg: TokenStream, reads: &[Loc], out: Loc) -> TokenStream {
    let arena_reads: Vec<(usize, usize)> = reads
        .iter()
        .filter_map(|l| match *l {
            Loc::Arena { offset, len } => Some((offset, len)),
            _ => None,
        })
        .collect();
    match out {
        Loc::Arena { offset, len } if !arena_reads.is_empty() => {
            let (oo, ol) = (lit(offset), lit(len));
            let pairs = arena_reads.iter().map(|&(o, l)| {
                let (o, l) = (lit(o), lit(l));
                quote!((#o, #l))
            });
            let names: Vec<Ident> = (0..arena_reads.len())
                .map(|i| format_ident!("r{}", i))
                .collect();
            let mut k = 0;
            let args = reads.iter().map(|l| match l {
                Loc::Arena { .. } => {
                    let n = &names[k];
                    k += 1;
                    quote!(#n)
                }
                other => region(*other),
            });
            quote! {
                {
                    let ([#(#names),*], y) = rt::arena::regions(&mut scratch[..], [#(#pairs),*], #oo, #ol);
                    #f(#p_arg #(#args,)* y);
                }
            }
        }
        Loc::Arena { offset, len } => {
            let (a, b) = (lit(offset), lit(offset + len));
            let args = reads.iter().map(|l| region(*l));
            quote!(#f(#p_arg #(#args,)* &mut scratch[#a..#b]);)
        }
        Loc::Output => {
            let args = reads.iter().map(|l| region(*l));
            quote!(#f(#p_arg #(#args,)* &mut output[..]);)
        }
        Loc::Input => unreachable!("nothing writes the caller's input"),
        Loc::Fused => unreachable!("no call writes a fused pair's intermediate"),
    }
}

/// A layer's weight and bias operands, `&p[..], &p[..],`: its slot of the parameter buffer.
fn slot_args(s: Slot) -> TokenStream {
    let (w0, w1, b0, b1) = (
        lit(s.w_off),
        lit(s.w_off + s.w_len),
        lit(s.b_off),
        lit(s.b_off + s.b_len),
    );
    quote!(&p[#w0..#w1], &p[#b0..#b1],)
}

/// The function, the residual copy (if any) and the calls (in `forward`, in
/// `forward_parallel`) of depthwise layer `i` fused with pointwise layer `i + 1`
/// ([`crate::fuse`]): one `depthwise_pointwise` call from the depthwise layer's input to the
/// pointwise layer's output, in bands of `rows` rows.
#[allow(clippy::too_many_arguments)]
fn fused_pair(
    net: &Network,
    i: usize,
    rows: usize,
    slots: &[Option<Slot>],
    doc: &str,
    fns: &mut Vec<TokenStream>,
    par_fns: &mut Vec<TokenStream>,
) -> (TokenStream, TokenStream, TokenStream) {
    let (dw, pw) = (&net.layers[i], &net.layers[i + 1]);
    let d = dw.op.def().kernel(dw);
    let p = pw.op.conv().expect("a fused pair ends in a pointwise conv");
    let wo = dw.output.w;
    let last = mobilenet_runtime::kernels::fused_last_rows(dw.output.h, rows);
    let mut generics = d.generic_tokens();
    generics.extend(
        KernelCall {
            kernel: "depthwise_pointwise",
            generics: vec![
                Generic::Dim(pw.output.c),
                Generic::Act(p.activation),
                Generic::Dim(rows),
                Generic::Dim(rows * wo),
                Generic::Dim(last * wo),
                Generic::Flag(p.residual),
            ],
            form: Form::Params,
            per_isa: true,
        }
        .generic_tokens(),
    );
    let conv_slot = |s: Option<Slot>| slot_args(s.expect("conv layers have parameters"));
    let (dwb, pwb) = (conv_slot(slots[i]), conv_slot(slots[i + 1]));
    let f = ident_for(i, &format!("{}_{}", dw.name, pw.name));
    let fp = format_ident!("{}_par", f);
    let doc = format!(
        "{doc} Fused with layer {}: `{}` ({}), {} -> {}, {} Mult-Adds, in bands of {rows} rows.",
        i + 2,
        pw.name,
        pw.op.def().describe(pw),
        pw.input,
        pw.output,
        pw.cost.mult_adds
    );
    fns.push(quote! {
        #[doc = #doc]
        #[inline(never)]
        fn #f(p: &[f32], x: &[f32], y: &mut [f32]) {
            rt::kernels::depthwise_pointwise::<#(#generics),*>(x, #dwb #pwb y)
        }
    });
    par_fns.push(quote! {
        #[doc = #doc]
        #[inline]
        fn #fp(pool: &rt::threads::Pool, p: &[f32], x: &[f32], y: &mut [f32]) {
            rt::kernels::par::depthwise_pointwise::<#(#generics),*>(pool, x, #dwb #pwb y)
        }
    });
    let plan = &net.plan;
    let (reads, out) = ([plan.values[dw.inputs[0]]], plan.outputs[i + 1]);
    // With a residual the output buffer must hold the skip first (unless the plan put the two
    // in one buffer), as for an unfused `pointwise_add`.
    let pre = match pw.op.def().kernel(pw).form.preloaded_input() {
        Some(src) => copy_into(plan.values[pw.inputs[src]], out),
        None => quote!(),
    };
    (
        pre,
        call_with(&f, quote!(p,), &reads, out),
        call_with(&fp, quote!(pool, p,), &reads, out),
    )
}

/// Generate the module for `net`.
pub fn generate(net: &Network, opts: &Options) -> TokenStream {
    let module = format_ident!("{}", opts.module);
    let report = crate::report::markdown(net);
    let total = net.total();

    // Parameter slots and the weights table, laid out with the runtime's packed lengths.
    let table = load_table(net);
    let (slots, packed) = (&table.slots, table.packed_len);
    // Layer functions and forward calls.
    let mut fns = Vec::new();
    // Per layer: the copy making its output buffer hold a preloaded input (if the plan could
    // not share the buffer), and the call.
    let mut calls: Vec<(TokenStream, TokenStream)> = Vec::new();
    let mut infos = Vec::new();
    // The threaded forward's layer functions and calls.
    let (mut par_fns, mut par_calls) = (Vec::new(), Vec::new());
    let entries: Vec<TokenStream> = table.entries.iter().map(entry_tokens).collect();
    let plan = &net.plan;
    let fused = &net.fused;
    for (i, l) in net.layers.iter().enumerate() {
        let f = ident_for(i, &l.name);
        let (ih, iw, ic) = (lit(l.input.h), lit(l.input.w), lit(l.input.c));
        let (oh, ow, oc) = (lit(l.output.h), lit(l.output.w), lit(l.output.c));
        let def = l.op.def();
        let describe = def.describe(l);
        let doc = format!(
            "Layer {}: `{}` ({}), {} -> {}, {} Mult-Adds.",
            i + 1,
            l.name,
            describe,
            l.input,
            l.output,
            l.cost.mult_adds
        );
        let slot = slots[i];
        let wb = slot.map(slot_args);
        // Cost table entry.
        let name = &l.name;
        let (ma, pw) = (l.cost.mult_adds, l.cost.weights);
        let is_fused = i > 0 && fused[i - 1].is_some();
        infos.push(quote! {
            rt::LayerInfo { name: #name, op: #describe, input: [#ih, #iw, #ic], output: [#oh, #ow, #oc], mult_adds: #ma, params: #pw, fused: #is_fused }
        });
        if is_fused {
            // Computed by the previous layer's call: no function and no call of its own (an
            // empty entry keeps the calls indexed by layer for the timed forward).
            calls.push((quote!(), quote!()));
            par_calls.push((quote!(), quote!()));
            continue;
        }
        if let Some(rows) = fused[i] {
            let (pre, call, par_call) =
                fused_pair(net, i, rows, slots, &doc, &mut fns, &mut par_fns);
            calls.push((pre.clone(), call));
            par_calls.push((pre, par_call));
            continue;
        }
        let k = def.kernel(l);
        let kernel = format_ident!("{}", k.kernel);
        let generics = k.generic_tokens();
        let (params, operands, reads): (TokenStream, TokenStream, Vec<usize>) = match k.form {
            Form::Params => (quote!(p: &[f32],), quote!(x, #wb y), vec![0]),
            Form::ParamsAccumulate => (quote!(p: &[f32],), quote!(x, #wb y), vec![0]),
            Form::Plain => (quote!(), quote!(x, y), vec![0]),
            Form::Binary => (quote!(), quote!(a, b, y), vec![0, 1]),
            Form::BinaryParams => (quote!(p: &[f32],), quote!(a, b, #wb y), vec![0, 1]),
            Form::InPlace => (quote!(), quote!(y), vec![]),
        };
        let arg_names: Vec<Ident> = match k.form {
            Form::Binary | Form::BinaryParams => vec![format_ident!("a"), format_ident!("b")],
            Form::InPlace => vec![],
            _ => vec![format_ident!("x")],
        };
        // Operand types: the caller's input and output arrays have the network's I/O type,
        // everything else its storage type.
        let ty = |v: usize| -> Ident {
            if v == net.input_value || v == net.output_value {
                format_ident!("{}", net.io.io())
            } else {
                format_ident!("{}", net.elem.storage())
            }
        };
        let arg_tys: Vec<Ident> = reads.iter().map(|&r| ty(l.inputs[r])).collect();
        let out_ty = ty(l.output_value);
        fns.push(quote! {
            #[doc = #doc]
            #[inline(never)]
            fn #f(#params #(#arg_names: &[#arg_tys],)* y: &mut [#out_ty]) {
                rt::kernels::#kernel::<#(#generics),*>(#operands)
            }
        });

        // The call in forward().
        let out_loc = plan.outputs[i];
        let pre = match k.form.preloaded_input() {
            Some(src) => copy_into(plan.values[l.inputs[src]], out_loc),
            None => quote!(),
        };
        let read_locs: Vec<Loc> = reads.iter().map(|&r| plan.values[l.inputs[r]]).collect();
        let p_arg = if slot.is_some() { quote!(p,) } else { quote!() };
        // The call in forward_parallel(): the kernel split across the pool's threads where the
        // runtime has it so.
        let par_call = if def.parallel(l) {
            let fp = format_ident!("{}_par", f);
            par_fns.push(quote! {
                #[doc = #doc]
                #[inline]
                fn #fp(pool: &rt::threads::Pool, #params #(#arg_names: &[#arg_tys],)* y: &mut [#out_ty]) {
                    rt::kernels::par::#kernel::<#(#generics),*>(pool, #operands)
                }
            });
            call_with(&fp, quote!(pool, #p_arg), &read_locs, out_loc)
        } else {
            call_with(&f, p_arg.clone(), &read_locs, out_loc)
        };
        par_calls.push((pre.clone(), par_call));
        calls.push((pre, call_with(&f, p_arg, &read_locs, out_loc)));
    }

    // A network ending in softmax also gets `forward_logits`: the same calls without the
    // trailing in-place softmax.
    let trailing = if net.elem.is_quantized() {
        // A quantized softmax requantizes: its input is not the output's logits.
        0
    } else {
        net.layers
            .iter()
            .rev()
            .take_while(|l| matches!(l.op, crate::model::Op::Softmax))
            .count()
    };
    let all_calls = calls.iter().map(|(pre, call)| quote!(#pre #call));
    let all_par_calls = par_calls.iter().map(|(pre, call)| quote!(#pre #call));
    // The same calls, each (with its copy) timed into `times[i]`.
    let timed = |calls: &[(TokenStream, TokenStream)]| -> Vec<TokenStream> {
        calls
            .iter()
            .enumerate()
            .map(|(i, (pre, call))| {
                let i = lit(i);
                quote! {
                    let t = rt::profile::Timer::start();
                    #pre #call
                    times[#i] = t.stop_ns();
                }
            })
            .collect()
    };
    let (timed_calls, timed_par_calls) = (timed(&calls), timed(&par_calls));
    // Without the trailing softmax calls, but with their copies (which bring the logits into
    // the output when the softmax was not planned in place).
    let logit_calls = calls.iter().enumerate().map(|(i, (pre, call))| {
        if i + trailing >= calls.len() {
            quote!(#pre)
        } else {
            quote!(#pre #call)
        }
    });
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
    let io = format_ident!("{}", net.io.io());
    let st = format_ident!("{}", net.elem.storage());
    let elem_bytes = lit(if net.elem.is_quantized() { 1 } else { 4 });
    let (h, w, c) = (lit(net.input.h), lit(net.input.w), lit(net.input.c));
    let input_len = lit(net.input.len());
    let output_len = lit(net.output_len());
    let classes = lit(net.classes);
    let labels_offset = lit(net.labels_offset);
    let arena_len = lit(plan.arena_len);
    let packed_len = lit(packed);
    let (ma, pw, pt) = (total.mult_adds, total.weights, total.total_params());
    let name = &net.name;
    let ignore = match crate::naming::scheme(net.naming).ignored_suffix() {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
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
            /// The element type of the input and output arrays (`f32`, or the quantized
            /// network's `u8` / `i8`).
            pub type IoElem = #io;
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
            pub const ARENA_BYTES: usize = #arena_len * #elem_bytes;
            /// Packed parameter count (f32 values, BN folded, aligned per layer).
            pub const PACKED_LEN: usize = #packed_len;
            /// The compile-time cost report (markdown).
            pub const REPORT: &str = #report;
            /// Per-layer costs and shapes.
            pub const LAYERS: &[rt::LayerInfo] = &[#(#infos),*];

            const ENTRIES: &[rt::load::Entry] = &[#(#entries),*];
            const IGNORED_SUFFIX: Option<&str> = #ignore;

            /// `x` as this network's input (NHWC f32, [`INPUT_SHAPE`]), or an error saying what is
            /// wrong with its length: for inputs that arrive as slices (`Vec<f32>`, decoded images).
            pub fn input_array(x: &[#io]) -> Result<&[#io; INPUT_LEN], rt::SizeError> {
                rt::as_array(x, "input", INPUT_SHAPE)
            }

            /// `y` as this network's output buffer ([`OUTPUT_LEN`] values), or an error saying
            /// what is wrong with its length.
            pub fn output_array(y: &mut [#io]) -> Result<&mut [#io; OUTPUT_LEN], rt::SizeError> {
                rt::as_array_mut(y, "output", [1, 1, OUTPUT_LEN])
            }

            /// Pack weights from a safetensors file into `params` (exactly [`PACKED_LEN`]
            /// values), folding batch norm. Allocation-free: usable without `alloc`.
            pub fn load_into(safetensors: &[u8], params: &mut [f32]) -> Result<(), rt::load::LoadError> {
                rt::load::load(safetensors, ENTRIES, IGNORED_SUFFIX, params)
            }

            /// Run the network on packed parameters (from [`load_into`]): `input` is NHWC f32,
            /// `output` receives the class scores, `scratch` holds the intermediate activations
            /// (see the memory plan in the module docs). Straight-line code, one call per layer,
            /// no allocation. This free function works without `alloc`; [`Model::forward`] wraps it.
            pub fn forward(p: &[f32], input: &[#io; INPUT_LEN], output: &mut [#io; OUTPUT_LEN], scratch: &mut [#st; ARENA_LEN]) {
                assert_eq!(p.len(), PACKED_LEN, "packed parameters must have PACKED_LEN values");
                #(#all_calls)*
            }

            #logits_free

            rt::__with_std! {
            #(#par_fns)*

            /// [`forward`] with its large layers (convolutions and the fully connected head) split
            /// across the threads of `pool` (each kernel divides its work into one share per
            /// thread, from its constant shape; small layers run on the caller): the output is
            /// bit-identical to [`forward`]'s for any thread count, and nothing is allocated.
            /// Compiled only where it is called.
            #[inline]
            pub fn forward_parallel(pool: &rt::threads::Pool, p: &[f32], input: &[#io; INPUT_LEN], output: &mut [#io; OUTPUT_LEN], scratch: &mut [#st; ARENA_LEN]) {
                assert_eq!(p.len(), PACKED_LEN, "packed parameters must have PACKED_LEN values");
                #(#all_par_calls)*
            }

            /// [`forward_parallel`] with every layer's call timed, as [`forward_timed`]. Compiled
            /// only where it is called.
            #[inline]
            pub fn forward_parallel_timed(pool: &rt::threads::Pool, p: &[f32], input: &[#io; INPUT_LEN], output: &mut [#io; OUTPUT_LEN], scratch: &mut [#st; ARENA_LEN], times: &mut [u64; LAYERS.len()]) {
                assert_eq!(p.len(), PACKED_LEN, "packed parameters must have PACKED_LEN values");
                #(#timed_par_calls)*
            }

            /// [`forward`] with every layer's call timed: `times[i]` receives layer `i`'s
            /// nanoseconds (its row in [`LAYERS`]). The calls are the same, so is the output.
            pub fn forward_timed(p: &[f32], input: &[#io; INPUT_LEN], output: &mut [#io; OUTPUT_LEN], scratch: &mut [#st; ARENA_LEN], times: &mut [u64; LAYERS.len()]) {
                assert_eq!(p.len(), PACKED_LEN, "packed parameters must have PACKED_LEN values");
                #(#timed_calls)*
            }

            impl Model {
                /// Profile every layer on this machine: `warmup` untimed forward passes, then
                /// `runs` timed ones; each layer's median and minimum time, GFLOP/s and share of the forward
                /// beside its Mult-Adds (print it for a table).
                pub fn profile(&self, input: &[#io; INPUT_LEN], warmup: usize, runs: usize) -> rt::profile::Profile {
                    let mut scratch = Model::new_scratch();
                    let mut output = [#io::default(); OUTPUT_LEN];
                    rt::profile::run(LAYERS, warmup, runs, |times| {
                        let times: &mut [u64; LAYERS.len()] = times.try_into().expect("one time per layer");
                        forward_timed(self.params.as_slice(), input, &mut output, &mut scratch, times)
                    })
                }

                /// [`Model::profile`] of [`Model::forward_parallel`] on `pool`: each layer's time
                /// with its work split across the pool's threads, to set beside the
                /// single-threaded profile (a layer's scaling is the ratio of the two).
                #[inline]
                pub fn profile_parallel(&self, pool: &rt::threads::Pool, input: &[#io; INPUT_LEN], warmup: usize, runs: usize) -> rt::profile::Profile {
                    let mut scratch = Model::new_scratch();
                    let mut output = [#io::default(); OUTPUT_LEN];
                    rt::profile::run(LAYERS, warmup, runs, |times| {
                        let times: &mut [u64; LAYERS.len()] = times.try_into().expect("one time per layer");
                        forward_parallel_timed(pool, self.params.as_slice(), input, &mut output, &mut scratch, times)
                    })
                }

                /// [`Model::forward`] with its large layers split across the threads of `pool`
                /// (see [`forward_parallel`]): the same output, lower latency on several cores.
                #[inline]
                pub fn forward_parallel(&self, pool: &rt::threads::Pool, input: &[#io; INPUT_LEN], output: &mut [#io; OUTPUT_LEN], scratch: &mut [#st; ARENA_LEN]) {
                    forward_parallel(pool, self.params.as_slice(), input, output, scratch)
                }

                /// Run a batch of images on every thread of `pool`, one image per thread at a
                /// time (`scratch` holds one arena per thread: [`Model::new_scratch`]). Each
                /// output equals [`Model::forward`] on its input, whatever the thread count;
                /// nothing is allocated.
                pub fn forward_batch(&self, pool: &rt::threads::Pool, inputs: &[[#io; INPUT_LEN]], outputs: &mut [[#io; OUTPUT_LEN]], scratch: &mut [rt::load::Scratch<#arena_len, #st>]) {
                    let p = self.params.as_slice();
                    rt::threads::batch(pool, inputs, outputs, scratch, |x, y, s| forward(p, x, y, &mut **s))
                }
            }
            }

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
                pub fn new_scratch() -> rt::load::Scratch<#arena_len, #st> {
                    rt::load::Scratch::new()
                }

                /// Run the network: `input` is NHWC f32, `output` receives the class scores.
                /// `scratch` holds the intermediate activations (see the memory plan in the
                /// module docs). Straight-line code, one call per layer, no allocation.
                pub fn forward(&self, input: &[#io; INPUT_LEN], output: &mut [#io; OUTPUT_LEN], scratch: &mut [#st; ARENA_LEN]) {
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
