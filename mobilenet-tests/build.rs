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
    write_layer_shape_tests(&out);
    mobilenet_compiler::build::optional_file_cfg(
        "real_model",
        "../models/mobilenet_v1_1.0_224.safetensors",
        "MOBILENET_REAL_WEIGHTS",
        "run scripts/fetch_real_model.sh",
    );
}

/// Every distinct kernel instantiation of every spec in `specs/` and `specs/` of this package,
/// as calls of the checking functions in `tests/kernel_shapes.rs`: each SIMD variant is
/// compared with its scalar twin on the exact const generics the generated code uses.
fn write_layer_shape_tests(out: &str) {
    use mobilenet_compiler::model::{ConvKind, Op};
    use mobilenet_compiler::spec::Activation;
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
                .filter(|p| p.extension().is_some_and(|e| e == "toml")),
        );
    }
    let mut calls: Vec<String> = Vec::new();
    for spec in &specs {
        let net = mobilenet_compiler::compile_file(spec)
            .unwrap_or_else(|d| panic!("{}:\n{d}", spec.display()));
        for l in &net.layers {
            let (i, o) = (l.input, l.output);
            let call = match &l.op {
                Op::Conv(c) => {
                    let act = match c.activation {
                        Activation::None => 0,
                        Activation::Relu => 1,
                        Activation::Relu6 => 2,
                    };
                    match c.kind {
                        ConvKind::Depthwise => format!(
                            "check_depthwise::<{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {act}>()",
                            i.h, i.w, i.c, o.h, o.w, c.kh, c.kw, c.sh, c.sw, c.pad.top, c.pad.left
                        ),
                        ConvKind::Full if c.is_pointwise() => {
                            format!("check_pointwise::<{}, {}, {}, {act}>()", i.h * i.w, i.c, o.c)
                        }
                        ConvKind::Full => format!(
                            "check_conv2d::<{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {act}>()",
                            i.h, i.w, i.c, o.h, o.w, o.c, c.kh, c.kw, c.sh, c.sw, c.pad.top, c.pad.left
                        ),
                    }
                }
                Op::Fc {
                    inputs, outputs, ..
                } => format!("check_fc::<{inputs}, {outputs}>()"),
                Op::GlobalAvgPool => format!("check_global_avgpool::<{}, {}>()", i.h * i.w, i.c),
                Op::Softmax => format!("check_softmax::<{}>()", i.c),
                Op::AvgPool { .. } => continue,
            };
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
