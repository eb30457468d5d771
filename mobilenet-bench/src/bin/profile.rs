//! Per-layer profile of a network on this machine: each layer's median and minimum time,
//! GFLOP/s and share of the forward, beside its Mult-Adds (the generated `Model::profile`; with
//! `--threads N` > 1, `Model::profile_parallel`: `forward_parallel` on a pool of N threads).
//!
//! ```text
//! MOBILENET_PROFILE_SPEC=specs/v2_alpha100.toml cargo run --release -p mobilenet-bench --bin profile
//! cargo run --release -p mobilenet-bench --bin profile -- --net v1_1_0_224 --runs 200 --isa avx2
//! cargo run --release -p mobilenet-bench --bin profile -- --net v1_1_0_224 --threads 2
//! ```
//!
//! Without `--net`, the spec named by `MOBILENET_PROFILE_SPEC` at build time (relative to the
//! workspace root; default v1 0.25/128) with random weights.

use mobilenet_bench::random_weights;
use mobilenet_runtime::kernels::{self, Isa};
use mobilenet_runtime::threads::Pool;

macro_rules! profile {
    ($m:ident, $runs:expr, $threads:expr) => {{
        use mobilenet_bench::$m as net;
        let model = net::Model::from_safetensors(random_weights(stringify!($m))).expect("weights");
        let input: Vec<net::IoElem> = (0..net::INPUT_LEN)
            .map(|i| Sample::sample((i * 7919) % 255))
            .collect();
        let input = net::input_array(&input).expect("input size");
        let threads: usize = $threads;
        println!(
            "{} ({}), ISA {}, {} thread{}",
            net::NAME,
            stringify!($m),
            kernels::active_isa(),
            threads,
            if threads == 1 { "" } else { "s" }
        );
        if threads > 1 {
            let pool = Pool::new(threads);
            print!("{}", model.profile_parallel(&pool, input, 10, $runs));
        } else {
            print!("{}", model.profile(input, 10, $runs));
        }
    }};
}

/// A deterministic input value of the network's I/O type from `v` in `0..255`.
trait Sample {
    fn sample(v: usize) -> Self;
}
impl Sample for f32 {
    fn sample(v: usize) -> Self {
        v as f32 / 127.5 - 1.0
    }
}
impl Sample for u8 {
    fn sample(v: usize) -> Self {
        v as u8
    }
}
impl Sample for i8 {
    fn sample(v: usize) -> Self {
        (v as u8) as i8
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut name, mut runs, mut threads) = ("profiled".to_string(), 100usize, 1usize);
    let mut i = 1;
    while i + 1 < args.len() + 1 && i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--net" => name = value,
            "--runs" => {
                runs = value
                    .parse()
                    .unwrap_or_else(|_| panic!("--runs takes a number, found {value:?}"))
            }
            "--threads" => {
                threads = value
                    .parse()
                    .unwrap_or_else(|_| panic!("--threads takes a number, found {value:?}"))
            }
            "--isa" => {
                let isa = Isa::ALL
                    .into_iter()
                    .find(|x| x.name() == value)
                    .unwrap_or_else(|| panic!("unknown ISA {value:?}"));
                kernels::force_isa(isa).unwrap_or_else(|e| panic!("{e}"));
            }
            other => {
                panic!("unknown argument {other:?}: --net NAME, --runs N, --threads N, --isa ISA")
            }
        }
        i += 2;
    }
    match name.as_str() {
        "profiled" => profile!(profiled, runs, threads),
        "v1_1_0_224" => profile!(v1_1_0_224, runs, threads),
        "v1_0_25_128" => profile!(v1_0_25_128, runs, threads),
        "v2_1_0_224" => profile!(v2_1_0_224, runs, threads),
        other => panic!("unknown network {other:?}: profiled, v1_1_0_224, v1_0_25_128, v2_1_0_224"),
    }
}
