//! `classify` on the example photos: a cat photo's first class is a cat, the espresso photo's
//! is espresso. Runs the real binary, as a user would.

#[cfg(real_model)]
fn first_class(image: &str) -> String {
    let path = format!("{}/images/{image}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_classify"))
        .args(["--weights", env!("MOBILENET_REAL_WEIGHTS"), &path])
        .output()
        .expect("run classify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    eprintln!("{stdout}");
    stdout
        .lines()
        .nth(1)
        .expect("a first class line")
        .to_string()
}

#[cfg(real_model)]
#[test]
fn cat_photo_is_a_cat() {
    let first = first_class("cat.jpg");
    let cats = [
        "tabby",
        "tiger cat",
        "Persian cat",
        "Siamese cat",
        "Egyptian cat",
    ];
    assert!(cats.iter().any(|c| first.contains(c)), "{first}");
}

#[cfg(real_model)]
#[test]
fn espresso_photo_is_espresso() {
    let first = first_class("espresso.jpg");
    assert!(first.ends_with(" espresso"), "{first}");
}

#[cfg(not(real_model))]
#[test]
#[ignore = "models/mobilenet_v1_1.0_224.safetensors not fetched: run scripts/fetch_real_model.sh"]
fn photos_need_real_weights() {}

/// `--val` on a labelled folder of two of the photos (their ImageNet classes: 286 Egyptian cat,
/// 968 espresso; 2 "goldfish" for the rocket, which it is not).
#[cfg(real_model)]
#[test]
fn val_folder_counts_top1_and_top5() {
    let dir = std::env::temp_dir().join(format!("classify_val_test_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let images = format!("{}/images", env!("CARGO_MANIFEST_DIR"));
    for f in ["cat.jpg", "espresso.jpg", "rocket.jpg"] {
        std::fs::copy(format!("{images}/{f}"), dir.join(f)).unwrap();
    }
    std::fs::write(
        dir.join("labels.txt"),
        "cat.jpg 286\nespresso.jpg 968\nrocket.jpg 2\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_classify"))
        .args(["--weights", env!("MOBILENET_REAL_WEIGHTS"), "--val"])
        .arg(&dir)
        .output()
        .expect("run classify");
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("on 3 images of")
            && stdout.contains("top-1 2/3 (66.7%), top-5 2/3 (66.7%)"),
        "{stdout}"
    );
}
