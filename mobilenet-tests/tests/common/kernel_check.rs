//! The checking functions of the kernel shape tests (`kernel_shapes.rs` and
//! `kernel_shapes_2.rs`, which split the generated shape list in two halves so the two
//! instantiation-heavy test crates build in parallel): each SIMD kernel against its scalar
//! twin, the instruction set passed explicitly (`kernels::with_isa`).

#![allow(dead_code)] // each test crate calls the checks its half of the shapes needs

use mobilenet_runtime::kernels::{self, with_isa, Isa};
use mobilenet_runtime::pack::pointwise_len;
use mobilenet_tests::isas_to_test;

pub fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Runs `f` once with the scalar kernels and once per other supported ISA; every result must
/// match the scalar one within 1e-5 relative to the output's magnitude (FMA and summation
/// order differ), and that ISA's kernels must have run.
pub fn compare(what: &str, out_len: usize, f: impl Fn(Isa, &mut [f32])) {
    let mut want = vec![f32::NAN; out_len];
    f(Isa::Scalar, &mut want);
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for isa in isas_to_test().into_iter().filter(|&i| i != Isa::Scalar) {
        let before = kernels::calls(isa);
        // NaN-filled between canaries: every output must be written, nothing around it.
        const GUARD: usize = 64;
        let mut buf = vec![-12345.5f32; out_len + 2 * GUARD];
        buf[GUARD..GUARD + out_len].fill(f32::NAN);
        f(isa, &mut buf[GUARD..GUARD + out_len]);
        assert!(
            buf[..GUARD]
                .iter()
                .chain(&buf[GUARD + out_len..])
                .all(|&v| v == -12345.5),
            "{what} [{isa}]: the kernel wrote outside its output slice"
        );
        let got = &buf[GUARD..GUARD + out_len];
        assert!(
            kernels::calls(isa) > before,
            "{what}: the {isa} kernel did not run"
        );
        for (j, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * scale,
                "{what} [{isa}] element {j}: {g} vs scalar {w}"
            );
        }
    }
}

pub fn check_conv2d<
    const H: usize,
    const W: usize,
    const CI: usize,
    const HO: usize,
    const WO: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const ACT: u8,
>() {
    let x = data(H * W * CI, 1, 1.0);
    let w = data(KH * KW * CI * CO, 2, (3.0 / (KH * KW * CI) as f32).sqrt());
    let b = data(CO, 3, 0.1);
    let what =
        format!("conv2d {H}x{W}x{CI} -> {HO}x{WO}x{CO} k{KH}x{KW} s{SH}x{SW} p{PT},{PL} act{ACT}");
    compare(&what, HO * WO * CO, |isa, y| {
        with_isa::conv2d::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(isa, &x, &w, &b, y)
    });
}

pub fn check_depthwise<
    const H: usize,
    const W: usize,
    const C: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const ACT: u8,
>() {
    let x = data(H * W * C, 4, 1.0);
    let w = data(KH * KW * C, 5, 1.0);
    let b = data(C, 6, 0.1);
    let what =
        format!("depthwise {H}x{W}x{C} -> {HO}x{WO} k{KH}x{KW} s{SH}x{SW} p{PT},{PL} act{ACT}");
    compare(&what, HO * WO * C, |isa, y| {
        with_isa::depthwise::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(isa, &x, &w, &b, y)
    });
}

pub fn check_pointwise<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>() {
    let x = data(HW * CI, 7, 1.0);
    let w = data(pointwise_len(CI, CO), 8, (3.0 / CI as f32).sqrt());
    let b = data(CO, 9, 0.1);
    let what = format!("pointwise {HW}x{CI} -> {CO} act{ACT}");
    compare(&what, HW * CO, |isa, y| {
        with_isa::pointwise::<HW, CI, CO, ACT>(isa, &x, &w, &b, y)
    });
}

pub fn check_pointwise_add<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>() {
    let x = data(HW * CI, 7, 1.0);
    let w = data(pointwise_len(CI, CO), 8, (3.0 / CI as f32).sqrt());
    let b = data(CO, 9, 0.1);
    let skip = data(HW * CO, 19, 1.0);
    let what = format!("pointwise_add {HW}x{CI} -> {CO} act{ACT}");
    compare(&what, HW * CO, |isa, y| {
        y.copy_from_slice(&skip);
        with_isa::pointwise_add::<HW, CI, CO, ACT>(isa, &x, &w, &b, y)
    });
}

pub fn check_add<const N: usize, const ACT: u8>() {
    let a = data(N, 20, 1.0);
    let b = data(N, 21, 1.0);
    compare(&format!("add {N} act{ACT}"), N, |isa, y| {
        with_isa::add::<N, ACT>(isa, &a, &b, y)
    });
}

pub fn check_fully_connected<const IN: usize, const OUT: usize, const ACT: u8>() {
    let x = data(IN, 10, 1.0);
    let w = data(IN * OUT, 11, (3.0 / IN as f32).sqrt());
    let b = data(OUT, 12, 0.1);
    compare(&format!("fc {IN} -> {OUT} act{ACT}"), OUT, |isa, y| {
        with_isa::fully_connected::<IN, OUT, ACT>(isa, &x, &w, &b, y)
    });
}

pub fn check_global_avgpool<const HW: usize, const C: usize>() {
    let x = data(HW * C, 13, 1.0);
    compare(&format!("global_avgpool {HW}x{C}"), C, |isa, y| {
        with_isa::global_avgpool::<HW, C>(isa, &x, y)
    });
}

pub fn check_softmax<const N: usize>() {
    // Logits with a wide spread (some exponentials underflow).
    let x = data(N, 17, 40.0);
    compare(&format!("softmax {N}"), N, |isa, y| {
        y.copy_from_slice(&x);
        with_isa::softmax::<N>(isa, y)
    });
}
