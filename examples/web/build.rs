//! Demo only: deterministic random weights for the page's network, so that the example builds
//! without downloading a model (a real page passes its weights file to `mobilenet!`).

fn main() {
    let spec = "../../specs/v1_alpha025_res128.toml";
    println!("cargo:rerun-if-changed={spec}");
    let net = mobilenet_compiler::compile_file(spec).unwrap_or_else(|d| panic!("{d}"));
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("net.safetensors");
    std::fs::write(out, mobilenet_compiler::weights::random(&net, 1)).unwrap();
}
