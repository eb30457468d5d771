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
