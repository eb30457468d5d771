//! Writes the differential test's networks into OUT_DIR: `MOBILENET_RANDOM_NETS` random specs
//! (default 200, from `random_specs.rs`) with their random weights, and `random_nets.rs`, the
//! `mobilenet!` call of each and the table `tests/random_nets.rs` walks.

use std::path::Path;

include!("random_specs.rs");

/// Seed of the generated specs and of their weights.
const SEED: u64 = 1;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=random_specs.rs");
    println!("cargo:rerun-if-env-changed=MOBILENET_RANDOM_NETS");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let count: usize = std::env::var("MOBILENET_RANDOM_NETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = Path::new(&out).join("random");
    std::fs::create_dir_all(&dir).expect("random dir");
    let mut code = String::new();
    let mut table = String::new();
    for k in 0..count {
        let text = random_spec(SEED, k);
        let name = format!("r{k}");
        let net = mobilenet_compiler::compile_str(&name, &text).expect("generated specs compile");
        std::fs::write(dir.join(format!("{name}.toml")), &text).expect("write spec");
        std::fs::write(
            dir.join(format!("{name}.safetensors")),
            mobilenet_compiler::weights::random(&net, SEED + k as u64),
        )
        .expect("write weights");
        code += &format!(
            "mobilenet_macros::mobilenet!(spec = \"$OUT_DIR/random/{name}.toml\", weights = \"$OUT_DIR/random/{name}.safetensors\", name = \"{name}\");\n"
        );
        table += &format!("    net!({name}, \"{name}\"),\n");
    }
    code += &format!("\nstatic NETS: &[Net] = &[\n{table}];\n");
    std::fs::write(Path::new(&out).join("random_nets.rs"), code).expect("write random_nets.rs");
}
