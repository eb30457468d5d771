//! The SIMD kernels, written once, generic over the vector type ([`Simd`]), and instantiated
//! per instruction set by [`isa_kernels!`] (in [`avx2`](super::avx2),
//! [`avx512`](super::avx512)). Signatures and semantics are those of the
//! [`scalar`](super::scalar) twins.
//!
//! Every entry point is `unsafe` only because the CPU must support the instruction set;
//! [`super`] calls them after checking that (at compile time or by run-time detection). Slice
//! lengths are asserted on entry exactly like the scalar twins, so all pointer arithmetic below
//! stays inside the checked slices.
//!
//! Design (`L` = lanes per vector: 8 for AVX2, 16 for AVX-512):
//! - pointwise (1x1) convolution is a register-blocked GEMM: a micro-kernel computes a tile of
//!   `MR` pixels x `NV` vectors of output channels (`MR * NV` accumulators, `NV` weight vectors
//!   and one broadcast per step), with bias in the accumulators' initial value and the
//!   activation applied before the store. `MR` and `NV` are chosen per instruction set (its
//!   register count); weights are packed once in 16-channel panels, so an AVX2 tile covers one
//!   panel with two vectors and an AVX-512 tile two panels with one vector each. Weight panels
//!   are processed in groups that fit L2 and each group is swept by every pixel block, so
//!   early layers (small weights) keep all weights in cache and late layers (large weights)
//!   load each panel once; an ISA may instead run weight-stationary passes whose weights fit
//!   L1 ([`l1_passes`]). Tails (pixels not a multiple of `MR`, a panel count not a multiple
//!   of the tile's) are separate monomorphized calls, not branches in the inner loop; a
//!   remainder too short to hide the FMA latency is merged with the last full block and the
//!   two split evenly ([`pointwise_blocks`]).
//! - depthwise convolution is vectorized over `L` channels; for each channel block the KHxKW
//!   filter taps stay in registers while a run of output pixels is computed, each input column
//!   loaded once per filter row at stride 1. Small feature maps go through a dense,
//!   zero-padded copy of each channel slice (no borders, no L1 aliasing).
//! - full convolution (the first layer) and fully connected layers are vectorized over output
//!   channels, several output pixels at a time.

use super::simd::{Simd, MAX_LANES};
use super::{check_len, Part, FUSED_BAND_FLOATS};
use crate::pack::PANEL;
use crate::{ACT_NONE, ACT_RELU, ACT_RELU6};

/// A stack buffer on whole cache lines: vectors stored into it at multiples of 64 bytes never
/// straddle two lines (an unaligned f32 array costs the dense depthwise a line split on every
/// AVX-512 load and store: measured 1.2-1.3x slower on the 14x14 and 8x8 layers).
#[repr(C, align(64))]
struct Lines<T>(T);

/// Zeros: the input of taps that fall outside the image.
static ZEROS: [f32; MAX_LANES] = [0.0; MAX_LANES];

/// Input channels per pass of the pointwise kernel (bounds the packed pixel block and the
/// weight sub-panel that stay in L1).
const KC: usize = 512;
/// Input channels up to which the pointwise kernel reads pixel rows in place instead of packing
/// them (measured on AVX2: packing only cost time up to 1024 channels, the widest MobileNet
/// layer).
const DIRECT_CI: usize = 1024;
/// Largest pointwise `MR` of any instruction set (sizes the packing buffer).
const MAX_MR: usize = 12;
/// The pointwise packing buffer: up to `MAX_MR` pixels x `KC` channels.
pub(crate) type PackBuf = [f32; MAX_MR * KC];
/// Bytes of weights one weight-stationary pass keeps in L1 (see [`l1_passes`]).
const L1_WEIGHTS_BYTES: usize = 32 * 1024;
/// Accumulators a tile needs to keep two FMA pipes of 4-cycle latency busy: a pixel block
/// whose tile has fewer is latency-bound (see [`pointwise_blocks`]).
const FULL_ACC: usize = 8;
/// Bytes of weight panels kept hot in L2 while all pixel blocks sweep them.
const L2_PANELS_BYTES: usize = 256 * 1024;
/// Weights (bytes) from which a pointwise layer prefetches its weight panels in software: they
/// come from DRAM, and a panel (`CI x 16` values, up to 64 KiB) spans many 4 KiB pages, at each
/// of which the hardware prefetchers stop.
const PREFETCH_WEIGHTS_BYTES: usize = 1024 * 1024;
/// How far ahead (in weight rows of one panel, one cache line each) the prefetch reaches.
const PREFETCH_ROWS: usize = 32;

/// Activation on a vector.
#[inline(always)]
unsafe fn act<S: Simd, const ACT: u8>(x: S::V) -> S::V {
    // SAFETY: register-only operations; callers run with the ISA enabled.
    unsafe {
        match ACT {
            ACT_RELU => S::max(x, S::zero()),
            ACT_RELU6 => S::min(S::max(x, S::zero()), S::splat(6.0)),
            _ => {
                debug_assert_eq!(ACT, ACT_NONE);
                x
            }
        }
    }
}

/// Lanes of vector `v` among the first `n` values of a row (0..=L).
#[inline(always)]
fn lanes<S: Simd>(n: usize, v: usize) -> usize {
    n.saturating_sub(v * S::LANES).min(S::LANES)
}

// ---------------------------------------------------------------------------------------------
// Pointwise (1x1) convolution: C[HW][CO] = act(A[HW][CI] * B[CI][CO] + bias)
// ---------------------------------------------------------------------------------------------

/// One `R` (1..=MR) pixels x `NV` vectors tile over `kc` input channels.
///
/// `a` holds the pixel values, element (r, k) at `k*KS + r*RS` (the input rows in place, or
/// packed k-major); `b` the first weight panel's rows for these input channels (`[kc][16]`,
/// the tile's following panels `CI * 16` values apart); `c` the output tile (row stride `CO`),
/// of which the first `n` (1..=NV*L) columns are stored. The first pass (`first`) starts from
/// the bias (with `RES`, from the bias plus the residual that `c` holds on entry), later passes
/// from the partial sums in `c`; the activation is applied on the last pass only.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<
    S: Simd,
    const R: usize,
    const NV: usize,
    const KS: usize,
    const RS: usize,
    const CI: usize,
    const CO: usize,
    const ACT: u8,
    const RES: bool,
>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    bias: *const f32,
    c: *mut f32,
    n: usize,
    first: bool,
    last: bool,
    prefetch: bool,
) {
    // Offset of vector v within a k-step of the weights: its panel, then its lanes.
    let woff = |v: usize| (v * S::LANES) / PANEL * CI * PANEL + (v * S::LANES) % PANEL;
    // SAFETY: the caller guarantees the R x kc pixel values at `a`, the NV*L/16 panels of kc*16
    // weights at `b`, n bias values and R rows of n outputs at `c` (row stride CO); vectors
    // with no lanes among the n columns are not loaded or stored.
    unsafe {
        let mut acc = [[S::zero(); NV]; R];
        if first {
            let mut bv = [S::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                if lanes::<S>(n, v) > 0 {
                    *x = S::load_n(bias.add(v * S::LANES), lanes::<S>(n, v));
                }
            }
            acc = [bv; R];
            if RES {
                // The output tile holds the residual: start from residual + bias.
                for (r, row) in acc.iter_mut().enumerate() {
                    for (v, x) in row.iter_mut().enumerate() {
                        let m = lanes::<S>(n, v);
                        if m > 0 {
                            *x = S::add(*x, S::load_n(c.add(r * CO + v * S::LANES), m));
                        }
                    }
                }
            }
        } else {
            for (r, row) in acc.iter_mut().enumerate() {
                for (v, x) in row.iter_mut().enumerate() {
                    if lanes::<S>(n, v) > 0 {
                        *x = S::load_n(c.add(r * CO + v * S::LANES), lanes::<S>(n, v));
                    }
                }
            }
        }
        for k in 0..kc {
            let mut w = [S::zero(); NV];
            for (v, x) in w.iter_mut().enumerate() {
                *x = S::load(b.add(k * PANEL + woff(v)));
            }
            if prefetch {
                // One line per panel and step: each weight row of a panel is one line.
                for v in (0..NV).step_by((PANEL / S::LANES).max(1)) {
                    S::prefetch(b.wrapping_add((k + PREFETCH_ROWS) * PANEL + woff(v)));
                }
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let x = S::broadcast(a.add(k * KS + r * RS));
                for (v, y) in row.iter_mut().enumerate() {
                    *y = S::fmadd(x, w[v], *y);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, y) in row.iter().enumerate() {
                let val = if last { act::<S, ACT>(*y) } else { *y };
                let m = lanes::<S>(n, v);
                let dst = c.add(r * CO + v * S::LANES);
                if m == S::LANES {
                    S::store(dst, val);
                } else if m > 0 {
                    S::store_n(dst, val, m);
                }
            }
        }
    }
}

/// Packs `R` pixels x `kc` input channels (starting at pixel row `a`, channel offset already
/// applied; row stride `CI`) k-major into `buf`.
#[inline(always)]
unsafe fn pack_rows<const R: usize, const CI: usize>(kc: usize, a: *const f32, buf: *mut f32) {
    // SAFETY: the caller guarantees R rows of kc values at `a` (row stride CI) and a buffer of
    // at least R*kc values at `buf`.
    unsafe {
        for k in 0..kc {
            for r in 0..R {
                *buf.add(k * R + r) = *a.add(r * CI + k);
            }
        }
    }
}

/// What one block of pixel rows of the pointwise kernel works on.
#[derive(Clone, Copy)]
pub(crate) struct Rows {
    /// First pixel row.
    pub m: usize,
    /// Weight panels `p0..p1`.
    pub p0: usize,
    pub p1: usize,
    /// Input, packed weights, bias, output: the checked slices of [`pointwise`].
    pub a: *const f32,
    pub w: *const f32,
    pub bias: *const f32,
    pub c: *mut f32,
    /// Packing buffer ([`PackBuf`]), used when `CI > DIRECT_CI`.
    pub buf: *mut f32,
    /// Whether the tiles prefetch their weights ([`PREFETCH_WEIGHTS_BYTES`]).
    pub prefetch: bool,
    /// Input channels `k0..k1` of this call (passes of at most `KC` each).
    pub k0: usize,
    pub k1: usize,
}

/// All panels `p0..p1` for `R` pixel rows starting at `m`, over every input-channel pass:
/// tiles of `NV` vectors (`NV * L / 16` panels) while they fit, then single panels (`NV1`
/// vectors each).
///
/// # Safety
///
/// The ISA of `S`; rows `m..m+R` <= HW and `p1` <= the panel count of [`pointwise`], whose
/// checked slices the pointers are.
#[inline(always)]
pub(crate) unsafe fn pointwise_rows<
    S: Simd,
    const R: usize,
    const NV: usize,
    const NV1: usize,
    const CI: usize,
    const CO: usize,
    const ACT: u8,
    const RES: bool,
>(
    Rows {
        m,
        p0,
        p1,
        a,
        w,
        bias,
        c,
        buf,
        prefetch,
        k0: k_lo,
        k1: k_hi,
    }: Rows,
) {
    let np = NV * S::LANES / PANEL;
    // SAFETY: see the function's contract; tiles cover panels p..p+np <= p1 (or one panel).
    unsafe {
        let mut k0 = k_lo;
        while k0 < k_hi {
            let kc = (k_hi - k0).min(KC);
            // Rows of few input channels are close together (no L1 aliasing): read them in
            // place. Wider rows are packed k-major first.
            let direct = CI <= DIRECT_CI;
            if !direct {
                pack_rows::<R, CI>(kc, a.add(m * CI + k0), buf);
            }
            let mut p = p0;
            while p < p1 {
                let n = CO - p * PANEL;
                let (wp, bp, cp) = (
                    w.add((p * CI + k0) * PANEL),
                    bias.add(p * PANEL),
                    c.add(m * CO + p * PANEL),
                );
                let (first, last) = (k0 == 0, k0 + kc == CI);
                if p + np <= p1 {
                    let n = n.min(NV * S::LANES);
                    if direct {
                        tile::<S, R, NV, 1, CI, CI, CO, ACT, RES>(
                            kc,
                            a.add(m * CI + k0),
                            wp,
                            bp,
                            cp,
                            n,
                            first,
                            last,
                            prefetch,
                        );
                    } else {
                        tile::<S, R, NV, R, 1, CI, CO, ACT, RES>(
                            kc, buf, wp, bp, cp, n, first, last, prefetch,
                        );
                    }
                    p += np;
                } else {
                    let n = n.min(PANEL);
                    if direct {
                        tile::<S, R, NV1, 1, CI, CI, CO, ACT, RES>(
                            kc,
                            a.add(m * CI + k0),
                            wp,
                            bp,
                            cp,
                            n,
                            first,
                            last,
                            prefetch,
                        );
                    } else {
                        tile::<S, R, NV1, R, 1, CI, CO, ACT, RES>(
                            kc, buf, wp, bp, cp, n, first, last, prefetch,
                        );
                    }
                    p += 1;
                }
            }
            k0 += kc;
        }
    }
}

/// The pixel blocks of a pointwise layer of `hw` pixels with `mr`-row tiles of `nv` vectors:
/// `full` blocks of `mr` rows, then a block of `t1` rows and one of `t2` (0: none). A remainder
/// whose tile would have fewer than [`FULL_ACC`] accumulators (e.g. 49 = 4 x 12 + 1: a 1-pixel
/// tile waits on the FMA latency at every step, as long as a third of a full block) is merged
/// with the last full block and the two are cut in halves, when both keep enough.
pub(crate) const fn pointwise_blocks(hw: usize, mr: usize, nv: usize) -> (usize, usize, usize) {
    let (full, r) = (hw / mr, hw % mr);
    let (a, b) = ((mr + r).div_ceil(2), (mr + r) / 2);
    if r > 0 && r * nv < FULL_ACC && full > 0 && b * nv >= FULL_ACC {
        (full - 1, a, b)
    } else {
        (full, r, 0)
    }
}

/// Whether a pointwise layer runs weight-stationary: input-channel passes of `l1_kc` (the
/// ISA's choice; 0: never) over panel groups whose weights for one pass fit L1
/// ([`L1_WEIGHTS_BYTES`]), each swept by every pixel block, the pixel rows streaming from L2;
/// otherwise every pixel block runs all input channels over groups that fit L2. Measured on an
/// AVX-512 Xeon (2 MiB L2, 48 KiB L1): the former is 5-10% faster where one pass covers the
/// input channels or the output channels are few (<= 256), 2-4% slower on the wide 14x14x512
/// and 7x7x1024 layers, where the partial sums of several passes cost more than re-reading
/// weights from L2.
pub(crate) const fn l1_passes(l1_kc: usize, ci: usize, co: usize) -> bool {
    l1_kc > 0 && (ci <= l1_kc || co <= 256)
}

/// The pointwise kernel: checks the slices and walks weight-panel groups, input-channel passes
/// ([`l1_passes`]) and pixel blocks of `MR` rows; `tail(rows, second)` handles the short
/// blocks of [`pointwise_blocks`], as [`pointwise_rows`] with `R = t1` (or `t2` if `second`)
/// (the instantiation is the caller's, which knows its `MR`). `part` selects a
/// share of the output: whole pixel blocks when there are enough of them for every part, else
/// whole tiles of weight panels (either way each output is computed exactly as by the whole
/// call).
///
/// # Safety
///
/// The ISA of `S`; `out` is valid for reads and writes of `HW * CO` values, and no other thread
/// accesses the share of `part` meanwhile (calls with distinct indices of one count share none).
#[inline(always)]
pub(crate) unsafe fn pointwise<
    S: Simd,
    const MR: usize,
    const NV: usize,
    const NV1: usize,
    const L1KC: usize,
    const HW: usize,
    const CI: usize,
    const CO: usize,
    const ACT: u8,
    const RES: bool,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
    tail: impl Fn(Rows, bool),
) {
    let kernel = if RES { "pointwise_add" } else { "pointwise" };
    const {
        assert!(MR <= MAX_MR, "pointwise: MR exceeds the packing buffer");
    };
    const {
        assert!(
            (NV * S::LANES).is_multiple_of(PANEL) && NV1 * S::LANES == PANEL,
            "pointwise: tiles must cover whole 16-channel panels"
        );
    };
    check_len(kernel, "input", input.len(), HW * CI);
    check_len(
        kernel,
        "weights",
        weights.len(),
        crate::pack::pointwise_len(CI, CO),
    );
    check_len(kernel, "bias", bias.len(), CO);
    if CO == 0 || HW == 0 {
        return;
    }
    if CI == 0 {
        // Degenerate: the output is the activated bias (plus the residual).
        // SAFETY: the caller's contract, which the scalar twin shares.
        return unsafe {
            if RES {
                super::scalar::pointwise_add_part::<HW, CI, CO, ACT>(
                    input, weights, bias, out, part,
                )
            } else {
                super::scalar::pointwise_part::<HW, CI, CO, ACT>(input, weights, bias, out, part)
            }
        };
    }
    let (a, w, b, c) = (input.as_ptr(), weights.as_ptr(), bias.as_ptr(), out);
    let panels = CO.div_ceil(PANEL);
    let np = NV * S::LANES / PANEL;
    // Panel groups that fit L2, whole tiles each.
    // Panel groups (whole tiles) and the input channels of one pass over them.
    let (group, pass) = if const { l1_passes(L1KC, CI, CO) } {
        let kc = CI.min(L1KC);
        (
            ((L1_WEIGHTS_BYTES / (kc * PANEL * 4)) / np * np).clamp(np, panels.max(np)),
            kc,
        )
    } else {
        (
            ((L2_PANELS_BYTES / (CI * PANEL * 4)) / np * np).clamp(np, panels.max(np)),
            CI,
        )
    };
    let (full, t1, _) = const { pointwise_blocks(HW, MR, NV) };
    // This call's share: pixel blocks (the tail block last) when the layer has at least as many
    // pixels as output channels (each part then reads every weight, few in such layers), else
    // tiles of `np` panels (each part reads its weights only: late layers are weight-bound),
    // unless there are too few tiles to go around.
    let blocks = const {
        let (full, t1, t2) = pointwise_blocks(HW, MR, NV);
        full + (t1 > 0) as usize + (t2 > 0) as usize
    };
    let tiles = panels.div_ceil(np);
    let pixel = (HW >= CO && blocks >= 2 * part.count) || tiles < 2 * part.count;
    let (b_lo, b_hi, q0, q1) = if part.count == 1 || pixel {
        let (lo, hi) = part.range(blocks);
        (lo, hi, 0, panels)
    } else {
        let (lo, hi) = part.range(tiles);
        (0, blocks, lo * np, (hi * np).min(panels))
    };
    // Large weights come from DRAM; prefetching them pays when several pixel blocks reuse each
    // line (a one-pixel layer, e.g. a 1x1 classifier, streams them best without the hints).
    let prefetch = const { CI * CO * 4 >= PREFETCH_WEIGHTS_BYTES && HW >= 2 * MR };
    let mut pack: core::mem::MaybeUninit<Lines<PackBuf>> = core::mem::MaybeUninit::uninit();
    let buf = pack.as_mut_ptr() as *mut f32;
    // SAFETY: `pointwise_rows` only touches pixel rows < HW, panels < `panels`, channels < CI,
    // which the length checks above (and the caller, for `out`) put inside the slices; it
    // writes the packing buffer before reading it. Only this part's blocks and panels are
    // written.
    unsafe {
        let mut p0 = q0;
        while p0 < q1 {
            let p1 = (p0 + group).min(q1);
            let mut k0 = 0;
            while k0 < CI {
                let k1 = (k0 + pass).min(CI);
                let rows = |m| Rows {
                    m,
                    p0,
                    p1,
                    a,
                    w,
                    bias: b,
                    c,
                    buf,
                    prefetch,
                    k0,
                    k1,
                };
                for blk in b_lo..b_hi {
                    match blk.cmp(&full) {
                        core::cmp::Ordering::Less => {
                            pointwise_rows::<S, MR, NV, NV1, CI, CO, ACT, RES>(rows(blk * MR))
                        }
                        core::cmp::Ordering::Equal => tail(rows(full * MR), false),
                        core::cmp::Ordering::Greater => tail(rows(full * MR + t1), true),
                    }
                }
                k0 = k1;
            }
            p0 = p1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution
// ---------------------------------------------------------------------------------------------

/// Output pixels per depthwise step.
const DW_PX: usize = 6;

/// Output pixels per depthwise step of a layer `wo` pixels wide on `lanes`-lane vectors: 7 for
/// 7-, 14- and 28-wide rows when the ISA has 32 registers (AVX-512: 7 accumulators, 9 taps), so
/// that they need no overlapping last run (a 14-wide row computed 18 outputs in three runs of
/// 6); else [`DW_PX`]. Measured on the AVX-512 Xeon: 4-14% faster on 14x14 and 28x28 layers;
/// on 56x56x128 runs of 7 were 10% slower (112x112x32: 17% faster), so wider rows keep 6.
const fn dw_px(wo: usize, lanes: usize) -> usize {
    if lanes >= 16 && wo >= 7 && wo <= 28 && wo.is_multiple_of(7) {
        7
    } else {
        DW_PX
    }
}
/// Floats of the dense depthwise buffer (32 KiB on the stack): 1024 pixels of 8 channels or
/// 512 of 16.
const DENSE_FLOATS: usize = 8192;
/// Channels per slice of the dense depthwise path when a layer has [`DW_LINE_C`] channels or
/// more: one 64-byte cache line.
const DW_LINE: usize = 16;
/// Channels from which the dense depthwise path works on whole cache lines (measured on AVX2
/// over the v1 and v2 layers: 23-31% faster on v1 1.0/224's 14x14x512, 7x7x1024 and 28x28x256,
/// 9-14% on v2's 192- and 384-channel ones; slower below, e.g. 8x8x128 and 16x16x64, whose
/// pixels are close enough not to alias).
const DW_LINE_C: usize = 192;
/// Channels whose multiples the dense depthwise path leaves to the in-place one on 16-lane
/// vectors: with pixels 2 or 4 KiB apart, the slice's gathered input lines and stored output
/// lines fall into one or two L1 sets. Measured on Zen 5 (AVX-512, minima of 3 interleaved
/// `layers` runs): in place 0.54x the dense time on v1's 14x14x512, 0.53x on 14x14x512 at
/// stride 2, 0.57x on 7x7x1024; v2's 384- and 576-channel layers are as fast either way. AVX2
/// keeps the dense path: its 6-pixel runs recompute most of a 7-wide row in place (2.1x
/// slower on 7x7x1024).
const DW_ALIASED_C: usize = 512;
/// Most vectors in a dense depthwise slice (4-lane vectors on a cache line).
const DW_MAX_V: usize = 4;

/// Channels per slice of the dense depthwise path of a layer of `c` channels on `l`-lane
/// vectors.
const fn dw_slice(c: usize, l: usize) -> usize {
    if c >= DW_LINE_C && l < DW_LINE {
        DW_LINE
    } else {
        l
    }
}

/// Rows of the padded input a depthwise layer reads.
const fn dense_rows<const HO: usize, const KH: usize, const SH: usize>() -> usize {
    (HO - 1) * SH + KH
}

/// Columns of the padded input a depthwise layer reads.
const fn dense_width<const WO: usize, const KW: usize, const SW: usize>() -> usize {
    (WO - 1) * SW + KW
}

/// Whether [`depthwise`] goes through the dense buffer: when the padded slice, rounded up to
/// whole runs, fits. (Measured on AVX2: wider slices, e.g. 28x28 at stride 2, are faster in
/// place; the copy costs more than the borders it saves.) Not on 16-lane vectors when pixels
/// are a multiple of 2 KiB apart ([`DW_ALIASED_C`]).
const fn use_dense<
    const C: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
>(
    lanes: usize,
) -> bool {
    if lanes >= DW_LINE && C.is_multiple_of(DW_ALIASED_C) {
        return false;
    }
    let px = dw_px(WO, lanes);
    let run_width = (WO.div_ceil(px) * px - 1) * SW + KW;
    dense_rows::<HO, KH, SH>() * run_width * dw_slice(C, lanes) <= DENSE_FLOATS
}

/// The depthwise kernel; `part` selects a share of the output: output rows, or (through the
/// dense buffer) channel slices.
///
/// # Safety
///
/// The ISA of `S`; `out` is valid for writes of `HO * WO * C` values, and no other thread
/// accesses the share of `part` meanwhile (calls with distinct indices of one count share none).
#[inline(always)]
pub(crate) unsafe fn depthwise<
    S: Simd,
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
    out: *mut f32,
    part: Part,
) {
    const { assert!(SH > 0 && SW > 0, "depthwise: strides must be positive") };
    const {
        assert!(
            DW_LINE / S::LANES <= DW_MAX_V,
            "depthwise: a line slice has too many vectors"
        )
    };
    check_len("depthwise", "input", input.len(), H * W * C);
    check_len("depthwise", "weights", weights.len(), KH * KW * C);
    check_len("depthwise", "bias", bias.len(), C);
    let (x, wt, bs, y) = (input.as_ptr(), weights.as_ptr(), bias.as_ptr(), out);
    if HO * WO == 0 || C == 0 {
        return;
    }
    // Small feature maps (typically with many channels, whose pixels are 2^n bytes apart and
    // alias in L1): copy each channel slice into a dense, zero-padded buffer first.
    if use_dense::<C, HO, WO, KH, KW, SH, SW>(S::LANES) {
        let sl = const { dw_slice(C, S::LANES) };
        let (s0, s1) = part.range(C.div_ceil(sl));
        // SAFETY: same contract as this function; lengths were checked above; slices s0..s1
        // are this part's.
        return unsafe {
            depthwise_dense::<S, H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
                x,
                wt,
                bs,
                y,
                s0 * sl,
                (s1 * sl).min(C),
            )
        };
    }
    let (oy0, oy1) = part.range(HO);
    // SAFETY: this function's contract; rows oy0..oy1 are this part's, written at their place.
    unsafe {
        depthwise_rows::<S, H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(x, wt, bs, y, oy0, oy1, 0)
    }
}

/// Output rows `oy0..oy1` of a depthwise convolution read in place (no dense buffer), row `oy`
/// written at `y + (oy - row0) * WO * C`: at its place in the whole output (`row0 = 0`), or
/// into a band buffer that starts at row `row0` ([`depthwise_pointwise`]).
///
/// # Safety
///
/// The ISA of `S`; `x`, `wt`, `bs` are [`depthwise`]'s checked slices; `row0 <= oy0 <= oy1 <=
/// HO` and `y` is valid for writes of `(oy1 - row0) * WO * C` values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn depthwise_rows<
    S: Simd,
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
    x: *const f32,
    wt: *const f32,
    bs: *const f32,
    y: *mut f32,
    oy0: usize,
    oy1: usize,
    row0: usize,
) {
    debug_assert!(row0 <= oy0 && oy0 <= oy1 && oy1 <= HO);
    // Output columns ox_lo..ox_hi (and rows oy_lo..oy_hi) have all their taps inside the input.
    let ox_lo = const { PL.div_ceil(SW) };
    let ox_hi = if W + PL >= KW {
        ((W + PL - KW) / SW + 1).min(WO)
    } else {
        0
    };
    let oy_lo = PT.div_ceil(SH).min(HO);
    let oy_hi = if H + PT >= KH {
        ((H + PT - KH) / SH + 1).min(HO)
    } else {
        0
    }
    .max(oy_lo);
    // Loop order: output row, then a run of output pixels, then channel blocks. The input the
    // run needs (KH rows x a few pixels x all channels) stays in L1 across the channel blocks,
    // and each block's KH x KW taps are loaded once into registers for the run.
    // SAFETY: input pixel (iy, ix) is only read for 0 <= iy < H, 0 <= ix < W (each tap is
    // checked on border runs; the interior ranges above guarantee it elsewhere), channels
    // c..c+n <= C; every output written is (oy0 <= oy < oy1, ox < WO, channels < C), at
    // `(oy - row0) * WO * C` from `y`, inside what the caller vouches for.
    unsafe {
        // One run of p output pixels from column ox0 of row oy, every channel block.
        macro_rules! run {
            ($oy:expr, $ox0:expr, $p:expr) => {{
                let (oy, ox0) = ($oy, $ox0);
                let p: usize = $p;
                let fast = oy >= oy_lo && oy < oy_hi && ox0 >= ox_lo && ox0 + p <= ox_hi;
                dw_columns::<S, H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT, { $p }>(
                    x,
                    wt,
                    bs,
                    y.add((oy - row0) * WO * C),
                    oy,
                    ox0,
                    fast,
                )
            }};
        }
        // Whole runs; a row that is not a multiple of the run ends with a run that overlaps
        // the previous one (recomputing a few outputs costs less than a short run, whose few
        // accumulators leave the FMA latency exposed). Rows shorter than one run are one
        // exact run.
        macro_rules! rows {
            ($px:literal) => {
                for oy in oy0..oy1 {
                    for r in 0..WO / $px {
                        run!(oy, r * $px, $px);
                    }
                    if !WO.is_multiple_of($px) {
                        if WO >= $px {
                            run!(oy, WO - $px, $px);
                        } else {
                            // A constant scrutinee: only this layer's arm is instantiated.
                            match const { short_row::<WO>() } {
                                1 => run!(oy, 0, 1),
                                2 => run!(oy, 0, 2),
                                3 => run!(oy, 0, 3),
                                4 => run!(oy, 0, 4),
                                5 => run!(oy, 0, 5),
                                _ => unreachable!(),
                            }
                        }
                    }
                }
            };
        }
        match const { dw_px(WO, S::LANES) } {
            7 => rows!(7),
            _ => rows!(6),
        }
    }
}

/// A depthwise layer and the pointwise layer that reads its output, in bands of `ROWS` output
/// rows: each band's depthwise rows go to a buffer of [`FUSED_BAND_FLOATS`] on the stack (L1 and
/// L2, never the arena), which `pw(band, out_rows, short)` then convolves into output rows
/// `out_rows` (`short`: the last band, when `ROWS` does not divide `HO`). `part` selects whole
/// bands. Every output is computed exactly as by the two layers' kernels one after the other.
///
/// # Safety
///
/// The ISA of `S`; `out` is valid for writes of `HO * WO * co` values, and no other thread
/// accesses the bands of `part` meanwhile (calls with distinct indices of one count share none).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn depthwise_pointwise<
    S: Simd,
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
    const ROWS: usize,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    co: usize,
    part: Part,
    pw: impl Fn(&[f32], *mut f32, bool),
) {
    const { assert!(SH > 0 && SW > 0, "depthwise: strides must be positive") };
    const {
        super::check_fused_band(
            HO,
            WO,
            C,
            ROWS,
            ROWS * WO,
            super::fused_last_rows(HO, ROWS) * WO,
        )
    };
    check_len("depthwise", "input", input.len(), H * W * C);
    check_len("depthwise", "weights", weights.len(), KH * KW * C);
    check_len("depthwise", "bias", bias.len(), C);
    let (x, wt, bs) = (input.as_ptr(), weights.as_ptr(), bias.as_ptr());
    let mut buf = core::mem::MaybeUninit::<Lines<[f32; FUSED_BAND_FLOATS]>>::uninit();
    let band = buf.as_mut_ptr() as *mut f32;
    let (b0, b1) = part.range(HO.div_ceil(ROWS));
    for b in b0..b1 {
        let (r0, r1) = (b * ROWS, (b * ROWS + ROWS).min(HO));
        // SAFETY: rows r0..r1 (at most ROWS, `check_fused_band`: ROWS * WO * C fit the buffer)
        // are written from the buffer's start, every pixel and channel of them, before the
        // slice over exactly those values is formed; output rows r0..r1 of `out` lie inside
        // what the caller vouches for and are this part's alone.
        unsafe {
            depthwise_rows::<S, H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
                x, wt, bs, band, r0, r1, r0,
            );
            let rows = core::slice::from_raw_parts(band, (r1 - r0) * WO * C);
            pw(rows, out.add(r0 * WO * co), r1 - r0 < ROWS);
        }
    }
}

/// One run of `P` output pixels from column `ox0` of row `oy`, every channel block, written to
/// the output row at `y`; `fast` when all its taps are inside the input.
///
/// # Safety
///
/// The ISA of `S`; the input pointers of [`depthwise`], `y` valid for writes of `WO * C`
/// values; `oy < HO`, `ox0 + P <= WO`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_columns<
    S: Simd,
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
    const P: usize,
>(
    x: *const f32,
    wt: *const f32,
    bs: *const f32,
    y: *mut f32,
    oy: usize,
    ox0: usize,
    fast: bool,
) {
    // SAFETY: see `depthwise`: taps are read in place only for interior runs (`fast`), border
    // runs check every tap; channels c..c+n <= C; outputs (oy, ox0..ox0+P) exist.
    unsafe {
        let mut c = 0;
        while c < C {
            let n = (C - c).min(S::LANES);
            let taps = dw_taps::<S, KH, KW, C>(wt.add(c), n);
            let b = S::load_n(bs.add(c), n);
            let dst = y.add(ox0 * C + c);
            if fast {
                // Each input column of the run is loaded once per filter row.
                let iy0 = oy * SH - PT;
                let src = |ky: usize, j: usize| x.add(((iy0 + ky) * W + ox0 * SW - PL + j) * C + c);
                dw_store::<S, P, C, ACT>(&dw_run::<S, P, KH, KW, SW>(&taps, b, n, &src), dst, n);
            } else {
                // Border run: input columns outside the image read a zero vector (a
                // branch-free pointer select).
                let src = |ky: usize, j: usize| {
                    let iy = (oy * SH + ky).wrapping_sub(PT);
                    let ix = (ox0 * SW + j).wrapping_sub(PL);
                    if iy < H && ix < W {
                        x.add((iy * W + ix) * C + c)
                    } else {
                        ZEROS.as_ptr()
                    }
                };
                dw_store::<S, P, C, ACT>(&dw_run::<S, P, KH, KW, SW>(&taps, b, n, &src), dst, n);
            }
            c += n;
        }
    }
}

/// The `KH x KW` taps of one channel slice (`n` lanes from `w`, tap stride `C`).
#[inline(always)]
unsafe fn dw_taps<S: Simd, const KH: usize, const KW: usize, const C: usize>(
    w: *const f32,
    n: usize,
) -> [[S::V; KW]; KH] {
    // SAFETY: the caller guarantees KH * KW taps of n values at `w` (stride C).
    unsafe {
        let mut taps = [[S::zero(); KW]; KH];
        for (ky, row) in taps.iter_mut().enumerate() {
            for (kx, t) in row.iter_mut().enumerate() {
                *t = S::load_n(w.add((ky * KW + kx) * C), n);
            }
        }
        taps
    }
}

/// `WO` when it is shorter than one run (1..DW_PX), else 0.
const fn short_row<const WO: usize>() -> usize {
    if WO < DW_PX {
        WO
    } else {
        0
    }
}

/// `P` output pixels of one channel slice (`n` lanes) of a depthwise convolution: input column
/// `j` of filter row `ky` is read from `src(ky, j)` (at stride 1 once, feeding every output
/// pixel whose window covers it); `P` accumulators give independent FMA chains.
#[inline(always)]
unsafe fn dw_run<S: Simd, const P: usize, const KH: usize, const KW: usize, const SW: usize>(
    taps: &[[S::V; KW]; KH],
    bias: S::V,
    n: usize,
    src: &impl Fn(usize, usize) -> *const f32,
) -> [S::V; P] {
    // SAFETY: the caller guarantees every pointer `src` returns is readable for `n` values.
    unsafe {
        let mut acc = [bias; P];
        for (ky, row) in taps.iter().enumerate() {
            if SW == 1 {
                // Stride 1: column j feeds outputs j-KW+1..=j; load it once.
                for j in 0..P - 1 + KW {
                    let v = S::load_n(src(ky, j), n);
                    for (kx, t) in row.iter().enumerate() {
                        if j >= kx && j - kx < P {
                            acc[j - kx] = S::fmadd(v, *t, acc[j - kx]);
                        }
                    }
                }
            } else {
                // Larger strides share few columns between outputs: one load per tap (the
                // loops stay small enough to be unrolled, so the accumulators stay in
                // registers).
                for (kx, t) in row.iter().enumerate() {
                    for (p, a) in acc.iter_mut().enumerate() {
                        *a = S::fmadd(S::load_n(src(ky, p * SW + kx), n), *t, *a);
                    }
                }
            }
        }
        acc
    }
}

/// Stores `P` outputs of a run (activation applied) at `dst`, pixel stride `C`.
#[inline(always)]
unsafe fn dw_store<S: Simd, const P: usize, const C: usize, const ACT: u8>(
    acc: &[S::V; P],
    dst: *mut f32,
    n: usize,
) {
    // SAFETY: the caller guarantees `P` pixels of `n` values at `dst` (stride C) are writable.
    unsafe {
        for (p, a) in acc.iter().enumerate() {
            S::store_n(dst.add(p * C), act::<S, ACT>(*a), n);
        }
    }
}

/// Depthwise convolution through a dense, zero-padded copy of each channel slice: no borders,
/// no branches, the slice's taps loaded once for the whole map. A slice is one vector, or with
/// many channels ([`dw_slice`]) one cache line of every pixel, so that each line of the input
/// is gathered and each line of the output stored once (with such pixel strides a half-line
/// slice finds its line evicted by L1 aliasing before the next slice's half comes).
///
/// # Safety
///
/// The ISA of `S`; `x`, `wt`, `bs`, `y` point at the checked slices of [`depthwise`], and
/// `dense_rows * dense_width * dw_slice <= DENSE_FLOATS`; channels `c_lo..c_hi` (`c_lo` a
/// multiple of the slice) are computed.
#[inline(always)]
unsafe fn depthwise_dense<
    S: Simd,
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
    x: *const f32,
    wt: *const f32,
    bs: *const f32,
    y: *mut f32,
    c_lo: usize,
    c_hi: usize,
) {
    let rows = dense_rows::<HO, KH, SH>();
    let bw = dense_width::<WO, KW, SW>();
    let (l, sl) = (S::LANES, const { dw_slice(C, S::LANES) });
    let mut buf = core::mem::MaybeUninit::<Lines<[f32; DENSE_FLOATS]>>::uninit();
    // SAFETY: buffer indices are < rows * bw * slice <= DENSE_FLOATS, and that prefix is
    // zeroed before anything reads it; input pixels read are (iy < H, ix < W), channels
    // c..c+n <= C; outputs written are (oy < HO, ox < WO, < C).
    unsafe {
        let b = buf.as_mut_ptr() as *mut f32;
        // Only the part this layer uses: the padding must read as zeros.
        core::ptr::write_bytes(b, 0, rows * bw * sl);
        // Every slice from 0 (the loop the compiler specializes on the constant shape), this
        // part's computed.
        let mut c = 0;
        while c < C {
            let n = (C - c).min(sl);
            if c < c_lo || c >= c_hi {
                c += n;
                continue;
            }
            // Padding stays zero: only the image part is overwritten for each slice (lanes
            // beyond `n` of a short last slice are never stored).
            for iy in 0..H.min(rows.saturating_sub(PT)) {
                let by = iy + PT;
                for ix in 0..W.min(bw.saturating_sub(PL)) {
                    let bx = ix + PL;
                    for v in 0..sl / l {
                        let m = lanes::<S>(n, v);
                        if m > 0 {
                            S::store(
                                b.add((by * bw + bx) * sl + v * l),
                                S::load_n(x.add((iy * W + ix) * C + c + v * l), m),
                            );
                        }
                    }
                }
            }
            // The slice's taps and bias, once for the whole map.
            let mut taps = [[[S::zero(); KW]; KH]; DW_MAX_V];
            let mut bias = [S::zero(); DW_MAX_V];
            for v in 0..sl / l {
                let m = lanes::<S>(n, v);
                if m > 0 {
                    taps[v] = dw_taps::<S, KH, KW, C>(wt.add(c + v * l), m);
                    bias[v] = S::load_n(bs.add(c + v * l), m);
                }
            }
            for oy in 0..HO {
                // Run of outputs from column ox0, vector v of the slice.
                let src0 = |ox0: usize, v: usize| {
                    move |ky: usize, j: usize| {
                        b.add(((oy * SH + ky) * bw + ox0 * SW + j) * sl + v * l) as *const f32
                    }
                };
                let dst0 = |ox0: usize, v: usize| y.add((oy * WO + ox0) * C + c + v * l);
                // Whole runs, the last one overlapping when WO is not a multiple of the run (as
                // in `depthwise`); each run computes every vector of the slice, so its outputs
                // fill whole lines.
                let mut ox0 = 0;
                while ox0 < WO {
                    if WO < DW_PX {
                        // A constant scrutinee: only this layer's arm is instantiated.
                        macro_rules! short {
                            ($p:expr) => {
                                for v in 0..sl / l {
                                    let m = lanes::<S>(n, v);
                                    if m > 0 {
                                        dw_store::<S, { $p }, C, ACT>(
                                            &dw_run::<S, { $p }, KH, KW, SW>(
                                                &taps[v],
                                                bias[v],
                                                l,
                                                &src0(0, v),
                                            ),
                                            dst0(0, v),
                                            m,
                                        )
                                    }
                                }
                            };
                        }
                        match const { short_row::<WO>() } {
                            1 => short!(1),
                            2 => short!(2),
                            3 => short!(3),
                            4 => short!(4),
                            5 => short!(5),
                            _ => unreachable!(),
                        }
                        break;
                    }
                    // One whole run of $px (a constant scrutinee below picks this layer's).
                    macro_rules! whole {
                        ($px:literal) => {{
                            ox0 = ox0.min(WO - $px);
                            for v in 0..sl / l {
                                let m = lanes::<S>(n, v);
                                if m > 0 {
                                    let acc = dw_run::<S, $px, KH, KW, SW>(
                                        &taps[v],
                                        bias[v],
                                        l,
                                        &src0(ox0, v),
                                    );
                                    dw_store::<S, $px, C, ACT>(&acc, dst0(ox0, v), m);
                                }
                            }
                            ox0 += $px;
                        }};
                    }
                    match const { dw_px(WO, S::LANES) } {
                        7 => whole!(7),
                        _ => whole!(6),
                    }
                }
            }
            c += n;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Full convolution (the first layer), vectorized over output channels
// ---------------------------------------------------------------------------------------------

/// Input channels up to which [`conv2d`] uses the multi-pixel path (its zero source must
/// cover a whole pixel).
const CONV_FAST_CI: usize = 64;
/// Zeros for the input taps of [`conv2d`] that fall outside the image.
static ZERO_PIXEL: [f32; CONV_FAST_CI] = [0.0; CONV_FAST_CI];

/// One block of `NV` output vectors (`width` channels from `c0`) of a full convolution, `P`
/// output pixels at a time so that `P * NV` independent accumulators hide the FMA latency.
/// Taps outside the image read [`ZERO_PIXEL`] (a branch-free pointer select).
///
/// # Safety
///
/// The ISA of `S`; the pointers are the checked slices of [`conv2d`]; `CI <= CONV_FAST_CI`;
/// `c0 + width <= CO`, `width <= NV * L`; output rows `oy0..oy1 <= HO` are computed.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn conv_block<
    S: Simd,
    const NV: usize,
    const P: usize,
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
    x: *const f32,
    wt: *const f32,
    bs: *const f32,
    y: *mut f32,
    c0: usize,
    width: usize,
    (oy0, oy1): (usize, usize),
) {
    // Output columns ox_lo..ox_hi (rows oy_lo..oy_hi) have all their taps inside the input.
    let ox_lo = PL.div_ceil(SW);
    let ox_hi = if W + PL >= KW {
        (W + PL - KW) / SW + 1
    } else {
        0
    };
    let oy_lo = PT.div_ceil(SH);
    let oy_hi = if H + PT >= KH {
        (H + PT - KH) / SH + 1
    } else {
        0
    };
    // SAFETY: see the function's contract; interior blocks read taps inside the input, border
    // blocks check every tap; outputs are (oy < HO, ox < WO, channels c0..c0+width <= CO).
    unsafe {
        let mut bias = [S::zero(); NV];
        for (v, b) in bias.iter_mut().enumerate() {
            *b = S::load_n(bs.add(c0 + v * S::LANES), lanes::<S>(width, v));
        }
        for oy in oy0..oy1 {
            let row_interior = oy >= oy_lo && oy < oy_hi;
            let mut ox0 = 0;
            while ox0 < WO {
                let px = (WO - ox0).min(P);
                let dst = y.add((oy * WO + ox0) * CO + c0);
                if row_interior && px == P && ox0 >= ox_lo && ox0 + P <= ox_hi {
                    // Interior: every tap at a fixed offset from the block's first input pixel.
                    let base = x.add(((oy * SH - PT) * W + ox0 * SW - PL) * CI);
                    let src =
                        |ky: usize, kx: usize, p: usize| base.add((ky * W + p * SW + kx) * CI);
                    conv_pixels::<S, NV, P, CI, CO, KH, KW, ACT>(
                        bias,
                        wt.add(c0),
                        width,
                        px,
                        &src,
                        dst,
                    );
                } else {
                    // Border: taps outside the image read ZERO_PIXEL (a branch-free select).
                    let src = |ky: usize, kx: usize, p: usize| {
                        let iy = (oy * SH + ky).wrapping_sub(PT);
                        let ix = ((ox0 + p) * SW + kx).wrapping_sub(PL);
                        if iy < H && ix < W && p < px {
                            x.add((iy * W + ix) * CI)
                        } else {
                            ZERO_PIXEL.as_ptr()
                        }
                    };
                    conv_pixels::<S, NV, P, CI, CO, KH, KW, ACT>(
                        bias,
                        wt.add(c0),
                        width,
                        px,
                        &src,
                        dst,
                    );
                }
                ox0 += px;
            }
        }
    }
}

/// `P` output pixels x `NV` vectors of a full convolution: pixel `p`'s input for tap
/// `(ky, kx)` is the pixel at `src(ky, kx, p)`; the first `px` pixels (`width` channels each,
/// pixel stride `CO`) are stored at `dst`. `wt` points at the block's first output channel.
///
/// # Safety
///
/// The ISA of `S`; `src` returns pointers to `CI` readable values, `wt` to the HWIO weights
/// offset by the first channel, `dst` to `px` writable pixels.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn conv_pixels<
    S: Simd,
    const NV: usize,
    const P: usize,
    const CI: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const ACT: u8,
>(
    bias: [S::V; NV],
    wt: *const f32,
    width: usize,
    px: usize,
    src: &impl Fn(usize, usize, usize) -> *const f32,
    dst: *mut f32,
) {
    // SAFETY: the caller's contract.
    unsafe {
        let mut acc = [bias; P];
        for ky in 0..KH {
            for kx in 0..KW {
                let wrow = wt.add((ky * KW + kx) * CI * CO);
                for ci in 0..CI {
                    let mut w = [S::zero(); NV];
                    for (v, wv) in w.iter_mut().enumerate() {
                        *wv = S::load_n(wrow.add(ci * CO + v * S::LANES), lanes::<S>(width, v));
                    }
                    for (p, a) in acc.iter_mut().enumerate() {
                        let xv = S::broadcast(src(ky, kx, p).add(ci));
                        for (v, av) in a.iter_mut().enumerate() {
                            *av = S::fmadd(xv, w[v], *av);
                        }
                    }
                }
            }
        }
        for (p, a) in acc.iter().enumerate().take(px) {
            for (v, av) in a.iter().enumerate() {
                let m = lanes::<S>(width, v);
                if m > 0 {
                    S::store_n(dst.add(p * CO + v * S::LANES), act::<S, ACT>(*av), m);
                }
            }
        }
    }
}

/// The full convolution kernel; `part` selects a share of the output rows.
///
/// # Safety
///
/// The ISA of `S`; `out` is valid for writes of `HO * WO * CO` values, and no other thread
/// accesses the rows of `part` meanwhile (calls with distinct indices of one count share none).
#[inline(always)]
pub(crate) unsafe fn conv2d<
    S: Simd,
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
    out: *mut f32,
    part: Part,
) {
    const { assert!(SH > 0 && SW > 0, "conv2d: strides must be positive") };
    check_len("conv2d", "input", input.len(), H * W * CI);
    check_len("conv2d", "weights", weights.len(), KH * KW * CI * CO);
    check_len("conv2d", "bias", bias.len(), CO);
    let (x, wt, bs, y) = (input.as_ptr(), weights.as_ptr(), bias.as_ptr(), out);
    let l = S::LANES;
    let rows = part.range(HO);
    if CI <= CONV_FAST_CI {
        // Blocks of four vectors, two pixels at a time; the remaining one to three vectors
        // take more pixels at a time so there are still eight accumulators.
        // SAFETY: the slices were checked above; CI <= CONV_FAST_CI.
        unsafe {
            let mut c0 = 0;
            while c0 + 4 * l <= CO {
                conv_block::<S, 4, 2, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x,
                    wt,
                    bs,
                    y,
                    c0,
                    4 * l,
                    rows,
                );
                c0 += 4 * l;
            }
            let rest = CO - c0;
            // A constant scrutinee: only this layer's arm is instantiated.
            match const { (CO % (4 * S::LANES)).div_ceil(S::LANES) } {
                0 => {}
                1 => conv_block::<S, 1, 8, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x, wt, bs, y, c0, rest, rows,
                ),
                2 => conv_block::<S, 2, 4, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x, wt, bs, y, c0, rest, rows,
                ),
                3 => conv_block::<S, 3, 2, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x, wt, bs, y, c0, rest, rows,
                ),
                // More than three vectors' worth but less than a whole block (e.g. 13 of 16
                // channels with 4 lanes): four partial vectors.
                _ => conv_block::<S, 4, 2, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    x, wt, bs, y, c0, rest, rows,
                ),
            }
        }
        return;
    }
    // Output channels in blocks of four vectors; the last block may be narrower.
    // SAFETY: taps are clipped to the input; channel offsets stay below CI / CO; outputs are
    // (oy < HO, ox < WO, channels < CO).
    unsafe {
        let mut c0 = 0;
        while c0 < CO {
            let width = (CO - c0).min(4 * l);
            let nv = width.div_ceil(l);
            for oy in rows.0..rows.1 {
                let ky_lo = PT.saturating_sub(oy * SH);
                let ky_hi = KH.min((H + PT).saturating_sub(oy * SH));
                for ox in 0..WO {
                    let kx_lo = PL.saturating_sub(ox * SW);
                    let kx_hi = KW.min((W + PL).saturating_sub(ox * SW));
                    let mut acc = [S::zero(); 4];
                    for (v, a) in acc.iter_mut().enumerate().take(nv) {
                        *a = S::load_n(bs.add(c0 + v * l), lanes::<S>(width, v));
                    }
                    for ky in ky_lo..ky_hi {
                        let iy = oy * SH + ky - PT;
                        for kx in kx_lo..kx_hi {
                            let ix = ox * SW + kx - PL;
                            let px = x.add((iy * W + ix) * CI);
                            let wrow = wt.add((ky * KW + kx) * CI * CO + c0);
                            for ci in 0..CI {
                                let xv = S::broadcast(px.add(ci));
                                for (v, a) in acc.iter_mut().enumerate().take(nv) {
                                    let w =
                                        S::load_n(wrow.add(ci * CO + v * l), lanes::<S>(width, v));
                                    *a = S::fmadd(xv, w, *a);
                                }
                            }
                        }
                    }
                    let dst = y.add((oy * WO + ox) * CO + c0);
                    for (v, a) in acc.iter().enumerate().take(nv) {
                        S::store_n(dst.add(v * l), act::<S, ACT>(*a), lanes::<S>(width, v));
                    }
                }
            }
            c0 += width;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fully connected, global average pool
// ---------------------------------------------------------------------------------------------

/// The fully connected kernel. The weights (`[IN][OUT]`, the largest tensor of a small
/// network, usually cold) are streamed row by row, four rows at a time, so that memory sees a
/// few long sequential streams, with the next four rows prefetched in software (measured on
/// AVX2, v1 1.0/224's 4 MiB head: 240 -> 222 us in the forward); the partial sums live in
/// `out` (in L1) and the activation is applied in a last pass.
///
/// # Safety
///
/// The ISA of `S`.
#[inline(always)]
pub(crate) unsafe fn fully_connected<S: Simd, const IN: usize, const OUT: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    check_len("fully_connected", "out", out.len(), OUT);
    // SAFETY: `out` holds OUT values (checked), the whole output is this call's.
    unsafe {
        fully_connected_part::<S, IN, OUT, ACT>(input, weights, bias, out.as_mut_ptr(), Part::WHOLE)
    }
}

/// [`fully_connected`] for the output columns [`fc_columns`](super::fc_columns) of `part`, each
/// computed as by the whole call (the same operations per lane, rows in the same order).
///
/// # Safety
///
/// The ISA of `S`; `out` is valid for writes of `OUT` values, and no other thread accesses the
/// columns of `part` meanwhile.
#[inline(always)]
pub(crate) unsafe fn fully_connected_part<
    S: Simd,
    const IN: usize,
    const OUT: usize,
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    check_len("fully_connected", "input", input.len(), IN);
    check_len("fully_connected", "weights", weights.len(), IN * OUT);
    check_len("fully_connected", "bias", bias.len(), OUT);
    let (o0, o1) = super::fc_columns(OUT, part);
    let l = S::LANES;
    // SAFETY: rows i..i+R <= IN of the weights, columns o0..o1 <= OUT of every row, of the bias
    // and of `out` (this part's, the caller vouches for the pointer).
    unsafe {
        let (x, w, y) = (input.as_ptr(), weights.as_ptr().add(o0), out.add(o0));
        core::ptr::copy_nonoverlapping(bias.as_ptr().add(o0), y, o1 - o0);
        let n = o1 - o0;
        let mut i = 0;
        while i + 4 <= IN {
            fc_rows::<S, 4, IN, OUT>(x.add(i), w.add(i * OUT), y, n);
            i += 4;
        }
        match IN - i {
            0 => {}
            1 => fc_rows::<S, 1, IN, OUT>(x.add(i), w.add(i * OUT), y, n),
            2 => fc_rows::<S, 2, IN, OUT>(x.add(i), w.add(i * OUT), y, n),
            _ => fc_rows::<S, 3, IN, OUT>(x.add(i), w.add(i * OUT), y, n),
        }
        if ACT != ACT_NONE {
            let mut o = 0;
            while o < n {
                let m = (n - o).min(l);
                S::store_n(y.add(o), act::<S, ACT>(S::load_n(y.add(o), m)), m);
                o += m;
            }
        }
    }
}

/// `y[o] += sum_r x[r] * w[r][o]` for `R` consecutive weight rows (row stride `OUT`) and the
/// `n` columns from `w` and `y`, summed in row order.
#[inline(always)]
unsafe fn fc_rows<S: Simd, const R: usize, const IN: usize, const OUT: usize>(
    x: *const f32,
    w: *const f32,
    y: *mut f32,
    n: usize,
) {
    // SAFETY: the caller guarantees R input values at `x`, R rows of n weights at `w` (stride
    // OUT) and n values at `y`; prefetches never fault.
    unsafe {
        let mut xs = [S::zero(); R];
        for (r, v) in xs.iter_mut().enumerate() {
            *v = S::broadcast(x.add(r));
        }
        let mut o = 0;
        while o + S::LANES <= n {
            let mut acc = S::load(y.add(o));
            for (r, xv) in xs.iter().enumerate() {
                acc = S::fmadd(*xv, S::load(w.add(r * OUT + o)), acc);
            }
            if o % PANEL == 0 {
                // The next rows' line at this column (the weights come from DRAM; see
                // PREFETCH_WEIGHTS_BYTES).
                for r in 0..R {
                    S::prefetch(w.wrapping_add((R + r) * OUT + o));
                }
            }
            S::store(y.add(o), acc);
            o += S::LANES;
        }
        if o < n {
            let m = n - o;
            let mut acc = S::load_n(y.add(o), m);
            for (r, xv) in xs.iter().enumerate() {
                acc = S::fmadd(*xv, S::load_n(w.add(r * OUT + o), m), acc);
            }
            S::store_n(y.add(o), acc, m);
        }
    }
}

/// The global average pool kernel.
///
/// # Safety
///
/// The ISA of `S`.
#[inline(always)]
pub(crate) unsafe fn global_avgpool<S: Simd, const HW: usize, const C: usize>(
    input: &[f32],
    out: &mut [f32],
) {
    const { assert!(HW > 0, "global_avgpool: HW must be positive") };
    check_len("global_avgpool", "input", input.len(), HW * C);
    check_len("global_avgpool", "out", out.len(), C);
    let (x, y) = (input.as_ptr(), out.as_mut_ptr());
    // Pixels outer, channels inner: the sums live in `out` (L1) and each input line is read
    // once, where a channel block walking the pixels (2^n bytes apart in wide layers) would
    // find them all in one L1 set. Each channel is still summed in pixel order from zero.
    // SAFETY: channels c..c+n <= C of pixels < HW; outputs c..c+n <= C.
    unsafe {
        let mut c = 0;
        while c < C {
            let n = (C - c).min(S::LANES);
            S::store_n(y.add(c), S::load_n(x.add(c), n), n);
            c += n;
        }
        for p in 1..HW {
            let mut c = 0;
            while c < C {
                let n = (C - c).min(S::LANES);
                let acc = S::add(S::load_n(y.add(c), n), S::load_n(x.add(p * C + c), n));
                S::store_n(y.add(c), acc, n);
                c += n;
            }
        }
        let count = S::splat(HW as f32);
        let mut c = 0;
        while c < C {
            let n = (C - c).min(S::LANES);
            S::store_n(y.add(c), S::div(S::load_n(y.add(c), n), count), n);
            c += n;
        }
    }
}

/// `e^x` for `x <= 0` (softmax arguments); below -87 (where `e^x` leaves the normal range)
/// the result is flushed to zero's neighbourhood (`e^-87`, 1.6e-38). Cody-Waite reduction
/// `x = n ln2 + r`, `|r| <= ln2 / 2`, and the degree-7 Taylor polynomial of `e^r` (truncation
/// error below 1e-8 relative); NaN propagates.
#[inline(always)]
unsafe fn exp_nonpositive<S: Simd>(x: S::V) -> S::V {
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const INV_FACT: [f32; 8] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    // SAFETY: register-only operations; callers run with the ISA enabled.
    unsafe {
        // max returns its second operand for a NaN, which keeps NaN.
        let x = S::max(S::splat(-87.0), x);
        let n = S::round(S::mul(x, S::splat(core::f32::consts::LOG2_E)));
        let r = S::fmadd(n, S::splat(-LN2_HI), x);
        let r = S::fmadd(n, S::splat(-LN2_LO), r);
        let mut p = S::splat(INV_FACT[7]);
        for &c in INV_FACT[..7].iter().rev() {
            p = S::fmadd(p, r, S::splat(c));
        }
        S::mul(p, S::pow2i(n))
    }
}

/// The softmax kernel: vector passes for the maximum, the exponentials and their sum, and the
/// scaling; the last `N % L` values go through the scalar exponential.
///
/// # Safety
///
/// The ISA of `S`.
#[inline(always)]
pub(crate) unsafe fn softmax<S: Simd, const N: usize>(x: &mut [f32]) {
    check_len("softmax", "x", x.len(), N);
    if N == 0 {
        return;
    }
    let l = S::LANES;
    let full = N / l * l;
    let p = x.as_mut_ptr();
    // SAFETY: whole vectors at i < full <= N, scalars at full..N.
    unsafe {
        let mut m = S::splat(f32::NEG_INFINITY);
        for i in (0..full).step_by(l) {
            m = S::max(m, S::load(p.add(i)));
        }
        let max = x[full..].iter().fold(S::reduce_max(m), |m, &v| m.max(v));
        let vmax = S::splat(max);
        let mut sum = S::zero();
        for i in (0..full).step_by(l) {
            let e = exp_nonpositive::<S>(S::sub(S::load(p.add(i)), vmax));
            S::store(p.add(i), e);
            sum = S::add(sum, e);
        }
        let mut total = S::reduce_add(sum);
        for v in x[full..].iter_mut() {
            *v = crate::math::exp_f32(*v - max);
            total += *v;
        }
        let inv = S::splat(1.0 / total);
        for i in (0..full).step_by(l) {
            S::store(p.add(i), S::mul(S::load(p.add(i)), inv));
        }
        for v in x[full..].iter_mut() {
            *v *= 1.0 / total;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Instantiation per instruction set
// ---------------------------------------------------------------------------------------------

/// Elementwise `out = act(a + b)` over `N` values.
///
/// # Safety
///
/// The ISA of `S`.
#[inline(always)]
pub(crate) unsafe fn add<S: Simd, const N: usize, const ACT: u8>(
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
) {
    check_len("add", "a", a.len(), N);
    check_len("add", "b", b.len(), N);
    check_len("add", "out", out.len(), N);
    let (pa, pb, po) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: every access is at i..i+L <= N or a masked tail of N - i lanes, inside the three
    // slices checked above to hold N values.
    unsafe {
        let mut i = 0;
        while i + S::LANES <= N {
            let v = S::add(S::load(pa.add(i)), S::load(pb.add(i)));
            S::store(po.add(i), act::<S, ACT>(v));
            i += S::LANES;
        }
        if i < N {
            let n = N - i;
            let v = S::add(S::load_n(pa.add(i), n), S::load_n(pb.add(i), n));
            S::store_n(po.add(i), act::<S, ACT>(v), n);
        }
    }
}

/// Declares the public kernel entry points of one instruction set in the invoking module: the
/// generic kernels above instantiated with the vector type `simd`, each entry compiled with
/// `features` enabled. `pointwise` gives the micro-kernel tile (`mr` pixels x `nv` vectors,
/// `nv1` vectors for a single 16-channel panel) and the row counts `1..mr` the tail needs.
macro_rules! isa_kernels {
    (
        name: $name:literal,
        simd: $S:ty,
        features: $features:literal,
        pointwise: { mr: $mr:literal, nv: $nv:literal, nv1: $nv1:literal, l1_kc: $l1kc:literal, tails: [$($r:literal),*] } $(,)?
    ) => {
        use $crate::kernels::vector;

        #[doc = concat!($name, " [`kernels::conv2d`](crate::kernels::conv2d).")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
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
            const ACT: u8,
        >(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: &mut [f32],
        ) {
            $crate::kernels::check_len("conv2d", "out", out.len(), HO * WO * CO);
            // SAFETY: this function's contract is the instruction set, enabled here; `out` is
            // an exclusive slice of the whole output.
            unsafe {
                vector::conv2d::<$S, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    input, weights, bias, out.as_mut_ptr(), $crate::kernels::Part::WHOLE,
                )
            }
        }

        #[doc = concat!($name, " [`kernels::conv2d`](crate::kernels::conv2d), one share of the")]
        /// output rows (see [`Part`](crate::kernels::Part)).
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` is valid for writes of the")]
        /// whole output (`HO * WO * CO` values), and no other thread accesses the share of
        /// `part` meanwhile (calls with distinct indices of one count share none).
        #[target_feature(enable = $features)]
        pub unsafe fn conv2d_part<
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
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            // SAFETY: this function's contract.
            unsafe {
                vector::conv2d::<$S, H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
                    input, weights, bias, out, part,
                )
            }
        }

        #[doc = concat!($name, " [`kernels::depthwise`](crate::kernels::depthwise).")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
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
            const ACT: u8,
        >(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: &mut [f32],
        ) {
            $crate::kernels::check_len("depthwise", "out", out.len(), HO * WO * C);
            // SAFETY: this function's contract is the instruction set, enabled here; `out` is
            // an exclusive slice of the whole output.
            unsafe {
                vector::depthwise::<$S, H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
                    input, weights, bias, out.as_mut_ptr(), $crate::kernels::Part::WHOLE,
                )
            }
        }

        #[doc = concat!($name, " [`kernels::depthwise`](crate::kernels::depthwise), one share of the")]
        /// output (see [`Part`](crate::kernels::Part)).
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` is valid for writes of the")]
        /// whole output (`HO * WO * C` values), and no other thread accesses the share of `part`
        /// meanwhile (calls with distinct indices of one count share none).
        #[target_feature(enable = $features)]
        pub unsafe fn depthwise_part<
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
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            // SAFETY: this function's contract.
            unsafe {
                vector::depthwise::<$S, H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
                    input, weights, bias, out, part,
                )
            }
        }

        #[doc = concat!($name, " [`kernels::depthwise_pointwise`](crate::kernels::depthwise_pointwise).")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn depthwise_pointwise<
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
            input: &[f32],
            dw_weights: &[f32],
            dw_bias: &[f32],
            pw_weights: &[f32],
            pw_bias: &[f32],
            out: &mut [f32],
        ) {
            $crate::kernels::check_len("depthwise_pointwise", "out", out.len(), HO * WO * CO);
            // SAFETY: the instruction set is this function's contract; `out` is the whole
            // output, borrowed exclusively.
            unsafe {
                depthwise_pointwise_impl::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT, CO, ACT2, ROWS, BAND_HW, LAST_HW, RES>(
                    input, dw_weights, dw_bias, pw_weights, pw_bias, out.as_mut_ptr(), $crate::kernels::Part::WHOLE,
                )
            }
        }

        #[doc = concat!($name, " [`kernels::depthwise_pointwise`](crate::kernels::depthwise_pointwise), whole")]
        /// bands of one share of the output.
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` is valid for writes of the")]
        /// whole output (`HO * WO * CO` values), and no other thread accesses the share of `part`
        /// meanwhile (calls with distinct indices of one count share none).
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn depthwise_pointwise_part<
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
            input: &[f32],
            dw_weights: &[f32],
            dw_bias: &[f32],
            pw_weights: &[f32],
            pw_bias: &[f32],
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            // SAFETY: this function's contract.
            unsafe {
                depthwise_pointwise_impl::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT, CO, ACT2, ROWS, BAND_HW, LAST_HW, RES>(
                    input, dw_weights, dw_bias, pw_weights, pw_bias, out, part,
                )
            }
        }

        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` and `part` as for `vector::depthwise_pointwise`.")]
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn depthwise_pointwise_impl<
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
            input: &[f32],
            dw_weights: &[f32],
            dw_bias: &[f32],
            pw_weights: &[f32],
            pw_bias: &[f32],
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            const { $crate::kernels::check_fused_band(HO, WO, C, ROWS, BAND_HW, LAST_HW) };
            // The pointwise weights are checked once here (each band's call checks its own
            // input, which the band loop sizes exactly).
            $crate::kernels::check_len("depthwise_pointwise", "pw_weights", pw_weights.len(), $crate::pack::pointwise_len(C, CO));
            $crate::kernels::check_len("depthwise_pointwise", "pw_bias", pw_bias.len(), CO);
            // SAFETY: `out` and `part` under this function's contract; each band's pointwise
            // writes exactly its output rows, inside the band's share.
            unsafe {
                vector::depthwise_pointwise::<$S, H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT, ROWS>(
                    input,
                    dw_weights,
                    dw_bias,
                    out,
                    CO,
                    part,
                    #[inline(always)]
                    |band, y, short| {
                        if short {
                            pointwise_impl::<LAST_HW, C, CO, ACT2, RES>(band, pw_weights, pw_bias, y, $crate::kernels::Part::WHOLE)
                        } else {
                            pointwise_impl::<BAND_HW, C, CO, ACT2, RES>(band, pw_weights, pw_bias, y, $crate::kernels::Part::WHOLE)
                        }
                    },
                )
            }
        }

        #[doc = concat!($name, " [`kernels::pointwise`](crate::kernels::pointwise): a GEMM over the")]
        #[doc = concat!("packed weight panels with a ", stringify!($mr), "-pixel x ", stringify!($nv), "-vector tile.")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn pointwise<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: &mut [f32],
        ) {
            $crate::kernels::check_len("pointwise", "out", out.len(), HW * CO);
            // SAFETY: this function's contract is the instruction set, enabled here; `out` is
            // an exclusive slice of the whole output.
            unsafe {
                pointwise_impl::<HW, CI, CO, ACT, false>(
                    input, weights, bias, out.as_mut_ptr(), $crate::kernels::Part::WHOLE,
                )
            }
        }

        #[doc = concat!($name, " [`kernels::pointwise`](crate::kernels::pointwise), one share of the")]
        /// output (see [`Part`](crate::kernels::Part)).
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` is valid for writes of the")]
        /// whole output (`HW * CO` values), and no other thread accesses the share of `part`
        /// meanwhile (calls with distinct indices of one count share none).
        #[target_feature(enable = $features)]
        pub unsafe fn pointwise_part<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            // SAFETY: this function's contract.
            unsafe { pointwise_impl::<HW, CI, CO, ACT, false>(input, weights, bias, out, part) }
        }

        #[doc = concat!($name, " [`kernels::pointwise_add`](crate::kernels::pointwise_add): the")]
        /// pointwise GEMM with the residual (held by `out` on entry) added in the first pass.
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn pointwise_add<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: &mut [f32],
        ) {
            $crate::kernels::check_len("pointwise_add", "out", out.len(), HW * CO);
            // SAFETY: this function's contract is the instruction set, enabled here; `out` is
            // an exclusive slice of the whole output.
            unsafe {
                pointwise_impl::<HW, CI, CO, ACT, true>(
                    input, weights, bias, out.as_mut_ptr(), $crate::kernels::Part::WHOLE,
                )
            }
        }

        #[doc = concat!($name, " [`kernels::pointwise_add`](crate::kernels::pointwise_add), one share")]
        /// of the output (see [`Part`](crate::kernels::Part)).
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` is valid for reads and writes of")]
        /// the whole output (`HW * CO` values), and no other thread accesses the share of `part`
        /// meanwhile (calls with distinct indices of one count share none).
        #[target_feature(enable = $features)]
        pub unsafe fn pointwise_add_part<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            // SAFETY: this function's contract.
            unsafe { pointwise_impl::<HW, CI, CO, ACT, true>(input, weights, bias, out, part) }
        }

        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` and `part` as for `vector::pointwise`.")]
        #[inline(always)]
        unsafe fn pointwise_impl<
            const HW: usize,
            const CI: usize,
            const CO: usize,
            const ACT: u8,
            const RES: bool,
        >(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            const { assert!([$($r),*].len() + 1 == $mr, "one tail per remainder 1..MR") };
            // SAFETY: the caller runs with the instruction set enabled and passes `out` and
            // `part` under `vector::pointwise`'s contract; the tail receives rows inside the
            // checked slices from `vector::pointwise`.
            unsafe {
                vector::pointwise::<$S, $mr, $nv, $nv1, $l1kc, HW, CI, CO, ACT, RES>(
                    input,
                    weights,
                    bias,
                    out,
                    part,
                    // Constant scrutinees: only this layer's short blocks are instantiated.
                    // Always inlined: the closure has no target features of its own, so the
                    // vector intrinsics inside it are inlined only once it is part of the caller
                    // (an outlined copy, shared by the whole and the `_part` entry, calls each
                    // intrinsic as a function).
                    #[inline(always)]
                    |rows, second| {
                        let (_, t1, t2) = const { vector::pointwise_blocks(HW, $mr, $nv) };
                        match if second { t2 } else { t1 } {
                            $($r => vector::pointwise_rows::<$S, $r, $nv, $nv1, CI, CO, ACT, RES>(rows),)*
                            _ => unreachable!(),
                        }
                    },
                )
            }
        }

        #[doc = concat!($name, " [`kernels::add`](crate::kernels::add).")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn add<const N: usize, const ACT: u8>(a: &[f32], b: &[f32], out: &mut [f32]) {
            // SAFETY: this function's contract is the instruction set, enabled here.
            unsafe { vector::add::<$S, N, ACT>(a, b, out) }
        }

        #[doc = concat!($name, " [`kernels::fully_connected`](crate::kernels::fully_connected).")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn fully_connected<const IN: usize, const OUT: usize, const ACT: u8>(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: &mut [f32],
        ) {
            // SAFETY: this function's contract is the instruction set, enabled here.
            unsafe { vector::fully_connected::<$S, IN, OUT, ACT>(input, weights, bias, out) }
        }

        #[doc = concat!($name, " [`kernels::fully_connected`](crate::kernels::fully_connected), one")]
        /// share of the output columns.
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, "; `out` and `part` as for `vector::fully_connected_part`.")]
        #[target_feature(enable = $features)]
        pub unsafe fn fully_connected_part<const IN: usize, const OUT: usize, const ACT: u8>(
            input: &[f32],
            weights: &[f32],
            bias: &[f32],
            out: *mut f32,
            part: $crate::kernels::Part,
        ) {
            // SAFETY: the instruction set is enabled here; `out` and `part` are the caller's
            // contract.
            unsafe { vector::fully_connected_part::<$S, IN, OUT, ACT>(input, weights, bias, out, part) }
        }

        #[doc = concat!($name, " [`kernels::softmax`](crate::kernels::softmax).")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn softmax<const N: usize>(x: &mut [f32]) {
            // SAFETY: this function's contract is the instruction set, enabled here.
            unsafe { vector::softmax::<$S, N>(x) }
        }

        #[doc = concat!($name, " [`kernels::global_avgpool`](crate::kernels::global_avgpool).")]
        ///
        /// # Safety
        ///
        #[doc = concat!("The CPU must support ", $name, ".")]
        #[target_feature(enable = $features)]
        pub unsafe fn global_avgpool<const HW: usize, const C: usize>(
            input: &[f32],
            out: &mut [f32],
        ) {
            // SAFETY: this function's contract is the instruction set, enabled here.
            unsafe { vector::global_avgpool::<$S, HW, C>(input, out) }
        }
    };
}
pub(crate) use isa_kernels;
