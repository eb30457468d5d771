//! The benchmarked networks, compiled with `mobilenet!`, and timing helpers shared by the
//! criterion benches and the `timing` tool (which `bench/peers` runs).

mobilenet_macros::mobilenet!(spec = "../specs/v1_tfslim_1001.toml", name = "v1_1_0_224");
mobilenet_macros::mobilenet!(
    spec = "../specs/v1_alpha025_res128.toml",
    name = "v1_0_25_128"
);
mobilenet_macros::mobilenet!(spec = "../specs/v2_alpha100.toml", name = "v2_1_0_224");
// Any spec, for the `profile` tool: `MOBILENET_PROFILE_SPEC=specs/x.toml` (build.rs resolves it).
mobilenet_macros::mobilenet!(spec = "${MOBILENET_PROFILE_SPEC_PATH}", name = "profiled");

/// Random weights of a benchmarked network, written by build.rs (same generator and seed as
/// `mobilenet random-weights --seed 1`).
pub fn random_weights(name: &str) -> &'static [u8] {
    match name {
        "v1_1_0_224" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_1_0_224.safetensors")),
        "v1_0_25_128" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_0_25_128.safetensors")),
        "v2_1_0_224" => include_bytes!(concat!(env!("OUT_DIR"), "/v2_1_0_224.safetensors")),
        "profiled" => include_bytes!(concat!(env!("OUT_DIR"), "/profiled.safetensors")),
        _ => panic!("unknown network {name}"),
    }
}

/// The single-core f32 FMA peak with the widest vector ISA this CPU has, in GFLOP/s (best of
/// 7 runs of many independent FMA chains in registers), or `None` without a SIMD ISA.
pub fn fma_peak_gflops() -> Option<(&'static str, f64)> {
    #[cfg(target_arch = "x86_64")]
    {
        let best_of_7 = |flops_per_iter: usize, run: &dyn Fn(usize) -> f32| {
            let iters = 20_000_000;
            let mut best = 0.0f64;
            for _ in 0..7 {
                let t = std::time::Instant::now();
                // black_box on both sides keeps the loop between the two clock reads.
                std::hint::black_box(run(std::hint::black_box(iters)));
                let s = t.elapsed().as_secs_f64();
                best = best.max((iters * flops_per_iter) as f64 / s / 1e9);
            }
            best
        };
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected just above.
            let run = |n| unsafe { fma_loop_avx512(n) };
            return Some(("avx512", best_of_7(CHAINS * 16 * 2, &run)));
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA were detected just above.
            let run = |n| unsafe { fma_loop_avx2(n) };
            return Some(("avx2", best_of_7(CHAINS * 8 * 2, &run)));
        }
    }
    None
}

/// Independent FMA chains of the peak loops: enough to hide the FMA latency (4-5 cycles) at two
/// FMAs per cycle, and to fit the 16 AVX2 registers.
#[cfg(target_arch = "x86_64")]
const CHAINS: usize = 12;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // Register-only intrinsics are safe inside a `target_feature` function (the caller checked
    // support); only the final store through a pointer needs an unsafe block.
    let mut acc = [_mm256_set1_ps(0.0); CHAINS];
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm256_setzero_ps();
    for x in acc {
        s = _mm256_add_ps(s, x);
    }
    let mut out = [0.0f32; 8];
    // SAFETY: `out` holds 8 f32 values, exactly the 32 bytes one unaligned store writes.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_loop_avx512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // Register-only intrinsics are safe inside a `target_feature` function (the caller checked
    // support).
    let mut acc = [_mm512_set1_ps(0.0); CHAINS];
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm512_setzero_ps();
    for x in acc {
        s = _mm512_add_ps(s, x);
    }
    _mm512_reduce_add_ps(s)
}

/// Median of a list of durations in milliseconds.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

include!(concat!(env!("OUT_DIR"), "/layer_shapes.rs"));

/// Builds the operands of one kernel call of `for_each_layer_shape!` and calls `$body` with a
/// closure running it (active ISA) and its Mult-Adds: shared by the `layers` tool and the
/// criterion bench. Kernels without a SIMD variant (`avgpool`) are skipped.
#[macro_export]
#[rustfmt::skip]
macro_rules! with_layer_kernel {
    (conv2d, $body:expr, $ma:expr, $h:expr, $w:expr, $ci:expr, $ho:expr, $wo:expr, $co:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr, $act:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $h * $w * $ci], vec![0.01f32; $kh * $kw * $ci * $co], vec![0.0f32; $co]);
        let mut y = vec![0.0f32; $ho * $wo * $co];
        $body(&mut || mobilenet_runtime::kernels::conv2d::<$h, $w, $ci, $ho, $wo, $co, $kh, $kw, $sh, $sw, $pt, $pl, $act>(&x, &wt, &b, &mut y), $ma)
    }};
    (depthwise, $body:expr, $ma:expr, $h:expr, $w:expr, $c:expr, $ho:expr, $wo:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr, $act:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $h * $w * $c], vec![0.01f32; $kh * $kw * $c], vec![0.0f32; $c]);
        let mut y = vec![0.0f32; $ho * $wo * $c];
        $body(&mut || mobilenet_runtime::kernels::depthwise::<$h, $w, $c, $ho, $wo, $kh, $kw, $sh, $sw, $pt, $pl, $act>(&x, &wt, &b, &mut y), $ma)
    }};
    (pointwise, $body:expr, $ma:expr, $hw:expr, $ci:expr, $co:expr, $act:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $hw * $ci], vec![0.01f32; mobilenet_runtime::pack::pointwise_len($ci, $co)], vec![0.0f32; $co]);
        let mut y = vec![0.0f32; $hw * $co];
        $body(&mut || mobilenet_runtime::kernels::pointwise::<$hw, $ci, $co, $act>(&x, &wt, &b, &mut y), $ma)
    }};
    (pointwise_add, $body:expr, $ma:expr, $hw:expr, $ci:expr, $co:expr, $act:expr) => {{
        // The output holds the residual on entry; it grows each run, which does not change the
        // kernel's cost.
        let (x, wt, b) = (vec![0.5f32; $hw * $ci], vec![0.01f32; mobilenet_runtime::pack::pointwise_len($ci, $co)], vec![0.0f32; $co]);
        let mut y = vec![0.0f32; $hw * $co];
        $body(&mut || mobilenet_runtime::kernels::pointwise_add::<$hw, $ci, $co, $act>(&x, &wt, &b, &mut y), $ma)
    }};
    (global_avgpool, $body:expr, $ma:expr, $hw:expr, $c:expr) => {{
        let x = vec![0.5f32; $hw * $c];
        let mut y = vec![0.0f32; $c];
        $body(&mut || mobilenet_runtime::kernels::global_avgpool::<$hw, $c>(&x, &mut y), $ma)
    }};
    (fully_connected, $body:expr, $ma:expr, $i:expr, $o:expr, $act:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $i], vec![0.01f32; $i * $o], vec![0.0f32; $o]);
        let mut y = vec![0.0f32; $o];
        $body(&mut || mobilenet_runtime::kernels::fully_connected::<$i, $o, $act>(&x, &wt, &b, &mut y), $ma)
    }};
    (add, $body:expr, $ma:expr, $n:expr, $act:expr) => {{
        let (a, b) = (vec![0.5f32; $n], vec![0.25f32; $n]);
        let mut y = vec![0.0f32; $n];
        $body(&mut || mobilenet_runtime::kernels::add::<$n, $act>(&a, &b, &mut y), $ma)
    }};
    (softmax, $body:expr, $ma:expr, $n:expr) => {{
        let mut y = vec![0.5f32; $n];
        $body(&mut || mobilenet_runtime::kernels::softmax::<$n>(&mut y), $ma)
    }};
    (avgpool, $body:expr, $ma:expr, $($d:expr),*) => {{}};
}
