//! Weights files (safetensors): checking one against a network, and making deterministic random
//! weights for tests, fixtures and benchmarks.

use std::collections::HashMap;

/// The runtime's reader and checks, used for checking files (the `safetensors` crate writes them).
mod rt {
    pub use mobilenet_runtime::load::first_non_finite;
    pub use mobilenet_runtime::safetensors::{Dtype, SafeTensors, TensorView};
}
use safetensors::tensor::{Dtype, TensorView};

use crate::diag::{did_you_mean, Diagnostic, Diagnostics};
use crate::model::{Network, Role};
use crate::spec::Naming;

/// Tensors a weights file may hold that the network does not use and that are ignored
/// silently: PyTorch's BatchNorm step counter.
pub fn is_ignorable(naming: Naming, name: &str) -> bool {
    crate::naming::scheme(naming)
        .ignored_suffix()
        .is_some_and(|s| name.ends_with(s))
}

/// Check a safetensors file against the network: every tensor the spec needs is present, f32,
/// of the right shape; nothing unexpected is there. Every problem is collected; errors point at
/// the spec layer that needs the tensor and name the weights file.
pub fn check(net: &Network, weights_path: &str, bytes: &[u8]) -> Result<(), Diagnostics> {
    let mut diags = Diagnostics::new();
    let file = &net.spec_path;
    // The runtime's own reader: a file that passes here also loads at run time (an embedded
    // file is unpacked by `Model::embedded`, which must not fail).
    let st = match rt::SafeTensors::parse(bytes) {
        Ok(st) => st,
        Err(e) => {
            let place = match e.offset() {
                Some(o) => format!(" (file byte {})", o + 8),
                None => String::new(),
            };
            diags.push(
                Diagnostic::error(weights_path, 0..0, format!("`{weights_path}` is not a valid safetensors file: {e}{place}"))
                    .with_help("the file may be truncated or written by another tool; regenerate it, e.g. with `safetensors.torch.save_file(model.state_dict(), path)` or `mobilenet import`"),
            );
            return Err(diags);
        }
    };
    let present: HashMap<String, rt::TensorView<'_>> = st
        .tensors()
        .map(|t| (t.name_decoded().into_owned(), t))
        .collect();
    let mut present_names: Vec<&str> = present.keys().map(String::as_str).collect();
    present_names.sort();
    let mut expected_names: Vec<&str> = Vec::new();
    // One diagnostic per layer, listing all of that layer's problems.
    for layer in &net.layers {
        let mut missing: Vec<&str> = Vec::new();
        let mut wrong: Vec<String> = Vec::new();
        let mut corrupt: Vec<String> = Vec::new();
        for t in &layer.tensors {
            expected_names.push(&t.name);
            match present.get(&t.name) {
                None => missing.push(&t.name),
                // A quantized layer's dtypes and per-tensor or per-channel shapes are checked
                // by the runtime's loader below (the one place that defines them).
                Some(_) if layer.quantized => {}
                Some(view) if view.dtype != rt::Dtype::F32 => {
                    wrong.push(format!("`{}` is {}, expected F32 (convert the weights to float32, e.g. `model.float()`)", t.name, view.dtype));
                }
                Some(view) if view.shape.as_slice() != t.shape.as_slice() => {
                    let layout = t
                        .layout
                        .map_or(String::new(), |l| format!(" ({})", l.describe()));
                    wrong.push(format!(
                        "`{}` has shape {:?}, needs {:?}{layout}",
                        t.name,
                        view.shape.as_slice(),
                        t.shape
                    ));
                }
                Some(view) => {
                    if let Some((index, value)) = rt::first_non_finite(view.data) {
                        corrupt.push(format!(
                            "`{}` holds {value} at element {index} (index {:?})",
                            t.name,
                            unravel(index, &t.shape)
                        ));
                    }
                }
            }
        }
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let hint = match did_you_mean(missing[0], &present_names) {
                Some(n) => format!("the file has `{n}`; check the layer's `name` and the spec's `naming` ({})", net.naming.as_str()),
                None => format!("check the layer's `name` and the spec's `naming` ({}); `mobilenet report --format json` lists every tensor the spec needs", net.naming.as_str()),
            };
            diags.push(
                Diagnostic::error(
                    file,
                    layer.name_span.clone(),
                    format!(
                        "weights file `{weights_path}` lacks {} tensor{} of layer `{}`: {list}",
                        missing.len(),
                        if missing.len() == 1 { "" } else { "s" },
                        layer.name
                    ),
                )
                .with_label("this layer needs them")
                .with_help(hint),
            );
        }
        if !corrupt.is_empty() {
            diags.push(
                Diagnostic::error(file, layer.name_span.clone(), format!("weights file `{weights_path}` holds non-finite values for layer `{}`: {}", layer.name, corrupt.join("; ")))
                    .with_label("this layer's weights")
                    .with_help("the weights are corrupt or come from a diverged training run; re-export them from a good checkpoint"),
            );
        }
        if !wrong.is_empty() {
            diags.push(
                Diagnostic::error(file, layer.name_span.clone(), format!("weights file `{weights_path}` does not fit layer `{}`: {}", layer.name, wrong.join("; ")))
                    .with_label("shapes fixed by this layer")
                    .with_help("the spec and the weights disagree: check `channels`, `kernel`, `alpha` and the input size of this layer"),
            );
        }
    }
    let mut extra: Vec<&str> = present_names
        .iter()
        .copied()
        .filter(|n| !expected_names.contains(n) && !is_ignorable(net.naming, n))
        .collect();
    extra.sort();
    if !extra.is_empty() {
        let shown: Vec<String> = extra.iter().take(8).map(|n| format!("`{n}`")).collect();
        let more = if extra.len() > 8 {
            format!(" and {} more", extra.len() - 8)
        } else {
            String::new()
        };
        let hint = match did_you_mean(extra[0], &expected_names) {
            Some(n) => format!("the spec expects `{n}`; rename the tensor or the layer"),
            None => "remove them from the file, or add the layers they belong to to the spec"
                .to_string(),
        };
        diags.push(
            Diagnostic::error(
                weights_path,
                0..0,
                format!("weights file `{weights_path}` has {} tensor{} that no layer of the spec uses: {}{more}", extra.len(), if extra.len() == 1 { "" } else { "s" }, shown.join(", ")),
            )
            .with_label("unexpected tensors")
            .with_help(hint),
        );
    }
    if diags.has_errors() {
        return Err(diags);
    }
    // Finally the runtime's own loader on the generated code's table, so that a file passing
    // here loads at run time (`Model::embedded` unpacks the embedded file and must not fail):
    // it also folds batch norm, which fails on a variance that is not positive.
    let table = crate::codegen::load_table(net);
    let mut params = vec![0.0f32; table.packed_len];
    let ignored = crate::naming::scheme(net.naming).ignored_suffix();
    if let Err(e) = mobilenet_runtime::load::load(bytes, &table.entries, ignored, &mut params) {
        let layer = match e {
            mobilenet_runtime::load::LoadError::Pack { layer, .. }
            | mobilenet_runtime::load::LoadError::Quant { layer, .. }
            | mobilenet_runtime::load::LoadError::Shape { layer, .. } => {
                net.layers.iter().find(|l| l.name == layer)
            }
            _ => None,
        };
        let d = match layer {
            Some(l) => Diagnostic::error(
                file,
                l.name_span.clone(),
                format!(
                    "weights file `{weights_path}` cannot be loaded for layer `{}`: {e}",
                    l.name
                ),
            )
            .with_label("this layer's weights"),
            None => Diagnostic::error(
                weights_path,
                0..0,
                format!("weights file `{weights_path}` cannot be loaded: {e}"),
            ),
        };
        diags.push(d.with_help("the weights are corrupt or belong to another model; regenerate them from a good checkpoint"));
        return Err(diags);
    }
    Ok(())
}

const F32: Dtype = Dtype::F32;

/// A random tensor of a quantized layer: symmetric `i8` weights with per-channel scales, small
/// `i32` biases, every activation at scale 1/16 with zero point 0 (so pools, adds and softmax
/// have consistent quantization).
fn random_quantized(
    t: &crate::model::TensorBinding,
    rng: &mut crate::rng::SplitMix64,
) -> (String, Vec<usize>, Dtype, Vec<u8>) {
    let n = t.numel();
    let (dtype, data): (Dtype, Vec<u8>) = match t.role {
        Role::Weight => (
            Dtype::I8,
            (0..n)
                .map(|_| rng.uniform(-127.0, 127.0) as i8 as u8)
                .collect(),
        ),
        Role::Bias => (
            Dtype::I32,
            (0..n)
                .flat_map(|_| (rng.uniform(-2000.0, 2000.0) as i32).to_le_bytes())
                .collect(),
        ),
        Role::WeightScale => (
            Dtype::F32,
            (0..n)
                .flat_map(|_| rng.uniform(0.002, 0.004).to_le_bytes())
                .collect(),
        ),
        Role::WeightZeroPoint | Role::ZeroPoint => (Dtype::I8, vec![0; n]),
        Role::Scale => (
            Dtype::F32,
            (0..n).flat_map(|_| 0.0625f32.to_le_bytes()).collect(),
        ),
        _ => unreachable!("quantized layers have no batch norm"),
    };
    (t.name.clone(), t.shape.clone(), dtype, data)
}

/// The row-major multi-index of flat element `i` of a tensor of `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (d, &n) in idx.iter_mut().zip(shape).rev() {
        if n > 0 {
            *d = i % n;
            i /= n;
        }
    }
    idx
}

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Deterministic random weights for every tensor of the network, as a safetensors file in the
/// network's naming and layout. Conv and FC weights are He-uniform (bound sqrt(6 / fan_in)),
/// biases and BN shifts small, BN scales and variances around 1, so activations stay in a sane
/// range through the whole network. The same `seed` always gives the same bytes.
pub fn random(net: &Network, seed: u64) -> Vec<u8> {
    let mut tensors: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    for (layer, t) in net.tensors() {
        let mut rng = crate::rng::SplitMix64(seed ^ fnv1a(&t.name));
        let n = t.numel();
        let fan_in = layer.op.def().fan_in(layer);
        if layer.quantized {
            tensors.push(random_quantized(t, &mut rng));
            continue;
        }
        let (lo, hi) = match t.role {
            Role::Weight => {
                let b = (6.0 / fan_in as f32).sqrt();
                (-b, b)
            }
            Role::Bias | Role::BnBeta | Role::BnMean => (-0.1, 0.1),
            Role::BnGamma | Role::BnVar => (0.5, 1.5),
            _ => unreachable!("quantization tensors belong to quantized layers"),
        };
        let mut data = Vec::with_capacity(n * 4);
        for _ in 0..n {
            data.extend_from_slice(&rng.uniform(lo, hi).to_le_bytes());
        }
        tensors.push((t.name.clone(), t.shape.clone(), F32, data));
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, dtype, data)| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), data).expect("sizes match by construction"),
            )
        })
        .collect();
    // One metadata key only: safetensors keeps metadata in a HashMap, whose order (and so the
    // file's bytes) would vary between runs with several keys.
    let mut meta = HashMap::new();
    meta.insert(
        "generator".to_string(),
        format!("mobilenet random-weights seed={seed} network={}", net.name),
    );
    safetensors::serialize(views, Some(meta)).expect("serializing in-memory tensors cannot fail")
}
