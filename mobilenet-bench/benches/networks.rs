//! Criterion benches of whole networks (MobileNet v1 1.0/224 and 0.25/128, v2 1.0/224, deterministic
//! random weights: speed does not depend on the values), plus the machine's FMA peak and a
//! summary line per network with ms, GFLOP/s and the share of that peak.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mobilenet_bench::{
    fma_peak_gflops, median, random_weights, v1_0_25_128, v1_1_0_224, v2_1_0_224,
};
use mobilenet_runtime::kernels;

macro_rules! network {
    ($g:expr, $m:ident, $name:literal, $summary:expr) => {{
        let model = $m::Model::from_safetensors(random_weights($name)).unwrap();
        let input = vec![0.25f32; $m::INPUT_LEN];
        let input: &[f32; $m::INPUT_LEN] = input.as_slice().try_into().unwrap();
        let mut out = vec![0.0f32; $m::OUTPUT_LEN];
        let out: &mut [f32; $m::OUTPUT_LEN] = out.as_mut_slice().try_into().unwrap();
        let mut scratch = $m::Model::new_scratch();
        $g.throughput(Throughput::Elements(2 * $m::MULT_ADDS));
        $g.bench_function($name, |b| {
            b.iter(|| model.forward(input, out, &mut scratch))
        });
        let mut times = Vec::new();
        for _ in 0..50 {
            let t = std::time::Instant::now();
            model.forward(input, out, &mut scratch);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        $summary.push(($name, $m::MULT_ADDS, median(times)));
    }};
}

fn networks(c: &mut Criterion) {
    let mut summary: Vec<(&str, u64, f64)> = Vec::new();
    let mut g = c.benchmark_group(format!("networks/{}", kernels::active_isa()));
    g.sample_size(30);
    network!(g, v1_1_0_224, "v1_1_0_224", summary);
    network!(g, v1_0_25_128, "v1_0_25_128", summary);
    network!(g, v2_1_0_224, "v2_1_0_224", summary);
    g.finish();
    let peak = fma_peak_gflops();
    match peak {
        Some((isa, p)) => println!("FMA peak ({isa}, one core): {p:.1} GFLOP/s"),
        None => println!("FMA peak: no SIMD ISA"),
    }
    for (name, ma, ms) in summary {
        let gflops = 2.0 * ma as f64 / ms / 1e6;
        let share = peak.map_or(String::new(), |(_, p)| {
            format!(", {:.0}% of peak", 100.0 * gflops / p)
        });
        println!("{name}: median {ms:.3} ms, {gflops:.1} GFLOP/s{share}");
    }
}

fn peak(c: &mut Criterion) {
    let mut g = c.benchmark_group("peak");
    g.sample_size(10);
    g.bench_function("fma_peak_gflops", |b| b.iter(fma_peak_gflops));
    g.finish();
}

criterion_group!(benches, networks, peak);
criterion_main!(benches);
