//! Full convolution (the first layer, Conv MobileNet's 3x3 blocks): `kernels::conv2d`, HWIO
//! weights packed by the runtime, BN folded. Also the helpers the other conv ops share.

use mobilenet_runtime::load::Kind;

use super::{Form, Generic, KernelCall, OpDef};
use crate::model::{Conv, ConvKind, Cost, Layer, Pad, TensorBinding};
use crate::naming::{bindings, NamingScheme, Site, WeightKind};

pub struct Conv2d;

/// The `OpDef` methods every conv op (conv2d, depthwise, pointwise) shares, from the helpers
/// below; each op adds its `load_kind` and `kernel`.
macro_rules! conv_op_common {
    () => {
        fn describe(&self, l: &Layer) -> String {
            $crate::ops::conv2d::describe(l.op.conv().expect("conv"))
        }
        fn category(&self, l: &Layer) -> String {
            $crate::ops::conv2d::category(l.op.conv().expect("conv"))
        }
        fn cost(&self, l: &Layer) -> Cost {
            $crate::ops::conv2d::cost(l)
        }
        fn tensors(
            &self,
            l: &Layer,
            at: &Site<'_>,
            scheme: &dyn NamingScheme,
        ) -> Vec<TensorBinding> {
            $crate::ops::conv2d::tensors(l, at, scheme)
        }
        fn fan_in(&self, l: &Layer) -> usize {
            $crate::ops::conv2d::fan_in(l.op.conv().expect("conv"))
        }
        fn pad(&self, l: &Layer) -> Option<Pad> {
            Some(l.op.conv().expect("conv").pad)
        }
    };
}
pub(super) use conv_op_common;

fn conv(l: &Layer) -> &Conv {
    l.op.conv().expect("a conv op")
}

/// `Conv 3x3 s2`, `Conv DW 3x3 s1`, `Conv 1x1 s1 + add`.
pub(super) fn describe(c: &Conv) -> String {
    let kind = match c.kind {
        ConvKind::Full => "Conv",
        ConvKind::Depthwise => "Conv DW",
    };
    let stride = if c.sh == c.sw {
        c.sh.to_string()
    } else {
        format!("{}x{}", c.sh, c.sw)
    };
    let add = if c.residual { " + add" } else { "" };
    format!("{kind} {}x{} s{stride}{add}", c.kh, c.kw)
}

pub(super) fn category(c: &Conv) -> String {
    match c.kind {
        ConvKind::Full => format!("Conv {}x{}", c.kh, c.kw),
        ConvKind::Depthwise => format!("Conv DW {}x{}", c.kh, c.kw),
    }
}

pub(super) fn cost(l: &Layer) -> Cost {
    let c = conv(l);
    // Saturating: the analyser rejects a layer whose weights exceed `model::MAX_TENSOR` by
    // looking at this count, which must not wrap first.
    let m = |a: usize, b: usize| (a as u64).saturating_mul(b as u64);
    let hw = m(l.output.h, l.output.w);
    let weights = match c.kind {
        ConvKind::Full => m(c.kh, c.kw).saturating_mul(m(c.cin, c.cout)),
        ConvKind::Depthwise => m(c.kh, c.kw).saturating_mul(c.cin as u64),
    };
    Cost {
        mult_adds: weights.saturating_mul(hw),
        weights,
        biases: if c.bias { c.cout as u64 } else { 0 },
        batch_norm: if c.batch_norm.is_some() {
            4 * c.cout as u64
        } else {
            0
        },
    }
}

pub(super) fn weight_kind(c: &Conv) -> WeightKind {
    match c.kind {
        ConvKind::Full => WeightKind::Conv {
            kh: c.kh,
            kw: c.kw,
            ci: c.cin,
            co: c.cout,
        },
        ConvKind::Depthwise => WeightKind::Depthwise {
            kh: c.kh,
            kw: c.kw,
            c: c.cout,
        },
    }
}

pub(super) fn tensors(l: &Layer, at: &Site<'_>, scheme: &dyn NamingScheme) -> Vec<TensorBinding> {
    let c = conv(l);
    let base = bindings(scheme, at, weight_kind(c), c.bias, c.cout);
    if l.quantized {
        return super::quant::bindings(l, base, Some(c.cout));
    }
    base
}

pub(super) fn fan_in(c: &Conv) -> usize {
    match c.kind {
        ConvKind::Full => c.kh * c.kw * c.cin,
        ConvKind::Depthwise => c.kh * c.kw,
    }
}

impl OpDef for Conv2d {
    conv_op_common!();
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        let c = conv(l);
        if l.quantized {
            return Some(Kind::QConv {
                kh: c.kh,
                kw: c.kw,
                ci: c.cin,
                co: c.cout,
            });
        }
        Some(Kind::Conv {
            kh: c.kh,
            kw: c.kw,
            ci: c.cin,
            co: c.cout,
        })
    }
    fn parallel(&self, _l: &Layer) -> bool {
        true
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let c = conv(l);
        let (i, o) = (l.input, l.output);
        let d = Generic::Dim;
        let mut call = KernelCall {
            kernel: "conv2d",
            generics: vec![
                d(i.h),
                d(i.w),
                d(i.c),
                d(o.h),
                d(o.w),
                d(o.c),
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
            // The activation is the quantized output's clamp, in the packed parameters.
            call.kernel = "q8_conv2d";
            call.generics.pop();
        }
        call
    }
}
