//! The front door shared by the proc-macro, the CLI and build scripts: resolve paths, compile a
//! spec, check and embed weights, generate code; and a small [`Builder`] for build.rs users.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;

use crate::codegen::{self, Options};

/// Expand `$VAR` and `${VAR}` from the environment.
pub fn expand_env(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(j) => (&inner[..j], &inner[j + 1..]),
                None => return Err(format!("unterminated `${{` in path `{s}`")),
            }
        } else {
            let j = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..j], &after[j..])
        };
        if name.is_empty() {
            return Err(format!("`$` without a variable name in path `{s}`"));
        }
        match std::env::var(name) {
            Ok(v) => out.push_str(&v),
            Err(_) => {
                return Err(format!(
                    "path `{s}` uses `${name}`, which is not set while compiling"
                ))
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolve a path given in a macro call or builder: env vars expanded, relative paths against
/// `base`, and (for specs) a bare file name also looked up in `base/specs/`.
pub fn resolve_path(given: &str, base: &Path, specs_fallback: bool) -> Result<PathBuf, String> {
    let expanded = expand_env(given)?;
    let p = Path::new(&expanded);
    let direct = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    if direct.is_file() {
        return Ok(direct);
    }
    if specs_fallback && !p.is_absolute() && p.components().count() == 1 {
        let in_specs = base.join("specs").join(p);
        if in_specs.is_file() {
            return Ok(in_specs);
        }
        return Err(format!(
            "file `{given}` not found in the crate's directory or its `specs/` folder (relative paths start at the directory of the crate's Cargo.toml)"
        ));
    }
    Err(format!(
        "file `{given}` not found (relative paths start at the directory of the crate's Cargo.toml)"
    ))
}

/// What to compile.
#[derive(Debug, Clone)]
pub struct Request {
    /// Absolute path of the spec.
    pub spec: PathBuf,
    /// The spec path as the user wrote it (shown in diagnostics).
    pub spec_display: String,
    /// Absolute path of the weights to check and embed, if any.
    pub weights: Option<PathBuf>,
    /// The weights path as the user wrote it.
    pub weights_display: Option<String>,
    /// Module name (default: the spec file's stem).
    pub module: Option<String>,
}

/// The outcome of [`compile`].
pub struct Output {
    /// Absolute paths of every file read (to track for rebuilds).
    pub tracked: Vec<String>,
    /// The module name.
    pub module: String,
    /// Generated code, or the rendered diagnostics.
    pub result: Result<TokenStream, String>,
    /// The markdown cost report, when the spec compiled.
    pub report: Option<String>,
}

/// Compile a spec (and check its weights) into generated code. Never panics on bad input: all
/// problems come back rendered in `result`.
pub fn compile(req: &Request) -> Output {
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let mut tracked = vec![abs(&req.spec)];
    if let Some(w) = &req.weights {
        tracked.push(abs(w));
    }
    let module = req
        .module
        .clone()
        .unwrap_or_else(|| codegen::module_name(&req.spec_display));
    let fail = |tracked: Vec<String>, module: String, msg: String| Output {
        tracked,
        module,
        result: Err(msg),
        report: None,
    };
    let text = match std::fs::read_to_string(&req.spec) {
        Ok(t) => t,
        Err(e) => {
            return fail(
                tracked,
                module,
                format!("cannot read spec `{}`: {e}", req.spec_display),
            )
        }
    };
    let net = match crate::compile_str(&req.spec_display, &text) {
        Ok(n) => n,
        Err(d) => return fail(tracked, module, d.render()),
    };
    if let Some(w) = &req.weights {
        let shown = req
            .weights_display
            .clone()
            .unwrap_or_else(|| w.display().to_string());
        let bytes = match std::fs::read(w) {
            Ok(b) => b,
            Err(e) => {
                return fail(
                    tracked,
                    module,
                    format!("cannot read weights `{shown}`: {e}"),
                )
            }
        };
        if let Err(mut d) = crate::weights::check(&net, &shown, &bytes) {
            d.add_source(crate::SourceFile::new(&req.spec_display, text));
            return fail(tracked, module, d.render());
        }
    }
    let opts = Options {
        module: module.clone(),
        spec_path: Some(tracked[0].clone()),
        weights_path: req.weights.as_ref().map(|_| tracked[1].clone()),
        tracked: vec![],
    };
    let tokens = codegen::generate(&net, &opts);
    Output {
        tracked,
        module,
        result: Ok(tokens),
        report: Some(crate::report::markdown(&net)),
    }
}

/// Print (`mode` = "1", "stderr" or "true") or write (`mode` = a directory) a cost report.
pub fn emit_report(mode: &str, module: &str, report: &str) {
    match mode {
        "" | "0" | "false" => {}
        "1" | "true" | "stderr" => eprintln!("{report}"),
        dir => {
            let path = Path::new(dir).join(format!("{module}.md"));
            if let Err(e) = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, report))
            {
                eprintln!("mobilenet: cannot write report to {}: {e}", path.display());
            }
        }
    }
}

/// Generate model code from a build script:
///
/// ```no_run
/// // build.rs
/// mobilenet_compiler::build::Builder::new("specs/v1_alpha075.toml")
///     .weights("weights/v1_alpha075.safetensors")
///     .generate("v1_alpha075.rs")
///     .unwrap();
/// // src/lib.rs: include!(concat!(env!("OUT_DIR"), "/v1_alpha075.rs"));
/// ```
///
/// Paths are relative to the package root (CARGO_MANIFEST_DIR). Writes into OUT_DIR and prints
/// `cargo:rerun-if-changed` for every file read. On a bad spec it returns the rendered
/// diagnostics, which a build script should print and fail with.
#[derive(Debug, Clone)]
pub struct Builder {
    spec: String,
    weights: Option<String>,
    module: Option<String>,
}

impl Builder {
    pub fn new(spec: impl Into<String>) -> Self {
        Self {
            spec: spec.into(),
            weights: None,
            module: None,
        }
    }

    /// A weights file to check and embed.
    pub fn weights(mut self, path: impl Into<String>) -> Self {
        self.weights = Some(path.into());
        self
    }

    /// The generated module's name.
    pub fn module(mut self, name: impl Into<String>) -> Self {
        self.module = Some(name.into());
        self
    }

    /// Generate into `$OUT_DIR/<file_name>` and return its path.
    pub fn generate(self, file_name: &str) -> Result<PathBuf, String> {
        let base =
            PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
        let out_dir = std::env::var("OUT_DIR")
            .map_err(|_| "OUT_DIR is not set: call this from build.rs".to_string())?;
        let spec = resolve_path(&self.spec, &base, true)?;
        let weights = self
            .weights
            .as_deref()
            .map(|w| resolve_path(w, &base, false))
            .transpose()?;
        let out = compile(&Request {
            spec,
            spec_display: self.spec.clone(),
            weights,
            weights_display: self.weights.clone(),
            module: self.module.clone(),
        });
        for t in &out.tracked {
            println!("cargo:rerun-if-changed={t}");
        }
        let tokens = out.result?;
        let path = Path::new(&out_dir).join(file_name);
        std::fs::write(&path, tokens.to_string())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}

/// For build scripts of crates whose tests need a large file that is fetched, not committed
/// (e.g. real model weights): if `path` (relative to the package) exists, enable
/// `cfg(<cfg_name>)` and export its absolute path as the compile-time env var `env_name` (the
/// macro can then use `weights = "$<env_name>"`). If it is missing and the environment variable
/// `MOBILENET_REQUIRE_REAL_WEIGHTS` is set (CI), fail the build with `hint`; otherwise print a
/// cargo warning, and the gated tests are not compiled (the crate should mark a placeholder test
/// `#[ignore]` with the reason, so the skip shows in the test summary). Returns whether the file
/// is there.
pub fn optional_file_cfg(cfg_name: &str, path: &str, env_name: &str, hint: &str) -> bool {
    println!("cargo::rustc-check-cfg=cfg({cfg_name})");
    println!("cargo:rerun-if-env-changed=MOBILENET_REQUIRE_REAL_WEIGHTS");
    let base = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let full = base.join(path);
    // Watch the folder, so that the file appearing triggers a rerun.
    if let Some(dir) = full.parent() {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    if full.is_file() {
        let abs = std::fs::canonicalize(&full).unwrap_or(full);
        println!("cargo:rustc-cfg={cfg_name}");
        println!("cargo:rustc-env={env_name}={}", abs.display());
        true
    } else if std::env::var_os("MOBILENET_REQUIRE_REAL_WEIGHTS").is_some() {
        panic!(
            "{} is missing and MOBILENET_REQUIRE_REAL_WEIGHTS is set: {hint}",
            full.display()
        );
    } else {
        println!(
            "cargo:warning={} not found: tests that need it are skipped ({hint})",
            full.display()
        );
        false
    }
}
