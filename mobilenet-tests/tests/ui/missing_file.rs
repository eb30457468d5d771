// A spec path that does not exist is an error at the literal.
mobilenet_macros::mobilenet!(spec = "no_such_spec.toml");

fn main() {}
