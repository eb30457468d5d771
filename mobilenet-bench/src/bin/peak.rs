//! `peak`: the machine's single-core f32 FMA peak (GFLOP/s) with the best supported ISA's
//! vector width: many independent FMA chains in registers, no memory traffic.

use std::time::Instant;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // 12 independent accumulators hide the FMA latency (4-5 cycles) at 2 FMAs per cycle.
    let mut acc = [_mm256_set1_ps(0.0); 12];
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

fn main() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        let iters = 20_000_000;
        let mut best = 0.0f64;
        for _ in 0..7 {
            let t = Instant::now();
            // SAFETY: AVX2 and FMA were detected just above.
            let r = unsafe { fma_loop_avx2(iters) };
            let s = t.elapsed().as_secs_f64();
            std::hint::black_box(r);
            let gflops = (iters * 12 * 8 * 2) as f64 / s / 1e9;
            best = best.max(gflops);
        }
        println!("{{\"isa\":\"avx2\",\"peak_gflops\":{best:.1}}}");
        return;
    }
    println!("{{\"isa\":\"scalar\",\"peak_gflops\":null}}");
}
