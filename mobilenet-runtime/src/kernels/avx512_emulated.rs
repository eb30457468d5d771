//! The [`avx512`](super::avx512) kernels, instantiated on pairs of AVX2 registers (16 lanes,
//! the same tiles, blocking and tails): tests run the AVX-512 kernels' algorithm on CPUs
//! without AVX-512 through this module. Only with the `emulate-avx512` feature; slower than
//! [`avx2`](super::avx2), never selected by [`best_isa`](super::best_isa).

use super::simd::Avx2Pair;

super::avx512::avx512_kernels!("AVX-512 emulated on AVX2", Avx2Pair, "avx2,fma");
