fn main() {
    mobilenet_compiler::build::optional_file_cfg(
        "real_model",
        "../../models/mobilenet_v1_1.0_224.safetensors",
        "MOBILENET_REAL_WEIGHTS",
        "run scripts/fetch_real_model.sh",
    );
}
