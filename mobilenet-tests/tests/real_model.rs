//! The real ImageNet MobileNet v1 1.0 224 (TF-slim release, imported from the frozen graph by
//! `mobilenet import tf-graph`), compiled with the macro, against TensorFlow's logits on four
//! photographs (fixture: `scripts/make_real_fixtures.py`, which ran TensorFlow on the same graph
//! and the same preprocessed pixels). Needs `scripts/fetch_real_model.sh` first; CI runs it and
//! sets MOBILENET_REQUIRE_REAL_WEIGHTS so that a missing file fails the build.

#[cfg(real_model)]
mod real {
    use mobilenet_runtime::safetensors::{Dtype, SafeTensors};
    use mobilenet_tests::top_k;

    mobilenet_macros::mobilenet!(
        spec = "../specs/v1_tfslim_1001.toml",
        weights = "$MOBILENET_REAL_WEIGHTS",
        name = "v1"
    );

    #[test]
    fn logits_match_tensorflow_on_photos() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/real/fixtures.safetensors");
        let bytes = std::fs::read(path).expect("fixture");
        let st = SafeTensors::parse(&bytes).expect("fixture parses");
        let images = st.get("images").expect("images");
        let logits = st.get("logits").expect("logits");
        assert_eq!(images.dtype, Dtype::U8);
        assert_eq!(logits.dtype, Dtype::F32);
        let n = images.shape[0];
        assert!(n >= 4, "at least 4 photographs");
        let tf: Vec<f32> = logits
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();

        let model = v1::Model::embedded();
        let mut scratch = v1::Model::new_scratch();
        for i in 0..n {
            let pixels = &images.data[i * v1::INPUT_LEN..(i + 1) * v1::INPUT_LEN];
            let input: Vec<f32> = pixels.iter().map(|&x| (x as f32 - 127.5) / 127.5).collect();
            let input: &[f32; v1::INPUT_LEN] = input.as_slice().try_into().unwrap();
            let mut out = [0.0f32; v1::OUTPUT_LEN];
            model.forward_logits(input, &mut out, &mut scratch);
            let reference = &tf[i * v1::OUTPUT_LEN..(i + 1) * v1::OUTPUT_LEN];
            let max_diff = out
                .iter()
                .zip(reference)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            eprintln!(
                "photo {i}: max |logit difference| = {max_diff:e}, top-5 {:?}",
                top_k(&out, 5)
            );
            assert!(
                max_diff <= 1e-3,
                "photo {i}: max logit difference {max_diff} > 1e-3"
            );
            assert_eq!(
                top_k(&out, 5),
                top_k(reference, 5),
                "photo {i}: top-5 differs"
            );
        }
    }

    #[test]
    fn softmax_forward_is_a_distribution() {
        let model = v1::Model::embedded();
        let mut scratch = v1::Model::new_scratch();
        let input = vec![0.0f32; v1::INPUT_LEN];
        let mut p = [0.0f32; v1::OUTPUT_LEN];
        model.forward(input.as_slice().try_into().unwrap(), &mut p, &mut scratch);
        let sum: f32 = p.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-4 && p.iter().all(|&x| x >= 0.0),
            "sum {sum}"
        );
    }
}

#[cfg(not(real_model))]
#[test]
#[ignore = "models/mobilenet_v1_1.0_224.safetensors not fetched: run scripts/fetch_real_model.sh"]
fn real_model_weights_missing() {}
