//! Fully connected layer: `kernels::fully_connected`, `[IN][OUT]` weights.

use mobilenet_runtime::load::Kind;

use super::{Form, Generic, KernelCall, Op, OpDef};
use crate::model::{Cost, Layer, TensorBinding};
use crate::naming::{bindings, NamingScheme, Site, WeightKind};

pub struct Fc;

fn fc(l: &Layer) -> (usize, usize, bool, crate::spec::Activation) {
    let Op::Fc {
        inputs,
        outputs,
        bias,
        activation,
    } = l.op
    else {
        unreachable!("an fc op")
    };
    (inputs, outputs, bias, activation)
}

impl OpDef for Fc {
    fn describe(&self, _l: &Layer) -> String {
        "FC".into()
    }
    fn category(&self, _l: &Layer) -> String {
        "FC".into()
    }
    fn cost(&self, l: &Layer) -> Cost {
        let (inputs, outputs, bias, _) = fc(l);
        Cost {
            mult_adds: (inputs as u64).saturating_mul(outputs as u64),
            weights: (inputs as u64).saturating_mul(outputs as u64),
            biases: if bias { outputs as u64 } else { 0 },
            batch_norm: 0,
        }
    }
    fn tensors(&self, l: &Layer, at: &Site<'_>, scheme: &dyn NamingScheme) -> Vec<TensorBinding> {
        let (inputs, outputs, bias, _) = fc(l);
        let base = bindings(
            scheme,
            at,
            WeightKind::Fc { inputs, outputs },
            bias,
            outputs,
        );
        if l.quantized {
            return super::quant::bindings(l, base, Some(outputs));
        }
        base
    }
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        let (inputs, outputs, ..) = fc(l);
        if l.quantized {
            // A quantized fully connected layer is a 1x1 convolution over one pixel.
            return Some(Kind::QPointwise {
                ci: inputs,
                co: outputs,
            });
        }
        Some(Kind::Fc { inputs, outputs })
    }
    fn fan_in(&self, l: &Layer) -> usize {
        fc(l).0
    }
    fn parallel(&self, l: &Layer) -> bool {
        !l.quantized
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let (inputs, outputs, _, act) = fc(l);
        if l.quantized {
            return KernelCall {
                kernel: "q8_pointwise",
                generics: vec![Generic::Dim(1), Generic::Dim(inputs), Generic::Dim(outputs)],
                form: Form::Params,
                per_isa: true,
            };
        }
        KernelCall {
            kernel: "fully_connected",
            generics: vec![
                Generic::Dim(inputs),
                Generic::Dim(outputs),
                Generic::Act(act),
            ],
            form: Form::Params,
            per_isa: true,
        }
    }
}
