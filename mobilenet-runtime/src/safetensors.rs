//! A minimal, strict, allocation-free reader for the
//! [safetensors](https://github.com/huggingface/safetensors) format.
//!
//! # Format
//!
//! ```text
//! [8 bytes: N, little-endian u64][N bytes: JSON header][data section]
//! ```
//!
//! The header is a UTF-8 JSON object mapping each tensor name to
//! `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}`, plus an
//! optional `"__metadata__"` object of string to string. Offsets are relative
//! to the start of the data section.
//!
//! # Strictness
//!
//! [`SafeTensors::parse`] validates everything once, up front, and never
//! panics on malformed input:
//!
//! * the header length against the buffer, the header as UTF-8 and as
//!   RFC 8259 JSON (escapes, no control characters in strings, no lone
//!   surrogates, nothing but whitespace after the object);
//! * each tensor entry has exactly the fields `dtype`, `shape` (at most
//!   [`MAX_DIMS`] non-negative integers) and `data_offsets` (two
//!   non-negative integers), each once;
//! * `begin <= end <= data section length`, and `end - begin` equals the
//!   element count times the dtype size (unknown dtypes skip this check);
//! * no two tensors share a name, and the tensors' byte ranges neither
//!   overlap nor leave bytes of the data section unreferenced, as the format
//!   requires (an empty tensor may sit at a boundary, not inside another's
//!   bytes);
//! * every dtype is one of the format's, and a sub-byte dtype's elements fill
//!   whole bytes; at most [`MAX_TENSORS`] tensors and a header of at most
//!   [`MAX_HEADER_LEN`] bytes;
//! * `__metadata__`, if present, appears once and maps strings to strings
//!   (its keys are not checked for duplicates).
//!
//! Nothing is stored: lookups re-scan the (already validated) header, so
//! [`SafeTensors::get`] costs time linear in the header size and the
//! duplicate/overlap validation is quadratic in the tensor count, which is
//! negligible for CNN-sized models (a few hundred tensors).
//!
//! # Names
//!
//! JSON strings may contain escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`,
//! `\r`, `\t`, `\uXXXX` including surrogate pairs). Since decoding would
//! need an allocation, [`TensorView::name`] is the raw text between the
//! quotes, which equals the real name whenever it contains no backslash (by
//! far the common case). Lookups compare by decoded value, decoding on the
//! fly: [`SafeTensors::get`], [`TensorView::name_matches`], [`unescaped_eq`].
//!
//! # Errors
//!
//! [`SafeTensorsError`] variants carry byte offsets into the JSON header
//! (add 8 for the offset in the file) where they concern a specific place.

use core::fmt;

/// The largest number of dimensions a tensor shape may have.
pub const MAX_DIMS: usize = 8;

/// The longest JSON header accepted (bytes), as in the reference implementation.
pub const MAX_HEADER_LEN: usize = 100_000_000;

/// The largest number of tensors a file may hold. The allocation-free duplicate and overlap
/// checks are quadratic in the tensor count; this bound keeps a crafted header of millions of
/// empty tensors from turning parsing into a hang (4096 tensors: 8M pair checks, milliseconds),
/// while a MobileNet holds a few hundred.
pub const MAX_TENSORS: usize = 4096;

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dtype {
    /// Boolean, one byte.
    Bool,
    /// 4-bit float (E2M1), two per byte.
    F4,
    /// 6-bit float (E2M3).
    F6E2M3,
    /// 6-bit float (E3M2).
    F6E3M2,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 8-bit integer.
    I8,
    /// 8-bit float (E4M3).
    F8E4M3,
    /// 8-bit float (E5M2).
    F8E5M2,
    /// 8-bit exponent-only scale (E8M0).
    F8E8M0,
    /// Unsigned 16-bit integer.
    U16,
    /// Signed 16-bit integer.
    I16,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// Unsigned 32-bit integer.
    U32,
    /// Signed 32-bit integer.
    I32,
    /// IEEE single.
    F32,
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 64-bit integer.
    I64,
    /// IEEE double.
    F64,
}

/// `(name, dtype, size in bytes)` for every known dtype.
/// Every dtype of the format (the reference implementation's list): name and bits per element.
const DTYPES: [(&str, Dtype, usize); 19] = [
    ("BOOL", Dtype::Bool, 8),
    ("F4", Dtype::F4, 4),
    ("F6_E2M3", Dtype::F6E2M3, 6),
    ("F6_E3M2", Dtype::F6E3M2, 6),
    ("U8", Dtype::U8, 8),
    ("I8", Dtype::I8, 8),
    ("F8_E4M3", Dtype::F8E4M3, 8),
    ("F8_E5M2", Dtype::F8E5M2, 8),
    ("F8_E8M0", Dtype::F8E8M0, 8),
    ("U16", Dtype::U16, 16),
    ("I16", Dtype::I16, 16),
    ("F16", Dtype::F16, 16),
    ("BF16", Dtype::BF16, 16),
    ("U32", Dtype::U32, 32),
    ("I32", Dtype::I32, 32),
    ("F32", Dtype::F32, 32),
    ("U64", Dtype::U64, 64),
    ("I64", Dtype::I64, 64),
    ("F64", Dtype::F64, 64),
];

impl Dtype {
    /// Bits per element.
    pub fn bits(self) -> usize {
        DTYPES.iter().find(|d| d.1 == self).map_or(0, |d| d.2)
    }

    /// Size of one element in bytes, or `None` for the sub-byte types ([`Dtype::F4`],
    /// [`Dtype::F6E2M3`], [`Dtype::F6E3M2`]).
    pub fn size(self) -> Option<usize> {
        let bits = self.bits();
        bits.is_multiple_of(8).then_some(bits / 8)
    }

    /// The dtype's name as written in safetensors headers (e.g. `"F32"`).
    pub fn name(self) -> &'static str {
        DTYPES.iter().find(|d| d.1 == self).map_or("?", |d| d.0)
    }

    /// The dtype named by the (possibly escaped) header string `raw`.
    fn from_raw(raw: &str) -> Option<Dtype> {
        DTYPES.iter().find(|d| unescaped_eq(raw, d.0)).map(|d| d.1)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor shape of at most [`MAX_DIMS`] dimensions, stored inline.
///
/// Dereferences to `[usize]`. The empty shape `[]` denotes a scalar (one
/// element).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShapeBuf {
    dims: [usize; MAX_DIMS],
    len: usize,
}

impl ShapeBuf {
    const EMPTY: ShapeBuf = ShapeBuf {
        dims: [0; MAX_DIMS],
        len: 0,
    };

    /// The dimensions, outermost first.
    pub fn as_slice(&self) -> &[usize] {
        &self.dims[..self.len]
    }

    /// Number of elements: the product of the dimensions (1 for a scalar).
    /// Shapes from a parsed file are known not to overflow.
    pub fn numel(&self) -> usize {
        self.as_slice()
            .iter()
            .fold(1usize, |acc, &d| acc.saturating_mul(d))
    }
}

impl core::ops::Deref for ShapeBuf {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        self.as_slice()
    }
}

impl fmt::Debug for ShapeBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// One tensor of a parsed file, borrowing from the file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorView<'a> {
    /// The name as written between the quotes in the header, JSON escapes
    /// included (see the [module documentation](self#names)).
    pub name: &'a str,
    /// Element type.
    pub dtype: Dtype,
    /// The dtype string as written in the header.
    pub raw_dtype: &'a str,
    /// Dimensions, outermost first.
    pub shape: ShapeBuf,
    /// The tensor's bytes in the data section (little-endian, row-major, no
    /// alignment guarantee).
    pub data: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// Number of elements (product of the shape).
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// Whether the decoded name equals `name`.
    pub fn name_matches(&self, name: &str) -> bool {
        unescaped_eq(self.name, name)
    }

    /// The decoded name, one `char` at a time.
    pub fn name_chars(&self) -> Unescape<'a> {
        unescape(self.name)
    }

    /// The decoded name; borrowed unless it contains escapes.
    #[cfg(feature = "alloc")]
    pub fn name_decoded(&self) -> alloc::borrow::Cow<'a, str> {
        if self.name.contains('\\') {
            alloc::borrow::Cow::Owned(self.name_chars().collect())
        } else {
            alloc::borrow::Cow::Borrowed(self.name)
        }
    }
}

/// Iterator decoding the JSON escapes of a raw string body (the text between
/// the quotes), created by [`unescape`].
///
/// Malformed escapes (impossible in a string validated by
/// [`SafeTensors::parse`]) decode to U+FFFD.
#[derive(Clone, Debug)]
pub struct Unescape<'a> {
    chars: core::str::Chars<'a>,
}

/// Decodes the JSON escapes of a raw string body, one `char` at a time.
pub fn unescape(raw: &str) -> Unescape<'_> {
    Unescape { chars: raw.chars() }
}

/// Whether the raw JSON string body `raw` decodes to exactly `s`, without
/// allocating.
pub fn unescaped_eq(raw: &str, s: &str) -> bool {
    if raw.contains('\\') {
        unescape(raw).eq(s.chars())
    } else {
        raw == s
    }
}

impl Unescape<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            v = v * 16 + self.chars.next()?.to_digit(16)?;
        }
        Some(v)
    }

    /// Decodes what follows `\u`.
    fn unicode(&mut self) -> char {
        match self.hex4() {
            Some(hi @ 0xD800..=0xDBFF) => {
                let save = self.chars.clone();
                if self.chars.next() == Some('\\') && self.chars.next() == Some('u') {
                    if let Some(lo @ 0xDC00..=0xDFFF) = self.hex4() {
                        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        return char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                    }
                }
                self.chars = save;
                char::REPLACEMENT_CHARACTER
            }
            // Lone low surrogates are not chars: from_u32 rejects them.
            Some(cp) => char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER),
            None => char::REPLACEMENT_CHARACTER,
        }
    }
}

impl Iterator for Unescape<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c != '\\' {
            return Some(c);
        }
        Some(match self.chars.next() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => self.unicode(),
            _ => char::REPLACEMENT_CHARACTER,
        })
    }
}

impl core::iter::FusedIterator for Unescape<'_> {}

/// What exactly is wrong with the JSON syntax of a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The header ends in the middle of a value.
    UnexpectedEnd,
    /// A character that cannot appear here.
    Unexpected {
        /// What the grammar allows at this point.
        expected: &'static str,
        /// What was found instead.
        found: char,
    },
    /// A raw control character (below U+0020) inside a string.
    ControlCharacter,
    /// A backslash followed by something other than `"\/bfnrtu`.
    InvalidEscape,
    /// `\u` not followed by four hexadecimal digits.
    InvalidUnicodeEscape,
    /// A `\u` escape encoding half of a surrogate pair without the other
    /// half.
    LoneSurrogate,
    /// A number with a superfluous leading zero (`012`).
    LeadingZero,
    /// A negative, fractional or exponent number where a non-negative
    /// integer is required.
    NotANonNegativeInteger,
    /// An integer too large for this platform.
    IntegerOverflow,
    /// Something other than whitespace after the header object.
    TrailingCharacters,
}

impl fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonErrorKind::UnexpectedEnd => f.write_str("the header ends in the middle of a value"),
            JsonErrorKind::Unexpected { expected, found } => {
                write!(f, "expected {expected}, found {found:?}")
            }
            JsonErrorKind::ControlCharacter => {
                f.write_str("raw control character in a string (it must be escaped)")
            }
            JsonErrorKind::InvalidEscape => f.write_str(
                "invalid escape sequence (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
            ),
            JsonErrorKind::InvalidUnicodeEscape => {
                f.write_str("\\u must be followed by four hexadecimal digits")
            }
            JsonErrorKind::LoneSurrogate => {
                f.write_str("\\u escape encodes an unpaired UTF-16 surrogate")
            }
            JsonErrorKind::LeadingZero => f.write_str("numbers must not have leading zeros"),
            JsonErrorKind::NotANonNegativeInteger => {
                f.write_str("expected a non-negative integer (no sign, fraction or exponent)")
            }
            JsonErrorKind::IntegerOverflow => f.write_str("integer too large"),
            JsonErrorKind::TrailingCharacters => {
                f.write_str("unexpected characters after the header object")
            }
        }
    }
}

/// Why a buffer is not a valid safetensors file.
///
/// Offsets are byte offsets into the JSON header; the file offset is 8 more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SafeTensorsError {
    /// The buffer is shorter than the 8-byte header length prefix.
    TooShort {
        /// Size of the buffer.
        file_len: usize,
    },
    /// The header length prefix points past the end of the buffer.
    HeaderTooLarge {
        /// The header length read from the prefix.
        header_len: u64,
        /// Size of the buffer, prefix included.
        file_len: usize,
    },
    /// The header is not valid UTF-8.
    HeaderNotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The header is not well-formed JSON.
    Json {
        /// Where the problem was detected.
        offset: usize,
        /// What the problem is.
        kind: JsonErrorKind,
    },
    /// The header is valid so far but not a JSON object.
    NotAnObject {
        /// Offset of the first non-whitespace character (or the end).
        offset: usize,
    },
    /// A value has the wrong type or form.
    InvalidValue {
        /// Offset of the value.
        offset: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// A tensor entry has a field other than `dtype`, `shape` and
    /// `data_offsets`.
    UnknownField {
        /// Offset of the field name.
        offset: usize,
    },
    /// A tensor entry has the same field twice.
    DuplicateField {
        /// Offset of the second occurrence.
        offset: usize,
        /// The field.
        field: &'static str,
    },
    /// A tensor entry lacks a required field.
    MissingField {
        /// Offset of the tensor's name.
        offset: usize,
        /// The missing field.
        field: &'static str,
    },
    /// A shape has more than [`MAX_DIMS`] dimensions.
    TooManyDims {
        /// Offset of the shape array.
        offset: usize,
    },
    /// The tensor's element count or byte size overflows `usize`.
    ShapeOverflow {
        /// Offset of the tensor's name.
        offset: usize,
    },
    /// The dtype is none of the format's.
    UnknownDtype {
        /// Offset of the tensor's name.
        offset: usize,
    },
    /// A sub-byte dtype whose elements do not fill whole bytes.
    PartialByte {
        /// Offset of the tensor's name.
        offset: usize,
        /// The tensor's dtype.
        dtype: Dtype,
        /// Element count from the shape.
        numel: usize,
    },
    /// `data_offsets` has `begin > end`.
    InvalidOffsets {
        /// Offset of the tensor's name.
        offset: usize,
        /// First offset.
        begin: u64,
        /// Second offset.
        end: u64,
    },
    /// `data_offsets` reaches past the end of the data section.
    OffsetsOutOfRange {
        /// Offset of the tensor's name.
        offset: usize,
        /// First offset.
        begin: u64,
        /// Second offset.
        end: u64,
        /// Length of the data section.
        data_len: usize,
    },
    /// `end - begin` differs from the element count times the dtype size.
    LengthMismatch {
        /// Offset of the tensor's name.
        offset: usize,
        /// The tensor's dtype.
        dtype: Dtype,
        /// Element count from the shape.
        numel: usize,
        /// `numel * dtype size`.
        expected_bytes: usize,
        /// `end - begin`.
        got_bytes: usize,
    },
    /// Two tensors have the same (decoded) name.
    DuplicateTensor {
        /// Offset of the second occurrence's name.
        offset: usize,
        /// Offset of the first occurrence's name.
        first: usize,
    },
    /// `__metadata__` appears twice.
    DuplicateMetadata {
        /// Offset of the second occurrence.
        offset: usize,
    },
    /// The byte ranges of two tensors overlap.
    OverlappingTensors {
        /// Offset of the later tensor's name.
        offset: usize,
        /// Offset of the earlier tensor's name.
        other: usize,
    },
    /// The header lists more than [`MAX_TENSORS`] tensors.
    TooManyTensors {
        /// Offset of the first tensor name past the limit.
        offset: usize,
    },
    /// Some bytes of the data section belong to no tensor.
    UncoveredData {
        /// Bytes referenced by tensors.
        covered: usize,
        /// Length of the data section.
        data_len: usize,
    },
}

impl SafeTensorsError {
    /// The byte offset into the JSON header this error points at, if any.
    pub fn offset(&self) -> Option<usize> {
        use SafeTensorsError as E;
        match *self {
            E::TooShort { .. } | E::HeaderTooLarge { .. } | E::UncoveredData { .. } => None,
            E::HeaderNotUtf8 { offset }
            | E::Json { offset, .. }
            | E::NotAnObject { offset }
            | E::InvalidValue { offset, .. }
            | E::UnknownField { offset }
            | E::DuplicateField { offset, .. }
            | E::MissingField { offset, .. }
            | E::TooManyDims { offset }
            | E::ShapeOverflow { offset }
            | E::UnknownDtype { offset }
            | E::PartialByte { offset, .. }
            | E::InvalidOffsets { offset, .. }
            | E::OffsetsOutOfRange { offset, .. }
            | E::LengthMismatch { offset, .. }
            | E::DuplicateTensor { offset, .. }
            | E::DuplicateMetadata { offset }
            | E::TooManyTensors { offset }
            | E::OverlappingTensors { offset, .. } => Some(offset),
        }
    }
}

impl fmt::Display for SafeTensorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SafeTensorsError as E;
        const NOT_ST: &str = "the file is truncated or not a safetensors file";
        match *self {
            E::TooShort { file_len } => write!(
                f,
                "safetensors file is {file_len} bytes long, shorter than its 8-byte header length prefix: {NOT_ST}"
            ),
            E::HeaderTooLarge {
                header_len,
                file_len,
            } => {
                if header_len > MAX_HEADER_LEN as u64 && header_len.saturating_add(8) <= file_len as u64 {
                    write!(
                        f,
                        "safetensors header length {header_len} is over the format's limit of {MAX_HEADER_LEN} bytes: \
                         the file is corrupt or not a safetensors file"
                    )
                } else if header_len > file_len as u64 {
                    write!(
                        f,
                        "safetensors header length {header_len} exceeds the file size {file_len} bytes: {NOT_ST}"
                    )
                } else {
                    write!(
                        f,
                        "safetensors header length {header_len} plus the 8-byte length prefix exceeds the file \
                         size {file_len} bytes: {NOT_ST}"
                    )
                }
            }
            E::HeaderNotUtf8 { offset } => write!(
                f,
                "safetensors header is not valid UTF-8 (invalid byte at header offset {offset})"
            ),
            E::Json { offset, kind } => write!(
                f,
                "safetensors header is not valid JSON at header byte {offset}: {kind}"
            ),
            E::NotAnObject { offset } => write!(
                f,
                "safetensors header must be a JSON object mapping tensor names to tensor entries, \
                 but header byte {offset} does not start one"
            ),
            E::InvalidValue { offset, expected } => {
                write!(f, "safetensors header byte {offset}: expected {expected}")
            }
            E::UnknownField { offset } => write!(
                f,
                "unknown field at header byte {offset}: tensor entries may only have \"dtype\", \"shape\" \
                 and \"data_offsets\""
            ),
            E::DuplicateField { offset, field } => write!(
                f,
                "field \"{field}\" appears twice in a tensor entry (again at header byte {offset})"
            ),
            E::MissingField { offset, field } => write!(
                f,
                "the tensor entry named at header byte {offset} has no \"{field}\" field"
            ),
            E::TooManyDims { offset } => write!(
                f,
                "the shape at header byte {offset} has more than {MAX_DIMS} dimensions, the most this reader supports"
            ),
            E::ShapeOverflow { offset } => write!(
                f,
                "the size of the tensor named at header byte {offset} overflows the address space"
            ),
            E::UnknownDtype { offset } => write!(
                f,
                "the tensor named at header byte {offset} has a dtype that is not one of the format's \
                 (BOOL, U8, I8, F16, BF16, F32, F64, ...; names are upper case)"
            ),
            E::PartialByte { offset, dtype, numel } => write!(
                f,
                "the tensor named at header byte {offset} has {numel} {dtype} elements, which do not fill whole bytes"
            ),
            E::InvalidOffsets { offset, begin, end } => write!(
                f,
                "the tensor named at header byte {offset} has data_offsets [{begin}, {end}]: begin is after end"
            ),
            E::OffsetsOutOfRange {
                offset,
                begin,
                end,
                data_len,
            } => write!(
                f,
                "the tensor named at header byte {offset} has data_offsets [{begin}, {end}] past the end of \
                 the {data_len}-byte data section: the file is truncated or corrupt"
            ),
            E::LengthMismatch {
                offset,
                dtype,
                numel,
                expected_bytes,
                got_bytes,
            } => write!(
                f,
                "the tensor named at header byte {offset} has {numel} {dtype} elements ({expected_bytes} bytes) \
                 but its data_offsets span {got_bytes} bytes"
            ),
            E::DuplicateTensor { offset, first } => write!(
                f,
                "the tensor name at header byte {offset} repeats the name at header byte {first}"
            ),
            E::DuplicateMetadata { offset } => write!(
                f,
                "\"__metadata__\" appears twice (again at header byte {offset})"
            ),
            E::OverlappingTensors { offset, other } => write!(
                f,
                "the data of the tensor named at header byte {offset} overlaps the data of the tensor named \
                 at header byte {other}"
            ),
            E::TooManyTensors { offset } => write!(
                f,
                "the header lists more than {MAX_TENSORS} tensors (the one at header byte {offset} is past \
                 the limit): no MobileNet has that many; the file is not a model's weights"
            ),
            E::UncoveredData { covered, data_len } => write!(
                f,
                "tensors cover {covered} of the {data_len} bytes of the data section: safetensors files must \
                 not contain unreferenced bytes"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SafeTensorsError {}

/// A parsed, validated safetensors file borrowing from its bytes.
#[derive(Clone, Copy, Debug)]
pub struct SafeTensors<'a> {
    header: &'a str,
    data: &'a [u8],
    count: usize,
    metadata_at: Option<usize>,
}

/// Parses and validates a safetensors file; same as [`SafeTensors::parse`].
pub fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, SafeTensorsError> {
    SafeTensors::parse(bytes)
}

impl<'a> SafeTensors<'a> {
    /// Parses and fully validates a safetensors file (see the
    /// [module documentation](self#strictness)). Never panics and never
    /// allocates.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SafeTensorsError> {
        let Some((prefix, rest)) = bytes.split_first_chunk::<8>() else {
            return Err(SafeTensorsError::TooShort {
                file_len: bytes.len(),
            });
        };
        let header_len = u64::from_le_bytes(*prefix);
        let too_large = SafeTensorsError::HeaderTooLarge {
            header_len,
            file_len: bytes.len(),
        };
        let n = usize::try_from(header_len).map_err(|_| too_large)?;
        if n > rest.len() || n > MAX_HEADER_LEN {
            return Err(too_large);
        }
        let (header, data) = rest.split_at(n);
        let header = core::str::from_utf8(header).map_err(|e| SafeTensorsError::HeaderNotUtf8 {
            offset: e.valid_up_to(),
        })?;

        // Pass 1: syntax and per-entry checks.
        let mut records = Records::new(header, data);
        let mut count = 0;
        let mut covered = 0usize;
        let mut metadata_at = None;
        while let Some(record) = records.next_record()? {
            match record.kind {
                RecordKind::Metadata { object_at } => {
                    if metadata_at.is_some() {
                        return Err(SafeTensorsError::DuplicateMetadata {
                            offset: record.key_offset,
                        });
                    }
                    metadata_at = Some(object_at);
                }
                RecordKind::Tensor { view, .. } => {
                    count += 1;
                    if count > MAX_TENSORS {
                        return Err(SafeTensorsError::TooManyTensors {
                            offset: record.key_offset,
                        });
                    }
                    covered = covered.saturating_add(view.data.len());
                }
            }
        }

        // Pass 2: pairwise checks (names, overlaps), without storage.
        let mut outer = Records::new(header, data);
        while let Some((a_at, a_begin, a)) = outer.next_tensor()? {
            let mut inner = outer.clone();
            while let Some((b_at, b_begin, b)) = inner.next_tensor()? {
                if names_equal(a.name, b.name) {
                    return Err(SafeTensorsError::DuplicateTensor {
                        offset: b_at,
                        first: a_at,
                    });
                }
                let (a_end, b_end) = (a_begin + a.data.len(), b_begin + b.data.len());
                // Non-empty ranges must not intersect; an empty tensor may sit at any tensor's
                // boundary but not strictly inside another tensor's bytes (the format's tensors,
                // sorted by offsets, tile the data section).
                let inside = |p: usize, begin: usize, end: usize| begin < p && p < end;
                let clash = match (a.data.is_empty(), b.data.is_empty()) {
                    (false, false) => a_begin < b_end && b_begin < a_end,
                    (true, false) => inside(a_begin, b_begin, b_end),
                    (false, true) => inside(b_begin, a_begin, a_end),
                    (true, true) => false,
                };
                if clash {
                    return Err(SafeTensorsError::OverlappingTensors {
                        offset: b_at,
                        other: a_at,
                    });
                }
            }
        }
        // Without overlaps, full coverage is equivalent to the lengths
        // adding up to the data section length.
        if covered != data.len() {
            return Err(SafeTensorsError::UncoveredData {
                covered,
                data_len: data.len(),
            });
        }
        Ok(SafeTensors {
            header,
            data,
            count,
            metadata_at,
        })
    }

    /// Number of tensors (not counting `__metadata__`).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the file has no tensors.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The tensor whose decoded name is `name`. Linear in the header size.
    pub fn get(&self, name: &str) -> Option<TensorView<'a>> {
        self.tensors().find(|t| t.name_matches(name))
    }

    /// All tensors, in header order.
    pub fn tensors(&self) -> Tensors<'a> {
        Tensors {
            records: Records::new(self.header, self.data),
            remaining: self.count,
        }
    }

    /// The `__metadata__` entries as raw (escaped) `(key, value)` string
    /// bodies, in header order; empty when there is no `__metadata__`.
    /// Compare them with [`unescaped_eq`] or decode them with [`unescape`].
    pub fn metadata(&self) -> Metadata<'a> {
        Metadata {
            cur: self.metadata_at.map(|pos| Cursor {
                text: self.header,
                pos,
            }),
            first: true,
        }
    }

    /// The raw JSON header.
    pub fn header(&self) -> &'a str {
        self.header
    }

    /// The data section (everything after the header).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// Whether two raw names decode to the same string.
fn names_equal(a: &str, b: &str) -> bool {
    if a.contains('\\') || b.contains('\\') {
        unescape(a).eq(unescape(b))
    } else {
        a == b
    }
}

/// Iterator over the tensors of a [`SafeTensors`], in header order.
#[derive(Clone, Debug)]
pub struct Tensors<'a> {
    records: Records<'a>,
    remaining: usize,
}

impl<'a> Iterator for Tensors<'a> {
    type Item = TensorView<'a>;

    fn next(&mut self) -> Option<TensorView<'a>> {
        // The header was validated by `parse`, so errors cannot occur; stop
        // quietly if one did.
        match self.records.next_tensor() {
            Ok(Some((_, _, t))) => {
                self.remaining = self.remaining.saturating_sub(1);
                Some(t)
            }
            _ => {
                self.records.state = State::Done;
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Tensors<'_> {}
impl core::iter::FusedIterator for Tensors<'_> {}

/// Iterator over the raw `(key, value)` pairs of `__metadata__`, created by
/// [`SafeTensors::metadata`].
#[derive(Clone, Debug)]
pub struct Metadata<'a> {
    cur: Option<Cursor<'a>>,
    first: bool,
}

impl<'a> Iterator for Metadata<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let cur = self.cur.as_mut()?;
        let first = core::mem::replace(&mut self.first, false);
        match cur.metadata_pair(first) {
            Ok(Some(pair)) => Some(pair),
            _ => {
                self.cur = None;
                None
            }
        }
    }
}

impl core::iter::FusedIterator for Metadata<'_> {}

/// A JSON string as it appears in the header.
#[derive(Clone, Copy, Debug)]
struct RawStr<'a> {
    /// Text between the quotes, escapes included.
    raw: &'a str,
    /// Offset of the opening quote.
    offset: usize,
}

/// A position in the header with the JSON scanning primitives.
#[derive(Clone, Debug)]
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

type Result<T, E = SafeTensorsError> = core::result::Result<T, E>;

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn json_err(&self, offset: usize, kind: JsonErrorKind) -> SafeTensorsError {
        SafeTensorsError::Json { offset, kind }
    }

    /// The error for finding something other than `expected` here.
    fn unexpected(&self, expected: &'static str) -> SafeTensorsError {
        let kind = match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            None => JsonErrorKind::UnexpectedEnd,
            Some(found) => JsonErrorKind::Unexpected { expected, found },
        };
        self.json_err(self.pos, kind)
    }

    /// Skips whitespace, then consumes `byte`.
    fn eat(&mut self, byte: u8, expected: &'static str) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// After a member of an object or array: consumes `,` (returning `true`)
    /// or the closing byte (returning `false`).
    fn comma_or_close(&mut self, close: u8, expected: &'static str) -> Result<bool> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    /// Four hexadecimal digits of a `\u` escape starting at `esc`.
    fn hex4(&mut self, esc: usize) -> Result<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| (b as char).to_digit(16))
                .ok_or_else(|| self.json_err(esc, JsonErrorKind::InvalidUnicodeEscape))?;
            v = v * 16 + digit;
            self.pos += 1;
        }
        Ok(v)
    }

    /// A string; the cursor must be on the opening quote.
    fn string(&mut self) -> Result<RawStr<'a>> {
        let offset = self.pos;
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string"));
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.json_err(self.pos, JsonErrorKind::UnexpectedEnd));
            };
            match b {
                b'"' => {
                    // Both ends are ASCII quotes, hence char boundaries.
                    let raw = self
                        .text
                        .get(start..self.pos)
                        .ok_or(SafeTensorsError::HeaderNotUtf8 { offset: start })?;
                    self.pos += 1;
                    return Ok(RawStr { raw, offset });
                }
                b'\\' => {
                    let esc = self.pos;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            let cp = self.hex4(esc)?;
                            if (0xD800..0xDC00).contains(&cp) {
                                let bytes = self.text.as_bytes();
                                if bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.json_err(esc, JsonErrorKind::LoneSurrogate));
                                }
                                self.pos += 2;
                                let lo = self.hex4(self.pos - 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.json_err(esc, JsonErrorKind::LoneSurrogate));
                                }
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Err(self.json_err(esc, JsonErrorKind::LoneSurrogate));
                            }
                        }
                        Some(_) => return Err(self.json_err(esc, JsonErrorKind::InvalidEscape)),
                        None => return Err(self.json_err(self.pos, JsonErrorKind::UnexpectedEnd)),
                    }
                }
                0x00..=0x1f => {
                    return Err(self.json_err(self.pos, JsonErrorKind::ControlCharacter));
                }
                // Other bytes, including those of multi-byte UTF-8 sequences
                // (which never equal '"' or '\\').
                _ => self.pos += 1,
            }
        }
    }

    /// A non-negative integer.
    fn uint(&mut self) -> Result<u64> {
        let start = self.pos;
        match self.peek() {
            Some(b'0'..=b'9') => {}
            Some(b'-') => return Err(self.json_err(start, JsonErrorKind::NotANonNegativeInteger)),
            _ => return Err(self.unexpected("a non-negative integer")),
        }
        let mut v: u64 = 0;
        if self.peek() == Some(b'0') {
            self.pos += 1;
            if matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.json_err(start, JsonErrorKind::LeadingZero));
            }
        } else {
            while let Some(d @ b'0'..=b'9') = self.peek() {
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(d - b'0')))
                    .ok_or_else(|| self.json_err(start, JsonErrorKind::IntegerOverflow))?;
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(self.json_err(start, JsonErrorKind::NotANonNegativeInteger));
        }
        Ok(v)
    }

    /// An array of non-negative integers, stored into `out`; returns how
    /// many there were, or `Err(too_many(offset))` past `out.len()`.
    fn uint_array(
        &mut self,
        out: &mut [u64],
        expected: &'static str,
        too_many: impl Fn(usize) -> SafeTensorsError,
    ) -> Result<usize> {
        let start = self.pos;
        if self.peek() != Some(b'[') {
            return Err(SafeTensorsError::InvalidValue {
                offset: start,
                expected,
            });
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(0);
        }
        let mut n = 0;
        loop {
            self.skip_ws();
            let v = self.uint()?;
            let slot = out.get_mut(n).ok_or_else(|| too_many(start))?;
            *slot = v;
            n += 1;
            if !self.comma_or_close(b']', "',' or ']'")? {
                return Ok(n);
            }
        }
    }

    /// Validates the `__metadata__` object; the cursor must be on `{`.
    fn metadata_object(&mut self) -> Result<()> {
        if self.peek() != Some(b'{') {
            return Err(SafeTensorsError::InvalidValue {
                offset: self.pos,
                expected: "an object of string values for \"__metadata__\"",
            });
        }
        let mut first = true;
        while self.metadata_pair(first)?.is_some() {
            first = false;
        }
        Ok(())
    }

    /// The next `(key, value)` of a metadata object: on `first` the cursor
    /// is on `{`, otherwise after the previous value.
    fn metadata_pair(&mut self, first: bool) -> Result<Option<(&'a str, &'a str)>> {
        if first {
            self.eat(b'{', "'{'")?;
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(None);
            }
        } else if !self.comma_or_close(b'}', "',' or '}' in \"__metadata__\"")? {
            return Ok(None);
        }
        self.skip_ws();
        let key = self.string()?;
        self.eat(b':', "':'")?;
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(SafeTensorsError::InvalidValue {
                offset: self.pos,
                expected: "a string (\"__metadata__\" values must be strings)",
            });
        }
        let value = self.string()?;
        Ok(Some((key.raw, value.raw)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    Next,
    Done,
}

enum RecordKind<'a> {
    /// `__metadata__`, whose object starts at this header offset.
    Metadata { object_at: usize },
    Tensor {
        view: TensorView<'a>,
        /// Offset of the data in the data section.
        begin: usize,
    },
}

struct Record<'a> {
    /// Offset of the entry's key.
    key_offset: usize,
    kind: RecordKind<'a>,
}

/// Walks the entries of the top-level header object.
#[derive(Clone, Debug)]
struct Records<'a> {
    cur: Cursor<'a>,
    data: &'a [u8],
    state: State,
}

impl<'a> Records<'a> {
    fn new(header: &'a str, data: &'a [u8]) -> Self {
        Records {
            cur: Cursor {
                text: header,
                pos: 0,
            },
            data,
            state: State::Start,
        }
    }

    fn finish(&mut self) -> Result<()> {
        self.cur.skip_ws();
        if self.cur.pos != self.cur.text.len() {
            return Err(self
                .cur
                .json_err(self.cur.pos, JsonErrorKind::TrailingCharacters));
        }
        self.state = State::Done;
        Ok(())
    }

    /// The next tensor as `(key offset, data begin, view)`.
    fn next_tensor(&mut self) -> Result<Option<(usize, usize, TensorView<'a>)>> {
        while let Some(record) = self.next_record()? {
            if let RecordKind::Tensor { view, begin } = record.kind {
                return Ok(Some((record.key_offset, begin, view)));
            }
        }
        Ok(None)
    }

    fn next_record(&mut self) -> Result<Option<Record<'a>>> {
        let cur = &mut self.cur;
        match self.state {
            State::Done => return Ok(None),
            State::Start => {
                cur.skip_ws();
                if cur.peek() != Some(b'{') {
                    return Err(SafeTensorsError::NotAnObject { offset: cur.pos });
                }
                cur.pos += 1;
                cur.skip_ws();
                if cur.peek() == Some(b'}') {
                    cur.pos += 1;
                    self.finish()?;
                    return Ok(None);
                }
            }
            State::Next => {
                if !cur.comma_or_close(b'}', "',' or '}' after a header entry")? {
                    self.finish()?;
                    return Ok(None);
                }
                cur.skip_ws();
            }
        }
        if cur.peek() != Some(b'"') {
            return Err(cur.unexpected("a tensor name (a JSON string)"));
        }
        let key = cur.string()?;
        cur.eat(b':', "':' after the tensor name")?;
        cur.skip_ws();
        let kind = if unescaped_eq(key.raw, "__metadata__") {
            let object_at = cur.pos;
            cur.metadata_object()?;
            RecordKind::Metadata { object_at }
        } else {
            let (view, begin) = self.tensor(key)?;
            RecordKind::Tensor { view, begin }
        };
        self.state = State::Next;
        Ok(Some(Record {
            key_offset: key.offset,
            kind,
        }))
    }

    /// A tensor entry object and the offset of its data; the cursor is on
    /// its first byte.
    fn tensor(&mut self, key: RawStr<'a>) -> Result<(TensorView<'a>, usize)> {
        let cur = &mut self.cur;
        if cur.peek() != Some(b'{') {
            return Err(SafeTensorsError::InvalidValue {
                offset: cur.pos,
                expected:
                    "an object with \"dtype\", \"shape\" and \"data_offsets\" for a tensor entry",
            });
        }
        cur.pos += 1;
        let mut dtype: Option<RawStr<'a>> = None;
        let mut shape: Option<ShapeBuf> = None;
        let mut offsets: Option<(u64, u64)> = None;
        cur.skip_ws();
        let mut more = if cur.peek() == Some(b'}') {
            cur.pos += 1;
            false
        } else {
            true
        };
        while more {
            cur.skip_ws();
            let field = cur.string()?;
            cur.eat(b':', "':' after the field name")?;
            cur.skip_ws();
            let duplicate = |name: &'static str| SafeTensorsError::DuplicateField {
                offset: field.offset,
                field: name,
            };
            if unescaped_eq(field.raw, "dtype") {
                if dtype.is_some() {
                    return Err(duplicate("dtype"));
                }
                if cur.peek() != Some(b'"') {
                    return Err(SafeTensorsError::InvalidValue {
                        offset: cur.pos,
                        expected: "a string for \"dtype\"",
                    });
                }
                dtype = Some(cur.string()?);
            } else if unescaped_eq(field.raw, "shape") {
                if shape.is_some() {
                    return Err(duplicate("shape"));
                }
                let mut dims = [0u64; MAX_DIMS];
                let n = cur.uint_array(
                    &mut dims,
                    "an array of non-negative integers for \"shape\"",
                    |offset| SafeTensorsError::TooManyDims { offset },
                )?;
                let mut s = ShapeBuf::EMPTY;
                for (slot, &d) in s.dims.iter_mut().zip(&dims[..n]) {
                    *slot = usize::try_from(d)
                        .map_err(|_| SafeTensorsError::ShapeOverflow { offset: key.offset })?;
                }
                s.len = n;
                shape = Some(s);
            } else if unescaped_eq(field.raw, "data_offsets") {
                if offsets.is_some() {
                    return Err(duplicate("data_offsets"));
                }
                const EXPECTED: &str =
                    "an array of two non-negative integers [begin, end] for \"data_offsets\"";
                let at = cur.pos;
                let mut pair = [0u64; 2];
                let n = cur.uint_array(&mut pair, EXPECTED, |offset| {
                    SafeTensorsError::InvalidValue {
                        offset,
                        expected: EXPECTED,
                    }
                })?;
                if n != 2 {
                    return Err(SafeTensorsError::InvalidValue {
                        offset: at,
                        expected: EXPECTED,
                    });
                }
                offsets = Some((pair[0], pair[1]));
            } else {
                return Err(SafeTensorsError::UnknownField {
                    offset: field.offset,
                });
            }
            more = cur.comma_or_close(b'}', "',' or '}' in a tensor entry")?;
        }

        let missing = |field: &'static str| SafeTensorsError::MissingField {
            offset: key.offset,
            field,
        };
        let raw_dtype = dtype.ok_or_else(|| missing("dtype"))?.raw;
        let shape = shape.ok_or_else(|| missing("shape"))?;
        let (begin, end) = offsets.ok_or_else(|| missing("data_offsets"))?;
        let dtype = Dtype::from_raw(raw_dtype)
            .ok_or(SafeTensorsError::UnknownDtype { offset: key.offset })?;

        let overflow = SafeTensorsError::ShapeOverflow { offset: key.offset };
        let numel = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or(overflow)?;
        if begin > end {
            return Err(SafeTensorsError::InvalidOffsets {
                offset: key.offset,
                begin,
                end,
            });
        }
        let out_of_range = SafeTensorsError::OffsetsOutOfRange {
            offset: key.offset,
            begin,
            end,
            data_len: self.data.len(),
        };
        if end > self.data.len() as u64 {
            return Err(out_of_range);
        }
        // Both fit in usize now: end <= data.len().
        let (begin, end) = (begin as usize, end as usize);
        let bits = numel.checked_mul(dtype.bits()).ok_or(overflow)?;
        if !bits.is_multiple_of(8) {
            return Err(SafeTensorsError::PartialByte {
                offset: key.offset,
                dtype,
                numel,
            });
        }
        let expected_bytes = bits / 8;
        if end - begin != expected_bytes {
            return Err(SafeTensorsError::LengthMismatch {
                offset: key.offset,
                dtype,
                numel,
                expected_bytes,
                got_bytes: end - begin,
            });
        }
        let data = self.data.get(begin..end).ok_or(out_of_range)?;
        let view = TensorView {
            name: key.raw,
            dtype,
            raw_dtype,
            shape,
            data,
        };
        Ok((view, begin))
    }
}

#[cfg(test)]
mod tests;
