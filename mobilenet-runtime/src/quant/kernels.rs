//! Quantized layer kernels (`i8` activations), monomorphized per layer shape like
//! [`crate::kernels`]. Each takes the layer's packed weight and parameter regions (see the
//! [module docs](super)); the clamp of the fused activation is in the parameters.
//!
//! The scalar implementations here are the reference: integer arithmetic, in TFLite's order.
//! The entry points dispatch to an instruction-set variant where one exists (AVX2; AVX-512
//! VNNI for pointwise, 3x3 depthwise, add and small full convolutions), counted in [`crate::kernels::calls`]; every
//! variant gives the same bits.

use super::{
    co8, multiply_by_quantized_multiplier, word, AddParams, ConvHeader, PointwiseLayout,
    PoolParams, SoftmaxParams, CONV_HEADER, SOFTMAX_SCALED_DIFF_INTEGER_BITS,
};
use crate::kernels::check_len;
use core::ops::Range;

/// Runs the AVX2 variant `$avx2` when the active instruction set has AVX2 (AVX2 or AVX-512),
/// else the scalar twin `$scalar`, counting the call under the set that ran ([`crate::kernels::calls`]).
macro_rules! avx2_or_scalar {
    ($avx2:expr, $scalar:expr) => {{
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        // Every x86 instruction set but scalar implies AVX2 (AVX-512 and its emulation too).
        if !matches!(crate::kernels::active_isa(), crate::kernels::Isa::Scalar) {
            crate::kernels::count_q8(crate::kernels::Isa::Avx2);
            // SAFETY: the active instruction set is an x86 SIMD one, each of which requires
            // AVX2 on this CPU (`active_isa` returns supported sets only: `avx2_supported()` for
            // AVX2 and the emulation, `avx512_supported()` includes it), and the callers checked every
            // length first.
            return unsafe { $avx2 };
        }
        crate::kernels::count_q8(crate::kernels::Isa::Scalar);
        $scalar
    }};
}

/// Runs the AVX-512 variant `$avx512` (and returns its result) when `$cond` holds and the
/// quantized kernels run their AVX-512 VNNI variants ([`crate::kernels::vnni_active`]),
/// counting the call under AVX-512; otherwise falls through to the code after it.
macro_rules! avx512_if {
    ($cond:expr, $avx512:expr) => {
        #[cfg(target_arch = "x86_64")]
        if $cond && crate::kernels::vnni_active() {
            crate::kernels::count_q8(crate::kernels::Isa::Avx512);
            // SAFETY: `vnni_active` checked that the CPU has AVX-512F, BW, VL and VNNI; the
            // callers checked every length (and `$cond`, the variant's own precondition) first.
            return unsafe { $avx512 };
        }
    };
}

/// Panics unless a conv-like layer's input (`[got, expected]` values), weights (`words`, as
/// packing lays them out) and parameters (`co` channels) have their lengths.
#[inline(always)]
#[track_caller]
fn check_operands(
    k: &'static str,
    [got, expected]: [usize; 2],
    words: usize,
    co: usize,
    weights: &[f32],
    params: &[f32],
) {
    check_len(k, "input", got, expected);
    check_len(k, "weights", weights.len(), words);
    check_len(k, "params", params.len(), CONV_HEADER + 3 * co8(co));
}

/// Requantizes accumulator `acc` of output channel `o` (bias added here) and clamps it.
#[inline(always)]
fn requantize(p: &[f32], c8: usize, h: &ConvHeader, o: usize, acc: i32) -> i8 {
    let bias = word(p, CONV_HEADER + o);
    let m = word(p, CONV_HEADER + c8 + o);
    let s = word(p, CONV_HEADER + 2 * c8 + o);
    // The zero point added saturating (an `i32` overflow is undefined in TFLite's C++; the
    // SIMD variants narrow with saturation first).
    let v = multiply_by_quantized_multiplier(acc.wrapping_add(bias), m, s)
        .saturating_add(h.output_zero_point);
    v.clamp(h.act_min, h.act_max) as i8
}

/// Quantized full 2-D convolution: `input` `[H][W][CI]`, `out` `[HO][WO][CO]`, weights and
/// padding as [`crate::kernels::conv2d`] (taps outside the input contribute nothing: they
/// stand for the real value 0).
#[inline(always)]
pub fn conv2d<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    const { assert!(SH > 0 && SW > 0, "strides must be positive") };
    check_operands(
        "q8::conv2d",
        [input.len(), H * W * CI],
        super::conv_len(KH, KW, CI, CO).0,
        CO,
        weights,
        params,
    );
    check_len("q8::conv2d", "out", out.len(), HO * WO * CO);
    conv2d_rows::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(input, weights, params, 0..HO, out)
}

/// [`conv2d`] for output rows `rows` (`out` holds those rows), lengths checked.
#[inline(always)]
fn conv2d_rows<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    rows: Range<usize>,
    out: &mut [i8],
) {
    avx512_if!(
        conv2d_has_avx512(KH, KW, CI, CO),
        super::avx512::conv2d::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(
            input, weights, params, rows, out,
        )
    );
    avx2_or_scalar!(
        super::avx2::conv2d::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(
            input, weights, params, rows, out,
        ),
        conv2d_scalar_rows::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(
            input, weights, params, rows, out,
        )
    )
}

/// Whether [`conv2d`] has an AVX-512 VNNI variant for the shape: patches of at most 32 values
/// (`kh * kw * ci`, the stem's 27) and at most 64 output channels, which that variant keeps on
/// the stack.
pub const fn conv2d_has_avx512(kh: usize, kw: usize, ci: usize, co: usize) -> bool {
    kh * kw * ci <= 32 && co <= 64
}

/// The scalar twin of [`conv2d`].
#[allow(clippy::too_many_arguments)]
pub fn conv2d_scalar<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    conv2d_scalar_rows::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(
        input,
        weights,
        params,
        0..HO,
        out,
    )
}

/// [`conv2d_scalar`] for output rows `rows` (`out` holds those rows).
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_scalar_rows<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    rows: Range<usize>,
    out: &mut [i8],
) {
    let c8 = co8(CO);
    let h = ConvHeader::read(params);
    let mut acc = [0i32; CO];
    for oy in rows.clone() {
        for ox in 0..WO {
            acc.fill(0);
            for ky in 0..KH {
                let iy = (oy * SH + ky).wrapping_sub(PT);
                if iy >= H {
                    continue;
                }
                for kx in 0..KW {
                    let ix = (ox * SW + kx).wrapping_sub(PL);
                    if ix >= W {
                        continue;
                    }
                    let px = &input[(iy * W + ix) * CI..][..CI];
                    for (i, &xv) in px.iter().enumerate() {
                        let xv = xv as i32 - h.input_zero_point;
                        let wrow = &weights[((ky * KW + kx) * CI + i) * c8..][..CO];
                        for (a, wv) in acc.iter_mut().zip(wrow) {
                            *a = a.wrapping_add(xv * (wv.to_bits() as i32));
                        }
                    }
                }
            }
            let o_px = &mut out[((oy - rows.start) * WO + ox) * CO..][..CO];
            for (o, y) in o_px.iter_mut().enumerate() {
                *y = requantize(params, c8, &h, o, acc[o]);
            }
        }
    }
}

/// Quantized depthwise 2-D convolution (multiplier 1): `input` `[H][W][C]`, `out`
/// `[HO][WO][C]`, indexing and padding as [`crate::kernels::depthwise`].
#[inline(always)]
pub fn depthwise<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    const { assert!(SH > 0 && SW > 0, "strides must be positive") };
    check_operands(
        "q8::depthwise",
        [input.len(), H * W * C],
        super::depthwise_len(KH, KW, C).0,
        C,
        weights,
        params,
    );
    check_len("q8::depthwise", "out", out.len(), HO * WO * C);
    depthwise_rows::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL>(input, weights, params, 0..HO, out)
}

/// [`depthwise`] for output rows `rows` (`out` holds those rows), lengths checked.
#[inline(always)]
fn depthwise_rows<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    rows: Range<usize>,
    out: &mut [i8],
) {
    avx512_if!(
        KH == 3 && KW == 3,
        super::avx512::depthwise3x3::<H, W, C, HO, WO, SH, SW, PT, PL>(
            input, weights, params, rows, out,
        )
    );
    avx2_or_scalar!(
        super::avx2::depthwise::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL>(
            input, weights, params, rows, out,
        ),
        depthwise_scalar_rows::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL>(
            input, weights, params, rows, out,
        )
    )
}

/// The scalar twin of [`depthwise`].
#[allow(clippy::too_many_arguments)]
pub fn depthwise_scalar<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    depthwise_scalar_rows::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL>(
        input,
        weights,
        params,
        0..HO,
        out,
    )
}

/// [`depthwise_scalar`] for output rows `rows` (`out` holds those rows).
#[allow(clippy::too_many_arguments)]
pub(crate) fn depthwise_scalar_rows<
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    rows: Range<usize>,
    out: &mut [i8],
) {
    let c8 = co8(C);
    let h = ConvHeader::read(params);
    let mut acc = [0i32; C];
    for oy in rows.clone() {
        for ox in 0..WO {
            acc.fill(0);
            for ky in 0..KH {
                let iy = (oy * SH + ky).wrapping_sub(PT);
                if iy >= H {
                    continue;
                }
                for kx in 0..KW {
                    let ix = (ox * SW + kx).wrapping_sub(PL);
                    if ix >= W {
                        continue;
                    }
                    let px = &input[(iy * W + ix) * C..][..C];
                    let wrow = &weights[(ky * KW + kx) * c8..][..C];
                    for ((a, &xv), wv) in acc.iter_mut().zip(px).zip(wrow) {
                        let xv = xv as i32 - h.input_zero_point;
                        *a = a.wrapping_add(xv * (wv.to_bits() as i32));
                    }
                }
            }
            let o_px = &mut out[((oy - rows.start) * WO + ox) * C..][..C];
            for (o, y) in o_px.iter_mut().enumerate() {
                *y = requantize(params, c8, &h, o, acc[o]);
            }
        }
    }
}

/// Quantized pointwise (1x1) convolution over `HW` pixels (also the fully connected layer,
/// `HW = 1`): `input` `[HW][CI]`, `out` `[HW][CO]`, weights in 8-channel panels of `i16`
/// input-channel pairs.
#[inline(always)]
pub fn pointwise<const HW: usize, const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_pointwise::<HW, CI, CO>(input, weights, params, out);
    pointwise_pixels::<CI, CO>(input, weights, params, out)
}

/// [`pointwise`] over the pixels the slices hold (`input.len() / CI` of them).
#[inline(always)]
fn pointwise_pixels<const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    if is_quads(&ConvHeader::read(params)) {
        avx512_if!(
            true,
            super::avx512::pointwise_quads::<CI, CO>(input, weights, params, out)
        );
        crate::kernels::count_q8(crate::kernels::Isa::Scalar);
        return pointwise_quads_pixels::<CI, CO>(input, weights, params, out);
    }
    avx2_or_scalar!(
        super::avx2::pointwise::<CI, CO>(input, weights, params, out),
        pointwise_scalar_pixels::<CI, CO>(input, weights, params, out)
    )
}

/// The pixels of a pointwise call's slices: `input.len() / CI`, after checking that the
/// lengths agree (as [`check_pointwise`] for that many pixels).
#[inline]
pub(crate) fn pointwise_hw<const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &[i8],
) -> usize {
    let k = "q8::pointwise";
    let hw = input.len() / CI;
    let (wl, pl) = super::pointwise_len(CI, CO);
    check_len(k, "input", input.len(), hw * CI);
    check_len(k, "weights", weights.len(), wl);
    check_len(k, "params", params.len(), pl);
    check_len(k, "out", out.len(), hw * CO);
    hw
}

pub(crate) fn check_pointwise<const HW: usize, const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_len("q8::pointwise", "input", input.len(), HW * CI);
    pointwise_hw::<CI, CO>(input, weights, params, out);
}

/// Panics unless a pointwise layer's weights are packed as [`PointwiseLayout::Pairs`] (what the
/// scalar and AVX2 kernels read).
#[inline]
pub(crate) fn check_pairs(h: &ConvHeader) {
    assert!(
        h.layout == PointwiseLayout::Pairs as i32,
        "q8::pointwise: weights not packed as pairs"
    );
}

/// Whether a pointwise layer's weights are packed as [`PointwiseLayout::Quads`] or
/// [`PointwiseLayout::SignedQuads`].
#[inline]
pub(crate) fn is_quads(h: &ConvHeader) -> bool {
    h.layout == PointwiseLayout::Quads as i32 || h.layout == PointwiseLayout::SignedQuads as i32
}

/// Panics unless a pointwise layer's weights are packed in a quads layout (what the quads
/// scalar twin and the AVX-512 VNNI kernel read; `ci % 4 == 0` by construction).
#[inline]
pub(crate) fn check_quads(h: &ConvHeader, ci: usize) {
    assert!(
        is_quads(h) && ci.is_multiple_of(4),
        "q8::pointwise: weights not packed as quads"
    );
}

/// The scalar twin of [`pointwise`] (the reference the SIMD variants are tested against).
pub fn pointwise_scalar<const HW: usize, const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_pointwise::<HW, CI, CO>(input, weights, params, out);
    pointwise_scalar_pixels::<CI, CO>(input, weights, params, out)
}

/// [`pointwise_scalar`] over the pixels the slices hold.
pub(crate) fn pointwise_scalar_pixels<const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    let hw = pointwise_hw::<CI, CO>(input, weights, params, out);
    let c8 = co8(CO);
    let pairs = CI.div_ceil(2);
    let h = ConvHeader::read(params);
    check_pairs(&h);
    for p in 0..hw {
        let px = &input[p * CI..][..CI];
        for panel in 0..c8 / 8 {
            let mut acc = [0i32; 8];
            let wp = &weights[panel * pairs * 8..][..pairs * 8];
            for k in 0..pairs {
                let x0 = px[2 * k] as i32 - h.input_zero_point;
                let x1 = if 2 * k + 1 < CI {
                    px[2 * k + 1] as i32 - h.input_zero_point
                } else {
                    0
                };
                for (j, a) in acc.iter_mut().enumerate() {
                    let wv = wp[k * 8 + j].to_bits();
                    let lo = wv as u16 as i16 as i32;
                    let hi = (wv >> 16) as u16 as i16 as i32;
                    *a = a.wrapping_add(x0 * lo).wrapping_add(x1 * hi);
                }
            }
            for (j, &a) in acc.iter().enumerate() {
                let o = panel * 8 + j;
                if o < CO {
                    out[p * CO + o] = requantize(params, c8, &h, o, a);
                }
            }
        }
    }
}

/// The scalar twin of [`pointwise`] on weights packed as [`PointwiseLayout::Quads`] or
/// [`PointwiseLayout::SignedQuads`]: the same sums, formed as the AVX-512 VNNI kernel forms
/// them (see the [module docs](super)).
pub fn pointwise_quads_scalar<const HW: usize, const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_pointwise::<HW, CI, CO>(input, weights, params, out);
    pointwise_quads_pixels::<CI, CO>(input, weights, params, out)
}

/// [`pointwise_quads_scalar`] over the pixels the slices hold.
fn pointwise_quads_pixels<const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    let hw = pointwise_hw::<CI, CO>(input, weights, params, out);
    let h = ConvHeader::read(params);
    check_quads(&h, CI);
    let (c8, quads) = (co8(CO), CI / 4);
    let signed = h.layout == PointwiseLayout::SignedQuads as i32;
    for p in 0..hw {
        let px = &input[p * CI..][..CI];
        // Quads: `x` times `w_u`, less `c sum(x)`. Signed quads: `x + 128` times `w`.
        let sum = px.iter().fold(0i32, |s, &x| s.wrapping_add(x as i32));
        let corr = h.weight_offset.wrapping_mul(sum);
        for o in 0..CO {
            let wp = &weights[o / 16 * quads * 16 + o % 16..];
            let mut acc = 0i32;
            for k in 0..quads {
                let wv = wp[k * 16].to_bits();
                for t in 0..4 {
                    let byte = (wv >> (8 * t)) as u8;
                    let x = px[4 * k + t];
                    let product = if signed {
                        (x as u8 ^ 0x80) as i32 * byte as i8 as i32
                    } else {
                        x as i32 * byte as i32
                    };
                    acc = acc.wrapping_add(product);
                }
            }
            out[p * CO + o] = requantize(params, c8, &h, o, acc.wrapping_sub(corr));
        }
    }
}

/// Quantized elementwise addition of two activations of `N` values (a residual connection),
/// TFLite's `ADD`: `out = clamp(zo + M_o(M_1((a - z1) << s) + M_2((b - z2) << s)))`.
#[inline(always)]
pub fn add<const N: usize>(a: &[i8], b: &[i8], weights: &[f32], params: &[f32], out: &mut [i8]) {
    check_add::<N>(a, b, weights, params);
    check_len("q8::add", "out", out.len(), N);
    add_values(a, b, params, out)
}

#[inline(always)]
#[track_caller]
fn check_add<const N: usize>(a: &[i8], b: &[i8], weights: &[f32], params: &[f32]) {
    let k = "q8::add";
    check_len(k, "a", a.len(), N);
    check_len(k, "b", b.len(), N);
    check_len(k, "weights", weights.len(), 0);
    check_len(k, "params", params.len(), super::ADD_PARAMS);
}

/// [`add`] over the values the slices hold (the shortest length), parameters checked.
#[inline(always)]
fn add_values(a: &[i8], b: &[i8], params: &[f32], out: &mut [i8]) {
    let p = AddParams::read(params);
    avx512_if!(true, super::avx512::add(a, b, &p, out));
    avx2_or_scalar!(super::avx2::add(a, b, &p, out), add_scalar(a, b, &p, out))
}

/// The scalar twin of [`add`].
pub fn add_scalar(a: &[i8], b: &[i8], p: &AddParams, out: &mut [i8]) {
    let [(m1, s1), (m2, s2), (mo, so)] = p.multipliers;
    for ((&x1, &x2), y) in a.iter().zip(b).zip(out.iter_mut()) {
        let v1 = (x1 as i32 - p.zero_points[0]) * (1 << p.left_shift);
        let v2 = (x2 as i32 - p.zero_points[1]) * (1 << p.left_shift);
        let sum = multiply_by_quantized_multiplier(v1, m1, s1)
            + multiply_by_quantized_multiplier(v2, m2, s2);
        let v = multiply_by_quantized_multiplier(sum, mo, so) + p.zero_points[2];
        *y = v.clamp(p.act_min, p.act_max) as i8;
    }
}

/// The values a part of a threaded forward computes, `lo..hi` of `n`: whole runs of `unit`.
#[cfg(feature = "std")]
#[inline(always)]
fn part_range(part: crate::kernels::Part, n: usize, unit: usize) -> (usize, usize) {
    let (lo, hi) = part.range(n.div_ceil(unit));
    ((lo * unit).min(n), (hi * unit).min(n))
}

/// `len` values at `out + at` as a slice of the caller's share.
///
/// # Safety
///
/// `out .. out + at + len` is valid for writes and no other reference reaches `at .. at + len`
/// while the slice lives.
#[cfg(feature = "std")]
#[inline(always)]
unsafe fn share<'a>(out: *mut i8, at: usize, len: usize) -> &'a mut [i8] {
    // SAFETY: the caller's guarantee.
    unsafe { core::slice::from_raw_parts_mut(out.add(at), len) }
}

/// [`conv2d`] for one share of the output rows (a threaded forward's part).
///
/// # Safety
///
/// `out` is valid for writes of `HO * WO * CO` values, and no other thread accesses the share
/// of `part` meanwhile (calls with distinct indices of one count share none).
#[cfg(feature = "std")]
#[inline(always)]
#[rustfmt::skip]
pub(crate) unsafe fn conv2d_part<
    const H: usize, const W: usize, const CI: usize, const HO: usize, const WO: usize,
    const CO: usize, const KH: usize, const KW: usize, const SH: usize, const SW: usize,
    const PT: usize, const PL: usize,
>(input: &[i8], weights: &[f32], params: &[f32], out: *mut i8, part: crate::kernels::Part) {
    check_operands(
        "q8::conv2d",
        [input.len(), H * W * CI],
        super::conv_len(KH, KW, CI, CO).0,
        CO,
        weights,
        params,
    );
    let (lo, hi) = part_range(part, HO, 1);
    // SAFETY: rows `lo..hi` of the output are this part's (the caller's guarantee).
    let out = unsafe { share(out, lo * WO * CO, (hi - lo) * WO * CO) };
    conv2d_rows::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(input, weights, params, lo..hi, out)
}

/// [`depthwise`] for one share of the output rows.
///
/// # Safety
///
/// As [`conv2d_part`], for `HO * WO * C` values.
#[cfg(feature = "std")]
#[inline(always)]
#[rustfmt::skip]
pub(crate) unsafe fn depthwise_part<
    const H: usize, const W: usize, const C: usize, const HO: usize, const WO: usize,
    const KH: usize, const KW: usize, const SH: usize, const SW: usize, const PT: usize,
    const PL: usize,
>(input: &[i8], weights: &[f32], params: &[f32], out: *mut i8, part: crate::kernels::Part) {
    check_operands(
        "q8::depthwise",
        [input.len(), H * W * C],
        super::depthwise_len(KH, KW, C).0,
        C,
        weights,
        params,
    );
    let (lo, hi) = part_range(part, HO, 1);
    // SAFETY: rows `lo..hi` of the output are this part's (the caller's guarantee).
    let out = unsafe { share(out, lo * WO * C, (hi - lo) * WO * C) };
    depthwise_rows::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL>(input, weights, params, lo..hi, out)
}

/// [`pointwise`] for one share of the pixels (whole tiles of 6).
///
/// # Safety
///
/// As [`conv2d_part`], for `HW * CO` values.
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) unsafe fn pointwise_part<const HW: usize, const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: *mut i8,
    part: crate::kernels::Part,
) {
    check_len("q8::pointwise", "input", input.len(), HW * CI);
    let (lo, hi) = part_range(part, HW, 6);
    // SAFETY: pixels `lo..hi` of the output are this part's (the caller's guarantee).
    let out = unsafe { share(out, lo * CO, (hi - lo) * CO) };
    pointwise_pixels::<CI, CO>(&input[lo * CI..hi * CI], weights, params, out)
}

/// [`add`] for one share of the values (whole runs of 64).
///
/// # Safety
///
/// As [`conv2d_part`], for `N` values.
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) unsafe fn add_part<const N: usize>(
    a: &[i8],
    b: &[i8],
    weights: &[f32],
    params: &[f32],
    out: *mut i8,
    part: crate::kernels::Part,
) {
    check_add::<N>(a, b, weights, params);
    let (lo, hi) = part_range(part, N, 64);
    // SAFETY: values `lo..hi` of the output are this part's (the caller's guarantee).
    let out = unsafe { share(out, lo, hi - lo) };
    add_values(&a[lo..hi], &b[lo..hi], params, out)
}

/// The rounded mean of `acc / n`, half away from zero (TFLite's average pool; its `u8`
/// variant's sums are never negative).
#[inline(always)]
fn rounded_mean(acc: i32, n: i32) -> i32 {
    if acc > 0 {
        (acc + n / 2) / n
    } else {
        (acc - n / 2) / n
    }
}

/// Quantized average pooling without padding (windows inside the input, as
/// [`crate::kernels::avgpool`]); input and output share their quantization.
#[inline(always)]
pub fn avgpool<
    const H: usize,
    const W: usize,
    const C: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    const {
        assert!(
            SH > 0 && SW > 0 && KH > 0 && KW > 0,
            "empty window or zero stride"
        );
        assert!(
            HO == 0 || (HO - 1) * SH + KH <= H,
            "window leaves the input"
        );
        assert!(
            WO == 0 || (WO - 1) * SW + KW <= W,
            "window leaves the input"
        );
    };
    let k = "q8::avgpool";
    check_len(k, "input", input.len(), H * W * C);
    check_len(k, "weights", weights.len(), 0);
    check_len(k, "params", params.len(), super::POOL_PARAMS);
    check_len(k, "out", out.len(), HO * WO * C);
    let p = PoolParams::read(params);
    let n = (KH * KW) as i32;
    for oy in 0..HO {
        for ox in 0..WO {
            for c in 0..C {
                let mut acc = 0i32;
                for ky in 0..KH {
                    for kx in 0..KW {
                        let v = input[((oy * SH + ky) * W + ox * SW + kx) * C + c] as i32;
                        acc += v + p.offset;
                    }
                }
                let v = rounded_mean(acc, n) - p.offset;
                out[(oy * WO + ox) * C + c] = v.clamp(p.act_min, p.act_max) as i8;
            }
        }
    }
}

/// Quantized average over `HW` pixels, `out` `[C]`: TFLite's `AVERAGE_POOL_2D` with a window
/// covering the input (input and output share their quantization: the rounded mean of the
/// stored values) or its `MEAN` over height and width (requantizing), as the packed parameters
/// say ([`super::mean_params`]).
#[inline(always)]
pub fn global_avgpool<const HW: usize, const C: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    let k = "q8::global_avgpool";
    check_len(k, "input", input.len(), HW * C);
    check_len(k, "weights", weights.len(), 0);
    check_len(k, "params", params.len(), super::POOL_PARAMS);
    check_len(k, "out", out.len(), C);
    let p = PoolParams::read(params);
    let (m, s) = p.multiplier;
    let mut acc = [0i32; C];
    if m == 0 {
        for px in input.chunks_exact(C) {
            for (a, &v) in acc.iter_mut().zip(px) {
                *a += v as i32 + p.offset;
            }
        }
        for (y, &a) in out.iter_mut().zip(&acc) {
            let v = rounded_mean(a, HW as i32) - p.offset;
            *y = v.clamp(p.act_min, p.act_max) as i8;
        }
    } else {
        for px in input.chunks_exact(C) {
            for (a, &v) in acc.iter_mut().zip(px) {
                *a = a.wrapping_add(v as i32 - p.input_zero_point);
            }
        }
        for (y, &a) in out.iter_mut().zip(&acc) {
            let v = multiply_by_quantized_multiplier(a, m, s).saturating_add(p.output_zero_point);
            *y = v.clamp(p.act_min, p.act_max) as i8;
        }
    }
}

/// Converts the network's `u8` input to the `i8` storage (`q - 128`, exact).
#[inline(always)]
pub fn from_u8<const N: usize>(input: &[u8], out: &mut [i8]) {
    check_len("q8::from_u8", "input", input.len(), N);
    check_len("q8::from_u8", "out", out.len(), N);
    for (y, &x) in out.iter_mut().zip(input) {
        *y = (x ^ 0x80) as i8;
    }
}

/// Converts the `i8` storage to the network's `u8` output (`q + 128`, exact).
#[inline(always)]
pub fn to_u8<const N: usize>(input: &[i8], out: &mut [u8]) {
    check_len("q8::to_u8", "input", input.len(), N);
    check_len("q8::to_u8", "out", out.len(), N);
    for (y, &x) in out.iter_mut().zip(input) {
        *y = (x as u8) ^ 0x80;
    }
}

/// Quantized softmax over `N` values (TFLite's fixed-point softmax): `out` has scale 1/256.
#[inline(always)]
pub fn softmax<const N: usize>(input: &[i8], weights: &[f32], params: &[f32], out: &mut [i8]) {
    let k = "q8::softmax";
    check_len(k, "input", input.len(), N);
    check_len(k, "weights", weights.len(), 0);
    check_len(k, "params", params.len(), super::SOFTMAX_PARAMS);
    check_len(k, "out", out.len(), N);
    let p = SoftmaxParams::read(params);
    super::softmax::softmax(
        input,
        p.input_beta_multiplier,
        p.input_left_shift,
        p.diff_min,
        p.output_zero_point,
        SOFTMAX_SCALED_DIFF_INTEGER_BITS,
        out,
    );
}
