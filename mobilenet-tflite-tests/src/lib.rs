//! The TFLite import and int8 tests (`tests/tflite_models.rs`): imported models compiled with
//! the macro against LiteRT. A package of its own so that the other end-to-end tests (and the
//! trybuild compile-fail tests, which rebuild their crate) do not carry the importer.
//!
//! The models are compiled here, in the library, so that the tests and the `q8_timing` tool
//! (which `bench/peers.py --int8` runs) share them.

mobilenet_macros::mobilenet!(
    spec = "$OUT_DIR/tiny_int8.toml",
    weights = "$OUT_DIR/tiny_int8.safetensors",
    name = "tiny_int8"
);

/// The released quantized MobileNets of `../shared/data/tflite/` (build.rs imports them).
#[cfg(tflite_models)]
pub mod models {
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/q_v1_025_128.toml",
        weights = "$OUT_DIR/q_v1_025_128.safetensors",
        name = "q_v1_025_128"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/q_v1_050_160.toml",
        weights = "$OUT_DIR/q_v1_050_160.safetensors",
        name = "q_v1_050_160"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/q_v1_075_192.toml",
        weights = "$OUT_DIR/q_v1_075_192.safetensors",
        name = "q_v1_075_192"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/q_v1_100_224.toml",
        weights = "$OUT_DIR/q_v1_100_224.safetensors",
        name = "q_v1_100_224"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/q_v2_100_224.toml",
        weights = "$OUT_DIR/q_v2_100_224.safetensors",
        name = "q_v2_100_224"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/q_v2_ptq_224.toml",
        weights = "$OUT_DIR/q_v2_ptq_224.safetensors",
        name = "q_v2_ptq_224"
    );
}

/// MLTK's int8 visual wake words MobileNet v1 0.25/96 (`models/visual_wake_words.tflite`,
/// from `scripts/fetch_real_model.sh`), and its dequantized (float) import.
#[cfg(vww_model)]
pub mod vww {
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/q_vww.toml",
        weights = "$OUT_DIR/q_vww.safetensors",
        name = "q_vww"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/f_vww.toml",
        weights = "$OUT_DIR/f_vww.safetensors",
        name = "f_vww"
    );
}

/// The dequantized (float) imports of [`models`]: v1 0.25/128's always (tested against ONNX
/// Runtime); v1 1.0/224's and v2 PTQ's, for `bench/peers.py --int8`'s "our float on the same
/// network" rows, with `MOBILENET_TFLITE_FLOAT` set.
#[cfg(tflite_models)]
pub mod float_models {
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/f_v1_025_128.toml",
        weights = "$OUT_DIR/f_v1_025_128.safetensors",
        name = "f_v1_025_128"
    );
    #[cfg(tflite_float)]
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/f_v1_100_224.toml",
        weights = "$OUT_DIR/f_v1_100_224.safetensors",
        name = "f_v1_100_224"
    );
    #[cfg(tflite_float)]
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/f_v2_ptq_224.toml",
        weights = "$OUT_DIR/f_v2_ptq_224.safetensors",
        name = "f_v2_ptq_224"
    );
}
