use super::kernels::{pointwise, pointwise_quads_scalar, pointwise_scalar};
use super::*;
extern crate std;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use crate::kernels::{calls, Isa};
use crate::pack::SrcLayout;

#[test]
fn fixed_point_primitives() {
    // Ties round away from zero.
    assert_eq!(rounding_divide_by_pot(5, 1), 3);
    assert_eq!(rounding_divide_by_pot(-5, 1), -3);
    assert_eq!(rounding_divide_by_pot(-4, 1), -2);
    assert_eq!(rounding_divide_by_pot(7, 0), 7);
    assert_eq!(
        saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
        i32::MAX
    );
    assert_eq!(
        saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
        1 << 29
    );
    assert_eq!(
        saturating_rounding_doubling_high_mul(-(1 << 30), 1 << 30),
        -(1 << 29)
    );
    // m = q * 2^shift / 2^31.
    assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
    assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
    assert_eq!(quantize_multiplier(0.0), (0, 0));
    assert_eq!(quantize_multiplier(1e-30), (0, 0));
    for m in [0.000123, 0.0071, 0.33, 0.999_999_999, 1.7, 25.0] {
        let (q, s) = quantize_multiplier(m);
        let back = q as f64 * 2f64.powi(s) / 2f64.powi(31);
        assert!((back - m).abs() <= m * 1e-9, "{m}: {q} {s}");
        assert!((1 << 30..=i32::MAX).contains(&q));
        // Applying it to an integer rounds the exact product.
        let x = 100_000;
        let got = multiply_by_quantized_multiplier(x, q, s) as f64;
        assert!((got - x as f64 * back).abs() <= 0.5 + 1e-6, "{m}: {got}");
    }
}

#[test]
fn activation_ranges() {
    // u8 model, scale 6/255, zero point 0 (stored -128): ReLU6 spans the whole range.
    assert_eq!(
        activation_range(crate::ACT_RELU6, 6.0 / 255.0, -128),
        (-128, 127)
    );
    // A zero point inside the range clips ReLU below it.
    assert_eq!(activation_range(crate::ACT_RELU, 0.1, -10), (-10, 127));
    assert_eq!(activation_range(crate::ACT_RELU6, 0.1, -100), (-100, -40));
    assert_eq!(activation_range(crate::ACT_NONE, 0.1, 3), (-128, 127));
}

/// A deterministic generator for test data.
/// The quantized kernels' tests' random numbers (also the AVX2 module's).
pub(super) fn lcg(seed: &mut u64) -> u32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) as u32
}

/// One random requantization case of `L` lanes for the SIMD modules' tests: sums (every bit
/// pattern, extremes, typical ranges), multipliers, every shift packing can write (left shifts
/// too, which the layer tests' scales do not reach) and an activation range; with the scalar
/// results `(x, mult, shift, header, MBQM(x), clamp(MBQM(x) + zp))`.
#[allow(clippy::type_complexity)]
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(super) fn requant_case<const L: usize>(
    round: usize,
    seed: &mut u64,
) -> ([i32; L], [i32; L], [i32; L], ConvHeader, [i32; L], [i32; L]) {
    let x: [i32; L] = core::array::from_fn(|l| match (round + l) % 5 {
        // `lcg` gives 31 bits: two of them for every bit pattern.
        0 => ((lcg(seed) << 1) ^ lcg(seed)) as i32,
        1 => (lcg(seed) % 2_000_001) as i32 - 1_000_000,
        2 => [i32::MIN, i32::MAX, 0, -1, 1][lcg(seed) as usize % 5],
        _ => (lcg(seed) % 20_001) as i32 - 10_000,
    });
    let mult: [i32; L] = core::array::from_fn(|_| match lcg(seed) % 8 {
        0 => 0,
        1 => i32::MAX,
        _ => (1 << 30) + (lcg(seed) >> 1) as i32,
    });
    let shift: [i32; L] = core::array::from_fn(|_| match lcg(seed) % 4 {
        0 => (lcg(seed) % 32) as i32,
        _ => -((lcg(seed) % 32) as i32),
    });
    let lo = (lcg(seed) % 256) as i32 - 128;
    let hi = lo + (lcg(seed) % (128 - lo) as u32) as i32;
    let h = ConvHeader {
        input_zero_point: 0,
        output_zero_point: (lcg(seed) % 256) as i32 - 128,
        act_min: lo,
        act_max: hi,
        layout: 0,
        weight_offset: 0,
    };
    let want: [i32; L] =
        core::array::from_fn(|l| multiply_by_quantized_multiplier(x[l], mult[l], shift[l]));
    let clamped = want.map(|v| v.saturating_add(h.output_zero_point).clamp(lo, hi));
    (x, mult, shift, h, want, clamped)
}

/// A random pointwise layer with activation `act` packed in both layouts: `(pairs weights,
/// pairs params, quads weights, quads params)`.
fn packed_pointwise(
    ci: usize,
    co: usize,
    unsigned: bool,
    act: u8,
    seed: &mut u64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let data: Vec<u8> = (0..ci * co).map(|_| lcg(seed) as u8).collect();
    let scales: Vec<u8> = (0..co)
        .flat_map(|_| (0.001f32 + (lcg(seed) % 1000) as f32 * 1e-5).to_le_bytes())
        .collect();
    let zps: Vec<u8> = if unsigned {
        vec![(lcg(seed) % 256) as u8]
    } else {
        vec![0; co]
    };
    let bias: Vec<u8> = (0..co)
        .flat_map(|_| ((lcg(seed) % 20001) as i32 - 10000).to_le_bytes())
        .collect();
    let w = WeightQuant {
        data: &data,
        layout: SrcLayout::Hwio,
        unsigned,
        scales: if unsigned { &scales[..4] } else { &scales },
        zero_points: &zps,
    };
    let input = QuantParams {
        scale: 0.02,
        zero_point: (lcg(seed) % 256) as i32 - 128,
        unsigned: false,
    };
    let output = QuantParams {
        scale: 0.05,
        zero_point: (lcg(seed) % 256) as i32 - 128,
        unsigned: false,
    };
    let (wl, pl) = pointwise_len(ci, co);
    let pack = |layout| {
        let (mut wo, mut po) = (vec![0.0; wl], vec![0.0; pl]);
        pack_pointwise_as(
            layout,
            &w,
            &bias,
            &input,
            &output,
            act,
            [ci, co],
            &mut wo,
            &mut po,
        )
        .expect("valid quantization");
        (wo, po)
    };
    let (w, p) = pack(PointwiseLayout::Pairs);
    let (wq, pq) = pack(PointwiseLayout::Quads);
    (w, p, wq, pq)
}

/// Runs `f(rows, out)` over `n` output rows split into 2, 3 and 5 consecutive ranges (as the
/// parts of a threaded forward split them), each call given only its rows' output; the rows
/// together must be `want`.
fn assert_row_splits(
    want: &[i8],
    n: usize,
    what: &str,
    f: impl Fn(core::ops::Range<usize>, &mut [i8]),
) {
    let row = want.len() / n;
    for count in [2, 3, 5] {
        let mut got = vec![0x55i8; want.len()];
        for index in 0..count {
            let (lo, hi) = crate::kernels::Part { index, count }.range(n);
            f(lo..hi, &mut got[lo * row..hi * row]);
        }
        assert_eq!(got, want, "{what} in {count} row ranges");
    }
}

/// Runs a quantized kernel's `_part` entry point in 2, 3 and 5 parts (as threads would), each on
/// the whole output; together they must give `want`.
#[cfg(feature = "std")]
fn assert_parts(want: &[i8], what: &str, run: impl Fn(*mut i8, crate::kernels::Part)) {
    for count in [2, 3, 5] {
        let mut got = vec![0x55i8; want.len()];
        for index in 0..count {
            run(got.as_mut_ptr(), crate::kernels::Part { index, count });
        }
        assert_eq!(got, want, "{what} in {count} parts");
    }
}

fn pointwise_case<const HW: usize, const CI: usize, const CO: usize>(seed: &mut u64) {
    // ReLU6 clamps every result <= 0 to the zero point (the kernels' shortcut); without an
    // activation they keep their signs.
    for (unsigned, act) in [
        (false, crate::ACT_RELU6),
        (true, crate::ACT_RELU6),
        (false, crate::ACT_NONE),
    ] {
        let (w, p, wq, pq) = packed_pointwise(CI, CO, unsigned, act, seed);
        let x: Vec<i8> = (0..HW * CI).map(|_| lcg(seed) as i8).collect();
        let mut want = vec![0i8; HW * CO];
        pointwise_scalar::<HW, CI, CO>(&x, &w, &p, &mut want);
        // A naive evaluation of the same formula from the packed values.
        let h = ConvHeader::read(&p);
        let c8 = co8(CO);
        for px in 0..HW {
            for o in 0..CO {
                let mut acc = 0i32;
                for i in 0..CI {
                    let wv = w[(o / 8 * CI.div_ceil(2) + i / 2) * 8 + o % 8].to_bits();
                    let wv = if i % 2 == 0 {
                        wv as u16 as i16
                    } else {
                        (wv >> 16) as u16 as i16
                    };
                    acc += (x[px * CI + i] as i32 - h.input_zero_point) * wv as i32;
                }
                let v = multiply_by_quantized_multiplier(
                    acc + word(&p, CONV_HEADER + o),
                    word(&p, CONV_HEADER + c8 + o),
                    word(&p, CONV_HEADER + 2 * c8 + o),
                ) + h.output_zero_point;
                assert_eq!(want[px * CO + o], v.clamp(h.act_min, h.act_max) as i8);
            }
        }
        // The dispatching entry point (the best ISA), and every variant directly.
        let mut got = vec![0i8; HW * CO];
        pointwise::<HW, CI, CO>(&x, &w, &p, &mut got);
        assert_eq!(got, want, "dispatched pointwise {HW}x{CI}->{CO}");
        #[cfg(feature = "std")]
        assert_parts(
            &want,
            &std::format!("pointwise {HW}x{CI}->{CO}"),
            |y, part| {
                // SAFETY: `y` holds the `HW * CO` outputs; the parts run one after another.
                unsafe { super::kernels::pointwise_part::<HW, CI, CO>(&x, &w, &p, y, part) }
            },
        );
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if Isa::Avx2.is_supported() {
            let mut got = vec![0i8; HW * CO];
            // SAFETY: AVX2 is supported (checked above).
            unsafe { super::avx2::pointwise::<CI, CO>(&x, &w, &p, &mut got) };
            assert_eq!(got, want, "avx2 pointwise {HW}x{CI}->{CO}");
        }
        // The quads layout (where `CI % 4 == 0`; else packing keeps pairs): its scalar twin
        // everywhere, its VNNI kernel where the CPU has it, the dispatcher on both layouts.
        let h = ConvHeader::read(&pq);
        if !CI.is_multiple_of(4) {
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(h.layout, PointwiseLayout::Pairs as i32);
            assert_eq!((bits(&wq), bits(&pq)), (bits(&w), bits(&p)));
            continue;
        }
        let quads = if unsigned {
            PointwiseLayout::Quads
        } else {
            PointwiseLayout::SignedQuads
        };
        assert_eq!(h.layout, quads as i32);
        let mut got = vec![0i8; HW * CO];
        pointwise_quads_scalar::<HW, CI, CO>(&x, &wq, &pq, &mut got);
        assert_eq!(got, want, "scalar quads pointwise {HW}x{CI}->{CO}");
        let mut got = vec![0i8; HW * CO];
        pointwise::<HW, CI, CO>(&x, &wq, &pq, &mut got);
        assert_eq!(got, want, "dispatched quads pointwise {HW}x{CI}->{CO}");
        #[cfg(feature = "std")]
        assert_parts(
            &want,
            &std::format!("quads pointwise {HW}x{CI}->{CO}"),
            |y, part| {
                // SAFETY: as above.
                unsafe { super::kernels::pointwise_part::<HW, CI, CO>(&x, &wq, &pq, y, part) }
            },
        );
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::vnni_supported() {
            let mut got = vec![0x55i8; HW * CO];
            // SAFETY: AVX-512F/BW/VL/VNNI are supported (checked above).
            unsafe { super::avx512::pointwise_quads::<CI, CO>(&x, &wq, &pq, &mut got) };
            assert_eq!(got, want, "avx512 vnni pointwise {HW}x{CI}->{CO}");
        }
    }
}

#[test]
fn pointwise_every_isa_matches_scalar() {
    let mut seed = 7;
    let before = calls(Isa::Avx2);
    pointwise_case::<1, 1, 1>(&mut seed);
    pointwise_case::<5, 3, 9>(&mut seed);
    pointwise_case::<7, 16, 24>(&mut seed);
    pointwise_case::<13, 8, 16>(&mut seed);
    pointwise_case::<6, 10, 8>(&mut seed);
    pointwise_case::<49, 64, 40>(&mut seed);
    pointwise_case::<9, 255, 17>(&mut seed);
    pointwise_case::<4, 1024, 8>(&mut seed);
    pointwise_case::<3, 1025, 16>(&mut seed);
    pointwise_case::<1, 1024, 1001>(&mut seed);
    pointwise_case::<7, 4, 1>(&mut seed);
    pointwise_case::<13, 68, 72>(&mut seed);
    pointwise_case::<25, 96, 24>(&mut seed);
    pointwise_case::<8, 144, 200>(&mut seed);
    pointwise_case::<49, 1024, 1024>(&mut seed);
    // More pixels than one AVX-512 block holds, at small and large inputs.
    pointwise_case::<301, 16, 96>(&mut seed);
    pointwise_case::<262, 24, 144>(&mut seed);
    pointwise_case::<100, 960, 160>(&mut seed);
    if Isa::Avx2.is_supported() {
        assert!(
            calls(Isa::Avx2) > before,
            "the AVX2 quantized pointwise never ran"
        );
    }
}

#[test]
fn bad_quantization_is_an_error() {
    let data = [1u8; 4];
    let bias = [0u8; 8];
    let scale = 0.0f32.to_le_bytes();
    let w = WeightQuant {
        data: &data,
        layout: SrcLayout::Hwio,
        unsigned: false,
        scales: &scale,
        zero_points: &[0],
    };
    let q = QuantParams {
        scale: 0.1,
        zero_point: 0,
        unsigned: false,
    };
    let (wl, pl) = pointwise_len(2, 2);
    let (mut wo, mut po) = (vec![0.0; wl], vec![0.0; pl]);
    let e = pack_pointwise(&w, &bias, &q, &q, 0, [2, 2], &mut wo, &mut po).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the weight scale of channel 0 is 0: scales must be finite and positive"
    );
    let bad = QuantParams {
        zero_point: 300,
        unsigned: true,
        ..q
    };
    let e = pool_params(&bad, &bad, 0, &mut [0.0; POOL_PARAMS]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the input zero point of channel 0 is 300, outside its type's range"
    );
    let other = QuantParams { scale: 0.2, ..q };
    let e = pool_params(&q, &other, 0, &mut [0.0; POOL_PARAMS]).unwrap_err();
    assert_eq!(e, QuantError::PoolQuantization);
}

fn depthwise_case<
    const H: usize,
    const W: usize,
    const C: usize,
    const HO: usize,
    const WO: usize,
    const S: usize,
    const PT: usize,
>(
    seed: &mut u64,
) {
    // The third output scale is small enough that some channels' multipliers exceed 1 (their
    // requantization shifts left); the last layer has no activation.
    for (unsigned, out_scale, act) in [
        (false, 0.05, crate::ACT_RELU6),
        (true, 0.05, crate::ACT_RELU6),
        (false, 0.0003, crate::ACT_RELU6),
        (false, 0.05, crate::ACT_NONE),
    ] {
        depthwise_one::<H, W, C, HO, WO, S, PT>(unsigned, out_scale, act, seed);
    }
}

fn depthwise_one<
    const H: usize,
    const W: usize,
    const C: usize,
    const HO: usize,
    const WO: usize,
    const S: usize,
    const PT: usize,
>(
    unsigned: bool,
    out_scale: f32,
    act: u8,
    seed: &mut u64,
) {
    let data: Vec<u8> = (0..9 * C).map(|_| lcg(seed) as u8).collect();
    let scales: Vec<u8> = (0..C)
        .flat_map(|_| (0.002f32 + (lcg(seed) % 1000) as f32 * 1e-5).to_le_bytes())
        .collect();
    // u8 weights: one scale and one zero point for the tensor (TFLite's uint8 models).
    let zps = if unsigned {
        vec![(lcg(seed) % 256) as u8]
    } else {
        vec![0u8; C]
    };
    let bias: Vec<u8> = (0..C)
        .flat_map(|_| ((lcg(seed) % 2001) as i32 - 1000).to_le_bytes())
        .collect();
    let w = WeightQuant {
        data: &data,
        layout: SrcLayout::Hwc1,
        unsigned,
        scales: if unsigned { &scales[..4] } else { &scales },
        zero_points: &zps,
    };
    let q = |z: i32, scale: f32| QuantParams {
        scale,
        zero_point: z,
        unsigned: false,
    };
    let zx = (lcg(seed) % 256) as i32 - 128;
    let (wl, pl) = depthwise_len(3, 3, C);
    let (mut wo, mut po) = (vec![0.0; wl], vec![0.0; pl]);
    pack_depthwise(
        &w,
        &bias,
        &q(zx, 0.05),
        // Without an activation, an output zero point above -128 leaves results below it.
        &q(if act == crate::ACT_NONE { 7 } else { -128 }, out_scale),
        act,
        [3, 3, C],
        &mut wo,
        &mut po,
    )
    .unwrap();
    let shifts = &po[super::CONV_HEADER + 2 * co8(C)..][..C];
    assert_eq!(
        shifts.iter().any(|s| s.to_bits() as i32 > 0),
        out_scale < 0.001,
        "depthwise {H}x{W}x{C}: left shifts where intended"
    );
    let x: Vec<i8> = (0..H * W * C).map(|_| lcg(seed) as i8).collect();
    let mut want = vec![0i8; HO * WO * C];
    super::kernels::depthwise_scalar::<H, W, C, HO, WO, 3, 3, S, S, PT, PT>(
        &x, &wo, &po, &mut want,
    );
    let mut got = vec![0i8; HO * WO * C];
    super::kernels::depthwise::<H, W, C, HO, WO, 3, 3, S, S, PT, PT>(&x, &wo, &po, &mut got);
    let what = std::format!("depthwise {H}x{W}x{C} s{S} unsigned {unsigned} act {act}");
    assert_eq!(got, want, "{what}");
    #[cfg(feature = "std")]
    assert_parts(&want, &what, |y, part| {
        // SAFETY: `y` holds the `HO * WO * C` outputs; the parts run one after another.
        unsafe {
            super::kernels::depthwise_part::<H, W, C, HO, WO, 3, 3, S, S, PT, PT>(
                &x, &wo, &po, y, part,
            )
        }
    });
    assert_row_splits(&want, HO, &std::format!("scalar {what}"), |rows, y| {
        super::kernels::depthwise_scalar_rows::<H, W, C, HO, WO, 3, 3, S, S, PT, PT>(
            &x, &wo, &po, rows, y,
        )
    });
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if Isa::Avx2.is_supported() {
        let mut got = vec![0x55i8; HO * WO * C];
        // SAFETY: AVX2 is supported (checked above).
        unsafe {
            super::avx2::depthwise::<H, W, C, HO, WO, 3, 3, S, S, PT, PT>(
                &x,
                &wo,
                &po,
                0..HO,
                &mut got,
            )
        };
        assert_eq!(got, want, "avx2 {what}");
        assert_row_splits(&want, HO, &std::format!("avx2 {what}"), |rows, y| {
            // SAFETY: AVX2 is supported (checked above).
            unsafe {
                super::avx2::depthwise::<H, W, C, HO, WO, 3, 3, S, S, PT, PT>(&x, &wo, &po, rows, y)
            }
        });
    }
    // Symmetric `i8` taps always fit a byte; `u8` ones rarely do (they span up to 255 from
    // their zero point), so those layers keep the `i16` pair variant.
    let layout = super::ConvHeader::read(&po).layout;
    if !unsigned {
        assert_eq!(
            layout,
            super::DepthwiseLayout::WordsAndBytes as i32,
            "{what}"
        );
    }
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::vnni_supported() {
        let with_bytes = layout == super::DepthwiseLayout::WordsAndBytes as i32
            && crate::kernels::vbmi_supported();
        for bytes in [false, true].into_iter().filter(|&b| !b || with_bytes) {
            let what = std::format!("avx512 (bytes {bytes}) {what}");
            let mut got = vec![0x55i8; HO * WO * C];
            // SAFETY: AVX-512F/BW/VL/VNNI are supported (checked above), VBMI and the byte
            // columns where `bytes`.
            unsafe {
                super::avx512::depthwise3x3_variant::<H, W, C, HO, WO, S, S, PT, PT>(
                    bytes,
                    &x,
                    &wo,
                    &po,
                    0..HO,
                    &mut got,
                )
            };
            assert_eq!(got, want, "{what}");
            assert_row_splits(&want, HO, &what, |rows, y| {
                // SAFETY: as above.
                unsafe {
                    super::avx512::depthwise3x3_variant::<H, W, C, HO, WO, S, S, PT, PT>(
                        bytes, &x, &wo, &po, rows, y,
                    )
                }
            });
        }
    }
    assert!(
        want.iter().any(|&v| v != want[0]),
        "{what}: a constant output tests little"
    );
}

#[test]
fn depthwise_every_isa_matches_scalar() {
    let mut seed = 19;
    depthwise_case::<5, 5, 3, 5, 5, 1, 1>(&mut seed);
    depthwise_case::<8, 8, 16, 4, 4, 2, 0>(&mut seed);
    depthwise_case::<7, 9, 21, 7, 9, 1, 1>(&mut seed);
    depthwise_case::<14, 14, 40, 7, 7, 2, 0>(&mut seed);
    depthwise_case::<6, 5, 24, 6, 5, 1, 1>(&mut seed);
    depthwise_case::<9, 7, 48, 5, 4, 2, 1>(&mut seed);
    depthwise_case::<2, 2, 32, 2, 2, 1, 1>(&mut seed);
    depthwise_case::<1, 1, 16, 1, 1, 1, 1>(&mut seed);
    // Stride 1 inside the image: the sliding window over long rows, with and without padding.
    depthwise_case::<14, 14, 48, 14, 14, 1, 1>(&mut seed);
    depthwise_case::<9, 12, 32, 7, 10, 1, 0>(&mut seed);
    depthwise_case::<4, 6, 16, 4, 6, 1, 1>(&mut seed);
    // 8 channels: pixel pairs inside the image (odd and even widths, with and without
    // padding), the 8-lane path at the border and at stride 2.
    depthwise_case::<6, 7, 8, 6, 7, 1, 1>(&mut seed);
    depthwise_case::<5, 6, 8, 5, 6, 1, 1>(&mut seed);
    depthwise_case::<7, 6, 8, 5, 4, 1, 0>(&mut seed);
    depthwise_case::<3, 3, 8, 3, 3, 1, 1>(&mut seed);
    depthwise_case::<8, 8, 8, 4, 4, 2, 0>(&mut seed);
    // Inputs above the AVX-512 kernel's channel-block-outer size: rows outermost.
    depthwise_case::<60, 57, 50, 60, 57, 1, 1>(&mut seed);
    depthwise_case::<66, 65, 40, 33, 33, 2, 0>(&mut seed);
}

/// [`conv_one`] with ReLU (which clamps every result <= 0 to the zero point: the kernels'
/// shortcut) and without an activation.
fn conv_case<
    const H: usize,
    const CI: usize,
    const CO: usize,
    const HO: usize,
    const S: usize,
    const PAD: usize,
>(
    seed: &mut u64,
    unsigned: bool,
) {
    for act in [crate::ACT_RELU, crate::ACT_NONE] {
        conv_one::<H, CI, CO, HO, S, PAD>(seed, unsigned, act);
    }
}

fn conv_one<
    const H: usize,
    const CI: usize,
    const CO: usize,
    const HO: usize,
    const S: usize,
    const PAD: usize,
>(
    seed: &mut u64,
    unsigned: bool,
    act: u8,
) {
    let data: Vec<u8> = (0..9 * CI * CO).map(|_| lcg(seed) as u8).collect();
    let scales = 0.003f32.to_le_bytes();
    let zps = if unsigned {
        vec![(lcg(seed) % 256) as u8]
    } else {
        vec![0u8]
    };
    let bias: Vec<u8> = (0..CO)
        .flat_map(|_| ((lcg(seed) % 2001) as i32 - 1000).to_le_bytes())
        .collect();
    let w = WeightQuant {
        data: &data,
        layout: SrcLayout::Hwio,
        unsigned,
        scales: &scales,
        zero_points: &zps,
    };
    let q = |z: i32| QuantParams {
        scale: 0.02,
        zero_point: z,
        unsigned: false,
    };
    let (wl, pl) = conv_len(3, 3, CI, CO);
    let (mut wo, mut po) = (vec![0.0; wl], vec![0.0; pl]);
    pack_conv(
        &w,
        &bias,
        &q(5),
        &q(-20),
        act,
        [3, 3, CI, CO],
        &mut wo,
        &mut po,
    )
    .unwrap();
    let x: Vec<i8> = (0..H * H * CI).map(|_| lcg(seed) as i8).collect();
    let mut want = vec![0i8; HO * HO * CO];
    super::kernels::conv2d_scalar::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(
        &x, &wo, &po, &mut want,
    );
    let mut got = vec![0i8; HO * HO * CO];
    super::kernels::conv2d::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(&x, &wo, &po, &mut got);
    let what = std::format!("conv {H}x{H}x{CI} -> {CO} s{S} pad {PAD} act {act}");
    assert_eq!(got, want, "{what}");
    #[cfg(feature = "std")]
    assert_parts(&want, &what, |y, part| {
        // SAFETY: `y` holds the `HO * HO * CO` outputs; the parts run one after another.
        unsafe {
            super::kernels::conv2d_part::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(
                &x, &wo, &po, y, part,
            )
        }
    });
    assert_row_splits(&want, HO, &std::format!("scalar {what}"), |rows, y| {
        super::kernels::conv2d_scalar_rows::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(
            &x, &wo, &po, rows, y,
        )
    });
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if Isa::Avx2.is_supported() {
        let mut got = vec![0x55i8; HO * HO * CO];
        // SAFETY: AVX2 is supported (checked above).
        unsafe {
            super::avx2::conv2d::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(
                &x,
                &wo,
                &po,
                0..HO,
                &mut got,
            )
        };
        assert_eq!(got, want, "avx2 {what}");
        assert_row_splits(&want, HO, &std::format!("avx2 {what}"), |rows, y| {
            // SAFETY: AVX2 is supported (checked above).
            unsafe {
                super::avx2::conv2d::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(
                    &x, &wo, &po, rows, y,
                )
            }
        });
    }
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::vnni_supported() && super::kernels::conv2d_has_avx512(3, 3, CI, CO) {
        let mut got = vec![0x55i8; HO * HO * CO];
        // SAFETY: AVX-512F/BW/VL/VNNI are supported (checked above).
        unsafe {
            super::avx512::conv2d::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(
                &x,
                &wo,
                &po,
                0..HO,
                &mut got,
            )
        };
        assert_eq!(got, want, "avx512 {what}");
        assert_row_splits(&want, HO, &std::format!("avx512 {what}"), |rows, y| {
            // SAFETY: AVX-512F/BW/VL/VNNI are supported (checked above).
            unsafe {
                super::avx512::conv2d::<H, H, CI, HO, HO, CO, 3, 3, S, S, PAD, PAD>(
                    &x, &wo, &po, rows, y,
                )
            }
        });
    }
    assert!(
        want.iter().any(|&v| v != want[0]),
        "a constant output tests little"
    );
}

#[test]
fn conv_every_isa_matches_scalar() {
    let mut seed = 5;
    // The AVX2 kernel's tiled path (a patch of at most 64 values, at most 64 channels): the
    // stem's shape with TFLite's SAME padding, odd patch lengths, a channel tail, borders.
    conv_case::<9, 3, 32, 5, 2, 1>(&mut seed, true);
    conv_case::<9, 3, 32, 5, 2, 1>(&mut seed, false);
    conv_case::<9, 3, 32, 5, 2, 0>(&mut seed, true);
    conv_case::<6, 5, 13, 6, 1, 0>(&mut seed, false);
    conv_case::<7, 7, 64, 7, 1, 1>(&mut seed, false);
    conv_case::<5, 1, 3, 3, 2, 1>(&mut seed, true);
    // More pixels than one AVX-512 block gathers; the 0.25 stem's 8 channels.
    conv_case::<33, 3, 32, 17, 2, 1>(&mut seed, false);
    conv_case::<20, 3, 8, 10, 2, 0>(&mut seed, true);
    // Its broadcast path: more channels, longer patches.
    conv_case::<8, 2, 72, 4, 2, 0>(&mut seed, true);
    conv_case::<5, 8, 16, 5, 1, 1>(&mut seed, false);
}

#[test]
fn add_every_isa_matches_scalar() {
    let mut seed = 3;
    for (sa, sb, so, act) in [
        (0.02f32, 0.03f32, 0.04f32, 0u8),
        (0.1, 0.01, 0.05, 2),
        (0.5, 0.5, 1.1, 1),
    ] {
        let q = |s: f32, seed: &mut u64| QuantParams {
            scale: s,
            zero_point: (lcg(seed) % 256) as i32 - 128,
            unsigned: false,
        };
        let (a, b, o) = (q(sa, &mut seed), q(sb, &mut seed), q(so, &mut seed));
        let mut pw = [0.0f32; ADD_PARAMS];
        add_params(&a, &b, &o, act, &mut pw).unwrap();
        let p = AddParams::read(&pw);
        for n in [1usize, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 1000] {
            let xa: Vec<i8> = (0..n).map(|_| lcg(&mut seed) as i8).collect();
            let xb: Vec<i8> = (0..n).map(|_| lcg(&mut seed) as i8).collect();
            let mut want = vec![0i8; n];
            super::kernels::add_scalar(&xa, &xb, &p, &mut want);
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            if Isa::Avx2.is_supported() {
                let mut got = vec![0i8; n];
                // SAFETY: AVX2 is supported (checked above).
                unsafe { super::avx2::add(&xa, &xb, &p, &mut got) };
                assert_eq!(got, want, "add of {n}");
            }
            #[cfg(target_arch = "x86_64")]
            if crate::kernels::vnni_supported() {
                let mut got = vec![0x55i8; n];
                // SAFETY: AVX-512F/BW/VL are supported (checked above).
                unsafe { super::avx512::add(&xa, &xb, &p, &mut got) };
                assert_eq!(got, want, "avx512 add of {n}");
            }
        }
        #[cfg(feature = "std")]
        {
            add_parts::<1000>(&pw, &mut seed);
            add_parts::<4099>(&pw, &mut seed);
        }
    }
}

/// The quantized add of `N` random values in parts (whole runs of 64 each) against the whole.
#[cfg(feature = "std")]
fn add_parts<const N: usize>(pw: &[f32], seed: &mut u64) {
    let xa: Vec<i8> = (0..N).map(|_| lcg(seed) as i8).collect();
    let xb: Vec<i8> = (0..N).map(|_| lcg(seed) as i8).collect();
    let mut want = vec![0i8; N];
    super::kernels::add::<N>(&xa, &xb, &[], pw, &mut want);
    assert_parts(&want, &std::format!("add of {N}"), |y, part| {
        // SAFETY: `y` holds the `N` outputs; the parts run one after another.
        unsafe { super::kernels::add_part::<N>(&xa, &xb, &[], pw, y, part) }
    });
}
