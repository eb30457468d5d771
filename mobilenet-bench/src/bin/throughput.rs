//! `throughput <network> [--threads T] [--batch B] [--rounds R]`
//!
//! Batch throughput with `Model::forward_batch` on a pool of T threads (default: every core):
//! B images per batch (default 4 per thread), R timed batches after warm-up; prints a JSON line
//! with the median images/s and the single-thread, single-image images/s measured in the same
//! run, and their ratio.

use std::time::Instant;

use mobilenet_bench::{median, random_weights};
use mobilenet_runtime::threads::Pool;

macro_rules! run {
    ($m:ident, $threads:expr, $batch:expr, $rounds:expr) => {{
        use mobilenet_bench::$m as net;
        let model = net::Model::from_safetensors(random_weights(stringify!($m))).expect("weights");
        let inputs: Vec<[f32; net::INPUT_LEN]> = (0..$batch)
            .map(|k| std::array::from_fn(|i| (((i + 31 * k) * 7919) % 255) as f32 / 127.5 - 1.0))
            .collect();
        let mut outputs = vec![[0.0f32; net::OUTPUT_LEN]; $batch];
        let pool = Pool::new($threads);
        let mut scratch: Vec<_> = (0..$threads).map(|_| net::Model::new_scratch()).collect();
        let mut one = net::Model::new_scratch();
        let mut batch_rates = Vec::new();
        let mut single_rates = Vec::new();
        for round in 0..$rounds + 2 {
            let t = Instant::now();
            model.forward_batch(&pool, &inputs, &mut outputs, &mut scratch);
            let batch_rate = $batch as f64 / t.elapsed().as_secs_f64();
            let t = Instant::now();
            for (x, y) in inputs.iter().zip(outputs.iter_mut()) {
                model.forward(x, y, &mut one);
            }
            let single_rate = $batch as f64 / t.elapsed().as_secs_f64();
            if round >= 2 {
                batch_rates.push(batch_rate);
                single_rates.push(single_rate);
            }
        }
        let (b, s) = (median(batch_rates), median(single_rates));
        println!(
            "{{\"network\":\"{}\",\"threads\":{},\"batch\":{},\"images_per_s\":{b:.1},\"single_thread_images_per_s\":{s:.1},\"scaling\":{:.3}}}",
            stringify!($m), $threads, $batch, b / s
        );
    }};
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let network = args.get(1).cloned().unwrap_or_else(|| {
        eprintln!("usage: throughput <v1_1_0_224|v1_0_25_128|v2_1_0_224> [--threads T] [--batch B] [--rounds R]");
        std::process::exit(2);
    });
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut batch, mut rounds) = (0usize, 20usize);
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        let n: usize = v
            .parse()
            .unwrap_or_else(|_| panic!("{} takes a number, found {v:?}", args[i]));
        match args[i].as_str() {
            "--threads" => threads = n.max(1),
            "--batch" => batch = n,
            "--rounds" => rounds = n.max(1),
            other => panic!("unknown argument {other:?}"),
        }
        i += 2;
    }
    if batch == 0 {
        batch = 4 * threads;
    }
    match network.as_str() {
        "v1_1_0_224" => run!(v1_1_0_224, threads, batch, rounds),
        "v1_0_25_128" => run!(v1_0_25_128, threads, batch, rounds),
        "v2_1_0_224" => run!(v2_1_0_224, threads, batch, rounds),
        other => panic!("unknown network {other:?}"),
    }
}
