//! Elementwise addition of two values (a residual connection): `kernels::add`. The compiler
//! fuses an add into the pointwise conv that produces one of its operands when it can
//! ([`crate::model::fuse_residual_adds`]); what remains runs this kernel.

use super::{Form, Generic, KernelCall, Op, OpDef};
use crate::model::{Cost, Layer};

pub struct Add;

impl OpDef for Add {
    fn describe(&self, _l: &Layer) -> String {
        "Add".into()
    }
    fn category(&self, _l: &Layer) -> String {
        "Add".into()
    }
    fn cost(&self, _l: &Layer) -> Cost {
        Cost::default()
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let Op::Add { activation } = l.op else {
            unreachable!("an add op")
        };
        KernelCall {
            kernel: "add",
            generics: vec![Generic::Dim(l.output.len()), Generic::Act(activation)],
            form: Form::Binary,
            per_isa: true,
        }
    }
}
