//! Writes the deterministic random weights of every fixture network into OUT_DIR, with the same
//! library function and seed that `scripts/make_fixtures.py` used (through `mobilenet
//! random-weights`) when it ran ONNX Runtime to make the reference outputs.

use std::path::Path;

/// (fixture name, spec path relative to this package). Keep in sync with scripts/make_fixtures.py.
const FIXTURES: &[(&str, &str)] = &[
    ("seed", "../specs/seed_cifar100.toml"),
    ("v1_a025_r128", "../specs/v1_alpha025_res128.toml"),
    ("tfslim_a050_r96", "specs/tfslim_a050_r96.toml"),
    ("v1_a075_r128", "specs/v1_a075_r128.toml"),
];

/// The weights seed recorded in the fixtures' metadata.
const SEED: u64 = 1;

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    for (name, spec) in FIXTURES {
        println!("cargo:rerun-if-changed={spec}");
        let net = mobilenet_compiler::compile_file(spec).unwrap_or_else(|d| panic!("{spec}:\n{d}"));
        let bytes = mobilenet_compiler::weights::random(&net, SEED);
        std::fs::write(Path::new(&out).join(format!("{name}.safetensors")), bytes)
            .expect("write weights");
    }
    println!("cargo:rerun-if-changed=build.rs");
    mobilenet_compiler::build::optional_file_cfg(
        "real_model",
        "../models/mobilenet_v1_1.0_224.safetensors",
        "MOBILENET_REAL_WEIGHTS",
        "run scripts/fetch_real_model.sh",
    );
}
