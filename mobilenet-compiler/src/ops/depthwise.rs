//! Depthwise convolution (multiplier 1): `kernels::depthwise`, `[KH][KW][C]` weights.

use mobilenet_runtime::load::Kind;

use super::conv2d;
use super::{Form, Generic, KernelCall, OpDef};
use crate::model::{Cost, Layer, Pad, TensorBinding};
use crate::naming::{NamingScheme, Site};

pub struct Depthwise;

impl OpDef for Depthwise {
    fn describe(&self, l: &Layer) -> String {
        conv2d::describe(l.op.conv().expect("conv"))
    }
    fn category(&self, l: &Layer) -> String {
        conv2d::category(l.op.conv().expect("conv"))
    }
    fn cost(&self, l: &Layer) -> Cost {
        conv2d::cost(l)
    }
    fn tensors(&self, l: &Layer, at: &Site<'_>, scheme: &dyn NamingScheme) -> Vec<TensorBinding> {
        conv2d::tensors(l, at, scheme)
    }
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        let c = l.op.conv().expect("conv");
        Some(Kind::Depthwise {
            kh: c.kh,
            kw: c.kw,
            c: c.cout,
        })
    }
    fn fan_in(&self, l: &Layer) -> usize {
        conv2d::fan_in(l.op.conv().expect("conv"))
    }
    fn pad(&self, l: &Layer) -> Option<Pad> {
        Some(l.op.conv().expect("conv").pad)
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let c = l.op.conv().expect("conv");
        let (i, o) = (l.input, l.output);
        let d = Generic::Dim;
        KernelCall {
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
        }
    }
}
