//! The generated per-layer profile: `forward_timed` runs the same calls as `forward` (bit-equal
//! output), `forward_parallel_timed` the same as `forward_parallel`, and `Model::profile` /
//! `Model::profile_parallel` report one row per layer.

#![cfg(not(mobilenet_cross))] // its dev-dependencies are not built for the cross targets

mobilenet_macros::mobilenet!(spec = "specs/v2_a035_r96.toml", name = "net");

/// The network with random weights (`seed`), its hash input, and `forward`'s output on it.
fn model_input_output(seed: u64) -> (net::Model, Vec<f32>, [f32; net::OUTPUT_LEN]) {
    let text = include_str!("../specs/v2_a035_r96.toml");
    let spec = mobilenet_compiler::compile_str("v2_a035_r96.toml", text).unwrap();
    let model =
        net::Model::from_safetensors(&mobilenet_compiler::weights::random(&spec, seed)).unwrap();
    let input = mobilenet_tests::hash_input(net::INPUT_LEN);
    let mut out = [0.0f32; net::OUTPUT_LEN];
    model.forward(
        net::input_array(&input).unwrap(),
        &mut out,
        &mut net::Model::new_scratch(),
    );
    (model, input, out)
}

#[test]
fn timed_forward_equals_forward_and_profile_has_every_layer() {
    let (model, input, a) = model_input_output(1);
    let input = net::input_array(&input).unwrap();
    let mut b = [0.0f32; net::OUTPUT_LEN];
    let mut scratch = net::Model::new_scratch();
    let mut times = [0u64; net::LAYERS.len()];
    net::forward_timed(model.params(), input, &mut b, &mut scratch, &mut times);
    assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
    assert!(times.iter().sum::<u64>() > 0);

    let p = model.profile(input, 1, 5);
    assert_eq!(p.layers.len(), net::LAYERS.len());
    assert_eq!(p.runs, 5);
    for (row, info) in p.layers.iter().zip(net::LAYERS) {
        assert_eq!(row.info, *info);
    }
    assert!(p.forward_ns >= p.layers.iter().map(|l| l.median_ns).fold(0.0, f64::max));
    let table = p.to_string();
    assert_eq!(table.lines().count(), net::LAYERS.len() + 2, "{table}");
    assert!(
        table.lines().last().unwrap().starts_with("forward: "),
        "{table}"
    );
}

#[test]
fn timed_parallel_forward_equals_forward_and_profiles_every_layer() {
    let (model, input, a) = model_input_output(2);
    let input = net::input_array(&input).unwrap();
    let mut b = [0.0f32; net::OUTPUT_LEN];
    let mut scratch = net::Model::new_scratch();
    let pool = mobilenet_runtime::threads::Pool::new(2);
    let mut times = [0u64; net::LAYERS.len()];
    net::forward_parallel_timed(
        &pool,
        model.params(),
        input,
        &mut b,
        &mut scratch,
        &mut times,
    );
    assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
    assert!(times.iter().sum::<u64>() > 0);

    let p = model.profile_parallel(&pool, input, 1, 3);
    assert_eq!(p.layers.len(), net::LAYERS.len());
    assert_eq!(p.runs, 3);
    for (row, info) in p.layers.iter().zip(net::LAYERS) {
        assert_eq!(row.info, *info);
        assert!(row.min_ns <= row.median_ns);
    }
    assert!(p.forward_min_ns <= p.forward_ns);
}
