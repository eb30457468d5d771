//! `timing <network> [--weights w.safetensors] [--input x.bin] [--iters 200] [--isa avx2] [--threads N]`
//!
//! Runs one network (single-threaded `forward`, or with `--threads N` > 1 `forward_parallel`
//! on a pool of N threads) and prints a JSON line: median, min and mean milliseconds,
//! GFLOP/s (2 x Mult-Adds / time), the ISA, and the output (for `bench/peers` to compare with
//! the other engines). `--input` is raw little-endian f32 NHWC; without it the input is a
//! fixed pattern.

use std::time::Instant;

use mobilenet_bench::{median, random_weights, v1_0_25_128, v1_1_0_224, v2_1_0_224};
use mobilenet_runtime::kernels::{self, Isa};

macro_rules! run {
    ($m:ident, $weights:expr, $input:expr, $iters:expr, $threads:expr) => {{
        let model = match $m::Model::from_safetensors($weights) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let input: Vec<f32> = match $input {
            Some(x) => x,
            None => (0..$m::INPUT_LEN)
                .map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0)
                .collect(),
        };
        if input.len() != $m::INPUT_LEN {
            eprintln!(
                "error: input has {} values, the network takes {}",
                input.len(),
                $m::INPUT_LEN
            );
            std::process::exit(1);
        }
        let input: &[f32; $m::INPUT_LEN] = input.as_slice().try_into().unwrap();
        let mut out = vec![0.0f32; $m::OUTPUT_LEN];
        let out_arr: &mut [f32; $m::OUTPUT_LEN] = out.as_mut_slice().try_into().unwrap();
        let mut scratch = $m::Model::new_scratch();
        let pool = mobilenet_runtime::threads::Pool::new($threads);
        let mut once = |out: &mut [f32; $m::OUTPUT_LEN]| {
            if $threads > 1 {
                model.forward_parallel(&pool, input, out, &mut scratch)
            } else {
                model.forward(input, out, &mut scratch)
            }
        };
        for _ in 0..10 {
            once(out_arr);
        }
        let mut times = Vec::with_capacity($iters);
        for _ in 0..$iters {
            let t = Instant::now();
            once(out_arr);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ($m::MULT_ADDS, times, out)
    }};
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let network = args.get(1).cloned().unwrap_or_else(|| {
        eprintln!("usage: timing <v1_1_0_224|v1_0_25_128|v2_1_0_224> [--weights FILE] [--input FILE] [--iters N] [--isa scalar|avx2] [--threads N]");
        std::process::exit(2);
    });
    let mut weights: Option<Vec<u8>> = None;
    let mut input: Option<Vec<f32>> = None;
    let mut iters = 200usize;
    let mut threads = 1usize;
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--weights" => weights = Some(std::fs::read(&v).expect("weights file")),
            "--input" => {
                let b = std::fs::read(&v).expect("input file");
                input = Some(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                );
            }
            "--iters" => iters = v.parse().expect("--iters N"),
            "--threads" => threads = v.parse().expect("--threads N"),
            "--isa" => {
                let isa = Isa::ALL
                    .into_iter()
                    .find(|x| x.name() == v)
                    .expect("unknown ISA");
                kernels::force_isa(isa).unwrap_or_else(|e| panic!("{e}"));
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let (mult_adds, times, out) = match network.as_str() {
        "v1_1_0_224" => run!(
            v1_1_0_224,
            weights.as_deref().unwrap_or(random_weights("v1_1_0_224")),
            input,
            iters,
            threads
        ),
        "v1_0_25_128" => run!(
            v1_0_25_128,
            weights.as_deref().unwrap_or(random_weights("v1_0_25_128")),
            input,
            iters,
            threads
        ),
        "v2_1_0_224" => run!(
            v2_1_0_224,
            weights.as_deref().unwrap_or(random_weights("v2_1_0_224")),
            input,
            iters,
            threads
        ),
        other => panic!("unknown network {other}"),
    };
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let med = median(times);
    let gflops = 2.0 * mult_adds as f64 / (med * 1e-3) / 1e9;
    let out_json: Vec<String> = out.iter().map(|v| format!("{v:e}")).collect();
    println!(
        "{{\"network\":\"{network}\",\"isa\":\"{}\",\"threads\":{threads},\"iters\":{iters},\"median_ms\":{med:.4},\"min_ms\":{min:.4},\"mean_ms\":{mean:.4},\"gflops\":{gflops:.2},\"output\":[{}]}}",
        kernels::active_isa(),
        out_json.join(",")
    );
}
