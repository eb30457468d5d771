//! The int8 threaded forward allocates nothing once its pool exists (as `mobilenet-tests`'s
//! `no_alloc` shows for the float networks): a counting global allocator sees no allocation
//! during `forward_parallel` on pools of 2 and 3 threads, whose output is `forward`'s. On the
//! Visual Wake Words int8 model (`scripts/fetch_real_model.sh`) and, where `../shared` is, the
//! released int8 per-channel v2 1.0/224.

use mobilenet_tests::{allocations, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// `forward_parallel` of model module `$m` on pools of 2 and 3 threads: no allocation after a
/// warm-up call, and `forward`'s output.
#[allow(unused_macros)]
macro_rules! threaded_allocates_nothing {
    ($m:path) => {{
        use $m as net;
        let model = net::Model::embedded();
        let input: Vec<_> = (0..net::INPUT_LEN)
            .map(|i| ((i * 7919) % 256) as u8 as _)
            .collect();
        let input = net::input_array(&input).unwrap();
        let mut scratch = net::Model::new_scratch();
        let mut expected = [Default::default(); net::OUTPUT_LEN];
        model.forward(input, &mut expected, &mut scratch);
        for threads in [2, 3] {
            let pool = mobilenet_runtime::threads::Pool::new(threads);
            let mut out = [Default::default(); net::OUTPUT_LEN];
            model.forward_parallel(&pool, input, &mut out, &mut scratch); // warm-up
            let before = allocations();
            for _ in 0..3 {
                model.forward_parallel(&pool, input, &mut out, &mut scratch);
            }
            let n = allocations() - before;
            assert_eq!(
                n,
                0,
                "{}: {threads} threads: forward_parallel allocated",
                stringify!($m)
            );
            assert_eq!(
                out,
                expected,
                "{}: {threads} threads: forward_parallel differs",
                stringify!($m)
            );
        }
    }};
}

/// The allocation counter is process-wide, and the test harness allocates when a test ends:
/// the checks run one after another in this single test.
#[test]
fn int8_threaded_forward_allocates_nothing() {
    #[cfg(vww_model)]
    threaded_allocates_nothing!(mobilenet_tflite_tests::vww::q_vww);
    #[cfg(not(vww_model))]
    eprintln!("skipped: models/visual_wake_words.tflite is not here (scripts/fetch_real_model.sh)");
    #[cfg(tflite_models)]
    threaded_allocates_nothing!(mobilenet_tflite_tests::models::q_v2_ptq_224);
}
