//! `layers [--isa scalar|avx2] [--filter TEXT]`: minimum time and GFLOP/s of every distinct
//! layer kernel of MobileNet v1 1.0/224 and 0.25/128 (a quick per-layer view; the criterion
//! bench `kernels` measures the same shapes more carefully).

use std::time::Instant;

use mobilenet_bench::{flops, for_each_layer_shape};
use mobilenet_runtime::kernels::{self, Isa};
use mobilenet_runtime::ACT_RELU6;

fn time(mut f: impl FnMut()) -> f64 {
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

macro_rules! run_shape {
    (conv, $name:expr, $h:expr, $w:expr, $ci:expr, $ho:expr, $wo:expr, $co:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr) => {{
        let (x, wt, b) = (
            vec![0.5f32; $h * $w * $ci],
            vec![0.01f32; $kh * $kw * $ci * $co],
            vec![0.0f32; $co],
        );
        let mut y = vec![0.0f32; $ho * $wo * $co];
        let ms = time(|| {
            kernels::conv2d::<$h, $w, $ci, $ho, $wo, $co, $kh, $kw, $sh, $sw, $pt, $pl, ACT_RELU6>(
                &x, &wt, &b, &mut y,
            )
        });
        ($name, flops::conv($ho, $wo, $co, $kh, $kw, $ci), ms)
    }};
    (dw, $name:expr, $h:expr, $w:expr, $c:expr, $ho:expr, $wo:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr) => {{
        let (x, wt, b) = (
            vec![0.5f32; $h * $w * $c],
            vec![0.01f32; $kh * $kw * $c],
            vec![0.0f32; $c],
        );
        let mut y = vec![0.0f32; $ho * $wo * $c];
        let ms = time(|| {
            kernels::depthwise::<$h, $w, $c, $ho, $wo, $kh, $kw, $sh, $sw, $pt, $pl, ACT_RELU6>(
                &x, &wt, &b, &mut y,
            )
        });
        ($name, flops::dw($ho, $wo, $c, $kh, $kw), ms)
    }};
    (pw, $name:expr, $hw:expr, $ci:expr, $co:expr) => {{
        let (x, wt, b) = (
            vec![0.5f32; $hw * $ci],
            vec![0.01f32; mobilenet_runtime::pack::pointwise_len($ci, $co)],
            vec![0.0f32; $co],
        );
        let mut y = vec![0.0f32; $hw * $co];
        let ms = time(|| kernels::pointwise::<$hw, $ci, $co, ACT_RELU6>(&x, &wt, &b, &mut y));
        ($name, flops::pw($hw, $ci, $co), ms)
    }};
    (gap, $name:expr, $hw:expr, $c:expr) => {{
        let x = vec![0.5f32; $hw * $c];
        let mut y = vec![0.0f32; $c];
        let ms = time(|| kernels::global_avgpool::<$hw, $c>(&x, &mut y));
        ($name, 0u64, ms)
    }};
    (fc, $name:expr, $i:expr, $o:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $i], vec![0.01f32; $i * $o], vec![0.0f32; $o]);
        let mut y = vec![0.0f32; $o];
        let ms = time(|| kernels::fully_connected::<$i, $o, 0>(&x, &wt, &b, &mut y));
        ($name, flops::pw(1, $i, $o), ms)
    }};
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
        ($kind:ident, $name:expr, $($d:expr),*) => {
            if $name.contains(filter.as_str()) {
                let (name, ma, ms) = run_shape!($kind, $name, $($d),*);
                report(name, ma, ms);
            }
        };
    }
    for_each_layer_shape!(each);
}
