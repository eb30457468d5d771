//! `throughput <network> [--threads T] [--batch B | --seconds S] [--rounds R] [--weights FILE]`
//!
//! Images per second with every core, both ways the runtime offers, in the same run:
//! `Model::forward_batch` on a pool of T threads (one image per thread at a time) and
//! `Model::forward_parallel` (each image's layers split across the T threads, images one after
//! another), against the single-thread, single-image loop. B images per batch (default: as many
//! as T threads run in about S seconds, S = 0.5, at least 4 per thread), R timed batches per way
//! (default 20) after two warm-up ones. Prints a JSON line with each way's median images/s, the
//! best of the two (`images_per_s`, `mode`) and its ratio to one thread.

use std::time::Instant;

use mobilenet_bench::{median, random_weights};
use mobilenet_runtime::threads::Pool;

macro_rules! run {
    ($m:ident, $weights:expr, $threads:expr, $batch:expr, $seconds:expr, $rounds:expr) => {{
        use mobilenet_bench::$m as net;
        let weights: &[u8] = match $weights {
            Some(w) => w,
            None => random_weights(stringify!($m)),
        };
        let model = match net::Model::from_safetensors(weights) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let mut one = net::Model::new_scratch();
        let batch = match $batch {
            0 => {
                // One warm-up forward, then three timed: the batch T threads run in S seconds.
                let (x, mut y) = ([0.5f32; net::INPUT_LEN], [0.0f32; net::OUTPUT_LEN]);
                model.forward(&x, &mut y, &mut one);
                let t = Instant::now();
                for _ in 0..3 {
                    model.forward(&x, &mut y, &mut one);
                }
                let per_image = t.elapsed().as_secs_f64() / 3.0;
                let n = ($seconds * $threads as f64 / per_image).ceil() as usize;
                n.max(4 * $threads).div_ceil($threads) * $threads
            }
            b => b,
        };
        let inputs: Vec<[f32; net::INPUT_LEN]> = (0..batch)
            .map(|k| std::array::from_fn(|i| (((i + 31 * k) * 7919) % 255) as f32 / 127.5 - 1.0))
            .collect();
        let mut outputs = vec![[0.0f32; net::OUTPUT_LEN]; batch];
        let pool = Pool::new($threads);
        let mut scratch: Vec<_> = (0..$threads).map(|_| net::Model::new_scratch()).collect();
        let (mut batch_rates, mut parallel_rates, mut single_rates) = (vec![], vec![], vec![]);
        let rate = |t: Instant| batch as f64 / t.elapsed().as_secs_f64();
        for round in 0..$rounds + 2 {
            let t = Instant::now();
            model.forward_batch(&pool, &inputs, &mut outputs, &mut scratch);
            let batch_rate = rate(t);
            let t = Instant::now();
            for (x, y) in inputs.iter().zip(outputs.iter_mut()) {
                model.forward_parallel(&pool, x, y, &mut one);
            }
            let parallel_rate = rate(t);
            let t = Instant::now();
            for (x, y) in inputs.iter().zip(outputs.iter_mut()) {
                model.forward(x, y, &mut one);
            }
            let single_rate = rate(t);
            if round >= 2 {
                batch_rates.push(batch_rate);
                parallel_rates.push(parallel_rate);
                single_rates.push(single_rate);
            }
        }
        let (b, p, s) = (median(batch_rates), median(parallel_rates), median(single_rates));
        let (best, mode) = if b >= p { (b, "forward_batch") } else { (p, "forward_parallel") };
        println!(
            "{{\"network\":\"{}\",\"threads\":{},\"batch\":{},\"images_per_s\":{best:.1},\"mode\":\"{mode}\",\
             \"batch_images_per_s\":{b:.1},\"parallel_images_per_s\":{p:.1},\
             \"single_thread_images_per_s\":{s:.1},\"scaling\":{:.3}}}",
            stringify!($m),
            $threads,
            batch,
            best / s
        );
    }};
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let network = args.get(1).cloned().unwrap_or_else(|| {
        eprintln!(
            "usage: throughput <v1_1_0_224|v1_0_25_128|v2_1_0_224> [--threads T] \
             [--batch B | --seconds S] [--rounds R] [--weights FILE]"
        );
        std::process::exit(2);
    });
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut batch, mut rounds, mut seconds) = (0usize, 20usize, 0.5f64);
    let mut weights: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        if args[i] == "--weights" {
            match std::fs::read(&v) {
                Ok(w) => weights = Some(w),
                Err(e) => {
                    eprintln!("error: cannot read weights {v:?}: {e}");
                    std::process::exit(1);
                }
            }
            i += 2;
            continue;
        }
        if args[i] == "--seconds" {
            match v.parse::<f64>() {
                Ok(x) if x > 0.0 => seconds = x,
                _ => {
                    eprintln!("error: --seconds takes a positive number, found {v:?}");
                    std::process::exit(2);
                }
            }
            i += 2;
            continue;
        }
        let n: usize = v.parse().unwrap_or_else(|_| {
            eprintln!("error: {} takes a number, found {v:?}", args[i]);
            std::process::exit(2);
        });
        match args[i].as_str() {
            "--threads" => threads = n.max(1),
            "--batch" => batch = n,
            "--rounds" => rounds = n.max(1),
            other => {
                eprintln!("error: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let weights = weights.as_deref();
    match network.as_str() {
        "v1_1_0_224" => run!(v1_1_0_224, weights, threads, batch, seconds, rounds),
        "v1_0_25_128" => run!(v1_0_25_128, weights, threads, batch, seconds, rounds),
        "v2_1_0_224" => run!(v2_1_0_224, weights, threads, batch, seconds, rounds),
        other => {
            eprintln!("error: unknown network {other:?}");
            std::process::exit(2);
        }
    }
}
