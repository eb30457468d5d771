//! trybuild: spec and weights errors become compile errors at the macro call, every one of
//! them, naming the TOML file, line and column (or the tensor).

#![cfg(not(mobilenet_cross))] // its dev-dependencies are not built for the cross targets

use std::path::Path;

#[test]
fn compile_errors() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    // Weights for the tiny spec and for two variants that do not fit it.
    let weights_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-weights");
    std::fs::create_dir_all(&weights_dir).unwrap();
    for name in ["tiny", "tiny_renamed", "tiny_wide"] {
        let net = mobilenet_compiler::compile_file(ui.join(format!("{name}.toml"))).unwrap();
        let bytes = mobilenet_compiler::weights::random(&net, 1);
        std::fs::write(weights_dir.join(format!("{name}.safetensors")), bytes).unwrap();
    }
    // The macro expands `$VAR` in paths from the compiler's environment, which trybuild's cargo
    // inherits from this process.
    std::env::set_var("MOBILENET_UI", &ui);
    std::env::set_var("MOBILENET_UI_WEIGHTS", &weights_dir);
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/tiny_ok.rs");
    t.compile_fail("tests/ui/bad_spec.rs");
    t.compile_fail("tests/ui/missing_tensor.rs");
    t.compile_fail("tests/ui/wrong_shape.rs");
    t.compile_fail("tests/ui/missing_file.rs");
}
