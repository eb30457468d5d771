//! A quantized network's boundary: the caller's `u8` input becomes the `i8` storage every
//! quantized kernel reads (`kernels::q8_from_u8`), and the last layer's `i8` output the
//! caller's `u8` output (`kernels::q8_to_u8`). Exact (`q - 128` and back) and free.

use super::{Form, Generic, KernelCall, Op, OpDef};
use crate::model::{Cost, Layer, TensorBinding};
use crate::naming::{NamingScheme, Site};

pub struct Convert;

fn to_storage(l: &Layer) -> bool {
    let Op::Convert { to_storage } = l.op else {
        unreachable!("a convert op")
    };
    to_storage
}

impl OpDef for Convert {
    fn describe(&self, l: &Layer) -> String {
        if to_storage(l) {
            "Input u8 -> i8".into()
        } else {
            "Output i8 -> u8".into()
        }
    }
    fn category(&self, _l: &Layer) -> String {
        "Convert".into()
    }
    fn cost(&self, _l: &Layer) -> Cost {
        Cost::default()
    }
    fn tensors(&self, l: &Layer, _at: &Site<'_>, _s: &dyn NamingScheme) -> Vec<TensorBinding> {
        // The network input's quantization belongs to the layer that first reads it.
        if to_storage(l) {
            super::quant::input_bindings()
        } else {
            Vec::new()
        }
    }
    fn kernel(&self, l: &Layer) -> KernelCall {
        KernelCall {
            kernel: if to_storage(l) {
                "q8_from_u8"
            } else {
                "q8_to_u8"
            },
            generics: vec![Generic::Dim(l.output.len())],
            form: Form::Plain,
            per_isa: false,
        }
    }
}
