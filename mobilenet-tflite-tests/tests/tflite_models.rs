//! The released quantized TFLite MobileNets (`../shared/data/tflite/`), imported by build.rs
//! with `mobilenet import tflite`'s library function and compiled with the macro, against
//! LiteRT on the same input bytes: its reference kernels (`OpResolverType.BUILTIN_REF`) must
//! give exactly our outputs (0 quantized units of difference), and its default path (XNNPACK)
//! is reported beside. Also top-1/top-5 on the labelled ImageNet validation images. MLTK's
//! visual wake words model (`models/`, from `scripts/fetch_real_model.sh`: no `../shared`
//! needed) the same way, on the repository's photos and random inputs. The dequantized imports
//! (`--dequantize`: the same models as float networks) against ONNX Runtime running the same
//! networks and weights (`scripts/onnx_reference.py`).
//!
//! LiteRT runs in a child process (`scripts/tflite_reference.py`, Python with `ai-edge-litert`:
//! `.ci/run` installs it). Without `../shared` the tests are skipped (build.rs says so); with it,
//! a missing Python package is a failure when `MOBILENET_REQUIRE_TFLITE` is set (CI) and a skip
//! otherwise. `MOBILENET_TFLITE_IMAGES` limits the images (default: all 300).

use std::path::Path;
use std::process::Command;

use npyz::WriterBuilder;

use mobilenet_tflite_tests::tiny_int8;

/// A Python interpreter that can import `modules`, or `None` (a skip, or a failure with
/// `MOBILENET_REQUIRE_TFLITE` set) with what to install.
fn python_with(modules: &str) -> Option<String> {
    let py = std::env::var("MOBILENET_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    let msg = format!("`{py}` cannot import {modules} (pip install -r bench/requirements.txt, or set MOBILENET_PYTHON)");
    if std::env::var_os("MOBILENET_REQUIRE_TFLITE").is_some() {
        panic!("{msg}, and MOBILENET_REQUIRE_TFLITE is set");
    }
    eprintln!("skipped: {msg}");
    None
}

fn python() -> Option<String> {
    python_with("ai_edge_litert, numpy")
}

/// Python with ONNX Runtime and what `scripts/onnx_reference.py` needs.
fn python_ort() -> Option<String> {
    python_with("onnx, onnxruntime, safetensors, numpy")
}

/// `inputs` (N x side x side x 3) as a `.npy` file.
fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, inputs: &[Vec<T>], side: usize) {
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(&[inputs.len() as u64, side as u64, side as u64, 3])
        .writer(std::fs::File::create(path).unwrap())
        .begin_nd()
        .unwrap();
    w.extend(inputs.iter().flatten().copied()).unwrap();
    w.finish().unwrap();
}

fn read_npy<T: npyz::Deserialize>(path: &Path) -> Vec<T> {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    npy.into_vec::<T>().expect("outputs of the element type")
}

fn scratch_dir() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tflite");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// LiteRT's outputs on `inputs` (N x side x side x 3 quantized values), `reference`: its
/// reference kernels.
fn litert<T: npyz::AutoSerialize + npyz::Deserialize + Copy>(
    py: &str,
    models: &str,
    inputs: &[Vec<T>],
    side: usize,
    tag: &str,
    reference: bool,
) -> Vec<T> {
    let dir = scratch_dir();
    let (inp, out) = (
        dir.join(format!("{tag}_in.npy")),
        dir.join(format!("{tag}_{reference}_out.npy")),
    );
    write_npy(&inp, inputs, side);
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
    read_npy(&out)
}

/// ONNX Runtime's outputs for a float network of ours (`<OUT_DIR>/<name>.json` and
/// `.safetensors`, written by build.rs) on `inputs` (N x side x side x 3).
fn onnx_runtime(py: &str, name: &str, inputs: &[Vec<f32>], side: usize) -> Vec<f32> {
    let dir = scratch_dir();
    let (inp, out) = (
        dir.join(format!("{name}_ort_in.npy")),
        dir.join(format!("{name}_ort_out.npy")),
    );
    write_npy(&inp, inputs, side);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/onnx_reference.py");
    let net = Path::new(env!("OUT_DIR")).join(name);
    let st = Command::new(py)
        .arg(script)
        .arg(net.with_extension("json"))
        .arg(net.with_extension("safetensors"))
        .arg(&inp)
        .arg(&out)
        .status()
        .expect("run python");
    assert!(st.success(), "{script} failed");
    read_npy(&out)
}

/// Deterministic pseudo-random bytes (xorshift64 on the state `s`).
fn random_bytes(n: usize, s: &mut u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *s ^= *s << 13;
            *s ^= *s >> 7;
            *s ^= *s << 17;
            (*s >> 56) as u8
        })
        .collect()
}

/// A photo as `side` x `side` RGB bytes: decoded, resized (bilinear). These bytes go to every
/// engine.
fn pixels(path: &Path, side: u32) -> Vec<u8> {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    img.resize_exact(side, side, image::imageops::FilterType::Triangle)
        .to_rgb8()
        .into_raw()
}

/// The index of the largest value (the first of equals).
fn argmax<T: PartialOrd + Copy>(y: &[T]) -> usize {
    (0..y.len()).fold(0, |b, i| if y[i] > y[b] { i } else { b })
}

/// Our float network against ONNX Runtime on `inputs`: the largest |difference| of any output.
fn float_against_ort(py: &str, name: &str, ours: &[f32], inputs: &[Vec<f32>], side: usize) -> f32 {
    let theirs = onnx_runtime(py, name, inputs, side);
    assert_eq!(theirs.len(), ours.len(), "{name}: output count");
    let c = ours.len() / inputs.len();
    let mut max = 0f32;
    for (i, (o, t)) in ours.chunks(c).zip(theirs.chunks(c)).enumerate() {
        let d = o
            .iter()
            .zip(t)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d.is_finite(), "{name}: input {i}: non-finite output");
        max = max.max(d);
        let (a, b) = (argmax(o), argmax(t));
        assert!(
            a == b || (t[a] - t[b]).abs() <= 1e-5,
            "{name}: input {i}: our top-1 {a}, ONNX Runtime's {b}"
        );
    }
    max
}

/// The repository's tiny int8 model (every op kind the importer knows: QUANTIZE, CONV_2D,
/// DEPTHWISE_CONV_2D, ADD, MEAN, FULLY_CONNECTED, SOFTMAX) on 64 deterministic random inputs:
/// equal to LiteRT's reference kernels. Needs nothing beside the repo (and LiteRT).
#[test]
fn tiny_int8_equals_litert() {
    let Some(py) = python() else { return };
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let inputs: Vec<Vec<u8>> = (0..64)
        .map(|_| random_bytes(tiny_int8::INPUT_LEN, &mut s))
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
    let pools = [1, 2, 3].map(mobilenet_runtime::threads::Pool::new);
    for (i, x) in inputs.iter().enumerate() {
        let mut y = [0u8; tiny_int8::OUTPUT_LEN];
        model.forward(tiny_int8::input_array(x).unwrap(), &mut y, &mut scratch);
        assert_eq!(&y[..], &reference[i * 10..(i + 1) * 10], "input {i}");
        for pool in &pools {
            let mut par = [0u8; tiny_int8::OUTPUT_LEN];
            model.forward_parallel(
                pool,
                tiny_int8::input_array(x).unwrap(),
                &mut par,
                &mut scratch,
            );
            assert_eq!(
                par,
                y,
                "input {i}: forward_parallel on {} threads",
                pool.threads()
            );
        }
    }
}

#[cfg(tflite_models)]
mod models {
    use std::path::PathBuf;

    use super::{litert, pixels, python};

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
                    // The threaded forward on pools of 2 and 3 threads (more than a 2-core
                    // machine has): bit-identical on the first images.
                    for threads in [2, 3] {
                        let pool = mobilenet_runtime::threads::Pool::new(threads);
                        for (i, x) in inputs.iter().take(4).enumerate() {
                            let mut y = [0u8; $m::OUTPUT_LEN];
                            model.forward_parallel(&pool, $m::input_array(x).unwrap(), &mut y, &mut scratch);
                            assert_eq!(&y[..], &ours[i * $m::OUTPUT_LEN..(i + 1) * $m::OUTPUT_LEN], "{tag} image {i}: forward_parallel on {threads} threads differs from forward");
                        }
                    }
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

    /// v1 0.25/128 imported with `--dequantize`, as a float network, against ONNX Runtime
    /// running the same network and weights on the validation images (their dequantized input:
    /// x = (pixel - 128) / 128, the file's input quantization); top-1 against the labels and
    /// agreement with the int8 network reported.
    #[test]
    fn v1_025_128_dequantized_equals_onnxruntime() {
        use mobilenet_tflite_tests::float_models::f_v1_025_128 as f;
        let Some(py) = super::python_ort() else {
            return;
        };
        let imgs = images();
        let q: Vec<Vec<u8>> = imgs.iter().map(|(p, _)| pixels(p, 128)).collect();
        let inputs: Vec<Vec<f32>> = q
            .iter()
            .map(|x| x.iter().map(|&v| (f32::from(v) - 128.0) / 128.0).collect())
            .collect();
        let (fm, qm) = (f::Model::embedded(), q_v1_025_128::Model::embedded());
        let (mut fs, mut qs) = (f::Model::new_scratch(), q_v1_025_128::Model::new_scratch());
        let (mut ours, mut agree, mut top1) = (Vec::new(), 0, 0);
        for ((x, xq), (_, label)) in inputs.iter().zip(&q).zip(&imgs) {
            let mut y = [0f32; f::OUTPUT_LEN];
            fm.forward(f::input_array(x).unwrap(), &mut y, &mut fs);
            let mut yq = [0u8; q_v1_025_128::OUTPUT_LEN];
            qm.forward(q_v1_025_128::input_array(xq).unwrap(), &mut yq, &mut qs);
            agree += usize::from(super::argmax(&y) == top_k(&yq, 1)[0]);
            top1 += usize::from(super::argmax(&y) == *label);
            ours.extend_from_slice(&y);
        }
        let n = inputs.len();
        let max = super::float_against_ort(&py, "f_v1_025_128", &ours, &inputs, 128);
        eprintln!(
            "f_v1_025_128: {n} images, against ONNX Runtime max |diff| {max:.2e}; top-1 {top1}/{n}; top-1 agreement with the int8 network {agree}/{n}"
        );
        assert!(
            max <= 1e-4,
            "f_v1_025_128: max |diff| {max} from ONNX Runtime"
        );
    }
}

/// The repository's photos (`examples/classify/images`) as `side` x `side` RGB bytes.
#[cfg(vww_model)]
fn photos(side: u32) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/classify/images");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, pixels(p, side))
        })
        .collect()
}

/// MLTK's visual wake words model (int8 MobileNet v1 0.25/96, a float input quantized by its
/// first operator, a float output made by its last): needs `scripts/fetch_real_model.sh`, not
/// `../shared`.
#[cfg(vww_model)]
mod vww {
    use super::*;
    use mobilenet_tflite_tests::vww::{f_vww, q_vww};

    /// The photos and 60 random images, as the int8 values the model's `QUANTIZE` makes of
    /// their pixel values (scale 1, zero point -128, as the imported spec's comment says).
    fn inputs() -> (Vec<String>, Vec<Vec<i8>>) {
        let (mut names, mut inputs): (Vec<String>, Vec<Vec<i8>>) = photos(96)
            .into_iter()
            .map(|(n, p)| (n, p.iter().map(|&b| (b ^ 0x80) as i8).collect()))
            .unzip();
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..60 {
            names.push(format!("random {i}"));
            let b = random_bytes(q_vww::INPUT_LEN, &mut s);
            inputs.push(b.iter().map(|&b| b as i8).collect());
        }
        (names, inputs)
    }

    /// Ours equal LiteRT's reference kernels exactly; its default path (XNNPACK) reported.
    #[test]
    fn vww_int8_equals_litert() {
        let Some(py) = python() else { return };
        let (names, inputs) = inputs();
        let reference = litert(&py, env!("TFLITE_VWW"), &inputs, 96, "vww", true);
        let default = litert(&py, env!("TFLITE_VWW"), &inputs, 96, "vww", false);
        let model = q_vww::Model::embedded();
        let mut scratch = q_vww::Model::new_scratch();
        let c = q_vww::OUTPUT_LEN;
        let (mut max_def, mut agree_def) = (0, 0);
        let pools = [2, 3].map(mobilenet_runtime::threads::Pool::new);
        for (i, x) in inputs.iter().enumerate() {
            let mut y = [0i8; q_vww::OUTPUT_LEN];
            model.forward(q_vww::input_array(x).unwrap(), &mut y, &mut scratch);
            assert_eq!(
                &y[..],
                &reference[i * c..(i + 1) * c],
                "{}: ours differ from LiteRT's reference kernels",
                names[i]
            );
            // The threaded forward (more threads than a 2-core machine has too): the same bits.
            for pool in &pools {
                let mut par = [0i8; q_vww::OUTPUT_LEN];
                model.forward_parallel(
                    pool,
                    q_vww::input_array(x).unwrap(),
                    &mut par,
                    &mut scratch,
                );
                assert_eq!(
                    par,
                    y,
                    "{}: forward_parallel on {} threads",
                    names[i],
                    pool.threads()
                );
            }
            let d = &default[i * c..(i + 1) * c];
            max_def = y
                .iter()
                .zip(d)
                .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
                .fold(max_def, i32::max);
            agree_def += usize::from(argmax(&y) == argmax(d));
            if !names[i].starts_with("random") {
                // The softmax output's quantization: scale 1/256, zero point -128.
                eprintln!(
                    "vww: {}: person {:.3}",
                    names[i],
                    (f32::from(y[0]) + 128.0) / 256.0
                );
            }
        }
        eprintln!(
            "vww: {} inputs equal LiteRT's reference kernels; against its default path max |diff| {max_def}, top-1 agreement {agree_def}/{}",
            inputs.len(),
            inputs.len()
        );
    }

    /// The dequantized import (`--dequantize`) as a float network, against ONNX Runtime running
    /// the same network and weights; top-1 agreement with the int8 network reported.
    #[test]
    fn vww_dequantized_equals_onnxruntime() {
        let Some(py) = python_ort() else { return };
        let (_, q) = inputs();
        // The float input the file's QUANTIZE reads: x = q + 128.
        let inputs: Vec<Vec<f32>> = q
            .iter()
            .map(|x| x.iter().map(|&v| f32::from(v) + 128.0).collect())
            .collect();
        let (fm, qm) = (f_vww::Model::embedded(), q_vww::Model::embedded());
        let (mut fs, mut qs) = (f_vww::Model::new_scratch(), q_vww::Model::new_scratch());
        let (mut ours, mut agree) = (Vec::new(), 0);
        for (x, xq) in inputs.iter().zip(&q) {
            let mut y = [0f32; f_vww::OUTPUT_LEN];
            fm.forward(f_vww::input_array(x).unwrap(), &mut y, &mut fs);
            let mut yq = [0i8; q_vww::OUTPUT_LEN];
            qm.forward(q_vww::input_array(xq).unwrap(), &mut yq, &mut qs);
            agree += usize::from(argmax(&y) == argmax(&yq));
            ours.extend_from_slice(&y);
        }
        let max = float_against_ort(&py, "f_vww", &ours, &inputs, 96);
        eprintln!(
            "f_vww: {} inputs, against ONNX Runtime max |diff| {max:.2e}; top-1 agreement with the int8 network {agree}/{}",
            inputs.len(),
            inputs.len()
        );
        assert!(max <= 1e-4, "f_vww: max |diff| {max} from ONNX Runtime");
    }
}

#[cfg(not(vww_model))]
#[test]
fn vww_model_skipped() {
    eprintln!(
        "skipped: models/visual_wake_words.tflite is not here (run scripts/fetch_real_model.sh)"
    );
}

#[cfg(not(tflite_models))]
#[test]
fn tflite_models_skipped() {
    eprintln!("skipped: ../shared/data/tflite is not here (build.rs said why)");
}
