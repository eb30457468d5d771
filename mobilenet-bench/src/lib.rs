//! The benchmarked networks, compiled with `mobilenet!`, and timing helpers shared by the
//! criterion benches and the `timing` tool (which `bench/peers` runs).

mobilenet_macros::mobilenet!(spec = "../specs/v1_tfslim_1001.toml", name = "v1_1_0_224");
mobilenet_macros::mobilenet!(spec = "../specs/v1_alpha025_res128.toml", name = "v1_0_25_128");

/// Random weights of a benchmarked network, written by build.rs (same generator and seed as
/// `mobilenet random-weights --seed 1`).
pub fn random_weights(name: &str) -> &'static [u8] {
    match name {
        "v1_1_0_224" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_1_0_224.safetensors")),
        "v1_0_25_128" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_0_25_128.safetensors")),
        _ => panic!("unknown network {name}"),
    }
}

/// Median of a list of durations in milliseconds.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
