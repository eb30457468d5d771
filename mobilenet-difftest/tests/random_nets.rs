//! Differential test of the compiler: random valid specs (build.rs, `random_specs.rs`: every
//! layer type, kernels, strides, paddings, alpha and rounding, both namings, v2 blocks with and
//! without residuals, fc or 1x1-conv heads, softmax or logits) with random weights, compiled by
//! `mobilenet!` into one crate, each run against a plain f64 interpreter of the analysed network
//! written here, independently of the kernels, the packing and the memory plan: it reads the
//! weights in their file layouts, folds nothing, keeps every value, and follows the graph's
//! value ids. `MOBILENET_RANDOM_NETS=N` (build time) sets the count (default 200).

use mobilenet_compiler::model::{ConvKind, Network, Role, TensorBinding};
use mobilenet_compiler::spec::Activation;
use mobilenet_compiler::Op;
use mobilenet_runtime::kernels::{self, Isa};
use mobilenet_runtime::pack::SrcLayout;
use safetensors::SafeTensors;

/// One generated network: its spec and weights files and its forward pass.
struct Net {
    name: &'static str,
    spec: &'static str,
    weights: &'static [u8],
    forward: fn(&[f32], &mut [f32]),
    input_len: usize,
    output_len: usize,
}

/// The table entry of generated module `$m` (build.rs writes the `mobilenet!` calls and the
/// `NETS` table of `net!` entries into OUT_DIR/random_nets.rs).
macro_rules! net {
    ($m:ident, $name:literal) => {
        Net {
            name: $name,
            spec: include_str!(concat!(env!("OUT_DIR"), "/random/", $name, ".toml")),
            weights: &$m::EMBEDDED_WEIGHTS.0,
            forward: |input, out| {
                let model = $m::Model::embedded();
                let mut scratch = $m::Model::new_scratch();
                let input = input.try_into().expect("input length");
                let out = out.try_into().expect("output length");
                model.forward(input, out, &mut scratch);
            },
            input_len: $m::INPUT_LEN,
            output_len: $m::OUTPUT_LEN,
        }
    };
}

include!(concat!(env!("OUT_DIR"), "/random_nets.rs"));

fn act(a: Activation, x: f64) -> f64 {
    match a {
        Activation::None => x,
        Activation::Relu => x.max(0.0),
        Activation::Relu6 => x.clamp(0.0, 6.0),
    }
}

fn tensor(st: &SafeTensors<'_>, t: &TensorBinding) -> Vec<f64> {
    let v = st
        .tensor(&t.name)
        .unwrap_or_else(|e| panic!("{}: {e}", t.name));
    assert_eq!(v.shape(), t.shape.as_slice(), "{}", t.name);
    v.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
        .collect()
}

/// The f64 reference forward pass of `net` on `input`.
fn reference(net: &Network, weights: &[u8], input: &[f32]) -> Vec<f64> {
    let st = SafeTensors::deserialize(weights).expect("weights parse");
    let mut vals: Vec<Option<Vec<f64>>> = vec![None; net.values.len()];
    vals[net.input_value] = Some(input.iter().map(|&x| x as f64).collect());
    for l in &net.layers {
        let get = |k: usize| {
            vals[l.inputs[k]]
                .clone()
                .expect("value computed before use")
        };
        let find = |r: Role| l.tensors.iter().find(|t| t.role == r);
        let (i, o) = (l.input, l.output);
        let y: Vec<f64> = match &l.op {
            Op::Convert { .. } => unreachable!("random nets are f32: no quantized conversions"),
            Op::Conv(c) => {
                let x = get(0);
                let wt = find(Role::Weight).unwrap();
                let w = tensor(&st, wt);
                let (kh, kw, ci, co) = (c.kh, c.kw, c.cin, c.cout);
                // Weight (output channel, input channel within its group, ky, kx) in the file's
                // own layout.
                let at = |oc: usize, ic: usize, ky: usize, kx: usize| -> f64 {
                    match wt.layout.unwrap() {
                        SrcLayout::Oihw => w[((oc * ci + ic) * kh + ky) * kw + kx],
                        SrcLayout::Hwio => w[((ky * kw + kx) * ci + ic) * co + oc],
                        SrcLayout::Ochw1 => w[(oc * kh + ky) * kw + kx],
                        SrcLayout::Hwc1 => w[(ky * kw + kx) * co + oc],
                        other => panic!("conv weight layout {other}"),
                    }
                };
                let bias = find(Role::Bias).map(|t| tensor(&st, t));
                let bn = c.batch_norm.map(|eps| {
                    let g = |r| tensor(&st, find(r).unwrap());
                    (
                        g(Role::BnGamma),
                        g(Role::BnBeta),
                        g(Role::BnMean),
                        g(Role::BnVar),
                        eps,
                    )
                });
                let skip = c.residual.then(|| get(1));
                let mut y = vec![0.0; o.len()];
                for oy in 0..o.h {
                    for ox in 0..o.w {
                        for oc in 0..co {
                            let mut s = 0.0;
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * c.sh + ky) as isize - c.pad.top as isize;
                                    let ix = (ox * c.sw + kx) as isize - c.pad.left as isize;
                                    if iy < 0 || ix < 0 || iy >= i.h as isize || ix >= i.w as isize
                                    {
                                        continue;
                                    }
                                    let px = (iy as usize * i.w + ix as usize) * i.c;
                                    match c.kind {
                                        ConvKind::Full => {
                                            for ic in 0..ci {
                                                s += x[px + ic] * at(oc, ic, ky, kx);
                                            }
                                        }
                                        ConvKind::Depthwise => s += x[px + oc] * at(oc, 0, ky, kx),
                                    }
                                }
                            }
                            if let Some(b) = &bias {
                                s += b[oc];
                            }
                            if let Some((g, b, m, v, eps)) = &bn {
                                s = g[oc] * (s - m[oc]) / (v[oc] + eps).sqrt() + b[oc];
                            }
                            let idx = (oy * o.w + ox) * co + oc;
                            if let Some(sk) = &skip {
                                s += sk[idx];
                            }
                            y[idx] = act(c.activation, s);
                        }
                    }
                }
                y
            }
            Op::AvgPool { kh, kw, sh, sw } => {
                let x = get(0);
                let mut y = vec![0.0; o.len()];
                for oy in 0..o.h {
                    for ox in 0..o.w {
                        for ch in 0..o.c {
                            let mut s = 0.0;
                            for ky in 0..*kh {
                                for kx in 0..*kw {
                                    s += x[((oy * sh + ky) * i.w + ox * sw + kx) * i.c + ch];
                                }
                            }
                            y[(oy * o.w + ox) * o.c + ch] = s / (kh * kw) as f64;
                        }
                    }
                }
                y
            }
            Op::GlobalAvgPool => {
                let x = get(0);
                (0..i.c)
                    .map(|ch| {
                        (0..i.h * i.w).map(|p| x[p * i.c + ch]).sum::<f64>() / (i.h * i.w) as f64
                    })
                    .collect()
            }
            Op::Fc {
                inputs,
                outputs,
                activation,
                ..
            } => {
                let x = get(0);
                let wt = find(Role::Weight).unwrap();
                let w = tensor(&st, wt);
                let bias = find(Role::Bias).map(|t| tensor(&st, t));
                (0..*outputs)
                    .map(|oc| {
                        let mut s: f64 = (0..*inputs)
                            .map(|ic| {
                                x[ic]
                                    * match wt.layout.unwrap() {
                                        SrcLayout::OutIn => w[oc * inputs + ic],
                                        SrcLayout::Hwio | SrcLayout::InOut => w[ic * outputs + oc],
                                        other => panic!("fc weight layout {other}"),
                                    }
                            })
                            .sum();
                        if let Some(b) = &bias {
                            s += b[oc];
                        }
                        act(*activation, s)
                    })
                    .collect()
            }
            Op::Softmax => {
                let x = get(0);
                let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = x.iter().map(|v| (v - m).exp()).collect();
                let sum: f64 = e.iter().sum();
                e.iter().map(|v| v / sum).collect()
            }
            Op::Add { activation } => {
                let (a, b) = (get(0), get(1));
                a.iter()
                    .zip(&b)
                    .map(|(x, y)| act(*activation, x + y))
                    .collect()
            }
        };
        assert_eq!(y.len(), o.len(), "{}: output length", l.name);
        vals[l.output_value] = Some(y);
    }
    vals[net.output_value].take().expect("output computed")
}

#[test]
fn random_networks_match_the_reference_interpreter() {
    assert!(NETS.len() >= 10, "only {} random networks", NETS.len());
    let isas: Vec<Isa> = [Isa::Scalar, kernels::best_isa()].into_iter().collect();
    let mut worst = (0.0f64, "");
    for net in NETS {
        let analysed = mobilenet_compiler::compile_str(net.name, net.spec)
            .unwrap_or_else(|d| panic!("{}:\n{d}", net.name));
        let input = mobilenet_tests::hash_input(net.input_len);
        let want = reference(&analysed, net.weights, &input);
        let scale = want.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
        for &isa in &isas {
            kernels::force_isa(isa).unwrap();
            let mut got = vec![f32::NAN; net.output_len];
            (net.forward)(&input, &mut got);
            let err = got
                .iter()
                .zip(&want)
                .fold(0.0f64, |m, (&g, &w)| m.max((g as f64 - w).abs()))
                / scale;
            assert!(
                err <= 1e-4,
                "{} [{isa}]: relative max error {err:e} against the reference\n{}",
                net.name,
                net.spec
            );
            if err > worst.0 {
                worst = (err, net.name);
            }
        }
    }
    kernels::force_isa(kernels::best_isa()).unwrap();
    eprintln!(
        "{} random networks x {:?}: 0 mismatches, worst relative error {:e} ({})",
        NETS.len(),
        isas,
        worst.0,
        worst.1
    );
}
