//! `layers [--isa scalar|avx2] [--filter TEXT]`: minimum time and GFLOP/s of every distinct
//! layer kernel of the benchmarked networks (v1 1.0/224, v1 0.25/128, v2 1.0/224) (a quick per-layer view; the criterion
//! bench `kernels` measures the same shapes more carefully).

use std::time::Instant;

use mobilenet_bench::{for_each_layer_shape, with_layer_kernel};
use mobilenet_runtime::kernels::{self, Isa};

fn time(f: &mut dyn FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let mut t = Vec::new();
    let start = Instant::now();
    while t.len() < 15 || (start.elapsed().as_secs_f64() < 0.3 && t.len() < 2000) {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    // The minimum: on a shared machine it is the most repeatable estimate of the kernel's cost.
    t.iter().copied().fold(f64::INFINITY, f64::min)
}

fn report(name: &str, mult_adds: u64, ms: f64) {
    println!(
        "{name:45} {ms:9.4} ms {:7.1} GFLOP/s",
        2.0 * mult_adds as f64 / ms / 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut filter = String::new();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--isa" => {
                let isa = Isa::ALL
                    .into_iter()
                    .find(|x| x.name() == args[i + 1])
                    .expect("unknown ISA");
                kernels::force_isa(isa).unwrap_or_else(|e| panic!("{e}"));
            }
            "--filter" => filter = args[i + 1].clone(),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    println!("ISA: {}", kernels::active_isa());
    macro_rules! each {
        ($kind:ident, $name:expr, $ma:expr, $($d:expr),*) => {
            if $name.contains(filter.as_str()) {
                with_layer_kernel!($kind, |run: &mut dyn FnMut(), ma: u64| report($name, ma, time(run)), $ma, $($d),*);
            }
        };
    }
    for_each_layer_shape!(each);
}
