//! A strict reader for the one kind of `.npy` file an input can be: a float32 array in C order.
//!
//! Why not `npyz` (which writes the logits): on hostile files it sizes an allocation by the
//! header length field (up to 4 GiB from a 12-byte file) before checking it against the file,
//! and its shape product overflows (a panic with overflow checks) on a crafted shape. This reader
//! checks every length against the file first, uses checked arithmetic, and reports the byte
//! offset of what it could not accept.
//!
//! Format (NumPy's `format.py`): the magic `\x93NUMPY`, a major and minor version byte, the
//! header length (u16 little-endian in version 1, u32 in versions 2 and 3), the header (a Python
//! dict literal with the keys `descr`, `fortran_order` and `shape`, padded with spaces and ended by
//! a newline), then the data.

use std::fmt;

/// The first bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// The most dimensions accepted (NumPy's own limit is 64).
pub const MAX_DIMS: usize = 32;

/// A parsed float32 array borrowing its data from the file.
#[derive(Debug)]
pub struct Array<'a> {
    /// The shape, C order.
    pub shape: Vec<u64>,
    big_endian: bool,
    data: &'a [u8],
}

impl Array<'_> {
    /// The values, in C order. The data's length was checked against the shape when parsing.
    pub fn f32_values(&self) -> Result<Vec<f32>, NpyError> {
        Ok(self
            .data
            .chunks_exact(4)
            .map(|b| {
                let b = [b[0], b[1], b[2], b[3]];
                if self.big_endian {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                }
            })
            .collect())
    }
}

/// What is wrong with a `.npy` file, and where (byte offset in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyError {
    /// Byte offset in the file.
    pub offset: usize,
    /// What is wrong.
    pub kind: NpyErrorKind,
}

/// What is wrong with a `.npy` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NpyErrorKind {
    /// The file does not start with `\x93NUMPY`.
    NoMagic,
    /// A format version this reader does not know.
    Version(u8, u8),
    /// The file ends inside its fixed-size prefix or its header.
    TruncatedHeader {
        /// The header length the prefix claims.
        header_len: u64,
        /// The bytes after the prefix.
        available: usize,
    },
    /// The header is not the expected dict literal.
    Syntax(&'static str),
    /// A key other than `descr`, `fortran_order`, `shape`.
    UnknownKey(String),
    /// A key given twice.
    DuplicateKey(&'static str),
    /// A required key is missing.
    MissingKey(&'static str),
    /// The element type is not float32.
    Dtype(String),
    /// The array is stored in Fortran (column-major) order.
    FortranOrder,
    /// The shape's element count overflows, or it has too many dimensions.
    ShapeTooLarge,
    /// The data's length differs from the shape's.
    DataLength {
        /// Bytes the shape needs.
        expected: u64,
        /// Bytes after the header.
        found: usize,
    },
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match &self.kind {
            NpyErrorKind::NoMagic => write!(f, "not a .npy file (it does not start with \\x93NUMPY); save arrays with numpy.save"),
            NpyErrorKind::Version(a, b) => write!(f, ".npy format version {a}.{b} at byte {at} is not one of 1.0, 2.0, 3.0; save the array with numpy.save"),
            NpyErrorKind::TruncatedHeader { header_len, available } => write!(
                f,
                "the .npy header length at byte {at} is {header_len} bytes but only {available} follow: the file is truncated"
            ),
            NpyErrorKind::Syntax(what) => write!(f, "malformed .npy header at byte {at}: expected {what}"),
            NpyErrorKind::UnknownKey(k) => write!(f, "the .npy header has an unknown key '{k}' at byte {at} (only 'descr', 'fortran_order', 'shape')"),
            NpyErrorKind::DuplicateKey(k) => write!(f, "the .npy header repeats the key '{k}' at byte {at}"),
            NpyErrorKind::MissingKey(k) => write!(f, "the .npy header has no '{k}' key"),
            NpyErrorKind::Dtype(d) => write!(
                f,
                "the array's dtype is '{d}' (at byte {at}), the network takes float32 ('<f4'); convert it with x.astype(numpy.float32)"
            ),
            NpyErrorKind::FortranOrder => write!(
                f,
                "the array is stored in Fortran order (byte {at}); save numpy.ascontiguousarray(x) instead"
            ),
            NpyErrorKind::ShapeTooLarge => write!(f, "the .npy shape at byte {at} is too large (more than {MAX_DIMS} dimensions, or an element count that overflows)"),
            NpyErrorKind::DataLength { expected, found } => write!(
                f,
                "the .npy data at byte {at} holds {found} bytes, its shape needs {expected}: the file is {}",
                if (*found as u64) < *expected { "truncated" } else { "longer than its header says (corrupt)" }
            ),
        }
    }
}

impl std::error::Error for NpyError {}

/// Parse a `.npy` file holding a float32 C-order array.
pub fn parse(bytes: &[u8]) -> Result<Array<'_>, NpyError> {
    let err = |offset, kind| NpyError { offset, kind };
    if !bytes.starts_with(MAGIC) {
        return Err(err(0, NpyErrorKind::NoMagic));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => {
            return Err(err(
                6,
                NpyErrorKind::TruncatedHeader {
                    header_len: 0,
                    available: bytes.len() - 6,
                },
            ));
        }
    };
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(err(6, NpyErrorKind::Version(major, minor))),
    };
    let Some(len_bytes) = bytes.get(8..8 + len_size) else {
        return Err(err(
            8,
            NpyErrorKind::TruncatedHeader {
                header_len: 0,
                available: bytes.len() - 8,
            },
        ));
    };
    let header_len = len_bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let start = 8 + len_size;
    let available = bytes.len() - start;
    if header_len > available as u64 {
        return Err(err(
            8,
            NpyErrorKind::TruncatedHeader {
                header_len,
                available,
            },
        ));
    }
    let end = start + header_len as usize;
    let header = &bytes[start..end];
    let dict = Dict::parse(header, start)?;
    let big_endian = match dict.descr.0.as_str() {
        "<f4" => false,
        ">f4" => true,
        other => return Err(err(dict.descr.1, NpyErrorKind::Dtype(other.to_string()))),
    };
    if dict.fortran_order.0 {
        return Err(err(dict.fortran_order.1, NpyErrorKind::FortranOrder));
    }
    let numel = dict
        .shape
        .0
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_mul(4))
        .ok_or(err(dict.shape.1, NpyErrorKind::ShapeTooLarge))?;
    let data = &bytes[end..];
    if data.len() as u64 != numel {
        return Err(err(
            end,
            NpyErrorKind::DataLength {
                expected: numel,
                found: data.len(),
            },
        ));
    }
    Ok(Array {
        shape: dict.shape.0,
        big_endian,
        data,
    })
}

/// The header dict's values, each with the file offset of its text.
struct Dict {
    descr: (String, usize),
    fortran_order: (bool, usize),
    shape: (Vec<u64>, usize),
}

/// A cursor over the header text; `base` is the header's offset in the file.
struct Cur<'a> {
    s: &'a [u8],
    pos: usize,
    base: usize,
}

impl Cur<'_> {
    fn at(&self) -> usize {
        self.base + self.pos
    }
    fn fail<T>(&self, what: &'static str) -> Result<T, NpyError> {
        Err(NpyError {
            offset: self.at(),
            kind: NpyErrorKind::Syntax(what),
        })
    }
    fn ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), NpyError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.fail(what)
        }
    }
    /// A Python string literal in single or double quotes, without escapes.
    fn string(&mut self) -> Result<String, NpyError> {
        let Some(q @ (b'\'' | b'"')) = self.peek() else {
            return self.fail("a quoted string");
        };
        let begin = self.pos + 1;
        let Some(len) = self.s[begin..].iter().position(|&b| b == q || b == b'\\') else {
            return self.fail("the closing quote of a string");
        };
        if self.s[begin + len] == b'\\' {
            self.pos = begin + len;
            return self.fail("a string without escapes");
        }
        let text = String::from_utf8_lossy(&self.s[begin..begin + len]).into_owned();
        self.pos = begin + len + 1;
        Ok(text)
    }
    fn word(&mut self) -> &[u8] {
        self.ws();
        let begin = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.pos += 1;
        }
        &self.s[begin..self.pos]
    }
    fn int(&mut self) -> Result<u64, NpyError> {
        self.ws();
        let begin = self.at();
        let w = self.word();
        if w.is_empty() || !w.iter().all(u8::is_ascii_digit) {
            self.pos -= w.len();
            return self.fail("a non-negative integer");
        }
        w.iter()
            .try_fold(0u64, |acc, &d| {
                acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
            .ok_or(NpyError {
                offset: begin,
                kind: NpyErrorKind::ShapeTooLarge,
            })
    }
}

impl Dict {
    fn parse(header: &[u8], base: usize) -> Result<Dict, NpyError> {
        let mut c = Cur {
            s: header,
            pos: 0,
            base,
        };
        let (mut descr, mut fortran, mut shape) = (None, None, None);
        c.expect(b'{', "'{' starting the header dict")?;
        while !c.eat(b'}') {
            let key_at = {
                c.ws();
                c.at()
            };
            let key = c.string()?;
            c.expect(b':', "':' after a key")?;
            c.ws();
            let value_at = c.at();
            let dup = |k| {
                Err(NpyError {
                    offset: key_at,
                    kind: NpyErrorKind::DuplicateKey(k),
                })
            };
            match key.as_str() {
                "descr" => {
                    if descr.is_some() {
                        return dup("descr");
                    }
                    descr = Some((c.string()?, value_at));
                }
                "fortran_order" => {
                    if fortran.is_some() {
                        return dup("fortran_order");
                    }
                    let v = match c.word() {
                        b"True" => true,
                        b"False" => false,
                        _ => {
                            return Err(NpyError {
                                offset: value_at,
                                kind: NpyErrorKind::Syntax("True or False"),
                            })
                        }
                    };
                    fortran = Some((v, value_at));
                }
                "shape" => {
                    if shape.is_some() {
                        return dup("shape");
                    }
                    c.expect(b'(', "'(' starting the shape tuple")?;
                    let mut dims = Vec::new();
                    while !c.eat(b')') {
                        if dims.len() == MAX_DIMS {
                            return Err(NpyError {
                                offset: value_at,
                                kind: NpyErrorKind::ShapeTooLarge,
                            });
                        }
                        dims.push(c.int()?);
                        if !c.eat(b',') && c.peek() != Some(b')') {
                            return c.fail("',' or ')' in the shape tuple");
                        }
                    }
                    shape = Some((dims, value_at));
                }
                _ => {
                    return Err(NpyError {
                        offset: key_at,
                        kind: NpyErrorKind::UnknownKey(key),
                    })
                }
            }
            if !c.eat(b',') && c.peek() != Some(b'}') {
                return c.fail("',' or '}' after a value");
            }
        }
        if c.peek().is_some() {
            return c.fail("only spaces and a newline after the header dict");
        }
        let missing = |k| NpyError {
            offset: base,
            kind: NpyErrorKind::MissingKey(k),
        };
        Ok(Dict {
            descr: descr.ok_or(missing("descr"))?,
            fortran_order: fortran.ok_or(missing("fortran_order"))?,
            shape: shape.ok_or(missing("shape"))?,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A version 1.0 file as numpy.save writes it.
    pub(crate) fn file(descr: &str, fortran: bool, shape: &str, values: &[f32]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        raw(
            &dict,
            &values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
    }

    pub(crate) fn raw(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn msg(bytes: &[u8]) -> String {
        parse(bytes).unwrap_err().to_string()
    }

    #[test]
    fn reads_what_numpy_writes() {
        let f = file("<f4", false, "(2, 3)", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let a = parse(&f).unwrap();
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.f32_values().unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let f = raw(
            "{'shape': (3,), \"descr\": '>f4', 'fortran_order': False}",
            &[0x3f, 0x80, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0],
        );
        let a = parse(&f).unwrap();
        assert_eq!(a.f32_values().unwrap(), [1.0, 0.0, -2.0]);
        let f = raw(
            "{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
            &1.5f32.to_le_bytes(),
        );
        let a = parse(&f).unwrap();
        assert_eq!(a.shape, Vec::<u64>::new());
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            msg(b"PK\x03\x04"),
            "not a .npy file (it does not start with \\x93NUMPY); save arrays with numpy.save"
        );
        assert_eq!(msg(b"\x93NUMPY\x04\x00\x10\x00"), ".npy format version 4.0 at byte 6 is not one of 1.0, 2.0, 3.0; save the array with numpy.save");
        // A 4 GiB header length in a 12-byte file: refused before anything is allocated.
        assert_eq!(
            msg(b"\x93NUMPY\x02\x00\xff\xff\xff\xff"),
            "the .npy header length at byte 8 is 4294967295 bytes but only 0 follow: the file is truncated"
        );
        assert_eq!(
            msg(b"\x93NUMPY\x01"),
            "the .npy header length at byte 6 is 0 bytes but only 1 follow: the file is truncated"
        );
        assert_eq!(
            msg(&file("<f8", false, "(2,)", &[0.0; 4])),
            "the array's dtype is '<f8' (at byte 20), the network takes float32 ('<f4'); convert it with x.astype(numpy.float32)"
        );
        assert_eq!(
            msg(&file("<f4", true, "(2, 2)", &[0.0; 4])),
            "the array is stored in Fortran order (byte 44); save numpy.ascontiguousarray(x) instead"
        );
        assert_eq!(
            msg(&file("<f4", false, "(4294967296, 4294967296)", &[])),
            "the .npy shape at byte 60 is too large (more than 32 dimensions, or an element count that overflows)"
        );
        assert_eq!(
            msg(&file("<f4", false, "(99999999999999999999999,)", &[])),
            "the .npy shape at byte 61 is too large (more than 32 dimensions, or an element count that overflows)"
        );
        assert_eq!(
            msg(&file("<f4", false, "(1, 4)", &[0.0; 3])),
            "the .npy data at byte 128 holds 12 bytes, its shape needs 16: the file is truncated"
        );
        assert_eq!(
            msg(&file("<f4", false, "(1, 2)", &[0.0; 3])),
            "the .npy data at byte 128 holds 12 bytes, its shape needs 8: the file is longer than its header says (corrupt)"
        );
        assert_eq!(
            msg(&raw("{'descr': '<f4', 'shape': (1,)}", &[0; 4])),
            "the .npy header has no 'fortran_order' key"
        );
        assert_eq!(
            msg(&raw("{'descr': '<f4', 'descr': '<f4'}", &[])),
            "the .npy header repeats the key 'descr' at byte 27"
        );
        assert_eq!(
            msg(&raw("{'descr': '<f4', 'colour': 1}", &[])),
            "the .npy header has an unknown key 'colour' at byte 27 (only 'descr', 'fortran_order', 'shape')"
        );
        assert_eq!(
            msg(&raw("{'descr': '<f4', 'fortran_order': Maybe}", &[])),
            "malformed .npy header at byte 44: expected True or False"
        );
        assert_eq!(
            msg(&raw(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}",
                &[]
            )),
            "malformed .npy header at byte 63: expected ',' or ')' in the shape tuple"
        );
        assert_eq!(
            msg(&raw(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
                &[]
            )),
            "malformed .npy header at byte 61: expected a non-negative integer"
        );
        assert_eq!(
            msg(&raw("{'descr': '<f4} ", &[])),
            "malformed .npy header at byte 20: expected the closing quote of a string"
        );
        assert_eq!(
            msg(&raw("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", &[])),
            "malformed .npy header at byte 64: expected only spaces and a newline after the header dict"
        );
    }

    #[test]
    fn no_prefix_of_a_file_parses_and_none_panics() {
        let good = file("<f4", false, "(1, 2, 2, 3)", &[0.25; 12]);
        for n in 0..good.len() {
            assert!(parse(&good[..n]).is_err(), "prefix {n}");
        }
        assert!(parse(&good).is_ok());
    }
}
