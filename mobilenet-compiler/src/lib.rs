//! The MobileNet ahead-of-time compiler as a library: spec parsing and validation
//! ([`spec`]), shape, cost and memory analysis ([`model`]), reports ([`report`]).
//!
//! The proc-macro (`mobilenet-macros`), the `mobilenet` CLI and build scripts are thin shells
//! over this crate.

pub mod build;
pub mod codegen;
pub mod diag;
pub mod fuse;
#[cfg(feature = "import")]
pub mod import;
pub mod ir;
pub mod model;
pub mod naming;
pub mod ops;
pub mod plan;
pub mod report;
pub mod rng;
pub mod spec;
#[cfg(feature = "import")]
pub mod tflite;
pub mod weights;

pub use diag::{Diagnostic, Diagnostics, SourceFile};
pub use model::{analyze, Layer, Network, Op, Shape};

/// Parse and analyse a spec given its text. `path` is used in diagnostics only.
pub fn compile_str(path: &str, text: &str) -> Result<Network, Diagnostics> {
    let (spec, diags) = spec::parse(path, text);
    let result = match spec {
        Some(spec) => analyze(&spec, diags),
        None => Err(diags),
    };
    result.map_err(|mut d| {
        d.sort();
        d
    })
}

/// Read, parse and analyse a spec file.
pub fn compile_file(path: impl AsRef<std::path::Path>) -> Result<Network, Diagnostics> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => compile_str(&shown, &text),
        Err(e) => {
            let mut d = Diagnostics::new();
            d.push(
                Diagnostic::error(&shown, 0..0, format!("cannot read spec file `{shown}`: {e}"))
                    .with_help("check the path; relative paths are resolved against the current directory (CLI) or the crate's manifest directory (macro)"),
            );
            Err(d)
        }
    }
}
