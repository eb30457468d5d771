//! Human (markdown) and machine (JSON) cost reports.

use std::fmt::Write as _;

use crate::model::{group, Loc, Network, Op};

fn fmt_m(n: u64) -> String {
    format!("{:.2}M", n as f64 / 1e6)
}

fn pct(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

/// One-line description of a layer's operation, e.g. "Conv DW 3x3 s2".
pub fn describe_op(op: &Op) -> String {
    match op {
        Op::Conv(c) => {
            let kind = match c.kind {
                crate::model::ConvKind::Full => "Conv",
                crate::model::ConvKind::Depthwise => "Conv DW",
            };
            format!(
                "{kind} {}x{} s{}",
                c.kh,
                c.kw,
                if c.sh == c.sw {
                    c.sh.to_string()
                } else {
                    format!("{}x{}", c.sh, c.sw)
                }
            )
        }
        Op::AvgPool { kh, kw, sh, .. } => format!("AvgPool {kh}x{kw} s{sh}"),
        Op::GlobalAvgPool => "AvgPool global".into(),
        Op::Fc { .. } => "FC".into(),
        Op::Softmax => "Softmax".into(),
    }
}

/// The markdown report: per-layer table, totals, shares by type and the memory plan.
pub fn markdown(net: &Network) -> String {
    let mut o = String::new();
    let t = net.total();
    let _ = writeln!(o, "# {} — cost report\n", net.name);
    let _ = writeln!(
        o,
        "Spec `{}`: input {}, {} classes, alpha {}, {} layers, weights named for {}.\n",
        net.spec_path,
        net.input,
        net.classes,
        net.alpha,
        net.layers.len(),
        net.naming.as_str()
    );
    let _ = writeln!(
        o,
        "| # | layer | type | input | output | pad t/b/l/r | Mult-Adds | params |"
    );
    let _ = writeln!(o, "|--:|---|---|---|---|---|--:|--:|");
    for (i, l) in net.layers.iter().enumerate() {
        let pad = match &l.op {
            Op::Conv(c) => format!(
                "{}/{}/{}/{}",
                c.pad.top, c.pad.bottom, c.pad.left, c.pad.right
            ),
            _ => "-".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            l.name,
            describe_op(&l.op),
            l.input,
            l.output,
            pad,
            group(l.cost.mult_adds),
            group(l.cost.weights)
        );
    }
    let _ = writeln!(o, "\n## Totals\n");
    let _ = writeln!(
        o,
        "- Mult-Adds: {} ({})",
        group(t.mult_adds),
        fmt_m(t.mult_adds)
    );
    let _ = writeln!(
        o,
        "- Parameters (weights, the paper's count): {} ({})",
        group(t.weights),
        fmt_m(t.weights)
    );
    let _ = writeln!(
        o,
        "- Parameters with biases ({}) and batch norm ({}): {} ({})",
        group(t.biases),
        group(t.batch_norm),
        group(t.total_params()),
        fmt_m(t.total_params())
    );
    let _ = writeln!(o, "\n## Share by layer type (the paper's Table 2)\n");
    let _ = writeln!(o, "| type | Mult-Adds | share | params | share |");
    let _ = writeln!(o, "|---|--:|--:|--:|--:|");
    for (cat, c) in net.by_category() {
        let _ = writeln!(
            o,
            "| {cat} | {} | {:.2}% | {} | {:.2}% |",
            group(c.mult_adds),
            pct(c.mult_adds, t.mult_adds),
            group(c.weights),
            pct(c.weights, t.weights)
        );
    }
    let p = &net.plan;
    let _ = writeln!(o, "\n## Memory plan\n");
    let _ = writeln!(
        o,
        "Activations are f32, NHWC. The input and output are the caller's arrays; every other activation lives in one scratch arena, alternately at its start and its end, so the arena holds the largest adjacent pair of activations.\n"
    );
    let _ = writeln!(o, "| plan | f32 elements | bytes |");
    let _ = writeln!(o, "|---|--:|--:|");
    let _ = writeln!(
        o,
        "| arena (two-ended, used) | {} | {} |",
        group(p.arena_len as u64),
        group(p.arena_bytes())
    );
    let _ = writeln!(
        o,
        "| two ping-pong buffers | {} | {} |",
        group(p.pingpong_len as u64),
        group(p.pingpong_len as u64 * 4)
    );
    let _ = writeln!(
        o,
        "| naive (every activation) | {} | {} |",
        group(p.naive_len as u64),
        group(p.naive_len as u64 * 4)
    );
    let _ = writeln!(o, "\n| layer | output at | f32 elements |");
    let _ = writeln!(o, "|---|---|--:|");
    for (l, loc) in net.layers.iter().zip(&p.outputs) {
        let at = match loc {
            Loc::Arena { offset, .. } => format!("arena + {}", group(*offset as u64)),
            Loc::Output => "output".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            l.name,
            at,
            group(l.output.len() as u64)
        );
    }
    let b = &net.budget;
    if b.max_mult_adds.is_some() || b.max_params.is_some() || b.max_arena_bytes.is_some() {
        let _ = writeln!(o, "\n## Budget\n");
        let rows = [
            ("max_mult_adds", b.max_mult_adds, t.mult_adds),
            ("max_params", b.max_params, t.weights),
            ("max_arena_bytes", b.max_arena_bytes, p.arena_bytes()),
        ];
        for (k, lim, actual) in rows {
            if let Some(lim) = lim {
                let _ = writeln!(
                    o,
                    "- `{k}`: {} of {} ({:.1}% used)",
                    group(actual),
                    group(lim),
                    pct(actual, lim)
                );
            }
        }
    }
    o
}

/// The JSON report: the whole analysed network plus totals and shares.
pub fn json(net: &Network) -> String {
    let t = net.total();
    let cats: Vec<serde_json::Value> = net
        .by_category()
        .into_iter()
        .map(|(cat, c)| {
            serde_json::json!({
                "type": cat,
                "mult_adds": c.mult_adds,
                "mult_adds_share": pct(c.mult_adds, t.mult_adds) / 100.0,
                "weights": c.weights,
                "weights_share": pct(c.weights, t.weights) / 100.0,
            })
        })
        .collect();
    let v = serde_json::json!({
        "network": net,
        "totals": {
            "mult_adds": t.mult_adds,
            "weights": t.weights,
            "biases": t.biases,
            "batch_norm": t.batch_norm,
            "params_total": t.total_params(),
            "arena_bytes": net.plan.arena_bytes(),
        },
        "by_type": cats,
    });
    serde_json::to_string_pretty(&v).expect("report serializes")
}
