//! Floating-point functions that `core` lacks (`sqrt`, `exp` live in `std`).

/// Correctly rounded square root of an `f64` (bit-identical to IEEE 754
/// `sqrt` under round-to-nearest-even).
///
/// `x` is split into an integer significand `m` and an even binary exponent
/// `e`, so that `sqrt(x) = sqrt(m) * 2^(e/2)` with `m` scaled to 105 or 106
/// bits. The integer square root of `m` is found by Newton iteration starting
/// from a power of two derived from the bit length of `m` (always at or above
/// the root, from where the iteration decreases monotonically onto
/// `floor(sqrt(m))`); the remainder then decides the final rounding exactly.
pub(crate) fn sqrt_f64(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 || x == f64::INFINITY {
        // Keeps the sign of -0.0, as IEEE 754 requires.
        return x;
    }
    let bits = x.to_bits();
    let biased_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    // x = mant * 2^exp with mant having its leading one at bit 52.
    let (mant, mut exp) = if biased_exp == 0 {
        // Subnormal: normalize so the leading one sits at bit 52.
        let shift = frac.leading_zeros() - 11;
        (frac << shift, -1074 - shift as i32)
    } else {
        (frac | (1u64 << 52), biased_exp - 1075)
    };
    let mut m = mant as u128;
    if exp & 1 != 0 {
        m <<= 1;
        exp -= 1;
    }
    // m in [2^52, 2^54); scale to [2^104, 2^106) so the root has 53 bits.
    m <<= 52;
    exp -= 52;
    let root = isqrt_u128(m);
    let rem = m - root * root;
    // sqrt(m) lies in [root, root + 1). Round up iff sqrt(m) > root + 1/2,
    // i.e. m > root^2 + root + 1/4, i.e. (integers) rem > root. A tie is
    // impossible because m is an integer.
    let root = if rem > root { root + 1 } else { root };
    // root <= 2^53 is exact as f64, and exp/2 is in [-589, 459], so the
    // power of two and the product are exact normal numbers.
    (root as f64) * pow2(exp / 2)
}

/// `floor(sqrt(n))` for `n < 2^127`, by Newton iteration.
fn isqrt_u128(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    let bits = 128 - n.leading_zeros();
    // n < 2^bits, so sqrt(n) < 2^(bits/2) <= 2^ceil(bits/2): a guess above
    // the root, within a factor of two of it.
    let mut x: u128 = 1 << bits.div_ceil(2);
    loop {
        let y = (x + n / x) >> 1;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// `2^k` for `k` in the normal exponent range `[-1022, 1023]`.
fn pow2(k: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `e^x` for `f32`, within one ulp of the correctly rounded result.
///
/// Evaluated in `f64`: `x = k ln2 + r` with `|r| <= ln2 / 2`, `e^r` by a
/// degree-11 Taylor polynomial (truncation error below 1e-14), scaled by `2^k`
/// built from bits. The final rounding to `f32` handles overflow to infinity
/// and gradual underflow.
pub(crate) fn exp_f32(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    // e^88.8 > f32::MAX; e^-104 < 2^-150, which rounds to zero.
    if x > 88.8 {
        return f32::INFINITY;
    }
    if x < -104.0 {
        return 0.0;
    }
    let xd = x as f64;
    let kf = xd * core::f64::consts::LOG2_E;
    // Round to nearest (the cast truncates towards zero).
    let k = if kf >= 0.0 {
        (kf + 0.5) as i32
    } else {
        (kf - 0.5) as i32
    };
    let r = xd - k as f64 * core::f64::consts::LN_2;
    // Horner form of sum_{n=0}^{11} r^n / n!.
    const INV_FACT: [f64; 12] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
    ];
    let mut p = INV_FACT[11];
    for &c in INV_FACT[..11].iter().rev() {
        p = p * r + c;
    }
    // k is in [-151, 129]: well inside the f64 normal range.
    (p * pow2(k)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn check_sqrt(x: f64) {
        let got = sqrt_f64(x);
        let want = x.sqrt();
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "sqrt({x:e}) = {got:e}, std says {want:e}"
        );
    }

    #[test]
    fn sqrt_special_values() {
        for x in [
            0.0,
            -0.0,
            1.0,
            2.0,
            4.0,
            0.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            f64::NAN,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::EPSILON,
            1.0 - f64::EPSILON / 2.0,
            1.0 + f64::EPSILON,
            1e-3,
            1e-5,
        ] {
            check_sqrt(x);
        }
        assert!(sqrt_f64(-0.0).is_sign_negative());
    }

    #[test]
    fn sqrt_matches_std_bit_for_bit() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        // Random positive finite bit patterns (normal and subnormal).
        for _ in 0..100_000 {
            let bits = xorshift(&mut s) & 0x7fff_ffff_ffff_ffff;
            let x = f64::from_bits(bits);
            if x.is_finite() {
                check_sqrt(x);
            }
        }
        // Subnormals specifically.
        for _ in 0..10_000 {
            check_sqrt(f64::from_bits(xorshift(&mut s) & 0x000f_ffff_ffff_ffff));
        }
        // Typical batch-norm variances.
        for _ in 0..100_000 {
            let v = (xorshift(&mut s) >> 11) as f64 / (1u64 << 53) as f64 * 10.0;
            check_sqrt(v);
            check_sqrt(v + 1e-3);
        }
        // Perfect squares and their neighbours.
        for i in 1..10_000u64 {
            let sq = (i * i) as f64;
            check_sqrt(sq);
            check_sqrt(f64::from_bits(sq.to_bits() + 1));
            check_sqrt(f64::from_bits(sq.to_bits() - 1));
        }
    }

    #[test]
    fn isqrt_is_floor_sqrt() {
        let mut s = 12345u64;
        for _ in 0..10_000 {
            let n = ((xorshift(&mut s) as u128) << 40) | xorshift(&mut s) as u128;
            let r = isqrt_u128(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "isqrt({n}) = {r}");
        }
        assert_eq!(isqrt_u128(0), 0);
        assert_eq!(isqrt_u128(1), 1);
        assert_eq!(isqrt_u128(3), 1);
        assert_eq!(isqrt_u128(4), 2);
    }

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_matches_std_within_one_ulp() {
        let mut s = 777u64;
        for i in 0..200_000 {
            let x = if i < 100_000 {
                // Uniform over the whole useful range.
                -104.0 + (xorshift(&mut s) >> 40) as f32 / (1u32 << 24) as f32 * 193.0
            } else {
                // Softmax inputs: small non-positive values.
                -((xorshift(&mut s) >> 40) as f32 / (1u32 << 24) as f32 * 20.0)
            };
            let got = exp_f32(x);
            let want = (x as f64).exp() as f32;
            assert!(ulps(got, want) <= 1, "exp({x}) = {got:e}, want {want:e}");
        }
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-200.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
    }
}
