//! Portable scalar kernels: the reference implementation of every kernel in
//! [`kernels`](super), with identical signatures and semantics.
//!
//! Safe code: slice lengths are asserted on entry, after which the loops
//! walk the data through `chunks_exact`/`zip` so that most bounds checks
//! disappear and the innermost loops (always over contiguous channels)
//! auto-vectorize. The only `unsafe` is the `_part` entries' view of their share of an output
//! that several threads write (see [`Part`]).

use super::{check_len, Part};
use crate::activate;

/// Adds `a * w[j]` to `acc[j]` for every output channel `j`.
#[inline(always)]
fn axpy(acc: &mut [f32], a: f32, w: &[f32]) {
    for (o, &w) in acc.iter_mut().zip(w) {
        *o += a * w;
    }
}

/// Applies the activation to every element in place.
#[inline(always)]
fn activate_all<const ACT: u8>(xs: &mut [f32]) {
    for x in xs {
        *x = activate::<ACT>(*x);
    }
}

/// Range of kernel taps `k` in `0..K` for which `base + k - PAD` lies inside
/// `0..LEN`, as `(lo, hi)`; empty when `lo >= hi`.
#[inline(always)]
fn valid_taps(base: usize, k: usize, pad: usize, len: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(base);
    let hi = k.min((len + pad).saturating_sub(base));
    (lo, hi)
}

/// Scalar [`kernels::conv2d`](super::conv2d).
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
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("conv2d", "out", out.len(), HO * WO * CO);
    conv2d_rows::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(input, weights, bias, out, 0)
}

/// Scalar [`kernels::conv2d`](super::conv2d), the output rows of one share.
///
/// # Safety
///
/// `out` is valid for writes of `HO * WO * CO` values, and no other thread accesses the rows
/// of `part` meanwhile (calls with distinct indices of one count share none).
pub unsafe fn conv2d_part<
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
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    let (oy0, oy1) = part.range(HO);
    // SAFETY: rows oy0..oy1 lie inside the output the caller vouches for, and are this part's
    // alone.
    let rows =
        unsafe { core::slice::from_raw_parts_mut(out.add(oy0 * WO * CO), (oy1 - oy0) * WO * CO) };
    conv2d_rows::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
        input, weights, bias, rows, oy0,
    )
}

/// Output rows `oy0..` of a full convolution (as many as `out` holds).
#[allow(clippy::too_many_arguments)]
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
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
    oy0: usize,
) {
    const { assert!(SH > 0 && SW > 0, "conv2d: strides must be positive") };
    check_len("conv2d", "input", input.len(), H * W * CI);
    check_len("conv2d", "weights", weights.len(), KH * KW * CI * CO);
    check_len("conv2d", "bias", bias.len(), CO);
    if HO * WO * CO == 0 {
        return;
    }

    for (oy, out_row) in (oy0..).zip(out.chunks_exact_mut(WO * CO)) {
        let (ky_lo, ky_hi) = valid_taps(oy * SH, KH, PT, H);
        for (ox, acc) in out_row.chunks_exact_mut(CO).enumerate() {
            let (kx_lo, kx_hi) = valid_taps(ox * SW, KW, PL, W);
            acc.copy_from_slice(bias);
            // Kernel rows inside the input; none if no column is.
            let rows = if kx_lo < kx_hi { ky_lo..ky_hi } else { 0..0 };
            for ky in rows {
                let iy = oy * SH + ky - PT;
                let ix = ox * SW + kx_lo - PL;
                // The taps kx_lo..kx_hi read consecutive input pixels, and
                // their weights are consecutive [CI][CO] blocks, so one run
                // of (kx, ci) pairs covers the whole kernel row.
                let run = (kx_hi - kx_lo) * CI;
                let in_start = (iy * W + ix) * CI;
                let w_start = (ky * KW + kx_lo) * CI * CO;
                let in_run = &input[in_start..in_start + run];
                let w_run = &weights[w_start..w_start + run * CO];
                for (&a, w) in in_run.iter().zip(w_run.chunks_exact(CO)) {
                    axpy(acc, a, w);
                }
            }
            activate_all::<ACT>(acc);
        }
    }
}

/// Scalar [`kernels::depthwise`](super::depthwise).
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
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("depthwise", "out", out.len(), HO * WO * C);
    depthwise_rows::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(input, weights, bias, out, 0)
}

/// Scalar [`kernels::depthwise`](super::depthwise), the output rows of one share.
///
/// # Safety
///
/// `out` is valid for writes of `HO * WO * C` values, and no other thread accesses the rows of
/// `part` meanwhile (calls with distinct indices of one count share none).
pub unsafe fn depthwise_part<
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
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    let (oy0, oy1) = part.range(HO);
    // SAFETY: rows oy0..oy1 lie inside the output the caller vouches for, and are this part's
    // alone.
    let rows =
        unsafe { core::slice::from_raw_parts_mut(out.add(oy0 * WO * C), (oy1 - oy0) * WO * C) };
    depthwise_rows::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(input, weights, bias, rows, oy0)
}

/// Scalar [`kernels::depthwise_pointwise`](super::depthwise_pointwise).
#[allow(clippy::too_many_arguments)]
pub fn depthwise_pointwise<
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
    const CO: usize,
    const ACT2: u8,
    const ROWS: usize,
    const BAND_HW: usize,
    const LAST_HW: usize,
    const RES: bool,
>(
    input: &[f32],
    dw_weights: &[f32],
    dw_bias: &[f32],
    pw_weights: &[f32],
    pw_bias: &[f32],
    out: &mut [f32],
) {
    check_len("depthwise_pointwise", "out", out.len(), HO * WO * CO);
    // SAFETY: `out` is the whole output, borrowed exclusively.
    unsafe {
        depthwise_pointwise_part::<
            H,
            W,
            C,
            HO,
            WO,
            KH,
            KW,
            SH,
            SW,
            PT,
            PL,
            ACT,
            CO,
            ACT2,
            ROWS,
            BAND_HW,
            LAST_HW,
            RES,
        >(
            input,
            dw_weights,
            dw_bias,
            pw_weights,
            pw_bias,
            out.as_mut_ptr(),
            Part::WHOLE,
        )
    }
}

/// Scalar [`kernels::depthwise_pointwise`](super::depthwise_pointwise), whole bands of one
/// share: each band's depthwise rows into a buffer, then the pointwise over them.
///
/// # Safety
///
/// `out` is valid for writes of `HO * WO * CO` values, and no other thread accesses the bands
/// of `part` meanwhile (calls with distinct indices of one count share none).
#[allow(clippy::too_many_arguments)]
pub unsafe fn depthwise_pointwise_part<
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
    const CO: usize,
    const ACT2: u8,
    const ROWS: usize,
    const BAND_HW: usize,
    const LAST_HW: usize,
    const RES: bool,
>(
    input: &[f32],
    dw_weights: &[f32],
    dw_bias: &[f32],
    pw_weights: &[f32],
    pw_bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    const { super::check_fused_band(HO, WO, C, ROWS, BAND_HW, LAST_HW) };
    let mut band = [0.0f32; super::FUSED_BAND_FLOATS];
    let (b0, b1) = part.range(HO.div_ceil(ROWS));
    for b in b0..b1 {
        let (r0, r1) = (b * ROWS, (b * ROWS + ROWS).min(HO));
        let rows = &mut band[..(r1 - r0) * WO * C];
        depthwise_rows::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
            input, dw_weights, dw_bias, rows, r0,
        );
        // SAFETY: output rows r0..r1 lie inside the output the caller vouches for, and are
        // this part's alone.
        let y =
            unsafe { core::slice::from_raw_parts_mut(out.add(r0 * WO * CO), (r1 - r0) * WO * CO) };
        match (r1 - r0 < ROWS, RES) {
            (true, false) => pointwise::<LAST_HW, C, CO, ACT2>(rows, pw_weights, pw_bias, y),
            (false, false) => pointwise::<BAND_HW, C, CO, ACT2>(rows, pw_weights, pw_bias, y),
            (true, true) => pointwise_add::<LAST_HW, C, CO, ACT2>(rows, pw_weights, pw_bias, y),
            (false, true) => pointwise_add::<BAND_HW, C, CO, ACT2>(rows, pw_weights, pw_bias, y),
        }
    }
}

/// Output rows `oy0..` of a depthwise convolution (as many as `out` holds).
#[allow(clippy::too_many_arguments)]
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
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
    oy0: usize,
) {
    const { assert!(SH > 0 && SW > 0, "depthwise: strides must be positive") };
    check_len("depthwise", "input", input.len(), H * W * C);
    check_len("depthwise", "weights", weights.len(), KH * KW * C);
    check_len("depthwise", "bias", bias.len(), C);
    if HO * WO * C == 0 {
        return;
    }

    for (oy, out_row) in (oy0..).zip(out.chunks_exact_mut(WO * C)) {
        let (ky_lo, ky_hi) = valid_taps(oy * SH, KH, PT, H);
        for (ox, acc) in out_row.chunks_exact_mut(C).enumerate() {
            let (kx_lo, kx_hi) = valid_taps(ox * SW, KW, PL, W);
            acc.copy_from_slice(bias);
            // Kernel rows inside the input; none if no column is.
            let rows = if kx_lo < kx_hi { ky_lo..ky_hi } else { 0..0 };
            for ky in rows {
                let iy = oy * SH + ky - PT;
                let ix = ox * SW + kx_lo - PL;
                let run = (kx_hi - kx_lo) * C;
                let in_start = (iy * W + ix) * C;
                let w_start = (ky * KW + kx_lo) * C;
                let in_run = &input[in_start..in_start + run];
                let w_run = &weights[w_start..w_start + run];
                for (px, w) in in_run.chunks_exact(C).zip(w_run.chunks_exact(C)) {
                    for ((o, &a), &w) in acc.iter_mut().zip(px).zip(w) {
                        *o += a * w;
                    }
                }
            }
            activate_all::<ACT>(acc);
        }
    }
}

/// Scalar [`kernels::pointwise`](super::pointwise).
pub fn pointwise<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("pointwise", "out", out.len(), HW * CO);
    pointwise_impl::<HW, CI, CO, ACT, false>("pointwise", input, weights, bias, out, 0)
}

/// Scalar [`kernels::pointwise`](super::pointwise), the pixels of one share.
///
/// # Safety
///
/// `out` is valid for writes of `HW * CO` values, and no other thread accesses the pixels of
/// `part` meanwhile (calls with distinct indices of one count share none).
pub unsafe fn pointwise_part<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    let (p0, p1) = part.range(HW);
    // SAFETY: pixels p0..p1 lie inside the output the caller vouches for, and are this part's.
    let px = unsafe { core::slice::from_raw_parts_mut(out.add(p0 * CO), (p1 - p0) * CO) };
    pointwise_impl::<HW, CI, CO, ACT, false>("pointwise", input, weights, bias, px, p0)
}

/// Scalar [`kernels::pointwise_add`](super::pointwise_add), the pixels of one share.
///
/// # Safety
///
/// As [`pointwise_part`] (`out` also read: it holds the residual).
pub unsafe fn pointwise_add_part<
    const HW: usize,
    const CI: usize,
    const CO: usize,
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    let (p0, p1) = part.range(HW);
    // SAFETY: pixels p0..p1 lie inside the output the caller vouches for, and are this part's.
    let px = unsafe { core::slice::from_raw_parts_mut(out.add(p0 * CO), (p1 - p0) * CO) };
    pointwise_impl::<HW, CI, CO, ACT, true>("pointwise_add", input, weights, bias, px, p0)
}

/// Scalar [`kernels::pointwise_add`](crate::kernels::pointwise_add): `out` holds the residual
/// on entry and receives `act(residual + bias + W x)`.
pub fn pointwise_add<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("pointwise_add", "out", out.len(), HW * CO);
    pointwise_impl::<HW, CI, CO, ACT, true>("pointwise_add", input, weights, bias, out, 0)
}

fn pointwise_impl<
    const HW: usize,
    const CI: usize,
    const CO: usize,
    const ACT: u8,
    const RES: bool,
>(
    kernel: &'static str,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
    p0: usize,
) {
    use crate::pack::PANEL;
    check_len(kernel, "input", input.len(), HW * CI);
    check_len(
        kernel,
        "weights",
        weights.len(),
        crate::pack::pointwise_len(CI, CO),
    );
    check_len(kernel, "bias", bias.len(), CO);
    if CO == 0 {
        return;
    }
    // Pixels p0.. (as many as `out` holds).
    let input = &input[(p0 * CI).min(input.len())..];
    let start = |acc: &mut [f32]| {
        if RES {
            for (a, &b) in acc.iter_mut().zip(bias) {
                *a += b;
            }
        } else {
            acc.copy_from_slice(bias);
        }
    };
    // Weights are panels of 16 output channels, [CO/16][CI][16]: one panel at a time.
    if CI == 0 {
        // `chunks_exact(0)` is not allowed: every pixel is the (residual plus) bias.
        for acc in out.chunks_exact_mut(CO) {
            start(acc);
            activate_all::<ACT>(acc);
        }
        return;
    }
    for (px, acc) in input.chunks_exact(CI).zip(out.chunks_exact_mut(CO)) {
        start(acc);
        for (p, panel) in weights.chunks_exact(CI * PANEL).enumerate() {
            let n = (CO - p * PANEL).min(PANEL);
            let acc = &mut acc[p * PANEL..p * PANEL + n];
            for (&a, w_row) in px.iter().zip(panel.chunks_exact(PANEL)) {
                axpy(acc, a, &w_row[..n]);
            }
        }
        activate_all::<ACT>(acc);
    }
}

/// `acc = act(bias + x * w)` for one input vector `x` of length `IN` and
/// input-major weights `w` (`[IN][n_out]`); `n_out > 0`.
#[inline(always)]
fn matvec<const ACT: u8>(x: &[f32], w: &[f32], bias: &[f32], acc: &mut [f32], n_out: usize) {
    acc.copy_from_slice(bias);
    for (&a, w_row) in x.iter().zip(w.chunks_exact(n_out)) {
        axpy(acc, a, w_row);
    }
    activate_all::<ACT>(acc);
}

/// Scalar [`kernels::avgpool`](super::avgpool).
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
    input: &[f32],
    out: &mut [f32],
) {
    const {
        assert!(SH > 0 && SW > 0, "avgpool: strides must be positive");
        assert!(KH > 0 && KW > 0, "avgpool: the window must not be empty");
        assert!(
            HO == 0 || (HO - 1) * SH + KH <= H,
            "avgpool: the last window row leaves the input (no padding allowed)"
        );
        assert!(
            WO == 0 || (WO - 1) * SW + KW <= W,
            "avgpool: the last window column leaves the input (no padding allowed)"
        );
    };
    check_len("avgpool", "input", input.len(), H * W * C);
    check_len("avgpool", "out", out.len(), HO * WO * C);
    if HO * WO * C == 0 {
        return;
    }
    let count = (KH * KW) as f32;
    for (oy, out_row) in out.chunks_exact_mut(WO * C).enumerate() {
        for (ox, acc) in out_row.chunks_exact_mut(C).enumerate() {
            acc.fill(0.0);
            for ky in 0..KH {
                let start = ((oy * SH + ky) * W + ox * SW) * C;
                for px in input[start..start + KW * C].chunks_exact(C) {
                    for (o, &v) in acc.iter_mut().zip(px) {
                        *o += v;
                    }
                }
            }
            for o in acc.iter_mut() {
                *o /= count;
            }
        }
    }
}

/// Scalar [`kernels::add`](super::add).
pub fn add<const N: usize, const ACT: u8>(a: &[f32], b: &[f32], out: &mut [f32]) {
    check_len("add", "a", a.len(), N);
    check_len("add", "b", b.len(), N);
    check_len("add", "out", out.len(), N);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = activate::<ACT>(x + y);
    }
}

/// Scalar [`kernels::global_avgpool`](super::global_avgpool).
pub fn global_avgpool<const HW: usize, const C: usize>(input: &[f32], out: &mut [f32]) {
    const {
        assert!(
            HW > 0,
            "global_avgpool: the input must have at least one pixel"
        )
    };
    check_len("global_avgpool", "input", input.len(), HW * C);
    check_len("global_avgpool", "out", out.len(), C);
    if C == 0 {
        return;
    }
    out.fill(0.0);
    for px in input.chunks_exact(C) {
        for (o, &v) in out.iter_mut().zip(px) {
            *o += v;
        }
    }
    let count = HW as f32;
    for o in out.iter_mut() {
        *o /= count;
    }
}

/// Scalar [`kernels::fully_connected`](super::fully_connected).
pub fn fully_connected<const IN: usize, const OUT: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("fully_connected", "input", input.len(), IN);
    check_len("fully_connected", "weights", weights.len(), IN * OUT);
    check_len("fully_connected", "bias", bias.len(), OUT);
    check_len("fully_connected", "out", out.len(), OUT);
    if OUT == 0 {
        return;
    }
    matvec::<ACT>(input, weights, bias, out, OUT);
}

/// Scalar [`kernels::fully_connected`](super::fully_connected) for one share of the outputs
/// (columns [`fc_columns`](super::fc_columns)), each computed as by the whole call.
///
/// # Safety
///
/// `out` is valid for writes of `OUT` values, and no other thread accesses the columns of
/// `part` meanwhile (calls with distinct indices of one count share none).
pub unsafe fn fully_connected_part<const IN: usize, const OUT: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    check_len("fully_connected", "input", input.len(), IN);
    check_len("fully_connected", "weights", weights.len(), IN * OUT);
    check_len("fully_connected", "bias", bias.len(), OUT);
    let (o0, o1) = super::fc_columns(OUT, part);
    // SAFETY: columns o0..o1 <= OUT lie inside the output the caller vouches for, and are this
    // part's alone.
    let acc = unsafe { core::slice::from_raw_parts_mut(out.add(o0), o1 - o0) };
    acc.copy_from_slice(&bias[o0..o1]);
    for (i, &a) in input.iter().enumerate() {
        axpy(acc, a, &weights[i * OUT + o0..i * OUT + o1]);
    }
    activate_all::<ACT>(acc);
}

/// Scalar [`kernels::softmax`](super::softmax).
pub fn softmax<const N: usize>(x: &mut [f32]) {
    check_len("softmax", "x", x.len(), N);
    if N == 0 {
        return;
    }
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = crate::math::exp_f32(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}
