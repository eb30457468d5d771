//! Softmax over the class scores, in place: `kernels::softmax`.

use mobilenet_runtime::load::Kind;

use super::{Form, Generic, KernelCall, OpDef};
use crate::model::{Cost, Layer, TensorBinding};
use crate::naming::{NamingScheme, Site};

pub struct Softmax;

impl OpDef for Softmax {
    fn describe(&self, _l: &Layer) -> String {
        "Softmax".into()
    }
    fn category(&self, _l: &Layer) -> String {
        "Softmax".into()
    }
    fn cost(&self, _l: &Layer) -> Cost {
        Cost::default()
    }
    fn tensors(&self, l: &Layer, _at: &Site<'_>, _s: &dyn NamingScheme) -> Vec<TensorBinding> {
        if l.quantized {
            super::quant::bindings(l, Vec::new(), None)
        } else {
            Vec::new()
        }
    }
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        l.quantized.then_some(Kind::QSoftmax)
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        KernelCall {
            kernel: "softmax",
            generics: vec![Generic::Dim(l.output.len())],
            form: Form::InPlace,
            per_isa: true,
        }
        .quantized(l, "q8_softmax")
    }
}
