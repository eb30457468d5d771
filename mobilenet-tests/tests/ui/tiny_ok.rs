// The tiny spec with matching weights compiles, and the API is usable.
mobilenet_macros::mobilenet!(spec = "$MOBILENET_UI/tiny.toml", weights = "$MOBILENET_UI_WEIGHTS/tiny.safetensors", name = "tiny");

fn main() {
    let model = tiny::Model::embedded();
    let mut scratch = tiny::Model::new_scratch();
    let input = [0.1f32; tiny::INPUT_LEN];
    let mut out = [0.0f32; tiny::OUTPUT_LEN];
    model.forward(&input, &mut out, &mut scratch);
    assert!(out.iter().all(|v| v.is_finite()));
}
