//! Replays every seed corpus through its target, then a short deterministic mutation smoke per
//! target and a structured differential run of the two safetensors readers. Seconds, on stable;
//! the long coverage-guided runs are `scripts/fuzz.sh` (libFuzzer).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mobilenet_fuzz::safetensors_diff::{self, Outcome};
use mobilenet_fuzz::seeds::safetensors_file;
use mobilenet_fuzz::{MAX_INPUT, TARGETS};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// The seeds of `target` and the inputs that once found a bug (`regressions/<target>/`).
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("corpus/{target}: {e}"))
        .chain(std::fs::read_dir(regressions).into_iter().flatten())
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Run `f` on `input`; on a panic, keep the input under `target/fuzz-findings/` and fail naming it.
fn run(target: &str, f: mobilenet_fuzz::Target, input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| f(input))).is_err() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/fuzz-findings")
            .join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("finding-{:016x}", fnv(input)));
        std::fs::write(&path, input).unwrap();
        panic!(
            "target `{target}` panicked on {what}; the input is saved as {}",
            path.display()
        );
    }
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn every_target_has_a_seed_corpus_and_replays_it() {
    for (target, f) in TARGETS {
        let files = corpus(target);
        assert!(
            files.len() >= 2,
            "corpus/{target} has {} files",
            files.len()
        );
        for (path, bytes) in &files {
            run(target, *f, bytes, &path.display().to_string());
        }
    }
}

use mobilenet_compiler::rng::SplitMix64 as Rng;

/// One libFuzzer-like mutation: flip, set to an interesting byte, insert, delete, duplicate a
/// span, truncate, splice with another seed, or overwrite with an interesting integer.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'}', b',', b'9'];
    let len = input.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 => {
            let i = rng.below(len + 1);
            input.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(16));
            input.drain(i..i + n);
        }
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(32));
            let span: Vec<u8> = input[i..i + n].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, span);
        }
        5 => input.truncate(rng.below(len + 1)),
        6 if !other.is_empty() => {
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        _ if len >= 8 => {
            let i = rng.below(len - 7);
            let v: u64 = [
                0,
                1,
                u64::MAX,
                1 << 32,
                1 << 31,
                100_000_001,
                0x7fff_ffff_ffff_ffff,
            ][rng.below(7)];
            input[i..i + 8].copy_from_slice(&v.to_le_bytes());
        }
        _ => input.push(rng.below(256) as u8),
    }
    input.truncate(MAX_INPUT);
}

/// Per target, mutations of its seeds for a bounded time.
#[test]
fn mutation_smoke() {
    let budget = Duration::from_millis(
        std::env::var("MOBILENET_FUZZ_SMOKE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    for (t, (target, f)) in TARGETS.iter().enumerate() {
        let seeds = corpus(target);
        let mut rng = Rng(0x5EED ^ t as u64);
        let start = Instant::now();
        let mut execs = 0u64;
        while start.elapsed() < budget {
            let (_, base) = &seeds[rng.below(seeds.len())];
            let (_, other) = &seeds[rng.below(seeds.len())];
            let mut input = base.clone();
            for _ in 0..1 + rng.below(4) {
                mutate(&mut rng, &mut input, other);
            }
            run(target, *f, &input, "a mutated seed");
            execs += 1;
        }
        eprintln!(
            "{target}: {execs} mutated inputs in {:.1} s, no panic",
            start.elapsed().as_secs_f64()
        );
        assert!(execs > 0);
    }
}

/// Random well-formed and subtly broken safetensors files, from a grammar: both readers must
/// agree on each. The counts show the run reached both accepting and rejecting files.
#[test]
fn safetensors_structured_differential() {
    const DTYPES: [(&str, usize); 8] = [
        ("F32", 32),
        ("U8", 8),
        ("F16", 16),
        ("BOOL", 8),
        ("F4", 4),
        ("I64", 64),
        ("F8_E8M0", 8),
        ("C64", 64),
    ]; // C64: a dtype neither reader knows;
    let mut rng = Rng(42);
    let (mut accept, mut reject, mut stricter) = (0, 0, 0);
    for _ in 0..20_000 {
        let n = rng.below(5);
        let mut entries = Vec::new();
        let mut offset = 0usize;
        for i in 0..n {
            let (dtype, bits) = DTYPES[rng.below(DTYPES.len())];
            let shape: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(4)).collect();
            let numel: usize = shape.iter().product();
            let mut bytes = (numel * bits).div_ceil(8);
            // Defects, each rarely: wrong length, gap, overlap, begin after end.
            let mut begin = offset;
            match rng.below(12) {
                0 => bytes += 1,
                1 => begin += 1,
                2 if begin > 0 => begin -= 1,
                _ => {}
            }
            let mut end = begin + bytes;
            if rng.below(30) == 0 {
                std::mem::swap(&mut begin, &mut end);
            }
            let name = match rng.below(10) {
                0 => "dup".to_string(),
                1 => "t\\u00e9\\n".to_string(),
                2 => "__metadata_".to_string(),
                _ => format!("t{i}"),
            };
            let shape_json = shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let mut fields = vec![
                format!(r#""dtype":"{dtype}""#),
                format!(r#""shape":[{shape_json}]"#),
                format!(r#""data_offsets":[{begin},{end}]"#),
            ];
            if rng.below(20) == 0 {
                fields.push(r#""extra":1"#.to_string());
            }
            if rng.below(20) == 0 {
                fields.remove(rng.below(3));
            }
            // Field order does not matter.
            let k = rng.below(fields.len());
            fields.rotate_left(k);
            entries.push(format!(r#""{name}":{{{}}}"#, fields.join(",")));
            offset = begin.max(end);
        }
        if rng.below(4) == 0 {
            let meta = match rng.below(4) {
                0 => r#""__metadata__":{"a":"b","a":"c"}"#,
                1 => r#""__metadata__":{"format":"pt"}"#,
                2 => r#""__metadata__":{"n":1}"#,
                _ => r#""__metadata__":{}"#,
            };
            let at = rng.below(entries.len() + 1);
            entries.insert(at, meta.to_string());
        }
        let header = format!("{{{}}}", entries.join(","));
        let mut data_len = offset;
        if rng.below(15) == 0 {
            data_len += 1;
        }
        let data: Vec<u8> = (0..data_len).map(|_| rng.below(256) as u8).collect();
        let file = safetensors_file(&header, &data);
        match catch_unwind(|| safetensors_diff::check(&file)) {
            Ok(Outcome::BothAccept) => accept += 1,
            Ok(Outcome::BothReject) => reject += 1,
            Ok(Outcome::Stricter) => stricter += 1,
            Err(_) => panic!("disagreement on header {header} with {data_len} data bytes"),
        }
    }
    eprintln!("20000 files: {accept} accepted by both, {reject} rejected by both, {stricter} rejected only by the stricter runtime reader");
    assert!(
        accept > 1000 && reject > 1000 && stricter > 100,
        "{accept} {reject} {stricter}"
    );
}

/// Regenerates the committed seed corpora (run by hand after changing `seeds.rs`).
#[test]
#[ignore = "writes corpus/; run by hand: cargo test -p mobilenet-fuzz -- --ignored write_seed_corpus"]
fn write_seed_corpus() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (target, _) in TARGETS {
        if *target == "tflite" {
            // Made by TensorFlow (scripts/make_tflite_seed.py), not by `seeds`: kept.
            continue;
        }
        let dir = corpus_dir(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (target, name, bytes) in mobilenet_fuzz::seeds::seeds(&repo) {
        std::fs::write(corpus_dir(target).join(name), bytes).unwrap();
    }
}

/// The seeds reach the accepting paths (a corpus of rejected inputs would fuzz only the front
/// door of each loader).
#[test]
fn seeds_reach_the_success_paths() {
    let net = mobilenet_fuzz::tiny_net();
    let read = |t: &str, f: &str| std::fs::read(corpus_dir(t).join(f)).unwrap();
    let valid = read("weights", "valid.safetensors");
    assert!(mobilenet_compiler::weights::check(net, "valid", &valid).is_ok());
    assert!(mobilenet_fuzz::tiny::Model::from_safetensors(&valid).is_ok());
    let graph = read("tf_graph", "tiny_frozen.pb");
    let imported = mobilenet_compiler::import::tf_graph(net, &graph).map(|(b, _)| b);
    assert_eq!(
        imported.as_deref().map(|b| b.len()),
        Ok(valid.len()),
        "the seed graph imports"
    );
    for f in ["tiny_int8.tflite", "tiny_f32.tflite"] {
        let files = [(f.to_string(), read("tflite", f))];
        let imported = mobilenet_compiler::tflite::import(&files, &Default::default());
        assert!(imported.is_ok(), "{f}: {:?}", imported.err());
    }
    assert!(classify::decode("x.npy", &read("npy", "input.npy"), [2, 2, 3]).is_ok());
    assert!(classify::decode("x.png", &read("image", "rgb.png"), [4, 4, 3]).is_ok());
    assert!(classify::decode("x.jpg", &read("image", "rgb.jpg"), [4, 4, 3]).is_ok());
    assert!(mobilenet_compiler::compile_str(
        "t.toml",
        &String::from_utf8(read("spec", "specs_v2_alpha100.toml")).unwrap()
    )
    .is_ok());
}
