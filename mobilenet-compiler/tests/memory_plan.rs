//! The liveness memory plan of every spec in `specs/`, checked against the graph: no two values
//! that are live at the same step share arena bytes (unless an in-place kernel writes one over
//! the other), the arena is at least the live-set lower bound, and for every v1 chain it is no
//! larger than the two-ended plan the compiler used before the graph IR.

use mobilenet_compiler::model::Loc;
use mobilenet_compiler::{compile_file, compile_str, Network, Op};

fn specs() -> Vec<(String, Network)> {
    let dir = format!("{}/../specs", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let net = compile_file(&p).unwrap_or_else(|d| panic!("{name}:\n{d}"));
            (name, net)
        })
        .collect()
}

/// The input of layer `l` whose buffer its output may take (the kernel works in place on it).
fn in_place_input(net: &Network, l: usize) -> Option<usize> {
    let layer = &net.layers[l];
    match &layer.op {
        Op::Softmax => Some(layer.inputs[0]),
        Op::Conv(c) if c.residual => Some(layer.inputs[1]),
        _ => None,
    }
}

fn check_plan(name: &str, net: &Network) {
    let p = &net.plan;
    let n = net.values.len();
    let first: Vec<usize> = (0..n)
        .map(|v| {
            net.layers
                .iter()
                .position(|l| l.output_value == v)
                .unwrap_or(0)
        })
        .collect();
    let last: Vec<usize> = (0..n)
        .map(|v| {
            net.layers
                .iter()
                .rposition(|l| l.inputs.contains(&v))
                .unwrap_or(first[v])
                .max(first[v])
        })
        .collect();
    // A fused pair's first layer still reads its inputs while the second one runs.
    let mut last = last;
    for (l, layer) in net.layers.iter().enumerate() {
        if net.fused[l].is_some() {
            for &v in &layer.inputs {
                last[v] = last[v].max(l + 1);
            }
        }
    }
    // Values written in place over another share its bytes by design, except an input the
    // fused first layer of the pair is still reading.
    let mut shares: Vec<(usize, usize)> = Vec::new();
    for l in 0..net.layers.len() {
        if let Some(src) = in_place_input(net, l) {
            if l > 0 && net.fused[l - 1].is_some() && net.layers[l - 1].inputs.contains(&src) {
                continue;
            }
            shares.push((src, net.layers[l].output_value));
        }
    }
    let arena = |v: usize| match p.values[v] {
        Loc::Arena { offset, len } => Some((offset, len)),
        _ => None,
    };
    for a in 0..n {
        let Some((ao, al)) = arena(a) else { continue };
        assert!(ao + al <= p.arena_len, "{name}: value {a} leaves the arena");
        assert_eq!(ao % p.align, 0, "{name}: value {a} misaligned");
        for b in a + 1..n {
            let Some((bo, bl)) = arena(b) else { continue };
            let live_together = first[a] <= last[b] && first[b] <= last[a];
            let overlap = ao < bo + bl && bo < ao + al;
            let shared = shares.contains(&(a, b)) || shares.contains(&(b, a));
            assert!(
                !(live_together && overlap) || (shared && ao == bo),
                "{name}: values {a} ({}) and {b} ({}) are live together and overlap",
                net.values[a].name,
                net.values[b].name
            );
        }
    }
    assert_eq!(p.values[net.input_value], Loc::Input, "{name}");
    assert_eq!(p.values[net.output_value], Loc::Output, "{name}");
    assert!(p.lower_bound <= p.arena_len, "{name}");
    assert!(p.arena_len < p.naive_len, "{name}");
}

#[test]
fn every_spec_has_a_valid_plan() {
    for (name, net) in specs() {
        check_plan(&name, &net);
    }
}

#[test]
fn chains_are_no_larger_than_the_two_ended_plan() {
    let mut chains = 0;
    for (name, net) in specs() {
        if !net.is_chain() {
            assert!(net.plan.two_ended_len.is_none(), "{name}");
            continue;
        }
        chains += 1;
        let two_ended = net
            .plan
            .two_ended_len
            .expect("chains report the two-ended plan");
        assert!(
            net.plan.arena_len <= two_ended,
            "{name}: {} > {two_ended}",
            net.plan.arena_len
        );
    }
    assert!(chains >= 10, "{chains} v1 chains");
}

#[test]
fn v1_plan_is_the_largest_adjacent_pair() {
    let (_, net) = specs()
        .into_iter()
        .find(|(n, _)| n == "v1_alpha100.toml")
        .unwrap();
    // 112x112x32 (dw1 out) + 112x112x64 (pw1 out): live together, and the lower bound.
    assert_eq!(net.plan.arena_len, 112 * 112 * 32 + 112 * 112 * 64);
    assert_eq!(net.plan.lower_bound, net.plan.arena_len);
}

#[test]
fn v2_plan_meets_its_lower_bound() {
    for (name, net) in specs() {
        if name.starts_with("v2_") {
            assert!(!net.is_chain(), "{name} has skip connections");
            assert_eq!(net.plan.arena_len, net.plan.lower_bound, "{name}");
        }
    }
}

/// A block with expansion 1 at stride 1: depthwise, then the projection adding the block's
/// input, which is the depthwise layer's own input. The pair is fused, so the projection may
/// not write its output over that skip while the depthwise half still reads it in bands.
const SKIP_IS_DW_INPUT: &str = r#"[model]
input = [64, 64, 3]
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
name = "block"
type = "inverted_residual"
expansion = 1
channels = 16

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
fn a_fused_pair_does_not_write_over_its_depthwise_input() {
    let net = compile_str("skip.toml", SKIP_IS_DW_INPUT).unwrap();
    let dw = net
        .layers
        .iter()
        .position(|l| {
            net.layers
                .iter()
                .any(|m| m.inputs.len() == 2 && m.inputs[1] == l.inputs[0])
        })
        .expect("a layer whose input is also a residual skip");
    assert!(
        net.fused[dw].is_some(),
        "the depthwise + projection pair is fused"
    );
    let (skip, proj) = (net.layers[dw].inputs[0], &net.layers[dw + 1]);
    assert_eq!(
        proj.inputs.get(1),
        Some(&skip),
        "the projection adds the depthwise input"
    );
    assert_eq!(net.plan.values[net.layers[dw].output_value], Loc::Fused);
    assert_ne!(
        net.plan.values[proj.output_value], net.plan.values[skip],
        "the projection's output has its own buffer (the skip is copied into it)"
    );
    check_plan("skip.toml", &net);
}
