use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The MobileNet ahead-of-time compiler: cost reports, generated code, weight import.
#[derive(Parser)]
#[command(name = "mobilenet", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Markdown,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Per-layer shapes, Mult-Adds and parameters, totals, shares by type and the memory plan.
    Report {
        /// The spec file (TOML).
        spec: std::path::PathBuf,
        #[arg(long, value_enum, default_value = "markdown")]
        format: Format,
    },
    /// Print the Rust code `mobilenet!` generates for a spec, formatted.
    Emit {
        spec: std::path::PathBuf,
        /// Also check this weights file and embed it.
        #[arg(long)]
        weights: Option<std::path::PathBuf>,
        /// Module name (default: the spec file's stem).
        #[arg(long)]
        module: Option<String>,
    },
    /// Import weights from another format into a safetensors file for a spec.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Write deterministic random weights for a spec (safetensors, in the spec's naming and
    /// layout): for tests, fixtures and benchmarks.
    RandomWeights {
        spec: std::path::PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Validate a spec and print every error (exit 1 if there are any).
    Check { spec: std::path::PathBuf },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// A TensorFlow Lite model (.tflite, quantized or float): writes a spec in our language and
    /// the weights with their quantization. Several files are parts of one model, chained
    /// (each one's output feeds the next one's input).
    Tflite {
        /// The model file(s).
        #[arg(required = true)]
        models: Vec<std::path::PathBuf>,
        /// Where to write the spec (TOML).
        #[arg(long)]
        spec_out: std::path::PathBuf,
        /// Where to write the weights (safetensors).
        #[arg(long)]
        weights_out: std::path::PathBuf,
        /// The network's name (default: the first file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Import a quantized model as a float network (`w = scale * (q - zero_point)`).
        #[arg(long)]
        dequantize: bool,
        /// List which operators became which layers.
        #[arg(long, short)]
        verbose: bool,
    },
    /// A TensorFlow frozen GraphDef (.pb): constants are mapped by name onto the spec's
    /// tensors (TF-slim naming), checked, and written as safetensors.
    TfGraph {
        /// The frozen graph.
        graph: std::path::PathBuf,
        /// The spec the weights are for (`naming = "tf-slim"`).
        #[arg(long)]
        spec: std::path::PathBuf,
        /// Where to write the safetensors file.
        #[arg(long)]
        out: std::path::PathBuf,
        /// List every constant used and every check made.
        #[arg(long, short)]
        verbose: bool,
    },
}

fn import_tflite(
    models: &[std::path::PathBuf],
    spec_out: &std::path::Path,
    weights_out: &std::path::Path,
    opts: mobilenet_compiler::tflite::Options,
    verbose: bool,
) -> ExitCode {
    let mut files = Vec::new();
    for m in models {
        match std::fs::read(m) {
            Ok(b) => files.push((m.display().to_string(), b)),
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", m.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let imported = match mobilenet_compiler::tflite::import(&files, &opts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (path, bytes) in [
        (spec_out, imported.spec.as_bytes()),
        (weights_out, &imported.weights[..]),
    ] {
        if let Err(e) = std::fs::write(path, bytes) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "imported {} operators from {} into `{}` and `{}`",
        imported.log.len(),
        files
            .iter()
            .map(|f| format!("`{}`", f.0))
            .collect::<Vec<_>>()
            .join(" + "),
        spec_out.display(),
        weights_out.display()
    );
    if verbose {
        for l in &imported.log {
            eprintln!("  {l}");
        }
    }
    ExitCode::SUCCESS
}

fn import_tf_graph(
    graph: &std::path::Path,
    spec: &std::path::Path,
    out: &std::path::Path,
    verbose: bool,
) -> ExitCode {
    let net = match mobilenet_compiler::compile_file(spec) {
        Ok(n) => n,
        Err(d) => {
            eprint!("{d}");
            return ExitCode::FAILURE;
        }
    };
    let bytes = match std::fs::read(graph) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", graph.display());
            return ExitCode::FAILURE;
        }
    };
    match mobilenet_compiler::import::tf_graph(&net, &bytes) {
        Ok((st, report)) => {
            if let Err(e) = std::fs::write(out, &st) {
                eprintln!("error: cannot write `{}`: {e}", out.display());
                return ExitCode::FAILURE;
            }
            let n: usize = report
                .used
                .iter()
                .map(|u| u.2.iter().product::<usize>())
                .sum();
            eprintln!(
                "imported {} constants ({} floats) from `{}` for `{}` into `{}`",
                report.used.len(),
                n,
                graph.display(),
                spec.display(),
                out.display()
            );
            if verbose {
                for (name, node, shape) in &report.used {
                    eprintln!(
                        "  used {node} {shape:?}{}",
                        if name != node {
                            format!(" as {name}")
                        } else {
                            String::new()
                        }
                    );
                }
                for c in &report.checks {
                    eprintln!("  check: {c}");
                }
            } else {
                eprintln!("  {} checks passed (strides, padding, batch norm epsilon, input); -v lists them", report.checks.len());
            }
            if !report.ignored.is_empty() {
                eprintln!(
                    "  ignored {} float constants not in the spec: {}",
                    report.ignored.len(),
                    report.ignored.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Report { spec, format } => match mobilenet_compiler::compile_file(&spec) {
            Ok(net) => {
                let out = match format {
                    Format::Markdown => mobilenet_compiler::report::markdown(&net),
                    Format::Json => mobilenet_compiler::report::json(&net),
                };
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(d) => {
                eprint!("{d}");
                ExitCode::FAILURE
            }
        },
        Cmd::Emit {
            spec,
            weights,
            module,
        } => {
            let req = mobilenet_compiler::build::Request {
                spec_display: spec.display().to_string(),
                spec,
                weights_display: weights.as_ref().map(|w| w.display().to_string()),
                weights,
                module,
            };
            let out = mobilenet_compiler::build::compile(&req);
            match out.result {
                Ok(tokens) => match syn::parse2::<syn::File>(tokens.clone()) {
                    Ok(file) => {
                        print!("{}", prettyplease::unparse(&file));
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("internal error: generated code does not parse ({e}); raw tokens follow");
                        println!("{tokens}");
                        ExitCode::FAILURE
                    }
                },
                Err(msg) => {
                    eprint!("{msg}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Import(ImportCmd::TfGraph {
            graph,
            spec,
            out,
            verbose,
        }) => import_tf_graph(&graph, &spec, &out, verbose),
        Cmd::Import(ImportCmd::Tflite {
            models,
            spec_out,
            weights_out,
            name,
            dequantize,
            verbose,
        }) => import_tflite(
            &models,
            &spec_out,
            &weights_out,
            mobilenet_compiler::tflite::Options { name, dequantize },
            verbose,
        ),
        Cmd::RandomWeights { spec, seed, out } => match mobilenet_compiler::compile_file(&spec) {
            Ok(net) => {
                let bytes = mobilenet_compiler::weights::random(&net, seed);
                if let Err(e) = std::fs::write(&out, &bytes) {
                    eprintln!("error: cannot write `{}`: {e}", out.display());
                    return ExitCode::FAILURE;
                }
                eprintln!(
                    "wrote {} ({} bytes, seed {seed})",
                    out.display(),
                    bytes.len()
                );
                ExitCode::SUCCESS
            }
            Err(d) => {
                eprint!("{d}");
                ExitCode::FAILURE
            }
        },
        Cmd::Check { spec } => match mobilenet_compiler::compile_file(&spec) {
            Ok(net) => {
                let t = net.total();
                println!(
                    "{}: ok ({} layers, {} Mult-Adds, {} weights)",
                    spec.display(),
                    net.layers.len(),
                    t.mult_adds,
                    t.weights
                );
                ExitCode::SUCCESS
            }
            Err(d) => {
                eprint!("{d}");
                ExitCode::FAILURE
            }
        },
    }
}
