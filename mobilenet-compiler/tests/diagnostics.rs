//! Malformed specs: each must produce its intended message at the right line and column, and
//! every error in a file must be reported (not just the first).

use mobilenet_compiler::compile_str;

/// A small valid spec to break in one place at a time.
const BASE: &str = r#"[model]
input = [32, 32, 3]
classes = 10

[[layer]]
name = "conv1"
type = "conv"
channels = 8
stride = 2

[[layer]]
name = "block{n}"
type = "separable"
channels = 16

[[layer]]
name = "pool"
type = "avgpool"
global = true

[[layer]]
name = "fc"
type = "fc"
"#;

/// Compile `text` and return `line:col: message` for every diagnostic.
fn errors(text: &str) -> Vec<String> {
    match compile_str("bad.toml", text) {
        Ok(_) => vec![],
        Err(d) => d
            .short()
            .into_iter()
            .map(|s| s.trim_start_matches("bad.toml:").to_string())
            .collect(),
    }
}

fn render(text: &str) -> String {
    compile_str("bad.toml", text)
        .err()
        .map(|d| d.render())
        .unwrap_or_default()
}

#[test]
fn base_is_valid() {
    assert_eq!(errors(BASE), Vec::<String>::new());
}

#[test]
fn toml_syntax_error() {
    let e = errors("[model]\ninput = [32, 32, 3\nclasses = 10\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("3:1: invalid TOML"), "{e:?}");
}

#[test]
fn unknown_key_with_suggestion() {
    let text = BASE.replace("stride = 2", "strides = 2");
    assert_eq!(
        errors(&text),
        vec!["9:1: unknown key `strides` in a `conv` layer"]
    );
    let r = render(&text);
    assert!(r.contains(" --> bad.toml:9:1\n"), "{r}");
    assert!(
        r.contains("9 | strides = 2\n  | ^^^^^^^ unknown key\n"),
        "{r}"
    );
    assert!(r.contains("= help: did you mean `stride`?"), "{r}");
}

#[test]
fn unknown_top_level_and_model_keys() {
    let text = BASE
        .replace("classes = 10", "classes = 10\nwidth = 0.5")
        .replace("[model]", "[modle]\n[model]");
    assert_eq!(
        errors(&text),
        vec![
            "1:2: unknown key `modle` in the spec (top level)",
            "5:1: unknown key `width` in [model]"
        ]
    );
    assert!(render(&text).contains("did you mean `model`?"));
}

#[test]
fn wrong_type() {
    let text = BASE.replace("channels = 8", "channels = \"8\"");
    assert_eq!(
        errors(&text),
        vec!["8:12: `channels` must be a positive integer, found the string \"8\""]
    );
}

#[test]
fn alpha_out_of_range() {
    let text = BASE.replace("classes = 10", "classes = 10\nalpha = 4.5");
    assert_eq!(
        errors(&text),
        vec!["4:9: width multiplier `alpha` must be in (0, 4], found 4.5"]
    );
    let text = BASE.replace("classes = 10", "classes = 10\nalpha = 0");
    assert_eq!(
        errors(&text),
        vec!["4:9: width multiplier `alpha` must be in (0, 4], found 0"]
    );
}

#[test]
fn zero_and_negative_sizes() {
    let text = BASE
        .replace("channels = 8", "channels = 0")
        .replace("input = [32, 32, 3]", "input = [32, -4, 3]");
    assert_eq!(
        errors(&text),
        vec![
            "2:14: `input` must be at least 1, found -4",
            "8:12: `channels` must be at least 1, found 0",
        ]
    );
}

#[test]
fn output_collapses() {
    let text = BASE.replace("stride = 2", "stride = 2\nkernel = 40\npadding = \"valid\"");
    assert_eq!(
        errors(&text),
        vec!["10:10: layer `conv1`: a 40x40 kernel does not fit its 32x32 input (padding 0/0/0/0): the output collapses to nothing"]
    );
}

#[test]
fn pool_larger_than_input() {
    let text = BASE.replace("global = true", "kernel = 32");
    assert_eq!(
        errors(&text),
        vec!["19:10: pool `pool` has a 32x32 window but its input is only 16x16"]
    );
    assert!(render(&text).contains("use `kernel = [16, 16]` or `global = true`"));
}

#[test]
fn fc_input_mismatch() {
    let text = BASE.replace("type = \"fc\"", "type = \"fc\"\ninputs = 1024");
    assert_eq!(
        errors(&text),
        vec!["24:10: `fc` layer `fc` declares `inputs = 1024` but the previous layer gives 16 values (1x1x16)"]
    );
}

#[test]
fn fc_without_pool() {
    let text = BASE.replace("global = true", "kernel = 2");
    assert_eq!(
        errors(&text),
        vec!["23:8: `fc` layer `fc` gets a 8x8x16 feature map; it needs a 1x1 map (a vector)"]
    );
}

#[test]
fn classes_disagree_with_last_layer() {
    let text = BASE.replace("type = \"fc\"", "type = \"fc\"\noutputs = 12");
    assert_eq!(
        errors(&text),
        vec!["3:11: `classes = 10` disagrees with the last layer `fc`, which outputs 12 values (1x1x12)"]
    );
}

#[test]
fn duplicate_names() {
    let text = BASE.replace("name = \"pool\"", "name = \"conv1\"");
    assert_eq!(errors(&text), vec!["17:8: duplicate layer name `conv1`"]);
    assert!(render(&text).contains("the first `conv1` is on line 6"));
}

#[test]
fn repeat_without_placeholder() {
    let text = BASE.replace("name = \"block{n}\"", "name = \"block\"\nrepeat = 2");
    let e = errors(&text);
    assert_eq!(e, vec!["12:8: duplicate layer name `block`"]);
    assert!(render(&text).contains("needs `{n}`"));
}

#[test]
fn unknown_layer_type_and_missing_type() {
    let text = BASE
        .replace("type = \"separable\"", "type = \"seperable\"")
        .replace("type = \"avgpool\"", "");
    let e = errors(&text);
    assert_eq!(
        e,
        vec![
            "13:8: unknown type \"seperable\"",
            "17:1: layer #3 has no `type`"
        ],
    );
    assert!(render(&text).contains("did you mean \"separable\"?"));
}

#[test]
fn missing_channels_and_input() {
    let text = BASE
        .replace("channels = 8\n", "")
        .replace("input = [32, 32, 3]\n", "");
    assert_eq!(
        errors(&text),
        vec![
            "1:2: the model has no input size",
            "6:8: layer #1 (`conv`) has no `channels`"
        ]
    );
}

#[test]
fn bad_enum_values() {
    let text = BASE
        .replace(
            "stride = 2",
            "stride = 2\nactivation = \"relu7\"\npadding = \"sam\"",
        )
        .replace("classes = 10", "classes = 10\nnaming = \"keras\"");
    assert_eq!(
        errors(&text),
        vec![
            "4:10: unknown naming \"keras\"",
            "11:14: unknown activation \"relu7\"",
            "12:11: unknown padding \"sam\"",
        ]
    );
    let r = render(&text);
    assert!(r.contains("did you mean \"same\"?"), "{r}");
    assert!(
        r.contains("valid values: \"none\", \"relu\", \"relu6\""),
        "{r}"
    );
}

#[test]
fn budget_exceeded_says_by_how_much() {
    let text = format!("{BASE}\n[budget]\nmax_mult_adds = 100_000\nmax_params = 1_000_000\n");
    assert_eq!(
        errors(&text),
        vec!["26:17: budget exceeded: the network needs 106_656 Mult-Adds, 6_656 over `max_mult_adds = 100_000` (+6.66%)"]
    );
}

#[test]
fn rho_and_resolution_conflict() {
    let text = BASE.replace("classes = 10", "classes = 10\nresolution = 16\nrho = 0.5");
    assert_eq!(errors(&text), vec!["5:7: `rho` and `resolution` both set"]);
}

#[test]
fn layer_after_fc() {
    let text = format!("{BASE}\n[[layer]]\ntype = \"conv\"\nchannels = 4\n");
    assert_eq!(
        errors(&text),
        vec!["26:8: a `conv` layer cannot follow a fully connected layer"]
    );
}

#[test]
fn padding_larger_than_kernel() {
    let text = BASE.replace("stride = 2", "stride = 2\npadding = 5");
    assert_eq!(
        errors(&text),
        vec!["10:11: layer `conv1`: padding 5/5/5/5 exceeds the 3x3 kernel"]
    );
}

#[test]
fn every_error_is_reported() {
    // Five independent mistakes in one file: all five come back, in file order.
    let text = BASE
        .replace("classes = 10", "classes = 10\nalpha = 5.0")
        .replace("stride = 2", "stride = 2\nkernal = 3")
        .replace("channels = 16", "channels = -16")
        .replace("global = true", "global = \"yes\"")
        .replace("type = \"fc\"", "type = \"fc\"\nbias = 1");
    let e = errors(&text);
    assert_eq!(e.len(), 5, "{e:?}");
    let lines: Vec<usize> = e
        .iter()
        .map(|s| s.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, vec![4, 11, 16, 21, 26]);
    assert!(render(&text).ends_with("error: aborting due to 5 previous errors\n"));
}

#[test]
fn unreadable_file_is_an_error_not_a_panic() {
    let e = mobilenet_compiler::compile_file("/nonexistent/spec.toml").unwrap_err();
    assert!(e
        .render()
        .contains("cannot read spec file `/nonexistent/spec.toml`"));
}

/// A small v2-style spec: a stem, two inverted residual blocks, the 1x1-conv head.
const V2: &str = r#"[model]
input = [32, 32, 3]
classes = 10
channel_rounding = "divisible-by-8"

[defaults]
activation = "relu6"

[[layer]]
name = "stem"
type = "conv"
channels = 16
stride = 2

[[layer]]
name = "block{n}"
type = "inverted_residual"
expansion = 6
channels = 24
stride = 2

[[layer]]
name = "block{n}"
type = "inverted_residual"
expansion = 6
channels = 24
repeat = 2

[[layer]]
name = "pool"
type = "avgpool"
global = true

[[layer]]
name = "logits"
type = "pointwise"
channels = 10
scale_channels = false
bias = true
batch_norm = false
activation = "none"
"#;

#[test]
fn v2_base_is_valid() {
    assert_eq!(errors(V2), Vec::<String>::new());
    let net = compile_str("v2.toml", V2).unwrap();
    // The repeated blocks (stride 1, 24 -> 24) have their residual fused; the first does not.
    let fused = net
        .layers
        .iter()
        .filter(|l| l.op.conv().is_some_and(|c| c.residual))
        .count();
    assert_eq!(fused, 2);
}

#[test]
fn v2_residual_that_cannot_match_is_an_error_at_the_key() {
    // Stride 2: the output is smaller than the input.
    let text = V2.replacen(
        "channels = 24\nstride = 2",
        "channels = 24\nstride = 2\nresidual = true",
        1,
    );
    assert_eq!(
        errors(&text),
        vec!["21:12: block `block2`: `residual = true` needs the block's input and output to have the same shape, but its stride is 2x2, so its output is smaller than its input"]
    );
    // Stride 1 but 16 -> 24 channels.
    let text = V2.replacen(
        "channels = 24\nstride = 2",
        "channels = 24\nresidual = true",
        1,
    );
    assert_eq!(
        errors(&text),
        vec!["20:12: block `block2`: `residual = true` needs the block's input and output to have the same shape, but its input has 16 channels and its output 24"]
    );
    let r = render(&text);
    assert!(r.contains("the skip connection cannot match"), "{r}");
    assert!(r.contains("help: remove `residual`"), "{r}");
}

#[test]
fn v2_residual_needs_the_spatial_size_kept() {
    // "valid" padding shrinks the repeated blocks' maps: no automatic residual, and asking for
    // one is an error (a differential-test network once got a mismatched skip here).
    let text = V2.replacen("repeat = 2", "repeat = 2\npadding = \"valid\"", 1);
    let net = compile_str("v2.toml", &text).unwrap();
    assert!(!net
        .layers
        .iter()
        .any(|l| l.op.conv().is_some_and(|c| c.residual)));
    let text = V2.replacen(
        "repeat = 2",
        "repeat = 2\npadding = \"valid\"\nresidual = true",
        1,
    );
    assert_eq!(
        errors(&text),
        vec!["29:12: block `block3`: `residual = true` needs the block's input and output to have the same shape, but its padding changes the spatial size (8x8 -> 6x6)"]
    );
}

#[test]
fn v2_block_keys_are_checked() {
    let text = V2.replacen(
        "expansion = 6\nchannels = 24\nstride = 2",
        "expansion = 0\nchannels = 24\nstride = 2\nbias = true",
        1,
    );
    assert_eq!(
        errors(&text),
        vec![
            "18:13: `expansion` must be at least 1, found 0",
            "21:1: unknown key `bias` in an `inverted_residual` layer",
        ]
    );
    let text = V2.replacen(
        "expansion = 6\nchannels = 24\nstride = 2",
        "expansion = 6\nstride = 2",
        1,
    );
    assert_eq!(
        errors(&text),
        vec!["17:8: layer #2 (`inverted_residual`) has no `channels`"]
    );
    let text = V2.replacen(
        "expansion = 6\nchannels = 24\nrepeat = 2",
        "expansion = 6\nchannels = 24\nrepeat = 2\nscale_channels = \"down\"",
        1,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("28:18: unknown scale_channels \"down\""),
        "{e:?}"
    );
}

#[test]
fn negative_name_offset_is_an_error() {
    let text = V2.replace("name = \"stem\"", "name = \"stem{i-1}\"");
    assert_eq!(
        errors(&text),
        vec!["10:8: `{i-1}` in the name is negative for this layer (0-based position 0)"]
    );
}

/// Found by fuzzing: a huge input side overflowed the cost arithmetic (a panic). Sizes are
/// bounded, and a layer whose tensors would exceed 2^31 values is an error at its name.
#[test]
fn huge_sizes_are_errors_not_overflows() {
    let text = BASE.replace("input = [32, 32, 3]", "input = [224, 88888888888224, 3]");
    assert_eq!(
        errors(&text),
        vec!["2:15: `input` must be at most 65536, found 88888888888224"]
    );
    let text = BASE
        .replace("input = [32, 32, 3]", "input = [65536, 65536, 3]")
        .replace("channels = 8", "channels = 65536");
    let e = errors(&text);
    assert!(
        e.iter().any(|m| m.contains("layer `conv1` is too large: its output 32768x32768x65536 has 70368744177664 values, more than the 2147483648 values a tensor may have")),
        "{e:?}"
    );
}

/// Found by fuzzing: `bn_epsilon = 1e53` became an infinite f32 literal in the generated code
/// (a panic in the macro). Epsilons are checked against what the runtime's f32 can hold.
#[test]
fn epsilon_out_of_range() {
    for (eps, found) in [("1e53", "1e53"), ("-1e-3", "-1e-3"), ("1e-50", "1e-50")] {
        let text = BASE.replace(
            "classes = 10",
            &format!("classes = 10\n[defaults]\nbn_epsilon = {eps}"),
        );
        let e = errors(&text);
        assert_eq!(
            e,
            vec![format!(
                "5:14: `bn_epsilon` must be in (1e-38, 1], found {found}"
            )],
            "{eps}"
        );
    }
}
