//! Every int8 SIMD kernel against its scalar twin on every layer shape of the imported models
//! (the repository's tiny model always, the released MobileNets of `../shared` when present;
//! build.rs generates the list from their specs), with the exact const generics the generated
//! code instantiates, for every instruction set this CPU supports. Weights, quantization and
//! inputs are random (TFLite's two weight schemes: `u8` per tensor, `i8` per channel); outputs
//! must be equal. Each ISA is forced and the test fails if its kernels did not run.

use std::sync::Mutex;

use mobilenet_runtime::kernels::{self, Isa};
use mobilenet_runtime::pack::SrcLayout;
use mobilenet_runtime::quant::{
    add_params, conv_len, depthwise_len, pack_conv, pack_depthwise, pack_pointwise_as,
    pointwise_len, PointwiseLayout, QuantParams, WeightQuant,
};
use mobilenet_runtime::{ACT_NONE, ACT_RELU6};

mod shapes {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/q8_layer_shapes.rs"));
}

/// ISA forcing is process-wide: one forced section at a time.
static ISA_LOCK: Mutex<()> = Mutex::new(());

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 32) as u32
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn zero_point(&mut self) -> i32 {
        (self.next() % 256) as i32 - 128
    }
}

/// A seed per shape, so that every shape gets its own weights.
fn seed(what: &str) -> Rng {
    Rng(what.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }))
}

/// Random quantization of a conv-like layer whose outputs each sum `k` products: per-channel
/// `i8` or per-tensor `u8` weights, an output scale that keeps most outputs inside the range.
struct Layer {
    data: Vec<u8>,
    scales: Vec<u8>,
    zero_points: Vec<u8>,
    bias: Vec<u8>,
    input: QuantParams,
    output: QuantParams,
    act: u8,
    unsigned: bool,
}

impl Layer {
    fn new(rng: &mut Rng, n_weights: usize, k: usize, co: usize, unsigned: bool) -> Layer {
        let w_scale = |r: &mut Rng| 0.002 + (r.next() % 1000) as f32 * 1e-5;
        let scales: Vec<u8> = if unsigned {
            w_scale(rng).to_le_bytes().to_vec()
        } else {
            (0..co).flat_map(|_| w_scale(rng).to_le_bytes()).collect()
        };
        let input = QuantParams {
            scale: 0.02,
            zero_point: rng.zero_point(),
            unsigned: false,
        };
        // A sum of k products (inputs ~64 from their zero point; `i8` weights ~64, `u8`
        // weights ~128 from theirs), spread over ~40 output steps.
        let w = if unsigned { 128.0 } else { 64.0 };
        let scale = 0.02 * 0.007 * (k as f32).sqrt() * 64.0 * w / 40.0;
        // Half the layers with ReLU6 (TFLite's: zero point at the bottom of the range, 6.0
        // within it), half without an activation.
        let relu6 = rng.next().is_multiple_of(2);
        let output = QuantParams {
            scale,
            zero_point: if relu6 {
                -128 + (rng.next() % 8) as i32
            } else {
                rng.zero_point()
            },
            unsigned: false,
        };
        let act = if relu6 { ACT_RELU6 } else { ACT_NONE };
        Layer {
            data: rng.bytes(n_weights),
            zero_points: if unsigned {
                // Random bytes center on 128: a zero point near it keeps the sums centered.
                vec![(120 + rng.next() % 16) as u8]
            } else {
                vec![0; co]
            },
            scales,
            bias: (0..co)
                .flat_map(|_| ((rng.next() % 20001) as i32 - 10000).to_le_bytes())
                .collect(),
            input,
            output,
            act,
            unsigned,
        }
    }
    fn weights(&self, layout: SrcLayout) -> WeightQuant<'_> {
        WeightQuant {
            data: &self.data,
            layout,
            unsigned: self.unsigned,
            scales: &self.scales,
            zero_points: &self.zero_points,
        }
    }
}

/// `f`'s output with the scalar kernels forced (checked not to be constant).
fn reference(what: &str, out_len: usize, f: impl Fn(&mut [i8])) -> Vec<i8> {
    let _guard = ISA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    kernels::force_isa(Isa::Scalar).unwrap();
    let mut want = vec![0i8; out_len];
    f(&mut want);
    assert!(
        out_len < 8 || want.iter().any(|&v| v != want[0]),
        "{what}: a constant output ({}) tests little",
        want[0]
    );
    want
}

/// Runs `f` with every supported ISA forced (scalar too): each output must equal `want`, and
/// on x86 the int8 kernels of `ran(isa)` (when it names one) must have run.
fn compare_to(what: &str, want: &[i8], f: impl Fn(&mut [i8]), ran: impl Fn(Isa) -> Option<Isa>) {
    let _guard = ISA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for isa in Isa::ALL
        .into_iter()
        .filter(|i| i.is_supported() && i.is_dispatched())
    {
        kernels::force_isa(isa).unwrap();
        let expect = ran(isa).filter(|_| {
            isa != Isa::Scalar && cfg!(any(target_arch = "x86", target_arch = "x86_64"))
        });
        let before = expect.map(kernels::calls);
        let mut got = vec![0x55u8 as i8; want.len()];
        f(&mut got);
        if let (Some(e), Some(before)) = (expect, before) {
            assert!(
                kernels::calls(e) > before,
                "{what}: the {e} int8 kernel did not run with {isa} forced"
            );
        }
        if let Some(j) = (0..want.len()).find(|&j| got[j] != want[j]) {
            panic!(
                "{what} [{isa}] element {j}: {} vs scalar {}",
                got[j], want[j]
            );
        }
    }
    kernels::force_isa(Isa::Scalar).unwrap();
}

/// The ISA whose int8 kernel runs with `isa` forced (on x86): the AVX-512 variant where the
/// kernel has one (`avx512_variant`), AVX-512 is forced and the CPU has VNNI; else AVX2's.
fn int8_isa(isa: Isa, avx512_variant: bool) -> Isa {
    if avx512_variant && isa == Isa::Avx512 && kernels::vnni_supported() {
        Isa::Avx512
    } else {
        Isa::Avx2
    }
}

/// `n` inputs within 64 of the zero point `zp` (a real activation's spread around 0.0; uniform
/// bytes against a zero point far from their middle would bias every sum to one side).
fn input(rng: &mut Rng, n: usize, zp: i32) -> Vec<i8> {
    (0..n)
        .map(|_| (zp + (rng.next() % 129) as i32 - 64).clamp(-128, 127) as i8)
        .collect()
}

fn check_q8_pointwise<const HW: usize, const CI: usize, const CO: usize>() {
    for unsigned in [false, true] {
        let what = format!("q8_pointwise::<{HW}, {CI}, {CO}> u8 weights {unsigned}");
        let mut rng = seed(&what);
        let l = Layer::new(&mut rng, CI * CO, CI, CO, unsigned);
        let (wl, pl) = pointwise_len(CI, CO);
        let pack = |layout| {
            let (mut w, mut p) = (vec![0.0; wl], vec![0.0; pl]);
            pack_pointwise_as(
                layout,
                &l.weights(SrcLayout::Hwio),
                &l.bias,
                &l.input,
                &l.output,
                l.act,
                [CI, CO],
                &mut w,
                &mut p,
            )
            .expect("valid quantization");
            (w, p)
        };
        let x = input(&mut rng, HW * CI, l.input.zero_point);
        // The reference: the scalar kernel on the pairs layout; then both layouts under every
        // ISA (the quads one runs the AVX-512 VNNI kernel where the CPU has it, its scalar twin
        // elsewhere).
        let (w, p) = pack(PointwiseLayout::Pairs);
        let run = |w: &[f32], p: &[f32], out: &mut [i8]| {
            kernels::q8_pointwise::<HW, CI, CO>(&x, w, p, out)
        };
        let want = reference(&what, HW * CO, |out| run(&w, &p, out));
        compare_to(&what, &want, |out| run(&w, &p, out), |_| Some(Isa::Avx2));
        if CI.is_multiple_of(4) {
            let (wq, pq) = pack(PointwiseLayout::Quads);
            compare_to(
                &format!("{what} quads"),
                &want,
                |out| run(&wq, &pq, out),
                |isa| (isa == Isa::Avx512 && kernels::vnni_supported()).then_some(Isa::Avx512),
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_q8_depthwise<
    const H: usize,
    const W: usize,
    const C: usize,
    const HO: usize,
    const WO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
>() {
    for unsigned in [false, true] {
        let what = format!(
            "q8_depthwise::<{H}, {W}, {C}, {HO}, {WO}, {KH}, {KW}, {SH}, {SW}, {PT}, {PL}> u8 weights {unsigned}"
        );
        let mut rng = seed(&what);
        let l = Layer::new(&mut rng, KH * KW * C, KH * KW, C, unsigned);
        let (wl, pl) = depthwise_len(KH, KW, C);
        let (mut w, mut p) = (vec![0.0; wl], vec![0.0; pl]);
        pack_depthwise(
            &l.weights(SrcLayout::Hwc1),
            &l.bias,
            &l.input,
            &l.output,
            l.act,
            [KH, KW, C],
            &mut w,
            &mut p,
        )
        .expect("valid quantization");
        let x = input(&mut rng, H * W * C, l.input.zero_point);
        let f = |out: &mut [i8]| {
            kernels::q8_depthwise::<H, W, C, HO, WO, KH, KW, SH, SW, PT, PL>(&x, &w, &p, out)
        };
        // 3x3 layers run the AVX-512 kernel with AVX-512 forced on a VNNI CPU, else AVX2's.
        let want = reference(&what, HO * WO * C, f);
        compare_to(&what, &want, f, |isa| {
            Some(int8_isa(isa, KH == 3 && KW == 3))
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn check_q8_conv2d<
    const H: usize,
    const W: usize,
    const CI: usize,
    const HO: usize,
    const WO: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
>() {
    for unsigned in [false, true] {
        let what = format!(
            "q8_conv2d::<{H}, {W}, {CI}, {HO}, {WO}, {CO}, {KH}, {KW}, {SH}, {SW}, {PT}, {PL}> u8 weights {unsigned}"
        );
        let mut rng = seed(&what);
        let l = Layer::new(&mut rng, KH * KW * CI * CO, KH * KW * CI, CO, unsigned);
        let (wl, pl) = conv_len(KH, KW, CI, CO);
        let (mut w, mut p) = (vec![0.0; wl], vec![0.0; pl]);
        pack_conv(
            &l.weights(SrcLayout::Hwio),
            &l.bias,
            &l.input,
            &l.output,
            l.act,
            [KH, KW, CI, CO],
            &mut w,
            &mut p,
        )
        .expect("valid quantization");
        let x = input(&mut rng, H * W * CI, l.input.zero_point);
        let f = |out: &mut [i8]| {
            kernels::q8_conv2d::<H, W, CI, HO, WO, CO, KH, KW, SH, SW, PT, PL>(&x, &w, &p, out)
        };
        let want = reference(&what, HO * WO * CO, f);
        compare_to(&what, &want, f, |isa| {
            Some(int8_isa(isa, kernels::q8_conv2d_has_avx512(KH, KW, CI, CO)))
        });
    }
}

fn check_q8_add<const N: usize>() {
    let what = format!("q8_add::<{N}>");
    let mut rng = seed(&what);
    let q = |rng: &mut Rng, scale: f32| QuantParams {
        scale,
        zero_point: rng.zero_point(),
        unsigned: false,
    };
    let (a, b, o) = (q(&mut rng, 0.03), q(&mut rng, 0.05), q(&mut rng, 0.06));
    let mut p = vec![0.0; mobilenet_runtime::quant::ADD_PARAMS];
    add_params(&a, &b, &o, ACT_NONE, &mut p).expect("valid quantization");
    let (xa, xb) = (
        input(&mut rng, N, a.zero_point),
        input(&mut rng, N, b.zero_point),
    );
    let f = |out: &mut [i8]| kernels::q8_add::<N>(&xa, &xb, &[], &p, out);
    let want = reference(&what, N, f);
    compare_to(&what, &want, f, |isa| Some(int8_isa(isa, true)));
}

#[test]
fn every_int8_kernel_matches_scalar_on_every_imported_layer_shape() {
    eprintln!(
        "{} int8 kernel shapes{}",
        shapes::SHAPES,
        if cfg!(tflite_models) {
            ""
        } else {
            " (the tiny model's only: ../shared's models are not here)"
        }
    );
    const { assert!(shapes::SHAPES > 0, "build.rs found no int8 kernel shapes") };
    shapes::check_all_layer_shapes();
}
