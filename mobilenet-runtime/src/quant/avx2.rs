//! AVX2 variants of the quantized kernels (the scalar ones in [`super::kernels`] are their
//! twins, bit for bit: integer arithmetic only).
//!
//! Pointwise: a tile of up to 4 pixels x 3 panels (24 output channels), 12 accumulators of 8
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
        self.apply_with(acc, bias, mult, shift)
    }

    /// [`Requant::apply`] with the channels' bias, multipliers and shifts already loaded.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn apply_with(&self, acc: __m256i, bias: __m256i, mult: __m256i, shift: __m256i) -> __m256i {
        let v = mbqm(_mm256_add_epi32(acc, bias), mult, shift);
        let v = _mm256_add_epi32(v, self.zp);
        _mm256_min_epi32(_mm256_max_epi32(v, self.lo), self.hi)
    }
}

/// TFLite's `MultiplyByQuantizedMultiplier` (double rounding) in 8 lanes, with per-lane
/// multipliers (non-negative) and shifts.
#[target_feature(enable = "avx2")]
#[inline]
fn mbqm(x: __m256i, mult: __m256i, shift: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    let one = _mm256_set1_epi32(1);
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
    _mm256_sub_epi32(_mm256_srav_epi32(h, right), up)
}

/// AVX2 quantized add: operands as [`super::kernels::add`], lengths already checked; 8
/// values per step (the tail through zero-padded copies).
///
/// # Safety
///
/// AVX2 must be supported by the CPU.
#[target_feature(enable = "avx2")]
pub unsafe fn add(a: &[i8], b: &[i8], p: &super::AddParams, out: &mut [i8]) {
    let n = a.len().min(b.len()).min(out.len());
    let [(m1, s1), (m2, s2), (mo, so)] = p.multipliers;
    let v = |x: i32| _mm256_set1_epi32(x);
    let (z1, z2, zo) = (
        v(p.zero_points[0]),
        v(p.zero_points[1]),
        v(p.zero_points[2]),
    );
    let (m1, s1, m2, s2, mo, so) = (v(m1), v(s1), v(m2), v(s2), v(mo), v(so));
    let (lo, hi) = (v(p.act_min), v(p.act_max));
    let ls = _mm_cvtsi32_si128(p.left_shift);
    let mut i = 0;
    while i < n {
        let k = (n - i).min(8);
        let (xa, xb) = (load8(&a[i..], k), load8(&b[i..], k));
        let xa = _mm256_sll_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(xa), z1), ls);
        let xb = _mm256_sll_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(xb), z2), ls);
        let sum = _mm256_add_epi32(mbqm(xa, m1, s1), mbqm(xb, m2, s2));
        let r = _mm256_add_epi32(mbqm(sum, mo, so), zo);
        let r = _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
        store8(r, &mut out[i..], k);
        i += 8;
    }
}

/// Stores the low byte of each of the 8 lanes (values already in `i8` range) at `out[..n]`:
/// one 64-bit store when 8 fit, else through a copy.
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
    if n >= 8 && out.len() >= 8 {
        // SAFETY: `out` has at least 8 bytes; unaligned 64-bit store.
        unsafe { _mm_storel_epi64(out.as_mut_ptr().cast(), low) };
        return;
    }
    let mut tmp = [0i8; 8];
    // SAFETY: `tmp` has 8 bytes; unaligned 64-bit store.
    unsafe { _mm_storel_epi64(tmp.as_mut_ptr().cast(), low) };
    let n = n.min(8);
    out[..n].copy_from_slice(&tmp[..n]);
}

/// Loads 8 bytes from `src[..8]`, or `src`'s first `n < 8` bytes zero-padded.
#[target_feature(enable = "avx2")]
#[inline]
fn load8(src: &[i8], n: usize) -> __m128i {
    if n >= 8 && src.len() >= 8 {
        // SAFETY: `src` has at least 8 bytes; unaligned 64-bit load.
        return unsafe { _mm_loadl_epi64(src.as_ptr().cast()) };
    }
    let mut tmp = [0i8; 8];
    let n = n.min(8).min(src.len());
    tmp[..n].copy_from_slice(&src[..n]);
    // SAFETY: `tmp` has 8 bytes.
    unsafe { _mm_loadl_epi64(tmp.as_ptr().cast()) }
}

/// The most input channel pairs of a pointwise layer the AVX2 kernel gathers (2048 channels).
const PAIRS_MAX: usize = 1024;

/// One tile: `R` pixels (rows of `xb`) x `P` panels starting at `panel`.
///
/// # Safety
///
/// AVX2 must be supported; `xb[r]` holds at least `pairs` words, `weights` at least
/// `(panel + P) * pairs * 8` words.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile<const R: usize, const P: usize>(
    xb: &[[i32; PAIRS_MAX]; 4],
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
/// `0..ceil(CI / 2)` (pair `k` holds channels `2k`, `2k + 1`; an odd last channel pairs with
/// 0): 16 channels per step, widened and stored as 8 words.
#[target_feature(enable = "avx2")]
#[inline]
fn gather(px: &[i8], zp: i32, dst: &mut [i32; PAIRS_MAX]) {
    let ci = px.len();
    debug_assert!(ci <= 2 * PAIRS_MAX);
    let z = _mm256_set1_epi16(zp as i16);
    let mut c = 0;
    while c + 16 <= ci {
        // SAFETY: bytes `c..c + 16` are inside `px`; words `c / 2 .. c / 2 + 8` inside `dst`
        // (ci <= 2 * PAIRS_MAX); unaligned load and store.
        unsafe {
            let x = _mm_loadu_si128(px.as_ptr().add(c).cast());
            let v = _mm256_sub_epi16(_mm256_cvtepi8_epi16(x), z);
            _mm256_storeu_si256(dst.as_mut_ptr().add(c / 2).cast(), v);
        }
        c += 16;
    }
    while c < ci {
        let x0 = (px[c] as i32 - zp) as i16 as u16 as u32;
        let x1 = if c + 1 < ci {
            (px[c + 1] as i32 - zp) as i16 as u16 as u32
        } else {
            0
        };
        dst[c / 2] = (x0 | (x1 << 16)) as i32;
        c += 2;
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
    // Up to PAIRS_MAX input pairs are gathered per pixel; longer inputs take the scalar path.
    if pairs > PAIRS_MAX {
        super::kernels::pointwise_scalar::<HW, CI, CO>(input, weights, params, out);
        return;
    }
    let mut xb = [[0i32; PAIRS_MAX]; 4];
    // Tiles of 4 pixels outermost: each is gathered once, then every group of 3 panels (24
    // output channels) runs over it. (Panel groups outermost, with the group's weights in L1
    // and the tile gathered again per group, measured 13% slower on v1 1.0/224.)
    let mut p = 0;
    while p < HW {
        let rows = (HW - p).min(4);
        for r in 0..rows {
            gather(&input[(p + r) * CI..][..CI], h.input_zero_point, &mut xb[r]);
        }
        let head = &mut out[p * CO..(p + rows) * CO];
        let mut chunks = head.chunks_exact_mut(CO);
        let mut out_rows: [&mut [i8]; 4] = Default::default();
        for slot in out_rows.iter_mut().take(rows) {
            *slot = chunks.next().expect("rows chunks of CO");
        }
        let mut panel = 0;
        while panel < panels {
            let step = (panels - panel).min(3);
            macro_rules! go {
                ($r:literal, $p:literal) => {
                    tile::<$r, $p>(
                        &xb,
                        pairs,
                        weights,
                        panel,
                        params,
                        c8,
                        CO,
                        &h,
                        &mut out_rows,
                    )
                };
            }
            // SAFETY: AVX2 is supported (this function's contract); `xb` rows hold `pairs`
            // gathered words; `weights` holds `panels * pairs * 8` words (checked on entry).
            unsafe {
                match (rows, step) {
                    (4, 3) => go!(4, 3),
                    (3, 3) => go!(3, 3),
                    (2, 3) => go!(2, 3),
                    (1, 3) => go!(1, 3),
                    (4, 2) => go!(4, 2),
                    (3, 2) => go!(3, 2),
                    (2, 2) => go!(2, 2),
                    (1, 2) => go!(1, 2),
                    (4, _) => go!(4, 1),
                    (3, _) => go!(3, 1),
                    (2, _) => go!(2, 1),
                    _ => go!(1, 1),
                }
            }
            panel += step;
        }
        p += rows;
    }
}

/// AVX2 depthwise: operands as [`super::kernels::depthwise`], lengths already checked. Per
/// output row and block of 8 channels, the block's taps (up to 5x5), bias, multipliers and
/// shifts stay in registers while the row's pixels are computed: each tap's 8 inputs widened to
/// `i32`, zero point subtracted, multiplied (`vpmulld`) and summed. A channel tail (`C` not a
/// multiple of 8) goes through a zero-padded copy.
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
    const MAX_TAPS: usize = 25;
    let c8 = co8(C);
    let h = ConvHeader::read(params);
    let rq = Requant::new(&h);
    let zx = _mm256_set1_epi32(h.input_zero_point);
    let wbase = weights.as_ptr().cast::<i32>();
    let pbase = params.as_ptr().cast::<i32>();
    assert!(weights.len() >= KH * KW * c8 && input.len() >= H * W * C && out.len() >= HO * WO * C);
    assert!(params.len() >= super::CONV_HEADER + 3 * c8);
    let taps = KH * KW;
    // 3x3 kernels: blocks of 16 channels through `vpmaddwd` over tap pairs; the rest (a tail
    // of fewer than 16 channels, other kernel sizes) 8 channels at a time below.
    let mut c0 = 0;
    if KH == 3 && KW == 3 {
        c0 = C / 16 * 16;
        // SAFETY: AVX2 (this function's contract); lengths checked above.
        unsafe {
            depthwise3x3_16::<H, W, C, HO, WO, SH, SW, PT, PL>(input, weights, params, out, &h)
        };
    }
    while c0 < C {
        let n = (C - c0).min(8);
        let mut wv = [_mm256_setzero_si256(); MAX_TAPS];
        for (t, w) in wv.iter_mut().enumerate().take(taps.min(MAX_TAPS)) {
            // SAFETY: word `t * c8 + c0 .. + 8` is inside the `KH * KW * c8` weights.
            *w = unsafe { _mm256_loadu_si256(wbase.add(t * c8 + c0).cast()) };
        }
        // SAFETY: the bias, multiplier and shift arrays hold `c8` words each after the header
        // (checked above) and `c0 + 8 <= c8`.
        let (bias, mult, shift) = unsafe {
            (
                _mm256_loadu_si256(pbase.add(super::CONV_HEADER + c0).cast()),
                _mm256_loadu_si256(pbase.add(super::CONV_HEADER + c8 + c0).cast()),
                _mm256_loadu_si256(pbase.add(super::CONV_HEADER + 2 * c8 + c0).cast()),
            )
        };
        for oy in 0..HO {
            let row_inside = oy * SH >= PT && oy * SH - PT + KH <= H;
            for ox in 0..WO {
                let mut acc = _mm256_setzero_si256();
                if n == 8
                    && taps <= MAX_TAPS
                    && row_inside
                    && ox * SW >= PL
                    && ox * SW - PL + KW <= W
                {
                    // Every tap inside the input: straight-line code over the taps.
                    let base = ((oy * SH - PT) * W + ox * SW - PL) * C + c0;
                    for ky in 0..KH {
                        for kx in 0..KW {
                            let at = base + (ky * W + kx) * C;
                            // SAFETY: the tap's pixel is inside the input (checked above) and
                            // holds the 8 channels from `c0` (n == 8).
                            let x = unsafe { _mm_loadl_epi64(input.as_ptr().add(at).cast()) };
                            let xv = _mm256_sub_epi32(_mm256_cvtepi8_epi32(x), zx);
                            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(xv, wv[ky * KW + kx]));
                        }
                    }
                    let v = rq.apply_with(acc, bias, mult, shift);
                    store8(v, &mut out[(oy * WO + ox) * C + c0..], 8);
                    continue;
                }
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
                        let x = load8(&input[at..], n);
                        let xv = _mm256_sub_epi32(_mm256_cvtepi8_epi32(x), zx);
                        let t = ky * KW + kx;
                        let w = if t < MAX_TAPS {
                            wv[t]
                        } else {
                            // SAFETY: as the preload above, for taps beyond the register set.
                            unsafe { _mm256_loadu_si256(wbase.add(t * c8 + c0).cast()) }
                        };
                        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(xv, w));
                    }
                }
                let v = rq.apply_with(acc, bias, mult, shift);
                store8(v, &mut out[(oy * WO + ox) * C + c0..], n);
            }
        }
        c0 += 8;
    }
}

/// The 16-channel blocks of a 3x3 depthwise layer (channels `0..C / 16 * 16`), output row by
/// row and, within a row, block by block, so that the three input rows stay in L1 across the
/// blocks. A block's 9 taps are widened to `i16` and interleaved in pairs (taps 0-1, 2-3, 4-5,
/// 6-7, 8 with zero), so that `vpmaddwd` adds two taps' products per lane: 10 multiplies per
/// 16 outputs. Inside the input the zero point is folded into the bias (`bias - zp * sum(w)`);
/// at the border the taps' inputs have it subtracted and missing taps are zero (TFLite pads
/// with the zero point). Operands stay within 255 in magnitude (and `i8` inputs within 128),
/// so no pair sum leaves `i32`.
///
/// # Safety
///
/// AVX2; `weights` holds `9 * co8(C)` words, `params` the parameter region of `co8(C)`
/// channels, `input` `H * W * C` and `out` `HO * WO * C` values.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn depthwise3x3_16<
    const H: usize,
    const W: usize,
    const C: usize,
    const HO: usize,
    const WO: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
    h: &ConvHeader,
) {
    let c8 = co8(C);
    debug_assert!(weights.len() >= 9 * c8 && params.len() >= super::CONV_HEADER + 3 * c8);
    debug_assert!(input.len() >= H * W * C && out.len() >= HO * WO * C);
    let rq = Requant::new(h);
    let zp16 = _mm256_set1_epi16(h.input_zero_point as i16);
    let zp32 = _mm256_set1_epi32(h.input_zero_point);
    let wbase = weights.as_ptr().cast::<i32>();
    let pbase = params.as_ptr().cast::<i32>();
    // 8 words at `base + at`, as a vector.
    let load = |base: *const i32, at: usize| {
        // SAFETY: every caller's `at + 8` is inside the region `base` starts (weights: tap
        // `t < 9` and channel `c < C / 16 * 16 <= c8`; params: `CONV_HEADER + k * c8 + c`).
        unsafe { _mm256_loadu_si256(base.add(at).cast::<__m256i>()) }
    };
    // The 8 `i32` lanes of channels `c..c + 16` in the order of `unpacklo/hi_epi16` on
    // 16-channel vectors: lanes of channels 0-3 and 8-11 (`lo`), 4-7 and 12-15 (`hi`).
    let split = |a: __m256i, b: __m256i| {
        (
            _mm256_permute2x128_si256(a, b, 0x20),
            _mm256_permute2x128_si256(a, b, 0x31),
        )
    };
    // 16 inputs at `at`, widened to `i16` (channel order 0-7 | 8-15).
    let widen = |at: usize| {
        // SAFETY: `at + 16` is inside the input: a pixel inside the image and a block of 16
        // channels inside its `C`.
        _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(input.as_ptr().add(at).cast()) })
    };
    for oy in 0..HO {
        let row_inside = oy * SH >= PT && oy * SH - PT + 3 <= H;
        for b in 0..C / 16 {
            let c = b * 16;
            // The block's weights as tap pairs, and its sums of weights.
            let mut wt = [_mm256_setzero_si256(); 10];
            let mut wsum = (_mm256_setzero_si256(), _mm256_setzero_si256());
            let mut taps16 = [_mm256_setzero_si256(); 10];
            for (t, tap) in taps16.iter_mut().enumerate().take(9) {
                let (w0, w1) = (load(wbase, t * c8 + c), load(wbase, t * c8 + c + 8));
                wsum = (_mm256_add_epi32(wsum.0, w0), _mm256_add_epi32(wsum.1, w1));
                *tap = _mm256_permute4x64_epi64(_mm256_packs_epi32(w0, w1), 0b11_01_10_00);
            }
            for p in 0..5 {
                wt[2 * p] = _mm256_unpacklo_epi16(taps16[2 * p], taps16[2 * p + 1]);
                wt[2 * p + 1] = _mm256_unpackhi_epi16(taps16[2 * p], taps16[2 * p + 1]);
            }
            let hdr = super::CONV_HEADER;
            let (bias_lo, bias_hi) = split(load(pbase, hdr + c), load(pbase, hdr + c + 8));
            let (mult_lo, mult_hi) =
                split(load(pbase, hdr + c8 + c), load(pbase, hdr + c8 + c + 8));
            let (sh_lo, sh_hi) = split(
                load(pbase, hdr + 2 * c8 + c),
                load(pbase, hdr + 2 * c8 + c + 8),
            );
            let (ws_lo, ws_hi) = split(wsum.0, wsum.1);
            let fold_lo = _mm256_sub_epi32(bias_lo, _mm256_mullo_epi32(ws_lo, zp32));
            let fold_hi = _mm256_sub_epi32(bias_hi, _mm256_mullo_epi32(ws_hi, zp32));
            for ox in 0..WO {
                let inside = row_inside && ox * SW >= PL && ox * SW - PL + 3 <= W;
                let mut x = [_mm256_setzero_si256(); 10];
                if inside {
                    let base = ((oy * SH - PT) * W + ox * SW - PL) * C + c;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            x[ky * 3 + kx] = widen(base + (ky * W + kx) * C);
                        }
                    }
                } else {
                    for ky in 0..3 {
                        let iy = (oy * SH + ky).wrapping_sub(PT);
                        for kx in 0..3 {
                            let ix = (ox * SW + kx).wrapping_sub(PL);
                            if iy < H && ix < W {
                                let at = (iy * W + ix) * C + c;
                                x[ky * 3 + kx] = _mm256_sub_epi16(widen(at), zp16);
                            }
                        }
                    }
                }
                let (mut lo, mut hi) = if inside {
                    (fold_lo, fold_hi)
                } else {
                    (bias_lo, bias_hi)
                };
                for p in 0..5 {
                    let xl = _mm256_unpacklo_epi16(x[2 * p], x[2 * p + 1]);
                    let xh = _mm256_unpackhi_epi16(x[2 * p], x[2 * p + 1]);
                    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(xl, wt[2 * p]));
                    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(xh, wt[2 * p + 1]));
                }
                let zero = _mm256_setzero_si256();
                let lo = rq.apply_with(lo, zero, mult_lo, sh_lo);
                let hi = rq.apply_with(hi, zero, mult_hi, sh_hi);
                // Lanes back to channel order: packs interleaves 128-bit halves (0-7 | 8-15).
                let v = _mm256_packs_epi16(_mm256_packs_epi32(lo, hi), zero);
                let v = _mm256_permute4x64_epi64(v, 0b11_01_10_00);
                let o = (oy * WO + ox) * C + c;
                // SAFETY: channels `c..c + 16` of output pixel `(oy, ox)` are inside `out`.
                unsafe {
                    _mm_storeu_si128(out.as_mut_ptr().add(o).cast(), _mm256_castsi256_si128(v))
                };
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
        weights.len() >= KH * KW * CI * c8
            && input.len() >= H * W * CI
            && out.len() >= HO * WO * CO
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
