//! The memory plan: an arena offset for every value from its live interval.
//!
//! The network input and output are the caller's arrays. Every other value lives in one
//! scratch arena. A value is live from the step of the layer that writes it to the last step
//! that reads it; values whose intervals intersect may not share bytes. Offsets are assigned
//! greedily by size, largest first, each at the lowest offset that clears every already placed
//! value it is live with (the approach of TFLite's arena planner). A layer whose kernel expects
//! its output buffer to hold one of its inputs on entry (softmax in place, the fused residual
//! add) writes over that input when the input dies there: the two values share one buffer.
//! Otherwise the code generator copies the input into the output buffer first.

use serde::Serialize;

use crate::ir::{Value, ValueId};
use crate::model::Layer;

/// Where a value lives while the forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "buffer", rename_all = "snake_case")]
pub enum Loc {
    /// The caller's input array.
    Input,
    /// In the scratch arena at `offset` (in f32 elements).
    Arena { offset: usize, len: usize },
    /// The caller's output array.
    Output,
    /// Nowhere: the intermediate of a fused pair of layers ([`crate::fuse`]), computed and
    /// consumed in bands inside one kernel call.
    Fused,
}

/// The memory plan.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPlan {
    /// Where every value lives, by value id.
    pub values: Vec<Loc>,
    /// Per layer, where its output is written.
    pub outputs: Vec<Loc>,
    /// Scratch arena size in f32 elements (what the generated code asks the caller for).
    pub arena_len: usize,
    /// The least any plan can use: the largest sum of (aligned) arena values live at one step.
    pub lower_bound: usize,
    /// For a chain: the arena of the previous planner, which put activations alternately at
    /// the two ends of the arena (the largest adjacent pair). `None` for other graphs.
    pub two_ended_len: Option<usize>,
    /// The naive plan: every activation (input included) in its own buffer.
    pub naive_len: usize,
    /// Offsets are aligned to this many f32 elements (the runtime's `arena::ALIGN`).
    pub align: usize,
}

impl MemoryPlan {
    pub fn arena_bytes(&self) -> u64 {
        self.arena_len as u64 * 4
    }
}

/// A buffer: the values sharing it, its size and live interval (in layer steps).
struct Buffer {
    size: usize,
    first: usize,
    last: usize,
    loc: Option<Loc>,
}

/// Plan the values of `layers` (in execution order); `fused[i]` is set for a layer that runs
/// in one call with the next ([`crate::fuse::fused_pairs`]): its output gets no buffer, and its
/// input stays live through that call.
pub fn plan_memory(
    layers: &[Layer],
    values: &[Value],
    input: ValueId,
    output: ValueId,
    fused: &[Option<usize>],
) -> MemoryPlan {
    let align = mobilenet_runtime::arena::ALIGN;
    let round = |n: usize| n.div_ceil(align) * align;
    let n = values.len();
    let producer: Vec<Option<usize>> = (0..n)
        .map(|v| layers.iter().position(|l| l.output_value == v))
        .collect();
    let mut last_use: Vec<Option<usize>> = (0..n)
        .map(|v| layers.iter().rposition(|l| l.inputs.contains(&v)))
        .collect();
    let fused_out = |i: usize| fused.get(i).is_some_and(|f| f.is_some());
    for (i, l) in layers.iter().enumerate() {
        if fused_out(i) {
            for &v in &l.inputs {
                last_use[v] = last_use[v].max(Some(i + 1));
            }
        }
    }

    // Buffers: each value its own, except an in-place output joining its preloaded input's
    // buffer when the input dies at that layer (and is not the caller's input).
    let mut buffer_of: Vec<usize> = vec![usize::MAX; n];
    let mut buffers: Vec<Buffer> = Vec::new();
    let step_of = |v: ValueId| producer[v].unwrap_or(0);
    let new_buffer = |buffers: &mut Vec<Buffer>, v: ValueId| {
        buffers.push(Buffer {
            size: round(values[v].len()),
            first: step_of(v),
            last: last_use[v].unwrap_or(step_of(v)).max(step_of(v)),
            loc: None,
        });
        buffers.len() - 1
    };
    buffer_of[input] = new_buffer(&mut buffers, input);
    buffers[buffer_of[input]].loc = Some(Loc::Input);
    for (i, l) in layers.iter().enumerate() {
        let out = l.output_value;
        let pre =
            l.op.def()
                .kernel(l)
                .form
                .preloaded_input()
                .map(|k| l.inputs[k]);
        match pre {
            Some(src)
                if buffer_of[src] != buffer_of[input]
                    && last_use[src] == Some(i)
                    && values[src].len() == values[out].len()
                    // The second layer of a fused pair writes while the first one's input is
                    // still read (a skip that is the depthwise layer's own input is copied).
                    && !(i > 0 && fused_out(i - 1) && layers[i - 1].inputs.contains(&src)) =>
            {
                let b = buffer_of[src];
                buffer_of[out] = b;
                let last = last_use[out].unwrap_or(i).max(i);
                buffers[b].last = buffers[b].last.max(last);
            }
            _ if fused_out(i) => {
                buffers.push(Buffer {
                    size: 0,
                    first: i,
                    last: i,
                    loc: Some(Loc::Fused),
                });
                buffer_of[out] = buffers.len() - 1;
            }
            _ => buffer_of[out] = new_buffer(&mut buffers, out),
        }
    }
    if output != input {
        buffers[buffer_of[output]].loc = Some(Loc::Output);
    }

    // Greedy: each buffer in turn at the lowest offset clear of every placed buffer it is live
    // with. The order matters; a few orders are tried and the smallest arena kept: largest
    // first (TFLite's "greedy by size") usually wins, longest-lived first (skip connections
    // placed before the short-lived expansions around them) wins on some v2 widths.
    let unplaced: Vec<usize> = (0..buffers.len())
        .filter(|&b| buffers[b].loc.is_none())
        .collect();
    let key = |b: usize| (buffers[b].size, buffers[b].first, buffers[b].last);
    let orders: [&dyn Fn(usize, usize) -> std::cmp::Ordering; 5] = [
        // Largest first, earliest first among equals.
        &|a, b| key(b).0.cmp(&key(a).0).then(key(a).1.cmp(&key(b).1)),
        // Largest first, longest-lived first among equals.
        &|a, b| {
            key(b)
                .0
                .cmp(&key(a).0)
                .then((key(b).2 - key(b).1).cmp(&(key(a).2 - key(a).1)))
        },
        // Largest size x lifetime first.
        &|a, b| {
            let area = |k: (usize, usize, usize)| k.0 * (k.2 - k.1 + 1);
            area(key(b))
                .cmp(&area(key(a)))
                .then(key(a).1.cmp(&key(b).1))
        },
        // Longest-lived first (skip connections), then largest.
        &|a, b| {
            (key(b).2 - key(b).1)
                .cmp(&(key(a).2 - key(a).1))
                .then(key(b).0.cmp(&key(a).0))
        },
        // In execution order.
        &|a, b| key(a).1.cmp(&key(b).1).then(key(b).0.cmp(&key(a).0)),
    ];
    let mut best: Option<(usize, Vec<(usize, usize)>)> = None;
    for cmp in orders {
        let mut order = unplaced.clone();
        order.sort_by(|&a, &b| cmp(a, b));
        let (len, offsets) = greedy(&buffers, &order);
        if best.as_ref().is_none_or(|(l, _)| len < *l) {
            best = Some((len, offsets));
        }
    }
    let (arena_len, offsets) = best.unwrap_or_default();
    for (b, offset) in offsets {
        buffers[b].loc = Some(Loc::Arena { offset, len: 0 });
    }

    let loc_of = |v: ValueId| match buffers[buffer_of[v]].loc.expect("every buffer is placed") {
        Loc::Arena { offset, .. } => Loc::Arena {
            offset,
            len: values[v].len(),
        },
        other => other,
    };
    let value_locs: Vec<Loc> = (0..n).map(loc_of).collect();
    let outputs = layers.iter().map(|l| value_locs[l.output_value]).collect();

    // Lower bound: the most arena bytes live at one step.
    let arena_buffers: Vec<&Buffer> = buffers
        .iter()
        .filter(|b| matches!(b.loc, Some(Loc::Arena { .. })))
        .collect();
    let lower_bound = (0..layers.len())
        .map(|t| {
            arena_buffers
                .iter()
                .filter(|b| b.first <= t && t <= b.last)
                .map(|b| b.size)
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);

    // The previous, two-ended plan, for chains: the largest adjacent pair of arena buffers.
    let two_ended_len = is_chain(layers, input).then(|| {
        let mut sizes: Vec<usize> = Vec::new();
        for l in layers {
            let b = buffer_of[l.output_value];
            if matches!(buffers[b].loc, Some(Loc::Arena { .. }))
                && !l.in_place
                && l.output_value != output
            {
                sizes.push(buffers[b].size);
            }
        }
        let mut m = sizes.iter().copied().max().unwrap_or(0);
        for w in sizes.windows(2) {
            m = m.max(w[0] + w[1]);
        }
        m
    });
    let naive_len = values[input].len()
        + layers
            .iter()
            .filter(|l| !l.in_place)
            .map(|l| values[l.output_value].len())
            .sum::<usize>();
    MemoryPlan {
        values: value_locs,
        outputs,
        arena_len,
        lower_bound,
        two_ended_len,
        naive_len,
        align,
    }
}

/// Place `order`'s buffers one by one at the lowest offset clear of every already placed
/// buffer whose live interval intersects theirs. Returns the arena length and the offsets.
fn greedy(buffers: &[Buffer], order: &[usize]) -> (usize, Vec<(usize, usize)>) {
    let mut placed: Vec<(usize, usize)> = Vec::new(); // (buffer, offset)
    let mut arena_len = 0;
    for &b in order {
        let (first, last, size) = (buffers[b].first, buffers[b].last, buffers[b].size);
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&(o, _)| buffers[o].first <= last && first <= buffers[o].last)
            .map(|&(o, off)| (off, off + buffers[o].size))
            .collect();
        busy.sort_unstable();
        let mut offset = 0;
        for (lo, hi) in busy {
            if offset + size <= lo {
                break;
            }
            offset = offset.max(hi);
        }
        placed.push((b, offset));
        arena_len = arena_len.max(offset + size);
    }
    (arena_len, placed)
}

/// True when every layer reads just the previous layer's output (the first: `input`).
pub fn is_chain(layers: &[Layer], input: ValueId) -> bool {
    let mut prev = input;
    layers.iter().all(|l| {
        let ok = l.inputs == [prev];
        prev = l.output_value;
        ok
    })
}
