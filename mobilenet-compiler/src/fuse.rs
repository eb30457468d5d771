//! Which layers the generated code runs fused: a depthwise layer and the pointwise layer that
//! reads its output, as one `kernels::depthwise_pointwise` call that computes bands of output
//! rows whose depthwise result stays in a buffer on the stack (the runtime's
//! `FUSED_BAND_FLOATS`, its band rows from `kernels::fused_band_rows`) instead of going through
//! the arena. Layers stay separate everywhere else (costs, reports, weights, the profile's
//! rows); only the calls merge.

use mobilenet_runtime::kernels::fused_band_rows;

use crate::ir::ValueId;
use crate::model::{ConvKind, Layer, Op};

/// Pointwise weights (bytes) up to which a pair is fused: each band re-reads them, so they
/// must stay in L2 (the first five pairs of MobileNet v1 1.0/224, 8-256 KiB; the later ones,
/// 0.5-4 MiB, read theirs once per layer instead: fusing the 14x14 pairs too, with their
/// 0.5-1 MiB weights, made v1 1.0/224 15% slower on one thread on the AVX-512 Xeon).
pub const MAX_PW_WEIGHT_BYTES: usize = 256 * 1024;

/// Depthwise output rows from which a pair is fused (at least 8 bands: [`fused_band_rows`]).
/// Measured on the AVX-512 Xeon (one run each, medians): v1 1.0/224 ~3% faster on one thread
/// (the 112x112 to 28x28 pairs: their depthwise output no longer goes through L2 and memory);
/// v1 0.25/128 on two threads 0.176 ms against 0.289 unfused (13 of its 27 fork-join barriers
/// gone; unfused, two threads were slower than one), on one thread ~1% slower (its small maps
/// lose the dense depthwise path). A pointwise layer with a fused residual add (v2's
/// projections) fuses too, its output holding the skip on entry: v2 1.0/224 on two threads
/// 3.36 -> 3.18 ms, on one thread within the noise.
pub const MIN_ROWS: usize = 8;

/// Per layer, `Some(rows)` when it is a depthwise layer run fused with the next layer (a
/// pointwise one) in bands of `rows` output rows.
pub fn fused_pairs(layers: &[Layer], output: ValueId) -> Vec<Option<usize>> {
    let mut fused = vec![None; layers.len()];
    for (i, pair) in layers.windows(2).enumerate() {
        let (dw, pw) = (&pair[0], &pair[1]);
        let (Op::Conv(d), Op::Conv(p)) = (&dw.op, &pw.op) else {
            continue;
        };
        let single_reader = layers
            .iter()
            .filter(|l| l.inputs.contains(&dw.output_value))
            .count()
            == 1;
        let candidate = d.kind == ConvKind::Depthwise
            && p.kind == ConvKind::Full
            && p.is_pointwise()
            && !dw.quantized
            && !pw.quantized
            && pw.inputs[0] == dw.output_value
            && single_reader
            && dw.output_value != output
            && p.cin * p.cout * 4 <= MAX_PW_WEIGHT_BYTES
            && dw.output.h >= MIN_ROWS
            // The previous layer's pair cannot overlap this one.
            && (i == 0 || fused[i - 1].is_none());
        if !candidate {
            continue;
        }
        let rows = fused_band_rows(dw.output.h, dw.output.w, dw.output.c);
        if rows > 0 {
            fused[i] = Some(rows);
        }
    }
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_fuses_its_large_depthwise_pointwise_pairs() {
        let text = include_str!("../../specs/v1_alpha100.toml");
        let net = crate::compile_str("v1_alpha100.toml", text).unwrap();
        let fused = fused_pairs(&net.layers, net.output_value);
        let names: Vec<&str> = net
            .layers
            .iter()
            .zip(&fused)
            .filter(|(_, f)| f.is_some())
            .map(|(l, _)| l.name.as_str())
            .collect();
        // 112x112, 56x56 (stride 2 from 112), 56x56, 28x28 (stride 2), 28x28: pointwise
        // weights 8-256 KiB; from 14x14 on the maps are small and the weights large.
        assert_eq!(names.len(), 5, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.contains("depthwise") || n.contains("dw")),
            "{names:?}"
        );
        for (l, f) in net.layers.iter().zip(&fused) {
            if let Some(rows) = f {
                assert!(l.output.h >= MIN_ROWS && *rows >= 1 && *rows <= l.output.h / 8);
            }
        }
    }
}
