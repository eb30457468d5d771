//! The fixed-point softmax of TFLite's reference kernel (gemmlowp's fixed-point `exp` and
//! reciprocal). A value `Q<n>` below is an `i32` with `n` integer bits and `31 - n` fractional
//! bits; products of `Q<a>` and `Q<b>` are `Q<a + b>`, by the rounding doubling high multiply.

use super::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul as mul};

/// Multiplies `x` by `2^e`: a saturating left shift for `e > 0`, a rounding right shift for
/// `e < 0` (gemmlowp's `SaturatingRoundingMultiplyByPOT`).
fn mul_pot(x: i32, e: i32) -> i32 {
    if e > 0 {
        let threshold = (1i32 << (31 - e)) - 1;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x << e
        }
    } else if e < 0 {
        rounding_divide_by_pot(x, -e)
    } else {
        x
    }
}

/// `exp(a)` for `a` in `[-1/4, 0)`, `Q<0>` in and out: a 4th-order Taylor polynomial around
/// -1/8.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    let constant_term: i32 = 1_895_147_668; // exp(-1/8)
    let constant_1_over_3 = 715_827_883;
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = mul_pot(x4, -2);
    let poly = mul_pot(
        mul(x4_over_4.wrapping_add(x3), constant_1_over_3).wrapping_add(x2),
        -1,
    );
    constant_term.wrapping_add(mul(constant_term, x.wrapping_add(poly)))
}

/// `exp(a)` for `a <= 0`: `a` is `Q<INT_BITS>`, the result `Q<0>`.
fn exp_on_negative_values<const INT_BITS: i32>(a: i32) -> i32 {
    let frac_bits = 31 - INT_BITS;
    let one_quarter = 1i32 << (frac_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(mul_pot(
        a_mod_quarter_minus_one_quarter,
        INT_BITS,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // exp(-2^k) for k = -2..=4, Q<0>.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if INT_BITS > exponent {
            let shift = frac_bits + exponent;
            if remainder & (1i32 << shift) != 0 {
                result = mul(result, multiplier);
            }
        }
    }
    if a == 0 {
        i32::MAX
    } else {
        result
    }
}

/// `1 / (1 + x)` for `x` in `[0, 1)`, `Q<0>` in and out, by three Newton-Raphson steps.
fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    // (a + 1) / 2, rounded: gemmlowp's RoundingHalfSum with One() = i32::MAX.
    let sum = a as i64 + i32::MAX as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    let half_denominator = ((sum + sign) / 2) as i32;
    let constant_48_over_17: i32 = 1_515_870_810; // Q<2>
    let constant_neg_32_over_17 = -1_010_580_540; // Q<2>
    let mut x = constant_48_over_17.wrapping_add(mul(half_denominator, constant_neg_32_over_17));
    let one_q2 = 1i32 << 29;
    for _ in 0..3 {
        let half_denominator_times_x = mul(half_denominator, x);
        let one_minus = one_q2.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(mul_pot(mul(x, one_minus), 2));
    }
    // x / 2 as Q<1> (same bits), rescaled to Q<0>.
    mul_pot(x, 1)
}

/// The reciprocal of `x` (`Q<x_integer_digits>`, positive) as `Q<0>`, with the number of bits
/// it was shifted by (gemmlowp's `GetReciprocal`).
fn reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros() as i32;
    let num_bits_over_unit = x_integer_digits - headroom_plus_one;
    let shifted_sum_minus_one = ((x as u32) << headroom_plus_one).wrapping_sub(1u32 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

/// TFLite's quantized softmax of one row (`i8` storage; the output has scale 1/256 and
/// `output_zero_point`, -128 for the format's `i8` and `u8` outputs alike).
pub(crate) fn softmax(
    input: &[i8],
    input_beta_multiplier: i32,
    input_left_shift: i32,
    diff_min: i32,
    output_zero_point: i32,
    scaled_diff_integer_bits: i32,
    out: &mut [i8],
) {
    debug_assert_eq!(scaled_diff_integer_bits, 5);
    const ACCUMULATION_INTEGER_BITS: i32 = 12;
    const OUTPUT_BITS: i32 = 8;
    let Some(max) = input.iter().map(|&v| v as i32).max() else {
        return;
    };
    let min = input.iter().map(|&v| v as i32).min().unwrap_or(max);
    // Everything below depends on `v` only through `max - v` (0..=255): each distinct value's
    // exponential is computed once, into a table by `max - v`, then its output byte.
    let lowest = (min - max).max(diff_min);
    // Table entries in use: differences 0 down to `lowest`.
    let used = (1 - lowest).max(0) as usize;
    let mut exps = [0i32; 256];
    for (k, e) in exps.iter_mut().enumerate().take(used) {
        let diff = -(k as i32);
        *e = exp_on_negative_values::<5>(mul(
            diff.wrapping_mul(1i32 << input_left_shift),
            input_beta_multiplier,
        ));
    }
    let kept = |v: i8| -> Option<usize> {
        let diff = v as i32 - max;
        (diff >= diff_min).then_some((-diff) as usize)
    };
    let mut sum_of_exps = 0i32;
    for &v in input {
        if let Some(k) = kept(v) {
            sum_of_exps = sum_of_exps.wrapping_add(mul_pot(exps[k], -ACCUMULATION_INTEGER_BITS));
        }
    }
    let (shifted_scale, num_bits_over_unit) = reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
    let mut bytes = [-128i8; 256];
    for (b, &e) in bytes.iter_mut().zip(&exps).take(used) {
        let exponent = num_bits_over_unit + 31 - OUTPUT_BITS;
        let prod = mul(shifted_scale, e);
        // TFLite aborts beyond 31 (a sum of exponentials of 512 or more: hundreds of classes
        // tied at the maximum); the rounded quotient is then 0.
        let unsat = if exponent <= 31 {
            rounding_divide_by_pot(prod, exponent.max(0))
        } else {
            0
        };
        *b = (unsat + output_zero_point).clamp(-128, 127) as i8;
    }
    for (y, &v) in out.iter_mut().zip(input) {
        *y = kept(v).map_or(-128, |k| bytes[k]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// The per-element formula of TFLite's reference kernel, without the tables.
    fn softmax_direct(input: &[i8], beta: i32, left: i32, diff_min: i32, zp: i32, out: &mut [i8]) {
        let max = input.iter().map(|&v| v as i32).max().unwrap();
        let scaled = |v: i8| {
            let diff = v as i32 - max;
            (diff >= diff_min)
                .then(|| exp_on_negative_values::<5>(mul(diff.wrapping_mul(1 << left), beta)))
        };
        let sum = input
            .iter()
            .filter_map(|&v| scaled(v))
            .fold(0i32, |s, e| s.wrapping_add(mul_pot(e, -12)));
        let (scale, bits) = reciprocal(sum, 12);
        for (y, &v) in out.iter_mut().zip(input) {
            *y = scaled(v).map_or(-128, |e| {
                let exponent = bits + 31 - 8;
                let q = if exponent <= 31 {
                    rounding_divide_by_pot(mul(scale, e), exponent.max(0))
                } else {
                    0
                };
                (q + zp).clamp(-128, 127) as i8
            });
        }
    }

    #[test]
    fn tables_match_the_per_element_formula() {
        let mut seed = 9u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for round in 0..300 {
            let n = 1 + (next() % 1200) as usize;
            let spread = 1 + next() % 256;
            let base = (next() % 256) as i32 - 128;
            let input: Vec<i8> = (0..n)
                .map(|_| (base + (next() % spread) as i32).clamp(-128, 127) as i8)
                .collect();
            // Parameters as the packing derives them from the input scale.
            let q = |scale: f32| crate::quant::QuantParams {
                scale,
                zero_point: 0,
                unsigned: false,
            };
            let mut words = [0.0f32; crate::quant::SOFTMAX_PARAMS];
            let scale = 0.02 + (next() % 1000) as f32 * 5e-4;
            crate::quant::softmax_params(&q(scale), &q(1.0 / 256.0), &mut words).unwrap();
            let p = crate::quant::SoftmaxParams::read(&words);
            let (beta, left, diff_min) = (p.input_beta_multiplier, p.input_left_shift, p.diff_min);
            let zp = if round % 2 == 0 {
                -128
            } else {
                (next() % 256) as i32 - 128
            };
            let (mut got, mut want) = (vec![0i8; n], vec![0i8; n]);
            softmax(&input, beta, left, diff_min, zp, 5, &mut got);
            softmax_direct(&input, beta, left, diff_min, zp, &mut want);
            assert_eq!(got, want, "round {round}: n {n}, beta {beta}, shift {left}");
        }
    }
}
