//! Imports the TFLite models the tests compile with the macro into OUT_DIR: the repository's
//! tiny int8 model always, the released quantized MobileNets of `../shared/data/tflite/` when
//! that folder is there (`cfg(tflite_models)`); and the list of their int8 kernel shapes
//! (`tests/q8_layer_shapes.rs`).

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    let mut shapes = Vec::new();
    import_vww(&out, &mut shapes);
    import_tflite_models(&out, &mut shapes);
    write_q8_layer_shapes(&out, &shapes);
}

/// The distinct int8 kernel calls with SIMD variants of an imported spec, added to `shapes` as
/// calls of `tests/q8_layer_shapes.rs`'s checking functions.
fn collect_q8_shapes(spec: &Path, shapes: &mut Vec<String>) {
    let net = mobilenet_compiler::compile_file(spec)
        .unwrap_or_else(|d| panic!("{}:\n{d}", spec.display()));
    for k in mobilenet_compiler::ops::kernel_calls(&net) {
        if !k.per_isa || !k.kernel.starts_with("q8_") {
            continue;
        }
        let call = format!("check_{}::<{}>()", k.kernel, k.generic_list());
        if !shapes.contains(&call) {
            shapes.push(call);
        }
    }
}

fn write_q8_layer_shapes(out: &str, shapes: &[String]) {
    let body: String = shapes.iter().map(|c| format!("    {c};\n")).collect();
    let code = format!(
        "/// {n} distinct int8 kernel shapes of the imported models.\npub const SHAPES: usize = {n};\n\npub fn check_all_layer_shapes() {{\n{body}}}\n",
        n = shapes.len()
    );
    std::fs::write(Path::new(out).join("q8_layer_shapes.rs"), code)
        .expect("write q8_layer_shapes.rs");
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

/// The models `bench/peers.py --int8` compares (with `MOBILENET_TFLITE_FLOAT` set, their
/// dequantized float networks are imported too; v1 0.25/128's always is, for the test of the
/// dequantized import against ONNX Runtime).
const FLOAT_MODELS: &[&str] = &["q_v1_025_128", "q_v1_100_224", "q_v2_ptq_224"];

/// MLTK's int8 visual wake words model, fetched into `models/` by `scripts/fetch_real_model.sh`:
/// imported as `q_vww` and, dequantized, as `f_vww` (`cfg(vww_model)`).
fn import_vww(out: &str, shapes: &mut Vec<String>) {
    let path = "../models/visual_wake_words.tflite";
    if !mobilenet_compiler::build::optional_file_cfg(
        "vww_model",
        path,
        "TFLITE_VWW",
        "run scripts/fetch_real_model.sh",
    ) {
        return;
    }
    println!("cargo:rerun-if-changed={path}");
    let bytes = vec![(
        path.to_string(),
        std::fs::read(path).expect("read the model"),
    )];
    import_one(out, "q_vww", &bytes, false, shapes);
    import_one(out, "f_vww", &bytes, true, shapes);
}

/// Imports one model (its files' bytes) into `OUT_DIR/<name>.toml` and `.safetensors`; a
/// dequantized one also gets `<name>.json`, its analysed network (`mobilenet report --format
/// json`), from which `scripts/onnx_reference.py` builds the same network for ONNX Runtime.
fn import_one(
    out: &str,
    name: &str,
    files: &[(String, Vec<u8>)],
    dequantize: bool,
    shapes: &mut Vec<String>,
) {
    let opts = mobilenet_compiler::tflite::Options {
        name: Some(name.to_string()),
        dequantize,
    };
    let imported = mobilenet_compiler::tflite::import(files, &opts)
        .unwrap_or_else(|e| panic!("importing {name}: {e}"));
    let spec = Path::new(out).join(format!("{name}.toml"));
    std::fs::write(&spec, &imported.spec).expect("write spec");
    std::fs::write(
        Path::new(out).join(format!("{name}.safetensors")),
        &imported.weights,
    )
    .expect("write weights");
    if dequantize {
        let net = mobilenet_compiler::compile_file(&spec)
            .unwrap_or_else(|d| panic!("{}:\n{d}", spec.display()));
        std::fs::write(
            Path::new(out).join(format!("{name}.json")),
            mobilenet_compiler::report::json(&net),
        )
        .expect("write the report");
    }
    collect_q8_shapes(&spec, shapes);
}

/// Import every model of [`TFLITE_MODELS`] with `mobilenet import tflite`'s library function
/// into `OUT_DIR/<name>.toml` and `.safetensors` (the tests compile them with the macro), and
/// set `cfg(tflite_models)`. Without `../shared` (a user's machine) the tests that need them
/// are skipped; `MOBILENET_REQUIRE_TFLITE` (CI) makes that a failure.
fn import_tflite_models(out: &str, shapes: &mut Vec<String>) {
    // The repository's own tiny int8 model (scripts/make_tflite_seed.py): always imported.
    let tiny = Path::new("../mobilenet-fuzz/corpus/tflite/tiny_int8.tflite");
    println!("cargo:rerun-if-changed={}", tiny.display());
    let bytes = std::fs::read(tiny).expect("the tiny TFLite model");
    import_one(
        out,
        "tiny_int8",
        &[(tiny.display().to_string(), bytes)],
        false,
        shapes,
    );
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
    println!("cargo::rustc-check-cfg=cfg(tflite_float)");
    println!("cargo:rerun-if-env-changed=MOBILENET_TFLITE_FLOAT");
    let float = std::env::var_os("MOBILENET_TFLITE_FLOAT").is_some();
    if float {
        println!("cargo:rustc-cfg=tflite_float");
    }
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
        import_one(out, name, &bytes, false, shapes);
        // `bench/peers.py --int8` times our float network on the same model too: its
        // dequantized import (`f_` instead of `q_`), built only when asked for (the small
        // v1 0.25/128's always: tests/tflite_models.rs runs it against ONNX Runtime).
        if (float && FLOAT_MODELS.contains(name)) || *name == "q_v1_025_128" {
            import_one(out, &name.replacen("q_", "f_", 1), &bytes, true, shapes);
        }
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
