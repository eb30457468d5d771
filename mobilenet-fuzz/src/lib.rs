//! Fuzz targets for every loader of untrusted input, written once and run three ways: by
//! libFuzzer (`fuzz/`, `scripts/fuzz.sh`, coverage-guided, for long runs), and by this crate's
//! test, which replays the seed corpora in `corpus/<target>/` and runs a short deterministic
//! mutation smoke on stable in CI.
//!
//! A target returns normally on any input: a panic (or, for the differential targets, a
//! disagreement between two readers, which panics) is a finding. Inputs that a loader rejects
//! are fine; the rejection's message is rendered too, since rendering must not panic either.

use std::sync::OnceLock;

use mobilenet_compiler::Network;

pub mod safetensors_diff;
pub mod seeds;

mobilenet_macros::mobilenet!(spec = "specs/tiny_tfslim.toml", name = "tiny");

/// A fuzz target: takes any bytes, panics only on a finding.
pub type Target = fn(&[u8]);

/// Every target, by name (the name of its corpus folder and of its libFuzzer binary).
pub const TARGETS: &[(&str, Target)] = &[
    ("spec", spec),
    ("safetensors", safetensors),
    ("weights", weights),
    ("tf_graph", tf_graph),
    ("tflite", tflite),
    ("npy", npy),
    ("image", image),
];

/// The input size the smoke and libFuzzer runs cap inputs at (bytes).
pub const MAX_INPUT: usize = 64 << 10;

/// Spec text: parse, validate, analyse; on success also the reports, the memory plan and the
/// generated code (as text); on failure the rendered diagnostics.
pub fn spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match mobilenet_compiler::compile_str("fuzz.toml", text) {
        Ok(net) => {
            let _ = mobilenet_compiler::report::markdown(&net);
            let _ = mobilenet_compiler::report::json(&net);
            let opts = mobilenet_compiler::codegen::Options {
                module: "fuzz".into(),
                spec_path: None,
                weights_path: None,
                tracked: Vec::new(),
            };
            let _ = mobilenet_compiler::codegen::generate(&net, &opts).to_string();
        }
        Err(d) => {
            let rendered = d.render();
            assert!(!rendered.is_empty(), "a rejected spec renders a message");
        }
    }
}

/// The runtime's allocation-free safetensors reader against the `safetensors` crate.
pub fn safetensors(data: &[u8]) {
    safetensors_diff::check(data);
}

/// The network [`weights`] and [`tf_graph`] load files for.
pub fn tiny_net() -> &'static Network {
    static NET: OnceLock<Network> = OnceLock::new();
    NET.get_or_init(|| {
        let text = include_str!("../specs/tiny_tfslim.toml");
        match mobilenet_compiler::compile_str("specs/tiny_tfslim.toml", text) {
            Ok(n) => n,
            Err(d) => panic!("the fuzz spec must compile:\n{}", d.render()),
        }
    })
}

/// A weights file: the compile-time check (the macro's `weights = ...`) and the generated
/// model's run-time loader must agree on it, since an embedded file that passed the first is
/// unpacked by the second in `Model::embedded`, which must not fail.
pub fn weights(data: &[u8]) {
    let compile_time = mobilenet_compiler::weights::check(tiny_net(), "fuzz.safetensors", data);
    let run_time = tiny::Model::from_safetensors(data);
    match (&compile_time, &run_time) {
        (Ok(()), Ok(model)) => {
            let input = [0.5f32; tiny::INPUT_LEN];
            let mut out = [0.0f32; tiny::OUTPUT_LEN];
            let mut scratch = tiny::Model::new_scratch();
            // Finite but huge weights may still overflow to infinities: only the run is checked.
            model.forward(&input, &mut out, &mut scratch);
        }
        (Err(d), Err(e)) => {
            let _ = (d.render(), e.to_string());
        }
        (Ok(()), Err(e)) => panic!("the compile-time check accepts a file the loader rejects: {e}"),
        (Err(d), Ok(_)) => panic!(
            "the loader accepts a file the compile-time check rejects:\n{}",
            d.render()
        ),
    }
}

/// A frozen TF graph imported onto [`tiny_net`]; what it writes must pass the weights check.
pub fn tf_graph(data: &[u8]) {
    match mobilenet_compiler::import::tf_graph(tiny_net(), data) {
        Ok((bytes, _report)) => {
            if let Err(d) =
                mobilenet_compiler::weights::check(tiny_net(), "imported.safetensors", &bytes)
            {
                panic!(
                    "an import writes weights its own check rejects:\n{}",
                    d.render()
                );
            }
        }
        Err(msg) => assert!(!msg.is_empty()),
    }
}

/// A `.tflite` file: the importer (flatbuffer reading, graph recognition, the spec it writes
/// and the weights, which must pass their own check) or an error message.
pub fn tflite(data: &[u8]) {
    let files = [("fuzz.tflite".to_string(), data.to_vec())];
    match mobilenet_compiler::tflite::import(&files, &Default::default()) {
        Ok(imported) => {
            let net = mobilenet_compiler::compile_str("imported.toml", &imported.spec)
                .expect("an import writes a spec that compiles");
            if let Err(d) =
                mobilenet_compiler::weights::check(&net, "imported.safetensors", &imported.weights)
            {
                panic!(
                    "an import writes weights its own check rejects:\n{}",
                    d.render()
                );
            }
        }
        Err(msg) => assert!(!msg.is_empty()),
    }
}

/// A `.npy` input: the strict reader, then the input decoding the classify example uses.
pub fn npy(data: &[u8]) {
    if let Ok(a) = classify::npy::parse(data) {
        let values = a.f32_values().expect("a parsed array converts");
        let numel = a.shape.iter().product::<u64>();
        assert_eq!(
            values.len() as u64,
            numel,
            "as many values as the shape says"
        );
    }
    let _ = classify::decode("fuzz.npy", data, [2, 2, 3]).map_err(|e| e.to_string());
}

/// An image file, decoded and preprocessed as the classify example does.
pub fn image(data: &[u8]) {
    match classify::decode("fuzz.png", data, [4, 4, 3]) {
        Ok(x) => assert_eq!(x.len(), 48),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
