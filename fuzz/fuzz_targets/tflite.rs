#![no_main]
// The target is defined once, in mobilenet-fuzz (which also replays its corpus in CI).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mobilenet_fuzz::tflite(data));
