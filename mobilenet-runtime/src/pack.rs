//! Load-time weight packing: framework layouts to kernel layouts, with batch
//! norm folded into weight and bias.
//!
//! Source tensors are raw little-endian `f32` bytes (as stored in a
//! safetensors file, with no alignment requirement); destinations are `f32`
//! slices in the layouts documented in the [crate root](crate). These
//! functions run once per layer when a model is loaded, so they favour
//! clarity and exactness over speed: folding is computed in `f64` and
//! rounded to `f32` once.
//!
//! Every length is validated before anything is written, and a mismatch is
//! reported as a [`PackError`] rather than a panic.

use core::fmt;

/// Batch-norm parameters to fold into the preceding convolution, as raw
/// little-endian `f32` bytes with one value per output channel.
///
/// Folding computes, per output channel `c`:
///
/// ```text
/// scale[c] = gamma[c] / sqrt(var[c] + eps)
/// w'[.., c] = w[.., c] * scale[c]
/// b'[c]     = (b[c] - mean[c]) * scale[c] + beta[c]
/// ```
///
/// where `b` is the convolution bias (zero when the convolution has none).
#[derive(Clone, Copy, Debug)]
pub struct BatchNorm<'a> {
    /// Scale (`weight` in PyTorch); `None` means all ones (e.g. Keras
    /// `scale=False`).
    pub gamma: Option<&'a [u8]>,
    /// Shift (`bias` in PyTorch); `None` means all zeros (Keras
    /// `center=False`).
    pub beta: Option<&'a [u8]>,
    /// Running mean.
    pub mean: &'a [u8],
    /// Running variance.
    pub var: &'a [u8],
    /// Epsilon added to the variance (PyTorch default `1e-5`, Keras `1e-3`).
    pub eps: f32,
}

/// Memory layout of a source weight tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrcLayout {
    /// `[O][I][KH][KW]`: PyTorch / ONNX convolution.
    Oihw,
    /// `[KH][KW][I][O]`: TensorFlow / Keras convolution (also the kernel
    /// layout).
    Hwio,
    /// `[KH][KW][C][1]`: TensorFlow depthwise kernel with multiplier 1.
    Hwc1,
    /// `[C][1][KH][KW]`: PyTorch depthwise (grouped) convolution.
    Ochw1,
    /// `[OUT][IN]`: PyTorch `Linear`.
    OutIn,
    /// `[IN][OUT]`: Keras `Dense` (also the kernel layout).
    InOut,
}

impl SrcLayout {
    /// Every layout.
    pub const ALL: [SrcLayout; 6] = [
        SrcLayout::Oihw,
        SrcLayout::Hwio,
        SrcLayout::Hwc1,
        SrcLayout::Ochw1,
        SrcLayout::OutIn,
        SrcLayout::InOut,
    ];

    /// Lowercase identifier of the layout, e.g. `"oihw"`, `"out_in"` (as in JSON reports).
    pub fn key(&self) -> &'static str {
        match self {
            SrcLayout::Oihw => "oihw",
            SrcLayout::Hwio => "hwio",
            SrcLayout::Hwc1 => "hwc1",
            SrcLayout::Ochw1 => "ochw1",
            SrcLayout::OutIn => "out_in",
            SrcLayout::InOut => "in_out",
        }
    }

    /// Where the layout comes from, e.g. `"PyTorch OIHW"`, for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            SrcLayout::Oihw => "PyTorch OIHW",
            SrcLayout::Hwio => "TF HWIO",
            SrcLayout::Hwc1 => "TF depthwise [KH, KW, C, 1]",
            SrcLayout::Ochw1 => "PyTorch depthwise [C, 1, KH, KW]",
            SrcLayout::OutIn => "PyTorch [out, in]",
            SrcLayout::InOut => "Keras [in, out]",
        }
    }

    /// Short name of the layout, e.g. `"OIHW"`.
    pub fn name(&self) -> &'static str {
        match self {
            SrcLayout::Oihw => "OIHW",
            SrcLayout::Hwio => "HWIO",
            SrcLayout::Hwc1 => "HWC1",
            SrcLayout::Ochw1 => "OCHW1",
            SrcLayout::OutIn => "OUT_IN",
            SrcLayout::InOut => "IN_OUT",
        }
    }
}

impl fmt::Display for SrcLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which argument of a packing function a [`PackError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// The weight tensor (`src` or `w_out`).
    Weights,
    /// The bias (`bias` or `b_out`).
    Bias,
    /// [`BatchNorm::gamma`].
    Gamma,
    /// [`BatchNorm::beta`].
    Beta,
    /// [`BatchNorm::mean`].
    Mean,
    /// [`BatchNorm::var`].
    Var,
}

impl Operand {
    /// Lowercase name of the operand, e.g. `"weights"`.
    pub fn name(&self) -> &'static str {
        match self {
            Operand::Weights => "weights",
            Operand::Bias => "bias",
            Operand::Gamma => "batch-norm gamma",
            Operand::Beta => "batch-norm beta",
            Operand::Mean => "batch-norm mean",
            Operand::Var => "batch-norm variance",
        }
    }
}

/// Why a packing function refused its arguments. Nothing has been written to
/// the destinations when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PackError {
    /// A source byte slice does not hold exactly the number of `f32` values
    /// the dimensions require.
    SourceLength {
        /// Which source.
        operand: Operand,
        /// Required length in bytes (4 per value).
        expected_bytes: usize,
        /// Actual length in bytes.
        got_bytes: usize,
    },
    /// A destination slice has the wrong number of `f32` elements.
    DestLength {
        /// Which destination.
        operand: Operand,
        /// Required number of `f32` elements.
        expected: usize,
        /// Actual number of `f32` elements.
        got: usize,
    },
    /// The source layout cannot describe this kind of weight (for example a
    /// depthwise layout for a full convolution, or `OutIn` for a convolution
    /// whose kernel is not 1x1).
    UnsupportedLayout {
        /// The packing function: `"conv2d"`, `"depthwise"` or
        /// `"fully_connected"`.
        kernel: &'static str,
        /// The rejected layout.
        layout: SrcLayout,
    },
    /// The product of the dimensions (in bytes) overflows `usize`.
    SizeOverflow,
    /// `var + eps` is zero, negative or NaN for this output channel, so batch
    /// norm cannot be folded.
    InvalidVariance {
        /// The output channel.
        channel: usize,
    },
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PackError::SourceLength {
                operand,
                expected_bytes,
                got_bytes,
            } => write!(
                f,
                "{} source data has {got_bytes} bytes but the layer shape requires {expected_bytes} bytes \
                 ({} little-endian f32 values)",
                operand.name(),
                expected_bytes / 4
            ),
            PackError::DestLength {
                operand,
                expected,
                got,
            } => write!(
                f,
                "packed {} destination has {got} f32 elements but the layer shape requires {expected}",
                operand.name()
            ),
            PackError::UnsupportedLayout { kernel, layout } => match layout {
                SrcLayout::OutIn | SrcLayout::InOut if kernel == "conv2d" => write!(
                    f,
                    "source layout {layout} describes conv2d weights only when the kernel is 1x1"
                ),
                _ => write!(f, "source layout {layout} cannot describe {kernel} weights"),
            },
            PackError::SizeOverflow => {
                f.write_str("the weight tensor dimensions overflow the address space")
            }
            PackError::InvalidVariance { channel } => write!(
                f,
                "batch norm cannot be folded: var + eps is not positive for channel {channel}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PackError {}

/// Reads the `i`-th little-endian `f32` of `src`. Callers validate lengths.
#[inline]
fn f32_at(src: &[u8], i: usize) -> f32 {
    let b = &src[i * 4..i * 4 + 4];
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Checked product of dimensions that also leaves room for the byte size.
fn elems(dims: &[usize]) -> Result<usize, PackError> {
    let n = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(PackError::SizeOverflow)?;
    n.checked_mul(4).ok_or(PackError::SizeOverflow)?;
    Ok(n)
}

fn check_src(operand: Operand, src: &[u8], n: usize) -> Result<(), PackError> {
    // n * 4 cannot overflow: `elems` checked it.
    if src.len() == n * 4 {
        Ok(())
    } else {
        Err(PackError::SourceLength {
            operand,
            expected_bytes: n * 4,
            got_bytes: src.len(),
        })
    }
}

fn check_dst(operand: Operand, dst: &[f32], n: usize) -> Result<(), PackError> {
    if dst.len() == n {
        Ok(())
    } else {
        Err(PackError::DestLength {
            operand,
            expected: n,
            got: dst.len(),
        })
    }
}

/// Per-output-channel scale and folded bias.
struct Fold<'s, 'a> {
    bias: Option<&'s [u8]>,
    bn: Option<&'s BatchNorm<'a>>,
}

impl Fold<'_, '_> {
    /// Validates all lengths for `n` output channels and that every
    /// `var + eps` is positive.
    fn validate(&self, n: usize) -> Result<(), PackError> {
        if let Some(bias) = self.bias {
            check_src(Operand::Bias, bias, n)?;
        }
        if let Some(bn) = self.bn {
            if let Some(gamma) = bn.gamma {
                check_src(Operand::Gamma, gamma, n)?;
            }
            if let Some(beta) = bn.beta {
                check_src(Operand::Beta, beta, n)?;
            }
            check_src(Operand::Mean, bn.mean, n)?;
            check_src(Operand::Var, bn.var, n)?;
            for channel in 0..n {
                let denom = f32_at(bn.var, channel) as f64 + bn.eps as f64;
                if denom.is_nan() || denom <= 0.0 {
                    return Err(PackError::InvalidVariance { channel });
                }
            }
        }
        Ok(())
    }

    /// `(scale, folded bias)` for output channel `c`; lengths validated.
    fn channel(&self, c: usize) -> (f64, f32) {
        let b = self.bias.map_or(0.0, |b| f32_at(b, c) as f64);
        match self.bn {
            None => (1.0, b as f32),
            Some(bn) => {
                let gamma = bn.gamma.map_or(1.0, |g| f32_at(g, c) as f64);
                let beta = bn.beta.map_or(0.0, |g| f32_at(g, c) as f64);
                let mean = f32_at(bn.mean, c) as f64;
                let var = f32_at(bn.var, c) as f64;
                let scale = gamma / crate::math::sqrt_f64(var + bn.eps as f64);
                (scale, ((b - mean) * scale + beta) as f32)
            }
        }
    }
}

#[inline]
fn scaled(w: f32, scale: f64) -> f32 {
    (w as f64 * scale) as f32
}

/// Packs full-convolution weights into the kernel layout `[KH][KW][CI][CO]`
/// (HWIO) and writes the bias, folding batch norm if `bn` is given.
///
/// * `src`: `kh * kw * ci * co` little-endian `f32` in `layout`, which must
///   be [`SrcLayout::Oihw`] or [`SrcLayout::Hwio`]; [`SrcLayout::OutIn`] and
///   [`SrcLayout::InOut`] are accepted for 1x1 kernels.
/// * `bias`: optional convolution bias, `co` values.
/// * `bn`: optional batch norm over the `co` output channels.
/// * `w_out`: exactly `kh * kw * ci * co` elements.
/// * `b_out`: exactly `co` elements; receives the (folded) bias, or zeros
///   when there is neither bias nor batch norm.
#[allow(clippy::too_many_arguments)]
pub fn pack_conv(
    src: &[u8],
    layout: SrcLayout,
    kh: usize,
    kw: usize,
    ci: usize,
    co: usize,
    bias: Option<&[u8]>,
    bn: Option<&BatchNorm<'_>>,
    w_out: &mut [f32],
    b_out: &mut [f32],
) -> Result<(), PackError> {
    let n = elems(&[kh, kw, ci, co])?;
    pack_full(
        src,
        layout,
        kh,
        kw,
        ci,
        co,
        bias,
        bn,
        w_out,
        n,
        b_out,
        |y, x, i, o| ((y * kw + x) * ci + i) * co + o,
    )
}

/// Number of `f32` values of 1x1-convolution weights packed into 16-channel panels
/// ([`pack_pointwise`]): `ci * co` rounded up to whole panels.
pub const fn pointwise_len(ci: usize, co: usize) -> usize {
    co.div_ceil(PANEL) * PANEL * ci
}

/// Output channels per panel of packed pointwise weights.
pub const PANEL: usize = 16;

/// Packs 1x1-convolution weights into the layout of [`kernels::pointwise`](crate::kernels::pointwise):
/// panels of 16 output channels, `[CO / 16][CI][16]`, the last panel zero-padded when `co` is
/// not a multiple of 16, so that the kernel streams each panel contiguously. Writes the bias
/// (`co` values), folding batch norm if `bn` is given.
///
/// * `src`: `ci * co` little-endian `f32` in `layout` ([`SrcLayout::Oihw`], [`SrcLayout::Hwio`],
///   [`SrcLayout::OutIn`] or [`SrcLayout::InOut`]; the kernel is 1x1).
/// * `w_out`: exactly [`pointwise_len`]`(ci, co)` elements.
/// * `b_out`: exactly `co` elements.
#[allow(clippy::too_many_arguments)]
pub fn pack_pointwise(
    src: &[u8],
    layout: SrcLayout,
    ci: usize,
    co: usize,
    bias: Option<&[u8]>,
    bn: Option<&BatchNorm<'_>>,
    w_out: &mut [f32],
    b_out: &mut [f32],
) -> Result<(), PackError> {
    elems(&[ci, co.div_ceil(PANEL) * PANEL])?;
    let n = pointwise_len(ci, co);
    // Padding lanes of the last panel stay zero.
    if w_out.len() == n {
        w_out.fill(0.0);
    }
    pack_full(
        src,
        layout,
        1,
        1,
        ci,
        co,
        bias,
        bn,
        w_out,
        n,
        b_out,
        |_, _, i, o| (o / PANEL * ci + i) * PANEL + o % PANEL,
    )
}

/// Shared body of [`pack_conv`] and [`pack_pointwise`]: reads a full convolution's weights in
/// `layout`, scales them per output channel, and writes element `(y, x, i, o)` at `dst(y, x, i, o)`.
#[allow(clippy::too_many_arguments)]
fn pack_full(
    src: &[u8],
    layout: SrcLayout,
    kh: usize,
    kw: usize,
    ci: usize,
    co: usize,
    bias: Option<&[u8]>,
    bn: Option<&BatchNorm<'_>>,
    w_out: &mut [f32],
    w_len: usize,
    b_out: &mut [f32],
    dst: impl Fn(usize, usize, usize, usize) -> usize,
) -> Result<(), PackError> {
    let out_major = match layout {
        SrcLayout::Oihw => true,
        SrcLayout::Hwio => false,
        SrcLayout::OutIn if kh == 1 && kw == 1 => true,
        SrcLayout::InOut if kh == 1 && kw == 1 => false,
        _ => {
            return Err(PackError::UnsupportedLayout {
                kernel: "conv2d",
                layout,
            })
        }
    };
    let n = elems(&[kh, kw, ci, co])?;
    check_src(Operand::Weights, src, n)?;
    let fold = Fold { bias, bn };
    fold.validate(co)?;
    check_dst(Operand::Weights, w_out, w_len)?;
    check_dst(Operand::Bias, b_out, co)?;

    for (o, b) in b_out.iter_mut().enumerate() {
        let (scale, folded) = fold.channel(o);
        *b = folded;
        for y in 0..kh {
            for x in 0..kw {
                for i in 0..ci {
                    let s = if out_major {
                        ((o * ci + i) * kh + y) * kw + x
                    } else {
                        ((y * kw + x) * ci + i) * co + o
                    };
                    w_out[dst(y, x, i, o)] = scaled(f32_at(src, s), scale);
                }
            }
        }
    }
    Ok(())
}

/// Packs depthwise weights into the kernel layout `[KH][KW][C]` and writes
/// the bias, folding batch norm if `bn` is given.
///
/// * `src`: `kh * kw * c` little-endian `f32` in `layout`:
///   [`SrcLayout::Hwc1`] (or [`SrcLayout::Hwio`] read as `[KH][KW][1][C]`,
///   the same order) or [`SrcLayout::Ochw1`] (or [`SrcLayout::Oihw`] read as
///   `[C][1][KH][KW]`, the same order).
/// * `bias`: optional bias, `c` values.
/// * `bn`: optional batch norm over the `c` channels.
/// * `w_out`: exactly `kh * kw * c` elements.
/// * `b_out`: exactly `c` elements.
#[allow(clippy::too_many_arguments)]
pub fn pack_depthwise(
    src: &[u8],
    layout: SrcLayout,
    kh: usize,
    kw: usize,
    c: usize,
    bias: Option<&[u8]>,
    bn: Option<&BatchNorm<'_>>,
    w_out: &mut [f32],
    b_out: &mut [f32],
) -> Result<(), PackError> {
    let channel_major = match layout {
        SrcLayout::Ochw1 | SrcLayout::Oihw => true,
        SrcLayout::Hwc1 | SrcLayout::Hwio => false,
        _ => {
            return Err(PackError::UnsupportedLayout {
                kernel: "depthwise",
                layout,
            })
        }
    };
    let n = elems(&[kh, kw, c])?;
    check_src(Operand::Weights, src, n)?;
    let fold = Fold { bias, bn };
    fold.validate(c)?;
    check_dst(Operand::Weights, w_out, n)?;
    check_dst(Operand::Bias, b_out, c)?;

    let taps = kh * kw;
    for (ch, b) in b_out.iter_mut().enumerate() {
        let (scale, folded) = fold.channel(ch);
        *b = folded;
        for k in 0..taps {
            let s = if channel_major {
                ch * taps + k
            } else {
                k * c + ch
            };
            w_out[k * c + ch] = scaled(f32_at(src, s), scale);
        }
    }
    Ok(())
}

/// Packs fully-connected weights into the kernel layout `[IN][OUT]` and
/// writes the bias (zeros when `bias` is `None`).
///
/// * `src`: `in_ * out` little-endian `f32` in `layout`:
///   [`SrcLayout::OutIn`] (or [`SrcLayout::Oihw`] read as `[OUT][IN][1][1]`)
///   or [`SrcLayout::InOut`] (or [`SrcLayout::Hwio`] read as
///   `[1][1][IN][OUT]`).
/// * `bias`: optional bias, `out` values.
/// * `w_out`: exactly `in_ * out` elements.
/// * `b_out`: exactly `out` elements.
pub fn pack_fc(
    src: &[u8],
    layout: SrcLayout,
    in_: usize,
    out: usize,
    bias: Option<&[u8]>,
    w_out: &mut [f32],
    b_out: &mut [f32],
) -> Result<(), PackError> {
    let out_major = match layout {
        SrcLayout::OutIn | SrcLayout::Oihw => true,
        SrcLayout::InOut | SrcLayout::Hwio => false,
        _ => {
            return Err(PackError::UnsupportedLayout {
                kernel: "fully_connected",
                layout,
            })
        }
    };
    let n = elems(&[in_, out])?;
    check_src(Operand::Weights, src, n)?;
    let fold = Fold { bias, bn: None };
    fold.validate(out)?;
    check_dst(Operand::Weights, w_out, n)?;
    check_dst(Operand::Bias, b_out, out)?;

    for (o, b) in b_out.iter_mut().enumerate() {
        *b = fold.channel(o).1;
        for i in 0..in_ {
            let s = if out_major { o * in_ + i } else { i * out + o };
            w_out[i * out + o] = f32_at(src, s);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
