//! Softmax over the class scores, in place: `kernels::softmax`.

use super::{Form, Generic, KernelCall, OpDef};
use crate::model::{Cost, Layer};

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
    fn kernel(&self, l: &Layer) -> KernelCall {
        KernelCall {
            kernel: "softmax",
            generics: vec![Generic::Dim(l.output.len())],
            form: Form::InPlace,
            per_isa: true,
        }
    }
}
