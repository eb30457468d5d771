//! AVX2 variants of the quantized kernels (the scalar ones in [`super::kernels`] are their
//! twins, bit for bit: integer arithmetic only).
//!
//! Pointwise: a tile of up to 6 pixels x 2 panels (16 output channels), 12 accumulators of 8
//! `i32`. A block of pixels' inputs, zero point subtracted, are first gathered as `i16` pairs
//! (one `i32` word per pair of input channels); each pair is broadcast and `vpmaddwd`
//! multiplies it with a panel's 8 weight pairs, adding both products into 8 `i32` sums. Operands
//! are at most 255 in magnitude, so no product or pair sum saturates.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use core::mem::MaybeUninit;
use core::ops::Range;

use super::{co8, ConvHeader};

/// The requantization scale of 8 channels: TFLite's `MultiplyByQuantizedMultiplier` (double
/// rounding) with per-lane multipliers (non-negative) and shifts, the lanes' derived constants
/// computed once per block of channels rather than per output pixel.
///
/// `SRDHM(x, m) = floor((x * m + 2^30) / 2^31)` for every `x` when `m >= 0` (the nudge and the
/// truncation toward zero combine), which the 64-bit products compute exactly; the rounding
/// division by `2^right` is gemmlowp's (remainder against half the divisor, ties away from
/// zero).
#[derive(Clone, Copy)]
struct Scale8 {
    mult: __m256i,
    /// The odd lanes' multipliers copied to the even lanes (`vpmuldq` reads those). Moved with
    /// `vpshufd`, not a 64-bit shift: after the shift the compiler took the lanes for
    /// zero-extended values and emulated the signed multiply with three `vpmuludq`.
    mult_odd: __m256i,
    left: __m256i,
    right: __m256i,
    /// `2^right / 2` (0 when `right` is 0): the rounding term of the division.
    round: __m256i,
}

impl Scale8 {
    #[target_feature(enable = "avx2")]
    #[inline]
    fn new(mult: __m256i, shift: __m256i) -> Self {
        let zero = _mm256_setzero_si256();
        let one = _mm256_set1_epi32(1);
        // Shifts lie in [-31, 31] (packing's guarantee), so the `& 31` changes no count; it
        // tells the compiler the counts are in range, so it drops the masking a variable shift
        // by an arbitrary count needs (two instructions per `apply`).
        let in_range = _mm256_set1_epi32(31);
        let right = _mm256_and_si256(
            _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero),
            in_range,
        );
        Scale8 {
            mult,
            mult_odd: _mm256_shuffle_epi32::<0xF5>(mult),
            left: _mm256_and_si256(_mm256_max_epi32(shift, zero), in_range),
            right,
            round: _mm256_srli_epi32(_mm256_sllv_epi32(one, right), 1),
        }
    }

    /// Channels `o0..o0 + 8` of a packed parameter region of `c8` channels.
    ///
    /// # Safety
    ///
    /// AVX2; `params` holds the parameter region of a layer with `c8` padded channels and
    /// `o0 + 8 <= c8`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load(params: &[f32], c8: usize, o0: usize) -> Self {
        debug_assert!(o0 + 8 <= c8 && params.len() >= super::CONV_HEADER + 3 * c8);
        let base = params.as_ptr().cast::<i32>();
        // SAFETY: the multiplier and shift arrays hold `c8` words each after the header and
        // the bias (the caller's guarantee), and `o0 + 8 <= c8`; unaligned loads.
        unsafe {
            Scale8::new(
                _mm256_loadu_si256(base.add(super::CONV_HEADER + c8 + o0).cast()),
                _mm256_loadu_si256(base.add(super::CONV_HEADER + 2 * c8 + o0).cast()),
            )
        }
    }

    /// `MBQM(x)` in each lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn apply(&self, x: __m256i) -> __m256i {
        let x = _mm256_sllv_epi32(x, self.left);
        // Rounding doubling high multiply, even and odd lanes as 64-bit products: bits 31..62
        // of each product are the result (shifted down for the even lanes, up for the odd).
        let nudge = _mm256_set1_epi64x(1 << 30);
        let even = _mm256_add_epi64(_mm256_mul_epi32(x, self.mult), nudge);
        let odd = _mm256_add_epi64(
            _mm256_mul_epi32(_mm256_shuffle_epi32::<0xF5>(x), self.mult_odd),
            nudge,
        );
        let h = _mm256_blend_epi32(
            _mm256_srli_epi64(even, 31),
            _mm256_slli_epi64(odd, 1),
            0b1010_1010,
        );
        // Rounding divide by 2^right, ties away from zero: the magnitude rounded half up, its
        // sign restored. `|h| <= 2^31` and `round <= 2^30` (right <= 31), so the unsigned sum
        // cannot wrap; `sign` gives 0 where `h` is 0, whose quotient is 0.
        let magnitude = _mm256_add_epi32(_mm256_abs_epi32(h), self.round);
        _mm256_sign_epi32(_mm256_srlv_epi32(magnitude, self.right), h)
    }
}

/// The bias of channels `o0..o0 + 8` of a packed parameter region of `c8` channels.
///
/// # Safety
///
/// As [`Scale8::load`].
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn bias8(params: &[f32], c8: usize, o0: usize) -> __m256i {
    debug_assert!(o0 + 8 <= c8 && params.len() >= super::CONV_HEADER + 3 * c8);
    // SAFETY: the bias array holds `c8` words after the header (the caller's guarantee).
    unsafe {
        _mm256_loadu_si256(
            params
                .as_ptr()
                .cast::<i32>()
                .add(super::CONV_HEADER + o0)
                .cast(),
        )
    }
}

/// The output stage of a conv-like layer: the output zero point added (saturating, as the scalar
/// kernels) and the activation range applied, narrowing to bytes.
#[derive(Clone, Copy)]
struct Output {
    zp16: __m256i,
    lo8: __m256i,
    hi8: __m256i,
}

impl Output {
    #[target_feature(enable = "avx2")]
    #[inline]
    fn new(h: &ConvHeader) -> Self {
        // The activation range lies inside `i8` (the arena's element), and so do the zero
        // points.
        Output {
            zp16: _mm256_set1_epi16(h.output_zero_point as i16),
            lo8: _mm256_set1_epi8(h.act_min as i8),
            hi8: _mm256_set1_epi8(h.act_max as i8),
        }
    }

    /// `clamp(v + zp)` of 4 vectors of 8 lanes as 32 bytes, `v[0]`'s lanes first. Exact
    /// although it saturates twice: `v` narrowed to `i16`, the zero point added saturating,
    /// narrowed to `i8`, then clamped; every step is monotone and every saturation bound lies
    /// outside the activation range, which lies inside `i8`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn bytes(&self, v: [__m256i; 4]) -> __m256i {
        let a = _mm256_adds_epi16(_mm256_packs_epi32(v[0], v[1]), self.zp16);
        let b = _mm256_adds_epi16(_mm256_packs_epi32(v[2], v[3]), self.zp16);
        // Double words: v0 low, v1 low, v2 low, v3 low | v0 high, v1 high, v2 high, v3 high.
        let c = _mm256_packs_epi16(a, b);
        let c = _mm256_permutevar8x32_epi32(c, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_min_epi8(_mm256_max_epi8(c, self.lo8), self.hi8)
    }

    /// [`Output::bytes`] of 16 channels held as `unpacklo/hi_epi16` leave them: `lo` the lanes of
    /// channels 0-3 and 8-11, `hi` of 4-7 and 12-15.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn bytes16(&self, lo: __m256i, hi: __m256i) -> __m128i {
        // `packs_epi32` interleaves the 128-bit halves: channels 0-7 | 8-15 as `i16`.
        let a = _mm256_adds_epi16(_mm256_packs_epi32(lo, hi), self.zp16);
        let c = _mm256_permute4x64_epi64(_mm256_packs_epi16(a, a), 0b11_01_10_00);
        let c = _mm256_castsi256_si128(c);
        _mm_min_epi8(
            _mm_max_epi8(c, _mm256_castsi256_si128(self.lo8)),
            _mm256_castsi256_si128(self.hi8),
        )
    }
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
    let (s1, s2, so) = (
        Scale8::new(v(m1), v(s1)),
        Scale8::new(v(m2), v(s2)),
        Scale8::new(v(mo), v(so)),
    );
    let (lo, hi) = (v(p.act_min), v(p.act_max));
    let ls = _mm_cvtsi32_si128(p.left_shift);
    let one = |xa: __m128i, xb: __m128i| {
        let xa = _mm256_sll_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(xa), z1), ls);
        let xb = _mm256_sll_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(xb), z2), ls);
        let sum = _mm256_add_epi32(s1.apply(xa), s2.apply(xb));
        let r = _mm256_add_epi32(so.apply(sum), zo);
        _mm256_min_epi32(_mm256_max_epi32(r, lo), hi)
    };
    // 32 values per step while they last: four independent chains of three requantizations,
    // narrowed to bytes together.
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: bytes `i..i + 32` lie inside `a`, `b` and `out` (`i + 32 <= n`); unaligned
        // loads and store.
        unsafe {
            let xa = _mm256_loadu_si256(a.as_ptr().add(i).cast());
            let xb = _mm256_loadu_si256(b.as_ptr().add(i).cast());
            let (a0, a1) = (_mm256_castsi256_si128(xa), _mm256_extracti128_si256(xa, 1));
            let (b0, b1) = (_mm256_castsi256_si128(xb), _mm256_extracti128_si256(xb, 1));
            let r = [
                one(a0, b0),
                one(_mm_srli_si128(a0, 8), _mm_srli_si128(b0, 8)),
                one(a1, b1),
                one(_mm_srli_si128(a1, 8), _mm_srli_si128(b1, 8)),
            ];
            // Values lie in the activation range, inside `i8`: the saturating packs keep them.
            let w = _mm256_packs_epi32(r[0], r[1]);
            let x = _mm256_packs_epi32(r[2], r[3]);
            let bytes = _mm256_packs_epi16(w, x);
            // Double words after the packs: r0 lo, r1 lo, r2 lo, r3 lo | r0 hi, r1 hi, r2 hi, r3 hi.
            let bytes =
                _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256(out.as_mut_ptr().add(i).cast(), bytes);
        }
        i += 32;
    }
    while i < n {
        let k = (n - i).min(8);
        store8(one(load8(&a[i..], k), load8(&b[i..], k)), &mut out[i..], k);
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

/// Stores the first `n` (at most 32) bytes of `v` at `out[..n]`: direct 16- and 8-byte stores
/// for the multiples of 8, a copy for the rest.
#[target_feature(enable = "avx2")]
#[inline]
fn store_bytes(v: __m256i, out: &mut [i8], n: usize) {
    let n = n.min(32).min(out.len());
    let (lo, hi) = (_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    let p = out.as_mut_ptr();
    // SAFETY: each store writes bytes below `n <= out.len()`; unaligned stores.
    unsafe {
        match n {
            32 => return _mm256_storeu_si256(p.cast(), v),
            24 => {
                _mm_storeu_si128(p.cast(), lo);
                return _mm_storel_epi64(p.add(16).cast(), hi);
            }
            16 => return _mm_storeu_si128(p.cast(), lo),
            8 => return _mm_storel_epi64(p.cast(), lo),
            _ => {}
        }
    }
    let mut tmp = [0i8; 32];
    // SAFETY: `tmp` has 32 bytes; unaligned store.
    unsafe { _mm256_storeu_si256(tmp.as_mut_ptr().cast(), v) };
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

/// The words of a pointwise layer's block of gathered pixels (64 KiB): as many pixels as fit
/// (at least [`TILE_ROWS`]) are gathered once, then every panel group runs over them, so a
/// group's weights are read from memory once per block instead of once per tile.
const BLOCK_WORDS: usize = 16 * 1024;

/// The weight bytes of one group of panels, which stays in L1 while the block's tiles pass over
/// it.
const GROUP_WEIGHT_BYTES: usize = 16 * 1024;

/// Pixels per tile: 6 pixels x 2 panels is 12 accumulators, 2 weight vectors, a broadcast and
/// the product (`vpmaddwd` has no accumulating form on AVX2): the 16 `ymm` registers. (4 x 3
/// needs 17, and the compiler spilled two accumulators in the inner loop.)
const TILE_ROWS: usize = 6;

/// One tile: `R` pixels (rows `r * stride` of `xb`) x `P` panels starting at `panel`.
///
/// # Safety
///
/// AVX2 must be supported; `xb` holds at least `(R - 1) * stride + pairs` words, `weights` at
/// least `(panel + P) * pairs * 8`.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile<const R: usize, const P: usize>(
    xb: &[i32],
    stride: usize,
    pairs: usize,
    weights: &[i32],
    panel: usize,
    params: &[f32],
    c8: usize,
    co: usize,
    h: &ConvHeader,
    out_rows: &mut [&mut [i8]; TILE_ROWS],
) {
    // The accumulators start at the channels' biases.
    let mut acc = [[_mm256_setzero_si256(); P]; R];
    for q in 0..P {
        // SAFETY: `(panel + q) * 8 + 8 <= c8` for every panel of the tile.
        let b = unsafe { bias8(params, c8, (panel + q) * 8) };
        for a in acc.iter_mut() {
            a[q] = b;
        }
    }
    debug_assert!(weights.len() >= (panel + P) * pairs * 8);
    debug_assert!(xb.len() >= (R - 1) * stride + pairs);
    let wbase = weights.as_ptr();
    let xbase = xb.as_ptr();
    for k in 0..pairs {
        let mut w = [_mm256_setzero_si256(); P];
        for (q, wq) in w.iter_mut().enumerate() {
            // SAFETY: word `((panel + q) * pairs + k) * 8 .. + 8` is inside `weights` (the
            // caller's length guarantee); unaligned load.
            *wq = unsafe {
                _mm256_loadu_si256(wbase.add(((panel + q) * pairs + k) * 8).cast::<__m256i>())
            };
        }
        for r in 0..R {
            // SAFETY: word `r * stride + k` is inside `xb` (the caller's guarantee).
            let x = _mm256_set1_epi32(unsafe { *xbase.add(r * stride + k) });
            for q in 0..P {
                acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(x, w[q]));
            }
        }
    }
    // Each panel's scale derived once for the tile's pixels; then each pixel's panels narrowed
    // to bytes together and stored.
    for q in 0..P {
        // SAFETY: AVX2 (this function's contract); `(panel + q) * 8 + 8 <= c8`.
        let s = unsafe { Scale8::load(params, c8, (panel + q) * 8) };
        for a in acc.iter_mut() {
            a[q] = s.apply(a[q]);
        }
    }
    let out = Output::new(h);
    let o0 = panel * 8;
    let n = (co - o0).min(8 * P);
    let mut r = 0;
    while r < R {
        if P == 2 && r + 1 < R {
            // Two pixels' 16 channels narrowed together: the low half is pixel r's.
            let v = out.bytes([acc[r][0], acc[r][P - 1], acc[r + 1][0], acc[r + 1][P - 1]]);
            store_bytes(v, &mut out_rows[r][o0..], n);
            let hi = _mm256_permute2x128_si256(v, v, 0x11);
            store_bytes(hi, &mut out_rows[r + 1][o0..], n);
            r += 2;
            continue;
        }
        let v = out.bytes(core::array::from_fn(|q| acc[r][q.min(P - 1)]));
        store_bytes(v, &mut out_rows[r][o0..], n);
        r += 1;
    }
}

/// Gathers pixel `px`'s inputs as `i16` pairs (zero point subtracted) into `dst` words
/// `0..ceil(CI / 2)` (pair `k` holds channels `2k`, `2k + 1`; an odd last channel pairs with
/// 0): 16 channels per step, widened and stored as 8 words, then 8, then pairs. Every one of
/// those words is written.
#[target_feature(enable = "avx2")]
#[inline]
fn gather(px: &[i8], zp: i32, dst: &mut [MaybeUninit<i32>]) {
    let ci = px.len();
    assert!(
        dst.len() >= ci.div_ceil(2),
        "gather: destination shorter than the pairs"
    );
    let z = _mm256_set1_epi16(zp as i16);
    let mut c = 0;
    while c + 16 <= ci {
        // SAFETY: bytes `c..c + 16` are inside `px`; words `c / 2 .. c / 2 + 8` inside `dst`
        // (asserted above); unaligned load and store.
        unsafe {
            let x = _mm_loadu_si128(px.as_ptr().add(c).cast());
            let v = _mm256_sub_epi16(_mm256_cvtepi8_epi16(x), z);
            _mm256_storeu_si256(dst.as_mut_ptr().add(c / 2).cast(), v);
        }
        c += 16;
    }
    if c + 8 <= ci {
        // SAFETY: bytes `c..c + 8` are inside `px`; words `c / 2 .. c / 2 + 4` inside `dst`;
        // unaligned load and store.
        unsafe {
            let x = _mm_loadl_epi64(px.as_ptr().add(c).cast());
            let v = _mm_sub_epi16(_mm_cvtepi8_epi16(x), _mm256_castsi256_si128(z));
            _mm_storeu_si128(dst.as_mut_ptr().add(c / 2).cast(), v);
        }
        c += 8;
    }
    while c < ci {
        let x0 = (px[c] as i32 - zp) as i16 as u16 as u32;
        let x1 = if c + 1 < ci {
            (px[c + 1] as i32 - zp) as i16 as u16 as u32
        } else {
            0
        };
        dst[c / 2].write((x0 | (x1 << 16)) as i32);
        c += 2;
    }
}

/// AVX2 pointwise: operands as [`super::kernels::pointwise`], lengths already checked.
///
/// # Safety
///
/// AVX2 must be supported by the CPU.
#[target_feature(enable = "avx2")]
pub unsafe fn pointwise<const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    let hw = super::kernels::pointwise_hw::<CI, CO>(input, weights, params, out);
    let pairs = CI.div_ceil(2);
    let h = ConvHeader::read(params);
    super::kernels::check_pairs(&h);
    // Up to PAIRS_MAX input pairs are gathered per pixel; longer inputs take the scalar path.
    if pairs > PAIRS_MAX {
        return super::kernels::pointwise_scalar_pixels::<CI, CO>(input, weights, params, out);
    }
    let weights = words(weights);
    let panels = co8(CO) / 8;
    // Blocks of whole tiles; a group of panels whose weights fit GROUP_WEIGHT_BYTES (an even
    // number, for the 2-panel tiles), at least 2.
    let block = (BLOCK_WORDS / pairs / TILE_ROWS * TILE_ROWS).max(TILE_ROWS);
    let group = (GROUP_WEIGHT_BYTES / (pairs * 32) / 2 * 2).max(2);
    // Not zeroed (64 KiB per call): only the gathered words are read.
    let mut block_words = [MaybeUninit::<i32>::uninit(); BLOCK_WORDS];
    let mut p = 0;
    while p < hw {
        let n = (hw - p).min(block);
        for (r, row) in block_words.chunks_exact_mut(pairs).take(n).enumerate() {
            gather(&input[(p + r) * CI..][..CI], h.input_zero_point, row);
        }
        // SAFETY: `n * pairs <= BLOCK_WORDS` words, rows `0..n` of `pairs` words each, every one
        // written by `gather` just above; `MaybeUninit<i32>` has `i32`'s layout.
        let xb: &[i32] =
            unsafe { core::slice::from_raw_parts(block_words.as_ptr().cast::<i32>(), n * pairs) };
        let block_out = &mut out[p * CO..(p + n) * CO];
        let mut g = 0;
        while g < panels {
            let g1 = (g + group).min(panels);
            // SAFETY: AVX2 (this function's contract); `xb`'s `n` rows hold `pairs` gathered
            // words at stride `pairs`; `weights` holds `panels * pairs * 8` words (checked on
            // entry).
            unsafe {
                tiles(
                    xb,
                    pairs,
                    n,
                    pairs,
                    weights,
                    g..g1,
                    params,
                    CO,
                    &h,
                    block_out,
                )
            };
            g = g1;
        }
        p += n;
    }
}

/// The packed parameter or weight words of a layer as the integers they hold.
#[inline]
fn words(p: &[f32]) -> &[i32] {
    // SAFETY: `f32` and `i32` have the same size and alignment and every bit pattern is valid
    // for both; the length and lifetime are `p`'s.
    unsafe { core::slice::from_raw_parts(p.as_ptr().cast::<i32>(), p.len()) }
}

/// Output channels `8 * panels.start .. 8 * panels.end` (clipped to `co`) of `n` pixels whose
/// inputs `xb` holds as `pairs` gathered words each at stride `stride`, written to `out`'s `n`
/// rows of `co` values: tiles of [`TILE_ROWS`] pixels (the last one shorter), each over the
/// panels in tiles of 2 (16 output channels), then the 1 left.
///
/// # Safety
///
/// AVX2; `xb` holds `(n - 1) * stride + pairs` words, `weights` `co8(co) / 8` panels of
/// `pairs * 8` words, `params` the parameter region of `co8(co)` channels, `out` `n * co`
/// values, and `panels.end <= co8(co) / 8`.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn tiles(
    xb: &[i32],
    stride: usize,
    n: usize,
    pairs: usize,
    weights: &[i32],
    panels: core::ops::Range<usize>,
    params: &[f32],
    co: usize,
    h: &ConvHeader,
    out: &mut [i8],
) {
    let c8 = co8(co);
    assert!(
        n >= 1
            && pairs <= stride
            && xb.len() >= (n - 1) * stride + pairs
            && panels.end <= c8 / 8
            && weights.len() >= c8 / 8 * pairs * 8
            && out.len() >= n * co,
        "tiles: operands shorter than the tiles"
    );
    let mut t = 0;
    while t < n {
        let rows = (n - t).min(TILE_ROWS);
        let xt = &xb[t * stride..];
        let mut chunks = out[t * co..(t + rows) * co].chunks_exact_mut(co);
        let mut out_rows: [&mut [i8]; TILE_ROWS] = Default::default();
        for slot in out_rows.iter_mut().take(rows) {
            *slot = chunks.next().expect("rows chunks of co");
        }
        let mut panel = panels.start;
        while panel < panels.end {
            let step = (panels.end - panel).min(2);
            macro_rules! go {
                ($r:literal, $p:literal) => {
                    tile::<$r, $p>(
                        xt,
                        stride,
                        pairs,
                        weights,
                        panel,
                        params,
                        c8,
                        co,
                        h,
                        &mut out_rows,
                    )
                };
            }
            // SAFETY: AVX2 (this function's contract); `xt`'s `rows` rows hold `pairs` words
            // and `weights` every panel's (asserted above).
            unsafe {
                match (rows, step) {
                    (6, 2) => go!(6, 2),
                    (5, 2) => go!(5, 2),
                    (4, 2) => go!(4, 2),
                    (3, 2) => go!(3, 2),
                    (2, 2) => go!(2, 2),
                    (1, 2) => go!(1, 2),
                    (6, _) => go!(6, 1),
                    (5, _) => go!(5, 1),
                    (4, _) => go!(4, 1),
                    (3, _) => go!(3, 1),
                    (2, _) => go!(2, 1),
                    _ => go!(1, 1),
                }
            }
            panel += step;
        }
        t += rows;
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
    rows: Range<usize>,
    out: &mut [i8],
) {
    const MAX_TAPS: usize = 25;
    let c8 = co8(C);
    let h = ConvHeader::read(params);
    let stage = Output::new(&h);
    let zx = _mm256_set1_epi32(h.input_zero_point);
    let wbase = weights.as_ptr().cast::<i32>();
    assert!(rows.end <= HO && weights.len() >= KH * KW * c8 && input.len() >= H * W * C);
    assert!(out.len() >= rows.len() * WO * C);
    assert!(params.len() >= super::CONV_HEADER + 3 * c8);
    let taps = KH * KW;
    // 3x3 kernels: blocks of 16 channels through `vpmaddwd` over tap pairs; the rest (a tail
    // of fewer than 16 channels, other kernel sizes) 8 channels at a time below.
    let mut c0 = 0;
    // 8 channels at stride 1: pixel pairs as 16-channel blocks inside the image.
    let paired = KH == 3 && KW == 3 && C == 8 && SW == 1;
    if KH == 3 && KW == 3 {
        c0 = C / 16 * 16;
        // SAFETY: AVX2 (this function's contract); lengths checked above.
        unsafe {
            if paired {
                depthwise3x3_16::<H, W, C, HO, WO, SH, SW, PT, PL, true>(
                    input,
                    weights,
                    params,
                    rows.clone(),
                    out,
                    &h,
                )
            } else {
                depthwise3x3_16::<H, W, C, HO, WO, SH, SW, PT, PL, false>(
                    input,
                    weights,
                    params,
                    rows.clone(),
                    out,
                    &h,
                )
            }
        };
    }
    while c0 < C {
        let n = (C - c0).min(8);
        let mut wv = [_mm256_setzero_si256(); MAX_TAPS];
        for (t, w) in wv.iter_mut().enumerate().take(taps.min(MAX_TAPS)) {
            // SAFETY: word `t * c8 + c0 .. + 8` is inside the `KH * KW * c8` weights.
            *w = unsafe { _mm256_loadu_si256(wbase.add(t * c8 + c0).cast()) };
        }
        // SAFETY: AVX2 (this function's contract); the parameter region holds `c8` channels
        // (checked above) and `c0 + 8 <= c8`.
        let (bias, scale) = unsafe { (bias8(params, c8, c0), Scale8::load(params, c8, c0)) };
        for oy in rows.clone() {
            let row_inside = oy * SH >= PT && oy * SH - PT + KH <= H;
            let (done_from, done_to) = if paired {
                paired_span::<W, WO, PL>(row_inside)
            } else {
                (0, 0)
            };
            for ox in 0..WO {
                if (done_from..done_to).contains(&ox) {
                    continue;
                }
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
                    let v = scale.apply(_mm256_add_epi32(acc, bias));
                    let o = ((oy - rows.start) * WO + ox) * C + c0;
                    store_bytes(stage.bytes([v; 4]), &mut out[o..], 8);
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
                let v = scale.apply(_mm256_add_epi32(acc, bias));
                let o = ((oy - rows.start) * WO + ox) * C + c0;
                store_bytes(stage.bytes([v; 4]), &mut out[o..], n);
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
/// channels, `input` `H * W * C` values and `out` the `WO * C` of each row in `rows`.
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
    const PAIRED: bool,
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    rows: Range<usize>,
    out: &mut [i8],
    h: &ConvHeader,
) {
    let c8 = co8(C);
    debug_assert!(weights.len() >= 9 * c8 && params.len() >= super::CONV_HEADER + 3 * c8);
    debug_assert!(input.len() >= H * W * C && out.len() >= rows.len() * WO * C);
    let stage = Output::new(h);
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
    // Paired (8 channels, stride 1): lanes 8-15 are the next output pixel's channels 0-7,
    // whose inputs are the next 8 bytes of each tap, and whose weights are lanes 0-7's.
    let second = if PAIRED { 0 } else { 8 };
    for oy in rows.clone() {
        let row_inside = oy * SH >= PT && oy * SH - PT + 3 <= H;
        for b in 0..if PAIRED { 1 } else { C / 16 } {
            let c = b * 16;
            // The block's weights as tap pairs, and its sums of weights.
            let mut wt = [_mm256_setzero_si256(); 10];
            let mut wsum = (_mm256_setzero_si256(), _mm256_setzero_si256());
            let mut taps16 = [_mm256_setzero_si256(); 10];
            for (t, tap) in taps16.iter_mut().enumerate().take(9) {
                let (w0, w1) = (load(wbase, t * c8 + c), load(wbase, t * c8 + c + second));
                wsum = (_mm256_add_epi32(wsum.0, w0), _mm256_add_epi32(wsum.1, w1));
                *tap = _mm256_permute4x64_epi64(_mm256_packs_epi32(w0, w1), 0b11_01_10_00);
            }
            for p in 0..5 {
                wt[2 * p] = _mm256_unpacklo_epi16(taps16[2 * p], taps16[2 * p + 1]);
                wt[2 * p + 1] = _mm256_unpackhi_epi16(taps16[2 * p], taps16[2 * p + 1]);
            }
            let hdr = super::CONV_HEADER;
            let (bias_lo, bias_hi) = split(load(pbase, hdr + c), load(pbase, hdr + c + second));
            let (mult_lo, mult_hi) = split(
                load(pbase, hdr + c8 + c),
                load(pbase, hdr + c8 + c + second),
            );
            let (sh_lo, sh_hi) = split(
                load(pbase, hdr + 2 * c8 + c),
                load(pbase, hdr + 2 * c8 + c + second),
            );
            let (scale_lo, scale_hi) = (Scale8::new(mult_lo, sh_lo), Scale8::new(mult_hi, sh_hi));
            let (ws_lo, ws_hi) = split(wsum.0, wsum.1);
            let fold_lo = _mm256_sub_epi32(bias_lo, _mm256_mullo_epi32(ws_lo, zp32));
            let fold_hi = _mm256_sub_epi32(bias_hi, _mm256_mullo_epi32(ws_hi, zp32));
            let (pairs_from, pairs_to) = paired_span::<W, WO, PL>(row_inside);
            let (first, last, step) = if PAIRED {
                (pairs_from, pairs_to, 2)
            } else {
                (0, WO, 1)
            };
            for ox in (first..last).step_by(step) {
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
                let (lo, hi) = (scale_lo.apply(lo), scale_hi.apply(hi));
                let v = stage.bytes16(lo, hi);
                let o = ((oy - rows.start) * WO + ox) * C + c;
                // SAFETY: channels `c..c + 16` of output pixel `(oy, ox)` are inside `out`
                // (which starts at row `rows.start`).
                unsafe { _mm_storeu_si128(out.as_mut_ptr().add(o).cast(), v) };
            }
        }
    }
}

/// The output columns `[from, to)` of a row whose 3x3 stride-1 windows lie inside the image, cut
/// to an even count: [`depthwise3x3_16`]'s pixel pairs. Empty when the row's windows are not.
#[inline]
fn paired_span<const W: usize, const WO: usize, const PL: usize>(
    row_inside: bool,
) -> (usize, usize) {
    // Column `ox` reads input columns `ox - PL .. ox - PL + 3`.
    let to = WO.min((W + PL).saturating_sub(2));
    if !row_inside || to <= PL {
        return (0, 0);
    }
    (PL, PL + (to - PL) / 2 * 2)
}

/// AVX2 full convolution: operands as [`super::kernels::conv2d`], lengths already checked.
/// A small one (the stem: `KH * KW * CI <= 64`, at most 64 output channels) runs as a pointwise
/// layer over its gathered patches ([`conv2d_tiled`]); otherwise, per output pixel and block of
/// 8 output channels, every tap's input (zero point subtracted) is broadcast and multiplied
/// with the tap's 8 weights (`vpmulld`).
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
    rows: Range<usize>,
    out: &mut [i8],
) {
    let c8 = co8(CO);
    let h = ConvHeader::read(params);
    let stage = Output::new(&h);
    let wbase = weights.as_ptr().cast::<i32>();
    assert!(
        rows.end <= HO
            && weights.len() >= KH * KW * CI * c8
            && input.len() >= H * W * CI
            && out.len() >= rows.len() * WO * CO
    );
    if KH * KW * CI <= 2 * IM2COL_PAIRS && c8 <= IM2COL_C8 {
        // SAFETY: AVX2 (this function's contract); lengths checked above.
        unsafe {
            conv2d_tiled::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(
                input, weights, params, rows, out, &h,
            )
        };
        return;
    }
    // Up to 8 blocks of 8 output channels at a time (64 channels of accumulators).
    const BLOCKS: usize = 8;
    for oy in rows.clone() {
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
                let o = ((oy - rows.start) * WO + ox) * CO;
                for (b, &a) in acc.iter().enumerate().take(nb) {
                    let c0 = (b0 + b) * 8;
                    // SAFETY: AVX2 (this function's contract); `c0 + 8 <= c8`.
                    let (bias, scale) =
                        unsafe { (bias8(params, c8, c0), Scale8::load(params, c8, c0)) };
                    let v = stage.bytes([scale.apply(_mm256_add_epi32(a, bias)); 4]);
                    store_bytes(v, &mut out[o + c0..], (CO - c0).min(8));
                }
                b0 += nb;
            }
        }
    }
}

/// The most `KH * KW * CI` pairs of a convolution [`conv2d_tiled`] takes (a patch of 64 values)
/// and its most padded output channels: its repacked weights live on the stack.
const IM2COL_PAIRS: usize = 32;
const IM2COL_C8: usize = 64;

/// A small full convolution as a pointwise layer over its patches: each output pixel's
/// `KH * KW * CI` inputs (zero point subtracted, 0 outside the image: TFLite pads with the zero
/// point) gathered as `i16` pairs, the weights repacked once per call into the pointwise
/// kernel's panels, then the pointwise tiles (`vpmaddwd`, 16 products per instruction instead
/// of `vpmulld`'s 8).
///
/// # Safety
///
/// AVX2; `KH * KW * CI <= 2 * IM2COL_PAIRS`, `co8(CO) <= IM2COL_C8`, and the operands' lengths
/// checked as [`conv2d`] does.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn conv2d_tiled<
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
    h: &ConvHeader,
) {
    let (k, c8) = (KH * KW * CI, co8(CO));
    let pairs = k.div_ceil(2);
    debug_assert!(pairs <= IM2COL_PAIRS && c8 <= IM2COL_C8 && weights.len() >= k * c8);
    let w = words(weights);
    // Weight `(row, o)` is word `row * c8 + o` (row = (ky * KW + kx) * CI + i); a panel word
    // holds rows 2j and 2j + 1 as the low and high `i16`. Values lie within 255 in magnitude.
    let mut panels = [0i32; IM2COL_PAIRS * IM2COL_C8];
    for panel in 0..c8 / 8 {
        for j in 0..pairs {
            for l in 0..8 {
                let o = panel * 8 + l;
                let lo = w[2 * j * c8 + o] as i16 as u16 as u32;
                let hi = if 2 * j + 1 < k {
                    w[(2 * j + 1) * c8 + o] as i16 as u16 as u32
                } else {
                    0
                };
                panels[(panel * pairs + j) * 8 + l] = (lo | (hi << 16)) as i32;
            }
        }
    }
    let zp = h.input_zero_point;
    let zp16 = _mm256_set1_epi16(zp as i16);
    // Patches are gathered for a batch of pixels before any is read: a word read while the
    // `i16` stores that wrote its two halves are still in flight cannot be forwarded from
    // them and stalls.
    const BATCH: usize = 16;
    let mut xb = [0i32; 4 * BATCH * IM2COL_PAIRS];
    // Output pixels `first..last`; `out` starts at `first`.
    let (first, last) = (rows.start * WO, rows.end * WO);
    let mut p = first;
    while p < last {
        let n = (last - p).min(4 * BATCH);
        for (q, xr) in xb.chunks_exact_mut(IM2COL_PAIRS).enumerate().take(n) {
            let (oy, ox) = ((p + q) / WO, (p + q) % WO);
            // The row's words as the `i16` values they pair (little-endian: value 2j is word
            // j's low half).
            let patch = xr.as_mut_ptr().cast::<i16>();
            let seg = KW * CI;
            let inside =
                oy * SH >= PT && oy * SH - PT + KH <= H && ox * SW >= PL && ox * SW - PL + KW <= W;
            let base = if inside {
                ((oy * SH - PT) * W + ox * SW - PL) * CI
            } else {
                0
            };
            if inside
                && seg <= 16
                && (KH - 1) * seg + 16 <= 2 * IM2COL_PAIRS
                && base + ((KH - 1) * W) * CI + 16 <= input.len()
            {
                // Each kernel row's inputs are `KW * CI` consecutive bytes: one 16-byte load
                // widened, the zero point subtracted, stored over the patch (the next row
                // overwrites the extra values; the one after the last row is zeroed).
                for ky in 0..KH {
                    // SAFETY: bytes `base + ky * W * CI .. + 16` lie inside `input` (checked
                    // above); values `ky * seg .. + 16` inside the row's `2 * IM2COL_PAIRS`
                    // (`(KH - 1) * seg + 16 <= 2 * IM2COL_PAIRS`); unaligned load and store.
                    unsafe {
                        let x = _mm_loadu_si128(input.as_ptr().add(base + ky * W * CI).cast());
                        let v = _mm256_sub_epi16(_mm256_cvtepi8_epi16(x), zp16);
                        _mm256_storeu_si256(patch.add(ky * seg).cast(), v);
                    }
                }
                if k % 2 == 1 {
                    // SAFETY: value `k < 2 * pairs <= 2 * IM2COL_PAIRS` of the row.
                    unsafe { *patch.add(k) = 0 };
                }
                continue;
            }
            xr[..pairs].fill(0);
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
                    for (i, &x) in px.iter().enumerate() {
                        let at = (ky * KW + kx) * CI + i;
                        // SAFETY: value `at < k <= 2 * IM2COL_PAIRS` of the row.
                        unsafe { *patch.add(at) = (x as i32 - zp) as i16 };
                    }
                }
            }
        }
        let rows_out = &mut out[(p - first) * CO..(p - first + n) * CO];
        // SAFETY: AVX2 (this function's contract); the first `n` rows of `xb` hold `pairs`
        // words at stride IM2COL_PAIRS, `panels` every panel's `pairs * 8`.
        unsafe {
            tiles(
                &xb,
                IM2COL_PAIRS,
                n,
                pairs,
                &panels,
                0..c8 / 8,
                params,
                CO,
                h,
                rows_out,
            )
        };
        p += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::tests::requant_case;

    fn vec8(v: [i32; 8]) -> __m256i {
        // SAFETY: an unaligned load of 8 words from an array of 8.
        unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
    }

    fn lanes(v: __m256i) -> [i32; 8] {
        let mut out = [0i32; 8];
        // SAFETY: an unaligned store of 8 words into an array of 8.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
        out
    }

    /// The requantization primitives against the scalar TFLite formulas, lane by lane, over
    /// every shift packing can write (left shifts included, which the layer tests' scales do
    /// not reach), extreme sums and activation ranges.
    #[test]
    fn requantization_matches_scalar() {
        if !crate::kernels::Isa::Avx2.is_supported() {
            std::eprintln!("AVX2 not supported by this CPU: skipped");
            return;
        }
        let mut seed = 3;
        for round in 0..20_000 {
            let (x, mult, shift, h, want, clamped) = requant_case::<8>(round, &mut seed);
            // SAFETY: AVX2 is supported (checked above).
            let (got, bytes, bytes16) = unsafe {
                let s = Scale8::new(vec8(mult), vec8(shift));
                let v = s.apply(vec8(x));
                let out = Output::new(&h);
                let mut b = [0i8; 32];
                _mm256_storeu_si256(b.as_mut_ptr().cast(), out.bytes([v, v, v, v]));
                // `bytes16` reads channels 0-3 | 8-11 from `lo`, 4-7 | 12-15 from `hi`.
                let mut b16 = [0i8; 16];
                _mm_storeu_si128(b16.as_mut_ptr().cast(), out.bytes16(v, v));
                (lanes(v), b, b16)
            };
            assert_eq!(got, want, "x {x:?} mult {mult:?} shift {shift:?}");
            for l in 0..8 {
                for q in 0..4 {
                    assert_eq!(bytes[q * 8 + l] as i32, clamped[l], "bytes lane {l}");
                }
                let c16 = [
                    l % 4 + if l < 4 { 0 } else { 8 },
                    l % 4 + if l < 4 { 4 } else { 12 },
                ];
                for c in c16 {
                    assert_eq!(bytes16[c] as i32, clamped[l], "bytes16 channel {c}");
                }
            }
        }
    }
}
