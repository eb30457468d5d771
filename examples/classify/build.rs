//! The network `classify` runs: by default the TF-slim ImageNet MobileNet v1 1.0/224
//! (`specs/v1_tfslim_1001.toml`, weights read at run time); with `CLASSIFY_TFLITE` set at build
//! time to a `.tflite` file (or the parts of one model, `:`-separated), that model imported by
//! `mobilenet import tflite`'s library function into `OUT_DIR` (`cfg(imported_model)`) and
//! compiled with its weights embedded; `CLASSIFY_DEQUANTIZE=1` imports it as a float network.

use std::path::Path;

fn main() {
    mobilenet_compiler::build::optional_file_cfg(
        "real_model",
        "../../models/mobilenet_v1_1.0_224.safetensors",
        "MOBILENET_REAL_WEIGHTS",
        "run scripts/fetch_real_model.sh",
    );
    println!("cargo::rustc-check-cfg=cfg(imported_model)");
    println!("cargo:rerun-if-env-changed=CLASSIFY_TFLITE");
    println!("cargo:rerun-if-env-changed=CLASSIFY_DEQUANTIZE");
    let Some(files) = std::env::var_os("CLASSIFY_TFLITE") else {
        return;
    };
    let files = files.to_string_lossy().into_owned();
    let mut parts = Vec::new();
    for f in files.split(':') {
        println!("cargo:rerun-if-changed={f}");
        match std::fs::read(f) {
            Ok(b) => parts.push((f.to_string(), b)),
            Err(e) => fail(&format!("CLASSIFY_TFLITE: cannot read `{f}`: {e}")),
        }
    }
    let opts = mobilenet_compiler::tflite::Options {
        name: None,
        dequantize: std::env::var_os("CLASSIFY_DEQUANTIZE").is_some_and(|v| v != "0"),
    };
    let imported = match mobilenet_compiler::tflite::import(&parts, &opts) {
        Ok(m) => m,
        Err(e) => fail(&format!("CLASSIFY_TFLITE: {e}")),
    };
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let out = Path::new(&out);
    std::fs::write(out.join("imported.toml"), &imported.spec).expect("write the spec");
    std::fs::write(out.join("imported.safetensors"), &imported.weights).expect("write the weights");
    println!("cargo:rustc-cfg=imported_model");
}

/// A build error with the importer's message (file, operator and why), no backtrace.
fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}
