//! AVX2 variants of the quantized kernels (the scalar ones in [`super::kernels`] are their
//! twins, bit for bit: integer arithmetic only).
//!
//! Pointwise: a tile of up to 4 pixels x 2 panels (16 output channels), 8 accumulators of 8
//! `i32`. The tile's inputs, zero point subtracted, are first gathered as `i16` pairs (one `i32`
//! word per pair of input channels); each pair is broadcast and `vpmaddwd` multiplies it with
//! a panel's 8 weight pairs, adding both products into 8 `i32` sums. Operands are at most 255 in
//! magnitude, so no product or pair sum saturates.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::{co8, ConvHeader};

/// The per-channel requantization of 8 sums (channels `o0..o0 + 8` of a packed parameter
/// region): `clamp(zp + MBQM(acc + bias, multiplier, shift))`, TFLite's double rounding, in
/// `i32` lanes. `SRDHM(x, m) = floor((x * m + 2^30) / 2^31)` for every `x` when `m >= 0` (the
/// nudge and the truncation toward zero combine), which the 64-bit products compute exactly.
#[derive(Clone, Copy)]
struct Requant {
    zp: __m256i,
    lo: __m256i,
    hi: __m256i,
}

impl Requant {
    #[target_feature(enable = "avx2")]
    #[inline]
    fn new(h: &ConvHeader) -> Self {
        Requant {
            zp: _mm256_set1_epi32(h.output_zero_point),
            lo: _mm256_set1_epi32(h.act_min),
            hi: _mm256_set1_epi32(h.act_max),
        }
    }

    /// # Safety
    ///
    /// AVX2; `params` holds the parameter region of a layer with `c8` padded channels and
    /// `o0 + 8 <= c8`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn apply(&self, acc: __m256i, params: &[f32], c8: usize, o0: usize) -> __m256i {
        debug_assert!(o0 + 8 <= c8 && params.len() >= super::CONV_HEADER + 3 * c8);
        let base = params.as_ptr().cast::<i32>();
        // SAFETY: bias, multiplier and shift arrays each hold `c8` words after the header
        // (the caller's guarantee), and `o0 + 8 <= c8`; unaligned loads.
        let (bias, mult, shift) = unsafe {
            (
                _mm256_loadu_si256(base.add(super::CONV_HEADER + o0).cast()),
                _mm256_loadu_si256(base.add(super::CONV_HEADER + c8 + o0).cast()),
                _mm256_loadu_si256(base.add(super::CONV_HEADER + 2 * c8 + o0).cast()),
            )
        };
        let zero = _mm256_setzero_si256();
        let one = _mm256_set1_epi32(1);
        let x = _mm256_add_epi32(acc, bias);
        let left = _mm256_max_epi32(shift, zero);
        let right = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
        let x = _mm256_sllv_epi32(x, left);
        // Rounding doubling high multiply, even and odd lanes as 64-bit products.
        let nudge = _mm256_set1_epi64x(1 << 30);
        let even = _mm256_add_epi64(_mm256_mul_epi32(x, mult), nudge);
        let odd = _mm256_add_epi64(
            _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(mult, 32)),
            nudge,
        );
        let even = _mm256_srli_epi64(even, 31);
        let odd = _mm256_slli_epi64(_mm256_srli_epi64(odd, 31), 32);
        let h = _mm256_blend_epi32(even, odd, 0b1010_1010);
        // Rounding divide by 2^right, ties away from zero.
        let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
        let remainder = _mm256_and_si256(h, mask);
        let negative = _mm256_cmpgt_epi32(zero, h);
        let threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), negative);
        let up = _mm256_cmpgt_epi32(remainder, threshold);
        let v = _mm256_sub_epi32(_mm256_srav_epi32(h, right), up);
        let v = _mm256_add_epi32(v, self.zp);
        _mm256_min_epi32(_mm256_max_epi32(v, self.lo), self.hi)
    }
}

/// Stores the low byte of each of the 8 lanes (values already in `i8` range) at `out[..n]`.
#[target_feature(enable = "avx2")]
#[inline]
fn store8(v: __m256i, out: &mut [i8], n: usize) {
    let bytes = _mm256_shuffle_epi8(
        v,
        _mm256_setr_epi8(
            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1,
        ),
    );
    let packed = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    let low = _mm256_castsi256_si128(packed);
    let mut tmp = [0i8; 8];
    // SAFETY: `tmp` has 8 bytes; unaligned 64-bit store.
    unsafe { _mm_storel_epi64(tmp.as_mut_ptr().cast(), low) };
    out[..n].copy_from_slice(&tmp[..n]);
}

/// One tile: `R` pixels (rows of `xb`) x `P` panels starting at `panel`.
///
/// # Safety
///
/// AVX2 must be supported; `xb[r]` holds at least `pairs` words, `weights` at least
/// `(panel + P) * pairs * 8` words.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const P: usize>(
    xb: &[[i32; 512]; 4],
    pairs: usize,
    weights: &[f32],
    panel: usize,
    params: &[f32],
    c8: usize,
    co: usize,
    h: &ConvHeader,
    out_rows: &mut [&mut [i8]; 4],
) {
    let mut acc = [[_mm256_setzero_si256(); P]; R];
    debug_assert!(weights.len() >= (panel + P) * pairs * 8);
    let wbase = weights.as_ptr().cast::<i32>();
    for k in 0..pairs {
        let mut w = [_mm256_setzero_si256(); P];
        for (q, wq) in w.iter_mut().enumerate() {
            // SAFETY: word `((panel + q) * pairs + k) * 8 .. + 8` is inside `weights` (the
            // caller's length guarantee); unaligned load; f32 and i32 words have the same size.
            *wq = unsafe {
                _mm256_loadu_si256(wbase.add(((panel + q) * pairs + k) * 8).cast::<__m256i>())
            };
        }
        for r in 0..R {
            let x = _mm256_set1_epi32(xb[r][k]);
            for q in 0..P {
                acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(x, w[q]));
            }
        }
    }
    let rq = Requant::new(h);
    for r in 0..R {
        for q in 0..P {
            let o0 = (panel + q) * 8;
            // SAFETY: AVX2 (this function's contract); `o0 + 8 <= c8` for every panel.
            let v = unsafe { rq.apply(acc[r][q], params, c8, o0) };
            let n = (co - o0).min(8);
            store8(v, &mut out_rows[r][o0..], n);
        }
    }
}

/// Gathers pixel `px`'s inputs as `i16` pairs (zero point subtracted) into `dst` words
/// `k0..k0 + n` (pair `k` holds channels `2k`, `2k + 1`).
#[inline(always)]
fn gather(px: &[i8], zp: i32, k0: usize, n: usize, dst: &mut [i32; 512]) {
    let ci = px.len();
    for k in 0..n {
        let c = 2 * (k0 + k);
        let x0 = (px[c] as i32 - zp) as i16 as u16 as u32;
        let x1 = if c + 1 < ci {
            (px[c + 1] as i32 - zp) as i16 as u16 as u32
        } else {
            0
        };
        dst[k] = (x0 | (x1 << 16)) as i32;
    }
}

/// AVX2 pointwise: operands as [`super::kernels::pointwise`], lengths already checked.
///
/// # Safety
///
/// AVX2 must be supported by the CPU.
#[target_feature(enable = "avx2")]
pub unsafe fn pointwise<const HW: usize, const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    super::kernels::check_pointwise::<HW, CI, CO>(input, weights, params, out);
    let c8 = co8(CO);
    let panels = c8 / 8;
    let pairs = CI.div_ceil(2);
    let h = ConvHeader::read(params);
    // Input pairs are gathered in chunks of 512 pairs (1024 channels): longer inputs are
    // summed over chunks through the scalar path below.
    if pairs > 512 {
        super::kernels::pointwise_scalar::<HW, CI, CO>(input, weights, params, out);
        return;
    }
    let mut xb = [[0i32; 512]; 4];
    let mut p = 0;
    while p < HW {
        let rows = (HW - p).min(4);
        for r in 0..rows {
            gather(&input[(p + r) * CI..][..CI], h.input_zero_point, 0, pairs, &mut xb[r]);
        }
        let (head, tail) = out[p * CO..].split_at_mut(rows * CO);
        let _ = tail;
        let mut chunks = head.chunks_exact_mut(CO);
        let mut empty: [&mut [i8]; 4] = Default::default();
        for slot in empty.iter_mut().take(rows) {
            *slot = chunks.next().expect("rows chunks of CO");
        }
        let mut out_rows = empty;
        let mut panel = 0;
        while panel < panels {
            let two = panel + 2 <= panels;
            // SAFETY: AVX2 is supported (this function's contract); `xb` rows hold `pairs`
            // gathered words; `weights` holds `panels * pairs * 8` words (checked on entry).
            unsafe {
                match (rows, two) {
                    (4, true) => tile::<4, 2>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                    (3, true) => tile::<3, 2>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                    (2, true) => tile::<2, 2>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                    (1, true) => tile::<1, 2>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                    (4, false) => tile::<4, 1>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                    (3, false) => tile::<3, 1>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                    (2, false) => tile::<2, 1>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                    _ => tile::<1, 1>(&xb, pairs, weights, panel, params, c8, CO, &h, &mut out_rows),
                }
            }
            panel += if two { 2 } else { 1 };
        }
        p += rows;
    }
}

/// AVX2 depthwise: operands as [`super::kernels::depthwise`], lengths already checked; 8
/// channels per step (`i8` widened to `i32`, zero point subtracted, `vpmulld`), the channel
/// tail through a zero-padded copy.
///
/// # Safety
///
/// AVX2 must be supported by the CPU.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    let c8 = co8(C);
    let h = ConvHeader::read(params);
    let rq = Requant::new(&h);
    let zx = _mm256_set1_epi32(h.input_zero_point);
    let wbase = weights.as_ptr().cast::<i32>();
    assert!(weights.len() >= KH * KW * c8 && input.len() >= H * W * C && out.len() >= HO * WO * C);
    for oy in 0..HO {
        for ox in 0..WO {
            let mut c0 = 0;
            while c0 < C {
                let n = (C - c0).min(8);
                let mut acc = _mm256_setzero_si256();
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
                        let at = (iy * W + ix) * C + c0;
                        let x = if n == 8 {
                            // SAFETY: bytes `at..at + 8` lie in the pixel (n == 8 channels left).
                            unsafe { _mm_loadl_epi64(input.as_ptr().add(at).cast()) }
                        } else {
                            let mut tmp = [0i8; 8];
                            tmp[..n].copy_from_slice(&input[at..at + n]);
                            // SAFETY: `tmp` has 8 bytes.
                            unsafe { _mm_loadl_epi64(tmp.as_ptr().cast()) }
                        };
                        let xv = _mm256_sub_epi32(_mm256_cvtepi8_epi32(x), zx);
                        // SAFETY: weights hold `KH * KW * c8` words and `c0 + 8 <= c8`.
                        let wv = unsafe {
                            _mm256_loadu_si256(wbase.add((ky * KW + kx) * c8 + c0).cast())
                        };
                        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(xv, wv));
                    }
                }
                // SAFETY: AVX2 (this function's contract); `c0 + 8 <= c8`.
                let v = unsafe { rq.apply(acc, params, c8, c0) };
                let o = (oy * WO + ox) * C + c0;
                store8(v, &mut out[o..], n);
                c0 += 8;
            }
        }
    }
}

/// AVX2 full convolution: operands as [`super::kernels::conv2d`], lengths already checked;
/// per output pixel and block of 8 output channels, every tap's input (zero point subtracted)
/// broadcast and multiplied with the tap's 8 weights (`vpmulld`).
///
/// # Safety
///
/// AVX2 must be supported by the CPU.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
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
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    let c8 = co8(CO);
    let h = ConvHeader::read(params);
    let rq = Requant::new(&h);
    let wbase = weights.as_ptr().cast::<i32>();
    assert!(
        weights.len() >= KH * KW * CI * c8 && input.len() >= H * W * CI && out.len() >= HO * WO * CO
    );
    // Up to 8 blocks of 8 output channels at a time (64 channels of accumulators).
    const BLOCKS: usize = 8;
    for oy in 0..HO {
        for ox in 0..WO {
            let mut b0 = 0;
            while b0 < c8 / 8 {
                let nb = (c8 / 8 - b0).min(BLOCKS);
                let mut acc = [_mm256_setzero_si256(); BLOCKS];
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
                            let x = _mm256_set1_epi32(xv as i32 - h.input_zero_point);
                            let row = ((ky * KW + kx) * CI + i) * c8;
                            for (b, a) in acc.iter_mut().enumerate().take(nb) {
                                // SAFETY: word `row + (b0 + b) * 8 .. + 8` is inside the
                                // `KH * KW * CI * c8` weights (checked above).
                                let w = unsafe {
                                    _mm256_loadu_si256(wbase.add(row + (b0 + b) * 8).cast())
                                };
                                *a = _mm256_add_epi32(*a, _mm256_mullo_epi32(x, w));
                            }
                        }
                    }
                }
                let o = (oy * WO + ox) * CO;
                for (b, &a) in acc.iter().enumerate().take(nb) {
                    let c0 = (b0 + b) * 8;
                    // SAFETY: AVX2 (this function's contract); `c0 + 8 <= c8`.
                    let v = unsafe { rq.apply(a, params, c8, c0) };
                    store8(v, &mut out[o + c0..], (CO - c0).min(8));
                }
                b0 += nb;
            }
        }
    }
}
