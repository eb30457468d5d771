extern crate std;

use super::*;
use crate::kernels;
use crate::ACT_NONE;
use std::vec;
use std::vec::Vec;

fn le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn seq(n: usize, f: impl FnMut(usize) -> f32) -> Vec<f32> {
    (0..n).map(f).collect()
}

/// Deterministic pseudo-random values in [-1, 1).
fn noise(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    seq(n, |_| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    })
}

#[test]
fn oihw_to_hwio_hand_example() {
    // O = 2, I = 1, KH = 1, KW = 2: w[o][0][0][kx] = [[1, 2], [3, 4]].
    // HWIO is w[0][kx][0][o]: kx = 0 -> [1, 3], kx = 1 -> [2, 4].
    let src = le(&[1.0, 2.0, 3.0, 4.0]);
    let mut w = [0.0; 4];
    let mut b = [9.0; 2];
    pack_conv(
        &src,
        SrcLayout::Oihw,
        1,
        2,
        1,
        2,
        None,
        None,
        &mut w,
        &mut b,
    )
    .unwrap();
    assert_eq!(w, [1.0, 3.0, 2.0, 4.0]);
    assert_eq!(b, [0.0, 0.0]);
}

#[test]
fn oihw_to_hwio_every_index() {
    let (co, ci, kh, kw) = (3, 2, 2, 3);
    // Encode the OIHW coordinates in the value: 1000 o + 100 i + 10 y + x.
    let code = |o: usize, i: usize, y: usize, x: usize| (1000 * o + 100 * i + 10 * y + x) as f32;
    let mut oihw = Vec::new();
    for o in 0..co {
        for i in 0..ci {
            for y in 0..kh {
                for x in 0..kw {
                    oihw.push(code(o, i, y, x));
                }
            }
        }
    }
    let bias = le(&[0.5, -1.5, 2.5]);
    let mut w = vec![0.0; oihw.len()];
    let mut b = [0.0; 3];
    pack_conv(
        &le(&oihw),
        SrcLayout::Oihw,
        kh,
        kw,
        ci,
        co,
        Some(&bias),
        None,
        &mut w,
        &mut b,
    )
    .unwrap();
    for y in 0..kh {
        for x in 0..kw {
            for i in 0..ci {
                for o in 0..co {
                    assert_eq!(w[((y * kw + x) * ci + i) * co + o], code(o, i, y, x));
                }
            }
        }
    }
    assert_eq!(b, [0.5, -1.5, 2.5]);

    // HWIO is already the kernel layout: packing it is a copy.
    let mut again = vec![0.0; w.len()];
    pack_conv(
        &le(&w),
        SrcLayout::Hwio,
        kh,
        kw,
        ci,
        co,
        None,
        None,
        &mut again,
        &mut b,
    )
    .unwrap();
    assert_eq!(again, w);
}

#[test]
fn one_by_one_conv_accepts_matrix_layouts() {
    // [OUT = 2][IN = 3] -> [IN][OUT].
    let src = le(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut w = [0.0; 6];
    let mut b = [0.0; 2];
    pack_conv(
        &src,
        SrcLayout::OutIn,
        1,
        1,
        3,
        2,
        None,
        None,
        &mut w,
        &mut b,
    )
    .unwrap();
    assert_eq!(w, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    pack_conv(
        &src,
        SrcLayout::InOut,
        1,
        1,
        3,
        2,
        None,
        None,
        &mut w,
        &mut b,
    )
    .unwrap();
    assert_eq!(w, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let err = pack_conv(
        &src,
        SrcLayout::OutIn,
        1,
        2,
        3,
        1,
        None,
        None,
        &mut w,
        &mut b[..1],
    );
    assert_eq!(
        err,
        Err(PackError::UnsupportedLayout {
            kernel: "conv2d",
            layout: SrcLayout::OutIn
        })
    );
    let err = pack_conv(
        &src,
        SrcLayout::Hwc1,
        1,
        1,
        3,
        2,
        None,
        None,
        &mut w,
        &mut b,
    );
    assert!(matches!(err, Err(PackError::UnsupportedLayout { .. })));
}

/// Batch norm applied to a conv output, in f64, straight from its definition.
fn batch_norm_ref(
    y: f32,
    c: usize,
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
) -> f64 {
    (y as f64 - mean[c] as f64) / (var[c] as f64 + eps as f64).sqrt() * gamma[c] as f64
        + beta[c] as f64
}

#[test]
fn folded_conv_equals_conv_then_batch_norm() {
    const H: usize = 5;
    const CI: usize = 3;
    const CO: usize = 4;
    const K: usize = 3;
    let input = noise(H * H * CI, 1);
    let w_oihw: Vec<f32> = noise(CO * CI * K * K, 2).iter().map(|v| v * 2.0).collect();
    let conv_bias = noise(CO, 3);
    let gamma: Vec<f32> = noise(CO, 4).iter().map(|v| v * 1.5).collect();
    let beta = noise(CO, 5);
    let mean: Vec<f32> = noise(CO, 6).iter().map(|v| v * 0.5).collect();
    let var: Vec<f32> = noise(CO, 7).iter().map(|v| v * v * 4.0 + 0.01).collect();
    let eps = 1e-3;

    for with_bias in [false, true] {
        let bias_bytes = le(&conv_bias);
        let bias = with_bias.then_some(&bias_bytes[..]);
        // Plain conv (transposition only), then batch norm.
        let mut w = vec![0.0; K * K * CI * CO];
        let mut b = [0.0; CO];
        pack_conv(
            &le(&w_oihw),
            SrcLayout::Oihw,
            K,
            K,
            CI,
            CO,
            bias,
            None,
            &mut w,
            &mut b,
        )
        .unwrap();
        let mut plain = [0.0; H * H * CO];
        kernels::conv2d::<H, H, CI, H, H, CO, K, K, 1, 1, 1, 1, ACT_NONE>(
            &input, &w, &b, &mut plain,
        );

        // Folded conv.
        let (g, bt, m, v) = (le(&gamma), le(&beta), le(&mean), le(&var));
        let bn = BatchNorm {
            gamma: Some(&g),
            beta: Some(&bt),
            mean: &m,
            var: &v,
            eps,
        };
        pack_conv(
            &le(&w_oihw),
            SrcLayout::Oihw,
            K,
            K,
            CI,
            CO,
            bias,
            Some(&bn),
            &mut w,
            &mut b,
        )
        .unwrap();
        let mut folded = [0.0; H * H * CO];
        kernels::conv2d::<H, H, CI, H, H, CO, K, K, 1, 1, 1, 1, ACT_NONE>(
            &input,
            &w,
            &b,
            &mut folded,
        );

        for (idx, (&p, &f)) in plain.iter().zip(&folded).enumerate() {
            let want = batch_norm_ref(p, idx % CO, &gamma, &beta, &mean, &var, eps);
            assert!(
                (f as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                "bias {with_bias}, element {idx}: folded {f}, conv+bn {want}"
            );
        }
    }
}

#[test]
fn folding_formula_exact() {
    // One 1x1 channel, hand-checkable: scale = 2 / sqrt(3 + 1) = 1.
    // w' = 5 * 1, b' = (1 - 0.5) * 1 + 0.25 = 0.75.
    let (g, bt, m, v) = (le(&[2.0]), le(&[0.25]), le(&[0.5]), le(&[3.0]));
    let bn = BatchNorm {
        gamma: Some(&g),
        beta: Some(&bt),
        mean: &m,
        var: &v,
        eps: 1.0,
    };
    let mut w = [0.0];
    let mut b = [0.0];
    pack_conv(
        &le(&[5.0]),
        SrcLayout::Hwio,
        1,
        1,
        1,
        1,
        Some(&le(&[1.0])),
        Some(&bn),
        &mut w,
        &mut b,
    )
    .unwrap();
    assert_eq!((w, b), ([5.0], [0.75]));

    // gamma = None means 1 and beta = None means 0:
    // scale = 1 / sqrt(3 + 1) = 0.5, b' = (0 - 0.5) * 0.5 = -0.25.
    let bn = BatchNorm {
        gamma: None,
        beta: None,
        ..bn
    };
    pack_conv(
        &le(&[5.0]),
        SrcLayout::Hwio,
        1,
        1,
        1,
        1,
        None,
        Some(&bn),
        &mut w,
        &mut b,
    )
    .unwrap();
    assert_eq!((w, b), ([2.5], [-0.25]));
}

#[test]
fn depthwise_layouts_agree_and_fold_per_channel() {
    let (kh, kw, c) = (3, 2, 4);
    // Value encodes channel and tap: 10 * ch + k.
    let code = |ch: usize, k: usize| (10 * ch + k) as f32;
    let hwc1 = seq(kh * kw * c, |j| code(j % c, j / c));
    let ochw1 = seq(kh * kw * c, |j| code(j / (kh * kw), j % (kh * kw)));
    let mut a = vec![0.0; hwc1.len()];
    let mut b = vec![0.0; hwc1.len()];
    let mut bias = [0.0; 4];
    pack_depthwise(
        &le(&hwc1),
        SrcLayout::Hwc1,
        kh,
        kw,
        c,
        None,
        None,
        &mut a,
        &mut bias,
    )
    .unwrap();
    pack_depthwise(
        &le(&ochw1),
        SrcLayout::Ochw1,
        kh,
        kw,
        c,
        None,
        None,
        &mut b,
        &mut bias,
    )
    .unwrap();
    assert_eq!(a, hwc1);
    assert_eq!(b, hwc1);
    let mut d = vec![0.0; hwc1.len()];
    pack_depthwise(
        &le(&ochw1),
        SrcLayout::Oihw,
        kh,
        kw,
        c,
        None,
        None,
        &mut d,
        &mut bias,
    )
    .unwrap();
    assert_eq!(d, hwc1);

    // Folding scales every tap of channel ch by gamma[ch] / sqrt(var[ch] + eps).
    let gamma = [1.0, 2.0, -3.0, 0.5];
    let var = [0.0, 1.0, 8.0, 0.25];
    let mean = [1.0, -1.0, 0.0, 2.0];
    let (g, m, v) = (le(&gamma), le(&mean), le(&var));
    let bn = BatchNorm {
        gamma: Some(&g),
        beta: None,
        mean: &m,
        var: &v,
        eps: 1e-5,
    };
    let conv_bias = [0.25, 0.5, 0.75, 1.0];
    pack_depthwise(
        &le(&ochw1),
        SrcLayout::Ochw1,
        kh,
        kw,
        c,
        Some(&le(&conv_bias)),
        Some(&bn),
        &mut d,
        &mut bias,
    )
    .unwrap();
    for ch in 0..c {
        let scale = gamma[ch] as f64 / (var[ch] as f64 + 1e-5f32 as f64).sqrt();
        for k in 0..kh * kw {
            assert_eq!(d[k * c + ch], (code(ch, k) as f64 * scale) as f32);
        }
        assert_eq!(
            bias[ch],
            ((conv_bias[ch] as f64 - mean[ch] as f64) * scale) as f32
        );
    }

    let err = pack_depthwise(
        &le(&hwc1),
        SrcLayout::OutIn,
        kh,
        kw,
        c,
        None,
        None,
        &mut a,
        &mut bias,
    );
    assert!(matches!(
        err,
        Err(PackError::UnsupportedLayout {
            kernel: "depthwise",
            ..
        })
    ));
}

#[test]
fn fc_transposes_out_in() {
    // PyTorch Linear [OUT = 2][IN = 3] -> [IN][OUT].
    let src = le(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut w = [0.0; 6];
    let mut b = [7.0; 2];
    pack_fc(
        &src,
        SrcLayout::OutIn,
        3,
        2,
        Some(&le(&[0.5, 1.5])),
        &mut w,
        &mut b,
    )
    .unwrap();
    assert_eq!(w, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(b, [0.5, 1.5]);
    for layout in [SrcLayout::InOut, SrcLayout::Hwio] {
        pack_fc(&src, layout, 3, 2, None, &mut w, &mut b).unwrap();
        assert_eq!(w, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(b, [0.0, 0.0]);
    }
    pack_fc(&src, SrcLayout::Oihw, 3, 2, None, &mut w, &mut b).unwrap();
    assert_eq!(w, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert!(pack_fc(&src, SrcLayout::Hwc1, 3, 2, None, &mut w, &mut b).is_err());
}

#[test]
fn bad_lengths_are_errors_not_panics() {
    let src = le(&[0.0; 12]);
    let mut w = [0.0; 12];
    let mut b = [0.0; 3];
    // Weights: 2*2*1*3 = 12 values = 48 bytes.
    assert_eq!(
        pack_conv(
            &src[..44],
            SrcLayout::Oihw,
            2,
            2,
            1,
            3,
            None,
            None,
            &mut w,
            &mut b
        ),
        Err(PackError::SourceLength {
            operand: Operand::Weights,
            expected_bytes: 48,
            got_bytes: 44
        })
    );
    assert_eq!(
        pack_conv(
            &src,
            SrcLayout::Oihw,
            2,
            2,
            1,
            3,
            Some(&src[..8]),
            None,
            &mut w,
            &mut b
        ),
        Err(PackError::SourceLength {
            operand: Operand::Bias,
            expected_bytes: 12,
            got_bytes: 8
        })
    );
    let short = [0u8; 11];
    let ok = le(&[1.0; 3]);
    let bn = BatchNorm {
        gamma: None,
        beta: Some(&ok),
        mean: &ok,
        var: &short,
        eps: 1e-3,
    };
    assert_eq!(
        pack_conv(
            &src,
            SrcLayout::Hwio,
            2,
            2,
            1,
            3,
            None,
            Some(&bn),
            &mut w,
            &mut b
        ),
        Err(PackError::SourceLength {
            operand: Operand::Var,
            expected_bytes: 12,
            got_bytes: 11
        })
    );
    assert_eq!(
        pack_conv(
            &src,
            SrcLayout::Hwio,
            2,
            2,
            1,
            3,
            None,
            None,
            &mut w[..11],
            &mut b
        ),
        Err(PackError::DestLength {
            operand: Operand::Weights,
            expected: 12,
            got: 11
        })
    );
    assert_eq!(
        pack_depthwise(
            &src,
            SrcLayout::Hwc1,
            2,
            2,
            3,
            None,
            None,
            &mut w,
            &mut b[..2]
        ),
        Err(PackError::DestLength {
            operand: Operand::Bias,
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        pack_fc(&src, SrcLayout::OutIn, 5, 3, None, &mut w, &mut b),
        Err(PackError::SourceLength {
            operand: Operand::Weights,
            expected_bytes: 60,
            got_bytes: 48
        })
    );
    assert_eq!(
        pack_conv(
            &src,
            SrcLayout::Hwio,
            usize::MAX,
            2,
            1,
            3,
            None,
            None,
            &mut w,
            &mut b
        ),
        Err(PackError::SizeOverflow)
    );
    assert_eq!(
        pack_fc(
            &src,
            SrcLayout::InOut,
            usize::MAX / 2,
            1,
            None,
            &mut w,
            &mut b
        ),
        Err(PackError::SizeOverflow)
    );
    // Negative variance cannot be folded; nothing is written.
    let neg = le(&[1.0, -2.0, 1.0]);
    let bn = BatchNorm {
        gamma: None,
        beta: None,
        mean: &ok,
        var: &neg,
        eps: 1e-3,
    };
    let mut w = [42.0; 12];
    assert_eq!(
        pack_conv(
            &src,
            SrcLayout::Hwio,
            2,
            2,
            1,
            3,
            None,
            Some(&bn),
            &mut w,
            &mut b
        ),
        Err(PackError::InvalidVariance { channel: 1 })
    );
    assert_eq!(w, [42.0; 12]);
}

#[test]
fn error_messages() {
    let e = PackError::SourceLength {
        operand: Operand::Weights,
        expected_bytes: 48,
        got_bytes: 44,
    };
    assert_eq!(
        std::format!("{e}"),
        "weights source data has 44 bytes but the layer shape requires 48 bytes (12 little-endian f32 values)"
    );
    let e = PackError::UnsupportedLayout {
        kernel: "conv2d",
        layout: SrcLayout::OutIn,
    };
    assert_eq!(
        std::format!("{e}"),
        "source layout OUT_IN describes conv2d weights only when the kernel is 1x1"
    );
    let e = PackError::DestLength {
        operand: Operand::Bias,
        expected: 3,
        got: 2,
    };
    assert_eq!(
        std::format!("{e}"),
        "packed bias destination has 2 f32 elements but the layer shape requires 3"
    );
}
