//! The benchmarked networks, compiled with `mobilenet!`, and timing helpers shared by the
//! criterion benches and the `timing` tool (which `bench/peers` runs).

mobilenet_macros::mobilenet!(spec = "../specs/v1_tfslim_1001.toml", name = "v1_1_0_224");
mobilenet_macros::mobilenet!(
    spec = "../specs/v1_alpha025_res128.toml",
    name = "v1_0_25_128"
);

/// Random weights of a benchmarked network, written by build.rs (same generator and seed as
/// `mobilenet random-weights --seed 1`).
pub fn random_weights(name: &str) -> &'static [u8] {
    match name {
        "v1_1_0_224" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_1_0_224.safetensors")),
        "v1_0_25_128" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_0_25_128.safetensors")),
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
    // SAFETY (whole fn): register-only AVX2/FMA intrinsics; the caller checked support.
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
    _mm256_storeu_ps(out.as_mut_ptr(), s);
    out.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_loop_avx512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY (whole fn): register-only AVX-512F intrinsics; the caller checked support.
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

/// Invokes `$m!(kind, name, dims...)` for every distinct layer shape of MobileNet v1 1.0 224
/// (TF-slim padding) and of v1 0.25 128, so benches and tools can instantiate the kernels with
/// the exact const generics the generated code uses.
#[macro_export]
#[rustfmt::skip]
macro_rules! for_each_layer_shape {
    ($m:ident) => {
        // v1 1.0 224 (TF-slim "SAME" padding): conv stem, (depthwise, pointwise) pairs, classifier.
        $m!(conv, "1.0/224 conv 224x224x3->112x112x32 s2", 224, 224, 3, 112, 112, 32, 3, 3, 2, 2, 0, 0);
        $m!(dw, "1.0/224 dw 112x112x32 s1", 112, 112, 32, 112, 112, 3, 3, 1, 1, 1, 1);
        $m!(pw, "1.0/224 pw 12544x32->64", 12544, 32, 64);
        $m!(dw, "1.0/224 dw 112x112x64 s2", 112, 112, 64, 56, 56, 3, 3, 2, 2, 0, 0);
        $m!(pw, "1.0/224 pw 3136x64->128", 3136, 64, 128);
        $m!(dw, "1.0/224 dw 56x56x128 s1", 56, 56, 128, 56, 56, 3, 3, 1, 1, 1, 1);
        $m!(pw, "1.0/224 pw 3136x128->128", 3136, 128, 128);
        $m!(dw, "1.0/224 dw 56x56x128 s2", 56, 56, 128, 28, 28, 3, 3, 2, 2, 0, 0);
        $m!(pw, "1.0/224 pw 784x128->256", 784, 128, 256);
        $m!(dw, "1.0/224 dw 28x28x256 s1", 28, 28, 256, 28, 28, 3, 3, 1, 1, 1, 1);
        $m!(pw, "1.0/224 pw 784x256->256", 784, 256, 256);
        $m!(dw, "1.0/224 dw 28x28x256 s2", 28, 28, 256, 14, 14, 3, 3, 2, 2, 0, 0);
        $m!(pw, "1.0/224 pw 196x256->512", 196, 256, 512);
        $m!(dw, "1.0/224 dw 14x14x512 s1 (x5)", 14, 14, 512, 14, 14, 3, 3, 1, 1, 1, 1);
        $m!(pw, "1.0/224 pw 196x512->512 (x5)", 196, 512, 512);
        $m!(dw, "1.0/224 dw 14x14x512 s2", 14, 14, 512, 7, 7, 3, 3, 2, 2, 0, 0);
        $m!(pw, "1.0/224 pw 49x512->1024", 49, 512, 1024);
        $m!(dw, "1.0/224 dw 7x7x1024 s1", 7, 7, 1024, 7, 7, 3, 3, 1, 1, 1, 1);
        $m!(pw, "1.0/224 pw 49x1024->1024", 49, 1024, 1024);
        $m!(gap, "1.0/224 global avgpool 7x7x1024", 49, 1024);
        $m!(fc, "1.0/224 fc 1024->1001", 1024, 1001);
        // v1 0.25 128 (PyTorch naming, "same" padding).
        $m!(conv, "0.25/128 conv 128x128x3->64x64x8 s2", 128, 128, 3, 64, 64, 8, 3, 3, 2, 2, 0, 0);
        $m!(dw, "0.25/128 dw 64x64x8 s1", 64, 64, 8, 64, 64, 3, 3, 1, 1, 1, 1);
        $m!(pw, "0.25/128 pw 4096x8->16", 4096, 8, 16);
        $m!(dw, "0.25/128 dw 64x64x16 s2", 64, 64, 16, 32, 32, 3, 3, 2, 2, 0, 0);
        $m!(pw, "0.25/128 pw 1024x16->32", 1024, 16, 32);
        $m!(dw, "0.25/128 dw 32x32x32 s1", 32, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1);
        $m!(pw, "0.25/128 pw 1024x32->32", 1024, 32, 32);
        $m!(dw, "0.25/128 dw 32x32x32 s2", 32, 32, 32, 16, 16, 3, 3, 2, 2, 0, 0);
        $m!(pw, "0.25/128 pw 256x32->64", 256, 32, 64);
        $m!(dw, "0.25/128 dw 16x16x64 s1", 16, 16, 64, 16, 16, 3, 3, 1, 1, 1, 1);
        $m!(pw, "0.25/128 pw 256x64->64", 256, 64, 64);
        $m!(dw, "0.25/128 dw 16x16x64 s2", 16, 16, 64, 8, 8, 3, 3, 2, 2, 0, 0);
        $m!(pw, "0.25/128 pw 64x64->128", 64, 64, 128);
        $m!(dw, "0.25/128 dw 8x8x128 s1 (x5)", 8, 8, 128, 8, 8, 3, 3, 1, 1, 1, 1);
        $m!(pw, "0.25/128 pw 64x128->128 (x5)", 64, 128, 128);
        $m!(dw, "0.25/128 dw 8x8x128 s2", 8, 8, 128, 4, 4, 3, 3, 2, 2, 0, 0);
        $m!(pw, "0.25/128 pw 16x128->256", 16, 128, 256);
        $m!(dw, "0.25/128 dw 4x4x256 s1", 4, 4, 256, 4, 4, 3, 3, 1, 1, 1, 1);
        $m!(pw, "0.25/128 pw 16x256->256", 16, 256, 256);
        $m!(gap, "0.25/128 global avgpool 4x4x256", 16, 256);
        $m!(fc, "0.25/128 fc 256->1000", 256, 1000);
    };
}

/// Builds the operands of one layer shape and calls `$body` with a closure running its kernel
/// (active ISA) and its Mult-Adds: shared by the `layers` tool and the criterion bench.
#[macro_export]
#[rustfmt::skip]
macro_rules! with_layer_kernel {
    (conv, $body:expr, $h:expr, $w:expr, $ci:expr, $ho:expr, $wo:expr, $co:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $h * $w * $ci], vec![0.01f32; $kh * $kw * $ci * $co], vec![0.0f32; $co]);
        let mut y = vec![0.0f32; $ho * $wo * $co];
        $body(&mut || mobilenet_runtime::kernels::conv2d::<$h, $w, $ci, $ho, $wo, $co, $kh, $kw, $sh, $sw, $pt, $pl, { mobilenet_runtime::ACT_RELU6 }>(&x, &wt, &b, &mut y), $crate::flops::conv($ho, $wo, $co, $kh, $kw, $ci))
    }};
    (dw, $body:expr, $h:expr, $w:expr, $c:expr, $ho:expr, $wo:expr, $kh:expr, $kw:expr, $sh:expr, $sw:expr, $pt:expr, $pl:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $h * $w * $c], vec![0.01f32; $kh * $kw * $c], vec![0.0f32; $c]);
        let mut y = vec![0.0f32; $ho * $wo * $c];
        $body(&mut || mobilenet_runtime::kernels::depthwise::<$h, $w, $c, $ho, $wo, $kh, $kw, $sh, $sw, $pt, $pl, { mobilenet_runtime::ACT_RELU6 }>(&x, &wt, &b, &mut y), $crate::flops::dw($ho, $wo, $c, $kh, $kw))
    }};
    (pw, $body:expr, $hw:expr, $ci:expr, $co:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $hw * $ci], vec![0.01f32; mobilenet_runtime::pack::pointwise_len($ci, $co)], vec![0.0f32; $co]);
        let mut y = vec![0.0f32; $hw * $co];
        $body(&mut || mobilenet_runtime::kernels::pointwise::<$hw, $ci, $co, { mobilenet_runtime::ACT_RELU6 }>(&x, &wt, &b, &mut y), $crate::flops::pw($hw, $ci, $co))
    }};
    (gap, $body:expr, $hw:expr, $c:expr) => {{
        let x = vec![0.5f32; $hw * $c];
        let mut y = vec![0.0f32; $c];
        $body(&mut || mobilenet_runtime::kernels::global_avgpool::<$hw, $c>(&x, &mut y), 0u64)
    }};
    (fc, $body:expr, $i:expr, $o:expr) => {{
        let (x, wt, b) = (vec![0.5f32; $i], vec![0.01f32; $i * $o], vec![0.0f32; $o]);
        let mut y = vec![0.0f32; $o];
        $body(&mut || mobilenet_runtime::kernels::fully_connected::<$i, $o, 0>(&x, &wt, &b, &mut y), $crate::flops::pw(1, $i, $o))
    }};
}

/// Multiply-adds of one layer shape, as the `for_each_layer_shape!` callbacks receive them.
pub mod flops {
    pub const fn conv(ho: usize, wo: usize, co: usize, kh: usize, kw: usize, ci: usize) -> u64 {
        (ho * wo * co * kh * kw * ci) as u64
    }
    pub const fn dw(ho: usize, wo: usize, c: usize, kh: usize, kw: usize) -> u64 {
        (ho * wo * c * kh * kw) as u64
    }
    pub const fn pw(hw: usize, ci: usize, co: usize) -> u64 {
        (hw * ci * co) as u64
    }
}
