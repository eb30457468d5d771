//! Elementwise addition of two values (a residual connection): `kernels::add`. The compiler
//! fuses an add into the pointwise conv that produces one of its operands when it can
//! ([`crate::model::fuse_residual_adds`]); what remains runs this kernel.

use mobilenet_runtime::load::Kind;

use super::{Form, Generic, KernelCall, Op, OpDef};
use crate::model::{Cost, Layer, TensorBinding};
use crate::naming::{NamingScheme, Site};

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
    fn tensors(&self, l: &Layer, _at: &Site<'_>, _s: &dyn NamingScheme) -> Vec<TensorBinding> {
        if l.quantized {
            super::quant::bindings(l, Vec::new(), None)
        } else {
            Vec::new()
        }
    }
    fn load_kind(&self, l: &Layer) -> Option<Kind> {
        l.quantized.then_some(Kind::QAdd)
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        let Op::Add { activation } = l.op else {
            unreachable!("an add op")
        };
        if l.quantized {
            return KernelCall {
                kernel: "q8_add",
                generics: vec![Generic::Dim(l.output.len())],
                form: Form::BinaryParams,
                per_isa: true,
            };
        }
        KernelCall {
            kernel: "add",
            generics: vec![Generic::Dim(l.output.len()), Generic::Act(activation)],
            form: Form::Binary,
            per_isa: true,
        }
    }
    fn parallel(&self, l: &Layer) -> bool {
        // The runtime splits the quantized add (three requantizations a value); the float
        // one is a memory-bound stream that one core saturates.
        l.quantized
    }
}
