//! Demo only: random weights for the spec, so that the example runs without downloading a
//! model. A real application passes its weights file to `mobilenet!(weights = ...)` or loads it
//! at run time with `Model::from_safetensors`.

fn main() {
    let spec = "specs/v1_alpha075.toml";
    println!("cargo:rerun-if-changed={spec}");
    let net = mobilenet_compiler::compile_file(spec).unwrap_or_else(|d| panic!("{d}"));
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("demo_weights.safetensors");
    std::fs::write(out, mobilenet_compiler::weights::random(&net, 1)).unwrap();
}
