//! 8-bit quantized inference: the integer arithmetic of TensorFlow Lite's reference kernels,
//! the packing of quantized layers and their kernels ([`kernels`]).
//!
//! # Numbers
//!
//! A quantized tensor holds integers `q` standing for `scale * (q - zero_point)`. Activations
//! are stored as `i8` whatever the model's type: a `u8` tensor with zero point `z` is the `i8`
//! tensor `q - 128` with zero point `z - 128` (the arithmetic below only ever sees `q - z`, and
//! the clamp bounds move with it), which is exact. Weights keep their file type until packing,
//! which stores `w - zero_point` as wider integers, so kernels never see a weight zero point.
//!
//! Every kernel follows TFLite's reference integer kernels: `i32` accumulation of
//! `(q_in - z_in) * (w - z_w)`, the bias added, the sum rescaled by a fixed-point multiplier
//! and shift ([`multiply_by_quantized_multiplier`], derived from the float scales by
//! [`quantize_multiplier`]), the output zero point added and the result clamped to the fused
//! activation's range ([`activation_range`]). Integer arithmetic is exact, so every
//! instruction-set variant of a kernel gives the scalar one's bits.
//!
//! # Packed parameters
//!
//! A quantized layer's packed parameters live in the model's `f32` parameter buffer as 32-bit
//! words (`f32::from_bits`: integers are stored, never computed with as floats). Each layer has
//! a weight region and a parameter region ([`Kind::packed_len`](crate::load::Kind::packed_len)):
//!
//! | kind | weight region | parameter region |
//! |---|---|---|
//! | conv | `i32` `[KH][KW][CI][CO8]` | [`ConvHeader`], then `bias`, `multiplier`, `shift`, each `[CO8]` |
//! | pointwise, [`PointwiseLayout::Pairs`] | `i16` pairs `[CO8 / 8][CI2 / 2][8][2]` | as conv |
//! | pointwise, [`PointwiseLayout::Quads`] | `u8` quads `[CO16 / 16][CI / 4][16][4]` | as conv, the bias moved (below) |
//! | pointwise, [`PointwiseLayout::SignedQuads`] | `i8` quads `[CO16 / 16][CI / 4][16][4]` | as conv, the bias moved (below) |
//! | depthwise | `i32` `[KH][KW][C8]`, for 3x3 then `i8` columns `[C16 / 16][3][16][4]` | as conv |
//! | add | none | [`AddParams`] |
//! | average pool, mean | none | [`PoolParams`] |
//! | softmax | none | [`SoftmaxParams`] |
//!
//! `CO8` rounds the output channels up to a multiple of 8 (`CO16` to 16) and `CI2` the input
//! channels up to a multiple of 2; the padding weights, biases and multipliers are zero.
//!
//! The quads layout is for `vpdpbusd` (AVX-512 VNNI: four `u8 x i8` products summed into each
//! `i32` lane), chosen when packing on a CPU that runs it ([`PointwiseLayout::preferred`]) and
//! recorded in the header, so every kernel reads the layout it was given. The activations (the
//! stored `i8`, signed operand) multiply `w_u = w - z_w + c`, the weight moved into `0..=255` by
//! the layer's one offset `c` (the `u8` zero point of `u8` weights, 128 for symmetric `i8`
//! ones): `sum((x - z_x)(w - z_w)) = sum(x w_u) - c sum(x) - z_x sum(w - z_w)`. The last term is
//! a constant of each channel, folded into its packed bias; the middle one is a constant of
//! each pixel (`c` times its input sum), subtracted before requantizing. Integer arithmetic
//! wraps consistently, so the result is the pairs layout's to the bit.
//!
//! Symmetric `i8` weights are packed as they are instead ([`PointwiseLayout::SignedQuads`],
//! which packing picks for them when asked for quads), and the activations are the unsigned
//! operand, moved into `0..=255` (`x ^ 0x80 = x + 128`):
//! `sum((x - z_x) w) = sum((x + 128) w) - (z_x + 128) sum(w)`, whose last term is a constant
//! of each channel only, folded into its packed bias. No per-pixel term is left.
//!
//! A 3x3 depthwise layer's taps are also packed as bytes, a filter column's three taps in one
//! word per channel ([`DepthwiseLayout::WordsAndBytes`], when every tap fits `i8`; the `i32`
//! taps stay for the other kernels). There the activations are the unsigned operand: the
//! stored `x` moved by 128 (`x ^ 0x80`), and `(z_x + 128) sum(w - z_w)` comes off the bias.

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod kernels;
mod pack;
mod softmax;

pub use pack::{
    add_params, conv_len, depthwise_bytes_len, depthwise_len, mean_params, pack_conv,
    pack_depthwise, pack_pointwise, pack_pointwise_as, pointwise_len, pool_params, softmax_params,
    QuantError, QuantParams, WeightQuant,
};

/// `round_up(n, 8)`: output channels as the packed layouts store them.
pub const fn co8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// `round_up(n, 16)`: output channels as the quads layout stores them.
pub const fn co16(n: usize) -> usize {
    n.div_ceil(16) * 16
}

/// `round_up(n, 2)`: input channels as the pointwise layout stores them (in pairs).
pub const fn ci2(n: usize) -> usize {
    n.div_ceil(2) * 2
}

/// `(a * b * 2) >> 32`, rounded to nearest (ties away from zero), saturating the one overflow
/// (`i32::MIN * i32::MIN`): gemmlowp's `SaturatingRoundingDoublingHighMul`.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    // Division truncating toward zero, as C++'s.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (`0 <= exponent <= 31`): gemmlowp's
/// `RoundingDivideByPOT`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `x * multiplier * 2^shift / 2^31`, as TFLite's `MultiplyByQuantizedMultiplier` (the
/// default double rounding: a left shift first, then a rounding doubling high multiply, then
/// a rounding right shift). Shifts are kept within `[-31, 31]` (packing guarantees it for
/// every multiplier it writes).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift.min(31) } else { 0 };
    let right = if shift > 0 { 0 } else { (-shift).min(31) };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1i32 << left), multiplier),
        right,
    )
}

/// `m = fraction * 2^exponent` with `fraction` in `[0.5, 1)` (C's `frexp`), for finite `m > 0`.
fn frexp(m: f64) -> (f64, i32) {
    let bits = m.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (f, e) = frexp(m * (1u64 << 54) as f64);
        return (f, e - 54);
    }
    let fraction = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (fraction, exp - 1022)
}

/// `x` rounded to the nearest integer, ties away from zero (C++'s `std::round`; `core` has no
/// `f64::round` without `std`). Values beyond 2^62 in magnitude saturate.
pub(crate) fn round_half_away(x: f64) -> f64 {
    const LIMIT: f64 = (1u64 << 62) as f64;
    if x.is_nan() {
        return 0.0;
    }
    if !(-LIMIT..=LIMIT).contains(&x) {
        return x.clamp(-LIMIT, LIMIT);
    }
    let t = x as i64; // truncates toward zero
    let frac = x - t as f64;
    let r = if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    };
    r as f64
}

/// A real multiplier as TFLite's `QuantizeMultiplier` represents it: `(q, shift)` with
/// `m ~= q * 2^shift / 2^31`, `q` in `[2^30, 2^31)` (or 0). Multipliers too small to represent
/// become 0; `m` must be finite and non-negative (packing checks).
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m <= 0.0 {
        return (0, 0);
    }
    let (fraction, mut shift) = frexp(m);
    // C++'s std::round: half away from zero, as f64::round.
    let mut q = round_half_away(fraction * (1i64 << 31) as f64) as i64;
    if q == 1i64 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    (q as i32, shift)
}

/// The clamp bounds of a fused activation on an `i8` output with `scale` and `zero_point` (as
/// stored: `u8` zero points already moved by -128): TFLite's `CalculateActivationRangeQuantized`
/// (the float quantization of 0 and 6, rounded half away from zero, intersected with the type's
/// range).
pub fn activation_range(act: u8, scale: f32, zero_point: i32) -> (i32, i32) {
    let quantize = |f: f32| -> i32 {
        let r = round_half_away((f / scale) as f64) as f32;
        // Out-of-range values saturate (an extreme scale; the clamp below keeps them in i8).
        zero_point.saturating_add(if r >= i32::MAX as f32 {
            i32::MAX
        } else if r <= i32::MIN as f32 {
            i32::MIN
        } else {
            r as i32
        })
    };
    let (lo, hi) = (i8::MIN as i32, i8::MAX as i32);
    match act {
        crate::ACT_RELU => (lo.max(quantize(0.0)), hi),
        crate::ACT_RELU6 => (lo.max(quantize(0.0)), hi.min(quantize(6.0))),
        _ => (lo, hi),
    }
}

/// Reads word `i` of a packed region as `i32`.
#[inline(always)]
pub(crate) fn word(p: &[f32], i: usize) -> i32 {
    p[i].to_bits() as i32
}

/// Stores `v` as word `i`.
#[inline(always)]
pub(crate) fn set_word(p: &mut [f32], i: usize, v: i32) {
    p[i] = f32::from_bits(v as u32);
}

/// The first words of a conv-like layer's parameter region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvHeader {
    /// Input zero point (as stored, `i8`).
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Lowest output value (the fused activation's bound).
    pub act_min: i32,
    /// Highest output value.
    pub act_max: i32,
    /// The weight layout ([`PointwiseLayout`] or [`DepthwiseLayout`] as `i32`; 0 for conv
    /// layers).
    pub layout: i32,
    /// The quads layout's weight offset `c` (0 otherwise).
    pub weight_offset: i32,
}

/// Words of [`ConvHeader`].
pub const CONV_HEADER: usize = 6;

/// How a quantized pointwise layer's weights are packed (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointwiseLayout {
    /// `i16` pairs of zero-point-subtracted weights, 8-channel panels (`vpmaddwd`, scalar).
    Pairs = 0,
    /// `u8` quads of offset weights, 16-channel panels (`vpdpbusd`); needs `CI % 4 == 0`.
    Quads = 1,
    /// `i8` quads of symmetric weights, 16-channel panels (`vpdpbusd` with the activations
    /// moved to `u8`); needs `CI % 4 == 0` and `i8` weights.
    SignedQuads = 2,
}

/// How a quantized depthwise layer's weights are packed (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepthwiseLayout {
    /// `i32` taps only (layers not 3x3, and taps that do not all fit `i8`, e.g. `u8` weights
    /// far from their zero point).
    Words = 0,
    /// `i32` taps, then each channel's three taps of a filter column as `i8` bytes of one word
    /// (`vpdpbusd`, AVX-512 VNNI with VBMI).
    WordsAndBytes = 1,
}

impl PointwiseLayout {
    /// The layout whose kernel is fastest on this CPU with the active instruction set, for a
    /// layer of `ci` input channels.
    pub fn preferred(ci: usize) -> Self {
        if ci.is_multiple_of(4) && crate::kernels::vnni_active() {
            PointwiseLayout::Quads
        } else {
            PointwiseLayout::Pairs
        }
    }
}

impl ConvHeader {
    pub(crate) fn read(p: &[f32]) -> Self {
        ConvHeader {
            input_zero_point: word(p, 0),
            output_zero_point: word(p, 1),
            act_min: word(p, 2),
            act_max: word(p, 3),
            layout: word(p, 4),
            weight_offset: word(p, 5),
        }
    }

    /// Writes the header's words (the inverse of `read`).
    pub(crate) fn write(&self, p: &mut [f32]) {
        let words = [
            self.input_zero_point,
            self.output_zero_point,
            self.act_min,
            self.act_max,
            self.layout,
            self.weight_offset,
        ];
        for (i, v) in words.into_iter().enumerate() {
            set_word(p, i, v);
        }
    }
}

/// A residual add's parameters (TFLite's quantized `ADD`): both inputs moved to a common
/// scale with 20 bits of headroom, summed, rescaled to the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddParams {
    /// Zero points of input 1, input 2 and the output.
    pub zero_points: [i32; 3],
    /// The headroom shift applied to both inputs.
    pub left_shift: i32,
    /// Multiplier and shift of input 1, input 2 and the output.
    pub multipliers: [(i32, i32); 3],
    /// Output clamp.
    pub act_min: i32,
    /// Output clamp.
    pub act_max: i32,
}

/// Words of [`AddParams`].
pub const ADD_PARAMS: usize = 12;

impl AddParams {
    pub(crate) fn read(p: &[f32]) -> Self {
        AddParams {
            zero_points: [word(p, 0), word(p, 1), word(p, 2)],
            left_shift: word(p, 3),
            multipliers: [
                (word(p, 4), word(p, 5)),
                (word(p, 6), word(p, 7)),
                (word(p, 8), word(p, 9)),
            ],
            act_min: word(p, 10),
            act_max: word(p, 11),
        }
    }
    pub(crate) fn write(&self, p: &mut [f32]) {
        let w = [
            self.zero_points[0],
            self.zero_points[1],
            self.zero_points[2],
            self.left_shift,
            self.multipliers[0].0,
            self.multipliers[0].1,
            self.multipliers[1].0,
            self.multipliers[1].1,
            self.multipliers[2].0,
            self.multipliers[2].1,
            self.act_min,
            self.act_max,
        ];
        for (i, v) in w.into_iter().enumerate() {
            set_word(p, i, v);
        }
    }
}

/// An average pool's or mean's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    /// Added to every stored value before summing (128 for a model whose tensors are `u8`, so
    /// the rounding of the mean sees the file's values; 0 for `i8`), subtracted from the result.
    pub offset: i32,
    /// Input zero point (as stored).
    pub input_zero_point: i32,
    /// Output zero point (as stored).
    pub output_zero_point: i32,
    /// Rescaling of the mean (`(0, 0)`: input and output share their quantization).
    pub multiplier: (i32, i32),
    /// Output clamp (as stored).
    pub act_min: i32,
    /// Output clamp (as stored).
    pub act_max: i32,
}

/// Words of [`PoolParams`].
pub const POOL_PARAMS: usize = 7;

impl PoolParams {
    pub(crate) fn read(p: &[f32]) -> Self {
        PoolParams {
            offset: word(p, 0),
            input_zero_point: word(p, 1),
            output_zero_point: word(p, 2),
            multiplier: (word(p, 3), word(p, 4)),
            act_min: word(p, 5),
            act_max: word(p, 6),
        }
    }
    pub(crate) fn write(&self, p: &mut [f32]) {
        let w = [
            self.offset,
            self.input_zero_point,
            self.output_zero_point,
            self.multiplier.0,
            self.multiplier.1,
            self.act_min,
            self.act_max,
        ];
        for (i, v) in w.into_iter().enumerate() {
            set_word(p, i, v);
        }
    }
}

/// A quantized softmax's parameters (TFLite's fixed-point softmax, `beta = 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// `beta * input_scale` in fixed point, with [`SOFTMAX_SCALED_DIFF_INTEGER_BITS`].
    pub input_beta_multiplier: i32,
    /// Its shift.
    pub input_left_shift: i32,
    /// Differences from the maximum below this are treated as `exp = 0`.
    pub diff_min: i32,
    /// Output zero point (as stored: -128 for the format's 1/256 scale).
    pub output_zero_point: i32,
}

/// Integer bits of the scaled input differences of the softmax (TFLite's
/// `kScaledDiffIntegerBits`).
pub const SOFTMAX_SCALED_DIFF_INTEGER_BITS: i32 = 5;

/// Words of [`SoftmaxParams`].
pub const SOFTMAX_PARAMS: usize = 4;

impl SoftmaxParams {
    pub(crate) fn read(p: &[f32]) -> Self {
        SoftmaxParams {
            input_beta_multiplier: word(p, 0),
            input_left_shift: word(p, 1),
            diff_min: word(p, 2),
            output_zero_point: word(p, 3),
        }
    }
    pub(crate) fn write(&self, p: &mut [f32]) {
        let w = [
            self.input_beta_multiplier,
            self.input_left_shift,
            self.diff_min,
            self.output_zero_point,
        ];
        for (i, v) in w.into_iter().enumerate() {
            set_word(p, i, v);
        }
    }
}

#[cfg(test)]
mod tests;
