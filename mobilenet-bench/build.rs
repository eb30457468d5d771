//! Deterministic random weights for the benchmarked networks (speed does not depend on the
//! values; the peer comparison uses the real model's weights where it has them).

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    for (name, spec) in [
        ("v1_1_0_224", "../specs/v1_tfslim_1001.toml"),
        ("v1_0_25_128", "../specs/v1_alpha025_res128.toml"),
    ] {
        println!("cargo:rerun-if-changed={spec}");
        let net = mobilenet_compiler::compile_file(spec).unwrap_or_else(|d| panic!("{d}"));
        std::fs::write(
            format!("{out}/{name}.safetensors"),
            mobilenet_compiler::weights::random(&net, 1),
        )
        .unwrap();
    }
}
