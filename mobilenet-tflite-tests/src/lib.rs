//! The TFLite import and int8 tests (`tests/tflite_models.rs`): imported models compiled with
//! the macro against LiteRT. A package of its own so that the other end-to-end tests (and the
//! trybuild compile-fail tests, which rebuild their crate) do not carry the importer.
