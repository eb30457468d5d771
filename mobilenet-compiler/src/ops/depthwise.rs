//! Depthwise convolution (multiplier 1): `kernels::depthwise`, `[KH][KW][C]` weights.

use mobilenet_runtime::load::Kind;

use super::conv2d;
use super::{Form, Generic, KernelCall, OpDef};
use crate::model::{Cost, Layer, Pad, TensorBinding};
use crate::naming::{NamingScheme, Site};

pub struct Depthwise;

impl OpDef for Depthwise {
    conv2d::conv_op_common!();
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        let c = l.op.conv().expect("conv");
        if l.quantized {
            return Some(Kind::QDepthwise {
                kh: c.kh,
                kw: c.kw,
                c: c.cout,
            });
        }
        Some(Kind::Depthwise {
            kh: c.kh,
            kw: c.kw,
            c: c.cout,
        })
    }
    fn parallel(&self, _l: &Layer) -> bool {
        true
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let c = l.op.conv().expect("conv");
        let (i, o) = (l.input, l.output);
        let d = Generic::Dim;
        let mut call = KernelCall {
            kernel: "depthwise",
            generics: vec![
                d(i.h),
                d(i.w),
                d(i.c),
                d(o.h),
                d(o.w),
                d(c.kh),
                d(c.kw),
                d(c.sh),
                d(c.sw),
                d(c.pad.top),
                d(c.pad.left),
                Generic::Act(c.activation),
            ],
            form: Form::Params,
            per_isa: true,
        };
        if l.quantized {
            call.kernel = "q8_depthwise";
            call.generics.pop();
        }
        call
    }
}
