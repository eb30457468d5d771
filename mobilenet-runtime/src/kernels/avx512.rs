//! AVX-512F kernels (x86-64), the twins of [`scalar`](super::scalar) with identical signatures
//! and semantics: the generic kernels of [`vector`](super::vector) on 16-lane `__m512`
//! registers, partial vectors through `__mmask16` masks.
//!
//! The pointwise tile is 12 pixels x 2 vectors (two 16-channel panels): 24 accumulators, two
//! weight vectors and a broadcast of the 32 registers. Layers with few input or output channels
//! run weight-stationary passes of 256 input channels (`l1_kc`, see `vector::l1_passes`).

use super::simd::Avx512;

/// The AVX-512 kernel set for a 16-lane vector type (also instantiated on pairs of AVX2
/// registers by [`avx512_emulated`](super::avx512_emulated), to test these code paths on any
/// x86-64 CPU).
macro_rules! avx512_kernels {
    ($name:literal, $S:ty, $features:literal) => {
        super::vector::isa_kernels! {
            name: $name,
            simd: $S,
            features: $features,
            pointwise: { mr: 12, nv: 2, nv1: 1, l1_kc: 256, tails: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] },
        }
    };
}
#[cfg(feature = "emulate-avx512")]
pub(crate) use avx512_kernels;

avx512_kernels!("AVX-512F", Avx512, "avx512f,avx2,fma");
