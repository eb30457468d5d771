//! AVX2 + FMA kernels (x86-64), the twins of [`scalar`](super::scalar) with identical
//! signatures and semantics.
//!
//! Every public function here is `unsafe` only because it requires the CPU to support AVX2 and
//! FMA; [`super`] calls them after checking that (at compile time or by run-time detection).
//! Slice lengths are asserted on entry exactly like the scalar twins, so all pointer arithmetic
//! below stays inside the checked slices.
//!
//! Design:
//! - pointwise (1x1) convolution is a register-blocked GEMM: a micro-kernel computes a tile of
//!   `MR` pixels x 16 output channels (12 accumulators, two weight vectors, one broadcast), with
//!   bias in the accumulators' initial value and the activation applied before the store. The
//!   loop order is chosen per layer from its constant shape: with small weights (early layers)
//!   pixel blocks are the outer loop so the whole weight matrix stays in L1/L2; with large
//!   weights (late layers) 16-channel weight panels are the outer loop so each panel is loaded
//!   once and reused by every pixel block. Tails (pixels not a multiple of MR, channels not a
//!   multiple of 16) are separate monomorphized calls, not branches in the inner loop.
//! - depthwise convolution is vectorized over 8 channels; for each channel block the KHxKW
//!   filter taps stay in registers while the output row is swept.
//! - full convolution (the first layer) and fully connected layers are vectorized over output
//!   channels.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::check_len;
use crate::{ACT_NONE, ACT_RELU, ACT_RELU6};

/// Eight zeros: the input of taps that fall outside the image.
static ZEROS: [f32; 8] = [0.0; 8];

/// Pixels per pointwise micro-kernel tile.
const MR: usize = 6;
/// Input channels per pass of the pointwise kernel (bounds the packed pixel block and the
/// weight sub-panel that stay in L1).
const KC: usize = 512;
/// Input channels up to which the pointwise kernel reads pixel rows in place instead of packing
/// them (measured: packing only cost time up to 1024 channels, the widest MobileNet layer).
const DIRECT_CI: usize = 1024;
/// Bytes of weight panels kept hot in L2 while all pixel blocks sweep them.
const L2_PANELS_BYTES: usize = 256 * 1024;

/// Activation on a vector.
#[inline(always)]
unsafe fn act<const ACT: u8>(x: __m256) -> __m256 {
    // SAFETY (whole fn): register-only AVX intrinsics; callers run with AVX2 enabled.
    match ACT {
        ACT_RELU => _mm256_max_ps(x, _mm256_setzero_ps()),
        ACT_RELU6 => _mm256_min_ps(_mm256_max_ps(x, _mm256_setzero_ps()), _mm256_set1_ps(6.0)),
        _ => {
            debug_assert_eq!(ACT, ACT_NONE);
            x
        }
    }
}

/// Lane mask selecting the first `n` (0..=8) lanes.
#[inline(always)]
unsafe fn tail_mask(n: usize) -> __m256i {
    const IDX: [i32; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
    // SAFETY: IDX is 8 valid i32 values; unaligned load is allowed.
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_loadu_si256(IDX.as_ptr() as *const __m256i),
        )
    }
}

/// Loads the first `n` lanes from `p` (the rest are zero).
#[inline(always)]
unsafe fn load_n(p: *const f32, n: usize) -> __m256 {
    // SAFETY: the caller guarantees `p..p+n` is readable; masked-off lanes are not accessed.
    unsafe {
        if n == 8 {
            _mm256_loadu_ps(p)
        } else {
            _mm256_maskload_ps(p, tail_mask(n))
        }
    }
}

/// Stores the first `n` lanes of `v` to `p`.
#[inline(always)]
unsafe fn store_n(p: *mut f32, v: __m256, n: usize) {
    // SAFETY: the caller guarantees `p..p+n` is writable; masked-off lanes are not accessed.
    unsafe {
        if n == 8 {
            _mm256_storeu_ps(p, v)
        } else {
            _mm256_maskstore_ps(p, tail_mask(n), v)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pointwise (1x1) convolution: C[HW][CO] = act(A[HW][CI] * B[CI][CO] + bias)
// ---------------------------------------------------------------------------------------------

/// One `R` (1..=MR) pixels x 16 output channels tile over `kc` input channels.
///
/// `a` is the packed pixel block, `[kc][R]` (k-major, so the R broadcasts of one step are
/// adjacent); `b` the weight panel rows for these input channels, `[kc][16]`, contiguous; `c`
/// the output tile (row stride `CO`), of which the first `n` (1..=16) columns are stored.
/// The first pass (`first`) starts from the bias, later passes from the partial sums in `c`;
/// the activation is applied on the last pass only.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const KS: usize, const RS: usize, const CO: usize, const ACT: u8>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    c: *mut f32,
    n: usize,
    first: bool,
    last: bool,
) {
    // SAFETY: the caller guarantees the R x kc pixel values at `a` (element (r, k) at
    // k*KS + r*RS: packed k-major, or the input rows themselves), kc*16 weights at `b`, n bias
    // values and R rows of n outputs at `c` (row stride CO).
    unsafe {
        let (n0, n1) = (n.min(8), n.saturating_sub(8));
        let mut acc0 = [_mm256_setzero_ps(); R];
        let mut acc1 = [_mm256_setzero_ps(); R];
        if first {
            let b0 = load_n(bias, n0);
            let b1 = if n1 > 0 {
                load_n(bias.add(8), n1)
            } else {
                _mm256_setzero_ps()
            };
            acc0 = [b0; R];
            acc1 = [b1; R];
        } else {
            for r in 0..R {
                acc0[r] = load_n(c.add(r * CO), n0);
                if n1 > 0 {
                    acc1[r] = load_n(c.add(r * CO + 8), n1);
                }
            }
        }
        for k in 0..kc {
            let w0 = _mm256_loadu_ps(b.add(k * 16));
            let w1 = _mm256_loadu_ps(b.add(k * 16 + 8));
            for r in 0..R {
                let x = _mm256_broadcast_ss(&*a.add(k * KS + r * RS));
                acc0[r] = _mm256_fmadd_ps(x, w0, acc0[r]);
                acc1[r] = _mm256_fmadd_ps(x, w1, acc1[r]);
            }
        }
        for r in 0..R {
            let (v0, v1) = if last {
                (act::<ACT>(acc0[r]), act::<ACT>(acc1[r]))
            } else {
                (acc0[r], acc1[r])
            };
            if n == 16 {
                _mm256_storeu_ps(c.add(r * CO), v0);
                _mm256_storeu_ps(c.add(r * CO + 8), v1);
            } else {
                store_n(c.add(r * CO), v0, n0);
                if n1 > 0 {
                    store_n(c.add(r * CO + 8), v1, n1);
                }
            }
        }
    }
}

/// Packs `R` pixels x `kc` input channels (starting at pixel row `a`, channel offset already
/// applied; row stride `CI`) k-major into `buf`.
#[inline(always)]
unsafe fn pack_rows<const R: usize, const CI: usize>(
    kc: usize,
    a: *const f32,
    buf: &mut [f32; MR * KC],
) {
    // SAFETY: the caller guarantees R rows of kc values at `a` (row stride CI); buf holds
    // MR*KC >= R*kc values.
    unsafe {
        for k in 0..kc {
            for r in 0..R {
                *buf.get_unchecked_mut(k * R + r) = *a.add(r * CI + k);
            }
        }
    }
}

/// All panels `p0..p1` for `R` pixel rows starting at `m`, over every input-channel pass.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows<const R: usize, const CI: usize, const CO: usize, const ACT: u8>(
    m: usize,
    p0: usize,
    p1: usize,
    a: *const f32,
    w: *const f32,
    bias: *const f32,
    c: *mut f32,
    buf: &mut [f32; MR * KC],
) {
    // SAFETY: rows m..m+R < HW, panels < CO/16 rounded up, channel passes < CI: in bounds of
    // the checked slices (see `pointwise`).
    unsafe {
        let mut k0 = 0;
        while k0 < CI {
            let kc = (CI - k0).min(KC);
            // Rows of few input channels are close together (no L1 aliasing): read them in
            // place. Wider rows are packed k-major first.
            let direct = CI <= DIRECT_CI;
            if !direct {
                pack_rows::<R, CI>(kc, a.add(m * CI + k0), buf);
            }
            for p in p0..p1 {
                let n = (CO - p * 16).min(16);
                if direct {
                    tile::<R, 1, CI, CO, ACT>(
                        kc,
                        a.add(m * CI + k0),
                        w.add((p * CI + k0) * 16),
                        bias.add(p * 16),
                        c.add(m * CO + p * 16),
                        n,
                        k0 == 0,
                        k0 + kc == CI,
                    );
                } else {
                    tile::<R, R, 1, CO, ACT>(
                        kc,
                        buf.as_ptr(),
                        w.add((p * CI + k0) * 16),
                        bias.add(p * 16),
                        c.add(m * CO + p * 16),
                        n,
                        k0 == 0,
                        k0 + kc == CI,
                    );
                }
            }
            k0 += kc;
        }
    }
}

/// AVX2 [`kernels::pointwise`](super::pointwise): a GEMM over weights packed in panels.
///
/// Weight panels are processed in groups that fit L2; for each group, every block of MR
/// pixels is multiplied with each panel of the group, one input-channel pass (KC) at a time.
/// Pixel rows are read in place up to DIRECT_CI input channels; wider rows are first packed
/// k-major (contiguous broadcasts, no L1 aliasing of rows 2^n bytes apart).
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn pointwise<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("pointwise", "input", input.len(), HW * CI);
    check_len(
        "pointwise",
        "weights",
        weights.len(),
        crate::pack::pointwise_len(CI, CO),
    );
    check_len("pointwise", "bias", bias.len(), CO);
    check_len("pointwise", "out", out.len(), HW * CO);
    if CO == 0 || HW == 0 {
        return;
    }
    if CI == 0 {
        // Degenerate: the output is the activated bias.
        return super::scalar::pointwise::<HW, CI, CO, ACT>(input, weights, bias, out);
    }
    let (a, w, b, c) = (
        input.as_ptr(),
        weights.as_ptr(),
        bias.as_ptr(),
        out.as_mut_ptr(),
    );
    let panels = CO.div_ceil(16);
    let group = (L2_PANELS_BYTES / (CI * 16 * 4)).clamp(1, panels);
    let full = HW / MR;
    let mut buf = [0.0f32; MR * KC];
    // SAFETY: `rows` only touches pixel rows < HW, panels < `panels`, channels < CI, which the
    // length checks above put inside the slices.
    unsafe {
        let mut p0 = 0;
        while p0 < panels {
            let p1 = (p0 + group).min(panels);
            for blk in 0..full {
                rows::<MR, CI, CO, ACT>(blk * MR, p0, p1, a, w, b, c, &mut buf);
            }
            let m = full * MR;
            match HW % MR {
                0 => {}
                1 => rows::<1, CI, CO, ACT>(m, p0, p1, a, w, b, c, &mut buf),
                2 => rows::<2, CI, CO, ACT>(m, p0, p1, a, w, b, c, &mut buf),
                3 => rows::<3, CI, CO, ACT>(m, p0, p1, a, w, b, c, &mut buf),
                4 => rows::<4, CI, CO, ACT>(m, p0, p1, a, w, b, c, &mut buf),
                _ => rows::<5, CI, CO, ACT>(m, p0, p1, a, w, b, c, &mut buf),
            }
            p0 = p1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution
// ---------------------------------------------------------------------------------------------

/// AVX2 [`kernels::depthwise`](super::depthwise).
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn depthwise<
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
    const { assert!(SH > 0 && SW > 0, "depthwise: strides must be positive") };
    check_len("depthwise", "input", input.len(), H * W * C);
    check_len("depthwise", "weights", weights.len(), KH * KW * C);
    check_len("depthwise", "bias", bias.len(), C);
    check_len("depthwise", "out", out.len(), HO * WO * C);
    let (x, wt, bs, y) = (
        input.as_ptr(),
        weights.as_ptr(),
        bias.as_ptr(),
        out.as_mut_ptr(),
    );
    if HO * WO == 0 || C == 0 {
        return;
    }
    // Small feature maps (typically with many channels, whose pixels are 2^n bytes apart and
    // alias in L1): copy each 8-channel slice into a dense, zero-padded buffer first.
    if dense_rows::<HO, KH, SH>() * dense_width::<WO, KW, SW>() <= DENSE_PIXELS {
        // SAFETY: same contract as this function; lengths were checked above.
        return unsafe {
            depthwise_dense::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(x, wt, bs, y)
        };
    }
    // Output columns ox_lo..ox_hi (and rows oy_lo..oy_hi) have all their taps inside the input.
    let ox_lo = PL.div_ceil(SW).min(WO);
    let ox_hi = if W + PL >= KW {
        ((W + PL - KW) / SW + 1).min(WO)
    } else {
        0
    }
    .max(ox_lo);
    let oy_lo = PT.div_ceil(SH).min(HO);
    let oy_hi = if H + PT >= KH {
        ((H + PT - KH) / SH + 1).min(HO)
    } else {
        0
    }
    .max(oy_lo);
    const PX: usize = DW_PX;
    // Loop order: output row, then a run of PX output pixels, then 8-channel blocks. The input
    // the run needs (KH rows x a few pixels x all channels) stays in L1 across the channel
    // blocks, and each block's KH x KW taps are loaded once into registers for the run.
    // SAFETY: input pixel (iy, ix) is only read for 0 <= iy < H, 0 <= ix < W (each tap is
    // checked on border pixels; the interior ranges above guarantee it elsewhere), channels
    // c..c+n <= C; every output written is (oy < HO, ox < WO, channels < C).
    unsafe {
        for oy in 0..HO {
            let interior_row = oy >= oy_lo && oy < oy_hi;
            let mut ox0 = 0;
            while ox0 < WO {
                // Left border pixels form their own run, so interior runs start at ox_lo.
                let px = if ox0 < ox_lo { ox_lo - ox0 } else { WO - ox0 }.min(PX);
                let fast = interior_row && px == PX && ox0 >= ox_lo && ox0 + PX <= ox_hi;
                let mut c = 0;
                while c < C {
                    let n = (C - c).min(8);
                    let mut taps = [[_mm256_setzero_ps(); KW]; KH];
                    for (ky, row) in taps.iter_mut().enumerate() {
                        for (kx, t) in row.iter_mut().enumerate() {
                            *t = load_n(wt.add((ky * KW + kx) * C + c), n);
                        }
                    }
                    let b = load_n(bs.add(c), n);
                    if fast {
                        // Each input column of the run is loaded once per filter row.
                        let iy0 = oy * SH - PT;
                        let acc = dw_run::<KH, KW, SW>(&taps, b, n, |ky, j| {
                            x.add(((iy0 + ky) * W + ox0 * SW - PL + j) * C + c)
                        });
                        dw_store::<C, ACT>(&acc, PX, y.add((oy * WO + ox0) * C + c), n);
                    } else {
                        // Border (or short) run: input columns outside the image read a zero
                        // vector (a branch-free pointer select); only `px` outputs are stored.
                        let acc = dw_run::<KH, KW, SW>(&taps, b, n, |ky, j| {
                            let iy = (oy * SH + ky).wrapping_sub(PT);
                            let ix = (ox0 * SW + j).wrapping_sub(PL);
                            if iy < H && ix < W {
                                x.add((iy * W + ix) * C + c)
                            } else {
                                ZEROS.as_ptr()
                            }
                        });
                        dw_store::<C, ACT>(&acc, px, y.add((oy * WO + ox0) * C + c), n);
                    }
                    c += n;
                }
                ox0 += px;
            }
        }
    }
}

/// Output pixels per depthwise step.
const DW_PX: usize = 6;
/// Pixels of the dense depthwise buffer (8 channels each: 32 KiB on the stack).
const DENSE_PIXELS: usize = 1024;

/// `DW_PX` output pixels of one 8-channel slice (`n` lanes) of a depthwise convolution: input
/// column `j` of filter row `ky` is read from `src(ky, j)`, once, and feeds every output pixel
/// whose window covers it; `DW_PX` accumulators give independent FMA chains.
#[inline(always)]
unsafe fn dw_run<const KH: usize, const KW: usize, const SW: usize>(
    taps: &[[__m256; KW]; KH],
    bias: __m256,
    n: usize,
    src: impl Fn(usize, usize) -> *const f32,
) -> [__m256; DW_PX] {
    // SAFETY: the caller guarantees every pointer `src` returns is readable for `n` values.
    unsafe {
        let mut acc = [bias; DW_PX];
        for (ky, row) in taps.iter().enumerate() {
            if SW == 1 {
                // Stride 1: column j feeds outputs j-KW+1..=j; load it once.
                for j in 0..DW_PX - 1 + KW {
                    let v = load_n(src(ky, j), n);
                    for (kx, t) in row.iter().enumerate() {
                        if j >= kx && j - kx < DW_PX {
                            acc[j - kx] = _mm256_fmadd_ps(v, *t, acc[j - kx]);
                        }
                    }
                }
            } else {
                // Larger strides share few columns between outputs: one load per tap.
                for (kx, t) in row.iter().enumerate() {
                    for (p, a) in acc.iter_mut().enumerate() {
                        *a = _mm256_fmadd_ps(load_n(src(ky, p * SW + kx), n), *t, *a);
                    }
                }
            }
        }
        acc
    }
}

/// Stores the first `px` outputs of a run (activation applied) at `dst`, pixel stride `C`.
#[inline(always)]
unsafe fn dw_store<const C: usize, const ACT: u8>(
    acc: &[__m256; DW_PX],
    px: usize,
    dst: *mut f32,
    n: usize,
) {
    // SAFETY: the caller guarantees `px` pixels of `n` values at `dst` (stride C) are writable.
    unsafe {
        for (p, a) in acc.iter().enumerate().take(px) {
            store_n(dst.add(p * C), act::<ACT>(*a), n);
        }
    }
}

/// Rows of the padded input a depthwise layer reads.
const fn dense_rows<const HO: usize, const KH: usize, const SH: usize>() -> usize {
    (HO - 1) * SH + KH
}

/// Columns of the dense buffer: the padded input width, plus slack so the last (partial) run
/// of DW_PX outputs can read a whole run's columns.
const fn dense_width<const WO: usize, const KW: usize, const SW: usize>() -> usize {
    (WO.div_ceil(DW_PX) * DW_PX - 1) * SW + KW
}

/// Depthwise convolution through a dense, zero-padded copy of each 8-channel slice: no borders,
/// no branches, the slice's taps in registers for the whole feature map.
///
/// # Safety
///
/// AVX2 and FMA; `x`, `wt`, `bs`, `y` point at the checked slices of [`depthwise`], and
/// `dense_rows * dense_width <= DENSE_PIXELS`.
#[target_feature(enable = "avx2,fma")]
unsafe fn depthwise_dense<
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
    x: *const f32,
    wt: *const f32,
    bs: *const f32,
    y: *mut f32,
) {
    let rows = dense_rows::<HO, KH, SH>();
    let bw = dense_width::<WO, KW, SW>();
    let mut buf = [0.0f32; 8 * DENSE_PIXELS];
    // SAFETY: buffer indices are < rows * bw * 8 <= 8 * DENSE_PIXELS; input pixels read are
    // (iy < H, ix < W), channels c..c+n <= C; outputs written are (oy < HO, ox < WO, < C).
    unsafe {
        let b = buf.as_mut_ptr();
        let mut c = 0;
        while c < C {
            let n = (C - c).min(8);
            // Padding stays zero: only the image part is overwritten for each slice.
            for iy in 0..H.min(rows.saturating_sub(PT)) {
                let by = iy + PT;
                for ix in 0..W.min(bw.saturating_sub(PL)) {
                    let bx = ix + PL;
                    _mm256_storeu_ps(
                        b.add((by * bw + bx) * 8),
                        load_n(x.add((iy * W + ix) * C + c), n),
                    );
                }
            }
            let mut taps = [[_mm256_setzero_ps(); KW]; KH];
            for (ky, row) in taps.iter_mut().enumerate() {
                for (kx, t) in row.iter_mut().enumerate() {
                    *t = load_n(wt.add((ky * KW + kx) * C + c), n);
                }
            }
            let bias = load_n(bs.add(c), n);
            for oy in 0..HO {
                let mut ox0 = 0;
                while ox0 < WO {
                    let px = (WO - ox0).min(DW_PX);
                    let acc = dw_run::<KH, KW, SW>(&taps, bias, 8, |ky, j| {
                        b.add(((oy * SH + ky) * bw + ox0 * SW + j) * 8)
                    });
                    dw_store::<C, ACT>(&acc, px, y.add((oy * WO + ox0) * C + c), n);
                    ox0 += px;
                }
            }
            c += n;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Full convolution (the first layer), vectorized over output channels
// ---------------------------------------------------------------------------------------------

/// Input channels up to which [`conv2d`] uses the multi-pixel path (its zero source must
/// cover a whole pixel).
const CONV_FAST_CI: usize = 64;
/// Zeros for the input taps of [`conv2d`] that fall outside the image.
static ZERO_PIXEL: [f32; CONV_FAST_CI] = [0.0; CONV_FAST_CI];

/// One block of `NV` 8-channel output vectors (`width` channels from `c0`) of a full
/// convolution, `P` output pixels at a time so that `P * NV` independent accumulators hide the
/// FMA latency. Taps outside the image read [`ZERO_PIXEL`] (a branch-free pointer select).
///
/// # Safety
///
/// AVX2 and FMA; the pointers are the checked slices of [`conv2d`]; `CI <= CONV_FAST_CI`;
/// `c0 + width <= CO`, `width <= 8 * NV`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn conv_block<
    const NV: usize,
    const P: usize,
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
    x: *const f32,
    wt: *const f32,
    bs: *const f32,
    y: *mut f32,
    c0: usize,
    width: usize,
) {
    // SAFETY: see the function's contract; every pointer offset below is within it.
    unsafe {
        let lanes = |v: usize| width.saturating_sub(8 * v).min(8);
        let mut bias = [_mm256_setzero_ps(); NV];
        for (v, b) in bias.iter_mut().enumerate() {
            *b = load_n(bs.add(c0 + 8 * v), lanes(v));
        }
        for oy in 0..HO {
            let mut ox0 = 0;
            while ox0 < WO {
                let px = (WO - ox0).min(P);
                let mut acc = [bias; P];
                for ky in 0..KH {
                    let iy = (oy * SH + ky).wrapping_sub(PT);
                    let row_ok = iy < H;
                    for kx in 0..KW {
                        let mut src = [ZERO_PIXEL.as_ptr(); P];
                        for (p, s) in src.iter_mut().enumerate() {
                            let ix = ((ox0 + p) * SW + kx).wrapping_sub(PL);
                            if row_ok && ix < W && p < px {
                                *s = x.add((iy * W + ix) * CI);
                            }
                        }
                        let wrow = wt.add((ky * KW + kx) * CI * CO + c0);
                        for ci in 0..CI {
                            let mut w = [_mm256_setzero_ps(); NV];
                            for (v, wv) in w.iter_mut().enumerate() {
                                *wv = load_n(wrow.add(ci * CO + 8 * v), lanes(v));
                            }
                            for (p, a) in acc.iter_mut().enumerate() {
                                let xv = _mm256_broadcast_ss(&*src[p].add(ci));
                                for (v, av) in a.iter_mut().enumerate() {
                                    *av = _mm256_fmadd_ps(xv, w[v], *av);
                                }
                            }
                        }
                    }
                }
                for (p, a) in acc.iter().enumerate().take(px) {
                    let dst = y.add((oy * WO + ox0 + p) * CO + c0);
                    for (v, av) in a.iter().enumerate() {
                        if lanes(v) > 0 {
                            store_n(dst.add(8 * v), act::<ACT>(*av), lanes(v));
                        }
                    }
                }
                ox0 += px;
            }
        }
    }
}

/// AVX2 [`kernels::conv2d`](super::conv2d).
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn conv2d<
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
    const { assert!(SH > 0 && SW > 0, "conv2d: strides must be positive") };
    check_len("conv2d", "input", input.len(), H * W * CI);
    check_len("conv2d", "weights", weights.len(), KH * KW * CI * CO);
    check_len("conv2d", "bias", bias.len(), CO);
    check_len("conv2d", "out", out.len(), HO * WO * CO);
    let (x, wt, bs, y) = (
        input.as_ptr(),
        weights.as_ptr(),
        bias.as_ptr(),
        out.as_mut_ptr(),
    );
    if CI <= CONV_FAST_CI {
        // SAFETY: the slices were checked above; CI <= CONV_FAST_CI.
        unsafe {
            let mut c0 = 0;
            while c0 + 32 <= CO {
                conv_block::<4, 2, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x, wt, bs, y, c0, 32,
                );
                c0 += 32;
            }
            match (CO - c0).div_ceil(8) {
                0 => {}
                1 => conv_block::<1, 8, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x,
                    wt,
                    bs,
                    y,
                    c0,
                    CO - c0,
                ),
                2 => conv_block::<2, 4, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x,
                    wt,
                    bs,
                    y,
                    c0,
                    CO - c0,
                ),
                _ => conv_block::<3, 2, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x,
                    wt,
                    bs,
                    y,
                    c0,
                    CO - c0,
                ),
            }
        }
        return;
    }
    // Output channels in blocks of 32 (four accumulators); the last block may be narrower.
    // SAFETY: taps are clipped to the input; channel offsets stay below CI / CO; outputs are
    // (oy < HO, ox < WO, channels < CO).
    unsafe {
        let mut c0 = 0;
        while c0 < CO {
            let width = (CO - c0).min(32);
            let nv = width.div_ceil(8);
            for oy in 0..HO {
                let ky_lo = PT.saturating_sub(oy * SH);
                let ky_hi = KH.min((H + PT).saturating_sub(oy * SH));
                for ox in 0..WO {
                    let kx_lo = PL.saturating_sub(ox * SW);
                    let kx_hi = KW.min((W + PL).saturating_sub(ox * SW));
                    let mut acc = [_mm256_setzero_ps(); 4];
                    for (v, a) in acc.iter_mut().enumerate().take(nv) {
                        *a = load_n(bs.add(c0 + 8 * v), (width - 8 * v).min(8));
                    }
                    for ky in ky_lo..ky_hi {
                        let iy = oy * SH + ky - PT;
                        for kx in kx_lo..kx_hi {
                            let ix = ox * SW + kx - PL;
                            let px = x.add((iy * W + ix) * CI);
                            let wrow = wt.add((ky * KW + kx) * CI * CO + c0);
                            for ci in 0..CI {
                                let xv = _mm256_broadcast_ss(&*px.add(ci));
                                for (v, a) in acc.iter_mut().enumerate().take(nv) {
                                    let w =
                                        load_n(wrow.add(ci * CO + 8 * v), (width - 8 * v).min(8));
                                    *a = _mm256_fmadd_ps(xv, w, *a);
                                }
                            }
                        }
                    }
                    let dst = y.add((oy * WO + ox) * CO + c0);
                    for (v, a) in acc.iter().enumerate().take(nv) {
                        store_n(dst.add(8 * v), act::<ACT>(*a), (width - 8 * v).min(8));
                    }
                }
            }
            c0 += width;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fully connected, global average pool
// ---------------------------------------------------------------------------------------------

/// AVX2 [`kernels::fully_connected`](super::fully_connected).
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn fully_connected<const IN: usize, const OUT: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("fully_connected", "input", input.len(), IN);
    check_len("fully_connected", "weights", weights.len(), IN * OUT);
    check_len("fully_connected", "bias", bias.len(), OUT);
    check_len("fully_connected", "out", out.len(), OUT);
    let (x, w, b, y) = (
        input.as_ptr(),
        weights.as_ptr(),
        bias.as_ptr(),
        out.as_mut_ptr(),
    );
    // SAFETY: columns o..o+width <= OUT of every weight row i < IN, and of bias/out.
    unsafe {
        let mut o = 0;
        while o < OUT {
            let width = (OUT - o).min(64);
            let nv = width.div_ceil(8);
            let mut acc = [_mm256_setzero_ps(); 8];
            for (v, a) in acc.iter_mut().enumerate().take(nv) {
                *a = load_n(b.add(o + 8 * v), (width - 8 * v).min(8));
            }
            for i in 0..IN {
                let xv = _mm256_broadcast_ss(&*x.add(i));
                let row = w.add(i * OUT + o);
                for (v, a) in acc.iter_mut().enumerate().take(nv) {
                    *a = _mm256_fmadd_ps(xv, load_n(row.add(8 * v), (width - 8 * v).min(8)), *a);
                }
            }
            for (v, a) in acc.iter().enumerate().take(nv) {
                store_n(y.add(o + 8 * v), act::<ACT>(*a), (width - 8 * v).min(8));
            }
            o += width;
        }
    }
}

/// AVX2 [`kernels::global_avgpool`](super::global_avgpool).
///
/// # Safety
///
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn global_avgpool<const HW: usize, const C: usize>(input: &[f32], out: &mut [f32]) {
    const { assert!(HW > 0, "global_avgpool: HW must be positive") };
    check_len("global_avgpool", "input", input.len(), HW * C);
    check_len("global_avgpool", "out", out.len(), C);
    let (x, y) = (input.as_ptr(), out.as_mut_ptr());
    // SAFETY: channels c..c+n <= C of pixels < HW; outputs c..c+n <= C.
    unsafe {
        let inv = _mm256_set1_ps(HW as f32);
        let mut c = 0;
        while c < C {
            let n = (C - c).min(8);
            let mut acc = _mm256_setzero_ps();
            for p in 0..HW {
                acc = _mm256_add_ps(acc, load_n(x.add(p * C + c), n));
            }
            store_n(y.add(c), _mm256_div_ps(acc, inv), n);
            c += n;
        }
    }
}
