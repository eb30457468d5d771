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
    import_tflite_models(&out);
    mobilenet_compiler::build::optional_file_cfg(
        "real_model",
        "../models/mobilenet_v1_1.0_224.safetensors",
        "MOBILENET_REAL_WEIGHTS",
        "run scripts/fetch_real_model.sh",
    );
}

/// The released quantized TFLite MobileNets of `../shared/data/tflite/` (see its README), by
/// the name the tests give them: each file list is one model (v1 1.0/224 comes split in two).
const TFLITE_MODELS: &[(&str, &[&str])] = &[
    ("q_v1_025_128", &["mobilenet_v1_0.25_128_quant.tflite"]),
    ("q_v1_050_160", &["mobilenet_v1_0.5_160_quant.tflite"]),
    ("q_v1_075_192", &["mobilenet_v1_0.75_192_quant.tflite"]),
    (
        "q_v1_100_224",
        &[
            "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
            "mobilenet_quant_v1_224_head_layers.tflite",
        ],
    ),
    ("q_v2_100_224", &["mobilenet_v2_1.0_224_quant.tflite"]),
    ("q_v2_ptq_224", &["tf2_mobilenet_v2_1.0_224_ptq.tflite"]),
];

/// Import every model of [`TFLITE_MODELS`] with `mobilenet import tflite`'s library function
/// into `OUT_DIR/<name>.toml` and `.safetensors` (the tests compile them with the macro), and
/// set `cfg(tflite_models)`. Without `../shared` (a user's machine) the tests that need them
/// are skipped; `MOBILENET_REQUIRE_TFLITE` (CI) makes that a failure.
fn import_tflite_models(out: &str) {
    // The repository's own tiny int8 model (scripts/make_tflite_seed.py): always imported.
    let tiny = Path::new("../mobilenet-fuzz/corpus/tflite/tiny_int8.tflite");
    println!("cargo:rerun-if-changed={}", tiny.display());
    let bytes = std::fs::read(tiny).expect("the tiny TFLite model");
    let imported = mobilenet_compiler::tflite::import(
        &[(tiny.display().to_string(), bytes)],
        &mobilenet_compiler::tflite::Options {
            name: Some("tiny_int8".into()),
            dequantize: false,
        },
    )
    .unwrap_or_else(|e| panic!("importing the tiny model: {e}"));
    std::fs::write(Path::new(out).join("tiny_int8.toml"), &imported.spec).expect("write spec");
    std::fs::write(
        Path::new(out).join("tiny_int8.safetensors"),
        &imported.weights,
    )
    .expect("write weights");
    let abs = std::fs::canonicalize(tiny).expect("tiny model path");
    println!("cargo:rustc-env=TFLITE_TINY_INT8={}", abs.display());

    println!("cargo::rustc-check-cfg=cfg(tflite_models)");
    println!("cargo:rerun-if-env-changed=MOBILENET_REQUIRE_TFLITE");
    let dir = Path::new("../../shared/data/tflite");
    println!("cargo:rerun-if-changed={}", dir.display());
    let missing: Vec<String> = TFLITE_MODELS
        .iter()
        .flat_map(|(_, files)| files.iter())
        .filter(|f| !dir.join(f).is_file())
        .map(|f| f.to_string())
        .collect();
    if !missing.is_empty() {
        let msg = format!(
            "{} not found ({}): the TFLite model tests are skipped",
            dir.display(),
            missing.join(", ")
        );
        if std::env::var_os("MOBILENET_REQUIRE_TFLITE").is_some() {
            panic!("{msg}, and MOBILENET_REQUIRE_TFLITE is set");
        }
        println!("cargo:warning={msg}");
        return;
    }
    let dir = std::fs::canonicalize(dir).expect("the folder exists");
    for (name, files) in TFLITE_MODELS {
        let bytes: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| {
                let p = dir.join(f);
                (
                    p.display().to_string(),
                    std::fs::read(&p).expect("read model"),
                )
            })
            .collect();
        let opts = mobilenet_compiler::tflite::Options {
            name: Some(name.to_string()),
            dequantize: false,
        };
        let imported = mobilenet_compiler::tflite::import(&bytes, &opts)
            .unwrap_or_else(|e| panic!("importing {name}: {e}"));
        std::fs::write(Path::new(out).join(format!("{name}.toml")), &imported.spec)
            .expect("write spec");
        std::fs::write(
            Path::new(out).join(format!("{name}.safetensors")),
            &imported.weights,
        )
        .expect("write weights");
        let paths: Vec<String> = files
            .iter()
            .map(|f| dir.join(f).display().to_string())
            .collect();
        println!(
            "cargo:rustc-env=TFLITE_{}={}",
            name.to_uppercase(),
            paths.join(":")
        );
    }
    println!(
        "cargo:rustc-env=IMAGENET_VAL={}",
        dir.join("../imagenet-val").display()
    );
    println!("cargo:rustc-cfg=tflite_models");
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
/// in `tests/kernel_shapes.rs`: each SIMD variant is compared with its scalar twin on the exact
/// const generics the generated code uses.
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
    let body: String = calls.iter().map(|c| format!("    {c};\n")).collect();
    let code = format!(
        "/// {} distinct kernel shapes from {} spec files.\npub const SHAPES: usize = {};\n\npub fn check_all_layer_shapes() {{\n{body}}}\n",
        calls.len(),
        specs.len(),
        calls.len()
    );
    std::fs::write(Path::new(out).join("layer_shapes.rs"), code).expect("write layer_shapes.rs");
}
