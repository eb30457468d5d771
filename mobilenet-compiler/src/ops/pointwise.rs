//! Pointwise (1x1, stride 1, unpadded) convolution: `kernels::pointwise`, the packed GEMM over
//! 16-channel weight panels; with a fused residual (`Conv::residual`, MobileNet v2's projection
//! plus skip connection) `kernels::pointwise_add`, whose output buffer holds the skip on entry.

use mobilenet_runtime::load::Kind;

use super::conv2d;
use super::{hw, Form, Generic, KernelCall, OpDef};
use crate::model::{Cost, Layer, Pad, TensorBinding};
use crate::naming::{NamingScheme, Site};

pub struct Pointwise;

impl OpDef for Pointwise {
    conv2d::conv_op_common!();
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        let c = l.op.conv().expect("conv");
        if l.quantized {
            return Some(Kind::QPointwise {
                ci: c.cin,
                co: c.cout,
            });
        }
        Some(Kind::Pointwise {
            ci: c.cin,
            co: c.cout,
        })
    }
    fn parallel(&self, _l: &Layer) -> bool {
        true
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let c = l.op.conv().expect("conv");
        let d = Generic::Dim;
        if l.quantized {
            return KernelCall {
                kernel: "q8_pointwise",
                generics: vec![d(hw(l.input)), d(l.input.c), d(l.output.c)],
                form: Form::Params,
                per_isa: true,
            };
        }
        let (kernel, form) = if c.residual {
            ("pointwise_add", Form::ParamsAccumulate)
        } else {
            ("pointwise", Form::Params)
        };
        KernelCall {
            kernel,
            generics: vec![
                d(hw(l.input)),
                d(l.input.c),
                d(l.output.c),
                Generic::Act(c.activation),
            ],
            form,
            per_isa: true,
        }
    }
}
