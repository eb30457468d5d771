//! Classify images with MobileNet v1 1.0 224 (TF-slim ImageNet release, 1001 classes).
//!
//! ```text
//! scripts/fetch_real_model.sh          # once: models/mobilenet_v1_1.0_224.safetensors
//! cargo run --release -p classify -- examples/classify/images/cat.jpg
//! cargo run --release -p classify -- input.npy --logits-out logits.npy
//! ```
//!
//! Inputs: JPEG or PNG files, or `.npy` float32 tensors of shape [224, 224, 3] or
//! [1, 224, 224, 3] (NHWC, already normalized to [-1, 1]) for comparing numerics with another
//! engine. Images are converted to RGB, cropped to their central square, resized to 224x224
//! with a bilinear (triangle) filter whose support widens with the shrink factor, so
//! downscaling is antialiased (as Pillow's `resize(..., BILINEAR)`), then normalized as the
//! TF-slim release expects: (x - 127.5) / 127.5.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use npyz::WriterBuilder;

// Weights are loaded at run time (`--weights`), so this builds without them.
mobilenet_macros::mobilenet!(spec = "../../specs/v1_tfslim_1001.toml", name = "mobilenet");

const LABELS: &str = include_str!("../imagenet_labels.txt");

struct Args {
    weights: PathBuf,
    inputs: Vec<PathBuf>,
    logits_out: Option<PathBuf>,
    top: usize,
}

fn usage() -> String {
    "usage: classify [--weights models/mobilenet_v1_1.0_224.safetensors] [--top 5] [--logits-out out.npy] <image.jpg|image.png|tensor.npy>...".into()
}

fn parse_args() -> Result<Args, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut a = Args {
        weights: root.join("models/mobilenet_v1_1.0_224.safetensors"),
        inputs: vec![],
        logits_out: None,
        top: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--weights" => a.weights = it.next().ok_or_else(usage)?.into(),
            "--logits-out" => a.logits_out = Some(it.next().ok_or_else(usage)?.into()),
            "--top" => a.top = it.next().ok_or_else(usage)?.parse().map_err(|_| usage())?,
            "-h" | "--help" => return Err(usage()),
            _ => a.inputs.push(arg.into()),
        }
    }
    if a.inputs.is_empty() {
        return Err(usage());
    }
    Ok(a)
}

fn label(index: usize) -> &'static str {
    if index < mobilenet::LABELS_OFFSET {
        return "background";
    }
    LABELS
        .lines()
        .nth(index - mobilenet::LABELS_OFFSET)
        .unwrap_or("?")
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let bytes = match std::fs::read(&args.weights) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error: cannot read weights {}: {e}\nrun scripts/fetch_real_model.sh first",
                args.weights.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let model = match mobilenet::Model::from_safetensors(&bytes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {}: {e}", args.weights.display());
            return ExitCode::FAILURE;
        }
    };
    let mut scratch = mobilenet::Model::new_scratch();
    let mut all_logits = Vec::new();
    for path in &args.inputs {
        let input = match classify::load(path, mobilenet::INPUT_SHAPE) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let input = match mobilenet::input_array(&input) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        let mut logits = [0.0f32; mobilenet::OUTPUT_LEN];
        model.forward_logits(input, &mut logits, &mut scratch);
        // Probabilities for display.
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        println!("{}:", path.display());
        for &i in order.iter().take(args.top) {
            println!(
                "  {:6.2}%  {:4}  {}",
                100.0 * (logits[i] - max).exp() / sum,
                i,
                label(i)
            );
        }
        all_logits.extend_from_slice(&logits);
    }
    if let Some(out) = &args.logits_out {
        let shape = [args.inputs.len() as u64, mobilenet::OUTPUT_LEN as u64];
        let write = || -> std::io::Result<()> {
            let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
            let mut w = npyz::WriteOptions::<f32>::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut file)
                .begin_nd()?;
            w.extend(all_logits.iter().copied())?;
            w.finish()
        };
        if let Err(e) = write() {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote logits {:?} to {}", shape, out.display());
    }
    ExitCode::SUCCESS
}
