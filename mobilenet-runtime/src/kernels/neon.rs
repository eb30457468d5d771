//! aarch64 NEON kernels, the twins of [`scalar`](super::scalar) with identical signatures and
//! semantics: the generic kernels of [`vector`](super::vector) on 4-lane `float32x4_t`
//! registers with fused multiply-add.
//!
//! The pointwise tile is 6 pixels x 4 vectors (one 16-channel panel): 24 accumulators, four
//! weight vectors and a broadcast of the 32 registers.

use super::simd::Neon;

super::vector::isa_kernels! {
    name: "NEON",
    simd: Neon,
    features: "neon",
    pointwise: { mr: 6, nv: 4, nv1: 4, l1_kc: 0, tails: [1, 2, 3, 4, 5] },
}
