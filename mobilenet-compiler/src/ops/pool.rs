//! Average pooling: windowed (`kernels::avgpool`, no padding) and global
//! (`kernels::global_avgpool`). Free in the paper's cost convention.

use mobilenet_runtime::load::Kind;

use super::{hw, Form, Generic, KernelCall, Op, OpDef};
use crate::model::{Cost, Layer, TensorBinding};
use crate::naming::{NamingScheme, Site};

pub struct AvgPool;
pub struct GlobalAvgPool;

impl OpDef for AvgPool {
    fn describe(&self, l: &Layer) -> String {
        let Op::AvgPool { kh, kw, sh, .. } = l.op else {
            unreachable!("an avgpool op")
        };
        format!("AvgPool {kh}x{kw} s{sh}")
    }
    fn category(&self, _l: &Layer) -> String {
        "Pool".into()
    }
    fn cost(&self, _l: &Layer) -> Cost {
        Cost::default()
    }
    fn tensors(&self, l: &Layer, _at: &Site<'_>, _s: &dyn NamingScheme) -> Vec<TensorBinding> {
        quantized_tensors(l)
    }
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        l.quantized.then_some(Kind::QAvgPool)
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let Op::AvgPool { kh, kw, sh, sw } = l.op else {
            unreachable!("an avgpool op")
        };
        let (i, o) = (l.input, l.output);
        let d = Generic::Dim;
        KernelCall {
            kernel: "avgpool",
            generics: vec![
                d(i.h),
                d(i.w),
                d(i.c),
                d(o.h),
                d(o.w),
                d(kh),
                d(kw),
                d(sh),
                d(sw),
            ],
            form: Form::Plain,
            per_isa: false,
        }
        .quantized(l, "q8_avgpool")
    }
}

/// A quantized pool's tensors: its output's quantization.
fn quantized_tensors(l: &Layer) -> Vec<TensorBinding> {
    if l.quantized {
        super::quant::bindings(l, Vec::new(), None)
    } else {
        Vec::new()
    }
}

impl OpDef for GlobalAvgPool {
    fn describe(&self, _l: &Layer) -> String {
        "AvgPool global".into()
    }
    fn category(&self, _l: &Layer) -> String {
        "Pool".into()
    }
    fn cost(&self, _l: &Layer) -> Cost {
        Cost::default()
    }
    fn tensors(&self, l: &Layer, _at: &Site<'_>, _s: &dyn NamingScheme) -> Vec<TensorBinding> {
        quantized_tensors(l)
    }
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        // An average over every pixel: TFLite's AVERAGE_POOL_2D (same quantization in and
        // out) or MEAN (requantizing); the packing tells them apart by the quantization.
        l.quantized.then_some(Kind::QMean { count: hw(l.input) })
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        KernelCall {
            kernel: "global_avgpool",
            generics: vec![Generic::Dim(hw(l.input)), Generic::Dim(l.input.c)],
            form: Form::Plain,
            per_isa: true,
        }
        .quantized(l, "q8_global_avgpool")
    }
}
