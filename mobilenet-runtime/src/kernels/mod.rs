//! Layer kernels, monomorphized per layer shape through const generics.
//!
//! The functions in this module are the stable entry points called by
//! generated code. Each one forwards to an instruction-set specific variant
//! living in a submodule; today that is always [`scalar`], which is portable,
//! contains no `unsafe` and is written so that the compiler can vectorize
//! its innermost loops (they run over contiguous output channels). SIMD
//! variants are meant to sit beside it as sibling modules exposing the same
//! signatures, with the selection made here. Every variant validates its
//! slice lengths on entry (through one shared helper, so all variants fail
//! with the same message), which keeps the functions here pure forwarders.
//!
//! See the [crate documentation](crate) for tensor layouts, padding rules and
//! the shared kernel contract.

pub mod scalar;

/// Instruction-set family a kernel implementation is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Portable scalar Rust ([`scalar`]); relies on compiler auto-vectorization.
    Scalar,
}

impl Isa {
    /// Short lowercase name of the instruction set, e.g. `"scalar"`.
    pub fn name(&self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
        }
    }
}

impl core::fmt::Display for Isa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The instruction set whose kernels the functions of this module run.
pub fn active_isa() -> Isa {
    Isa::Scalar
}

/// Panics unless a slice has the length the layer shape requires.
///
/// Shared by all kernel variants so that they fail with the same message.
#[inline(always)]
#[track_caller]
pub(crate) fn check_len(kernel: &'static str, operand: &'static str, got: usize, expected: usize) {
    assert!(
        got == expected,
        "{kernel}: `{operand}` has {got} elements but the layer shape requires {expected}"
    );
}

/// Full 2-D convolution, NHWC input, HWIO weights, fused bias and activation.
///
/// * `input`: `[H][W][CI]`
/// * `weights`: `[KH][KW][CI][CO]`
/// * `bias`: `[CO]`
/// * `out`: `[HO][WO][CO]`
///
/// Output pixel `(oy, ox)` reads input rows `oy * SH - PT + ky` and columns
/// `ox * SW - PL + kx`; taps outside the input are zero, so bottom/right
/// padding is implied by `HO`/`WO`. `out = act(bias + sum)`.
///
/// # Panics
///
/// If any slice length does not match the dimensions. Zero strides fail to
/// compile.
#[inline(always)]
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
    scalar::conv2d::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(input, weights, bias, out)
}

/// Depthwise 2-D convolution (one filter per channel, multiplier 1).
///
/// * `input`: `[H][W][C]`
/// * `weights`: `[KH][KW][C]`
/// * `bias`: `[C]`
/// * `out`: `[HO][WO][C]`
///
/// Same indexing and padding rules as [`conv2d`], with
/// `out[oy][ox][c] = act(bias[c] + sum_{ky,kx} in[iy][ix][c] * w[ky][kx][c])`.
///
/// # Panics
///
/// If any slice length does not match the dimensions. Zero strides fail to
/// compile.
#[inline(always)]
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
    scalar::depthwise::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(input, weights, bias, out)
}

/// Pointwise (1x1, stride 1) convolution over `HW` pixels.
///
/// * `input`: `[HW][CI]`
/// * `weights`: `[CI][CO]`
/// * `bias`: `[CO]`
/// * `out`: `[HW][CO]`
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline(always)]
pub fn pointwise<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    scalar::pointwise::<HW, CI, CO, ACT>(input, weights, bias, out)
}

/// Average pooling without padding: each `KH x KW` window lies entirely
/// inside the input and its mean is `sum / (KH * KW)`.
///
/// * `input`: `[H][W][C]`
/// * `out`: `[HO][WO][C]`; window `(oy, ox)` starts at `(oy * SH, ox * SW)`.
///
/// # Panics
///
/// If any slice length does not match the dimensions. Windows leaving the
/// input, empty windows and zero strides fail to compile.
#[inline(always)]
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
    scalar::avgpool::<H, W, C, HO, WO, KH, KW, SH, SW>(input, out)
}

/// Global average pooling: `out[c]` is the mean of `input[p][c]` over all
/// `HW` pixels.
///
/// * `input`: `[HW][C]`
/// * `out`: `[C]`
///
/// # Panics
///
/// If any slice length does not match the dimensions; `HW = 0` fails to
/// compile.
#[inline(always)]
pub fn global_avgpool<const HW: usize, const C: usize>(input: &[f32], out: &mut [f32]) {
    scalar::global_avgpool::<HW, C>(input, out)
}

/// Fully connected layer: `out[o] = act(bias[o] + sum_i input[i] * w[i][o])`.
///
/// * `input`: `[IN]`
/// * `weights`: `[IN][OUT]` (input-major, so the inner loop over outputs is
///   contiguous)
/// * `bias`: `[OUT]`
/// * `out`: `[OUT]`
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline(always)]
pub fn fully_connected<const IN: usize, const OUT: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    scalar::fully_connected::<IN, OUT, ACT>(input, weights, bias, out)
}

/// Numerically stable softmax over `N` values, in place: the maximum is
/// subtracted before exponentiating, so large logits cannot overflow.
///
/// `N = 0` is a no-op.
///
/// # Panics
///
/// If `x.len() != N`.
#[inline(always)]
pub fn softmax<const N: usize>(x: &mut [f32]) {
    scalar::softmax::<N>(x)
}

#[cfg(test)]
mod tests;
