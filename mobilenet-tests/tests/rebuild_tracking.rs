//! Editing the spec or the weights file must rebuild the crate that uses `mobilenet!`. Cargo
//! decides freshness from rustc's dep-info file, which lists every file `include_bytes!` read;
//! the macro emits one for the spec and the weights by absolute path. This test reads the
//! dep-info of the test binary that contains the macro calls (conformance.rs).

use std::path::PathBuf;

#[test]
fn spec_and_weights_are_in_the_dep_info() {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    // The conformance test binary's dep-info: deps/conformance-<hash>.d
    let dep_files: Vec<PathBuf> = std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("conformance-") && n.ends_with(".d")
        })
        .collect();
    assert!(
        !dep_files.is_empty(),
        "no dep-info for the conformance test in {}",
        deps.display()
    );
    let spec = std::fs::canonicalize(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/seed_cifar100.toml"
    ))
    .unwrap();
    let weights = std::fs::canonicalize(concat!(env!("OUT_DIR"), "/seed.safetensors")).unwrap();
    let tf_spec = std::fs::canonicalize(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/specs/tfslim_a050_r96.toml"
    ))
    .unwrap();
    // Any of the (possibly several, from different profiles) dep-info files must list all.
    let ok = dep_files.iter().any(|f| {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        [&spec, &weights, &tf_spec]
            .iter()
            .all(|p| text.contains(&*p.to_string_lossy()))
    });
    assert!(ok, "spec/weights paths missing from {dep_files:?}");
}
