//! AVX-512 (F, BW, VNNI) variants of the quantized kernels, twins of the scalar ones in
//! [`super::kernels`] bit for bit (integer arithmetic only).
//!
//! Pointwise, on weights packed as [`PointwiseLayout::Quads`](super::PointwiseLayout): a tile
//! of up to 6 pixels x 4 panels (64 output channels), 24 accumulators of 16 `i32`. Per group
//! of 4 input channels, each pixel's 4 stored bytes are broadcast and `vpdpbusd` multiplies
//! them (signed) with a panel's 16 x 4 offset weights (unsigned), adding the four products into
//! each channel's sum: 64 multiply-adds per instruction, no intermediate that can saturate.
//! Each pixel's input sum (one `vpdpbusd` against ones per 64 inputs) gives the weight
//! offset's correction. Pixel blocks are the outer loop (measured 5% faster on v1 1.0/224's
//! layers than panel groups outermost with the group's weights in L1).
//!
//! Depthwise 3x3 and add: 16 channels per vector, `vpdpwssd` over `i16` tap pairs for the
//! former (see [`depthwise3x3`]); requantization as the AVX2 kernels', on 16 lanes.

use core::arch::x86_64::*;

use super::{co16, co8, ConvHeader};

/// The requantization scale of 16 channels: TFLite's `MultiplyByQuantizedMultiplier` (double
/// rounding) with per-lane multipliers (non-negative) and shifts, as the AVX2 kernels' `Scale8`
/// on 16 lanes.
#[derive(Clone, Copy)]
struct Scale16 {
    mult: __m512i,
    /// The odd lanes' multipliers moved to the even lanes (`vpmuldq` reads those).
    mult_odd: __m512i,
    left: __m512i,
    right: __m512i,
    /// `2^right - 1`.
    mask: __m512i,
    /// `mask / 2`.
    half: __m512i,
}

/// The lanes `o0..o0 + 16` of a region of `c8` channels that exist (`o0 < c8`, both multiples
/// of 8, so the last panel may have 8 lanes).
#[inline(always)]
fn lanes(c8: usize, o0: usize) -> __mmask16 {
    let n = (c8 - o0).min(16);
    ((1u32 << n) - 1) as __mmask16
}

/// Words `o0..o0 + 16` of the `c8`-word array at word `at` of `params`, the lanes past `c8`
/// zero.
///
/// # Safety
///
/// AVX-512F; `params` holds at least `at + c8` words and `o0 < c8`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn channels16(params: &[f32], at: usize, c8: usize, o0: usize) -> __m512i {
    debug_assert!(o0 < c8 && params.len() >= at + c8);
    // SAFETY: the masked lanes are words `at + o0 .. at + min(o0 + 16, c8)`, inside `params`
    // (the caller's guarantee); masked-off lanes are not read.
    unsafe { _mm512_maskz_loadu_epi32(lanes(c8, o0), params.as_ptr().cast::<i32>().add(at + o0)) }
}

impl Scale16 {
    /// Channels `o0..o0 + 16` of a packed parameter region of `c8` channels.
    ///
    /// # Safety
    ///
    /// AVX-512F; `params` holds the parameter region of a layer with `c8` padded channels and
    /// `o0 < c8`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load(params: &[f32], c8: usize, o0: usize) -> Self {
        // SAFETY: the multiplier and shift arrays hold `c8` words each after the header and the
        // bias (the caller's guarantee).
        let (mult, shift) = unsafe {
            (
                channels16(params, super::CONV_HEADER + c8, c8, o0),
                channels16(params, super::CONV_HEADER + 2 * c8, c8, o0),
            )
        };
        Scale16::new(mult, shift)
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn new(mult: __m512i, shift: __m512i) -> Self {
        let zero = _mm512_setzero_si512();
        let one = _mm512_set1_epi32(1);
        let right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
        let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
        Scale16 {
            mult,
            mult_odd: _mm512_srli_epi64(mult, 32),
            left: _mm512_max_epi32(shift, zero),
            right,
            mask,
            half: _mm512_srli_epi32(mask, 1),
        }
    }

    /// `MBQM(x)` in each lane.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn apply(&self, x: __m512i) -> __m512i {
        let x = _mm512_sllv_epi32(x, self.left);
        // Rounding doubling high multiply, even and odd lanes as 64-bit products: bits 31..62
        // of each product are the result (shifted down for the even lanes, up for the odd).
        let nudge = _mm512_set1_epi64(1 << 30);
        let even = _mm512_add_epi64(_mm512_mul_epi32(x, self.mult), nudge);
        let odd = _mm512_add_epi64(
            _mm512_mul_epi32(_mm512_srli_epi64(x, 32), self.mult_odd),
            nudge,
        );
        let h = _mm512_mask_blend_epi32(
            0b1010_1010_1010_1010,
            _mm512_srli_epi64(even, 31),
            _mm512_slli_epi64(odd, 1),
        );
        // Rounding divide by 2^right, ties away from zero: up by one where the remainder
        // exceeds half the divisor (plus one for negative values).
        let remainder = _mm512_and_si512(h, self.mask);
        let threshold = _mm512_sub_epi32(self.half, _mm512_srai_epi32(h, 31));
        let up = _mm512_cmpgt_epi32_mask(remainder, threshold);
        let q = _mm512_srav_epi32(h, self.right);
        _mm512_mask_add_epi32(q, up, q, _mm512_set1_epi32(1))
    }
}

/// The output stage: the output zero point added (saturating, as the scalar kernels) and the
/// activation range applied, narrowed to 16 bytes.
#[derive(Clone, Copy)]
struct Output {
    zp: __m512i,
    lo: __m512i,
    hi: __m512i,
}

impl Output {
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn new(h: &ConvHeader) -> Self {
        Output {
            zp: _mm512_set1_epi32(h.output_zero_point),
            lo: _mm512_set1_epi32(h.act_min),
            hi: _mm512_set1_epi32(h.act_max),
        }
    }

    /// `clamp(v + zp)` as bytes. Exact: `v` is first clamped to `±2^16`, which changes no
    /// result (the zero point and the range lie inside `i8`), so the add cannot overflow.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn bytes(&self, v: __m512i) -> __m128i {
        let bound = _mm512_set1_epi32(1 << 16);
        let v = _mm512_min_epi32(_mm512_max_epi32(v, _mm512_sub_epi32(self.zp, bound)), bound);
        let v = _mm512_add_epi32(v, self.zp);
        _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, self.lo), self.hi))
    }
}

/// The sum of `n` stored input bytes at `px`: `vpdpbusd` against ones, 64 bytes a step (the
/// tail through a masked load).
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI; `px` points to `n` readable bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn input_sum(px: *const i8, n: usize) -> i32 {
    let ones = _mm512_set1_epi8(1);
    let mut acc = _mm512_setzero_si512();
    let mut c = 0;
    while c + 64 <= n {
        // SAFETY: bytes `c..c + 64` of the `n` at `px` (the caller's guarantee).
        let x = unsafe { _mm512_loadu_si512(px.add(c).cast()) };
        acc = _mm512_dpbusd_epi32(acc, ones, x);
        c += 64;
    }
    if c < n {
        // SAFETY: the masked bytes are `c..n`, inside the `n` at `px`; the rest is not read.
        let x = unsafe { _mm512_maskz_loadu_epi8((1u64 << (n - c)) - 1, px.add(c)) };
        acc = _mm512_dpbusd_epi32(acc, ones, x);
    }
    _mm512_reduce_add_epi32(acc)
}

/// The pixels of a pointwise layer a tile covers.
const ROWS: usize = 6;
/// The 16-channel panels a tile covers.
const PANELS: usize = 4;

/// A pointwise layer's operands as the tiles read them.
struct Layer<'a> {
    /// The stored inputs, `ci` per pixel.
    input: *const i8,
    ci: usize,
    /// Packed quads: `panels` panels of `ci / 4 * 16` words.
    weights: *const i32,
    params: &'a [f32],
    co: usize,
    h: ConvHeader,
    out: *mut i8,
}

/// One tile: `R` pixels from pixel `p` x `P` panels from `panel`.
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI; `l`'s pointers cover the layer (inputs of every pixel `p..p + R`,
/// every weight panel `panel..panel + P`, their outputs), `panel + P <= co16(co) / 16`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<const R: usize, const P: usize>(
    l: &Layer<'_>,
    p: usize,
    panel: usize,
    corr: &[i32; ROWS],
) {
    let (ci, quads, c8) = (l.ci, l.ci / 4, co8(l.co));
    // SAFETY: pixel `p + r`'s `ci` inputs are inside the layer's input (the caller's guarantee).
    let x: [*const i8; R] = core::array::from_fn(|r| unsafe { l.input.add((p + r) * ci) });
    let mut acc = [[_mm512_setzero_si512(); P]; R];
    {
        // The accumulators start at bias - c * sum(x) (the offset's correction per pixel).
        let corr: [__m512i; R] = core::array::from_fn(|r| _mm512_set1_epi32(corr[r]));
        for q in 0..P {
            // Every panel holds a real channel: `16 * panel < co16(co)` implies `< co <= c8`.
            let o0 = (panel + q) * 16;
            debug_assert!(o0 < l.co);
            // SAFETY: the bias array holds `c8` words after the header, and `o0 < c8`.
            let b = unsafe { channels16(l.params, super::CONV_HEADER, c8, o0) };
            for r in 0..R {
                acc[r][q] = _mm512_sub_epi32(b, corr[r]);
            }
        }
    }
    // SAFETY: panel `panel + q`'s words start there and hold `quads * 16` words.
    let w: [*const i32; P] =
        core::array::from_fn(|q| unsafe { l.weights.add((panel + q) * quads * 16) });
    for k in 0..quads {
        // SAFETY: word `k * 16 .. + 16` of each of the tile's panels (the caller's guarantee);
        // unaligned loads.
        let wq: [__m512i; P] =
            core::array::from_fn(|q| unsafe { _mm512_loadu_si512(w[q].add(k * 16).cast()) });
        for r in 0..R {
            // SAFETY: bytes `4k..4k + 4` of pixel `p + r`'s inputs (`4 * quads == ci`).
            let v = unsafe { x[r].add(4 * k).cast::<i32>().read_unaligned() };
            let xv = _mm512_set1_epi32(v);
            for q in 0..P {
                acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], wq[q], xv);
            }
        }
    }
    let out = Output::new(&l.h);
    for q in 0..P {
        let o0 = (panel + q) * 16;
        // SAFETY: `o0 < co <= c8` (above), the parameter region has `c8` channels.
        let s = unsafe { Scale16::load(l.params, c8, o0) };
        let n = (l.co - o0).min(16);
        let keep = ((1u32 << n) - 1) as __mmask16;
        for r in 0..R {
            let v = out.bytes(s.apply(acc[r][q]));
            // SAFETY: bytes `o0..o0 + n` of pixel `p + r`'s output row (`o0 + n <= co`).
            unsafe { _mm_mask_storeu_epi8(l.out.add((p + r) * l.co + o0), keep, v) };
        }
    }
}

/// AVX-512 VNNI pointwise on weights packed as quads: operands as [`super::kernels::pointwise`].
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI must be supported by the CPU.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn pointwise_quads<const HW: usize, const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    super::kernels::check_pointwise::<HW, CI, CO>(input, weights, params, out);
    let h = ConvHeader::read(params);
    super::kernels::check_quads(&h, CI);
    let panels = co16(CO) / 16;
    debug_assert!(weights.len() >= panels * CI / 4 * 16);
    let l = Layer {
        input: input.as_ptr(),
        ci: CI,
        weights: weights.as_ptr().cast::<i32>(),
        params,
        co: CO,
        h,
        out: out.as_mut_ptr(),
    };
    let mut p = 0;
    while p < HW {
        let rows = (HW - p).min(ROWS);
        // Each pixel's offset correction `c * sum(x)`, once for all its panels.
        let corr: [i32; ROWS] = core::array::from_fn(|r| {
            if r < rows {
                // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract); pixel `p + r`'s
                // `CI` inputs are inside `input` (`p + r < HW`, lengths checked on entry).
                let s = unsafe { input_sum(input.as_ptr().add((p + r) * CI), CI) };
                h.weight_offset.wrapping_mul(s)
            } else {
                0
            }
        });
        let mut panel = 0;
        while panel < panels {
            let step = (panels - panel).min(PANELS);
            macro_rules! go {
                ($($r:literal)*; $($q:literal)*) => {
                    go!(@rows [$($r)*] [$($q)*])
                };
                (@rows [$($r:literal)*] $qs:tt) => {
                    match rows {
                        $($r => go!(@panels $r $qs),)*
                        _ => unreachable!(),
                    }
                };
                (@panels $r:literal [$($q:literal)*]) => {
                    match step {
                        // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract); pixels
                        // `p..p + rows` and panels `panel..panel + step` are inside the layer
                        // (the lengths checked on entry).
                        $($q => unsafe { tile::<$r, $q>(&l, p, panel, &corr) },)*
                        _ => unreachable!(),
                    }
                };
            }
            go!(1 2 3 4 5 6; 1 2 3 4);
            panel += step;
        }
        p += rows;
    }
}

/// AVX-512 3x3 depthwise: operands as [`super::kernels::depthwise`] with `KH = KW = 3`, lengths
/// already checked. Output rows outermost, then blocks of 16 channels (the last one masked),
/// the block's taps, bias and scale in registers for the row. Inputs are widened to `i32` with
/// the zero point subtracted, once per input column of the row: rows 0 and 1 of the window
/// packed as an `i16` pair per lane, row 2 alone (its pair weight is 0), so that each output
/// is six `vpdpwssd` over the three columns under it, and neighbouring outputs share the
/// columns they overlap (all but one at stride 1). Taps outside the input are zero (TFLite
/// pads with the zero point). Operands stay within 255 in magnitude: nothing saturates.
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI must be supported by the CPU.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn depthwise3x3<
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
) {
    let c8 = co8(C);
    assert!(weights.len() >= 9 * c8 && input.len() >= H * W * C && out.len() >= HO * WO * C);
    assert!(params.len() >= super::CONV_HEADER + 3 * c8);
    let h = ConvHeader::read(params);
    let stage = Output::new(&h);
    let zp = _mm512_set1_epi32(h.input_zero_point);
    let low = _mm512_set1_epi32(0xffff);
    let x = input.as_ptr();
    for oy in 0..HO {
        // The window's three input rows, or none where outside the image.
        let rows: [Option<usize>; 3] = core::array::from_fn(|ky| {
            let iy = (oy * SH + ky).wrapping_sub(PT);
            (iy < H).then_some(iy)
        });
        let mut c0 = 0;
        while c0 < C {
            let n = (C - c0).min(16);
            let bytes = ((1u32 << n) - 1) as __mmask16;
            // Tap (ky, kx)'s 16 weights (`w - z_w`, within `i16`).
            // SAFETY: word `t * c8 + c0 ..` of the `9 * c8` weights; the lanes past `c8` are
            // masked off.
            let tap = |t: usize| unsafe { channels16(weights, t * c8, c8, c0) };
            let w01: [__m512i; 3] = core::array::from_fn(|kx| {
                _mm512_or_si512(
                    _mm512_and_si512(tap(kx), low),
                    _mm512_slli_epi32(tap(3 + kx), 16),
                )
            });
            let w2: [__m512i; 3] = core::array::from_fn(|kx| _mm512_and_si512(tap(6 + kx), low));
            // SAFETY: the bias array holds `c8` words after the header; `c0 < C <= c8`.
            let bias = unsafe { channels16(params, super::CONV_HEADER, c8, c0) };
            // SAFETY: the parameter region has `c8` channels and `c0 < c8`.
            let scale = unsafe { Scale16::load(params, c8, c0) };
            // Input column `j` (in padded coordinates) under the window: rows 0 and 1 as an
            // `i16` pair per lane, row 2 alone, zero point subtracted; zero outside.
            let column = |j: usize| -> (__m512i, __m512i) {
                let ix = j.wrapping_sub(PL);
                if ix >= W {
                    return (_mm512_setzero_si512(), _mm512_setzero_si512());
                }
                let row = |r: Option<usize>| match r {
                    // SAFETY: pixel `(iy, ix)` is inside the image and channels `c0..c0 + n`
                    // inside its `C`; the other bytes are masked off.
                    Some(iy) => _mm512_sub_epi32(
                        _mm512_cvtepi8_epi32(unsafe {
                            _mm_maskz_loadu_epi8(bytes, x.add((iy * W + ix) * C + c0))
                        }),
                        zp,
                    ),
                    None => _mm512_setzero_si512(),
                };
                let (r0, r1, r2) = (row(rows[0]), row(rows[1]), row(rows[2]));
                (
                    _mm512_or_si512(_mm512_and_si512(r0, low), _mm512_slli_epi32(r1, 16)),
                    r2,
                )
            };
            let mut win = [column(0), column(1), column(2)];
            for ox in 0..WO {
                let j = ox * SW;
                if ox > 0 {
                    win = match SW {
                        1 => [win[1], win[2], column(j + 2)],
                        2 => [win[2], column(j + 1), column(j + 2)],
                        _ => [column(j), column(j + 1), column(j + 2)],
                    };
                }
                let mut a = bias;
                let mut b = _mm512_setzero_si512();
                for kx in 0..3 {
                    a = _mm512_dpwssd_epi32(a, win[kx].0, w01[kx]);
                    b = _mm512_dpwssd_epi32(b, win[kx].1, w2[kx]);
                }
                let v = stage.bytes(scale.apply(_mm512_add_epi32(a, b)));
                // SAFETY: channels `c0..c0 + n` of output pixel `(oy, ox)` are inside `out`.
                unsafe {
                    _mm_mask_storeu_epi8(out.as_mut_ptr().add((oy * WO + ox) * C + c0), bytes, v)
                };
            }
            c0 += 16;
        }
    }
}

/// AVX-512 quantized add: operands as [`super::kernels::add`], lengths already checked; 16
/// values per step (the tail through masked loads and stores).
///
/// # Safety
///
/// AVX-512F, BW and VL must be supported by the CPU.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn add(a: &[i8], b: &[i8], p: &super::AddParams, out: &mut [i8]) {
    let n = a.len().min(b.len()).min(out.len());
    let [(m1, s1), (m2, s2), (mo, so)] = p.multipliers;
    let v = |x: i32| _mm512_set1_epi32(x);
    let (z1, z2, zo) = (
        v(p.zero_points[0]),
        v(p.zero_points[1]),
        v(p.zero_points[2]),
    );
    let (s1, s2, so) = (
        Scale16::new(v(m1), v(s1)),
        Scale16::new(v(m2), v(s2)),
        Scale16::new(v(mo), v(so)),
    );
    let (lo, hi) = (v(p.act_min), v(p.act_max));
    let ls = _mm_cvtsi32_si128(p.left_shift);
    let mut i = 0;
    while i < n {
        let k = ((1u32 << (n - i).min(16)) - 1) as __mmask16;
        // SAFETY: the masked bytes `i..i + min(16, n - i)` are inside `a`, `b` and `out`
        // (`n` is the shortest length); the rest is neither read nor written.
        unsafe {
            let xa = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a.as_ptr().add(i)));
            let xb = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, b.as_ptr().add(i)));
            let xa = _mm512_sll_epi32(_mm512_sub_epi32(xa, z1), ls);
            let xb = _mm512_sll_epi32(_mm512_sub_epi32(xb, z2), ls);
            let sum = _mm512_add_epi32(s1.apply(xa), s2.apply(xb));
            let r = _mm512_add_epi32(so.apply(sum), zo);
            let r = _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
            _mm_mask_storeu_epi8(out.as_mut_ptr().add(i), k, _mm512_cvtepi32_epi8(r));
        }
        i += 16;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::quant::tests::requant_case;

    fn lanes(v: __m512i) -> [i32; 16] {
        // SAFETY: `__m512i` and `[i32; 16]` have the same size; every bit pattern is valid.
        unsafe { core::mem::transmute(v) }
    }

    /// The 16-lane requantization and output stage against the scalar TFLite formulas, lane by
    /// lane, over every shift packing can write, extreme sums and activation ranges (as the AVX2
    /// module's test of its 8-lane twin).
    #[test]
    fn requantization_matches_scalar() {
        if !crate::kernels::vnni_supported() {
            std::eprintln!("AVX-512 VNNI not supported by this CPU: skipped");
            return;
        }
        let mut seed = 5;
        for round in 0..20_000 {
            let (x, mult, shift, h, want, clamped) = requant_case::<16>(round, &mut seed);
            // SAFETY: AVX-512F is supported (checked above); `[i32; 16]` and `__m512i` have
            // the same size.
            let (got, bytes) = unsafe {
                let v16 = |a: [i32; 16]| core::mem::transmute::<[i32; 16], __m512i>(a);
                let v = Scale16::new(v16(mult), v16(shift)).apply(v16(x));
                let b: [i8; 16] = core::mem::transmute(Output::new(&h).bytes(v));
                (lanes(v), b)
            };
            assert_eq!(got, want, "x {x:?} mult {mult:?} shift {shift:?}");
            for l in 0..16 {
                assert_eq!(bytes[l] as i32, clamped[l], "bytes lane {l}");
            }
        }
    }
}
