// Random valid specs for the differential test of the compiler (`tests/random_nets.rs`):
// included by build.rs. Deterministic: net k of seed s is always the same text. Parameters are
// drawn from small sets (sizes, channels) so that many networks share kernel shapes and the
// test crate stays quick to compile, while the structure varies freely: layer sequences, every
// layer type, kernels 1-5, strides 1-2, every padding form, alpha and channel rounding, both
// naming schemes, defaults, v2 blocks with and without residuals, pooling, fc or 1x1-conv heads,
// softmax or logits.

struct Rng(mobilenet_compiler::rng::SplitMix64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(mobilenet_compiler::rng::SplitMix64(seed ^ 0x51_7cc1_b727_220a))
    }
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn padding(r: &mut Rng) -> &'static str {
    const PADDINGS: [&str; 7] = [
        "\"same\"", "\"same\"", "\"valid\"", "\"half\"", "1", "[1, 0]", "[0, 1, 1, 0]",
    ];
    PADDINGS[r.below(PADDINGS.len())]
}

/// One candidate spec (may be invalid: the caller keeps the first that compiles).
fn candidate(r: &mut Rng, name: &str) -> String {
    let mut s = String::new();
    let h = *r.pick(&[8, 12, 16, 20]);
    let w = if r.chance(70) { h } else { *r.pick(&[8, 12, 16]) };
    let classes = *r.pick(&[3, 10, 17]);
    let naming = *r.pick(&["pytorch", "tf-slim"]);
    s += &format!("[model]\nname = \"{name}\"\ninput = [{h}, {w}, 3]\nclasses = {classes}\n");
    s += &format!("naming = \"{naming}\"\n");
    if r.chance(50) {
        s += &format!("alpha = {}\n", r.pick(&["0.5", "0.75", "1.4"]));
        s += &format!(
            "channel_rounding = \"{}\"\n",
            r.pick(&["tf-slim", "floor", "round", "divisible-by-8"])
        );
    }
    s += "\n[defaults]\n";
    s += &format!("activation = \"{}\"\n", r.pick(&["relu", "relu6", "none"]));
    s += &format!("padding = {}\n", padding(r));
    s += &format!("bias = {}\n", r.chance(40));
    s += &format!("batch_norm = {}\n", r.chance(75));
    let channels = [4, 8, 12, 16, 24];
    let layer = |s: &mut String, kind: &str| {
        *s += &format!("\n[[layer]]\nname = \"l{{n}}\"\ntype = \"{kind}\"\n");
    };
    layer(&mut s, "conv");
    s += &format!("channels = {}\n", r.pick(&channels));
    s += &format!("kernel = {}\n", r.pick(&[1, 3, 3, 5]));
    s += &format!("stride = {}\n", r.pick(&[1, 2]));
    for _ in 0..1 + r.below(5) {
        match r.below(6) {
            0 => {
                layer(&mut s, "separable");
                s += &format!("channels = {}\n", r.pick(&channels));
                s += &format!("stride = {}\n", r.pick(&[1, 1, 2]));
            }
            1 => {
                layer(&mut s, "depthwise");
                s += &format!("kernel = {}\n", r.pick(&["3", "5", "[3, 1]"]));
                s += &format!("stride = {}\n", r.pick(&["1", "2", "[2, 1]"]));
                s += &format!("padding = {}\n", padding(r));
            }
            2 => {
                layer(&mut s, "pointwise");
                s += &format!("channels = {}\n", r.pick(&channels));
                if r.chance(30) {
                    s += "activation = \"none\"\n";
                }
            }
            3 => {
                layer(&mut s, "conv");
                s += &format!("channels = {}\n", r.pick(&channels));
                s += &format!("kernel = {}\n", r.pick(&["1", "3", "[1, 3]"]));
            }
            _ => {
                layer(&mut s, "inverted_residual");
                s += &format!("expansion = {}\n", r.pick(&[1, 2, 6]));
                s += &format!("channels = {}\n", r.pick(&channels));
                s += &format!("stride = {}\n", r.pick(&[1, 1, 2]));
                s += &format!("repeat = {}\n", r.pick(&[1, 2, 3]));
                s += &format!("activation = \"{}\"\n", r.pick(&["relu6", "relu"]));
                if r.chance(15) {
                    s += "residual = false\n";
                }
            }
        }
    }
    if r.chance(25) {
        layer(&mut s, "avgpool");
        s += "kernel = 2\n";
    }
    layer(&mut s, "avgpool");
    s += "global = true\n";
    if r.chance(50) {
        layer(&mut s, "fc");
    } else {
        layer(&mut s, "pointwise");
        s += &format!(
            "channels = {classes}\nscale_channels = false\nbias = true\nbatch_norm = false\nactivation = \"none\"\n"
        );
    }
    if r.chance(50) {
        layer(&mut s, "softmax");
    }
    s
}

/// Random spec `k` of `seed`: the first candidate that compiles.
fn random_spec(seed: u64, k: usize) -> String {
    let mut r = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(k as u64));
    let name = format!("r{k}");
    loop {
        let text = candidate(&mut r, &name);
        if mobilenet_compiler::compile_str(&format!("{name}.toml"), &text).is_ok() {
            return text;
        }
    }
}
