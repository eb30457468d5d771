//! The released quantized TFLite MobileNets (`../shared/data/tflite/`), imported by build.rs
//! with `mobilenet import tflite`'s library function and compiled with the macro, against
//! LiteRT on the same input bytes: its reference kernels (`OpResolverType.BUILTIN_REF`) must
//! give exactly our outputs (0 quantized units of difference), and its default path (XNNPACK)
//! is reported beside. Also top-1/top-5 on the labelled ImageNet validation images.
//!
//! LiteRT runs in a child process (`scripts/tflite_reference.py`, Python with `ai-edge-litert`:
//! `.ci/run` installs it). Without `../shared` the tests are skipped (build.rs says so); with it,
//! a missing Python package is a failure when `MOBILENET_REQUIRE_TFLITE` is set (CI) and a skip
//! otherwise. `MOBILENET_TFLITE_IMAGES` limits the images (default: all 300).

use std::path::Path;
use std::process::Command;

use npyz::WriterBuilder;

use mobilenet_tflite_tests::tiny_int8;

fn python() -> Option<String> {
    let py = std::env::var("MOBILENET_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import ai_edge_litert, numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    let msg = format!("`{py}` cannot import ai_edge_litert and numpy (pip install -r bench/requirements.txt, or set MOBILENET_PYTHON)");
    if std::env::var_os("MOBILENET_REQUIRE_TFLITE").is_some() {
        panic!("{msg}, and MOBILENET_REQUIRE_TFLITE is set");
    }
    eprintln!("skipped: {msg}");
    None
}

/// LiteRT's outputs on `inputs` (N x side x side x 3), `reference`: its reference kernels.
fn litert(
    py: &str,
    models: &str,
    inputs: &[Vec<u8>],
    side: usize,
    tag: &str,
    reference: bool,
) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tflite");
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, out) = (
        dir.join(format!("{tag}_in.npy")),
        dir.join(format!("{tag}_{reference}_out.npy")),
    );
    let flat: Vec<u8> = inputs.iter().flatten().copied().collect();
    let mut w = npyz::WriteOptions::<u8>::new()
        .default_dtype()
        .shape(&[inputs.len() as u64, side as u64, side as u64, 3])
        .writer(std::fs::File::create(&inp).unwrap())
        .begin_nd()
        .unwrap();
    w.extend(flat.iter().copied()).unwrap();
    w.finish().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/tflite_reference.py"
    );
    let mut cmd = Command::new(py);
    cmd.arg(script).arg(&inp).arg(&out).args(models.split(':'));
    if !reference {
        cmd.arg("--default");
    }
    let st = cmd.status().expect("run python");
    assert!(st.success(), "{script} failed");
    let bytes = std::fs::read(&out).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    npy.into_vec::<u8>().expect("u8 outputs")
}

/// The repository's tiny int8 model (every op kind the importer knows: QUANTIZE, CONV_2D,
/// DEPTHWISE_CONV_2D, ADD, MEAN, FULLY_CONNECTED, SOFTMAX) on 64 deterministic random inputs:
/// equal to LiteRT's reference kernels. Needs nothing beside the repo (and LiteRT).
#[test]
fn tiny_int8_equals_litert() {
    let Some(py) = python() else { return };
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let inputs: Vec<Vec<u8>> = (0..64)
        .map(|_| {
            (0..tiny_int8::INPUT_LEN)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 56) as u8
                })
                .collect()
        })
        .collect();
    let reference = litert(
        &py,
        env!("TFLITE_TINY_INT8"),
        &inputs,
        16,
        "tiny_int8",
        true,
    );
    let model = tiny_int8::Model::embedded();
    let mut scratch = tiny_int8::Model::new_scratch();
    for (i, x) in inputs.iter().enumerate() {
        let mut y = [0u8; tiny_int8::OUTPUT_LEN];
        model.forward(tiny_int8::input_array(x).unwrap(), &mut y, &mut scratch);
        assert_eq!(&y[..], &reference[i * 10..(i + 1) * 10], "input {i}");
    }
}

#[cfg(tflite_models)]
mod models {
    use std::path::{Path, PathBuf};

    use super::{litert, python};

    use mobilenet_tflite_tests::models::*;

    /// The labelled images: `(file, label)`, at most `MOBILENET_TFLITE_IMAGES` of them.
    fn images() -> Vec<(PathBuf, usize)> {
        let dir = PathBuf::from(env!("IMAGENET_VAL"));
        let labels = std::fs::read_to_string(dir.join("labels.txt")).expect("labels.txt");
        let limit = std::env::var("MOBILENET_TFLITE_IMAGES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX);
        labels
            .lines()
            .filter_map(|l| {
                let (f, label) = l.split_once(' ')?;
                Some((dir.join("images").join(f), label.trim().parse().ok()?))
            })
            .take(limit)
            .collect()
    }

    /// An image as the model's `u8` input: decoded, resized to `side` (bilinear), RGB. These
    /// bytes go to both engines.
    fn pixels(path: &Path, side: u32) -> Vec<u8> {
        let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        img.resize_exact(side, side, image::imageops::FilterType::Triangle)
            .to_rgb8()
            .into_raw()
    }

    fn top_k(y: &[u8], k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..y.len()).collect();
        idx.sort_by(|&a, &b| y[b].cmp(&y[a]).then(a.cmp(&b)));
        idx.truncate(k);
        idx
    }

    macro_rules! against_litert {
        ($test:ident, $m:ident, $env:literal, $side:literal) => {
            #[test]
            fn $test() {
                let Some(py) = python() else { return };
                let imgs = images();
                let inputs: Vec<Vec<u8>> = imgs.iter().map(|(p, _)| pixels(p, $side)).collect();
                let models = env!($env);
                // LiteRT's reference run in a child process while we compute.
                let n = inputs.len();
                let tag = stringify!($m);
                let (ours, reference, default) = std::thread::scope(|s| {
                    let r = s.spawn(|| litert(&py, models, &inputs, $side, tag, true));
                    let d = s.spawn(|| litert(&py, models, &inputs, $side, tag, false));
                    let model = $m::Model::embedded();
                    let mut scratch = $m::Model::new_scratch();
                    let mut ours = Vec::with_capacity(n * $m::OUTPUT_LEN);
                    let t = std::time::Instant::now();
                    for x in &inputs {
                        let mut y = [0u8; $m::OUTPUT_LEN];
                        model.forward($m::input_array(x).unwrap(), &mut y, &mut scratch);
                        ours.extend_from_slice(&y);
                    }
                    eprintln!("{tag}: our forward {:.1} ms per image (test build, beside LiteRT)", t.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64);
                    (ours, r.join().unwrap(), d.join().unwrap())
                });
                let c = $m::OUTPUT_LEN;
                assert_eq!(reference.len(), n * c);
                let diff = |a: &[u8], b: &[u8]| a.iter().zip(b).map(|(&x, &y)| (x as i32 - y as i32).abs()).max().unwrap_or(0);
                let top1 = |y: &[u8], i: usize| top_k(&y[i * c..(i + 1) * c], 1)[0];
                let (mut agree_ref, mut agree_def, mut ours1, mut ours5, mut max_ref, mut max_def) = (0, 0, 0, 0, 0, 0);
                for (i, (_, label)) in imgs.iter().enumerate() {
                    let (o, r, d) = (&ours[i * c..(i + 1) * c], &reference[i * c..(i + 1) * c], &default[i * c..(i + 1) * c]);
                    max_ref = max_ref.max(diff(o, r));
                    max_def = max_def.max(diff(o, d));
                    agree_ref += usize::from(top1(&ours, i) == top1(&reference, i));
                    agree_def += usize::from(top1(&ours, i) == top1(&default, i));
                    let t5 = top_k(o, 5);
                    ours1 += usize::from(t5[0] == *label);
                    ours5 += usize::from(t5.contains(label));
                }
                eprintln!(
                    "{tag}: {n} images; against LiteRT reference kernels max |diff| {max_ref}, top-1 agreement {agree_ref}/{n}; against LiteRT default (XNNPACK) max |diff| {max_def}, top-1 agreement {agree_def}/{n}; ours top-1 {ours1}/{n} ({:.1}%), top-5 {ours5}/{n} ({:.1}%)",
                    100.0 * ours1 as f64 / n as f64,
                    100.0 * ours5 as f64 / n as f64
                );
                assert_eq!(max_ref, 0, "{tag}: our outputs differ from LiteRT's reference kernels");
                assert_eq!(agree_ref, n);
            }
        };
    }

    against_litert!(
        v1_025_128_equals_litert,
        q_v1_025_128,
        "TFLITE_Q_V1_025_128",
        128
    );
    against_litert!(
        v1_050_160_equals_litert,
        q_v1_050_160,
        "TFLITE_Q_V1_050_160",
        160
    );
    against_litert!(
        v1_075_192_equals_litert,
        q_v1_075_192,
        "TFLITE_Q_V1_075_192",
        192
    );
    against_litert!(
        v1_100_224_equals_litert,
        q_v1_100_224,
        "TFLITE_Q_V1_100_224",
        224
    );
    against_litert!(
        v2_100_224_equals_litert,
        q_v2_100_224,
        "TFLITE_Q_V2_100_224",
        224
    );
    against_litert!(
        v2_ptq_224_equals_litert,
        q_v2_ptq_224,
        "TFLITE_Q_V2_PTQ_224",
        224
    );
}

#[cfg(not(tflite_models))]
#[test]
fn tflite_models_skipped() {
    eprintln!("skipped: ../shared/data/tflite is not here (build.rs said why)");
}
