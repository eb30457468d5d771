//! The second half of the layer shapes of `kernel_shapes.rs` (see there): every SIMD kernel
//! against its scalar twin, each ISA forced.

#[path = "common/kernel_check.rs"]
mod kernel_check;
use kernel_check::*;
use mobilenet_tests::isas_to_test;

include!(concat!(env!("OUT_DIR"), "/layer_shapes_2.rs"));

#[test]
fn every_layer_shape_in_specs_matches_scalar_second_half() {
    check_layer_shapes();
    eprintln!(
        "{SHAPES_HERE} of {SHAPES} kernel shapes checked on {:?}",
        isas_to_test()
    );
}
