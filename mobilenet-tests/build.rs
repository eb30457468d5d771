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
    ("v2_a100_r224", "../specs/v2_alpha100.toml"),
    ("v2_a035_r96", "specs/v2_a035_r96.toml"),
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
    write_layer_shape_tests(&out);
    mobilenet_compiler::build::optional_file_cfg(
        "real_model",
        "../models/mobilenet_v1_1.0_224.safetensors",
        "MOBILENET_REAL_WEIGHTS",
        "run scripts/fetch_real_model.sh",
    );
}

/// The width and resolution sweeps of `specs/` whose shapes the test leaves out: each sweep
/// keeps its extremes (v1: alpha 0.25 and 1.0, 128 and 224 pixels; v2: alpha 0.35, 1.0 and 1.4,
/// 96 and 224 pixels), whose layers run the same kernels through the same code paths with other
/// constants. The compile time of the test grows with every instantiation (538 shapes took 10
/// of CI's 37 minutes); the conformance tests still run these networks end to end.
const SWEEP_INTERIOR: &[&str] = &[
    "v1_alpha050.toml",
    "v1_alpha075.toml",
    "v1_res160.toml",
    "v1_res192.toml",
    "v2_alpha050.toml",
    "v2_alpha075.toml",
    "v2_res128.toml",
    "v2_res160.toml",
    "v2_res192.toml",
];

/// Every distinct kernel instantiation of every spec in `specs/` (but the interior of the
/// sweeps, [`SWEEP_INTERIOR`]) and `specs/` of this package, as calls of the checking functions
/// in `tests/common/kernel_check.rs` (`kernel_shapes.rs` and `kernel_shapes_2.rs` run a half
/// each): each SIMD variant is compared with its scalar twin on the exact const generics the
/// generated code uses.
fn write_layer_shape_tests(out: &str) {
    let mut specs: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["../specs", "specs"] {
        println!("cargo:rerun-if-changed={dir}");
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("specs dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        specs.extend(
            entries
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .filter(|p| {
                    !SWEEP_INTERIOR
                        .iter()
                        .any(|s| p.file_name().is_some_and(|n| n == *s))
                }),
        );
    }
    let mut calls: Vec<String> = Vec::new();
    for spec in &specs {
        let net = mobilenet_compiler::compile_file(spec)
            .unwrap_or_else(|d| panic!("{}:\n{d}", spec.display()));
        for k in mobilenet_compiler::ops::kernel_calls(&net) {
            // Scalar-only kernels have no SIMD variant to compare.
            if !k.per_isa {
                continue;
            }
            let call = format!("check_{}::<{}>()", k.kernel, k.generic_list());
            if !calls.contains(&call) {
                calls.push(call);
            }
        }
    }
    // Two halves, alternating (balanced by kind and size), one per test crate: the two build
    // in parallel, where one crate with every instantiation was the build's last minutes alone.
    for half in 1..=2 {
        let mine: Vec<&String> = calls.iter().skip(half - 1).step_by(2).collect();
        let body: String = mine.iter().map(|c| format!("    {c};\n")).collect();
        let code = format!(
            "/// {} distinct kernel shapes from {} spec files; this half has {}.\n\
             pub const SHAPES: usize = {};\npub const SHAPES_HERE: usize = {};\n\n\
             pub fn check_layer_shapes() {{\n{body}}}\n",
            calls.len(),
            specs.len(),
            mine.len(),
            calls.len(),
            mine.len()
        );
        let file = format!("layer_shapes_{half}.rs");
        std::fs::write(Path::new(out).join(&file), code).expect("write layer_shapes_N.rs");
    }
}
