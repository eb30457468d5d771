//! A network compiled for a target without an allocator (`thumbv7em-none-eabihf` in CI): the
//! caller owns every buffer; [`tiny::load_into`] packs a weights file into the parameter buffer
//! and [`tiny::forward`] runs the straight-line code over it. No `std`, no `alloc`.

#![no_std]

mobilenet_macros::mobilenet!(
    spec = "../../mobilenet-tests/tests/ui/tiny.toml",
    name = "tiny"
);

/// Everything a forward pass needs, in one statically allocatable block.
pub struct Buffers {
    pub params: [f32; tiny::PACKED_LEN],
    pub scratch: [f32; tiny::ARENA_LEN],
}

impl Buffers {
    /// Zeroed buffers (a `static` can hold them).
    pub const fn new() -> Self {
        Buffers {
            params: [0.0; tiny::PACKED_LEN],
            scratch: [0.0; tiny::ARENA_LEN],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Packs `weights` (a safetensors file) and classifies `input`; returns the best class.
pub fn classify(
    buffers: &mut Buffers,
    weights: &[u8],
    input: &[f32; tiny::INPUT_LEN],
    scores: &mut [f32; tiny::OUTPUT_LEN],
) -> Result<usize, mobilenet_runtime::load::LoadError> {
    tiny::load_into(weights, &mut buffers.params)?;
    tiny::forward(&buffers.params, input, scores, &mut buffers.scratch);
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
        }
    }
    Ok(best)
}
