//! The vector operations the SIMD kernels are written in, one implementation per instruction
//! set.
//!
//! [`vector`](super::vector) holds each kernel's algorithm once, generic over [`Simd`]; an ISA
//! module instantiates it with its register type. Everything here is `#[inline(always)]` and
//! free of target features on purpose: the operations are inlined into the kernel entry points,
//! which carry `#[target_feature]`, so the intrinsics compile to single instructions there.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// Widest vector of any implementation, in `f32` lanes.
pub(crate) const MAX_LANES: usize = 16;

/// A vector of `LANES` `f32` values and the operations the kernels use.
///
/// # Safety (all methods)
///
/// The CPU must support the instruction set of the implementation. Pointer arguments must be
/// valid for the number of values the method names (`LANES`, or `n` for the `_n` variants; `n`
/// is at most `LANES`, and lanes past `n` are neither read nor written).
pub(crate) trait Simd {
    /// `f32` lanes per vector.
    const LANES: usize;
    /// The register type.
    type V: Copy;

    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    /// `*p` in every lane.
    unsafe fn broadcast(p: *const f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `n` lanes from `p`, the rest zero.
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// The first `n` lanes of `v` to `p`.
    unsafe fn store_n(p: *mut f32, v: Self::V, n: usize);
    /// `a * b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// Rounded to the nearest integer (ties to even).
    unsafe fn round(a: Self::V) -> Self::V;
    /// `2^n` for integral `n` in -126..=127 (a normal float built from its exponent bits).
    unsafe fn pow2i(n: Self::V) -> Self::V;
    /// Lane-wise maximum; for a NaN in `a`, `b`.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise minimum; for a NaN in `a`, `b`.
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;

    /// A hint to bring the cache line holding `p` towards L1 (any address, never dereferenced;
    /// a no-op where the instruction set has no stable prefetch intrinsic).
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        let _ = p;
    }

    /// Sum of the lanes.
    #[inline(always)]
    unsafe fn reduce_add(v: Self::V) -> f32 {
        let mut a = [0.0f32; MAX_LANES];
        // SAFETY: `a` holds MAX_LANES >= LANES values.
        unsafe { Self::store(a.as_mut_ptr(), v) };
        a[..Self::LANES].iter().sum()
    }

    /// Maximum of the lanes.
    #[inline(always)]
    unsafe fn reduce_max(v: Self::V) -> f32 {
        let mut a = [0.0f32; MAX_LANES];
        // SAFETY: `a` holds MAX_LANES >= LANES values.
        unsafe { Self::store(a.as_mut_ptr(), v) };
        a[..Self::LANES]
            .iter()
            .fold(f32::NEG_INFINITY, |m, &x| m.max(x))
    }
}

/// AVX2 + FMA: 8 lanes in a `__m256`.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(crate) struct Avx2;

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Avx2 {
    /// Lane mask selecting the first `n` (0..=8) lanes.
    #[inline(always)]
    unsafe fn mask(n: usize) -> __m256i {
        const IDX: [i32; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
        // SAFETY: IDX is 8 readable i32 values; the load is unaligned.
        unsafe {
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n as i32),
                _mm256_loadu_si256(IDX.as_ptr() as *const __m256i),
            )
        }
    }
}

// SAFETY (every method of this impl): the trait's contract (AVX2 + FMA available, pointers
// valid for LANES or n values; masked-off lanes are not accessed by vmaskmov).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
impl Simd for Avx2 {
    const LANES: usize = 8;
    type V = __m256;

    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        // SAFETY: a prefetch never faults, whatever the address (SSE, part of x86-64).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
    }

    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> __m256 {
        // SAFETY: see the impl.
        unsafe {
            if n == 8 {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, Self::mask(n))
            }
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: see the impl.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: __m256, n: usize) {
        // SAFETY: see the impl.
        unsafe {
            if n == 8 {
                _mm256_storeu_ps(p, v)
            } else {
                _mm256_maskstore_ps(p, Self::mask(n), v)
            }
        }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn round(a: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    unsafe fn pow2i(n: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe {
            let e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(e))
        }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_min_ps(a, b) }
    }
}

/// AVX-512F: 16 lanes in a `__m512`; partial loads and stores are masked (`__mmask16`).
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx512;

/// Mask of the first `n` (0..=16) lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

// SAFETY (every method of this impl): the trait's contract (AVX-512F available, pointers valid
// for LANES or n values; AVX-512 masked loads and stores do not access masked-off lanes, nor
// fault on them).
#[cfg(target_arch = "x86_64")]
impl Simd for Avx512 {
    const LANES: usize = 16;
    type V = __m512;

    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        // SAFETY: a prefetch never faults, whatever the address (SSE, part of x86-64).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
    }

    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> __m512 {
        // SAFETY: see the impl.
        unsafe {
            if n == 16 {
                _mm512_loadu_ps(p)
            } else {
                _mm512_maskz_loadu_ps(mask16(n), p)
            }
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: see the impl.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: __m512, n: usize) {
        // SAFETY: see the impl.
        unsafe {
            if n == 16 {
                _mm512_storeu_ps(p, v)
            } else {
                _mm512_mask_storeu_ps(p, mask16(n), v)
            }
        }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn round(a: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    unsafe fn pow2i(n: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe {
            let e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
            _mm512_castsi512_ps(_mm512_slli_epi32::<23>(e))
        }
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn min(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_min_ps(a, b) }
    }
}

/// 16 lanes as a pair of AVX2 registers: runs the AVX-512 kernels' algorithm (the same
/// tiles, blocking and tails) on CPUs without AVX-512, so that those code paths are tested
/// everywhere. Only the [`Avx512`] implementation above is specific to AVX-512.
#[cfg(all(
    feature = "emulate-avx512",
    any(target_arch = "x86", target_arch = "x86_64")
))]
pub(crate) struct Avx2Pair;

// SAFETY (every method of this impl): the trait's contract, forwarded to [`Avx2`] half by half;
// a half with no lanes to touch is not accessed at all (its pointer is not even formed).
#[cfg(all(
    feature = "emulate-avx512",
    any(target_arch = "x86", target_arch = "x86_64")
))]
impl Simd for Avx2Pair {
    const LANES: usize = 16;
    type V = [__m256; 2];

    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        // SAFETY: a prefetch never faults, whatever the address (SSE, part of x86-64).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
    }

    #[inline(always)]
    unsafe fn zero() -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::zero(); 2] }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::splat(x); 2] }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::broadcast(p); 2] }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::load(p), Avx2::load(p.add(8))] }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V {
        // SAFETY: see the impl.
        unsafe {
            let hi = if n > 8 {
                Avx2::load_n(p.add(8), n - 8)
            } else {
                Avx2::zero()
            };
            [Avx2::load_n(p, n.min(8)), hi]
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: see the impl.
        unsafe {
            Avx2::store(p, v[0]);
            Avx2::store(p.add(8), v[1]);
        }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: see the impl.
        unsafe {
            Avx2::store_n(p, v[0], n.min(8));
            if n > 8 {
                Avx2::store_n(p.add(8), v[1], n - 8);
            }
        }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::fmadd(a[0], b[0], c[0]), Avx2::fmadd(a[1], b[1], c[1])] }
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::add(a[0], b[0]), Avx2::add(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::sub(a[0], b[0]), Avx2::sub(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::mul(a[0], b[0]), Avx2::mul(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::div(a[0], b[0]), Avx2::div(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn round(a: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::round(a[0]), Avx2::round(a[1])] }
    }
    #[inline(always)]
    unsafe fn pow2i(n: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::pow2i(n[0]), Avx2::pow2i(n[1])] }
    }
    #[inline(always)]
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::max(a[0], b[0]), Avx2::max(a[1], b[1])] }
    }
    #[inline(always)]
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { [Avx2::min(a[0], b[0]), Avx2::min(a[1], b[1])] }
    }
}

/// aarch64 Advanced SIMD: 4 lanes in a `float32x4_t`, fused multiply-add. Partial vectors go
/// through a small stack buffer (NEON has no masked loads); only tails use them.
#[cfg(target_arch = "aarch64")]
pub(crate) struct Neon;

// SAFETY (every method of this impl): the trait's contract (NEON is part of every aarch64
// target; pointers valid for LANES or n values; the `_n` variants touch only n values through
// `copy_nonoverlapping` into or out of a local buffer).
#[cfg(target_arch = "aarch64")]
impl Simd for Neon {
    const LANES: usize = 4;
    type V = core::arch::aarch64::float32x4_t;

    #[inline(always)]
    unsafe fn zero() -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vdupq_n_f32(0.0) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vld1q_dup_f32(p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V {
        // SAFETY: see the impl.
        unsafe {
            if n == 4 {
                return core::arch::aarch64::vld1q_f32(p);
            }
            let mut buf = [0.0f32; 4];
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            core::arch::aarch64::vld1q_f32(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: see the impl.
        unsafe {
            if n == 4 {
                return core::arch::aarch64::vst1q_f32(p, v);
            }
            let mut buf = [0.0f32; 4];
            core::arch::aarch64::vst1q_f32(buf.as_mut_ptr(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vaddq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vsubq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vmulq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vdivq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn round(a: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vrndnq_f32(a) }
    }
    #[inline(always)]
    unsafe fn pow2i(n: Self::V) -> Self::V {
        use core::arch::aarch64::*;
        // SAFETY: see the impl.
        unsafe {
            let e = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
            vreinterpretq_f32_s32(vshlq_n_s32::<23>(e))
        }
    }
    #[inline(always)]
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V {
        // IEEE maxNum: a NaN operand yields the other one.
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vmaxnmq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::aarch64::vminnmq_f32(a, b) }
    }
}

/// WebAssembly `simd128`: 4 lanes in a `v128`. There is no fused multiply-add in simd128
/// (relaxed-simd's is not bit-stable across engines), so `fmadd` rounds twice here.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) struct Simd128;

// SAFETY (every method of this impl): the trait's contract (the module is compiled only with
// `simd128` enabled; pointers valid for LANES or n values; the `_n` variants touch only n
// values through `copy_nonoverlapping` into or out of a local buffer).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Simd for Simd128 {
    const LANES: usize = 4;
    type V = core::arch::wasm32::v128;

    #[inline(always)]
    unsafe fn zero() -> Self::V {
        core::arch::wasm32::f32x4_splat(0.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        core::arch::wasm32::f32x4_splat(x)
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> Self::V {
        // SAFETY: see the impl.
        unsafe { core::arch::wasm32::f32x4_splat(*p) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: see the impl (wasm loads have no alignment requirement).
        unsafe { core::arch::wasm32::v128_load(p as *const core::arch::wasm32::v128) }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V {
        // SAFETY: see the impl.
        unsafe {
            if n == 4 {
                return Self::load(p);
            }
            let mut buf = [0.0f32; 4];
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Self::load(buf.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: see the impl.
        unsafe { core::arch::wasm32::v128_store(p as *mut core::arch::wasm32::v128, v) }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: Self::V, n: usize) {
        // SAFETY: see the impl.
        unsafe {
            if n == 4 {
                return Self::store(p, v);
            }
            let mut buf = [0.0f32; 4];
            Self::store(buf.as_mut_ptr(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        use core::arch::wasm32::*;
        f32x4_add(f32x4_mul(a, b), c)
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        core::arch::wasm32::f32x4_add(a, b)
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        core::arch::wasm32::f32x4_sub(a, b)
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        core::arch::wasm32::f32x4_mul(a, b)
    }
    #[inline(always)]
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V {
        core::arch::wasm32::f32x4_div(a, b)
    }
    #[inline(always)]
    unsafe fn round(a: Self::V) -> Self::V {
        core::arch::wasm32::f32x4_nearest(a)
    }
    #[inline(always)]
    unsafe fn pow2i(n: Self::V) -> Self::V {
        use core::arch::wasm32::*;
        let e = i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127));
        i32x4_shl(e, 23)
    }
    #[inline(always)]
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V {
        // pmax(b, a) = b < a ? a : b: a NaN in `a` yields `b`.
        core::arch::wasm32::f32x4_pmax(b, a)
    }
    #[inline(always)]
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V {
        // pmin(b, a) = a < b ? a : b: a NaN in `a` yields `b`.
        core::arch::wasm32::f32x4_pmin(b, a)
    }
}
