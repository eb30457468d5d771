//! The generated forward pass against ONNX Runtime on the same weights and input
//! (fixtures from scripts/make_fixtures.py). Tolerance: max abs error <= 1e-4 x max |reference|.

use mobilenet_runtime::kernels;
use mobilenet_tests::{fixture, isas_to_force, rel_max_err, top_k};

mobilenet_macros::mobilenet!(
    spec = "../specs/seed_cifar100.toml",
    weights = "$OUT_DIR/seed.safetensors",
    name = "seed"
);
mobilenet_macros::mobilenet!(
    spec = "../specs/v1_alpha025_res128.toml",
    weights = "$OUT_DIR/v1_a025_r128.safetensors",
    name = "v1_a025_r128"
);
mobilenet_macros::mobilenet!(
    spec = "specs/tfslim_a050_r96.toml",
    weights = "$OUT_DIR/tfslim_a050_r96.safetensors",
    name = "tfslim_a050_r96"
);
// The two largest networks only on the host: under qemu and Node the cross-target runs
// (scripts/cross-test.sh, `--cfg mobilenet_cross`) keep one of each family and padding style
// (seed, v1 0.25/128, TF-slim SAME, v2 0.35/96) at a fraction of the build and emulation time;
// the runtime's kernel tests cover the larger shapes there.
#[cfg(not(mobilenet_cross))]
mobilenet_macros::mobilenet!(
    spec = "specs/v1_a075_r128.toml",
    weights = "$OUT_DIR/v1_a075_r128.safetensors",
    name = "v1_a075_r128"
);

#[cfg(not(mobilenet_cross))]
mobilenet_macros::mobilenet!(
    spec = "../specs/v2_alpha100.toml",
    weights = "$OUT_DIR/v2_a100_r224.safetensors",
    name = "v2_a100_r224"
);
mobilenet_macros::mobilenet!(
    spec = "specs/v2_a035_r96.toml",
    weights = "$OUT_DIR/v2_a035_r96.safetensors",
    name = "v2_a035_r96"
);

const TOL: f32 = 1e-4;

/// Forcing an ISA is process-wide: the conformance tests take turns.
static ISA_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Every network runs once per instruction set this CPU supports, forced, so that a bug in one
/// path cannot hide behind dispatch; the test fails if the forced ISA's kernels did not run.
macro_rules! conformance {
    ($test:ident, $m:ident, $fixture:literal) => {
        conformance!(
            $test,
            $m,
            $fixture,
            |_model, _input, _out, _scratch, _isa| {}
        );
    };
    // `threaded`: also `forward_parallel` on pools of 1, 2 and 3 threads (more than a 2-core
    // machine has), bit-identical to `forward` on every instruction set.
    ($test:ident, $m:ident, $fixture:literal, threaded) => {
        conformance!(
            $test,
            $m,
            $fixture,
            |model: &$m::Model, input, out: &[f32; $m::OUTPUT_LEN], scratch: &mut _, isa| {
                for threads in [1, 2, 3] {
                    let pool = mobilenet_runtime::threads::Pool::new(threads);
                    let mut par = [0.0f32; $m::OUTPUT_LEN];
                    model.forward_parallel(&pool, input, &mut par, scratch);
                    assert_eq!(
                        par.map(f32::to_bits),
                        out.map(f32::to_bits),
                        "{} [{isa}]: forward_parallel on {threads} threads differs from forward",
                        $fixture
                    );
                }
            }
        );
    };
    ($test:ident, $m:ident, $fixture:literal, $extra:expr) => {
        #[test]
        fn $test() {
            let _guard = ISA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let fx = fixture($fixture, $m::INPUT_LEN);
            let model = $m::Model::embedded();
            let input: &[f32; $m::INPUT_LEN] =
                fx.input.as_slice().try_into().expect("fixture input size");
            let mut scratch = $m::Model::new_scratch();
            let isas = isas_to_force();
            for isa in isas {
                kernels::force_isa(isa).unwrap();
                let before = kernels::calls(isa);
                let mut out = [0.0f32; $m::OUTPUT_LEN];
                model.forward(input, &mut out, &mut scratch);
                let ran = kernels::calls(isa) - before;
                // One call per layer, a fused pair's one call for both (less a pool and a
                // softmax, which may have no variant of their own).
                let calls = $m::LAYERS.iter().filter(|l| !l.fused).count();
                assert!(
                    ran >= calls - 2,
                    "{}: forced {isa} but only {ran} {isa} kernel calls ran",
                    $fixture
                );
                let err = rel_max_err(&out, &fx.output);
                eprintln!("{} [{isa}]: relative max error {err:e}", $fixture);
                assert!(
                    err <= TOL,
                    "{} [{isa}]: relative max error {err} > {TOL}",
                    $fixture
                );
                assert_eq!(
                    top_k(&out, 5),
                    top_k(&fx.output, 5),
                    "{} [{isa}]: top-5 differs",
                    $fixture
                );
                // A second run on the same scratch gives the same answer (no state leaks).
                let mut again = [0.0f32; $m::OUTPUT_LEN];
                model.forward(input, &mut again, &mut scratch);
                assert_eq!(out, again, "{} [{isa}]: second run differs", $fixture);
                ($extra)(&model, input, &out, &mut *scratch, isa);
            }
            kernels::force_isa(kernels::best_isa()).unwrap();
        }
    };
}

conformance!(seed_cifar100_matches_onnxruntime, seed, "seed");
conformance!(
    v1_alpha025_res128_matches_onnxruntime,
    v1_a025_r128,
    "v1_a025_r128",
    threaded
);
conformance!(
    tfslim_same_relu6_matches_onnxruntime,
    tfslim_a050_r96,
    "tfslim_a050_r96"
);
#[cfg(not(mobilenet_cross))]
conformance!(
    v1_alpha075_res128_matches_onnxruntime,
    v1_a075_r128,
    "v1_a075_r128"
);

#[cfg(not(mobilenet_cross))]
conformance!(
    v2_alpha100_res224_matches_onnxruntime,
    v2_a100_r224,
    "v2_a100_r224"
);
conformance!(
    v2_alpha035_res96_matches_onnxruntime,
    v2_a035_r96,
    "v2_a035_r96",
    threaded
);

#[test]
fn runtime_loading_matches_embedded() {
    // from_safetensors on the same bytes packs exactly what embedded() packs.
    let a = seed::Model::embedded();
    let b = seed::Model::from_safetensors(&seed::EMBEDDED_WEIGHTS.0).unwrap();
    assert_eq!(a.params(), b.params());
}

#[test]
fn generated_constants() {
    assert_eq!(seed::INPUT_SHAPE, [32, 32, 3]);
    assert_eq!(seed::CLASSES, 100);
    assert_eq!(seed::MULT_ADDS, 65_315_648);
    assert_eq!(seed::PARAMS, 3_287_488);
    assert_eq!(seed::LAYERS.len(), 29);
    assert_eq!(seed::LAYERS[0].output, [34, 34, 32]);
    assert_eq!(
        seed::LAYERS.iter().map(|l| l.mult_adds).sum::<u64>(),
        seed::MULT_ADDS
    );
    assert!(seed::REPORT.contains("| 1 | conv1 | Conv 3x3 s1 | 32x32x3 | 34x34x32 |"));
    assert_eq!(tfslim_a050_r96::LABELS_OFFSET, 1);
    assert_eq!(tfslim_a050_r96::CLASSES, 1001);
}

#[test]
fn bad_weights_are_errors_naming_the_tensor() {
    // Weights of another network: every mismatch is an error, never a panic or garbage.
    let err = seed::Model::from_safetensors(&v1_a025_r128::EMBEDDED_WEIGHTS.0)
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(msg.contains("no layer of the spec uses"), "{msg}");
    // A truncated file.
    let bytes = &seed::EMBEDDED_WEIGHTS.0;
    for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = seed::Model::from_safetensors(&bytes[..cut])
            .err()
            .expect("truncated must fail");
        assert!(err.to_string().contains("safetensors"), "cut {cut}: {err}");
    }
}
