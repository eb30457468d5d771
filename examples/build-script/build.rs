//! The build-script path: `mobilenet_compiler::build::Builder` writes the same code the
//! `mobilenet!` macro would into OUT_DIR and prints `cargo:rerun-if-changed` for the spec and
//! the weights.

fn main() {
    // Demo weights (a real crate ships its own file).
    let spec = "../../specs/seed_cifar100.toml";
    let net = mobilenet_compiler::compile_file(spec).unwrap_or_else(|d| panic!("{d}"));
    let out_dir = std::env::var("OUT_DIR").unwrap();
    let weights = format!("{out_dir}/seed.safetensors");
    std::fs::write(&weights, mobilenet_compiler::weights::random(&net, 1)).unwrap();

    if let Err(diagnostics) = mobilenet_compiler::build::Builder::new(spec)
        .weights(weights)
        .module("seed")
        .generate("seed.rs")
    {
        // Rendered rustc-style, with file:line:col.
        eprintln!("{diagnostics}");
        std::process::exit(1);
    }
}
