//! Layer kernels, monomorphized per layer shape through const generics.
//!
//! The functions in this module are the stable entry points called by
//! generated code. Each one forwards to an instruction-set specific variant:
//! [`scalar`] (portable, no `unsafe`, written so that the compiler can
//! vectorize its innermost loops over contiguous output channels), [`avx2`]
//! and [`avx512`] on x86-64. The SIMD variants are one set of generic kernels
//! (the private `vector` module, over the vector operations of `simd`)
//! instantiated per instruction set. Every variant validates its slice lengths on entry
//! (through one shared helper, so all variants fail with the same message),
//! which keeps the functions here pure forwarders.
//!
//! The variant is chosen once per process: the best one the CPU supports
//! ([`best_isa`]), known at compile time when the target enables the features
//! (`-C target-cpu=native`, `x86-64-v3`, `x86-64-v4`) and detected at run time
//! otherwise (with the `std` feature). Tests and benchmarks can pin one with
//! [`force_isa`], or call one variant explicitly through [`with_isa`], and [`calls`] proves
//! which one ran.
//!
//! See the [crate documentation](crate) for tensor layouts, padding rules and
//! the shared kernel contract.

pub mod scalar;

#[cfg(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod simd;
#[cfg(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod vector;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
#[cfg(all(feature = "emulate-avx512", target_arch = "x86_64"))]
pub mod avx512_emulated;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// The instruction sets, in one table: `Variant = code, "name", module, cfg (the module exists),
/// dispatched(cfg), supported (expression), doc`. Everything else (the enum, [`Isa::ALL`],
/// names, support checks, call counters and the dispatch of every kernel) is generated from it,
/// so adding an ISA is a line here, its `Simd` implementation and its module of `isa_kernels!`.
/// Best last.
///
/// `dispatched(any())` marks a test-only instruction set: the kernel functions of this module
/// never run it (so code that only runs networks does not instantiate its kernels, which would
/// double the compile time of every crate with a `mobilenet!` in it); only [`with_isa`] and the
/// runtime's own tests call it.
macro_rules! isa_table {
    ($d:tt $($isa:ident = $code:literal, $name:literal, $module:ident, cfg($($cfg:tt)*), dispatched($($dcfg:tt)*), $supported:expr, $doc:literal;)*) => {
        /// Instruction-set family a kernel implementation is written for.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Isa {
            $(#[doc = $doc] $isa,)*
        }

        impl Isa {
            /// Every instruction set this crate knows (on any target), best last.
            pub const ALL: [Isa; [$($code),*].len()] = [$(Isa::$isa),*];

            /// Short lowercase name of the instruction set, e.g. `"scalar"`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Isa::$isa => $name,)*
                }
            }

            fn code(self) -> u8 {
                match self {
                    $(Isa::$isa => $code,)*
                }
            }

            fn from_code(code: u8) -> Option<Isa> {
                match code {
                    $($code => Some(Isa::$isa),)*
                    _ => None,
                }
            }

            fn index(self) -> usize {
                self.code() as usize - 1
            }

            /// Whether this build has kernels for this instruction set (its architecture and
            /// features).
            pub fn is_compiled(self) -> bool {
                match self {
                    $(Isa::$isa => cfg!($($cfg)*),)*
                }
            }

            /// Whether this CPU (and build) can run the kernels of this instruction set: known at
            /// compile time when the target enables the features (`-C target-cpu=native`,
            /// `x86-64-v3`, `x86-64-v4`, aarch64's NEON, wasm's `simd128`), detected at run
            /// time otherwise (with the `std` feature).
            pub fn is_supported(self) -> bool {
                match self {
                    $(Isa::$isa => self.is_compiled() && $supported,)*
                }
            }

            /// Whether the kernel functions of this module run this instruction set when it is
            /// the active one, i.e. whether [`force_isa`] accepts it: every one but the
            /// test-only emulation, which runs only through [`with_isa`].
            pub fn is_dispatched(self) -> bool {
                match self {
                    $(Isa::$isa => cfg!(all(all($($cfg)*), $($dcfg)*)),)*
                }
            }
        }

        /// Kernel calls per instruction set (so tests can prove a forced ISA really ran).
        static CALLS: [AtomicUsize; [$($code),*].len()] =
            [const { AtomicUsize::new(0) }; [$($code),*].len()];

        caller! { $d call_isa, "compiled in",
            "Calls kernel `$name` of instruction set `$isa` (which must be supported), counting \
             the call.";
            $($isa, $module, ($($cfg)*), (all());)* }
        #[allow(unused_imports)]
        pub(crate) use call_isa;
        caller! { $d call_dispatched, "dispatched",
            "[`call_isa!`] over the dispatched instruction sets only ([`Isa::is_dispatched`]).";
            $($isa, $module, ($($cfg)*), ($($dcfg)*);)* }
    };
}

/// Defines the macro `$mname!(isa, kernel::<generics>(args))`: a `match` over the instruction
/// sets listed whose `cfg` and `filter` both hold, calling that module's `kernel` and counting
/// the call ([`isa_table!`] makes `call_isa!` over every compiled one and `call_dispatched!`).
macro_rules! caller {
    ($d:tt $mname:ident, $what:literal, $doc:literal;
     $($isa:ident, $module:ident, ($($cfg:tt)*), ($($filter:tt)*);)*) => {
        #[doc = $doc]
        macro_rules! $mname {
            ($d isa:expr, $d name:ident::<$d($d g:tt),*>($d($d arg:expr),*)) => {{
                match $d isa {
                    $(
                        #[cfg(all(all($($cfg)*), $($filter)*))]
                        Isa::$isa => {
                            count(Isa::$isa);
                            #[allow(unused_unsafe)]
                            // SAFETY: callers pass only supported instruction sets (active_isa()
                            // returns one, best_isa() and force_isa check `is_supported`, and
                            // with_isa and the tests assert it); the scalar kernels are safe.
                            let r = unsafe { $module::$d name::<$d($d g),*>($d($d arg),*) };
                            r
                        }
                    )*
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("{} kernels are not {}", $d isa, $what),
                }
            }};
        }
    };
}

isa_table! { $
    Scalar = 1, "scalar", scalar, cfg(all()), dispatched(all()), true,
        "Portable scalar Rust ([`scalar`]); relies on compiler auto-vectorization.";
    Avx512Emulated = 4, "avx512-emulated", avx512_emulated,
        cfg(all(feature = "emulate-avx512", target_arch = "x86_64")), dispatched(any()),
        avx2_supported(),
        "The AVX-512 kernels' algorithm run on pairs of AVX2 registers, for testing those code \
         paths on CPUs without AVX-512 (`avx512_emulated`, with the `emulate-avx512` feature). \
         Test-only: never dispatched, so never chosen by [`best_isa`] nor accepted by \
         [`force_isa`]; [`with_isa`] runs it.";
    Simd128 = 6, "simd128", simd128, cfg(all(target_arch = "wasm32", target_feature = "simd128")),
        dispatched(all()), true, "WebAssembly 128-bit SIMD (`simd128`, 4 lanes; multiply and add unfused).";
    Neon = 5, "neon", neon, cfg(target_arch = "aarch64"), dispatched(all()), true,
        "aarch64 Advanced SIMD (`neon`, 4 lanes, fused multiply-add).";
    Avx2 = 2, "avx2", avx2, cfg(any(target_arch = "x86", target_arch = "x86_64")),
        dispatched(all()), avx2_supported(),
        "x86-64 AVX2 with FMA ([`avx2`]).";
    Avx512 = 3, "avx512", avx512, cfg(target_arch = "x86_64"), dispatched(all()),
        avx512_supported(),
        "x86-64 AVX-512F ([`avx512`]).";
}

impl core::fmt::Display for Isa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[allow(unreachable_code)]
fn avx2_supported() -> bool {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    {
        return true;
    }
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), feature = "std"))]
    {
        return std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    }
    false
}

#[allow(unreachable_code)]
fn avx512_supported() -> bool {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx512f",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    {
        return true;
    }
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        return std::is_x86_feature_detected!("avx512f") && avx2_supported();
    }
    false
}

/// Whether this CPU has AVX-512BW, VL and VNNI beside AVX-512F (the quantized kernels'
/// `vpdpbusd` variants; the `f32` kernels need AVX-512F only).
#[allow(unreachable_code)]
pub fn vnni_supported() -> bool {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx512bw",
        target_feature = "avx512vl",
        target_feature = "avx512vnni"
    ))]
    {
        return avx512_supported();
    }
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        return avx512_supported()
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni");
    }
    false
}

/// Whether this CPU has AVX-512 VBMI (byte permutes) beside [`vnni_supported`]'s features:
/// the quantized depthwise kernel's byte-column variant.
#[allow(unreachable_code)]
pub fn vbmi_supported() -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512vbmi"))]
    {
        return vnni_supported();
    }
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        return vnni_supported() && std::is_x86_feature_detected!("avx512vbmi");
    }
    false
}

/// Whether the quantized kernels run their AVX-512 VNNI variants: the active instruction set is
/// AVX-512 and the CPU has VNNI ([`vnni_supported`]).
#[inline]
pub fn vnni_active() -> bool {
    matches!(active_isa(), Isa::Avx512) && vnni_supported()
}

/// 0 = not chosen yet, else `Isa::code`.
static SELECTED: AtomicU8 = AtomicU8::new(0);

/// The best instruction set this CPU supports (of the dispatched ones).
pub fn best_isa() -> Isa {
    Isa::ALL
        .into_iter()
        .rev()
        .find(|i| i.is_supported() && i.is_dispatched())
        .unwrap_or(Isa::Scalar)
}

/// The instruction set whose kernels the functions of this module run: the one forced with
/// [`force_isa`], else the best supported one (chosen once, then cached).
#[inline]
pub fn active_isa() -> Isa {
    match Isa::from_code(SELECTED.load(Ordering::Relaxed)) {
        Some(isa) => isa,
        None => {
            let best = best_isa();
            SELECTED.store(best.code(), Ordering::Relaxed);
            best
        }
    }
}

/// The instruction set cannot run on this CPU, or (for [`force_isa`]) is a test-only one that
/// the kernel functions do not dispatch to ([`Isa::is_dispatched`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsupported(pub Isa);

impl core::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.is_supported() {
            write!(
                f,
                "the {} kernels are test-only and run through kernels::with_isa, not force_isa",
                self.0
            )
        } else {
            write!(f, "this CPU does not support the {} kernels", self.0)
        }
    }
}

/// Run every following kernel call with `isa` (process-wide; for tests and benchmarks). `isa`
/// must be supported and dispatched ([`Isa::is_dispatched`]).
pub fn force_isa(isa: Isa) -> Result<(), Unsupported> {
    if !isa.is_supported() || !isa.is_dispatched() {
        return Err(Unsupported(isa));
    }
    SELECTED.store(isa.code(), Ordering::Relaxed);
    Ok(())
}

/// How many kernel calls ran with `isa` so far.
pub fn calls(isa: Isa) -> usize {
    CALLS[isa.index()].load(Ordering::Relaxed)
}

/// Counts a quantized kernel call run with `isa` (the quantized kernels dispatch themselves).
#[inline(always)]
pub(crate) fn count_q8(isa: Isa) {
    count(isa)
}

#[inline(always)]
fn count(isa: Isa) {
    CALLS[isa.index()].fetch_add(1, Ordering::Relaxed);
}

pub use crate::quant::kernels::{
    add as q8_add, avgpool as q8_avgpool, conv2d as q8_conv2d,
    conv2d_has_avx512 as q8_conv2d_has_avx512, depthwise as q8_depthwise, from_u8 as q8_from_u8,
    global_avgpool as q8_global_avgpool, pointwise as q8_pointwise, softmax as q8_softmax,
    to_u8 as q8_to_u8,
};

/// Which share of a layer's output one call computes, for forwards split across threads: part
/// `index` of `count`. A kernel maps it to whole units of its own work (output rows, pixel
/// blocks, tiles of weight panels or channel slices, chosen from its constant shape, its
/// instruction set's tile and `count`), so the parts of one count cover the output exactly
/// once, and each output is computed by the same operations, in the same order, as by the whole
/// call: a split forward is bit-identical to the single-threaded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// This part, `< count`.
    pub index: usize,
    /// Parts in all (`>= 1`).
    pub count: usize,
}

impl Part {
    /// The whole output.
    pub const WHOLE: Part = Part { index: 0, count: 1 };

    /// This part's share `lo..hi` of `n` units: consecutive, as even as integers allow.
    #[inline(always)]
    pub fn range(self, n: usize) -> (usize, usize) {
        debug_assert!(self.index < self.count);
        (
            n * self.index / self.count,
            n * (self.index + 1) / self.count,
        )
    }
}

/// The output columns `lo..hi` of `part` of a fully connected layer of `out` outputs: whole
/// 16-value runs (64-byte lines), so parts never share a cache line of the output.
#[inline(always)]
pub(crate) fn fc_columns(out: usize, part: Part) -> (usize, usize) {
    let (lo, hi) = part.range(out.div_ceil(16));
    ((lo * 16).min(out), (hi * 16).min(out))
}

/// Calls the variant of a kernel for the active instruction set.
macro_rules! dispatch {
    ($name:ident::<$($g:tt),*>($($arg:expr),*)) => {
        call_dispatched!(active_isa(), $name::<$($g),*>($($arg),*))
    };
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
    dispatch!(conv2d::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
        input, weights, bias, out
    ))
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
    dispatch!(depthwise::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
        input, weights, bias, out
    ))
}

/// Floats of the band buffer of [`depthwise_pointwise`] (64 KiB on the stack of each thread):
/// one band of depthwise output rows, which the pointwise layer reads while it is in L1/L2.
pub const FUSED_BAND_FLOATS: usize = 16384;

/// Output rows per band of [`depthwise_pointwise`] for a depthwise output of `ho x wo x c`:
/// as many as the band buffer holds, but at most an eighth of the rows, so that threads get
/// several bands each; 0 when not one row fits (the pair cannot be fused).
pub const fn fused_band_rows(ho: usize, wo: usize, c: usize) -> usize {
    let row = wo * c;
    if row == 0 || row > FUSED_BAND_FLOATS || ho == 0 {
        return 0;
    }
    let fit = FUSED_BAND_FLOATS / row;
    let eighth = if ho / 8 > 1 { ho / 8 } else { 1 };
    if fit < eighth {
        fit
    } else {
        eighth
    }
}

/// Rows of the last band of [`depthwise_pointwise`] (`ho` rows in bands of `rows`).
pub const fn fused_last_rows(ho: usize, rows: usize) -> usize {
    ho - (ho.div_ceil(rows) - 1) * rows
}

/// Panics (at compile time, in a `const` block) unless bands of `rows` rows of a depthwise
/// output of `ho x wo x c` fit the band buffer and `band_hw`, `last_hw` are the pixels of a
/// band and of the last band ([`depthwise_pointwise`]'s `BAND_HW`, `LAST_HW`).
pub(crate) const fn check_fused_band(
    ho: usize,
    wo: usize,
    c: usize,
    rows: usize,
    band_hw: usize,
    last_hw: usize,
) {
    assert!(
        rows > 0 && rows <= ho && rows * wo * c <= FUSED_BAND_FLOATS,
        "depthwise_pointwise: a band must hold 1..=HO rows within FUSED_BAND_FLOATS"
    );
    assert!(
        band_hw == rows * wo && last_hw == fused_last_rows(ho, rows) * wo,
        "depthwise_pointwise: BAND_HW and LAST_HW must be the pixels of a band and of the last"
    );
}

/// A depthwise convolution ([`depthwise`], activation `ACT`) and the pointwise convolution
/// that reads its output ([`pointwise`] with `CO` outputs, activation `ACT2`) in one call, in
/// bands of `ROWS` output rows whose depthwise output stays in a buffer on the stack
/// ([`FUSED_BAND_FLOATS`]) instead of going through memory: `out` receives exactly what the two
/// kernels called one after the other would write. `BAND_HW` = `ROWS * WO` and `LAST_HW` =
/// [`fused_last_rows`]`(HO, ROWS) * WO` are the pointwise pixel counts of a band and of the last
/// one (const generic arithmetic is not stable Rust; they are checked at compile time). With
/// `RES` the pointwise is [`pointwise_add`]: `out` holds the residual on entry.
///
/// * `input`, `dw_weights`, `dw_bias`: as for [`depthwise`] (`C` channels)
/// * `pw_weights`, `pw_bias`: as for [`pointwise`] (`CI = C`)
/// * `out`: `[HO][WO][CO]` (with `RES`: the residual on entry)
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline(always)]
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
    input: &[f32],
    dw_weights: &[f32],
    dw_bias: &[f32],
    pw_weights: &[f32],
    pw_bias: &[f32],
    out: &mut [f32],
) {
    #[rustfmt::skip]
    dispatch!(depthwise_pointwise::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT, CO, ACT2, ROWS, BAND_HW, LAST_HW, RES>(input, dw_weights, dw_bias, pw_weights, pw_bias, out));
}

/// Pointwise (1x1, stride 1) convolution over `HW` pixels.
///
/// * `input`: `[HW][CI]`
/// * `weights`: panels of 16 output channels, `[CO / 16][CI][16]`, the last panel zero-padded
///   (as written by [`pack::pack_pointwise`](crate::pack::pack_pointwise); length
///   [`pack::pointwise_len`](crate::pack::pointwise_len)`(CI, CO)`)
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
    dispatch!(pointwise::<HW, CI, CO, ACT>(input, weights, bias, out))
}

/// Pointwise convolution with a fused residual add (MobileNet v2's linear bottleneck
/// projection followed by its skip connection): `out` holds the residual on entry and receives
/// `act(residual + bias + W x)`, the residual read where the result is stored, in the same pass.
///
/// Operands as [`pointwise`]; `out` is `[HW][CO]` on entry and exit.
///
/// # Panics
///
/// If any slice length does not match the dimensions.
#[inline(always)]
pub fn pointwise_add<const HW: usize, const CI: usize, const CO: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    dispatch!(pointwise_add::<HW, CI, CO, ACT>(input, weights, bias, out))
}

/// Elementwise addition of two activations of `N` values: `out = act(a + b)` (a residual
/// connection that could not be fused into a pointwise kernel).
///
/// # Panics
///
/// If any slice length is not `N`.
#[inline(always)]
pub fn add<const N: usize, const ACT: u8>(a: &[f32], b: &[f32], out: &mut [f32]) {
    dispatch!(add::<N, ACT>(a, b, out))
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
    dispatch!(global_avgpool::<HW, C>(input, out))
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
    dispatch!(fully_connected::<IN, OUT, ACT>(input, weights, bias, out))
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
    dispatch!(softmax::<N>(x))
}

/// [`pointwise`] for one share of the output (the active instruction set's variant).
///
/// # Safety
///
/// `out` is valid for writes of `HW * CO` values, and no other thread accesses the share of
/// `part` meanwhile (calls with distinct indices of one count share none).
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) unsafe fn pointwise_part<
    const HW: usize,
    const CI: usize,
    const CO: usize,
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    dispatch!(pointwise_part::<HW, CI, CO, ACT>(
        input, weights, bias, out, part
    ));
}

/// [`pointwise_add`] for one share of the output.
///
/// # Safety
///
/// As [`pointwise_part`] (`out` is also read: it holds the residual).
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) unsafe fn pointwise_add_part<
    const HW: usize,
    const CI: usize,
    const CO: usize,
    const ACT: u8,
>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    dispatch!(pointwise_add_part::<HW, CI, CO, ACT>(
        input, weights, bias, out, part
    ))
}

/// [`conv2d`] for one share of the output rows.
///
/// # Safety
///
/// `out` is valid for writes of `HO * WO * CO` values, and no other thread accesses the share
/// of `part` meanwhile (calls with distinct indices of one count share none).
#[cfg(feature = "std")]
#[inline(always)]
#[rustfmt::skip]
pub(crate) unsafe fn conv2d_part<
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
    dispatch!(conv2d_part::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL, ACT>(
        input, weights, bias, out, part
    ))
}

/// [`depthwise`] for one share of the output.
///
/// # Safety
///
/// `out` is valid for writes of `HO * WO * C` values, and no other thread accesses the share of
/// `part` meanwhile (calls with distinct indices of one count share none).
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) unsafe fn depthwise_part<
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
    dispatch!(
        depthwise_part::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT>(
            input, weights, bias, out, part
        )
    )
}

/// [`depthwise_pointwise`] for one share of the output: whole bands.
///
/// # Safety
///
/// `out` is valid for writes of `HO * WO * CO` values, and no other thread accesses the share of
/// `part` meanwhile (calls with distinct indices of one count share none).
#[cfg(feature = "std")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn depthwise_pointwise_part<
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
    part: Part,
) {
    #[rustfmt::skip]
    dispatch!(depthwise_pointwise_part::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL, ACT, CO, ACT2, ROWS, BAND_HW, LAST_HW, RES>(input, dw_weights, dw_bias, pw_weights, pw_bias, out, part));
}

/// [`fully_connected`] for one share of the outputs (columns, [`fc_columns`]).
///
/// # Safety
///
/// `out` is valid for writes of `OUT` values, and no other thread accesses the share of `part`
/// meanwhile (calls with distinct indices of one count share none).
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) unsafe fn fully_connected_part<const IN: usize, const OUT: usize, const ACT: u8>(
    input: &[f32],
    weights: &[f32],
    bias: &[f32],
    out: *mut f32,
    part: Part,
) {
    dispatch!(fully_connected_part::<IN, OUT, ACT>(
        input, weights, bias, out, part
    ));
}

/// The kernel functions of this module with the instruction set passed by the caller instead of
/// the active one, any compiled and supported one including the test-only emulation: for tests
/// comparing each variant with the scalar one (no process-wide [`force_isa`], so such tests need
/// no lock). Each function here instantiates every compiled variant; generated code calls the
/// dispatching functions of [`kernels`](self) instead.
///
/// # Panics
///
/// If `isa` is not supported ([`Isa::is_supported`]), and as the dispatching function.
pub mod with_isa {
    use super::*;

    macro_rules! with_isa {
        ($($(#[$attr:meta])* $kernel:ident<$($g:ident: $t:ty),*>($($a:ident: $at:ty),*);)*) => {$(
            #[doc = concat!("[`", stringify!($kernel), "`](super::", stringify!($kernel), ") with the variant of `isa`.")]
            $(#[$attr])*
            #[inline(always)]
            pub fn $kernel<$(const $g: $t),*>(isa: Isa, $($a: $at),*) {
                assert!(isa.is_supported(), "{isa} is not supported by this CPU or build");
                call_isa!(isa, $kernel::<$($g),*>($($a),*))
            }
        )*};
    }

    with_isa! {
        conv2d<H: usize, W: usize, CI: usize, HO: usize, WO: usize, CO: usize, KH: usize, KW: usize, SH: usize, SW: usize, PT: usize, PL: usize, ACT: u8>(input: &[f32], weights: &[f32], bias: &[f32], out: &mut [f32]);
        depthwise<H: usize, W: usize, C: usize, HO: usize, WO: usize, KH: usize, KW: usize, SH: usize, SW: usize, PT: usize, PL: usize, ACT: u8>(input: &[f32], weights: &[f32], bias: &[f32], out: &mut [f32]);
        #[allow(clippy::too_many_arguments)]
        depthwise_pointwise<H: usize, W: usize, C: usize, HO: usize, WO: usize, KH: usize, KW: usize, SH: usize, SW: usize, PT: usize, PL: usize, ACT: u8, CO: usize, ACT2: u8, ROWS: usize, BAND_HW: usize, LAST_HW: usize, RES: bool>(input: &[f32], dw_weights: &[f32], dw_bias: &[f32], pw_weights: &[f32], pw_bias: &[f32], out: &mut [f32]);
        pointwise<HW: usize, CI: usize, CO: usize, ACT: u8>(input: &[f32], weights: &[f32], bias: &[f32], out: &mut [f32]);
        pointwise_add<HW: usize, CI: usize, CO: usize, ACT: u8>(input: &[f32], weights: &[f32], bias: &[f32], out: &mut [f32]);
        add<N: usize, ACT: u8>(a: &[f32], b: &[f32], out: &mut [f32]);
        global_avgpool<HW: usize, C: usize>(input: &[f32], out: &mut [f32]);
        fully_connected<IN: usize, OUT: usize, ACT: u8>(input: &[f32], weights: &[f32], bias: &[f32], out: &mut [f32]);
        softmax<N: usize>(x: &mut [f32]);
    }
}

#[cfg(feature = "std")]
pub mod par;

#[cfg(test)]
mod tests;
