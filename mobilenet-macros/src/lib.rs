//! `mobilenet!`: compile a MobileNet spec (and optionally its weights) into fixed-size Rust.
//!
//! ```ignore
//! mobilenet_macros::mobilenet!(spec = "v1_alpha075.toml", weights = "v1_alpha075.safetensors");
//! // expands to `pub mod v1_alpha075 { ... }` with `Model`, `forward`, constants and the report
//! ```
//!
//! Arguments (string literals):
//! - `spec`: the TOML spec. Relative paths resolve against the invoking crate's manifest
//!   directory; a bare file name that is not there is also looked up in its `specs/` folder.
//! - `weights` (optional): a safetensors file to check against the spec at compile time and
//!   embed in the binary (`Model::embedded()`).
//! - `name` (optional): the generated module's name (default: the spec file's stem).
//!
//! `$VAR` / `${VAR}` in paths expand from the environment at compile time (e.g.
//! `"$OUT_DIR/weights.safetensors"` for files a build script wrote).
//!
//! Set `MOBILENET_REPORT=1` while building to print each model's cost report, or
//! `MOBILENET_REPORT=<dir>` to write it to `<dir>/<module>.md`.
//!
//! This crate is a thin shell: everything is done by `mobilenet-compiler`.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

struct Args {
    spec: Option<LitStr>,
    weights: Option<LitStr>,
    name: Option<LitStr>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args {
            spec: None,
            weights: None,
            name: None,
        };
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse()?;
            let slot = match key.to_string().as_str() {
                "spec" => &mut args.spec,
                "weights" => &mut args.weights,
                "name" => &mut args.name,
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{other}`; expected `spec = \"...\"`, `weights = \"...\"` or `name = \"...\"`"),
                    ))
                }
            };
            if slot.is_some() {
                return Err(syn::Error::new(key.span(), format!("`{key}` given twice")));
            }
            *slot = Some(value);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// Compile a MobileNet spec into a module of fixed-size forward code. See the crate docs.
#[proc_macro]
pub fn mobilenet(input: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(input as Args);
    expand(args).unwrap_or_else(|e| e.to_compile_error()).into()
}

fn expand(args: Args) -> syn::Result<proc_macro2::TokenStream> {
    let Some(spec) = args.spec else {
        return Err(syn::Error::new(
            Span::call_site(),
            "missing `spec = \"...\"`: the TOML file describing the network",
        ));
    };
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let resolve = |lit: &LitStr, specs_fallback: bool| {
        mobilenet_compiler::build::resolve_path(
            &lit.value(),
            std::path::Path::new(&manifest_dir),
            specs_fallback,
        )
        .map_err(|msg| syn::Error::new(lit.span(), msg))
    };
    let spec_path = resolve(&spec, true)?;
    let weights_path = args
        .weights
        .as_ref()
        .map(|w| resolve(w, false))
        .transpose()?;
    let module = args.name.as_ref().map(|n| n.value());
    if let Some(n) = &args.name {
        if syn::parse_str::<Ident>(&n.value()).is_err() {
            return Err(syn::Error::new(
                n.span(),
                format!("`{}` is not a valid module name", n.value()),
            ));
        }
    }
    let out = mobilenet_compiler::build::compile(&mobilenet_compiler::build::Request {
        spec: spec_path,
        spec_display: spec.value(),
        weights: weights_path,
        weights_display: args.weights.as_ref().map(|w| w.value()),
        module,
    });
    // Track every file read, even on error, so that fixing it triggers a rebuild.
    let tracked = out.tracked.iter().map(|p| {
        quote!(
            const _: &[u8] = include_bytes!(#p);
        )
    });
    match out.result {
        Ok(tokens) => {
            if let Ok(mode) = std::env::var("MOBILENET_REPORT") {
                if let Some(report) = &out.report {
                    mobilenet_compiler::build::emit_report(&mode, &out.module, report);
                }
            }
            Ok(tokens)
        }
        Err(message) => {
            let msg = format!("mobilenet!: the spec or weights are invalid\n\n{message}");
            Ok(quote! {
                #(#tracked)*
                ::core::compile_error!(#msg);
            })
        }
    }
}
