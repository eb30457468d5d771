//! Every user-facing failure of loading weights and feeding inputs, with the exact text the user
//! sees: at compile time (the macro's weights check, rendered as rustc-style diagnostics) and at
//! run time (the generated `Model::from_safetensors`, `input_array`). Each case is a broken file
//! of one kind; the text must say what is wrong, where, and what to do.

#![cfg(not(mobilenet_cross))] // its dev-dependencies are not built for the cross targets

use mobilenet_compiler::Network;

mobilenet_macros::mobilenet!(spec = "tests/ui/tiny.toml", name = "tiny");

const SPEC: &str = include_str!("ui/tiny.toml");

fn net() -> Network {
    mobilenet_compiler::compile_str("tiny.toml", SPEC).unwrap_or_else(|d| panic!("{}", d.render()))
}

/// A safetensors file from a header and a data section.
fn st(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Valid weights for the tiny network, with `value` written at element `index` of `tensor`.
fn with_value(tensor: &str, index: usize, value: f32) -> Vec<u8> {
    let mut bytes = mobilenet_compiler::weights::random(&net(), 3);
    let parsed = mobilenet_runtime::safetensors::SafeTensors::parse(&bytes).unwrap();
    let t = parsed
        .get(tensor)
        .unwrap_or_else(|| panic!("no tensor {tensor}"));
    let at = t.data.as_ptr() as usize - bytes.as_ptr() as usize + 4 * index;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    bytes
}

/// What the macro would print for these weights (the diagnostics' first line and any notes).
fn compile_time(bytes: &[u8]) -> String {
    match mobilenet_compiler::weights::check(&net(), "w.safetensors", bytes) {
        Ok(()) => panic!("the compile-time check accepted the file"),
        Err(mut d) => {
            d.add_source(mobilenet_compiler::SourceFile::new("tiny.toml", SPEC));
            d.render()
        }
    }
}

fn run_time(bytes: &[u8]) -> String {
    match tiny::Model::from_safetensors(bytes) {
        Ok(_) => panic!("the loader accepted the file"),
        Err(e) => e.to_string(),
    }
}

/// Both checks reject the file; the compile-time message contains `ct`, the run-time one is `rt`.
fn both(bytes: &[u8], ct: &str, rt: &str) {
    let c = compile_time(bytes);
    assert!(
        c.contains(ct),
        "compile time:\n{c}\nexpected to contain:\n{ct}"
    );
    assert_eq!(run_time(bytes), rt);
}

#[test]
fn truncated_file() {
    let good = mobilenet_compiler::weights::random(&net(), 3);
    both(
        &good[..5],
        "error: `w.safetensors` is not a valid safetensors file: safetensors file is 5 bytes long, shorter than its 8-byte header length prefix: the file is truncated or not a safetensors file",
        "not a valid safetensors file: safetensors file is 5 bytes long, shorter than its 8-byte header length prefix: the file is truncated or not a safetensors file",
    );
    let cut = &good[..good.len() - 100];
    both(
        cut,
        "past the end of the",
        &format!(
            "not a valid safetensors file: the tensor named at header byte {} has data_offsets [{}] past the end of the {}-byte data section: the file is truncated or corrupt",
            last_name_offset(&good),
            offsets_of_last(&good),
            data_len(&good) - 100
        ),
    );
}

fn data_len(file: &[u8]) -> usize {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    file.len() - 8 - n
}

fn header(file: &[u8]) -> &str {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    std::str::from_utf8(&file[8..8 + n]).unwrap()
}

/// The `data_offsets` of the last tensor in the header (the one a truncation cuts), as
/// `begin, end`.
fn offsets_of_last(file: &[u8]) -> String {
    let h = header(file);
    let i = h.rfind("\"data_offsets\":[").unwrap() + 16;
    let j = h[i..].find(']').unwrap();
    h[i..i + j].replace(',', ", ")
}

/// The header offset of the last tensor's name (after its opening quote's predecessor).
fn last_name_offset(file: &[u8]) -> usize {
    let h = header(file);
    let at = h.rfind("\"data_offsets\":[").unwrap();
    // The entry `"name":{...` starts at the last `"` before the `:{` preceding `at`.
    let brace = h[..at].rfind(":{").unwrap();
    h[..brace]
        .rfind('"')
        .and_then(|q| h[..q].rfind('"'))
        .unwrap()
}

#[test]
fn oversized_header_length() {
    let mut f = st("{}", &[]);
    f[..8].copy_from_slice(&5000u64.to_le_bytes());
    both(
        &f,
        "safetensors header length 5000 exceeds the file size 10 bytes: the file is truncated or not a safetensors file",
        "not a valid safetensors file: safetensors header length 5000 exceeds the file size 10 bytes: the file is truncated or not a safetensors file",
    );
}

#[test]
fn not_a_safetensors_file() {
    both(
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        "is not a valid safetensors file: safetensors header length",
        "not a valid safetensors file: safetensors header length 727905341920923785 exceeds the file size 16 bytes: the file is truncated or not a safetensors file",
    );
    both(
        &st("[1, 2]", &[]),
        "safetensors header must be a JSON object mapping tensor names to tensor entries, but header byte 0 does not start one (file byte 8)",
        "not a valid safetensors file: safetensors header must be a JSON object mapping tensor names to tensor entries, but header byte 0 does not start one",
    );
}

#[test]
fn overlapping_and_out_of_range_offsets() {
    let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
    both(
        &st(h, &[0; 12]),
        "the data of the tensor named at header byte 54 overlaps the data of the tensor named at header byte 1 (file byte 62)",
        "not a valid safetensors file: the data of the tensor named at header byte 54 overlaps the data of the tensor named at header byte 1",
    );
    let h = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
    both(
        &st(h, &[0; 8]),
        "the tensor named at header byte 1 has data_offsets [0, 16] past the end of the 8-byte data section: the file is truncated or corrupt (file byte 9)",
        "not a valid safetensors file: the tensor named at header byte 1 has data_offsets [0, 16] past the end of the 8-byte data section: the file is truncated or corrupt",
    );
    let h = r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
    both(
        &st(h, &[0; 8]),
        "the tensor named at header byte 1 has 3 F32 elements (12 bytes) but its data_offsets span 8 bytes (file byte 9)",
        "not a valid safetensors file: the tensor named at header byte 1 has 3 F32 elements (12 bytes) but its data_offsets span 8 bytes",
    );
    let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    both(
        &st(h, &[0; 6]),
        "tensors cover 4 of the 6 bytes of the data section: safetensors files must not contain unreferenced bytes",
        "not a valid safetensors file: tensors cover 4 of the 6 bytes of the data section: safetensors files must not contain unreferenced bytes",
    );
}

#[test]
fn duplicate_tensor_names() {
    let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    both(
        &st(h, &[0; 8]),
        "the tensor name at header byte 54 repeats the name at header byte 1 (file byte 62)",
        "not a valid safetensors file: the tensor name at header byte 54 repeats the name at header byte 1",
    );
}

#[test]
fn nan_and_inf_weights() {
    let n = net();
    let w = n.layers[0].tensors[0].name.clone();
    let c = compile_time(&with_value(&w, 5, f32::NAN));
    assert!(
        c.contains(&format!("error: weights file `w.safetensors` holds non-finite values for layer `conv1`: `{w}` holds NaN at element 5 (index [0, 0, 1, 2])")),
        "{c}"
    );
    assert!(c.contains("= help: the weights are corrupt or come from a diverged training run; re-export them from a good checkpoint"), "{c}");
    assert!(
        c.contains("--> tiny.toml:7:8"),
        "points at the layer in the spec: {c}"
    );
    assert_eq!(
        run_time(&with_value(&w, 5, f32::NAN)),
        format!("tensor `{w}` (layer `conv1`) holds NaN at element 5; the weights are corrupt or come from a diverged training run: re-export them from a good checkpoint")
    );
    let last = n.layers.last().unwrap();
    let b = last
        .tensors
        .iter()
        .find(|t| t.name.ends_with("bias"))
        .unwrap()
        .name
        .clone();
    assert_eq!(
        run_time(&with_value(&b, 1, f32::NEG_INFINITY)),
        format!("tensor `{b}` (layer `fc`) holds -inf at element 1; the weights are corrupt or come from a diverged training run: re-export them from a good checkpoint")
    );
    assert!(compile_time(&with_value(&b, 1, f32::INFINITY))
        .contains(&format!("`{b}` holds inf at element 1 (index [1])")));
}

#[test]
fn a_negative_batch_norm_variance() {
    let n = net();
    let var = n.layers[0]
        .tensors
        .iter()
        .find(|t| t.name.ends_with("running_var"))
        .unwrap()
        .name
        .clone();
    let bytes = with_value(&var, 2, -1.0);
    let c = compile_time(&bytes);
    assert!(
        c.contains("error: weights file `w.safetensors` cannot be loaded for layer `conv1`: packing layer `conv1` failed: batch norm cannot be folded: var + eps is not positive for channel 2"),
        "{c}"
    );
    assert!(c.contains("= help: the weights are corrupt or belong to another model; regenerate them from a good checkpoint"), "{c}");
    assert_eq!(run_time(&bytes), "packing layer `conv1` failed: batch norm cannot be folded: var + eps is not positive for channel 2");
}

#[test]
fn wrong_dtype_shape_missing_and_unexpected_tensors() {
    let n = net();
    let w = &n.layers[0].tensors[0];
    // A file with only the first weight, as F16.
    let numel: usize = w.shape.iter().product();
    let shape = w
        .shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let h = format!(
        r#"{{"{}":{{"dtype":"F16","shape":[{shape}],"data_offsets":[0,{}]}}}}"#,
        w.name,
        numel * 2
    );
    let bytes = st(&h, &vec![0; numel * 2]);
    assert_eq!(
        run_time(&bytes),
        format!(
            "tensor `{}` is F16, expected F32; convert the weights to float32",
            w.name
        )
    );
    let c = compile_time(&bytes);
    assert!(
        c.contains(&format!(
            "`{}` is F16, expected F32 (convert the weights to float32, e.g. `model.float()`)",
            w.name
        )),
        "{c}"
    );
    assert!(
        c.contains("lacks"),
        "the missing tensors are listed too: {c}"
    );
    // The right dtype, a wrong shape.
    let h = format!(
        r#"{{"{}":{{"dtype":"F32","shape":[{numel}],"data_offsets":[0,{}]}}}}"#,
        w.name,
        numel * 4
    );
    let bytes = st(&h, &vec![0; numel * 4]);
    assert_eq!(
        run_time(&bytes),
        format!("tensor `{}` has shape [{numel}], layer `conv1` needs {:?}; the weights do not match the spec", w.name, w.shape)
    );
    // A tensor no layer uses.
    let h = r#"{"head.extra":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    assert_eq!(
        run_time(&st(h, &[0; 4])),
        "the weights hold a tensor `head.extra` that no layer of the spec uses; the file belongs to another network"
    );
    assert!(compile_time(&st(h, &[0; 4]))
        .contains("has 1 tensor that no layer of the spec uses: `head.extra`"));
}

#[test]
fn an_input_of_the_wrong_size() {
    let v = vec![0.0f32; 100];
    let e = tiny::input_array(&v).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the input tensor has 100 f32 values, this network's input is 8x8x3 = 192 values (NHWC, batch 1); resize the image to the network's input shape before converting it"
    );
    let mut out = vec![0.0f32; 3];
    assert_eq!(
        tiny::output_array(&mut out).unwrap_err().to_string(),
        "the output tensor has 3 f32 values, this network's output is 1x1x4 = 4 values (NHWC, batch 1)"
    );
    assert!(tiny::input_array(&[0.0; tiny::INPUT_LEN]).is_ok());
}
