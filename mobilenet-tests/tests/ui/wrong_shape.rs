// The weights were made for 12 channels in block 2, the spec says 16.
mobilenet_macros::mobilenet!(spec = "$MOBILENET_UI/tiny.toml", weights = "$MOBILENET_UI_WEIGHTS/tiny_wide.safetensors");

fn main() {}
