// Every error of the spec is reported, each at its TOML line and column.
mobilenet_macros::mobilenet!(spec = "$MOBILENET_UI/bad_spec.toml");

fn main() {}
