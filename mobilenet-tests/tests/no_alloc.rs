//! `forward` performs no heap allocation: a counting global allocator sees zero allocations
//! (and deallocations) during forward passes, after loading.

use mobilenet_tests::{allocations, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

mobilenet_macros::mobilenet!(
    spec = "../specs/seed_cifar100.toml",
    weights = "$OUT_DIR/seed.safetensors",
    name = "seed"
);
mobilenet_macros::mobilenet!(
    spec = "specs/v2_a035_r96.toml",
    weights = "$OUT_DIR/v2_a035_r96.safetensors",
    name = "v2"
);

/// Runs the given forward methods of `$m` three times after loading; returns the number of
/// allocations they made.
macro_rules! allocations_in_forward {
    ($m:ident: $($method:ident),*) => {{
        let model = $m::Model::embedded();
        let mut scratch = $m::Model::new_scratch();
        let input = vec![0.5f32; $m::INPUT_LEN];
        let input: &[f32; $m::INPUT_LEN] = input.as_slice().try_into().unwrap();
        let mut out = [0.0f32; $m::OUTPUT_LEN];
        // The counter works: loading allocates.
        let before_load = allocations();
        let again = $m::Model::embedded();
        assert!(
            allocations() > before_load,
            "the counting allocator is not active"
        );
        drop(again);
        let before = allocations();
        for _ in 0..3 {
            $(
                model.$method(input, &mut out, &mut scratch);
                assert!(out.iter().all(|v| v.is_finite()));
            )*
        }
        allocations() - before
    }};
}

/// The allocation counter is process-wide, and the test harness allocates on its own thread
/// when a test ends (its report): the checks run one after another in a single test.
#[test]
fn nothing_allocates_after_loading() {
    forward_allocates_nothing();
    v2_forward_allocates_nothing();
    batch_forward_allocates_nothing_and_matches_forward();
    parallel_forward_allocates_nothing_and_matches_forward();
}

/// One image's layers split across a pool of 1, 2 and 3 threads (more than this machine's
/// cores, if it has 2): nothing allocated once the pool exists, and the output of `forward`, bit
/// for bit.
fn parallel_forward_allocates_nothing_and_matches_forward() {
    let model = v2::Model::embedded();
    let input: [f32; v2::INPUT_LEN] = mobilenet_tests::hash_input(v2::INPUT_LEN)
        .try_into()
        .unwrap();
    let mut scratch = v2::Model::new_scratch();
    let mut expected = [0.0f32; v2::OUTPUT_LEN];
    model.forward(&input, &mut expected, &mut scratch);
    for threads in [1, 2, 3] {
        let pool = mobilenet_runtime::threads::Pool::new(threads);
        let mut out = [0.0f32; v2::OUTPUT_LEN];
        model.forward_parallel(&pool, &input, &mut out, &mut scratch); // warm-up
        let before = allocations();
        for _ in 0..3 {
            out.fill(0.0);
            model.forward_parallel(&pool, &input, &mut out, &mut scratch);
        }
        assert_eq!(
            allocations() - before,
            0,
            "{threads} threads: forward_parallel allocated"
        );
        assert_eq!(
            out.map(f32::to_bits),
            expected.map(f32::to_bits),
            "{threads} threads: forward_parallel differs from forward"
        );
    }
}

fn forward_allocates_nothing() {
    assert_eq!(
        allocations_in_forward!(seed: forward),
        0,
        "forward allocated"
    );
}

fn v2_forward_allocates_nothing() {
    // The graph's forward: skip values kept in the arena, residual adds fused, in place.
    assert_eq!(
        allocations_in_forward!(v2: forward, forward_logits),
        0,
        "forward allocated"
    );
}

/// A batch on a pool of 1, 2 and 3 threads (more than this machine's cores, if it has 2)
/// allocates nothing once the pool and the arenas exist, and gives each image the output the
/// single-image forward gives it, bit for bit.
fn batch_forward_allocates_nothing_and_matches_forward() {
    let model = v2::Model::embedded();
    let images = 5;
    let inputs: Vec<[f32; v2::INPUT_LEN]> = (0..images)
        .map(|k| {
            let x = mobilenet_tests::hash_input(v2::INPUT_LEN + k);
            x[k..].try_into().unwrap()
        })
        .collect();
    let mut expected = vec![[0.0f32; v2::OUTPUT_LEN]; images];
    let mut scratch = v2::Model::new_scratch();
    for (x, y) in inputs.iter().zip(expected.iter_mut()) {
        model.forward(x, y, &mut scratch);
    }
    for threads in [1, 2, 3] {
        let pool = mobilenet_runtime::threads::Pool::new(threads);
        let mut scratches: Vec<_> = (0..threads).map(|_| v2::Model::new_scratch()).collect();
        let mut outputs = vec![[0.0f32; v2::OUTPUT_LEN]; images];
        model.forward_batch(&pool, &inputs, &mut outputs, &mut scratches); // warm-up
        let before = allocations();
        for _ in 0..3 {
            outputs.iter_mut().for_each(|o| o.fill(0.0));
            model.forward_batch(&pool, &inputs, &mut outputs, &mut scratches);
        }
        assert_eq!(
            allocations() - before,
            0,
            "{threads} threads: the batch allocated"
        );
        for (o, e) in outputs.iter().zip(&expected) {
            assert_eq!(
                o.map(f32::to_bits),
                e.map(f32::to_bits),
                "{threads} threads"
            );
        }
    }
}
