//! `q8_timing <model> [--input x.bin] [--iters 200] [--isa scalar|avx2] [--threads N]`
//!
//! Times one imported TFLite model (`q_v1_100_224`, ... of `mobilenet_tflite_tests::models`;
//! with `MOBILENET_TFLITE_FLOAT` set at build time also the dequantized `f_v1_100_224`, ...)
//! single-threaded (`forward`), or with `--threads N > 1` on a pool of N threads
//! (`forward_parallel`), and prints a JSON line like `mobilenet-bench`'s `timing`: median, min and
//! mean milliseconds, GFLOP/s, the ISA and the output. `--input` holds the raw input values
//! (bytes for `u8`/`i8` models, little-endian `f32` for float ones); without it a fixed pattern.

#[cfg(tflite_models)]
use mobilenet_runtime::kernels::{self, Isa};
#[cfg(tflite_models)]
use std::time::Instant;

/// An I/O element parsed from the input file, and written to the JSON output.
#[cfg(tflite_models)]
trait Elem: Copy + Default + std::fmt::Display {
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn pattern(i: usize) -> Self;
}
#[cfg(tflite_models)]
impl Elem for u8 {
    const SIZE: usize = 1;
    fn from_le(b: &[u8]) -> Self {
        b[0]
    }
    fn pattern(i: usize) -> Self {
        ((i * 7919) % 256) as u8
    }
}
#[cfg(tflite_models)]
impl Elem for i8 {
    const SIZE: usize = 1;
    fn from_le(b: &[u8]) -> Self {
        b[0] as i8
    }
    fn pattern(i: usize) -> Self {
        ((i * 7919) % 256) as u8 as i8
    }
}
#[cfg(tflite_models)]
impl Elem for f32 {
    const SIZE: usize = 4;
    fn from_le(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn pattern(i: usize) -> Self {
        ((i * 7919) % 256) as f32 / 127.5 - 1.0
    }
}

#[cfg(tflite_models)]
fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

/// The input values from `bytes`, or the fixed pattern; the wrong size is an error.
#[cfg(tflite_models)]
fn input_values<T: Elem>(bytes: Option<&[u8]>, len: usize) -> Vec<T> {
    match bytes {
        None => (0..len).map(T::pattern).collect(),
        Some(b) if b.len() == len * T::SIZE => b.chunks_exact(T::SIZE).map(T::from_le).collect(),
        Some(b) => fail(format!(
            "--input has {} bytes, the model takes {len} values of {} bytes ({})",
            b.len(),
            T::SIZE,
            len * T::SIZE
        )),
    }
}

#[cfg(tflite_models)]
macro_rules! run {
    ($m:path, $input:expr, $iters:expr, $pool:expr) => {{
        use $m as net;
        let model = net::Model::embedded();
        let input = input_values::<net::IoElem>($input, net::INPUT_LEN);
        let input = net::input_array(&input).unwrap_or_else(|e| fail(e.to_string()));
        let mut out = vec![net::IoElem::default(); net::OUTPUT_LEN];
        let out_arr = net::output_array(&mut out).unwrap_or_else(|e| fail(e.to_string()));
        let mut scratch = net::Model::new_scratch();
        let pool: &Option<mobilenet_runtime::threads::Pool> = $pool;
        let mut forward = |out: &mut _| match pool {
            Some(pool) => model.forward_parallel(pool, input, out, &mut scratch),
            None => model.forward(input, out, &mut scratch),
        };
        for _ in 0..10 {
            forward(out_arr);
        }
        let mut times = Vec::with_capacity($iters);
        for _ in 0..$iters {
            let t = Instant::now();
            forward(out_arr);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let out: Vec<String> = out.iter().map(|v| v.to_string()).collect();
        (
            net::MULT_ADDS,
            std::any::type_name::<net::IoElem>(),
            times,
            out,
        )
    }};
}

#[cfg(tflite_models)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: q8_timing <q_v1_025_128|q_v1_050_160|q_v1_075_192|q_v1_100_224|q_v2_100_224|q_v2_ptq_224|f_v1_025_128|f_v1_100_224|f_v2_ptq_224> [--input FILE] [--iters N] [--isa scalar|avx2] [--threads N]";
    let Some(name) = args.get(1).cloned() else {
        eprintln!("{usage}");
        std::process::exit(2)
    };
    let (mut input, mut iters, mut threads) = (None::<Vec<u8>>, 200usize, 1usize);
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--input" => {
                input = Some(std::fs::read(&v).unwrap_or_else(|e| fail(format!("{v}: {e}"))))
            }
            "--iters" => {
                iters = v
                    .parse()
                    .unwrap_or_else(|_| fail(format!("--iters {v}: not a count")))
            }
            "--threads" => {
                threads = v
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .unwrap_or_else(|| fail(format!("--threads {v}: not a positive count")))
            }
            "--isa" => {
                let isa = Isa::ALL
                    .into_iter()
                    .find(|x| x.name() == v)
                    .unwrap_or_else(|| fail(format!("unknown ISA {v}")));
                kernels::force_isa(isa).unwrap_or_else(|e| fail(e.to_string()));
            }
            other => fail(format!("unknown argument {other}\n{usage}")),
        }
        i += 2;
    }
    let input = input.as_deref();
    let pool = (threads > 1).then(|| mobilenet_runtime::threads::Pool::new(threads));
    let pool = &pool;
    use mobilenet_tflite_tests::models;
    let (mult_adds, elem, times, out) = match name.as_str() {
        "q_v1_025_128" => run!(models::q_v1_025_128, input, iters, pool),
        "q_v1_050_160" => run!(models::q_v1_050_160, input, iters, pool),
        "q_v1_075_192" => run!(models::q_v1_075_192, input, iters, pool),
        "q_v1_100_224" => run!(models::q_v1_100_224, input, iters, pool),
        "q_v2_100_224" => run!(models::q_v2_100_224, input, iters, pool),
        "q_v2_ptq_224" => run!(models::q_v2_ptq_224, input, iters, pool),
        #[cfg(tflite_float)]
        "f_v1_025_128" => run!(
            mobilenet_tflite_tests::float_models::f_v1_025_128,
            input,
            iters,
            pool
        ),
        #[cfg(tflite_float)]
        "f_v1_100_224" => run!(
            mobilenet_tflite_tests::float_models::f_v1_100_224,
            input,
            iters,
            pool
        ),
        #[cfg(tflite_float)]
        "f_v2_ptq_224" => run!(
            mobilenet_tflite_tests::float_models::f_v2_ptq_224,
            input,
            iters,
            pool
        ),
        other if other.starts_with("f_") => fail(format!(
            "{other}: the float networks are built with MOBILENET_TFLITE_FLOAT=1 set"
        )),
        other => fail(format!("unknown model {other}\n{usage}")),
    };
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    // The median as `mobilenet-bench`'s `timing` computes it (the two middle runs' mean for an
    // even count), so that peers_int8's and peers' numbers mean the same.
    let n = sorted.len();
    let med = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let min = sorted[0];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let gflops = 2.0 * mult_adds as f64 / (med * 1e-3) / 1e9;
    println!(
        "{{\"network\":\"{name}\",\"io\":\"{elem}\",\"isa\":\"{}\",\"threads\":{threads},\"iters\":{iters},\"median_ms\":{med:.4},\"min_ms\":{min:.4},\"mean_ms\":{mean:.4},\"gflops\":{gflops:.2},\"output\":[{}]}}",
        kernels::active_isa(),
        out.join(",")
    );
}

#[cfg(not(tflite_models))]
fn main() {
    eprintln!("q8_timing: ../shared/data/tflite was not there when this was built (no models)");
    std::process::exit(1);
}
