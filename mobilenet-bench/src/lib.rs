//! The benchmarked networks, compiled with `mobilenet!`, and timing helpers shared by the
//! criterion benches and the `timing` tool (which `bench/peers` runs).

mobilenet_macros::mobilenet!(spec = "../specs/v1_tfslim_1001.toml", name = "v1_1_0_224");
mobilenet_macros::mobilenet!(
    spec = "../specs/v1_alpha025_res128.toml",
    name = "v1_0_25_128"
);

/// Random weights of a benchmarked network, written by build.rs (same generator and seed as
/// `mobilenet random-weights --seed 1`).
pub fn random_weights(name: &str) -> &'static [u8] {
    match name {
        "v1_1_0_224" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_1_0_224.safetensors")),
        "v1_0_25_128" => include_bytes!(concat!(env!("OUT_DIR"), "/v1_0_25_128.safetensors")),
        _ => panic!("unknown network {name}"),
    }
}

/// Median of a list of durations in milliseconds.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Invokes `$m!(kind, name, dims...)` for every distinct layer shape of MobileNet v1 1.0 224
/// (TF-slim padding) and of v1 0.25 128, so benches and tools can instantiate the kernels with
/// the exact const generics the generated code uses.
#[macro_export]
macro_rules! for_each_layer_shape {
    ($m:ident) => {
        // v1 1.0 224: conv stem, then (depthwise, pointwise) pairs, then the classifier.
        $m!(
            conv,
            "1.0/224 conv 224x224x3->112x112x32 s2",
            224,
            224,
            3,
            112,
            112,
            32,
            3,
            3,
            2,
            2,
            0,
            0
        );
        $m!(
            dw,
            "1.0/224 dw 112x112x32 s1",
            112,
            112,
            32,
            112,
            112,
            3,
            3,
            1,
            1,
            1,
            1
        );
        $m!(pw, "1.0/224 pw 12544x32->64", 12544, 32, 64);
        $m!(
            dw,
            "1.0/224 dw 112x112x64 s2",
            112,
            112,
            64,
            56,
            56,
            3,
            3,
            2,
            2,
            0,
            0
        );
        $m!(pw, "1.0/224 pw 3136x64->128", 3136, 64, 128);
        $m!(
            dw,
            "1.0/224 dw 56x56x128 s1",
            56,
            56,
            128,
            56,
            56,
            3,
            3,
            1,
            1,
            1,
            1
        );
        $m!(pw, "1.0/224 pw 3136x128->128", 3136, 128, 128);
        $m!(
            dw,
            "1.0/224 dw 56x56x128 s2",
            56,
            56,
            128,
            28,
            28,
            3,
            3,
            2,
            2,
            0,
            0
        );
        $m!(pw, "1.0/224 pw 784x128->256", 784, 128, 256);
        $m!(
            dw,
            "1.0/224 dw 28x28x256 s1",
            28,
            28,
            256,
            28,
            28,
            3,
            3,
            1,
            1,
            1,
            1
        );
        $m!(pw, "1.0/224 pw 784x256->256", 784, 256, 256);
        $m!(
            dw,
            "1.0/224 dw 28x28x256 s2",
            28,
            28,
            256,
            14,
            14,
            3,
            3,
            2,
            2,
            0,
            0
        );
        $m!(pw, "1.0/224 pw 196x256->512", 196, 256, 512);
        $m!(
            dw,
            "1.0/224 dw 14x14x512 s1 (x5)",
            14,
            14,
            512,
            14,
            14,
            3,
            3,
            1,
            1,
            1,
            1
        );
        $m!(pw, "1.0/224 pw 196x512->512 (x5)", 196, 512, 512);
        $m!(
            dw,
            "1.0/224 dw 14x14x512 s2",
            14,
            14,
            512,
            7,
            7,
            3,
            3,
            2,
            2,
            0,
            0
        );
        $m!(pw, "1.0/224 pw 49x512->1024", 49, 512, 1024);
        $m!(
            dw,
            "1.0/224 dw 7x7x1024 s1",
            7,
            7,
            1024,
            7,
            7,
            3,
            3,
            1,
            1,
            1,
            1
        );
        $m!(pw, "1.0/224 pw 49x1024->1024", 49, 1024, 1024);
        $m!(gap, "1.0/224 global avgpool 7x7x1024", 49, 1024);
        $m!(fc, "1.0/224 fc 1024->1001", 1024, 1001);
        // v1 0.25 128 (PyTorch naming, "same" padding).
        $m!(
            conv,
            "0.25/128 conv 128x128x3->64x64x8 s2",
            128,
            128,
            3,
            64,
            64,
            8,
            3,
            3,
            2,
            2,
            0,
            0
        );
        $m!(
            dw,
            "0.25/128 dw 64x64x8 s1",
            64,
            64,
            8,
            64,
            64,
            3,
            3,
            1,
            1,
            1,
            1
        );
        $m!(pw, "0.25/128 pw 4096x8->16", 4096, 8, 16);
        $m!(
            dw,
            "0.25/128 dw 64x64x16 s2",
            64,
            64,
            16,
            32,
            32,
            3,
            3,
            2,
            2,
            0,
            0
        );
        $m!(pw, "0.25/128 pw 1024x16->32", 1024, 16, 32);
        $m!(pw, "0.25/128 pw 1024x32->32", 1024, 32, 32);
        $m!(pw, "0.25/128 pw 256x32->64", 256, 32, 64);
        $m!(pw, "0.25/128 pw 256x64->64", 256, 64, 64);
        $m!(pw, "0.25/128 pw 64x64->128", 64, 64, 128);
        $m!(pw, "0.25/128 pw 64x128->128 (x5)", 64, 128, 128);
        $m!(pw, "0.25/128 pw 16x128->256", 16, 128, 256);
        $m!(pw, "0.25/128 pw 16x256->256", 16, 256, 256);
        $m!(fc, "0.25/128 fc 256->1000", 256, 1000);
    };
}

/// Multiply-adds of one layer shape, as the `for_each_layer_shape!` callbacks receive them.
pub mod flops {
    pub const fn conv(ho: usize, wo: usize, co: usize, kh: usize, kw: usize, ci: usize) -> u64 {
        (ho * wo * co * kh * kw * ci) as u64
    }
    pub const fn dw(ho: usize, wo: usize, c: usize, kh: usize, kw: usize) -> u64 {
        (ho * wo * c * kh * kw) as u64
    }
    pub const fn pw(hw: usize, ci: usize, co: usize) -> u64 {
        (hw * ci * co) as u64
    }
}
