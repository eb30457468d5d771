//! MobileNet v1 0.25/128 compiled ahead of time into a WebAssembly module for a web page
//! (`www/index.html`). Built for `wasm32-unknown-unknown` with `simd128`, the runtime's kernels
//! are the simd128 ones; the page can also force the scalar twins to compare.
//!
//! The module's interface is a handful of C-ABI functions (no bindings generator): the page
//! calls [`init`] once, writes the NHWC input through the returned pointer into the module's
//! memory, calls [`run`] and reads [`output_ptr`]'s `OUTPUT_LEN` scores.

use std::sync::Mutex;

use mobilenet_runtime::kernels::{self, Isa};

mobilenet_macros::mobilenet!(
    spec = "../../specs/v1_alpha025_res128.toml",
    weights = "$OUT_DIR/net.safetensors",
    name = "net"
);

struct State {
    model: net::Model,
    scratch: Box<[f32; net::ARENA_LEN]>,
    input: Box<[f32; net::INPUT_LEN]>,
    output: Box<[f32; net::OUTPUT_LEN]>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let state = guard.get_or_insert_with(|| State {
        model: net::Model::embedded(),
        scratch: vec![0.0; net::ARENA_LEN]
            .into_boxed_slice()
            .try_into()
            .expect("arena length"),
        input: vec![0.0; net::INPUT_LEN]
            .into_boxed_slice()
            .try_into()
            .expect("input length"),
        output: Box::new([0.0; net::OUTPUT_LEN]),
    });
    f(state)
}

/// Packs the embedded weights (once) and returns the address of the input buffer
/// (`input_len()` f32 values, NHWC `[128][128][3]`, normalized to `(x - 127.5) / 127.5`).
#[no_mangle]
pub extern "C" fn init() -> *mut f32 {
    with_state(|s| s.input.as_mut_ptr())
}

/// Number of input values.
#[no_mangle]
pub extern "C" fn input_len() -> usize {
    net::INPUT_LEN
}

/// Number of output values (class probabilities).
#[no_mangle]
pub extern "C" fn output_len() -> usize {
    net::OUTPUT_LEN
}

/// The network's input height and width.
#[no_mangle]
pub extern "C" fn input_size() -> usize {
    net::INPUT_SHAPE[0]
}

/// Address of the output buffer.
#[no_mangle]
pub extern "C" fn output_ptr() -> *const f32 {
    with_state(|s| s.output.as_ptr())
}

/// Runs the network on the input buffer with the SIMD kernels (`simd != 0`) or the scalar
/// twins. Returns the number of kernel calls that ran on the chosen instruction set (the page
/// checks that the SIMD path really ran), or -1 if that instruction set is not available.
#[no_mangle]
pub extern "C" fn run(simd: i32) -> i32 {
    let isa = if simd != 0 {
        kernels::best_isa()
    } else {
        Isa::Scalar
    };
    if (simd != 0 && isa == Isa::Scalar) || kernels::force_isa(isa).is_err() {
        return -1;
    }
    let before = kernels::calls(isa);
    with_state(|s| s.model.forward(&s.input, &mut s.output, &mut s.scratch));
    (kernels::calls(isa) - before) as i32
}

/// Name code of the best instruction set of this build: 1 when it is `simd128`.
#[no_mangle]
pub extern "C" fn simd128() -> i32 {
    i32::from(kernels::best_isa() == Isa::Simd128)
}
