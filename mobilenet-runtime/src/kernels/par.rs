//! The layer kernels split across the threads of a [`Pool`] (feature `std`): what a
//! threaded forward calls for its large layers. Each call runs one [`Part`] per pool thread of
//! the same kernel instantiation the single-threaded forward uses (the split itself is the
//! kernel's, from its constant shape), so the result is bit-identical to the whole call's;
//! layers too small to pay for a fork and join (under [`MIN_PARALLEL_MACS`]) run whole on the
//! caller. Nothing here allocates or locks (see [`Pool::run`]).

use super::{check_len, Part};
use crate::threads::Pool;

/// Multiply-adds under which a layer runs on the calling thread alone: a fork and join costs a
/// few microseconds, about what two cores save on a layer of this size.
pub const MIN_PARALLEL_MACS: usize = 150_000;

/// The output pointer, shared by the parts of one call (each writes only its own share).
struct Out<T>(*mut T);

impl<T> Clone for Out<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Out<T> {}
// SAFETY: the pointer is only dereferenced by kernel parts of one call, which write disjoint
// shares of the output (the `Part` contract) while `run` keeps the exclusive borrow it came from
// alive.
unsafe impl<T> Send for Out<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Out<T> {}

impl<T> Out<T> {
    /// The pointer (a method, so a closure captures the whole `Send` wrapper, not its field).
    #[inline(always)]
    fn ptr(self) -> *mut T {
        self.0
    }
}

/// Runs `part(i)` for the parts of a layer of `macs` multiply-adds: one per pool thread, or one
/// on the caller for a small layer.
fn split(pool: &Pool, macs: usize, part: &(dyn Fn(Part) + Sync)) {
    split_above(pool, macs, MIN_PARALLEL_MACS, part)
}

/// [`split`] with the threshold `min` (multiply-adds) under which the layer runs whole.
fn split_above(pool: &Pool, macs: usize, min: usize, part: &(dyn Fn(Part) + Sync)) {
    let count = if macs < min { 1 } else { pool.threads() };
    if count == 1 {
        return part(Part::WHOLE);
    }
    pool.run(count, &|index| part(Part { index, count }));
}

/// [`kernels::pointwise`](super::pointwise) on every thread of `pool`.
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
pub fn pointwise<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    pool: &Pool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("pointwise", "out", out.len(), HW * CO);
    let y = Out(out.as_mut_ptr());
    split(pool, HW * CI * CO, &|part| {
        // SAFETY: `y` is the exclusive borrow `out`, of the whole output, for the duration of
        // `split`; every part of this call has a distinct index of one count.
        unsafe { super::pointwise_part::<HW, CI, CO, ACT>(input, weights, bias, y.ptr(), part) }
    });
}

/// [`kernels::pointwise_add`](super::pointwise_add) on every thread of `pool`: `out` holds the
/// residual on entry.
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
pub fn pointwise_add<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    pool: &Pool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("pointwise_add", "out", out.len(), HW * CO);
    let y = Out(out.as_mut_ptr());
    split(pool, HW * CI * CO, &|part| {
        // SAFETY: as in `pointwise`.
        unsafe { super::pointwise_add_part::<HW, CI, CO, ACT>(input, weights, bias, y.ptr(), part) }
    });
}

/// [`kernels::conv2d`](super::conv2d) on every thread of `pool` (output rows).
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
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
    pool: &Pool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("conv2d", "out", out.len(), HO * WO * CO);
    let y = Out(out.as_mut_ptr());
    split(pool, HO * WO * CO * KH * KW * CI, &|part| {
        // SAFETY: as in `pointwise`.
        unsafe {
            super::conv2d_part::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                input,
                weights,
                bias,
                y.ptr(),
                part,
            )
        }
    });
}

/// [`kernels::depthwise`](super::depthwise) on every thread of `pool`.
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
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
    pool: &Pool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("depthwise", "out", out.len(), HO * WO * C);
    let y = Out(out.as_mut_ptr());
    split(pool, HO * WO * C * KH * KW, &|part| {
        // SAFETY: as in `pointwise`.
        unsafe {
            super::depthwise_part::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
                input,
                weights,
                bias,
                y.ptr(),
                part,
            )
        }
    });
}

/// [`kernels::depthwise_pointwise`](super::depthwise_pointwise) on every thread of `pool`,
/// whole bands per thread: the two layers with one fork and join, no barrier between them.
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn depthwise_pointwise<
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
    const CO: usize,
    const ACT2: u8,
    const ROWS: usize,
    const BAND_HW: usize,
    const LAST_HW: usize,
    const RES: bool,
>(
    pool: &Pool,
    input: &[f32],
    dw_weights: &[f32],
    dw_bias: &[f32],
    pw_weights: &[f32],
    pw_bias: &[f32],
    out: &mut [f32],
) {
    check_len("depthwise_pointwise", "out", out.len(), HO * WO * CO);
    let y = Out(out.as_mut_ptr());
    split(pool, HO * WO * C * (KH * KW + CO), &|part| {
        // SAFETY: as in `pointwise`.
        unsafe {
            super::depthwise_pointwise_part::<
                H,
                W,
                C,
                HO,
                WO,
                KH,
                KW,
                SH,
                SW,
                PT,
                PL,
                ACT,
                CO,
                ACT2,
                ROWS,
                BAND_HW,
                LAST_HW,
                RES,
            >(
                input,
                dw_weights,
                dw_bias,
                pw_weights,
                pw_bias,
                y.ptr(),
                part,
            )
        }
    });
}

/// [`kernels::fully_connected`](super::fully_connected) split by output columns (whole 64-byte
/// lines): each part streams its own columns of every weight row, so the parts share DRAM
/// bandwidth rather than wait on one core's.
#[inline]
pub fn fully_connected<const IN: usize, const OUT: usize, const ACT: u8>(
    pool: &Pool,
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("fully_connected", "out", out.len(), OUT);
    let y = Out(out.as_mut_ptr());
    split(pool, IN * OUT, &|part| {
        // SAFETY: `out` holds OUT values (checked); the parts of one split write disjoint
        // columns (`fc_columns`), and `split` returns only after every part has finished.
        unsafe { super::fully_connected_part::<IN, OUT, ACT>(input, weights, bias, y.ptr(), part) }
    });
}

/// Multiply-adds under which a quantized layer runs on the calling thread alone: the int8
/// kernels do about four times the multiply-adds per second of the f32 ones, so the same fork
/// and join needs about four times the work to pay.
pub const MIN_PARALLEL_Q8_MACS: usize = 4 * MIN_PARALLEL_MACS;

/// [`kernels::q8_pointwise`](super::q8_pointwise) on every thread of `pool` (whole tiles of
/// pixels per thread; the fully connected layer, one pixel, runs whole).
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
pub fn q8_pointwise<const HW: usize, const CI: usize, const CO: usize>(
    pool: &Pool,
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_len("q8::pointwise", "out", out.len(), HW * CO);
    let y = Out(out.as_mut_ptr());
    let macs = if HW >= 12 { HW * CI * CO } else { 0 };
    split_above(pool, macs, MIN_PARALLEL_Q8_MACS, &|part| {
        // SAFETY: as in `pointwise`.
        unsafe {
            crate::quant::kernels::pointwise_part::<HW, CI, CO>(
                input,
                weights,
                params,
                y.ptr(),
                part,
            )
        }
    });
}

/// [`kernels::q8_depthwise`](super::q8_depthwise) on every thread of `pool` (output rows).
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
pub fn q8_depthwise<
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
    pool: &Pool,
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_len("q8::depthwise", "out", out.len(), HO * WO * C);
    let y = Out(out.as_mut_ptr());
    split_above(pool, HO * WO * C * KH * KW, MIN_PARALLEL_Q8_MACS, &|part| {
        // SAFETY: as in `pointwise`.
        unsafe {
            crate::quant::kernels::depthwise_part::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL>(
                input,
                weights,
                params,
                y.ptr(),
                part,
            )
        }
    });
}

/// [`kernels::q8_conv2d`](super::q8_conv2d) on every thread of `pool` (output rows).
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
pub fn q8_conv2d<
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
    pool: &Pool,
    input: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_len("q8::conv2d", "out", out.len(), HO * WO * CO);
    let y = Out(out.as_mut_ptr());
    let macs = HO * WO * CO * KH * KW * CI;
    split_above(pool, macs, MIN_PARALLEL_Q8_MACS, &|part| {
        // SAFETY: as in `pointwise`.
        unsafe {
            crate::quant::kernels::conv2d_part::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(
                input,
                weights,
                params,
                y.ptr(),
                part,
            )
        }
    });
}

/// [`kernels::q8_add`](super::q8_add) on every thread of `pool` (whole runs of 64 values).
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline]
pub fn q8_add<const N: usize>(
    pool: &Pool,
    a: &[i8],
    b: &[i8],
    weights: &[f32],
    params: &[f32],
    out: &mut [i8],
) {
    check_len("q8::add", "out", out.len(), N);
    let y = Out(out.as_mut_ptr());
    // Three requantizations a value, about what 32 multiply-adds of a pointwise layer cost.
    split_above(pool, N * 32, MIN_PARALLEL_Q8_MACS, &|part| {
        // SAFETY: as in `pointwise`.
        unsafe { crate::quant::kernels::add_part::<N>(a, b, weights, params, y.ptr(), part) }
    });
}
