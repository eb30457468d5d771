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

/// The dequantized (float) imports of three of [`models`], for `bench/peers.py --int8`'s "our
/// float on the same network" row: built with `MOBILENET_TFLITE_FLOAT` set.
#[cfg(all(tflite_models, tflite_float))]
pub mod float_models {
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/f_v1_025_128.toml",
        weights = "$OUT_DIR/f_v1_025_128.safetensors",
        name = "f_v1_025_128"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/f_v1_100_224.toml",
        weights = "$OUT_DIR/f_v1_100_224.safetensors",
        name = "f_v1_100_224"
    );
    mobilenet_macros::mobilenet!(
        spec = "$OUT_DIR/f_v2_ptq_224.toml",
        weights = "$OUT_DIR/f_v2_ptq_224.safetensors",
        name = "f_v2_ptq_224"
    );
}
