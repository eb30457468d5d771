//! AVX2 + FMA kernels (x86-64), the twins of [`scalar`](super::scalar) with identical
//! signatures and semantics: the generic kernels of [`vector`](super::vector) on 8-lane
//! `__m256` registers.
//!
//! The pointwise tile is 6 pixels x 2 vectors (one 16-channel panel): 12 accumulators, two
//! weight vectors and a broadcast of the 16 registers.

use super::simd::Avx2;

super::vector::isa_kernels! {
    name: "AVX2 + FMA",
    simd: Avx2,
    features: "avx2,fma",
    pointwise: { mr: 6, nv: 2, nv1: 2, l1_kc: 0, tails: [1, 2, 3, 4, 5] },
}
