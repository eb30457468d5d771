//! The PyTorch path: `safetensors.torch.save_file(model.state_dict(), path)` writes, besides the
//! seed's float tensors, an int64 `num_batches_tracked` scalar per BatchNorm. Such a file must
//! pass the compile-time check and load at run time unchanged (those counters are ignored),
//! giving exactly the same model.

#![cfg(not(mobilenet_cross))] // its dev-dependencies are not built for the cross targets

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

mobilenet_macros::mobilenet!(
    spec = "../specs/seed_cifar100.toml",
    weights = "$OUT_DIR/seed.safetensors",
    name = "seed"
);

/// The seed weights as PyTorch would save them: plus `<bn>.num_batches_tracked` (I64, shape []).
fn as_state_dict() -> Vec<u8> {
    let st = SafeTensors::deserialize(&seed::EMBEDDED_WEIGHTS.0).unwrap();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| (name, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    let bns: Vec<String> = tensors
        .iter()
        .filter_map(|(name, ..)| name.strip_suffix(".running_var").map(str::to_string))
        .collect();
    assert!(
        bns.len() >= 26,
        "the seed has a batch norm per conv of its 13 blocks"
    );
    for bn in bns {
        tensors.push((
            format!("{bn}.num_batches_tracked"),
            Dtype::I64,
            vec![],
            1234i64.to_le_bytes().to_vec(),
        ));
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn state_dict_with_batch_counters_checks_and_loads() {
    let bytes = as_state_dict();
    // Compile-time check (what the macro runs on `weights = ...`).
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/seed_cifar100.toml");
    let net = mobilenet_compiler::compile_file(spec).unwrap();
    mobilenet_compiler::weights::check(&net, "state_dict.safetensors", &bytes)
        .unwrap_or_else(|d| panic!("{d}"));
    // Run-time loading gives the same packed model.
    let model = seed::Model::from_safetensors(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.params(), seed::Model::embedded().params());
}

#[test]
fn a_real_extra_tensor_is_still_an_error() {
    let st = SafeTensors::deserialize(&seed::EMBEDDED_WEIGHTS.0).unwrap();
    let mut views: Vec<(String, TensorView<'_>)> = st.tensors();
    let extra = [0u8; 16];
    views.push((
        "classifier.weight".into(),
        TensorView::new(Dtype::F32, vec![4], &extra).unwrap(),
    ));
    let bytes = safetensors::serialize(views, None).unwrap();
    let err = seed::Model::from_safetensors(&bytes)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("classifier.weight"), "{err}");
}
