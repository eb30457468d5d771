//! `peak`: the machine's single-core f32 FMA peak (GFLOP/s) with the best supported ISA's
//! vector width: many independent FMA chains in registers, no memory traffic.

fn main() {
    match mobilenet_bench::fma_peak_gflops() {
        Some((isa, gflops)) => println!("{{\"isa\":\"{isa}\",\"peak_gflops\":{gflops:.1}}}"),
        None => println!("{{\"isa\":\"scalar\",\"peak_gflops\":null}}"),
    }
}
