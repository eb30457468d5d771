//! Criterion benches of every distinct layer kernel of MobileNet v1 1.0/224 and 0.25/128, with
//! the active (best supported) ISA; throughput is in FLOP/s (2 x Mult-Adds), so criterion's
//! "elem/s" reads as GFLOP/s. `MOBILENET_ISA=scalar cargo bench ...` forces the scalar twins.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mobilenet_bench::{flops, for_each_layer_shape};
use mobilenet_runtime::kernels::{self, Isa};
use mobilenet_runtime::ACT_RELU6;

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
        (conv, $name:expr, $h:expr, $w:expr, $ci:expr, $ho:expr, $wo:expr, $co:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr) => {{
            let (x, wt, b) = (
                vec![0.5f32; $h * $w * $ci],
                vec![0.01f32; $kh * $kw * $ci * $co],
                vec![0.0f32; $co],
            );
            let mut y = vec![0.0f32; $ho * $wo * $co];
            g.throughput(Throughput::Elements(
                2 * flops::conv($ho, $wo, $co, $kh, $kw, $ci),
            ));
            g.bench_function($name, |bn| {
                bn.iter(|| {
                    kernels::conv2d::<
                        $h,
                        $w,
                        $ci,
                        $ho,
                        $wo,
                        $co,
                        $kh,
                        $kw,
                        $sh,
                        $sw,
                        $pt,
                        $pl,
                        ACT_RELU6,
                    >(&x, &wt, &b, &mut y)
                })
            });
        }};
        (dw, $name:expr, $h:expr, $w:expr, $c:expr, $ho:expr, $wo:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr) => {{
            let (x, wt, b) = (
                vec![0.5f32; $h * $w * $c],
                vec![0.01f32; $kh * $kw * $c],
                vec![0.0f32; $c],
            );
            let mut y = vec![0.0f32; $ho * $wo * $c];
            g.throughput(Throughput::Elements(2 * flops::dw($ho, $wo, $c, $kh, $kw)));
            g.bench_function($name, |bn| {
                bn.iter(|| {
                    kernels::depthwise::<
                        $h,
                        $w,
                        $c,
                        $ho,
                        $wo,
                        $kh,
                        $kw,
                        $sh,
                        $sw,
                        $pt,
                        $pl,
                        ACT_RELU6,
                    >(&x, &wt, &b, &mut y)
                })
            });
        }};
        (pw, $name:expr, $hw:expr, $ci:expr, $co:expr) => {{
            let (x, wt, b) = (
                vec![0.5f32; $hw * $ci],
                vec![0.01f32; mobilenet_runtime::pack::pointwise_len($ci, $co)],
                vec![0.0f32; $co],
            );
            let mut y = vec![0.0f32; $hw * $co];
            g.throughput(Throughput::Elements(2 * flops::pw($hw, $ci, $co)));
            g.bench_function($name, |bn| {
                bn.iter(|| kernels::pointwise::<$hw, $ci, $co, ACT_RELU6>(&x, &wt, &b, &mut y))
            });
        }};
        (gap, $name:expr, $hw:expr, $c:expr) => {{
            let x = vec![0.5f32; $hw * $c];
            let mut y = vec![0.0f32; $c];
            g.throughput(Throughput::Elements(($hw * $c) as u64));
            g.bench_function($name, |bn| {
                bn.iter(|| kernels::global_avgpool::<$hw, $c>(&x, &mut y))
            });
        }};
        (fc, $name:expr, $i:expr, $o:expr) => {{
            let (x, wt, b) = (vec![0.5f32; $i], vec![0.01f32; $i * $o], vec![0.0f32; $o]);
            let mut y = vec![0.0f32; $o];
            g.throughput(Throughput::Elements(2 * flops::pw(1, $i, $o)));
            g.bench_function($name, |bn| {
                bn.iter(|| kernels::fully_connected::<$i, $o, 0>(&x, &wt, &b, &mut y))
            });
        }};
    }
    for_each_layer_shape!(bench);
    g.finish();
}

criterion_group!(benches, kernels_bench);
criterion_main!(benches);
