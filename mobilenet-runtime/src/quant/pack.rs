//! Load-time packing of quantized layers: weights with their zero points subtracted, per
//! channel bias, multiplier and shift, the clamp of the fused activation. Runs once per layer;
//! every value is validated, and bad quantization parameters are a [`QuantError`] naming
//! what is wrong, never a panic.

use core::fmt;

use super::{
    activation_range, ci2, co16, co8, quantize_multiplier, set_word, AddParams, ConvHeader,
    DepthwiseLayout, PointwiseLayout, PoolParams, SoftmaxParams, ADD_PARAMS, CONV_HEADER,
    POOL_PARAMS, SOFTMAX_PARAMS, SOFTMAX_SCALED_DIFF_INTEGER_BITS,
};
use crate::pack::SrcLayout;

/// The quantization of an activation tensor, as in the file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantParams {
    /// The real value of one step.
    pub scale: f32,
    /// The integer standing for 0.0, in the tensor's own type.
    pub zero_point: i32,
    /// The tensor is `u8` (else `i8`).
    pub unsigned: bool,
}

impl QuantParams {
    /// The zero point as the `i8` storage sees it (`u8` tensors are stored moved by -128).
    pub fn stored_zero_point(&self) -> i32 {
        if self.unsigned {
            self.zero_point - 128
        } else {
            self.zero_point
        }
    }

    fn check(&self, what: &'static str) -> Result<(), QuantError> {
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(QuantError::Scale {
                what,
                channel: 0,
                scale: self.scale,
            });
        }
        let (lo, hi) = if self.unsigned { (0, 255) } else { (-128, 127) };
        if !(lo..=hi).contains(&self.zero_point) {
            return Err(QuantError::ZeroPoint {
                what,
                channel: 0,
                zero_point: self.zero_point,
            });
        }
        Ok(())
    }
}

/// A quantized weight tensor: its raw bytes (`u8` or `i8`) and its scales and zero points (one,
/// or one per output channel) as raw little-endian bytes (`f32` scales; zero points in the
/// weight's own type, one byte each).
#[derive(Clone, Copy, Debug)]
pub struct WeightQuant<'a> {
    /// The weights, one byte each, in `layout`.
    pub data: &'a [u8],
    /// Their layout.
    pub layout: SrcLayout,
    /// The weights are `u8` (else `i8`).
    pub unsigned: bool,
    /// `f32` scales: 1 (per tensor) or one per output channel.
    pub scales: &'a [u8],
    /// Zero points: 1 or one per output channel (bytes of the weight type).
    pub zero_points: &'a [u8],
}

/// Why a quantized layer could not be packed.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum QuantError {
    /// A scale is zero, negative, NaN or infinite.
    Scale {
        /// Which tensor's scale.
        what: &'static str,
        /// Its channel (0 for per-tensor).
        channel: usize,
        /// The value.
        scale: f32,
    },
    /// A zero point lies outside its type's range.
    ZeroPoint {
        /// Which tensor's zero point.
        what: &'static str,
        /// Its channel.
        channel: usize,
        /// The value.
        zero_point: i32,
    },
    /// Per-channel parameters of the wrong count.
    Channels {
        /// Which tensor.
        what: &'static str,
        /// Values given.
        found: usize,
        /// Output channels of the layer.
        channels: usize,
    },
    /// A tensor has the wrong number of bytes (a bug: shapes are checked before packing).
    Length {
        /// Which tensor.
        what: &'static str,
        /// Bytes given.
        found: usize,
        /// Bytes needed.
        expected: usize,
    },
    /// The destination region has the wrong length (a bug in the caller).
    Destination {
        /// Words given.
        found: usize,
        /// Words needed.
        expected: usize,
    },
    /// Inputs and output of an average pool must share their quantization (TFLite's rule).
    PoolQuantization,
    /// `i8` weights must be symmetric (TFLite's int8 kernels ignore a weight zero point).
    AsymmetricInt8 {
        /// The channel.
        channel: usize,
        /// Its zero point.
        zero_point: i32,
    },
    /// `u8` weights are quantized per tensor (TFLite's `u8` kernels have one multiplier).
    PerChannelUint8,
    /// A rescaling factor lies outside the range the kernel can represent.
    Multiplier {
        /// Which one.
        what: &'static str,
        /// Its value.
        value: f64,
        /// The range it must lie in.
        range: &'static str,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            QuantError::Scale {
                what,
                channel,
                scale,
            } => write!(
                f,
                "the {what} scale of channel {channel} is {scale}: scales must be finite and positive"
            ),
            QuantError::ZeroPoint {
                what,
                channel,
                zero_point,
            } => write!(
                f,
                "the {what} zero point of channel {channel} is {zero_point}, outside its type's range"
            ),
            QuantError::Channels {
                what,
                found,
                channels,
            } => write!(
                f,
                "the {what} quantization has {found} values: expected 1 (per tensor) or {channels} (per output channel)"
            ),
            QuantError::Length {
                what,
                found,
                expected,
            } => write!(f, "the {what} has {found} bytes, expected {expected}"),
            QuantError::Destination { found, expected } => write!(
                f,
                "the packed region has {found} words, expected {expected}"
            ),
            QuantError::PoolQuantization => f.write_str(
                "an average pool's input and output must have the same scale and zero point",
            ),
            QuantError::AsymmetricInt8 { channel, zero_point } => write!(
                f,
                "i8 weights must be symmetric, but channel {channel} has zero point {zero_point}"
            ),
            QuantError::PerChannelUint8 => f.write_str(
                "u8 weights must be quantized per tensor (one scale and zero point), not per channel",
            ),
            QuantError::Multiplier { what, value, range } => write!(
                f,
                "the {what} rescaling factor is {value}, outside {range}: the scales are inconsistent"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for QuantError {}

fn f32_at(b: &[u8], i: usize) -> f32 {
    f32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

fn i32_at(b: &[u8], i: usize) -> i32 {
    i32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

fn byte_value(b: u8, unsigned: bool) -> i32 {
    if unsigned {
        b as i32
    } else {
        b as i8 as i32
    }
}

fn check_len(what: &'static str, found: usize, expected: usize) -> Result<(), QuantError> {
    if found != expected {
        return Err(QuantError::Length {
            what,
            found,
            expected,
        });
    }
    Ok(())
}

fn check_dst(found: usize, expected: usize) -> Result<(), QuantError> {
    if found != expected {
        return Err(QuantError::Destination { found, expected });
    }
    Ok(())
}

/// Output channel `o`'s `(multiplier, shift)` from the weight's quantization, or the error
/// naming the channel.
fn channel_multiplier(
    w: &WeightQuant<'_>,
    input: &QuantParams,
    output: &QuantParams,
    o: usize,
) -> Result<(i32, i32), QuantError> {
    let per_channel = w.scales.len() / 4 != 1;
    let s = f32_at(w.scales, if per_channel { o } else { 0 });
    if !(s.is_finite() && s > 0.0) {
        return Err(QuantError::Scale {
            what: "weight",
            channel: o,
            scale: s,
        });
    }
    // TFLite: per-tensor layers multiply the two float scales in float, per-channel layers in
    // double (`GetQuantizedConvolutionMultipler` and `PopulateConvolutionQuantizationParams`).
    let m = if per_channel {
        input.scale as f64 * s as f64 / output.scale as f64
    } else {
        (input.scale * s) as f64 / output.scale as f64
    };
    Ok(quantize_multiplier(m))
}

fn validate_conv(
    w: &WeightQuant<'_>,
    bias: &[u8],
    input: &QuantParams,
    output: &QuantParams,
    co: usize,
    weights: usize,
) -> Result<(), QuantError> {
    input.check("input")?;
    output.check("output")?;
    check_len("weight tensor", w.data.len(), weights)?;
    check_len("bias", bias.len(), 4 * co)?;
    let n_scales = w.scales.len() / 4;
    if !w.scales.len().is_multiple_of(4) || (n_scales != 1 && n_scales != co) {
        return Err(QuantError::Channels {
            what: "weight scale",
            found: n_scales,
            channels: co,
        });
    }
    let n_zps = w.zero_points.len();
    if n_zps != 1 && n_zps != co {
        return Err(QuantError::Channels {
            what: "weight zero point",
            found: n_zps,
            channels: co,
        });
    }
    check_weight_quant(w)
}

/// Weight at `(ky, kx, i, o)` of a `[KH][KW][CI][CO]`-shaped tensor in `layout`, as an integer.
fn weight_at(
    w: &WeightQuant<'_>,
    dims: [usize; 4],
    ky: usize,
    kx: usize,
    i: usize,
    o: usize,
) -> i32 {
    let [kh, kw, ci, co] = dims;
    let idx = match w.layout {
        // Output channel outermost: OIHW, [C][1][KH][KW], [OUT][IN].
        SrcLayout::Oihw | SrcLayout::Ochw1 | SrcLayout::OutIn => ((o * ci + i) * kh + ky) * kw + kx,
        // Output channel innermost: HWIO, [KH][KW][C][1], [IN][OUT].
        SrcLayout::Hwio | SrcLayout::Hwc1 | SrcLayout::InOut => ((ky * kw + kx) * ci + i) * co + o,
    };
    byte_value(w.data[idx], w.unsigned)
}

fn write_channels(
    w: &WeightQuant<'_>,
    bias: &[u8],
    input: &QuantParams,
    output: &QuantParams,
    act: u8,
    co: usize,
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    let c8 = co8(co);
    let (act_min, act_max) = activation_range(act, output.scale, output.stored_zero_point());
    ConvHeader {
        input_zero_point: input.stored_zero_point(),
        output_zero_point: output.stored_zero_point(),
        act_min,
        act_max,
        layout: PointwiseLayout::Pairs as i32,
        weight_offset: 0,
    }
    .write(p_out);
    for o in 0..c8 {
        let (b, q, s) = if o < co {
            let (q, s) = channel_multiplier(w, input, output, o)?;
            (i32_at(bias, o), q, s)
        } else {
            (0, 0, 0)
        };
        set_word(p_out, CONV_HEADER + o, b);
        set_word(p_out, CONV_HEADER + c8 + o, q);
        set_word(p_out, CONV_HEADER + 2 * c8 + o, s);
    }
    Ok(())
}

fn weight_zero_point(w: &WeightQuant<'_>, o: usize) -> i32 {
    let n = w.zero_points.len();
    byte_value(w.zero_points[if n == 1 { 0 } else { o }], w.unsigned)
}

/// TFLite's kernels: `i8` weights are symmetric (their zero point is never read), `u8` weights
/// per tensor (one multiplier).
fn check_weight_quant(w: &WeightQuant<'_>) -> Result<(), QuantError> {
    if w.unsigned {
        if w.scales.len() != 4 || w.zero_points.len() != 1 {
            return Err(QuantError::PerChannelUint8);
        }
    } else if let Some((channel, &z)) = w.zero_points.iter().enumerate().find(|(_, &z)| z != 0) {
        return Err(QuantError::AsymmetricInt8 {
            channel,
            zero_point: z as i8 as i32,
        });
    }
    Ok(())
}

/// `(weight words, parameter words)` of a quantized full convolution.
pub const fn conv_len(kh: usize, kw: usize, ci: usize, co: usize) -> (usize, usize) {
    (kh * kw * ci * co8(co), CONV_HEADER + 3 * co8(co))
}

/// `(weight words, parameter words)` of a quantized pointwise convolution.
pub const fn pointwise_len(ci: usize, co: usize) -> (usize, usize) {
    (ci2(ci) * co8(co) / 2, CONV_HEADER + 3 * co8(co))
}

/// `(weight words, parameter words)` of a quantized depthwise convolution: the `i32` taps,
/// then for 3x3 layers the byte columns ([`DepthwiseLayout::WordsAndBytes`]).
pub const fn depthwise_len(kh: usize, kw: usize, c: usize) -> (usize, usize) {
    (
        kh * kw * co8(c) + depthwise_bytes_len(kh, kw, c),
        CONV_HEADER + 3 * co8(c),
    )
}

/// Words of the byte columns after a depthwise layer's `i32` taps: `[CO16 / 16][KW][16]`
/// for 3x3 layers, none otherwise.
pub const fn depthwise_bytes_len(kh: usize, kw: usize, c: usize) -> usize {
    if kh == 3 && kw == 3 {
        kw * co16(c)
    } else {
        0
    }
}

/// Pack a quantized full convolution (`[KH][KW][CI][CO]` weights in `w.layout`).
#[allow(clippy::too_many_arguments)]
pub fn pack_conv(
    w: &WeightQuant<'_>,
    bias: &[u8],
    input: &QuantParams,
    output: &QuantParams,
    act: u8,
    [kh, kw, ci, co]: [usize; 4],
    w_out: &mut [f32],
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    validate_conv(w, bias, input, output, co, kh * kw * ci * co)?;
    let (wl, pl) = conv_len(kh, kw, ci, co);
    check_dst(w_out.len(), wl)?;
    check_dst(p_out.len(), pl)?;
    let c8 = co8(co);
    for ky in 0..kh {
        for kx in 0..kw {
            for i in 0..ci {
                for o in 0..c8 {
                    let v = if o < co {
                        weight_at(w, [kh, kw, ci, co], ky, kx, i, o) - weight_zero_point(w, o)
                    } else {
                        0
                    };
                    set_word(w_out, ((ky * kw + kx) * ci + i) * c8 + o, v);
                }
            }
        }
    }
    write_channels(w, bias, input, output, act, co, p_out)?;
    Ok(())
}

/// Pack a quantized pointwise convolution (`[1][1][CI][CO]` weights in `w.layout`) in the
/// layout whose kernel runs fastest here ([`PointwiseLayout::preferred`]).
#[allow(clippy::too_many_arguments)]
pub fn pack_pointwise(
    w: &WeightQuant<'_>,
    bias: &[u8],
    input: &QuantParams,
    output: &QuantParams,
    act: u8,
    [ci, co]: [usize; 2],
    w_out: &mut [f32],
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    let layout = PointwiseLayout::preferred(ci);
    pack_pointwise_as(layout, w, bias, input, output, act, [ci, co], w_out, p_out)
}

/// [`pack_pointwise`] in a given layout (every kernel variant runs either; tests pack both).
/// [`PointwiseLayout::Quads`] needs `ci % 4 == 0` and falls back to pairs otherwise; with
/// symmetric `i8` weights it gives [`PointwiseLayout::SignedQuads`] (and so does asking for
/// that), with `u8` weights offset quads.
#[allow(clippy::too_many_arguments)]
pub fn pack_pointwise_as(
    layout: PointwiseLayout,
    w: &WeightQuant<'_>,
    bias: &[u8],
    input: &QuantParams,
    output: &QuantParams,
    act: u8,
    [ci, co]: [usize; 2],
    w_out: &mut [f32],
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    validate_conv(w, bias, input, output, co, ci * co)?;
    let (wl, pl) = pointwise_len(ci, co);
    check_dst(w_out.len(), wl)?;
    check_dst(p_out.len(), pl)?;
    let at = |i: usize, o: usize| -> i32 {
        if i < ci && o < co {
            weight_at(w, [1, 1, ci, co], 0, 0, i, o) - weight_zero_point(w, o)
        } else {
            0
        }
    };
    write_channels(w, bias, input, output, act, co, p_out)?;
    let quads_asked = matches!(
        layout,
        PointwiseLayout::Quads | PointwiseLayout::SignedQuads
    );
    if quads_asked && ci.is_multiple_of(4) {
        // Signed quads: the `i8` weights as they are, and the activations' move by 128 in the
        // bias. Offset quads: `w_u = w - z_w + c` lies in 0..=255, `u8` weights keeping their
        // own bytes (`c` is their one zero point).
        let signed = !w.unsigned;
        let c = if signed { 0 } else { weight_zero_point(w, 0) };
        let (c16, quads) = (co16(co), ci / 4);
        w_out.fill(0.0);
        for panel in 0..c16 / 16 {
            for k in 0..quads {
                for j in 0..16 {
                    let o = panel * 16 + j;
                    let mut word = 0u32;
                    if o < co {
                        for t in 0..4 {
                            word |= ((at(4 * k + t, o) + c) as u8 as u32) << (8 * t);
                        }
                    }
                    set_word(w_out, (panel * quads + k) * 16 + j, word as i32);
                }
            }
        }
        // The input zero point's share, `z_x sum(w - z_w)`, folded into the bias (with signed
        // quads, also the activations' offset: `(z_x + 128) sum(w)`).
        let zx = input.stored_zero_point() + if signed { 128 } else { 0 };
        for o in 0..co {
            let sum = (0..ci).fold(0i32, |s, i| s.wrapping_add(at(i, o)));
            let b = super::word(p_out, CONV_HEADER + o);
            set_word(p_out, CONV_HEADER + o, b.wrapping_sub(zx.wrapping_mul(sum)));
        }
        ConvHeader {
            layout: if signed {
                PointwiseLayout::SignedQuads
            } else {
                PointwiseLayout::Quads
            } as i32,
            weight_offset: c,
            ..ConvHeader::read(p_out)
        }
        .write(p_out);
        return Ok(());
    }
    let (c8, pairs) = (co8(co), ci2(ci) / 2);
    for panel in 0..c8 / 8 {
        for k in 0..pairs {
            for j in 0..8 {
                let o = panel * 8 + j;
                let lo = at(2 * k, o) as i16 as u16 as u32;
                let hi = at(2 * k + 1, o) as i16 as u16 as u32;
                set_word(w_out, (panel * pairs + k) * 8 + j, (lo | (hi << 16)) as i32);
            }
        }
    }
    Ok(())
}

/// Pack a quantized depthwise convolution (`[KH][KW][C]` weights in `w.layout`, multiplier 1).
#[allow(clippy::too_many_arguments)]
pub fn pack_depthwise(
    w: &WeightQuant<'_>,
    bias: &[u8],
    input: &QuantParams,
    output: &QuantParams,
    act: u8,
    [kh, kw, c]: [usize; 3],
    w_out: &mut [f32],
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    validate_conv(w, bias, input, output, c, kh * kw * c)?;
    let (wl, pl) = depthwise_len(kh, kw, c);
    check_dst(w_out.len(), wl)?;
    check_dst(p_out.len(), pl)?;
    let c8 = co8(c);
    for ky in 0..kh {
        for kx in 0..kw {
            for o in 0..c8 {
                let v = if o < c {
                    weight_at(w, [kh, kw, 1, c], ky, kx, 0, o) - weight_zero_point(w, o)
                } else {
                    0
                };
                set_word(w_out, (ky * kw + kx) * c8 + o, v);
            }
        }
    }
    write_channels(w, bias, input, output, act, c, p_out)?;
    if depthwise_bytes_len(kh, kw, c) > 0 {
        // Each channel's column kx as the bytes (w(0, kx), w(1, kx), w(2, kx), 0), if every
        // tap fits `i8`.
        let tail = kh * kw * c8;
        let (taps, columns) = w_out.split_at_mut(tail);
        let tap = |t: usize, o: usize| super::word(taps, t * c8 + o);
        let fits = (0..kh * kw).all(|t| (0..c).all(|o| i8::try_from(tap(t, o)).is_ok()));
        for b in 0..co16(c) / 16 {
            for kx in 0..kw {
                for j in 0..16 {
                    let o = b * 16 + j;
                    let mut word = 0u32;
                    if fits && o < c {
                        for ky in 0..kh {
                            word |= (tap(ky * kw + kx, o) as u8 as u32) << (8 * ky);
                        }
                    }
                    set_word(columns, (b * kw + kx) * 16 + j, word as i32);
                }
            }
        }
        let layout = if fits {
            DepthwiseLayout::WordsAndBytes
        } else {
            DepthwiseLayout::Words
        };
        ConvHeader {
            layout: layout as i32,
            ..ConvHeader::read(p_out)
        }
        .write(p_out);
    }
    Ok(())
}

/// The parameters of a quantized residual add (TFLite's `ADD`: both inputs rescaled to twice
/// the larger input scale with 20 bits of headroom).
pub fn add_params(
    a: &QuantParams,
    b: &QuantParams,
    output: &QuantParams,
    act: u8,
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    a.check("first input")?;
    b.check("second input")?;
    output.check("output")?;
    check_dst(p_out.len(), ADD_PARAMS)?;
    let left_shift = 20;
    let twice_max = 2.0 * (a.scale.max(b.scale) as f64);
    let m1 = a.scale as f64 / twice_max;
    let m2 = b.scale as f64 / twice_max;
    let mo = twice_max / ((1i64 << left_shift) as f64 * output.scale as f64);
    for (what, m) in [("first input", m1), ("second input", m2), ("output", mo)] {
        if !(m > 0.0 && m < 1.0) {
            return Err(QuantError::Multiplier {
                what,
                value: m,
                range: "(0, 1)",
            });
        }
    }
    let (act_min, act_max) = activation_range(act, output.scale, output.stored_zero_point());
    AddParams {
        zero_points: [
            a.stored_zero_point(),
            b.stored_zero_point(),
            output.stored_zero_point(),
        ],
        left_shift,
        multipliers: [
            quantize_multiplier(m1),
            quantize_multiplier(m2),
            quantize_multiplier(mo),
        ],
        act_min,
        act_max,
    }
    .write(p_out);
    Ok(())
}

/// The parameters of a quantized average pool (input and output share their quantization).
pub fn pool_params(
    input: &QuantParams,
    output: &QuantParams,
    act: u8,
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    input.check("input")?;
    output.check("output")?;
    check_dst(p_out.len(), POOL_PARAMS)?;
    if input != output {
        return Err(QuantError::PoolQuantization);
    }
    let (act_min, act_max) = activation_range(act, output.scale, output.stored_zero_point());
    PoolParams {
        offset: if input.unsigned { 128 } else { 0 },
        input_zero_point: input.stored_zero_point(),
        output_zero_point: output.stored_zero_point(),
        multiplier: (0, 0),
        act_min,
        act_max,
    }
    .write(p_out);
    Ok(())
}

/// The parameters of an average over all `count` pixels: TFLite's `AVERAGE_POOL_2D` when
/// input and output share their quantization (the rounded mean of the stored values), its
/// `MEAN` over height and width otherwise (the zero point removed, `1 / count` folded into the
/// rescaling multiplier by an integer division, as TFLite's reference).
pub fn mean_params(
    input: &QuantParams,
    output: &QuantParams,
    count: usize,
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    if input == output {
        return pool_params(input, output, crate::ACT_NONE, p_out);
    }
    input.check("input")?;
    output.check("output")?;
    check_dst(p_out.len(), POOL_PARAMS)?;
    let (m, s) = quantize_multiplier(input.scale as f64 / output.scale as f64);
    let n = count.max(1) as i64;
    let sh = (63 - n.leading_zeros() as i32).min(32).min(31 + s);
    let folded = (((m as i64) << sh) / n) as i32;
    PoolParams {
        offset: 0,
        input_zero_point: input.stored_zero_point(),
        output_zero_point: output.stored_zero_point(),
        // A zero multiplier marks the average pool; a folded multiplier is never zero for a
        // representable rescaling (m >= 2^30 and 2^sh <= n).
        multiplier: (folded.max(1), s - sh),
        act_min: -128,
        act_max: 127,
    }
    .write(p_out);
    Ok(())
}

/// The parameters of a quantized softmax (`beta = 1`) whose output has TFLite's fixed
/// quantization (scale 1/256; zero point 0 for `u8`, -128 for `i8`).
pub fn softmax_params(
    input: &QuantParams,
    output: &QuantParams,
    p_out: &mut [f32],
) -> Result<(), QuantError> {
    input.check("input")?;
    output.check("output")?;
    check_dst(p_out.len(), SOFTMAX_PARAMS)?;
    let beta = 1.0f64;
    let max_real = ((1i64 << 31) - 1) as f64;
    let real =
        (beta * input.scale as f64 * (1i64 << (31 - SOFTMAX_SCALED_DIFF_INTEGER_BITS)) as f64)
            .min(max_real);
    if real <= 1.0 {
        return Err(QuantError::Multiplier {
            what: "softmax input",
            value: real,
            range: "(1, 2^31)",
        });
    }
    let (multiplier, shift) = quantize_multiplier(real);
    let diff_min = -calculate_input_radius(SOFTMAX_SCALED_DIFF_INTEGER_BITS, shift, 31);
    SoftmaxParams {
        input_beta_multiplier: multiplier,
        input_left_shift: shift,
        diff_min,
        // TFLite's softmax ignores the output quantization: it writes round(256 p) plus the
        // type's minimum, which the i8 storage sees as -128 for u8 and i8 outputs alike.
        output_zero_point: -128,
    }
    .write(p_out);
    Ok(())
}

/// The largest input difference whose scaled value still fits: TFLite's `CalculateInputRadius`.
fn calculate_input_radius(
    input_integer_bits: i32,
    input_left_shift: i32,
    total_signed_bits: i32,
) -> i32 {
    let max_input_rescaled = ((1i64 << input_integer_bits) - 1) as f64
        * (1i64 << (total_signed_bits - input_integer_bits)) as f64
        / (1i64 << input_left_shift) as f64;
    // Rounded down (the value is positive: truncation).
    max_input_rescaled as i32
}
