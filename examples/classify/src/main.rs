//! Classify images with a MobileNet compiled ahead of time: by default MobileNet v1 1.0 224
//! (TF-slim ImageNet release, 1001 classes, weights read at run time); built with
//! `CLASSIFY_TFLITE=model.tflite`, any TFLite MobileNet the importer reads (weights embedded).
//!
//! ```text
//! scripts/fetch_real_model.sh          # once: models/mobilenet_v1_1.0_224.safetensors
//! cargo run --release -p classify -- examples/classify/images/cat.jpg
//! cargo run --release -p classify -- input.npy --logits-out logits.npy
//! cargo run --release -p classify -- --val ../shared/data/imagenet-val
//! CLASSIFY_TFLITE=$PWD/model.tflite cargo run --release -p classify -- --val DIR
//! ```
//!
//! Inputs: JPEG or PNG files, or (float networks) `.npy` float32 tensors of shape [224, 224, 3]
//! or [1, 224, 224, 3] (NHWC, already normalized to [-1, 1]) for comparing numerics with another
//! engine. Images are converted to RGB, cropped to their central square, resized to the
//! network's input with a bilinear (triangle) filter whose support widens with the shrink
//! factor, so downscaling is antialiased (as Pillow's `resize(..., BILINEAR)`). A float network
//! gets them normalized as the TF-slim release expects, (x - 127.5) / 127.5; a quantized one
//! gets the bytes themselves (`u8` input) or the bytes - 128 (`i8`): the released quantized
//! classifiers' input quantization maps those to their own normalization (v1 `u8`:
//! (q - 128) / 128; the TF2 v2 PTQ's: (q - 127) / 127.5; MLTK's visual wake words: q + 128).
//!
//! `--val DIR`: top-1 and top-5 over a labelled folder (`DIR/labels.txt`, a `<file> <class
//! index>` line per image, files in `DIR/images/` or `DIR/`), e.g. `../shared/data/imagenet-val`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use npyz::WriterBuilder;

// Weights are loaded at run time (`--weights`), so this builds without them.
#[cfg(not(imported_model))]
mobilenet_macros::mobilenet!(spec = "../../specs/v1_tfslim_1001.toml", name = "mobilenet");
#[cfg(imported_model)]
mobilenet_macros::mobilenet!(
    spec = "$OUT_DIR/imported.toml",
    weights = "$OUT_DIR/imported.safetensors",
    name = "mobilenet"
);

const LABELS: &str = include_str!("../imagenet_labels.txt");

/// The network's input and output element type: how pixels become its input, how its outputs
/// rank and read as probabilities.
#[cfg_attr(not(imported_model), allow(dead_code))]
trait Elem: Copy + Default {
    /// An input tensor from RGB bytes.
    fn from_pixels(pixels: &[u8]) -> Vec<Self>;
    /// An output as a score (order-preserving).
    fn score(self) -> f32;
    /// A softmax output as a probability (TFLite's quantized softmax outputs have scale 1/256,
    /// zero point 0 for `u8` and -128 for `i8`).
    fn probability(self) -> f32;
    /// A normalized float tensor as its input (float networks only).
    fn from_normalized(x: Vec<f32>) -> Option<Vec<Self>>;
    /// Whether images reach it normalized (float networks).
    const FLOAT: bool;
}

impl Elem for f32 {
    fn from_pixels(pixels: &[u8]) -> Vec<f32> {
        classify::normalize(pixels)
    }
    fn score(self) -> f32 {
        self
    }
    fn probability(self) -> f32 {
        self
    }
    fn from_normalized(x: Vec<f32>) -> Option<Vec<f32>> {
        Some(x)
    }
    const FLOAT: bool = true;
}

impl Elem for u8 {
    fn from_pixels(pixels: &[u8]) -> Vec<u8> {
        pixels.to_vec()
    }
    fn score(self) -> f32 {
        f32::from(self)
    }
    fn probability(self) -> f32 {
        f32::from(self) / 256.0
    }
    fn from_normalized(_: Vec<f32>) -> Option<Vec<u8>> {
        None
    }
    const FLOAT: bool = false;
}

impl Elem for i8 {
    fn from_pixels(pixels: &[u8]) -> Vec<i8> {
        pixels.iter().map(|&p| (p ^ 0x80) as i8).collect()
    }
    fn score(self) -> f32 {
        f32::from(self)
    }
    fn probability(self) -> f32 {
        (f32::from(self) + 128.0) / 256.0
    }
    fn from_normalized(_: Vec<f32>) -> Option<Vec<i8>> {
        None
    }
    const FLOAT: bool = false;
}

type Io = mobilenet::IoElem;

struct Args {
    weights: PathBuf,
    inputs: Vec<PathBuf>,
    val: Option<PathBuf>,
    logits_out: Option<PathBuf>,
    labels: Option<Vec<String>>,
    top: usize,
}

fn usage() -> String {
    "usage: classify [--weights models/mobilenet_v1_1.0_224.safetensors] [--top 5] [--labels FILE] [--logits-out out.npy] <image.jpg|image.png|tensor.npy>...\n       classify [--weights ...] --val DIR   (DIR/labels.txt: `<file> <class index>` lines)".into()
}

fn parse_args() -> Result<Args, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut a = Args {
        weights: root.join("models/mobilenet_v1_1.0_224.safetensors"),
        inputs: vec![],
        val: None,
        logits_out: None,
        labels: None,
        top: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--weights" => a.weights = it.next().ok_or_else(usage)?.into(),
            "--logits-out" => a.logits_out = Some(it.next().ok_or_else(usage)?.into()),
            "--val" => a.val = Some(it.next().ok_or_else(usage)?.into()),
            "--labels" => {
                let f = it.next().ok_or_else(usage)?;
                let text = std::fs::read_to_string(&f)
                    .map_err(|e| format!("--labels {f}: cannot read it: {e}"))?;
                a.labels = Some(text.lines().map(str::to_string).collect());
            }
            "--top" => a.top = it.next().ok_or_else(usage)?.parse().map_err(|_| usage())?,
            "-h" | "--help" => return Err(usage()),
            _ => a.inputs.push(arg.into()),
        }
    }
    if a.inputs.is_empty() == a.val.is_none() {
        return Err(usage());
    }
    Ok(a)
}

/// Class `index`'s name: line `index` of `--labels` (one name per output), else ImageNet's for
/// a 1000- or 1001-class network, else `class <index>`.
fn label(labels: Option<&[String]>, index: usize) -> String {
    if let Some(l) = labels {
        return l
            .get(index)
            .cloned()
            .unwrap_or_else(|| format!("class {index}"));
    }
    if mobilenet::CLASSES != 1000 && mobilenet::CLASSES != 1001 {
        return format!("class {index}");
    }
    if index < mobilenet::LABELS_OFFSET {
        return "background".into();
    }
    LABELS
        .lines()
        .nth(index - mobilenet::LABELS_OFFSET)
        .unwrap_or("?")
        .into()
}

/// The network with its weights: embedded (an imported model) or read from `--weights`.
fn load_model(weights: &Path) -> Result<mobilenet::Model, String> {
    #[cfg(imported_model)]
    {
        let _ = weights;
        Ok(mobilenet::Model::embedded())
    }
    #[cfg(not(imported_model))]
    {
        let bytes = std::fs::read(weights).map_err(|e| {
            format!(
                "cannot read weights {}: {e}\nrun scripts/fetch_real_model.sh first",
                weights.display()
            )
        })?;
        mobilenet::Model::from_safetensors(&bytes)
            .map_err(|e| format!("{}: {e}", weights.display()))
    }
}

/// The network's input from a file: an image, or (float networks) a `.npy` tensor.
fn input(path: &Path) -> Result<Vec<Io>, String> {
    let is_npy = path.extension().is_some_and(|e| e == "npy");
    if is_npy || Io::FLOAT {
        // `load` reads .npy tensors as they are and images normalized.
        let x = classify::load(path, mobilenet::INPUT_SHAPE).map_err(|e| e.to_string())?;
        return Io::from_normalized(x).ok_or_else(|| {
            format!(
                "{}: this network is quantized and takes images; .npy tensors are for float networks",
                path.display()
            )
        });
    }
    let p = classify::load_pixels(path, mobilenet::INPUT_SHAPE).map_err(|e| e.to_string())?;
    Ok(Io::from_pixels(&p))
}

/// One forward pass's outputs: the probabilities shown, and the values `--logits-out` writes
/// (the logits of the built-in float network, the outputs of an imported one).
struct Outputs {
    probabilities: Vec<f32>,
    raw: Vec<f32>,
}

/// The forward pass, with its scratch arena.
fn runner(model: &mobilenet::Model) -> impl FnMut(&[Io]) -> Result<Outputs, String> + '_ {
    let mut scratch = mobilenet::Model::new_scratch();
    move |x| {
        let x = mobilenet::input_array(x).map_err(|e| e.to_string())?;
        let mut y = [Io::default(); mobilenet::OUTPUT_LEN];
        #[cfg(not(imported_model))]
        {
            model.forward_logits(x, &mut y, &mut scratch);
            let max = y.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let sum: f32 = y.iter().map(|&v| (v - max).exp()).sum();
            Ok(Outputs {
                probabilities: y.iter().map(|&v| (v - max).exp() / sum).collect(),
                raw: y.to_vec(),
            })
        }
        #[cfg(imported_model)]
        {
            model.forward(x, &mut y, &mut scratch);
            Ok(Outputs {
                probabilities: y.iter().map(|&v| v.probability()).collect(),
                raw: y.iter().map(|&v| v.score()).collect(),
            })
        }
    }
}

fn classify_files(args: &Args, model: &mobilenet::Model) -> Result<(), String> {
    let mut run = runner(model);
    let mut all = Vec::new();
    for path in &args.inputs {
        let out = run(&input(path)?)?;
        let p = &out.probabilities;
        println!("{}:", path.display());
        for i in classify::top_k(p, args.top) {
            println!(
                "  {:6.2}%  {:4}  {}",
                100.0 * p[i],
                i,
                label(args.labels.as_deref(), i)
            );
        }
        all.extend_from_slice(&out.raw);
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
            w.extend(all.iter().copied())?;
            w.finish()
        };
        write().map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!("wrote logits {:?} to {}", shape, out.display());
    }
    Ok(())
}

fn validate(dir: &Path, model: &mobilenet::Model) -> Result<(), String> {
    let list = classify::read_val_dir(dir)?;
    let mut run = runner(model);
    let (mut top1, mut top5) = (0usize, 0usize);
    let t = std::time::Instant::now();
    for (path, label) in &list {
        if *label >= mobilenet::OUTPUT_LEN {
            return Err(format!(
                "{}: label {label} is not a class of this network ({} outputs)",
                path.display(),
                mobilenet::OUTPUT_LEN
            ));
        }
        let best = classify::top_k(&run(&input(path)?)?.probabilities, 5);
        top1 += usize::from(best[0] == *label);
        top5 += usize::from(best.contains(label));
    }
    let n = list.len();
    println!(
        "{} on {n} images of {}: top-1 {top1}/{n} ({:.1}%), top-5 {top5}/{n} ({:.1}%); {:.2} ms per image (decoding included)",
        mobilenet::NAME,
        dir.display(),
        100.0 * top1 as f64 / n as f64,
        100.0 * top5 as f64 / n as f64,
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let result = load_model(&args.weights).and_then(|model| match &args.val {
        Some(dir) => validate(dir, &model),
        None => classify_files(&args, &model),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
