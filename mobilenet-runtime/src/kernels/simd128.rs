//! WebAssembly `simd128` kernels, the twins of [`scalar`](super::scalar) with identical
//! signatures and semantics: the generic kernels of [`vector`](super::vector) on 4-lane `v128`
//! values (multiply and add unfused: relaxed-simd's FMA is not bit-stable across engines).
//!
//! The pointwise tile is 2 pixels x 4 vectors (one 16-channel panel): 8 accumulators, four
//! weight vectors and a broadcast, within the 16 vector registers of the x86 and the 32 of the
//! arm hosts that wasm engines compile to.

use super::simd::Simd128;

super::vector::isa_kernels! {
    name: "simd128",
    simd: Simd128,
    features: "simd128",
    pointwise: { mr: 2, nv: 4, nv1: 4, l1_kc: 0, tails: [1] },
}
