//! `cargo run --release -p quickstart [weights.safetensors]`
//!
//! The one line below compiles `specs/v1_alpha075.toml` (MobileNet v1, alpha 0.75, 224x224) into
//! the module `v1_alpha075`: constants, the cost report, `Model` and a fixed-size `forward`.

mobilenet_macros::mobilenet!(spec = "v1_alpha075.toml");

use std::time::Instant;

fn main() {
    // The cost report computed at compile time.
    println!("{}", v1_alpha075::REPORT);
    println!(
        "compile-time constants: input {:?}, {} classes, {} Mult-Adds, {} weights, {} bytes of scratch",
        v1_alpha075::INPUT_SHAPE,
        v1_alpha075::CLASSES,
        v1_alpha075::MULT_ADDS,
        v1_alpha075::PARAMS,
        v1_alpha075::ARENA_BYTES
    );

    // Weights: a safetensors file from the command line, or the demo's random weights.
    let (bytes, what) = match std::env::args().nth(1) {
        Some(path) => match std::fs::read(&path) {
            Ok(b) => (b, path),
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                std::process::exit(1);
            }
        },
        #[cfg(feature = "demo-weights")]
        None => (
            include_bytes!(concat!(env!("OUT_DIR"), "/demo_weights.safetensors")).to_vec(),
            "random demo weights (the scores are meaningless)".to_string(),
        ),
        #[cfg(not(feature = "demo-weights"))]
        None => {
            eprintln!("usage: quickstart <weights.safetensors> (built without the demo weights)");
            std::process::exit(2);
        }
    };
    let model = match v1_alpha075::Model::from_safetensors(&bytes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };

    // A synthetic input: a smooth gradient image, NHWC f32 in [-1, 1].
    let [h, w, c] = v1_alpha075::INPUT_SHAPE;
    let mut input = vec![0.0f32; v1_alpha075::INPUT_LEN];
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                input[(y * w + x) * c + ch] =
                    ((x + y + 40 * ch) as f32 / (w + h) as f32) * 2.0 - 1.0;
            }
        }
    }
    let input: &[f32; v1_alpha075::INPUT_LEN] = input.as_slice().try_into().unwrap();
    let mut scores = [0.0f32; v1_alpha075::OUTPUT_LEN];
    let mut scratch = v1_alpha075::Model::new_scratch();

    let t = Instant::now();
    model.forward(input, &mut scores, &mut scratch);
    let elapsed = t.elapsed();

    let mut top: Vec<usize> = (0..scores.len()).collect();
    top.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    println!(
        "\nforward pass with {what}: {:.2} ms",
        elapsed.as_secs_f64() * 1e3
    );
    for &i in &top[..5] {
        println!("  class {i:4}: {:.5}", scores[i]);
    }
}
