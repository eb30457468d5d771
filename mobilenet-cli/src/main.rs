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
