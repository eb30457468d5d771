//! Human (markdown) and machine (JSON) cost reports.

use std::fmt::Write as _;

use crate::model::{group, Layer, Loc, Network};

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

/// One-line description of a layer's operation, e.g. "Conv DW 3x3 s2" (the op kind's own).
pub fn describe(l: &Layer) -> String {
    l.op.def().describe(l)
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
        let pad = match l.op.def().pad(l) {
            Some(p) => format!("{}/{}/{}/{}", p.top, p.bottom, p.left, p.right),
            None => "-".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            l.name,
            describe(l),
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
        "Activations are f32, NHWC. The input and output are the caller's arrays; every other value lives in one scratch arena at an offset planned from its live interval (greedy by size, largest first; an in-place kernel writes over an input that dies there). The lower bound is the most bytes live at any one step.\n"
    );
    let _ = writeln!(o, "| plan | f32 elements | bytes |");
    let _ = writeln!(o, "|---|--:|--:|");
    let mut row = |what: &str, n: usize| {
        let _ = writeln!(
            o,
            "| {what} | {} | {} |",
            group(n as u64),
            group(n as u64 * 4)
        );
    };
    row("arena (by liveness, used)", p.arena_len);
    row("lower bound (largest live set)", p.lower_bound);
    if let Some(t) = p.two_ended_len {
        row("two-ended chain plan", t);
    }
    row("naive (every activation)", p.naive_len);
    let _ = writeln!(o, "\n| layer | reads | output at | f32 elements |");
    let _ = writeln!(o, "|---|---|---|--:|");
    let at = |loc: &Loc| match loc {
        Loc::Arena { offset, .. } => format!("arena + {}", group(*offset as u64)),
        Loc::Output => "output".into(),
        Loc::Input => "input".into(),
        Loc::Fused => "fused (not stored)".into(),
    };
    for (l, loc) in net.layers.iter().zip(&p.outputs) {
        let reads: Vec<String> = l.inputs.iter().map(|&v| at(&p.values[v])).collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            l.name,
            reads.join(", "),
            at(loc),
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
