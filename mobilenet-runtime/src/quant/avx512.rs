//! AVX-512 (F, BW, VL, VNNI) variants of the quantized kernels, twins of the scalar ones in
//! [`super::kernels`] bit for bit (integer arithmetic only).
//!
//! Requantization ([`Scale16`]) is TFLite's double rounding computed as one rounding: the two
//! floor divisions (by `2^31`, then by `2^right` with its sign-dependent rounding term) nest
//! into one arithmetic shift of the 64-bit product by `31 + right`, with the second rounding
//! term folded into the first. The output stage ([`Output::pack`]) narrows four vectors at
//! once with saturating packs, the activation range applied on the 64 bytes.
//!
//! Pointwise, on weights packed as quads ([`PointwiseLayout`]): a tile of up to 6 pixels x 4
//! panels (64 output channels), 24 accumulators of 16 `i32`. Per group of 4 input channels,
//! each pixel's 4 stored bytes are broadcast and `vpdpbusd` multiplies them with a panel's
//! 16 x 4 weights, adding the four products into each channel's sum: 64 multiply-adds per
//! instruction, no intermediate that can saturate. With signed quads the inputs, moved to `u8`
//! (`x ^ 0x80`), are the unsigned operand. With offset quads the weights are, and each
//! pixel's input sum (one `vpdpbusd` against ones per 64 inputs) gives the weight offset's
//! correction. Pixels are taken in blocks whose inputs stay in L1; within a block, each group
//! of 4 panels derives its requantization constants once for all the block's tiles.
//!
//! Depthwise 3x3 and add: 16 channels per vector; the former with `vpdpwssd` over `i16` tap
//! pairs, or where the taps fit bytes and the CPU has VBMI, `vpdpbusd` over byte columns (see
//! [`depthwise3x3`]).

use core::arch::x86_64::*;
use core::ops::Range;

use super::{co16, co8, ConvHeader, DepthwiseLayout, PointwiseLayout};

/// The requantization scale of 16 channels: TFLite's `MultiplyByQuantizedMultiplier` (double
/// rounding) with per-lane multipliers (non-negative) and shifts.
///
/// With `p = (x << left) * m` (64 bits) and `right = max(-shift, 0)`, TFLite computes
/// `h = floor((p + 2^30) / 2^31)` and then divides `h` by `2^right` rounding half away from
/// zero: `floor((h + t) / 2^right)` with `t = 2^(right-1)` for `h >= 0` and `2^(right-1) - 1`
/// for `h < 0` (both 0 when `right` is 0). Since `floor((floor(a / 2^31) + t) / 2^right) =
/// floor((a + t * 2^31) / 2^(31 + right))` for integers, the result is one arithmetic shift of
/// `p + 2^30 + t * 2^31`, and `h < 0` exactly when `p < -2^30`. `|p| < 2^62`, so nothing wraps.
/// The even and odd channels take a 64-bit lane each (`vpmuldq` reads the low double word of
/// each quad word); one two-source permute puts the 16 results back in order.
///
/// Two shortcuts, chosen per layer ([`Form`]): without left shifts the first step is skipped.
/// Where every channel shifts right (`right >= 1`, so `31 + right >= 32`) and the activation
/// range clamps every result `<= 0` to the same value (`act_min >= output_zero_point`, as
/// ReLU and ReLU6 do), [`Form::RightClamped`] drops the sign correction and the 64-bit shift:
/// - Where `p < -2^30`, `p + 2^30 + 2^(30 + right) < 2^(30 + right)`, so both the corrected
///   and the uncorrected quotient are `<= 0`; after the zero point and the clamp both are
///   `act_min`. Elsewhere nothing is corrected.
/// - `floor(u / 2^(31 + right)) = floor(floor(u / 2^32) / 2^(right - 1))`: the high double
///   word of each rounded product, shifted right in 32-bit lanes (16 at once). One in-lane
///   masked shuffle takes the even channels' high words down beside the odd ones'.
#[derive(Clone, Copy)]
struct Scale16 {
    /// The multipliers of the even channels (as they lie) and of the odd ones (moved down).
    mult: [__m512i; 2],
    /// `max(shift, 0)` of each channel.
    left: __m512i,
    /// Per quad word, even channels then odd: `2^30 + 2^(30 + right)` (`2^30` when `right`
    /// is 0).
    round: [__m512i; 2],
    /// `2^31` where `right > 0` (taken off `round` where the product is below `-2^30`).
    tie: [__m512i; 2],
    /// `31 + right`.
    shift: [__m512i; 2],
    /// `right - 1` per channel ([`Form::RightClamped`]'s shift of the high double words).
    high_shift: __m512i,
}

/// How a layer's requantization is computed ([`Scale16::apply`]): what its shifts and its
/// activation range let it skip. A const generic (`Form as u8`) of the kernels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Form {
    /// Any shifts, left ones too.
    Left = 0,
    /// No left shifts.
    NoLeft = 1,
    /// Every shift right and results `<= 0` clamped to one value (see [`Scale16`]).
    RightClamped = 2,
}

const LEFT: u8 = Form::Left as u8;
const NO_LEFT: u8 = Form::NoLeft as u8;
const RIGHT_CLAMPED: u8 = Form::RightClamped as u8;

impl Form {
    /// The fastest form for the first `n` channels of a conv-like layer's parameter region of
    /// `c8` channels (its header's activation range and output zero point).
    fn of(params: &[f32], c8: usize, n: usize) -> Form {
        let at = super::CONV_HEADER + 2 * c8;
        let shifts = || params[at..at + n].iter().map(|s| s.to_bits() as i32);
        let h = ConvHeader::read(params);
        if shifts().all(|s| s < 0) && h.act_min >= h.output_zero_point {
            Form::RightClamped
        } else if shifts().any(|s| s > 0) {
            Form::Left
        } else {
            Form::NoLeft
        }
    }
}

/// Double words `0, 16, 2, 18, ..`: the low halves of two vectors' quad words, interleaved.
const INTERLEAVE_LOW: [i32; 16] = {
    let mut a = [0; 16];
    let mut i = 0;
    while i < 8 {
        a[2 * i] = 2 * i as i32;
        a[2 * i + 1] = 16 + 2 * i as i32;
        i += 1;
    }
    a
};

/// Double words `0, 4, 8, 12, 1, 5, ..`: after `packs_epi32` and `packs_epi16` of four vectors,
/// each vector's 16 bytes back together, in order.
const UNPACK4: [i32; 16] = {
    let mut a = [0; 16];
    let mut i = 0;
    while i < 16 {
        a[i] = (4 * (i % 4) + i / 4) as i32;
        i += 1;
    }
    a
};

/// Words `0, 32, 1, 33, ..`: the first 16 words of two vectors, interleaved (tap pairs).
const PAIR_WORDS: [i16; 32] = {
    let mut a = [0; 32];
    let mut c = 0;
    while c < 16 {
        a[2 * c] = c as i16;
        a[2 * c + 1] = 32 + c as i16;
        c += 1;
    }
    a
};

/// A constant index vector.
#[target_feature(enable = "avx512f")]
#[inline]
fn index<T, const N: usize>(a: &[T; N]) -> __m512i {
    const { assert!(N * core::mem::size_of::<T>() == 64) };
    // SAFETY: `a` is 64 bytes (asserted above); unaligned load.
    unsafe { _mm512_loadu_si512(a.as_ptr().cast()) }
}

/// The lanes `o0..o0 + 16` of a region of `c8` channels that exist (`o0 < c8`, both multiples
/// of 8, so the last panel may have 8 lanes).
#[inline(always)]
fn lanes(c8: usize, o0: usize) -> __mmask16 {
    let n = (c8 - o0).min(16);
    ((1u32 << n) - 1) as __mmask16
}

/// The mask of the first `n <= 64` bytes.
#[inline(always)]
fn first_bytes(n: usize) -> __mmask64 {
    if n >= 64 {
        !0
    } else {
        (1u64 << n) - 1
    }
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
        // Shifts lie in [-31, 31] (packing's guarantee).
        let right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
        let high_shift = _mm512_sub_epi32(right, _mm512_set1_epi32(1));
        let right = [
            _mm512_and_si512(right, _mm512_set1_epi64(0xffff_ffff)),
            _mm512_srli_epi64(right, 32),
        ];
        let nonzero = right.map(|r| _mm512_min_epu64(r, _mm512_set1_epi64(1)));
        Scale16 {
            mult: [mult, _mm512_shuffle_epi32::<0xF5>(mult)],
            left: _mm512_max_epi32(shift, zero),
            round: core::array::from_fn(|i| {
                let t = _mm512_sllv_epi64(_mm512_slli_epi64(nonzero[i], 30), right[i]);
                _mm512_add_epi64(t, _mm512_set1_epi64(1 << 30))
            }),
            tie: nonzero.map(|nz| _mm512_slli_epi64(nz, 31)),
            shift: right.map(|r| _mm512_add_epi64(r, _mm512_set1_epi64(31))),
            high_shift,
        }
    }

    /// `MBQM(x)` in each lane, in the form `FORM` (a [`Form`] the lanes' parameters allow:
    /// [`Form::NoLeft`] skips the left shift, [`Form::RightClamped`] gives `MBQM(x)` only
    /// where it is positive, and some value `<= 0` elsewhere).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn apply<const FORM: u8>(&self, x: __m512i) -> __m512i {
        let x = if FORM == LEFT {
            _mm512_sllv_epi32(x, self.left)
        } else {
            x
        };
        let x = [x, _mm512_shuffle_epi32::<0xF5>(x)];
        if FORM == RIGHT_CLAMPED {
            let u: [__m512i; 2] = core::array::from_fn(|i| {
                _mm512_add_epi64(_mm512_mul_epi32(x[i], self.mult[i]), self.round[i])
            });
            // Double word 2k takes double word 2k + 1 of the even channels' products.
            let high = _mm512_mask_shuffle_epi32::<0xF5>(u[1], 0x5555, u[0]);
            return _mm512_srav_epi32(high, self.high_shift);
        }
        let q: [__m512i; 2] = core::array::from_fn(|i| {
            let p = _mm512_mul_epi32(x[i], self.mult[i]);
            let negative = _mm512_cmplt_epi64_mask(p, _mm512_set1_epi64(-(1 << 30)));
            let u = _mm512_add_epi64(p, self.round[i]);
            let u = _mm512_mask_sub_epi64(u, negative, u, self.tie[i]);
            _mm512_srav_epi64(u, self.shift[i])
        });
        _mm512_permutex2var_epi32(q[0], index(&INTERLEAVE_LOW), q[1])
    }
}

/// The output stage: the output zero point added and the activation range applied, narrowing
/// to bytes.
#[derive(Clone, Copy)]
struct Output {
    zp16: __m512i,
    lo8: __m512i,
    hi8: __m512i,
}

impl Output {
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn new(h: &ConvHeader) -> Self {
        Output::with(h.output_zero_point, h.act_min, h.act_max)
    }

    /// From the zero point and the range, which lie inside `i8`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn with(zero_point: i32, lo: i32, hi: i32) -> Self {
        Output {
            zp16: _mm512_set1_epi16(zero_point as i16),
            lo8: _mm512_set1_epi8(lo as i8),
            hi8: _mm512_set1_epi8(hi as i8),
        }
    }

    /// `clamp(v + zp)` of 4 vectors of 16 lanes as 64 bytes, `v[0]`'s first. Exact although it
    /// saturates twice: `v` narrowed to `i16`, the zero point added saturating, narrowed to
    /// `i8`, then clamped; every step is monotone and every saturation bound lies outside the
    /// activation range, which lies inside `i8`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn pack(&self, v: [__m512i; 4]) -> __m512i {
        let a = _mm512_adds_epi16(_mm512_packs_epi32(v[0], v[1]), self.zp16);
        let b = _mm512_adds_epi16(_mm512_packs_epi32(v[2], v[3]), self.zp16);
        // Double word `4k + j` holds lanes `4k..4k + 4` of `v[j]`.
        let c = _mm512_permutexvar_epi32(index(&UNPACK4), _mm512_packs_epi16(a, b));
        _mm512_min_epi8(_mm512_max_epi8(c, self.lo8), self.hi8)
    }
}

/// The 16 bytes `j` (0..4) of a packed vector.
#[target_feature(enable = "avx512f")]
#[inline]
fn quarter(v: __m512i, j: usize) -> __m128i {
    match j {
        0 => _mm512_castsi512_si128(v),
        1 => _mm512_extracti32x4_epi32::<1>(v),
        2 => _mm512_extracti32x4_epi32::<2>(v),
        _ => _mm512_extracti32x4_epi32::<3>(v),
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
        let x = unsafe { _mm512_maskz_loadu_epi8(first_bytes(n - c), px.add(c)) };
        acc = _mm512_dpbusd_epi32(acc, ones, x);
    }
    _mm512_reduce_add_epi32(acc)
}

/// The pixels of a pointwise layer a tile covers.
const ROWS: usize = 6;
/// The 16-channel panels a tile covers.
const PANELS: usize = 4;
/// Runs `$go!(R, P)` for the tile shape `rows` x `panels` (1..=[`ROWS`] x 1..=[`PANELS`]):
/// the tile functions are monomorphized per shape.
macro_rules! for_shape {
    ($rows:expr, $panels:expr, $go:ident) => {
        for_shape!(@rows $rows, $panels, $go, [1 2 3 4 5 6], [1 2 3 4])
    };
    (@rows $rows:expr, $panels:expr, $go:ident, [$($r:literal)*], $qs:tt) => {
        match $rows {
            $($r => for_shape!(@panels $r, $panels, $go, $qs),)*
            _ => unreachable!(),
        }
    };
    (@panels $r:literal, $panels:expr, $go:ident, [$($q:literal)*]) => {
        match $panels {
            $($q => $go!($r, $q),)*
            _ => unreachable!(),
        }
    };
}

/// The input bytes of a block of pixels (kept in L1 while every panel group passes over it).
const BLOCK_BYTES: usize = 24 * 1024;
/// The most pixels in a block (a multiple of [`ROWS`]).
const BLOCK_PIXELS: usize = 42 * ROWS;

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

/// What the tiles of one panel group share within a block of pixels: the panels' biases and
/// requantization constants, and each pixel's offset correction.
struct Group<'a> {
    panel: usize,
    bias: [__m512i; PANELS],
    scale: [Scale16; PANELS],
    stage: Output,
    /// `c * sum(x)` of the block's pixels, from its first.
    corr: &'a [i32],
    /// The pixel the block starts at.
    p0: usize,
}

/// One tile: `R` pixels from pixel `p` x `P` panels from `g.panel`.
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI; `l`'s pointers cover the layer (inputs of every pixel `p..p + R`,
/// every weight panel `g.panel..g.panel + P`, their outputs), `g.panel + P <= co16(co) / 16`,
/// `g.corr` holds pixels `g.p0..p + R`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<const R: usize, const P: usize, const FORM: u8, const SIGNED: bool>(
    l: &Layer<'_>,
    g: &Group<'_>,
    p: usize,
) {
    let (ci, quads) = (l.ci, l.ci / 4);
    // SAFETY: pixel `p + r`'s `ci` inputs are inside the layer's input (the caller's guarantee).
    let x: [*const i8; R] = core::array::from_fn(|r| unsafe { l.input.add((p + r) * ci) });
    // The accumulators start at the bias, with offset quads less c * sum(x) (the offset's
    // correction per pixel).
    let mut acc: [[__m512i; P]; R] = core::array::from_fn(|r| {
        if SIGNED {
            core::array::from_fn(|q| g.bias[q])
        } else {
            let corr = _mm512_set1_epi32(g.corr[p - g.p0 + r]);
            core::array::from_fn(|q| _mm512_sub_epi32(g.bias[q], corr))
        }
    });
    let flip = _mm512_set1_epi8(-128);
    // SAFETY: panel `g.panel + q`'s words start there and hold `quads * 16` words.
    let w: [*const i32; P] =
        core::array::from_fn(|q| unsafe { l.weights.add((g.panel + q) * quads * 16) });
    for k in 0..quads {
        // SAFETY: word `k * 16 .. + 16` of each of the tile's panels (the caller's guarantee);
        // unaligned loads.
        let wq: [__m512i; P] =
            core::array::from_fn(|q| unsafe { _mm512_loadu_si512(w[q].add(k * 16).cast()) });
        for r in 0..R {
            // SAFETY: bytes `4k..4k + 4` of pixel `p + r`'s inputs (`4 * quads == ci`).
            let v = unsafe { x[r].add(4 * k).cast::<i32>().read_unaligned() };
            let xv = _mm512_set1_epi32(v);
            if SIGNED {
                // `x + 128` (unsigned) times the signed weights.
                let xu = _mm512_xor_si512(xv, flip);
                for q in 0..P {
                    acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], xu, wq[q]);
                }
            } else {
                for q in 0..P {
                    acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], wq[q], xv);
                }
            }
        }
    }
    let o0 = g.panel * 16;
    let keep = first_bytes((l.co - o0).min(16 * P));
    for r in 0..R {
        let v = core::array::from_fn(|q| {
            if q < P {
                g.scale[q].apply::<FORM>(acc[r][q])
            } else {
                _mm512_setzero_si512()
            }
        });
        // SAFETY: bytes `o0..o0 + min(co - o0, 16 P)` of pixel `p + r`'s output row.
        unsafe { _mm512_mask_storeu_epi8(l.out.add((p + r) * l.co + o0), keep, g.stage.pack(v)) };
    }
}

/// AVX-512 VNNI pointwise on weights packed as quads: operands as [`super::kernels::pointwise`]
/// over the pixels the slices hold.
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI must be supported by the CPU.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn pointwise_quads<const CI: usize, const CO: usize>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    let hw = super::kernels::pointwise_hw::<CI, CO>(input, weights, params, out);
    let h = ConvHeader::read(params);
    super::kernels::check_quads(&h, CI);
    debug_assert!(weights.len() >= co16(CO) / 16 * CI / 4 * 16);
    let l = Layer {
        input: input.as_ptr(),
        ci: CI,
        weights: weights.as_ptr().cast::<i32>(),
        params,
        co: CO,
        h,
        out: out.as_mut_ptr(),
    };
    // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract); the lengths were checked above.
    unsafe {
        match (
            Form::of(params, co8(CO), CO),
            h.layout == PointwiseLayout::SignedQuads as i32,
        ) {
            (Form::RightClamped, true) => pointwise_blocks::<RIGHT_CLAMPED, true>(&l, hw),
            (Form::RightClamped, false) => pointwise_blocks::<RIGHT_CLAMPED, false>(&l, hw),
            (Form::NoLeft, true) => pointwise_blocks::<NO_LEFT, true>(&l, hw),
            (Form::NoLeft, false) => pointwise_blocks::<NO_LEFT, false>(&l, hw),
            (Form::Left, true) => pointwise_blocks::<LEFT, true>(&l, hw),
            (Form::Left, false) => pointwise_blocks::<LEFT, false>(&l, hw),
        }
    }
}

/// [`pointwise_quads`] over `hw` pixels, `FORM` as [`Scale16::apply`]'s; `SIGNED` for
/// [`PointwiseLayout::SignedQuads`].
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI; `l` covers `hw` pixels (lengths checked).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn pointwise_blocks<const FORM: u8, const SIGNED: bool>(l: &Layer<'_>, hw: usize) {
    let (panels, c8) = (co16(l.co) / 16, co8(l.co));
    let block = (BLOCK_BYTES / l.ci).clamp(ROWS, BLOCK_PIXELS) / ROWS * ROWS;
    let mut corr = [0i32; BLOCK_PIXELS];
    let mut p0 = 0;
    while p0 < hw {
        let n = (hw - p0).min(block);
        // Signed quads need no per-pixel correction (the tiles do not read `corr`).
        let corrected = if SIGNED { 0 } else { n };
        for (i, c) in corr[..corrected].iter_mut().enumerate() {
            // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract); pixel `p0 + i`'s `ci`
            // inputs are inside the input (`p0 + i < hw`).
            let s = unsafe { input_sum(l.input.add((p0 + i) * l.ci), l.ci) };
            *c = l.h.weight_offset.wrapping_mul(s);
        }
        let mut panel = 0;
        while panel < panels {
            let step = (panels - panel).min(PANELS);
            // Panels past the group repeat its first (their lanes are never stored).
            let o = |q: usize| (panel + if q < step { q } else { 0 }) * 16;
            let g = Group {
                panel,
                // SAFETY: every panel holds a real channel (`16 * panel < co16(co)` implies
                // `< co <= c8`), and the parameter region has `c8` channels.
                bias: core::array::from_fn(|q| unsafe {
                    channels16(l.params, super::CONV_HEADER, c8, o(q))
                }),
                // SAFETY: as for the biases.
                scale: core::array::from_fn(|q| unsafe { Scale16::load(l.params, c8, o(q)) }),
                stage: Output::new(&l.h),
                corr: &corr[..n],
                p0,
            };
            let mut p = p0;
            while p < p0 + n {
                let rows = (p0 + n - p).min(ROWS);
                macro_rules! go {
                    ($r:literal, $q:literal) => {
                        // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract); pixels
                        // `p..p + rows` (inside the block, whose corrections `g` holds) and
                        // panels `panel..panel + step` are inside the layer.
                        unsafe { tile::<$r, $q, FORM, SIGNED>(l, &g, p) }
                    };
                }
                for_shape!(rows, step, go);
                p += rows;
            }
            panel += step;
        }
        p0 += n;
    }
}

/// The most values in a patch (`KH * KW * CI`) of a full convolution [`conv2d`] takes (its
/// repacked weights and gathered patches live on the stack; its most output channels are
/// [`PANELS`] panels), as [`super::kernels::conv2d_has_avx512`] says.
const CONV_PATCH: usize = 32;
/// The pixels whose patches are gathered before their tiles run: a pair read while the `i16`
/// stores that wrote its halves are in flight could not be forwarded from them.
const CONV_BLOCK: usize = 16 * ROWS;

/// A small full convolution's operands as its tiles read them.
struct Conv {
    /// Tap pairs `2j, 2j + 1` of 16 output channels per panel (`w - z_w` as the low and high
    /// `i16`; the high one 0 past the patch).
    weights: [[__m512i; PANELS]; CONV_PATCH / 2],
    pairs: usize,
    bias: [__m512i; PANELS],
    scale: [Scale16; PANELS],
    stage: Output,
    co: usize,
    out: *mut i8,
}

/// One tile of a small full convolution: `R` pixels from block pixel `i` (output pixel `p`) x
/// `P` panels (all of them), over a block's gathered patches (`x - z_x` as `i16` pairs, 0
/// outside the image).
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI; `i + R` block pixels are gathered, output pixels `p..p + R`
/// exist, `P` is the layer's panel count.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[allow(clippy::needless_range_loop)]
unsafe fn conv_tile<const R: usize, const P: usize, const FORM: u8>(
    c: &Conv,
    patches: &[[i32; CONV_PATCH / 2]; CONV_BLOCK],
    i: usize,
    p: usize,
) {
    let mut acc: [[__m512i; P]; R] = [core::array::from_fn(|q| c.bias[q]); R];
    for j in 0..c.pairs {
        for r in 0..R {
            let xv = _mm512_set1_epi32(patches[i + r][j]);
            for q in 0..P {
                acc[r][q] = _mm512_dpwssd_epi32(acc[r][q], xv, c.weights[j][q]);
            }
        }
    }
    let keep = first_bytes(c.co);
    for r in 0..R {
        let v = core::array::from_fn(|q| {
            if q < P {
                c.scale[q].apply::<FORM>(acc[r][q])
            } else {
                _mm512_setzero_si512()
            }
        });
        // SAFETY: the `co <= 64` bytes of output pixel `p + r` (the caller's guarantee).
        unsafe { _mm512_mask_storeu_epi8(c.out.add((p + r) * c.co), keep, c.stage.pack(v)) };
    }
}

/// AVX-512 full convolution of a shape [`super::kernels::conv2d_has_avx512`] accepts (the stem): operands as [`super::kernels::conv2d`], lengths already
/// checked. A pointwise layer over the gathered patches (`x - z_x` as `i16`, 0 outside the
/// image: TFLite pads with the zero point), `vpdpwssd` over tap pairs, the weights repacked
/// into pairs once per call.
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI must be supported by the CPU.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
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
    let (k, c8) = (KH * KW * CI, co8(CO));
    assert!(super::kernels::conv2d_has_avx512(KH, KW, CI, CO));
    const { assert!(CONV_PATCH >= 32 && PANELS * 16 >= 64) };
    assert!(rows.end <= HO && weights.len() >= k * c8 && input.len() >= H * W * CI);
    assert!(out.len() >= rows.len() * WO * CO);
    assert!(params.len() >= super::CONV_HEADER + 3 * c8);
    // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract); lengths and sizes checked above.
    unsafe {
        macro_rules! go {
            ($form:ident) => {
                conv2d_blocks::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, $form>(
                    input, weights, params, rows, out,
                )
            };
        }
        match Form::of(params, c8, CO) {
            Form::RightClamped => go!(RIGHT_CLAMPED),
            Form::NoLeft => go!(NO_LEFT),
            Form::Left => go!(LEFT),
        }
    }
}

/// [`conv2d`], `FORM` as [`Scale16::apply`]'s.
///
/// # Safety
///
/// As [`conv2d`], lengths and sizes checked.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn conv2d_blocks<
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
    const FORM: u8,
>(
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    rows: Range<usize>,
    out: &mut [i8],
) {
    let (k, c8, panels) = (KH * KW * CI, co8(CO), co16(CO) / 16);
    let h = ConvHeader::read(params);
    let low = _mm512_set1_epi32(0xffff);
    let mut pair_weights = [[_mm512_setzero_si512(); PANELS]; CONV_PATCH / 2];
    for (j, wj) in pair_weights.iter_mut().enumerate().take(k.div_ceil(2)) {
        for (q, w) in wj.iter_mut().enumerate().take(panels) {
            // Weight `(row, o)` is word `row * c8 + o`, row = (ky * KW + kx) * CI + i.
            // SAFETY: rows `2j` (and `2j + 1` when inside the patch) hold `c8` words and
            // `16 q < co16(CO)` implies `16 q < CO <= c8`.
            let (lo, hi) = unsafe {
                (
                    channels16(weights, 2 * j * c8, c8, q * 16),
                    if 2 * j + 1 < k {
                        channels16(weights, (2 * j + 1) * c8, c8, q * 16)
                    } else {
                        _mm512_setzero_si512()
                    },
                )
            };
            *w = _mm512_or_si512(_mm512_and_si512(lo, low), _mm512_slli_epi32(hi, 16));
        }
    }
    // Panels past the layer's repeat its first (they are never used).
    let o = |q: usize| if q < panels { q * 16 } else { 0 };
    let mut patches = [[0i32; CONV_PATCH / 2]; CONV_BLOCK];
    let c = Conv {
        weights: pair_weights,
        pairs: k.div_ceil(2),
        // SAFETY: the bias array holds `c8` words after the header; `o(q) < CO <= c8`.
        bias: core::array::from_fn(|q| unsafe { channels16(params, super::CONV_HEADER, c8, o(q)) }),
        // SAFETY: as for the biases.
        scale: core::array::from_fn(|q| unsafe { Scale16::load(params, c8, o(q)) }),
        stage: Output::new(&h),
        co: CO,
        out: out.as_mut_ptr(),
    };
    let zp = h.input_zero_point;
    let zp16 = _mm512_set1_epi16(zp as i16);
    let seg = KW * CI;
    let seg_mask = ((1u64 << seg) - 1) as u32;
    // Output pixels `first..last`; `out` starts at `first`.
    let (first, last) = (rows.start * WO, rows.end * WO);
    let mut p0 = first;
    while p0 < last {
        let n = (last - p0).min(CONV_BLOCK);
        for (i, patch) in patches.iter_mut().enumerate().take(n) {
            let (oy, ox) = ((p0 + i) / WO, (p0 + i) % WO);
            // Value `t` of the patch is `i16` `t` (little-endian: value 2j is pair j's low
            // half); values past `k` stay 0.
            let values = patch.as_mut_ptr().cast::<i16>();
            let inside =
                oy * SH >= PT && oy * SH - PT + KH <= H && ox * SW >= PL && ox * SW - PL + KW <= W;
            if inside {
                for ky in 0..KH {
                    let at = ((oy * SH - PT + ky) * W + ox * SW - PL) * CI;
                    // SAFETY: the window lies inside the image, so its row `ky`'s `seg =
                    // KW * CI <= 32` bytes from `at` are inside `input`, and values
                    // `ky * seg .. + seg` inside the patch's `k <= 32`; masked loads and stores
                    // touch nothing else.
                    unsafe {
                        let row = _mm256_maskz_loadu_epi8(seg_mask, input.as_ptr().add(at));
                        let row = _mm512_sub_epi16(_mm512_cvtepi8_epi16(row), zp16);
                        _mm512_mask_storeu_epi16(values.add(ky * seg), seg_mask, row);
                    }
                }
            } else {
                for ky in 0..KH {
                    for kx in 0..KW {
                        let (iy, ix) = (
                            (oy * SH + ky).wrapping_sub(PT),
                            (ox * SW + kx).wrapping_sub(PL),
                        );
                        for ci in 0..CI {
                            let v = if iy < H && ix < W {
                                input[(iy * W + ix) * CI + ci] as i32 - zp
                            } else {
                                0
                            };
                            // SAFETY: value `(ky * KW + kx) * CI + ci < k <= 32` of the patch.
                            unsafe { values.add((ky * KW + kx) * CI + ci).write(v as i16) };
                        }
                    }
                }
            }
        }
        let mut i = 0;
        while i < n {
            let tile_rows = (n - i).min(ROWS);
            macro_rules! go {
                ($r:literal, $q:literal) => {
                    // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract); block pixels
                    // `i..i + tile_rows` are gathered and output pixels `p0 + i - first ..` are
                    // inside `out`; `panels` is the layer's.
                    unsafe { conv_tile::<$r, $q, FORM>(&c, &patches, i, p0 + i - first) }
                };
            }
            for_shape!(tile_rows, panels, go);
            i += tile_rows;
        }
        p0 += n;
    }
}

/// Depthwise inputs of at most this many bytes are walked a channel block at a time (each
/// block's constants derived once); larger ones an output row at a time, every block of the
/// row over the same input rows while they are in L1.
const DW_BLOCK_OUTER_BYTES: usize = 160 * 1024;

/// The constants of one block of 16 channels of a 3x3 depthwise layer.
#[derive(Clone, Copy)]
struct DwBlock {
    c0: usize,
    /// The channels of the block that exist.
    bytes: __mmask16,
    /// Taps (0, kx) and (1, kx) as an `i16` pair per lane (`w - z_w`, within `i16`).
    w01: [__m512i; 3],
    /// Tap (2, kx) alone (its pair's weight 0).
    w2: [__m512i; 3],
    /// Column kx's taps as the bytes `(w(0, kx), w(1, kx), w(2, kx), 0)` per lane (the byte
    /// variant; zero in the other).
    wb: [__m512i; 3],
    /// The bias less `z_x` (the byte variant: `z_x + 128`) times the sum of the 9 taps.
    bias: __m512i,
    scale: Scale16,
}

/// AVX-512 3x3 depthwise: operands as [`super::kernels::depthwise`] with `KH = KW = 3`, lengths
/// already checked. Blocks of 16 channels (the last one masked) with their taps, bias and
/// scale in registers, over output rows. Inputs enter the sums as stored: the zero point's
/// share, `z_x * sum(w)`, is taken off the bias once per block, and taps outside the image
/// read the zero point (TFLite pads with it), so every output sums all 9 taps. Per input
/// column under the window, rows 0 and 1 are widened and interleaved as an `i16` pair per lane
/// and row 2 widened alone, so that each output is six `vpdpwssd` over the three columns under
/// it, and neighbouring outputs share the columns they overlap (all but one at stride 1).
/// Operands stay within 255 in magnitude: nothing saturates. Outputs go through the output
/// stage four pixels at a time.
///
/// Where the layer's taps were also packed as bytes ([`DepthwiseLayout::WordsAndBytes`]) and
/// the CPU has VBMI, a column is instead one vector: each lane's three input rows as the bytes
/// `x ^ 0x80` (one two-source byte permute of the three loads), so that each output is three
/// `vpdpbusd` over the columns under it (`u8` inputs, `i8` taps, four products per lane, the
/// fourth tap 0), with `(z_x + 128) * sum(w)` off the bias.
///
/// # Safety
///
/// AVX-512F, BW, VL and VNNI must be supported by the CPU.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
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
    rows: Range<usize>,
    out: &mut [i8],
) {
    let bytes = ConvHeader::read(params).layout == DepthwiseLayout::WordsAndBytes as i32
        && crate::kernels::vbmi_supported();
    // SAFETY: this function's contract; VBMI where `bytes` (checked above).
    unsafe {
        depthwise3x3_variant::<H, W, C, HO, WO, SH, SW, PT, PL>(
            bytes, input, weights, params, rows, out,
        )
    }
}

/// [`depthwise3x3`] with the byte-column variant (`bytes`) or the `i16` pair one.
///
/// # Safety
///
/// As [`depthwise3x3`]; with `bytes`, the CPU has VBMI and the layer's header says
/// [`DepthwiseLayout::WordsAndBytes`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn depthwise3x3_variant<
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
    bytes: bool,
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    rows: Range<usize>,
    out: &mut [i8],
) {
    let c8 = co8(C);
    let words = super::depthwise_len(3, 3, C).0;
    assert!(rows.end <= HO && weights.len() >= words && input.len() >= H * W * C);
    assert!(out.len() >= rows.len() * WO * C && params.len() >= super::CONV_HEADER + 3 * c8);
    assert!(
        !bytes || ConvHeader::read(params).layout == DepthwiseLayout::WordsAndBytes as i32,
        "depthwise3x3: the byte variant needs byte columns"
    );
    macro_rules! go {
        ($kernel:ident, $form:ident, $bytes:literal) => {
            // SAFETY: AVX-512F/BW/VL/VNNI (this function's contract), VBMI for the byte
            // variant (`bytes`, the caller's guarantee); the lengths are checked above.
            unsafe {
                $kernel::<H, W, C, HO, WO, SH, SW, PT, PL, $form, $bytes>(
                    input, weights, params, rows, out,
                )
            }
        };
    }
    match (Form::of(params, c8, C), bytes) {
        (Form::RightClamped, true) => go!(depthwise3x3_blocks_vbmi, RIGHT_CLAMPED, true),
        (Form::NoLeft, true) => go!(depthwise3x3_blocks_vbmi, NO_LEFT, true),
        (Form::Left, true) => go!(depthwise3x3_blocks_vbmi, LEFT, true),
        (Form::RightClamped, false) => go!(depthwise3x3_blocks, RIGHT_CLAMPED, false),
        (Form::NoLeft, false) => go!(depthwise3x3_blocks, NO_LEFT, false),
        (Form::Left, false) => go!(depthwise3x3_blocks, LEFT, false),
    }
}

/// The first word of 16-channel block `b`'s column `kx` in the byte columns of a 3x3
/// depthwise layer of `c` channels (after its `i32` taps).
const fn byte_column(c: usize, b: usize, kx: usize) -> usize {
    super::depthwise_len(3, 3, c).0 - super::depthwise_bytes_len(3, 3, c) + (b * 3 + kx) * 16
}

/// Bytes `4j + t` of a column: row `t`'s channel `j`, from the first source's bytes `0..16`
/// (row 0) and `16..32` (row 1) and the second's `0..16` (row 2, also in the unused fourth
/// byte, whose tap is 0).
const COLUMN_BYTES: [i8; 64] = {
    let mut a = [0i8; 64];
    let mut j = 0;
    while j < 16 {
        a[4 * j] = j as i8;
        a[4 * j + 1] = 16 + j as i8;
        a[4 * j + 2] = 64 + j as i8;
        a[4 * j + 3] = 64 + j as i8;
        j += 1;
    }
    a
};

/// Defines `$name`, [`depthwise3x3`]'s kernel with `FORM` as [`Scale16::apply`]'s and
/// `BYTES` the byte-column variant, compiled for `$features` (twice: with VBMI for the byte
/// variant, without it for the other, so that no VBMI instruction reaches a CPU without it).
macro_rules! depthwise3x3_blocks {
    ($name:ident, $features:literal, vbmi: $vbmi:literal) => {
        /// A [`depthwise3x3`] kernel (see [`depthwise3x3_blocks!`]).
        ///
        /// # Safety
        ///
        /// As [`depthwise3x3_variant`], lengths checked; the CPU has every feature this
        /// function is compiled for.
        #[target_feature(enable = $features)]
        #[inline]
        #[allow(unused_unsafe)]
        unsafe fn $name<
            const H: usize,
            const W: usize,
            const C: usize,
            const HO: usize,
            const WO: usize,
            const SH: usize,
            const SW: usize,
            const PT: usize,
            const PL: usize,
            const FORM: u8,
            const BYTES: bool,
        >(
            input: &[i8],
            weights: &[f32],
            params: &[f32],
            rows: Range<usize>,
            out: &mut [i8],
        ) {
            const {
                assert!(
                    !BYTES || $vbmi,
                    "depthwise3x3: the byte variant needs the VBMI instantiation"
                )
            };
            let c8 = co8(C);
            let h = ConvHeader::read(params);
            let stage = Output::new(&h);
            let zp = h.input_zero_point;
            let low = _mm512_set1_epi32(0xffff);
            let block = |c0: usize| -> DwBlock {
                // Tap (ky, kx)'s 16 weights.
                // SAFETY: word `t * c8 + c0 ..` of the `9 * c8` weights; the lanes past `c8`
                // are masked off.
                let tap = |t: usize| unsafe { channels16(weights, t * c8, c8, c0) };
                let taps: [__m512i; 9] = core::array::from_fn(tap);
                let sum = taps
                    .iter()
                    .fold(_mm512_setzero_si512(), |s, &t| _mm512_add_epi32(s, t));
                // SAFETY: the bias array holds `c8` words after the header; `c0 < C <= c8`.
                let bias = unsafe { channels16(params, super::CONV_HEADER, c8, c0) };
                let zero = _mm512_setzero_si512();
                let (w01, w2, wb, offset) = if BYTES {
                    // SAFETY: block `c0 / 16`'s three columns of 16 words lie inside the
                    // `depthwise_len` weights (their byte columns cover `co16(C)` channels).
                    let wb = core::array::from_fn(|kx| unsafe {
                        _mm512_loadu_si512(
                            weights.as_ptr().add(byte_column(C, c0 / 16, kx)) as *const _
                        )
                    });
                    ([zero; 3], [zero; 3], wb, zp + 128)
                } else {
                    let w01 = core::array::from_fn(|kx| {
                        _mm512_or_si512(
                            _mm512_and_si512(taps[kx], low),
                            _mm512_slli_epi32(taps[3 + kx], 16),
                        )
                    });
                    let w2 = core::array::from_fn(|kx| _mm512_and_si512(taps[6 + kx], low));
                    (w01, w2, [zero; 3], zp)
                };
                DwBlock {
                    c0,
                    bytes: ((1u32 << (C - c0).min(16)) - 1) as __mmask16,
                    w01,
                    w2,
                    wb,
                    bias: _mm512_sub_epi32(
                        bias,
                        _mm512_mullo_epi32(sum, _mm512_set1_epi32(offset)),
                    ),
                    // SAFETY: the parameter region has `c8` channels and `c0 < c8`.
                    scale: unsafe { Scale16::load(params, c8, c0) },
                }
            };
            let pair_words = index(&PAIR_WORDS);
            let column_bytes = index(&COLUMN_BYTES);
            // The zero point as an input row widened to `i16`, as a tap pair, widened to
            // `i32`, and as stored bytes (the byte variant).
            let zp16 = _mm256_set1_epi16(zp as i16);
            let zp_pair = _mm512_set1_epi32((zp & 0xffff) | (zp << 16));
            let zp32 = _mm512_set1_epi32(zp);
            let zp8 = _mm512_set1_epi8(zp as i8);
            let flip = _mm512_set1_epi8(-128);
            let zp_column = _mm512_xor_si512(zp8, flip);
            let x = input.as_ptr();
            // `out` holds output rows `rows`, from `row0`.
            let (y, row0) = (out.as_mut_ptr(), rows.start);
            let row = |oy: usize, b: &DwBlock| {
                // The window's three input rows, or none where outside the image.
                let rows: [Option<usize>; 3] = core::array::from_fn(|ky| {
                    let iy = (oy * SH + ky).wrapping_sub(PT);
                    (iy < H).then_some(iy)
                });
                // The block's 16 stored bytes at input pixel (iy, ix).
                // SAFETY: pixel `(iy, ix)` is inside the image and channels `c0..c0 + 16`
                // masked to the `C` that exist; the other bytes are not read.
                let at = |iy: usize, ix: usize| unsafe {
                    _mm_maskz_loadu_epi8(b.bytes, x.add((iy * W + ix) * C + b.c0))
                };
                // Input column `j` (in padded coordinates) under the window: rows 0 and 1 as an
                // `i16` pair per lane, row 2 alone; or (the byte variant) the three rows as a
                // lane's bytes, moved to `u8`. The zero point outside the image.
                let column = |j: usize| -> (__m512i, __m512i) {
                    let ix = j.wrapping_sub(PL);
                    if BYTES {
                        if ix >= W {
                            return (zp_column, zp_column);
                        }
                        let m = b.bytes as __mmask64;
                        let px = |iy: usize| x.wrapping_add((iy * W + ix) * C + b.c0);
                        // Rows 0 and 1 in bytes 0..16 and 16..32 of one vector, row 2 in
                        // another, each over the zero point.
                        let mut r01 = zp8;
                        let mut r2 = zp8;
                        // SAFETY: the lanes `m` selects are channels `c0..C` of pixel
                        // `(iy, ix)` inside the image (row 1's pointer is 16 bytes before
                        // them, its mask 16 lanes up); masked-off lanes are not accessed.
                        unsafe {
                            if let Some(iy) = rows[0] {
                                r01 = _mm512_mask_loadu_epi8(r01, m, px(iy));
                            }
                            if let Some(iy) = rows[1] {
                                r01 = _mm512_mask_loadu_epi8(r01, m << 16, px(iy).wrapping_sub(16));
                            }
                            if let Some(iy) = rows[2] {
                                r2 = _mm512_mask_loadu_epi8(r2, m, px(iy));
                            }
                        }
                        // SAFETY: `BYTES` is only instantiated compiled with VBMI (the
                        // assertion above).
                        let c = unsafe { _mm512_permutex2var_epi8(r01, column_bytes, r2) };
                        return (_mm512_xor_si512(c, flip), zp_column);
                    }
                    if ix >= W {
                        return (zp_pair, zp32);
                    }
                    let wide = |r: Option<usize>| match r {
                        Some(iy) => _mm256_cvtepi8_epi16(at(iy, ix)),
                        None => zp16,
                    };
                    let pair = _mm512_permutex2var_epi16(
                        _mm512_castsi256_si512(wide(rows[0])),
                        pair_words,
                        _mm512_castsi256_si512(wide(rows[1])),
                    );
                    let r2 = match rows[2] {
                        Some(iy) => _mm512_cvtepi8_epi32(at(iy, ix)),
                        None => zp32,
                    };
                    (pair, r2)
                };
                let mut win = [column(0), column(1), column(2)];
                let mut ox0 = 0;
                while ox0 < WO {
                    let n = (WO - ox0).min(4);
                    let mut v = [_mm512_setzero_si512(); 4];
                    for (g, v) in v.iter_mut().enumerate().take(n) {
                        let ox = ox0 + g;
                        let j = ox * SW;
                        if ox > 0 {
                            win = match SW {
                                1 => [win[1], win[2], column(j + 2)],
                                2 => [win[2], column(j + 1), column(j + 2)],
                                _ => [column(j), column(j + 1), column(j + 2)],
                            };
                        }
                        let sum = if BYTES {
                            let mut a = b.bias;
                            for ((col, _), wb) in win.iter().zip(&b.wb) {
                                a = _mm512_dpbusd_epi32(a, *col, *wb);
                            }
                            a
                        } else {
                            let mut a = b.bias;
                            let mut c = _mm512_setzero_si512();
                            for ((pair, single), (w01, w2)) in
                                win.iter().zip(b.w01.iter().zip(&b.w2))
                            {
                                a = _mm512_dpwssd_epi32(a, *pair, *w01);
                                c = _mm512_dpwssd_epi32(c, *single, *w2);
                            }
                            _mm512_add_epi32(a, c)
                        };
                        *v = b.scale.apply::<FORM>(sum);
                    }
                    let bytes = stage.pack(v);
                    for g in 0..n {
                        // SAFETY: channels `c0..c0 + 16` (masked to those that exist) of output
                        // pixel `(oy, ox0 + g)`, inside `out` (which holds rows `rows`;
                        // `ox0 + g < WO`).
                        unsafe {
                            _mm_mask_storeu_epi8(
                                y.add(((oy - row0) * WO + ox0 + g) * C + b.c0),
                                b.bytes,
                                quarter(bytes, g),
                            )
                        };
                    }
                    ox0 += 4;
                }
            };
            if H * W * C <= DW_BLOCK_OUTER_BYTES {
                for c0 in (0..C).step_by(16) {
                    let b = block(c0);
                    for oy in rows.clone() {
                        row(oy, &b);
                    }
                }
            } else {
                for oy in rows {
                    for c0 in (0..C).step_by(16) {
                        row(oy, &block(c0));
                    }
                }
            }
        }
    };
}

depthwise3x3_blocks!(
    depthwise3x3_blocks,
    "avx512f,avx512bw,avx512vl,avx512vnni",
    vbmi: false
);
depthwise3x3_blocks!(
    depthwise3x3_blocks_vbmi,
    "avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi",
    vbmi: true
);

/// AVX-512 quantized add: operands as [`super::kernels::add`], lengths already checked; 64
/// values per step (the tail through masked loads and stores).
///
/// # Safety
///
/// AVX-512F, BW and VL must be supported by the CPU.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub unsafe fn add(a: &[i8], b: &[i8], p: &super::AddParams, out: &mut [i8]) {
    // SAFETY: AVX-512F/BW/VL (this function's contract).
    unsafe {
        if p.multipliers.iter().any(|&(_, s)| s > 0) {
            add_with::<LEFT>(a, b, p, out)
        } else {
            add_with::<NO_LEFT>(a, b, p, out)
        }
    }
}

/// [`add`], `FORM` as [`Scale16::apply`]'s ([`Form::Left`] or [`Form::NoLeft`]: its
/// intermediate rescales are not clamped).
///
/// # Safety
///
/// As [`add`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[inline]
unsafe fn add_with<const FORM: u8>(a: &[i8], b: &[i8], p: &super::AddParams, out: &mut [i8]) {
    let n = a.len().min(b.len()).min(out.len());
    let [(m1, s1), (m2, s2), (mo, so)] = p.multipliers;
    let v = |x: i32| _mm512_set1_epi32(x);
    let (z1, z2) = (v(p.zero_points[0]), v(p.zero_points[1]));
    let (s1, s2, so) = (
        Scale16::new(v(m1), v(s1)),
        Scale16::new(v(m2), v(s2)),
        Scale16::new(v(mo), v(so)),
    );
    let stage = Output::with(p.zero_points[2], p.act_min, p.act_max);
    let ls = _mm_cvtsi32_si128(p.left_shift);
    let mut i = 0;
    while i < n {
        let k = first_bytes(n - i);
        // SAFETY: the masked bytes `i..i + min(64, n - i)` are inside `a`, `b` and `out` (`n`
        // is the shortest length); the rest is neither read nor written.
        unsafe {
            let xa = _mm512_maskz_loadu_epi8(k, a.as_ptr().add(i));
            let xb = _mm512_maskz_loadu_epi8(k, b.as_ptr().add(i));
            let r = core::array::from_fn(|j| {
                let xa = _mm512_sll_epi32(
                    _mm512_sub_epi32(_mm512_cvtepi8_epi32(quarter(xa, j)), z1),
                    ls,
                );
                let xb = _mm512_sll_epi32(
                    _mm512_sub_epi32(_mm512_cvtepi8_epi32(quarter(xb, j)), z2),
                    ls,
                );
                so.apply::<FORM>(_mm512_add_epi32(s1.apply::<FORM>(xa), s2.apply::<FORM>(xb)))
            });
            _mm512_mask_storeu_epi8(out.as_mut_ptr().add(i), k, stage.pack(r));
        }
        i += 64;
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

    /// The 16-lane requantization (every form where it applies) and the output stage against
    /// the scalar TFLite formulas, lane by lane, over every shift packing can write, extreme
    /// sums and activation ranges (as the AVX2 module's test of its 8-lane twin).
    #[test]
    fn requantization_matches_scalar() {
        if !crate::kernels::vnni_supported() {
            std::eprintln!("AVX-512 VNNI not supported by this CPU: skipped");
            return;
        }
        let mut seed = 5;
        let mut counts = [0; 2];
        for round in 0..30_000 {
            // SAFETY: AVX-512F and BW are supported (checked above).
            unsafe { requantization_case(round, &mut seed, &mut counts) };
        }
        let [without_left, right] = counts;
        assert!(
            without_left >= 20_000 && right >= 10_000,
            "{without_left} cases without left shifts, {right} with right shifts only"
        );
    }

    /// One case of [`requantization_matches_scalar`], counting those without left shifts and
    /// those with right shifts only.
    #[target_feature(enable = "avx512f,avx512bw")]
    fn requantization_case(round: usize, seed: &mut u64, counts: &mut [usize; 2]) {
        let (x, mult, mut shift, mut h, _, _) = requant_case::<16>(round, seed);
        // A third of the cases without left shifts, a third shifting every lane right,
        // for the forms that need them.
        match round % 3 {
            1 => shift = shift.map(|s| -s.abs()),
            2 => shift = shift.map(|s| -s.abs().max(1)),
            _ => {}
        }
        let want: [i32; 16] = core::array::from_fn(|l| {
            crate::quant::multiply_by_quantized_multiplier(x[l], mult[l], shift[l])
        });
        // SAFETY: `[i32; 16]` and `__m512i` have the same size.
        let v16 = |a: [i32; 16]| unsafe { core::mem::transmute::<[i32; 16], __m512i>(a) };
        let clamped = |h: &ConvHeader, v: i32| {
            v.saturating_add(h.output_zero_point)
                .clamp(h.act_min, h.act_max)
        };
        let s = Scale16::new(v16(mult), v16(shift));
        // SAFETY: AVX-512F and BW (this function's features); `__m512i` and `[i8; 64]` have
        // the same size.
        let pack = |h: &ConvHeader, v: __m512i| unsafe {
            let zero = _mm512_setzero_si512();
            core::mem::transmute::<__m512i, [i8; 64]>(Output::new(h).pack([zero, v, zero, v]))
        };
        let v = s.apply::<LEFT>(v16(x));
        assert_eq!(lanes(v), want, "x {x:?} mult {mult:?} shift {shift:?}");
        let bytes = pack(&h, v);
        for l in 0..16 {
            assert_eq!(
                bytes[16 + l] as i32,
                clamped(&h, want[l]),
                "packed lane {l}"
            );
            assert_eq!(
                bytes[48 + l] as i32,
                clamped(&h, want[l]),
                "packed lane {l}, 4th vector"
            );
            assert_eq!(bytes[l] as i32, clamped(&h, 0), "packed zero lane {l}");
        }
        if shift.iter().all(|&s| s <= 0) {
            counts[0] += 1;
            assert_eq!(
                lanes(s.apply::<NO_LEFT>(v16(x))),
                want,
                "without the left shift"
            );
        }
        if shift.iter().all(|&s| s < 0) {
            // The clamped form under a range that clamps every result <= 0 alike: exact
            // once packed, and exact before where the result is positive.
            counts[1] += 1;
            h.act_min = h.act_min.max(h.output_zero_point);
            h.act_max = h.act_max.max(h.act_min);
            let v = s.apply::<RIGHT_CLAMPED>(v16(x));
            let (got, bytes) = (lanes(v), pack(&h, v));
            for l in 0..16 {
                let what = std::format!(
                    "clamped form, x {} mult {} shift {}",
                    x[l],
                    mult[l],
                    shift[l]
                );
                assert_eq!(bytes[16 + l] as i32, clamped(&h, want[l]), "{what}");
                assert!(
                    got[l] == want[l] || (got[l] <= 0 && want[l] <= 0),
                    "{what}: {}",
                    got[l]
                );
            }
        }
    }
}
