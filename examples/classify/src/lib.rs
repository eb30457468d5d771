//! Reading a network's input from a file: JPEG/PNG photos (decoded with the `image` crate under
//! size limits, center-cropped, resized and normalized) and `.npy` float32 tensors (for
//! comparing numerics with another engine).
//!
//! Every failure is an [`InputError`] naming the file, what is wrong (with the byte offset
//! where there is one) and what to do; nothing here panics on a file's contents, and no
//! allocation is sized by a number read from a file before that number has been checked
//! against the file's length and the network's input shape.

use std::fmt;
use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;

pub mod npy;

/// The largest image side accepted (pixels), and the most memory a decoder may take: far above
/// any photo, far below what a crafted header could ask for.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// See [`MAX_IMAGE_SIDE`].
pub const MAX_IMAGE_BYTES: u64 = 512 << 20;

/// Why an input file could not be turned into the network's input tensor.
#[derive(Debug)]
pub struct InputError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub kind: InputErrorKind,
}

/// What is wrong with an input file.
#[derive(Debug)]
pub enum InputErrorKind {
    /// The file could not be read.
    Io(std::io::Error),
    /// A `.npy` file that is malformed or holds the wrong tensor.
    Npy(npy::NpyError),
    /// A `.npy` tensor of the wrong shape.
    NpyShape {
        /// Its shape.
        found: Vec<u64>,
        /// The network's input shape `[h, w, c]`.
        expected: [usize; 3],
    },
    /// A non-finite value in a `.npy` tensor.
    NonFinite {
        /// Flat index of the first one.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The bytes are no image format the decoder knows.
    UnknownFormat,
    /// The image is corrupt, truncated, or over the size limits.
    Image(image::ImageError),
    /// The network does not take 3-channel images.
    NotRgb {
        /// Its input channels.
        channels: usize,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.path;
        match &self.kind {
            InputErrorKind::Io(e) => write!(f, "{p}: cannot read the file: {e}"),
            InputErrorKind::Npy(e) => write!(f, "{p}: {e}"),
            InputErrorKind::NpyShape { found, expected: [h, w, c] } => write!(
                f,
                "{p}: the array has shape {found:?}, the network takes [1, {h}, {w}, {c}] or [{h}, {w}, {c}] \
                 (NHWC float32, normalized); resize the image before saving it, and transpose NCHW arrays with \
                 x.transpose(0, 2, 3, 1)"
            ),
            InputErrorKind::NonFinite { index, value } => write!(
                f,
                "{p}: element {index} is {value}; the network's input must be finite (check the preprocessing \
                 that wrote the array)"
            ),
            InputErrorKind::UnknownFormat => write!(
                f,
                "{p}: not a JPEG or PNG image (unknown file signature), nor a .npy file; pass a photo or an \
                 array saved with numpy.save"
            ),
            InputErrorKind::Image(image::ImageError::Limits(e)) => write!(
                f,
                "{p}: the image is too large to decode ({e}); at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} \
                 pixels and {} MiB are accepted: downscale it first",
                MAX_IMAGE_BYTES >> 20
            ),
            InputErrorKind::NotRgb { channels } => write!(
                f,
                "{p}: the network takes {channels} input channels, images are decoded to 3 (RGB)"
            ),
            InputErrorKind::Image(e) => write!(
                f,
                "{p}: the image is corrupt or truncated ({e}); re-encode or re-download it"
            ),
        }
    }
}

impl std::error::Error for InputError {}

/// Read `path` (a `.npy` array or an image) as an NHWC input of `shape` (`[h, w, c]`).
pub fn load(path: &Path, shape: [usize; 3]) -> Result<Vec<f32>, InputError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| InputError {
        path: name.clone(),
        kind: InputErrorKind::Io(e),
    })?;
    decode(&name, &bytes, shape)
}

/// Decode the bytes of an input file (`name` is only used in errors): a `.npy` array (recognized
/// by its magic bytes) or an image.
pub fn decode(name: &str, bytes: &[u8], shape: [usize; 3]) -> Result<Vec<f32>, InputError> {
    let err = |kind| InputError {
        path: name.to_string(),
        kind,
    };
    if bytes.starts_with(npy::MAGIC) || name.ends_with(".npy") {
        return decode_npy(bytes, shape).map_err(err);
    }
    decode_image(bytes, shape)
        .map(|p| normalize(&p))
        .map_err(err)
}

fn decode_npy(bytes: &[u8], [h, w, c]: [usize; 3]) -> Result<Vec<f32>, InputErrorKind> {
    let array = npy::parse(bytes).map_err(InputErrorKind::Npy)?;
    let (h64, w64, c64) = (h as u64, w as u64, c as u64);
    if array.shape != [h64, w64, c64] && array.shape != [1, h64, w64, c64] {
        return Err(InputErrorKind::NpyShape {
            found: array.shape.clone(),
            expected: [h, w, c],
        });
    }
    // The shape matches the network's, so the data's length is bounded by the network.
    let values = array.f32_values().map_err(InputErrorKind::Npy)?;
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(InputErrorKind::NonFinite { index, value });
    }
    Ok(values)
}

fn decode_image(bytes: &[u8], [h, w, c]: [usize; 3]) -> Result<Vec<u8>, InputErrorKind> {
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(InputErrorKind::Io)?;
    if reader.format().is_none() {
        return Err(InputErrorKind::UnknownFormat);
    }
    let mut reader = reader;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(InputErrorKind::Image)?.to_rgb8();
    debug_assert_eq!(c, 3, "images are decoded to RGB");
    Ok(crop_resize(&img, h as u32, w as u32))
}

/// Read the image at `path` as `shape`'s RGB bytes (`h x w x 3`, [`crop_resize`]d): the input of
/// a quantized network, whose input quantization maps these bytes to its normalization (the
/// released quantized MobileNets' `u8` input: x = (q - 128) / 128).
pub fn load_pixels(path: &Path, [h, w, c]: [usize; 3]) -> Result<Vec<u8>, InputError> {
    let name = path.display().to_string();
    let err = |kind| InputError {
        path: name.clone(),
        kind,
    };
    let bytes = std::fs::read(path).map_err(|e| err(InputErrorKind::Io(e)))?;
    if c != 3 {
        return Err(err(InputErrorKind::NotRgb { channels: c }));
    }
    decode_image(&bytes, [h, w, c]).map_err(err)
}

/// The central square crop of `img`, resized to `h` x `w` with a bilinear (triangle) filter
/// whose support widens with the shrink factor (antialiased, as Pillow's `resize(..., BILINEAR)`).
pub fn crop_resize(img: &image::RgbImage, h: u32, w: u32) -> Vec<u8> {
    let side = img.width().min(img.height());
    let (x0, y0) = ((img.width() - side) / 2, (img.height() - side) / 2);
    let square = image::imageops::crop_imm(img, x0, y0, side, side).to_image();
    image::imageops::resize(&square, w, h, FilterType::Triangle).into_raw()
}

/// The TF-slim release's preprocessing: [`crop_resize`], then scaled to [-1, 1] as
/// (x - 127.5) / 127.5.
pub fn preprocess(img: &image::RgbImage, h: u32, w: u32) -> Vec<f32> {
    normalize(&crop_resize(img, h, w))
}

/// RGB bytes scaled to [-1, 1] as (x - 127.5) / 127.5.
pub fn normalize(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&x| (x as f32 - 127.5) / 127.5).collect()
}

/// A labelled image folder for `classify --val`: `DIR/labels.txt` with a `<file> <label>` line per
/// image (the label a class index of the network's output), the files in `DIR/images/` (or
/// `DIR/` itself).
pub fn read_val_dir(dir: &Path) -> Result<Vec<(std::path::PathBuf, usize)>, String> {
    let list = dir.join("labels.txt");
    let text = std::fs::read_to_string(&list).map_err(|e| {
        format!(
            "{}: cannot read the label list: {e}; a --val folder holds labels.txt with a `<file> <class index>` line per image",
            list.display()
        )
    })?;
    let images = if dir.join("images").is_dir() {
        dir.join("images")
    } else {
        dir.to_path_buf()
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line
            .rsplit_once(char::is_whitespace)
            .and_then(|(f, l)| Some((f.trim(), l.parse::<usize>().ok()?)));
        let Some((file, label)) = parsed else {
            return Err(format!(
                "{}:{}: `{line}` is not `<file> <class index>`",
                list.display(),
                n + 1
            ));
        };
        out.push((images.join(file), label));
    }
    if out.is_empty() {
        return Err(format!("{}: no images listed", list.display()));
    }
    Ok(out)
}

/// The indices of the `k` largest scores, largest first (the lower index first among equals).
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: [usize; 3] = [2, 2, 3];

    fn msg(bytes: &[u8]) -> String {
        decode("x.npy", bytes, SHAPE).unwrap_err().to_string()
    }

    #[test]
    fn npy_of_the_right_shape_loads() {
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5).collect();
        let bytes = npy::tests::file("<f4", false, "(1, 2, 2, 3)", &values);
        assert_eq!(decode("x.npy", &bytes, SHAPE).unwrap(), values);
        let bytes = npy::tests::file("<f4", false, "(2, 2, 3)", &values);
        assert_eq!(decode("x.npy", &bytes, SHAPE).unwrap(), values);
    }

    #[test]
    fn npy_of_the_wrong_shape_says_the_right_one() {
        let bytes = npy::tests::file("<f4", false, "(1, 3, 2, 2)", &[0.0; 12]);
        assert_eq!(
            msg(&bytes),
            "x.npy: the array has shape [1, 3, 2, 2], the network takes [1, 2, 2, 3] or [2, 2, 3] (NHWC \
             float32, normalized); resize the image before saving it, and transpose NCHW arrays with \
             x.transpose(0, 2, 3, 1)"
        );
    }

    #[test]
    fn npy_with_nan_is_an_error() {
        let mut v = [0.0f32; 12];
        v[7] = f32::NAN;
        let bytes = npy::tests::file("<f4", false, "(2, 2, 3)", &v);
        assert_eq!(
            msg(&bytes),
            "x.npy: element 7 is NaN; the network's input must be finite (check the preprocessing that wrote \
             the array)"
        );
    }

    #[test]
    fn val_dir_labels() {
        let dir = std::env::temp_dir().join(format!("classify_val_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("labels.txt"), "a.jpg 3\n\n# note\nb c.png 17\n").unwrap();
        let got = read_val_dir(&dir).unwrap();
        assert_eq!(got, vec![(dir.join("a.jpg"), 3), (dir.join("b c.png"), 17)]);
        std::fs::write(dir.join("labels.txt"), "a.jpg cat\n").unwrap();
        let e = read_val_dir(&dir).unwrap_err();
        assert!(
            e.ends_with("labels.txt:1: `a.jpg cat` is not `<file> <class index>`"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let e = read_val_dir(&dir).unwrap_err();
        assert!(e.contains("cannot read the label list"), "{e}");
    }

    #[test]
    fn top_k_orders_scores() {
        assert_eq!(top_k(&[0.1, 0.7, 0.7, -1.0, 0.3], 3), vec![1, 2, 4]);
        assert_eq!(top_k(&[1.0], 5), vec![0]);
    }

    #[test]
    fn corrupt_and_unknown_images() {
        let e = decode("cat.jpg", b"hello, world", [2, 2, 3]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cat.jpg: not a JPEG or PNG image (unknown file signature), nor a .npy file; pass a photo or an \
             array saved with numpy.save"
        );
        // A PNG signature followed by garbage.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&[0x13; 40]);
        let e = decode("cat.png", &png, [2, 2, 3]).unwrap_err().to_string();
        assert!(
            e.starts_with("cat.png: the image is corrupt or truncated ("),
            "{e}"
        );
        assert!(e.ends_with("); re-encode or re-download it"), "{e}");
        // A valid image cut short.
        let good = tiny_png(8, 8);
        let e = decode("cut.png", &good[..good.len() - 20], [2, 2, 3])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cut.png: the image is corrupt or truncated"),
            "{e}"
        );
        assert_eq!(decode("ok.png", &good, [2, 2, 3]).unwrap().len(), 12);
    }

    #[test]
    fn an_image_over_the_limits_is_refused_before_decoding() {
        // A PNG whose header claims 100000 x 100000 pixels.
        let mut png = tiny_png(1, 1);
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        // The IHDR chunk's CRC (over its type and data, bytes 12..29) must still match.
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = decode("huge.png", &png, [2, 2, 3]).unwrap_err().to_string();
        assert!(
            e.starts_with("huge.png: the image is too large to decode ("),
            "{e}"
        );
        assert!(
            e.ends_with("at most 16384x16384 pixels and 512 MiB are accepted: downscale it first"),
            "{e}"
        );
    }

    /// CRC-32 (ISO-HDLC, as PNG chunks use), bit by bit: a test helper.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn tiny_png(w: u32, h: u32) -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 7]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }
}
