// The weights file lacks the tensors of the layers named `block2` (it has `sep2`).
mobilenet_macros::mobilenet!(spec = "$MOBILENET_UI/tiny.toml", weights = "$MOBILENET_UI_WEIGHTS/tiny_renamed.safetensors");

fn main() {}
