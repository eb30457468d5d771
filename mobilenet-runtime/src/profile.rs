//! Per-layer profiles of a generated network (feature `std`): generated modules have a
//! `forward_timed` that times every layer's call, and `Model::profile` runs it many times and
//! returns a [`Profile`]: each layer's median time, GFLOP/s and share of the forward, beside its
//! Mult-Adds, on the user's own machine.

use std::fmt;
use std::string::String;
use std::vec::Vec;

use crate::LayerInfo;

/// A started stopwatch (generated code uses it around every layer call).
pub struct Timer(std::time::Instant);

impl Timer {
    /// Start timing.
    #[inline(always)]
    pub fn start() -> Timer {
        Timer(std::time::Instant::now())
    }
    /// Nanoseconds since [`Timer::start`].
    #[inline(always)]
    pub fn stop_ns(self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// One layer's measurements.
#[derive(Clone, Debug)]
pub struct LayerProfile {
    /// The layer's cost-table row.
    pub info: LayerInfo,
    /// Median time over the runs, nanoseconds.
    pub median_ns: f64,
    /// Shortest time over the runs, nanoseconds: on a shared machine the most repeatable figure
    /// of what the kernel itself costs (neighbours' load moves medians by tens of percent).
    pub min_ns: f64,
    /// The Mult-Adds these times cover: the layer's own plus those of the layers fused into its
    /// call ([`LayerInfo::fused`]); 0 for a fused layer, whose times are 0.
    pub timed_mult_adds: u64,
}

impl LayerProfile {
    /// Achieved GFLOP/s at the median time (2 flops per Mult-Add), of the whole call for a
    /// layer that others are fused into.
    pub fn gflops(&self) -> f64 {
        rate(self.timed_mult_adds, self.median_ns)
    }

    /// Achieved GFLOP/s at the shortest time.
    pub fn min_gflops(&self) -> f64 {
        rate(self.timed_mult_adds, self.min_ns)
    }
}

/// GFLOP/s of `mult_adds` in `ns` nanoseconds (0 for no time).
fn rate(mult_adds: u64, ns: f64) -> f64 {
    if ns > 0.0 {
        2.0 * mult_adds as f64 / ns
    } else {
        0.0
    }
}

/// A profile of every layer of a network.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Per layer, in execution order.
    pub layers: Vec<LayerProfile>,
    /// Median time of a whole timed forward pass, nanoseconds.
    pub forward_ns: f64,
    /// Shortest whole timed forward pass, nanoseconds.
    pub forward_min_ns: f64,
    /// Timed runs (after warm-up).
    pub runs: usize,
}

fn median(v: &mut [u64]) -> f64 {
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0,
    }
}

/// Profile a network: `timed(times)` runs one forward pass and writes each layer's time (ns) to
/// `times[i]`; it runs `warmup` times untimed, then `runs` times.
pub fn run(
    layers: &[LayerInfo],
    warmup: usize,
    runs: usize,
    mut timed: impl FnMut(&mut [u64]),
) -> Profile {
    let n = layers.len();
    let mut times = std::vec![0u64; n];
    for _ in 0..warmup {
        timed(&mut times);
    }
    let runs = runs.max(1);
    let mut samples = std::vec![0u64; n * runs];
    let mut totals = std::vec![0u64; runs];
    for r in 0..runs {
        let t = Timer::start();
        timed(&mut times);
        totals[r] = t.stop_ns();
        samples[r * n..(r + 1) * n].copy_from_slice(&times);
    }
    let layers = (0..n)
        .map(|i| {
            let mut s: Vec<u64> = (0..runs).map(|r| samples[r * n + i]).collect();
            let timed_mult_adds = if layers[i].fused {
                0
            } else {
                let followers = layers[i + 1..].iter().take_while(|l| l.fused);
                layers[i].mult_adds + followers.map(|l| l.mult_adds).sum::<u64>()
            };
            LayerProfile {
                info: layers[i],
                median_ns: median(&mut s),
                min_ns: s[0] as f64,
                timed_mult_adds,
            }
        })
        .collect();
    Profile {
        layers,
        forward_ns: median(&mut totals),
        forward_min_ns: totals[0] as f64,
        runs,
    }
}

impl Profile {
    /// The sum of the layers' medians, nanoseconds.
    pub fn layers_ns(&self) -> f64 {
        self.layers.iter().map(|l| l.median_ns).sum()
    }
}

impl fmt::Display for Profile {
    /// A table: layer, op, output, Mult-Adds, median time, GFLOP/s, share of the layers' sum,
    /// shortest time and its GFLOP/s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sum = self.layers_ns().max(1.0);
        let width = self
            .layers
            .iter()
            .map(|l| l.info.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "{:>3}  {:<width$}  {:<16}  {:>14}  {:>11}  {:>10}  {:>8}  {:>6}  {:>9}  {:>8}",
            "#",
            "layer",
            "op",
            "output",
            "Mult-Adds",
            "time (us)",
            "GFLOP/s",
            "share",
            "min (us)",
            "GFLOP/s"
        )?;
        for (i, l) in self.layers.iter().enumerate() {
            let [h, w, c] = l.info.output;
            let out: String = std::format!("{h}x{w}x{c}");
            if l.info.fused {
                writeln!(
                    f,
                    "{:>3}  {:<width$}  {:<16}  {:>14}  {:>11}  {:>10}  (fused into layer {}: its time and GFLOP/s cover both)",
                    i + 1,
                    l.info.name,
                    l.info.op,
                    out,
                    l.info.mult_adds,
                    "-",
                    i
                )?;
                continue;
            }
            writeln!(
                f,
                "{:>3}  {:<width$}  {:<16}  {:>14}  {:>11}  {:>10.1}  {:>8.1}  {:>5.1}%  {:>9.1}  {:>8.1}",
                i + 1,
                l.info.name,
                l.info.op,
                out,
                l.info.mult_adds,
                l.median_ns / 1e3,
                l.gflops(),
                100.0 * l.median_ns / sum,
                l.min_ns / 1e3,
                l.min_gflops()
            )?;
        }
        let ma: u64 = self.layers.iter().map(|l| l.info.mult_adds).sum();
        writeln!(
            f,
            "forward: {:.3} ms median over {} runs (layers sum {:.3} ms), {} Mult-Adds, {:.1} GFLOP/s; min {:.3} ms, {:.1} GFLOP/s",
            self.forward_ns / 1e6,
            self.runs,
            self.layers_ns() / 1e6,
            ma,
            2.0 * ma as f64 / self.forward_ns.max(1.0),
            self.forward_min_ns / 1e6,
            2.0 * ma as f64 / self.forward_min_ns.max(1.0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_shares_and_table() {
        let infos = [
            LayerInfo {
                name: "a",
                op: "Conv 3x3",
                input: [4, 4, 3],
                output: [2, 2, 8],
                mult_adds: 864,
                params: 216,
                fused: false,
            },
            LayerInfo {
                name: "b",
                op: "Softmax",
                input: [1, 1, 8],
                output: [1, 1, 8],
                mult_adds: 0,
                params: 0,
                fused: false,
            },
        ];
        let mut k = 0u64;
        let p = run(&infos, 2, 3, |t| {
            k += 1;
            t[0] = 1000 * k; // 3000, 4000, 5000 after the 2 warm-up runs
            t[1] = 500;
        });
        assert_eq!(p.runs, 3);
        assert_eq!(p.layers[0].median_ns, 4000.0);
        assert_eq!(p.layers[1].median_ns, 500.0);
        assert_eq!(p.layers[0].min_ns, 3000.0);
        assert!((p.layers[0].min_gflops() - 2.0 * 864.0 / 3000.0).abs() < 1e-12);
        assert!((p.layers[0].gflops() - 2.0 * 864.0 / 4000.0).abs() < 1e-12);
        let table = std::format!("{p}");
        assert!(table.contains("  1  a      Conv 3x3                   2x2x8          864         4.0       0.4   88.9%        3.0       0.6"), "{table}");
        assert!(table.contains("  2  b      Softmax                    1x1x8            0         0.5       0.0   11.1%        0.5       0.0"), "{table}");
    }
}
