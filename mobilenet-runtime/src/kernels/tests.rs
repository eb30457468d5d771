//! Kernels against deliberately naive references that share no code with
//! them: the convolution reference materializes the padded input and sums in
//! `f64` with the output channel outermost; depthwise, pointwise and pooling
//! references are expressed through that convolution reference.

extern crate std;

use super::*;
use crate::{ACT_NONE, ACT_RELU, ACT_RELU6};
use std::vec;
use std::vec::Vec;

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u32 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn act_ref(act: u8, x: f64) -> f64 {
    match act {
        ACT_NONE => x,
        ACT_RELU => x.max(0.0),
        ACT_RELU6 => x.clamp(0.0, 6.0),
        _ => unreachable!(),
    }
}

#[derive(Clone, Copy, Debug)]
struct ConvShape {
    h: usize,
    w: usize,
    ci: usize,
    ho: usize,
    wo: usize,
    co: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    pt: usize,
    pl: usize,
    act: u8,
}

/// Expected value and the sum of absolute values of all terms (for an
/// error bound), per output element.
type Expected = Vec<(f64, f64)>;

/// Naive convolution: builds the zero-padded input explicitly (padding at
/// the bottom/right as far as the output shape requires), then sums.
fn ref_conv2d(s: &ConvShape, input: &[f32], w: &[f32], b: &[f32]) -> Expected {
    let need_h = (s.ho - 1) * s.sh + s.kh;
    let need_w = (s.wo - 1) * s.sw + s.kw;
    let hp = need_h.max(s.pt + s.h);
    let wp = need_w.max(s.pl + s.w);
    let mut padded = vec![0.0f64; hp * wp * s.ci];
    for y in 0..s.h {
        for x in 0..s.w {
            for c in 0..s.ci {
                padded[((y + s.pt) * wp + (x + s.pl)) * s.ci + c] =
                    input[(y * s.w + x) * s.ci + c] as f64;
            }
        }
    }
    let mut out = vec![(0.0, 0.0); s.ho * s.wo * s.co];
    for co in 0..s.co {
        for oy in 0..s.ho {
            for ox in 0..s.wo {
                let mut sum = b[co] as f64;
                let mut mag = sum.abs();
                for ky in 0..s.kh {
                    for kx in 0..s.kw {
                        for ci in 0..s.ci {
                            let a = padded[((oy * s.sh + ky) * wp + ox * s.sw + kx) * s.ci + ci];
                            let wt = w[((ky * s.kw + kx) * s.ci + ci) * s.co + co] as f64;
                            sum += a * wt;
                            mag += (a * wt).abs();
                        }
                    }
                }
                out[(oy * s.wo + ox) * s.co + co] = (act_ref(s.act, sum), mag);
            }
        }
    }
    out
}

/// Depthwise as a full convolution with a block-diagonal HWIO weight.
fn ref_depthwise(s: &ConvShape, input: &[f32], w: &[f32], b: &[f32]) -> Expected {
    let c = s.ci;
    let mut full = vec![0.0f32; s.kh * s.kw * c * c];
    for k in 0..s.kh * s.kw {
        for ch in 0..c {
            full[(k * c + ch) * c + ch] = w[k * c + ch];
        }
    }
    ref_conv2d(&ConvShape { co: c, ..*s }, input, &full, b)
}

/// An output buffer with canaries on both sides: a kernel gets exactly `len` NaN-filled elements
/// (every one must be overwritten), and a write outside them is caught by [`Guarded::check`]
/// instead of corrupting the heap silently.
struct Guarded {
    buf: Vec<f32>,
    len: usize,
}

impl Guarded {
    const GUARD: usize = 64;
    const CANARY: f32 = -12345.5;

    fn new(len: usize) -> Self {
        let mut buf = vec![Self::CANARY; len + 2 * Self::GUARD];
        buf[Self::GUARD..Self::GUARD + len].fill(f32::NAN);
        Guarded { buf, len }
    }

    fn out(&mut self) -> &mut [f32] {
        &mut self.buf[Self::GUARD..Self::GUARD + self.len]
    }

    /// The output, after checking that nothing around it was written.
    fn check(&self, what: &str) -> &[f32] {
        let (before, rest) = self.buf.split_at(Self::GUARD);
        let (out, after) = rest.split_at(self.len);
        for (side, guard) in [("before", before), ("after", after)] {
            assert!(
                guard.iter().all(|&v| v == Self::CANARY),
                "{what}: the kernel wrote {side} its output slice"
            );
        }
        out
    }
}

fn assert_close(got: &[f32], want: &Expected, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &(v, mag))) in got.iter().zip(want).enumerate() {
        let tol = 1e-6 * (mag + 1.0);
        assert!(
            (g as f64 - v).abs() <= tol,
            "{what}: element {i}: got {g}, want {v} (tolerance {tol:e})"
        );
    }
}

/// Runs `kernel::<...>(args)` with the variant of `isa` (which must be supported).
macro_rules! run_isa {
    ($isa:expr, $name:ident::<$($g:tt),*>($($arg:expr),*)) => {{
        let isa: Isa = $isa;
        assert!(isa.is_supported(), "{isa} is not supported here");
        call_isa!(isa, $name::<$($g),*>($($arg),*))
    }};
}

/// `[CI][CO]` weights rearranged into the pointwise kernel's 16-channel panels.
fn panels(w: &[f32], ci: usize, co: usize) -> Vec<f32> {
    let mut out = vec![0.0; crate::pack::pointwise_len(ci, co)];
    for i in 0..ci {
        for o in 0..co {
            out[(o / 16 * ci + i) * 16 + o % 16] = w[i * co + o];
        }
    }
    out
}

/// Every instruction set this CPU can run; each kernel case below runs once per entry.
fn isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
}

macro_rules! conv_case {
    ($h:literal, $w:literal, $ci:literal, $ho:literal, $wo:literal, $co:literal,
     $kh:literal, $kw:literal, $sh:literal, $sw:literal, $pt:literal, $pl:literal, $act:ident) => {{
        let s = ConvShape {
            h: $h,
            w: $w,
            ci: $ci,
            ho: $ho,
            wo: $wo,
            co: $co,
            kh: $kh,
            kw: $kw,
            sh: $sh,
            sw: $sw,
            pt: $pt,
            pl: $pl,
            act: $act,
        };
        let mut rng = Rng::new(($h * 1009 + $w * 101 + $ci * 13 + $co * 7 + $kh) as u64);
        let input = rng.vec($h * $w * $ci);
        // Scale weights up so that ReLU6 actually clips some outputs.
        let weights: Vec<f32> = rng
            .vec($kh * $kw * $ci * $co)
            .iter()
            .map(|v| v * 3.0)
            .collect();
        let bias = rng.vec($co);
        let want = ref_conv2d(&s, &input, &weights, &bias);
        for isa in isas() {
            let mut out = Guarded::new($ho * $wo * $co);
            run_isa!(
                isa,
                conv2d::<$h, $w, $ci, $ho, $wo, $co, $kh, $kw, $sh, $sw, $pt, $pl, { $act }>(
                    &input,
                    &weights,
                    &bias,
                    out.out()
                )
            );
            let what = std::format!("{isa} conv2d {s:?}");
            assert_close(out.check(&what), &want, &what);
            // Split in 2, 3 and 5 parts (as threads would run it): the same bits.
            assert_parts(out.check(&what), None, &what, |y, part| {
                #[rustfmt::skip]
                run_isa!(
                    isa,
                    conv2d_part::<$h, $w, $ci, $ho, $wo, $co, $kh, $kw, $sh, $sw, $pt, $pl, { $act }>(
                        &input,
                        &weights,
                        &bias,
                        y,
                        part
                    )
                );
            });
        }
    }};
}

macro_rules! depthwise_case {
    ($h:literal, $w:literal, $c:literal, $ho:literal, $wo:literal,
     $kh:literal, $kw:literal, $sh:literal, $sw:literal, $pt:literal, $pl:literal, $act:ident) => {{
        let s = ConvShape {
            h: $h,
            w: $w,
            ci: $c,
            ho: $ho,
            wo: $wo,
            co: $c,
            kh: $kh,
            kw: $kw,
            sh: $sh,
            sw: $sw,
            pt: $pt,
            pl: $pl,
            act: $act,
        };
        let mut rng = Rng::new(($h * 1013 + $w * 103 + $c * 11 + $kw) as u64);
        let input = rng.vec($h * $w * $c);
        let weights: Vec<f32> = rng.vec($kh * $kw * $c).iter().map(|v| v * 4.0).collect();
        let bias = rng.vec($c);
        let want = ref_depthwise(&s, &input, &weights, &bias);
        for isa in isas() {
            let mut out = Guarded::new($ho * $wo * $c);
            run_isa!(
                isa,
                depthwise::<$h, $w, $c, $ho, $wo, $kh, $kw, $sh, $sw, $pt, $pl, { $act }>(
                    &input,
                    &weights,
                    &bias,
                    out.out()
                )
            );
            let what = std::format!("{isa} depthwise {s:?}");
            assert_close(out.check(&what), &want, &what);
            // Split in 2, 3 and 5 parts (as threads would run it): the same bits.
            assert_parts(out.check(&what), None, &what, |y, part| {
                #[rustfmt::skip]
                run_isa!(
                    isa,
                    depthwise_part::<$h, $w, $c, $ho, $wo, $kh, $kw, $sh, $sw, $pt, $pl, { $act }>(
                        &input,
                        &weights,
                        &bias,
                        y,
                        part
                    )
                );
            });
        }
    }};
}

/// Runs a kernel's `_part` variant in 2, 3 and 5 parts (as threads would run it), on an output
/// that starts as `init` when given, and checks that the parts together give `whole`'s bits.
fn assert_parts(whole: &[f32], init: Option<&[f32]>, what: &str, run: impl Fn(*mut f32, Part)) {
    for count in [2, 3, 5] {
        let mut parts = Guarded::new(whole.len());
        if let Some(init) = init {
            parts.out().copy_from_slice(init);
        }
        for index in 0..count {
            run(parts.out().as_mut_ptr(), Part { index, count });
        }
        let what = std::format!("{what} in {count} parts");
        assert_bits(parts.check(&what), whole, &what);
    }
}

/// Bit-identical outputs (a split call against the whole one).
fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: output {i}: {g} vs {w}");
    }
}

#[test]
fn conv2d_matches_reference() {
    // TF SAME, stride 2, even input: PT = PL = 0, one implied row/column of
    // padding at the bottom/right.
    conv_case!(8, 8, 3, 4, 4, 4, 3, 3, 2, 2, 0, 0, ACT_RELU6);
    // MobileNet stem shape (scaled down).
    conv_case!(16, 16, 3, 8, 8, 8, 3, 3, 2, 2, 0, 0, ACT_RELU);
    // Symmetric padding 1, stride 1, non-square.
    conv_case!(5, 7, 2, 5, 7, 3, 3, 3, 1, 1, 1, 1, ACT_NONE);
    // VALID.
    conv_case!(6, 5, 4, 4, 3, 2, 3, 3, 1, 1, 0, 0, ACT_RELU);
    // PyTorch-style stride 2, padding 1 on an odd input.
    conv_case!(7, 7, 3, 4, 4, 5, 3, 3, 2, 2, 1, 1, ACT_RELU6);
    // Asymmetric: different strides, kernel sizes and paddings per axis.
    conv_case!(7, 6, 3, 4, 6, 2, 3, 5, 2, 1, 1, 2, ACT_NONE);
    // Tiny: a single pixel and channel, everything else is padding.
    conv_case!(1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, ACT_NONE);
    // Padding larger than the input: some windows see a single input row.
    conv_case!(2, 3, 2, 4, 5, 3, 3, 3, 1, 1, 2, 2, ACT_NONE);
    // Padding so large that some windows miss the input entirely.
    conv_case!(2, 2, 1, 3, 3, 2, 2, 2, 2, 2, 2, 2, ACT_RELU);
    // 1x1 kernel with stride 2 (a strided projection).
    conv_case!(6, 4, 5, 3, 2, 3, 1, 1, 2, 2, 0, 0, ACT_NONE);
    // Kernel as large as the input (a dense layer in disguise).
    conv_case!(3, 3, 2, 1, 1, 4, 3, 3, 1, 1, 0, 0, ACT_RELU);
    // SIMD channel blocks: 32-wide, 8-wide, ragged, and more than one block.
    conv_case!(10, 10, 3, 5, 5, 32, 3, 3, 2, 2, 0, 0, ACT_RELU6);
    conv_case!(9, 9, 3, 5, 5, 8, 3, 3, 2, 2, 1, 1, ACT_RELU);
    conv_case!(6, 6, 4, 6, 6, 45, 3, 3, 1, 1, 1, 1, ACT_NONE);
    // A trailing block of more than three vectors but not four whole ones (AVX2: 29 % 32 = 29
    // channels, AVX-512: 61 % 64; 4 lanes: 45 % 16 = 13 above): once a missed tail.
    conv_case!(6, 6, 3, 6, 6, 29, 3, 3, 1, 1, 1, 1, ACT_RELU);
    conv_case!(5, 5, 3, 3, 3, 61, 3, 3, 2, 2, 1, 1, ACT_NONE);
    conv_case!(5, 5, 8, 5, 5, 72, 3, 3, 1, 1, 1, 1, ACT_RELU);
    // 16-lane blocks: a full 64-wide block plus 1, 2 and 3 trailing vectors; the wide-input
    // path (more than 64 input channels).
    conv_case!(7, 7, 3, 4, 4, 70, 3, 3, 2, 2, 1, 1, ACT_RELU6);
    conv_case!(6, 6, 2, 6, 6, 96, 3, 3, 1, 1, 1, 1, ACT_NONE);
    conv_case!(6, 5, 3, 3, 3, 112, 3, 3, 2, 2, 0, 0, ACT_RELU);
    conv_case!(4, 4, 70, 4, 4, 40, 3, 3, 1, 1, 1, 1, ACT_RELU);
}

#[test]
fn depthwise_matches_reference() {
    // TF SAME stride 2 on an even input: bottom/right pad 1 only.
    depthwise_case!(8, 8, 5, 4, 4, 3, 3, 2, 2, 0, 0, ACT_RELU6);
    // Stride 1, padding 1, non-square.
    depthwise_case!(7, 5, 3, 7, 5, 3, 3, 1, 1, 1, 1, ACT_RELU);
    // Single channel.
    depthwise_case!(6, 6, 1, 3, 3, 3, 3, 2, 2, 1, 1, ACT_NONE);
    // PyTorch stride 2 pad 1 on an odd input.
    depthwise_case!(9, 9, 4, 5, 5, 3, 3, 2, 2, 1, 1, ACT_RELU6);
    // Non-square kernel and asymmetric padding/strides.
    depthwise_case!(5, 8, 2, 3, 8, 3, 1, 2, 1, 1, 0, ACT_NONE);
    depthwise_case!(4, 6, 3, 4, 3, 5, 3, 1, 2, 2, 1, ACT_NONE);
    // Tiny.
    depthwise_case!(1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, ACT_RELU);
    // VALID 5x5.
    depthwise_case!(7, 7, 2, 3, 3, 5, 5, 1, 1, 0, 0, ACT_NONE);
    // SIMD channel blocks with and without a tail, wide enough for an interior.
    depthwise_case!(12, 12, 16, 12, 12, 3, 3, 1, 1, 1, 1, ACT_RELU);
    depthwise_case!(12, 12, 13, 6, 6, 3, 3, 2, 2, 0, 0, ACT_RELU6);
    depthwise_case!(11, 13, 24, 6, 7, 3, 3, 2, 2, 1, 1, ACT_NONE);
    depthwise_case!(10, 9, 8, 10, 9, 3, 3, 1, 1, 1, 1, ACT_RELU6);
    // Maps too large for the 16-lane dense buffer, several 16-channel blocks and a ragged one.
    depthwise_case!(30, 30, 20, 30, 30, 3, 3, 1, 1, 1, 1, ACT_RELU);
    depthwise_case!(29, 27, 40, 15, 14, 3, 3, 2, 2, 1, 1, ACT_RELU6);
    // Rows of 7, 14 and 28 (AVX-512 runs of 7, `vector::dw_px`): dense and in place, ragged
    // channels and line slices.
    depthwise_case!(7, 7, 33, 7, 7, 3, 3, 1, 1, 1, 1, ACT_NONE);
    depthwise_case!(14, 14, 200, 14, 14, 3, 3, 1, 1, 1, 1, ACT_RELU6);
    depthwise_case!(28, 28, 24, 28, 28, 3, 3, 1, 1, 1, 1, ACT_RELU);
    depthwise_case!(56, 56, 17, 28, 28, 3, 3, 2, 2, 0, 0, ACT_RELU);
    // Wide layers whose dense path works on cache-line slices (dw_slice), the last slice
    // ragged: one full and one partial vector (203 = 12 * 16 + 11), half a line (200), and a
    // map shorter than one run.
    depthwise_case!(9, 9, 203, 9, 9, 3, 3, 1, 1, 1, 1, ACT_RELU6);
    depthwise_case!(8, 8, 200, 4, 4, 3, 3, 2, 2, 0, 0, ACT_RELU);
    depthwise_case!(4, 4, 197, 4, 4, 3, 3, 1, 1, 1, 1, ACT_NONE);
    // Multiples of 512 channels, which AVX-512 convolves in place where the dense buffer
    // would fit (`vector::DW_ALIASED_C`); AVX2 keeps the dense path.
    depthwise_case!(7, 7, 512, 7, 7, 3, 3, 1, 1, 1, 1, ACT_RELU6);
    depthwise_case!(7, 7, 1024, 4, 4, 3, 3, 2, 2, 1, 1, ACT_NONE);
}

/// `pointwise` (or, with `add:`, `pointwise_add`, whose output buffer holds a residual on
/// entry) against `act(conv(x) + bias [+ residual])` in f64.
macro_rules! pointwise_case {
    ($hw:literal, $ci:literal, $co:literal, $act:ident) => {
        pointwise_case!(@run pointwise, pointwise_part, false, $hw, $ci, $co, $act)
    };
    (add: $hw:literal, $ci:literal, $co:literal, $act:ident) => {
        pointwise_case!(@run pointwise_add, pointwise_add_part, true, $hw, $ci, $co, $act)
    };
    (@run $kernel:ident, $part:ident, $residual:expr, $hw:literal, $ci:literal, $co:literal, $act:ident) => {{
        let s = ConvShape {
            h: $hw,
            w: 1,
            ci: $ci,
            ho: $hw,
            wo: 1,
            co: $co,
            kh: 1,
            kw: 1,
            sh: 1,
            sw: 1,
            pt: 0,
            pl: 0,
            act: ACT_NONE,
        };
        let mut rng = Rng::new(($hw * 31 + $ci * 7 + $co) as u64);
        let input = rng.vec($hw * $ci);
        let weights: Vec<f32> = rng.vec($ci * $co).iter().map(|v| v * 3.0).collect();
        let bias = rng.vec($co);
        let skip: Vec<f32> = rng.vec($hw * $co).iter().map(|v| v * 4.0).collect();
        let want: Expected = ref_conv2d(&s, &input, &weights, &bias)
            .iter()
            .zip(&skip)
            .map(|(&(v, mag), &r)| {
                let r = if $residual { r as f64 } else { 0.0 };
                (act_ref($act, v + r), mag + r.abs())
            })
            .collect();
        for isa in isas() {
            let mut out = Guarded::new($hw * $co);
            if $residual {
                out.out().copy_from_slice(&skip);
            }
            let packed = panels(&weights, $ci, $co);
            run_isa!(
                isa,
                $kernel::<$hw, $ci, $co, { $act }>(&input, &packed, &bias, out.out())
            );
            let what = std::format!("{isa} {} {s:?} act {}", stringify!($kernel), $act);
            assert_close(out.check(&what), &want, &what);
            // Split in 2, 3 and 5 parts (as threads would run it): the same bits.
            let init = if $residual { Some(&skip[..]) } else { None };
            assert_parts(out.check(&what), init, &what, |y, part| {
                run_isa!(
                    isa,
                    $part::<$hw, $ci, $co, { $act }>(
                        &input,
                        &packed,
                        &bias,
                        y,
                        part
                    )
                )
            });
        }
    }};
}

#[test]
fn pointwise_matches_reference() {
    pointwise_case!(1, 1, 1, ACT_NONE);
    pointwise_case!(12, 7, 5, ACT_RELU6);
    pointwise_case!(4, 32, 3, ACT_RELU);
    pointwise_case!(9, 3, 17, ACT_NONE);
    pointwise_case!(5, 1, 4, ACT_RELU);
    // SIMD tiles: every pixel remainder (HW % 6), 16-wide panels, 8-wide and ragged tails.
    pointwise_case!(6, 8, 16, ACT_RELU);
    pointwise_case!(7, 9, 24, ACT_RELU6);
    pointwise_case!(8, 16, 40, ACT_NONE);
    pointwise_case!(9, 5, 8, ACT_RELU);
    pointwise_case!(10, 4, 33, ACT_RELU);
    pointwise_case!(11, 12, 19, ACT_RELU6);
    pointwise_case!(49, 32, 64, ACT_RELU);
    // Weights too large for L2 blocking (panel-outer loop order), with a tail panel.
    pointwise_case!(13, 256, 200, ACT_RELU);
    pointwise_case!(14, 512, 104, ACT_NONE);
    // More input channels than one pass (KC) and than the in-place limit: the packed path with
    // partial sums carried across passes.
    pointwise_case!(7, 1100, 20, ACT_RELU6);
    // AVX-512 tiles (12 pixels x 2 panels): remainders mod 12, a two-panel tile plus a single
    // trailing panel, ragged last panels.
    pointwise_case!(3, 6, 48, ACT_RELU);
    pointwise_case!(15, 10, 72, ACT_RELU6);
    pointwise_case!(20, 17, 40, ACT_NONE);
    pointwise_case!(21, 3, 32, ACT_RELU);
    pointwise_case!(23, 8, 96, ACT_RELU);
    pointwise_case!(30, 16, 56, ACT_RELU6);
    pointwise_case!(31, 5, 33, ACT_NONE);
    pointwise_case!(25, 1030, 50, ACT_RELU);
    // Several input-channel passes with many output channels (the L2 order on AVX-512), and
    // with few (its weight-stationary passes, `vector::l1_passes`).
    pointwise_case!(37, 300, 300, ACT_RELU6);
    pointwise_case!(26, 600, 40, ACT_RELU);
}

/// The pixel blocks of `vector::pointwise_blocks` cover the layer exactly, every short block is
/// shorter than a full one, and a remainder is only cut when both halves keep enough
/// accumulators.
#[cfg(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[test]
fn pointwise_blocks_cover_every_pixel() {
    use super::vector::pointwise_blocks;
    for (mr, nv) in [(2, 4), (6, 2), (6, 4), (12, 2)] {
        for hw in 1..300 {
            let (full, t1, t2) = pointwise_blocks(hw, mr, nv);
            assert_eq!(full * mr + t1 + t2, hw, "mr {mr} nv {nv} hw {hw}");
            assert!(t1 < mr && t2 <= t1, "mr {mr} nv {nv} hw {hw}: {t1} {t2}");
            if t2 > 0 {
                assert!(
                    t2 * nv >= 8 && (hw % mr) * nv < 8,
                    "mr {mr} nv {nv} hw {hw}"
                );
            }
        }
    }
    // 7x7 maps on AVX-512: 4 x 12 + 1 becomes 3 x 12 + 7 + 6.
    assert_eq!(pointwise_blocks(49, 12, 2), (3, 7, 6));
    assert_eq!(pointwise_blocks(196, 12, 2), (16, 4, 0));
}

#[test]
fn pointwise_add_matches_reference() {
    pointwise_case!(add: 1, 1, 1, ACT_NONE);
    pointwise_case!(add: 26, 600, 40, ACT_RELU);
    pointwise_case!(add: 12, 7, 5, ACT_RELU6);
    // Every AVX2 (6) and AVX-512 (12) pixel remainder, single and paired panels, ragged tails.
    pointwise_case!(add: 7, 9, 24, ACT_NONE);
    pointwise_case!(add: 11, 12, 19, ACT_RELU);
    pointwise_case!(add: 23, 8, 96, ACT_NONE);
    pointwise_case!(add: 49, 96, 32, ACT_NONE);
    pointwise_case!(add: 31, 5, 33, ACT_RELU6);
    // Several input-channel passes: the residual must enter once, in the first pass only.
    pointwise_case!(add: 7, 1100, 20, ACT_NONE);
    pointwise_case!(add: 13, 576, 96, ACT_NONE);
}

#[test]
fn add_matches_reference() {
    fn case<const N: usize, const ACT: u8>() {
        let mut rng = Rng::new(N as u64 * 3 + ACT as u64);
        let (a, b) = (rng.vec(N), rng.vec(N));
        let want: Expected = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| {
                (
                    act_ref(ACT, x as f64 + y as f64),
                    (x.abs() + y.abs()) as f64,
                )
            })
            .collect();
        for isa in isas() {
            let mut out = Guarded::new(N);
            run_isa!(isa, add::<N, ACT>(&a, &b, out.out()));
            let what = std::format!("{isa} add {N} act {ACT}");
            assert_close(out.check(&what), &want, &what);
        }
    }
    case::<1, ACT_NONE>();
    case::<7, ACT_RELU>();
    case::<16, ACT_RELU6>();
    case::<33, ACT_NONE>();
    case::<1000, ACT_RELU>();
}

macro_rules! fc_case {
    ($in:literal, $out:literal, $act:ident) => {{
        let s = ConvShape {
            h: 1,
            w: 1,
            ci: $in,
            ho: 1,
            wo: 1,
            co: $out,
            kh: 1,
            kw: 1,
            sh: 1,
            sw: 1,
            pt: 0,
            pl: 0,
            act: $act,
        };
        let mut rng = Rng::new(($in * 37 + $out) as u64);
        let input = rng.vec($in);
        let weights: Vec<f32> = rng.vec($in * $out).iter().map(|v| v * 2.0).collect();
        let bias = rng.vec($out);
        let want = ref_conv2d(&s, &input, &weights, &bias);
        for isa in isas() {
            let mut out = Guarded::new($out);
            run_isa!(
                isa,
                fully_connected::<$in, $out, { $act }>(&input, &weights, &bias, out.out())
            );
            let what = std::format!("{isa} fc {s:?}");
            assert_close(out.check(&what), &want, &what);
            // Split in 2, 3 and 5 parts (as threads would run it): the same bits.
            assert_parts(out.check(&what), None, &what, |y, part| {
                run_isa!(
                    isa,
                    fully_connected_part::<$in, $out, { $act }>(&input, &weights, &bias, y, part)
                )
            });
            // A fully connected layer is a pointwise convolution of one pixel.
            let mut pw = Guarded::new($out);
            let packed = panels(&weights, $in, $out);
            run_isa!(
                isa,
                pointwise::<1, $in, $out, { $act }>(&input, &packed, &bias, pw.out())
            );
            let what = std::format!("{isa} fc as pointwise {s:?}");
            assert_close(pw.check(&what), &want, &what);
        }
    }};
}

#[test]
fn fully_connected_matches_reference() {
    fc_case!(1, 1, ACT_NONE);
    fc_case!(16, 10, ACT_NONE);
    fc_case!(3, 40, ACT_RELU);
    fc_case!(64, 7, ACT_RELU6);
    fc_case!(32, 1001, ACT_NONE);
    fc_case!(100, 130, ACT_RELU);
    fc_case!(20, 300, ACT_RELU6);
}

/// Average pooling as a depthwise convolution with constant weights.
fn ref_avgpool(s: &ConvShape, input: &[f32]) -> Expected {
    let w = vec![1.0 / (s.kh * s.kw) as f32; s.kh * s.kw * s.ci];
    ref_depthwise(s, input, &w, &vec![0.0; s.ci])
}

macro_rules! avgpool_case {
    ($h:literal, $w:literal, $c:literal, $ho:literal, $wo:literal,
     $kh:literal, $kw:literal, $sh:literal, $sw:literal) => {{
        let s = ConvShape {
            h: $h,
            w: $w,
            ci: $c,
            ho: $ho,
            wo: $wo,
            co: $c,
            kh: $kh,
            kw: $kw,
            sh: $sh,
            sw: $sw,
            pt: 0,
            pl: 0,
            act: ACT_NONE,
        };
        let input = Rng::new(($h * 7 + $w * 3 + $c) as u64).vec($h * $w * $c);
        let mut out = vec![f32::NAN; $ho * $wo * $c];
        avgpool::<$h, $w, $c, $ho, $wo, $kh, $kw, $sh, $sw>(&input, &mut out);
        assert_close(
            &out,
            &ref_avgpool(&s, &input),
            &std::format!("avgpool {s:?}"),
        );
    }};
}

#[test]
fn avgpool_matches_reference() {
    // MobileNet v1 head: 7x7 window over a 7x7 map.
    avgpool_case!(7, 7, 6, 1, 1, 7, 7, 1, 1);
    // 2x2 stride 2, non-square input.
    avgpool_case!(4, 6, 3, 2, 3, 2, 2, 2, 2);
    // Overlapping windows; the last input row/column is not covered.
    avgpool_case!(6, 6, 2, 2, 4, 3, 3, 2, 1);
    // Non-square window and strides.
    avgpool_case!(4, 5, 1, 2, 3, 2, 3, 2, 1);
}

#[test]
fn global_avgpool_matches_reference() {
    fn case<const HW: usize, const C: usize>() {
        let s = ConvShape {
            h: HW,
            w: 1,
            ci: C,
            ho: 1,
            wo: 1,
            co: C,
            kh: HW,
            kw: 1,
            sh: 1,
            sw: 1,
            pt: 0,
            pl: 0,
            act: ACT_NONE,
        };
        let input = Rng::new((HW * 5 + C) as u64).vec(HW * C);
        let want = ref_avgpool(&s, &input);
        for isa in isas() {
            let mut out = vec![f32::NAN; C];
            run_isa!(isa, global_avgpool::<HW, C>(&input, &mut out));
            assert_close(&out, &want, &std::format!("{isa} global_avgpool"));
        }
    }
    case::<49, 1024>();
    case::<4, 13>();
    case::<1, 1>();
    case::<49, 8>();
    case::<16, 3>();
    case::<5, 1>();
}

#[test]
fn softmax_matches_reference() {
    fn case<const N: usize>(x: &[f32]) {
        let max = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let exps: Vec<f64> = x.iter().map(|&v| (v as f64 - max).exp()).collect();
        let total: f64 = exps.iter().sum();
        for isa in isas() {
            let mut got = x.to_vec();
            run_isa!(isa, softmax::<N>(&mut got));
            let sum: f32 = got.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{isa} softmax sums to {sum}");
            for (g, e) in got.iter().zip(&exps) {
                let want = e / total;
                assert!(
                    (*g as f64 - want).abs() <= 1e-5 * want + 1e-12,
                    "{isa} softmax: got {g}, want {want}"
                );
            }
        }
    }
    case::<1>(&[3.0]);
    case::<4>(&[1.0, 2.0, 3.0, 4.0]);
    // Large logits would overflow exp without the max subtraction.
    case::<3>(&[1000.0, 1001.0, 999.0]);
    case::<3>(&[-1000.0, -1001.0, -999.0]);
    let mut rng = Rng::new(42);
    let x: Vec<f32> = rng.vec(1000).iter().map(|v| v * 30.0).collect();
    case::<1000>(&x);
    // Vector tails of every ISA, spreads wide enough to underflow, exact-zero differences.
    case::<5>(&rng.vec(5).iter().map(|v| v * 60.0).collect::<Vec<_>>());
    case::<13>(&rng.vec(13).iter().map(|v| v * 60.0).collect::<Vec<_>>());
    case::<16>(&rng.vec(16).iter().map(|v| v * 60.0).collect::<Vec<_>>());
    case::<31>(&rng.vec(31).iter().map(|v| v * 60.0).collect::<Vec<_>>());
    case::<39>(&rng.vec(39).iter().map(|v| v * 200.0).collect::<Vec<_>>());
    case::<24>(&[0.0; 24]);
    softmax::<0>(&mut []);
    let mut uniform = [5.0f32; 4];
    softmax::<4>(&mut uniform);
    assert_eq!(uniform, [0.25; 4]);
}

#[test]
fn the_best_supported_variant_is_active() {
    assert_eq!(active_isa(), best_isa());
    assert!(active_isa().is_supported());
    let input = Rng::new(9).vec(5 * 5 * 2);
    let weights = Rng::new(10).vec(3 * 3 * 2 * 3);
    let bias = Rng::new(11).vec(3);
    let mut a = [0.0; 3 * 3 * 3];
    let mut b = [1.0; 3 * 3 * 3];
    let before = calls(best_isa());
    conv2d::<5, 5, 2, 3, 3, 3, 3, 3, 2, 2, 1, 1, ACT_RELU>(&input, &weights, &bias, &mut a);
    assert!(
        calls(best_isa()) > before,
        "the dispatcher did not run the {} variant",
        best_isa()
    );
    run_isa!(
        best_isa(),
        conv2d::<5, 5, 2, 3, 3, 3, 3, 3, 2, 2, 1, 1, ACT_RELU>(&input, &weights, &bias, &mut b)
    );
    assert_eq!(a, b);
}

#[test]
fn zero_sized_dimensions_are_no_ops() {
    conv2d::<2, 2, 1, 0, 0, 3, 1, 1, 1, 1, 0, 0, ACT_NONE>(
        &[0.0; 4],
        &[0.0; 3],
        &[0.0; 3],
        &mut [],
    );
    conv2d::<2, 2, 1, 2, 2, 0, 1, 1, 1, 1, 0, 0, ACT_NONE>(&[0.0; 4], &[], &[], &mut []);
    depthwise::<2, 2, 0, 2, 2, 1, 1, 1, 1, 0, 0, ACT_NONE>(&[], &[], &[], &mut []);
    let mut out = [f32::NAN; 6];
    pointwise::<2, 0, 3, ACT_RELU>(&[], &[], &[1.0, -1.0, 7.0], &mut out);
    assert_eq!(out, [1.0, 0.0, 7.0, 1.0, 0.0, 7.0]);
    fully_connected::<3, 0, ACT_NONE>(&[1.0; 3], &[], &[], &mut []);
    global_avgpool::<4, 0>(&[], &mut []);
}

#[test]
#[should_panic(expected = "conv2d: `weights` has 10 elements but the layer shape requires 12")]
fn conv2d_rejects_wrong_weight_length() {
    conv2d::<2, 2, 1, 2, 2, 3, 2, 2, 1, 1, 0, 0, ACT_NONE>(
        &[0.0; 4],
        &[0.0; 10],
        &[0.0; 3],
        &mut [0.0; 12],
    );
}

#[test]
#[should_panic(expected = "depthwise: `out` has")]
fn depthwise_rejects_wrong_out_length() {
    depthwise::<2, 2, 1, 2, 2, 1, 1, 1, 1, 0, 0, ACT_NONE>(
        &[0.0; 4],
        &[0.0; 1],
        &[0.0; 1],
        &mut [0.0; 3],
    );
}

#[test]
#[should_panic(expected = "fully_connected: `input` has")]
fn fc_rejects_wrong_input_length() {
    fully_connected::<3, 2, ACT_NONE>(&[0.0; 2], &[0.0; 6], &[0.0; 2], &mut [0.0; 2]);
}

#[test]
#[should_panic(expected = "softmax: `x` has 2 elements")]
fn softmax_rejects_wrong_length() {
    softmax::<3>(&mut [0.0; 2]);
}

/// `depthwise_pointwise` (3x3 depthwise, then a pointwise of `$co` outputs, in bands of `$rows`
/// rows; with `add:` onto a residual the output holds on entry) against the same ISA's
/// `depthwise` and `pointwise` (`pointwise_add`) called one after the other: the same bits,
/// whole and in 2, 3 and 5 parts.
macro_rules! fused_case {
    ($h:literal, $w:literal, $c:literal, $ho:literal, $wo:literal, $s:literal, $p:literal,
     $co:literal, $rows:literal, $band:literal, $last:literal, $act:ident, $act2:ident) => {
        fused_case!(@run false, pointwise, $h, $w, $c, $ho, $wo, $s, $p, $co, $rows, $band, $last, $act, $act2)
    };
    (add: $h:literal, $w:literal, $c:literal, $ho:literal, $wo:literal, $s:literal, $p:literal,
     $co:literal, $rows:literal, $band:literal, $last:literal, $act:ident, $act2:ident) => {
        fused_case!(@run true, pointwise_add, $h, $w, $c, $ho, $wo, $s, $p, $co, $rows, $band, $last, $act, $act2)
    };
    (@run $res:literal, $pw:ident, $h:literal, $w:literal, $c:literal, $ho:literal, $wo:literal, $s:literal, $p:literal,
     $co:literal, $rows:literal, $band:literal, $last:literal, $act:ident, $act2:ident) => {{
        let mut rng = Rng::new(($h * 917 + $w * 31 + $c * 7 + $co) as u64);
        let input = rng.vec($h * $w * $c);
        let dw_w: Vec<f32> = rng.vec(9 * $c).iter().map(|v| v * 4.0).collect();
        let dw_b = rng.vec($c);
        let pw_w = panels(&rng.vec($c * $co), $c, $co);
        let pw_b = rng.vec($co);
        // The residual `out` holds on entry (with `add:`).
        let skip: Vec<f32> = rng.vec($ho * $wo * $co).iter().map(|v| v * 4.0).collect();
        let init = if $res { Some(&skip[..]) } else { None };
        for isa in isas() {
            let what = std::format!(
                "{isa} depthwise_pointwise {}x{}x{} -> {}x{}x{} rows {}",
                $h, $w, $c, $ho, $wo, $co, $rows
            );
            let mut mid = std::vec![0.0f32; $ho * $wo * $c];
            let mut want = init.map_or_else(|| std::vec![0.0f32; $ho * $wo * $co], <[f32]>::to_vec);
            run_isa!(
                isa,
                depthwise::<$h, $w, $c, $ho, $wo, 3, 3, $s, $s, $p, $p, { $act }>(
                    &input, &dw_w, &dw_b, &mut mid
                )
            );
            run_isa!(
                isa,
                $pw::<{ $ho * $wo }, $c, $co, { $act2 }>(&mid, &pw_w, &pw_b, &mut want)
            );
            let mut out = Guarded::new($ho * $wo * $co);
            if let Some(init) = init {
                out.out().copy_from_slice(init);
            }
            #[rustfmt::skip]
            run_isa!(
                isa,
                depthwise_pointwise::<$h, $w, $c, $ho, $wo, 3, 3, $s, $s, $p, $p, { $act }, $co, { $act2 }, $rows, $band, $last, $res>(
                    &input, &dw_w, &dw_b, &pw_w, &pw_b, out.out()
                )
            );
            assert_bits(out.check(&what), &want, &what);
            assert_parts(&want, init, &what, |y, part| {
                #[rustfmt::skip]
                run_isa!(
                    isa,
                    depthwise_pointwise_part::<$h, $w, $c, $ho, $wo, 3, 3, $s, $s, $p, $p, { $act }, $co, { $act2 }, $rows, $band, $last, $res>(
                        &input, &dw_w, &dw_b, &pw_w, &pw_b, y, part
                    )
                );
            });
        }
    }};
}

#[test]
fn depthwise_pointwise_matches_the_two_kernels() {
    // Bands that divide the rows; a short last band (stride 2, padding 1); a 28x28 map like
    // MobileNet's; wide ragged channels (line slices in the unfused depthwise).
    fused_case!(12, 12, 16, 12, 12, 1, 1, 24, 2, 24, 24, ACT_RELU6, ACT_RELU6);
    fused_case!(13, 11, 20, 7, 6, 2, 1, 40, 3, 18, 6, ACT_RELU, ACT_NONE);
    fused_case!(28, 28, 32, 28, 28, 1, 1, 64, 3, 84, 28, ACT_RELU6, ACT_RELU6);
    fused_case!(9, 9, 203, 9, 9, 1, 1, 17, 2, 18, 9, ACT_NONE, ACT_RELU);
    // With a residual in the output (MobileNet v2's projection and skip).
    fused_case!(add: 12, 12, 16, 12, 12, 1, 1, 24, 2, 24, 24, ACT_RELU6, ACT_NONE);
    fused_case!(add: 13, 11, 20, 7, 6, 2, 1, 40, 3, 18, 6, ACT_RELU, ACT_RELU);
    // The runtime's own band choice for a MobileNet v1 1.0/224 layer pair.
    assert_eq!(super::fused_band_rows(112, 112, 32), 4);
    assert_eq!(super::fused_band_rows(28, 28, 256), 2);
    assert_eq!(super::fused_band_rows(7, 7, 1024), 1);
    assert_eq!(super::fused_band_rows(4, 4096, 8), 0);
    assert_eq!(super::fused_last_rows(28, 3), 1);
}
