//! Criterion benches of every distinct layer kernel of the benchmarked networks (v1 1.0/224, v1 0.25/128, v2 1.0/224), with
//! the active (best supported) ISA; throughput is in FLOP/s (2 x Mult-Adds), so criterion's
//! "elem/s" reads as GFLOP/s. `MOBILENET_ISA=scalar cargo bench ...` forces the scalar twins.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mobilenet_bench::{for_each_layer_shape, with_layer_kernel};
use mobilenet_runtime::kernels::{self, Isa};

fn kernels_bench(c: &mut Criterion) {
    if let Ok(name) = std::env::var("MOBILENET_ISA") {
        let isa = Isa::ALL
            .into_iter()
            .find(|i| i.name() == name)
            .expect("MOBILENET_ISA: unknown ISA");
        kernels::force_isa(isa).expect("MOBILENET_ISA: not supported here");
    }
    let mut g = c.benchmark_group(format!("kernels/{}", kernels::active_isa()));
    g.sample_size(20)
        .measurement_time(std::time::Duration::from_millis(700))
        .warm_up_time(std::time::Duration::from_millis(200));
    macro_rules! bench {
        ($kind:ident, $name:expr, $ma:expr, $($d:expr),*) => {
            with_layer_kernel!($kind, |run: &mut dyn FnMut(), ma: u64| {
                g.throughput(Throughput::Elements(2 * ma.max(1)));
                g.bench_function($name, |bn| bn.iter(&mut *run));
            }, $ma, $($d),*);
        };
    }
    for_each_layer_shape!(bench);
    g.finish();
}

criterion_group!(benches, kernels_bench);
criterion_main!(benches);
